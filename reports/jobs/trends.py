"""What a job's index charts over time, read from each run's ``result.json``.

A run record (``run.json``) holds the verdict, the counts and the markers;
the alignment gap and the rows read are in the run's ``result.json``. For
each of a check's newest :data:`TREND_RUNS` runs, :func:`trend_point` keeps
the little the index charts need (:mod:`mesalens.reports.jobs.index_charts`):

* ``rows``: the rows kept per regime (``data.regimes[].rows_kept``);
* ``gap``: the alignment gap of the direct test for the regime pair (and base
  column) with the widest interval's farthest end from zero, with that
  interval (at the direct test's level, ``level``), the pair, the estimator,
  and the tolerance in ``Y_b``'s units (``tolerance``, ``None`` when the
  logs were not asked to confirm an ``all``) with its text;

both ``None`` when the run has no ``result.json`` (a failed run), when it
predates the field, or when the file is not what a run writes (a hand edit):
the index never fails on a damaged run folder.

A ``result.json`` can be megabytes (every CI test of a wide run), and the
index is rebuilt after every check, so :func:`cached_trend_points` keeps the
points in ``DIR/CHECK/trends.json`` (rewritten atomically by
:func:`~mesalens.reports.jobs.index.write_index`, under the index lock),
each with the size and modification time of the ``result.json`` it came
from: a complete run never changes, so each file is read once.

>>> point = trend_point({"data": {"regimes": [{"name": "train", "rows_kept": 10}]}})
>>> point["rows"], point["gap"]
({'train': 10}, None)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mesalens.connectors.atomic import atomic_write_text
from mesalens.reports.jobs.layout import RUNS, json_text

__all__ = [
    "RESULT_JSON",
    "TRENDS_JSON",
    "TREND_RUNS",
    "cached_trend_points",
    "read_trend_point",
    "trend_point",
]

#: How many of a check's newest runs the index charts (older runs stay listed).
TREND_RUNS = 90
RESULT_JSON = "result.json"
#: The cache of a check's trend points, in its folder.
TRENDS_JSON = "trends.json"
# A result.json beyond this size is not read for a trend (it is a DAG listing, or not ours).
_MAX_BYTES = 20_000_000

# The gap estimator that goes with each deciding test of the direct test (as
# :mod:`mesalens.pipeline.confirmation` pairs them), when no confirmation names one.
_ESTIMATOR_OF_TEST = {"fisherz": "linear", "gcm": "flexible"}


def read_trend_point(run_folder: Path) -> dict[str, Any]:
    """:func:`trend_point` of ``run_folder/result.json``; empty values when it cannot be read."""
    path = run_folder / RESULT_JSON
    try:
        if not path.is_file() or path.stat().st_size > _MAX_BYTES:
            return trend_point(None)
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return trend_point(None)
    return trend_point(document)


def _file_key(path: Path) -> list[int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


def _is_point(point: Any) -> bool:
    """Whether a cached point has the shape :func:`trend_point` gives (a cache may be edited)."""
    if not isinstance(point, Mapping) or set(point) != {"rows", "gap"}:
        return False
    rows, gap = point["rows"], point["gap"]
    if rows is not None and not (
        isinstance(rows, Mapping)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in rows.values())
    ):
        return False
    if gap is None:
        return True
    return isinstance(gap, Mapping) and all(
        _number(gap.get(key)) is not None for key in ("estimate", "lower", "upper")
    )


def cached_trend_points(
    check_dir: Path, run_ids: Sequence[str], *, update: bool = False
) -> dict[str, dict[str, Any]]:
    """The trend point of each run of ``check_dir``, from ``trends.json`` where still valid.

    Parameters
    ----------
    check_dir : Path
        ``DIR/CHECK``.
    run_ids : sequence of str
        The run folders to give points for.
    update : bool
        Rewrite ``trends.json`` (atomically) with these runs' points when it
        missed any; only under the index lock. A failure to write is ignored:
        the cache only saves time.

    Returns
    -------
    dict
        Run folder name -> :func:`trend_point`.
    """
    cache_path = check_dir / TRENDS_JSON
    try:
        cached = json.loads(cache_path.read_text(encoding="utf-8")).get("runs")
    except (OSError, ValueError, AttributeError, RecursionError):
        cached = None
    entries = cached if isinstance(cached, dict) else {}
    points: dict[str, dict[str, Any]] = {}
    fresh: dict[str, Any] = {}
    missed = False
    for run in run_ids:
        folder = check_dir / RUNS / run
        key = _file_key(folder / RESULT_JSON)
        entry = entries.get(run)
        if isinstance(entry, dict) and entry.get("key") == key and _is_point(entry.get("point")):
            point = dict(entry["point"])
        else:
            point, missed = read_trend_point(folder), True
        points[run] = point
        fresh[run] = {"key": key, "point": point}
    if update and (missed or set(entries) != set(fresh)):
        try:
            atomic_write_text(cache_path, json_text({"schema_version": 1, "runs": fresh}))
        except OSError:
            pass
    return points


def trend_point(document: Any) -> dict[str, Any]:
    """The rows and the alignment gap of one run's result document (see the module docstring)."""
    if not isinstance(document, Mapping):
        return {"rows": None, "gap": None}
    return {"rows": _rows(document.get("data")), "gap": _gap(document)}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _rows(data: Any) -> dict[str, int] | None:
    if not isinstance(data, Mapping) or not isinstance(data.get("regimes"), list):
        return None
    rows: dict[str, int] = {}
    for regime in data["regimes"]:
        if not isinstance(regime, Mapping):
            continue
        name, kept = regime.get("name"), regime.get("rows_kept")
        if isinstance(name, str) and isinstance(kept, int) and not isinstance(kept, bool):
            rows[name] = kept
    return rows or None


