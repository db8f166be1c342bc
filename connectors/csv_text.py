r"""CSV and TSV text: the header record, whole records, and which fields are missing.

A header is one *record*, not one line: a quoted name may hold a line break
(``"o\nbs"``), a separator or a quote. :func:`record_end` finds where the
header ends by counting quotes, and :func:`read_body` hands pandas the rows
under a header of its own (``c0,c1,...``), so that pandas never parses the
user's names: what the names hold cannot change which column is which.

Missing fields (:func:`na_tokens`): in a column read as **text**, only an
empty field is missing, so that ``None``, ``NA``, ``null`` and ``N/A`` stay
values (the *insurance* network's ``Accident`` has a state named ``None``);
in a column read as **numbers** the usual tokens are missing as well
(:data:`NUMBER_NA`). Tokens the user names (``--na-values``) are missing in
every column.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import pandas as pd

__all__ = ["NUMBER_NA", "complete_records", "na_tokens", "read_body", "record_end"]

#: The fields a numeric column reads as missing (pandas' default list).
NUMBER_NA = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
    "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)  # fmt: skip

#: The extra column named after the user's columns, to catch rows with more
#: fields than the header (it is empty unless a row has a field too many).
EXTRA = "extra"


def record_end(data: bytes | memoryview, start: int = 0) -> int:
    r"""The offset just past the first record's line end at or after ``start``; -1 if none.

    A line break inside quotes belongs to the field (``""`` inside quotes is
    a quote, which leaves the count's parity as it was).

    >>> record_end(b'"a\nb",c\n1,2\n')
    8
    >>> record_end(b'a,"b')
    -1
    """
    data = bytes(data)
    quotes, pos = 0, start
    while (end := data.find(b"\n", pos)) >= 0:
        quotes += data.count(b'"', pos, end)  # one scan in all: linear in the data
        if quotes % 2 == 0:
            return end + 1
        pos = end + 1
    return -1


def complete_records(data: bytes) -> bytes:
    r"""``data`` up to the end of its last whole record (a cut inside quotes is dropped).

    >>> complete_records(b'a,b\n1,"x\ny"\n2,"z')
    b'a,b\n1,"x\ny"\n'
    """
    quotes, pos, last = 0, 0, 0
    while (end := data.find(b"\n", pos)) >= 0:
        quotes += data.count(b'"', pos, end)
        if quotes % 2 == 0:
            last = end + 1
        pos = end + 1
    if (quotes + data.count(b'"', pos)) % 2 == 0:
        return data  # the last line, without a line break, is whole too
    return data[:last]


def na_tokens(text: bool, extra: frozenset[str]) -> list[str]:
    """The fields a column reads as missing: empty (text) or the usual tokens (numbers)."""
    return sorted({"", *extra} if text else {*NUMBER_NA, *extra})


def read_body(
    body: memoryview | bytes,
    sep: str,
    width: int,
    positions: Sequence[int],
    text: Sequence[bool],
    na_values: frozenset[str],
    *,
    extra: bool = True,
    nrows: int | None = None,
) -> pd.DataFrame:
    """Parse the rows under a header (the header itself cut off) into a frame.

    Parameters
    ----------
    body : bytes or memoryview
        The rows, without the header record.
    sep : str
        The field separator.
    width : int
        Fields in the header.
    positions : sequence of int
        The header positions to keep; the frame's columns are ``c{position}``.
    text : sequence of bool
        Per kept position, whether it is read as text (kept as ``str``).
    na_values : frozenset of str
        The user's extra missing-value tokens.
    extra : bool, default True
        Also keep :data:`EXTRA`, which holds the first field beyond the header.
    nrows : int, optional
        Read at most this many rows.

    Returns
    -------
    pandas.DataFrame
    """
    names = [f"c{i}" for i in range(width)]
    head = (sep.join([*names, EXTRA] if extra else names) + "\n").encode()
    wanted = [names[p] for p in positions] + ([EXTRA] if extra else [])
    is_text = dict(zip((names[p] for p in positions), text, strict=True))
    options: dict[str, Any] = {
        "sep": sep,
        "usecols": wanted,
        "dtype": {name: str for name, flag in is_text.items() if flag},
        "keep_default_na": False,
        "na_values": {name: na_tokens(flag, na_values) for name, flag in is_text.items()},
        "encoding": "utf-8",
        "nrows": nrows,
    }
    if extra:
        options["dtype"][EXTRA] = str
        options["na_values"][EXTRA] = [""]
    return pd.read_csv(_Joined(head, memoryview(body)), **options)


class _Joined(io.RawIOBase):
    """``head`` followed by ``body`` as one readable stream, without copying ``body``.

    A text block can be most of a file (a compressed file is read whole);
    giving it a header of our own must not cost a second copy of it.
    """

    def __init__(self, head: bytes, body: memoryview):
        self._pieces = [memoryview(head), body]

    def readable(self) -> bool:
        """A read-only stream."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the pieces in order; 0 at the end."""
        while self._pieces and not len(self._pieces[0]):
            self._pieces.pop(0)
        if not self._pieces:
            return 0
        piece = self._pieces[0]
        size = min(len(buffer), len(piece))
        buffer[:size] = piece[:size]
        self._pieces[0] = piece[size:]
        return size
