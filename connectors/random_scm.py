r"""Random agent models of five families with a tunable regime shift, for simulation studies.

The post behind mesalens closes (section 5, "musings") with a question:
take the family *data → D, D a parent of both Y_b and Y_m*; how often does
the mesa objective screen the regime off from the base objective, and how
does that change "as we gradually introduce a regime change to the data"?
This module draws the models that question ranges over; the study itself
(truth, discovery, aggregation) is :mod:`mesalens.pipeline.simulation`.

The families
------------
Every family puts its mechanisms on the random agent graph of
:mod:`mesalens.connectors.agent_graph` (regime → data variables → ``D_m`` →
``Y_m``, ``Y_b``, the regime shifting at least one data variable), drawn
first from the seed, so the same seed gives the same graph in each family and
the true verdict is decided the same way. :attr:`SCMFamily.kind` picks one:

``linear-gaussian`` (the default)
    :class:`RandomSCM`, below.
``confounded``
    :class:`RandomSCM` with one hidden common cause of ``Y_b`` and ``Y_m``
    or a data variable (:func:`~mesalens.connectors.agent_graph.add_latent`);
    the latent node is in the generating DAG (the truth) but not in the logs.
``nonlinear``, ``discrete``, ``mixed``
    :class:`~mesalens.connectors.additive_scm.AdditiveSCM`: additive
    tanh/quadratic links, categorical CPTs, or both kinds of variable.

The linear-Gaussian family
--------------------------
Every mechanism is linear with Gaussian noise,
``v = Σ_u w_uv · u + δ · c_v · sd_v · s + σ_v · ε_v``: edge weights are
``±U(0.5, 1.5)``, noise scales ``U(0.5, 1)``, and on a target ``c_v = ±1``.
``sd_v`` is the target's standard deviation within a regime, so the *shift
strength* ``δ`` is the standardized mean shift (Cohen's d) that the regime
causes directly in each target; ``δ = 0`` switches the regime off, and the
true graph then has no edge at ``s``. The graph does not change with
``δ > 0``; what grows is how far the regime moves the data, and with it how
easily discovery sees the regime's edges.

Because the model is linear, the *alignment gap*
``E[Y_b | Y_m, s=1] - E[Y_b | Y_m, s=0]`` is a constant that
:meth:`RandomSCM.alignment_gap` computes exactly: a mean shift leaves every
within-regime covariance unchanged, so with ``A = (I - Bᵀ)⁻¹`` and the
within-regime covariance ``Σ = A diag(σ²) Aᵀ``, the gap is
``Δ_b - (Σ_bm / Σ_mm) Δ_m`` where ``Δ = δ A (c ∘ sd)`` is the regime's total
effect on the means. It is zero exactly when ``Y_b ⊥ s | Y_m`` holds in the
distribution, which in a faithful model is the criterion's d-separation. The
confounded family's latent node is one of the nodes here, so the same
formula gives its exact gap over the logged ``Y_m`` and ``Y_b``.

The models are plain data (node names, a weight matrix, the shift
direction): connectors never import ``mesalens.pipeline``, so building the
``CausalGraph`` of :meth:`RandomSCM.edges` is the caller's business.

Examples
--------
>>> scm = SCMFamily(nodes=6).draw(seed=[0, 1])
>>> scm.nodes[0], scm.nodes[-3:]
('regime', ('D_m', 'Y_m', 'Y_b'))
>>> frames = scm.sample(strength=0.5, rows=200, seed=7)
>>> sorted(frames), len(frames["train"]), list(frames["train"].columns) == list(scm.columns)
(['deploy', 'train'], 100, True)
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mesalens.connectors.additive_scm import AdditiveSCM, draw_additive
from mesalens.connectors.agent_graph import (
    BASE,
    MESA,
    MIN_NODES,
    REGIME_LABELS,
    AgentGraph,
    add_latent,
    check_sample_arguments,
    draw_agent_graph,
    regime_indicator,
)
from mesalens.connectors.errors import InputError
from mesalens.connectors.loaded import LoadedData, RegimeSummary
from mesalens.connectors.regime import DEFAULT_REGIME_NAME

__all__ = [
    "FAMILY_KINDS",
    "RandomSCM",
    "SCMFamily",
    "loaded_from_frames",
]

#: The model families :attr:`SCMFamily.kind` accepts (see the module docstring).
FAMILY_KINDS = ("linear-gaussian", "nonlinear", "discrete", "mixed", "confounded")


def _probability(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise InputError(f"{name} must be a probability between 0 and 1; got {value!r}")
    return float(value)


@dataclass(frozen=True)
class SCMFamily:
    """A random family of agent models (see the module docstring for the draw).

    Attributes
    ----------
    nodes : int
        Nodes in all, the regime included (so ``nodes - 4`` data variables);
        at least :data:`~mesalens.connectors.agent_graph.MIN_NODES`. The
        confounded family's latent node comes on top.
    edge_probability : float
        ``p``: the probability of each optional edge.
    direct : float
        Probability of the edge ``D_m → Y_b`` (the post's family: 1).
    mesa_to_base : float
        Probability of the edge ``Y_m → Y_b``.
    data_shift : float
        Probability that the regime shifts a data variable.
    objective_shift : float
        Probability that the regime shifts ``D_m``, ``Y_m`` or ``Y_b``
        directly (each on its own).
    kind : str
        One of :data:`FAMILY_KINDS`: the mechanisms on the graph.
    """

    nodes: int = 8
    edge_probability: float = 0.3
    direct: float = 0.5
    mesa_to_base: float = 0.5
    data_shift: float = 0.5
    objective_shift: float = 0.1
    kind: str = "linear-gaussian"

    def __post_init__(self) -> None:
        if isinstance(self.nodes, bool) or not isinstance(self.nodes, int | np.integer):
            raise InputError(f"nodes must be an integer; got {self.nodes!r}")
        if self.nodes < MIN_NODES:
            raise InputError(
                f"nodes must be at least {MIN_NODES} (the regime, a data variable, D_m, Y_m and "
                f"Y_b); got {self.nodes}"
            )
        for name in ("edge_probability", "direct", "mesa_to_base", "data_shift"):
            _probability(getattr(self, name), name)
        _probability(self.objective_shift, "objective_shift")
        if self.kind not in FAMILY_KINDS:
            raise InputError(f"family must be one of {', '.join(FAMILY_KINDS)}; got {self.kind!r}")

    def as_dict(self) -> dict[str, Any]:
        """The family's parameters, JSON-ready."""
        return {
            "kind": self.kind,
            "nodes": int(self.nodes),
            "edge_probability": self.edge_probability,
            "direct": self.direct,
            "mesa_to_base": self.mesa_to_base,
            "data_shift": self.data_shift,
            "objective_shift": self.objective_shift,
        }

    def draw(self, seed: int | Sequence[int]) -> RandomSCM | AdditiveSCM:
        """Draw one model.

        Parameters
        ----------
        seed : int or sequence of int
            Seed of :func:`numpy.random.default_rng`; the same seed gives the
            same model on every run and platform, and the same graph in
            every family.

        Returns
        -------
        RandomSCM or AdditiveSCM
            :class:`RandomSCM` for ``linear-gaussian`` and ``confounded``.
        """
        rng = np.random.default_rng(seed)
        graph = draw_agent_graph(self, rng)
        if self.kind == "linear-gaussian":
            return RandomSCM(
                nodes=graph.nodes,
                weights=graph.weights,
                noise=graph.noise,
                direction=graph.direction,
            )
        if self.kind == "confounded":
            latent = add_latent(graph, rng)
            return RandomSCM(
                nodes=latent.nodes,
                weights=latent.weights,
                noise=latent.noise,
                direction=latent.direction,
                hidden=latent.hidden,
            )
        return draw_additive(self.kind, graph, rng)


@dataclass(frozen=True, eq=False)
class RandomSCM(AgentGraph):
    """One linear-Gaussian agent model; the regime's effect scales with a strength ``δ``.

    The graph and its attributes are :class:`~mesalens.connectors.agent_graph.AgentGraph`'s;
    ``weights`` are the linear mechanisms' coefficients and ``noise`` the
    Gaussian noise scales.
    """

    _total: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n = len(self.nodes)
        # A = (I - Bᵀ)⁻¹: column vector of all nodes = A (regime effect + noise).
        object.__setattr__(self, "_total", np.linalg.inv(np.eye(n) - self.weights.T))

    def within_covariance(self) -> np.ndarray:
        """The covariance of all nodes within one regime (regime row and column zero)."""
        a = self._total
        return a @ np.diag(self.noise**2) @ a.T

    def shift_vector(self, strength: float) -> np.ndarray:
        """The regime's direct effect on each node's mechanism at ``strength``."""
        sd = np.sqrt(np.diag(self.within_covariance()))
        return float(strength) * self.direction * sd

    def mean_shift(self, strength: float) -> np.ndarray:
        """How far the regime moves each node's mean (deploy minus train), all paths."""
        return self._total @ self.shift_vector(strength)

    def implied_covariance(self, strength: float, deployed: float = 0.5) -> np.ndarray:
        """The covariance of ``(regime, columns...)`` pooled over both regimes.

        Parameters
        ----------
        strength : float
            The shift strength ``δ``.
        deployed : float, default 0.5
            The share of rows in the second regime (the regime's variance is
            ``deployed · (1 - deployed)``).

        Returns
        -------
        ndarray of shape (n, n)
            In the order of :attr:`nodes`.
        """
        variance = deployed * (1 - deployed)
        delta = self.mean_shift(strength)
        delta[0] = 1.0  # the regime itself moves from 0 to 1
        return self.within_covariance() + variance * np.outer(delta, delta)

    def alignment_gap(self, strength: float) -> float:
        """``E[Y_b | Y_m, deploy] - E[Y_b | Y_m, train]``, in within-regime SDs of ``Y_b``.

        See the module docstring; it is zero exactly when ``Y_b ⊥ s | Y_m``
        holds in the distribution.
        """
        b, m = self.nodes.index(BASE), self.nodes.index(MESA)
        sigma = self.within_covariance()
        delta = self.mean_shift(strength)
        gap = delta[b] - sigma[b, m] / sigma[m, m] * delta[m]
        return float(gap / np.sqrt(sigma[b, b]))

    def sample(
        self, strength: float, rows: int, seed: int | Sequence[int]
    ) -> dict[str, pd.DataFrame]:
        """Simulate logs, one frame per regime (no regime column, as real logs).

        The noise depends on ``seed`` and ``rows`` only, not on ``strength``:
        samples at different strengths with the same seed differ only by the
        shift (common random numbers, so a comparison across strengths is not
        blurred by fresh noise).

        Parameters
        ----------
        strength : float
            The shift strength ``δ`` (non-negative).
        rows : int
            Rows over both regimes; the first regime gets the odd row. At
            least :data:`~mesalens.connectors.agent_graph.MIN_ROWS`.
        seed : int or sequence of int
            Seed of the noise.

        Returns
        -------
        dict of str to pandas.DataFrame
            ``"train"`` and ``"deploy"`` to float64 frames over :attr:`columns`
            (the hidden nodes left out).

        Raises
        ------
        InputError
            For a negative strength or too few rows.
        """
        check_sample_arguments(strength, rows)
        rng = np.random.default_rng(seed)
        regime, first = regime_indicator(rows)
        # Row-vector form of X = A (shift · s + σ ∘ ε): X = (s shiftᵀ + ε diag(σ)) Aᵀ.
        drivers = rng.standard_normal((rows, len(self.nodes))) * self.noise
        drivers += np.outer(regime, self.shift_vector(strength))
        values = drivers @ self._total.T
        # The hidden nodes are simulated (they drive their children) but not logged.
        frame = pd.DataFrame(values[:, self.observed_index()], columns=list(self.columns))
        return {
            REGIME_LABELS[0]: frame.iloc[:first].reset_index(drop=True),
            REGIME_LABELS[1]: frame.iloc[first:].reset_index(drop=True),
        }

    def as_dict(self) -> dict[str, Any]:
        """The model as plain data (nodes, weighted edges, targets with their signs)."""
        return {
            **self.graph_dict(),
            "noise": {
                v: round(float(s), 6) for v, s in zip(self.nodes[1:], self.noise[1:], strict=True)
            },
        }


def loaded_from_frames(
    frames: Mapping[str, pd.DataFrame], regime_name: str = DEFAULT_REGIME_NAME
) -> LoadedData:
    """Pool in-memory regime frames into :class:`LoadedData`, as the loader would.

    For simulated, complete frames: no files are read and nothing is
    validated beyond the shared columns. The regime column comes first (codes
    in the order of ``frames``); an integer column is discrete (its values
    are level codes, as the loader keeps whole numbers with few values),
    every other column continuous (float64).

    Parameters
    ----------
    frames : mapping of str to pandas.DataFrame
        Regime label to its rows; the same numeric columns in each.
    regime_name : str
        The regime column's name.

    Returns
    -------
    LoadedData
        One partition per regime, no fingerprints.

    Raises
    ------
    InputError
        If fewer than two regimes are given or their columns differ.
    """
    labels = tuple(frames)
    if len(labels) < 2:
        raise InputError(f"frames must hold at least two regimes; got {len(labels)}")
    columns = tuple(frames[labels[0]].columns)
    first = frames[labels[0]]
    dtypes = {c: "int64" if pd.api.types.is_integer_dtype(first[c]) else "float64" for c in columns}
    parts = []
    summary = {}
    for code, label in enumerate(labels):
        frame = frames[label]
        if tuple(frame.columns) != columns:
            raise InputError(
                f"regime {label!r} has columns {list(frame.columns)}, not {list(columns)}"
            )
        part = frame.astype(dtypes)
        part.insert(0, regime_name, np.full(len(frame), code, dtype="int64"))
        parts.append(part)
        summary[label] = RegimeSummary(
            name=label,
            code=code,
            format="memory",
            sources=(),
            rows_read=len(frame),
            rows_dropped=0,
            missing=dict.fromkeys(columns, 0),
            dtypes={regime_name: "int64", **dtypes},
        )
    pooled = pd.concat(parts, ignore_index=True)
    kinds = {
        regime_name: "discrete",
        **{c: "discrete" if dtype == "int64" else "continuous" for c, dtype in dtypes.items()},
    }
    return LoadedData(
        build_frame=functools.partial(_as_dask, pooled, len(labels)),
        regime_name=regime_name,
        regime_labels=labels,
        columns=(regime_name, *columns),
        kinds=kinds,
        summary=summary,
        fingerprints=(),
    )


def _as_dask(frame: pd.DataFrame, npartitions: int) -> Any:
    """The pooled frame as dask, built on first use (importing dask.dataframe only then)."""
    import dask.dataframe as dd

    return dd.from_pandas(frame, npartitions=npartitions, sort=False)
