"""The ``mesalens`` command line: exit codes, JSON output, listing, errors, examples.

Most tests run the installed console script in a subprocess, so that exit
codes, stream separation and the absence of tracebacks are checked as a user
sees them; the rest go through click's CliRunner, which is faster.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mesalens.connectors import atomic
from mesalens.pipeline.formats import write_graph
from mesalens.pipeline.graph import CausalGraph
from mesalens.reports.atomic import atomic_write_text
from mesalens.reports.cli import cli
from mesalens.reports.examples import example_names, load_example

MESALENS = shutil.which("mesalens", path=str(Path(sys.executable).parent))
ROLES = ["--regime", "s", "--base", "Yb", "--mesa", "Ym", "--decision", "D"]


def tetrad(nodes: str, *edges: str) -> str:
    lines = ["Graph Nodes:", nodes, "", "Graph Edges:"]
    lines += [f"{k}. {edge}" for k, edge in enumerate(edges, start=1)]
    return "\n".join(lines) + "\n"


# One small graph per verdict (roles s, Yb, Ym, D).
GRAPHS = {
    # s --> D --> Ym --> Yb: Ym blocks the only path.
    "all": (tetrad("s;D;Ym;Yb", "s --> D", "D --> Ym", "Ym --> Yb"), []),
    # The policy reads A (a child of s); whether D --> Yb or Yb --> D is not
    # identified, and only the first opens s --> A --> D --> Yb.
    "some": (tetrad("s;A;D;Yb;Ym", "s --- A", "Yb --- D"), ["--policy-inputs", "A"]),
    # s --> Yb directly.
    "none": (tetrad("s;D;Ym;Yb", "s --> Yb", "D --> Ym"), []),
    # The policy reads X, a descendant of D: every DAG is invalid.
    "invalid": (tetrad("s;D;Ym;Yb;X", "s --> D", "D --> X", "Ym --> Yb"), ["--policy-inputs", "X"]),
}
EXIT = {"all": 0, "some": 3, "none": 4, "invalid": 5}


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert MESALENS is not None, "the mesalens console script is not installed next to python"
    return subprocess.run(
        [MESALENS, *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        timeout=60,
        check=False,
    )


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------- exit codes
@pytest.mark.parametrize("verdict", list(GRAPHS))
def test_exit_code_per_verdict(tmp_path, verdict):
    text, extra = GRAPHS[verdict]
    graph = write(tmp_path, "g.txt", text)
    out = tmp_path / "out.json"
    proc = run("check-graph", str(graph), *ROLES, *extra, "--json", str(out))
    assert proc.returncode == EXIT[verdict], proc.stderr
    assert "Traceback" not in proc.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["verdict"] == verdict
    assert f"Exit code {EXIT[verdict]} (verdict {verdict})" in proc.stdout
    assert "The criterion (Yb ⊥ s | Ym in G_\u03c3) holds in" in proc.stdout


def test_verdict_sentence_counts(tmp_path):
    text, extra = GRAPHS["some"]
    graph = write(tmp_path, "g.txt", text)
    result = invoke("check-graph", str(graph), *ROLES, *extra)
    assert result.exit_code == 3
    assert "holds in 1 of 2 DAGs (50%) of the class; 0 invalid." in result.stdout
    assert "s → A → D → Yb" in result.stdout  # the open path, with directions


# ----------------------------------------------------------------- JSON
def test_json_fields_and_types(tmp_path):
    text, extra = GRAPHS["some"]
    graph = write(tmp_path, "g.txt", text)
    out = tmp_path / "out.json"
    proc = run("check-graph", str(graph), *ROLES, *extra, "--json", str(out))
    assert proc.returncode == 3
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["schema_version"] == 1
    assert isinstance(doc["mesalens_version"], str) and doc["mesalens_version"]
    assert doc["graph_source"] == str(graph)
    assert doc["verdict"] == "some"
    for key in ("n_dags", "n_hold", "n_fail", "n_invalid"):
        assert type(doc[key]) is int, key
    assert (doc["n_dags"], doc["n_hold"], doc["n_fail"], doc["n_invalid"]) == (2, 1, 1, 0)
    assert doc["roles"] == {
        "regime": "s",
        "base": ["Yb"],
        "mesa": ["Ym"],
        "decision": ["D"],
        "policy_inputs": ["A"],
    }
    sets = doc["parent_sets"]
    assert len(sets) == 2
    expected_keys = [
        "parents", "n_dags", "n_hold", "n_fail", "n_invalid", "status", "open_path",
        "c1", "c2", "n_c1", "n_c2", "conjecture_disagrees",
    ]  # fmt: skip
    for entry in sets:
        assert list(entry) == expected_keys
        assert isinstance(entry["parents"], list)
        for key in ("n_dags", "n_hold", "n_fail", "n_invalid", "n_c1", "n_c2"):
            assert type(entry[key]) is int, key
        assert entry["status"] in {"hold", "fail", "invalid"}
        for key in ("c1", "c2", "conjecture_disagrees"):
            assert entry[key] is None or isinstance(entry[key], bool)
    by_parents = {tuple(e["parents"]): e for e in sets}
    assert by_parents[()]["status"] == "fail"
    assert by_parents[()]["open_path"] == ["s", "A", "D", "Yb"]
    assert by_parents[("Yb",)]["status"] == "hold"
    assert by_parents[("Yb",)]["open_path"] is None
    # C1 fails where the criterion holds: the conjecture disagrees there.
    assert by_parents[("Yb",)]["c1"] is False
    assert by_parents[("Yb",)]["conjecture_disagrees"] is True
    assert sum(e["n_dags"] for e in sets) == doc["n_dags"]

    hold, fail = doc["witnesses"]["hold"], doc["witnesses"]["fail"]
    assert list(hold) == ["dag"]
    assert ["Yb", "D"] in hold["dag"]
    assert list(fail) == ["dag", "sigma_graph", "open_path"]
    assert ["D", "Yb"] in fail["dag"]
    assert ["A", "D"] in fail["sigma_graph"]  # the policy input, added by sigma
    assert fail["open_path"] == ["s", "A", "D", "Yb"]
    assert sorted(map(tuple, doc["restricted_graph"])) == [("D", "---", "Yb"), ("s", "-->", "A")]
    assert "dags" not in doc


def test_json_is_deterministic(tmp_path):
    graph = write(tmp_path, "g.txt", GRAPHS["some"][0])
    outputs = []
    for name in ("a.json", "b.json"):
        result = invoke(
            "check-graph",
            str(graph),
            *ROLES,
            "--policy-inputs",
            "A",
            "--json",
            str(tmp_path / name),
        )
        assert result.exit_code == 3
        outputs.append((tmp_path / name).read_bytes())
    assert outputs[0] == outputs[1]


def test_json_keeps_counts_beyond_64_bits(tmp_path):
    # A 21-clique next to the roles: 21! DAGs, more than 2**64.
    xs = [f"x{i}" for i in range(21)]
    edges = ["s --> D", "D --> Ym", "Ym --> Yb"]
    edges += [f"{a} --- {b}" for a, b in itertools.combinations(xs, 2)]
    graph = write(tmp_path, "big.txt", tetrad(";".join(["s", "D", "Ym", "Yb", *xs]), *edges))
    out = tmp_path / "out.json"
    result = invoke("check-graph", str(graph), *ROLES, "--json", str(out))
    assert result.exit_code == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert math.factorial(21) > 2**64
    assert doc["n_dags"] == doc["n_hold"] == math.factorial(21)
    assert str(math.factorial(21)) in out.read_text(encoding="utf-8")  # an integer literal
    assert "≈5.109e+19" in result.stdout


def test_json_to_stdout_puts_summary_on_stderr(tmp_path):
    graph = write(tmp_path, "g.txt", GRAPHS["none"][0])
    proc = run("check-graph", str(graph), *ROLES, "--json", "-")
    assert proc.returncode == 4
    doc = json.loads(proc.stdout)
    assert doc["verdict"] == "none"
    assert "Verdict: none" in proc.stderr
    assert "Verdict" not in proc.stdout


def test_quiet_prints_nothing(tmp_path):
    graph = write(tmp_path, "g.txt", GRAPHS["none"][0])
    result = invoke("check-graph", str(graph), *ROLES, "--quiet")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr == ""


# ----------------------------------------------------------------- listing
def test_list_dags(tmp_path):
    # A chain for the roles and an undirected 3-clique b, c, d: 3! = 6 DAGs.
    text = tetrad(
        "s;D;Ym;Yb;b;c;d",
        "s --> D", "D --> Ym", "Ym --> Yb", "b --- c", "c --- d", "b --- d",
    )  # fmt: skip
    graph = write(tmp_path, "g.txt", text)
    out = tmp_path / "out.json"
    proc = run("check-graph", str(graph), *ROLES, "--list-dags", "4", "--json", str(out))
    assert proc.returncode == 0
    assert "showing 4 of 6 DAGs" in proc.stdout
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["n_dags"] == 6
    dags = doc["dags"]
    assert len(dags) == 4
    assert len({json.dumps(sorted(dag)) for dag in dags}) == 4  # all different
    for dag in dags:
        assert all(isinstance(edge, list) and len(edge) == 2 for edge in dag)
        assert ["s", "D"] in dag and ["Ym", "Yb"] in dag
        assert len(dag) == 6

    result = invoke("check-graph", str(graph), *ROLES, "--list-dags", "100", "--json", "-")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert len(doc["dags"]) == 6
    assert len({json.dumps(sorted(dag)) for dag in doc["dags"]}) == 6
    assert "showing 6 of 6 DAGs" in result.stderr


def test_list_dags_rejects_zero(tmp_path):
    graph = write(tmp_path, "g.txt", GRAPHS["all"][0])
    proc = run("check-graph", str(graph), *ROLES, "--list-dags", "0")
    assert proc.returncode == 2


# ----------------------------------------------------------------- policy inputs
POLICY_GRAPH = tetrad("s;A;D;Ym;Yb", "s --> D", "D --> Yb", "A --> Ym")


@pytest.mark.parametrize(
    ("option", "recorded", "code"),
    [
        ("keep", "keep", 4),  # D reads s: s --> D --> Yb is open
        ("none", [], 0),  # the policy reads nothing: s --> D is cut
        ("A", ["A"], 0),
        ("A,s", ["A", "s"], 4),  # a policy that reads the regime
    ],
)
def test_policy_inputs(tmp_path, option, recorded, code):
    graph = write(tmp_path, "g.txt", POLICY_GRAPH)
    result = invoke("check-graph", str(graph), *ROLES, "--policy-inputs", option, "--json", "-")
    assert result.exit_code == code, result.stderr
    doc = json.loads(result.stdout)
    assert doc["roles"]["policy_inputs"] == recorded


# ----------------------------------------------------------------- bad input
ALL = GRAPHS["all"][0]
BAD_INPUTS = {
    "unknown role": (ALL, ["--mesa", "Nope"], "--mesa names 'Nope', which is not in the graph"),
    "overlapping roles": (ALL, ["--mesa", "Yb"], "'Yb' is both --base and --mesa"),
    "edge into regime": (
        tetrad("s;D;Ym;Yb", "D --> s", "D --> Ym", "Ym --> Yb"),
        [],
        "the edge D --> s points into the regime",
    ),
    "cycle": (
        tetrad("s;D;Ym;Yb", "s --> D", "D --> Ym", "Ym --> Yb", "Yb --> D"),
        [],
        "directed cycle D --> Ym --> Yb --> D",
    ),
    "no extension": (
        tetrad("s;D;Ym;Yb;a;b;c;d", "s --> D", "a --- b", "b --- c", "c --- d", "d --- a"),
        [],
        "no consistent DAG extension",
    ),
    "unparseable": (
        tetrad("s;D;Ym;Yb", "s --> D", "D ==> Ym"),
        [],
        "g.txt, line 6: unknown edge mark '==>'",
    ),
    "duplicate node": (tetrad("s;D;Ym;Yb;D", "s --> D"), [], "duplicate node name 'D'"),
    # PAGs are checked over their MAGs (pipeline/pag_checker.py); selection bias is not.
    "PAG edge": (
        tetrad("s;D;Ym;Yb", "s --> D", "D --o Ym", "Ym --> Yb"),
        [],
        "edge D --o Ym has a tail without an arrowhead",
    ),
    "missing file": (None, [], "cannot read the graph file: No such file or directory"),
    "two regimes": (ALL, ["--regime", "s,D"], "the regime is a single node"),
    "empty name": (ALL, ["--base", "Yb,"], "has an empty name"),
    "unwritable output": (ALL, ["--json", "no/dir/out.json"], "the folder 'no/dir' does not exist"),
    "unwritable report": (ALL, ["--html", "no/dir/r.html"], "the folder 'no/dir' does not exist"),
    "output is the input": (ALL, ["--html", "g.txt"], "is the input graph itself"),
    "deeply nested json": (None, ["--format", "json"], "nested too deeply"),
    "huge --list-dags": (ALL, ["--list-dags", "99999999999999999999"], None),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, case):
    text, extra, message = BAD_INPUTS[case]
    graph = tmp_path / "g.txt"
    if text is not None:
        graph.write_text(text, encoding="utf-8")
    elif case == "deeply nested json":
        graph.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    before = set(os.listdir(tmp_path))
    out = tmp_path / "out.json"
    json_option = [] if "--json" in extra else ["--json", str(out)]
    proc = run("check-graph", "g.txt", *ROLES, *extra, *json_option, cwd=tmp_path)
    assert "Traceback" not in proc.stderr
    if message is None:  # a usage error (click's own message, exit code 2)
        assert proc.returncode == 2, proc.stderr
        assert not out.exists() and set(os.listdir(tmp_path)) == before
        return
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("mesalens: error: ")
    assert message in lines[0]
    assert proc.stdout == ""
    assert not out.exists()
    assert set(os.listdir(tmp_path)) == before  # no temporary files either


def test_bad_input_leaves_existing_output_alone(tmp_path):
    graph = write(tmp_path, "g.txt", tetrad("s;D;Ym;Yb", "s --> D", "D --> s"))
    out = write(tmp_path, "out.json", "previous\n")
    result = invoke("check-graph", str(graph), *ROLES, "--json", str(out))
    assert result.exit_code == 1
    assert out.read_text(encoding="utf-8") == "previous\n"


def test_bad_input_with_json_to_stdout_prints_no_json(tmp_path):
    graph = write(tmp_path, "g.txt", GRAPHS["all"][0])
    proc = run("check-graph", str(graph), *ROLES, "--mesa", "Nope", "--json", "-")
    assert proc.returncode == 1
    assert proc.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["check-graph", "g.txt", *ROLES, "--no-such-option"],
        ["check-graph", *ROLES],  # neither GRAPH nor --example
        ["check-graph", "g.txt", "--example", "coinrun"],  # both
        ["check-graph", "g.txt", "--regime", "s", "--mesa", "Ym", "--decision", "D"],  # no --base
        ["check-graph", "--example", "no-such-example"],
        ["check-graph", "g.txt", *ROLES, "--format", "xml"],
    ],
)
def test_usage_errors_exit_2(tmp_path, args):
    write(tmp_path, "g.txt", GRAPHS["all"][0])
    proc = run(*args, "--json", "out.json", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Usage:" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out.json").exists()


def test_version():
    proc = run("--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith("mesalens, version ")


# ----------------------------------------------------------------- formats
def test_format_option_and_other_formats(tmp_path):
    graph = CausalGraph(["s", "D", "Ym", "Yb"])
    for u, v in [("s", "D"), ("D", "Ym"), ("Ym", "Yb")]:
        graph.add_edge(u, v)
    for name in ("g.json", "g.dot"):
        write_graph(graph, tmp_path / name)
        result = invoke("check-graph", str(tmp_path / name), *ROLES, "-q")
        assert result.exit_code == 0, result.stderr
    # A DOT file under a name whose extension says nothing: --format decides.
    (tmp_path / "g.graphfile").write_text((tmp_path / "g.dot").read_text(encoding="utf-8"))
    result = invoke("check-graph", str(tmp_path / "g.graphfile"), *ROLES, "--format", "dot", "-q")
    assert result.exit_code == 0, result.stderr


def test_node_names_are_not_markup(tmp_path):
    text = tetrad("s;D;[bold]Ym;Yb :smile:", "s --> D", "D --> [bold]Ym", "[bold]Ym --> Yb :smile:")
    graph = write(tmp_path, "g.txt", text)
    args = ["--regime", "s", "--base", "Yb :smile:", "--mesa", "[bold]Ym", "--decision", "D"]
    result = invoke("check-graph", str(graph), *args)
    assert result.exit_code == 0, result.stderr
    assert "Yb :smile: ⊥ s | [bold]Ym" in result.stdout


# ----------------------------------------------------------------- examples
EXAMPLE_VERDICTS = {"aligned": "all", "coinrun": "none", "collider": "none", "deceptive": "none"}


def test_examples_are_shipped():
    assert set(EXAMPLE_VERDICTS) <= set(example_names())
    graph, roles = load_example("coinrun")
    assert roles == {
        "regime": "regime",
        "base": "got_coin",
        "mesa": "value",
        "decision": "action",
        "policy_inputs": "obs",
    }
    assert "coin_position" in graph


@pytest.mark.parametrize(("name", "verdict"), sorted(EXAMPLE_VERDICTS.items()))
def test_example_verdict(name, verdict):
    result = invoke("check-graph", "--example", name, "--json", "-")
    doc = json.loads(result.stdout)
    assert doc["verdict"] == verdict
    assert result.exit_code == EXIT[verdict]
    assert doc["graph_source"] == f"example:{name}"


def test_coinrun_example_through_the_console_script(tmp_path):
    proc = run("check-graph", "--example", "coinrun", "--json", str(tmp_path / "c.json"))
    assert proc.returncode == 4
    doc = json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))
    assert doc["roles"]["policy_inputs"] == ["obs"]
    assert doc["n_dags"] == 2
    assert {e["open_path"][-1] for e in doc["parent_sets"]} == {"got_coin"}


def test_collider_example_disagrees_with_the_conjecture():
    doc = json.loads(invoke("check-graph", "--example", "collider", "--json", "-").stdout)
    (entry,) = doc["parent_sets"]
    assert (entry["c1"], entry["c2"], entry["status"]) == (True, True, "fail")
    assert entry["conjecture_disagrees"] is True
    assert entry["open_path"] == ["regime", "value", "level_difficulty", "got_coin"]


def test_example_roles_are_overridden_by_options():
    # Deceptive: the same graph is aligned when the policy does not read the regime.
    result = invoke("check-graph", "--example", "deceptive", "--policy-inputs", "keep", "-q")
    assert result.exit_code == 0
    # Coinrun with a policy reading the value: one parent set of action is invalid.
    result = invoke(
        "check-graph", "--example", "coinrun", "--policy-inputs", "obs,value", "--json", "-"
    )
    doc = json.loads(result.stdout)
    assert doc["roles"]["policy_inputs"] == ["obs", "value"]
    assert doc["n_invalid"] == 1
    invalid = [e for e in doc["parent_sets"] if e["status"] == "invalid"]
    assert invalid and invalid[0]["conjecture_disagrees"] is None


def test_examples_command():
    result = invoke("examples", "--names")
    assert result.exit_code == 0
    assert result.stdout.split() == example_names()


# ----------------------------------------------------------------- atomic writes
def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "first\n")
    atomic_write_text(target, "second\n")
    assert target.read_text(encoding="utf-8") == "second\n"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_atomic_write_failure_leaves_target_and_no_temp_file(tmp_path, monkeypatch):
    target = write(tmp_path, "out.txt", "old\n")

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_text(target, "new\n")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_running_out_of_memory_is_one_error_line(monkeypatch, capsys):
    # e.g. `mesalens simulate --rows 10000000000`: numpy cannot allocate the
    # sample. The console script says so in one line, exit code 1.
    import sys

    import mesalens.reports.cli as cli_module

    def exhausted(**_):
        raise MemoryError("Unable to allocate 74.5 GiB")

    monkeypatch.setattr(cli_module, "cli", exhausted)
    monkeypatch.setattr(sys, "argv", ["mesalens", "simulate"])
    with pytest.raises(SystemExit) as stopped:
        cli_module.main()
    assert stopped.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mesalens: error: out of memory")


@pytest.mark.parametrize(
    ("text", "extra", "message"),
    [
        ("Graph Nodes:\n\nGraph Edges:\n", [], "the graph has no nodes"),
        (None, ["--policy-inputs", ""], "--policy-inputs is empty; give 'none'"),
        (
            '{"nodes": ["s", "D", "Ym", "Yb"], "edges": [["s", "D"]], '
            '"links": [{"source": "D", "target": "Ym"}]}',
            ["--format", "json"],
            "both 'links' and 'edges'",
        ),
    ],
)
def test_empty_graph_and_empty_policy_inputs_are_named(tmp_path, text, extra, message):
    graph = write(tmp_path, "g.txt", text if text is not None else GRAPHS["all"][0])
    result = invoke("check-graph", str(graph), *ROLES, *extra)
    assert result.exit_code == 1, result.output
    assert message in result.output


def test_a_node_name_with_a_comma_is_named_in_quotes(tmp_path):
    graph = write(
        tmp_path,
        "g.txt",
        tetrad("s;action, taken;Ym;Yb", "s --> action, taken", "action, taken --> Yb"),
    )
    args = ["--regime", "s", "--base", "Yb", "--mesa", "Ym", "--decision", '"action, taken"']
    result = invoke("check-graph", str(graph), *args, "--json", str(tmp_path / "o.json"))
    assert result.exit_code in (0, 3, 4, 8), result.output
    document = json.loads((tmp_path / "o.json").read_text())
    assert document["roles"]["decision"] == ["action, taken"]


def test_the_graph_file_is_fingerprinted_in_the_json_and_the_report(tmp_path):
    import hashlib

    graph = write(tmp_path, "g.txt", GRAPHS["all"][0])
    out, report = tmp_path / "o.json", tmp_path / "r.html"
    result = invoke("check-graph", str(graph), *ROLES, "--json", str(out), "--html", str(report))
    assert result.exit_code == 0, result.output
    sha = hashlib.sha256(graph.read_bytes()).hexdigest()
    assert json.loads(out.read_text())["graph_sha256"] == sha
    assert f'<code id="graph-sha256">{sha}</code>' in report.read_text()
    example = invoke("check-graph", "--example", "aligned", "--json", str(tmp_path / "e.json"))
    assert example.exit_code == 0, example.output
    assert json.loads((tmp_path / "e.json").read_text())["graph_sha256"] is None
