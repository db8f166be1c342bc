"""The advice's exact counts (:class:`Tally`) and its budget (:func:`checks_allowed`).

Shared by the advice on a DAG's class (:mod:`mesalens.pipeline.advice`), its
knowledge files (:mod:`mesalens.pipeline.advice_knowledge`) and the advice on
a PAG (:mod:`mesalens.pipeline.advice_pag`), whose counts are over MAGs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from mesalens.pipeline.check_result import CheckResult, verdict_of
from mesalens.pipeline.graph import CausalGraph

__all__ = [
    "MAX_LISTED",
    "MIN_CHECKS",
    "POLICY_BUDGET",
    "RESOLUTION_BUDGET",
    "Tally",
    "breadth_first_distances",
    "check_cost",
    "checks_allowed",
    "skeleton_distances",
]

#: The resolution advice's budget, in node-checks: each check of a part of
#: the class costs as many units as the graph has nodes, so a 100-node class
#: gets 400 checks and a 1,000-node class 40 (never fewer than
#: :data:`MIN_CHECKS`). Half goes to the edges, half to the experiments
#: (what one leaves is the other's); knowledge pairs get what is left.
RESOLUTION_BUDGET = 40_000
#: The policy-design search's budget, in node-checks (200 candidate
#: policies at 100 nodes, 20 at 1,000, never fewer than :data:`MIN_CHECKS`).
POLICY_BUDGET = 20_000
#: The fewest checks either search gets, however large the class.
MIN_CHECKS = 16
#: How many items of each kind the advice lists (the counts behind the
#: ranking cover every candidate checked).
MAX_LISTED = 8


@dataclass(frozen=True)
class Tally:
    """Exact counts over a set of DAGs, and the verdict they give."""

    n_dags: int = 0
    n_hold: int = 0
    n_fail: int = 0
    n_invalid: int = 0

    @classmethod
    def of(cls, result: CheckResult) -> Tally:
        """The counts of a check."""
        return cls(result.n_dags, result.n_hold, result.n_fail, result.n_invalid)

    @property
    def verdict(self) -> str:
        """``all``, ``some``, ``none`` or ``invalid``, as :attr:`CheckResult.verdict`."""
        return verdict_of(self.n_hold, self.n_fail)

    @property
    def undecided(self) -> int:
        """The DAGs still undecided: all of them when the verdict is ``some``, else 0."""
        return self.n_dags if self.verdict == "some" else 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.n_dags + other.n_dags,
            self.n_hold + other.n_hold,
            self.n_fail + other.n_fail,
            self.n_invalid + other.n_invalid,
        )

    def __sub__(self, other: Tally) -> Tally:
        return Tally(
            self.n_dags - other.n_dags,
            self.n_hold - other.n_hold,
            self.n_fail - other.n_fail,
            self.n_invalid - other.n_invalid,
        )

    def to_dict(self) -> dict[str, Any]:
        """``verdict`` and the four counts, as in ``result.json``."""
        return {
            "verdict": self.verdict,
            "n_dags": self.n_dags,
            "n_hold": self.n_hold,
            "n_fail": self.n_fail,
            "n_invalid": self.n_invalid,
        }


def checks_allowed(budget: int, n_nodes: int) -> int:
    """How many checks a search of ``budget`` node-checks may run on a class of ``n_nodes``.

    >>> checks_allowed(RESOLUTION_BUDGET, 100), checks_allowed(RESOLUTION_BUDGET, 1000)
    (400, 40)
    >>> checks_allowed(POLICY_BUDGET, 3000)
    16
    """
    return max(MIN_CHECKS, budget // max(n_nodes, 1))


def breadth_first_distances(
    nodes: Iterable[Hashable],
    neighbours: Callable[[Any], Iterable[Any]],
    sources: Iterable[Hashable],
) -> dict[Any, int]:
    """Edge distance of every node from ``sources`` (the number of nodes when unreachable)."""
    nodes = list(nodes)
    far = len(nodes)
    distance = dict.fromkeys(nodes, far)
    queue = deque()
    for v in sources:
        distance[v] = 0
        queue.append(v)
    while queue:
        v = queue.popleft()
        for w in sorted(neighbours(v)):
            if distance[w] == far:
                distance[w] = distance[v] + 1
                queue.append(w)
    return distance


def skeleton_distances(graph: CausalGraph, sources: Iterable[str]) -> dict[str, int]:
    """Skeleton distance of every node of a graph of any kind from ``sources``."""
    return breadth_first_distances(graph.nodes, graph.adjacent, sources)


def check_cost(result: CheckResult) -> int:
    """What one check of this class costs, in the budgets' units (node-checks).

    A DAG class's check costs its nodes; a PAG's check lists its MAGs, so it
    costs nodes times the MAGs of the class (the listing of a part is no
    longer than the class's).
    """
    latent = getattr(result, "latent", None)
    n_mags = 1 if latent is None else max(1, latent.n_mags or 1)
    return len(result.node_names) * n_mags
