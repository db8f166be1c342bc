"""What would settle a ``some``, and which policy inputs would make the verdict ``all``.

Two kinds of advice are computed from a finished check, always with the
checker's own exact counting. For a PAG (counts over MAGs) the resolution
advice is the circle marks that decide a ``some``
(:mod:`~mesalens.pipeline.advice_pag`) and the policy-design advice is the
same as below, rechecked with the PAG checker; there is no knowledge file
and no experiment for a PAG. For a DAG, CPDAG or MPDAG:

*Resolution advice* (verdict ``some``): the class holds DAGs on both sides.

* **Deciding edges.** For an undirected edge ``a --- b`` of the restricted
  class, the DAGs with ``a --> b`` are exactly those in which ``a`` is a
  parent of ``b``: the union, over the valid parent sets of ``b`` that hold
  ``a``, of the parts :func:`~mesalens.pipeline.checker.orientations_at`
  gives (every edge at ``b`` directed, closed under Meek's rules). Each part
  is checked with :func:`~mesalens.pipeline.checker.check_part`, so the
  counts after orienting the edge are exact. The other orientation's counts
  are the class's minus these (the two are disjoint and cover the class).
* **Background knowledge.** The smallest knowledge after which the verdict
  is no longer ``some``, as required edges (one, else two), the same as
  forbidden edges, and tiers (an experiment's outcome at one node), each a
  Tetrad knowledge file read back and counted
  (:mod:`~mesalens.pipeline.advice_knowledge`).
* **Experiments.** A hard intervention on ``X`` reveals the orientation of
  every edge at ``X`` (the interventional essential graph of Hauser &
  Bühlmann, JMLR 2012): the outcomes are the valid parent sets of ``X``,
  each a part with its own verdict and counts.

Each piece is ranked by how many DAGs it leaves *undecided*: the DAGs of
its outcomes whose verdict is still ``some`` (0: it settles the verdict
whatever the outcome).

*Policy-design advice* (verdicts ``none``, ``some``, ``invalid``): the
policy inputs are a design choice. The smallest changes to them (one
variable added or removed, then two) are checked in turn, each with
:func:`~mesalens.pipeline.checker.check`; those whose verdict is ``all`` are
listed with their counts, or, when none is, the open paths that make the
candidates fail, with how many candidates each blocks. For ``invalid``, each
declared input is checked alone: the DAGs in which it is a descendant of the
decision (reading it would close a directed cycle), with one such cycle.

Both searches stop at a budget of checks that shrinks as the class grows
(:func:`checks_allowed`); candidates nearest the decision come first, and a
candidate is either checked completely or not at all, so every count
reported is exact, and ``complete`` says whether every candidate was
checked. The reasoning is in ``docs/advice.md``.
"""

from __future__ import annotations

import itertools
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from mesalens.pipeline.advice_counts import (
    MAX_LISTED,
    POLICY_BUDGET,
    RESOLUTION_BUDGET,
    Tally,
    breadth_first_distances,
    check_cost,
    checks_allowed,
    skeleton_distances,
)
from mesalens.pipeline.advice_knowledge import Candidate, KnowledgeSearch, knowledge_text, rank
from mesalens.pipeline.check_result import CheckResult
from mesalens.pipeline.checker import (
    check,
    check_part,
    count_candidate_parent_sets,
    orientations_at,
)
from mesalens.pipeline.enumeration import iter_dag_edges
from mesalens.pipeline.errors import MesalensError
from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.pdag import Pdag

__all__ = [
    "POLICY_BUDGET",
    "RESOLUTION_BUDGET",
    "Advice",
    "Tally",
    "advise",
    "checks_allowed",
    "knowledge_text",
    "parts_with_edges",
]

#: How many outcomes of one experiment are listed (all are counted).
MAX_OUTCOMES = 12
#: How many DAGs the search for a cycle a declared input closes may list.
CYCLE_SEARCH_DAGS = 2000


