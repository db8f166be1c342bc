r"""The output folder of a job: its layout, the run records, each check's history, the index.

Layout of the output folder ``DIR``::

    DIR/
      index.html               every check and every run, newest first (self-contained)
      index.json               the same content, machine-readable
      mesalens.log             one line per job/check start, verdict, change, error (appended)
      .index.lock              serialises rewrites of the index
      CHECK/
        .lock                  held (flock) while a run of CHECK is in progress
        history.json           {"check": CHECK, "runs": [run record, ...]} oldest first
        latest -> runs/RUN     symlink to the newest run that produced a verdict
        runs/
          20250301T020000Z/    one folder per run: what ``run_one`` wrote
            run.json           (result.json, graph.txt, report.html, ...) + the run record
          20250301T020000Z-1/  a second run within the same second
          .20250302T020000Z.partial/   a run in progress (or killed): ignored, then removed

A *run record* (``run.json``, and the entries of ``history.json`` and
``index.json``) holds ``check``, ``run`` (the folder name), ``seq`` (1, 2, ...
per check: the order of the runs even if the clock moves back), ``status``
(``ok`` or ``error``), ``started``/``finished`` (UTC, ISO 8601),
``verdict``, ``n_dags``, ``n_hold``, ``n_fail``, ``n_invalid`` (exact
integers; ``null`` for an error), ``stability`` (with ``bootstrap = B``:
``{"stable", "share", "threshold", "replicates"}``, whether the share of
bootstrap resamples that reproduce the verdict reaches the check's
``stability_threshold``, as in ``result.json``'s ``bootstrap``; ``null``
without a bootstrap or for an error), ``direct_test`` (with the direct
test: ``{"status", "reject", "contradicts"}``, the test's status and decision
as in ``result.json``'s ``direct_test`` and whether it contradicts a
structural ``all``, by
:func:`~mesalens.reports.sections.direct_test.contradicts_all`; ``null``
without the test, for an error, or in a record written before the field
existed), ``previous_run``/``previous_verdict`` (the
newest earlier run with a verdict), ``changed`` (the verdict differs from
``previous_verdict``), ``error`` (the one-line message of a failed run),
``files`` (what the run folder holds) and ``config`` (the check as run,
credentials in URLs hidden).

The history and the index are read back from the run folders on disk
(:func:`collect_runs`, :func:`build_index`); :mod:`mesalens.reports.jobs.engine`
writes the run folders and calls :func:`write_index` after every check.
"""

from __future__ import annotations

import contextlib
import fcntl
import html
import json
import logging
import os
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mesalens.reports.atomic import atomic_write_text
from mesalens.reports.sections.direct_test import CONTRADICTION_WORDS
from mesalens.reports.summary import EXIT_CODES, format_count, format_share

__all__ = [
    "CHECK_NAME",
    "CONTRADICTION_WORDS",
    "HISTORY_JSON",
    "INDEX_HTML",
    "INDEX_JSON",
    "INDEX_LOCK",
    "LATEST",
    "LOCK_FILE",
    "LOG_FILE",
    "PARTIAL_SUFFIX",
    "RESERVED_NAMES",
    "RUNS",
    "RUN_JSON",
    "SCHEMA_VERSION",
    "PreviousRun",
    "build_index",
    "collect_runs",
    "is_contradicted",
    "is_unstable",
    "iso_now",
    "json_text",
    "previous_run",
    "remove_temporaries",
    "render_index_html",
    "stability_words",
    "write_index",
]

INDEX_HTML = "index.html"
INDEX_JSON = "index.json"
LOG_FILE = "mesalens.log"
HISTORY_JSON = "history.json"
RUN_JSON = "run.json"
LATEST = "latest"
RUNS = "runs"
LOCK_FILE = ".lock"
INDEX_LOCK = ".index.lock"
SCHEMA_VERSION = 1

PARTIAL_SUFFIX = ".partial"
_RUN_ID = re.compile(r"(\d{8}T\d{6}Z)(?:-(\d+))?")
CHECK_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
# Names of files in DIR that a check folder must not shadow (compared ignoring case).
RESERVED_NAMES = frozenset({INDEX_HTML, INDEX_JSON, LOG_FILE, INDEX_LOCK})


