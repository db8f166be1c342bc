"""The index page of a job's output folder: every check's gate, its runs and their trends.

One self-contained HTML file (the reports' stylesheet inline, no script, no
network), styled like ``report.html``, in the order a reviewer reads it
every morning:

1. **Tests**: one row per check, Evidently-style: the newest run's gate
   (``confirmed``: an ``all`` the logs confirm, exit code 0; ``not
   confirmed``: an ``all`` they do not, 8; ``failed``: a ``some``, ``none``
   or ``invalid`` verdict, or a failed run) and the reason, with a count of
   each at the top;
2. the alerts: a verdict that changed, a run that failed, an unstable or a
   contradicted verdict;
3. the checks: the latest verdict with its markers (stable or unstable under
   the bootstrap, confirmed or not by the logs, the direct test agreeing
   or contradicting), the newest run and the number of runs;
4. per check: its configuration (paths normalised), its trends
   (:mod:`mesalens.reports.jobs.index_charts`: verdict, alignment gap with
   its interval, rows per run) and every run, newest first, with links to
   its report and files.

Every value from the runs is escaped; links are relative to the output folder.
"""

from __future__ import annotations

import html
import os
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from mesalens.reports.formatting import format_count, format_share
from mesalens.reports.jobs.index_charts import VERDICT_COLORS, gap_chart, rows_chart, verdict_chart
from mesalens.reports.jobs.layout import RUNS
from mesalens.reports.jobs.trends import TREND_RUNS
from mesalens.reports.templating import template_asset
from mesalens.reports.vocabulary import (
    CONTRADICTED_TITLE,
    CONTRADICTION_WORDS,
    NOT_CONFIRMED,
    SMALL_GAP_TITLE,
    SMALL_GAP_WORDS,
    contradiction_alarm,
    gate,
    is_contradicted,
    is_unstable,
    stability_words,
)

__all__ = ["GATES", "check_gate", "display_location", "render_index_html"]

#: The gate of a check's newest run, as the Tests rows name it.
GATES = ("confirmed", "not confirmed", "failed")