@dataclass
class Advice:
    """The advice on one check; :meth:`to_dict` is ``result.json``'s ``advice`` object."""

    verdict: str
    unit: str = "dag"
    edges: list[dict[str, Any]] = field(default_factory=list)
    marks: list[dict[str, Any]] = field(default_factory=list)
    knowledge: list[dict[str, Any]] = field(default_factory=list)
    experiments: list[dict[str, Any]] = field(default_factory=list)
    policy: dict[str, Any] | None = None
    resolution_allowed: int = 0
    resolution_checks: int = 0
    resolution_complete: bool = True
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (fixed key order)."""
        return {
            "verdict": self.verdict,
            "unit": self.unit,
            "budget": {
                "resolution_checks": self.resolution_allowed,
                "resolution_used": self.resolution_checks,
                "resolution_complete": self.resolution_complete,
            },
            "edges": self.edges,
            "marks": self.marks,
            "knowledge": self.knowledge,
            "knowledge_file": None,
            "experiments": self.experiments,
            "policy": self.policy,
            "notes": self.notes,
        }


# ---------------------------------------------------------------- parts
def parts_with_edges(
    g: Pdag, edges: Sequence[tuple[int, int]], limit: int | None = None
) -> list[Pdag] | None:
    """Disjoint Meek-closed parts of ``g`` whose DAGs are exactly those with every ``edges``.

    ``g`` is Meek-closed and extendable. For each required ``t --> h`` still
    undirected, the part is split at the endpoint with fewer candidate parent
    sets, keeping the valid parent sets of that endpoint that give
    ``t --> h``. Returns None when that would take more than ``limit`` parts
    (a node in a large clique has exponentially many parent sets).
    """
    found: list[Pdag] = []

    def split(h_graph: Pdag, rest: Sequence[tuple[int, int]]) -> bool:
        if not rest:
            found.append(h_graph)
            return limit is None or len(found) <= limit
        (t, h), later = rest[0], rest[1:]
        if t in h_graph.parents[h]:
            return split(h_graph, later)
        if h in h_graph.parents[t] or not h_graph.adjacent(t, h):
            return True
        sizes = {v: count_candidate_parent_sets(h_graph, v) for v in (h, t)}
        at = h if sizes[h] <= sizes[t] else t
        if limit is not None and sizes[at] > limit:
            return False
        for part in orientations_at(h_graph, at):
            if t in part.parents[h] and not split(part, later):
                return False
        return True

    return found if split(g, list(edges)) else None


def _distances(g: Pdag, sources: Iterable[int]) -> list[int]:
    """Skeleton distance of every node from ``sources`` (``g.n`` when unreachable)."""
    distance = breadth_first_distances(range(g.n), g.neighbours, sources)
    return [distance[v] for v in range(g.n)]


class _Adviser:
    def __init__(self, result: CheckResult):
        self.result = result
        self.graph = result.restricted
        self.roles = result.roles
        self.g = result.restricted_pdag
        self.names = result.node_names
        self.total = Tally.of(result)
        self.allowed = checks_allowed(RESOLUTION_BUDGET, self.g.n)
        self.limit = self.allowed // 2  # the edges' half; the experiments get the rest
        self.used = 0
        self.complete = True
        index = self.graph.index
        self.decisions = [index[d] for d in self.roles.decision]
        self.distance = _distances(self.g, self.decisions)

    def _can_spend(self, cost: int = 1) -> bool:
        if self.used + cost > self.limit:
            self.complete = False
            return False
        return True

    def tally_edges(self, edges: Sequence[tuple[int, int]]) -> Tally | None:
        """The counts over the DAGs with every ``edges``, or None past the budget."""
        parts = parts_with_edges(self.g, edges, limit=max(self.limit - self.used, 0))
        if parts is None or not self._can_spend(max(len(parts), 1)):
            self.complete = False
            return None
        self.used += max(len(parts), 1)
        tally = Tally()
        for part in parts:
            tally += Tally.of(check_part(self.graph, self.roles, part))
        return tally

    def edge(self, t: int, h: int) -> list[str]:
        return [self.names[t], self.names[h]]

    # ------------------------------------------------------------ resolution
    def resolution(self, advice: Advice) -> None:
        undirected = sorted(
            self.g.undirected_edges(),
            key=lambda e: (min(self.distance[e[0]], self.distance[e[1]]), self.edge(*e)),
        )
        search = KnowledgeSearch(self.g, self.names, self.tally_edges)
        candidates: list[Candidate] = []
        rows = []
        for a, b in undirected:
            if self.used >= self.limit:
                self.complete = False
                break
            forward = self.tally_edges([(a, b)])
            if forward is None:
                continue  # too many parts for what is left of the budget
            backward = self.total - forward
            undecided = forward.undecided + backward.undecided
            for edge, tally in (((a, b), forward), ((b, a), backward)):
                search.remember([edge], tally)
                if tally.n_dags and tally.verdict != "some":
                    candidates += _edge_candidates((edge,))
            if undecided < self.total.n_dags:
                rows.append(
                    {
                        "edge": self.edge(a, b),
                        "undecided": undecided,
                        "orientations": [
                            {"edge": self.edge(a, b), **forward.to_dict()},
                            {"edge": self.edge(b, a), **backward.to_dict()},
                        ],
                    }
                )
        rows.sort(key=lambda row: (row["undecided"], row["edge"]))
        advice.edges = rows[:MAX_LISTED]
        self.limit = self.allowed
        advice.experiments = self._experiments(search, candidates)
        knowledge = _rows(search, candidates)
        if not any(row["size"] == 1 for row in rank(knowledge)) and len(undirected) >= 2:
            knowledge += _rows(search, self._settling_pairs(undirected, search))
        advice.knowledge = rank(knowledge)

    def _settling_pairs(
        self, undirected: list[tuple[int, int]], search: KnowledgeSearch
    ) -> list[Candidate]:
        found = []
        orientations = [e for a, b in undirected for e in ((a, b), (b, a))]
        for first, second in itertools.combinations(orientations, 2):
            if {*first} == {*second}:
                continue
            if self.used >= self.limit:
                self.complete = False
                break
            tally = self.tally_edges([first, second])
            if tally is None:
                continue
            search.remember([first, second], tally)
            if tally.n_dags and tally.verdict != "some":
                found += _edge_candidates((first, second))
        return found

    def _experiments(
        self, search: KnowledgeSearch, candidates: list[Candidate]
    ) -> list[dict[str, Any]]:
        """The experiments; each outcome that settles the verdict is also a tier candidate."""
        rows = []
        candidates_at = sorted(
            (v for v in range(self.g.n) if self.g.undirected[v]),
            key=lambda v: (self.distance[v], self.names[v]),
        )
        for x in candidates_at:
            if self.used >= self.limit:
                self.complete = False
                break
            # An upper bound on the outcomes (exact in product form): a node in
            # a large clique has too many to list, and is skipped.
            if not self._can_spend(count_candidate_parent_sets(self.g, x)):
                continue
            parts = list(orientations_at(self.g, x))
            self.used += len(parts)
            outcomes = []
            neighbours = self.g.undirected[x]
            for part in parts:
                tally = Tally.of(check_part(self.graph, self.roles, part))
                search.remember_part(part, tally)
                before = tuple(sorted(part.parents[x] & neighbours, key=self.names.__getitem__))
                after = tuple(sorted(neighbours - part.parents[x], key=self.names.__getitem__))
                if tally.n_dags and tally.verdict != "some" and len(neighbours) >= 2:
                    tiers = tuple(t for t in (before, (x,), after) if t)
                    candidates.append(Candidate("tiers", tiers=tiers))
                outcomes.append(
                    {"parents": sorted(self.names[p] for p in part.parents[x]), **tally.to_dict()}
                )
            undecided = sum(Tally(*_counts(o)).undecided for o in outcomes)
            if undecided == self.total.n_dags:
                continue
            outcomes.sort(key=lambda o: (-o["n_dags"], o["parents"]))
            rows.append(
                {
                    "intervene_on": self.names[x],
                    "undecided": undecided,
                    "n_outcomes": len(outcomes),
                    "outcomes": outcomes[:MAX_OUTCOMES],
                }
            )
        rows.sort(key=lambda row: (row["undecided"], row["n_outcomes"], row["intervene_on"]))
        return rows[:MAX_LISTED]


def _edge_candidates(edges: tuple[tuple[int, int], ...]) -> list[Candidate]:
    """A set of required edges, and the same knowledge as forbidden reversed edges."""
    return [
        Candidate("required", edges=edges),
        Candidate("forbidden", edges=tuple((h, t) for t, h in edges)),
    ]


def _rows(search: KnowledgeSearch, candidates: list[Candidate]) -> list[dict[str, Any]]:
    """Each candidate's file, read back and counted (those past the budget are left out)."""
    rows = []
    for candidate in dict.fromkeys(candidates):
        row = search.row(candidate)
        if row is not None:
            rows.append(row)
    return rows


