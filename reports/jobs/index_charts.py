"""The trend charts of a job's index page: small inline SVG, drawn here by hand.

Three charts per check, one point per run, oldest on the left (the newest
:data:`~mesalens.reports.jobs.trends.TREND_RUNS` runs):

* **verdict over time** (:func:`verdict_chart`): one mark per run on the row
  of its verdict (``all``, ``some``, ``none``, ``invalid``, or ``error`` for a
  failed run); a filled mark is an ``all`` the logs confirm or any other
  verdict, a hollow one an ``all`` they do not confirm; a ring marks an
  unstable verdict and a cross a contradicted one;
* **alignment gap** (:func:`gap_chart`): the direct test's gap with its
  interval, and the tolerance (``±δ``, dashed) when the run asked the logs
  to confirm an ``all``;
* **rows per run** (:func:`rows_chart`): the rows kept in each regime.

The page stays self-contained and quick to write after every check (no
matplotlib): each chart is an ``<svg>`` element with a ``viewBox``, its
points carry a ``<title>`` (the tooltip: run number, time, value), and every
text from the runs is escaped. No run folder name appears in a chart (the
page lists the runs newest first; the charts name runs by number and time).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from mesalens.reports.formatting import format_count

__all__ = ["REGIME_COLORS", "VERDICT_COLORS", "gap_chart", "rows_chart", "verdict_chart"]

#: The colour of each verdict (as the report's), and of a failed run.
VERDICT_COLORS = {
    "all": "#15803d",
    "some": "#ca8a04",
    "none": "#b91c1c",
    "invalid": "#7e22ce",
    "error": "#334155",
}
#: The report's regime palette, in regime order.
REGIME_COLORS = ("#2563eb", "#ea580c", "#16a34a", "#7c3aed", "#db2777", "#0891b2", "#4b5563")

_WIDTH = 520
_LEFT, _RIGHT, _TOP, _BOTTOM = 62, 12, 14, 30
_VERDICT_ROWS = ("all", "some", "none", "invalid", "error")


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _fmt(value: float) -> str:
    """A coordinate with two decimals at most."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _number(value: float) -> str:
    """A value for an axis or a tooltip: 3 significant digits."""
    if value == 0:
        return "0"
    return f"{value:.3g}" if abs(value) < 1e5 else f"{value:.2e}"


def _when(run: Mapping[str, Any]) -> str:
    """``run 3, 2026-12-06 02:00`` (the run's number and when it finished, UTC)."""
    finished = str(run.get("finished") or "")
    when = finished.replace("T", " ")[:16] if finished else "time unknown"
    seq = run.get("seq")
    number = f"run {seq}" if isinstance(seq, int) and not isinstance(seq, bool) else "run"
    return f"{number}, {when}"


