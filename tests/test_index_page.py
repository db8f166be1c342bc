"""The job index a reviewer opens every morning (issue 16, part 5), through ``mesalens run``.

Three nights of a job with two checks, run as a scheduler would: ``steady``
stays an ``all`` the logs confirm; ``shifting`` is an ``all`` until its
deployment logs start to leak around the value head (verdict ``none``), and
on the second night its logs are too few to confirm the ``all``. The page
must carry each check's gate with its reason, one newest-run column, the
markers, normalised paths, trend charts drawn from the runs' own
``result.json`` and a link back from every run's report.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mesalens.reports.cli import cli
from mesalens.reports.formatting import format_count
from mesalens.reports.jobs.index import build_index, write_index
from mesalens.reports.jobs.index_html import check_gate, display_location, render_index_html
from mesalens.reports.jobs.trends import read_trend_point, trend_point
from tests.test_html import ARTIFACTS, browser, open_page  # noqa: F401  (browser: a fixture)

JOB = """
sensitivity = false
base = "reward"
mesa = "value"
decision = "action"
policy_inputs = ["obs"]
alpha = 0.05

[[check]]
name = "steady"
[check.regimes]
train = "sub/../logs/steady/train/*.parquet"
deploy = "sub/../logs/steady/deploy/*.parquet"

[[check]]
name = "shifting"
[check.regimes]
train = "logs/shifting/train/*.parquet"
deploy = "logs/shifting/deploy/*.parquet"
"""

# (rows per regime of steady, of shifting, whether shifting's deployment leaks), per night
NIGHTS = [(3000, 3000, False), (3600, 60, False), (4200, 3000, True)]


def write_logs(folder: Path, rows: int, leak: bool, seed: int) -> None:
    """The linear agent of tests/test_jobs.py: the reward leaks around the value when asked."""
    rng = np.random.default_rng(seed)
    for code, name in enumerate(["train", "deploy"]):
        obs = rng.normal(size=rows) + 1.5 * code
        action = 0.8 * obs + rng.normal(size=rows)
        value = 0.9 * action + rng.normal(size=rows)
        reward = 0.9 * value + rng.normal(size=rows) + (1.5 * code if leak else 0.0)
        target = folder / name
        target.mkdir(parents=True, exist_ok=True)
        frame = pd.DataFrame({"obs": obs, "action": action, "value": value, "reward": reward})
        frame.to_parquet(target / "part-0.parquet")


class Tags(HTMLParser):
    """Every start tag with its attributes and the text inside it, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(page)
    return parser.tags


def section(page: str, name: str) -> str:
    """The card of check ``name``: from its heading to the next card."""
    start = page.index(f'<h2 id="check-{name}">')
    end = page.find('<section class="card"', start)
    return page[start : end if end != -1 else len(page)]


def svg(part: str, kind: str) -> str:
    start = part.index(f'<svg class="trend trend-{kind}"')
    return part[start : part.index("</svg>", start)]


@pytest.fixture(scope="module")
def job(tmp_path_factory) -> Path:
    """Three nights of the job through the CLI; returns the output folder."""
    root = tmp_path_factory.mktemp("nightly")
    (root / "sub").mkdir()
    (root / "jobs.toml").write_text(JOB)
    codes = []
    for night, (steady_rows, shifting_rows, leak) in enumerate(NIGHTS):
        write_logs(root / "logs" / "steady", steady_rows, leak=False, seed=night)
        write_logs(root / "logs" / "shifting", shifting_rows, leak=leak, seed=night)
        result = CliRunner().invoke(
            cli, ["run", "--config", str(root / "jobs.toml"), "--out", str(root / "out")]
        )
        codes.append(result.exit_code)
        assert result.exit_code in (0, 6, 8), result.output
    # Night 3: shifting's verdict changed (all -> none): exit code 6.
    assert codes[-1] == 6
    return root / "out"


def history(out: Path, check: str) -> list[dict]:
    return json.loads((out / check / "history.json").read_text())["runs"]


def test_gate_rows_come_first_with_their_reasons(job):
    page = (job / "index.html").read_text(encoding="utf-8")
    rows = [a for tag, a in tags(page) if tag == "tr" and a.get("data-gate")]
    assert {r["data-check"]: r["data-gate"] for r in rows} == {
        "steady": "confirmed",
        "shifting": "failed",
    }
    # At the top: before the alerts and the checks table.
    assert page.index('data-gate="') < page.index('<div class="alert">') < page.index('id="checks"')
    tally = page[page.index('id="gate-tally"') : page.index("</p>", page.index('id="gate-tally"'))]
    assert re.findall(r'class="n">(\d+)</span>([a-z ]+)</span>', tally) == [
        ("1", "confirmed"),
        ("0", "not confirmed"),
        ("1", "failed"),
    ]
    reasons = dict(re.findall(r'data-check="(\w+)".*?<td class="reason">(.*?)</td>', page, re.S))
    assert reasons["steady"].startswith("verdict all: the criterion holds in 1 of 1 valid DAGs")
    assert (
        "the logs confirm the alignment gap is within the tolerance of 0.1 SD" in reasons["steady"]
    )
    assert reasons["shifting"].startswith("verdict none")
    assert "changed from all since the previous run" in reasons["shifting"]


