"""The history and the index of a job's output folder, read back from its run folders.

:func:`collect_runs` reads a check's run records from its complete run folders
(the layout is :mod:`mesalens.reports.jobs.layout`) and :func:`build_index`
those of every check, so the history and the index cannot disagree with the
runs on disk; :mod:`mesalens.reports.jobs.engine` writes the run folders and
calls :func:`write_index` after every check, which rewrites ``index.json``
and ``index.html`` (:mod:`mesalens.reports.jobs.index_html`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mesalens.connectors.atomic import atomic_write_text
from mesalens.connectors.errors import one_line
from mesalens.reports.jobs.folders import remove_temporaries
from mesalens.reports.jobs.index_html import render_index_html
from mesalens.reports.jobs.layout import (
    CHECK_NAME,
    INDEX_HTML,
    INDEX_JSON,
    INDEX_LOCK,
    RUN_ID,
    RUN_JSON,
    RUNS,
    SCHEMA_VERSION,
    DamagedOutput,
    PreviousRun,
    iso_now,
    json_text,
    record_problem,
)
from mesalens.reports.jobs.trends import TREND_RUNS, TRENDS_JSON, cached_trend_points
from mesalens.reports.vocabulary import EXIT_CODES

__all__ = ["build_index", "collect_runs", "previous_run", "read_run_record", "write_index"]


def collect_runs(check_dir: Path, *, damaged: list[str] | None = None) -> list[dict[str, Any]]:
    """The run records of a check, oldest first, read from its complete run folders.

    ``.partial`` folders are skipped. A run folder whose ``run.json`` cannot be
    read or is not a run record (:func:`~mesalens.reports.jobs.layout.record_problem`)
    is damaged: with ``damaged`` None that raises; otherwise its message is
    appended to ``damaged`` and the folder skipped (what the index does, so
    that one damaged check does not hide the others).

    Parameters
    ----------
    check_dir : Path
        ``DIR/CHECK``.
    damaged : list of str, optional
        Collects the messages of damaged run folders instead of raising.

    Returns
    -------
    list of dict
        Sorted by ``seq``, then by run name.

    Raises
    ------
    DamagedOutput
        If a run folder is damaged and ``damaged`` is None.
    """
    runs_dir = check_dir / RUNS
    records: list[dict[str, Any]] = []
    if not runs_dir.is_dir():
        return records
    try:
        entries = sorted(runs_dir.iterdir())
    except OSError as exc:
        problem = DamagedOutput(runs_dir, f"cannot be listed ({exc.strerror or exc})", "fix it")
        if damaged is None:
            raise problem from None
        damaged.append(str(problem))
        return records
    for folder in entries:
        if folder.name.startswith(".") or not RUN_ID.fullmatch(folder.name):
            continue
        try:
            record = read_run_record(folder)
        except DamagedOutput as exc:
            if damaged is None:
                raise
            damaged.append(str(exc))
            continue
        record["run"] = folder.name
        records.append(record)
    records.sort(key=lambda r: (_int(r.get("seq")), _run_sort_key(r["run"])))
    return records


_MOVE_RUN = "move that run folder away (or restore the file)"


def read_run_record(folder: Path) -> dict[str, Any]:
    """The run record of a complete run folder, checked (see ``record_problem``).

    Raises
    ------
    DamagedOutput
        If ``folder/run.json`` cannot be read, is not JSON or not a run record.
    """
    path = folder / RUN_JSON
    if not folder.is_dir():
        raise DamagedOutput(folder, "is not a folder (a run folder's name)", "move it away")
    if path.is_symlink() and not path.exists():
        raise DamagedOutput(path, "is a dangling or looping link", _MOVE_RUN)
    if path.is_dir():
        raise DamagedOutput(path, "is a folder, not a file", _MOVE_RUN)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DamagedOutput(path, "is missing", _MOVE_RUN) from None
    except OSError as exc:
        raise DamagedOutput(path, f"cannot be read ({exc.strerror or exc})", _MOVE_RUN) from None
    except UnicodeDecodeError:
        raise DamagedOutput(path, "is not UTF-8 text", _MOVE_RUN) from None
    try:
        record = json.loads(text)
    except (ValueError, RecursionError) as exc:
        reason = "empty" if not text.strip() else f"not JSON ({one_line(str(exc))[:80]})"
        raise DamagedOutput(path, f"is {reason}", _MOVE_RUN) from None
    problem = record_problem(record)
    if problem is not None:
        raise DamagedOutput(path, problem, _MOVE_RUN)
    return record


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _run_sort_key(run_id: str) -> tuple[str, int]:
    match = RUN_ID.fullmatch(run_id)
    if match is None:
        return (run_id, 0)
    return (match.group(1), int(match.group(2) or 0))


def previous_run(records: Sequence[Mapping[str, Any]]) -> PreviousRun | None:
    """The newest of a check's run records that ended with a verdict, if any."""
    for record in reversed(records):
        if record.get("status") == "ok" and record.get("verdict") in EXIT_CODES:
            return PreviousRun(
                run=str(record["run"]),
                verdict=str(record["verdict"]),
                finished=str(record.get("finished", "")),
            )
    return None


