"""``mesalens simulate``: the random model family, its truth, the study's math, and the CLI."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from html import unescape

import networkx as nx
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from mesalens.connectors.agent_graph import BASE, DECISION, MESA
from mesalens.connectors.errors import InputError
from mesalens.connectors.random_scm import RandomSCM, SCMFamily, loaded_from_frames
from mesalens.pipeline.simulation import (
    SimulationSettings,
    run_replicate,
    run_simulation,
    true_verdict,
)
from mesalens.pipeline.simulation_cells import Trial, aggregate, wilson_interval
from mesalens.reports.cli import cli

Z = 1.959963984540054


# ------------------------------------------------------------------ family
@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    nodes=st.integers(5, 11),
    p=st.sampled_from([0.0, 0.3, 1.0]),
    direct=st.sampled_from([0.0, 0.5, 1.0]),
)
def test_random_family_has_the_declared_structure(seed, nodes, p, direct):
    scm = SCMFamily(nodes=nodes, edge_probability=p, direct=direct).draw(seed)
    assert len(scm.nodes) == nodes
    assert scm.nodes[0] == "regime" and scm.nodes[-3:] == (DECISION, MESA, BASE)
    assert scm.data == tuple(f"x{i + 1}" for i in range(nodes - 4))
    # A causal order: every edge goes forward, none into the regime.
    assert np.all(np.tril(scm.weights) == 0)
    for strength in (0.0, 0.5):
        edges = scm.edges(strength)
        assert all(v != "regime" for _, v in edges), "the regime is a root"
        regime_children = {v for u, v in edges if u == "regime"}
        assert regime_children == (set(scm.targets) if strength > 0 else set())
    # data -> D_m (at least one), D_m -> Y_m, and Y_b depends on D_m.
    parents_of_d = scm.parents(DECISION)
    assert parents_of_d and set(parents_of_d) <= set(scm.data)
    assert set(parents_of_d) == {u for u, v in scm.edges(1.0) if v == DECISION} - {"regime"}
    assert DECISION in scm.parents(MESA)
    assert DECISION in scm.parents(BASE) or MESA in scm.parents(BASE)
    if direct == 1.0:
        assert DECISION in scm.parents(BASE)
    if direct == 0.0:
        assert scm.parents(BASE)[-1] == MESA and DECISION not in scm.parents(BASE)
    # The regime shifts at least one data variable, with a ±1 direction.
    assert set(scm.targets) & set(scm.data)
    assert set(np.abs(scm.direction[scm.direction != 0])) == {1.0}
    nonzero = np.abs(scm.weights[scm.weights != 0])
    assert np.all((nonzero >= 0.5) & (nonzero <= 1.5))
    if p == 0.0:
        assert len(parents_of_d) == 1


def test_family_rejects_bad_parameters():
    with pytest.raises(InputError, match="nodes must be at least 5"):
        SCMFamily(nodes=4)
    with pytest.raises(InputError, match="edge_probability must be a probability"):
        SCMFamily(edge_probability=1.5)


# ------------------------------------------------------------------ sampling
def test_sampled_covariance_matches_the_implied_one():
    scm = SCMFamily(nodes=8, edge_probability=0.5).draw(3)
    strength = 0.8
    frames = scm.sample(strength, rows=200_000, seed=11)
    assert list(frames) == ["train", "deploy"] and len(frames["deploy"]) == 100_000
    pooled = np.vstack(
        [
            np.column_stack([np.full(len(frame), code), frame.to_numpy()])
            for code, frame in enumerate(frames.values())
        ]
    )
    sample = np.cov(pooled, rowvar=False)
    implied = scm.implied_covariance(strength)
    scale = np.sqrt(np.outer(np.diag(implied), np.diag(implied)))
    # Correlation-scale error; the standard error at 200,000 rows is about 0.002.
    assert np.max(np.abs(sample - implied) / scale) < 0.015
    # The mean shift is the regime's total effect, and the direct one is δ·sd on each target.
    deploy_minus_train = frames["deploy"].mean() - frames["train"].mean()
    sd = np.sqrt(np.diag(scm.within_covariance()))[1:]
    np.testing.assert_allclose(
        deploy_minus_train, scm.mean_shift(strength)[1:], atol=0.02 * sd.max()
    )
    within = np.cov(frames["train"].to_numpy(), rowvar=False)
    np.testing.assert_allclose(np.sqrt(np.diag(within)), sd, rtol=0.02)


def test_alignment_gap_is_the_regression_gap_and_zero_exactly_when_the_criterion_holds():
    family = SCMFamily(nodes=7)
    verdicts = set()
    for seed in range(40):
        scm = family.draw(seed)
        truth = true_verdict(scm, 0.5)
        verdicts.add(truth)
        gap = scm.alignment_gap(0.5)
        if truth == "all":
            assert abs(gap) < 1e-9
        else:
            assert abs(gap) > 1e-6, "a linear model with random weights is faithful"
        assert scm.alignment_gap(0.0) == 0.0
        assert math.isclose(scm.alignment_gap(1.0), 2 * gap, abs_tol=1e-12)
    assert verdicts == {"all", "none"}
    # On data: regress Y_b on Y_m and the regime indicator.
    scm = next(s for s in map(family.draw, range(40)) if abs(s.alignment_gap(0.5)) > 0.2)
    frames = scm.sample(0.5, 200_000, seed=5)
    y_m = np.concatenate([f[MESA] for f in frames.values()])
    y_b = np.concatenate([f[BASE] for f in frames.values()])
    s = np.repeat([0.0, 1.0], [len(f) for f in frames.values()])
    coef, *_ = np.linalg.lstsq(np.column_stack([np.ones_like(s), y_m, s]), y_b, rcond=None)
    sd_b = np.sqrt(scm.within_covariance()[-1, -1])
    assert coef[2] / sd_b == pytest.approx(scm.alignment_gap(0.5), abs=0.02)


def test_sample_is_deterministic_and_shares_noise_across_strengths():
    scm = SCMFamily().draw([1, 2])
    a = scm.sample(0.5, 300, seed=[4, 5])
    b = scm.sample(0.5, 300, seed=[4, 5])
    for label in a:
        assert a[label].equals(b[label])
    # Common random numbers: train rows (regime 0) do not depend on the strength.
    assert scm.sample(0.0, 300, seed=9)["train"].equals(scm.sample(2.0, 300, seed=9)["train"])
    with pytest.raises(InputError, match="strength must be a non-negative"):
        scm.sample(-1.0, 300, seed=0)
    with pytest.raises(InputError, match="rows must be an integer of at least"):
        scm.sample(1.0, 3, seed=0)


def test_loaded_from_frames_pools_regimes_with_the_regime_column_first():
    scm = SCMFamily(nodes=5).draw(0)
    data = loaded_from_frames(scm.sample(1.0, 101, seed=0))
    frame = data.frame.compute()
    assert data.columns == ("regime", *scm.columns)
    assert list(frame["regime"]) == [0] * 51 + [1] * 50
    assert data.kinds["regime"] == "discrete" and data.kinds[DECISION] == "continuous"
    assert data.summary["deploy"].rows_kept == 50
    with pytest.raises(InputError, match="at least two regimes"):
        loaded_from_frames({"train": frame})


# ------------------------------------------------------------------ truth
def hand_built(edges, targets):
    """A RandomSCM over regime, x1, D_m, Y_m, Y_b with unit weights."""
    nodes = ("regime", "x1", DECISION, MESA, BASE)
    weights = np.zeros((5, 5))
    for u, v in edges:
        weights[nodes.index(u), nodes.index(v)] = 1.0
    direction = np.array([1.0 if v in targets else 0.0 for v in nodes])
    return RandomSCM(
        nodes=nodes, weights=weights, noise=np.array([0, 1, 1, 1, 1.0]), direction=direction
    )


@pytest.mark.parametrize(
    ("edges", "targets", "expected"),
    [
        # data -> D -> Y_m -> Y_b: Y_m screens the shift of the data off.
        ([("x1", DECISION), (DECISION, MESA), (MESA, BASE)], {"x1"}, "all"),
        # The post's family with D -> Y_b: the shift reaches Y_b around Y_m.
        ([("x1", DECISION), (DECISION, MESA), (DECISION, BASE)], {"x1"}, "none"),
        # The spec's collider: s -> Y_m <- D <- x1 -> Y_b, with Y_m -> Y_b (C1, C2 hold).
        ([("x1", DECISION), ("x1", BASE), (DECISION, MESA), (MESA, BASE)], {MESA}, "none"),
        # The regime shifts the base objective directly.
        ([("x1", DECISION), (DECISION, MESA), (MESA, BASE)], {"x1", BASE}, "none"),
        # The shifted data variable feeds only Y_m: no path to Y_b but through Y_m.
        ([("x1", MESA), ("x1", DECISION), (DECISION, MESA), (MESA, BASE)], {"x1"}, "all"),
    ],
)
def test_truth_of_hand_built_models(edges, targets, expected):
    scm = hand_built(edges, targets)
    assert true_verdict(scm, 0.7) == expected
    assert true_verdict(scm, 0.0) == "all", "without a shift the regime is isolated"
    assert (abs(scm.alignment_gap(0.7)) < 1e-12) == (expected == "all")


def test_truth_is_d_separation_in_the_true_dag():
    for seed in range(25):
        scm = SCMFamily(nodes=8).draw([7, seed])
        graph = nx.DiGraph(scm.edges(0.3))
        graph.add_nodes_from(scm.nodes)
        separated = nx.is_d_separator(graph, {"regime"}, {BASE}, {MESA})
        assert true_verdict(scm, 0.3) == ("all" if separated else "none")


# ------------------------------------------------------------------ aggregation
def trial(replicate, truth, learned, shift=0.5, rows=100, gap=0.0):
    return Trial(replicate, shift, rows, truth, learned, gap)


def test_wilson_interval_against_closed_forms():
    assert wilson_interval(0, 0) == (None, None)
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(Z**2 / (10 + Z**2))
    low, high = wilson_interval(10, 10)
    assert high == 1.0 and low == pytest.approx(10 / (10 + Z**2))
    low, high = wilson_interval(8, 10)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)


def test_aggregation_counts_shares_and_recalls():
    trials = [
        trial(0, "all", "all"),
        trial(1, "all", "none"),
        trial(2, "none", "none", gap=0.4),
        trial(3, "none", "all", gap=-0.2),
        trial(4, "none", "error", gap=0.3),
        trial(0, "all", "all", rows=50),
    ]
    cells = aggregate(trials)
    assert [(c.shift, c.rows) for c in cells] == [(0.5, 50), (0.5, 100)]
    cell = cells[1]
    assert (cell.replicates, cell.true_holds, cell.learned_holds) == (5, 2, 2)
    assert (cell.matches, cell.matches_when_holds, cell.matches_when_fails) == (2, 1, 1)
    assert cell.errors == 1
    assert cell.true_hold_share == 0.4 and cell.learned_hold_share == 0.4
    assert cell.accuracy == 0.4
    assert cell.accuracy_when_holds == 0.5 and cell.accuracy_when_fails == pytest.approx(1 / 3)
    assert cell.mean_abs_gap_when_fails == pytest.approx(0.3)
    as_dict = cell.as_dict()
    assert as_dict["accuracy_interval"] == list(wilson_interval(2, 5))
    small = cells[0]
    assert small.accuracy_when_fails is None and small.mean_abs_gap_when_fails is None
    assert small.as_dict()["accuracy_when_fails_interval"] == [None, None]
    assert small.as_dict()["recall_when_fails_interval"] == [None, None]


def test_settings_reject_bad_grids():
    with pytest.raises(InputError, match="replicates must be a positive integer"):
        SimulationSettings(replicates=0)
    with pytest.raises(InputError, match="rows must be integers of at least"):
        SimulationSettings(rows=(10,))
    with pytest.raises(InputError, match="shifts must be non-negative"):
        SimulationSettings(shifts=(float("nan"),))
    with pytest.raises(InputError, match="method must be one of"):
        SimulationSettings(method="lingam")
    with pytest.raises(InputError, match="scheduler must be one of"):
        run_simulation(SimulationSettings(replicates=1), scheduler="cluster")


# ------------------------------------------------------------------ the study
TINY = SimulationSettings(replicates=3, rows=(200, 2000), shifts=(0.0, 1.0), seed=4, method="pc")


def test_study_is_deterministic_whatever_the_scheduler():
    progress = []
    first = run_simulation(TINY, scheduler="sync", on_progress=lambda d, t: progress.append((d, t)))
    second = run_simulation(TINY, scheduler="threads")
    # Counted in pipeline runs, one (replicate, shift) task (2 sample sizes) at a time.
    assert progress == [(done, 12) for done in range(0, 13, 2)]
    one, two = first.as_dict(), second.as_dict()
    one.pop("timings"), two.pop("timings")
    assert one == two
    assert len(first.trials) == 3 * 2 * 2

    def untimed(trials):
        return [dataclasses.replace(t, cpu_seconds=0.0) for t in trials]

    assert untimed(run_replicate(TINY, 1)) == untimed(t for t in first.trials if t.replicate == 1)
    # No shift: the criterion holds, and the pipeline agrees on 2,000 rows.
    for cell in first.cells:
        if cell.shift == 0:
            assert cell.true_holds == 3
        if cell.rows == 2000:
            assert cell.accuracy == 1.0


# ------------------------------------------------------------------ CLI
def test_simulate_command_end_to_end(tmp_path):
    out = tmp_path / "sim"
    args = ["simulate", "--replicates", "2", "--rows", "150,600", "--shifts", "0,1"]
    args += ["--nodes", "6", "--seed", "3", "--scheduler", "sync", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    document = json.loads((out / "simulation.json").read_text())
    assert document["settings"]["rows"] == [150, 600]
    assert document["settings"]["family"]["nodes"] == 6
    assert [(c["shift"], c["rows"]) for c in document["cells"]] == [
        (0.0, 150), (0.0, 600), (1.0, 150), (1.0, 600)
    ]  # fmt: skip
    assert len(document["trials"]) == 8 and len(document["models"]) == 2
    assert {t["true_verdict"] for t in document["trials"]} <= {"all", "none"}
    assert document["command"].startswith("mesalens simulate --replicates 2 --rows 150,600")
    assert document["timings"]["scheduler"] == "sync"

    table = (out / "table.md").read_text().splitlines()
    assert table[0].startswith("| shift | rows |") and len(table) == 2 + 4
    assert {line.count("|") for line in table} == {len(table[2].split("|")) - 1}
    html = unescape((out / "report.html").read_text())
    # Three charts; the gap, a straight line by construction, is a table.
    assert html.count("<svg") == 3 and 'id="gap-table"' in html
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert "<script" not in html and not re.search(r"(src|href)=\"https?:", html)
    assert 'id="cell-table"' in html and document["command"] in html

    # Same options, same document (timings aside).
    again = CliRunner().invoke(cli, [*args[:-1], str(tmp_path / "again")])
    assert again.exit_code == 0, again.output
    repeated = json.loads((tmp_path / "again" / "simulation.json").read_text())
    document.pop("timings"), repeated.pop("timings")
    assert document == repeated


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--rows", "100,abc"], 2, "not a comma-separated list of integers"),
        (["--shifts", "x"], 2, "not a comma-separated list of numbers"),
        (["--nodes", "3"], 2, "--nodes"),
        (["--rows", "10"], 2, "10 is not in the range 20 to 1,000,000"),
        (["--shifts", "0,0"], 1, "mesalens: error: rows and shifts must not list a value twice"),
        (["--scheduler", "nowhere:x"], 1, "mesalens: error: cannot reach the dask scheduler"),
        (["--rows", "10000000000"], 2, "10000000000 is not in the range 20 to 1,000,000"),
    ],
)
def test_simulate_rejects_bad_options(tmp_path, args, code, message):
    result = CliRunner().invoke(
        cli, ["simulate", "--replicates", "1", *args, "--out", str(tmp_path)]
    )
    assert result.exit_code == code
    assert message in result.output
    if code == 1:
        assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "simulation.json").exists()


def test_study_runs_on_the_active_distributed_client():
    from distributed import Client

    grid = SimulationSettings(replicates=2, rows=(300,), shifts=(0.5,), seed=2)
    reference = run_simulation(grid, scheduler="sync")
    with Client(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
    ) as client:
        assert client is not None
        done = []
        result = run_simulation(grid, on_progress=lambda d, t: done.append(d))
    assert result.scheduler.startswith("distributed")
    assert done == [0, 1, 2]
    assert result.cells == reference.cells
    assert [t.learned_verdict for t in result.trials] == [
        t.learned_verdict for t in reference.trials
    ]
