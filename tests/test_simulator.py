"""The built-in log simulator: determinism, files, and that its ground truth is what it says.

The truth is checked twice: the checker's verdict on each scenario's true DAG
is the documented one, and causal-learn's PC (Fisher-z, alpha 0.01, the
regime made exogenous with background knowledge) recovers from 20,000
pooled rows exactly the class the true DAG implies (its CPDAG with the
regime made a root, i.e. the MPDAG), with the same verdict.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from causallearn.graph.GraphNode import GraphNode
from causallearn.search.ConstraintBased.PC import pc
from causallearn.utils.PCUtils.BackgroundKnowledge import BackgroundKnowledge

from mesalens.connectors import InputError, load_regimes, parse_regime_option
from mesalens.connectors import simulator as sim
from mesalens.pipeline.checker import check, restricted_class
from mesalens.pipeline.formats.causallearn import from_causallearn
from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.roles import Roles, parse_policy_inputs
from tests.reference import cpdag_of

NAMES = sim.scenario_names()

EXPECTED_VERDICTS = {
    "aligned": "all",
    "coinrun": "none",
    "deceptive": "none",
    "collider": "none",
    "pilot": "all",
}


def roles_of(roles: dict) -> Roles:
    return Roles(
        regime=roles["regime"],
        base=tuple(roles["base"]),
        mesa=tuple(roles["mesa"]),
        decision=tuple(roles["decision"]),
        policy_inputs=parse_policy_inputs(roles["policy_inputs"]),
    )


def true_dag(name: str) -> tuple[CausalGraph, Roles]:
    nodes, edges, roles = sim.scenario_truth(name)
    graph = CausalGraph(nodes)
    for u, v in edges:
        graph.add_edge(u, v, "-->")
    return graph, roles_of(roles)


def expected_class(name: str) -> CausalGraph:
    """The true DAG's CPDAG with the regime made a root (what PC with the knowledge returns)."""
    graph, roles = true_dag(name)
    index = graph.index
    directed, undirected = cpdag_of(
        len(graph.nodes), [(index[e.u], index[e.v]) for e in graph.edges()]
    )
    cpdag = CausalGraph.from_index_edges(graph.nodes, directed, undirected)
    return restricted_class(cpdag, roles).to_graph(graph.nodes)


