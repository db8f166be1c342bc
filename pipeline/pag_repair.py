"""Guaranteeing a PAG: FCI's invalid output repaired through one of its MAGs.

The problem
-----------
FCI (Spirtes, Glymour & Scheines 2000; Zhang, "On the completeness of
orientation rules for causal discovery in the presence of latent confounders
and selection bias", Artificial Intelligence 2008) returns a partial
ancestral graph (PAG) -- a class of maximal ancestral graphs (MAGs,
:mod:`mesalens.pipeline.mag`) -- only when every conditional-independence
test it runs is right. At finite samples its collider decisions contradict
each other, and the graph it returns can describe no MAG at all. Zhang's
construction of a MAG from a PAG (Theorem 2;
:func:`~mesalens.pipeline.mag.pag_to_mag`) then ends in

* a *directed cycle* or an *almost directed cycle* (``a <-> b`` while ``a`` is
  an ancestor of ``b``): the graph is not ancestral;
* two non-adjacent nodes joined by an *inducing path*, which no set
  m-separates: the graph is not maximal;
* ``o-o`` edges that are not chordal.

The checker decides the criterion over the MAGs of the class, so such a
graph stopped the run. Repeating FCI gives the same graph; with 14
variables and 1,500 rows per regime it happened in 6 of 20 simulated runs,
every time an almost directed cycle (``bench/RESULTS.md``). causal-learn's
own ``fci`` on the raw rows, with or without the regime knowledge, returns
the same graphs, and with an exact d-separation oracle FCI returns valid
PAGs: these are sampling errors, not artefacts of mesalens' processing.

Tetrad's answer, and this module
--------------------------------
Tetrad's FCI has a *guarantee PAG* option (``GraphUtils.guaranteePag`` in
``cmu-phil/tetrad``, ``tetrad-lib/src/main/java/edu/cmu/tetrad/graph/GraphUtils.java``,
with ``GraphTransforms.zhangMagFromPag`` and ``MagToPag``). If the PAG is
legal it is returned as it is; otherwise Tetrad repeats, until nothing
changes, (i) remove the almost directed cycles of Zhang's MAG, (ii) repair
maximality by adding an edge between every non-adjacent pair joined by an
inducing path, (iii) remove the directed cycles of Zhang's MAG, (iv) re-run
FCI's orientation rules; finally it converts Zhang's MAG of the result into
its PAG (``MagToPag``). :func:`repair_pag` takes the same steps on the MAG:

1. **Zhang's MAG** ``M`` of the estimated PAG (``o->`` and ``-o`` become
   ``-->``; the ``o-o`` edges, and ``---`` edges since selection bias is
   assumed absent, are oriented along a maximum cardinality search order),
   built even when the circle edges are not chordal. Edges at the regime are
   first made ``regime --> x`` (:func:`~mesalens.pipeline.pag_checker.restrict_regime`).
2. **Directed cycles.** In each strongly connected component of ``M``'s
   directed edges, an order of its nodes with the fewest edges pointing
   backwards is found (exactly, by dynamic programming over subsets, up to
   :data:`EXACT_ORDER_LIMIT` nodes; beyond, by the greedy heuristic of Eades,
   Lin & Smyth, "A fast and effective heuristic for the feedback arc set
   problem", IPL 1993), and those edges are reversed. Reversing an edge the
   knowledge forbids costs more than any number of other reversals. The
   regime has no arrowhead, so it is on no cycle and stays a root.
3. **Almost directed cycles.** ``a <-> b`` with ``a`` an ancestor of ``b``
   becomes ``a --> b``. This adds no ancestor relation, so it cannot make a
   new cycle or almost cycle.
4. **Maximality.** Between every non-adjacent pair that no set m-separates
   (an inducing path joins them: the ancestors of ``a`` and ``b`` other
   than themselves do not separate them) an edge is added, ``a --> b`` when
   ``a`` is already an ancestor of ``b``, else ``a <-> b`` (Richardson &
   Spirtes, "Ancestral graph Markov models", Ann. Stat. 2002, Theorem 5.1:
   the result is maximal and ancestral, with the same m-separations).
5. **The PAG of the repaired MAG.** causal-learn's FCI is run with exact
   m-separation in ``M`` as its test (:func:`~mesalens.pipeline.mag.m_connecting_indices`,
   the checker's own) and the run's background knowledge (the regime a
   root), as discovery runs it. The result is kept only if it is a valid
   PAG with ``M``'s adjacencies, marks ``M`` agrees with, and a Zhang MAG
   Markov equivalent to ``M``.
   causal-learn's rules, even as patched (:mod:`~mesalens.pipeline.causallearn_bridge`),
   are not proven to reach that PAG, so when that check fails, ``M``
   itself is returned: a MAG is a PAG without circles, valid by step 2-4,
   whose class is the one MAG -- more certain than the data warrant, and the
   note says so.

Where this departs from Tetrad: Tetrad's steps (i) and (iii) *add*
adjacencies that cover colliders and then re-orient with the search's own
test and separating sets, which causal-learn does not expose after a run;
and Tetrad's loop stops when nothing changes, not when the MAG is legal, so
its final ``MagToPag`` can be handed a MAG that is not legal. Here steps 2-4 change
marks (and add only the maximality edges, as Tetrad does), each step is
proven to keep what the previous one achieved, and the result is checked, so
it always passes the validity check of :mod:`mesalens.pipeline.pag_checker`.
A PAG that passes the check to begin with is returned unchanged.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass

import networkx as nx
import numpy as np

from mesalens.pipeline.graph import CausalGraph, Edge, Mark
from mesalens.pipeline.knowledge import Knowledge
from mesalens.pipeline.mag import (
    MixedGraph,
    ancestral_violation,
    chordless_cycle,
    m_connecting_indices,
    markov_equivalent,
    maximality_gaps,
    pag_to_mag,
    zhang_mag,
)
from mesalens.pipeline.pag_checker import restrict_regime

__all__ = ["EXACT_ORDER_LIMIT", "PagRepair", "mag_to_pag", "pag_problem", "repair_pag"]

TAIL, ARROW, CIRCLE = Mark.TAIL, Mark.ARROW, Mark.CIRCLE

#: Strongly connected components up to this many nodes get an exactly
#: minimal set of reversed edges (2^k subsets); larger ones the greedy order.
EXACT_ORDER_LIMIT = 14


@dataclass(frozen=True)
class PagRepair:
    """The outcome of :func:`repair_pag`.

    Attributes
    ----------
    graph : CausalGraph
        A valid PAG: the input when it was valid, else the PAG of the
        repaired MAG (or that MAG itself, when ``exact`` is False).
    problem : str or None
        Why the input was not a valid PAG (None: it was, and ``graph`` is it).
    mag : CausalGraph or None
        The repaired MAG (None when nothing was repaired).
    reversed : tuple of (str, str)
        Each ``u --> v`` of Zhang's MAG reversed to break directed cycles.
    almost : tuple of (str, str)
        Each ``a <-> b`` turned into ``a --> b``, as ``(a, b)``.
    added : tuple of Edge
        The edges added for maximality.
    changes : tuple of str
        Every edge of ``graph`` that differs from the input, in words.
    exact : bool
        Whether ``graph`` is the PAG of the repaired MAG (False: the MAG).
    """

    graph: CausalGraph
    problem: str | None = None
    mag: CausalGraph | None = None
    reversed: tuple[tuple[str, str], ...] = ()
    almost: tuple[tuple[str, str], ...] = ()
    added: tuple[Edge, ...] = ()
    changes: tuple[str, ...] = ()
    exact: bool = True

    def note(self) -> str:
        """One sentence for the run's notes: what was wrong and what changed."""
        if self.problem is None:
            return "FCI's PAG was valid; nothing was repaired"
        steps = []
        if self.reversed:
            steps.append(
                "directed cycles broken by reversing "
                + ", ".join(f"{u} --> {v}" for u, v in self.reversed)
            )
        if self.almost:
            steps.append(
                "almost directed cycles removed: "
                + ", ".join(f"{a} <-> {b} became {a} --> {b}" for a, b in self.almost)
            )
        if self.added:
            steps.append("added for maximality: " + ", ".join(map(_text, self.added)))
        done = f" ({'; '.join(steps)})" if steps else ""
        rebuilt = (
            "its PAG was rebuilt by FCI with exact m-separation in that MAG as the test"
            if self.exact
            else "causal-learn's FCI did not rebuild a valid PAG for that MAG, so the check "
            "runs on the MAG itself (a class of one MAG, more certain than the data warrant)"
        )
        return (
            f"FCI's output was not a valid PAG, a finite-sample error ({self.problem}); it was "
            "repaired as Tetrad's guaranteePag does: Zhang's MAG of it was made ancestral and "
            f"maximal{done}, and {rebuilt}; edges changed: {'; '.join(self.changes) or 'none'}"
        )


