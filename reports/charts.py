"""Line charts as inline SVG for the report, drawn by matplotlib.

The report is one self-contained file, so a chart is an ``<svg>`` element
in the page, not an image file. matplotlib draws it (its SVG writer);
this module only fixes what makes the output reproducible and embeddable:
a fixed hash salt and no date (the same data give the same bytes), text
kept as text (``svg.fonttype = none``: selectable, small), and the XML
prologue removed so the markup can sit inside HTML.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

__all__ = ["Series", "line_chart_svg"]

# The report's regime palette continues with these for further series.
_COLORS = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2", "#4b5563")


@dataclass(frozen=True)
class Series:
    """One line: its legend label, x and y values, and optional lower/upper band.

    ``color`` fixes the line's colour (else the palette's next one); ``key``
    becomes the ``id`` of the line's ``<g>`` element in the SVG, so a page
    (or a test) can find a series by what it shows, e.g. its sample size.
    """

    label: str
    x: Sequence[float]
    y: Sequence[float]
    lower: Sequence[float] | None = None
    upper: Sequence[float] | None = None
    color: str | None = None
    key: str | None = None
    dashed: bool = False


def line_chart_svg(
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    title: str | None = None,
    width: float = 6.0,
    height: float = 3.2,
    reference_y: float | None = None,
    x_ticks: Sequence[float] | None = None,
) -> Markup:
    """Draw ``series`` as one line chart and return it as an inline ``<svg>`` element.

    Parameters
    ----------
    series : sequence of Series
        The lines, drawn in order; a series with ``lower`` and ``upper`` gets a
        shaded band (a confidence interval).
    x_label, y_label : str
        Axis labels.
    title : str, optional
        Drawn above the plot.
    width, height : float
        Size in inches (the SVG scales with the page).
    reference_y : float, optional
        A dashed horizontal line (e.g. "no shift" at 0).
    x_ticks : sequence of float, optional
        Draw the x axis on a log scale with ticks at exactly these values,
        labelled with thousands separators (``1,000``): for sample sizes.

    Returns
    -------
    Markup
        The ``<svg>`` element; labels come from the caller's data and are
        escaped by matplotlib's SVG writer.

    Examples
    --------
    >>> svg = line_chart_svg([Series("a", [0, 1], [0.0, 2.0])], x_label="λ", y_label="gap")
    >>> svg.startswith("<svg") and "</svg>" in svg
    True
    """
    # Imported on first use: matplotlib costs ~0.3 s at start-up. A bare Figure
    # needs no backend selection (no pyplot, no global state).
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(
        {"svg.hashsalt": "mesalens", "svg.fonttype": "none", "font.size": 9}
    ):
        figure = Figure(figsize=(width, height))
        axes = figure.add_subplot()
        for index, line in enumerate(series):
            color = line.color or _COLORS[index % len(_COLORS)]
            (drawn,) = axes.plot(
                line.x,
                line.y,
                color=color,
                label=line.label,
                linewidth=1.6,
                linestyle="--" if line.dashed else "-",
            )
            if line.key is not None:
                drawn.set_gid(line.key)
            if line.lower is not None and line.upper is not None:
                axes.fill_between(line.x, line.lower, line.upper, color=color, alpha=0.15)
        if reference_y is not None:
            axes.axhline(reference_y, color="#6b7280", linewidth=0.8, linestyle="--")
        if x_ticks is not None:
            from matplotlib.ticker import NullFormatter, NullLocator

            axes.set_xscale("log")
            axes.set_xticks(list(x_ticks), [f"{value:,.0f}" for value in x_ticks])
            axes.xaxis.set_minor_locator(NullLocator())
            axes.xaxis.set_minor_formatter(NullFormatter())
        axes.set_xlabel(x_label)
        axes.set_ylabel(y_label)
        if title:
            axes.set_title(title)
        if len(series) > 1:
            axes.legend(frameon=False, fontsize=8)
        axes.spines[["top", "right"]].set_visible(False)
        figure.tight_layout()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    start = text.index("<svg")
    svg = re.sub(r"\s(width|height)=\"[^\"]*pt\"", "", text[start:], count=2)
    return Markup(svg.replace("<svg ", '<svg class="chart" role="img" ', 1))
