"""BOSS and GRaSP on the sufficient statistics (mesalens.pipeline.permutation_searches).

The reference is causal-learn's own ``boss`` and ``grasp`` run on the raw
arrays with the same score, parameters and seed (``random.seed``): mesalens
runs the same search code on a score computed from the statistics, then
makes the regime a root (checked separately for GES), so the graphs must
be equal.
"""

from __future__ import annotations

import random
import textwrap

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from causallearn.score.LocalScoreFunction import local_score_BDeu
from causallearn.search.PermutationBased.BOSS import boss
from causallearn.search.PermutationBased.GRaSP import grasp
from click.testing import CliRunner

from mesalens.pipeline.discovery import METHODS, discover
from mesalens.pipeline.errors import DiscoveryError
from mesalens.pipeline.formats.causallearn import from_causallearn
from mesalens.pipeline.knowledge import Knowledge
from mesalens.pipeline.permutation_searches import BIC_PENALTY, CountsBDeu
from mesalens.pipeline.search_repairs import make_regime_root
from mesalens.pipeline.statistics import compute_statistics
from mesalens.reports.cli import cli
from mesalens.reports.jobs.engine import run_check, run_jobs
from mesalens.reports.jobs.job_file import load_job_file
from tests.test_discovery import NAMES, discrete_bn, edges_of, gaussian_stats, linear_sem
from tests.test_jobs import T0, read_json, write_job, write_parquet_logs
from tests.test_run_options import (
    FAST,
    ROLES,
    UNCONFIRMED_ALL,
    discrete,
    linear,
    mixed,
    run,
    write_parquet,
)

SEARCHES = {"boss": boss, "grasp": grasp}


def discrete_stats(data, names=NAMES):
    frame = pd.DataFrame({name: data[:, i] for i, name in enumerate(names)})
    for name in names[1:3]:  # text levels: the score must not depend on the labels
        levels = np.array(["lo", "mid", "hi"])
        frame[name] = pd.Categorical(levels[frame[name]], categories=["lo", "mid", "hi"])
    return compute_statistics(
        dd.from_pandas(frame, npartitions=3), dict.fromkeys(names, "discrete")
    )


def causallearn_on_rows(method, data, score_func, seed, names=NAMES, **kwargs):
    random.seed(seed)
    general = SEARCHES[method](data, score_func, verbose=False, node_names=names, **kwargs)
    return from_causallearn(general, names)


# ---------------------------------------------------------------- same graph as causal-learn
@pytest.mark.parametrize("method", ["boss", "grasp"])
@pytest.mark.parametrize("seed", range(4))
def test_bic_on_the_covariance_equals_causallearn_on_the_raw_array(method, seed):
    data = linear_sem(seed, p=6)
    ours = discover(gaussian_stats(data), method=method, regime="regime", seed=seed)
    theirs = causallearn_on_rows(
        method,
        data,
        "local_score_BIC_from_cov",
        seed,
        parameters={"lambda_value": BIC_PENALTY},
    )
    # causal-learn has no knowledge for them: the regime is made a root afterwards.
    assert ours.graph == make_regime_root(theirs, "regime", [], method)
    assert ours.ci_tests == []
    assert ours.settings["test"] == "bic"
    assert "lambda_value 0.5" in ours.settings["score"]


@pytest.mark.parametrize("method", ["boss", "grasp"])
@pytest.mark.parametrize("seed", range(3))
def test_bdeu_on_the_counts_equals_causallearn_on_the_raw_array(method, seed):
    data = discrete_bn(seed)
    ours = discover(discrete_stats(data), method=method, regime="regime", seed=seed)
    theirs = causallearn_on_rows(method, data.astype(float), "local_score_BDeu", seed)
    assert ours.graph == make_regime_root(theirs, "regime", [], method)
    assert ours.settings["test"] == "bdeu"


