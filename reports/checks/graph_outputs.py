r"""The learned graph as ``mesalens run`` writes it: ``graph.txt`` and ``graph.json``.

``graph.json`` (the mesalens JSON form, :mod:`mesalens.pipeline.formats.json_graph`)
holds any node name as it is. ``graph.txt`` is in the Tetrad text format,
which cannot hold some names: ``;`` separates the names on the node line,
whitespace separates the parts of an edge line, and a name wrapped in ``()``
or ``[]`` reads as a latent or selection node. When a column's name is one of
those, every name in ``graph.txt`` is escaped (:func:`escape_name`: each such
character, and ``%`` itself, as ``%XX`` of its UTF-8 bytes, so that no two
names meet), and the file starts with a ``#`` comment that says so; both
mesalens' reader (``check-graph``) and causal-learn's skip that line. Plain
names are written as they are, and then there is no comment.

>>> from mesalens.pipeline.graph import CausalGraph
>>> g = CausalGraph(["regime", "act;ion"])
>>> g.add_edge("regime", "act;ion")
>>> text, escaped = tetrad_text(g)
>>> text.startswith("# mesalens: node names escaped")
True
>>> print(text.split("\n", 1)[1], end="")
Graph Nodes:
regime;act%3Bion
<BLANKLINE>
Graph Edges:
1. regime --> act%3Bion
>>> escaped
{'act;ion': 'act%3Bion'}
"""

from __future__ import annotations

import unicodedata

from mesalens.pipeline.errors import GraphError
from mesalens.pipeline.formats.json_graph import write_json
from mesalens.pipeline.formats.tetrad import write_tetrad
from mesalens.pipeline.graph import CausalGraph

__all__ = ["escape_name", "graph_outputs", "tetrad_text"]

_ESCAPED = frozenset("%;()[]")
_SHOWN = 5


def escape_name(name: str) -> str:
    r"""``name`` with ``%``, ``;``, brackets, whitespace and control characters as ``%XX``.

    >>> escape_name("act;ion")
    'act%3Bion'
    >>> escape_name("o\nbs 1")
    'o%0Abs%201'
    >>> escape_name("100%")
    '100%25'
    """
    out = []
    for char in name:
        if char in _ESCAPED or char.isspace() or unicodedata.category(char)[0] in "CZ":
            out.append("".join(f"%{byte:02X}" for byte in char.encode("utf-8")))
        else:
            out.append(char)
    return "".join(out)


def tetrad_text(graph: CausalGraph) -> tuple[str, dict[str, str]]:
    """``graph`` in the Tetrad text format, and the names that had to be escaped.

    Returns
    -------
    text : str
        The file's text: as :func:`~mesalens.pipeline.formats.tetrad.write_tetrad`
        writes it when every name fits, else with escaped names after a
        ``#`` comment that says so.
    escaped : dict of str to str
        Each name that changed, and what it became (empty when none did).
    """
    try:
        return write_tetrad(graph), {}
    except GraphError:
        pass
    names = {name: escape_name(name) for name in graph.nodes}
    renamed = CausalGraph(names[name] for name in graph.nodes)
    for edge in graph.edges():
        renamed.add_edge(names[edge.u], names[edge.v], edge.kind)
    changed = {name: new for name, new in names.items() if new != name}
    shown = ", ".join(f"{name} = {new}" for name, new in list(changed.items())[:_SHOWN])
    if len(changed) > _SHOWN:
        shown += f" and {len(changed) - _SHOWN} more"
    comment = (
        "# mesalens: node names escaped (%XX = UTF-8 bytes) because the Tetrad format cannot "
        f"hold them as they are; graph.json has the names as they are: {' '.join(shown.split())}"
    )
    return f"{comment}\n{write_tetrad(renamed)}", changed


def graph_outputs(graph: CausalGraph) -> tuple[str, str, dict[str, str]]:
    """The texts of ``graph.txt`` and ``graph.json``, and the names escaped in the first."""
    text, escaped = tetrad_text(graph)
    return text, write_json(graph), escaped
