"""One run on logs from validated settings: what ``mesalens run`` and ``mesalens.run`` call.

Both build a :class:`~mesalens.reports.checks.config.RunConfig` with
:func:`~mesalens.reports.checks.config.parse_run_config` (the command line
from its flags and ``--config``, the Python API from its keyword arguments
and ``config=``; one options table, :mod:`.options`) and hand it to
:func:`run_one`, which connects to the dask scheduler if one is named, runs
the one runner (:func:`~mesalens.reports.checks.runner.run_check`) and
returns a :class:`~mesalens.reports.checks.results.RunResult`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mesalens.pipeline.dask_client import connected_client
from mesalens.reports.checks.config import RunConfig
from mesalens.reports.checks.results import RunResult
from mesalens.reports.checks.runner import run_check

__all__ = ["run_one"]


def run_one(
    run: RunConfig,
    *,
    out: Path | None,
    on_stage: Callable[[str], None] | None = None,
    on_test: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Load, analyse and (with ``out``) write one check.

    Parameters
    ----------
    run : RunConfig
        The validated check, its scheduler address and output folder.
    out : Path or None
        Where to write ``result.json``, ``graph.txt``, ``graph.json`` and
        ``report.html``; None writes nothing (``RunResult.save`` can later).
    on_stage, on_test : callable, optional
        Progress callbacks (see :func:`~mesalens.reports.checks.runner.run_check`).

    Returns
    -------
    RunResult

    Raises
    ------
    MesalensError
        On bad input or data (one-line message); nothing is written then.
    OSError
        When the outputs cannot be written.
    """
    with connected_client(run.scheduler):
        done = run_check(run.check, out, on_stage=on_stage, on_test=on_test)
    return RunResult(done, run.check.settings)
