"""Hostile graph files and check-graph options (issue 14): one line or a valid answer, fast.

Every test goes through the command line (click's runner in the process, or
a subprocess where the file name itself is the hostile input). A bad input
must give exit 1 and exactly one ``mesalens: error:`` line, never a
traceback, and leave none of the ``--json`` / ``--html`` targets behind. No
test is timed: linear work is checked by counting the characters a reader
looks up, and constant memory by tracemalloc's peak.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesalens.pipeline import checker
from mesalens.pipeline.errors import GraphFormatError
from mesalens.pipeline.formats import limits
from mesalens.pipeline.formats.tetrad import _explain_bad_edge, _readings, read_tetrad
from mesalens.reports.cards import graph as graph_card
from mesalens.reports.cli import cli
from mesalens.reports.result_json import dumps, iter_dumps

MESALENS = str(Path(sys.executable).with_name("mesalens"))
ROLES = ["--regime", "s", "--base", "Yb", "--mesa", "Ym", "--decision", "D"]
EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _run(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"traceback: {result.exception!r}\n{result.output}")
    return result.exit_code, result.stdout, result.stderr


def _assert_one_line(code: int, err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert code == 1, err
    assert len(lines) == 1 and lines[0].startswith("mesalens: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def _complete(n: int, kind: str = "---") -> str:
    names = ["s", "D", "Ym", "Yb", *(f"x{i}" for i in range(n - 4))]
    edges = [f"{k}. {a} {kind} {b}" for k, (a, b) in enumerate(itertools.combinations(names, 2), 1)]
    return "Graph Nodes:\n" + ";".join(names) + "\n\nGraph Edges:\n" + "\n".join(edges) + "\n"


# ------------------------------------------------------------ node-link JSON
_WRONG = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.sampled_from(["s", "D", "Ym", "Yb", "x", "\ud800", "e\u0301", "\x00", "-->", "o-o"]),
    st.lists(st.sampled_from(["s", 1, None]), max_size=3),
    st.dictionaries(st.sampled_from(["id", "a"]), st.sampled_from(["s", 1, None]), max_size=2),
    st.just("HUGE"),  # replaced by an integer of 5,000 digits
)
_NODE_IDS = ["s", "D", "Ym", "Yb"]
_LINKS = [("s", "D"), ("D", "Ym"), ("Ym", "Yb")]


@st.composite
def node_link_documents(draw):
    """Node-link JSON of a small graph with random values swapped in for random fields."""
    doc = {
        "directed": True,
        "nodes": [{"id": n} for n in _NODE_IDS],
        "links": [{"source": a, "target": b} for a, b in _LINKS],
    }
    slots = [("directed",), ("nodes",), ("links",)]
    slots += [("nodes", i, "id") for i in range(len(_NODE_IDS))]
    slots += [("nodes", i) for i in range(len(_NODE_IDS))]
    slots += [("links", i, key) for i in range(len(_LINKS)) for key in ("source", "target", "kind")]
    slots += [("links", i) for i in range(len(_LINKS))]
    for slot in draw(st.lists(st.sampled_from(slots), min_size=1, max_size=3)):
        target = doc
        for key in slot[:-1]:
            if not isinstance(target, dict | list):
                break
            try:
                target = target[key]
            except (KeyError, IndexError, TypeError):
                break
        else:
            if isinstance(target, dict) or (isinstance(target, list) and slot[-1] < len(target)):
                target[slot[-1]] = draw(_WRONG)
    return doc


def _json_text(doc) -> str:
    text = json.dumps(doc, allow_nan=True)
    return text.replace('"HUGE"', "1" * 5000)


@EXAMPLES
@given(doc=node_link_documents())
def test_random_node_link_json_gives_an_answer_or_one_line_and_no_partial_output(tmp_path, doc):
    graph = tmp_path / "g.json"
    graph.write_text(_json_text(doc), encoding="utf-8", errors="surrogatepass")
    out, html = tmp_path / "out.json", tmp_path / "out.html"
    for target in (out, html):
        target.unlink(missing_ok=True)
    code, _, err = _run(
        ["check-graph", str(graph), *ROLES, "--json", str(out), "--html", str(html)]
    )
    if code == 1:
        _assert_one_line(code, err)
        assert not out.exists() and not html.exists()
        # The value is quoted short, whatever its size.
        assert len(err) < 600
    else:
        assert code in (0, 3, 4, 5), err
        assert json.loads(out.read_text(encoding="utf-8"))["verdict"]
        assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    ("link", "needle"),
    [
        (
            {"source": ["s"], "target": "D"},
            'links[0].source should be a node id (a string or an integer) but is ["s"]',
        ),
        ({"source": "s", "target": {"id": "D"}}, "links[0].target should be a node id"),
        ({"source": "s", "target": True}, "links[0].target should be a node id"),
        ({"source": "s", "target": None}, "links[0].target should be a node id"),
        ({"source": "s", "target": "D", "kind": ["-->"]}, "links[0].kind should be a string"),
    ],
)
def test_a_wrong_typed_link_field_is_named_with_its_value(tmp_path, link, needle):
    doc = {"directed": True, "nodes": [{"id": n} for n in _NODE_IDS], "links": [link]}
    graph = tmp_path / "g.json"
    graph.write_text(json.dumps(doc))
    code, _, err = _run(["check-graph", str(graph), *ROLES])
    _assert_one_line(code, err, needle)


def test_a_huge_integer_id_and_a_huge_value_are_quoted_short(tmp_path):
    graph = tmp_path / "g.json"
    graph.write_text(_json_text({"directed": True, "nodes": [{"id": "HUGE"}], "links": []}))
    code, _, err = _run(["check-graph", str(graph), *ROLES])
    _assert_one_line(code, err, "nodes[0].id", "an integer of 5000 digits")
    graph.write_text(json.dumps({"directed": True, "nodes": [{"id": ["x" * 10_000]}], "links": []}))
    code, _, err = _run(["check-graph", str(graph), *ROLES])
    _assert_one_line(code, err, "nodes[0].id", "(10004 characters)")
    assert len(err) < 400


# ------------------------------------------------------------ names
def test_nan_and_a_lone_surrogate_with_html_are_refused_before_anything_is_written(tmp_path):
    # The case: NaN in a link, "\ud800" in a name, --json and --html.
    graph = tmp_path / "g.json"
    graph.write_text(
        '{"directed": true, "nodes": [{"id": "s"}, {"id": "D"}, {"id": "Ym"}, {"id": "Yb"}, '
        '{"id": "x\\ud800"}], "links": [{"source": "s", "target": "D", "weight": NaN}, '
        '{"source": "D", "target": "Ym", "weight": Infinity}]}'
    )
    out, html = tmp_path / "out.json", tmp_path / "out.html"
    code, _, err = _run(
        ["check-graph", str(graph), *ROLES, "--json", str(out), "--html", str(html)]
    )
    _assert_one_line(code, err, r"'x\ud800'", "lone surrogate U+D800")
    assert not out.exists() and not html.exists()


@pytest.mark.parametrize(
    ("name", "needle"),
    [("a\x00b", "U+0000"), ("a\nb", "U+000A"), ("\x1b[31mred", "U+001B"), ("a\ufffe", "U+FFFE")],
)
@pytest.mark.parametrize("fmt", ["json", "dot"])
def test_a_name_no_output_can_hold_is_refused_up_front(tmp_path, name, needle, fmt):
    if fmt == "json":
        text = json.dumps({"nodes": ["s", "D", "Ym", "Yb", name], "edges": []})
    else:
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        text = 'digraph { "s" -> "D"; "D" -> "Ym"; "Ym" -> "Yb"; "' + quoted + '"; }'
    graph = tmp_path / f"g.{fmt}"
    graph.write_text(text, encoding="utf-8")
    out = tmp_path / "out.json"
    code, _, err = _run(["check-graph", str(graph), *ROLES, "--json", str(out)])
    _assert_one_line(code, err, needle, "rename the node")
    assert not out.exists()


def test_look_alike_names_are_refused_with_their_code_points(tmp_path):
    graph = tmp_path / "g.txt"
    graph.write_text("Graph Nodes:\ns;D;Ym;Yb;caf\u00e9;cafe\u0301\n\nGraph Edges:\n1. s --> D\n")
    code, _, err = _run(["check-graph", str(graph), *ROLES])
    _assert_one_line(code, err, "U+0063 U+0061 U+0066 U+00E9", "U+0065 U+0301", "look alike")


@pytest.mark.parametrize(("in_file", "typed"), [("\u00e9", "e\u0301"), ("e\u0301", "\u00e9")])
def test_a_role_given_in_the_other_normal_form_names_the_node(tmp_path, in_file, typed):
    graph = tmp_path / "g.txt"
    graph.write_text(
        f"Graph Nodes:\ns;D;{in_file};Yb\n\nGraph Edges:\n1. s --> D\n2. D --> {in_file}\n"
        f"3. {in_file} --> Yb\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.json"
    args = ["check-graph", str(graph), "--regime", "s", "--base", "Yb", "--mesa", typed]
    code, _, err = _run([*args, "--decision", "D", "--json", str(out)])
    assert code == 0, err
    assert json.loads(out.read_text(encoding="utf-8"))["roles"]["mesa"] == [in_file]


@pytest.mark.parametrize("where", ["graph", "json", "html"])
def test_a_file_name_that_is_not_utf8_gives_one_line_and_writes_nothing(tmp_path, where):
    graph = tmp_path / "g.txt"
    graph.write_text(_complete(5, "-->"))
    folder = os.fsencode(tmp_path)
    paths = {
        "graph": os.fsencode(graph),
        "json": folder + b"/out.json",
        "html": folder + b"/out.html",
    }
    paths[where] = folder + (b"/g\xff.txt" if where == "graph" else b"/o\xff." + where.encode())
    if where == "graph":
        os.rename(os.fsencode(graph), paths["graph"])
    command = [MESALENS.encode(), b"check-graph", paths["graph"], *(r.encode() for r in ROLES)]
    command += [b"--json", paths["json"], b"--html", paths["html"]]
    proc = subprocess.run(command, capture_output=True, check=False)
    err = proc.stderr.decode("utf-8")
    _assert_one_line(proc.returncode, err, "\\xff", "not UTF-8", "rename the file")
    assert sorted(os.listdir(folder)) == ([b"g\xff.txt"] if where == "graph" else [b"g.txt"])


# ------------------------------------------------------------ Tetrad lines
class _CountingIndex(dict):
    """A name index that adds up the characters of every name looked up."""

    looked_up = 0

    def __contains__(self, key):
        _CountingIndex.looked_up += len(key)
        return super().__contains__(key)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    names=st.lists(
        st.text(st.sampled_from("ab -o<>"), min_size=1, max_size=12).map(str.strip).filter(bool),
        min_size=1,
        max_size=6,
        unique=True,
    ),
    words=st.lists(st.sampled_from(["a", "b", "-->", "o-o", "<->", "x", "a b", " "]), max_size=60),
    repeat=st.integers(1, 300),
)
def test_explaining_a_bad_edge_line_is_linear_and_quotes_80_characters(names, words, repeat):
    body = " ".join(words * repeat)
    index = _CountingIndex({name: k for k, name in enumerate(names)})
    _CountingIndex.looked_up = 0
    message = _explain_bad_edge(body, index)
    _readings(body, index)
    total_names = sum(len(name) for name in names)
    # Each cut point is a distinct name length: the lookups cost at most the
    # names' total length per candidate, never the line's length squared.
    assert _CountingIndex.looked_up <= 8 * (len(body) + 1) + 8 * total_names * (total_names + 1)
    assert len(message) < 3 * 80 + 300


def test_a_40_kb_malformed_edge_line_gives_one_short_line(tmp_path):
    graph = tmp_path / "g.txt"
    line = "s " + "x" * 20_000 + " --> " + "y " * 10_000
    graph.write_text("Graph Nodes:\ns;D;Ym;Yb\n\nGraph Edges:\n1. s --> D\n2. " + line + "\n")
    code, _, err = _run(["check-graph", str(graph), *ROLES])
    _assert_one_line(code, err, "line 6", "unknown node", "characters)")
    assert len(err) < 500


def test_the_fast_edge_reader_agrees_with_the_general_one():
    text = _complete(8) + "29. x3 --> x2 dd nl\n"
    with pytest.raises(GraphFormatError, match="second edge"):
        read_tetrad(text)
    graph = read_tetrad(_complete(8))
    spaced = read_tetrad(_complete(8).replace("x1", "x 1"))
    assert graph.number_of_edges() == spaced.number_of_edges() == 28


# ------------------------------------------------------------ size guard
def test_a_graph_file_past_the_size_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    graph = tmp_path / "g.txt"
    graph.write_text(_complete(30, "-->"))
    monkeypatch.setattr(limits, "MAX_GRAPH_BYTES", 1000)
    code, _, err = _run(["check-graph", str(graph), *ROLES])
    _assert_one_line(code, err, "MiB, more than the", "check the part of the graph that matters")


@pytest.mark.parametrize("fmt", ["txt", "json"])
def test_a_graph_past_the_edge_limit_is_refused_naming_the_limit(tmp_path, monkeypatch, fmt):
    graph = tmp_path / f"g.{fmt}"
    text = _complete(20, "-->")
    if fmt == "json":
        g = read_tetrad(text)
        edges = [{"source": e.u, "target": e.v, "kind": "-->"} for e in g.edges()]
        text = json.dumps({"nodes": list(g.nodes), "edges": edges})
    graph.write_text(text)
    monkeypatch.setattr(limits, "MAX_GRAPH_EDGES", 100)
    code, _, err = _run(["check-graph", str(graph), *ROLES])
    _assert_one_line(code, err, "more than 100 edges")


# ------------------------------------------------------------ budget
@pytest.mark.parametrize("policy", ["keep", "none"])
def test_a_cut_work_budget_changes_no_count_and_says_so(tmp_path, monkeypatch, policy):
    graph = tmp_path / "k7.txt"
    graph.write_text(_complete(7))
    documents = {}
    default = checker.DIAGNOSTICS_WORK_BUDGET
    for units in (default, 1):
        monkeypatch.setattr(checker, "DIAGNOSTICS_WORK_BUDGET", units)
        out = tmp_path / f"{units}.json"
        code, stdout, _ = _run(
            ["check-graph", str(graph), *ROLES, "--policy-inputs", policy, "--json", str(out)]
        )
        assert code in (0, 3, 4, 5)
        documents[units] = (json.loads(out.read_text()), stdout)
    full, full_text = documents[default]
    cut, cut_text = documents[1]
    for key in ("verdict", "n_dags", "n_hold", "n_fail", "n_invalid"):
        assert cut[key] == full[key]
    assert full["n_dags"] == math.factorial(6)  # K7 with the regime first: 6! orders
    assert not full["diagnostics_cut"] and cut["diagnostics_cut"]
    assert "stopped at their work budget" in cut_text and "exact" in cut_text
    assert "work budget" not in full_text
    if policy == "none":
        # Every parent set is still listed and counted exactly.
        assert [(e["parents"], e["n_dags"]) for e in cut["parent_sets"]] == [
            (e["parents"], e["n_dags"]) for e in full["parent_sets"]
        ]


def test_the_report_does_not_draw_a_graph_too_large_to_read(tmp_path, monkeypatch):
    graph = tmp_path / "k12.txt"
    graph.write_text(_complete(12))
    monkeypatch.setattr(graph_card, "MAX_DRAWN_EDGES", 20)
    html = tmp_path / "r.html"
    code, _, err = _run(["check-graph", str(graph), *ROLES, "--html", str(html), "--quiet"])
    assert code == 4, err
    text = html.read_text(encoding="utf-8")
    assert "66 edges, more than the 200 nodes or 20 edges this report draws" in text
    assert "<svg" not in text.split("The graph has")[0].rsplit("graph-card", 1)[-1]


# ------------------------------------------------------------ --list-dags
def test_list_dags_shows_its_bound_and_refuses_past_it():
    result = CliRunner().invoke(cli, ["check-graph", "--help"])
    assert "1 to 1,000,000,000" in " ".join(result.output.split())
    assert "9223372036854775807" not in result.output
    for value in ("0", str(10**9 + 1), "9" * 5000, "1e6", "-3"):
        result = CliRunner().invoke(
            cli, ["check-graph", "--example", "coinrun", "--list-dags", value]
        )
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and len(result.output) < 600


def test_the_streamed_json_equals_the_whole_document(tmp_path):
    graph = tmp_path / "k6.txt"
    graph.write_text(_complete(6))
    out = tmp_path / "out.json"
    code, stdout, _ = _run(
        ["check-graph", str(graph), *ROLES, "--list-dags", "7", "--json", str(out)]
    )
    assert code == 4
    document = json.loads(out.read_text())
    assert len(document["dags"]) == 7 and "showing 7 of 120 DAGs" in stdout
    assert out.read_text() == dumps(document)
    assert "".join(iter_dumps({"a": 1}, [])) == dumps({"a": 1, "dags": []})
    code, stdout, _ = _run(
        ["check-graph", str(graph), *ROLES, "--list-dags", "1000", "--json", "-", "-q"]
    )
    assert len(json.loads(stdout)["dags"]) == 120


def _peak_listing(tmp_path, n: int) -> int:
    out = tmp_path / f"{n}.json"
    tracemalloc.start()
    try:
        code, _, _ = _run(
            [
                "check-graph",
                str(tmp_path / "k9.txt"),
                *ROLES,
                "--list-dags",
                str(n),
                "--json",
                str(out),
                "-q",
            ]
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 4
    return peak


def test_list_dags_streams_in_constant_memory(tmp_path):
    (tmp_path / "k9.txt").write_text(_complete(9))
    small, large = _peak_listing(tmp_path, 500), _peak_listing(tmp_path, 10_000)
    # 20 times the DAGs, the same peak (a list of them would be 20 times larger).
    assert large < 1.5 * small, (small, large)
    assert len(json.loads((tmp_path / "10000.json").read_text())["dags"]) == 10_000


def test_running_out_of_memory_while_listing_names_the_option(tmp_path, monkeypatch):
    graph = tmp_path / "k7.txt"
    graph.write_text(_complete(7))

    def exhausted(_pdag):
        yield [(0, 1)]
        raise MemoryError

    command = sys.modules["mesalens.reports.cli.check_graph"]
    monkeypatch.setattr(command, "iter_dag_edges", exhausted)
    out = tmp_path / "out.json"
    code, _, err = _run(
        ["check-graph", str(graph), *ROLES, "--list-dags", "1000000", "--json", str(out)]
    )
    _assert_one_line(code, err, "--list-dags 1,000,000", "ask for fewer")
    assert not out.exists() and os.listdir(tmp_path) == ["k7.txt"]
