"""The causal-learn side of :mod:`mesalens.pipeline.discovery`, imported only when a search runs.

causal-learn (Zheng et al., "Causal-learn: Causal Discovery in Python", JMLR
2024) is slow to import: ``causallearn.utils.cit`` alone pulls in
scikit-learn, ``scipy.stats``, matplotlib and networkx, about 2.7 s on a
quiet machine. Everything that has to touch causal-learn's classes when it
is *defined* -- a subclass of its test base class ``CIT_Base``, registered
under a name its searches accept, and the replacement for FCI's
knowledge-orientation step -- therefore lives here, and
:mod:`~mesalens.pipeline.searches` imports this module inside its
runners. The commands that never search (``mesalens check-graph``,
``--help``) never load causal-learn. (Importing it on a thread while
``run`` reads the data was tried and dropped: the pass keeps every core
busy and needs the GIL often, so the overlap made ``run`` ~0.5 s slower
on 2 cores.)

The bridge
----------
causal-learn's PC and FCI call a CI test object ``test(X, Y, S)`` that
returns a p-value; they build it from a registered class, passing the data
matrix and any extra keyword arguments of the search call. Registering
:class:`SessionCIT` under :data:`CIT_NAME` and passing ``session=`` to the
search lets the search ask mesalens's session (which answers from the
sufficient statistics, caches and records) instead of the rows.

FCI's background knowledge (causal-learn issue #266)
----------------------------------------------------
:func:`patched_fci_orientation` swaps causal-learn's ``FCI.fci_orient_bk``
for :func:`tetrad_fci_orient_bk`, which follows Tetrad's
``FciOrient.fciOrientbk``; see the discovery module's docstring for why.

FCI's selection-bias rules
--------------------------
mesalens assumes no selection bias, and without it Zhang's rules R0-R4 and
R8-R10 are complete (Zhang, "On the completeness of orientation rules for
causal discovery in the presence of latent confounders and selection bias",
Artificial Intelligence 2008); R5-R7 only add ``---`` marks, which mean
selection. causal-learn (PR #194) runs them always, and its R5 checks only
the inner part ``C ... D`` of the circle path ``A, C, ..., D, B`` for being
uncovered, not the triples at ``C`` and ``D``: on a valid PAG it turns
covered circle cycles into ``---`` edges, which R6 and R7 then spread, in
an order that follows string hashing. :func:`patched_fci_orientation`
therefore also turns ``FCI.ruleR5``, ``ruleR6`` and ``ruleR7`` into no-ops.

FCI's rules R4, R9 and R10
--------------------------
Compared with the PAG brute-forced from a latent DAG (the marks shared by
every MAG Markov equivalent to its latent projection), causal-learn's FCI
on an exact d-separation oracle went wrong in three more ways, each a
regression case in ``tests/test_fci_rules.py``. Its R10 accepts
semi-directed "paths" that are neither uncovered nor kept away from ``A``,
and put wrong tails (:func:`zhang_rule_r10`). Its R9 searches for the
uncovered path breadth-first with one visited set and missed tails
(:func:`zhang_rule_r9`). Its loop runs R4 only in passes where R1-R3
changed something, so an R4 orientation that opens another discriminating
path is never followed up (:func:`r4_in_every_pass`). A fourth defect,
separating sets from the possible-d-sep step stored for one order of the
pair only, can only hide a set from R4 (:func:`symmetric_sepsets` stores
both). The replacements of R9 and R10 follow Zhang's rules (AIJ 2008,
Section 4) in his notation, with Latin letters as Tetrad writes them
(``A o-> C``, ``B --> C <-- D``, first path nodes ``M`` and ``N``).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from causallearn.graph.Edge import Edge as ClEdge
from causallearn.graph.Endpoint import Endpoint
from causallearn.utils.cit import CIT_Base, register_ci_test

from mesalens.pipeline.errors import DiscoveryError

__all__ = ["CIT_NAME", "SessionCIT", "patched_fci_orientation", "tetrad_fci_orient_bk"]

#: The name the searches are given as their CI test.
CIT_NAME = "mesalens-sufficient-statistics"

#: What a search's test object forwards to: ``session(x, y, S)`` -> p-value
#: (:class:`~mesalens.pipeline.causallearn_session.SearchSession`: it tests
#: from the statistics, caches, records).
Session = Callable[[int, int, tuple[int, ...]], float]


class SessionCIT(CIT_Base):
    """causal-learn's view of a test session: a ``CIT_Base`` over a placeholder matrix."""

    def __init__(self, data: np.ndarray, session: Session | None = None, **kwargs: Any):
        if session is None:
            raise DiscoveryError("internal: the statistics test was created without a session")
        super().__init__(data, **kwargs)
        self.check_cache_method_consistent(CIT_NAME, "session")
        self.session = session

    def __deepcopy__(self, memo: dict[int, Any]) -> SessionCIT:
        """Share, do not copy: the test is a view on the run's one session.

        causal-learn's PC deep-copies its ``CausalGraph``, test included
        (``UCSepset.uc_sepset``). The session holds the statistics, the
        answer cache and the progress display (whose locks cannot be
        copied); a copy would also split the record of the tests run.
        """
        return self

    def __call__(self, X: Any, Y: Any, condition_set: Any = None) -> float:
        """Answer causal-learn's ``X ⟂ Y | condition_set`` with the session's p-value."""
        xs, ys, conditioning, _ = self.get_formatted_XYZ_and_cachekey(X, Y, condition_set)
        return self.session(xs[0], ys[0], tuple(conditioning))


