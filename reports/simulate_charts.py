"""The charts and the gap table of ``mesalens simulate``'s report.

Every chart draws each sample size (``--rows``) in one colour, the same in
every chart (:func:`rows_colors`); the SVG line of a sample size carries the
id ``CHART-rows-N`` so a reader (or a test) can find it. Shift strengths,
drawn as lines only in the chart against sample size, take a grey ramp
instead, so they never borrow a sample size's colour. The sample-size axis
is logarithmic and ticked at the study's sizes (``250``, ``1,000``).

The exact alignment gap of the failing models is a table, not a chart: in
the linear families it grows linearly with the shift by construction, so a
chart of it is a straight line (docs/simulate.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mesalens.reports.charts import Series, line_chart_svg

__all__ = ["gap_table", "rows_colors", "simulation_charts"]

# One colour per sample size, the same in every chart (by the size's rank
# among the study's --rows, which are sorted); shift strengths, which are
# ordered, get a grey ramp instead, so they never take a sample size's colour.
_ROWS_COLORS = (
    "#2563eb",
    "#dc2626",
    "#059669",
    "#d97706",
    "#7c3aed",
    "#db2777",
    "#0891b2",
    "#65a30d",
    "#92400e",
    "#1e3a8a",
)


def rows_colors(sizes: Sequence[int]) -> dict[int, str]:
    """The colour of each sample size: the same one in every chart of the report."""
    return {n: _ROWS_COLORS[i % len(_ROWS_COLORS)] for i, n in enumerate(sorted(sizes))}


def _grey(index: int, count: int) -> str:
    """A grey from light (the first of ``count``) to near black (the last)."""
    level = 0.7 if count == 1 else 0.7 - 0.6 * index / (count - 1)
    value = round(level * 255)
    return f"#{value:02x}{value:02x}{value:02x}"


def _rows_key(chart: str, n: int) -> str:
    return f"{chart}-rows-{n}"


def simulation_charts(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's charts, each ``{"svg", "caption"}``, from a ``simulation.json`` document."""
    cells = document["cells"]
    settings = document["settings"]
    shifts, sizes = settings["shifts"], settings["rows"]
    by = {(c["shift"], c["rows"]): c for c in cells}
    colors = rows_colors(sizes)

    def band(values: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
        lows = [float("nan") if c[key][0] is None else c[key][0] for c in values]
        highs = [float("nan") if c[key][1] is None else c[key][1] for c in values]
        return lows, highs

    def nan(value: float | None) -> float:
        return float("nan") if value is None else value

    charts = []
    accuracy_series = []
    for n in sizes:
        row = [by[(s, n)] for s in shifts]
        lows, highs = band(row, "accuracy_interval")
        accuracy_series.append(
            Series(
                f"{n:,} rows",
                shifts,
                [nan(c["accuracy"]) for c in row],
                lows,
                highs,
                color=colors[n],
                key=_rows_key("accuracy", n),
            )
        )
    charts.append(
        {
            "svg": line_chart_svg(
                accuracy_series,
                x_label="shift strength (standardized mean shift)",
                y_label="accuracy (learned verdict = true)",
                title="Learned verdict = true verdict",
            ),
            "caption": "Share of models whose learned verdict equals the true graph's, by shift "
            "strength, one line per sample size; bands are 95% Wilson intervals.",
        }
    )
    if len(sizes) > 1:
        size_series = []
        for index, s in enumerate(shifts):
            row = [by[(s, n)] for n in sizes]
            lows, highs = band(row, "accuracy_interval")
            size_series.append(
                Series(
                    f"shift {s:g}",
                    sizes,
                    [nan(c["accuracy"]) for c in row],
                    lows,
                    highs,
                    color=_grey(index, len(shifts)),
                )
            )
        charts.append(
            {
                "svg": line_chart_svg(
                    size_series,
                    x_label="rows (both regimes; log scale)",
                    y_label="accuracy (learned verdict = true)",
                    title="Accuracy against sample size",
                    x_ticks=sizes,
                ),
                "caption": "The same accuracy by sample size, one line per shift strength "
                "(greys, darker for stronger shifts); the axis is spaced logarithmically and "
                "ticked at the study's sample sizes.",
            }
        )
    hold_series = [
        Series(
            "true graph",
            shifts,
            [nan(by[(s, sizes[0])]["true_hold_share"]) for s in shifts],
            color="#111827",
            key="holds-true",
            dashed=True,
        )
    ]
    for n in sizes:
        hold_series.append(
            Series(
                f"learned, {n:,} rows",
                shifts,
                [nan(by[(s, n)]["learned_hold_share"]) for s in shifts],
                color=colors[n],
                key=_rows_key("holds", n),
            )
        )
    charts.append(
        {
            "svg": line_chart_svg(
                hold_series,
                x_label="shift strength (standardized mean shift)",
                y_label="share where the criterion holds",
                title="How often the criterion holds",
            ),
            "caption": "Share of models in which the criterion holds in the true graph (dashed), "
            "and in which the pipeline says it holds (verdict all), by shift strength; each "
            "sample size keeps its colour from the first chart.",
        }
    )
    return charts


def gap_table(document: dict[str, Any]) -> dict[str, Any]:
    """The exact alignment gap by shift strength, as numbers (a chart would be a line)."""
    settings = document["settings"]
    sizes = settings["rows"]
    by = {(c["shift"], c["rows"]): c for c in document["cells"]}
    rows = []
    for s in settings["shifts"]:
        # The gap is the model's, not the sample's: every sample size has the same one.
        cell = by[(s, sizes[0])]
        gap = cell["mean_abs_gap_when_fails"]
        fails = cell["replicates"] - cell["true_holds"]
        rows.append([f"{s:g}", f"{fails}", "–" if gap is None else f"{gap:.3f}"])
    if settings["family"]["kind"] in ("linear-gaussian", "confounded"):
        growth = "In this family it grows linearly with the shift strength."
    else:
        growth = (
            "In this family it is the largest value over Y_m's train deciles or levels "
            "(simulation.json, settings.gap)."
        )
    return {
        "headings": ["shift", "models where it fails", "mean |gap| (SD of Y_b)"],
        "rows": rows,
        "caption": "The exact alignment gap |E[Y_b | Y_m, deploy] - E[Y_b | Y_m, train]| of the "
        "models where the criterion fails, averaged, in within-regime standard deviations of "
        f"Y_b; it is exactly 0 wherever the criterion holds. {growth}",
    }