# ------------------------------------------------------------------ diagnosis
def pag_problem(pag: CausalGraph) -> str | None:
    """Why ``pag`` is not a valid PAG for the checker, or None when it is.

    The conditions are those of :func:`~mesalens.pipeline.mag.pag_to_mag`:
    no selection-bias marks, chordal ``o-o`` edges, and an ancestral and
    maximal Zhang MAG.

    Parameters
    ----------
    pag : CausalGraph
        A PAG, for example FCI's output.

    Returns
    -------
    str or None
        A short description of the first condition that fails.
    """
    names = pag.nodes
    for edge in pag.edges():
        if TAIL in (edge.mark_u, edge.mark_v) and ARROW not in (edge.mark_u, edge.mark_v):
            return f"{_text(edge)} is a selection-bias edge, and selection bias is assumed absent"
    g, circle = zhang_mag(pag)
    if circle.number_of_edges() and not nx.is_chordal(circle):
        hole = chordless_cycle(circle)
        return "its o-o edges have the chordless cycle " + " o-o ".join(names[i] for i in hole)
    violation = ancestral_violation(g)
    if violation is not None:
        path = " --> ".join(names[i] for i in violation)
        if violation[0] == violation[-1]:
            return f"Zhang's MAG of it has the directed cycle {path}"
        return (
            f"Zhang's MAG of it has the almost directed cycle {path} with "
            f"{names[violation[0]]} <-> {names[violation[-1]]}"
        )
    gap = next(maximality_gaps(g), None)
    if gap is not None:
        a, b = gap
        return f"Zhang's MAG of it is not maximal: no set separates {names[a]} and {names[b]}"
    return None