@dataclass(frozen=True)
class PreviousRun:
    """The newest earlier run of a check that produced a verdict.

    :func:`~mesalens.reports.jobs.engine.run_jobs` puts it in
    :attr:`~mesalens.reports.job_files.CheckSpec.previous` before calling
    ``run_one``, so that a report can say "changed from ``all``".

    Attributes
    ----------
    run : str
        Its run folder name (``20250301T020000Z``).
    verdict : str
        Its verdict.
    finished : str
        When it finished (UTC, ISO 8601).
    """

    run: str
    verdict: str
    finished: str

    @property
    def relative_path(self) -> str:
        """The previous run folder as seen from the new run's folder (``../RUN``)."""
        return f"../{self.run}"


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


def build_index(out_dir: Path) -> dict[str, Any]:
    """The index document of an output folder: every check and every run, newest first.

    Built from the run folders on disk (:func:`collect_runs`), so it lists
    the runs of every check ever run into ``out_dir``.

    Returns
    -------
    dict
        ``{"schema_version", "generated", "checks": [{"name", "latest_run",
        "latest_verdict", "stability", "direct_test", "status", "changed",
        "n_runs", "config", "runs"}]}``, ``stability`` and ``direct_test``
        being those of the latest verdict (the run record's); each run
        record also has ``path``, its folder relative to ``out_dir``.
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
        index = build_index(out)
        atomic_write_text(out / INDEX_JSON, json_text(index))
        atomic_write_text(
            out / INDEX_HTML, render_index_html(index["checks"], generated=index["generated"])
        )
    finally:
        os.close(fd)


def remove_temporaries(folder: Path, prefixes: tuple[str, ...]) -> None:
    """Remove the temporary files of atomic writes that a killed process left in ``folder``.

    Only called under the lock that every writer of those files holds.
    """
    for path in folder.iterdir():
        if path.name.startswith(prefixes) and path.name.endswith(".tmp"):
            with contextlib.suppress(OSError):
                path.unlink()


_VERDICT_COLORS = {
    "all": "#15803d",
    "some": "#b45309",
    "none": "#b91c1c",
    "invalid": "#7e22ce",
    "error": "#334155",
}

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#0f172a}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 6px}
.meta{color:#64748b;margin:0 0 16px}
table{border-collapse:collapse;margin:6px 0 12px}
th,td{border-bottom:1px solid #e2e8f0;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f8fafc;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:1px 8px;border-radius:9px;color:#fff;font-weight:600}
.changed{background:#fef2f2}.mark{color:#b91c1c;font-weight:700}
.unstable{color:#b45309;font-weight:700;border:1px solid #f59e0b;border-radius:9px;padding:0 6px}
.contradicted{color:#b91c1c;font-weight:700;border:1px solid #f87171;border-radius:9px;
padding:0 6px}
.alert{border:1px solid #fecaca;background:#fef2f2;padding:8px 12px;border-radius:6px}
.error{color:#b91c1c}code{font-size:12px;background:#f1f5f9;padding:0 3px;border-radius:3px}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px;margin:4px 0}
dt{color:#64748b}dd{margin:0}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _href(*parts: str) -> str:
    return _e("/".join(urllib.parse.quote(part) for part in parts))


def _check_link(name: str) -> str:
    """``check NAME``, NAME linking to the check's section of the page."""
    return f'check <a href="#check-{_e(name)}">{_e(name)}</a>'


def _badge(label: str | None) -> str:
    if label is None:
        return "&ndash;"
    color = _VERDICT_COLORS.get(label, "#475569")
    return f'<span class="badge" style="background:{color}">{_e(label)}</span>'


def is_unstable(stability: Any) -> bool:
    """Whether a run record's ``stability`` says its bootstrap found the verdict unstable."""
    return isinstance(stability, Mapping) and stability.get("stable") is False


def stability_words(stability: Mapping[str, Any]) -> str:
    """``"70% of 20 bootstrap resamples give this verdict, below the 95% threshold"``.

    Tolerant of a malformed record (an older or hand-edited ``run.json``):
    then a sentence without numbers.
    """
    share, replicates = stability.get("share"), stability.get("replicates")
    threshold = stability.get("threshold")
    numbers = (share, replicates, threshold)
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in numbers):
        return "bootstrap resamples do not reproduce this verdict often enough"
    agreeing = round(float(share) * int(replicates))
    return (
        f"{format_share(agreeing, int(replicates))} of {int(replicates)} bootstrap resamples "
        f"give this verdict, below the {round(float(threshold) * 100, 6):g}% threshold"
    )


