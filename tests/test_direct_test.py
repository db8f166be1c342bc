"""The direct finite-sample test of Y_b ⊥ s | Y_m and the alignment gap, on known answers."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import integrate, stats

from mesalens.connectors.errors import InputError
from mesalens.connectors.loaded import LoadedData
from mesalens.connectors.simulator import SCENARIOS, write_logs
from mesalens.pipeline.alignment_gap import direct_test
from mesalens.pipeline.gap_estimators import holm
from mesalens.pipeline.gap_results import DirectTestError, DirectTestSettings
from mesalens.reports.cli import cli
from mesalens.reports.sections.alignment_gap import direct_test_line, explain, render_direct_test
from tests.test_pag_repair import write_failing_logs

# Few folds and trees: the known answers are strong enough, and the suite stays fast.
FAST = DirectTestSettings(folds=2, trees=40)


def loaded(frame: pd.DataFrame, labels: tuple[str, ...], kinds: dict[str, str]) -> LoadedData:
    """Pooled logs as the loader returns them (regime codes first), without files."""
    kinds = {"regime": "discrete", **kinds}
    return LoadedData(
        functools.partial(dd.from_pandas, frame, npartitions=3),
        "regime",
        labels,
        tuple(frame.columns),
        kinds,
        {},
        (),
    )


def linear_logs(n: int, seed: int, gap: float = 0.0, slope_change: float = 0.0) -> LoadedData:
    """Y_m ~ N(0,1) in train, N(1,1) in deploy; Y_b = 1 + 2 Y_m + s (gap + slope_change Y_m) + ε."""
    rng = np.random.default_rng(seed)
    s = np.repeat([0, 1], n // 2)
    ym = rng.normal(size=n) + s
    yb = 1 + 2 * ym + s * (gap + slope_change * ym) + rng.normal(size=n)
    frame = pd.DataFrame({"regime": s, "ym": ym, "yb": yb})
    return loaded(frame, ("train", "deploy"), {"ym": "continuous", "yb": "continuous"})


def gap(result, estimator: str, regime: str = "deploy", outcome: int = 0):
    (found,) = [
        g for g in result.outcomes[outcome].gaps if g.estimator == estimator and g.regime == regime
    ]
    return found


def test_linear_gaussian_null_is_rarely_rejected_and_the_gap_covers_zero():
    rejections = linear_covers = flexible_covers = 0
    for seed in range(8):
        result = direct_test(linear_logs(600, seed), base=["yb"], mesa=["ym"], settings=FAST)
        (outcome,) = result.outcomes
        assert outcome.method == "fisherz"
        rejections += result.reject
        linear_covers += gap(result, "linear").covers_zero
        flexible_covers += gap(result, "flexible").covers_zero
    # 5% level and 95% intervals: P(>= 3 of 8 rejections) and P(<= 5 of 8 covers) are < 1%.
    assert rejections <= 2
    assert linear_covers >= 6
    assert flexible_covers >= 6


def test_linear_gaussian_gap_is_detected_and_covered():
    # μ_1(y) - μ_0(y) = 0.5 + 0.5 y, averaged over the pooled Y_m (mean 0.5): θ = 0.75.
    result = direct_test(
        linear_logs(3000, 1, gap=0.5, slope_change=0.5), base=["yb"], mesa=["ym"], settings=FAST
    )
    assert result.reject
    assert all(t.reject for t in result.outcomes[0].tests)
    for estimator in ("linear", "flexible"):
        estimate = gap(result, estimator)
        assert estimate.lower <= 0.75 <= estimate.upper, estimate
        assert not estimate.covers_zero


def test_nonlinear_regression_misleads_the_linear_estimator_not_the_flexible_one():
    # Y_b = Y_m² in both regimes, Y_m wider in deploy: no gap. Per regime the best
    # straight lines are the constants E[Y_m²] = 1 and 2.25, a spurious gap of 1.25.
    rng = np.random.default_rng(4)
    n = 3000
    s = np.repeat([0, 1], n // 2)
    ym = rng.normal(size=n) * np.where(s == 1, 1.5, 1.0)
    yb = ym**2 + 0.5 * rng.normal(size=n)
    data = loaded(
        pd.DataFrame({"regime": s, "ym": ym, "yb": yb}),
        ("train", "deploy"),
        {"ym": "continuous", "yb": "continuous"},
    )
    # The boosted fits must bend enough to follow the parabola: a few more trees.
    settings = DirectTestSettings(folds=3, trees=60)
    result = direct_test(data, base=["yb"], mesa=["ym"], settings=settings)
    (outcome,) = result.outcomes
    assert outcome.method == "gcm"
    assert outcome.nonlinearity_p < 0.05 and "not linear" in outcome.method_reason
    assert not result.reject
    linear = gap(result, "linear")
    assert linear.lower <= 1.25 <= linear.upper and not linear.covers_zero
    assert gap(result, "flexible").covers_zero


def test_discrete_base_objective_uses_gcm_and_covers_the_true_gap():
    # P(Y_b = 1 | Y_m, s) = logistic(Y_m + s); Y_m ~ N(0,1) in train, N(0.5,1) in deploy.
    rng = np.random.default_rng(4)
    n = 4000
    s = np.repeat([0, 1], n // 2)
    ym = rng.normal(size=n) + 0.5 * s
    yb = (rng.random(n) < 1 / (1 + np.exp(-(ym + s)))).astype(np.int64)
    data = loaded(
        pd.DataFrame({"regime": s, "ym": ym, "yb": yb}),
        ("train", "deploy"),
        {"ym": "continuous", "yb": "discrete"},
    )

    def pooled_difference(y: float) -> float:
        density = 0.5 * stats.norm.pdf(y) + 0.5 * stats.norm.pdf(y, loc=0.5)
        return density * (stats.logistic.cdf(y + 1) - stats.logistic.cdf(y))

    truth, _ = integrate.quad(pooled_difference, -12, 12)
    result = direct_test(
        data, base=["yb"], mesa=["ym"], settings=DirectTestSettings(folds=3, trees=100)
    )
    (outcome,) = result.outcomes
    assert outcome.method == "gcm" and "discrete" in outcome.method_reason
    assert [t.method for t in outcome.tests] == ["gcm"]
    assert result.reject
    flexible = gap(result, "flexible")
    assert flexible.lower <= truth <= flexible.upper, (truth, flexible)


def test_text_base_objective_gives_one_outcome_per_level_but_the_first():
    rng = np.random.default_rng(5)
    n = 900
    s = np.repeat([0, 1], n // 2)
    ym = rng.normal(size=n)
    outcome = pd.Categorical(
        np.where(ym + 2 * s + rng.normal(size=n) > 1, "pass", "fail"), categories=["fail", "pass"]
    )
    data = loaded(
        pd.DataFrame({"regime": s, "ym": ym, "grade": outcome}),
        ("train", "deploy"),
        {"ym": "continuous", "grade": "discrete"},
    )
    result = direct_test(data, base=["grade"], mesa=["ym"], settings=FAST)
    assert [o.base for o in result.outcomes] == ["grade=pass"]
    assert result.reject and gap(result, "flexible").lower > 0


def test_three_regimes_one_test_per_regime_pair_with_holm():
    rng = np.random.default_rng(6)
    n = 3000
    s = np.repeat([0, 1, 2], n // 3)
    ym = rng.normal(size=n) + 0.5 * s
    yb = ym + np.array([0.0, 0.0, 0.6])[s] + rng.normal(size=n)
    frame = pd.DataFrame({"regime": s, "ym": ym, "yb": yb})
    data = loaded(frame, ("a", "b", "c"), {"ym": "continuous", "yb": "continuous"})
    result = direct_test(data, base=["yb"], mesa=["ym"], settings=FAST)
    (outcome,) = result.outcomes
    deciding = [t for t in outcome.tests if t.method == outcome.method]
    assert [(t.regime, t.reference) for t in deciding] == [("b", "a"), ("c", "a"), ("c", "b")]
    assert all(t.p_holm >= t.p_value for t in outcome.tests)
    by_pair = {(t.regime, t.reference): t for t in deciding}
    assert by_pair[("c", "a")].reject and by_pair[("c", "b")].reject
    assert not by_pair[("b", "a")].reject
    truth = {("b", "a"): 0.0, ("c", "a"): 0.6, ("c", "b"): 0.6}
    for estimator in ("linear", "flexible"):
        for (regime, reference), value in truth.items():
            (found,) = [
                g
                for g in outcome.gaps
                if (g.estimator, g.regime, g.reference) == (estimator, regime, reference)
            ]
            assert found.lower <= value <= found.upper, (estimator, regime, reference, found)
    # Fisher-z between two regimes neither of which is the first equals the
    # partial correlation on the rows, with the first regime's indicator held.
    fisher = {(t.regime, t.reference): t for t in outcome.tests if t.method == "fisherz"}
    design = np.column_stack([ym, (s == 0).astype(float)])
    residual = []
    for target in (yb, (s == 2).astype(float)):
        fit = np.column_stack([np.ones(n), design])
        beta, *_ = np.linalg.lstsq(fit, target, rcond=None)
        residual.append(target - fit @ beta)
    r = np.corrcoef(*residual)[0, 1]
    z = np.arctanh(r) * np.sqrt(n - 2 - 3)
    assert fisher[("c", "b")].statistic == pytest.approx(z, rel=1e-6)


def test_several_base_columns_and_a_discrete_mesa_column():
    rng = np.random.default_rng(7)
    n = 1200
    s = np.repeat([0, 1], n // 2)
    level = rng.integers(0, 3, size=n)  # a discrete mesa column with 3 levels
    ym = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "regime": s,
            "ym": ym,
            "level": level,
            "same": ym + level + rng.normal(size=n),
            "moved": ym + level + 1.5 * s + rng.normal(size=n),
        }
    )
    kinds = {"ym": "continuous", "level": "discrete", "same": "continuous", "moved": "continuous"}
    result = direct_test(
        loaded(frame, ("train", "deploy"), kinds),
        base=["same", "moved"],
        mesa=["ym", "level"],
        settings=FAST,
    )
    same, moved = result.outcomes
    assert (same.base, moved.base) == ("same", "moved")
    assert same.method == "gcm" and "discrete" in same.method_reason
    assert not same.reject and moved.reject
    assert gap(result, "linear", outcome=1).lower <= 1.5 <= gap(result, "linear", outcome=1).upper


def test_deterministic_for_a_seed_and_sampled_when_capped():
    data = linear_logs(1000, 8, gap=0.3)
    settings = DirectTestSettings(rows=400, folds=2, trees=20, seed=11)
    first = direct_test(data, base=["yb"], mesa=["ym"], settings=settings).as_dict()
    second = direct_test(data, base=["yb"], mesa=["ym"], settings=settings).as_dict()
    assert json.dumps(first) == json.dumps(second)
    assert first["rows"] == 1000 and first["rows_used"] == 400 and first["sampled"]
    assert any("sample of 400 of 1,000 rows" in note for note in first["notes"])
    other = DirectTestSettings(rows=400, folds=2, trees=20, seed=12)
    third = direct_test(data, base=["yb"], mesa=["ym"], settings=other).as_dict()
    assert third["outcomes"][0]["gaps"] != first["outcomes"][0]["gaps"]


def test_holm_matches_the_step_down_definition():
    p = [0.01, 0.04, 0.03, 0.5]
    # Sorted: 0.01*4, 0.03*3, 0.04*2, 0.5*1, made monotone.
    assert holm(p).tolist() == pytest.approx([0.04, 0.09, 0.09, 0.5])


def test_bad_settings_and_too_few_rows_are_one_line_errors():
    with pytest.raises(InputError, match="direct test folds must be at least 2, got 1"):
        DirectTestSettings(folds=1)
    with pytest.raises(InputError, match="method must be one of auto, fisherz, gcm"):
        DirectTestSettings(method="kci")
    rng = np.random.default_rng(0)
    s = np.array([0] * 200 + [1] * 15)
    frame = pd.DataFrame({"regime": s, "ym": rng.normal(size=215), "yb": rng.normal(size=215)})
    data = loaded(frame, ("train", "deploy"), {"ym": "continuous", "yb": "continuous"})
    with pytest.raises(DirectTestError, match=r"regime 'deploy' has 15 rows.*--no-direct-test"):
        direct_test(data, base=["yb"], mesa=["ym"], settings=FAST)
    with pytest.raises(InputError, match="--base 'nope' is not a column"):
        direct_test(data, base=["nope"], mesa=["ym"], settings=FAST)
    # A run keeps its verdict: the direct test is skipped with the reason.
    skipped = direct_test(data, base=["yb"], mesa=["ym"], settings=FAST, too_few_rows="skip")
    part = skipped.as_dict()
    assert part["status"] == "skipped" and part["outcomes"] == [] and not part["reject"]
    assert "has 15 rows" in part["notes"][0] and part["rows"] == 215
    section = render_direct_test({"verdict": "all", "direct_test": part})
    assert "Direct test skipped: regime &#39;deploy&#39; has 15 rows" in section.body
    assert direct_test_line(part).startswith("direct test: skipped; regime 'deploy' has 15")


@pytest.mark.parametrize(
    ("verdict", "reject", "kind", "phrase"),
    [
        ("all", True, "disagree", "the learned graph is wrong"),
        ("none", False, "disagree", "This shift does not excite the open path"),
        ("some", False, "disagree", "any shift through the same graph"),
        ("none", True, "agree", "does move with the regime"),
        ("all", False, "agree", "no detectable gap"),
    ],
)
def test_the_reading_explains_agreement_and_disagreement(verdict, reject, kind, phrase):
    part = {"reject": reject, "alpha": 0.05, "level": 0.95}
    got_kind, text = explain(verdict, part, "value")
    assert got_kind == kind
    assert phrase in text.replace("Either the learned graph is wrong", "the learned graph is wrong")


def test_the_section_flags_a_rejection_under_an_all_verdict_and_a_misspecified_line():
    def estimate(estimator, value, half):
        return {
            "estimator": estimator,
            "regime": "deploy",
            "reference": "train",
            "estimate": value,
            "se": half / 2,
            "lower": value - half,
            "upper": value + half,
            "covers_zero": abs(value) <= half,
        }

    part = {
        "reference": "train",
        "regimes": ["train", "deploy"],
        "mesa": ["value"],
        "reject": True,
        "alpha": 0.05,
        "level": 0.95,
        "rows": 5000,
        "rows_used": 5000,
        "sampled": False,
        "seed": 0,
        "notes": [],
        "outcomes": [
            {
                "base": "reward",
                "method": "gcm",
                "method_reason": "E[Y_b | Y_m] is not linear",
                "reject": True,
                "curve": None,
                "tests": [
                    {
                        "method": "gcm",
                        "regime": "deploy",
                        "reference": "train",
                        "statistic": 4.2,
                        "p_value": 2e-5,
                        "p_holm": 2e-5,
                        "reject": True,
                        "rows": 5000,
                    },
                ],
                "gaps": [estimate("linear", 1.3, 0.2), estimate("flexible", 0.4, 0.1)],
            }
        ],
    }
    section = render_direct_test({"verdict": "all", "roles": {}, "direct_test": part})
    assert section is not None and section.id == "direct-test"
    assert "Structural verdict ALL; direct test REJECTS" in section.body
    assert "Either the learned graph is wrong" in section.body
    assert "linear and flexible intervals do not overlap for deploy" in section.body
    assert render_direct_test({"verdict": "all", "direct_test": None}) is None


# ------------------------------------------------------------------ end to end


def run_scenario(tmp_path: Path, name: str, *extra: str) -> tuple[str, dict, str]:
    logs = tmp_path / "logs" / name
    write_logs(name, logs, rows=1200, seed=0, shards=2)
    roles = SCENARIOS[name].roles
    out = tmp_path / f"out-{name}-{len(extra)}"
    args = [
        "run",
        "--regime",
        f"train={logs / 'train'}",
        "--regime",
        f"deploy={logs / 'deploy'}",
        "--base",
        ",".join(roles["base"]),
        "--mesa",
        ",".join(roles["mesa"]),
        "--decision",
        ",".join(roles["decision"]),
        "--policy-inputs",
        ",".join(roles["policy_inputs"]),
        "--out",
        str(out),
        *extra,
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in (0, 3, 4, 8), result.output
    document = json.loads((out / "result.json").read_text())
    return result.output, document, (out / "report.html").read_text()


def test_run_coinrun_shows_a_gap_and_aligned_does_not(tmp_path):
    # coinrun: coin_reward = progress - 0.6 coin_position, coin_position = 0.3 + 3 s + noise,
    # and nothing else the regime moves reaches value: the gap is -0.6 * 3 = -1.8 at every value.
    output, coinrun, page = run_scenario(tmp_path, "coinrun")
    part = coinrun["direct_test"]
    assert part["reject"] and part["reference"] == "train" and not part["sampled"]
    (outcome,) = part["outcomes"]
    assert outcome["base"] == "coin_reward"
    # The terminal shows the gap estimated as the deciding test reads the data.
    shown = {"fisherz": "linear", "gcm": "flexible"}[outcome["method"]]
    assert (
        f"direct test: independence rejected; coin_reward: {shown} gap deploy vs train -1."
        in output
    )
    for estimate in outcome["gaps"]:
        assert estimate["lower"] <= -1.8 <= estimate["upper"], estimate
    assert 'id="direct-test"' in page and "Direct test" in page
    assert "direct test REJECTS independence" in page
    reading = explain(coinrun["verdict"], part, "value", "coin_reward")[1]
    assert reading.split(".")[0] in page
    assert "<svg" in page.split('id="direct-test"')[1]
    # Verdict none and a gap agree: nothing for the verdict card or the terminal to warn of.
    assert 'id="verdict-direct-test"' not in page and "warning: the direct test" not in output

    # aligned: true_reward depends on the regime only through value: no gap.
    _, aligned, page = run_scenario(tmp_path, "aligned", "--direct-test-rows", "800")
    part = aligned["direct_test"]
    assert not part["reject"]
    assert part["sampled"] and part["rows_used"] == 800 and part["rows"] == 1200
    assert all(g["covers_zero"] for g in part["outcomes"][0]["gaps"])
    assert "does not reject" in page and "800 of 1,200 rows" in page


def test_an_all_that_the_logs_contradict_is_flagged_in_the_terminal_and_the_verdict_card(
    tmp_path,
):
    # Near-deterministic linear logs (the simulate family's 10-node seed 18): PC
    # removes every regime edge at alpha 0.01, so the class says 'all', while
    # E[Y_b | Y_m] moves by about -1.2 between the regimes.
    paths = write_failing_logs(tmp_path)
    out = tmp_path / "out"
    args = ["run", "--regime", f"train={paths['train']}", "--regime", f"deploy={paths['deploy']}"]
    args += ["--base", "Y_b", "--mesa", "Y_m", "--decision", "D_m", "--no-sensitivity"]
    # PC's wrong 'all' is the case (the default search, GES here, learns 'none').
    args += ["--method", "pc"]
    result = CliRunner().invoke(cli, [*args, "--out", str(out)])
    # The gap is far beyond the tolerance: the structural all is not confirmed (exit 8).
    assert result.exit_code == 8, result.output
    document = json.loads((out / "result.json").read_text())
    assert document["verdict"] == "all" and document["direct_test"]["reject"]
    assert document["confirmation"]["checks"][0]["beyond"]
    assert "warning: the direct test contradicts the structural 'all'" in result.output
    page = (out / "report.html").read_text()
    card = page[page.index('id="verdict"') : page.index('id="graph"')]
    assert 'id="verdict-direct-test"' in card
    assert "The logs contradict this verdict: the direct test rejects Y_b ⊥ regime | Y_m" in card


def test_run_without_the_direct_test(tmp_path):
    output, document, page = run_scenario(tmp_path, "collider", "--no-direct-test")
    assert document["direct_test"] is None and "direct test:" not in output
    assert 'id="direct-test"' not in page


def test_config_and_job_file_keys(tmp_path):
    from mesalens.reports.jobs.job_file import parse_job

    common = {"base": "b", "mesa": "m", "decision": "d", "regimes": {"a": "x", "b": "y"}}
    job = parse_job(
        {**common, "direct_test_rows": 5000, "check": [{"name": "one", "direct_test": False}]},
        base_dir=tmp_path,
    )
    (check,) = job.checks
    assert check.evidence.direct_test is False and check.evidence.direct_test_rows == 5000
    wanted = r"direct_test_rows.*must be an integer from 200 to 10,000,000, got 50"
    with pytest.raises(InputError, match=wanted):
        parse_job({**common, "check": [{"name": "two", "direct_test_rows": 50}]})

    logs = tmp_path / "logs"
    write_logs("aligned", logs, rows=400, seed=0, shards=1)
    config = tmp_path / "run.toml"
    config.write_text(
        'base = "true_reward"\nmesa = "value"\ndecision = "action"\ndirect_test_rows = 50\n'
        f'[regimes]\ntrain = "{logs / "train"}"\ndeploy = "{logs / "deploy"}"\n'
    )
    result = CliRunner().invoke(cli, ["run", "--config", str(config), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    wanted = "run.toml': key 'direct_test_rows' must be an integer from 200 to 10,000,000, got 50"
    assert wanted in result.output
    assert not (tmp_path / "o").exists()