# ------------------------------------------------------------------ the MAG repair
def _fewest_back_edges(nodes: list[int], weight: dict[tuple[int, int], int]) -> list[int]:
    """An order of ``nodes`` minimising the total weight of edges pointing backwards."""
    k = len(nodes)
    if k > EXACT_ORDER_LIMIT:
        return _greedy_order(nodes, weight)
    local = {v: i for i, v in enumerate(nodes)}
    # out_mask[i][w]: the nodes j with an edge i -> j of weight w (backwards if j is placed first).
    weights = sorted(set(weight.values()))
    out_mask = [dict.fromkeys(weights, 0) for _ in range(k)]
    for (u, v), w in weight.items():
        out_mask[local[u]][w] |= 1 << local[v]
    full = (1 << k) - 1
    best = [None] * (1 << k)
    last = [-1] * (1 << k)
    best[0] = 0
    for placed in range(full):
        cost = best[placed]
        if cost is None:
            continue
        for i in range(k):
            if placed >> i & 1:
                continue
            extra = sum(w * (mask & placed).bit_count() for w, mask in out_mask[i].items())
            after = placed | 1 << i
            if best[after] is None or cost + extra < best[after]:
                best[after], last[after] = cost + extra, i
    order = []
    placed = full
    while placed:
        i = last[placed]
        order.append(nodes[i])
        placed ^= 1 << i
    return order[::-1]


def _greedy_order(nodes: list[int], weight: dict[tuple[int, int], int]) -> list[int]:
    """Eades, Lin & Smyth (1993): sinks to the back, sources to the front, else max out - in."""
    remaining = set(nodes)
    front: list[int] = []
    back: list[int] = []

    def flow(v: int, outgoing: bool) -> int:
        if outgoing:
            return sum(w for (u, x), w in weight.items() if u == v and x in remaining)
        return sum(w for (u, x), w in weight.items() if x == v and u in remaining)

    while remaining:
        moved = True
        while moved:
            moved = False
            for v in sorted(remaining):
                if flow(v, True) == 0:
                    back.insert(0, v)
                    remaining.discard(v)
                    moved = True
                elif flow(v, False) == 0:
                    front.append(v)
                    remaining.discard(v)
                    moved = True
        if remaining:
            v = max(sorted(remaining), key=lambda u: flow(u, True) - flow(u, False))
            front.append(v)
            remaining.discard(v)
    return front + back


