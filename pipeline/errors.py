"""Errors of the pipeline: the graph layer, discovery and the checker.

Every message names the offending node, edge, line or option and says what to
do about it (in the spirit of scikit-learn's ``utils/validation.py``).
"""

from __future__ import annotations

from mesalens.connectors.errors import InputError, MesalensError

__all__ = [
    "ClassTooLargeError",
    "DiscoveryError",
    "GraphError",
    "GraphFormatError",
    "InconsistentGraphError",
    "InputError",
    "MesalensError",
    "RoleError",
]


class GraphError(InputError):
    """A graph is not of the kind an operation needs (cycle, wrong marks, ...)."""


class InconsistentGraphError(GraphError):
    """A partially directed graph has no consistent DAG extension."""


class ClassTooLargeError(GraphError):
    """The question asked would need more work than is sensible (named, with how to narrow it)."""


class GraphFormatError(GraphError):
    """A graph file cannot be parsed.

    Parameters
    ----------
    message : str
        What is wrong and how to fix it.
    source : str, optional
        The file name (or ``"<string>"``).
    line : int, optional
        The 1-based line number where parsing failed.
    """

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None):
        self.source = source
        self.line = line
        where = ""
        if source is not None and line is not None:
            where = f"{source}, line {line}: "
        elif source is not None:
            where = f"{source}: "
        elif line is not None:
            where = f"line {line}: "
        super().__init__(where + message)


class DiscoveryError(InputError):
    """Discovery cannot run as asked, or the data contradict what it must assume."""


class RoleError(InputError):
    """The roles (regime, base, mesa, decision, policy inputs) do not fit the graph."""
