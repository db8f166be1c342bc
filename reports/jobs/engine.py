r"""Scheduled batch jobs: several checks from one job file, with a history of runs.

The job file (its TOML format and validation) is
:mod:`mesalens.reports.job_files`; the output folder (its layout, the run
records, each check's history and the index page) is
:mod:`mesalens.reports.jobs.index`. This module runs the checks of a job into
that folder and says how the job went.

Exit code of a job (first that applies):

====  ==================================================================
code  meaning
====  ==================================================================
1     a check failed (bad input, unreadable data, internal error): its
      error is in the history, the index and the log; the other checks ran.
      Also an invalid job file (nothing runs then).
6     a check's verdict changed against its previous run with a verdict
7     a check was skipped: another run of it holds its lock ("busy")
5     the worst verdict is ``invalid``
4     the worst verdict is ``none``
3     the worst verdict is ``some``
0     every check ran and every verdict is ``all``
====  ==================================================================

A check run with ``bootstrap = B`` also records whether its verdict is
stable under resampling (``stability`` in ``run.json``, ``history.json`` and
``index.json``; an "unstable" marker in ``index.html``; a warning in the
log). Stability does not change the exit code: as for a single
``mesalens run``, the code says which verdict was reached, and the marker
says how much to trust it.

A check run with the direct test (``direct_test = true``, the default) also
records whether the test contradicts a structural ``all``
(``direct_test`` = ``{"status", "reject", "contradicts"}`` in the same
three files, see :func:`direct_test_summary`; a "contradicted" marker in
``index.html``; a warning in the log and the summary). Like instability, a
contradiction does not change the exit code.

Guarantees, for running from cron or a workflow scheduler:

* **Atomic runs.** A run is written into ``runs/.RUN.partial/`` and renamed to
  ``runs/RUN/`` (an atomic rename) only once complete, ``run.json`` last; a
  run killed at any point leaves at most a ``.partial`` folder, which the
  index ignores and the next run of the check removes. ``index.html``,
  ``index.json``, ``history.json`` and ``run.json`` are written atomically
  (temporary file, fsync, rename) and ``latest`` is replaced atomically (a
  temporary symlink renamed over it), so none is ever truncated or missing
  once it exists.
* **One source of truth.** ``history.json`` and the index are rebuilt from the
  ``run.json`` files of the complete run folders, so they cannot disagree
  with them, and a run killed after its rename is listed by the next one.
* **Locks.** Each check has a lock file taken with a non-blocking
  :func:`fcntl.flock`: a run of a check that is already running elsewhere is
  skipped with ``another run of check X is in progress (pid N)`` instead of
  interleaving with it. The lock dies with its process; nothing to clean up.
* **Idempotent re-runs.** Running the same job again adds a new run folder
  (``-1``, ``-2`` ... when the second is the same) and rewrites the index; it
  never changes or removes a complete run.
* **Logs** are appended to ``DIR/mesalens.log`` (UTC timestamps, pid), with
  every location passed through :func:`~mesalens.connectors.redact_url`.

The checks themselves are run by a function passed in (``run_one``), so this
module does not depend on how a check runs; :func:`run_check` is the real
one (load the regimes, analyse, write the outputs).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import logging
import os
import re
import shutil
import signal
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mesalens.connectors.atomic import atomic_write_text
from mesalens.connectors.errors import InputError, MesalensError
from mesalens.connectors.regime import redact_url
from mesalens.pipeline.dask_client import connected_client
from mesalens.reports.cli_common import BadInput, one_line
from mesalens.reports.job_files import (
    CheckSpec,
    JobFile,
    load_job_file,
)
from mesalens.reports.jobs.folders import remove_temporaries
from mesalens.reports.jobs.index import collect_runs, previous_run, write_index
from mesalens.reports.jobs.layout import (
    HISTORY_JSON,
    INDEX_HTML,
    INDEX_JSON,
    LATEST,
    LOCK_FILE,
    LOG_FILE,
    PARTIAL_SUFFIX,
    RUN_JSON,
    RUNS,
    SCHEMA_VERSION,
    PreviousRun,
    iso_now,
    json_text,
)
from mesalens.reports.jobs.markers import is_contradicted, is_unstable, stability_words
from mesalens.reports.sections.direct_test import CONTRADICTION_WORDS, contradicts_all
from mesalens.reports.summary import EXIT_CODES

__all__ = [
    "EXIT_BUSY",
    "EXIT_CHANGED",
    "EXIT_FAILED",
    "CheckOutcome",
    "CheckSpec",
    "JobFile",
    "JobsOutcome",
    "PreviousRun",
    "RunOutcome",
    "Terminated",
    "direct_test_summary",
    "jobs_exit_code",
    "load_job_file",
    "run_check",
    "run_job_file",
    "run_jobs",
    "stability_summary",
    "verdict_change_note",
]

#: Exit code: a check failed, or the job file is invalid.
EXIT_FAILED = 1
#: Exit code: a verdict changed against the previous run of its check.
EXIT_CHANGED = 6
#: Exit code: a check was skipped because another run of it is in progress.
EXIT_BUSY = 7

_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"]+")
# Worst first, for the exit code of several verdicts.
_VERDICT_ORDER = ("invalid", "none", "some", "all")


# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class RunOutcome:
    """What ``run_one`` returns: the verdict of one check and its exact counts.

    Attributes
    ----------
    verdict : str
        ``all``, ``some``, ``none`` or ``invalid``.
    n_dags, n_hold, n_fail, n_invalid : int
        The counts of the check (exact integers of any size).
    notes : tuple of str
        Remarks worth logging (discovery notes, for example).
    stability : dict or None
        The verdict's stability under the bootstrap (see
        :func:`stability_summary`); None when the check ran no bootstrap.
    direct_test : dict or None
        The direct test's decision and whether it contradicts the verdict
        (see :func:`direct_test_summary`); None when the test did not run.
    """

    verdict: str
    n_dags: int = 0
    n_hold: int = 0
    n_fail: int = 0
    n_invalid: int = 0
    notes: tuple[str, ...] = ()
    stability: dict[str, Any] | None = None
    direct_test: dict[str, Any] | None = None

    @classmethod
    def from_check_result(
        cls,
        result: Any,
        notes: Sequence[str] = (),
        bootstrap: Any = None,
        direct_test: Any = None,
    ) -> RunOutcome:
        """Build from a :class:`~mesalens.pipeline.checker.CheckResult`.

        ``bootstrap`` is the run's :class:`~mesalens.pipeline.bootstrap.BootstrapResult`,
        if it ran one; ``direct_test`` its
        :class:`~mesalens.pipeline.direct_test.DirectTestResult`, if it ran the test.
        """
        return cls(
            verdict=result.verdict,
            n_dags=result.n_dags,
            n_hold=result.n_hold,
            n_fail=result.n_fail,
            n_invalid=result.n_invalid,
            notes=tuple(notes),
            stability=stability_summary(bootstrap),
            direct_test=direct_test_summary(
                None if direct_test is None else direct_test.as_dict(), result.verdict
            ),
        )


def stability_summary(bootstrap: Any) -> dict[str, Any] | None:
    """The ``stability`` of a run record: the bootstrap's verdict share against its threshold.

    Parameters
    ----------
    bootstrap : BootstrapResult or None
        The run's :class:`~mesalens.pipeline.bootstrap.BootstrapResult`.

    Returns
    -------
    dict or None
        ``{"stable", "share", "threshold", "replicates"}``, the same values
        as the ``bootstrap`` part of ``result.json``; None without a bootstrap.
    """
    if bootstrap is None:
        return None
    return {
        "stable": bool(bootstrap.stable),
        "share": float(bootstrap.main_share),
        "threshold": float(bootstrap.threshold),
        "replicates": int(bootstrap.replicates),
    }


def direct_test_summary(part: Mapping[str, Any] | None, verdict: str) -> dict[str, Any] | None:
    """The ``direct_test`` of a run record: the direct test's decision against the verdict.

    Parameters
    ----------
    part : mapping or None
        The ``direct_test`` part of the run's ``result.json``.
    verdict : str
        The run's structural verdict.

    Returns
    -------
    dict or None
        ``{"status", "reject", "contradicts"}``: ``status`` ``done`` or
        ``skipped`` (the logs could not support the test) and ``reject`` as
        in ``result.json``; ``contradicts`` is
        :func:`~mesalens.reports.sections.direct_test.contradicts_all`, the
        rule of the report's verdict card. None without a direct test.

    Examples
    --------
    >>> direct_test_summary({"status": "done", "reject": True}, "all")
    {'status': 'done', 'reject': True, 'contradicts': True}
    >>> direct_test_summary(None, "all") is None
    True
    """
    if part is None:
        return None
    return {
        "status": str(part.get("status", "done")),
        "reject": bool(part.get("reject")),
        "contradicts": contradicts_all(verdict, part),
    }


@dataclass(frozen=True)
class CheckOutcome:
    """How one check of a job went.

    Attributes
    ----------
    name : str
        The check.
    status : str
        ``ok`` (a verdict), ``error`` (the check failed) or ``busy`` (skipped:
        another run of it holds its lock).
    message : str or None
        The error or busy message (one line).
    record : dict or None
        The run record written to ``run.json`` (None when busy).
    folder : Path or None
        The run's folder (None when busy).
    """

    name: str
    status: str
    message: str | None = None
    record: dict[str, Any] | None = None
    folder: Path | None = None

    @property
    def verdict(self) -> str | None:
        """The verdict, or None if the check produced none."""
        return None if self.record is None else self.record.get("verdict")

    @property
    def previous_verdict(self) -> str | None:
        """The verdict of the previous run with a verdict, if any."""
        return None if self.record is None else self.record.get("previous_verdict")

    @property
    def changed(self) -> bool:
        """Whether the verdict differs from the previous run's."""
        return bool(self.record and self.record.get("changed"))

    @property
    def stability(self) -> dict[str, Any] | None:
        """The verdict's stability under the bootstrap, or None if none ran."""
        return None if self.record is None else self.record.get("stability")

    @property
    def unstable(self) -> bool:
        """Whether a bootstrap ran and found the verdict unstable."""
        return is_unstable(self.stability)

    @property
    def direct_test(self) -> dict[str, Any] | None:
        """The direct test's decision (:func:`direct_test_summary`), or None if it did not run."""
        return None if self.record is None else self.record.get("direct_test")

    @property
    def contradicted(self) -> bool:
        """Whether the direct test contradicts the structural ``all`` of this run."""
        return is_contradicted(self.direct_test)

    @property
    def exit_code(self) -> int:
        """The exit code of this check alone (see :func:`jobs_exit_code`)."""
        return jobs_exit_code([self])