_CSS = """
.index-head { display: flex; align-items: baseline; gap: 14px; flex-wrap: wrap; }
.index-head h1 { font-size: 1.45rem; font-weight: 700; }
.tally { display: flex; gap: 10px; flex-wrap: wrap; margin: 14px 0 12px; }
.tally > span { border-radius: 10px; padding: 8px 14px; border: 1px solid var(--line);
  background: #fff; font-weight: 650; }
.tally .n { font-size: 1.3rem; margin-right: 8px; }
.tally .t-confirmed { color: var(--hold); border-color: #86efac; background: var(--hold-bg); }
.tally .t-not-confirmed { color: #92400e; border-color: #fcd34d; background: #fffbeb; }
.tally .t-failed { color: var(--fail); border-color: #fca5a5; background: var(--fail-bg); }
table.gates td { vertical-align: middle; }
table.gates tr.g-confirmed td:first-child { box-shadow: inset 4px 0 var(--hold); }
table.gates tr.g-not-confirmed td:first-child { box-shadow: inset 4px 0 #d97706; }
table.gates tr.g-failed td:first-child { box-shadow: inset 4px 0 var(--fail); }
.gate { display: inline-block; padding: 2px 10px; border-radius: 999px; font-weight: 700;
  font-size: 0.78rem; letter-spacing: 0.04em; text-transform: uppercase; white-space: nowrap; }
.gate-confirmed { background: #dcfce7; color: #166534; }
.gate-not-confirmed { background: #fef3c7; color: #92400e; }
.gate-failed { background: #fee2e2; color: #991b1b; }
.reason { color: var(--ink-2); max-width: 80ch; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 999px; color: #fff;
  font-weight: 700; font-size: 0.8rem; letter-spacing: 0.03em; }
.changed td { background: #fef2f2; }
.mark { color: var(--fail); font-weight: 700; }
.unstable, .contradicted, .smallgap, .unconfirmed, .stable, .agrees, .confirmed, .untested {
  display: inline-block; margin-left: 4px; padding: 0 7px; border-radius: 999px; font-size: 0.76rem;
  font-weight: 700; white-space: nowrap; border: 1px solid; }
.unstable { color: #b45309; border-color: #f59e0b; background: #fffbeb; }
.unconfirmed, .smallgap { color: #92400e; border-color: #d97706; background: #fffbeb; }
.contradicted { color: #b91c1c; border-color: #f87171; background: #fef2f2; }
.stable, .agrees, .confirmed { color: #166534; border-color: #86efac; background: #f0fdf4; }
.untested { color: var(--muted); border-color: var(--line-2); font-weight: 600; }
.alert { margin: 0 0 20px; padding: 12px 16px; border-radius: 10px; background: #fee2e2;
  border: 2px solid #dc2626; color: #7f1d1d; font-weight: 600; line-height: 1.8; }
.alert a { color: #7f1d1d; }
.error { color: var(--fail); }
dl.config { display: grid; grid-template-columns: max-content auto; gap: 3px 14px;
  margin: 8px 0 4px; }
dl.config dt { color: var(--muted); }
dl.config dd { margin: 0; overflow-wrap: anywhere; }
.trends { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 8px 28px;
  margin: 10px 0 16px; }
.trends figure { margin: 0; }
.trends figcaption { font-weight: 650; color: var(--ink-2); font-size: 0.88rem; margin: 4px 0; }
.trends figcaption .meta { font-weight: 400; }
svg.trend { display: block; width: 100%; height: auto; }
svg.trend text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial,
  sans-serif; fill: var(--ink-2); }
svg.trend .grid { stroke: #eef2f7; stroke-width: 1; }
svg.trend .axis { stroke: var(--line-2); stroke-width: 1; }
svg.trend .zero { stroke: #64748b; stroke-width: 1; }
svg.trend .step { fill: none; stroke: #cbd5e1; stroke-width: 1.5; }
svg.trend .tolerance { fill: none; stroke: #d97706; stroke-width: 1.4; stroke-dasharray: 5 4; }
svg.trend .estimate-line { fill: none; stroke: #93c5fd; stroke-width: 1.4; }
svg.trend .interval { stroke: var(--accent); stroke-width: 1.8; }
svg.trend .gap-point circle { fill: var(--accent); }
svg.trend .gap-point.outside .interval { stroke: var(--fail); }
svg.trend .gap-point.outside circle { fill: var(--fail); }
svg.trend .rows-line { fill: none; stroke-width: 1.6; }
svg.trend .key-text { fill: var(--ink-2); }
.chart-key { color: var(--muted); font-size: 0.8rem; margin: 2px 0 0; }
.links a { white-space: nowrap; }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _href(*parts: str) -> str:
    return _e("/".join(urllib.parse.quote(part) for part in parts))


def display_location(location: Any) -> str:
    """A location as the index shows it: local paths normalised, URLs as they are.

    >>> display_location("/data/work/../mesalens/logs/*.parquet")
    '/data/mesalens/logs/*.parquet'
    >>> display_location("s3://bucket/a/../b.parquet")
    's3://bucket/a/../b.parquet'
    """
    text = "" if location is None else str(location)
    if not text or "://" in text or text.startswith("sqlite:"):
        return text
    return os.path.normpath(text)


def _check_link(name: str) -> str:
    """``check NAME``, NAME linking to the check's section of the page."""
    return f'check <a href="#check-{_e(name)}">{_e(name)}</a>'