def pooled(name: str, rows: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """Regime coded 0/1 as column 0, then the scenario's columns."""
    frames = sim.simulate(name, rows=rows, seed=seed)
    blocks = [
        np.column_stack([np.full(len(frame), code, dtype=float), frame.to_numpy()])
        for code, frame in enumerate(frames.values())
    ]
    return np.vstack(blocks), sim.SCENARIOS[name].nodes


def skeleton(graph: CausalGraph) -> set[frozenset[str]]:
    return {frozenset((e.u, e.v)) for e in graph.edges()}


# ============================================================ the catalogue


def test_scenario_catalogue():
    assert NAMES[:3] == ["aligned", "coinrun", "deceptive"]
    assert set(NAMES) == set(sim.SCENARIOS) == set(EXPECTED_VERDICTS)
    for name in NAMES:
        scenario = sim.SCENARIOS[name]
        assert scenario.regimes == ("train", "deploy")
        assert len(scenario.description) > 200
        nodes, edges, roles = sim.scenario_truth(name)
        assert nodes[0] == "regime" == roles["regime"] == sim.REGIME_NODE
        assert nodes[1:] == scenario.columns
        assert edges == scenario.true_edges
        assert all(v != "regime" for _, v in edges)  # the regime is exogenous
        assert any(u == "regime" for u, _ in edges)  # and it shifts something
        for role in ("base", "mesa", "decision"):
            assert roles[role] and set(roles[role]) <= set(scenario.columns)
        assert roles["policy_inputs"] == "keep" or set(roles["policy_inputs"]) <= set(nodes)


def test_scenario_truth_returns_copies():
    _, edges, roles = sim.scenario_truth("coinrun")
    roles["base"].append("value")
    edges.clear()
    _, edges_again, roles_again = sim.scenario_truth("coinrun")
    assert roles_again["base"] == ["coin_reward"]
    assert edges_again


@pytest.mark.parametrize("bad", ["nope", "", None, 3, "Aligned"])
def test_unknown_scenario_names_the_available_ones(bad):
    for call in (
        lambda: sim.simulate(bad),
        lambda: sim.scenario_truth(bad),
    ):
        with pytest.raises(InputError) as info:
            call()
        message = str(info.value)
        assert all(name in message for name in NAMES)


# ============================================================ simulate


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_frames_other_seed_other_frames(name):
    first = sim.simulate(name, rows=1000, seed=7)
    again = sim.simulate(name, rows=1000, seed=7)
    other = sim.simulate(name, rows=1000, seed=8)
    assert list(first) == ["train", "deploy"]
    for label in first:
        pd.testing.assert_frame_equal(first[label], again[label], check_exact=True)
        assert not np.allclose(first[label].to_numpy(), other[label].to_numpy())


def test_scenarios_do_not_share_noise():
    a = sim.simulate("deceptive", rows=200, seed=0)["train"]["value"]
    b = sim.simulate("aligned", rows=200, seed=0)["train"]["value"]
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.3


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("rows", [100, 101, 2000])
def test_shapes(name, rows):
    frames = sim.simulate(name, rows=rows, seed=1)
    columns = sim.SCENARIOS[name].columns
    rows = min(rows, sim.SCENARIOS[name].max_rows or rows)  # a pilot's logs are capped
    assert len(frames["train"]) == rows - rows // 2
    assert len(frames["deploy"]) == rows // 2
    for frame in frames.values():
        assert list(frame.columns) == columns
        assert "regime" not in frame.columns
        assert (frame.dtypes == np.float64).all()
        assert isinstance(frame.index, pd.RangeIndex) and frame.index[0] == 0
        assert np.isfinite(frame.to_numpy()).all()


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"rows": 99}, "at least 100"),
        ({"rows": 0}, "at least 100"),
        ({"rows": 100.0}, "integer"),
        ({"rows": True}, "integer"),
        ({"seed": -1}, "non-negative"),
        ({"seed": "1"}, "integer"),
    ],
)
def test_bad_rows_and_seed(kwargs, needle):
    with pytest.raises(InputError, match=needle):
        sim.simulate("aligned", **kwargs)


def test_the_regime_shifts_the_logs():
    frames = sim.simulate("coinrun", rows=4000, seed=0)
    shift = frames["deploy"]["coin_position"].mean() - frames["train"]["coin_position"].mean()
    assert shift == pytest.approx(3.0, abs=0.2)


@pytest.mark.parametrize("name", NAMES)
def test_alignment_gap_in_the_data_matches_the_verdict(name):
    """E[Y_b | Y_m, s] moves with s exactly in the misaligned scenarios (linear regression)."""
    data, nodes = pooled(name, rows=20000, seed=3)
    roles = sim.scenario_truth(name)[2]
    y = data[:, nodes.index(roles["base"][0])]
    x = np.column_stack([np.ones(len(data)), data[:, nodes.index(roles["mesa"][0])], data[:, 0]])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    residual = y - x @ coef
    sigma2 = residual @ residual / (len(y) - 3)
    t = coef[2] / np.sqrt(sigma2 * np.linalg.inv(x.T @ x)[2, 2])
    if EXPECTED_VERDICTS[name] == "all":
        assert abs(t) < 4
    else:
        assert abs(t) > 10


# ============================================================ files


@pytest.mark.parametrize("shards", [1, 3])
def test_parquet_shards_round_trip(tmp_path, shards):
    paths = sim.write_logs("coinrun", tmp_path / "logs", rows=1001, seed=5, shards=shards)
    frames = sim.simulate("coinrun", rows=1001, seed=5)
    assert list(paths) == ["train", "deploy"]
    for label, files in paths.items():
        assert files == [tmp_path / "logs" / label / f"part-{k:03d}.parquet" for k in range(shards)]
        parts = [pd.read_parquet(path) for path in files]
        assert all(len(part) > 0 for part in parts)
        back = pd.concat(parts, ignore_index=True)
        pd.testing.assert_frame_equal(back, frames[label], check_exact=True)
        assert sorted(p.name for p in (tmp_path / "logs" / label).iterdir()) == [
            f.name for f in files
        ]  # no temporary files left behind