@dataclass(frozen=True)
class JobsOutcome:
    """The result of :func:`run_jobs`.

    Attributes
    ----------
    checks : tuple of CheckOutcome
        One per check, in job-file order.
    exit_code : int
        See :func:`jobs_exit_code`.
    out_dir : Path
        The output folder (``index.html``, ``index.json``, ``mesalens.log``).
    """

    checks: tuple[CheckOutcome, ...]
    exit_code: int
    out_dir: Path

    @property
    def index_html(self) -> Path:
        """``DIR/index.html``."""
        return self.out_dir / INDEX_HTML

    @property
    def index_json(self) -> Path:
        """``DIR/index.json``."""
        return self.out_dir / INDEX_JSON

    @property
    def log_file(self) -> Path:
        """``DIR/mesalens.log``."""
        return self.out_dir / LOG_FILE

    def summary_lines(self) -> list[str]:
        """One line per check and a final line with the index and exit code, for a terminal.

        A check whose direct test contradicts its ``all`` gets a ``warning:``
        line after its own, in the words of ``mesalens run``.
        """
        lines = []
        for outcome in self.checks:
            if outcome.status == "ok":
                assert outcome.record is not None
                line = f"check {outcome.name}: verdict {outcome.verdict}"
                if outcome.changed:
                    line += f" (CHANGED from {outcome.previous_verdict})"
                if outcome.unstable:
                    line += f" (UNSTABLE: {stability_words(outcome.stability)})"
                lines.append(f"{line}; {outcome.folder}")
                if outcome.contradicted:
                    lines.append(f"warning: check {outcome.name}: {CONTRADICTION_WORDS}")
            else:
                lines.append(f"check {outcome.name}: {outcome.status}: {outcome.message}")
        lines.append(
            f"index: {self.index_html}; log: {self.log_file}; "
            f"exit code {self.exit_code} ({_exit_meaning(self.exit_code)})"
        )
        return lines


