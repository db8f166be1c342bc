"""Repairing PC's orientations when sampling errors make them contradict each other.

PC orients an unshielded triple ``x --- z --- y`` (``x`` and ``y`` not
adjacent) as the collider ``x --> z <-- y`` when ``z`` is not in the set that
separated ``x`` and ``y``, then propagates with Meek's rules. With the true
independences this gives the CPDAG. With finite data the collider decisions
are separate tests that can contradict each other: two colliders may claim
the same edge in opposite directions, or together force a directed cycle, and
the result is a partially directed graph that no DAG extends (causal-learn's
``uc_priority=2`` keeps the first collider on a conflicting edge but does not
prevent the cycles). Such a graph describes no equivalence class, so the
criterion cannot be checked over it. In simulations about 5% of PC runs end
this way, at every sample size.

The repair keeps the skeleton and rebuilds the orientations from the
colliders, checking with Dor & Tarsi's algorithm
(:func:`~mesalens.pipeline.pdag.consistent_extension`) that a DAG extends
the result:

1. start from the skeleton with the orientations no data can overrule: every
   edge at the regime out of it, required edges, and edges the tiers or the
   forbidden edges leave one direction for;
2. order PC's colliders by the evidence for them: the smallest p-value of a
   test of ``x`` and ``y`` given a set containing ``z`` (dependence given the
   middle node is what makes it a collider), ties by name;
3. if the skeleton with those orientations has an extension: take the
   colliders in that order, keeping each one while a DAG still extends the
   graph (a collider that points an edge against a stronger one, or closes a
   directed cycle with them, is dropped);
4. if it has none (a chordless cycle of four or more nodes needs a collider
   that no test found: the skeleton itself is wrong somewhere), keep PC's
   colliders that agree with each other, add the unshielded triples PC did
   not make colliders in the order of the evidence for them until a DAG
   extends the graph, and give up PC's weakest colliders only if that fails;
5. close under Meek's rules: the result is the CPDAG (with knowledge, the
   maximally oriented PDAG) of the DAGs with exactly these colliders.

This is the greedy conflict resolution of the "priority" kind that
Ramsey, Spirtes & Zhang ("Adjacency-faithfulness and conservative causal
inference", UAI 2006) and Colombo & Maathuis ("Order-independent
constraint-based causal structure learning", JMLR 2014) discuss, with the
consistency check made explicit. Every dropped or added collider is
reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

from mesalens.pipeline.graph import CausalGraph, Mark
from mesalens.pipeline.pdag import Pdag, consistent_extension, meek_closure

__all__ = [
    "Repair",
    "colliders",
    "is_consistent_pattern",
    "repair_orientations",
    "unshielded_triples",
]


class Repair(NamedTuple):
    """The outcome of :func:`repair_orientations`."""

    graph: CausalGraph
    extendable: bool
    dropped: tuple[tuple[str, str, str], ...]
    added: tuple[tuple[str, str, str], ...]


def unshielded_triples(graph: CausalGraph) -> list[tuple[str, str, str]]:
    """Every ``(x, z, y)`` with ``x - z - y`` adjacent, ``x`` and ``y`` not, ``x < y``."""
    found = []
    for z in graph.nodes:
        around = sorted(graph.adjacent(z))
        for i, x in enumerate(around):
            for y in around[i + 1 :]:
                if graph.edge(x, y) is None:
                    found.append((x, z, y))
    return found


def colliders(graph: CausalGraph) -> list[tuple[str, str, str]]:
    """The unshielded colliders ``(x, z, y)`` of ``graph`` (``x --> z <-- y``, ``x < y``)."""
    found = []
    for z in graph.nodes:
        into = sorted(
            other
            for other in graph.adjacent(z)
            if (edge := graph.edge(other, z)) is not None
            and edge.mark_v == Mark.ARROW
            and edge.mark_u == Mark.TAIL
        )
        for i, x in enumerate(into):
            for y in into[i + 1 :]:
                if graph.edge(x, y) is None:
                    found.append((x, z, y))
    return found


def is_consistent_pattern(graph: CausalGraph, regime: str) -> bool:
    """Whether ``graph`` (``-->``/``---`` only) has a DAG extension with ``regime`` a root."""
    g = Pdag.from_graph(graph, "the orientation repair")
    s = graph.index[regime]
    if g.parents[s]:
        return False
    g.orient_all_at(s, ())
    # No Meek closure first: on a graph without an extension, rule 1 makes
    # colliders of its own, which Dor-Tarsi would then accept as given.
    return consistent_extension(g) is not None


def repair_orientations(
    graph: CausalGraph,
    *,
    regime: str,
    forced: Iterable[tuple[str, str]],
    collider_evidence: Callable[[str, str, str], float],
) -> Repair:
    """Rebuild ``graph``'s orientations from its colliders so that a DAG extends it.

    Parameters
    ----------
    graph : CausalGraph
        PC's output (``-->`` and ``---`` edges only).
    regime : str
        The regime node: every edge at it points out of it.
    forced : iterable of (str, str)
        Orientations that hold whatever the data say (required edges, and the
        direction tiers or forbidden edges leave), as ``(tail, head)``.
    collider_evidence : callable
        ``collider_evidence(x, z, y)``: a number, smaller for stronger
        evidence that ``x --> z <-- y`` is a collider (a p-value).

    Returns
    -------
    Repair
        The repaired graph (same nodes and adjacencies, Meek-closed), whether
        a DAG extends it, and the colliders dropped and added.
    """
    names = graph.nodes
    index = graph.index
    base = Pdag(len(names))
    for edge in graph.edges():
        base.add_undirected(index[edge.u], index[edge.v])
    base.orient_all_at(index[regime], ())
    for tail, head in forced:
        a, b = index[tail], index[head]
        if b in base.undirected[a]:
            base.orient(a, b)

    def strength(triple: tuple[str, str, str]) -> tuple[float, tuple[str, str, str]]:
        return (collider_evidence(*triple), triple)

    # Meek's closure comes last: closing the forced edges first would let rule 1
    # make colliders of its own before the data's colliders had their say.
    found = sorted(colliders(graph), key=strength)
    kept: list[tuple[str, str, str]] = []
    if consistent_extension(base) is not None:
        # Step 3: keep each collider while a DAG still extends the graph.
        g = base
        for triple in found:
            trial = _with_collider(g, *(index[v] for v in triple))
            if trial is not None and consistent_extension(trial) is not None:
                g, kept = trial, [*kept, triple]
    else:
        # Step 4: the skeleton needs colliders. Keep the compatible ones PC
        # found, add the likeliest others until a DAG extends the graph, and
        # only then give up the weakest of PC's.
        g = base
        for triple in found:
            trial = _with_collider(g, *(index[v] for v in triple))
            if trial is not None and _is_acyclic(trial):
                g, kept = trial, [*kept, triple]
        others = sorted((t for t in unshielded_triples(graph) if t not in found), key=strength)
        added: list[tuple[str, str, str]] = []
        while consistent_extension(g) is None:
            for triple in others:
                if consistent_extension(g) is not None:
                    break
                trial = _with_collider(g, *(index[v] for v in triple))
                if trial is not None and _is_acyclic(trial):
                    g, added = trial, [*added, triple]
            if consistent_extension(g) is not None or not kept:
                break
            kept.pop()
            added = []
            g = _with_colliders(base, kept, index)
    extendable = consistent_extension(g) is not None
    if extendable:
        meek_closure(g)
    repaired = g.to_graph(names)
    final = set(colliders(repaired))
    return Repair(
        repaired,
        extendable,
        dropped=tuple(t for t in found if t not in final),
        added=tuple(sorted(final - set(found))),
    )


def _with_colliders(
    base: Pdag, triples: Iterable[tuple[str, str, str]], index: dict[str, int]
) -> Pdag:
    g = base
    for triple in triples:
        trial = _with_collider(g, *(index[v] for v in triple))
        assert trial is not None  # these were compatible when first added
        g = trial
    return g


def _is_acyclic(g: Pdag) -> bool:
    """Whether the directed edges of ``g`` form no cycle (Kahn's algorithm)."""
    indegree = [len(p) for p in g.parents]
    ready = [v for v in range(g.n) if not indegree[v]]
    seen = 0
    while ready:
        v = ready.pop()
        seen += 1
        for child in g.children[v]:
            indegree[child] -= 1
            if not indegree[child]:
                ready.append(child)
    return seen == g.n


def _with_collider(g: Pdag, x: int, z: int, y: int) -> Pdag | None:
    """A copy of ``g`` with ``x --> z <-- y``, or None when an edge already points out of ``z``."""
    if x in g.children[z] or y in g.children[z]:
        return None
    trial = g.copy()
    for tail in (x, y):
        if tail in trial.undirected[z]:
            trial.orient(tail, z)
    return trial
