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
import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mesalens.connectors.atomic import atomic_write_text
from mesalens.reports.jobs.folders import remove_temporaries
from mesalens.reports.jobs.index_html import render_index_html
from mesalens.reports.jobs.layout import (
    CHECK_NAME,
    INDEX_HTML,
    INDEX_JSON,
    INDEX_LOCK,
    RUN_JSON,
    RUNS,
    SCHEMA_VERSION,
    PreviousRun,
    iso_now,
    json_text,
)
from mesalens.reports.jobs.trends import TREND_RUNS, TRENDS_JSON, cached_trend_points
from mesalens.reports.vocabulary import EXIT_CODES

__all__ = ["build_index", "collect_runs", "previous_run", "write_index"]

_RUN_ID = re.compile(r"(\d{8}T\d{6}Z)(?:-(\d+))?")


def collect_runs(check_dir: Path, *, log: logging.Logger | None = None) -> list[dict[str, Any]]:
    """The run records of a check, oldest first, read from its complete run folders.

    ``.partial`` folders and folders without a readable ``run.json`` are
    skipped (the latter with a warning on ``log``).

    Parameters
    ----------
    check_dir : Path
        ``DIR/CHECK``.
    log : logging.Logger, optional
        Where to warn about unreadable run folders.

    Returns
    -------
    list of dict
        Sorted by ``seq``, then by run name.
    """
    runs_dir = check_dir / RUNS
    records = []
    if not runs_dir.is_dir():
        return records
    for folder in runs_dir.iterdir():
        if folder.name.startswith(".") or not _RUN_ID.fullmatch(folder.name):
            continue
        try:
            record = json.loads((folder / RUN_JSON).read_text(encoding="utf-8"))
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            if log is not None:
                log.warning("skipped %s: no readable %s (%s)", folder, RUN_JSON, exc)
            continue
        record["run"] = folder.name
        records.append(record)
    records.sort(key=lambda r: (_int(r.get("seq")), _run_sort_key(r["run"])))
    return records


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _run_sort_key(run_id: str) -> tuple[str, int]:
    match = _RUN_ID.fullmatch(run_id)
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
        "n_runs", "config", "runs"}]}``, ``stability`` and ``direct_test``
        and ``confirmation`` being those of the latest verdict (the run
        record's); each run
        record also has ``path``, its folder relative to ``out_dir``, and the
        newest :data:`~mesalens.reports.jobs.trends.TREND_RUNS` also ``trend``
        (rows and alignment gap, :func:`~mesalens.reports.jobs.trends.trend_point`;
        ``update_trends`` rewrites each check's cache of them, ``trends.json``).
    """
    checks = []
    folders = (
        sorted(p for p in out_dir.iterdir() if p.is_dir() and CHECK_NAME.fullmatch(p.name))
        if out_dir.is_dir()
        else []
    )
    for folder in folders:
        if not (folder / RUNS).is_dir():
            continue
        records = collect_runs(folder)
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