def jobs_exit_code(outcomes: Sequence[CheckOutcome]) -> int:
    """The exit code of a job: the first that applies of 1, 6, 7, 5, 4, 3, 0.

    1: a check failed; 6: a verdict changed against the check's previous run;
    7: a check was busy; else the worst verdict's code (``invalid`` 5,
    ``none`` 4, ``some`` 3, ``all`` 0). No checks gives 0.
    """
    if any(o.status == "error" for o in outcomes):
        return EXIT_FAILED
    if any(o.changed for o in outcomes):
        return EXIT_CHANGED
    if any(o.status == "busy" for o in outcomes):
        return EXIT_BUSY
    verdicts = {o.verdict for o in outcomes if o.verdict is not None}
    for verdict in _VERDICT_ORDER:
        if verdict in verdicts:
            return EXIT_CODES[verdict]
    return 0


def _exit_meaning(code: int) -> str:
    meanings = {
        EXIT_FAILED: "a check failed",
        EXIT_CHANGED: "a verdict changed",
        EXIT_BUSY: "a check was skipped: another run is in progress",
        **{value: f"worst verdict {verdict}" for verdict, value in EXIT_CODES.items()},
    }
    return meanings.get(code, "unknown")


def verdict_change_note(previous: PreviousRun | None, verdict: str) -> str | None:
    """A sentence for a report when ``verdict`` differs from the previous run's, else None."""
    if previous is None or previous.verdict == verdict:
        return None
    return (
        f"The verdict changed from {previous.verdict!r} (run {previous.run}, "
        f"finished {previous.finished}) to {verdict!r}."
    )