def test_bdeu_from_counts_is_causallearns_bdeu_on_rows():
    data = discrete_bn(5, n=1500)
    score = CountsBDeu(discrete_stats(data))
    rows = data.astype(float)
    for i, parents in [(0, []), (3, []), (3, [1]), (4, [2, 0]), (5, [1, 3, 4]), (1, [5, 2])]:
        expected = local_score_BDeu(rows, i, parents)
        assert score.score(i, parents) == pytest.approx(expected, rel=1e-12, abs=1e-9)
        assert score.score_nocache(i, parents[::-1]) == score.score(i, parents)


def test_bdeu_with_two_variables_finds_the_edge():
    # causal-learn's structure prior is log 0 with two variables, and its search
    # then never adds the edge; here the prior is uniform.
    rng = np.random.default_rng(0)
    regime = rng.integers(0, 2, 2000)
    action = np.where(rng.random(2000) < 0.2 + 0.6 * regime, 1, 0)
    data = np.column_stack([regime, action])
    stats = compute_statistics(
        pd.DataFrame(data, columns=["regime", "action"]),
        dict.fromkeys(["regime", "action"], "discrete"),
    )
    for method in ("boss", "grasp"):
        assert edges_of(discover(stats, method=method, regime="regime").graph) == {
            "regime --> action"
        }


# ---------------------------------------------------------------- seed, knowledge, refusals
@pytest.mark.parametrize("method", ["boss", "grasp"])
def test_a_seed_gives_one_graph_and_the_global_generators_are_untouched(method):
    stats = gaussian_stats(linear_sem(8, p=6))
    random.seed(123)
    np.random.seed(321)
    before, numpy_before = random.getstate(), np.random.get_state()[1].copy()
    graphs = {
        seed: [discover(stats, method=method, regime="regime", seed=seed).graph for _ in "ab"]
        for seed in (0, 1, 2)
    }
    assert all(first == second for first, second in graphs.values())
    assert random.getstate() == before
    assert (np.random.get_state()[1] == numpy_before).all()


@pytest.mark.parametrize("method", ["boss", "grasp"])
def test_knowledge_is_refused_and_unused_settings_are_noted(method):
    stats = gaussian_stats(linear_sem(0, n=500))
    with pytest.raises(DiscoveryError, match="takes no background knowledge"):
        discover(
            stats, method=method, regime="regime", knowledge=Knowledge(forbidden={("x1", "x2")})
        )
    result = discover(stats, method=method, regime="regime", test="fisherz", max_depth=1)
    label = {"boss": "BOSS", "grasp": "GRaSP"}[method]
    assert f"{label} is score-based: the test setting was not used" in result.notes
    assert f"{label} does not use max_depth" in result.notes


@pytest.mark.parametrize("method", ["boss", "grasp"])
def test_continuous_with_a_many_level_column_is_refused(method):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "regime": rng.integers(0, 2, 500),
            "level": pd.Categorical(rng.choice(list("abc"), 500)),
            "value": rng.normal(size=500),
        }
    )
    kinds = {"regime": "discrete", "level": "discrete", "value": "continuous"}
    with pytest.raises(DiscoveryError, match=r"'level'.*--test dg"):
        discover(compute_statistics(frame, kinds), method=method, regime="regime")


@pytest.mark.parametrize("method", ["boss", "grasp"])
def test_the_regime_is_made_a_root_and_said(method, capsys):
    # The data make the regime a collider x1 --> regime <-- x2 (see test_discovery).
    rng = np.random.default_rng(2)
    n = 3000
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    regime = (x1 + x2 + 0.5 * rng.normal(size=n) > 0).astype(int)
    x3 = x1 + rng.normal(size=n)
    names = ["regime", "x1", "x2", "x3"]
    result = discover(
        gaussian_stats(np.column_stack([regime, x1, x2, x3]), names), method=method, regime="regime"
    )
    graph = result.graph
    assert graph.adjacent("regime")
    for other in graph.adjacent("regime"):
        assert str(graph.edge("regime", other)) == f"regime --> {other}"
    label = {"boss": "BOSS", "grasp": "GRaSP"}[method]
    (note,) = [n for n in result.notes if "rebuilt with the regime a root" in n]
    assert note.startswith(f"{label}'s CPDAG compelled") and "x1 --> regime <-- x2" in note
    assert capsys.readouterr() == ("", "")


