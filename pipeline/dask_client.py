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
from mesalens.connectors.redaction import redact_url
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

    seconds = float(dask.utils.parse_timedelta(timeout))
    reason = _scheduler_problem(address, seconds)
    if reason is not None:
        raise SchedulerError(_unreachable(address, reason))
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
    raise SchedulerError(_unreachable(address, reason))


def _unreachable(address: str, reason: str) -> str:
    """The one-line message for a scheduler that cannot be used, credentials hidden."""
    shown = redact_url(address)
    # distributed's reasons quote the address, sometimes without its scheme.
    for raw, safe in ((address, shown), (address.split("://", 1)[-1], shown.split("://", 1)[-1])):
        reason = reason.replace(raw, safe)
    return (
        f"cannot reach the dask scheduler at {shown!r} ({' '.join(reason.split())}); "
        "check the address (e.g. tcp://HOST:8786) and that the scheduler is running"
    )


def _scheduler_problem(address: str, seconds: float) -> str | None:
    """Ask ``address`` who it is, within ``seconds`` in all; why it cannot be used, or None.

    ``Client(address, timeout=...)`` bounds only the TCP connection: a server
    that accepts and never answers would hang the run (and a nightly job)
    for good, and one that answers something else can make distributed try to
    allocate exabytes. So the scheduler is asked for its identity first, on a
    thread of its own with an overall deadline: anything but a dask
    scheduler's reply in time is a reason.
    """
    import asyncio
    import threading

    from distributed.comm import connect
    from distributed.security import Security

    # The TLS settings a Client would use (dask's config), so tls:// works too.
    connection_args = Security().get_connection_args("client")

    async def identity() -> Any:
        comm = await connect(address, timeout=seconds, **connection_args)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    outcome: dict[str, Any] = {}

    def ask() -> None:
        try:
            outcome["reply"] = asyncio.run(asyncio.wait_for(identity(), seconds))
        except BaseException as exc:  # every failure is a reason to report
            outcome["error"] = exc

    asking = threading.Thread(target=ask, name="mesalens-scheduler-probe", daemon=True)
    asking.start()
    asking.join(seconds + 5)
    if asking.is_alive():
        return f"no answer within {seconds:g} s"
    error = outcome.get("error")
    if isinstance(error, TimeoutError | asyncio.TimeoutError):
        return f"no answer within {seconds:g} s"
    if isinstance(error, OSError | ValueError):
        return str(error) or type(error).__name__
    if error is not None:
        return "the server there does not speak dask's protocol"
    reply = outcome.get("reply")
    if not (isinstance(reply, dict) and reply.get("type") == "Scheduler"):
        return "the server there is not a dask scheduler"
    return None
