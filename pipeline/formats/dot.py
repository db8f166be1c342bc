r"""Read and write Graphviz DOT, with edge marks as arrow shapes.

DOT draws an edge ``a -> b`` from its *tail* ``a`` to its *head* ``b``. Which
ends get an arrowhead is set by the ``dir`` attribute (``forward``, the
default in a ``digraph``: head only; ``back``: tail only; ``both``; ``none``,
the default in an undirected ``graph``), and the shape drawn at each end by
``arrowhead`` and ``arrowtail``. A causal edge mark is read off the shape
drawn at that end:

==================================  ==========
shape at the end                    mark
==================================  ==========
no arrow (``none`` or ``dir`` off)  tail ``-``
``normal`` (also ``vee``, ...)      arrow ``>``
``odot`` (also ``dot``)             circle ``o``
==================================  ==========

So ``a -> b`` is ``a --> b``, ``a -> b [dir=none]`` and ``a -- b`` in a
``graph`` are ``a --- b``, and ``a -> b [dir=both, arrowtail=odot,
arrowhead=normal]`` is ``a o-> b``. Tetrad's ``graphToDot`` output reads
as written. Default ``edge [...]`` statements apply to the edges after them,
as in Graphviz. A node port (``a:n -> b``) names the node ``a``.

The writer always quotes names, escaping ``\`` and ``"`` with a backslash,
so any name round-trips through :func:`read_dot`. It lists every node first
(so isolated nodes and the node order survive) and then one edge statement per
edge.

Parsing uses :mod:`pydot`, which is not thread-safe: calls are serialised
with a lock.

Examples
--------
>>> g = read_dot('digraph { "rain" -> "wet grass"; "wet grass" -> slip [dir=none] }')
>>> [str(e) for e in g.edges()]
['rain --> wet grass', 'wet grass --- slip']
>>> print(write_dot(g), end="")
digraph {
  "rain";
  "wet grass";
  "slip";
  "rain" -> "wet grass";
  "wet grass" -> "slip" [dir=none];
}
"""

from __future__ import annotations

import contextlib
import io
import re
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pydot

import mesalens.pipeline.formats.limits as limits
from mesalens.pipeline.errors import GraphFormatError
from mesalens.pipeline.formats.names import check_node_names
from mesalens.pipeline.graph import CausalGraph, Mark

__all__ = ["read_dot", "write_dot"]

_PARSER_LOCK = threading.Lock()
_ARROW_SHAPES = frozenset({"normal", "vee", "empty", "onormal", "open"})
_CIRCLE_SHAPES = frozenset({"odot", "dot"})
_TAIL_SHAPES = frozenset({"none"})
# The statements pydot reports as nodes named "node", "edge" and "graph" when
# unquoted are default-attribute statements, not nodes.
_DEFAULT_STATEMENTS = frozenset({"node", "edge", "graph"})
_SHAPE_OF_MARK = {Mark.TAIL: "none", Mark.ARROW: "normal", Mark.CIRCLE: "odot"}


def _parse_id(raw: str) -> str:
    """Turn a DOT ID as pydot returns it (quotes and port kept) into a node name."""
    if raw.startswith('"'):
        chars = []
        i = 1
        while i < len(raw):
            c = raw[i]
            if c == "\\" and i + 1 < len(raw) and raw[i + 1] in '"\\':
                chars.append(raw[i + 1])
                i += 2
                continue
            if c == '"':
                break
            chars.append(c)
            i += 1
        # pydot joins '"a" + "b"' into one quoted string; anything after the
        # closing quote is a port (":n") and does not change the node.
        return "".join(chars)
    if raw.startswith("<") and ">" in raw:
        return raw[1 : raw.rindex(">")]  # an HTML-like ID; its text is the name
    return raw.split(":", 1)[0]


def _unquote_value(value: Any) -> str:
    text = str(value)
    return _parse_id(text) if text.startswith('"') else text


