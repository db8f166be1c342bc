"""The Python API: ``mesalens.check_graph`` and ``mesalens.run`` against the commands.

The commands are thin layers over the same machinery, so the API must give
what they give: the same JSON document byte for byte, the same report, the
same exit code and the same error message. Graph objects of networkx,
causal-learn and pgmpy convert to the same check as the file; ``dags()``
streams exactly the DAGs of the class (against brute force); the rich
display holds the verdict card and the graph.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import mesalens
from mesalens.connectors.errors import InputError, one_line
from mesalens.pipeline.errors import GraphError, RoleError
from mesalens.pipeline.formats import write_graph
from mesalens.pipeline.formats.networkx import from_networkx
from mesalens.reports.cli import cli
from tests.reference import all_extensions, cpdag_of, moral_dags

ROLES = {"base": "reward", "mesa": "value", "decision": "action"}


def _undirected(*pairs):
    return [edge for a, b in pairs for edge in ((a, b), (b, a))]


# regime -> obs; a triangle value - action - reward with no orientation known.
TRIANGLE = nx.DiGraph(
    [
        ("regime", "obs"),
        *_undirected(("value", "action"), ("action", "reward"), ("value", "reward")),
    ]
)
# The shift moves the coin, which the value does not see.
COIN = nx.DiGraph(
    [("regime", "coin"), ("coin", "reward"), ("value", "action"), ("value", "reward")]
)


def _cli(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("mesalens: error: ")]
    assert len(lines) == 1, result.stderr
    return lines[0].removeprefix("mesalens: error: ")


# ---------------------------------------------------------------- import
def test_the_package_names_its_api_and_every_run_option_is_documented():
    from mesalens.reports.checks.options import OPTIONS

    assert {"check_graph", "run", "GraphCheckResult", "RunResult", "InputError"} <= set(
        dir(mesalens)
    )
    assert mesalens.__version__ == mesalens.reports.result_json.mesalens_version()
    assert mesalens.RunResult.__module__ == "mesalens.reports.checks.results"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = mesalens.nope
    for key in set(OPTIONS) - {"regimes", "out", "base", "mesa", "decision"}:
        assert f"``{key}`` (``{OPTIONS[key].flag}``)" in mesalens.run.__doc__, key


def test_import_mesalens_and_check_graph_load_no_heavy_module():
    from tests.test_imports import _assert_light

    _assert_light("import mesalens")
    _assert_light(
        "import mesalens\n"
        "result = mesalens.check_graph(example='collider')\n"
        "assert result.verdict == 'none'\n"
        "html = result._repr_html_()\n"
    )


# ---------------------------------------------------------------- check_graph
def test_check_graph_gives_the_commands_json_and_report_byte_for_byte(tmp_path):
    graph_file = tmp_path / "triangle.txt"
    write_graph(from_networkx(TRIANGLE), graph_file)
    done = _cli(
        "check-graph", str(graph_file), "--base", "reward", "--mesa", "value",
        "--decision", "action", "--policy-inputs", "value",
        "--json", str(tmp_path / "cli.json"), "--html", str(tmp_path / "cli.html"),
        "--list-dags", "10",
    )  # fmt: skip
    result = mesalens.check_graph(graph_file, **ROLES, policy_inputs=["value"], list_dags=10)
    assert result.exit_code == done.exit_code == 0
    assert result.to_json() == (tmp_path / "cli.json").read_text(encoding="utf-8")
    result.write_report(tmp_path / "api.html")
    assert (tmp_path / "api.html").read_bytes() == (tmp_path / "cli.html").read_bytes()
    result.write_json(tmp_path / "api.json")
    assert (tmp_path / "api.json").read_bytes() == (tmp_path / "cli.json").read_bytes()
    # The attributes read the document.
    assert (result.verdict, result.counts) == (
        "all",
        {"n_dags": 6, "n_hold": 3, "n_fail": 0, "n_invalid": 3},
    )
    assert result.witnesses["fail"] is None and result.open_path is None
    assert {entry["status"] for entry in result.parent_sets} == {"hold", "invalid"}
    assert result.roles.policy_inputs == ("value",)


def _convertible_forms(graph: nx.DiGraph):
    from mesalens.pipeline.formats.causallearn import to_causallearn
    from mesalens.pipeline.formats.pgmpy import to_pgmpy

    causal = from_networkx(graph)
    return {
        "networkx": graph,
        "pgmpy": to_pgmpy(causal),
        "causal-learn": to_causallearn(causal),
        "CausalGraph": causal,
    }


@pytest.mark.parametrize("graph", [TRIANGLE, COIN])
def test_every_kind_of_graph_object_gives_the_files_check(tmp_path, graph):
    graph_file = tmp_path / "graph.json"
    write_graph(from_networkx(graph), graph_file)
    expected = mesalens.check_graph(str(graph_file), **ROLES, policy_inputs="value").document
    sources = {}
    for kind, obj in _convertible_forms(graph).items():
        document = mesalens.check_graph(obj, **ROLES, policy_inputs=["value"]).document
        sources[kind] = document["graph_source"]
        for key in ("graph_source", "graph_sha256"):
            document.pop(key)
        assert document == {
            k: v for k, v in expected.items() if k not in ("graph_source", "graph_sha256")
        }, kind
    assert sources["networkx"] == "a networkx DiGraph"
    assert sources["pgmpy"] in ("a pgmpy DAG", "a pgmpy PDAG")
    assert sources["causal-learn"] == "a causal-learn GeneralGraph"
    assert expected["graph_source"] == str(graph_file) and len(expected["graph_sha256"]) == 64


def test_causal_learn_node_names_can_be_given():
    from mesalens.pipeline.formats.causallearn import to_causallearn

    general = to_causallearn(from_networkx(nx.DiGraph([("a", "b"), ("b", "c"), ("c", "d")])))
    result = mesalens.check_graph(general, names=["regime", "value", "action", "reward"], **ROLES)
    assert result.verdict == "all"
    with pytest.raises(GraphError, match="3 names were given"):
        mesalens.check_graph(general, names=["regime", "value", "action"], **ROLES)


@pytest.mark.parametrize(
    ("graph", "roles", "cli_roles"),
    [
        # A role the graph does not have.
        (
            TRIANGLE,
            {**ROLES, "base": "nope"},
            ["--base", "nope", "--mesa", "value", "--decision", "action"],
        ),
        # An edge into the regime.
        (
            nx.DiGraph(
                [("obs", "regime"), ("obs", "value"), ("value", "action"), ("action", "reward")]
            ),
            ROLES,
            ["--base", "reward", "--mesa", "value", "--decision", "action"],
        ),
        # A policy input that is not a node.
        (
            TRIANGLE,
            {**ROLES, "policy_inputs": ["ghost"]},
            [
                "--base",
                "reward",
                "--mesa",
                "value",
                "--decision",
                "action",
                "--policy-inputs",
                "ghost",
            ],
        ),
    ],
)
def test_bad_input_raises_the_commands_message(tmp_path, graph, roles, cli_roles):
    graph_file = tmp_path / "g.txt"
    write_graph(from_networkx(graph), graph_file)
    with pytest.raises(InputError) as raised:
        mesalens.check_graph(graph, **roles)
    done = _cli("check-graph", str(graph_file), *cli_roles)
    assert done.exit_code == 1
    assert _error_line(done) == one_line(str(raised.value))


def test_an_unreadable_file_and_other_bad_arguments_are_input_errors(tmp_path):
    missing = tmp_path / "missing.txt"
    with pytest.raises(InputError) as raised:
        mesalens.check_graph(missing, **ROLES)
    done = _cli("check-graph", str(missing), "--base", "r", "--mesa", "v", "--decision", "a")
    assert _error_line(done) == one_line(str(raised.value))
    with pytest.raises(GraphError, match="cannot check a list"):
        mesalens.check_graph([("regime", "value")], **ROLES)
    with pytest.raises(InputError, match="either a graph or example=NAME"):
        mesalens.check_graph(TRIANGLE, example="collider")
    with pytest.raises(RoleError, match="needs the role"):
        mesalens.check_graph(TRIANGLE, base="reward")
    with pytest.raises(RoleError, match="give a node name"):
        mesalens.check_graph(TRIANGLE, base=3, mesa="value", decision="action")
    with pytest.raises(InputError, match="unknown example 'nope'"):
        mesalens.check_graph(example="nope")
    result = mesalens.check_graph(TRIANGLE, **ROLES)
    with pytest.raises(InputError, match=r"the folder .* does not exist"):
        result.write_report(tmp_path / "no" / "report.html")
    with pytest.raises(InputError, match="is a folder"):
        result.write_json(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "nothing was written"
    with pytest.raises(InputError, match="limit must be a whole number"):
        next(result.dags(limit=0))


def test_an_output_never_replaces_the_input_graph(tmp_path):
    graph_file = tmp_path / "g.json"
    write_graph(from_networkx(TRIANGLE), graph_file)
    before = graph_file.read_bytes()
    result = mesalens.check_graph(graph_file, **ROLES)
    with pytest.raises(InputError, match="is the input graph itself"):
        result.write_json(graph_file)
    assert graph_file.read_bytes() == before


def test_an_examples_roles_are_the_defaults_and_arguments_win():
    collider = mesalens.check_graph(example="collider")
    assert (collider.verdict, collider.exit_code) == ("none", 4)
    assert collider.source == "example:collider"
    assert collider.roles.base == ("got_coin",)
    keep = mesalens.check_graph(example="collider", policy_inputs="keep")
    assert keep.roles.policy_inputs is None


# ---------------------------------------------------------------- dags()
def test_dags_streams_the_class_as_the_command_lists_it(tmp_path):
    graph_file = tmp_path / "triangle.txt"
    write_graph(from_networkx(TRIANGLE), graph_file)
    result = mesalens.check_graph(TRIANGLE, **ROLES, policy_inputs="value")
    stream = result.dags()
    assert inspect.isgenerator(stream)
    dags = list(stream)
    assert len(dags) == result.n_dags == 6
    done = _cli(
        "check-graph", str(graph_file), "--base", "reward", "--mesa", "value",
        "--decision", "action", "--policy-inputs", "value", "--list-dags", "100",
        "--json", str(tmp_path / "out.json"),
    )  # fmt: skip
    assert done.exit_code == result.exit_code == 0
    listed = json.loads((tmp_path / "out.json").read_text())["dags"]
    assert [sorted(dag.edges) for dag in dags] == [sorted(map(tuple, dag)) for dag in listed]
    assert all(list(dag.nodes) == list(TRIANGLE.nodes) for dag in dags)
    assert [sorted(d.edges) for d in result.dags(limit=2)] == [sorted(d.edges) for d in dags[:2]]


def test_dags_of_a_huge_class_come_one_at_a_time():
    # regime -> x0, and x0..x9 a clique of undirected edges: x0's edges are
    # oriented out of it, the other nine form a clique with 9! = 362,880 orders.
    names = [f"x{i}" for i in range(10)]
    edges = [("regime", "x0")]
    edges += _undirected(*[(a, b) for i, a in enumerate(names) for b in names[i + 1 :]])
    result = mesalens.check_graph(nx.DiGraph(edges), base="x1", mesa="x2", decision="x3")
    assert result.n_dags == 362_880
    first = list(result.dags(limit=3))
    assert len(first) == 3 and all(nx.is_directed_acyclic_graph(d) for d in first)
    assert len({frozenset(d.edges) for d in first}) == 3


@settings(max_examples=40, deadline=None)
@given(moral_dags(min_nodes=4, max_nodes=6), st.data())
def test_dags_are_exactly_the_class_with_the_regime_a_root(generated, data):
    n, dag_edges = generated
    parents = {v for _, v in dag_edges}
    regime = data.draw(st.sampled_from([v for v in range(n) if v not in parents]))
    others = [v for v in range(n) if v != regime]
    base, mesa, decision = data.draw(st.permutations(others))[:3]
    directed, undirected = cpdag_of(n, dag_edges)
    name = {v: ("regime" if v == regime else f"v{v}") for v in range(n)}
    graph = nx.DiGraph()
    graph.add_nodes_from(name[v] for v in range(n))
    graph.add_edges_from((name[a], name[b]) for a, b in directed)
    graph.add_edges_from(_undirected(*[(name[a], name[b]) for a, b in undirected]))
    result = mesalens.check_graph(graph, base=name[base], mesa=name[mesa], decision=name[decision])
    brute = {
        frozenset((name[a], name[b]) for a, b in extension)
        for extension in all_extensions(n, directed, undirected)
        if not any(b == regime for _, b in extension)
    }
    streamed = [frozenset(dag.edges) for dag in result.dags()]
    assert len(streamed) == len(set(streamed)) == result.n_dags
    assert set(streamed) == brute


# ---------------------------------------------------------------- display
def test_the_rich_display_is_the_verdict_card_and_the_graph():
    result = mesalens.check_graph(example="collider")
    html = result._repr_html_()
    assert html.startswith('<div class="mesalens-nb">') and "<script" not in html
    assert 'class="pill pill-none">NONE<' in html
    assert "<svg" in html and 'class="graph' in html
    assert "regime → value ← level_difficulty → got_coin" in html  # the open path
    assert "table below" not in html  # the parent-set table is in the full report only
    # Every style rule is scoped to the fragment: nothing restyles the notebook.
    style = html.split("<style>", 1)[1].split("</style>", 1)[0]
    rules = [line for line in style.splitlines() if "{" in line and not line.startswith("@")]
    assert rules and all(line.startswith(".mesalens-nb") for line in rules), rules[:5]
    # Names from the graph are text, never markup.
    evil = nx.DiGraph([("regime", "<b>x</b>"), ("<b>x</b>", "reward"), ("value", "action")])
    shown = mesalens.check_graph(evil, **ROLES)._repr_html_()
    assert "<b>x</b>" not in shown and "&lt;b&gt;x&lt;/b&gt;" in shown


# ---------------------------------------------------------------- run
def _write_logs(folder: Path, rows: int = 1500) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for code, name in enumerate(["train", "deploy"]):
        obs = rng.normal(size=rows) + 1.5 * code
        action = 0.8 * obs + rng.normal(size=rows)
        value = 0.9 * action + rng.normal(size=rows)
        reward = 0.9 * value + rng.normal(size=rows) + 1.5 * code  # the shift leaks
        frame = pd.DataFrame({"obs": obs, "action": action, "value": value, "reward": reward})
        frame.to_csv(folder / f"{name}.csv", index=False)
        paths[name] = folder / f"{name}.csv"
    return paths


def test_run_gives_the_commands_result_and_writes_only_when_asked(tmp_path):
    paths = _write_logs(tmp_path / "logs")
    done = _cli(
        "run", "--regime", f"train={paths['train']}", "--regime", f"deploy={paths['deploy']}",
        "--base", "reward", "--mesa", "value", "--decision", "action",
        "--policy-inputs", "obs", "--alpha", "0.05", "--out", str(tmp_path / "cli"), "--quiet",
    )  # fmt: skip
    cli_document = json.loads((tmp_path / "cli" / "result.json").read_text())
    result = mesalens.run(paths, **ROLES, policy_inputs=["obs"], alpha=0.05, out=tmp_path / "api")
    assert result.exit_code == done.exit_code == 4
    assert (result.verdict, result.gate, result.confirmed) == ("none", "none", False)
    api_document = json.loads((tmp_path / "api" / "result.json").read_text())
    for document in (cli_document, api_document):
        assert set(document.pop("timings")) >= {"load", "discovery"}
    assert api_document == cli_document
    assert result.open_path[0] == "regime" and result.open_path[-1] == "reward"
    assert sorted(p.name for p in (tmp_path / "api").iterdir()) == [
        "graph.json", "graph.txt", "report.html", "result.json",
    ]  # fmt: skip
    assert result.out == tmp_path / "api"

    quiet = mesalens.run(
        {name: str(path) for name, path in paths.items()},
        **ROLES,
        policy_inputs="obs",
        alpha=0.05,
    )
    assert quiet.out is None and quiet.verdict == "none"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["api", "cli", "logs"]
    assert "learned_graph" in json.loads(quiet.to_json())
    saved = quiet.save(tmp_path / "later")
    assert (saved / "result.json").is_file() and quiet.out == saved
    assert 'class="pill pill-none">NONE<' in quiet._repr_html_()
    quiet.write_report(tmp_path / "report.html")
    assert "<!DOCTYPE html>" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_run_refuses_bad_input_with_the_commands_message(tmp_path):
    paths = _write_logs(tmp_path / "logs", rows=200)
    regimes = [f"--regime=train={paths['train']}", f"--regime=deploy={paths['deploy']}"]
    with pytest.raises(InputError) as raised:
        mesalens.run(paths, base="nope", mesa="value", decision="action")
    done = _cli("run", *regimes, "--base", "nope", "--mesa", "value", "--decision", "action",
                "--out", str(tmp_path / "out"))  # fmt: skip
    assert done.exit_code == 1
    assert _error_line(done) == one_line(str(raised.value))
    with pytest.raises(InputError) as raised:
        mesalens.run(paths, **ROLES, tolerance="lots")
    done = _cli("run", *regimes, "--base", "reward", "--mesa", "value", "--decision", "action",
                "--tolerance", "lots", "--out", str(tmp_path / "out"))  # fmt: skip
    assert _error_line(done) == one_line(str(raised.value)).replace("tolerance", "--tolerance", 1)
    with pytest.raises(InputError, match="alpha must be a number strictly between 0 and 1"):
        mesalens.run(paths, **ROLES, alpha=2)
    with pytest.raises(TypeError, match="did you mean 'seed'"):
        mesalens.run(paths, **ROLES, sed=1)
    with pytest.raises(RoleError, match="run\\(\\) needs mesa, decision"):
        mesalens.run(paths, base="reward")
    with pytest.raises(InputError, match="give a mapping of regime name"):
        mesalens.run([paths["train"]], **ROLES)
    assert not (tmp_path / "out").exists()


def test_run_and_save_refuse_an_output_folder_over_the_inputs(tmp_path):
    # As `mesalens run --out` does, before any work: the API must not write
    # result.json next to (or in place of) the logs it read.
    paths = _write_logs(tmp_path / "logs", rows=200)
    before = {p.name: p.read_bytes() for p in (tmp_path / "logs").iterdir()}
    with pytest.raises(InputError, match="is a file") as raised:
        mesalens.run(paths, **ROLES, out=paths["train"])
    done = _cli(
        "run", f"--regime=train={paths['train']}", f"--regime=deploy={paths['deploy']}",
        "--base", "reward", "--mesa", "value", "--decision", "action", "--out", str(paths["train"]),
    )  # fmt: skip
    assert _error_line(done) == one_line(str(raised.value)).replace("out", "--out", 1)
    with pytest.raises(InputError, match="logs") as raised:
        mesalens.run(paths, **ROLES, out=tmp_path / "logs")
    assert "train.csv" in str(raised.value) or "deploy.csv" in str(raised.value)
    result = mesalens.run(paths, **ROLES, direct_test=False, sensitivity=False)
    with pytest.raises(InputError, match="logs"):
        result.save(tmp_path / "logs")
    assert {p.name: p.read_bytes() for p in (tmp_path / "logs").iterdir()} == before
    assert result.save(tmp_path / "elsewhere") == tmp_path / "elsewhere"


def test_run_reads_a_config_and_the_arguments_win(tmp_path):
    paths = _write_logs(tmp_path / "logs", rows=300)
    config = tmp_path / "check.toml"
    config.write_text(
        'base = "reward"\nmesa = "value"\ndecision = "action"\nalpha = 0.2\n'
        f'[regimes]\ntrain = "{paths["train"]}"\ndeploy = "{paths["deploy"]}"\n',
        encoding="utf-8",
    )
    result = mesalens.run(config=config, alpha=0.05, direct_test=False, sensitivity=False)
    assert result.document["discovery"]["settings"]["alpha"] == 0.05
    jobs = tmp_path / "jobs.toml"
    jobs.write_text('[[check]]\nname = "a"\n', encoding="utf-8")
    with pytest.raises(InputError, match="is a job file"):
        mesalens.run(config=jobs)
