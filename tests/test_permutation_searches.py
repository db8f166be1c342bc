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
from contextlib import nullcontext

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from causallearn.score.LocalScoreFunction import local_score_BDeu
from causallearn.score.LocalScoreFunction import local_score_BIC_from_cov as local_score_bic
from causallearn.score.LocalScoreFunctionClass import LocalScoreClass
from causallearn.search.PermutationBased import BOSS, GRaSP
from causallearn.search.PermutationBased.BOSS import boss
from causallearn.search.PermutationBased.GRaSP import grasp
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mesalens.connectors.random_scm import SCMFamily
from mesalens.pipeline.discovery import METHODS, discover
from mesalens.pipeline.errors import DiscoveryError
from mesalens.pipeline.formats.causallearn import from_causallearn
from mesalens.pipeline.knowledge import Knowledge
from mesalens.pipeline.permutation_searches import (
    BIC_PENALTY,
    SCORE_TIE,
    CountsBDeu,
    RegimeRoot,
    class_score,
    regime_first,
)
from mesalens.pipeline.search_repairs import make_regime_root
from mesalens.pipeline.simulation import true_verdict
from mesalens.pipeline.statistics import compute_statistics
from mesalens.reports.cli import cli
from mesalens.reports.jobs.engine import run_check, run_jobs
from mesalens.reports.jobs.job_file import load_job_file
from tests.test_discovery import NAMES, discrete_bn, edges_of, gaussian_stats, linear_sem
from tests.test_jobs import T0, read_json, write_job, write_parquet_logs
from tests.test_run_kci import extensions
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
MODULES = {"boss": BOSS, "grasp": GRaSP}


def discrete_stats(data, names=NAMES):
    frame = pd.DataFrame({name: data[:, i] for i, name in enumerate(names)})
    for name in names[1:3]:  # text levels: the score must not depend on the labels
        levels = np.array(["lo", "mid", "hi"])
        frame[name] = pd.Categorical(levels[frame[name]], categories=["lo", "mid", "hi"])
    return compute_statistics(
        dd.from_pandas(frame, npartitions=3), dict.fromkeys(names, "discrete")
    )


def causallearn_on_rows(method, data, score_func, seed, names=NAMES, *, rooted, **kwargs):
    """causal-learn's search on the rows, its own score wrapped as mesalens wraps it.

    ``rooted``: the regime (column 0) takes no parents (RegimeRoot around
    causal-learn's LocalScoreClass) and GRaSP starts with it first
    (regime_first); else causal-learn's search as it is. The search code and
    the score on the rows are causal-learn's.
    """
    module = MODULES[method]
    original = module.LocalScoreClass

    def regime_root_score(**arguments):
        return RegimeRoot(original(**arguments), names.index("regime"))

    random.seed(seed)
    if rooted:
        module.LocalScoreClass = regime_root_score
    try:
        start = regime_first(module, names.index("regime"))
        with start if rooted and method == "grasp" else nullcontext():
            general = SEARCHES[method](data, score_func, verbose=False, node_names=names, **kwargs)
    finally:
        module.LocalScoreClass = original
    return from_causallearn(general, names)


def causallearn_kept(method, data, score_func, seed, names=NAMES, parameters=None):
    """What mesalens keeps, from causal-learn on the rows: of the regime-root search and the
    unconstrained one made a root after, the graph that causal-learn's score on the rows
    rates higher (a tie goes to the regime-root search)."""
    kwargs = {} if parameters is None else {"parameters": parameters}
    rooted = causallearn_on_rows(method, data, score_func, seed, names, rooted=True, **kwargs)
    free = causallearn_on_rows(method, data, score_func, seed, names, rooted=False, **kwargs)
    rooted = make_regime_root(rooted, "regime", [], method)
    free = make_regime_root(free, "regime", [], method)
    functions = {"local_score_BDeu": local_score_BDeu, "local_score_BIC_from_cov": local_score_bic}
    rows = LocalScoreClass(data=data, local_score_fun=functions[score_func], parameters=parameters)
    rooted_score, free_score = class_score(rooted, rows), class_score(free, rows)
    if free_score > rooted_score + SCORE_TIE * max(1.0, abs(rooted_score)):
        return free, "unconstrained_then_rooted"
    return rooted, "regime_root"


# ---------------------------------------------------------------- same graph as causal-learn
@pytest.mark.parametrize("method", ["boss", "grasp"])
@pytest.mark.parametrize("seed", range(4))
def test_bic_on_the_covariance_equals_causallearn_on_the_raw_array(method, seed):
    data = linear_sem(seed, p=6)
    ours = discover(gaussian_stats(data), method=method, regime="regime", seed=seed)
    theirs, kept = causallearn_kept(
        method, data, "local_score_BIC_from_cov", seed, parameters={"lambda_value": BIC_PENALTY}
    )
    assert ours.graph == theirs
    assert ours.settings["starts"]["kept"] == kept
    assert ours.ci_tests == []
    assert ours.settings["test"] == "bic"
    assert "lambda_value 0.5" in ours.settings["score"]


