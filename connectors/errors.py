"""The root of mesalens' exception hierarchy.

It lives in the most upstream layer (connectors produce the tables that
everything else consumes), so that every layer can derive its own errors from
it without importing anything downstream. The command line catches
:class:`MesalensError` and prints its message on one line: every message must
therefore name the offending value and say how to fix it.

Hierarchy::

    MesalensError
    └── InputError (also a ValueError)        bad input from the user
        ├── DataError                          tables and files (connectors)
        ├── mesalens.pipeline.errors.*         graphs, roles, knowledge
        └── mesalens.reports.checks.options.ConfigValueError
                                               a config or job file's value
"""

from __future__ import annotations


class MesalensError(Exception):
    """Base class of every error mesalens raises on purpose."""


class InputError(MesalensError, ValueError):
    """The user's input (a file, a graph, an option) cannot be used as given."""


class DataError(InputError):
    """A data source (file, table, query) is unreadable or inconsistent."""


def one_line(message: str) -> str:
    r"""Fold a message onto one line (the form every error is shown in).

    >>> one_line("no such column\n  'x'")
    "no such column 'x'"
    """
    return " ".join(message.split())
