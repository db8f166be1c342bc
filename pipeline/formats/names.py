r"""Node names every output can hold, and short quotes of hostile text.

A graph file's node names end up in the terminal, the JSON document, the
HTML report and, through ``mesalens run``, the Tetrad and DOT files. A name
that one of them cannot hold must be refused when the graph is read, before
anything is written, not when the third output is half done. So every reader
of :mod:`mesalens.pipeline.formats` hands its names to :func:`check_node_names`:

* a *lone surrogate* (``"\ud800"`` from a JSON escape) is not Unicode text:
  UTF-8, and so every output file, cannot hold it;
* a *control character* (``NUL``, a line break, ``ESC``, the C1 controls) or a
  *noncharacter* (``U+FFFE``) is not text either: HTML may not contain it, a
  line break splits a Tetrad line, and ``ESC`` rewrites a terminal;
* two names that are equal in Unicode normal form NFC (``"é"`` composed as
  ``U+00E9`` and decomposed as ``U+0065 U+0301``) look the same everywhere but
  are different nodes: the error shows their code points.

Everything else (spaces, quotes, ``;``, ``<``, emoji, right-to-left text) is a
valid name: JSON escapes what it must, the HTML report escapes markup, DOT
quotes every name and the Tetrad writer escapes or refuses the few it cannot
hold (:func:`mesalens.pipeline.formats.tetrad.write_tetrad`).

:func:`clip` quotes at most about 80 characters of a value for an error
message, so that a 40 KB line or a megabyte of JSON is never echoed whole.

>>> clip("x" * 100, limit=10)
"'xxxxxxxxxx'... (100 characters)"
>>> code_points("e\u0301")
'U+0065 U+0301'
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from mesalens.pipeline.errors import GraphFormatError

__all__ = ["CLIP", "check_node_names", "clip", "code_points", "name_problem", "nfc"]

#: How many characters of a value an error message quotes.
CLIP = 80


def clip(text: str, limit: int = CLIP) -> str:
    """``repr`` of ``text``, cut to ``limit`` characters with the full length said."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def code_points(name: str, limit: int = 12) -> str:
    """The code points of ``name`` as ``U+XXXX`` words (the first ``limit``)."""
    shown = " ".join(f"U+{ord(char):04X}" for char in name[:limit])
    return shown + (" ..." if len(name) > limit else "")


def nfc(name: str) -> str:
    """``name`` in Unicode normal form NFC (a lone surrogate is left as it is)."""
    try:
        return unicodedata.normalize("NFC", name)
    except UnicodeError:  # pragma: no cover - normalize does not encode
        return name


def _is_noncharacter(code: int) -> bool:
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def name_problem(name: str) -> str | None:
    """Why no output can hold ``name``, or None when every output can."""
    for position, char in enumerate(name):
        code = ord(char)
        category = unicodedata.category(char)
        if category == "Cs":
            return (
                f"holds a lone surrogate U+{code:04X} at character {position + 1}, which is "
                "not Unicode text (a JSON escape such as \\ud800 without its pair)"
            )
        if category == "Cc":
            return (
                f"holds the control character U+{code:04X} at character {position + 1}, which "
                "the HTML report, the terminal and the Tetrad format cannot hold"
            )
        if _is_noncharacter(code):
            return (
                f"holds the noncharacter U+{code:04X} at character {position + 1}, which the "
                "HTML report cannot hold"
            )
    return None


def check_node_names(names: Iterable[str], source: str) -> None:
    """Refuse node names some output cannot hold, and names that differ only in normal form.

    Raises
    ------
    GraphFormatError
        Naming the node (quoted with :func:`clip`), what is wrong with it and
        how to fix it; for two look-alike names, both with their code points.
    """
    seen: dict[str, str] = {}
    for name in names:
        problem = name_problem(name)
        if problem is not None:
            raise GraphFormatError(
                f"node name {clip(name)} {problem}; rename the node", source=source
            )
        key = nfc(name)
        twin = seen.get(key)
        if twin is not None:
            raise GraphFormatError(
                f"node names {clip(twin)} ({code_points(twin)}) and {clip(name)} "
                f"({code_points(name)}) look alike but are spelt with different Unicode "
                "characters (the same text in normal form NFC); rename one of them, or save "
                "the file with one spelling if they are the same variable",
                source=source,
            )
        seen[key] = name