def test_rewriting_with_fewer_shards_removes_the_stale_ones(tmp_path):
    sim.write_logs("aligned", tmp_path, rows=400, shards=4)
    paths = sim.write_logs("aligned", tmp_path, rows=400, seed=1, shards=2)
    for label, files in paths.items():
        assert sorted((tmp_path / label).iterdir()) == files
        back = pd.concat([pd.read_parquet(p) for p in files], ignore_index=True)
        pd.testing.assert_frame_equal(back, sim.simulate("aligned", rows=400, seed=1)[label])


def test_foreign_files_are_not_overwritten_or_read(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "notes.csv").write_text("a\n1\n")
    with pytest.raises(InputError, match=r"notes\.csv"):
        sim.write_logs("aligned", tmp_path, rows=200)
    assert (tmp_path / "train" / "notes.csv").read_text() == "a\n1\n"


def test_a_file_in_the_way(tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(InputError, match="in the way"):
        sim.write_logs("aligned", tmp_path / "out", rows=200)


@pytest.mark.parametrize(
    ("shards", "needle"), [(0, "at least 1"), (51, "at most 50"), (2.0, "integer")]
)
def test_bad_shards(tmp_path, shards, needle):
    with pytest.raises(InputError, match=needle):
        sim.write_logs("aligned", tmp_path, rows=101, shards=shards)


def test_the_loader_reads_the_shards(tmp_path):
    paths = sim.write_logs("deceptive", tmp_path, rows=600, seed=2, shards=2)
    specs = [parse_regime_option(f"{label}={files[0].parent}") for label, files in paths.items()]
    loaded = load_regimes(specs)
    assert loaded.regime_labels == ("train", "deploy")
    assert list(loaded.variables) == sim.SCENARIOS["deceptive"].columns
    frame = loaded.frame.compute()
    assert len(frame) == 600
    assert (frame[loaded.regime_name] == 1).sum() == 300


# ============================================================ the ground truth


@pytest.mark.parametrize("name", NAMES)
def test_true_graph_verdict(name):
    graph, roles = true_dag(name)
    result = check(graph, roles)
    assert result.verdict == EXPECTED_VERDICTS[name] == sim.SCENARIOS[name].expected_verdict
    assert result.n_dags == 1


def test_collider_satisfies_the_conjecture_yet_fails():
    graph, roles = true_dag("collider")
    (row,) = check(graph, roles).parent_sets
    assert row.c1 is True and row.c2 is True
    assert row.status == "fail"
    assert row.conjecture_disagrees is True


def test_deceptive_fails_only_because_the_policy_reads_the_cue():
    graph, roles = true_dag("deceptive")
    honest = Roles(roles.regime, roles.base, roles.mesa, roles.decision, ("value",))
    assert check(graph, honest).verdict == "all"
    assert "deployment_cue" in roles.policy_inputs


def test_coinrun_fails_around_the_mesa_objective():
    graph, roles = true_dag("coinrun")
    witness = check(graph, roles).fail_witness
    assert witness is not None
    assert witness.open_path == ("regime", "coin_position", "coin_reward")


@pytest.mark.parametrize("name", NAMES)
def test_pc_recovers_the_class_at_20k_rows(name):
    data, nodes = pooled(name, rows=20000, seed=0)
    graph_nodes = [GraphNode(n) for n in nodes]
    knowledge = BackgroundKnowledge()
    for node in graph_nodes[1:]:
        knowledge.add_forbidden_by_node(node, graph_nodes[0])
    cg = pc(
        data,
        0.01,
        "fisherz",
        background_knowledge=knowledge,
        show_progress=False,
        node_names=nodes,
    )
    learned = from_causallearn(cg.G, nodes)
    truth, roles = true_dag(name)
    assert skeleton(learned) == skeleton(truth)
    assert learned == expected_class(name)
    assert check(learned, roles).verdict == check(truth, roles).verdict
