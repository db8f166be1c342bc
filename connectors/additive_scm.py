r"""Additive agent models beyond linear-Gaussian: tanh/quadratic links, categorical CPTs, or both.

The ``nonlinear``, ``discrete`` and ``mixed`` families of
:class:`~mesalens.connectors.random_scm.SCMFamily` put these mechanisms on the
shared random agent graph (:mod:`mesalens.connectors.agent_graph`), reusing its
edge weights ``w_uv`` (``±U(0.5, 1.5)``), noise scales and shift directions
``c_v = ±1``; what each family adds is drawn afterwards from the same seed.

Every node ``v`` gets an additive *parent term* ``η_v = Σ_u w_uv · g_uv(z_u)``
from its parents' *signals* ``z_u``:

* a continuous node's signal is its value standardized by its mean and SD in
  the train regime, ``z_u = (u - m_u) / sd_u``; ``m_u`` and ``sd_u`` are
  fixed when the model is drawn, from a seeded reference sample of
  :data:`REFERENCE_ROWS` train rows (they are part of the model, so their
  own sampling error does not matter);
* a discrete node's signal is its centred level code,
  ``(2j - (k - 1)) / (k - 1)``: ``±1`` for a binary node, ``-1, 0, 1`` for
  three levels.

A continuous node is ``v = η_v + δ · c_v · sd_v · s + σ_v · ε_v`` with
Gaussian noise: the shift strength ``δ`` is, as in the linear family, the
standardized mean shift (in train SDs) the regime causes directly in a
target. A discrete node with ``k`` levels draws level ``j`` with probability
proportional to ``exp(b_vj + j · (η_v + 2δ · c_v · s) / (k - 1))`` (an
adjacent-category logit model; ``b_v0 = 0`` and ``b_vj ~ U(-0.5, 0.5)``):
its CPT, a table over the parents' values. On a target the regime adds
``2δ`` to the log-odds of the top level against level 0, which for a binary
node near ``p = 1/2`` moves the mean by about ``δ`` SDs, as ``δ`` does for a
continuous one.

The families:

``nonlinear``
    Every node continuous; each edge's link ``g_uv`` is ``tanh`` or
    ``quadratic`` with probability 1/2: ``tanh(z) / 0.6279`` (monotone,
    saturating) or ``(z + z² - 1) / √3`` (U-shaped); both have unit variance
    at ``z ~ N(0, 1)``.
``discrete``
    Every node discrete: data variables, ``D_m`` and ``Y_m`` with 2 or 3
    levels (probability 1/2 each), ``Y_b`` binary (success). Links are
    linear. The joint distribution is a finite table, so
    :meth:`AdditiveSCM.joint` gives it exactly (the exact alignment gap).
``mixed``
    Each node discrete (as above, ``Y_b`` binary) or continuous with
    probability 1/2, at least one of each; links linear.

Sampling uses common random numbers: the Gaussian noise and the uniforms
that pick each discrete level depend on the seed and the rows only, so
samples at different strengths differ only by the shift.

Examples
--------
>>> from mesalens.connectors.random_scm import SCMFamily
>>> scm = SCMFamily(nodes=6, kind="discrete").draw(seed=[0, 1])
>>> frames = scm.sample(strength=0.5, rows=200, seed=7)
>>> sorted(frames["deploy"]["Y_b"].unique().tolist()), str(frames["train"]["Y_b"].dtype)
([0, 1], 'int64')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mesalens.connectors.agent_graph import (
    BASE,
    MESA,
    REGIME_LABELS,
    AgentGraph,
    check_sample_arguments,
    regime_indicator,
)
from mesalens.connectors.errors import InputError

__all__ = [
    "ADDITIVE_KINDS",
    "ENUMERATION_LIMIT",
    "LINKS",
    "REFERENCE_ROWS",
    "AdditiveSCM",
    "draw_additive",
]

#: The families built here.
ADDITIVE_KINDS = ("nonlinear", "discrete", "mixed")
#: The link of an edge, by its code in :attr:`AdditiveSCM.links`.
LINKS = ("linear", "tanh", "quadratic")
#: Train rows of the reference sample that fixes each continuous node's mean and SD.
REFERENCE_ROWS = 20_000
#: Most joint configurations :meth:`AdditiveSCM.joint` lists (3^11 is about 177,000).
ENUMERATION_LIMIT = 500_000

# SD of tanh(Z) for Z ~ N(0, 1) (Gauss-Hermite quadrature): the tanh link has unit variance.
_TANH_SD = 0.6279287303491066
_INTERCEPT = (-0.5, 0.5)


def _link(code: int, z: np.ndarray) -> np.ndarray:
    if code == 1:
        return np.tanh(z) / _TANH_SD
    if code == 2:
        return (z + z * z - 1.0) / math.sqrt(3.0)
    return z


@dataclass(frozen=True, eq=False, kw_only=True)
class AdditiveSCM(AgentGraph):
    """One additive agent model (see the module docstring for the mechanisms).

    The graph, the weights and the shift directions are
    :class:`~mesalens.connectors.agent_graph.AgentGraph`'s; ``noise`` is the
    Gaussian noise scale of each continuous node (0 for discrete ones).

    Attributes
    ----------
    kind : str
        ``"nonlinear"``, ``"discrete"`` or ``"mixed"``.
    levels : ndarray of shape (n,)
        0 for a continuous node, its number of levels ``k`` for a discrete
        one (the regime's entry is 2).
    links : ndarray of shape (n, n)
        Per edge, the code of its link in :data:`LINKS`.
    intercepts : ndarray of shape (n, 3)
        A discrete node's baseline logits ``b_vj`` (``b_v0 = 0``).
    centre, scale : ndarray of shape (n,)
        A continuous node's mean and SD in the train regime (0 and 1 for the
        others), from the reference sample.
    """

    kind: str
    levels: np.ndarray
    links: np.ndarray
    intercepts: np.ndarray
    centre: np.ndarray
    scale: np.ndarray

    @property
    def discrete(self) -> tuple[str, ...]:
        """The discrete columns."""
        return tuple(v for v in self.columns if self.levels[self.nodes.index(v)] > 0)

    def _parent_term(self, j: int, signals: np.ndarray) -> np.ndarray:
        """``η_j``: the sum of node ``j``'s parents' link terms, one value per row."""
        term = np.zeros(len(signals))
        for i in np.flatnonzero(self.weights[:, j]):
            term += self.weights[i, j] * _link(int(self.links[i, j]), signals[:, i])
        return term

    def _level_probabilities(
        self, j: int, term: np.ndarray, regime: np.ndarray, strength: float
    ) -> np.ndarray:
        """Node ``j``'s CPT rows: the probability of each level given the parent term."""
        k = int(self.levels[j])
        step = (term + 2.0 * strength * self.direction[j] * regime) / (k - 1)
        logits = self.intercepts[j, :k] + np.outer(step, np.arange(k))
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        return weights / weights.sum(axis=1, keepdims=True)

    def _code_signal(self, j: int, codes: np.ndarray) -> np.ndarray:
        k = int(self.levels[j])
        return (2.0 * codes - (k - 1)) / (k - 1)

    def _propagate(
        self,
        strength: float,
        regime: np.ndarray,
        gauss: np.ndarray,
        uniform: np.ndarray,
        *,
        fit_reference: bool = False,
    ) -> np.ndarray:
        """Every node's values on the given noise, in causal order.

        With ``fit_reference`` (on train rows only), each continuous node's
        :attr:`centre` and :attr:`scale` are set from its values before its
        children read its signal: the reference pass that completes a draw.
        """
        rows, n = gauss.shape
        values = np.zeros((rows, n))
        signals = np.zeros((rows, n))
        values[:, 0] = regime
        for j in range(1, n):
            term = self._parent_term(j, signals)
            if self.levels[j] == 0:
                value = term + self.noise[j] * gauss[:, j]
                if fit_reference:
                    self.centre[j], self.scale[j] = value.mean(), value.std()
                value += strength * self.direction[j] * self.scale[j] * regime
                signals[:, j] = (value - self.centre[j]) / self.scale[j]
            else:
                cumulative = np.cumsum(self._level_probabilities(j, term, regime, strength), 1)
                value = (uniform[:, j, None] > cumulative[:, :-1]).sum(axis=1).astype(float)
                signals[:, j] = self._code_signal(j, value)
            values[:, j] = value
        return values

    def sample(
        self, strength: float, rows: int, seed: int | Sequence[int]
    ) -> dict[str, pd.DataFrame]:
        """Simulate logs, one frame per regime (no regime column, as real logs).

        Parameters
        ----------
        strength : float
            The shift strength ``δ`` (non-negative).
        rows : int
            Rows over both regimes; the first regime gets the odd row. At
            least :data:`~mesalens.connectors.agent_graph.MIN_ROWS`.
        seed : int or sequence of int
            Seed of the noise (shared across strengths: common random numbers).

        Returns
        -------
        dict of str to pandas.DataFrame
            ``"train"`` and ``"deploy"`` to frames over :attr:`columns`:
            int64 level codes for the discrete columns, float64 otherwise.

        Raises
        ------
        InputError
            For a negative strength or too few rows.
        """
        check_sample_arguments(strength, rows)
        rng = np.random.default_rng(seed)
        regime, first = regime_indicator(rows)
        n = len(self.nodes)
        gauss = rng.standard_normal((rows, n))
        uniform = rng.random((rows, n))
        values = self._propagate(float(strength), regime, gauss, uniform)
        frame = pd.DataFrame(
            {
                v: values[:, j].astype("int64") if self.levels[j] else values[:, j]
                for j, v in enumerate(self.nodes)
                if j > 0
            }
        )
        return {
            REGIME_LABELS[0]: frame.iloc[:first].reset_index(drop=True),
            REGIME_LABELS[1]: frame.iloc[first:].reset_index(drop=True),
        }

    @property
    def enumerable(self) -> bool:
        """Whether :meth:`joint` can list the joint table (all discrete, few enough cells)."""
        levels = self.levels[1:]
        return bool(np.all(levels > 0)) and math.prod(int(k) for k in levels) <= ENUMERATION_LIMIT

    def joint(self, strength: float, deployed: bool) -> tuple[np.ndarray, np.ndarray]:
        """The exact joint distribution of an all-discrete model in one regime.

        Parameters
        ----------
        strength : float
            The shift strength ``δ``.
        deployed : bool
            The deploy regime (else train).

        Returns
        -------
        configurations : ndarray of shape (m, n)
            Every combination of the nodes' level codes (the regime column
            constant).
        probabilities : ndarray of shape (m,)
            Their probabilities (summing to 1).

        Raises
        ------
        InputError
            If a node is continuous or the table has more than
            :data:`ENUMERATION_LIMIT` cells.
        """
        if not self.enumerable:
            raise InputError(
                "the joint table needs every node discrete and at most "
                f"{ENUMERATION_LIMIT:,} configurations"
            )
        n = len(self.nodes)
        configurations = np.zeros((1, n))
        configurations[0, 0] = float(deployed)
        signals = np.zeros((1, n))
        probabilities = np.ones(1)
        for j in range(1, n):
            k = int(self.levels[j])
            term = self._parent_term(j, signals)
            table = self._level_probabilities(j, term, configurations[:, 0], float(strength))
            m = len(configurations)
            codes = np.tile(np.arange(k, dtype=float), m)
            configurations = np.repeat(configurations, k, axis=0)
            configurations[:, j] = codes
            signals = np.repeat(signals, k, axis=0)
            signals[:, j] = self._code_signal(j, codes)
            probabilities = (probabilities[:, None] * table).ravel()
        return configurations, probabilities

    def as_dict(self) -> dict[str, Any]:
        """The model as plain data: the graph, each node's kind, links and parameters."""
        n = len(self.nodes)
        return {
            **self.graph_dict(),
            "kind": self.kind,
            "levels": {
                v: int(self.levels[j]) if self.levels[j] else "continuous"
                for j, v in enumerate(self.nodes)
                if j > 0
            },
            "links": [
                [self.nodes[i], self.nodes[j], LINKS[int(self.links[i, j])]]
                for j in range(n)
                for i in range(n)
                if self.weights[i, j] != 0 and self.links[i, j] != 0
            ],
            "noise": {
                v: round(float(self.noise[j]), 6)
                for j, v in enumerate(self.nodes)
                if j > 0 and not self.levels[j]
            },
            "intercepts": {
                v: [round(float(b), 6) for b in self.intercepts[j, : int(self.levels[j])]]
                for j, v in enumerate(self.nodes)
                if j > 0 and self.levels[j]
            },
            "reference": {
                v: [round(float(self.centre[j]), 6), round(float(self.scale[j]), 6)]
                for j, v in enumerate(self.nodes)
                if j > 0 and not self.levels[j]
            },
        }