register_ci_test(CIT_NAME, SessionCIT)


def _set_edge(graph: Any, a: Any, b: Any, at_a: Endpoint, at_b: Endpoint) -> None:
    edge = graph.get_edge(a, b)
    if edge is not None:
        graph.remove_edge(edge)
    graph.add_edge(ClEdge(a, b, at_a, at_b))


def tetrad_fci_orient_bk(exogenous: frozenset[str]) -> Callable[[Any, Any], None]:
    """A replacement for causal-learn's ``FCI.fci_orient_bk`` (issue #266).

    It follows Tetrad's ``FciOrient.fciOrientbk``: forbidding ``a --> b``
    licenses only an arrowhead at ``a`` (``b *-> a``); requiring ``a --> b``
    licenses ``a --> b``. An exogenous node (the regime) has no cause,
    observed or latent, so each of its edges is ``regime --> x``.

    Parameters
    ----------
    exogenous : frozenset of str
        The names of the exogenous nodes.

    Returns
    -------
    callable
        ``orient(bk, graph)``, with ``fci_orient_bk``'s signature.
    """

    def orient(bk: Any, graph: Any) -> None:
        if bk is None:
            return
        for edge in graph.get_graph_edges():
            a, b = edge.get_node1(), edge.get_node2()
            a_root, b_root = a.get_name() in exogenous, b.get_name() in exogenous
            if a_root != b_root:
                root, other = (a, b) if a_root else (b, a)
                _set_edge(graph, root, other, Endpoint.TAIL, Endpoint.ARROW)
            elif bk.is_required(a, b):
                _set_edge(graph, a, b, Endpoint.TAIL, Endpoint.ARROW)
            elif bk.is_required(b, a):
                _set_edge(graph, b, a, Endpoint.TAIL, Endpoint.ARROW)
            else:
                at_a = edge.get_proximal_endpoint(a)
                at_b = edge.get_proximal_endpoint(b)
                if bk.is_forbidden(a, b):
                    at_a = Endpoint.ARROW
                if bk.is_forbidden(b, a):
                    at_b = Endpoint.ARROW
                if (at_a, at_b) != (edge.get_proximal_endpoint(a), edge.get_proximal_endpoint(b)):
                    _set_edge(graph, a, b, at_a, at_b)

    return orient


