"""Read and write graphs as JSON: mesalens' own form and networkx node-link data.

The mesalens form names the nodes once and gives every edge its kind, so
every mark survives::

    {
      "format": "mesalens-graph",
      "version": 1,
      "nodes": ["regime", "coin", "value"],
      "edges": [
        {"source": "regime", "target": "coin", "kind": "-->"},
        {"source": "coin", "target": "value", "kind": "---"}
      ]
    }

``kind`` is one of :data:`~mesalens.pipeline.graph.EDGE_KINDS`, read from
``source`` to ``target``: ``{"source": "a", "target": "b", "kind": "<-o"}``
is ``a <-o b``. A JSON object without ``"format"`` whose nodes are plain
strings is read the same way.

The reader also takes networkx node-link data, as written by
:func:`networkx.node_link_data` (``{"directed": true, "nodes": [{"id": ...}],
"links": [...]}``, or ``"edges"`` instead of ``"links"`` in networkx >= 3.4).
A plain link of a directed graph is ``source --> target``; a pair of opposite
links without kinds is one undirected edge ``---`` (as in pgmpy's and
networkx's PDAGs); a link of an undirected graph is ``---``. A link with a
``"kind"`` attribute has that kind. Integer node ids become their decimal
names.

Errors name the JSON line and column for a syntax error and the path of the
offending item (``edges[3].kind``) otherwise.

Examples
--------
>>> g = read_json('{"directed": true, "nodes": [{"id": "a"}, {"id": "b"}],'
...               ' "links": [{"source": "a", "target": "b"}]}')
>>> [str(e) for e in g.edges()]
['a --> b']
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import mesalens.pipeline.formats.limits as limits
from mesalens.pipeline.errors import GraphError, GraphFormatError
from mesalens.pipeline.formats.names import CLIP, check_node_names, clip
from mesalens.pipeline.graph import EDGE_KINDS, CausalGraph

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "read_json", "write_json"]

FORMAT_NAME = "mesalens-graph"
FORMAT_VERSION = 1

_KIND_OF_MARKS = {marks: kind for kind, marks in EDGE_KINDS.items()}
_REVERSED_KIND = {kind: _KIND_OF_MARKS[(b, a)] for kind, (a, b) in EDGE_KINDS.items()}

# One link between two named nodes: (source, target, kind or None, where).
Link = tuple[str, str, str | None, str]

# Python refuses to turn a longer run of digits into an int (CVE-2020-10735).
_MAX_DIGITS = 4000


class _LongInteger:
    """A JSON integer too long for Python's int conversion, kept as its digits."""

    def __init__(self, digits: str):
        self.digits = digits

    def __repr__(self) -> str:
        return f"an integer of {len(self.digits)} digits ({self.digits[:20]}...)"


def _parse_int(digits: str) -> int | _LongInteger:
    return int(digits) if len(digits) <= _MAX_DIGITS else _LongInteger(digits)


def _show(value: Any) -> str:
    """A JSON value as text for a message: at most about 80 characters, never a traceback."""
    if isinstance(value, _LongInteger):
        return repr(value)
    if isinstance(value, str):
        return clip(value)
    try:
        text = json.dumps(value, ensure_ascii=True, default=repr)
    except (ValueError, RecursionError):  # pragma: no cover - loads accepted it
        return f"a JSON {type(value).__name__}"
    if len(text) <= CLIP:
        return text
    return f"{text[:CLIP]}... ({len(text)} characters)"


