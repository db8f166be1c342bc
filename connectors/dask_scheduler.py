"""Which dask scheduler a ``dask.compute`` call runs on when none is named.

With no scheduler configured, ``dask.compute`` imports ``dask.distributed``
to look for a client; that import alone costs ~0.25 s, a noticeable share of
a run over a few million rows. A client can only exist once ``distributed``
has been imported (by the user, ``--scheduler`` or a ``LocalCluster``), so
until then the answer is known without asking: dask's threads, handed to
``dask.compute`` as the function itself (given the *name* ``"threads"``,
dask still imports ``distributed`` to check it against a client).

A configured scheduler is always left to dask:

>>> with dask.config.set(scheduler="synchronous"):
...     compute_scheduler() is None
True
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import dask
import dask.threaded

__all__ = ["client_may_exist", "compute_scheduler"]


def client_may_exist() -> bool:
    """Whether a dask.distributed client can be in use in this process."""
    return "distributed" in sys.modules


def compute_scheduler() -> Callable[..., Any] | None:
    """The ``scheduler=`` for ``dask.compute``: dask's threads when nothing else can apply.

    Returns
    -------
    callable or None
        :func:`dask.threaded.get` when no scheduler is configured and no
        client can exist; ``None`` otherwise, so a configured scheduler or an
        active client is used exactly as dask would use it.
    """
    if dask.config.get("scheduler", None) is not None or client_may_exist():
        return None
    return dask.threaded.get