def _uncovered_pd_path_starts(graph: Any, a: Any) -> dict[Any, set[Any]]:
    """For each node ``v``, the ``M`` that begin an uncovered p.d. path ``<A, M, ..., v>``.

    A path is *potentially directed* (p.d.) from ``A`` when no edge on it is
    into the earlier node or out of the later one, and *uncovered* when no
    two nodes one apart on it are adjacent (Zhang 2008, Section 3). The paths
    are enumerated depth-first; they are short in the graphs mesalens learns.
    """
    starts: dict[Any, set[Any]] = {}

    def is_pd_edge(v: Any, w: Any) -> bool:
        return (
            graph.get_endpoint(w, v) != Endpoint.ARROW and graph.get_endpoint(v, w) != Endpoint.TAIL
        )

    def extend(path: list[Any]) -> None:
        v = path[-1]
        for w in graph.get_adjacent_nodes(v):
            if w in path or not is_pd_edge(v, w):
                continue
            if len(path) >= 2 and graph.is_adjacent_to(path[-2], w):
                continue  # <path[-2], v, w> would be a covered triple
            starts.setdefault(w, set()).add(path[1] if len(path) >= 2 else w)
            extend([*path, w])

    extend([a])
    return starts


def zhang_rule_r9(graph: Any, nodes: Any, changeFlag: bool) -> bool:
    """Zhang's rule R9, replacing causal-learn's ``FCI.rule9``.

    R9 (Zhang 2008, Section 4): if ``A o-> C`` and ``p = <A, B, D, ..., C>``
    is an uncovered p.d. path from ``A`` to ``C`` such that ``C`` and ``B``
    are not adjacent, orient ``A --> C``. causal-learn 0.1.4.x searches for
    ``p`` breadth-first with one visited set for all paths
    (``existsUncoveredPdPath``), so a covered path that reaches a node first
    hides the uncovered one behind it and the tail is missed (an
    incompleteness, not a wrong mark). Here every uncovered p.d. path is
    tried (:func:`_uncovered_pd_path_starts`).

    Parameters
    ----------
    graph : causallearn.graph.GeneralGraph.GeneralGraph
        The partially oriented graph, changed in place.
    nodes : list of causallearn.graph.Node.Node or None
        Unused; kept for ``rule9``'s signature.
    changeFlag : bool
        Whether an earlier rule of this pass changed the graph.

    Returns
    -------
    bool
        ``changeFlag``, or True if R9 oriented an edge.
    """
    for c in graph.get_nodes():
        for a in graph.get_nodes_into(c, Endpoint.ARROW):
            if graph.get_endpoint(c, a) != Endpoint.CIRCLE:
                continue
            starts = _uncovered_pd_path_starts(graph, a)
            if any(b != c and not graph.is_adjacent_to(b, c) for b in starts.get(c, ())):
                _set_edge(graph, a, c, Endpoint.TAIL, Endpoint.ARROW)
                changeFlag = True
    return changeFlag