def _graph_from_links(
    names: Sequence[str],
    links: Sequence[Link],
    directed: bool,
    error: Callable[[str], GraphError],
) -> CausalGraph:
    """Combine links into a graph with at most one edge per pair of nodes.

    A directed link without a kind is ``-->``, an undirected one ``---``; two
    opposite directed links without kinds make one ``---`` edge, and two with
    kinds must agree (``a o-> b`` and ``b <-o a``). ``error`` builds the
    exception for a message, so that file readers can raise
    :class:`GraphFormatError` and converters :class:`GraphError`.
    """
    graph = CausalGraph(names)
    by_pair: dict[frozenset[str], list[Link]] = {}
    for link in links:
        u, v, kind, where = link
        for end in (u, v):
            if end not in graph.index:
                raise error(f"{where}: unknown node {clip(end)}; list every node in 'nodes'")
        if u == v:
            raise error(
                f"{where}: self-loop at {clip(u)}; a causal graph has no edge from a node to itself"
            )
        if kind is not None and kind not in EDGE_KINDS:
            raise error(
                f"{where}: unknown edge kind {clip(kind)} between {clip(u)} and {clip(v)}; "
                f"use one of {', '.join(EDGE_KINDS)}"
            )
        by_pair.setdefault(frozenset((u, v)), []).append(link)
    for group in by_pair.values():
        u, v, kind, where = group[0]
        if len(group) == 1:
            graph.add_edge(u, v, kind or ("-->" if directed else "---"))
            continue
        second = group[1]
        if len(group) > 2 or not directed or second[0] != v:
            raise error(
                f"{second[3]}: a second link between {clip(u)} and {clip(v)} (the first is "
                f"{where}); "
                "a causal graph has at most one edge between two nodes"
            )
        other = second[2]
        if kind is None and other is None:
            graph.add_edge(u, v, "---")
        elif kind is not None and other is not None and _REVERSED_KIND[other] == kind:
            graph.add_edge(u, v, kind)
        else:
            raise error(
                f"{where} ({clip(u)} to {clip(v)}, kind {kind!r}) and {second[3]} ({clip(v)} to "
                f"{clip(u)}, kind {other!r}) disagree; give a pair of opposite links the same edge "
                "(e.g. 'o->' and '<-o') or no kinds at all (an undirected edge)"
            )
    return graph


#: What each kind of item looks like, for the errors (how to fix it).
_SHAPES = {
    "edge": 'like {"source": "a", "target": "b", "kind": "-->"}',
    "link": 'like {"source": "a", "target": "b"}',
    "node": 'like {"id": "a"}',
    "top": 'like {"nodes": ["a", "b"], "edges": [{"source": "a", "target": "b", "kind": "-->"}]}',
}


def _require(obj: Any, key: str, where: str, source: str, shape: str = "top") -> Any:
    if not isinstance(obj, dict):
        raise GraphFormatError(
            f"{where} should be a JSON object {_SHAPES[shape]} but is {_show(obj)}",
            source=source,
        )
    if key not in obj:
        raise GraphFormatError(
            f"{where} has no key {key!r}; write it {_SHAPES[shape]}", source=source
        )
    return obj[key]


def _list(obj: Any, where: str, source: str) -> list[Any]:
    if not isinstance(obj, list):
        raise GraphFormatError(f"{where} should be a JSON list but is {_show(obj)}", source=source)
    return obj


def _read_mesalens(data: dict[str, Any], source: str) -> CausalGraph:
    version = data.get("version", FORMAT_VERSION)
    if type(version) is not int or version != FORMAT_VERSION:
        raise GraphFormatError(
            f"unsupported {FORMAT_NAME} version {_show(version)}; this reader knows version "
            f"{FORMAT_VERSION}",
            source=source,
        )
    names = _list(_require(data, "nodes", "the top-level object", source), "nodes", source)
    raw_edges = _list(_require(data, "edges", "the top-level object", source), "edges", source)
    limits.check_counts(len(names), len(raw_edges), source)
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name:
            raise GraphFormatError(
                f"nodes[{i}] should be a non-empty string but is {_show(name)}",
                source=source,
            )
        if name in seen:
            raise GraphFormatError(
                f"nodes[{i}]: duplicate node name {clip(name)} (also nodes[{seen[name]}]); "
                "every node must have a unique name",
                source=source,
            )
        seen[name] = i
    check_node_names(names, source)
    links: list[Link] = []
    for i, edge in enumerate(raw_edges):
        where = f"edges[{i}]"
        ends = []
        for key in ("source", "target", "kind"):
            value = _require(edge, key, where, source, "edge")
            if not isinstance(value, str):
                raise GraphFormatError(
                    f"{where}.{key} should be a string but is {_show(value)}", source=source
                )
            ends.append(value)
        links.append((ends[0], ends[1], ends[2], where))

    def error(message: str) -> GraphFormatError:
        return GraphFormatError(message, source=source)

    return _graph_from_links(names, links, True, error)


def _node_name(node_id: Any, where: str, source: str) -> str:
    # bool is an int subclass, but True as a node name is almost surely a mistake.
    if isinstance(node_id, str) and node_id:
        return node_id
    if isinstance(node_id, int) and not isinstance(node_id, bool):
        return str(node_id)
    raise GraphFormatError(
        f"{where} should be a non-empty string or an integer but is {_show(node_id)}",
        source=source,
    )