def build_index(out_dir: Path, *, update_trends: bool = False) -> dict[str, Any]:
    """The index document of an output folder: every check and every run, newest first.

    Built from the run folders on disk (:func:`collect_runs`), so it lists
    the runs of every check ever run into ``out_dir``.

    Returns
    -------
    dict
        ``{"schema_version", "generated", "checks": [{"name", "latest_run",
        "latest_verdict", "stability", "direct_test", "confirmation", "status", "changed",
        "n_runs", "config", "runs", "damaged"}]}``, ``stability`` and ``direct_test``
        and ``confirmation`` being those of the latest verdict (the run
        record's); each run
        record also has ``path``, its folder relative to ``out_dir``, and the
        newest :data:`~mesalens.reports.jobs.trends.TREND_RUNS` also ``trend``
        (rows and alignment gap, :func:`~mesalens.reports.jobs.trends.trend_point`;
        ``update_trends`` rewrites each check's cache of them, ``trends.json``);
        ``damaged`` lists the messages of the check's damaged run folders
        (left out of ``runs``).
    """
    checks = []
    folders = (
        sorted(p for p in out_dir.iterdir() if p.is_dir() and CHECK_NAME.fullmatch(p.name))
        if out_dir.is_dir()
        else []
    )
    for folder in folders:
        damaged: list[str] = []
        if (folder / RUNS).is_dir():
            records = collect_runs(folder, damaged=damaged)
        elif (folder / RUNS).exists() or (folder / RUNS).is_symlink():
            damaged.append(str(DamagedOutput(folder / RUNS, "is not a folder", "move it away")))
            records = []
        else:
            continue
        for record in records:
            record["path"] = f"{folder.name}/{RUNS}/{record['run']}"
        charted = records[-TREND_RUNS:]  # what the index charts: rows and gap per run
        points = cached_trend_points(folder, [r["run"] for r in charted], update=update_trends)
        for record in charted:
            record["trend"] = points[record["run"]]
        newest = records[-1] if records else None
        latest = previous_run(records)
        latest_record = next(
            (r for r in records if latest is not None and r["run"] == latest.run), {}
        )
        checks.append(
            {
                "name": folder.name,
                "latest_run": None if latest is None else latest.run,
                "latest_verdict": None if latest is None else latest.verdict,
                "stability": latest_record.get("stability"),
                "direct_test": latest_record.get("direct_test"),
                "confirmation": latest_record.get("confirmation"),
                "status": None if newest is None else newest.get("status"),
                "changed": bool(newest and newest.get("changed")),
                "n_runs": len(records),
                "config": None if newest is None else newest.get("config"),
                "runs": list(reversed(records)),
                "damaged": damaged,
            }
        )
    return {"schema_version": SCHEMA_VERSION, "generated": iso_now(), "checks": checks}


def write_index(out: Path) -> None:
    """Rebuild ``index.json`` and ``index.html`` from disk, under the index lock."""
    fd = os.open(out / INDEX_LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        remove_temporaries(out, (f".{INDEX_JSON}.", f".{INDEX_HTML}."))
        for check_dir in out.iterdir():  # a killed index write's cache temporaries
            if check_dir.is_dir() and CHECK_NAME.fullmatch(check_dir.name):
                with contextlib.suppress(OSError):
                    remove_temporaries(check_dir, (f".{TRENDS_JSON}.",))
        index = build_index(out, update_trends=True)
        atomic_write_text(out / INDEX_JSON, json_text(index))
        atomic_write_text(
            out / INDEX_HTML, render_index_html(index["checks"], generated=index["generated"])
        )
    finally:
        os.close(fd)
