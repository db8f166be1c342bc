"""Scheduled jobs flag an unstable verdict: run records, index.json, index.html, the log.

A check run with ``bootstrap = B`` records whether its verdict is stable
under resampling; the job output must carry that next to the verdict, and
an unstable verdict must not change the job's exit code (see README,
"Scheduled checks").
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from mesalens.reports.cli import cli
from mesalens.reports.jobs.engine import run_jobs
from mesalens.reports.jobs.index_html import render_index_html
from mesalens.reports.jobs.job_file import load_job_file
from mesalens.reports.jobs.outcome import RunOutcome
from tests.test_bootstrap import borderline


def write_logs(folder: Path) -> None:
    """The borderline agent of tests/test_bootstrap.py as one Parquet file per regime."""
    frame = borderline()
    for code, name in enumerate(["train", "deploy"]):
        target = folder / name
        target.mkdir(parents=True)
        rows = frame[frame["regime"] == code].drop(columns="regime")
        rows.to_parquet(target / "part-0.parquet", index=False)


# The same data three times: the borderline verdict "all" comes back in fewer
# than 95% of 20 resamples (fragile), which a 50% threshold calls stable
# (lenient); without a bootstrap there is no stability to report (plain).
JOB = """
base = "reward"
mesa = "value"
decision = "action"
bootstrap = 20
sensitivity = false
direct_test = false
method = "pc"  # the borderline case was built on PC's CI tests

[regimes]
train = "logs/train"
deploy = "logs/deploy"

[[check]]
name = "fragile"

[[check]]
name = "lenient"
stability_threshold = 0.5

[[check]]
name = "plain"
bootstrap = 0
"""


def read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def summary_row(page: str, name: str) -> str:
    """The row of check ``name`` in the index page's summary table."""
    start = page.index(f'<td><a href="#check-{name}">{name}</a></td>')
    return page[start : page.index("</tr>", start)]


def runs_table(page: str, name: str) -> str:
    """The runs table of check ``name``'s section of the index page."""
    start = page.index(f'<h2 id="check-{name}">')
    return page[start : page.index("</table>", start)]


def test_an_unstable_verdict_is_flagged_in_the_records_the_index_and_the_log(tmp_path):
    write_logs(tmp_path / "logs")
    (tmp_path / "jobs.toml").write_text(JOB)
    out = tmp_path / "out"
    outcome = CliRunner().invoke(
        cli, ["run", "--config", str(tmp_path / "jobs.toml"), "--out", str(out)]
    )
    # Every verdict is "all": instability does not change the exit code, but these checks run
    # without the direct test, so no all is confirmed by the logs: exit 8.
    assert outcome.exit_code == 8, outcome.output
    assert "check fragile: verdict all (UNSTABLE: " in outcome.output
    assert "below the 95% threshold" in outcome.output
    assert "check lenient: verdict all;" in outcome.output
    assert "check plain: verdict all;" in outcome.output

    # The run record (run.json, history.json) carries the result's stability.
    fragile_result = read_json(out / "fragile" / "latest" / "result.json")["bootstrap"]
    run_record = read_json(out / "fragile" / "latest" / "run.json")
    stability = run_record["stability"]
    assert stability == {
        "stable": False,
        "share": fragile_result["share"],
        "threshold": 0.95,
        "replicates": 20,
    }
    assert fragile_result["stable"] is False and 0.5 <= stability["share"] < 0.95
    assert read_json(out / "fragile" / "history.json")["runs"][-1]["stability"] == stability

    index = read_json(out / "index.json")
    checks = {entry["name"]: entry for entry in index["checks"]}
    assert checks["fragile"]["stability"] == checks["fragile"]["runs"][0]["stability"] == stability
    lenient = checks["lenient"]["stability"]
    assert lenient == {**stability, "stable": True, "threshold": 0.5}
    assert checks["plain"]["stability"] is None and checks["plain"]["runs"][0]["stability"] is None
    assert all(entry["latest_verdict"] == "all" for entry in checks.values())

    page = (out / "index.html").read_text(encoding="utf-8")
    agreeing = round(stability["share"] * 20)
    assert 'class="unstable"' in summary_row(page, "fragile")
    assert f"{agreeing * 5}% of 20 bootstrap resamples give this verdict" in summary_row(
        page, "fragile"
    )
    # (The runs' locations hold the test's name: look for the marker itself.)
    marker = 'class="unstable"'
    assert marker not in summary_row(page, "lenient") + summary_row(page, "plain")
    assert marker in runs_table(page, "fragile")
    assert marker not in runs_table(page, "lenient") + runs_table(page, "plain")
    alert = page[page.index('<div class="alert">') : page.index("</div>")]
    assert 'href="#check-fragile"' in alert and marker in alert
    assert "lenient" not in alert and "plain" not in alert

    log = (out / "mesalens.log").read_text(encoding="utf-8")
    (warning,) = [line for line in log.splitlines() if "UNSTABLE" in line]
    assert " WARNING " in warning and "check fragile: run" in warning
    assert "verdict all is UNSTABLE" in warning and "20 bootstrap resamples" in warning


def test_the_index_page_takes_records_without_or_with_odd_stability():
    def entry(name: str, stability) -> dict:
        record = {"run": "20250301T020000Z", "status": "ok", "verdict": "some"}
        if stability != "missing":
            record["stability"] = stability
        return {
            "name": name,
            "latest_run": record["run"],
            "latest_verdict": "some",
            "stability": None if stability == "missing" else stability,
            "runs": [record],
        }

    page = render_index_html(
        [
            entry("legacy", "missing"),  # a run.json written before stability existed
            entry("odd", {"stable": False, "share": "<b>x</b>"}),
            entry("fine", {"stable": True, "share": 1.0, "threshold": 0.95, "replicates": 9}),
        ]
    )
    assert "unstable" not in summary_row(page, "legacy") + summary_row(page, "fine")
    assert "unstable" not in runs_table(page, "legacy") + runs_table(page, "fine")
    assert 'class="unstable"' in summary_row(page, "odd") and "<b>x" not in page


def test_run_one_returning_malformed_stability_is_an_internal_error(tmp_path):
    (tmp_path / "jobs.toml").write_text(JOB)

    def run_one(check, folder):
        return RunOutcome(verdict="all", n_dags=1, n_hold=1, stability={"stable": "no"})

    outcome = run_jobs(load_job_file(tmp_path / "jobs.toml"), tmp_path / "out", run_one=run_one)
    assert outcome.exit_code == 1
    assert all(c.status == "error" and "stability=" in c.message for c in outcome.checks)
    assert read_json(tmp_path / "out" / "index.json")["checks"][0]["stability"] is None
