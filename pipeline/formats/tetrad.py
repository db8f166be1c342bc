r"""Read and write the Tetrad / causal-learn text format.

Tetrad (and causal-learn, which copies it: ``str(general_graph)`` and
:func:`causallearn.utils.TXT2GeneralGraph.txt2generalgraph`) stores a graph as
two sections::

    Graph Nodes:
    X1;X2;X3

    Graph Edges:
    1. X1 --> X2
    2. X2 --- X3
    3. X1 <-> X3

The node line lists the names separated by ``;`` (Tetrad also accepts ``,``).
Each edge line is a number, a dot, and ``left KIND right``, where ``KIND`` is
one of :data:`~mesalens.pipeline.graph.EDGE_KINDS`: the first character is the
mark at the left node (``<`` arrow, ``-`` tail, ``o`` circle) and the last the
mark at the right node.

Names with spaces
-----------------
Neither Tetrad nor causal-learn can read a node name with a space (they split
edge lines on whitespace), but a spreadsheet column often has one. This
reader does not split on whitespace: it finds an edge kind surrounded by
single spaces such that the text on its left is a declared node and the text
on its right is a declared node, optionally followed by Tetrad's trailing edge
properties (``dd``, ``nl``, ``pd``, ``pl``, or a bootstrap list starting with
``[``), which carry no marks and are ignored. A line that can be read in two
ways (``a --> b --> c`` with nodes ``a``, ``a --> b``, ``b --> c`` and ``c``)
is an error, and :func:`write_tetrad` refuses to write such a line.

What is not kept
----------------
Tetrad writes a latent node as ``(L)`` and a selection node as ``[S]`` in the
node line; the node is read as ``L`` / ``S`` and the node type is dropped.
Sections after the edges (``Graph Attributes:``, ambiguous triples, scores)
are ignored.

Examples
--------
>>> g = read_tetrad("Graph Nodes:\nrain;wet grass\n\nGraph Edges:\n1. rain --> wet grass\n")
>>> [str(e) for e in g.edges()]
['rain --> wet grass']
>>> print(write_tetrad(g), end="")
Graph Nodes:
rain;wet grass
<BLANKLINE>
Graph Edges:
1. rain --> wet grass
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import mesalens.pipeline.formats.limits as limits
from mesalens.pipeline.errors import GraphError, GraphFormatError
from mesalens.pipeline.formats.names import check_node_names, clip, name_problem
from mesalens.pipeline.graph import EDGE_KINDS, CausalGraph

__all__ = ["read_tetrad", "write_tetrad"]

_NODES_HEADER = "Graph Nodes:"
_EDGES_HEADER = "Graph Edges:"
_EDGE_LINE = re.compile(r"(\d+)\.\s*(.*)")
# Tetrad's per-edge properties: definitely/possibly direct, (no) latent confounder.
_EDGE_PROPERTIES = frozenset({"dd", "nl", "pd", "pl"})


def _split_node_line(line: str) -> list[str]:
    if ";" in line:
        tokens = line.split(";")
        # A trailing ";" is allowed (the writer uses it to protect a lone name
        # containing a comma from being split on the comma).
        if len(tokens) > 1 and tokens[-1].strip() == "":
            tokens.pop()
    else:
        tokens = line.split(",")
    names = []
    for token in tokens:
        name = token.strip()
        if len(name) > 2 and (name[0], name[-1]) in (("(", ")"), ("[", "]")):
            name = name[1:-1]
        names.append(name)
    return names


def _trailing_ok(text: str) -> bool:
    """Whether ``text`` (after the right node) is ignorable Tetrad edge annotation."""
    if text.startswith("["):
        return True  # bootstrap edge-type probabilities, e.g. "[no edge]:0.1;..."
    return all(token in _EDGE_PROPERTIES for token in text.split())


def _name_lengths(index: dict[str, int]) -> list[int]:
    """The distinct lengths of the declared names, ascending.

    A name can only start an edge line if the line has one of these lengths
    before a space, so the readers below try these cut points, not every
    space of the line: their work is bounded by the total length of the
    distinct name lengths (at most the node line's length) per line, which
    keeps a hostile 40 KB edge line linear.
    """
    return sorted({len(name) for name in index})


def _right_cuts(rest: str, index: dict[str, int], lengths: list[int]) -> Iterator[int]:
    """Each ``m`` such that ``rest[:m]`` is a declared node followed by a space."""
    for m in lengths:
        if m >= len(rest):
            return
        if rest[m] == " " and rest[:m] in index:
            yield m


def _readings(
    body: str, index: dict[str, int], lengths: list[int] | None = None
) -> list[tuple[str, str, str, bool]]:
    """All ways to read ``body`` as ``left KIND right [properties]``.

    Each reading is ``(left, kind, right, has_properties)``, in the order of
    the left node's length.
    """
    if lengths is None:
        lengths = _name_lengths(index)
    readings = []
    size = len(body)
    for cut in lengths:
        if cut + 5 > size:
            break
        if body[cut] != " " or body[cut + 4] != " ":
            continue
        kind = body[cut + 1 : cut + 4]
        if kind not in EDGE_KINDS:
            continue
        left = body[:cut]
        if left not in index:
            continue
        rest = body[cut + 5 :]
        if rest in index:
            readings.append((left, kind, rest, False))
        for m in _right_cuts(rest, index, lengths):
            if _trailing_ok(rest[m + 1 :]):
                readings.append((left, kind, rest[:m], True))
    return readings


def _parse_edge(
    body: str, index: dict[str, int], source: str, lineno: int, lengths: list[int] | None = None
) -> tuple[str, str, str]:
    if lengths is None:
        lengths = _name_lengths(index)
    readings = _readings(body, index, lengths)
    collapsed = " ".join(body.split())
    if not readings:
        # Hand-written files may use tabs or several spaces, as Tetrad allows.
        readings = _readings(collapsed, index, lengths)
    plain = [r for r in readings if not r[3]]
    # A reading without trailing properties wins: the writer never writes
    # properties, so a name that looks like "b dd" must stay one name.
    chosen = plain or readings
    if len(chosen) == 1:
        left, kind, right, _ = chosen[0]
        return left, kind, right
    if len(chosen) > 1:
        options = "; ".join(
            f"{clip(left)} {kind} {clip(right)}" for left, kind, right, _ in chosen[:4]
        )
        more = f"; ... ({len(chosen)} in all)" if len(chosen) > 4 else ""
        raise GraphFormatError(
            f"edge line {clip(body)} can be read in more than one way ({options}{more}); "
            "rename the nodes so that no name contains another name and an edge mark",
            source=source,
            line=lineno,
        )
    raise GraphFormatError(_explain_bad_edge(collapsed, index, lengths), source=source, line=lineno)


_KIND_AHEAD = re.compile("(?= (?:" + "|".join(re.escape(kind) for kind in EDGE_KINDS) + ") )")


def _explain_bad_edge(body: str, index: dict[str, int], lengths: list[int] | None = None) -> str:
    """Say why ``body`` is not ``left KIND right``: unknown mark or unknown node.

    Linear in ``len(body)`` (times the number of distinct name lengths):
    only cut points where a declared name can end are tried, and the line
    is quoted with at most :data:`~mesalens.pipeline.formats.names.CLIP`
    characters.
    """
    if lengths is None:
        lengths = _name_lengths(index)
    kinds = ", ".join(EDGE_KINDS)
    known_lengths = set(lengths)
    size = len(body)
    # Whatever stands between two declared nodes must be the edge mark.
    for cut in lengths:
        if cut + 2 > size:
            break
        if body[cut] != " " or body[:cut] not in index:
            continue
        end = body.find(" ", cut + 1)
        if end <= cut + 1:
            continue
        token, rest = body[cut + 1 : end], body[end + 1 :]
        right_known = rest in index or next(_right_cuts(rest, index, lengths), None) is not None
        if token not in EDGE_KINDS and right_known:
            return f"unknown edge mark {clip(token)} in {clip(body)}; use one of {kinds}"
    for match in _KIND_AHEAD.finditer(body):
        cut = match.start()
        left = body[:cut] if cut in known_lengths else None
        if left is None or left not in index:
            return (
                f"unknown node {clip(body[:cut])} in edge {clip(body)}; every node of an edge "
                "must be listed in the 'Graph Nodes:' line"
            )
        rest = body[cut + 5 :]
        if len(rest) not in known_lengths or rest not in index:
            return (
                f"unknown node {clip(rest)} in edge {clip(body)} (or unexpected text after "
                "the edge); every node of an edge must be listed in the 'Graph Nodes:' line"
            )
    return (
        f"cannot read {clip(body)} as an edge: expected 'N. A KIND B' with declared nodes "
        f"A and B and KIND one of {kinds}, separated by single spaces"
    )


def read_tetrad(text: str, source: str = "<string>") -> CausalGraph:
    """Parse a graph in the Tetrad / causal-learn text format.

    Parameters
    ----------
    text : str
        The file contents.
    source : str, optional
        The file name, used in error messages.

    Returns
    -------
    CausalGraph
        The graph, with the nodes in the order of the node line and the edges
        in the order of the edge lines.

    Raises
    ------
    GraphFormatError
        If the ``Graph Nodes:`` header is missing, a node is duplicated, an
        edge line names an unknown node or an unknown edge mark, or an edge is
        a self-loop or repeats a pair; the message names ``source`` and the
        1-based line.
    """
    lines = text.split("\n")
    lines = [line.removesuffix("\r") for line in lines]
    pos = 0
    # Blank lines and '#' comments may stand before the header (mesalens run
    # says there when it escaped node names).
    while pos < len(lines) and (not lines[pos].strip() or lines[pos].startswith("#")):
        pos += 1
    if pos == len(lines) or lines[pos].strip() != _NODES_HEADER:
        found = f"found {clip(lines[pos].strip())}" if pos < len(lines) else "the text is empty"
        raise GraphFormatError(
            f"expected the header {_NODES_HEADER!r} but {found}; a Tetrad graph starts with "
            f"'{_NODES_HEADER}', then the node names separated by ';', a blank line, "
            f"'{_EDGES_HEADER}' and lines such as '1. A --> B'",
            source=source,
            line=min(pos, len(lines) - 1) + 1,
        )
    pos += 1

    names: list[str] = []
    first_line: dict[str, int] = {}
    while pos < len(lines):
        stripped = lines[pos].strip()
        if stripped == _EDGES_HEADER:
            break
        if not stripped:
            # causal-learn writes an empty node line for a graph without nodes
            # (and Tetrad ends the node lines at a blank line): skip blanks
            # until the edge header or content.
            if names:
                break
            pos += 1
            continue
        for name in _split_node_line(stripped):
            if not name:
                raise GraphFormatError(
                    f"empty node name in {clip(stripped)}; remove the doubled or stray separator",
                    source=source,
                    line=pos + 1,
                )
            if name in first_line:
                raise GraphFormatError(
                    f"duplicate node name {clip(name)} (first listed on line {first_line[name]}); "
                    "every node must have a unique name",
                    source=source,
                    line=pos + 1,
                )
            first_line[name] = pos + 1
            names.append(name)
        pos += 1
    limits.check_counts(len(names), 0, source, line=pos)
    check_node_names(names, source)
    graph = CausalGraph(names)

    while pos < len(lines) and not lines[pos].strip():
        pos += 1
    if pos == len(lines):
        return graph
    if lines[pos].strip() != _EDGES_HEADER:
        raise GraphFormatError(
            f"expected {_EDGES_HEADER!r} after the node names but found "
            f"{clip(lines[pos].strip())}; "
            "list all node names on one line, separated by ';'",
            source=source,
            line=pos + 1,
        )
    pos += 1
    # Count the numbered lines first, so that a file past the edge limit is
    # refused before any of it is parsed.
    numbered = sum(1 for line in itertools.islice(lines, pos, None) if line[:1].isdigit())
    if numbered > limits.MAX_GRAPH_EDGES:
        limits.check_counts(len(names), numbered, source)

    edge_line: dict[frozenset[str], int] = {}
    index = graph.index
    lengths = _name_lengths(index)
    # Without a space in any name, "left KIND right" splits on spaces: the
    # one plain reading, found without trying cut points (the general
    # reader below gives the same answer, slower).
    spaced = any(" " in name for name in names)
    for lineno in range(pos + 1, len(lines) + 1):
        stripped = lines[lineno - 1].strip()
        if not stripped:
            continue
        match = _EDGE_LINE.fullmatch(stripped)
        if match is None:
            if stripped.endswith(":"):
                break  # a later Tetrad section, e.g. "Graph Attributes:"
            raise GraphFormatError(
                f"expected an edge line such as '1. A --> B' but found {clip(stripped)}",
                source=source,
                line=lineno,
            )
        body = match.group(2)
        parts = None if spaced else body.split(" ", 2)
        if (
            parts is not None
            and len(parts) == 3
            and parts[1] in EDGE_KINDS
            and parts[0] in index
            and parts[2] in index
        ):
            u, kind, v = parts
        else:
            u, kind, v = _parse_edge(body, index, source, lineno, lengths)
        if u == v:
            raise GraphFormatError(
                f"self-loop {clip(u)} {kind} {clip(v)}: a causal graph has no edge from a node to "
                "itself; remove this line",
                source=source,
                line=lineno,
            )
        if len(edge_line) == limits.MAX_GRAPH_EDGES:
            limits.check_counts(len(names), limits.MAX_GRAPH_EDGES + 1, source, line=lineno)
        pair = frozenset((u, v))
        if pair in edge_line:
            raise GraphFormatError(
                f"second edge between {clip(u)} and {clip(v)} (the first is on line "
                f"{edge_line[pair]}); a causal graph has at most one edge between two nodes",
                source=source,
                line=lineno,
            )
        edge_line[pair] = lineno
        graph.add_edge(u, v, kind)
    return graph


def _check_writable(name: str) -> None:
    problem = None
    if ";" in name:
        problem = "contains ';', which separates the names on the node line"
    elif "\n" in name or "\r" in name:
        problem = "contains a line break"
    elif name != name.strip():
        problem = "starts or ends with whitespace, which the reader strips"
    elif len(name) > 2 and (name[0], name[-1]) in (("(", ")"), ("[", "]")):
        problem = "is wrapped in () or [], which Tetrad reads as a latent or selection node"
    elif name_problem(name) is not None:
        problem = str(name_problem(name))
    if problem is not None:
        raise GraphError(
            f"cannot write node {clip(name)} in the Tetrad format: the name {problem}; "
            "rename the node or use the DOT or JSON format"
        )


def write_tetrad(graph: CausalGraph) -> str:
    """Write ``graph`` in the Tetrad / causal-learn text format.

    The output reads back with :func:`read_tetrad` to an equal graph, and with
    causal-learn's ``txt2generalgraph`` when no name contains whitespace.

    Parameters
    ----------
    graph : CausalGraph
        The graph to write.

    Returns
    -------
    str
        The text, ending with a newline.

    Raises
    ------
    GraphError
        If a node name cannot be written: it contains ``;`` or a line break,
        has leading or trailing whitespace, is wrapped in ``()`` or ``[]``, or
        makes an edge line ambiguous.
    """
    for name in graph.nodes:
        _check_writable(name)
    node_line = ";".join(graph.nodes)
    if len(graph.nodes) == 1 and ("," in node_line or node_line == _EDGES_HEADER):
        # A lone name would otherwise be split on its commas or taken for the
        # edge header; a trailing ";" keeps it whole.
        node_line += ";"
    out = [_NODES_HEADER, node_line, "", _EDGES_HEADER]
    lengths = _name_lengths(graph.index)
    for number, edge in enumerate(graph.edges(), start=1):
        body = str(edge)
        readings = {
            (u, k, v) for u, k, v, props in _readings(body, graph.index, lengths) if not props
        }
        if readings != {(edge.u, edge.kind, edge.v)}:
            raise GraphError(
                f"cannot write edge {clip(body)} in the Tetrad format: with these node names the "
                "line can be read in more than one way; rename the nodes or use the DOT or "
                "JSON format"
            )
        out.append(f"{number}. {body}")
    return "\n".join(out) + "\n"
