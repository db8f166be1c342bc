"""``mesalens run --test kci`` end to end, and GES's edges at the regime oriented out of it."""

from __future__ import annotations

import functools
import itertools
import json
from pathlib import Path

import dask.dataframe as dd
import networkx as nx
import numpy as np
import pandas as pd
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from mesalens.connectors.loaded import LoadedData
from mesalens.pipeline.analysis import _pooled_rows
from mesalens.pipeline.checker import check
from mesalens.pipeline.ci_tests import KCI_MAX_ROWS
from mesalens.pipeline.discovery import discover
from mesalens.pipeline.errors import DiscoveryError
from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.roles import Roles
from mesalens.pipeline.statistics import compute_statistics
from mesalens.reports.cli import cli
from tests.test_run_options import linear


# ======================================================================= data on disk
def write_nonlinear_logs(folder: Path, rows: int = 100, seed: int = 0) -> dict[str, str]:
    """value = action² + noise with a symmetric action: dependent, yet uncorrelated.

    The regime shifts the reward linearly, so every test sees the regime's edge.
    """
    rng = np.random.default_rng(seed)
    paths = {}
    for code, name in enumerate(["train", "deploy"]):
        action = rng.normal(size=rows)
        value = action**2 + 0.3 * rng.normal(size=rows)
        reward = value + 1.0 * code + 0.5 * rng.normal(size=rows)
        frame = pd.DataFrame({"action": action, "value": value, "reward": reward})
        target = folder / name
        target.mkdir(parents=True, exist_ok=True)
        half = rows // 2  # two files per regime: the frame has several partitions
        frame.iloc[:half].to_parquet(target / "part-0.parquet")
        frame.iloc[half:].to_parquet(target / "part-1.parquet")
        paths[name] = str(target / "*.parquet")
    return paths


def write_chain_logs(folder: Path, rows: int = 1000, seed: int = 0) -> dict[str, str]:
    """regime -> obs -> action -> value -> reward, linear: GES's CPDAG has regime --- obs."""
    paths = {}
    for name, frame in linear(rows, seed).items():
        target = folder / name
        target.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(target / "part-0.parquet")
        paths[name] = str(target / "*.parquet")
    return paths


def run_args(paths: dict[str, str], out: Path, *extra: str) -> list[str]:
    return [
        "run",
        "--regime",
        f"train={paths['train']}",
        "--regime",
        f"deploy={paths['deploy']}",
        "--base",
        "reward",
        "--mesa",
        "value",
        "--decision",
        "action",
        "--out",
        str(out),
        "--quiet",
        *extra,
    ]


def adjacent_pairs(document: dict) -> set[frozenset[str]]:
    return {frozenset((u, v)) for u, _, v in document["learned_graph"]}


# ======================================================================= KCI end to end
def test_kci_finds_the_dependence_fisherz_misses_end_to_end(tmp_path):
    paths = write_nonlinear_logs(tmp_path / "logs")
    runner = CliRunner()
    documents = {}
    for name, extra in {
        # With the direct test on, the loader's pooled sample holds every row.
        "kci": ("--test", "kci", "--max-depth", "1"),
        # Without it, the rows are read from the frame: the same array.
        "kci-frame": ("--test", "kci", "--max-depth", "1", "--no-direct-test"),
        "fisherz": ("--test", "fisherz", "--max-depth", "1", "--no-direct-test"),
    }.items():
        result = runner.invoke(cli, run_args(paths, tmp_path / name, *extra))
        # The regime shifts the reward directly: the verdict is "none" (exit code 4).
        assert result.exit_code == 4, result.output
        documents[name] = json.loads((tmp_path / name / "result.json").read_text())

    kci, fisherz = documents["kci"], documents["fisherz"]
    assert kci["discovery"]["settings"]["test"] == "kci"
    assert fisherz["discovery"]["settings"]["test"] == "fisherz"
    assert kci["discovery"]["ci_tests"], "KCI's tests are recorded"
    # value = action² + noise: KCI keeps the edge, Fisher's z (correlation ~ 0) removes it.
    pair = frozenset(("action", "value"))
    assert pair in adjacent_pairs(kci)
    assert pair not in adjacent_pairs(fisherz)
    first = next(t for t in kci["discovery"]["ci_tests"] if {t["x"], t["y"]} == set(pair))
    assert first["decision"] == "dependent"
    assert ["regime", "-->", "reward"] in kci["learned_graph"]
    # Rows from the loader's sample or from the frame: the same tests, the same graph.
    assert documents["kci-frame"]["learned_graph"] == kci["learned_graph"]
    assert documents["kci-frame"]["discovery"]["ci_tests"] == kci["discovery"]["ci_tests"]

    html = (tmp_path / "kci" / "report.html").read_text()
    assert "test kci" in html
    assert "test fisherz" in (tmp_path / "fisherz" / "report.html").read_text()


