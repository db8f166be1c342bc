"""The inner-alignment criterion over an equivalence class, without listing its DAGs.

Notation as in ``spec/criterion.md``: ``s`` the regime, ``Y_b`` the base
objective, ``Y_m`` the mesa objective, ``D_m`` the decision and σ the policy
(a soft intervention on ``D_m`` that reads ``policy_inputs``). The criterion
in a DAG ``G`` is the d-separation ``(Y_b ⊥ s | Y_m)`` in ``G_σ``.

The procedure, step by step:

1. Close the input PDAG under Meek's rules and check it has an extension.
2. Make ``s`` a root: orient every edge at ``s`` out of it, close again (an
   MPDAG). An edge already directed into ``s`` is an input error.
3. Enumerate the valid parent sets of ``D_m`` (jointly, one decision after
   the other, for several decisions): ``pa(D_m)`` plus a clique of its
   undirected neighbours, validated by orienting every edge at ``D_m``,
   closing, and (outside product form) checking for an extension — the
   MPDAG test of Perković et al. (UAI 2017) / Fang & He (UAI 2020).
4. Per parent set, *refine* until every ancestral question the answer
   depends on is settled in the graph: whether a policy input is a
   descendant of ``D_m`` (then ``G_σ`` has a cycle and the DAG is invalid),
   and the post's conditions C1 and C2. A question is settled when a
   directed path answers yes or no possibly directed path exists; otherwise
   the node at the first undirected edge of a shortest possibly directed
   path is given each of its valid parent sets in turn (every edge at it
   directed), which splits the DAGs into disjoint parts.
5. Per settled part (a *leaf*): count its DAGs exactly (Clique-Picking per
   chain component), build ``G_σ`` from one DAG of it and test the
   criterion there, with a d-connecting path as the witness when it fails.
   Markov equivalent DAGs with the same parents of ``D_m`` have Markov
   equivalent ``G_σ`` (spec), so that one DAG speaks for the whole leaf.

With ``policy_inputs = keep`` the answer is the same in every DAG (step 4
needs no validity split), so the verdict is ``all`` or ``none``.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from mesalens.pipeline.check_result import CheckResult, ParentSetResult, Witness
from mesalens.pipeline.counting import ExtensionCounter, is_product_form
from mesalens.pipeline.dsep import d_connecting_path
from mesalens.pipeline.enumeration import iter_topological_orders
from mesalens.pipeline.errors import ClassTooLargeError, GraphError, InconsistentGraphError
from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.pdag import (
    Pdag,
    closed_chordal_search,
    consistent_extension,
    mcs_earlier_neighbours,
    meek_closure,
    orient_and_close,
    require_extendable,
)
from mesalens.pipeline.roles import Roles

__all__ = [
    "PolicyPartCounter",
    "check",
    "check_part",
    "orientations_at",
    "restricted_class",
    "valid_parent_sets",
]

# With policy_inputs = keep the verdict needs no parent set; the table of
# them is informative only and stops after this many.
KEEP_PARENT_SET_LIMIT = 64

# With explicit policy inputs every valid parent set must be visited; a
# decision whose undirected neighbours form large cliques has exponentially
# many. Past this many candidates the check stops with advice instead.
MAX_PARENT_SETS = 2**16

# How many refinement nodes (each a PDAG whose questions are answered, and
# counted when it is a leaf) the diagnostics C1/C2 may visit per parent set
# before they give up (they are then reported as unknown). Counted per node,
# not per branching: one branching at a node with k undirected edges can
# have up to 2^k children. The validity split that the counts need is never
# cut short.
DIAGNOSTICS_LEAF_BUDGET = 256
# And how many in all, over every parent set of a check: with explicit policy
# inputs a class can have thousands of parent sets.
DIAGNOSTICS_TOTAL_BUDGET = 16 * 1024
# Node counts alone do not bound the time: one refinement node of a dense
# 300-node class copies and closes a PDAG of 45,000 edges. So the
# diagnostics (and, with policy_inputs = keep, the informative table of
# parent sets) also spend *work units* from one budget per check: each
# orientation costs the size of the PDAG (nodes plus adjacency entries)
# plus, per edge it newly directs, the largest degree (what Meek's rules
# look at for it); each refinement node costs the size of its graph. A unit
# is about one set operation in Python, so the budget is a few seconds of
# work at any size, deterministic (no clock), and the small classes of
# bench_dense.py stay within it.
DIAGNOSTICS_WORK_BUDGET = 2**25


# ---------------------------------------------------------------- the class
def restricted_class(graph: CausalGraph, roles: Roles) -> Pdag:
    """Steps 1-2: the Meek-closed PDAG of ``graph`` with the regime made a root.

    Raises
    ------
    GraphError
        For PAG marks, a directed cycle, an edge into the regime, or a PDAG
        without a consistent extension.
    """
    return _restricted_class(graph, roles)[0]


def _restricted_class(graph: CausalGraph, roles: Roles) -> tuple[Pdag, dict[int, set[int]] | None]:
    """:func:`restricted_class`, and for a CPDAG-like input the search that orients its leaves."""
    g = Pdag.from_graph(graph, "check-graph (DAGs, CPDAGs and MPDAGs)")
    roles.validate(graph)
    s = graph.index[roles.regime]
    if g.parents[s]:
        parent = graph.nodes[min(g.parents[s])]
        raise GraphError(
            f"the edge {parent} --> {roles.regime} points into the regime; nothing can cause "
            "which regime a row was logged in: reverse the edge or fix the graph"
        )
    # A CPDAG (the usual input) is recognised in linear time; anything else
    # gets Dor-Tarsi and the full closure.
    earlier = closed_chordal_search(g)
    closed = earlier is not None
    if not closed:
        require_extendable(g, graph.nodes)
        meek_closure(g)
    if g.parents[s]:  # Meek's rules forced an edge into the regime
        parent = graph.nodes[min(g.parents[s])]
        raise GraphError(
            f"every DAG of this graph has {parent} --> {roles.regime}, an edge into the regime; "
            "nothing can cause the regime: check the graph's orientations around it"
        )
    if closed:
        # The empty parent set is a clique: the result has an extension.
        orient_and_close(g, s, ())
        return g, earlier
    g.orient_all_at(s, ())
    meek_closure(g, touched=[s])
    # In product form the empty parent set is always valid (it is a clique).
    if not is_product_form(g) and consistent_extension(g) is None:
        raise InconsistentGraphError(
            f"no DAG of this graph has {roles.regime!r} as a root (nothing pointing into it); "
            "check the orientations around the regime"
        )
    return g, None


def _cliques_of(g: Pdag, candidates: list[int]) -> Iterator[tuple[int, ...]]:
    """Every clique (including the empty one) among ``candidates``, in lexicographic order."""

    def extend(chosen: tuple[int, ...], start: int) -> Iterator[tuple[int, ...]]:
        yield chosen
        for k in range(start, len(candidates)):
            v = candidates[k]
            if all(g.adjacent(v, u) for u in chosen):
                yield from extend((*chosen, v), k + 1)

    yield from extend((), 0)


def count_candidate_parent_sets(g: Pdag, node: int) -> int:
    """How many cliques (the empty one included) the undirected neighbours of ``node`` form.

    The neighbours of a node inside a chordal chain component induce a
    chordal graph. In a maximum cardinality search order of a chordal graph
    the earlier neighbours of every node form a clique (Tarjan & Yannakakis,
    SIAM J. Comput. 1984), and every clique has exactly one latest node, so
    the count is ``1 + sum over v of 2 ** (number of earlier neighbours of v)``.
    """
    siblings = g.undirected[node]
    numbered: dict[int, int] = {}
    weight = dict.fromkeys(siblings, 0)
    total = 1
    while weight:
        v = max(weight, key=lambda u: (weight[u], -u))
        del weight[v]
        earlier = sum(1 for u in g.neighbours(v) if u in numbered)
        numbered[v] = len(numbered)
        total += 2**earlier
        for u in g.neighbours(v):
            if u in weight:
                weight[u] += 1
    return total


class WorkMeter:
    """Work units left to the diagnostics of one check (see :data:`DIAGNOSTICS_WORK_BUDGET`)."""

    def __init__(self, units: int | None = None):
        self.left = DIAGNOSTICS_WORK_BUDGET if units is None else units
        self.cut = False  # set once something was left undone for lack of units

    def spent(self) -> bool:
        """Whether the budget is used up."""
        return self.left <= 0


def _size(g: Pdag) -> int:
    """Nodes plus adjacency entries of ``g``: what a copy or a search over it touches."""
    return g.n + sum(map(len, g.undirected)) + 2 * sum(map(len, g.children))


def _orientations_at(
    g: Pdag, node: int, product_form: bool, meter: WorkMeter | None = None
) -> Iterator[Pdag]:
    """Every valid way to direct all edges at ``node``, each closed under Meek's rules.

    With a ``meter``, each orientation is charged to it (it is not cut
    here: the caller stops asking when the meter is spent).
    """
    siblings = sorted(g.undirected[node])
    if not siblings:
        yield g
        return
    if meter is not None:
        size = _size(g)
        undirected_before = sum(map(len, g.undirected))
        degree = max(
            (
                len(a) + len(b) + len(c)
                for a, b, c in zip(g.undirected, g.children, g.parents, strict=True)
            ),
            default=0,
        )
    for clique in _cliques_of(g, siblings):
        h = g.copy()
        # In product form (chain components chordal and independent) every
        # clique is valid (Maathuis, Kalisch & Bühlmann 2009), and R1/R2
        # propagated from the new edges close the graph; otherwise the MPDAG
        # test is whether an extension survives the full closure.
        valid = _orient(h, node, clique, product_form)
        if meter is not None:
            newly = (undirected_before - sum(map(len, h.undirected))) // 2
            meter.left -= size + newly * (degree + 1)
        if valid:
            yield h


def _orient(h: Pdag, node: int, clique: tuple[int, ...], product_form: bool) -> bool:
    """Direct every edge at ``node`` in place (parents ``clique``), close; whether it is valid."""
    if product_form:
        orient_and_close(h, node, clique)
        return True
    h.orient_all_at(node, clique)
    meek_closure(h, touched=[node])
    return consistent_extension(h) is not None


def orientations_at(g: Pdag, node: int) -> Iterator[Pdag]:
    """Every valid way to direct all edges at ``node`` in the Meek-closed, extendable ``g``.

    One closed PDAG per valid parent set of ``node`` (its directed parents
    plus a clique of its undirected neighbours); their DAGs split those of
    ``g`` into disjoint parts.
    """
    yield from _orientations_at(g, node, is_product_form(g))


def valid_parent_sets(
    g: Pdag, decisions: list[int], meter: WorkMeter | None = None
) -> Iterator[Pdag]:
    """Step 3: one Meek-closed PDAG per valid joint parent set of the decisions.

    The decisions' candidate parent sets are the cliques among their
    undirected neighbours (``pa(D_m)`` plus a clique, Maathuis et al. 2009).
    With a ``meter`` every orientation is charged to it.
    """
    product_form = is_product_form(g)

    def assign(h: Pdag, k: int) -> Iterator[Pdag]:
        if k == len(decisions):
            yield h
            return
        for oriented in _orientations_at(h, decisions[k], product_form, meter):
            yield from assign(oriented, k + 1)

    yield from assign(g, 0)


def _one_dag(g: Pdag, earlier: dict[int, set[int]] | None = None) -> Pdag:
    """One DAG extending the Meek-closed, extendable ``g``.

    In product form, any acyclic moral orientation of each chain component
    will do: one maximum cardinality search gives them all. ``earlier`` may
    hold the earlier neighbours of such a search on a product-form graph
    that ``g`` refines (same skeleton, more directed edges): its order,
    restricted to a component of ``g`` (an induced subgraph of one of its
    components), is still a perfect elimination order reversed. Otherwise,
    the first DAG the lister yields.
    """
    if is_product_form(g):
        search = mcs_earlier_neighbours(g, range(g.n)) if earlier is None else (None, earlier)
        if search is not None:
            parents, children, earlier = g.parents, g.children, search[1]
            dag_parents, dag_children = [], []
            for v, around in enumerate(g.undirected):
                mine = around & earlier[v]
                dag_parents.append(parents[v] | mine)
                dag_children.append(children[v] | (around - mine))
            return Pdag.from_sets(dag_parents, dag_children, [set() for _ in range(g.n)])
    order = next(iter_topological_orders(g))
    position = [0] * g.n
    for k, v in enumerate(order):
        position[v] = k
    dag = Pdag(g.n)
    for i, j in g.directed_edges():
        dag.add_directed(i, j)
    for i, j in g.undirected_edges():
        dag.add_directed(*((i, j) if position[i] < position[j] else (j, i)))
    return dag


# ---------------------------------------------------------------- reachability
def _sigma_edges(g: Pdag, decisions: set[int], inputs: tuple[int, ...] | None) -> Pdag:
    """``G_σ`` of a DAG or PDAG whose edges at the decisions are all directed."""
    if inputs is None:
        return g
    h = g.copy()
    for d in decisions:
        for p in list(h.parents[d]):
            h.remove_directed(p, d)
        for p in inputs:
            h.add_directed(p, d)
    return h


def _reach(h: Pdag, sources: set[int], blocked: set[int], definite: bool) -> dict[int, int | None]:
    """Nodes reachable from ``sources`` by directed (``definite``) or possibly directed paths.

    Returns each reached node's predecessor on a shortest such path; nodes
    in ``blocked`` are neither entered nor left.
    """
    previous: dict[int, int | None] = {v: None for v in sources}
    # Set differences against the reached and blocked nodes keep the
    # per-edge work in C; only newly reached nodes are touched in Python.
    closed = set(previous) | blocked
    children, undirected = h.children, h.undirected
    queue = deque(sorted(sources))
    while queue:
        v = queue.popleft()
        new = children[v] - closed if definite else (children[v] | undirected[v]) - closed
        if new:
            closed |= new
            for w in sorted(new):
                previous[w] = v
                queue.append(w)
    return previous


@dataclass(frozen=True)
class _Question:
    """Does a directed path avoiding ``blocked`` lead from ``sources`` to ``targets``."""

    name: str
    sources: frozenset[int]
    targets: frozenset[int]
    blocked: frozenset[int] = frozenset()


def _answer(h: Pdag, q: _Question) -> tuple[bool | None, list[int] | None]:
    """``(answer, None)`` when settled in ``h``, else ``(None, a possibly directed path)``."""
    if not q.targets.isdisjoint(_reach(h, set(q.sources), set(q.blocked), definite=True)):
        return True, None
    possible = _reach(h, set(q.sources), set(q.blocked), definite=False)
    reached = sorted(q.targets.intersection(possible))
    if not reached:
        return False, None
    path = [reached[0]]
    while possible[path[-1]] is not None:
        path.append(possible[path[-1]])  # type: ignore[arg-type]
    path.reverse()
    return None, path


# ---------------------------------------------------------------- the check
class _Checker:
    def __init__(
        self,
        graph: CausalGraph,
        roles: Roles,
        restricted: Pdag,
        earlier: dict[int, set[int]] | None = None,
    ):
        self.graph = graph
        self.names = graph.nodes
        self.roles = roles
        idx = graph.index
        self.s = idx[roles.regime]
        self.base = frozenset(idx[n] for n in roles.base)
        self.mesa = frozenset(idx[n] for n in roles.mesa)
        self.decisions = [idx[n] for n in roles.decision]
        self.inputs = (
            None if roles.policy_inputs is None else tuple(idx[n] for n in roles.policy_inputs)
        )
        self.restricted = restricted
        # Every graph counted here refines the restricted class: one skeleton.
        self.counter = ExtensionCounter(one_skeleton=True)
        self.product_form = is_product_form(restricted)
        # One search orients every leaf's chain components (see _one_dag).
        # (the input's, when it was a closed chordal chain graph: see _one_dag).
        if earlier is None and self.product_form:
            search = mcs_earlier_neighbours(restricted, range(restricted.n))
            earlier = None if search is None else search[1]
        self.earlier = earlier if self.product_form else None
        self.diagnostics_left = DIAGNOSTICS_TOTAL_BUDGET
        self.meter = WorkMeter()

    # Questions whose answers must be constant on a leaf.
    def validity_questions(self) -> list[_Question]:
        if self.inputs is None:
            return []
        return [
            _Question(f"cycle:{d}:{p}", frozenset([d]), frozenset([p]))
            for d in self.decisions
            for p in self.inputs
            if p != d
        ]

    def diagnostic_questions(self) -> list[_Question]:
        return [
            _Question("c1", self.mesa, self.base),
            _Question("c2_violated", frozenset([self.s]), self.base, blocked=self.mesa),
        ]

    def refine(
        self, h: Pdag, questions: list[_Question], budget: list[int] | None
    ) -> Iterator[tuple[Pdag, dict[str, bool | None]]]:
        """Split the DAGs of ``h`` into leaves on which every question is settled.

        With a ``budget`` (a one-item list, shared and decremented once per
        node visited), a node that would exceed it, or come after the
        check's :class:`WorkMeter` is spent, is yielded with its open
        questions as None; the work of every node and orientation is then
        charged to the meter.
        """
        meter = None
        if budget is not None:
            meter = self.meter
            if budget[0] <= 0 or meter.spent():
                # Out of budget: every question of this part is unknown.
                yield h, dict.fromkeys((q.name for q in questions), None)
                return
            budget[0] -= 1
            meter.left -= _size(h)
        sigma = _sigma_edges(h, set(self.decisions), self.inputs)
        answers: dict[str, bool | None] = {}
        open_path: list[int] | None = None
        for q in questions:
            answer, path = _answer(sigma, q)
            answers[q.name] = answer
            if answer is None and open_path is None:
                open_path = path
        if open_path is None:
            yield h, answers
            return
        # The first undirected edge on the possibly directed path.
        branch_node = next(a for a, b in itertools.pairwise(open_path) if b in sigma.undirected[a])
        for child in _orientations_at(h, branch_node, self.product_form, meter):
            yield from self.refine(child, questions, budget)

    def evaluate_leaf(self, leaf: Pdag) -> tuple[bool, Witness]:
        dag = _one_dag(leaf, self.earlier)
        sigma = _sigma_edges(dag, set(self.decisions), self.inputs)
        path = d_connecting_path(sigma, {self.s}, self.base, self.mesa)
        witness = Witness(
            dag,
            sigma,
            self.names,
            open_path=None if path is None else tuple(self.names[v] for v in path),
        )
        return path is None, witness

    def run(self) -> CheckResult:
        result = CheckResult(
            roles=self.roles, restricted_pdag=self.restricted, node_names=self.names
        )
        keep = self.inputs is None
        if not keep:
            self._require_tractable()
        if keep:
            # The criterion is the same in every DAG: one DAG decides it.
            holds, witness = self.evaluate_leaf(self.restricted)
            total = self.counter.count(self.restricted)
            result.n_dags = total
            result.n_hold, result.n_fail = (total, 0) if holds else (0, total)
            if holds:
                result.hold_witness = witness
            else:
                result.fail_witness = witness
        # With keep the table is informative only: it shares the diagnostics'
        # work budget (after its first row) and stops when that is spent.
        table_meter = self.meter if keep else None
        parent_sets = valid_parent_sets(self.restricted, self.decisions, table_meter)
        for number, oriented in enumerate(parent_sets):
            if keep and (number == KEEP_PARENT_SET_LIMIT or (number and self.meter.spent())):
                result.parent_sets_complete = False
                self.meter.cut = self.meter.cut or number < KEEP_PARENT_SET_LIMIT
                break
            entry = ParentSetResult(
                parents={
                    self.names[d]: tuple(self.names[p] for p in sorted(oriented.parents[d]))
                    for d in self.decisions
                }
            )
            for leaf, validity in self.refine(oriented, self.validity_questions(), None):
                count = self.counter.count(leaf)
                entry.n_dags += count
                if any(validity.values()):
                    entry.n_invalid += count
                    continue
                self._add_valid_leaf(entry, leaf, count, result)
            result.parent_sets.append(entry)
        if not keep:
            for name in ("n_dags", "n_hold", "n_fail", "n_invalid"):
                setattr(result, name, sum(getattr(p, name) for p in result.parent_sets))
        result.counted_by_listing = self.counter.listed_counts > 0
        result.diagnostics_cut = self.meter.cut or any(
            entry.n_c1 is None for entry in result.parent_sets
        )
        return result

    def _require_tractable(self) -> None:
        candidates = 1
        for d in self.decisions:
            candidates *= count_candidate_parent_sets(self.restricted, d)
        if candidates > MAX_PARENT_SETS:
            decisions = ", ".join(self.names[d] for d in self.decisions)
            siblings = sorted(
                self.names[v] for d in self.decisions for v in self.restricted.undirected[d]
            )
            raise ClassTooLargeError(
                f"the decision {decisions} has {len(siblings)} unoriented edges "
                f"(to {', '.join(siblings[:8])}{', ...' if len(siblings) > 8 else ''}) and "
                f"{candidates} possible parent sets, more than the {MAX_PARENT_SETS} an exact "
                "check with explicit --policy-inputs visits; orient edges at the decision with "
                "background knowledge (tiers, required edges) or use --policy-inputs keep"
            )

    def _add_valid_leaf(
        self, entry: ParentSetResult, leaf: Pdag, count: int, result: CheckResult
    ) -> None:
        holds, witness = self.evaluate_leaf(leaf)
        if holds:
            entry.n_hold += count
            if self.inputs is not None:
                result.hold_witness = result.hold_witness or witness
        else:
            entry.n_fail += count
            if self.inputs is not None:
                result.fail_witness = result.fail_witness or witness
        if entry.witness is None or (not holds and entry.witness.open_path is None):
            entry.witness = witness
        granted = min(DIAGNOSTICS_LEAF_BUDGET, self.diagnostics_left)
        budget = [granted]
        leaves = self.refine(leaf, self.diagnostic_questions(), budget)
        for part, answers in leaves:
            c1, c2_violated = answers["c1"], answers["c2_violated"]
            if c1 is None or c2_violated is None:
                # Out of budget: the counts are unknown, so the remaining
                # parts need neither refining nor counting.
                entry.n_c1 = entry.n_c2 = entry.n_conjecture_disagrees = None
                break
            part_count = count if part is leaf else self.counter.count(part)
            c2 = not c2_violated
            if entry.n_c1 is not None:
                entry.n_c1 += part_count * c1
            if entry.n_c2 is not None:
                entry.n_c2 += part_count * c2
            if entry.n_conjecture_disagrees is not None and (c1 and c2) != holds:
                entry.n_conjecture_disagrees += part_count
        self.diagnostics_left -= granted - max(budget[0], 0)


class PolicyPartCounter:
    """The DAGs that admit the policy within parts of a check's restricted class.

    A *part* is the restricted PDAG with more edges oriented (for example the
    edges at ``D_m`` for one valid parent set, then those at ``Y_m``), closed
    under Meek's rules. The checker's own refinement splits it into leaves on
    which the policy is either possible or not, so the count is exact.

    Parameters
    ----------
    result : CheckResult
        A check of a DAG/CPDAG/MPDAG (not a PAG): its restricted class.
    """

    def __init__(self, result: CheckResult):
        if result.restricted_pdag is None:
            raise GraphError("PolicyPartCounter needs the check of a DAG, CPDAG or MPDAG")
        self._checker = _Checker(result.restricted, result.roles, result.restricted_pdag)

    def sigma_graph_and_count(self, part: Pdag) -> tuple[CausalGraph | None, int]:
        """A σ-graph of the DAGs of ``part`` that admit the policy (or None), and their number."""
        checker = self._checker
        graph, count = None, 0
        for leaf, validity in checker.refine(part, checker.validity_questions(), None):
            if any(validity.values()):
                continue  # the policy is impossible in these DAGs
            count += checker.counter.count(leaf)
            if graph is None:
                graph = checker.evaluate_leaf(leaf)[1].sigma_graph
        return graph, count


def check(graph: CausalGraph, roles: Roles) -> CheckResult:
    """Decide the inner-alignment criterion in every DAG of ``graph``'s class.

    Parameters
    ----------
    graph : CausalGraph
        A DAG, CPDAG or MPDAG (``-->`` and ``---`` edges), or a PAG, which
        :func:`mesalens.pipeline.pag_checker.check_pag` checks over its MAGs.
    roles : Roles
        The regime, base, mesa and decision nodes and the policy inputs.

    Returns
    -------
    CheckResult
        The verdict, exact counts (Python ints), per-parent-set results and
        witnesses.

    Raises
    ------
    RoleError, GraphError, InconsistentGraphError
        For roles that do not fit the graph and graphs with no valid class.
    """
    if graph.kind() == "pag":
        # Latent confounding: the class is a PAG's MAGs. Imported here: a DAG's
        # check does not need the MAG layer (nor networkx, which it imports).
        from mesalens.pipeline.pag_checker import check_pag

        return check_pag(graph, roles)
    with _cyclic_gc_paused():
        restricted, earlier = _restricted_class(graph, roles)
        return _Checker(graph, roles, restricted, earlier).run()


def check_part(graph: CausalGraph, roles: Roles, part: Pdag) -> CheckResult:
    """:func:`check` over the DAGs of ``part`` only, without the C1/C2 diagnostics.

    ``part`` refines the restricted class of ``graph`` (same skeleton, more
    edges directed, Meek-closed and extendable), for example one of
    :func:`orientations_at`. The counts are exact, as in :func:`check`; the
    parent sets' C1/C2 counts are left unknown (None).
    """
    with _cyclic_gc_paused():
        checker = _Checker(graph, roles, part)
        checker.diagnostics_left = 0
        return checker.run()


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the duration of a check.

    A check on a large class allocates tens of thousands of adjacency sets
    that live until it ends and form no reference cycles; the collector would
    walk all of them again and again (up to half the time at 3,000 nodes)
    and free nothing. Reference counting still frees everything as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
