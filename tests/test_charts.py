"""Charts are inline SVG, reproducible byte for byte, and escape every label."""

from __future__ import annotations

from mesalens.reports.charts import Series, line_chart_svg


def _chart(title: str = "curve") -> str:
    return line_chart_svg(
        [Series("gap", [0.0, 0.5, 1.0], [0.0, -0.9, -1.8], [0.0, -1.0, -2.0], [0.0, -0.8, -1.6])],
        x_label="λ",
        y_label="gap",
        title=title,
        reference_y=0.0,
    )


def test_chart_is_an_inline_svg_element_without_a_prologue():
    svg = _chart()
    assert svg.startswith('<svg class="chart" role="img" ')
    assert svg.rstrip().endswith("</svg>")
    assert "<?xml" not in svg and "<!DOCTYPE" not in svg
    assert 'width="' not in svg.split(">", 1)[0]  # scales with the page


def test_same_data_give_the_same_bytes():
    assert _chart() == _chart()
    assert _chart() != _chart("other")


def test_labels_from_data_are_escaped():
    svg = line_chart_svg(
        [Series("<script>alert(1)</script>", [0, 1], [0, 1]), Series("b&c", [0, 1], [1, 0])],
        x_label="<b>x</b>",
        y_label="y",
        title="<img src=x onerror=alert(1)>",
    )
    assert "<script" not in svg and "<img" not in svg and "<b>" not in svg
    assert "&lt;script&gt;" in svg and "&lt;img" in svg
