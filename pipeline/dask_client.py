"""Where parallel work runs: the active dask.distributed client, if any.

:func:`connected_client` is the one place that connects to a scheduler
(``--scheduler`` of ``run`` and ``simulate``, a job file's ``scheduler``);
:func:`active_client` tells the stages whether one is in use.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import dask

from mesalens.connectors.dask_scheduler import client_may_exist
from mesalens.connectors.regime import redact_url
from mesalens.pipeline.errors import InputError

__all__ = ["SchedulerError", "active_client", "connected_client"]


class SchedulerError(InputError):
    """The dask scheduler named by the user cannot be reached."""


def active_client() -> Any | None:
    """The dask.distributed client in use (``Client(...)`` or ``--scheduler``), or None."""
    if not client_may_exist():
        return None
    try:
        from distributed import default_client
    except ImportError:  # pragma: no cover - distributed is a dependency
        return None
    try:
        return default_client()
    except ValueError:
        return None


@contextlib.contextmanager
def connected_client(address: str | None, *, timeout: str = "10s") -> Iterator[Any | None]:
    """Connect to the scheduler at ``address`` for the duration of the block.

    Parameters
    ----------
    address : str or None
        A scheduler address such as ``tcp://HOST:8786``; ``None`` or ``""``
        runs without a client (dask's local schedulers).
    timeout : str, default "10s"
        How long to try to connect.

    Yields
    ------
    distributed.Client or None
        The client, the default for dask while the block runs.

    Raises
    ------
    SchedulerError
        If the address is malformed or no scheduler answers there.
    """
    if not address:
        yield None
        return
    from distributed import Client

    saved, previous = dask.config.get("scheduler", None), active_client()
    try:
        client = Client(address, timeout=timeout, set_as_default=True)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = str(exc)
    else:
        with client:
            yield client
        return
    # A Client that fails after making itself the default leaves dask's
    # scheduler set to "dask.distributed" and itself registered as the
    # global client, so every later compute in the process would wait on a
    # scheduler that is not there: undo both.
    if saved is None:
        dask.config.config.pop("scheduler", None)
    else:
        dask.config.set(scheduler=saved)
    stale = active_client()
    if stale is not None and stale is not previous:
        stale.close()
    raise SchedulerError(
        f"cannot reach the dask scheduler at {redact_url(address)!r} ({reason}); "
        "check the address (e.g. tcp://HOST:8786) and that the scheduler is running"
    )
