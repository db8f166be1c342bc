"""Any graph a notebook holds, as a :class:`CausalGraph`: the dispatch over the converters.

:func:`graph_from_object` takes what the Python API's ``check_graph`` is given
and hands it to the converter of its kind, each in its own module:

=======================================  ==================================================
given                                    converter (module of :mod:`mesalens.pipeline.formats`)
=======================================  ==================================================
a path (``str`` or ``os.PathLike``)      ``read_graph_with_sha256`` (Tetrad, DOT, JSON;
                                         ``format=`` overrides the suffix)
a pgmpy ``DAG``, ``PDAG`` or network     :func:`~.pgmpy.from_pgmpy`
a causal-learn ``GeneralGraph``          :func:`~.causallearn.from_causallearn`
a networkx ``DiGraph`` or ``Graph``      :func:`~.networkx.from_networkx`
a :class:`CausalGraph`                   itself
=======================================  ==================================================

A pgmpy graph is a networkx ``DiGraph`` too, so pgmpy is tried first. The
kind is told by the object's class and module, so neither pgmpy nor
causal-learn is imported unless the object comes from it.

>>> import networkx as nx
>>> graph, source, sha256 = graph_from_object(nx.DiGraph([("regime", "value")]))
>>> [str(e) for e in graph.edges()], source, sha256
(['regime --> value'], 'a networkx DiGraph', None)
>>> graph_from_object(42)
Traceback (most recent call last):
...
mesalens.pipeline.errors.GraphError: graph: cannot check a int; give a networkx DiGraph, \
a causal-learn GeneralGraph, a pgmpy DAG or PDAG, a mesalens CausalGraph, or the path of \
a graph file (.txt, .dot, .json)
"""

from __future__ import annotations

import os
from typing import Any

from mesalens.pipeline.errors import GraphError
from mesalens.pipeline.formats import read_graph_with_sha256
from mesalens.pipeline.graph import CausalGraph

__all__ = ["graph_from_object"]


def _comes_from(obj: Any, package: str) -> bool:
    """Whether the class of ``obj`` (or a base class) is defined in ``package``."""
    return any((cls.__module__ or "").split(".")[0] == package for cls in type(obj).__mro__)


def graph_from_object(
    graph: Any, *, format: str | None = None, names: list[str] | None = None
) -> tuple[CausalGraph, str, str | None]:
    """Convert ``graph`` (an object or a path) to a :class:`CausalGraph`.

    Parameters
    ----------
    graph : object
        See the module docstring.
    format : str, optional
        For a path: ``"tetrad"``, ``"dot"`` or ``"json"``, in place of the suffix.
    names : list of str, optional
        For a causal-learn graph: the node names in its order (causal-learn
        names them ``X1``, ``X2``, ... unless the search was given names).

    Returns
    -------
    graph : CausalGraph
        The graph.
    source : str
        Where it came from, for the report (the path, or ``a networkx DiGraph``).
    sha256 : str or None
        The SHA-256 of a graph file's bytes; None for an object.

    Raises
    ------
    GraphError
        For an object of another kind, or one its converter refuses
        (:class:`~mesalens.pipeline.errors.GraphFormatError` for a file).
    """
    if format is not None and not isinstance(graph, str | os.PathLike):
        raise GraphError(f"graph: format={format!r} applies to a graph file, not to an object")
    if names is not None and not _comes_from(graph, "causallearn"):
        raise GraphError("graph: names= applies to a causal-learn GeneralGraph only")
    if isinstance(graph, CausalGraph):
        return graph, "a mesalens CausalGraph", None
    if isinstance(graph, str | os.PathLike):
        path = os.fspath(graph)
        converted, sha256 = read_graph_with_sha256(path, format=format)
        return converted, path, sha256
    kind = type(graph).__name__
    if _comes_from(graph, "pgmpy"):
        from mesalens.pipeline.formats.pgmpy import from_pgmpy

        return from_pgmpy(graph), f"a pgmpy {kind}", None
    if _comes_from(graph, "causallearn"):
        from mesalens.pipeline.formats.causallearn import from_causallearn

        if not hasattr(graph, "get_node_names"):
            raise GraphError(
                f"graph: a causal-learn {kind} is not a graph; give its GeneralGraph "
                "(e.g. pc(data).G or fci(data)[0])"
            )
        return from_causallearn(graph, names), f"a causal-learn {kind}", None
    if _comes_from(graph, "networkx"):
        from mesalens.pipeline.formats.networkx import from_networkx

        return from_networkx(graph), f"a networkx {kind}", None
    raise GraphError(
        f"graph: cannot check a {kind}; give a networkx DiGraph, a causal-learn GeneralGraph, "
        "a pgmpy DAG or PDAG, a mesalens CausalGraph, or the path of a graph file "
        "(.txt, .dot, .json)"
    )
