"""``mesalens simulate --family``: the five model families, their exact gaps, the new shares."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from mesalens.connectors.additive_scm import LINKS, AdditiveSCM
from mesalens.connectors.agent_graph import BASE, DECISION, LATENT, MESA
from mesalens.connectors.errors import InputError
from mesalens.connectors.random_scm import FAMILY_KINDS, RandomSCM, SCMFamily, loaded_from_frames
from mesalens.pipeline.method_choice import DISCRETE_CHOICE
from mesalens.pipeline.simulation import SimulationSettings, run_replicate, true_verdict
from mesalens.pipeline.simulation_cells import Trial, aggregate, wilson_interval
from mesalens.pipeline.simulation_gap import enumerated_gap, exact_gap, monte_carlo_gap
from mesalens.reports.cli import cli


def observed_edges(scm):
    return {(u, v) for u, v in scm.edges(1.0) if LATENT not in (u, v)}


# ------------------------------------------------------------------ the draw
@pytest.mark.parametrize("kind", FAMILY_KINDS)
def test_each_family_draws_deterministically_for_a_seed(kind):
    family = SCMFamily(nodes=7, kind=kind)
    first, second = family.draw([3, 1]), family.draw([3, 1])
    assert first.as_dict() == second.as_dict()
    a, b = first.sample(0.5, 300, seed=[4, 5]), second.sample(0.5, 300, seed=[4, 5])
    for label in ("train", "deploy"):
        assert a[label].equals(b[label])
    assert list(a["train"].columns) == list(first.columns)
    # Common random numbers: the train rows do not depend on the strength.
    assert first.sample(0.0, 300, seed=9)["train"].equals(first.sample(1.0, 300, seed=9)["train"])
    assert family.as_dict()["kind"] == kind


def test_every_family_shares_the_linear_familys_graph():
    for seed in range(10):
        linear = SCMFamily(kind="linear-gaussian").draw(seed)
        for kind in FAMILY_KINDS[1:]:
            scm = SCMFamily(kind=kind).draw(seed)
            assert observed_edges(scm) == observed_edges(linear), kind
            assert scm.targets == linear.targets
        nonlinear = SCMFamily(kind="nonlinear").draw(seed)
        np.testing.assert_array_equal(nonlinear.weights, linear.weights)


def test_discrete_family_logs_are_level_codes_with_a_binary_success():
    for seed in range(8):
        scm = SCMFamily(kind="discrete").draw(seed)
        assert isinstance(scm, AdditiveSCM) and scm.discrete == scm.columns
        frames = scm.sample(0.5, 600, seed=seed)
        for frame in frames.values():
            assert all(str(dtype) == "int64" for dtype in frame.dtypes)
            assert set(frame[BASE]) <= {0, 1}
        pooled = np.concatenate([f.to_numpy() for f in frames.values()])
        assert set(np.unique(pooled[:, list(scm.columns).index(BASE)])) == {0, 1}
        levels = scm.as_dict()["levels"]
        assert levels[BASE] == 2 and levels[DECISION] in (2, 3) and levels[MESA] in (2, 3)
        for column in scm.columns:
            assert frames["train"][column].max() < levels[column]
        # The pipeline sees them as discrete, and the regime first.
        data = loaded_from_frames(frames)
        assert data.kinds == {"regime": "discrete", **dict.fromkeys(scm.columns, "discrete")}


def test_mixed_and_nonlinear_families():
    for seed in range(8):
        mixed = SCMFamily(kind="mixed").draw(seed)
        frame = mixed.sample(0.5, 200, seed=1)["train"]
        kinds = {str(frame[c].dtype) for c in mixed.columns}
        assert kinds == {"int64", "float64"}, "mixed: both kinds of variable"
        assert set(mixed.discrete) == {c for c in mixed.columns if frame[c].dtype == "int64"}
        nonlinear = SCMFamily(kind="nonlinear").draw(seed)
        assert nonlinear.discrete == ()
        links = {link for _, _, link in nonlinear.as_dict()["links"]}
        assert links <= {"tanh", "quadratic"} and LINKS[0] == "linear"
        # The reference moments are the train regime's: standardized signals have mean 0, SD 1.
        train = nonlinear.sample(0.0, 40_000, seed=2)["train"]
        reference = nonlinear.as_dict()["reference"]
        for column in nonlinear.columns:
            centre, scale = reference[column]
            assert train[column].mean() == pytest.approx(centre, abs=0.05 * scale)
            assert train[column].std() == pytest.approx(scale, rel=0.05)


def test_confounded_family_hides_its_latent_common_cause():
    for seed in range(10):
        scm = SCMFamily(kind="confounded").draw(seed)
        assert isinstance(scm, RandomSCM) and scm.hidden == (LATENT,)
        assert LATENT in scm.nodes and LATENT not in scm.columns and LATENT not in scm.data
        children = {v for u, v in scm.edges(0.5) if u == LATENT}
        assert BASE in children and len(children) == 2
        assert (children - {BASE}) <= {*scm.data, MESA}
        frames = scm.sample(0.5, 200, seed=3)
        assert LATENT not in frames["train"].columns
        assert list(frames["deploy"].columns) == list(scm.columns)
        assert scm.as_dict()["hidden"] == [LATENT]
    # The truth is the generating DAG's: s -> ... -> D_m -> Y_m <- latent -> Y_b opens a path.
    opened = [
        s
        for s in range(40)
        if true_verdict(SCMFamily(kind="confounded").draw(s), 0.5) == "none"
        and true_verdict(SCMFamily().draw(s), 0.5) == "all"
    ]
    assert opened, "a latent common cause of Y_m and Y_b breaks some holding models"


# ------------------------------------------------------------------ exact gaps
def test_monte_carlo_gap_of_a_linear_model_agrees_with_the_analytic_one():
    checked = 0
    for seed in range(3):
        scm = SCMFamily().draw([7, seed])
        analytic = exact_gap(scm, 0.5, holds=False, seed=0)
        assert analytic.method == "analytic"
        sampled = monte_carlo_gap(scm, 0.5, seed=[7, seed, 1])
        assert sampled.method == "monte-carlo"
        # 200,000 rows per regime: about 0.01 SD per decile (the module docstring).
        assert sampled.gap == pytest.approx(analytic.gap, abs=0.03)
        assert sampled.gap_units == pytest.approx(analytic.gap_units, abs=0.03 * 3)
        checked += abs(analytic.gap) > 0.1
    assert checked >= 2


def test_enumerated_gap_of_a_discrete_model_is_exact():
    family = SCMFamily(kind="discrete")
    verdicts = set()
    for seed in range(12):
        scm = family.draw(seed)
        truth = true_verdict(scm, 0.5)
        verdicts.add(truth)
        exact = enumerated_gap(scm, 0.5)
        assert exact.method == "enumerated"
        if truth == "all":
            assert abs(exact.gap) < 1e-12
            assert exact_gap(scm, 0.5, holds=True, seed=0).method == "zero"
        else:
            assert abs(exact.gap) > 1e-6, "random CPTs are faithful"
            assert exact_gap(scm, 0.5, holds=False, seed=0) == exact
        if seed < 3:
            sampled = monte_carlo_gap(scm, 0.5, seed=[seed, 1], rows=100_000)
            assert sampled.gap == pytest.approx(exact.gap, abs=0.03)
    assert verdicts == {"all", "none"}
    # The joint table is a distribution.
    _, probabilities = family.draw(0).joint(0.5, deployed=True)
    assert probabilities.sum() == pytest.approx(1.0)


def test_gap_of_the_other_families_is_monte_carlo_and_zero_where_the_criterion_holds():
    for kind in ("nonlinear", "mixed"):
        scm = SCMFamily(kind=kind).draw(1)
        gap = exact_gap(scm, 0.5, holds=False, seed=[0, 1], rows=20_000)
        assert gap.method == "monte-carlo" and np.isfinite(gap.gap)
        assert exact_gap(scm, 0.5, holds=True, seed=0).gap == 0.0
        assert exact_gap(scm, 0.0, holds=False, seed=0).method == "zero"


# ------------------------------------------------------------------ the study
def test_settings_fit_the_method_to_the_family():
    with pytest.raises(InputError, match="use method fci"):
        SimulationSettings(family=SCMFamily(kind="confounded"), method="pc")
    for kind in ("discrete", "mixed"):
        with pytest.raises(InputError, match="GES here scores linear-Gaussian models"):
            SimulationSettings(family=SCMFamily(kind=kind), method="ges")
    with pytest.raises(InputError, match="family must be one of"):
        SCMFamily(kind="gaussian")
    for kind in FAMILY_KINDS:
        settings = SimulationSettings(family=SCMFamily(kind=kind), method="fci")
        assert settings.as_dict()["family"]["kind"] == kind
        assert settings.as_dict()["gap"]["monte_carlo_rows_per_regime"] == 200_000


@pytest.mark.parametrize(("kind", "method"), [("mixed", "pc"), ("confounded", "fci")])
def test_replicate_of_a_family_runs_the_pipeline(kind, method):
    settings = SimulationSettings(
        replicates=1,
        rows=(600,),
        shifts=(0.5,),
        family=SCMFamily(nodes=6, kind=kind),
        method=method,
        gap_rows=20_000,
    )
    (trial,) = run_replicate(settings, 0)
    assert trial.error is None and trial.learned_verdict in {"all", "some", "none"}
    assert trial.true_verdict in {"all", "none"}
    assert trial.gap_method in {"analytic", "zero", "monte-carlo"}


def test_precision_of_all_is_the_share_of_learned_all_that_truly_hold():
    trials = [
        Trial(0, 0.5, 100, "all", "all", 0.0),
        Trial(1, 0.5, 100, "none", "all", 0.3),
        Trial(2, 0.5, 100, "none", "all", -0.1),
        Trial(3, 0.5, 100, "none", "none", 0.2),
    ]
    (cell,) = aggregate(trials)
    assert cell.learned_hold_share == 0.75 and cell.true_hold_share == 0.25
    assert cell.precision_of_all == pytest.approx(1 / 3)
    assert cell.accuracy == 0.5
    as_dict = cell.as_dict()
    assert as_dict["precision_of_all_interval"] == list(wilson_interval(1, 3))
    assert as_dict["learned_hold_interval"] == list(wilson_interval(3, 4))
    (none,) = aggregate([Trial(0, 0.5, 100, "none", "none", 0.2)])
    assert none.precision_of_all is None


def test_simulate_command_runs_the_discrete_family(tmp_path):
    out = tmp_path / "discrete"
    args = ["simulate", "--family", "discrete", "--replicates", "2", "--rows", "500"]
    args += ["--shifts", "0.5", "--scheduler", "sync", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output and "precision" in result.output
    table = (out / "table.md").read_text().splitlines()
    assert len(table) == 3
    headings = [h.strip() for h in table[0].strip("|").split("|")]
    assert {"truly holds", "learned all", "precision of all", "accuracy"} <= set(headings)
    assert {"exit 0", "safe exit 0", "exit 8", "recall (holds)", "recall (fails)"} <= set(headings)
    document = json.loads((out / "simulation.json").read_text())
    assert document["settings"]["family"]["kind"] == "discrete"
    assert document["settings"]["method"] == "auto"
    assert {t["method"] for t in document["trials"]} == {DISCRETE_CHOICE}
    assert {t["gap_method"] for t in document["trials"]} <= {"enumerated", "zero"}
    assert "--family discrete" in document["command"]
    assert "discrete" in (out / "report.html").read_text()


def test_simulate_command_defaults_to_fci_for_the_confounded_family(tmp_path):
    args = ["simulate", "--family", "confounded", "--replicates", "1", "--rows", "300"]
    args += ["--shifts", "0.5", "--nodes", "5", "--scheduler", "sync", "-q", "--out"]
    result = CliRunner().invoke(cli, [*args, str(tmp_path)])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "simulation.json").read_text())
    assert document["settings"]["method"] == "auto"
    assert {t["method"] for t in document["trials"]} == {"fci"}
    assert "--method auto" in document["command"]
    refused = CliRunner().invoke(cli, [*args, str(tmp_path / "pc"), "--method", "pc"])
    assert refused.exit_code == 1
    assert "mesalens: error: the confounded family's logs miss a common cause" in refused.output