def _read_node_link(data: dict[str, Any], source: str) -> CausalGraph:
    directed = data.get("directed", False)
    if not isinstance(directed, bool):
        raise GraphFormatError(
            f"'directed' should be true or false but is {_show(directed)}", source=source
        )
    link_key = "links" if "links" in data else "edges"
    raw_nodes = _list(_require(data, "nodes", "the top-level object", source), "nodes", source)
    raw_links = _list(_require(data, link_key, "the top-level object", source), link_key, source)
    limits.check_counts(len(raw_nodes), len(raw_links), source)
    names: list[str] = []
    name_of: dict[Any, str] = {}
    where_of: dict[str, str] = {}
    for i, node in enumerate(raw_nodes):
        where = f"nodes[{i}]"
        node_id = _require(node, "id", where, source, "node")
        name = _node_name(node_id, f"{where}.id", source)
        if name in where_of:
            raise GraphFormatError(
                f"{where}: duplicate node {clip(name)} (also {where_of[name]}); every node must "
                "have a unique name",
                source=source,
            )
        where_of[name] = where
        name_of[(type(node_id), node_id)] = name
        names.append(name)
    check_node_names(names, source)
    links: list[Link] = []
    for i, link in enumerate(raw_links):
        where = f"{link_key}[{i}]"
        ends = []
        for key in ("source", "target"):
            value = _require(link, key, where, source, "link")
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise GraphFormatError(
                    f"{where}.{key} should be a node id (a string or an integer) but is "
                    f"{_show(value)}",
                    source=source,
                )
            name = name_of.get((type(value), value))
            if name is None:
                raise GraphFormatError(
                    f"{where}.{key}: unknown node {_show(value)}; every end of a link "
                    "must be the id of an entry of 'nodes'",
                    source=source,
                )
            ends.append(name)
        kind = link.get("kind")
        if kind is not None and not isinstance(kind, str):
            raise GraphFormatError(
                f"{where}.kind should be a string but is {_show(kind)}", source=source
            )
        links.append((ends[0], ends[1], kind, where))

    def error(message: str) -> GraphFormatError:
        return GraphFormatError(message, source=source)

    return _graph_from_links(names, links, directed, error)


def read_json(text: str, source: str = "<string>") -> CausalGraph:
    """Parse a graph in the mesalens JSON form or networkx node-link JSON.

    Parameters
    ----------
    text : str
        The JSON text.
    source : str, optional
        The file name, used in error messages.

    Returns
    -------
    CausalGraph
        The graph, with nodes and edges in file order.

    Raises
    ------
    GraphFormatError
        If the text is not JSON (naming the line and column), a key is
        missing, a value has the wrong type, a link names an unknown node or
        kind, or two links join the same pair in conflicting ways.
    """
    try:
        data = json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise GraphFormatError(
            f"invalid JSON at column {exc.colno}: {exc.msg}", source=source, line=exc.lineno
        ) from None
    except RecursionError:
        raise GraphFormatError(
            "the JSON is nested too deeply to read; a graph file is an object with 'nodes' "
            "and 'edges' lists",
            source=source,
        ) from None
    if not isinstance(data, dict):
        raise GraphFormatError(
            "the JSON should be an object with 'nodes' and 'edges' (or networkx "
            f"node-link data) but is {_show(data)}",
            source=source,
        )
    if "format" in data:
        if data["format"] != FORMAT_NAME:
            raise GraphFormatError(
                f"unknown graph format {_show(data['format'])}; expected {FORMAT_NAME!r} or "
                "networkx node-link data (no 'format' key)",
                source=source,
            )
        return _read_mesalens(data, source)
    if "links" in data and "edges" in data:
        raise GraphFormatError(
            "the JSON has both 'links' and 'edges'; one of them would be ignored, so give "
            "the edges under one key",
            source=source,
        )
    nodes = data.get("nodes")
    plain_names = isinstance(nodes, list) and all(isinstance(n, str) for n in nodes)
    if plain_names and "links" not in data and "directed" not in data:
        return _read_mesalens(data, source)
    return _read_node_link(data, source)


def write_json(graph: CausalGraph) -> str:
    """Write ``graph`` in the mesalens JSON form.

    Parameters
    ----------
    graph : CausalGraph
        The graph to write.

    Returns
    -------
    str
        JSON indented by 2 spaces, ending with a newline; the same graph always
        gives the same text, and it reads back with :func:`read_json` to an
        equal graph.
    """
    data = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "nodes": list(graph.nodes),
        "edges": [{"source": e.u, "target": e.v, "kind": e.kind} for e in graph.edges()],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