def _unstable_mark(stability: Any) -> str:
    """The "unstable" marker after a verdict whose bootstrap share is below its threshold."""
    if not is_unstable(stability):
        return ""
    return f' <span class="unstable" title="{_e(stability_words(stability))}">unstable</span>'


# The marker's tooltip: what it means, in the words of the report's verdict card.
_CONTRADICTED_TITLE = (
    "The logs contradict this verdict: the direct test rejects Y_b \u22a5 regime | Y_m, "
    "the independence the structural 'all' licenses (E[Y_b | Y_m] moves with the regime). "
    "Do not rely on it until that is resolved; see Direct test in the run's report."
)


def is_contradicted(direct_test: Any) -> bool:
    """Whether a run record's ``direct_test`` says the test contradicts its verdict ``all``.

    Reads the ``contradicts`` the run recorded (computed once, by
    :func:`~mesalens.reports.sections.direct_test.contradicts_all`); a record
    without the field, from before it existed, is not contradicted.
    """
    return isinstance(direct_test, Mapping) and direct_test.get("contradicts") is True


def _contradicted_mark(direct_test: Any) -> str:
    """The "contradicted" marker after a verdict ``all`` that the direct test rejects."""
    if not is_contradicted(direct_test):
        return ""
    return f' <span class="contradicted" title="{_e(_CONTRADICTED_TITLE)}">contradicted</span>'


