r"""Random linear-Gaussian agent models with a tunable regime shift, for simulation studies.

The post behind mesalens closes (section 5, "musings") with a question:
take the family *data → D, D a parent of both Y_b and Y_m*; how often does
the mesa objective screen the regime off from the base objective, and how
does that change "as we gradually introduce a regime change to the data"?
This module draws the models that question ranges over; the study itself
(truth, discovery, aggregation) is :mod:`mesalens.pipeline.simulation`.

The family
----------
A model has the regime ``s`` (0 in ``train``, 1 in ``deploy``), ``k`` data
(context) variables ``x1 .. xk``, the decision ``D_m``, the mesa objective
``Y_m`` and the base objective ``Y_b``, in that causal order. With ``p`` the
edge probability, :meth:`SCMFamily.draw` adds

* ``xi → xj`` (``i < j``) with probability ``p``: the data's own structure;
* ``xi → D_m`` with probability ``p``, and at least one: *data → D*;
* ``D_m → Y_m`` always, ``xi → Y_m`` with probability ``p``;
* ``D_m → Y_b`` with probability ``direct`` and ``Y_m → Y_b`` with
  probability ``mesa_to_base``; when neither is drawn, ``Y_m → Y_b``, so
  that the base objective always depends on the decision;
* ``xi → Y_b`` with probability ``p``: parts of the world the model does not
  control;
* the regime's *targets*: each ``xi`` with probability ``data_shift`` (at
  least one: the shift reaches the data), and each of ``D_m``, ``Y_m``,
  ``Y_b`` with probability ``objective_shift``.

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
distribution, which in a faithful model is the criterion's d-separation.

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

from mesalens.connectors.errors import InputError
from mesalens.connectors.loaded import LoadedData, RegimeSummary
from mesalens.connectors.regime import DEFAULT_REGIME_NAME

__all__ = [
    "BASE",
    "DECISION",
    "MESA",
    "MIN_NODES",
    "MIN_ROWS",
    "REGIME_LABELS",
    "RandomSCM",
    "SCMFamily",
    "loaded_from_frames",
]

DECISION = "D_m"
MESA = "Y_m"
BASE = "Y_b"
#: The regime labels, coded 0 and 1.
REGIME_LABELS = ("train", "deploy")
#: The regime plus one data variable, the decision and both objectives.
MIN_NODES = 5
#: Fewest rows (both regimes together) :meth:`RandomSCM.sample` accepts.
MIN_ROWS = 20

_WEIGHT = (0.5, 1.5)
_NOISE = (0.5, 1.0)


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
        at least :data:`MIN_NODES`.
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
    """

    nodes: int = 8
    edge_probability: float = 0.3
    direct: float = 0.5
    mesa_to_base: float = 0.5
    data_shift: float = 0.5
    objective_shift: float = 0.1

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

    def as_dict(self) -> dict[str, Any]:
        """The family's parameters, JSON-ready."""
        return {
            "nodes": int(self.nodes),
            "edge_probability": self.edge_probability,
            "direct": self.direct,
            "mesa_to_base": self.mesa_to_base,
            "data_shift": self.data_shift,
            "objective_shift": self.objective_shift,
        }

    def draw(self, seed: int | Sequence[int]) -> RandomSCM:
        """Draw one model.

        Parameters
        ----------
        seed : int or sequence of int
            Seed of :func:`numpy.random.default_rng`; the same seed gives the
            same model on every run and platform.

        Returns
        -------
        RandomSCM
        """
        rng = np.random.default_rng(seed)
        k = int(self.nodes) - 4
        data = [f"x{i + 1}" for i in range(k)]
        nodes = (DEFAULT_REGIME_NAME, *data, DECISION, MESA, BASE)
        index = {name: i for i, name in enumerate(nodes)}
        p = self.edge_probability
        edges: list[tuple[str, str]] = []
        for j in range(k):
            edges += [(data[i], data[j]) for i in range(j) if rng.random() < p]
        to_decision = [x for x in data if rng.random() < p]
        if not to_decision:
            to_decision = [data[int(rng.integers(k))]]
        edges += [(x, DECISION) for x in to_decision]
        edges.append((DECISION, MESA))
        edges += [(x, MESA) for x in data if rng.random() < p]
        direct = rng.random() < self.direct
        mesa_to_base = rng.random() < self.mesa_to_base or not direct
        edges += [(u, BASE) for u, on in ((DECISION, direct), (MESA, mesa_to_base)) if on]
        edges += [(x, BASE) for x in data if rng.random() < p]

        targets = [x for x in data if rng.random() < self.data_shift]
        if not targets:
            targets = [data[int(rng.integers(k))]]
        targets += [v for v in (DECISION, MESA, BASE) if rng.random() < self.objective_shift]

        n = len(nodes)
        weights = np.zeros((n, n))
        for u, v in sorted(edges, key=lambda e: (index[e[1]], index[e[0]])):
            sign = 1.0 if rng.random() < 0.5 else -1.0
            weights[index[u], index[v]] = sign * rng.uniform(*_WEIGHT)
        noise = np.zeros(n)
        noise[1:] = rng.uniform(*_NOISE, size=n - 1)
        direction = np.zeros(n)
        for v in sorted(targets, key=index.__getitem__):
            direction[index[v]] = 1.0 if rng.random() < 0.5 else -1.0
        return RandomSCM(nodes=nodes, weights=weights, noise=noise, direction=direction)