@pytest.mark.parametrize("method", ["boss", "grasp"])
@pytest.mark.parametrize("seed", range(3))
def test_bdeu_on_the_counts_equals_causallearn_on_the_raw_array(method, seed):
    data = discrete_bn(seed)
    ours = discover(discrete_stats(data), method=method, regime="regime", seed=seed)
    theirs, kept = causallearn_kept(method, data.astype(float), "local_score_BDeu", seed)
    assert ours.graph == theirs
    assert ours.settings["starts"]["kept"] == kept
    assert ours.settings["test"] == "bdeu"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    root=st.integers(0, 5),
    method=st.sampled_from(["boss", "grasp"]),
    kind=st.sampled_from(["bdeu", "bic"]),
)
# Two where the unconstrained search's graph, repaired at the regime, is kept.
@example(seed=3, root=4, method="boss", kind="bdeu")
@example(seed=5, root=1, method="grasp", kind="bic")
def test_the_kept_graph_is_the_better_scoring_and_every_dag_of_it_has_the_regime_a_root(
    seed, root, method, kind
):
    # The column called the regime is any column of a random network (a root or
    # not; put first, as the loader puts it), so the unconstrained search sometimes
    # makes it a collider. Brute force: every DAG of the kept graph.
    data = discrete_bn(seed) if kind == "bdeu" else linear_sem(seed)
    data = data[:, [root, *(i for i in range(6) if i != root)]]
    if kind == "bic":
        data[:, 0] = (data[:, 0] > data[:, 0].mean()).astype(int)
        stats = gaussian_stats(data)
        parameters = {"lambda_value": BIC_PENALTY}
        score = LocalScoreClass(data=data, local_score_fun=local_score_bic, parameters=parameters)
    else:
        stats = discrete_stats(data)
        score = CountsBDeu(stats)
    result = discover(stats, method=method, regime="regime", seed=seed)
    starts = result.settings["starts"]
    kept = starts[starts["kept"]]
    other = [v for k, v in starts.items() if k not in ("kept", starts["kept"])]
    assert other[0] is None or kept >= other[0]
    dags = extensions(result.graph)
    assert dags
    for dag in dags:
        assert dag.in_degree("regime") == 0
        total = sum(
            score.score(NAMES.index(v), sorted(NAMES.index(u) for u in dag.predecessors(v)))
            for v in NAMES
        )
        assert total == pytest.approx(kept, rel=1e-9)


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
def test_the_regime_is_a_root_in_the_search_and_said(method, capsys):
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
    # Unconstrained, the search makes the regime a collider, which the repair drops;
    # searching with the regime a root scores higher here (x1 and x2 are dependent given
    # the regime, which the repaired graph cannot say), and that graph is kept and said.
    label = {"boss": "BOSS", "grasp": "GRaSP"}[method]
    starts = result.settings["starts"]
    assert starts["kept"] == "regime_root"
    assert starts["regime_root"] > starts["unconstrained_then_rooted"]
    assert graph.edge("x1", "x2") is not None
    assert not [n for n in result.notes if "rebuilt with the regime a root" in n]
    searched, oriented = [n for n in result.notes if "regime" in n]
    assert searched.startswith(f"{label} searched twice, over the DAGs in which the regime is")
    assert "the regime-root one scored at least as high" in searched
    assert oriented.startswith(f"{label}, searching only DAGs in which the regime is a root")
    assert capsys.readouterr() == ("", "")


# ---------------------------------------------------------------- discrete recall (issue 13)
# Models of `mesalens simulate --family discrete --nodes 8 --seed 7` (replicates
# 50 and 56) in which the criterion holds, logged at shift 0.1, 8,000 rows per
# regime. An unconstrained BOSS made the regime a collider there (x --> regime
# <-- y); the repair afterwards dropped it and had to add colliders in name
# order, one of them D_m --> Y_m <-- Y_b, and the verdict was `none` (exit 4).
# With the regime a root during the search the verdict is `all`, which the
# direct test confirms (bench/RESULTS.md, "Discrete recall").
@pytest.mark.parametrize("replicate", [50, 56])
def test_run_on_discrete_logs_where_the_criterion_holds_exits_0(tmp_path, replicate):
    scm = SCMFamily(nodes=8, kind="discrete").draw([7, replicate])
    assert true_verdict(scm, 0.1) == "all"
    frames = scm.sample(0.1, 16_000, [7, replicate, 16_000])
    regimes = write_parquet(tmp_path / "logs", frames)
    roles = ["--base", "Y_b", "--mesa", "Y_m", "--decision", "D_m"]
    outputs = run(tmp_path / "out", *regimes, *roles, "--no-sensitivity", "--quiet", "--seed", "7")
    assert outputs.settings["method"] == "boss"  # auto's choice for discrete logs
    assert outputs.document["verdict"] == "all"
    assert outputs.exit_code == 0
    at_regime = [e for e in outputs.edges if "regime" in (e[0], e[2])]
    assert all(u == "regime" and kind == "-->" for u, kind, _ in at_regime)
    assert "Y_m" not in {v for u, kind, v in outputs.edges if u == "Y_b" and kind == "-->"}


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