def _badge(label: str | None) -> str:
    if label is None:
        return "&ndash;"
    color = VERDICT_COLORS.get(label, "#475569")
    return f'<span class="badge" style="background:{color}">{_e(label)}</span>'


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _stability_mark(stability: Any) -> str:
    """After a verdict with a bootstrap: "unstable" (a warning) or "stable" (its share)."""
    if is_unstable(stability):
        return f' <span class="unstable" title="{_e(stability_words(stability))}">unstable</span>'
    if not (isinstance(stability, dict) and stability.get("stable") is True):
        return ""
    share, replicates, threshold = (
        stability.get("share"),
        stability.get("replicates"),
        stability.get("threshold"),
    )
    title = "stable under the bootstrap"
    if _is_number(share) and _is_number(replicates) and _is_number(threshold):
        agreeing = round(float(share) * int(replicates))
        title = (
            f"{format_share(agreeing, int(replicates))} of {int(replicates)} bootstrap resamples "
            f"give this verdict, at or above the {round(float(threshold) * 100, 6):g}% threshold"
        )
    return f' <span class="stable" title="{_e(title)}">stable</span>'


def _direct_test_mark(record: Mapping[str, Any]) -> str:
    """After a verdict the direct test checked: "contradicted", "small gap" or "direct test agrees".

    "small gap": the test rejects the exact independence of an ``all`` whose
    gap the logs confirm within the tolerance (exit code 0 stands).
    """
    direct_test = record.get("direct_test")
    if contradiction_alarm(record):
        return f' <span class="contradicted" title="{_e(CONTRADICTED_TITLE)}">contradicted</span>'
    if is_contradicted(direct_test):
        return f' <span class="smallgap" title="{_e(SMALL_GAP_TITLE)}">small gap</span>'
    if not (isinstance(direct_test, dict) and direct_test.get("contradicts") is False):
        return ""
    if direct_test.get("status") != "done":
        title = "the logs could not support the direct test; it was skipped"
        return f' <span class="untested" title="{_e(title)}">direct test skipped</span>'
    decision = "rejects" if direct_test.get("reject") is True else "does not reject"
    title = f"the direct test {decision} Y_b ⊥ s | Y_m on the logs: no contradiction"
    return f' <span class="agrees" title="{_e(title)}">direct test agrees</span>'


def _confirmation_mark(record: Mapping[str, Any]) -> str:
    """After an ``all``: "not confirmed" (exit code 8, with the reasons) or "confirmed"."""
    confirmation = record.get("confirmation")
    if record.get("verdict") != "all" or not isinstance(confirmation, dict):
        return ""
    if confirmation.get("status") == "not confirmed":
        reasons = confirmation.get("reasons")
        title = "; ".join(str(r) for r in reasons) if isinstance(reasons, list) else ""
        return f' <span class="unconfirmed" title="{_e(title)}">not confirmed</span>'
    if confirmation.get("status") == "confirmed":
        title = "the logs confirm the alignment gap is within the tolerance (exit code 0)"
        return f' <span class="confirmed" title="{_e(title)}">confirmed</span>'
    return ""


def _marks(record: Mapping[str, Any]) -> str:
    return (
        _confirmation_mark(record)
        + _stability_mark(record.get("stability"))
        + _direct_test_mark(record)
    )