def _counts(row: dict[str, Any]) -> tuple[int, int, int, int]:
    return row["n_dags"], row["n_hold"], row["n_fail"], row["n_invalid"]


# ---------------------------------------------------------------- policy design
def _policy_candidates(
    current: tuple[str, ...] | None, universe: list[str], size: int
) -> list[tuple[tuple[str, ...], list[str]]]:
    """The policies ``size`` changes away from ``current``: (inputs, changes such as ``+x``)."""
    if current is None:  # keep: explicit lists of ``size`` inputs (none first)
        if size == 1:
            found = [((), ["read nothing"])]
            found += [((x,), [f"+{x}"]) for x in universe]
            return found
        return [(pair, [f"+{x}" for x in pair]) for pair in itertools.combinations(universe, 2)]
    changes = [f"-{x}" for x in current] + [f"+{x}" for x in universe if x not in current]
    found = []
    for chosen in itertools.combinations(changes, size):
        inputs = [x for x in current if f"-{x}" not in chosen]
        inputs += [c[1:] for c in chosen if c.startswith("+")]
        found.append((tuple(inputs), list(chosen)))
    return found


def _checked_graph(result: CheckResult) -> CausalGraph:
    """The graph to recheck under other policy inputs: a PAG as given, else the restricted class."""
    latent = getattr(result, "latent", None)
    return result.restricted if latent is None else latent.pag


