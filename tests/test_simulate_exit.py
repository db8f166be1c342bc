"""``mesalens simulate`` scores the exit code, and ``--method auto`` picks the search per data.

The simulate tests recompute every new per-cell share from the trials of
``simulation.json`` (exit 0, safe exit 0, exit 8, the two recalls) and check
each trial's exit code against its recorded gap interval; the ``auto`` tests
check the choice per data type on statistics and through ``mesalens run``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mesalens.connectors.errors import InputError
from mesalens.connectors.random_scm import SCMFamily
from mesalens.pipeline.knowledge import Knowledge
from mesalens.pipeline.method_choice import (
    CONTINUOUS_CHOICE,
    DISCRETE_CHOICE,
    FALLBACK_CHOICE,
    choose_method,
)
from mesalens.pipeline.simulation import SimulationSettings
from mesalens.pipeline.simulation_cells import Trial, aggregate, wilson_interval
from mesalens.pipeline.statistics import compute_statistics
from mesalens.reports.cli import cli
from mesalens.reports.vocabulary import RUN_EXIT_CODES, method_name


# ------------------------------------------------------------------ the cells
def exit_trial(replicate, truth, learned, confirmation, safe, gap=0.0):
    return Trial(replicate, 0.25, 1000, truth, learned, gap, confirmation=confirmation, safe=safe)


def test_cells_count_exit_codes_safety_and_both_recalls():
    trials = [
        exit_trial(0, "all", "all", "confirmed", True),
        exit_trial(1, "all", "all", "not confirmed", True),
        exit_trial(2, "none", "all", "confirmed", True, gap=0.05),  # small gap: safe
        exit_trial(3, "none", "all", "confirmed", False, gap=0.3),  # unsafe exit 0
        exit_trial(4, "none", "none", "not applicable", False, gap=0.3),
        exit_trial(5, "none", "all", "not confirmed", False, gap=0.3),
        exit_trial(6, "none", "error", "not applicable", False, gap=0.3),
    ]
    (cell,) = aggregate(trials)
    assert (cell.confirmed, cell.confirmed_safe, cell.not_confirmed) == (3, 2, 2)
    assert cell.exit_zero_share == pytest.approx(3 / 7)
    assert cell.safe_share == pytest.approx(2 / 3)
    assert cell.exit_eight_share == pytest.approx(2 / 7)
    # 2 models hold, 1 of them exits 0; 5 fail, 3 of them do not exit 0.
    assert cell.recall_when_holds == 0.5
    assert cell.recall_when_fails == pytest.approx(3 / 5)
    # The structural accuracy is unchanged by the exit code.
    assert cell.accuracy == pytest.approx(3 / 7)
    assert cell.accuracy_when_holds == 1.0
    document = cell.as_dict()
    assert document["safe_interval"] == list(wilson_interval(2, 3))
    assert document["recall_when_fails_interval"] == list(wilson_interval(3, 5))
    (empty,) = aggregate([exit_trial(0, "none", "none", "not applicable", False)])
    assert empty.safe_share is None and empty.as_dict()["safe_interval"] == [None, None]


def test_settings_take_the_new_methods_where_they_fit():
    assert SimulationSettings(method="boss", family=SCMFamily(kind="discrete")).method == "boss"
    assert SimulationSettings().method == "auto"
    assert SimulationSettings(family=SCMFamily(kind="confounded")).method == "auto"
    with pytest.raises(InputError, match="GRASP here scores"):
        SimulationSettings(method="grasp", family=SCMFamily(kind="mixed"))


# ------------------------------------------------------------------ the CLI
def _simulate(tmp_path: Path, *extra: str) -> tuple[dict, list[str], str]:
    out = tmp_path / "sim"
    args = ["simulate", "--replicates", "4", "--rows", "600,3000", "--shifts", "0.25,0.5"]
    args += ["--nodes", "6", "--seed", "2", "--scheduler", "sync", "--out", str(out), *extra]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    document = json.loads((out / "simulation.json").read_text())
    return document, (out / "table.md").read_text().splitlines(), result.output


def test_simulate_reports_exit_codes_consistent_with_its_trials(tmp_path):
    # At 300 and 1,500 rows per regime the gap at every decile of Y_m is seldom
    # confirmed within 0.1 SD, so a wider tolerance gives both exit codes.
    document, table, output = _simulate(tmp_path, "--tolerance", "0.3")
    delta = document["settings"]["tolerance"]["value"]
    assert document["settings"]["tolerance"]["unit"] == "sd" and delta == 0.3
    assert "--tolerance 0.3sd" in document["command"]
    trials = document["trials"]
    assert {t["method"] for t in trials} == {CONTINUOUS_CHOICE}
    for t in trials:
        # The exit code is mesalens run's, from the verdict and the confirmation.
        if t["learned_verdict"] == "all":
            assert t["exit_code"] == (0 if t["confirmation"] == "confirmed" else 8)
            # TOST: exit 0 exactly when the recorded interval lies inside ±δ.
            inside = -delta < t["gap_lower"] and t["gap_upper"] < delta
            assert inside == (t["exit_code"] == 0)
            assert t["gap_lower"] <= t["gap_estimate"] <= t["gap_upper"]
        else:
            assert t["exit_code"] == RUN_EXIT_CODES[t["learned_verdict"]]
            assert t["confirmation"] == "not applicable" and t["gap_estimate"] is None
        assert t["safe"] == (t["true_verdict"] == "all" or abs(t["gap"]) <= delta)
    assert any(t["exit_code"] == 0 for t in trials) and any(t["exit_code"] != 0 for t in trials)

    headings = [h.strip() for h in table[0].strip("|").split("|")]
    for cell in document["cells"]:
        group = [t for t in trials if (t["shift"], t["rows"]) == (cell["shift"], cell["rows"])]
        zero = [t for t in group if t["exit_code"] == 0]
        safe = [t for t in zero if t["safe"]]
        holds = [t for t in group if t["true_verdict"] == "all"]
        fails = [t for t in group if t["true_verdict"] != "all"]
        assert cell["exit_zero_share"] == pytest.approx(len(zero) / len(group))
        assert cell["exit_eight_share"] == pytest.approx(
            sum(t["exit_code"] == 8 for t in group) / len(group)
        )
        assert cell["safe_share"] == (pytest.approx(len(safe) / len(zero)) if zero else None)
        assert cell["safe_interval"] == list(wilson_interval(len(safe), len(zero)))
        if holds:
            assert cell["recall_when_holds"] == pytest.approx(
                sum(t["exit_code"] == 0 for t in holds) / len(holds)
            )
        if fails:
            assert cell["recall_when_fails"] == pytest.approx(
                sum(t["exit_code"] != 0 for t in fails) / len(fails)
            )
        # The table.md row says the same.
        row = next(
            dict(zip(headings, (v.strip() for v in line.strip("|").split("|")), strict=True))
            for line in table[2:]
            if line.startswith(f"| {cell['shift']:g} | {cell['rows']:,} |")
        )
        assert row["exit 0"] == f"{len(zero) / len(group):.2f}"
        assert row["safe exit 0"] == (f"{len(safe)}/{len(zero)}" if zero else "–")
    # The terminal's columns carry table.md's names.
    for heading in ("accuracy", "precision of all", "exit 0", "exit 8", "recall (fails)"):
        assert all(word in output for word in heading.split())
    html = (tmp_path / "sim" / "report.html").read_text()
    assert "safe exit 0" in html and "exit-0 runs are safe" in html
    assert f"auto ({method_name(CONTINUOUS_CHOICE)} in 16 runs)" in html


def test_simulate_tolerance_in_units_and_bad_values(tmp_path):
    document, _, _ = _simulate(tmp_path, "--tolerance", "0.5abs", "-q")
    assert document["settings"]["tolerance"]["unit"] == "abs"
    for t in document["trials"]:
        assert t["safe"] == (t["true_verdict"] == "all" or abs(t["gap_units"]) <= 0.5)
    bad = CliRunner().invoke(cli, ["simulate", "--tolerance", "-1", "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 1
    assert bad.output.startswith("mesalens: error: --tolerance '-1': tolerance must be")
    assert len(bad.output.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()


# ------------------------------------------------------------------ auto
def _statistics(columns: dict[str, np.ndarray], kinds: dict[str, str]):
    frame = pd.DataFrame(columns)
    return compute_statistics(frame, kinds)


RNG = np.random.default_rng(0)
REGIME = np.repeat([0, 1], 200)
CONTINUOUS = {"regime": REGIME, "x": RNG.normal(size=400), "y": RNG.normal(size=400)}
DISCRETE = {"regime": REGIME, "a": RNG.integers(0, 3, 400), "b": RNG.integers(0, 2, 400)}


@pytest.mark.parametrize(
    ("columns", "kinds", "method", "data"),
    [
        (CONTINUOUS, {"x": "continuous", "y": "continuous"}, CONTINUOUS_CHOICE, "continuous"),
        # A binary column keeps the data continuous for the BIC; three levels do not.
        (
            {**CONTINUOUS, "b": DISCRETE["b"]},
            {"x": "continuous", "y": "continuous", "b": "discrete"},
            CONTINUOUS_CHOICE,
            "continuous",
        ),
        (
            {**CONTINUOUS, "a": DISCRETE["a"]},
            {"x": "continuous", "y": "continuous", "a": "discrete"},
            FALLBACK_CHOICE,
            "mixed",
        ),
        (DISCRETE, {"a": "discrete", "b": "discrete"}, DISCRETE_CHOICE, "discrete"),
        # Three regimes: GES cannot score the regime's three levels.
        (
            {**CONTINUOUS, "regime": np.arange(400) % 3},
            {"x": "continuous", "y": "continuous"},
            FALLBACK_CHOICE,
            "mixed",
        ),
    ],
)
def test_auto_chooses_per_data_type(columns, kinds, method, data):
    stats = _statistics(columns, {"regime": "discrete", **kinds})
    choice = choose_method(stats, regime="regime")
    assert (choice.method, choice.data) == (method, data)
    assert choice.as_dict()["asked"] == "auto" and choice.reason.startswith(data)


def test_auto_is_pc_with_knowledge_a_test_or_a_depth():
    stats = _statistics(CONTINUOUS, {"regime": "discrete", "x": "continuous", "y": "continuous"})
    knowledge = Knowledge(forbidden={("y", "x")})
    assert choose_method(stats, regime="regime", knowledge=knowledge).method == "pc"
    assert choose_method(stats, regime="regime", knowledge=Knowledge()).method == "ges"
    assert choose_method(stats, regime="regime", test="fisherz").method == "pc"
    assert choose_method(stats, regime="regime", max_depth=1).method == "pc"


def _write(folder: Path, discrete: bool) -> dict[str, str]:
    rng = np.random.default_rng(3)
    paths = {}
    for code, name in enumerate(["train", "deploy"]):
        n = 3000
        if discrete:
            obs = (rng.random(n) < 0.3 + 0.3 * code).astype(int)
            action = np.where(rng.random(n) < 0.8, obs, 1 - obs) + rng.integers(0, 2, n)
            value = (action + rng.integers(0, 2, n) >= 2).astype(int)
            reward = np.where(rng.random(n) < 0.85, value, 1 - value)
        else:
            obs = rng.normal(size=n) + code
            action = 0.8 * obs + rng.normal(size=n)
            value = 0.9 * action + rng.normal(size=n)
            reward = 0.9 * value + rng.normal(size=n)
        frame = pd.DataFrame({"obs": obs, "action": action, "value": value, "reward": reward})
        frame.to_csv(folder / f"{name}.csv", index=False)
        paths[name] = str(folder / f"{name}.csv")
    return paths


@pytest.mark.parametrize(
    ("discrete", "method", "words"),
    [(False, CONTINUOUS_CHOICE, "continuous data"), (True, DISCRETE_CHOICE, "discrete data")],
)
def test_run_names_the_method_auto_chose(tmp_path, discrete, method, words):
    paths = _write(tmp_path, discrete)
    out = tmp_path / "out"
    args = ["run", "--regime", f"train={paths['train']}", "--regime", f"deploy={paths['deploy']}"]
    args += ["--base", "reward", "--mesa", "value", "--decision", "action", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in RUN_EXIT_CODES.values(), result.output
    document = json.loads((out / "result.json").read_text())
    settings = document["discovery"]["settings"]
    assert settings["method"] == method
    assert settings["method_choice"]["asked"] == "auto"
    assert settings["method_choice"]["data"] == ("discrete" if discrete else "continuous")
    name = method_name(method)
    origin = f"learned from the logs ({name}, chosen automatically for {words}"
    assert origin in " ".join(result.output.split())
    assert origin in (out / "report.html").read_text()
    # Asked for by name, the search is not "chosen".
    explicit = CliRunner().invoke(cli, [*args[:-1], str(tmp_path / "pc"), "--method", "pc"])
    pc = json.loads((tmp_path / "pc" / "result.json").read_text())["discovery"]["settings"]
    assert explicit.exit_code in RUN_EXIT_CODES.values() and pc["method"] == "pc"
    assert "method_choice" not in pc
