"""The folder transactions of a job's runs: run ids, ``.partial`` folders, ``latest``, locks.

A run is written into a hidden ``.partial`` folder and renamed into place once
complete; ``latest`` is replaced by renaming a temporary symlink over it, and
each check's lock is a non-blocking :func:`fcntl.flock`. Before a check runs,
:func:`ensure_check_folder` and :func:`inspect_check_folder` make sure that
what its folder holds is what the engine writes there (a hand-made folder
where a file belongs, a dangling link, ...); if not, that check fails with a
:class:`~mesalens.reports.jobs.layout.DamagedOutput` line naming the file. The directory fsync
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
from mesalens.connectors.errors import InputError
from mesalens.reports.jobs.layout import (
    HISTORY_JSON,
    INDEX_HTML,
    INDEX_JSON,
    INDEX_LOCK,
    LATEST,
    LOCK_FILE,
    LOG_FILE,
    PARTIAL_SUFFIX,
    RUN_ID,
    RUNS,
    DamagedOutput,
)

__all__ = [
    "ensure_check_folder",
    "inspect_check_folder",
    "inspect_job_folder",
    "remove_temporaries",
]

_MOVE = "move it away"


def _exists(path: Path) -> bool:
    """Whether anything is at ``path``, a dangling or looping link included."""
    return path.is_symlink() or path.exists()


def inspect_job_folder(out: Path) -> None:
    """Check the job's output folder and the files of the whole job, before any check runs.

    ``out`` must be a folder (or not exist yet); ``mesalens.log``, the index
    and its lock, if there, plain files. A check folder that is damaged fails
    only its check, later; these would fail every check, so they stop the job
    here, before any work.

    Raises
    ------
    InputError
        If ``out`` is not a folder.
    DamagedOutput
        Naming the damaged file and what to do.
    """
    if _exists(out) and not out.is_dir():
        kind = "a dangling or looping link" if out.is_symlink() else "a file"
        raise InputError(
            f"the output folder must be a folder: {str(out)!r} is {kind}; "
            "give another --out, or move it away"
        )
    for name in (LOG_FILE, INDEX_JSON, INDEX_HTML, INDEX_LOCK):
        path = out / name
        if path.is_symlink() or (path.exists() and not path.is_file()):
            kind = "a folder" if path.is_dir() else "a link or special file"
            raise DamagedOutput(path, f"is {kind}, not the file mesalens writes", _MOVE)
    if os.path.isdir(out) and not os.access(out, os.W_OK | os.X_OK):
        raise InputError(f"the output folder {str(out)!r} is not writable; give another --out")


def ensure_check_folder(check_dir: Path) -> None:
    """Create ``CHECK/runs`` if needed; refuse what is not a folder on the way.

    Raises
    ------
    DamagedOutput
        If the check's folder, or its ``runs``, is a file or a broken link,
        or its lock file is not a plain file.
    """
    for folder in (check_dir, check_dir / RUNS):
        if _exists(folder) and not folder.is_dir():
            kind = "a dangling or looping link" if folder.is_symlink() else "a file"
            raise DamagedOutput(folder, f"is {kind}, not a folder", _MOVE)
        try:
            folder.mkdir(exist_ok=True)
        except OSError as exc:
            raise DamagedOutput(
                folder, f"cannot be created ({exc.strerror or exc})", "check its permissions"
            ) from None
    lock = check_dir / LOCK_FILE
    if lock.is_symlink() or (lock.exists() and not lock.is_file()):
        raise DamagedOutput(lock, "is not a plain file (the check's lock)", _MOVE)


def inspect_check_folder(check_dir: Path) -> bool:
    """Check the files of a check's folder that the engine replaces: ``history.json``, ``latest``.

    ``history.json`` must be a plain file (it is rebuilt from the run folders,
    so its contents do not matter); ``latest`` a link to ``runs/RUN``. A link
    to a run folder that is gone (moved away, as a damaged run's message
    advises) is stale, not damaged: the engine links it again.

    Returns
    -------
    bool
        Whether ``latest`` is stale (links to a run folder that is gone).

    Raises
    ------
    DamagedOutput
        Naming the file and what to do.
    """
    history = check_dir / HISTORY_JSON
    if history.is_symlink() or (history.exists() and not history.is_file()):
        raise DamagedOutput(
            history,
            "is not a plain file",
            f"{_MOVE}; mesalens rebuilds it from the run folders",
        )
    latest = check_dir / LATEST
    remedy = f"{_MOVE}; mesalens links it again to the newest run with a verdict"
    if not _exists(latest):
        return False
    if not latest.is_symlink():
        kind = "a folder" if latest.is_dir() else "a file"
        raise DamagedOutput(latest, f"is {kind}, not the link mesalens makes", remedy)
    target = os.readlink(latest)
    head, _, run = target.partition("/")
    if head != RUNS or not RUN_ID.fullmatch(run):
        raise DamagedOutput(latest, f"links to {target!r}, not to {RUNS}/RUN", remedy)
    return not _exists(check_dir / RUNS / run)


def _relink_latest(check_dir: Path, run_id: str | None) -> None:
    """Point ``latest`` at ``run_id`` (None: remove it)."""
    if run_id is not None:
        _point_latest(check_dir, run_id)
        return
    with contextlib.suppress(FileNotFoundError):
        (check_dir / LATEST).unlink()
    fsync_dir(check_dir)


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
