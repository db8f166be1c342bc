"""The causal-learn side of :mod:`mesalens.pipeline.discovery`, imported only when a search runs.

causal-learn (Zheng et al., "Causal-learn: Causal Discovery in Python", JMLR
2024) is slow to import: ``causallearn.utils.cit`` alone pulls in
scikit-learn, ``scipy.stats``, matplotlib and networkx, about 2.7 s on a
quiet machine. Everything that has to touch causal-learn's classes when it
is *defined* -- a subclass of its test base class ``CIT_Base``, registered
under a name its searches accept, and the replacement for FCI's
knowledge-orientation step -- therefore lives here, and
:mod:`~mesalens.pipeline.discovery` imports this module inside
:func:`~mesalens.pipeline.discovery.discover`. The commands that never
search (``mesalens check-graph``, ``--help``) never load causal-learn. (Importing
it on a thread while ``run`` reads the data was tried and dropped: the pass
keeps every core busy and needs the GIL often, so the overlap made ``run``
~0.5 s slower on 2 cores.)

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
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from causallearn.graph.Edge import Edge as ClEdge
from causallearn.graph.Endpoint import Endpoint
from causallearn.utils.cit import CIT_Base, register_ci_test

from mesalens.pipeline.discovery import DiscoveryError

__all__ = ["CIT_NAME", "SessionCIT", "patched_fci_orientation", "tetrad_fci_orient_bk"]

#: The name the searches are given as their CI test.
CIT_NAME = "mesalens-sufficient-statistics"

#: What a search's test object forwards to: ``session(x, y, S)`` -> p-value
#: (``discovery._Session``: it tests from the statistics, caches, records).
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


# FCI's rules for selection bias (Zhang 2008, R5-R7): mesalens assumes none.
_SELECTION_RULES = ("ruleR5", "ruleR6", "ruleR7")
_REPLACED = ("fci_orient_bk", *_SELECTION_RULES)


def _no_selection_bias(graph: Any, changeFlag: bool, verbose: bool = False) -> bool:
    """R5, R6 or R7 under the assumption of no selection bias: nothing to orient."""
    return changeFlag


@contextlib.contextmanager
def patched_fci_orientation(exogenous: frozenset[str]) -> Iterator[None]:
    """Run the block with :func:`tetrad_fci_orient_bk` and without the selection-bias rules.

    ``FCI.fci_orient_bk`` is replaced by :func:`tetrad_fci_orient_bk`, and
    ``FCI.ruleR5``, ``ruleR6`` and ``ruleR7`` (where the installed
    causal-learn has them) by no-ops: mesalens assumes no selection bias (module docstring).

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
    try:
        yield
    finally:
        for name, original in replaced.items():
            if original is not None:
                setattr(FCI, name, original)