def zhang_rule_r10(graph: Any, changeFlag: bool) -> bool:
    """Zhang's rule R10, replacing causal-learn's ``FCI.rule10``.

    R10 (Zhang 2008, Section 4): suppose ``A o-> C``, ``B --> C <-- D``,
    ``p1`` is an uncovered p.d. path from ``A`` to ``B`` and ``p2`` one from
    ``A`` to ``D``; let ``M`` be the vertex next to ``A`` on ``p1`` (``M``
    may be ``B``) and ``N`` the one on ``p2`` (``N`` may be ``D``). If
    ``M`` and ``N`` are distinct and not adjacent, orient ``A --> C``.
    Tetrad enumerates the same paths (``FciOrient.getUcPdPaths``).

    causal-learn 0.1.4.x instead asks for *semi-directed* paths from ``M``
    to ``B`` and from ``N`` to ``D`` (``existsSemiDirectedPath``), neither
    uncovered nor kept away from ``A``: a "path" ``M, A, ..., B`` that
    runs back through ``A`` passes, and ``A --> C`` is oriented where the
    true PAG has ``A o-> C`` (a wrong tail; the regression case is in
    ``tests/test_fci_rules.py``). Zhang's soundness argument needs the
    uncovered paths: in a MAG with ``A <-> C`` one of ``M``, ``N`` is a child
    of ``A`` (else ``M *-> A <-* N`` would be an unshielded collider the PAG
    does not show), and an uncovered p.d. path out of a child is directed,
    making ``A`` an ancestor of ``C``.

    Parameters
    ----------
    graph : causallearn.graph.GeneralGraph.GeneralGraph
        The partially oriented graph, changed in place.
    changeFlag : bool
        Whether an earlier rule of this pass changed the graph.

    Returns
    -------
    bool
        ``changeFlag``, or True if R10 oriented an edge.
    """
    for c in graph.get_nodes():
        into_c = graph.get_nodes_into(c, Endpoint.ARROW)
        parents = [p for p in into_c if graph.get_endpoint(c, p) == Endpoint.TAIL]
        if len(parents) < 2:
            continue
        for a in into_c:
            if graph.get_endpoint(c, a) != Endpoint.CIRCLE:
                continue
            starts = _uncovered_pd_path_starts(graph, a)
            if any(
                m != n and not graph.is_adjacent_to(m, n)
                for b, d in itertools.combinations(parents, 2)
                for m in starts.get(b, ())
                for n in starts.get(d, ())
            ):
                _set_edge(graph, a, c, Endpoint.TAIL, Endpoint.ARROW)
                changeFlag = True
    return changeFlag


# FCI's rules for selection bias (Zhang 2008, R5-R7): mesalens assumes none.
_SELECTION_RULES = ("ruleR5", "ruleR6", "ruleR7")
_REPLACED = (
    "fci_orient_bk",
    *_SELECTION_RULES,
    "rule9",
    "rule10",
    "ruleR3",
    "ruleR4B",
    "removeByPossibleDsep",
)


def _no_selection_bias(graph: Any, changeFlag: bool, verbose: bool = False) -> bool:
    """R5, R6 or R7 under the assumption of no selection bias: nothing to orient."""
    return changeFlag


def r4_in_every_pass(
    rule_r3: Callable[..., bool], rule_r4: Callable[..., bool]
) -> tuple[Callable[..., bool], Callable[..., bool]]:
    """Replacements for ``FCI.ruleR3`` and ``FCI.ruleR4B`` that make R4 run in every pass.

    causal-learn's ``fci`` (like Tetrad's ``SvarFciOrient``) calls R4 only in a
    pass where R1-R3 changed something. An R4 orientation, or a tail from
    R8-R10, can open a discriminating path that no R1-R3 step follows; R4
    is then never tried on it and the PAG stays less oriented than Zhang's
    rules make it (an incompleteness, not a wrong mark: Zhang 2008 applies
    the rules until none applies). The returned R3 runs ``rule_r3``, keeps
    its real result and reports a change, so ``fci`` always calls R4; the
    returned R4 runs ``rule_r4`` with that kept result.

    Parameters
    ----------
    rule_r3, rule_r4 : callable
        causal-learn's ``FCI.ruleR3`` and ``FCI.ruleR4B``.

    Returns
    -------
    tuple of callable
        The replacements for ``ruleR3`` and ``ruleR4B``, in that order.
    """
    pending: list[bool] = []

    def r3(graph: Any, sep_sets: Any, bk: Any, changeFlag: bool, verbose: bool = False) -> bool:
        changed = rule_r3(graph, sep_sets, bk, changeFlag, verbose)
        if pending:
            # R4 did not follow the last R3 (another fci loop): forcing a
            # change again could keep the loop from ever ending.
            pending.clear()
            return changed
        pending.append(changed)
        return True

    def r4(
        graph: Any,
        maxPathLength: int,
        data: Any,
        test: Any,
        alpha: float,
        sep_sets: Any,
        change_flag: bool,
        bk: Any,
        verbose: bool = False,
    ) -> bool:
        changed = pending.pop() if pending else change_flag
        return rule_r4(graph, maxPathLength, data, test, alpha, sep_sets, changed, bk, verbose)

    return r3, r4


