"""Atomic file writes: an output file is either complete or not there at all.

A report written in place and interrupted (a full disk, a killed process)
leaves a truncated file that looks like a result. Writing to a temporary file
in the same directory and renaming it over the target with :func:`os.replace`
avoids that: the rename is atomic on POSIX and Windows as long as both names
are on the same file system, which the shared directory guarantees.
"""

from __future__ import annotations

import contextlib
import os
import stat
import uuid
from collections.abc import Iterable

__all__ = ["atomic_write_bytes", "atomic_write_chunks", "atomic_write_text", "fsync_dir"]


def atomic_write_chunks(path: str | os.PathLike[str], chunks: Iterable[bytes]) -> None:
    """Write the ``chunks`` to ``path`` atomically, as they come (constant memory).

    As :func:`atomic_write_bytes`: the target appears complete or not at all,
    also when producing a chunk raises (the temporary file is removed and the
    exception goes on).
    """
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    temporary = os.path.join(directory, f".{os.path.basename(target)}.{uuid.uuid4().hex[:12]}.tmp")
    # Mode 0o666 lets the umask decide the permissions, as a plain open()
    # would; tempfile.mkstemp would make every report private.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            # Without fsync a crash shortly after the rename can leave an
            # empty file under the final name on some file systems.
            os.fsync(handle.fileno())
        # Replacing a file keeps its permissions, as writing into it would.
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temporary, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    # Make the rename itself durable.
    fsync_dir(directory)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically.

    Parameters
    ----------
    path : str or path-like
        The file to create or replace. Its directory must exist.
    data : bytes
        The complete contents.

    Raises
    ------
    OSError
        If the directory is missing or not writable, or the disk is full; the
        target is then left as it was and no temporary file remains.
    """
    atomic_write_chunks(path, (data,))


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Flush a directory's entries (a rename, a new file or link) to disk, if the platform can.

    Parameters
    ----------
    directory : str or path-like
        The directory whose entries changed.

    Notes
    -----
    Errors are ignored: not every platform can open a directory, and the
    change itself has been made either way.
    """
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`).

    Parameters
    ----------
    path : str or path-like
        The file to create or replace.
    text : str
        The complete contents; newlines are written as given.
    encoding : str, optional
        The text encoding, UTF-8 by default.

    Raises
    ------
    UnicodeEncodeError
        If ``text`` cannot be encoded; nothing is written then.
    OSError
        As for :func:`atomic_write_bytes`.
    """
    atomic_write_bytes(path, text.encode(encoding))