def _break_cycles(g: MixedGraph, locked: Callable[[int, int], bool]) -> list[tuple[int, int]]:
    """Reverse the fewest directed edges so that none lies on a directed cycle.

    ``locked(u, v)`` says that the reversal of ``u --> v`` contradicts the
    knowledge; such reversals are avoided whenever any other set works.
    Returns the reversed edges as they were, ``(u, v)`` for ``u --> v``.
    """
    directed = nx.DiGraph()
    directed.add_nodes_from(range(g.n))
    directed.add_edges_from((u, v) for u in range(g.n) for v in g.children(u))
    big = directed.number_of_edges() + 1
    reversed_edges = []
    components = sorted(sorted(c) for c in nx.strongly_connected_components(directed) if len(c) > 1)
    for component in components:
        inside = set(component)
        weight = {
            (u, v): big if locked(u, v) else 1
            for u in component
            for v in directed.successors(u)
            if v in inside
        }
        position = {v: k for k, v in enumerate(_fewest_back_edges(component, weight))}
        for u, v in sorted(weight):
            if position[u] > position[v]:
                g.set_edge(v, u, TAIL, ARROW)
                reversed_edges.append((u, v))
    return reversed_edges


def _orient_almost_cycles(g: MixedGraph) -> list[tuple[int, int]]:
    """``a <-> b`` with ``a`` an ancestor of ``b`` becomes ``a --> b``; returns each ``(a, b)``."""
    # Orienting an edge along an existing ancestral relation changes no
    # ancestor set, so the sets computed once stay right throughout.
    ancestors = [g.ancestors({v}) for v in range(g.n)]
    oriented = []
    for a in range(g.n):
        for b in sorted(g.adj[a]):
            if a < b and g.mark[(a, b)] == ARROW and g.mark[(b, a)] == ARROW:
                if a in ancestors[b]:
                    g.set_edge(a, b, TAIL, ARROW)
                    oriented.append((a, b))
                elif b in ancestors[a]:
                    g.set_edge(b, a, TAIL, ARROW)
                    oriented.append((b, a))
    return oriented


def _make_maximal(g: MixedGraph) -> list[tuple[int, int, Mark, Mark]]:
    """Join every pair no set separates (Richardson & Spirtes 2002, Theorem 5.1)."""
    added = []
    while gaps := list(maximality_gaps(g)):
        for a, b in gaps:
            if a in g.ancestors({b}):
                marks = (TAIL, ARROW)
            elif b in g.ancestors({a}):
                marks = (ARROW, TAIL)
            else:
                marks = (ARROW, ARROW)
            g.set_edge(a, b, *marks)
            added.append((a, b, *marks))
    return added


# ------------------------------------------------------------------ MAG -> PAG
def _m_separation_oracle(mag: CausalGraph) -> Callable[[int, int, tuple[int, ...]], float]:
    """FCI's CI test answered by m-separation in ``mag`` (indices in ``mag.nodes`` order).

    It answers 1.0 (separated, "independent") or 0.0, remembering each answer.
    """
    g = MixedGraph.from_graph(mag)
    answers: dict[tuple[int, int, tuple[int, ...]], float] = {}

    def m_separation(x: int, y: int, conditioning: tuple[int, ...]) -> float:
        key = (x, y, conditioning)
        if key not in answers:
            open_path = m_connecting_indices(g, {x}, {y}, set(conditioning))
            answers[key] = float(open_path is None)
        return answers[key]

    return m_separation


def mag_to_pag(mag: CausalGraph, knowledge: Knowledge | None = None) -> CausalGraph:
    """The PAG of ``mag`` under ``knowledge``: causal-learn's FCI with m-separation as its test.

    Parameters
    ----------
    mag : CausalGraph
        A MAG (``-->`` and ``<->`` edges).
    knowledge : Knowledge, optional
        Background knowledge, given to FCI as :func:`mesalens.pipeline.discovery.discover`
        gives it (exogenous nodes get ``root --> x``; causal-learn issue #266
        corrected).

    Returns
    -------
    CausalGraph
        FCI's output. Callers that run searches on other threads must hold
        :data:`~mesalens.pipeline.causallearn_session.CAUSALLEARN_LOCK` (the
        knowledge step is patched in causal-learn's module).
    """
    from causallearn.graph.GraphNode import GraphNode
    from causallearn.search.ConstraintBased.FCI import fci

    from mesalens.pipeline.causallearn_bridge import CIT_NAME, patched_fci_orientation
    from mesalens.pipeline.formats.causallearn import from_causallearn

    mag.require_marks(("-->", "<->"), "the PAG of a MAG")
    names = list(mag.nodes)
    full = knowledge or Knowledge()
    search_knowledge, _ = full.split_mutual(names)
    nodes = [GraphNode(name) for name in names]
    placeholder = np.zeros((max(len(names), 2), len(names)))
    # causal-learn prints some orientations whatever verbose says; library code stays quiet.
    with patched_fci_orientation(frozenset(full.exogenous)), redirect_stdout(io.StringIO()):
        general, _ = fci(
            placeholder,
            CIT_NAME,
            0.5,  # the oracle answers 1.0 (separated) or 0.0
            depth=-1,
            max_path_length=-1,
            verbose=False,
            background_knowledge=search_knowledge.to_causallearn(nodes),
            show_progress=False,
            node_names=names,
            session=_m_separation_oracle(mag),
        )
    return from_causallearn(general, names)