# ---------------------------------------------------------------- mesalens run, job files
def test_run_help_offers_the_methods():
    result = CliRunner().invoke(cli, ["run", "--help"])
    assert "boss" in result.output and "grasp" in result.output
    assert {"boss", "grasp"} <= set(METHODS)


@pytest.mark.parametrize("method", ["boss", "grasp"])
def test_run_method_on_continuous_logs(tmp_path, method):
    regimes = write_parquet(tmp_path / "logs", linear())
    outputs = run(tmp_path / "out", *regimes, *ROLES, *FAST, "--method", method)
    assert outputs.exit_code == UNCONFIRMED_ALL  # an all; FAST has no direct test
    assert outputs.settings["method"] == method and outputs.settings["test"] == "bic"
    assert outputs.tests == []
    for a, b in [("regime", "obs"), ("obs", "action"), ("action", "value"), ("value", "reward")]:
        assert outputs.adjacent(a, b), (a, b)
    at_regime = [e for e in outputs.edges if "regime" in (e[0], e[2])]
    assert at_regime and all(u == "regime" and kind == "-->" for u, kind, _ in at_regime)
    for note in outputs.document["discovery"]["notes"]:
        assert f"Discovery note: {note}" in outputs.text


def test_run_grasp_on_discrete_logs_scores_bdeu(tmp_path):
    regimes = write_parquet(tmp_path / "logs", discrete(rows=600))
    outputs = run(tmp_path / "out", *regimes, *ROLES, *FAST, "--method", "grasp")
    assert outputs.settings["test"] == "bdeu"
    assert "local_score_BDeu" in outputs.settings["score"]
    assert outputs.adjacent("regime", "obs") and outputs.adjacent("value", "reward")


def test_run_boss_refuses_mixed_data_and_writes_nothing(tmp_path):
    regimes = write_parquet(tmp_path / "logs", mixed())
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["run", *regimes, *ROLES, *FAST, "--method", "boss", "--out", str(out)]
    )
    assert result.exit_code == 1, result.output  # an input error
    assert "--test dg" in result.output
    assert not (out / "result.json").exists()


def test_run_boss_with_the_kci_setting_needs_no_rows(tmp_path):
    # KCI reads rows and is refused above 5,000; BOSS runs no test, so the
    # setting is noted as unused and the run goes ahead.
    regimes = write_parquet(tmp_path / "logs", linear(rows=2600))
    outputs = run(tmp_path / "out", *regimes, *ROLES, *FAST, "--method", "boss", "--test", "kci")
    assert (
        "BOSS is score-based: the test setting was not used"
        in (outputs.document["discovery"]["notes"])
    )


def test_a_job_file_check_with_method_boss(tmp_path):
    write_parquet_logs(tmp_path / "logs", leak=False, rows=1000)
    path = write_job(
        tmp_path,
        names=(),
        # 0.3 SD: exit 0 needs the gap at every decile of Y_m, which 1,000 rows per
        # regime do not confirm within 0.1 SD.
        top='policy_inputs = ["obs"]\ntolerance = "0.3"',
        extra=textwrap.dedent(
            """
            [[check]]
            name = "boss"
            method = "boss"

            [[check]]
            name = "grasp"
            method = "grasp"
            """
        ),
    )
    job = load_job_file(path)
    assert [c.settings.method for c in job.checks] == ["boss", "grasp"]
    outcome = run_jobs(job, tmp_path / "out", run_one=run_check, now=T0)
    assert outcome.exit_code == 0, outcome.summary_lines()
    for name in ("boss", "grasp"):
        result = read_json(tmp_path / "out" / name / "latest" / "result.json")
        assert result["discovery"]["settings"]["method"] == name
        assert result["verdict"] == "all"