def symmetric_sepsets(remove_by_possible_dsep: Callable[..., None]) -> Callable[..., None]:
    """A replacement for ``FCI.removeByPossibleDsep`` that records each separating set both ways.

    A separating set belongs to an unordered pair; Tetrad's ``SepsetMap``
    keys it so. causal-learn's adjacency search (``fas``) stores
    ``sep_sets[(x, y)]`` and ``sep_sets[(y, x)]``, but its possible-d-sep
    step stores only ``(x, y)`` with ``x < y``. Rule R0 and R3 look pairs up
    in that order; R4 looks up ``(d, c)``, the ends of a discriminating path,
    in either order, and finds no set for a pair the possible-d-sep step
    separated with ``d > c``, so it leaves the triple unoriented (a missing
    orientation at worst; none was seen with a d-separation oracle).

    Parameters
    ----------
    remove_by_possible_dsep : callable
        causal-learn's ``FCI.removeByPossibleDsep``.

    Returns
    -------
    callable
        The replacement, with the same signature.
    """

    def remove(graph: Any, independence_test_method: Any, alpha: float, sep_sets: Any) -> None:
        remove_by_possible_dsep(graph, independence_test_method, alpha, sep_sets)
        for (x, y), sepset in list(sep_sets.items()):
            sep_sets.setdefault((y, x), sepset)

    return remove


@contextlib.contextmanager
def patched_fci_orientation(exogenous: frozenset[str]) -> Iterator[None]:
    """Run the block with causal-learn's FCI orientation defects worked around.

    ``FCI.fci_orient_bk`` is replaced by :func:`tetrad_fci_orient_bk`;
    ``FCI.ruleR5``, ``ruleR6`` and ``ruleR7`` (where the installed
    causal-learn has them) by no-ops: mesalens assumes no selection bias;
    ``FCI.rule9`` and ``rule10`` by :func:`zhang_rule_r9` and
    :func:`zhang_rule_r10`; ``FCI.ruleR3`` and ``ruleR4B`` by
    :func:`r4_in_every_pass`'s pair; ``FCI.removeByPossibleDsep`` by
    :func:`symmetric_sepsets` (module docstring).

    Parameters
    ----------
    exogenous : frozenset of str
        The names of the exogenous nodes.

    Raises
    ------
    DiscoveryError
        If the installed causal-learn has no ``FCI.fci_orient_bk`` to replace.
    """
    from causallearn.search.ConstraintBased import FCI

    if not hasattr(FCI, "fci_orient_bk"):
        raise DiscoveryError(
            "this causal-learn version has no FCI.fci_orient_bk to correct (issue #266); "
            "install causal-learn 0.1.4.x or use method='pc'"
        )
    replaced = {name: getattr(FCI, name, None) for name in _REPLACED}
    FCI.fci_orient_bk = tetrad_fci_orient_bk(exogenous)
    for name in _SELECTION_RULES:
        if replaced[name] is not None:
            setattr(FCI, name, _no_selection_bias)
    if replaced["rule9"] is not None:
        FCI.rule9 = zhang_rule_r9
    if replaced["rule10"] is not None:
        FCI.rule10 = zhang_rule_r10
    if replaced["ruleR3"] is not None and replaced["ruleR4B"] is not None:
        FCI.ruleR3, FCI.ruleR4B = r4_in_every_pass(replaced["ruleR3"], replaced["ruleR4B"])
    if replaced["removeByPossibleDsep"] is not None:
        FCI.removeByPossibleDsep = symmetric_sepsets(replaced["removeByPossibleDsep"])
    try:
        yield
    finally:
        for name, original in replaced.items():
            if original is not None:
                setattr(FCI, name, original)