@dataclass(frozen=True, eq=False)
class RandomSCM:
    """One linear-Gaussian agent model; the regime's effect scales with a strength ``δ``.

    Attributes
    ----------
    nodes : tuple of str
        ``regime``, the data variables, ``D_m``, ``Y_m``, ``Y_b``: a causal order.
    weights : ndarray of shape (n, n)
        ``weights[i, j]`` is the weight of the edge ``nodes[i] → nodes[j]``
        (zero: no edge); strictly upper triangular. The regime's row is zero:
        its effect is :attr:`direction`.
    noise : ndarray of shape (n,)
        The noise scale of each node (0 for the regime, which is not noisy).
    direction : ndarray of shape (n,)
        ``±1`` on the regime's targets, 0 elsewhere.
    """

    nodes: tuple[str, ...]
    weights: np.ndarray
    noise: np.ndarray
    direction: np.ndarray
    _total: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n = len(self.nodes)
        # A = (I - Bᵀ)⁻¹: column vector of all nodes = A (regime effect + noise).
        object.__setattr__(self, "_total", np.linalg.inv(np.eye(n) - self.weights.T))

    @property
    def regime(self) -> str:
        """The regime node's name."""
        return self.nodes[0]

    @property
    def columns(self) -> tuple[str, ...]:
        """The logged columns (every node but the regime), in causal order."""
        return self.nodes[1:]

    @property
    def data(self) -> tuple[str, ...]:
        """The data (context) variables."""
        return self.nodes[1:-3]

    @property
    def targets(self) -> tuple[str, ...]:
        """The nodes whose mechanism the regime shifts (when the strength is positive)."""
        return tuple(v for v, c in zip(self.nodes, self.direction, strict=True) if c != 0)

    def roles(self) -> dict[str, Any]:
        """The check's roles as plain data (``policy_inputs`` is ``"keep"``)."""
        return {
            "regime": self.regime,
            "base": [BASE],
            "mesa": [MESA],
            "decision": [DECISION],
            "policy_inputs": "keep",
        }

    def parents(self, node: str) -> tuple[str, ...]:
        """The parents of ``node`` among the columns (the regime's edges are not listed)."""
        j = self.nodes.index(node)
        return tuple(self.nodes[i] for i in np.flatnonzero(self.weights[:, j]))

    def edges(self, strength: float) -> list[tuple[str, str]]:
        """The true DAG's edges at shift ``strength`` (``regime → target`` only when positive)."""
        n = len(self.nodes)
        edges = [
            (self.nodes[i], self.nodes[j])
            for j in range(n)
            for i in range(n)
            if self.weights[i, j] != 0
        ]
        if strength > 0:
            edges = [(self.regime, v) for v in self.targets] + edges
        return edges

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
            least :data:`MIN_ROWS`.
        seed : int or sequence of int
            Seed of the noise.

        Returns
        -------
        dict of str to pandas.DataFrame
            ``"train"`` and ``"deploy"`` to float64 frames over :attr:`columns`.

        Raises
        ------
        InputError
            For a negative strength or too few rows.
        """
        if not np.isfinite(strength) or strength < 0:
            raise InputError(f"strength must be a non-negative number; got {strength!r}")
        if isinstance(rows, bool) or not isinstance(rows, int | np.integer) or rows < MIN_ROWS:
            raise InputError(f"rows must be an integer of at least {MIN_ROWS}; got {rows!r}")
        rng = np.random.default_rng(seed)
        first = rows - rows // 2
        regime = np.zeros(rows)
        regime[first:] = 1.0
        # Row-vector form of X = A (shift · s + σ ∘ ε): X = (s shiftᵀ + ε diag(σ)) Aᵀ.
        drivers = rng.standard_normal((rows, len(self.nodes))) * self.noise
        drivers += np.outer(regime, self.shift_vector(strength))
        values = drivers @ self._total.T
        frame = pd.DataFrame(values[:, 1:], columns=list(self.columns))
        return {
            REGIME_LABELS[0]: frame.iloc[:first].reset_index(drop=True),
            REGIME_LABELS[1]: frame.iloc[first:].reset_index(drop=True),
        }

    def as_dict(self) -> dict[str, Any]:
        """The model as plain data (nodes, weighted edges, targets with their signs)."""
        n = len(self.nodes)
        return {
            "nodes": list(self.nodes),
            "edges": [
                [self.nodes[i], self.nodes[j], round(float(self.weights[i, j]), 6)]
                for j in range(n)
                for i in range(n)
                if self.weights[i, j] != 0
            ],
            "targets": {v: int(self.direction[self.nodes.index(v)]) for v in self.targets},
            "noise": {
                v: round(float(s), 6) for v, s in zip(self.nodes[1:], self.noise[1:], strict=True)
            },
        }


def loaded_from_frames(
    frames: Mapping[str, pd.DataFrame], regime_name: str = DEFAULT_REGIME_NAME
) -> LoadedData:
    """Pool in-memory regime frames into :class:`LoadedData`, as the loader would.

    For simulated, complete, all-float frames: no files are read and nothing
    is validated beyond the shared columns. The regime column comes first
    (codes in the order of ``frames``), every other column is continuous.

    Parameters
    ----------
    frames : mapping of str to pandas.DataFrame
        Regime label to its rows; the same float columns in each.
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
    parts = []
    summary = {}
    for code, label in enumerate(labels):
        frame = frames[label]
        if tuple(frame.columns) != columns:
            raise InputError(
                f"regime {label!r} has columns {list(frame.columns)}, not {list(columns)}"
            )
        part = frame.astype("float64")
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
            dtypes={regime_name: "int64", **dict.fromkeys(columns, "float64")},
        )
    pooled = pd.concat(parts, ignore_index=True)
    kinds = {regime_name: "discrete", **dict.fromkeys(columns, "continuous")}
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
