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

import re

from mesalens.pipeline.errors import GraphError, GraphFormatError
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


def _readings(body: str, index: dict[str, int]) -> list[tuple[str, str, str, bool]]:
    """All ways to read ``body`` as ``left KIND right [properties]``.

    Each reading is ``(left, kind, right, has_properties)``.
    """
    readings = []
    for match in re.finditer(r"(?= (\S{3}) )", body):
        kind = match.group(1)
        if kind not in EDGE_KINDS:
            continue
        left = body[: match.start()]
        rest = body[match.start() + len(kind) + 2 :]
        if left not in index:
            continue
        if rest in index:
            readings.append((left, kind, rest, False))
        for cut in (m.start() for m in re.finditer(" ", rest)):
            right, trailing = rest[:cut], rest[cut + 1 :]
            if right in index and _trailing_ok(trailing):
                readings.append((left, kind, right, True))
    return readings


def _parse_edge(body: str, index: dict[str, int], source: str, lineno: int) -> tuple[str, str, str]:
    readings = _readings(body, index)
    collapsed = " ".join(body.split())
    if not readings:
        # Hand-written files may use tabs or several spaces, as Tetrad allows.
        readings = _readings(collapsed, index)
    plain = [r for r in readings if not r[3]]
    # A reading without trailing properties wins: the writer never writes
    # properties, so a name that looks like "b dd" must stay one name.
    chosen = plain or readings
    if len(chosen) == 1:
        left, kind, right, _ = chosen[0]
        return left, kind, right
    if len(chosen) > 1:
        options = "; ".join(f"{left!r} {kind} {right!r}" for left, kind, right, _ in chosen)
        raise GraphFormatError(
            f"edge line {body!r} can be read in more than one way ({options}); "
            "rename the nodes so that no name contains another name and an edge mark",
            source=source,
            line=lineno,
        )
    raise GraphFormatError(_explain_bad_edge(collapsed, index), source=source, line=lineno)


def _explain_bad_edge(body: str, index: dict[str, int]) -> str:
    """Say why ``body`` is not ``left KIND right``: unknown mark or unknown node."""
    kinds = ", ".join(EDGE_KINDS)
    for match in re.finditer(r"(?= (\S+) )", body):
        token = match.group(1)
        left = body[: match.start()]
        rest = body[match.start() + len(token) + 2 :]
        right_known = rest in index or any(
            rest[:cut] in index for cut in (m.start() for m in re.finditer(" ", rest))
        )
        # Whatever stands between two declared nodes must be the edge mark.
        if token not in EDGE_KINDS and left in index and right_known:
            return f"unknown edge mark {token!r} in {body!r}; use one of {kinds}"
    for match in re.finditer(r"(?= (\S{3}) )", body):
        kind = match.group(1)
        if kind not in EDGE_KINDS:
            continue
        left = body[: match.start()]
        rest = body[match.start() + len(kind) + 2 :]
        if left not in index:
            return (
                f"unknown node {left!r} in edge {body!r}; every node of an edge must be "
                f"listed in the 'Graph Nodes:' line"
            )
        if rest not in index:
            return (
                f"unknown node {rest!r} in edge {body!r} (or unexpected text after the "
                f"edge); every node of an edge must be listed in the 'Graph Nodes:' line"
            )
    return (
        f"cannot read {body!r} as an edge: expected 'N. A KIND B' with declared nodes "
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
        found = f"found {lines[pos].strip()!r}" if pos < len(lines) else "the text is empty"
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
                    f"empty node name in {stripped!r}; remove the doubled or stray separator",
                    source=source,
                    line=pos + 1,
                )
            if name in first_line:
                raise GraphFormatError(
                    f"duplicate node name {name!r} (first listed on line {first_line[name]}); "
                    "every node must have a unique name",
                    source=source,
                    line=pos + 1,
                )
            first_line[name] = pos + 1
            names.append(name)
        pos += 1
    graph = CausalGraph(names)

    while pos < len(lines) and not lines[pos].strip():
        pos += 1
    if pos == len(lines):
        return graph
    if lines[pos].strip() != _EDGES_HEADER:
        raise GraphFormatError(
            f"expected {_EDGES_HEADER!r} after the node names but found {lines[pos].strip()!r}; "
            "list all node names on one line, separated by ';'",
            source=source,
            line=pos + 1,
        )
    pos += 1

    edge_line: dict[frozenset[str], int] = {}
    for lineno in range(pos + 1, len(lines) + 1):
        stripped = lines[lineno - 1].strip()
        if not stripped:
            continue
        match = _EDGE_LINE.fullmatch(stripped)
        if match is None:
            if stripped.endswith(":"):
                break  # a later Tetrad section, e.g. "Graph Attributes:"
            raise GraphFormatError(
                f"expected an edge line such as '1. A --> B' but found {stripped!r}",
                source=source,
                line=lineno,
            )
        u, kind, v = _parse_edge(match.group(2), graph.index, source, lineno)
        if u == v:
            raise GraphFormatError(
                f"self-loop {u!r} {kind} {v!r}: a causal graph has no edge from a node to "
                "itself; remove this line",
                source=source,
                line=lineno,
            )
        pair = frozenset((u, v))
        if pair in edge_line:
            raise GraphFormatError(
                f"second edge between {u!r} and {v!r} (the first is on line "
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
    if problem is not None:
        raise GraphError(
            f"cannot write node {name!r} in the Tetrad format: the name {problem}; "
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
    for number, edge in enumerate(graph.edges(), start=1):
        body = str(edge)
        readings = {(u, k, v) for u, k, v, props in _readings(body, graph.index) if not props}
        if readings != {(edge.u, edge.kind, edge.v)}:
            raise GraphError(
                f"cannot write edge {body!r} in the Tetrad format: with these node names the "
                "line can be read in more than one way; rename the nodes or use the DOT or "
                "JSON format"
            )
        out.append(f"{number}. {body}")
    return "\n".join(out) + "\n"