# --------------------------------------------------------------------------- running


def run_check(
    check: CheckSpec,
    folder: Path,
    *,
    write_outputs: Callable[..., Any],
    on_stage: Callable[[str], None] | None = None,
    on_test: Callable[[int, int], None] | None = None,
) -> RunOutcome:
    """The real ``run_one``: load the regimes, analyse, write the outputs into ``folder``.

    Parameters
    ----------
    check : CheckSpec
        The check.
    folder : Path
        Where the outputs go (the run's ``.partial`` folder).
    write_outputs : callable
        ``write_outputs(folder, analysis, data, settings, verdict_change=...)``, i.e.
        :func:`mesalens.reports.run_cli.write_run_outputs`.
    on_stage, on_test : callable, optional
        Progress callbacks passed to :func:`~mesalens.pipeline.analysis.analyze`.

    Returns
    -------
    RunOutcome
        The verdict, the counts and the discovery notes.

    Raises
    ------
    MesalensError
        On bad input or data (one-line message).
    """
    from mesalens.connectors import load_regimes
    from mesalens.pipeline.analysis import analyze

    data = load_regimes(
        list(check.regimes),
        regime_name=check.regime_name,
        columns=None if check.columns is None else list(check.columns),
        dtypes=None if check.dtypes is None else dict(check.dtypes),
        missing=check.missing,
        sample_rows=check.evidence.sample_rows,
        seed=check.settings.seed,
    )
    analysis = analyze(
        data,
        check.roles,
        check.settings,
        knowledge=check.load_knowledge(),
        evidence=check.evidence,
        on_stage=on_stage,
        on_test=on_test,
    )
    change = verdict_change_note(check.previous, analysis.check.verdict)
    write_outputs(folder, analysis, data, check.settings, verdict_change=change)
    return RunOutcome.from_check_result(
        analysis.check,
        notes=analysis.discovery.notes,
        bootstrap=analysis.bootstrap,
        direct_test=analysis.direct_test,
    )