class _Frame:
    """Positions along the x axis (one slot per run) and a linear y scale."""

    def __init__(self, runs: Sequence[Mapping[str, Any]], height: int):
        self.runs = runs
        self.height = height
        self.n = len(runs)
        self.plot_w = _WIDTH - _LEFT - _RIGHT
        self.plot_h = height - _TOP - _BOTTOM

    def x(self, index: int) -> float:
        if self.n == 1:
            return _LEFT + self.plot_w / 2
        return _LEFT + 8 + index * (self.plot_w - 16) / (self.n - 1)

    def open_svg(self, kind: str, label: str) -> list[str]:
        return [
            f'<svg class="trend trend-{kind}" viewBox="0 0 {_WIDTH} {self.height}" '
            f'role="img" aria-label="{_e(label)}" preserveAspectRatio="xMinYMin meet">',
            f"<title>{_e(label)}</title>",
        ]

    def x_axis(self) -> list[str]:
        """The x axis: the first and the last run's number and date, and the middle one's."""
        y = self.height - _BOTTOM
        out = [
            f'<line class="axis" x1="{_LEFT}" y1="{y}" x2="{_WIDTH - _RIGHT}" y2="{y}"/>',
        ]
        shown = sorted({0, self.n - 1} | ({(self.n - 1) // 2} if self.n > 4 else set()))
        for index in shown:
            run = self.runs[index]
            finished = str(run.get("finished") or "")[:10]
            seq = run.get("seq")
            text = f"#{seq}" if isinstance(seq, int) and not isinstance(seq, bool) else ""
            text = f"{text} {finished}".strip()
            anchor = (
                "start"
                if index == 0 and self.n > 1
                else "end"
                if index == self.n - 1
                else ("middle")
            )
            if self.n == 1:
                anchor = "middle"
            out.append(
                f'<text class="tick" x="{_fmt(self.x(index))}" y="{y + 16}" '
                f'text-anchor="{anchor}">{_e(text)}</text>'
            )
        return out


def _grid_line(y: float) -> str:
    return f'<line class="grid" x1="{_LEFT}" y1="{_fmt(y)}" x2="{_WIDTH - _RIGHT}" y2="{_fmt(y)}"/>'


def _y_scale(low: float, high: float, top: float, bottom: float):
    if not high > low:
        low, high = low - 1.0, high + 1.0
    span = high - low

    def scale(value: float) -> float:
        return bottom - (value - low) / span * (bottom - top)

    return scale


def _nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values covering ``[low, high]``."""
    if not high > low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
        value += step
    return ticks


def verdict_chart(runs: Sequence[Mapping[str, Any]]) -> str:
    """The verdict of each run over time (see the module docstring), or ``""`` without runs.

    Each run is a mapping with ``seq``, ``finished``, ``verdict`` (None for a
    failed run), ``confirmed`` (False for an ``all`` the logs do not
    confirm), ``unstable`` and ``contradicted``.

    >>> svg = verdict_chart([{"seq": 1, "finished": "2026-01-01T02:00:00Z", "verdict": "all"}])
    >>> svg.startswith('<svg class="trend trend-verdict"') and 'data-verdict="all"' in svg
    True
    """
    if not runs:
        return ""
    frame = _Frame(runs, height=_TOP + _BOTTOM + 22 * len(_VERDICT_ROWS))
    step = frame.plot_h / len(_VERDICT_ROWS)
    row_y = {name: _TOP + step * (i + 0.5) for i, name in enumerate(_VERDICT_ROWS)}
    out = frame.open_svg("verdict", "Verdict of each run, oldest on the left")
    for name, y in row_y.items():
        out.append(_grid_line(y))
        out.append(
            f'<text class="label" x="{_LEFT - 8}" y="{_fmt(y + 4)}" text-anchor="end">{name}</text>'
        )
    out.extend(frame.x_axis())
    previous: tuple[float, float] | None = None
    path = []
    for index, run in enumerate(runs):
        verdict = run.get("verdict") if run.get("verdict") in VERDICT_COLORS else "error"
        x, y = frame.x(index), row_y[verdict]
        path.append(f"{'M' if previous is None else 'L'}{_fmt(x)} {_fmt(y)}")
        previous = (x, y)
    if len(path) > 1:
        out.append(f'<path class="step" d="{" ".join(path)}"/>')
    radius = 5.5 if len(runs) <= 40 else 4 if len(runs) <= 70 else 3
    for index, run in enumerate(runs):
        verdict = run.get("verdict") if run.get("verdict") in VERDICT_COLORS else "error"
        x, y = frame.x(index), row_y[verdict]
        color = VERDICT_COLORS[verdict]
        hollow = verdict == "all" and run.get("confirmed") is False
        words = [
            f"{_when(run)}: verdict {verdict if verdict != 'error' else 'none (the run failed)'}"
        ]
        if hollow:
            words.append("not confirmed by the logs")
        elif verdict == "all" and run.get("confirmed") is True:
            words.append("confirmed by the logs")
        if run.get("unstable"):
            words.append("unstable under the bootstrap")
        if run.get("contradicted"):
            words.append("the direct test contradicts it")
        fill = "#ffffff" if hollow else color
        out.append(
            f'<g class="run" data-verdict="{verdict}"><title>{_e("; ".join(words))}</title>'
            f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="{radius}" fill="{fill}" '
            f'stroke="{color}" stroke-width="2"/>'
        )
        if run.get("unstable"):
            out.append(
                f'<circle class="ring" cx="{_fmt(x)}" cy="{_fmt(y)}" r="{radius + 4}" '
                'fill="none" stroke="#d97706" stroke-width="1.6" stroke-dasharray="2 2"/>'
            )
        if run.get("contradicted"):
            d = radius + 3
            out.append(
                f'<path class="cross" d="M{_fmt(x - d)} {_fmt(y - d)}L{_fmt(x + d)} {_fmt(y + d)}'
                f'M{_fmt(x - d)} {_fmt(y + d)}L{_fmt(x + d)} {_fmt(y - d)}" '
                'stroke="#dc2626" stroke-width="1.8"/>'
            )
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


def gap_chart(runs: Sequence[Mapping[str, Any]]) -> str:
    """The alignment gap with its interval per run, and ``±`` the tolerance; ``""`` without gaps.

    Each run is a mapping with ``seq``, ``finished`` and ``gap`` (the
    :func:`~mesalens.reports.jobs.trends.trend_point` gap, or None).

    >>> gap = {"estimate": 0.1, "lower": 0.0, "upper": 0.2, "level": 0.95, "tolerance": 0.3}
    >>> svg = gap_chart([{"seq": 1, "finished": "2026-01-01T02:00:00Z", "gap": gap}])
    >>> 'class="interval"' in svg and 'class="tolerance"' in svg
    True
    >>> gap_chart([{"seq": 1, "gap": None}])
    ''
    """
    gaps = [run.get("gap") if isinstance(run.get("gap"), Mapping) else None for run in runs]
    if not any(gaps):
        return ""
    values = [0.0]
    for gap in gaps:
        if gap:
            values += [gap["lower"], gap["upper"]]
            if gap.get("tolerance") is not None:
                values += [gap["tolerance"], -gap["tolerance"]]
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 or 0.1
    low, high = low - pad, high + pad
    frame = _Frame(runs, height=200)
    bottom = frame.height - _BOTTOM
    scale = _y_scale(low, high, _TOP, bottom)
    level = next((g.get("level") for g in gaps if g and g.get("level")), None)
    level_text = f"{round(level * 100, 6):g}% interval" if level else "interval"
    out = frame.open_svg(
        "gap", f"Alignment gap of each run with its {level_text}, oldest on the left"
    )
    for tick in _nice_ticks(low, high):
        y = scale(tick)
        out.append(
            _grid_line(y)
            + f'<text class="label" x="{_LEFT - 8}" y="{_fmt(y + 4)}" text-anchor="end">'
            f"{_e(_number(tick))}</text>"
        )
    zero = scale(0.0)
    out.append(
        f'<line class="zero" x1="{_LEFT}" y1="{_fmt(zero)}" x2="{_WIDTH - _RIGHT}" '
        f'y2="{_fmt(zero)}"/>'
    )
    out.append(
        f'<text class="axis-title" x="14" y="{_fmt((_TOP + bottom) / 2)}" '
        f'transform="rotate(-90 14 {_fmt((_TOP + bottom) / 2)})" text-anchor="middle">'
        "gap (Y_b units)</text>"
    )
    out.extend(frame.x_axis())
    # The tolerance band's edges, run by run (a dashed step where it is known).
    for sign in (1, -1):
        segments = []
        for index, gap in enumerate(gaps):
            if gap and gap.get("tolerance") is not None:
                segments.append((frame.x(index), scale(sign * gap["tolerance"])))
        if segments:
            d = " ".join(
                f"{'M' if i == 0 else 'L'}{_fmt(x)} {_fmt(y)}" for i, (x, y) in enumerate(segments)
            )
            if len(segments) == 1:
                x, y = segments[0]
                d = f"M{_fmt(x - 14)} {_fmt(y)}L{_fmt(x + 14)} {_fmt(y)}"
            out.append(f'<path class="tolerance" d="{d}"/>')
    line = [(frame.x(i), scale(gap["estimate"])) for i, gap in enumerate(gaps) if gap is not None]
    if len(line) > 1:
        d = " ".join(
            f"{'M' if i == 0 else 'L'}{_fmt(x)} {_fmt(y)}" for i, (x, y) in enumerate(line)
        )
        out.append(f'<path class="estimate-line" d="{d}"/>')
    for index, (run, gap) in enumerate(zip(runs, gaps, strict=True)):
        if gap is None:
            continue
        x = frame.x(index)
        words = (
            f"{_when(run)}: gap {_number(gap['estimate'])} ({gap.get('pair', '')}, "
            f"{gap.get('base', '')}), {level_text} [{_number(gap['lower'])}, "
            f"{_number(gap['upper'])}]"
        )
        if gap.get("tolerance") is not None:
            words += f"; tolerance ±{_number(gap['tolerance'])}"
            if gap.get("tolerance_text"):
                words += f" ({gap['tolerance_text']})"
        outside = (
            gap.get("tolerance") is not None
            and max(abs(gap["lower"]), abs(gap["upper"])) > gap["tolerance"]
        )
        css = "gap-point outside" if outside else "gap-point"
        out.append(
            f'<g class="{css}"><title>{_e(words)}</title>'
            f'<line class="interval" x1="{_fmt(x)}" y1="{_fmt(scale(gap["lower"]))}" '
            f'x2="{_fmt(x)}" y2="{_fmt(scale(gap["upper"]))}"/>'
            f'<line class="interval" x1="{_fmt(x - 4)}" y1="{_fmt(scale(gap["lower"]))}" '
            f'x2="{_fmt(x + 4)}" y2="{_fmt(scale(gap["lower"]))}"/>'
            f'<line class="interval" x1="{_fmt(x - 4)}" y1="{_fmt(scale(gap["upper"]))}" '
            f'x2="{_fmt(x + 4)}" y2="{_fmt(scale(gap["upper"]))}"/>'
            f'<circle cx="{_fmt(x)}" cy="{_fmt(scale(gap["estimate"]))}" r="3.5"/></g>'
        )
    out.append("</svg>")
    return "".join(out)


def rows_chart(runs: Sequence[Mapping[str, Any]]) -> str:
    """The rows kept in each regime per run, one line per regime; ``""`` without rows.

    Each run is a mapping with ``seq``, ``finished`` and ``rows`` (regime ->
    rows kept, or None).

    >>> svg = rows_chart([{"seq": 1, "rows": {"train": 300, "deploy": 200}}])
    >>> svg.count('class="rows-point"')
    2
    """
    tables = [run.get("rows") if isinstance(run.get("rows"), Mapping) else None for run in runs]
    if not any(tables):
        return ""
    regimes: list[str] = []
    for table in tables:
        for name in table or ():
            if name not in regimes:
                regimes.append(name)
    high = max(max(table.values()) for table in tables if table)
    frame = _Frame(runs, height=170)
    bottom = frame.height - _BOTTOM
    top_value = max(_nice_ticks(0.0, high * 1.08 or 1.0)[-1], high * 1.08 or 1.0)
    scale = _y_scale(0.0, top_value, _TOP, bottom)
    out = frame.open_svg("rows", "Rows kept per regime in each run, oldest on the left")
    for tick in _nice_ticks(0.0, top_value):
        y = scale(tick)
        out.append(
            _grid_line(y)
            + f'<text class="label" x="{_LEFT - 8}" y="{_fmt(y + 4)}" text-anchor="end">'
            f"{_e(format_count(int(tick)))}</text>"
        )
    out.extend(frame.x_axis())
    for position, name in enumerate(regimes):
        color = REGIME_COLORS[position % len(REGIME_COLORS)]
        points = [
            (index, table[name])
            for index, table in enumerate(tables)
            if table and isinstance(table.get(name), int)
        ]
        if len(points) > 1:
            d = " ".join(
                f"{'M' if i == 0 else 'L'}{_fmt(frame.x(index))} {_fmt(scale(value))}"
                for i, (index, value) in enumerate(points)
            )
            out.append(f'<path class="rows-line" stroke="{color}" d="{d}"/>')
        for index, value in points:
            words = f"{_when(runs[index])}: {format_count(value)} rows kept in {name}"
            out.append(
                f'<g class="rows-point"><title>{_e(words)}</title>'
                f'<circle cx="{_fmt(frame.x(index))}" cy="{_fmt(scale(value))}" r="3.5" '
                f'fill="{color}"/></g>'
            )
    # The legend: one swatch per regime, top right.
    x = _WIDTH - _RIGHT
    for position, name in reversed(list(enumerate(regimes))):
        color = REGIME_COLORS[position % len(REGIME_COLORS)]
        label = _e(name)
        width = 14 + 7 * len(name)
        x -= width + 10
        out.append(
            f'<rect x="{_fmt(x)}" y="{_TOP}" width="10" height="10" fill="{color}"/>'
            f'<text class="key-text" x="{_fmt(x + 14)}" y="{_TOP + 9}">{label}</text>'
        )
    out.append("</svg>")
    return "".join(out)
