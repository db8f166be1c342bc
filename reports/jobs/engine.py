r"""Scheduled batch jobs: several checks from one job file, with a history of runs.

The job file (its TOML format and validation) is
:mod:`mesalens.reports.jobs.job_file`; the output folder's layout and run records
are :mod:`mesalens.reports.jobs.layout`, each check's history and the index
page :mod:`mesalens.reports.jobs.index`. This module runs the checks of a job
into that folder (with the folder operations of
:mod:`mesalens.reports.jobs.folders`) and logs them; how the job went and its
exit code are :mod:`mesalens.reports.jobs.outcome`.

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
* **Damage by hand fails one check.** Everything read back from the output
  folder is checked first (:func:`~mesalens.reports.jobs.folders.ensure_check_folder`,
  :func:`~mesalens.reports.jobs.folders.inspect_check_folder`, each ``run.json``
  by :func:`~mesalens.reports.jobs.index.read_run_record`): a damaged file
  fails its check with one line naming it and what to do
  (:class:`~mesalens.reports.jobs.layout.DamagedOutput`), and the other checks
  run; the files of the whole job (index, log, index lock) and the output
  paths are checked before any check runs
  (:func:`~mesalens.reports.jobs.folders.inspect_job_folder`,
  :func:`~mesalens.reports.checks.output_paths.check_output_paths`).

The checks themselves are run by a function passed in (``run_one``), so this
module does not depend on how a check runs; :func:`run_check` is the real
one (load the regimes, analyse, write the outputs).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import shutil
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mesalens.connectors.atomic import atomic_write_text, fsync_dir
from mesalens.connectors.errors import InputError, MesalensError, one_line
from mesalens.connectors.redaction import redact_url, scrub_secrets
from mesalens.pipeline.dask_client import connected_client
from mesalens.reports.checks.config import CheckSpec
from mesalens.reports.checks.output_paths import check_inputs, check_output_paths
from mesalens.reports.jobs.folders import (
    _partials,
    _point_latest,
    _relink_latest,
    _try_lock,
    _unique_run_id,
    ensure_check_folder,
    inspect_check_folder,
    inspect_job_folder,
    remove_temporaries,
)
from mesalens.reports.jobs.index import collect_runs, previous_run, write_index
from mesalens.reports.jobs.job_file import JobFile, load_job_file
from mesalens.reports.jobs.layout import (
    HISTORY_JSON,
    LATEST,
    LOCK_FILE,
    LOG_FILE,
    PARTIAL_SUFFIX,
    RUN_JSON,
    RUNS,
    SCHEMA_VERSION,
    DamagedOutput,
    iso_now,
    json_text,
)
from mesalens.reports.jobs.outcome import (
    CheckOutcome,
    JobsOutcome,
    RunOutcome,
    _exit_meaning,
    _run_record,
    _validate_outcome,
    jobs_exit_code,
    verdict_change_note,
)
from mesalens.reports.vocabulary import (
    CONTRADICTION_WORDS,
    NOT_CONFIRMED,
    SMALL_GAP_WORDS,
    stability_words,
)

__all__ = [
    "Terminated",
    "run_check",
    "run_job_file",
    "run_jobs",
]

_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"]+")


# --------------------------------------------------------------------------- running


def run_check(
    check: CheckSpec,
    folder: Path,
    *,
    on_stage: Callable[[str], None] | None = None,
    on_test: Callable[[int, int], None] | None = None,
) -> RunOutcome:
    """The real ``run_one``: the one runner on a check, its outcome for the job's records.

    Parameters
    ----------
    check : CheckSpec
        The check (with the previous run filled in by :func:`run_jobs`).
    folder : Path
        Where the outputs go (the run's ``.partial`` folder).
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
    # The runner loads the data pipeline; a job file that fails validation never needs it.
    from mesalens.reports.checks.runner import run_check as run_one_check

    run = run_one_check(
        check,
        folder,
        on_stage=on_stage,
        on_test=on_test,
        verdict_change=lambda verdict: verdict_change_note(check.previous, verdict),
    )
    analysis = run.analysis
    data_notes = (*(f"warning: {w}" for w in run.data.warnings), *run.data.notes)
    return RunOutcome.from_check_result(
        analysis.check,
        notes=(*data_notes, *analysis.discovery.notes),
        bootstrap=analysis.bootstrap,
        direct_test=analysis.direct_test,
        confirmation=analysis.confirmation,
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
        Runs one check into a folder (:func:`run_check`, or a fake in tests).
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
        If the job file is invalid, no output folder is given, the output
        folder clashes with an input or is a file
        (:func:`~mesalens.reports.checks.output_paths.check_output_paths`),
        or the scheduler cannot be reached (also logged when the folder is
        known and may be written).
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
            where = f"out in {os.fspath(config_path)!r}"
        else:
            where = "--out"
        inputs = [
            ("job file", os.fspath(config_path)),
            *(item for check in job.checks for item in check_inputs(check)),
        ]
        try:
            check_output_paths([(where, target, "folder")], inputs)
        except InputError:
            target = None  # nothing is written where an output may not go, not even the log
            raise
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

    See the module docstring for the guarantees,
    :mod:`mesalens.reports.jobs.outcome` for the exit codes and
    :mod:`mesalens.reports.jobs.layout` for the layout of ``out_dir``. A
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
    inspect_job_folder(out)
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
                    outcomes.append(_run_guarded(check, out, base_id, run_one, log))
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


def _run_guarded(
    check: CheckSpec,
    out: Path,
    base_id: str,
    run_one: Callable[[CheckSpec, Path], RunOutcome],
    log: logging.Logger,
) -> CheckOutcome:
    """:func:`_run_one_check`, a damaged or unwritable check folder failing only this check."""
    try:
        return _run_one_check(check, out, base_id, run_one, log)
    except DamagedOutput as exc:
        message = _redact_text(one_line(str(exc)))
    except OSError as exc:
        where = f" {exc.filename!r}" if exc.filename else ""
        message = _redact_text(
            one_line(f"cannot write{where} ({exc.strerror or exc}); check or move it away")
        )
    log.error("check %s: not run: %s", check.name, message)
    return CheckOutcome(name=check.name, status="error", message=message)


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
    ensure_check_folder(check_dir)
    with _try_lock(check_dir / LOCK_FILE) as holder:
        if holder is not None:
            message = f"another run of check {check.name} is in progress (pid {holder})"
            log.warning("check %s: busy: %s; skipped", check.name, message)
            return CheckOutcome(name=check.name, status="busy", message=message)
        records = collect_runs(check_dir)
        previous = previous_run(records)
        if inspect_check_folder(check_dir):
            _relink_latest(check_dir, None if previous is None else previous.run)
            log.warning(
                "check %s: %s linked to a run folder that is gone; linked again to %s",
                check.name,
                LATEST,
                "nothing" if previous is None else f"{RUNS}/{previous.run}",
            )
        remove_temporaries(check_dir, (f".{HISTORY_JSON}.", f".{LATEST}."))
        for stale in _partials(runs_dir):
            shutil.rmtree(stale, ignore_errors=True)
            log.warning(
                "check %s: removed %s/%s, left by a run that did not finish",
                check.name,
                RUNS,
                stale.name,
            )
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
        except MesalensError as exc:
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
        fsync_dir(runs_dir)
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
    if outcome.gate == NOT_CONFIRMED:
        log.warning(
            "check %s: run %s: verdict all is NOT CONFIRMED by the logs: %s",
            check.name,
            run_id,
            _redact_text("; ".join((outcome.confirmation or {}).get("reasons") or [])),
        )
    if outcome.unstable:
        log.warning(
            "check %s: run %s: verdict %s is UNSTABLE: %s",
            check.name,
            run_id,
            result.verdict,
            stability_words(outcome.stability),
        )
    if outcome.contradiction_alarm:
        log.warning(
            "check %s: run %s: verdict %s is CONTRADICTED: %s",
            check.name,
            run_id,
            result.verdict,
            CONTRADICTION_WORDS,
        )
    elif outcome.contradicted:
        log.info("check %s: run %s: %s", check.name, run_id, SMALL_GAP_WORDS)
    return outcome


# --------------------------------------------------------------------------- helpers


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _redact_text(text: str) -> str:
    """Hide the credentials of every URL, and every regime's secret, in a free text."""
    return scrub_secrets(_URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text))


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