def run_job_file(
    config_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None,
    *,
    run_one: Callable[[CheckSpec, Path], RunOutcome],
    scheduler: str | None = None,
    now: datetime | None = None,
) -> JobsOutcome:
    """Load a job file and run it: :func:`load_job_file`, a dask client, :func:`run_jobs`.

    Parameters
    ----------
    config_path : str or path-like
        The job file.
    out_dir : str or path-like or None
        The output folder; None uses the file's ``out`` key.
    run_one : callable
        Runs one check into a folder (:func:`run_check` with its
        ``write_outputs`` bound, or a fake in tests).
    scheduler : str, optional
        A dask.distributed address; overrides the file's ``scheduler``.
    now : datetime, optional
        The time that names the runs (default: now, UTC).

    Returns
    -------
    JobsOutcome
        Per-check outcomes and the exit code.

    Raises
    ------
    InputError
        If the job file is invalid, no output folder is given, or the
        scheduler cannot be reached (also logged when the folder is known).
    """
    job: JobFile | None = None
    target = None if out_dir is None else Path(out_dir)
    try:
        job = load_job_file(config_path)
        if target is None:
            if job.out is None:
                raise InputError(
                    f"no output folder: give --out DIR or out = 'DIR' in {os.fspath(config_path)!r}"
                )
            target = Path(job.out)
        with connected_client(scheduler or job.scheduler):
            return run_jobs(job, target, run_one=run_one, now=now)
    except InputError as exc:
        if target is not None:
            with contextlib.suppress(OSError), _job_logger(target) as log:
                log.error("job %s: %s", os.fspath(config_path), _redact_text(one_line(str(exc))))
        raise