def _count(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return _e(format_count(value))
    return "&ndash;"


def _config_html(config: Mapping[str, Any] | None) -> str:
    if not config:
        return ""
    rows = []
    regimes = config.get("regimes") or {}
    for regime, location in regimes.items():
        rows.append(f"<dt>regime {_e(regime)}</dt><dd><code>{_e(location)}</code></dd>")
    for key in ("base", "mesa", "decision", "policy_inputs", "columns"):
        value = config.get(key)
        if value is None:
            continue
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        rows.append(f"<dt>{_e(key)}</dt><dd>{_e(text)}</dd>")
    settings = ", ".join(
        f"{key} {config[key]}" for key in ("method", "test", "alpha") if key in config
    )
    rows.append(f"<dt>discovery</dt><dd>{_e(settings)}</dd>")
    if config.get("knowledge"):
        rows.append(f"<dt>knowledge</dt><dd>{_e(config['knowledge'])}</dd>")
    return "<dl>" + "".join(rows) + "</dl>"


def _run_links(record: Mapping[str, Any]) -> str:
    path = str(record.get("path") or f"{record.get('check')}/{RUNS}/{record.get('run')}")
    parts = path.split("/")
    files = set(record.get("files") or ())
    links = [f'<a href="{_href(*parts)}/">folder</a>']
    for name in ("report.html", "result.json", "graph.txt"):
        if name in files:
            links.append(f'<a href="{_href(*parts, name)}">{_e(name)}</a>')
    return " &middot; ".join(links)


def render_index_html(entries: Sequence[Mapping[str, Any]], *, generated: str | None = None) -> str:
    """The index page: every check (as in ``index.json``'s ``checks``) and its runs.

    The page is self-contained (inline CSS, no script, no network) and every
    value from the runs is escaped; links are relative to the output folder.

    Parameters
    ----------
    entries : sequence of mapping
        The ``checks`` of :func:`build_index`, runs newest first.
    generated : str, optional
        When the index was built, shown at the top.

    Returns
    -------
    str
        The HTML document.
    """
    changed = [entry for entry in entries if entry.get("changed")]
    failed = [entry for entry in entries if entry.get("status") == "error"]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>mesalens runs</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>mesalens runs</h1>",
        f'<p class="meta">{len(entries)} check(s)'
        + (f"; index written {_e(generated)}" if generated else "")
        + "</p>",
    ]
    alerts = []
    for entry in changed:
        newest = entry["runs"][0]
        alerts.append(
            f"{_check_link(entry['name'])}: verdict "
            f"changed from {_badge(newest.get('previous_verdict'))} to "
            f"{_badge(newest.get('verdict'))} in run {_e(newest.get('run'))}"
        )
    for entry in failed:
        newest = entry["runs"][0]
        alerts.append(
            f"{_check_link(entry['name'])}: "
            f"its newest run {_e(newest.get('run'))} failed: "
            f'<span class="error">{_e(newest.get("error"))}</span>'
        )
    for entry in entries:
        if is_unstable(entry.get("stability")):
            alerts.append(
                f"{_check_link(entry['name'])}: "
                f"its latest verdict {_badge(entry.get('latest_verdict'))} is "
                f'<span class="unstable">unstable</span> under the bootstrap '
                f"({_e(stability_words(entry['stability']))}); do not rely on it"
            )
        if is_contradicted(entry.get("direct_test")):
            alerts.append(
                f"{_check_link(entry['name'])}: "
                f"its latest verdict {_badge(entry.get('latest_verdict'))} is "
                f'<span class="contradicted">contradicted</span>: {_e(CONTRADICTION_WORDS)}; '
                "do not rely on it"
            )
    if alerts:
        out.append('<div class="alert">' + "<br>".join(alerts) + "</div>")

    out.append(
        "<table><thead><tr><th>check</th><th>latest verdict</th><th>latest run</th>"
        "<th>newest run</th><th>runs</th></tr></thead><tbody>"
    )
    for entry in entries:
        name = str(entry["name"])
        runs = entry.get("runs") or []
        newest = runs[0] if runs else {}
        status = newest.get("status")
        newest_label = _badge(newest.get("verdict") if status == "ok" else status)
        if entry.get("changed"):
            newest_label += ' <span class="mark">changed</span>'
        row_class = ' class="changed"' if entry.get("changed") else ""
        latest_run = entry.get("latest_run")
        latest = (
            f'<a href="{_href(name, RUNS, latest_run)}/">{_e(latest_run)}</a>'
            if latest_run
            else "&ndash;"
        )
        out.append(
            f'<tr{row_class}><td><a href="#check-{_e(name)}">{_e(name)}</a></td>'
            f"<td>{_badge(entry.get('latest_verdict'))}{_unstable_mark(entry.get('stability'))}"
            f"{_contradicted_mark(entry.get('direct_test'))}"
            f"</td><td>{latest}</td>"
            f"<td>{_e(newest.get('run'))} {newest_label}</td>"
            f'<td class="num">{_e(entry.get("n_runs", len(runs)))}</td></tr>'
        )
    out.append("</tbody></table>")

    for entry in entries:
        name = str(entry["name"])
        out.append(f'<h2 id="check-{_e(name)}">{_e(name)}</h2>')
        out.append(_config_html(entry.get("config")))
        out.append(
            "<table><thead><tr><th>run</th><th>finished (UTC)</th><th>verdict</th>"
            "<th>DAGs</th><th>hold</th><th>fail</th><th>invalid</th><th>previous</th>"
            "<th>change</th><th>outputs</th></tr></thead><tbody>"
        )
        for record in entry.get("runs") or []:
            ok = record.get("status") == "ok"
            mark = ""
            if record.get("changed"):
                mark = (
                    f'<span class="mark">changed: {_e(record.get("previous_verdict"))} '
                    f"&rarr; {_e(record.get('verdict'))}</span>"
                )
            elif not ok:
                mark = f'<span class="error">error: {_e(record.get("error"))}</span>'
            row_class = ' class="changed"' if record.get("changed") else ""
            out.append(
                f"<tr{row_class}><td>{_e(record.get('run'))}</td>"
                f"<td>{_e(record.get('finished'))}</td>"
                f"<td>{_badge(record.get('verdict') if ok else 'error')}"
                f"{_unstable_mark(record.get('stability') if ok else None)}"
                f"{_contradicted_mark(record.get('direct_test') if ok else None)}</td>"
                + "".join(
                    f'<td class="num">{_count(record.get(key))}</td>'
                    for key in ("n_dags", "n_hold", "n_fail", "n_invalid")
                )
                + f"<td>{_badge(record.get('previous_verdict'))}</td><td>{mark}</td>"
                f"<td>{_run_links(record)}</td></tr>"
            )
        out.append("</tbody></table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def json_text(document: Any) -> str:
    """A JSON document as the job files write it: indented, UTF-8, a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def iso_now() -> str:
    """The current UTC time to the second, as ISO 8601 (``2026-11-27T07:05:00Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