def test_the_second_nights_unconfirmed_all_is_its_gate_in_the_record(job):
    # The gate of a check's newest run, from its record: night 2 of shifting had 60 rows.
    runs = history(job, "shifting")
    assert [r["verdict"] for r in runs] == ["all", "all", "none"]
    night2 = {"runs": [runs[1]]}
    gate, reason = check_gate(night2)
    assert gate == "not confirmed" and "not confirmed by the logs" in reason
    assert "too few rows" in reason and "(60 rows)" in reason  # the record's reasons


def test_one_newest_run_column_and_markers_for_stable_runs(job):
    page = (job / "index.html").read_text(encoding="utf-8")
    checks = page[page.index('id="checks"') : page.index("</table>", page.index('id="checks"'))]
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", checks)
    assert headers == ["check", "latest verdict", "newest run", "runs"]
    assert "latest run" not in page
    row = checks[checks.index('<td><a href="#check-steady">') :].split("</tr>")[0]
    # A confirmed all, checked by the direct test: both said, not only the warnings.
    newest_record = history(job, "steady")[-1]
    contradicted = newest_record["direct_test"]["contradicts"]
    assert 'class="confirmed"' in row
    # A rejection of the exact independence under a confirmed gap is a "small
    # gap" note (exit 0 stands), never the red "contradicted" alarm.
    assert 'class="contradicted"' not in row
    assert ('class="smallgap"' in row) is contradicted
    assert ('class="agrees"' in row) is not contradicted
    alert = re.search(r'<div class="alert">(.*?)</div>', page, re.S)
    assert alert is None or 'href="#check-steady"' not in alert.group(1)
    if contradicted:  # the run's report says it as a note too, not as an alert
        report = (job / "steady" / "runs" / newest_record["run"] / "report.html").read_text(
            encoding="utf-8"
        )
        assert '<p class="note warn-note" id="verdict-direct-test">' in report
        assert "so the exit code 0 stands" in report
    for record in history(job, "steady"):  # every run's marker in its section's runs table
        confirmed = record["confirmation"]["status"] == "confirmed"
        if record["direct_test"]["contradicts"]:
            expected = "smallgap" if confirmed else "contradicted"
        else:
            expected = "agrees"
        runs = section(page, "steady")
        line = runs[runs.index(f"<td>{record['run']}</td>") :].split("</tr>")[0]
        assert f'class="{expected}"' in line
    newest = newest_record["run"]
    assert f'href="steady/runs/{newest}/report.html"' in row


def test_paths_are_normalised(job):
    page = (job / "index.html").read_text(encoding="utf-8")
    assert "/../" not in page and "sub/.." not in page
    train = (job.parent / "logs" / "steady" / "train" / "*.parquet").as_posix()
    assert f"<code>{train}</code>" in page
    assert display_location("sqlite:///a/../b.db?table=t") == "sqlite:///a/../b.db?table=t"


def test_trends_are_drawn_from_every_runs_result(job):
    page = (job / "index.html").read_text(encoding="utf-8")
    index = json.loads((job / "index.json").read_text(encoding="utf-8"))
    for entry in index["checks"]:
        name = entry["name"]
        part = section(page, name)
        runs = history(job, name)
        # Verdict over time: one mark per run, oldest first.
        marks = re.findall(r'data-verdict="(\w+)"', svg(part, "verdict"))
        assert marks == [r["verdict"] for r in runs]
        # The index's trend of each run is what its result.json says.
        for record in entry["runs"]:
            folder = job / record["path"]
            assert record["trend"] == trend_point(json.loads((folder / "result.json").read_text()))
        # The gap with its interval: one point per run that ran the direct test.
        gaps = [r["trend"]["gap"] for r in reversed(entry["runs"])]
        assert all(g is not None for g in gaps)
        gap_svg = svg(part, "gap")
        assert gap_svg.count('class="gap-point') == len(runs)
        for gap in gaps:
            assert gap["lower"] <= gap["estimate"] <= gap["upper"]
        # Rows per run: one point per regime and run, the rows each run kept.
        rows_svg = svg(part, "rows")
        assert rows_svg.count('class="rows-point"') == 2 * len(runs)
        for night, record in enumerate(reversed(entry["runs"])):
            kept = record["trend"]["rows"]
            expected = NIGHTS[night][0] if name == "steady" else NIGHTS[night][1]
            assert kept == {"train": expected, "deploy": expected}
            assert f"{format_count(expected)} rows kept in deploy" in rows_svg
    # The confirmed all's tolerance is drawn; the leaky run's gap lies beyond it.
    shifting = section(page, "shifting")
    assert 'class="tolerance"' in svg(shifting, "gap")
    leaky = index["checks"][[e["name"] for e in index["checks"]].index("shifting")]["runs"][0]
    assert leaky["verdict"] == "none" and abs(leaky["trend"]["gap"]["estimate"]) > 0.5