def _gap(document: Mapping[str, Any]) -> dict[str, Any] | None:
    direct = document.get("direct_test")
    if not isinstance(direct, Mapping) or direct.get("status") != "done":
        return None
    confirmation = document.get("confirmation")
    checks = confirmation.get("checks") if isinstance(confirmation, Mapping) else None
    decided: dict[tuple[Any, Any, Any], Mapping[str, Any]] = {}
    for entry in checks if isinstance(checks, list) else ():
        if isinstance(entry, Mapping):
            decided[(entry.get("base"), entry.get("regime"), entry.get("reference"))] = entry
    tolerance = confirmation.get("tolerance") if isinstance(confirmation, Mapping) else None
    best: dict[str, Any] | None = None
    outcomes = direct.get("outcomes")
    for outcome in outcomes if isinstance(outcomes, list) else ():
        if not isinstance(outcome, Mapping) or not isinstance(outcome.get("gaps"), list):
            continue
        gaps = [g for g in outcome["gaps"] if isinstance(g, Mapping)]
        pairs = {(g.get("regime"), g.get("reference")) for g in gaps}
        for regime, reference in pairs:
            chosen = _chosen_gap(
                [g for g in gaps if (g.get("regime"), g.get("reference")) == (regime, reference)],
                outcome,
                decided.get((outcome.get("base"), regime, reference)),
            )
            if chosen is None:
                continue
            estimate, lower, upper = (
                _number(chosen.get(k)) for k in ("estimate", "lower", "upper")
            )
            if estimate is None or lower is None or upper is None:
                continue
            check = decided.get((outcome.get("base"), regime, reference)) or {}
            point = {
                "estimate": estimate,
                "lower": lower,
                "upper": upper,
                "level": _number(direct.get("level")),
                "estimator": str(chosen.get("estimator", "")),
                "base": str(outcome.get("base", "")),
                "pair": f"{regime} vs {reference}",
                "tolerance": _number(check.get("delta")),
                "tolerance_text": str(tolerance.get("text", ""))
                if isinstance(tolerance, Mapping)
                else "",
            }
            if best is None or max(abs(lower), abs(upper)) > max(
                abs(best["lower"]), abs(best["upper"])
            ):
                best = point
    return best


def _chosen_gap(
    gaps: list[Mapping[str, Any]], outcome: Mapping[str, Any], decided: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """The deciding estimator's gap: the confirmation's, else the test's, else the first."""
    wanted = (decided or {}).get("estimator") or _ESTIMATOR_OF_TEST.get(str(outcome.get("method")))
    for gap in gaps:
        if gap.get("estimator") == wanted:
            return gap
    return gaps[0] if gaps else None
