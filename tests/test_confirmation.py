"""Exit code 0 only when the logs support it: the tolerance, TOST, exit 8, degenerate inputs.

Unit tests of :mod:`mesalens.pipeline.confirmation` (the equivalence test and
its advice, checked against the interval arithmetic by hand), then the CLI:
the demo's aligned scenario is confirmed (exit 0), its 300-row pilot is not
(exit 8, with the reason and the rows that would settle it), identical regimes
and a one-row regime never exit 0, and jobs rank exit 8 between some and all.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtri

from mesalens.connectors.errors import InputError
from mesalens.connectors.simulator import write_logs
from mesalens.pipeline.confirmation import MIN_REGIME_ROWS, Tolerance, confirm
from mesalens.reports.jobs.outcome import CheckOutcome, jobs_exit_code

MESALENS = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "mesalens")
ROWS = {"train": 5_000, "deploy": 5_000}


def direct(estimate: float, se: float, method: str = "fisherz", sd: float = 1.0) -> dict:
    """A direct-test document with one outcome and one pair."""
    gaps = [
        {"estimator": e, "regime": "deploy", "reference": "train", "estimate": estimate, "se": se}
        for e in ("linear", "flexible")
    ]
    outcome = {"base": "yb", "method": method, "gaps": gaps, "within_sd": sd}
    return {"status": "done", "outcomes": [outcome], "reject": False}


# --------------------------------------------------------------------------- the rule


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [("0.1", 0.1, "sd"), ("0.25sd", 0.25, "sd"), ("0.5abs", 0.5, "abs"), (1, 1.0, "sd")],
)
def test_tolerances_parse(text, value, unit):
    assert Tolerance.parse(text) == Tolerance(value, unit)


@pytest.mark.parametrize("text", ["0", "-1", "abs", "1 parsec", "nan", "inf", True, ""])
def test_bad_tolerances_are_refused(text):
    with pytest.raises(InputError, match="tolerance must be a positive number"):
        Tolerance.parse(text)


@pytest.mark.parametrize("text", ["1.01", "2sd", 1000])
def test_a_tolerance_wider_than_one_sd_is_refused(text):
    # Confirming |gap| < 2 SD would let exit 0 rest on nothing.
    with pytest.raises(InputError, match="more than 1 within-regime standard deviation"):
        Tolerance.parse(text)


def test_a_tolerance_in_units_wider_than_one_sd_confirms_nothing():
    doc = direct(0.0, 0.01, sd=2.0)
    assert confirm("all", doc, Tolerance(2.0, "abs"), rows=ROWS).confirmed
    wide = confirm("all", doc, Tolerance(2.5, "abs"), rows=ROWS)
    assert not wide.confirmed
    assert "1.25 within-regime SDs" in wide.reasons[0] and "confirms nothing" in wide.reasons[0]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    estimate=st.floats(-2, 2),
    se=st.floats(0.001, 1),
    sd=st.floats(0.1, 5),
    value=st.floats(0.01, 1),
)
def test_tost_is_the_one_minus_two_alpha_interval_inside_the_tolerance(estimate, se, sd, value):
    result = confirm("all", direct(estimate, se, sd=sd), Tolerance(value), rows=ROWS)
    delta = value * sd
    z = float(ndtri(0.95))
    inside = -delta < estimate - z * se and estimate + z * se < delta
    assert result.confirmed == inside
    (check,) = result.checks
    assert check.delta == pytest.approx(delta)
    if not inside and abs(estimate) < delta:
        # The advice: rows at which this standard error would confirm it.
        assert check.rows_needed == math.ceil(5_000 * (z * se / (delta - abs(estimate))) ** 2)
        assert check.rows_needed > 5_000 * 0.99
    if estimate - z * se >= delta or estimate + z * se <= -delta:
        assert check.beyond and "beyond the tolerance" in result.reasons[0]


def test_the_deciding_tests_estimator_is_the_one_tested():
    doc = direct(0.0, 0.01)
    doc["outcomes"][0]["gaps"][1]["estimate"] = 5.0  # the flexible gap is far off
    assert confirm("all", doc, Tolerance(0.1), rows=ROWS).confirmed  # Fisher-z: linear gap
    doc["outcomes"][0]["method"] = "gcm"
    assert not confirm("all", doc, Tolerance(0.1), rows=ROWS).confirmed


def test_every_pair_must_be_confirmed():
    doc = direct(0.0, 0.01)
    far = {**doc["outcomes"][0]["gaps"][0], "regime": "holdout", "estimate": 0.09}
    doc["outcomes"][0]["gaps"].append(far)
    result = confirm("all", doc, Tolerance(0.1), rows={**ROWS, "holdout": 5_000})
    assert not result.confirmed and "'holdout'" in result.reasons[0]


def test_too_few_rows_never_confirm():
    result = confirm("all", direct(0.0, 1e-6), Tolerance(0.1), rows={"train": 5_000, "deploy": 1})
    assert not result.confirmed
    assert (
        f"at least {MIN_REGIME_ROWS}" in result.reasons[0]
        and "'deploy' (1 rows)" in (result.reasons[0])
    )


def test_no_direct_test_no_confirmation():
    result = confirm("all", None, Tolerance(0.1), rows=ROWS)
    assert not result.confirmed and "--no-direct-test" in result.reasons[0]
    skipped = {"status": "skipped", "notes": ["regime 'deploy' has 3 rows"], "outcomes": []}
    assert "3 rows" in confirm("all", skipped, Tolerance(0.1), rows=ROWS).reasons[0]


def test_only_an_all_is_confirmed():
    for verdict in ("some", "none", "invalid"):
        assert confirm(verdict, direct(0, 0.01), Tolerance(0.1), rows=ROWS).status == (
            "not applicable"
        )


def test_an_absolute_tolerance_needs_no_standard_deviation():
    doc = direct(0.0, 0.01, sd=float("nan"))
    assert not confirm("all", doc, Tolerance(0.1), rows=ROWS).confirmed
    assert confirm("all", doc, Tolerance(0.1, "abs"), rows=ROWS).confirmed


def test_jobs_rank_an_unconfirmed_all_between_some_and_all():
    def outcome(verdict: str, status: str | None) -> CheckOutcome:
        confirmation = None if status is None else {"status": status}
        return CheckOutcome("c", "ok", record={"verdict": verdict, "confirmation": confirmation})

    confirmed, unconfirmed = outcome("all", "confirmed"), outcome("all", "not confirmed")
    assert jobs_exit_code([confirmed]) == 0
    assert jobs_exit_code([confirmed, unconfirmed]) == 8
    assert jobs_exit_code([unconfirmed, outcome("some", "not applicable")]) == 3


# --------------------------------------------------------------------------- the CLI


@pytest.fixture(scope="module")
def demo_logs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("logs")
    for scenario in ("aligned", "pilot"):
        write_logs(scenario, folder / scenario, rows=20_000, seed=3)
    return folder


ROLES = [
    *("--base", "true_reward", "--mesa", "value", "--decision", "action"),
    *("--policy-inputs", "value,exploration_noise", "--no-sensitivity"),
]


def run(train: str, deploy: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    args = [MESALENS, "run", "--regime", f"train={train}", "--regime", f"deploy={deploy}"]
    return subprocess.run(
        [*args, *ROLES, "--out", str(out), *extra], capture_output=True, text=True, timeout=600
    )


def test_a_confirmed_all_exits_0_and_says_so(demo_logs, tmp_path):
    logs = demo_logs / "aligned"
    done = run(f"{logs}/train/*.parquet", f"{logs}/deploy/*.parquet", tmp_path / "o")
    assert done.returncode == 0, done.stderr
    assert "Confirmed by the logs" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("Exit code 0 (all)")
    document = json.loads((tmp_path / "o" / "result.json").read_text())
    assert document["verdict"] == "all" and document["confirmation"]["status"] == "confirmed"
    assert document["direct_test"]["outcomes"][0]["within_sd"] > 0


def test_a_pilot_all_is_not_confirmed_exit_8_with_what_would_settle_it(demo_logs, tmp_path):
    logs = demo_logs / "pilot"
    done = run(f"{logs}/train/*.parquet", f"{logs}/deploy/*.parquet", tmp_path / "o")
    assert done.returncode == 8, done.stderr
    assert "Not confirmed by the logs (exit code 8)" in done.stderr
    assert "rows per regime would confirm" in done.stderr
    document = json.loads((tmp_path / "o" / "result.json").read_text())
    assert document["verdict"] == "all"
    assert document["confirmation"]["status"] == "not confirmed"
    assert document["confirmation"]["advice"].startswith("about ")
    report = (tmp_path / "o" / "report.html").read_text()
    assert 'id="verdict-gate"' in report and "Not confirmed by the logs" in report
    # A looser tolerance in Y_b's own units confirms the same logs.
    loose = run(
        f"{logs}/train/*.parquet", f"{logs}/deploy/*.parquet", tmp_path / "p", "--tolerance", "1abs"
    )
    assert loose.returncode == 0, loose.stderr


def test_without_the_direct_test_an_all_is_not_confirmed(demo_logs, tmp_path):
    logs = demo_logs / "aligned"
    done = run(
        f"{logs}/train/*.parquet", f"{logs}/deploy/*.parquet", tmp_path / "o", "--no-direct-test"
    )
    assert done.returncode == 8, done.stderr
    assert "the direct test was not run" in done.stderr


@pytest.mark.parametrize("how", ["same option", "copied files", "same rows as csv"])
def test_identical_regimes_are_an_input_error(demo_logs, tmp_path, how):
    train = demo_logs / "aligned" / "train"
    if how == "same option":
        deploy = f"{train}/*.parquet"
    elif how == "copied files":
        shutil.copytree(train, tmp_path / "copy")
        deploy = f"{tmp_path / 'copy'}/*.parquet"
    else:
        frame = pd.concat(pd.read_parquet(p) for p in sorted(train.glob("*.parquet")))
        frame.to_csv(tmp_path / "deploy.csv", index=False, float_format="%.17g")
        deploy = str(tmp_path / "deploy.csv")
    done = run(f"{train}/*.parquet", deploy, tmp_path / "o")
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1 and "no shift to compare" in done.stderr
    assert not (tmp_path / "o").exists()


def test_a_one_row_regime_never_exits_0(demo_logs, tmp_path):
    train = demo_logs / "aligned" / "train"
    frame = pd.read_parquet(sorted((demo_logs / "aligned" / "deploy").glob("*.parquet"))[0])
    frame.iloc[:1].to_csv(tmp_path / "deploy.csv", index=False)
    done = run(f"{train}/*.parquet", str(tmp_path / "deploy.csv"), tmp_path / "o")
    assert done.returncode != 0, done.stderr
    if done.returncode == 8:
        assert "too few rows" in done.stderr


def test_a_bad_tolerance_is_one_line(demo_logs, tmp_path):
    logs = demo_logs / "aligned"
    done = run(
        f"{logs}/train/*.parquet", f"{logs}/deploy/*.parquet", tmp_path / "o", "--tolerance", "x"
    )
    assert done.returncode == 1 and done.stderr.startswith("mesalens: error: --tolerance must be")
    assert not (tmp_path / "o").exists()


def test_a_tolerance_too_wide_to_mean_anything_never_exits_0(demo_logs, tmp_path):
    logs = demo_logs / "aligned"
    where = (f"{logs}/train/*.parquet", f"{logs}/deploy/*.parquet")
    done = run(*where, tmp_path / "o", "--tolerance", "3")
    assert done.returncode == 1 and "SDs of Y_b, at most 1" in done.stderr
    assert not (tmp_path / "o").exists()
    done = run(*where, tmp_path / "w", "--tolerance", "1000abs")
    assert done.returncode == 8, done.stderr
    assert "confirms nothing; give a smaller --tolerance" in done.stderr