def _shape_mark(shape: str, attribute: str, edge: str) -> Mark:
    # A Graphviz "l"/"r" modifier draws only half of the shape ("lnormal");
    # it is still an arrowhead.
    base = shape.strip().lower()
    if base in _TAIL_SHAPES:
        return Mark.TAIL
    if base in _CIRCLE_SHAPES:
        return Mark.CIRCLE
    if base in _ARROW_SHAPES or base.lstrip("lr") in _ARROW_SHAPES:
        return Mark.ARROW
    raise GraphFormatError(
        f"edge {edge}: {attribute}={shape!r} is not an arrow shape that maps to an edge "
        "mark; use 'normal' for an arrowhead, 'odot' for a circle or 'none' for a tail"
    )


def _edge_marks(attrs: Mapping[str, str], directed: bool, edge: str) -> tuple[Mark, Mark]:
    """Return the marks (at the tail, at the head) of a DOT edge with ``attrs``."""
    direction = attrs.get("dir", "forward" if directed else "none").strip().lower()
    if direction not in ("forward", "back", "both", "none"):
        raise GraphFormatError(
            f"edge {edge}: dir={direction!r} is not a Graphviz direction; use "
            "forward, back, both or none"
        )
    tail_mark = head_mark = Mark.TAIL
    if direction in ("forward", "both"):
        head_mark = _shape_mark(attrs.get("arrowhead", "normal"), "arrowhead", edge)
    if direction in ("back", "both"):
        tail_mark = _shape_mark(attrs.get("arrowtail", "normal"), "arrowtail", edge)
    return tail_mark, head_mark


def _statements(graph: Any, inherited: dict[str, str]) -> Iterator[tuple[str, Any, dict[str, str]]]:
    """Yield ``("node", name, {})`` and ``("edge", pydot_edge, defaults)`` in text order.

    ``defaults`` are the ``edge [...]`` attributes in force at that edge: those
    of enclosing graphs before the subgraph began, then those of this graph
    before the edge.
    """
    items: list[tuple[int, str, Any]] = []
    for node in graph.get_nodes():
        items.append((node.obj_dict.get("sequence", 0), "node", node))
    for edge in graph.get_edges():
        items.append((edge.obj_dict.get("sequence", 0), "edge", edge))
    for sub in graph.get_subgraphs():
        items.append((sub.obj_dict.get("sequence", 0), "subgraph", sub))
    items.sort(key=lambda item: item[0])
    defaults = dict(inherited)
    for _, what, obj in items:
        if what == "node":
            raw = obj.get_name()
            if raw in _DEFAULT_STATEMENTS:
                if raw == "edge":
                    defaults.update({k: _unquote_value(v) for k, v in obj.get_attributes().items()})
                continue
            yield "node", _parse_id(raw), {}
        elif what == "edge":
            yield "edge", obj, dict(defaults)
        else:
            yield from _statements(obj, defaults)


def _parse(text: str, source: str) -> Any:
    captured = io.StringIO()
    try:
        with _PARSER_LOCK, contextlib.redirect_stdout(captured):
            graphs = pydot.graph_from_dot_data(text)
    except Exception as exc:  # pydot raises assorted errors on malformed input
        raise GraphFormatError(f"cannot parse DOT: {exc}", source=source) from exc
    if graphs is None:
        # pydot prints pyparsing's message ("Expected ..., found ... (line:L,
        # col:C)") instead of raising; recover it for the error.
        printed = captured.getvalue().strip().splitlines()
        detail = printed[-1] if printed else "syntax error"
        where = re.search(r"\(line:(\d+), col:(\d+)\)", detail)
        detail = re.sub(r"\s*\(at char \d+\), \(line:\d+, col:\d+\)", "", detail)
        line = None
        if where:
            line, column = int(where.group(1)), int(where.group(2))
            text_lines = text.split("\n")
            if line <= len(text_lines):
                detail = f"at column {column} of {text_lines[line - 1].strip()!r}: {detail}"
        raise GraphFormatError(
            f'invalid DOT {detail}; a graph looks like \'digraph {{ "a" -> "b" }}\'',
            source=source,
            line=line,
        )
    if len(graphs) != 1:
        raise GraphFormatError(
            f"the text holds {len(graphs)} DOT graphs; put exactly one graph in a file",
            source=source,
        )
    return graphs[0]