def _count(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return _e(format_count(value))
    return "&ndash;"


def _config_html(config: Mapping[str, Any] | None) -> str:
    if not config:
        return ""
    rows = []
    regimes = config.get("regimes") or {}
    if isinstance(regimes, Mapping):
        for regime, location in regimes.items():
            rows.append(
                f"<dt>regime {_e(regime)}</dt>"
                f"<dd><code>{_e(display_location(location))}</code></dd>"
            )
    for key in ("base", "mesa", "decision", "policy_inputs", "columns"):
        value = config.get(key)
        if value is None:
            continue
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        rows.append(f"<dt>{_e(key.replace('_', ' '))}</dt><dd>{_e(text)}</dd>")
    settings = ", ".join(
        f"{key} {config[key]}" for key in ("method", "test", "alpha") if key in config
    )
    rows.append(f"<dt>discovery</dt><dd>{_e(settings)}</dd>")
    if config.get("knowledge"):
        rows.append(
            f"<dt>knowledge</dt><dd><code>{_e(display_location(config['knowledge']))}</code></dd>"
        )
    return '<dl class="config">' + "".join(rows) + "</dl>"


def _run_path(record: Mapping[str, Any]) -> list[str]:
    path = str(record.get("path") or f"{record.get('check')}/{RUNS}/{record.get('run')}")
    return path.split("/")


def _run_links(record: Mapping[str, Any]) -> str:
    parts = _run_path(record)
    files = set(record.get("files") or ())
    links = [f'<a href="{_href(*parts)}/">folder</a>']
    for name in ("report.html", "result.json", "graph.txt"):
        if name in files:
            links.append(f'<a href="{_href(*parts, name)}">{_e(name)}</a>')
    return '<span class="links">' + " &middot; ".join(links) + "</span>"


def _run_name_link(record: Mapping[str, Any]) -> str:
    """The run's folder name, linking to its report (or its folder when it has none)."""
    parts = _run_path(record)
    target = (
        _href(*parts, "report.html")
        if "report.html" in set(record.get("files") or ())
        else f"{_href(*parts)}/"
    )
    return f'<a href="{target}">{_e(record.get("run"))}</a>'


def _counts_words(record: Mapping[str, Any]) -> str:
    """``1 of 3 valid DAGs hold`` from a record's counts, or ``""`` when they are not numbers."""
    n_dags, n_hold, n_invalid = (record.get(k) for k in ("n_dags", "n_hold", "n_invalid"))
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (n_dags, n_hold, n_invalid)):
        return ""
    valid = n_dags - n_invalid
    words = f"holds in {format_count(n_hold)} of {format_count(valid)} valid DAGs"
    if n_invalid:
        words += f" ({format_count(n_invalid)} invalid for the policy)"
    return words


def check_gate(entry: Mapping[str, Any]) -> tuple[str, str]:
    """The gate of a check's newest run and the reason, for the Tests rows.

    Returns
    -------
    tuple of str
        One of :data:`GATES` and a sentence.

    Examples
    --------
    >>> check_gate({"runs": [{"status": "ok", "verdict": "none", "n_dags": 3, "n_hold": 0,
    ...                       "n_invalid": 0}]})
    ('failed', 'verdict none: the criterion holds in 0 of 3 valid DAGs')
    >>> check_gate({"runs": [{"status": "error", "error": "no such file"}]})
    ('failed', 'the newest run failed: no such file')
    """
    runs = entry.get("runs") or []
    newest = runs[0] if runs else {}
    if newest.get("status") != "ok" or newest.get("verdict") not in VERDICT_COLORS:
        error = newest.get("error") or "no verdict"
        return "failed", f"the newest run failed: {error}"
    counts = _counts_words(newest)
    verdict_words = f"verdict {newest['verdict']}" + (f": the criterion {counts}" if counts else "")
    extra = []
    if newest.get("changed"):
        extra.append(f"changed from {newest.get('previous_verdict')} since the previous run")
    if is_unstable(newest.get("stability")):
        extra.append(f"unstable: {stability_words(newest['stability'])}")
    if contradiction_alarm(newest):
        extra.append(f"contradicted: {CONTRADICTION_WORDS}")
    elif is_contradicted(newest.get("direct_test")):
        extra.append(f"small gap: {SMALL_GAP_WORDS}")
    tail = "".join(f"; {text}" for text in extra)
    name = gate(newest)
    if name == NOT_CONFIRMED:
        reasons = (newest.get("confirmation") or {}).get("reasons")
        why = "; ".join(str(r) for r in reasons) if isinstance(reasons, list) and reasons else ""
        return (
            "not confirmed",
            f"{verdict_words}, not confirmed by the logs: {why or 'see the report'}{tail}",
        )
    if name == "all":
        trend = newest.get("trend") or {}
        gap = trend.get("gap") if isinstance(trend, Mapping) else None
        within = ""
        if isinstance(gap, Mapping) and gap.get("tolerance_text"):
            within = f" of {gap['tolerance_text']}"
        confirmation = newest.get("confirmation")
        if isinstance(confirmation, Mapping) and confirmation.get("status") == "confirmed":
            return "confirmed", (
                f"{verdict_words}; the logs confirm the alignment gap is within the "
                f"tolerance{within}{tail}"
            )
        return "confirmed", f"{verdict_words}{tail}"
    return "failed", f"{verdict_words}{tail}"


