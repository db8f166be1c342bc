"""How large a graph file mesalens reads, and the error past it.

A graph is read whole into Python objects and then checked; a complete DAG
of 5,000 nodes (12.5 million edges, a 308 MB Tetrad file) would take minutes
and gigabytes just to read, and its class could not be checked in any
reasonable time. The readers refuse, before they build the graph:

* a file larger than :data:`MAX_GRAPH_BYTES` (checked from the file's size,
  before reading it);
* more than :data:`MAX_GRAPH_NODES` nodes or :data:`MAX_GRAPH_EDGES` edges
  (counted as the file is parsed, so the refusal comes early).

Within the limits the Tetrad and JSON readers work in linear time (a
250,000-edge file reads in seconds). The DOT reader goes through pydot's
pyparsing grammar, which is far slower per byte, so DOT files have their own,
smaller limit, :data:`MAX_DOT_BYTES`; the message says to convert such a file
to Tetrad text or JSON.

>>> check_counts(10, 20, "g.txt")
>>> check_counts(10, MAX_GRAPH_EDGES + 1, "g.txt")
Traceback (most recent call last):
...
mesalens.pipeline.errors.GraphFormatError: g.txt: the graph has more than 250,000 edges, ...
"""

from __future__ import annotations

from mesalens.pipeline.errors import GraphFormatError

__all__ = [
    "MAX_DOT_BYTES",
    "MAX_GRAPH_BYTES",
    "MAX_GRAPH_EDGES",
    "MAX_GRAPH_NODES",
    "check_counts",
    "check_size",
]

#: The largest graph file read, in bytes (64 MiB).
MAX_GRAPH_BYTES = 64 * 1024 * 1024
#: The largest DOT file read, in bytes (pydot's parser is slow: about 2 MiB takes seconds).
MAX_DOT_BYTES = 4 * 1024 * 1024
#: The most nodes a graph may have.
MAX_GRAPH_NODES = 20_000
#: The most edges a graph may have.
MAX_GRAPH_EDGES = 250_000

_ADVICE = (
    "a class this large cannot be checked in reasonable time; check the part of the graph "
    "that matters (the roles, their ancestors and the nodes between them), or split it"
)


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):,.1f} MiB"


def check_size(size: int, source: str, limit: int | None = None) -> None:
    """Refuse a graph file (text) of more than ``limit`` bytes (:data:`MAX_GRAPH_BYTES`)."""
    limit = MAX_GRAPH_BYTES if limit is None else limit
    if size > limit:
        raise GraphFormatError(
            f"the graph file is {_mib(size)}, more than the {_mib(limit)} mesalens reads "
            f"(limits: {MAX_GRAPH_NODES:,} nodes, {MAX_GRAPH_EDGES:,} edges, "
            f"{_mib(MAX_GRAPH_BYTES)}; DOT {_mib(MAX_DOT_BYTES)}); {_ADVICE}",
            source=source,
        )


def check_counts(nodes: int, edges: int, source: str, line: int | None = None) -> None:
    """Refuse more than :data:`MAX_GRAPH_NODES` nodes or :data:`MAX_GRAPH_EDGES` edges."""
    if nodes > MAX_GRAPH_NODES:
        raise GraphFormatError(
            f"the graph has {nodes:,} nodes, more than the {MAX_GRAPH_NODES:,} mesalens "
            f"reads (and at most {MAX_GRAPH_EDGES:,} edges); {_ADVICE}",
            source=source,
            line=line,
        )
    if edges > MAX_GRAPH_EDGES:
        raise GraphFormatError(
            f"the graph has more than {MAX_GRAPH_EDGES:,} edges, the most mesalens reads "
            f"(and at most {MAX_GRAPH_NODES:,} nodes); {_ADVICE}",
            source=source,
            line=line,
        )
