"""Where parallel work runs: the active dask.distributed client, if any."""

from __future__ import annotations

from typing import Any

__all__ = ["active_client"]


def active_client() -> Any | None:
    """The dask.distributed client in use (``Client(...)`` or ``--scheduler``), or None."""
    try:
        from distributed import default_client
    except ImportError:  # pragma: no cover - distributed is a dependency
        return None
    try:
        return default_client()
    except ValueError:
        return None