def run_jobs(
    job_file: JobFile,
    out_dir: str | os.PathLike[str],
    *,
    run_one: Callable[[CheckSpec, Path], RunOutcome],
    now: datetime | None = None,
) -> JobsOutcome:
    """Run every check of a job, one after the other, each into a new run folder.

    See the module docstring for the guarantees and the exit codes, and
    :mod:`mesalens.reports.jobs.index` for the layout of ``out_dir``. A
    check that fails (``run_one`` raises) is recorded with status ``error``
    and the others still run; a check whose lock is held by another process
    is skipped (``busy``). The index is rewritten after every check.

    Parameters
    ----------
    job_file : JobFile
        The checks (from :func:`load_job_file`).
    out_dir : str or path-like
        The output folder; created if needed.
    run_one : callable
        ``run_one(check, folder) -> RunOutcome`` writes one check's outputs
        into ``folder`` (which exists) and returns its verdict and counts; it
        raises :class:`~mesalens.connectors.MesalensError` on bad input.
        ``check.previous`` is the previous run with a verdict, if any.
    now : datetime, optional
        The time that names this job's runs (default: now; naive means UTC).

    Returns
    -------
    JobsOutcome
        Per-check outcomes and the exit code.

    Raises
    ------
    OSError
        If the output folder, the index or a history cannot be written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stamp = _as_utc(now or datetime.now(UTC))
    base_id = stamp.strftime("%Y%m%dT%H%M%SZ")
    outcomes: list[CheckOutcome] = []
    with _job_logger(out) as log:
        log.info(
            "job %s: start, %d check(s): %s",
            job_file.source,
            len(job_file.checks),
            ", ".join(c.name for c in job_file.checks),
        )
        try:
            with _sigterm_raises():
                for check in job_file.checks:
                    outcomes.append(_run_one_check(check, out, base_id, run_one, log))
                    write_index(out)
        except BaseException as exc:
            cause = "SIGTERM" if isinstance(exc, Terminated) else type(exc).__name__
            log.error("job %s: stopped by %s", job_file.source, cause)
            raise
        code = jobs_exit_code(outcomes)
        log.info("job %s: done, exit code %d (%s)", job_file.source, code, _exit_meaning(code))
    return JobsOutcome(checks=tuple(outcomes), exit_code=code, out_dir=out)


class Terminated(SystemExit):
    """The job was sent SIGTERM; it exits with code 143 (128 + 15), as the signal would."""


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` while the checks run.

    SIGTERM is what cron's and systemd's stops and Airflow's timeouts send.
    Its default action ends the process on the spot; raised as an exception
    instead, it leaves the same trace as Ctrl-C: a "stopped by" line in the
    log, the lock released, and only a hidden ``.partial`` folder, which the
    next run removes. (Signals can only be handled on the main thread.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise Terminated(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_one_check(
    check: CheckSpec,
    out: Path,
    base_id: str,
    run_one: Callable[[CheckSpec, Path], RunOutcome],
    log: logging.Logger,
) -> CheckOutcome:
    """Run one check under its lock into a new run folder; never raises for the check's errors."""
    check_dir = out / check.name
    runs_dir = check_dir / RUNS
    runs_dir.mkdir(parents=True, exist_ok=True)
    with _try_lock(check_dir / LOCK_FILE) as holder:
        if holder is not None:
            message = f"another run of check {check.name} is in progress (pid {holder})"
            log.warning("check %s: busy: %s; skipped", check.name, message)
            return CheckOutcome(name=check.name, status="busy", message=message)
        remove_temporaries(check_dir, (f".{HISTORY_JSON}.", f".{LATEST}."))
        for stale in _partials(runs_dir):
            shutil.rmtree(stale, ignore_errors=True)
            log.warning(
                "check %s: removed %s/%s, left by a run that did not finish",
                check.name,
                RUNS,
                stale.name,
            )
        records = collect_runs(check_dir, log=log)
        previous = previous_run(records)
        run_id = _unique_run_id(runs_dir, base_id)
        seq = max((r.get("seq", 0) for r in records), default=0) + 1
        partial = runs_dir / f".{run_id}{PARTIAL_SUFFIX}"
        partial.mkdir()
        description = check.describe()
        log.info(
            "check %s: start run %s (regimes %s; method %s)",
            check.name,
            run_id,
            ", ".join(f"{k}={v}" for k, v in description["regimes"].items()),
            check.settings.method,
        )
        started = iso_now()
        clock = time.monotonic()
        result: RunOutcome | None = None
        error: str | None = None
        try:
            result = run_one(dataclasses.replace(check, previous=previous), partial)
            _validate_outcome(result)
        except (MesalensError, BadInput) as exc:
            error = _redact_text(one_line(str(exc)))
        except OSError as exc:
            where = f": {exc.filename!r}" if exc.filename else ""
            error = _redact_text(one_line(f"{exc.strerror or exc}{where}"))
        except Exception as exc:
            error = _redact_text(one_line(f"internal error: {type(exc).__name__}: {exc}"))
            log.error("check %s: traceback:\n%s", check.name, _redact_text(traceback.format_exc()))
        if error is not None:
            # What run_one wrote before failing may be incomplete: keep only the record.
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
        record = _run_record(
            check.name, run_id, seq, started, time.monotonic() - clock, result, error, previous
        )
        record["files"] = sorted([*(p.name for p in partial.iterdir()), RUN_JSON])
        record["config"] = description
        atomic_write_text(partial / RUN_JSON, json_text(record))
        final = runs_dir / run_id
        os.rename(partial, final)
        _fsync_dir(runs_dir)
        if error is None:
            _point_latest(check_dir, run_id)
        atomic_write_text(
            check_dir / HISTORY_JSON,
            json_text(
                {
                    "schema_version": SCHEMA_VERSION,
                    "check": check.name,
                    "runs": [*records, record],
                }
            ),
        )
    if error is not None:
        log.error("check %s: run %s failed: %s", check.name, run_id, error)
        return CheckOutcome(
            name=check.name, status="error", message=error, record=record, folder=final
        )
    assert result is not None
    for note in result.notes:
        log.info("check %s: note: %s", check.name, _redact_text(one_line(note)))
    counts = ", ".join(f"{k}={record[k]}" for k in ("n_dags", "n_hold", "n_fail", "n_invalid"))
    if record["changed"]:
        log.warning(
            "check %s: run %s: verdict %s CHANGED from %s (run %s); %s",
            check.name,
            run_id,
            result.verdict,
            record["previous_verdict"],
            record["previous_run"],
            counts,
        )
    else:
        log.info("check %s: run %s: verdict %s; %s", check.name, run_id, result.verdict, counts)
    outcome = CheckOutcome(name=check.name, status="ok", record=record, folder=final)
    if outcome.unstable:
        log.warning(
            "check %s: run %s: verdict %s is UNSTABLE: %s",
            check.name,
            run_id,
            result.verdict,
            stability_words(outcome.stability),
        )
    if outcome.contradicted:
        log.warning(
            "check %s: run %s: verdict %s is CONTRADICTED: %s",
            check.name,
            run_id,
            result.verdict,
            CONTRADICTION_WORDS,
        )
    return outcome


