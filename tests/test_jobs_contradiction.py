"""Scheduled jobs flag a verdict ``all`` that the direct test contradicts.

A check run with the direct test records whether the logs reject the
independence ``Y_b ⊥ regime | Y_m`` that a structural ``all`` licenses
(``contradicts_all`` of the report's verdict card); the job output must carry
that next to the verdict, exactly as it carries an unstable bootstrap, and
the contradiction must not change the job's exit code (see README,
"Scheduled checks").
"""

from __future__ import annotations

import itertools
import json

import pytest
from click.testing import CliRunner

from mesalens.connectors.simulator import write_logs
from mesalens.reports.cli import cli
from mesalens.reports.jobs.engine import run_jobs
from mesalens.reports.jobs.index import build_index, write_index
from mesalens.reports.jobs.index_html import render_index_html
from mesalens.reports.jobs.job_file import load_job_file
from mesalens.reports.jobs.outcome import RunOutcome, direct_test_summary
from mesalens.reports.vocabulary import contradicts_all
from tests.test_jobs_stability import read_json, runs_table, summary_row
from tests.test_pag_repair import write_failing_logs

# "repaired": the 10-node simulated logs of tests/test_pag_repair.py, where PC
# says "all" and the direct test rejects; "aligned": the demo scenario whose
# "all" the logs confirm; "untested": the same without the direct test.
JOB = """
sensitivity = false
method = "pc"  # PC's wrong "all" on the repaired logs is the case

[[check]]
name = "repaired"
base = "Y_b"
mesa = "Y_m"
decision = "D_m"
[check.regimes]
train = "bad/train.parquet"
deploy = "bad/deploy.parquet"

[[check]]
name = "aligned"
base = "true_reward"
mesa = "value"
decision = "action"
policy_inputs = ["value", "exploration_noise"]
[check.regimes]
train = "good/train"
deploy = "good/deploy"

[[check]]
name = "untested"
base = "true_reward"
mesa = "value"
decision = "action"
policy_inputs = ["value", "exploration_noise"]
direct_test = false
[check.regimes]
train = "good/train"
deploy = "good/deploy"
"""

MARKER = 'class="contradicted"'


def test_a_contradicted_verdict_is_flagged_in_the_records_the_index_and_the_terminal(tmp_path):
    (tmp_path / "bad").mkdir()
    write_failing_logs(tmp_path / "bad")
    write_logs("aligned", tmp_path / "good", rows=2000, seed=0, shards=1)
    (tmp_path / "jobs.toml").write_text(JOB)
    out = tmp_path / "out"
    outcome = CliRunner().invoke(
        cli, ["run", "--config", str(tmp_path / "jobs.toml"), "--out", str(out)]
    )
    # Every verdict is "all"; the contradicted one is not confirmed by the logs (its gap
    # is beyond the tolerance), so the job exits 8, the code of an unconfirmed all.
    assert outcome.exit_code == 8, outcome.output
    lines = outcome.output.splitlines()
    warnings = [line for line in lines if line.startswith("warning:")]
    assert warnings == [
        "warning: check repaired: the direct test contradicts the structural 'all': the logs "
        "reject the independence it licenses (report: Direct test)"
    ]
    # The warning follows its check's own line.
    (at,) = [i for i, line in enumerate(lines) if line.startswith("check repaired: verdict all;")]
    assert lines[at + 1] == warnings[0]
    assert any(line.startswith("check aligned: verdict all;") for line in lines)

    # The run record (run.json, history.json) carries the result's decision and
    # the verdict card's rule applied to it.
    result = read_json(out / "repaired" / "latest" / "result.json")
    assert result["verdict"] == "all" and result["direct_test"]["reject"] is True
    assert contradicts_all(result["verdict"], result["direct_test"])
    assert 'id="verdict-direct-test"' in (out / "repaired" / "latest" / "report.html").read_text()
    contradicted = {"status": "done", "reject": True, "contradicts": True}
    assert read_json(out / "repaired" / "latest" / "run.json")["direct_test"] == contradicted
    assert read_json(out / "repaired" / "history.json")["runs"][-1]["direct_test"] == contradicted

    aligned = read_json(out / "aligned" / "latest" / "result.json")
    assert aligned["verdict"] == "all" and aligned["direct_test"]["reject"] is False
    confirmed = {"status": "done", "reject": False, "contradicts": False}
    assert read_json(out / "aligned" / "latest" / "run.json")["direct_test"] == confirmed
    assert read_json(out / "untested" / "latest" / "run.json")["direct_test"] is None

    index = read_json(out / "index.json")
    checks = {entry["name"]: entry for entry in index["checks"]}
    repaired = checks["repaired"]
    assert repaired["direct_test"] == repaired["runs"][0]["direct_test"] == contradicted
    assert checks["aligned"]["direct_test"] == checks["aligned"]["runs"][0]["direct_test"]
    assert checks["aligned"]["direct_test"] == confirmed
    assert checks["untested"]["direct_test"] is None
    assert all(entry["latest_verdict"] == "all" for entry in checks.values())

    page = (out / "index.html").read_text(encoding="utf-8")
    row = summary_row(page, "repaired")
    assert MARKER in row and ">contradicted</span>" in row
    title = row[row.index('title="') : row.index('">contradicted')]
    assert "the direct test rejects Y_b ⊥ regime | Y_m" in title
    assert "the structural &#x27;all&#x27; licenses" in title
    assert MARKER in runs_table(page, "repaired")
    for name in ("aligned", "untested"):
        assert MARKER not in summary_row(page, name) + runs_table(page, name)
    alert = page[page.index('<div class="alert">') : page.index("</div>")]
    assert 'href="#check-repaired"' in alert and MARKER in alert
    assert "aligned" not in alert and "untested" not in alert
    # Nothing is marked "unstable": no check ran a bootstrap.
    assert 'class="unstable"' not in page

    log = (out / "mesalens.log").read_text(encoding="utf-8")
    (warning,) = [line for line in log.splitlines() if "CONTRADICTED" in line]
    assert " WARNING " in warning and "check repaired: run" in warning
    assert "verdict all is CONTRADICTED: the direct test contradicts" in warning