def _policy(result: CheckResult) -> dict[str, Any]:
    roles, graph = result.roles, _checked_graph(result)
    distance = skeleton_distances(graph, roles.decision)
    universe = sorted(
        (v for v in graph.nodes if v not in roles.decision),
        key=lambda v: (distance[v], v),
    )
    current = roles.policy_inputs
    allowed = checks_allowed(POLICY_BUDGET, check_cost(result))
    checked = 0
    complete = True
    passing: list[dict[str, Any]] = []
    blocking: Counter[tuple[str, ...]] = Counter()
    invalid_candidates = 0
    searched_size = 0
    for size in (1, 2):
        candidates = _policy_candidates(current, universe, size)
        searched_size = size
        for inputs, changes in candidates:
            if checked >= allowed:
                complete = False
                break
            checked += 1
            try:
                outcome = check(graph, replace(roles, policy_inputs=inputs))
            except MesalensError:
                continue  # too many parent sets for this policy: not a candidate
            tally = Tally.of(outcome)
            if tally.verdict == "all":
                passing.append({"inputs": list(inputs), "changes": changes, **tally.to_dict()})
            elif tally.verdict == "invalid":
                invalid_candidates += 1
            elif outcome.fail_witness is not None and outcome.fail_witness.open_path:
                blocking[outcome.fail_witness.open_path] += 1
        if passing or not complete:
            break
    passing.sort(key=lambda row: (row["n_invalid"], len(row["changes"]), row["inputs"]))
    part: dict[str, Any] = {
        "current": "keep" if current is None else list(current),
        "allowed": allowed,
        "checked": checked,
        "largest_change": searched_size,
        "complete": complete,
        "passing": passing[:MAX_LISTED],
        "n_passing": len(passing),
        "blocking_paths": [
            {"path": list(path), "candidates": n}
            for path, n in sorted(blocking.items(), key=lambda item: (-item[1], item[0]))[
                :MAX_LISTED
            ]
        ],
        "n_invalid_candidates": invalid_candidates,
        "invalid_inputs": [],
    }
    if result.verdict == "invalid" and current:
        part["invalid_inputs"] = _invalid_inputs(result)
    return part


def _invalid_inputs(result: CheckResult) -> list[dict[str, Any]]:
    """Per declared input: in how many DAGs reading it closes a cycle, and one such cycle."""
    roles, graph = result.roles, _checked_graph(result)
    rows = []
    for name in roles.policy_inputs or ():
        checked = check(graph, replace(roles, policy_inputs=(name,)))
        alone = Tally.of(checked)
        if alone.n_invalid == 0:
            continue
        latent = getattr(checked, "latent", None)
        if latent is None:
            cycle = _cycle_through(result, name)
        else:  # a PAG: the cycle of the first listed MAG that cannot host the policy
            violations = (r.witness.violation for r in latent.mags if r.status == "invalid")
            cycle = next((list(v) for v in violations if v), None)
        rows.append(
            {
                "input": name,
                "n_dags": alone.n_dags,
                "n_downstream": alone.n_invalid,
                "everywhere": alone.n_invalid == alone.n_dags,
                "cycle": cycle,
            }
        )
    rows.sort(key=lambda row: (-row["n_downstream"], row["input"]))
    return rows