_STABILITY_NUMBERS = ("share", "threshold", "replicates")


def _validate_outcome(result: Any) -> None:
    if not isinstance(result, RunOutcome):
        raise TypeError(f"run_one returned {type(result).__name__}, not a RunOutcome")
    if result.verdict not in EXIT_CODES:
        raise ValueError(f"run_one returned the verdict {result.verdict!r}")
    for name in ("n_dags", "n_hold", "n_fail", "n_invalid"):
        value = getattr(result, name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"run_one returned {name}={value!r}, not an integer")
    stability = result.stability
    if stability is not None and not (
        isinstance(stability, dict)
        and isinstance(stability.get("stable"), bool)
        and all(isinstance(stability.get(key), int | float) for key in _STABILITY_NUMBERS)
    ):
        raise TypeError(f"run_one returned stability={stability!r}, not a stability_summary")
    direct = result.direct_test
    if direct is not None and not (
        isinstance(direct, dict)
        and isinstance(direct.get("status"), str)
        and isinstance(direct.get("reject"), bool)
        and isinstance(direct.get("contradicts"), bool)
    ):
        raise TypeError(f"run_one returned direct_test={direct!r}, not a direct_test_summary")


def _run_record(
    name: str,
    run_id: str,
    seq: int,
    started: str,
    duration: float,
    result: RunOutcome | None,
    error: str | None,
    previous: PreviousRun | None,
) -> dict[str, Any]:
    ok = error is None and result is not None
    verdict = result.verdict if ok and result is not None else None
    return {
        "schema_version": SCHEMA_VERSION,
        "check": name,
        "run": run_id,
        "seq": seq,
        "status": "ok" if ok else "error",
        "started": started,
        "finished": iso_now(),
        "duration_s": round(duration, 3),
        "verdict": verdict,
        "n_dags": result.n_dags if ok and result is not None else None,
        "n_hold": result.n_hold if ok and result is not None else None,
        "n_fail": result.n_fail if ok and result is not None else None,
        "n_invalid": result.n_invalid if ok and result is not None else None,
        "stability": result.stability if ok and result is not None else None,
        "direct_test": result.direct_test if ok and result is not None else None,
        "previous_run": None if previous is None else previous.run,
        "previous_verdict": None if previous is None else previous.verdict,
        "changed": bool(ok and previous is not None and previous.verdict != verdict),
        "error": error,
    }


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
    _fsync_dir(check_dir)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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


# --------------------------------------------------------------------------- helpers


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _redact_text(text: str) -> str:
    """Hide the credentials of every URL in a free text (error messages, tracebacks)."""
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)


class _UTCFormatter(logging.Formatter):
    converter = time.gmtime


@contextlib.contextmanager
def _job_logger(out: Path) -> Iterator[logging.Logger]:
    """A logger that appends to ``out/mesalens.log`` while the block runs.

    The logger is private to this call (not registered with :mod:`logging`),
    so two jobs in one process never write into each other's files and
    nothing reaches the application's own handlers.
    """
    out.mkdir(parents=True, exist_ok=True)
    logger = logging.Logger("mesalens.jobs", level=logging.INFO)
    handler = logging.FileHandler(out / LOG_FILE, mode="a", encoding="utf-8")
    handler.setFormatter(
        _UTCFormatter("%(asctime)sZ %(levelname)s pid=%(process)d %(message)s", "%Y-%m-%dT%H:%M:%S")
    )
    logger.addHandler(handler)
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        handler.close()
