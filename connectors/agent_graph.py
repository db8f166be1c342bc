r"""The random agent graph every simulated model family shares: names, the draw, graph queries.

The post behind mesalens asks how often, over models of the form *data → D,
D a parent of both Y_b and Y_m*, the mesa objective screens the regime off
from the base objective. Every family of :mod:`mesalens.connectors.random_scm`
(linear-Gaussian, nonlinear, discrete, mixed, confounded) puts its own
mechanisms on one random graph drawn here, so that the true verdict is
decided the same way in each, and the same seed gives the same graph in
every family.

The graph
---------
A model has the regime ``s`` (0 in ``train``, 1 in ``deploy``), ``k`` data
(context) variables ``x1 .. xk``, the decision ``D_m``, the mesa objective
``Y_m`` and the base objective ``Y_b``, in that causal order. With ``p`` the
edge probability, :func:`draw_agent_graph` adds

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

It then draws the linear-Gaussian family's numbers on that graph: edge
weights ``±U(0.5, 1.5)``, noise scales ``U(0.5, 1)``, and a direction
``c_v = ±1`` on each target. The other families reuse them (the weights as
the strength of each parent's term) and draw what they add afterwards, so
their draws never change the graph. :func:`add_latent` adds the confounded
family's hidden common cause.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mesalens.connectors.errors import InputError
from mesalens.connectors.regime import DEFAULT_REGIME_NAME

if TYPE_CHECKING:
    from mesalens.connectors.random_scm import SCMFamily

__all__ = [
    "BASE",
    "DECISION",
    "LATENT",
    "MESA",
    "MIN_NODES",
    "MIN_ROWS",
    "REGIME_LABELS",
    "AgentGraph",
    "add_latent",
    "check_sample_arguments",
    "draw_agent_graph",
    "regime_indicator",
]

DECISION = "D_m"
MESA = "Y_m"
BASE = "Y_b"
#: The confounded family's hidden common cause (never logged).
LATENT = "latent"
#: The regime labels, coded 0 and 1.
REGIME_LABELS = ("train", "deploy")
#: The regime plus one data variable, the decision and both objectives.
MIN_NODES = 5
#: Fewest rows (both regimes together) a model's ``sample`` accepts.
MIN_ROWS = 20

_WEIGHT = (0.5, 1.5)
_NOISE = (0.5, 1.0)


@dataclass(frozen=True, eq=False)
class AgentGraph:
    """An agent model's graph and its linear-Gaussian numbers (the families build on it).

    Attributes
    ----------
    nodes : tuple of str
        ``regime``, the hidden nodes (if any), the data variables, ``D_m``,
        ``Y_m``, ``Y_b``: a causal order.
    weights : ndarray of shape (n, n)
        ``weights[i, j]`` is the weight of the edge ``nodes[i] → nodes[j]``
        (zero: no edge); strictly upper triangular. The regime's row is zero:
        its effect is :attr:`direction`.
    noise : ndarray of shape (n,)
        The noise scale of each node (0 for the regime, which is not noisy).
    direction : ndarray of shape (n,)
        ``±1`` on the regime's targets, 0 elsewhere.
    hidden : tuple of str
        Nodes of the generating graph that the logs leave out (the
        confounded family's :data:`LATENT`; empty otherwise).
    """

    nodes: tuple[str, ...]
    weights: np.ndarray
    noise: np.ndarray
    direction: np.ndarray
    hidden: tuple[str, ...] = ()

    @property
    def regime(self) -> str:
        """The regime node's name."""
        return self.nodes[0]

    @property
    def columns(self) -> tuple[str, ...]:
        """The logged columns (every node but the regime and the hidden ones), in causal order."""
        return tuple(v for v in self.nodes[1:] if v not in self.hidden)

    @property
    def data(self) -> tuple[str, ...]:
        """The data (context) variables."""
        return tuple(v for v in self.nodes[1:-3] if v not in self.hidden)

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
        """The parents of ``node`` (hidden ones included; the regime's edges are not listed)."""
        j = self.nodes.index(node)
        return tuple(self.nodes[i] for i in np.flatnonzero(self.weights[:, j]))

    def edges(self, strength: float) -> list[tuple[str, str]]:
        """The true DAG's edges at shift ``strength`` (``regime → target`` only when positive).

        The hidden nodes' edges are included: this is the generating DAG.
        """
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

    def observed_index(self) -> list[int]:
        """The positions in :attr:`nodes` of :attr:`columns`."""
        return [self.nodes.index(v) for v in self.columns]

    def graph_dict(self) -> dict[str, Any]:
        """The graph as plain data (nodes, weighted edges, targets with their signs)."""
        n = len(self.nodes)
        document: dict[str, Any] = {
            "nodes": list(self.nodes),
            "edges": [
                [self.nodes[i], self.nodes[j], round(float(self.weights[i, j]), 6)]
                for j in range(n)
                for i in range(n)
                if self.weights[i, j] != 0
            ],
            "targets": {v: int(self.direction[self.nodes.index(v)]) for v in self.targets},
        }
        if self.hidden:
            document["hidden"] = list(self.hidden)
        return document


def draw_agent_graph(family: SCMFamily, rng: np.random.Generator) -> AgentGraph:
    """Draw one graph of ``family`` with its linear-Gaussian numbers (see the module docstring).

    Parameters
    ----------
    family : SCMFamily
        The draw's probabilities and the number of nodes.
    rng : numpy.random.Generator
        Consumed in a fixed order, so a seed gives the same graph everywhere.

    Returns
    -------
    AgentGraph
    """
    k = int(family.nodes) - 4
    data = [f"x{i + 1}" for i in range(k)]
    nodes = (DEFAULT_REGIME_NAME, *data, DECISION, MESA, BASE)
    index = {name: i for i, name in enumerate(nodes)}
    p = family.edge_probability
    edges: list[tuple[str, str]] = []
    for j in range(k):
        edges += [(data[i], data[j]) for i in range(j) if rng.random() < p]
    to_decision = [x for x in data if rng.random() < p]
    if not to_decision:
        to_decision = [data[int(rng.integers(k))]]
    edges += [(x, DECISION) for x in to_decision]
    edges.append((DECISION, MESA))
    edges += [(x, MESA) for x in data if rng.random() < p]
    direct = rng.random() < family.direct
    mesa_to_base = rng.random() < family.mesa_to_base or not direct
    edges += [(u, BASE) for u, on in ((DECISION, direct), (MESA, mesa_to_base)) if on]
    edges += [(x, BASE) for x in data if rng.random() < p]

    targets = [x for x in data if rng.random() < family.data_shift]
    if not targets:
        targets = [data[int(rng.integers(k))]]
    targets += [v for v in (DECISION, MESA, BASE) if rng.random() < family.objective_shift]

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
    return AgentGraph(nodes=nodes, weights=weights, noise=noise, direction=direction)


def add_latent(graph: AgentGraph, rng: np.random.Generator) -> AgentGraph:
    """``graph`` with one hidden common cause of ``Y_b`` and one other observed node.

    The other child is ``Y_m`` or a data variable, uniformly; never ``D_m``
    (whose parents are the policy's inputs under ``keep``) and never the
    regime (which is exogenous). The latent node comes right after the
    regime, a root with noise ``U(0.5, 1)``; its two edges get weights
    ``±U(0.5, 1.5)`` as every other edge. ``graph`` is drawn first from the
    same ``rng``, so the observed part is the linear-Gaussian model's.
    """
    candidates = [*graph.data, MESA]
    partner = candidates[int(rng.integers(len(candidates)))]
    n = len(graph.nodes) + 1
    nodes = (graph.nodes[0], LATENT, *graph.nodes[1:])
    weights = np.zeros((n, n))
    keep = [0, *range(2, n)]
    weights[np.ix_(keep, keep)] = graph.weights
    for child in sorted((partner, BASE), key=nodes.index):
        sign = 1.0 if rng.random() < 0.5 else -1.0
        weights[1, nodes.index(child)] = sign * rng.uniform(*_WEIGHT)
    noise = np.insert(graph.noise, 1, rng.uniform(*_NOISE))
    direction = np.insert(graph.direction, 1, 0.0)
    return AgentGraph(
        nodes=nodes, weights=weights, noise=noise, direction=direction, hidden=(LATENT,)
    )


def check_sample_arguments(strength: float, rows: int) -> None:
    """Refuse a negative or non-finite strength and fewer than :data:`MIN_ROWS` rows.

    Raises
    ------
    InputError
        For a negative strength or too few rows.
    """
    if not np.isfinite(strength) or strength < 0:
        raise InputError(f"strength must be a non-negative number; got {strength!r}")
    if isinstance(rows, bool) or not isinstance(rows, int | np.integer) or rows < MIN_ROWS:
        raise InputError(f"rows must be an integer of at least {MIN_ROWS}; got {rows!r}")


def regime_indicator(rows: int) -> tuple[np.ndarray, int]:
    """The regime column of ``rows`` sampled rows (0 then 1) and the size of the first regime.

    The first regime gets the odd row.
    """
    first = rows - rows // 2
    regime = np.zeros(rows)
    regime[first:] = 1.0
    return regime, first