def read_dot(text: str, source: str = "<string>") -> CausalGraph:
    """Parse a Graphviz DOT graph.

    Parameters
    ----------
    text : str
        The DOT text: one ``digraph`` or ``graph``.
    source : str, optional
        The file name, used in error messages.

    Returns
    -------
    CausalGraph
        The graph, nodes in order of first appearance (in a node or an edge
        statement), edges in text order.

    Raises
    ------
    GraphFormatError
        If the text is not DOT (with the line of the syntax error), holds
        several graphs, has an edge to a subgraph (``a -> {b c}``), an arrow
        shape or ``dir`` that maps to no mark, a self-loop, or two edges between
        the same pair of nodes.
    """
    limits.check_size(len(text.encode("utf-8", "surrogatepass")), source, limits.MAX_DOT_BYTES)
    dot = _parse(text, source)
    directed = dot.get_type() == "digraph"
    strict = bool(dot.get_strict())
    names: dict[str, None] = {}
    edges: list[tuple[str, str, Mark, Mark, str]] = []
    for what, obj, defaults in _statements(dot, {}):
        if what == "node":
            names.setdefault(obj)
            continue
        ends = []
        for raw in (obj.get_source(), obj.get_destination()):
            if not isinstance(raw, str):
                raise GraphFormatError(
                    "an edge to or from a subgraph (such as 'a -> {b c}') is not supported; "
                    "write one edge statement per pair of nodes",
                    source=source,
                )
            ends.append(_parse_id(raw))
        u, v = ends
        names.setdefault(u)
        names.setdefault(v)
        arrow = "->" if directed else "--"
        shown = f"{u!r} {arrow} {v!r}"
        attrs = {**defaults, **{k: _unquote_value(a) for k, a in obj.get_attributes().items()}}
        try:
            mark_u, mark_v = _edge_marks(attrs, directed, shown)
        except GraphFormatError as exc:
            raise GraphFormatError(str(exc), source=source) from None
        edges.append((u, v, mark_u, mark_v, shown))

    limits.check_counts(len(names), len(edges), source)
    check_node_names(names, source)
    graph = CausalGraph(names)
    seen: dict[frozenset[str], tuple[str, str, Mark, Mark, str]] = {}
    for u, v, mark_u, mark_v, shown in edges:
        if u == v:
            raise GraphFormatError(
                f"self-loop {shown}: a causal graph has no edge from a node to itself; remove it",
                source=source,
            )
        pair = frozenset((u, v))
        if pair in seen:
            first = seen[pair]
            same = (first[0], first[2], first[3]) in ((u, mark_u, mark_v), (v, mark_v, mark_u))
            if strict and same:
                continue  # a strict graph merges repeated edges, as Graphviz does
            raise GraphFormatError(
                f"two edges between {u!r} and {v!r} ({first[4]} and {shown}); a causal "
                "graph has at most one edge between two nodes: for a bidirected or "
                "circle edge write one edge with dir=both and arrowtail/arrowhead",
                source=source,
            )
        seen[pair] = (u, v, mark_u, mark_v, shown)
        graph.add_marked_edge(u, v, mark_u, mark_v)
    return graph


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_dot(graph: CausalGraph) -> str:
    """Write ``graph`` as a Graphviz ``digraph``.

    ``-->`` edges are plain ``a -> b``, ``---`` edges carry ``dir=none`` and
    every other kind ``dir=both`` with ``arrowtail``/``arrowhead`` set to
    ``normal`` (arrow), ``odot`` (circle) or ``none`` (tail).

    Parameters
    ----------
    graph : CausalGraph
        The graph to write.

    Returns
    -------
    str
        The DOT text, ending with a newline; it reads back with
        :func:`read_dot` to an equal graph.
    """
    out = ["digraph {"]
    out.extend(f"  {_quote(name)};" for name in graph.nodes)
    for edge in graph.edges():
        line = f"  {_quote(edge.u)} -> {_quote(edge.v)}"
        if edge.kind == "---":
            line += " [dir=none]"
        elif edge.kind != "-->":
            line += (
                f" [dir=both, arrowtail={_SHAPE_OF_MARK[edge.mark_u]}, "
                f"arrowhead={_SHAPE_OF_MARK[edge.mark_v]}]"
            )
        out.append(line + ";")
    out.append("}")
    return "\n".join(out) + "\n"
