r"""List the files behind a regime's location, and check their names and folders first.

:func:`list_files` expands a glob, walks a hive folder or takes a single
file (any fsspec filesystem), and checks before anything is read that

* every file name is valid UTF-8: a name with another byte (Latin-1, a
  broken copy) cannot be shown in ``result.json`` or the report, so it is
  refused up front, shown with the byte escaped (``dep\xffloy.csv``);
* on local disk, every folder the location reaches can be read: listing
  functions skip an unreadable folder without a word, which made a folder
  the user may not read look like a pattern that matches nothing, and
  would drop the files of an unreadable hive sub-folder in silence.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
from typing import Any

from fsspec.implementations.local import LocalFileSystem

from mesalens.connectors.errors import DataError
from mesalens.connectors.file_parts import first_line

__all__ = ["GLOB_CHARS", "list_files", "printable"]

GLOB_CHARS = frozenset("*?[")


def printable(text: str) -> str:
    r"""``text`` with what UTF-8 cannot hold (bytes of a non-UTF-8 file name) escaped.

    >>> printable("dep\udcffloy.csv")
    'dep\\xffloy.csv'
    >>> printable("lone \ud800")
    'lone \\ud800'
    >>> printable("plain.csv")
    'plain.csv'
    """
    try:  # the bytes of a file name that were not UTF-8 (os.fsdecode's escapes)
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # another lone surrogate, e.g. from a JSON escape
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _valid_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def list_files(
    fs: Any, path: str, display: str, regime: str, hidden: Any, show: Any = str
) -> tuple[list[str], str | None]:
    """The data files at ``path`` and, for a folder, its root.

    Parameters
    ----------
    fs : fsspec.spec.AbstractFileSystem
        The filesystem.
    path : str
        A file, glob or folder within ``fs``.
    display : str
        The location as it may be shown (credentials hidden).
    regime : str
        The regime's name, for messages.
    hidden : callable
        ``(path, root) -> bool``: bookkeeping files of a folder to skip.
    show : callable, default str
        A listed path as it may be shown.

    Returns
    -------
    paths : list of str
        The files, sorted.
    root : str or None
        The folder, when ``path`` is one (its ``key=value`` segments are columns).

    Raises
    ------
    DataError
        If nothing matches, a folder cannot be read, or a name is not UTF-8.
    """
    shown = printable(display)
    if not _valid_utf8(path):
        raise DataError(
            f"regime {regime!r}: the location {shown} is not valid UTF-8 text (the escaped "
            "part is a byte of another encoding); rename the file or folder with UTF-8 "
            "characters only"
        )
    local = isinstance(fs, LocalFileSystem)
    root: str | None = None
    try:
        if any(char in path for char in GLOB_CHARS):
            found = fs.glob(path, detail=True)
            paths = sorted(p for p, info in found.items() if info.get("type") != "directory")
            if local:
                _check_glob_folders(path, regime)
            if not paths:
                raise DataError(f"regime {regime!r}: no file matches {shown}; check the pattern")
        elif fs.isdir(path):
            root = path.rstrip("/")
            if local:
                _check_folder_tree(root, regime)
            paths = sorted(p for p in fs.find(root) if not hidden(p, root))
            if not paths:
                raise DataError(f"regime {regime!r}: directory {shown} holds no data files")
        elif fs.exists(path):
            paths = [path]
        else:
            raise DataError(f"regime {regime!r}: no such file or directory: {shown}")
    except DataError:
        raise
    except PermissionError as exc:
        raise _unreadable(regime, exc.filename or path) from None
    except Exception as exc:  # unreachable store, ...
        raise DataError(f"regime {regime!r}: cannot list {shown}: {first_line(exc)}") from exc
    for file_path in paths:
        if not _valid_utf8(file_path):
            raise DataError(
                f"regime {regime!r}: the file name {printable(show(file_path))} is not valid UTF-8 "
                "(the escaped part is a byte of another encoding), so it cannot be shown in "
                "the outputs; rename the file with UTF-8 characters only"
            )
    return paths, root


def _unreadable(regime: str, folder: str) -> DataError:
    return DataError(
        f"regime {regime!r}: cannot read the folder {printable(str(folder))}: permission "
        "denied; give the user running mesalens read and execute access to it "
        "(chmod a+rx), or run mesalens as a user who has it"
    )


def _readable(folder: str) -> bool:
    """Whether the folder's entries can be listed (an absent folder is not a permission issue)."""
    try:
        with os.scandir(folder) as entries:
            next(entries, None)
    except PermissionError:
        return False
    except OSError:
        return True
    return True


def _check_folder_tree(root: str, regime: str) -> None:
    """Refuse a folder with an unreadable folder anywhere below it."""
    failed: list[str] = []

    def note(error: OSError) -> None:
        if isinstance(error, PermissionError):
            failed.append(error.filename or root)

    for _ in os.walk(root, onerror=note):
        if failed:
            break
    if failed:
        raise _unreadable(regime, failed[0])


def _check_glob_folders(pattern: str, regime: str) -> None:
    """Refuse a glob that would descend into a folder that cannot be read.

    The folders checked are the pattern's fixed base and every folder below
    it that its segments match (all of them below a ``**``).
    """
    segments = pattern.split("/")
    fixed = 0
    while fixed < len(segments) and not any(c in segments[fixed] for c in GLOB_CHARS):
        fixed += 1
    base = "/".join(segments[:fixed]) or ("/" if pattern.startswith("/") else ".")
    rest = segments[fixed:]
    # The deepest folder that exists on the way to the base.
    existing = base
    while existing not in ("", "/", ".") and not os.path.isdir(existing):
        existing = posixpath.dirname(existing)
    if existing and not _readable(existing):
        raise _unreadable(regime, existing)
    if existing != base:
        return
    if "**" in rest:
        _check_folder_tree(base, regime)
        return
    stack = [(base, 0)]
    while stack:
        folder, depth = stack.pop()
        if not _readable(folder):
            raise _unreadable(regime, folder)
        if depth >= len(rest) - 1:
            continue
        try:
            with os.scandir(folder) as entries:
                below = [
                    e.path for e in entries if _is_dir(e) and fnmatch.fnmatch(e.name, rest[depth])
                ]
        except OSError:
            continue
        stack.extend((p, depth + 1) for p in below)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False
