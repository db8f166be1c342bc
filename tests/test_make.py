"""`make check` and `make nightly`, the Make targets for log dumps and job files.

Run as a user would (``make -C REPO ...``), on paths with a quote, a space
and a glob in them: the targets pass every value through unchanged and fail
with mesalens' exit code (make prints ``Error N``, then exits 2).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from mesalens.connectors.simulator import write_logs

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("make") / "it's logs"
    write_logs("coinrun", folder, rows=1500, seed=0, shards=2)
    return folder


def test_make_check_passes_paths_as_given_and_fails_with_the_verdicts_code(logs, tmp_path):
    out = tmp_path / "check out"
    done = make(
        "check",
        f"TRAIN={logs / 'train'}/*.parquet",
        f"DEPLOY={logs / 'deploy'}/*.parquet",
        "BASE=coin_reward",
        "MESA=value",
        "DECISION=action",
        "POLICY=value,level_difficulty",
        f"OUT={out}",
    )
    assert done.returncode == 2, done.stderr  # make's own code for a failed recipe
    assert "Error 4" in done.stderr  # mesalens: verdict none
    document = json.loads((out / "result.json").read_text())
    assert document["verdict"] == "none"
    assert document["roles"]["policy_inputs"] == ["value", "level_difficulty"]


def test_make_check_without_its_variables_says_what_is_missing():
    done = make("check", "BASE=coin_reward")
    assert done.returncode == 2
    assert "missing TRAIN DEPLOY MESA DECISION" in done.stderr


def test_make_nightly_runs_a_job_file(logs, tmp_path):
    job = tmp_path / "jobs.toml"
    job.write_text(
        'base = "coin_reward"\nmesa = "value"\ndecision = "action"\n'
        '[[check]]\nname = "coinrun"\n[check.regimes]\n'
        f"train = {json.dumps(str(logs / 'train'))}\n"
        f"deploy = {json.dumps(str(logs / 'deploy'))}\n"
    )
    out = tmp_path / "night'ly"
    done = make("nightly", f"CONFIG={job}", f"OUT={out}")
    assert done.returncode == 2 and "Error 4" in done.stderr, done.stderr
    index = json.loads((out / "index.json").read_text())
    assert [c["name"] for c in index["checks"]] == ["coinrun"]
    assert index["checks"][0]["latest_verdict"] == "none"