def test_every_runs_report_links_back_to_the_index(job):
    for check in ("steady", "shifting"):
        for record in history(job, check):
            folder = job / check / "runs" / record["run"]
            page = (folder / "report.html").read_text(encoding="utf-8")
            (link,) = [a for tag, a in tags(page) if tag == "a" and a.get("id") == "job-index-link"]
            assert (folder / str(link["href"])).resolve() == (job / "index.html").resolve()


def test_a_damaged_result_json_leaves_the_index_without_that_trend(tmp_path):
    folder = tmp_path / "broken" / "runs" / "20250301T020000Z"
    folder.mkdir(parents=True)
    record = {"check": "broken", "seq": 1, "status": "ok", "verdict": "all", "n_dags": 1}
    (folder / "run.json").write_text(json.dumps(record))
    for junk in ("{not json", "[1, 2]", '{"data": {"regimes": "x"}, "direct_test": 3}'):
        (folder / "result.json").write_text(junk)
        write_index(tmp_path)
        (entry,) = build_index(tmp_path)["checks"]
        assert entry["runs"][0]["trend"] == {"rows": None, "gap": None}
        assert read_trend_point(folder) == {"rows": None, "gap": None}
        page = (tmp_path / "index.html").read_text(encoding="utf-8")
        assert 'class="trend trend-verdict"' in page and "trend-gap" not in page


def test_trend_points_are_cached_per_check_and_reread_when_a_result_changes(tmp_path, monkeypatch):
    from mesalens.reports.jobs import trends

    folder = tmp_path / "c" / "runs" / "20250301T020000Z"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"seq": 1, "status": "ok", "verdict": "all"}))
    rows = {"data": {"regimes": [{"name": "train", "rows_kept": 7}]}}
    (folder / "result.json").write_text(json.dumps(rows))
    write_index(tmp_path)
    cache = json.loads((tmp_path / "c" / "trends.json").read_text())
    assert cache["runs"]["20250301T020000Z"]["point"] == {"rows": {"train": 7}, "gap": None}

    def unread(path):
        raise AssertionError(f"read {path} again")

    monkeypatch.setattr(trends, "read_trend_point", unread)
    write_index(tmp_path)  # every point from the cache: no result.json read
    monkeypatch.undo()
    rows["data"]["regimes"][0]["rows_kept"] = 1234  # a different size: read again
    (folder / "result.json").write_text(json.dumps(rows))
    write_index(tmp_path)
    (entry,) = json.loads((tmp_path / "index.json").read_text())["checks"]
    assert entry["runs"][0]["trend"]["rows"] == {"train": 1234}
    for junk in ("{oops", '{"runs": {"20250301T020000Z": {"key": 1, "point": 2}}}', "[]"):
        (tmp_path / "c" / "trends.json").write_text(junk)
        write_index(tmp_path)  # a damaged cache is rebuilt, never trusted
        (entry,) = json.loads((tmp_path / "index.json").read_text())["checks"]
        assert entry["runs"][0]["trend"]["rows"] == {"train": 1234}


@pytest.mark.parametrize(
    ("record", "gate"),
    [
        ({"status": "ok", "verdict": "all", "confirmation": {"status": "confirmed"}}, "confirmed"),
        (
            {"status": "ok", "verdict": "all", "confirmation": {"status": "not confirmed"}},
            "not confirmed",
        ),
        ({"status": "ok", "verdict": "some"}, "failed"),
        ({"status": "ok", "verdict": "invalid"}, "failed"),
        ({"status": "error", "error": "<b>no such table</b>"}, "failed"),
    ],
)
def test_each_gate_and_its_escaped_reason(record, gate):
    entry = {"name": "c", "runs": [{"run": "20250301T020000Z", **record}]}
    assert check_gate(entry)[0] == gate
    page = render_index_html([entry])
    assert f'data-gate="{gate}"' in page and "<b>no such" not in page


def test_index_in_chromium(browser, job):  # noqa: F811  (the fixture of tests/test_html.py)
    page, seen = open_page(browser, job / "index.html")
    try:
        assert page.locator("tr[data-gate]").count() == 2
        assert page.locator("svg.trend").count() == 6
        assert page.locator("svg.trend-verdict g.run").count() == 6
        box = page.locator("svg.trend-gap").first.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 80
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "job-index.png"), full_page=True)
    finally:
        page.close()
    report = job / "shifting" / "latest" / "report.html"
    target = report.resolve()  # as the index links it: through runs/RUN, not the symlink
    page, seen_report = open_page(browser, target)
    try:
        assert page.locator("#job-index-link").is_visible()
        assert page.locator("#evidence").count() == 1
        page.screenshot(path=str(ARTIFACTS / "job-run-report.png"), full_page=False)
    finally:
        page.close()
    for record in (seen, seen_report):
        assert record["errors"] == [] and record["dialogs"] == []
        assert [m for m in record["console"] if m[0] in ("error", "warning")] == []
    assert seen["requests"] == [(job / "index.html").as_uri()]  # no network at all
