"""The console the commands print their summaries on: whole lines off a terminal, wrapped on one.

The summaries print every sentence as one line (``soft_wrap=True``), so that
piped and redirected output keeps a finding, a path or an advice line whole
for ``grep`` and for the tests. On a terminal, the same line would be cut
by the terminal at its last column, mid-word; :func:`summary_console` returns
a console that there wraps every line between words at the terminal's width
(80 columns in an 80-column terminal), tables included.

Imported only by the commands that print (after ``--help`` is handled), so
that ``--help`` does not import rich.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console

__all__ = ["summary_console"]


class _SummaryConsole(Console):
    """A console that wraps between words on a terminal, whatever ``soft_wrap`` a call asks."""

    def print(self, *objects: Any, soft_wrap: bool | None = None, **options: Any) -> None:
        """Print as :meth:`rich.console.Console.print`; on a terminal, never soft-wrapped."""
        super().print(*objects, soft_wrap=False if self.is_terminal else soft_wrap, **options)


def summary_console(*, stderr: bool = False) -> Console:
    """The console a command prints its summary on (markup, emoji codes and highlighting off).

    Node and column names are data, so nothing in them is read as markup.
    """
    return _SummaryConsole(stderr=stderr, markup=False, emoji=False, highlight=False)
