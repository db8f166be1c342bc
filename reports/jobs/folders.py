"""The folder transactions of a job's runs: run ids, ``.partial`` folders, ``latest``, locks.

A run is written into a hidden ``.partial`` folder and renamed into place once
complete; ``latest`` is replaced by renaming a temporary symlink over it, and
each check's lock is a non-blocking :func:`fcntl.flock`. The directory fsync
after a rename is :func:`mesalens.connectors.atomic.fsync_dir`, the one the
atomic file writes use.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from mesalens.connectors.atomic import fsync_dir
from mesalens.reports.jobs.layout import LATEST, PARTIAL_SUFFIX, RUNS

__all__ = ["remove_temporaries"]


def remove_temporaries(folder: Path, prefixes: tuple[str, ...]) -> None:
    """Remove the temporary files of atomic writes that a killed process left in ``folder``.

    Only called under the lock that every writer of those files holds.
    """
    for path in folder.iterdir():
        if path.name.startswith(prefixes) and path.name.endswith(".tmp"):
            with contextlib.suppress(OSError):
                path.unlink()


def _unique_run_id(runs_dir: Path, base_id: str) -> str:
    """``base_id``, or ``base_id-1``, ``-2``, ... if a run folder of that name exists."""
    candidate, n = base_id, 0
    while (runs_dir / candidate).exists() or (runs_dir / f".{candidate}{PARTIAL_SUFFIX}").exists():
        n += 1
        candidate = f"{base_id}-{n}"
    return candidate


def _partials(runs_dir: Path) -> list[Path]:
    return sorted(
        p
        for p in runs_dir.iterdir()
        if p.name.startswith(".") and p.name.endswith(PARTIAL_SUFFIX) and p.is_dir()
    )


def _point_latest(check_dir: Path, run_id: str) -> None:
    """Make ``check_dir/latest`` a relative symlink to ``runs/run_id``, atomically."""
    temporary = check_dir / f".{LATEST}.{uuid.uuid4().hex[:12]}.tmp"
    os.symlink(f"{RUNS}/{run_id}", temporary)
    try:
        os.replace(temporary, check_dir / LATEST)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    fsync_dir(check_dir)


@contextlib.contextmanager
def _try_lock(path: Path) -> Iterator[str | None]:
    """Hold an exclusive flock on ``path``; yield None, or the holder's pid text if it is taken."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            try:
                holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
            except OSError:
                holder = ""
            yield holder or "unknown"
            return
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield None
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