def _directed_path(children: Sequence[set[int]], source: int, target: int) -> list[int] | None:
    previous: dict[int, int | None] = {source: None}
    queue = deque([source])
    while queue:
        v = queue.popleft()
        for w in sorted(children[v]):
            if w not in previous:
                previous[w] = v
                if w == target:
                    path = [w]
                    while previous[path[-1]] is not None:
                        path.append(previous[path[-1]])  # type: ignore[arg-type]
                    return path[::-1]
                queue.append(w)
    return None


def _cycle_through(result: CheckResult, name: str) -> list[str] | None:
    """``D_m --> ... --> name --> D_m``: a directed path from a decision to the input, closed."""
    graph, g = result.restricted, result.restricted_pdag
    target = graph.index[name]
    decisions = [graph.index[d] for d in result.roles.decision]
    graphs: Iterable[Sequence[set[int]]] = [g.children]

    def dag_children() -> Iterable[Sequence[set[int]]]:
        for edges in itertools.islice(iter_dag_edges(g), CYCLE_SEARCH_DAGS):
            children: list[set[int]] = [set() for _ in range(g.n)]
            for a, b in edges:
                children[a].add(b)
            yield children

    for children in itertools.chain(graphs, dag_children()):
        for d in decisions:
            path = _directed_path(children, d, target)
            if path is not None:
                return [graph.nodes[v] for v in [*path, d]]
    return None


def g_nodes(result: CheckResult) -> int:
    """The number of nodes of a check's class."""
    return len(result.node_names)


# ---------------------------------------------------------------- entry point
PAG_NOTE = (
    "the class is a PAG's MAGs: the counts are MAGs; the advice fixes circle marks and "
    "changes the policy inputs, and proposes no knowledge file (check-graph --knowledge "
    "takes DAGs, CPDAGs and MPDAGs) and no experiments"
)


def _pag_resolution(result: CheckResult, advice: Advice) -> None:
    """The circle marks whose fixing decides a ``some`` over MAGs (``advice_pag``)."""
    from mesalens.pipeline.advice_pag import mark_resolution  # the MAG layer, only for PAGs

    found = mark_resolution(result)  # type: ignore[arg-type]
    advice.marks = found.rows
    advice.resolution_allowed, advice.resolution_checks = found.allowed, found.used
    advice.resolution_complete = found.complete
    if not found.complete:
        advice.notes.append(
            f"the search over circle marks stopped at its budget of {found.allowed} checks: "
            "the edges nearest the decision were checked first"
        )


def advise(result: CheckResult) -> Advice:
    """The resolution and policy-design advice on a check of a DAG, CPDAG or MPDAG.

    Parameters
    ----------
    result : CheckResult
        The check. For a PAG (counts over MAGs) the resolution advice is
        the circle marks that decide a ``some``; the policy-design advice
        is the same, rechecked with the PAG checker.

    Returns
    -------
    Advice
        Resolution advice when the verdict is ``some``; policy-design advice
        when it is ``none``, ``some`` or ``invalid``.
    """
    pag = getattr(result, "latent", None) is not None or result.restricted_pdag is None
    advice = Advice(verdict=result.verdict, unit="mag" if pag else "dag")
    if result.verdict == "all":
        advice.notes.append("the verdict is already all: nothing to settle or to fix")
        return advice
    if pag:
        advice.notes.append(PAG_NOTE)
        if result.latent.n_mags is None:  # type: ignore[attr-defined]
            advice.notes.append(
                "the PAG's class is too large to list (its verdict was decided in one MAG), so "
                "no other policy inputs can be checked: no policy-design advice"
            )
            return advice
        if result.verdict == "some":
            _pag_resolution(result, advice)
    elif result.verdict == "some":
        adviser = _Adviser(result)
        adviser.resolution(advice)
        advice.resolution_allowed = adviser.allowed
        advice.resolution_checks = adviser.used
        advice.resolution_complete = adviser.complete
        if not adviser.complete:
            advice.notes.append(
                f"the search for what settles the verdict stopped at its budget of "
                f"{adviser.allowed} checks ({g_nodes(result)} nodes): the edges and experiments "
                "nearest the decision were checked first"
            )
    advice.policy = _policy(result)
    return advice
