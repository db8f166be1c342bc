"""Readers and writers for foreign graph formats, one module per format.

Text formats, each with ``read_X(text, source)`` and ``write_X(graph)``:

============================================  ==========  =========================
module                                        format      file extensions
============================================  ==========  =========================
:mod:`~mesalens.pipeline.formats.tetrad`      ``tetrad``  ``.txt .tetrad .graph``
:mod:`~mesalens.pipeline.formats.dot`         ``dot``     ``.dot .gv``
:mod:`~mesalens.pipeline.formats.json_graph`  ``json``    ``.json``
============================================  ==========  =========================

Converters to and from other libraries' graph objects live in
:mod:`~mesalens.pipeline.formats.causallearn`,
:mod:`~mesalens.pipeline.formats.pgmpy` and
:mod:`~mesalens.pipeline.formats.networkx`; they are not imported here, so
that reading a file does not import those libraries.

:func:`read_graph` and :func:`write_graph` pick the format from the file
extension unless ``format=`` is given. Writing is atomic: the text goes to a
temporary file in the same directory, is flushed to disk, and then replaces
the target in one step, so a crash never leaves a half-written graph.

Examples
--------
>>> import os, tempfile
>>> from mesalens.pipeline.graph import CausalGraph
>>> g = CausalGraph(["rain", "wet grass"])
>>> g.add_edge("rain", "wet grass")
>>> path = os.path.join(tempfile.mkdtemp(), "g.dot")
>>> write_graph(g, path)
>>> read_graph(path) == g
True
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

import mesalens.pipeline.formats.limits as limits
from mesalens.connectors.atomic import atomic_write_bytes
from mesalens.pipeline.errors import GraphFormatError
from mesalens.pipeline.formats.dot import read_dot, write_dot
from mesalens.pipeline.formats.json_graph import read_json, write_json
from mesalens.pipeline.formats.limits import (
    MAX_GRAPH_BYTES,
    MAX_GRAPH_EDGES,
    MAX_GRAPH_NODES,
    check_size,
)
from mesalens.pipeline.formats.tetrad import read_tetrad, write_tetrad
from mesalens.pipeline.graph import CausalGraph

__all__ = [
    "FORMATS",
    "MAX_GRAPH_BYTES",
    "MAX_GRAPH_EDGES",
    "MAX_GRAPH_NODES",
    "parse_graph",
    "read_graph",
    "read_graph_with_sha256",
    "write_graph",
]

_Reader = Callable[[str, str], CausalGraph]
_Writer = Callable[[CausalGraph], str]

#: Format name -> (reader, writer, file extensions).
FORMATS: dict[str, tuple[_Reader, _Writer, tuple[str, ...]]] = {
    "tetrad": (read_tetrad, write_tetrad, (".txt", ".tetrad", ".graph")),
    "dot": (read_dot, write_dot, (".dot", ".gv")),
    "json": (read_json, write_json, (".json",)),
}


def _supported() -> str:
    return "; ".join(f"{name} ({', '.join(exts)})" for name, (_, _, exts) in FORMATS.items())


def _format_for(path: str | os.PathLike[str], format: str | None) -> str:
    if format is not None:
        name = format.lower()
        if name not in FORMATS:
            raise GraphFormatError(
                f"unknown graph format {format!r}; supported formats: {_supported()}",
                source=os.fspath(path),
            )
        return name
    extension = os.path.splitext(os.fspath(path))[1].lower()
    for name, (_, _, extensions) in FORMATS.items():
        if extension in extensions:
            return name
    shown = repr(extension) if extension else "no extension"
    raise GraphFormatError(
        f"cannot tell the graph format from {shown}; supported formats (extensions): "
        f"{_supported()}; rename the file or pass format='tetrad', 'dot' or 'json'",
        source=os.fspath(path),
    )


def parse_graph(text: str, format: str, source: str = "<string>") -> CausalGraph:
    """Parse ``text`` in the named format.

    Parameters
    ----------
    text : str
        The graph text.
    format : str
        ``"tetrad"``, ``"dot"`` or ``"json"``.
    source : str, optional
        The file name, used in error messages.

    Returns
    -------
    CausalGraph
        The graph.

    Raises
    ------
    GraphFormatError
        If the format is unknown or the text does not parse.
    """
    reader = FORMATS[_format_for(source, format)][0]
    check_size(len(text), source)
    return reader(text, source)


def read_graph(path: str | os.PathLike[str], format: str | None = None) -> CausalGraph:
    """Read a graph file (see :func:`read_graph_with_sha256`, which also fingerprints it)."""
    return read_graph_with_sha256(path, format)[0]


def read_graph_with_sha256(
    path: str | os.PathLike[str], format: str | None = None
) -> tuple[CausalGraph, str]:
    """Read a graph file, and the SHA-256 of the very bytes that were parsed.

    Parameters
    ----------
    path : str or os.PathLike
        The file, UTF-8 encoded (a byte-order mark is skipped).
    format : str, optional
        ``"tetrad"``, ``"dot"`` or ``"json"``; by default taken from the
        extension (see the module docstring).

    Returns
    -------
    graph : CausalGraph
        The graph.
    sha256 : str
        The hex digest of the file's bytes (one read: it fingerprints what
        was checked even if the file changes afterwards).

    Raises
    ------
    GraphFormatError
        If the format cannot be told, the file is missing, unreadable or not
        UTF-8, or its contents do not parse; the message names the path.
    """
    source = os.fspath(path)
    name = _format_for(source, format)
    try:
        with open(source, "rb") as file:
            # Refused before reading: a 300 MB file would take minutes and gigabytes.
            check_size(os.fstat(file.fileno()).st_size, source)
            data = file.read(limits.MAX_GRAPH_BYTES + 1)
        check_size(len(data), source)  # a pipe or a file that grew
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise GraphFormatError(f"cannot read the graph file: {reason}", source=source) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise GraphFormatError(
            f"the file is not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start}); "
            "save it as UTF-8",
            source=source,
            line=line,
        ) from None
    return FORMATS[name][0](text, source), hashlib.sha256(data).hexdigest()


def write_graph(
    graph: CausalGraph, path: str | os.PathLike[str], format: str | None = None
) -> None:
    """Write ``graph`` to a file, atomically.

    Parameters
    ----------
    graph : CausalGraph
        The graph.
    path : str or os.PathLike
        The file to create or replace.
    format : str, optional
        ``"tetrad"``, ``"dot"`` or ``"json"``; by default taken from the
        extension.

    Raises
    ------
    GraphFormatError
        If the format cannot be told or the file cannot be written.
    GraphError
        If the graph cannot be expressed in the format (e.g. a node name with
        ``;`` in the Tetrad format).
    """
    name = _format_for(path, format)
    _atomic_write_text(path, FORMATS[name][1](graph))


def _atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) so that readers see the old or the new file."""
    target = os.fspath(path)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise GraphFormatError(
            f"cannot encode {text[exc.start : exc.end]!r} as UTF-8 (a lone surrogate in a "
            "node name?); rename the node",
            source=target,
        ) from None
    try:
        atomic_write_bytes(target, data)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise GraphFormatError(f"cannot write the graph file: {reason}", source=target) from None