def _gate_rows(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    gates = [(entry, *check_gate(entry)) for entry in entries]
    tally = {name: sum(1 for _, g, _ in gates if g == name) for name in GATES}
    out = [
        '<p class="tally" id="gate-tally">'
        + "".join(
            f'<span class="t-{name.replace(" ", "-")}"><span class="n">{tally[name]}</span>'
            f"{_e(name)}</span>"
            for name in GATES
        )
        + "</p>"
    ]
    if not entries:
        out.append('<p class="empty">No check has run into this folder yet.</p>')
        return out
    out.append(
        '<section class="table-scroll" aria-label="gates"><table class="data gates">'
        "<thead><tr><th>gate</th><th>check</th><th>reason</th><th>newest run</th></tr></thead>"
        "<tbody>"
    )
    for entry, name, reason in gates:
        css = name.replace(" ", "-")
        runs = entry.get("runs") or []
        newest = runs[0] if runs else None
        out.append(
            f'<tr class="g-{css}" data-check="{_e(entry["name"])}" data-gate="{_e(name)}">'
            f'<td><span class="gate gate-{css}">{_e(name)}</span></td>'
            f'<td class="check"><a href="#check-{_e(entry["name"])}">{_e(entry["name"])}</a></td>'
            f'<td class="reason">{_e(reason)}</td>'
            f"<td>{_run_name_link(newest) if newest else '&ndash;'}</td></tr>"
        )
    out.append("</tbody></table></section>")
    return out


def _alerts(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    alerts = []
    for entry in entries:
        runs = entry.get("runs") or []
        if entry.get("changed") and runs:
            newest = runs[0]
            alerts.append(
                f"{_check_link(entry['name'])}: verdict "
                f"changed from {_badge(newest.get('previous_verdict'))} to "
                f"{_badge(newest.get('verdict'))} in run {_e(newest.get('run'))}"
            )
    for entry in entries:
        runs = entry.get("runs") or []
        if entry.get("status") == "error" and runs:
            newest = runs[0]
            alerts.append(
                f"{_check_link(entry['name'])}: "
                f"its newest run {_e(newest.get('run'))} failed: "
                f'<span class="error">{_e(newest.get("error"))}</span>'
            )
    for entry in entries:
        for message in entry.get("damaged") or ():
            alerts.append(
                f"{_check_link(entry['name'])}: damaged output, left out of this index: "
                f'<span class="error">{_e(message)}</span>'
            )
        if is_unstable(entry.get("stability")):
            alerts.append(
                f"{_check_link(entry['name'])}: "
                f"its latest verdict {_badge(entry.get('latest_verdict'))} is "
                f'<span class="unstable">unstable</span> under the bootstrap '
                f"({_e(stability_words(entry['stability']))}); do not rely on it"
            )
        if contradiction_alarm(entry):
            alerts.append(
                f"{_check_link(entry['name'])}: "
                f"its latest verdict {_badge(entry.get('latest_verdict'))} is "
                f'<span class="contradicted">contradicted</span>: {_e(CONTRADICTION_WORDS)}; '
                "do not rely on it"
            )
    return ['<div class="alert">' + "<br>".join(alerts) + "</div>"] if alerts else []


def _summary_table(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    out = [
        '<section class="card" id="checks" aria-labelledby="checks-title">',
        '<h2 id="checks-title">Checks</h2>',
        '<p class="caption">The latest verdict of each check and how far to trust it; the newest '
        "run links to its report.</p>",
        '<section class="table-scroll" aria-label="checks"><table class="data">'
        "<thead><tr><th>check</th><th>latest verdict</th><th>newest run</th>"
        '<th class="num">runs</th></tr></thead><tbody>',
    ]
    for entry in entries:
        name = str(entry["name"])
        runs = entry.get("runs") or []
        newest = runs[0] if runs else {}
        latest_record = next((r for r in runs if r.get("run") == entry.get("latest_run")), {})
        latest = {
            **latest_record,
            "verdict": entry.get("latest_verdict"),
            "stability": entry.get("stability"),
            "direct_test": entry.get("direct_test"),
            "confirmation": entry.get("confirmation"),
        }
        status = newest.get("status")
        if not newest:
            run_cell = "&ndash;"
        else:
            run_cell = f"{_run_name_link(newest)} " + (
                f'<span class="muted">{_e(str(newest.get("finished") or "").replace("T", " "))}'
                "</span>"
            )
            if status != "ok":
                run_cell += f" {_badge('error')}"
                if entry.get("latest_run"):
                    run_cell += (
                        f'<br><span class="muted">the latest verdict is of run '
                        f"{_e(entry.get('latest_run'))}</span>"
                    )
            if entry.get("changed"):
                run_cell += ' <span class="mark">changed</span>'
        row_class = ' class="changed"' if entry.get("changed") else ""
        out.append(
            f'<tr{row_class}><td><a href="#check-{_e(name)}">{_e(name)}</a></td>'
            f"<td>{_badge(entry.get('latest_verdict'))}{_marks(latest)}</td>"
            f"<td>{run_cell}</td>"
            f'<td class="num">{_e(entry.get("n_runs", len(runs)))}</td></tr>'
        )
    out.append("</tbody></table></section></section>")
    return out


def _trend_runs(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The newest runs with a trend, oldest first, as the charts take them."""
    charted = [r for r in runs if "trend" in r][:TREND_RUNS]
    points = []
    for record in reversed(charted):
        ok = record.get("status") == "ok"
        trend = record.get("trend") if isinstance(record.get("trend"), Mapping) else {}
        confirmation = record.get("confirmation")
        points.append(
            {
                "seq": record.get("seq"),
                "finished": record.get("finished"),
                "verdict": record.get("verdict") if ok else None,
                "confirmed": None
                if not isinstance(confirmation, Mapping)
                else confirmation.get("status") == "confirmed",
                "unstable": ok and is_unstable(record.get("stability")),
                "contradicted": ok and contradiction_alarm(record),
                "gap": trend.get("gap") if ok else None,
                "rows": trend.get("rows") if ok else None,
            }
        )
    return points


def _trends(runs: Sequence[Mapping[str, Any]]) -> str:
    points = _trend_runs(runs)
    if not points:
        return ""
    n = len(points)
    scope = f"the {n} newest runs" if n < len(runs) else f"{n} run{'s' if n != 1 else ''}"
    # The key names only the marks these runs have (a word like "unstable" is a warning).
    key = ["filled: a confirmed all or another verdict"]
    if any(p["verdict"] == "all" and p["confirmed"] is False for p in points):
        key.append("hollow: all, not confirmed")
    if any(p["unstable"] for p in points):
        key.append("dashed ring: unstable")
    if any(p["contradicted"] for p in points):
        key.append("cross: contradicted by the direct test")
    figures = [
        ("Verdict over time", verdict_chart(points), "; ".join(key)),
        (
            "Alignment gap and its interval",
            gap_chart(points),
            "the direct test's gap for the widest regime pair; dashed: ± the tolerance; "
            "red: the interval reaches beyond it",
        ),
        ("Rows per run", rows_chart(points), "rows kept in each regime"),
    ]
    parts = ['<section class="trends" aria-label="trends">']
    for title, svg, key in figures:
        body = svg or '<p class="empty">none of these runs recorded it</p>'
        parts.append(
            f'<figure><figcaption>{_e(title)} <span class="meta">{_e(scope)}</span></figcaption>'
            f'{body}<p class="chart-key">{_e(key)}</p></figure>'
        )
    parts.append("</section>")
    return "".join(parts)


def _runs_table(entry: Mapping[str, Any]) -> list[str]:
    out = [
        '<section class="table-scroll" aria-label="runs"><table class="data compact">'
        "<thead><tr><th>run</th><th>finished (UTC)</th><th>verdict</th>"
        '<th class="num">DAGs</th><th class="num">hold</th><th class="num">fail</th>'
        '<th class="num">invalid</th><th>previous</th><th>change</th><th>outputs</th></tr>'
        "</thead><tbody>"
    ]
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
            f'<td class="nowrap">{_e(str(record.get("finished") or "").replace("T", " "))}</td>'
            f"<td>{_badge(record.get('verdict') if ok else 'error')}"
            f"{_marks(record) if ok else ''}</td>"
            + "".join(
                f'<td class="num">{_count(record.get(key))}</td>'
                for key in ("n_dags", "n_hold", "n_fail", "n_invalid")
            )
            + f"<td>{_badge(record.get('previous_verdict'))}</td><td>{mark}</td>"
            f"<td>{_run_links(record)}</td></tr>"
        )
    out.append("</tbody></table></section>")
    return out


def render_index_html(entries: Sequence[Mapping[str, Any]], *, generated: str | None = None) -> str:
    """The index page: every check (as in ``index.json``'s ``checks``), its gate, trends and runs.

    The page is self-contained (inline CSS, no script, no network) and every
    value from the runs is escaped; links are relative to the output folder.

    Parameters
    ----------
    entries : sequence of mapping
        The ``checks`` of :func:`~mesalens.reports.jobs.index.build_index`, runs newest first.
    generated : str, optional
        When the index was built, shown at the top.

    Returns
    -------
    str
        The HTML document.
    """
    style = template_asset("report.css") + _CSS
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        '<link rel="icon" href="data:,">',
        "<title>mesalens runs</title>",
        f"<style>{style}</style></head><body>",
        '<header class="topbar"><nav class="wrap topbar-inner" aria-label="sections">'
        '<span class="brand">mesalens <span class="brand-sub">job index</span></span>'
        '<span><a href="#tests">Tests</a><a href="#checks">Checks</a>'
        + "".join(
            f'<a href="#check-{_e(entry["name"])}">{_e(entry["name"])}</a>' for entry in entries[:8]
        )
        + "</span></nav></header>",
        '<main class="wrap">',
        '<section class="card" id="tests" aria-labelledby="index-title">',
        '<header class="index-head"><h1 id="index-title">mesalens runs</h1>'
        f'<span class="meta">{len(entries)} check(s)'
        + (f"; index written {_e(generated)}" if generated else "")
        + "</span></header>",
        '<p class="caption">The gate of each check&rsquo;s newest run: '
        "<strong>confirmed</strong> (an <code>all</code> the logs confirm, exit code 0), "
        "<strong>not confirmed</strong> (an <code>all</code> they do not, exit code 8) or "
        "<strong>failed</strong> (a <code>some</code>, <code>none</code> or "
        "<code>invalid</code> verdict, or a run that failed).</p>",
        *_gate_rows(entries),
        "</section>",
        *_alerts(entries),
        *_summary_table(entries),
    ]
    for entry in entries:
        name = str(entry["name"])
        runs = entry.get("runs") or []
        out.append(f'<section class="card" aria-labelledby="check-{_e(name)}">')
        out.append(f'<h2 id="check-{_e(name)}">{_e(name)}</h2>')
        out.append(_config_html(entry.get("config")))
        out.append(_trends(runs))
        out.extend(_runs_table(entry))
        out.append("</section>")
    out.append("</main></body></html>")
    return "\n".join(out) + "\n"