def _draw_levels(kind: str, nodes: tuple[str, ...], rng: np.random.Generator) -> np.ndarray:
    """Each node's number of levels (0: continuous) for ``kind``."""
    n = len(nodes)
    levels = np.zeros(n, dtype=np.int64)
    levels[0] = 2
    if kind == "nonlinear":
        return levels
    for j in range(1, n):
        discrete = kind == "discrete" or rng.random() < 0.5
        binary = nodes[j] == BASE or rng.random() < 0.5
        levels[j] = (2 if binary else 3) if discrete else 0
    if kind == "mixed":
        # "Mixed" means both kinds: fix the rare all-one-kind draw at the objectives.
        if not np.any(levels[1:] > 0):
            levels[nodes.index(BASE)] = 2
        if not np.any(levels[1:] == 0):
            levels[nodes.index(MESA)] = 0
    return levels


def draw_additive(kind: str, graph: AgentGraph, rng: np.random.Generator) -> AdditiveSCM:
    """Build a ``kind`` model on ``graph``, drawing what the family adds from ``rng``.

    Parameters
    ----------
    kind : {"nonlinear", "discrete", "mixed"}
        The family.
    graph : AgentGraph
        The graph and its weights, noise scales and shift directions (from
        :func:`~mesalens.connectors.agent_graph.draw_agent_graph` on ``rng``).
    rng : numpy.random.Generator
        Continues the graph's stream: node kinds, links, intercepts, then the
        reference sample.

    Returns
    -------
    AdditiveSCM
    """
    if kind not in ADDITIVE_KINDS:
        raise InputError(f"kind must be one of {', '.join(ADDITIVE_KINDS)}; got {kind!r}")
    nodes = graph.nodes
    n = len(nodes)
    levels = _draw_levels(kind, nodes, rng)
    links = np.zeros((n, n), dtype=np.int64)
    if kind == "nonlinear":
        for i, j in sorted(zip(*np.nonzero(graph.weights), strict=True), key=lambda e: e[::-1]):
            links[i, j] = 1 if rng.random() < 0.5 else 2
    intercepts = np.zeros((n, 3))
    for j in np.flatnonzero(levels[1:]) + 1:
        intercepts[j, 1 : levels[j]] = rng.uniform(*_INTERCEPT, size=levels[j] - 1)
    scm = AdditiveSCM(
        nodes=nodes,
        weights=graph.weights,
        noise=np.where(levels == 0, graph.noise, 0.0),
        direction=graph.direction,
        kind=kind,
        levels=levels,
        links=links,
        intercepts=intercepts,
        centre=np.zeros(n),
        scale=np.ones(n),
    )
    if np.any(levels[1:] == 0):
        reference = REFERENCE_ROWS
        scm._propagate(
            0.0,
            np.zeros(reference),
            rng.standard_normal((reference, n)),
            rng.random((reference, n)),
            fit_reference=True,
        )
    return scm