def test_kci_refuses_too_many_rows_before_any_output(tmp_path):
    rows = KCI_MAX_ROWS // 2 + 1  # per regime: one row per regime over the limit in all
    paths = write_nonlinear_logs(tmp_path / "logs", rows=rows)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, run_args(paths, out, "--test", "kci"))
    assert result.exit_code == 1, result.output
    message = result.stderr.strip()
    assert "\n" not in message
    assert message.startswith("mesalens: error:")
    assert f"{2 * rows:,}" in message and f"{KCI_MAX_ROWS:,}" in message
    assert "--test fisherz" in message
    assert "raw=" not in message and "test='" not in message
    assert not out.exists()

    # The bootstrap resamples statistics, not rows: refused up front too.
    small = write_nonlinear_logs(tmp_path / "small", rows=60)
    result = CliRunner().invoke(cli, run_args(small, out, "--test", "kci", "--bootstrap", "3"))
    assert result.exit_code == 1, result.output
    assert "bootstrap" in result.stderr and "KCI" in result.stderr
    assert not out.exists()


def test_kci_from_a_job_file(tmp_path):
    write_nonlinear_logs(tmp_path / "logs")
    (tmp_path / "jobs.toml").write_text(
        """
base = "reward"
mesa = "value"
decision = "action"
test = "kci"
max_depth = 0
direct_test = false
[regimes]
train = "logs/train/*.parquet"
deploy = "logs/deploy/*.parquet"
[[check]]
name = "nonlinear"
"""
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["run", "--config", str(tmp_path / "jobs.toml"), "--out", str(out), "--quiet"]
    )
    assert result.exit_code == 4, result.output  # the verdict "none"
    (path,) = out.glob("nonlinear/runs/*/result.json")
    document = json.loads(path.read_text())
    assert document["discovery"]["settings"]["test"] == "kci"
    assert frozenset(("action", "value")) in adjacent_pairs(document)
    assert "test kci" in (path.parent / "report.html").read_text()


def test_kci_rows_use_the_statistics_encoding_of_discrete_columns():
    rng = np.random.default_rng(1)
    n = 40
    frame = pd.DataFrame(
        {
            "regime": rng.integers(0, 2, n),
            "colour": pd.Categorical(rng.choice(["red", "blue", "green"], n)),
            "level": rng.choice([3, 7], n),
            "x": rng.normal(size=n),
        }
    )
    kinds = {"regime": "discrete", "colour": "discrete", "level": "discrete", "x": "continuous"}
    data = LoadedData(
        functools.partial(dd.from_pandas, frame, npartitions=2),
        "regime",
        ("train", "deploy"),
        tuple(frame.columns),
        kinds,
        {},
        (),
    )
    stats = compute_statistics(frame, kinds, list(frame.columns))
    raw = _pooled_rows(data, stats)
    # Text levels become their index in the statistics' level order; numbers stay numbers.
    colour = [stats.levels["colour"].index(c) for c in frame["colour"]]
    expected = np.column_stack([frame["regime"], colour, frame["level"], frame["x"]])
    assert raw.shape == (n, 4)
    assert sorted(map(tuple, raw)) == sorted(map(tuple, expected.astype(float)))
    # That array is what the KCI test reads, in the statistics' column order.
    result = discover(stats, test="kci", regime="regime", max_depth=0, raw=raw)
    assert result.settings["test"] == "kci"


# ======================================================================= GES and the regime
def extensions(graph: CausalGraph) -> list[nx.DiGraph]:
    """Brute force: every DAG of a CPDAG (orient ``---`` edges; acyclic, no new v-structure)."""
    directed = [(e.u, e.v) for e in graph.edges() if e.kind == "-->"]
    undirected = [(e.u, e.v) for e in graph.edges() if e.kind == "---"]

    def colliders(dag: nx.DiGraph) -> set[tuple[frozenset[str], str]]:
        return {
            (frozenset((a, b)), c)
            for c in dag
            for a, b in itertools.combinations(sorted(dag.predecessors(c)), 2)
            if graph.edge(a, b) is None
        }

    base = nx.DiGraph(directed)
    base.add_nodes_from(graph.nodes)
    wanted = colliders(base)
    dags = []
    for flips in itertools.product((False, True), repeat=len(undirected)):
        dag = base.copy()
        dag.add_edges_from(
            (v, u) if flip else (u, v) for (u, v), flip in zip(undirected, flips, strict=True)
        )
        if nx.is_directed_acyclic_graph(dag) and colliders(dag) == wanted:
            dags.append(dag)
    return dags