def test_records_written_before_the_field_existed_or_odd_ones_render_fine(tmp_path):
    # An old run.json on disk (no direct_test) goes through build_index and the page.
    folder = tmp_path / "legacy" / "runs" / "20250301T020000Z"
    folder.mkdir(parents=True)
    old = {"check": "legacy", "seq": 1, "status": "ok", "verdict": "all", "n_dags": 1}
    (folder / "run.json").write_text(json.dumps(old))
    write_index(tmp_path)
    (entry,) = read_json(tmp_path / "index.json")["checks"]
    assert entry["latest_verdict"] == "all" and entry["direct_test"] is None
    assert "direct_test" not in entry["runs"][0]
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "contradicted" not in summary_row(page, "legacy") + runs_table(page, "legacy")
    assert build_index(tmp_path)["checks"][0]["direct_test"] is None

    def entry_with(name: str, direct_test) -> dict:
        record = {"run": "20250301T020000Z", "status": "ok", "verdict": "all"}
        record["direct_test"] = direct_test
        return {
            "name": name,
            "latest_run": record["run"],
            "latest_verdict": "all",
            "direct_test": direct_test,
            "runs": [record],
        }

    page = render_index_html(
        [
            entry_with("odd", {"contradicts": "<b>yes</b>", "reject": "x"}),
            entry_with("listed", ["contradicts"]),
            entry_with("flagged", {"contradicts": True}),
        ]
    )
    for name in ("odd", "listed"):
        assert "contradicted" not in summary_row(page, name) + runs_table(page, name)
    assert MARKER in summary_row(page, "flagged") and MARKER in runs_table(page, "flagged")
    assert "<b>yes" not in page


@pytest.mark.parametrize(
    ("verdict", "status", "reject"),
    list(itertools.product(["all", "some", "none", "invalid"], ["done", "skipped"], [True, False])),
)
def test_the_record_applies_the_verdict_cards_rule(verdict, status, reject):
    part = {"status": status, "reject": reject}
    summary = direct_test_summary(part, verdict)
    assert summary == {
        "status": status,
        "reject": reject,
        "contradicts": contradicts_all(verdict, part),
    }
    assert summary["contradicts"] is (verdict == "all" and status == "done" and reject)


def test_run_one_returning_a_malformed_direct_test_is_an_internal_error(tmp_path):
    (tmp_path / "jobs.toml").write_text(JOB)

    def run_one(check, folder):
        return RunOutcome(verdict="all", n_dags=1, n_hold=1, direct_test={"contradicts": "yes"})

    outcome = run_jobs(load_job_file(tmp_path / "jobs.toml"), tmp_path / "out", run_one=run_one)
    assert outcome.exit_code == 1
    assert all(c.status == "error" and "direct_test=" in c.message for c in outcome.checks)
    assert all(c.direct_test is None and not c.contradicted for c in outcome.checks)
    assert read_json(tmp_path / "out" / "index.json")["checks"][0]["direct_test"] is None
