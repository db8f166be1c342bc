"""The folder transactions of a job: run folders, the ``latest`` link, locks, leftovers."""

from __future__ import annotations

import contextlib
from pathlib import Path

__all__ = ["remove_temporaries"]


def remove_temporaries(folder: Path, prefixes: tuple[str, ...]) -> None:
    """Remove the temporary files of atomic writes that a killed process left in ``folder``.

    Only called under the lock that every writer of those files holds.
    """
    for path in folder.iterdir():
        if path.name.startswith(prefixes) and path.name.endswith(".tmp"):
            with contextlib.suppress(OSError):
                path.unlink()