def restricted_class_graph(dags: list[nx.DiGraph], nodes: tuple[str, ...]) -> set[str]:
    """The edges of the graph of a set of DAGs: directed where they all agree."""
    edges = set()
    for u, v in dags[0].edges:
        if all(dag.has_edge(u, v) for dag in dags):
            edges.add(f"{u} --> {v}")
        else:
            a, b = sorted((u, v), key=nodes.index)
            edges.add(f"{a} --- {b}")
    return edges


def linear_sem(rng: np.random.Generator, n: int, p: int) -> np.ndarray:
    """A random linear Gaussian SEM whose first column is a binary regime (a root)."""
    data = np.zeros((n, p))
    data[:, 0] = rng.integers(0, 2, n)
    weights = rng.uniform(0.5, 1.5, (p, p)) * rng.choice([-1, 1], (p, p))
    weights = np.triu(weights * (rng.random((p, p)) < 0.6), 1)
    for j in range(1, p):
        data[:, j] = data[:, :j] @ weights[:j, j] + rng.normal(size=n)
    return data


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
@example(1)  # GES compels x1, x2, x4 --> regime: the orientations are rebuilt
@example(3)
def test_ges_orients_every_edge_at_the_regime_out_of_it(seed):
    from causallearn.search.ScoreBased.GES import ges

    from mesalens.pipeline.formats.causallearn import from_causallearn

    rng = np.random.default_rng(seed)
    names = ["regime", "x1", "x2", "x3", "x4"]
    data = linear_sem(rng, 400, len(names))
    frame = pd.DataFrame(data, columns=names).astype({"regime": np.int64})
    kinds = dict.fromkeys(names, "continuous") | {"regime": "discrete"}
    stats = compute_statistics(frame, kinds)
    try:
        result = discover(stats, method="ges", regime="regime")
    except DiscoveryError as exc:  # no DAG of the skeleton has the regime as a root
        assume("contradict an exogenous regime" not in str(exc))
        raise
    graph = result.graph
    for other in graph.adjacent("regime"):
        assert graph.edge("regime", other).kind == "-->", graph.edge("regime", other)

    # Against brute force: causal-learn's CPDAG, its DAGs with a parentless regime.
    cpdag = from_causallearn(ges(data, score_func="local_score_BIC", node_names=names)["G"], names)
    dags = [dag for dag in extensions(cpdag) if dag.in_degree("regime") == 0]
    skeleton = {frozenset((e.u, e.v)) for e in cpdag.edges()}
    assert {frozenset((e.u, e.v)) for e in graph.edges()} == skeleton
    repaired = [note for note in result.notes if "rebuilt with the regime a root" in note]
    if not dags:
        # GES made the regime a collider: the orientations were rebuilt, said so,
        # and the result is a valid pattern over the same skeleton.
        assert repaired, result.notes
        roles = Roles(regime="regime", base=("x4",), mesa=("x3",), decision=("x2",))
        assert check(graph, roles).n_dags >= 1
        return
    assert not repaired
    assert {str(e) for e in graph.edges()} == restricted_class_graph(dags, graph.nodes)
    if any(cpdag.edge("regime", o).kind == "---" for o in cpdag.adjacent("regime")):
        assert any("regime-root knowledge" in note for note in result.notes)
    else:
        assert not any("regime-root knowledge" in note for note in result.notes)

    # A valid MPDAG for the checker, with the class it stands for.
    roles = Roles(regime="regime", base=("x4",), mesa=("x3",), decision=("x2",))
    assert check(graph, roles).n_dags == len(dags)


def test_ges_run_has_regime_edges_only_out_of_the_regime(tmp_path):
    paths = write_chain_logs(tmp_path / "logs")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        run_args(paths, out, "--method", "ges", "--policy-inputs", "obs", "--no-direct-test"),
    )
    # Verdict all; without the direct test the logs confirm nothing: exit 8.
    assert result.exit_code == 8, result.output
    document = json.loads((out / "result.json").read_text())
    at_regime = [edge for edge in document["learned_graph"] if "regime" in (edge[0], edge[2])]
    assert at_regime == [["regime", "-->", "obs"]]
    # The whole chain follows from the regime's edge by Meek's rule R1.
    assert sorted(document["learned_graph"]) == sorted(
        [
            ["regime", "-->", "obs"],
            ["obs", "-->", "action"],
            ["action", "-->", "value"],
            ["value", "-->", "reward"],
        ]
    )
    notes = document["discovery"]["notes"]
    assert any("regime-root knowledge" in note and "regime --> obs" in note for note in notes)
    assert "regime --- obs" not in (out / "graph.txt").read_text()
    html = (out / "report.html").read_text()
    assert "regime-root knowledge" in html
    assert document["n_dags"] == 1