def _describes(pag: CausalGraph, mag: MixedGraph) -> bool:
    """Whether ``pag`` is a valid PAG whose class holds ``mag`` with its marks."""
    if pag_problem(pag) is not None:
        return False
    g = MixedGraph.from_graph(pag)
    if g.adj != mag.adj:
        return False
    if any(m != CIRCLE and mag.mark[key] != m for key, m in g.mark.items()):
        return False
    return markov_equivalent(mag, MixedGraph.from_graph(pag_to_mag(pag)))


# ------------------------------------------------------------------ the repair
def repair_pag(pag: CausalGraph, regime: str, knowledge: Knowledge | None = None) -> PagRepair:
    """Turn ``pag`` into a valid PAG, as Tetrad's ``guaranteePag`` does (module docstring).

    Parameters
    ----------
    pag : CausalGraph
        FCI's output (``-->``, ``<->``, ``o->``, ``o-o``; ``---`` and ``-o``
        from causal-learn's selection-bias rules are accepted).
    regime : str
        The regime: a root, unconfounded.
    knowledge : Knowledge, optional
        The search's background knowledge (the regime is made exogenous).

    Returns
    -------
    PagRepair
        ``graph`` passes :func:`pag_problem`; it is ``pag`` itself when
        ``pag`` already did.

    Raises
    ------
    GraphError
        If ``pag`` is not valid and has an arrowhead at the regime.
    """
    problem = pag_problem(pag)
    if problem is None:
        return PagRepair(graph=pag)
    full = (knowledge or Knowledge()).with_regime_exogenous(regime)
    names = pag.nodes

    def locked(u: int, v: int) -> bool:
        # Reversing u --> v makes v an ancestor of u.
        return full.is_required(names[u], names[v]) or full.is_forbidden(names[v], names[u])

    g, _ = zhang_mag(restrict_regime(pag, regime))
    reversed_edges = _break_cycles(g, locked)
    almost = _orient_almost_cycles(g)
    added = _make_maximal(g)
    mag = g.to_graph(names)
    rebuilt = mag_to_pag(mag, full)
    exact = _describes(rebuilt, g)
    graph = rebuilt if exact else mag
    return PagRepair(
        graph=graph,
        problem=problem,
        mag=mag,
        reversed=tuple((names[u], names[v]) for u, v in reversed_edges),
        almost=tuple((names[a], names[b]) for a, b in almost),
        added=tuple(Edge(names[a], names[b], ma, mb) for a, b, ma, mb in added),
        changes=tuple(_changes(pag, graph)),
        exact=exact,
    )


def _text(edge: Edge) -> str:
    """An edge written with its arrowhead (or its circle against a tail) on the right."""
    if (edge.mark_u == ARROW and edge.mark_v != ARROW) or (edge.mark_u, edge.mark_v) == (
        CIRCLE,
        TAIL,
    ):
        edge = Edge(edge.v, edge.u, edge.mark_v, edge.mark_u)
    return str(edge)


def _changes(before: CausalGraph, after: CausalGraph) -> list[str]:
    changes = []
    pairs = {frozenset((e.u, e.v)) for graph in (before, after) for e in graph.edges()}
    index = before.index
    ordered = (tuple(sorted(p, key=index.__getitem__)) for p in pairs)
    for u, v in sorted(ordered, key=lambda uv: (index[uv[0]], index[uv[1]])):
        old, new = before.edge(u, v), after.edge(u, v)
        if old is None:
            changes.append(f"added {_text(new)}")
        elif new is None:
            changes.append(f"removed {_text(old)}")
        elif (old.mark_u, old.mark_v) != (new.mark_u, new.mark_v):
            changes.append(f"{_text(old)} became {_text(new)}")
    return changes
