"""One run on logs from validated settings: what ``mesalens run`` and ``mesalens.run`` call.

Both build a :class:`~mesalens.reports.checks.config.RunConfig` with
:func:`~mesalens.reports.checks.config.parse_run_config` (the command line
from its flags and ``--config``, the Python API from its keyword arguments
and ``config=``; one options table, :mod:`.options`) and hand it to
:func:`run_one`, which connects to the dask scheduler if one is named, runs
the one runner (:func:`~mesalens.reports.checks.runner.run_check`) and
returns a :class:`~mesalens.reports.checks.results.RunResult`. Before any
work it refuses an output folder that is a file or holds an input
(:func:`~mesalens.reports.checks.output_paths.check_output_paths`), for the
API as for the command line.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from mesalens.pipeline.dask_client import connected_client
from mesalens.reports.checks.config import RunConfig
from mesalens.reports.checks.output_paths import check_inputs, check_output_paths
from mesalens.reports.checks.results import RunResult
from mesalens.reports.checks.runner import run_check

__all__ = ["run_one"]


def run_one(
    run: RunConfig,
    *,
    out: str | os.PathLike[str] | None,
    out_option: str = "out",
    config_file: str | None = None,
    on_stage: Callable[[str], None] | None = None,
    on_test: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Load, analyse and (with ``out``) write one check.

    Parameters
    ----------
    run : RunConfig
        The validated check, its scheduler address and output folder.
    out : str, path or None
        Where to write ``result.json``, ``graph.txt``, ``graph.json`` and
        ``report.html``; None writes nothing (``RunResult.save`` can later).
    out_option : str
        What named ``out`` (``--out``, ``out``), for the error messages.
    config_file : str, optional
        The TOML file the settings came from: an input ``out`` must not hold.
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
    inputs = [*check_inputs(run.check), *([("config file", config_file)] if config_file else [])]
    if out is not None:
        # The path as given, so that a refusal quotes what the user wrote.
        check_output_paths([(out_option, out, "folder")], inputs)
    folder = None if out is None else Path(os.fspath(out))
    with connected_client(run.scheduler):
        done = run_check(run.check, folder, on_stage=on_stage, on_test=on_test)
    return RunResult(done, run.check.settings, inputs)
