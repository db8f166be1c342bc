"""``mesalens simulate``'s report: colours per sample size, the rows axis, the gap table, progress.

Issue 16, part 4, the ``simulate`` bullets: each sample size keeps one colour
in every chart, the rows axis is ticked at the study's sample sizes (with
thousands separators, not log10), the gap that grows linearly by
construction is a table, the progress bar counts pipeline runs, and the
report is screenshotted in headless Chromium (test-artifacts/).
"""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest
from click.testing import CliRunner

from mesalens.pipeline.simulation import SimulationSettings, run_simulation
from mesalens.reports.cli import cli
from tests.test_html import ARTIFACTS, browser, open_page  # noqa: F401  (browser: a fixture)

ROWS = (250, 1000)
SHIFTS = (0.0, 0.5, 1.0)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("simcharts") / "study"
    args = ["simulate", "--replicates", "2", "--rows", ",".join(map(str, ROWS))]
    args += ["--shifts", ",".join(map(str, SHIFTS)), "--nodes", "5", "--no-direct-test"]
    args += ["--scheduler", "sync", "-q", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return out


def _svgs(page: str) -> list[str]:
    return re.findall(r"<svg.*?</svg>", page, re.DOTALL)


def _series_colors(svg: str) -> dict[str, str]:
    """The stroke colour of each keyed line (``<g id="KEY"><path ... stroke: #RGB``)."""
    found = re.findall(
        r'<g id="([a-z]+-[a-z0-9-]+)">\s*<path [^>]*?style="[^"]*?stroke: (#[0-9a-f]{6})',
        svg,
    )
    return dict(found)


def test_each_sample_size_has_one_colour_across_charts(study):
    page = (study / "report.html").read_text()
    by_rows: dict[int, set[str]] = {n: set() for n in ROWS}
    charts_per_rows: dict[int, int] = dict.fromkeys(ROWS, 0)
    others: set[str] = set()
    for svg in _svgs(page):
        for key, color in _series_colors(svg).items():
            match = re.fullmatch(r"[a-z]+-rows-(\d+)", key)
            if match:
                by_rows[int(match.group(1))].add(color)
                charts_per_rows[int(match.group(1))] += 1
            else:
                others.add(color)
    # Each size is drawn in two charts (accuracy by shift, how often it holds) ...
    assert charts_per_rows == dict.fromkeys(ROWS, 2)
    # ... in one colour, its own, which no other line in the report takes.
    assert all(len(colors) == 1 for colors in by_rows.values()), by_rows
    colors = [next(iter(c)) for c in by_rows.values()]
    assert len(set(colors)) == len(ROWS)
    assert not set(colors) & others
    # The legend says which size each colour is: its label sits in the same chart.
    for svg in _svgs(page):
        for key in _series_colors(svg):
            if "-rows-" in key:
                assert f"{int(key.rsplit('-', 1)[1]):,} rows" in unescape(svg)


def test_rows_axis_is_ticked_at_the_sample_sizes(study):
    page = (study / "report.html").read_text()
    (size_chart,) = [svg for svg in _svgs(page) if "Accuracy against sample size" in svg]
    ticks = re.findall(r'<g id="xtick_\d+">.*?>([^<>]+)</text>', size_chart, re.DOTALL)
    assert [t.strip() for t in ticks] == ["250", "1,000"]
    assert "log10" not in page
    assert "rows (both regimes; log scale)" in size_chart


def test_gap_is_a_table_not_a_straight_line(study):
    page = (study / "report.html").read_text()
    document = json.loads((study / "simulation.json").read_text())
    assert "How far Y_b moves at equal Y_m" not in "".join(_svgs(page))
    table = re.search(r'<table class="data compact" id="gap-table".*?</table>', page, re.DOTALL)
    assert table is not None
    cells = [
        [unescape(v) for v in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", table.group(0), re.DOTALL)
        if "<td" in row
    ]
    assert [row[0] for row in cells] == [f"{s:g}" for s in SHIFTS]
    for row, shift in zip(cells, SHIFTS, strict=True):
        trials = [t for t in document["trials"] if t["shift"] == shift and t["rows"] == ROWS[0]]
        fails = [t for t in trials if t["true_verdict"] != "all"]
        assert row[1] == str(len(fails))
        if fails:
            mean = sum(abs(t["gap"]) for t in fails) / len(fails)
            assert row[2] == f"{mean:.3f}"
        else:
            assert row[2] == "–"
    # No shift, no gap: the criterion holds in every model.
    assert cells[0][1:] == ["0", "–"]


def test_progress_counts_pipeline_runs_as_they_finish():
    grid = SimulationSettings(replicates=2, rows=(200, 300, 400), shifts=(0.0, 1.0), seed=1)
    calls: list[tuple[int, int]] = []
    result = run_simulation(grid, scheduler="sync", on_progress=lambda d, t: calls.append((d, t)))
    total = 2 * 3 * 2
    assert len(result.trials) == total
    # One call per (replicate, shift) task, each adding its three sample sizes;
    # the bar is past zero after the first task, not after a whole replicate.
    assert calls == [(done, total) for done in range(0, total + 1, 3)]


def test_simulate_report_in_chromium(browser, study):  # noqa: F811  (the fixture of tests/test_html.py)
    page, seen = open_page(browser, study / "report.html")
    try:
        assert page.locator("svg.chart").count() == 3
        assert page.locator("#gap-table tbody tr").count() == len(SHIFTS)
        assert page.locator("#gap-table").is_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "simulate-report.png"), full_page=True)
    finally:
        page.close()
    assert seen["errors"] == []
    assert seen["requests"] == [(study / "report.html").as_uri()]


class _RecordingProgress:
    """Stands in for rich's Progress in the CLI: records the task's total and updates."""

    seen: list[tuple[str, int, int]]

    def __init__(self, *columns: object, **options: object) -> None:
        type(self).seen = []

    def __enter__(self) -> _RecordingProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, description: str, total: int) -> int:
        type(self).seen.append(("add", 0, total))
        return 1

    def update(self, task: int, completed: int, total: int) -> None:
        type(self).seen.append(("update", completed, total))


def test_cli_progress_bar_counts_pipeline_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich draws the bar only on a terminal
    monkeypatch.setattr("rich.progress.Progress", _RecordingProgress)
    args = ["simulate", "--replicates", "2", "--rows", "200,300", "--shifts", "0,1"]
    args += ["--nodes", "5", "--no-direct-test", "--scheduler", "sync", "--out", str(tmp_path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    total = 2 * 2 * 2
    assert _RecordingProgress.seen[0] == ("add", 0, total)
    # After every (replicate, shift) task, two more runs: half-way after the first replicate.
    assert _RecordingProgress.seen[1:] == [("update", d, total) for d in range(0, total + 1, 2)]
