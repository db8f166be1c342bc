"""The index page of a job's output folder: every check and its runs, as one HTML file."""

from __future__ import annotations

import html
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from mesalens.reports.formatting import format_count
from mesalens.reports.jobs.layout import RUNS
from mesalens.reports.vocabulary import (
    CONTRADICTED_TITLE,
    CONTRADICTION_WORDS,
    is_contradicted,
    is_unstable,
    stability_words,
)

__all__ = ["render_index_html"]


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
.unconfirmed{color:#92400e;font-weight:700;border:1px solid #d97706;border-radius:9px;padding:0 6px}
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


def _unstable_mark(stability: Any) -> str:
    """The "unstable" marker after a verdict whose bootstrap share is below its threshold."""
    if not is_unstable(stability):
        return ""
    return f' <span class="unstable" title="{_e(stability_words(stability))}">unstable</span>'


def _contradicted_mark(direct_test: Any) -> str:
    """The "contradicted" marker after a verdict ``all`` that the direct test rejects."""
    if not is_contradicted(direct_test):
        return ""
    return f' <span class="contradicted" title="{_e(CONTRADICTED_TITLE)}">contradicted</span>'


def _unconfirmed_mark(confirmation: Any) -> str:
    """The "not confirmed" marker after an ``all`` the logs do not confirm (exit code 8)."""
    if not (isinstance(confirmation, dict) and confirmation.get("status") == "not confirmed"):
        return ""
    reasons = confirmation.get("reasons")
    title = "; ".join(str(r) for r in reasons) if isinstance(reasons, list) else ""
    return f' <span class="unconfirmed" title="{_e(title)}">not confirmed</span>'


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
        The ``checks`` of :func:`~mesalens.reports.jobs.index.build_index`, runs newest first.
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
            f"{_unconfirmed_mark(entry.get('confirmation'))}"
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
                f"{_contradicted_mark(record.get('direct_test') if ok else None)}"
                f"{_unconfirmed_mark(record.get('confirmation') if ok else None)}</td>"
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
