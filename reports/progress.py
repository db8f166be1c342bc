"""Progress display for long runs: reading, statistics, CI tests, the direct test's pairs.

Progress goes to stderr through rich, and only when stderr is a terminal
(scheduled jobs get clean logs). Dask tasks run on the local schedulers are
followed with a :class:`dask.callbacks.Callback`; on a dask.distributed
cluster the dashboard is the place to watch them, and this display shows the
stage only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dask.callbacks import Callback
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

__all__ = ["CountColumn", "RunProgress", "run_progress"]

# The bootstrap's stage names (mesalens.pipeline.bootstrap): the resamples to
# check, then about ten updates of how many are done. They drive one bar.
_RESAMPLES = re.compile(r"bootstrap: discovery and check of (\d+) resamples")
_RESAMPLES_DONE = re.compile(r"bootstrap: (\d+)/(\d+) resamples checked")


class CountColumn(ProgressColumn):
    """``12/30`` when the total is known, ``85`` when only a count is, nothing for a bare stage.

    (rich's ``MofNCompleteColumn`` shows ``0/?`` for a stage that counts nothing.)
    """

    def render(self, task: Task) -> Text:
        """The count of ``task``."""
        done = int(task.completed)
        if task.total is not None:
            return Text(f"{done}/{int(task.total)}", style="progress.download")
        return Text(str(done) if done else "", style="progress.download")


class _DaskTasks(Callback):
    """Advance a rich task as dask finishes tasks of a local computation."""

    def __init__(self, progress: Progress, task: Any):
        super().__init__()
        self._progress, self._task = progress, task

    def _start_state(self, dsk: Any, state: Any) -> None:
        total = sum(len(state[key]) for key in ("ready", "waiting", "running", "finished"))
        self._progress.update(self._task, total=total, completed=0)

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        self._progress.advance(self._task)


class RunProgress:
    """What the pipeline calls back: stage changes and CI tests."""

    def __init__(self, progress: Progress | None):
        self._progress = progress
        self._stage_task: Any = None
        self._stage_name: str | None = None
        self._tests_task: Any = None

    def stage(self, name: str) -> None:
        """A new stage started (``statistics``, ``discovery``, ``check``...).

        ``STAGE (how far)`` after ``STAGE`` updates that stage's line instead.
        """
        if self._progress is None:
            return
        done = _RESAMPLES_DONE.fullmatch(name)
        if done is not None and self._stage_task is not None:
            # The bootstrap's progress moves its own bar; it is not a new stage.
            self._progress.update(
                self._stage_task, completed=int(done.group(1)), total=int(done.group(2))
            )
            return
        if (
            self._stage_task is not None
            and self._stage_name is not None
            and name.startswith(f"{self._stage_name} (")
        ):
            # The same stage, how far it got ("direct test (regime pairs 40/199)").
            self._progress.update(self._stage_task, description=name)
            return
        self._stage_name = name
        for task in (self._stage_task, self._tests_task):
            if task is not None:  # a finished stage (and its CI tests) leave the display
                self._progress.update(task, visible=False)
        self._tests_task = None
        resamples = _RESAMPLES.fullmatch(name)
        if resamples is not None:
            self._stage_task = self._progress.add_task(
                "bootstrap: resamples checked", total=int(resamples.group(1))
            )
            return
        self._stage_task = self._progress.add_task(name, total=None)
        if name == "discovery":
            self._tests_task = self._progress.add_task("CI tests", total=None)

    def ci_test(self, done: int, depth: int) -> None:
        """One more CI test (``depth`` = size of its conditioning set)."""
        if self._progress is not None and self._tests_task is not None:
            self._progress.update(
                self._tests_task, completed=done, description=f"CI tests (depth {depth})"
            )


@contextmanager
def run_progress(console: Console, enabled: bool) -> Iterator[RunProgress]:
    """Show progress on ``console`` while the block runs (nothing when disabled)."""
    if not enabled or not console.is_terminal:
        yield RunProgress(None)
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        CountColumn(),  # "12/30" resamples, "85" CI tests, nothing for a bare stage
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        tasks = progress.add_task("dask tasks", total=None)
        with _DaskTasks(progress, tasks):
            yield RunProgress(progress)
