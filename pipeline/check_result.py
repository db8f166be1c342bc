"""The result of a check: the verdict over a class, its exact counts and witnesses.

The types :func:`mesalens.pipeline.checker.check` returns for a DAG, CPDAG
or MPDAG, and that :mod:`mesalens.pipeline.pag_checker` extends for the
MAGs of a PAG; both checkers import them from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.pdag import Pdag
from mesalens.pipeline.roles import Roles

__all__ = ["VERDICTS", "CheckResult", "ParentSetResult", "Witness", "verdict_of"]

VERDICTS = ("all", "some", "none", "invalid")


class Witness:
    """One DAG of the class, with the d-connecting path when the criterion fails there.

    The graphs are built from the index form on first access: a check on a
    large class makes many witnesses and reads few.
    """

    def __init__(
        self, dag: Pdag, sigma: Pdag, names: tuple[str, ...], open_path: tuple[str, ...] | None
    ):
        self._dag, self._sigma, self._names = dag, sigma, names
        self.open_path = open_path

    @cached_property
    def dag(self) -> CausalGraph:
        """The DAG G."""
        return self._dag.to_graph(self._names)

    @cached_property
    def sigma_graph(self) -> CausalGraph:
        """The intervened graph G_σ in which the criterion was decided."""
        return self._sigma.to_graph(self._names)


@dataclass
class ParentSetResult:
    """The DAGs in which the decision nodes have given parents."""

    parents: dict[str, tuple[str, ...]]
    n_dags: int = 0
    n_hold: int = 0
    n_fail: int = 0
    n_invalid: int = 0
    # Counts over the valid DAGs; None when the diagnostics ran out of budget.
    n_c1: int | None = 0
    n_c2: int | None = 0
    n_conjecture_disagrees: int | None = 0
    witness: Witness | None = None

    @property
    def status(self) -> str:
        """``hold``, ``fail`` or ``invalid`` (``mixed`` should not occur: see the spec)."""
        if self.n_hold == self.n_fail == 0:
            return "invalid"
        if self.n_fail == 0:
            return "hold"
        if self.n_hold == 0:
            return "fail"
        return "mixed"

    @property
    def n_valid(self) -> int:
        """The DAGs that admit the policy."""
        return self.n_hold + self.n_fail

    def _uniform(self, count: int | None) -> bool | None:
        if count is None or self.n_valid == 0:
            return None
        if count == self.n_valid:
            return True
        if count == 0:
            return False
        return None

    @property
    def c1(self) -> bool | None:
        """C1 (Y_m an ancestor of Y_b): in every valid DAG, in none, or None (varies/unknown)."""
        return self._uniform(self.n_c1)

    @property
    def c2(self) -> bool | None:
        """C2 (every directed path s ⇝ Y_b meets Y_m), as for :attr:`c1`."""
        return self._uniform(self.n_c2)

    @property
    def conjecture_disagrees(self) -> bool | None:
        """Whether, in some valid DAG, C1 ∧ C2 says otherwise than the criterion."""
        if self.n_conjecture_disagrees is None or self.n_valid == 0:
            return None
        return self.n_conjecture_disagrees > 0


def verdict_of(n_hold: int, n_fail: int) -> str:
    """The verdict of a class with ``n_hold`` DAGs where the criterion holds, ``n_fail`` not.

    ``invalid`` when no DAG admits the policy (both zero).

    >>> verdict_of(3, 0), verdict_of(2, 1), verdict_of(0, 4), verdict_of(0, 0)
    ('all', 'some', 'none', 'invalid')
    """
    if n_hold == 0 and n_fail == 0:
        return "invalid"
    if n_fail == 0:
        return "all"
    if n_hold == 0:
        return "none"
    return "some"


@dataclass
class CheckResult:
    """The verdict over the restricted class, its exact counts and witnesses.

    ``parent_sets`` lists every valid parent set of the decisions, except
    with ``policy_inputs = keep`` on a class with more than
    :data:`~mesalens.pipeline.checker.KEEP_PARENT_SET_LIMIT` of them: there the
    criterion is the same in every DAG, the counts come from the whole class, and the table is cut
    (``parent_sets_complete`` is False).
    """

    roles: Roles
    restricted_pdag: Pdag  # the MPDAG: input closed, regime made a root
    node_names: tuple[str, ...]
    n_dags: int = 0
    n_hold: int = 0
    n_fail: int = 0
    n_invalid: int = 0
    parent_sets: list[ParentSetResult] = field(default_factory=list)
    parent_sets_complete: bool = True
    # The C1/C2 diagnostics (or, with keep, the table) stopped at their budget.
    diagnostics_cut: bool = False
    hold_witness: Witness | None = None
    fail_witness: Witness | None = None
    counted_by_listing: bool = False

    @property
    def verdict(self) -> str:
        """``all``, ``some``, ``none`` or ``invalid`` (:func:`verdict_of` the counts)."""
        return verdict_of(self.n_hold, self.n_fail)

    @cached_property
    def restricted(self) -> CausalGraph:
        """The restricted class as a graph (an MPDAG)."""
        return self.restricted_pdag.to_graph(self.node_names)
