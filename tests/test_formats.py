"""Tests of the foreign-format layer: text formats, file I/O and library converters."""

from __future__ import annotations

import itertools
import json
import os
import stat

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mesalens.pipeline.errors import GraphError, GraphFormatError
from mesalens.pipeline.formats import parse_graph, read_graph, write_graph
from mesalens.pipeline.formats.causallearn import (
    from_causallearn,
    from_causallearn_matrix,
    to_causallearn,
)
from mesalens.pipeline.formats.dot import read_dot, write_dot
from mesalens.pipeline.formats.json_graph import read_json, write_json
from mesalens.pipeline.formats.names import name_problem, nfc
from mesalens.pipeline.formats.networkx import from_networkx, to_networkx
from mesalens.pipeline.formats.pgmpy import from_pgmpy, to_pgmpy
from mesalens.pipeline.formats.tetrad import read_tetrad, write_tetrad
from mesalens.pipeline.graph import EDGE_KINDS, CausalGraph, Mark

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ----------------------------------------------------------------- strategies

# Characters that break naive writers: separators, quotes, escapes, edge-mark
# characters, brackets, line breaks, and unicode.
_NASTY = [*" ;,\"'\\-<>o.:[](){}#=\t\n\r", "é", "ß", "→", "名", "\u2028", "\x85", "🙂"]
_CHARS = st.one_of(
    st.sampled_from(_NASTY),
    st.characters(blacklist_categories=("Cs",)),  # lone surrogates cannot be UTF-8
    st.sampled_from(list("abcXYZ019_")),
)
# Names every reader takes: no control character, lone surrogate or
# noncharacter (refused up front: see pipeline/formats/names.py).
ANY_NAME = st.text(_CHARS, min_size=1, max_size=8).filter(lambda name: name_problem(name) is None)


def _tetrad_writable(name: str) -> bool:
    wrapped = len(name) > 2 and (name[0], name[-1]) in (("(", ")"), ("[", "]"))
    return not (";" in name or "\n" in name or "\r" in name or name != name.strip() or wrapped)


TETRAD_NAME = ANY_NAME.filter(_tetrad_writable)


@st.composite
def mixed_graphs(draw, names=ANY_NAME, kinds=tuple(EDGE_KINDS), max_nodes=7):
    """Random graph: any edge kinds, random orientation, random insertion order."""
    nodes = draw(st.lists(names, min_size=0, max_size=max_nodes, unique_by=nfc))
    graph = CausalGraph(nodes)
    pairs = [(i, j) for i in range(len(nodes)) for j in range(i + 1, len(nodes))]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True)) if pairs else []
    for i, j in chosen:
        if draw(st.booleans()):
            i, j = j, i
        graph.add_edge(nodes[i], nodes[j], draw(st.sampled_from(kinds)))
    return graph


@st.composite
def pdags(draw, names=ANY_NAME, undirected=True):
    """Random acyclic PDAG (DAG when ``undirected`` is False)."""
    nodes = draw(st.lists(names, min_size=0, max_size=7, unique=True))
    order = draw(st.permutations(range(len(nodes))))
    graph = CausalGraph(nodes)
    kinds = ["-->", "---"] if undirected else ["-->"]
    for a in range(len(order)):
        for b in range(a + 1, len(order)):
            if draw(st.booleans()):
                graph.add_edge(nodes[order[a]], nodes[order[b]], draw(st.sampled_from(kinds)))
    return graph


def _example() -> CausalGraph:
    graph = CausalGraph(["rain", "wet grass", "sprinkler on?", "slip", "ice"])
    graph.add_edge("rain", "wet grass", "-->")
    graph.add_edge("sprinkler on?", "wet grass", "o->")
    graph.add_edge("wet grass", "slip", "---")
    graph.add_edge("slip", "ice", "<->")
    graph.add_edge("rain", "ice", "o-o")
    return graph


def _same(a: CausalGraph, b: CausalGraph) -> None:
    assert a == b
    assert a.nodes == b.nodes  # the order is part of the graph
    assert [str(e) for e in a.edges()] == [str(e) for e in b.edges()]


# ------------------------------------------------------------ round trips


@PROPERTY
@given(mixed_graphs(names=TETRAD_NAME))
def test_tetrad_round_trip(graph):
    try:
        text = write_tetrad(graph)
    except GraphError as exc:
        # Only names that make an edge line ambiguous may be refused here.
        assert "more than one way" in str(exc)
        assume(False)
    _same(read_tetrad(text), graph)


@settings(max_examples=50, deadline=None)  # pydot's parser is slow
@given(mixed_graphs())
def test_dot_round_trip(graph):
    _same(read_dot(write_dot(graph)), graph)


@PROPERTY
@given(mixed_graphs())
def test_json_round_trip(graph):
    text = write_json(graph)
    assert write_json(graph) == text  # deterministic
    _same(read_json(text), graph)


@PROPERTY
@given(mixed_graphs())
def test_causallearn_round_trip(graph):
    back = from_causallearn(to_causallearn(graph))
    assert back == graph
    assert back.nodes == graph.nodes  # edges come back in matrix order, not insertion order


@PROPERTY
@given(pdags())
def test_networkx_round_trip(graph):
    digraph = to_networkx(graph)
    assert tuple(digraph.nodes) == graph.nodes
    assert all(kind in ("-->", "---") for _, _, kind in digraph.edges(data="kind"))
    assert from_networkx(digraph) == graph


@settings(max_examples=40, deadline=None)
@given(pdags())
def test_pgmpy_round_trip(graph):
    model = to_pgmpy(graph)
    assert type(model).__name__ == ("DAG" if graph.kind() == "dag" else "PDAG")
    assert tuple(model.nodes) == graph.nodes
    assert from_pgmpy(model) == graph


def test_named_examples_round_trip_in_every_text_format():
    graph = _example()
    _same(read_tetrad(write_tetrad(graph)), graph)
    _same(read_dot(write_dot(graph)), graph)
    _same(read_json(write_json(graph)), graph)


@pytest.mark.parametrize(
    "names",
    [
        ["node", "edge", "graph", "digraph", "subgraph", "strict"],
        ['say "hi"', "back\\slash", "trail\\", '\\"', "a:port", "<html>", "1.5", "-1"],
        [" lead", "trail ", "x -> y", "a -- b", "\u2028sep", "\u200bzw"],
    ],
)
def test_dot_round_trips_keywords_and_escapes(names):
    graph = CausalGraph(names)
    for u, v in itertools.pairwise(names):
        graph.add_edge(u, v, "o->")
    _same(read_dot(write_dot(graph)), graph)


@pytest.mark.parametrize(
    "name", ["multi\nline", "tab\there", "nul\x00", "esc\x1b[31m", "\x85", "\ufffe"]
)
def test_every_reader_refuses_a_name_no_output_can_hold(name):
    graph = CausalGraph([name, "b"])
    graph.add_edge(name, "b")
    for text, reader in ((write_dot(graph), read_dot), (write_json(graph), read_json)):
        with pytest.raises(GraphFormatError, match="rename the node"):
            reader(text, "g")
    with pytest.raises(GraphError, match="cannot write node"):
        write_tetrad(graph)


def test_tetrad_round_trips_awkward_but_writable_names():
    for names in (["a,b"], ["Graph Edges:"], ["x, y", "z"], ["b", "b dd", "a"]):
        graph = CausalGraph(names)
        if len(names) == 3:
            graph.add_edge("a", "b dd", "-->")
            graph.add_edge("a", "b", "---")
        _same(read_tetrad(write_tetrad(graph)), graph)


# ------------------------------------------------------------ Tetrad reader


def test_tetrad_reads_the_format_of_the_brief():
    text = "Graph Nodes:\nX1;X2;X3\n\nGraph Edges:\n1. X1 --> X2\n2. X2 --- X3\n3. X1 <-> X3\n"
    graph = read_tetrad(text)
    assert graph.nodes == ("X1", "X2", "X3")
    assert [str(e) for e in graph.edges()] == ["X1 --> X2", "X2 --- X3", "X1 <-> X3"]


def test_tetrad_reads_every_edge_kind_with_the_right_marks():
    for kind, (mark_a, mark_b) in EDGE_KINDS.items():
        graph = read_tetrad(f"Graph Nodes:\na;b\n\nGraph Edges:\n1. a {kind} b\n")
        assert graph.mark("b", "a") == mark_a, kind
        assert graph.mark("a", "b") == mark_b, kind


def test_tetrad_reads_names_with_spaces_and_punctuation():
    text = (
        "Graph Nodes:\nwet grass;rain (mm);a --> b;c\n\nGraph Edges:\n"
        "1. rain (mm) --> wet grass\n2. a --> b o-> c\n"
    )
    graph = read_tetrad(text)
    assert graph.edge("rain (mm)", "wet grass").kind == "-->"
    assert graph.edge("a --> b", "c").kind == "o->"


def test_tetrad_ignores_edge_properties_bootstrap_and_later_sections():
    text = (
        "Graph Nodes:\r\nX1,X2,X3,(L1)\r\n\r\nGraph Edges:\r\n"
        "1. X1 --> X2 dd nl\r\n"
        "2. X2 o-> X3 pd pl\r\n"
        "3. L1 --> X3 [no edge]:0.1000;[L1 --> X3]:0.9000;\r\n"
        "\r\nGraph Attributes:\r\nBIC: -1234.5\r\n"
    )
    graph = read_tetrad(text)
    assert graph.nodes == ("X1", "X2", "X3", "L1")
    assert [str(e) for e in graph.edges()] == ["X1 --> X2", "X2 o-> X3", "L1 --> X3"]


def test_tetrad_accepts_tabs_and_several_spaces():
    graph = read_tetrad("Graph Nodes:\na; b\n\nGraph Edges:\n1.\ta  -->\tb\n")
    assert [str(e) for e in graph.edges()] == ["a --> b"]


def test_tetrad_empty_graph_and_missing_edge_section():
    assert len(read_tetrad("Graph Nodes:\n\n\nGraph Edges:\n")) == 0
    graph = read_tetrad("Graph Nodes:\na;b\n")
    assert graph.nodes == ("a", "b") and graph.number_of_edges() == 0


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("", 1, "Graph Nodes:"),
        ("\n\nNodes:\na;b\n", 3, "'Nodes:'"),
        ("Graph Nodes:\na;b\n\nGraph Edges:\n1. a --> c\n", 5, "unknown node 'c'"),
        ("Graph Nodes:\na;b\n\nGraph Edges:\n1. a --> b\n2. z --- b\n", 6, "unknown node 'z'"),
        ("Graph Nodes:\na;b\n\nGraph Edges:\n1. a *-> b\n", 5, "unknown edge mark '*->'"),
        ("Graph Nodes:\na;b\n\nGraph Edges:\n1. a -x- b\n", 5, "unknown edge mark '-x-'"),
        ("Graph Nodes:\na;b\n\nGraph Edges:\n1. a -> b\n", 5, "unknown edge mark '->'"),
        ("Graph Nodes:\na;b;a\n\nGraph Edges:\n", 2, "duplicate node name 'a'"),
        ("Graph Nodes:\na;;b\n", 2, "empty node name"),
        (
            "Graph Nodes:\na;b\n\nGraph Edges:\n1. a --> b\n2. b <-> a\n",
            6,
            "first is on line 5",
        ),
        ("Graph Nodes:\na;b\n\nGraph Edges:\n1. a --> a\n", 5, "self-loop"),
        ("Graph Nodes:\na;b\n\nEdges:\n1. a --> b\n", 4, "expected 'Graph Edges:'"),
        ("Graph Nodes:\na;b\n\nGraph Edges:\na --> b\n", 5, "expected an edge line"),
        (
            "Graph Nodes:\na;a --> b;b --> c;c\n\nGraph Edges:\n1. a --> b --> c\n",
            5,
            "more than one way",
        ),
    ],
)
def test_tetrad_errors_name_source_and_line(text, line, needle):
    with pytest.raises(GraphFormatError) as info:
        read_tetrad(text, source="g.txt")
    assert info.value.line == line
    assert info.value.source == "g.txt"
    message = str(info.value)
    assert message.startswith(f"g.txt, line {line}: ")
    assert needle in message


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("a;b", "';'"),
        ("two\nlines", "line break"),
        (" padded", "whitespace"),
        ("(latent)", "latent"),
    ],
)
def test_tetrad_writer_refuses_unwritable_names(name, needle):
    with pytest.raises(GraphError) as info:
        write_tetrad(CausalGraph([name, "other"]))
    assert not isinstance(info.value, GraphFormatError)
    assert repr(name) in str(info.value) and needle in str(info.value)


def test_tetrad_writer_refuses_ambiguous_edge_lines():
    graph = CausalGraph(["a", "a --> b", "b --> c", "c"])
    graph.add_edge("a", "b --> c", "-->")
    with pytest.raises(GraphError, match="more than one way"):
        write_tetrad(graph)


# ------------------------------------------------------- causal-learn text


def _causallearn_graph():
    from causallearn.graph.Edge import Edge
    from causallearn.graph.Endpoint import Endpoint
    from causallearn.graph.GeneralGraph import GeneralGraph
    from causallearn.graph.GraphNode import GraphNode

    nodes = [GraphNode(name) for name in ["A", "B", "C", "D", "E", "F"]]
    general = GeneralGraph(nodes)
    a, b, c, d, e, f = nodes
    tail, arrow, circle = Endpoint.TAIL, Endpoint.ARROW, Endpoint.CIRCLE
    for edge in [
        Edge(a, b, tail, arrow),
        Edge(b, c, tail, tail),
        Edge(c, d, arrow, arrow),
        Edge(d, e, circle, arrow),
        Edge(e, f, circle, circle),
        Edge(f, a, tail, circle),
        Edge(a, c, arrow, tail),  # causal-learn flips this to C --> A
    ]:
        general.add_edge(edge)
    return general


def test_read_tetrad_reads_causallearns_own_writer():
    general = _causallearn_graph()
    graph = read_tetrad(str(general))
    _same(graph, from_causallearn(general))
    assert graph.edge("A", "B").kind == "-->"
    assert graph.edge("C", "A").kind == "-->"
    assert graph.edge("C", "D").kind == "<->"
    assert graph.edge("D", "E").kind == "o->"
    assert graph.edge("E", "F").kind == "o-o"
    assert graph.edge("F", "A").kind == "--o"


def test_read_tetrad_reads_causallearn_empty_graph():
    from causallearn.graph.GeneralGraph import GeneralGraph

    assert len(read_tetrad(str(GeneralGraph([])))) == 0


def test_causallearn_txt2generalgraph_reads_write_tetrad(tmp_path):
    from causallearn.utils.TXT2GeneralGraph import txt2generalgraph

    graph = CausalGraph(["A", "B", "C", "D", "E", "F"])
    for u, v, kind in [
        ("A", "B", "-->"),
        ("B", "C", "---"),
        ("C", "D", "<->"),
        ("D", "E", "o->"),
        ("E", "F", "o-o"),
        ("A", "F", "--o"),
        ("B", "E", "o--"),  # must be written as "E --o B": causal-learn drops "o--"
        ("A", "C", "<--"),
        ("B", "D", "<-o"),
    ]:
        graph.add_edge(u, v, kind)
    path = tmp_path / "g.txt"
    write_graph(graph, path)
    _same(from_causallearn(txt2generalgraph(str(path))), from_causallearn(to_causallearn(graph)))
    assert from_causallearn(txt2generalgraph(str(path))) == graph


def test_read_tetrad_reads_a_real_pc_result():
    from causallearn.search.ConstraintBased.PC import pc

    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    z = rng.normal(size=2000)
    y = x + z + 0.5 * rng.normal(size=2000)
    w = y + 0.5 * rng.normal(size=2000)
    result = pc(np.column_stack([x, y, z, w]), node_names=["x", "y", "z", "w"], show_progress=False)
    graph = read_tetrad(str(result.G))
    _same(graph, from_causallearn(result.G))
    assert graph.edge("x", "y").kind == "-->"
    assert graph.edge("z", "y").kind == "-->"
    assert graph.edge("y", "w").kind == "-->"


# ------------------------------------------------------------ DOT reader


def test_dot_reads_marks_from_dir_and_arrow_shapes():
    text = """digraph g {
      a -> b;
      b -> c [dir=none];
      c -> d [dir=both];
      d -> e [dir=both, arrowtail=odot, arrowhead=normal];
      e -> f [dir=both, arrowtail=odot, arrowhead=odot];
      f -> g [dir=back];
      g -> h [arrowhead=odot];
      "h" -> "i" [dir="both", arrowtail="none", arrowhead="odot"];
    }"""
    graph = read_dot(text)
    assert [str(e) for e in graph.edges()] == [
        "a --> b",
        "b --- c",
        "c <-> d",
        "d o-> e",
        "e o-o f",
        "g --> f",
        "g --o h",
        "h --o i",
    ]
    assert graph.nodes == tuple("abcdefghi")


def test_dot_reads_tetrads_graph_to_dot_output():
    text = (
        'digraph g {\n "X1" -> "X2" [arrowtail=none, arrowhead=normal]; \n'
        ' "X2" -> "X3" [dir=both, arrowtail=odot, arrowhead=normal]; \n'
        ' "X3" -> "X4" [arrowtail=none, arrowhead=none]; \n}\n'
    )
    assert [str(e) for e in read_dot(text).edges()] == ["X1 --> X2", "X2 o-> X3", "X3 --- X4"]


def test_dot_undirected_graph_defaults_ports_and_isolated_nodes():
    graph = read_dot('graph { lonely; "a b" -- c; c:n -- d:s }')
    assert graph.nodes == ("lonely", "a b", "c", "d")
    assert [str(e) for e in graph.edges()] == ["a b --- c", "c --- d"]


def test_dot_edge_default_statements_apply_to_later_edges():
    graph = read_dot(
        "digraph { a -> b; edge [dir=none]; b -> c; subgraph s { edge [dir=both]; c -> d } d -> e }"
    )
    assert [str(e) for e in graph.edges()] == ["a --> b", "b --- c", "c <-> d", "d --- e"]


def test_dot_strict_graph_merges_identical_edges():
    graph = read_dot("strict digraph { a -> b; a -> b }")
    assert [str(e) for e in graph.edges()] == ["a --> b"]


def test_dot_parse_error_names_line_and_text():
    with pytest.raises(GraphFormatError) as info:
        read_dot("digraph {\n  a -> b;\n  c -> ;\n}\n", source="g.dot")
    assert info.value.line == 3
    assert str(info.value).startswith("g.dot, line 3: ")
    assert "'c -> ;'" in str(info.value)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "invalid DOT"),
        ("not dot at all", "invalid DOT"),
        ("digraph { a -> b } digraph { c }", "2 DOT graphs"),
        ("digraph { a -> b; b -> a }", "two edges between"),
        ("digraph { a -> b; a -> b [dir=none] }", "two edges between"),
        ("digraph { a -> a }", "self-loop"),
        ("digraph { a -> b [arrowhead=diamond] }", "arrowhead='diamond'"),
        ("digraph { a -> b [dir=sideways] }", "dir='sideways'"),
        ("digraph { a -> {b c} }", "subgraph"),
    ],
)
def test_dot_errors(text, needle):
    with pytest.raises(GraphFormatError) as info:
        read_dot(text, source="g.dot")
    assert str(info.value).startswith("g.dot")
    assert needle in str(info.value)


def test_dot_writer_quotes_and_orders():
    text = write_dot(_example())
    assert text.startswith("digraph {\n")
    assert '  "sprinkler on?" -> "wet grass" [dir=both, arrowtail=odot, arrowhead=normal];' in text
    assert '  "wet grass" -> "slip" [dir=none];' in text
    assert '  "rain" -> "wet grass";' in text


# ------------------------------------------------------------ JSON reader


def test_json_writer_output_is_the_documented_form():
    data = json.loads(write_json(_example()))
    assert data["format"] == "mesalens-graph" and data["version"] == 1
    assert data["nodes"] == list(_example().nodes)
    assert data["edges"][0] == {"source": "rain", "target": "wet grass", "kind": "-->"}
    assert write_json(_example()).startswith('{\n  "format"')


@pytest.mark.parametrize("link_key", ["links", "edges"])
def test_json_reads_networkx_node_link_data(link_key):
    digraph = nx.DiGraph()
    digraph.add_nodes_from(["a", "b", "c", "d", 7])
    digraph.add_edges_from([("a", "b"), ("b", "c"), ("c", "b"), (7, "d")])
    digraph.add_edge("d", "a", kind="o->")
    data = nx.node_link_data(digraph, edges=link_key)
    graph = read_json(json.dumps(data))
    assert graph.nodes == ("a", "b", "c", "d", "7")
    assert sorted(str(e) for e in graph.edges()) == ["7 --> d", "a --> b", "b --- c", "d o-> a"]


def test_json_reads_undirected_node_link_data():
    data = nx.node_link_data(nx.Graph([("a", "b"), ("b", "c")]), edges="links")
    assert [str(e) for e in read_json(json.dumps(data)).edges()] == ["a --- b", "b --- c"]


def test_json_round_trips_to_networkx_node_link_data():
    graph = CausalGraph(["a", "b", "c"])
    graph.add_edge("a", "b", "-->")
    graph.add_edge("b", "c", "---")
    data = nx.node_link_data(to_networkx(graph), edges="links")
    assert read_json(json.dumps(data)) == graph


def test_json_syntax_error_names_line_and_column():
    with pytest.raises(GraphFormatError) as info:
        read_json('{\n  "nodes": ["a",\n  ]\n}', source="g.json")
    assert info.value.line == 3
    assert str(info.value).startswith("g.json, line 3: invalid JSON at column")


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ([1, 2], "should be an object"),
        ({"format": "mesalens-graph", "nodes": []}, "no key 'edges'"),
        ({"format": "mesalens-graph", "edges": []}, "no key 'nodes'"),
        ({"format": "other", "nodes": [], "edges": []}, "unknown graph format 'other'"),
        ({"format": "mesalens-graph", "version": 2, "nodes": [], "edges": []}, "version 2"),
        ({"format": "mesalens-graph", "nodes": ["a", "a"], "edges": []}, "duplicate node"),
        ({"format": "mesalens-graph", "nodes": ["a", 3], "edges": []}, "nodes[1]"),
        (
            {"nodes": ["a"], "edges": [{"source": "a", "target": "zz", "kind": "-->"}]},
            "edges[0]: unknown node 'zz'",
        ),
        (
            {"nodes": ["a", "b"], "edges": [{"source": "a", "target": "b", "kind": "==>"}]},
            "unknown edge kind '==>'",
        ),
        ({"nodes": ["a", "b"], "edges": [{"source": "a", "target": "b"}]}, "no key 'kind'"),
        (
            {
                "nodes": ["a", "b"],
                "edges": [
                    {"source": "a", "target": "b", "kind": "-->"},
                    {"source": "b", "target": "a", "kind": "-->"},
                ],
            },
            "disagree",
        ),
        (
            {"directed": True, "nodes": [{"id": "a"}], "links": [{"source": "a", "target": "b"}]},
            "links[0].target: unknown node",
        ),
        ({"directed": True, "nodes": [{"name": "a"}], "links": []}, "nodes[0] has no key 'id'"),
        (
            {
                "directed": True,
                "nodes": [{"id": "a"}, {"id": "b"}],
                "links": [
                    {"source": "a", "target": "b"},
                    {"source": "b", "target": "a", "kind": "---"},
                ],
            },
            "disagree",
        ),
        (
            {
                "directed": False,
                "nodes": [{"id": "a"}, {"id": "b"}],
                "links": [{"source": "a", "target": "b"}, {"source": "b", "target": "a"}],
            },
            "second link",
        ),
        ({"directed": True, "nodes": [{"id": 1}, {"id": "1"}], "links": []}, "duplicate node"),
    ],
)
def test_json_errors(data, needle):
    with pytest.raises(GraphFormatError) as info:
        read_json(json.dumps(data), source="g.json")
    assert str(info.value).startswith("g.json: ")
    assert needle in str(info.value)


# ------------------------------------------------------------ causal-learn


def test_causallearn_matrix_convention_matches_causallearn():
    from causallearn.graph.Edge import Edge
    from causallearn.graph.Endpoint import Endpoint
    from causallearn.graph.GeneralGraph import GeneralGraph
    from causallearn.graph.GraphNode import GraphNode

    # Built with causal-learn's own API: the endpoint at node i is G[i, j].
    nodes = [GraphNode(n) for n in "ijk"]
    general = GeneralGraph(nodes)
    general.add_edge(Edge(nodes[0], nodes[1], Endpoint.TAIL, Endpoint.ARROW))  # i --> j
    general.add_edge(Edge(nodes[1], nodes[2], Endpoint.CIRCLE, Endpoint.ARROW))  # j o-> k
    assert general.graph[0, 1] == -1 and general.graph[1, 0] == 1
    assert general.graph[1, 2] == 2 and general.graph[2, 1] == 1

    graph = from_causallearn(general)
    assert [str(e) for e in graph.edges()] == ["i --> j", "j o-> k"]
    assert np.array_equal(to_causallearn(graph).graph, general.graph)


def test_from_causallearn_matrix_documented_cases():
    names = ["i", "j"]
    cases = {
        "-->": [[0, -1], [1, 0]],
        "---": [[0, -1], [-1, 0]],
        "<->": [[0, 1], [1, 0]],
        "o->": [[0, 2], [1, 0]],
        "o-o": [[0, 2], [2, 0]],
        "--o": [[0, -1], [2, 0]],
    }
    for kind, matrix in cases.items():
        graph = from_causallearn_matrix(np.array(matrix), names)
        assert graph.edge("i", "j").kind == kind
        assert to_causallearn(graph).graph.tolist() == matrix


def test_from_causallearn_renames_nodes():
    graph = from_causallearn(_causallearn_graph(), names=list("uvwxyz"))
    assert graph.nodes == tuple("uvwxyz")
    assert graph.edge("u", "v").kind == "-->"
    with pytest.raises(GraphError, match="2 names were given for a causal-learn graph with 6"):
        from_causallearn(_causallearn_graph(), names=["a", "b"])


@pytest.mark.parametrize(
    ("matrix", "needle"),
    [
        ([[0, 4], [5, 0]], "TAIL_AND_ARROW"),
        ([[0, 3], [1, 0]], "STAR"),
        ([[0, 7], [1, 0]], "code 7"),
        ([[0, -1], [0, 0]], "only one end"),
        ([[1, 0], [0, 0]], "diagonal"),
        ([[0, -1, 0], [1, 0, 0]], "square"),
    ],
)
def test_from_causallearn_matrix_errors(matrix, needle):
    with pytest.raises(GraphError) as info:
        from_causallearn_matrix(np.array(matrix), ["left", "right"])
    assert needle in str(info.value)
    if "only one" in needle or needle in ("TAIL_AND_ARROW", "STAR", "code 7"):
        assert "'left'" in str(info.value) and "'right'" in str(info.value)


def test_from_causallearn_rejects_two_edges_on_one_pair():
    from causallearn.graph.Edge import Edge
    from causallearn.graph.Endpoint import Endpoint
    from causallearn.graph.GeneralGraph import GeneralGraph
    from causallearn.graph.GraphNode import GraphNode

    a, b = GraphNode("a"), GraphNode("b")
    general = GeneralGraph([a, b])
    general.add_edge(Edge(a, b, Endpoint.ARROW, Endpoint.ARROW))
    general.add_edge(Edge(a, b, Endpoint.TAIL, Endpoint.ARROW))  # causal-learn: TAIL_AND_ARROW
    with pytest.raises(GraphError, match=r"between 'a' and 'b'.*(TAIL|ARROW)_AND_ARROW"):
        from_causallearn(general)


def test_from_causallearn_accepts_float_matrices():
    from causallearn.graph.GeneralGraph import GeneralGraph
    from causallearn.graph.GraphNode import GraphNode

    general = GeneralGraph([])
    for name in "ab":
        general.add_node(GraphNode(name))  # add_node turns the matrix into floats
    assert general.graph.dtype.kind == "f"
    assert from_causallearn(general).nodes == ("a", "b")


# ------------------------------------------------------------ pgmpy


def test_pgmpy_types_and_pag_refusal():
    from pgmpy.base import DAG, PDAG

    dag = CausalGraph(["b", "a"])
    dag.add_edge("b", "a")
    assert isinstance(to_pgmpy(dag), DAG) and not isinstance(to_pgmpy(dag), PDAG)
    with pytest.raises(GraphError, match="sprinkler on\\? o-> wet grass"):
        to_pgmpy(_example())


def test_pgmpy_refuses_cycles():
    graph = CausalGraph(["a", "b", "c"])
    graph.add_edge("a", "b")
    graph.add_edge("b", "c")
    graph.add_edge("c", "a")
    with pytest.raises(GraphError, match="directed cycle"):
        to_pgmpy(graph)


def test_from_pgmpy_reads_pgmpys_own_pdag():
    from pgmpy.base import DAG, PDAG

    pdag = PDAG(directed_ebunch=[("A", "C"), ("D", "C")], undirected_ebunch=[("B", "A")])
    graph = from_pgmpy(pdag)
    expected = CausalGraph(graph.nodes)  # pgmpy orders these nodes by a set
    expected.add_edge("A", "C", "-->")
    expected.add_edge("D", "C", "-->")
    expected.add_edge("B", "A", "---")
    assert set(graph.nodes) == {"A", "B", "C", "D"}
    assert graph == expected
    assert sorted(map(str, from_pgmpy(DAG([("x", "y")])).edges())) == ["x --> y"]


def test_from_pgmpy_errors():
    from pgmpy.base import PDAG

    pdag = PDAG(directed_ebunch=[("A", "C")])
    pdag.add_edge("C", "B")  # not recorded in directed_edges
    with pytest.raises(GraphError, match="calibrate_directed_undirected_edges"):
        from_pgmpy(pdag)
    with pytest.raises(GraphError, match="expected a pgmpy DAG or PDAG but got DiGraph"):
        from_pgmpy(nx.DiGraph())


# ------------------------------------------------------------ networkx


def test_to_networkx_marks_every_edge_and_refuses_pags():
    graph = CausalGraph(["a", "b", "c"])
    graph.add_edge("a", "b")
    graph.add_edge("b", "c", "---")
    assert sorted(to_networkx(graph).edges(data="kind")) == [
        ("a", "b", "-->"),
        ("b", "c", "---"),
        ("c", "b", "---"),
    ]
    with pytest.raises(GraphError, match="networkx"):
        to_networkx(_example())


def test_from_networkx_conventions():
    digraph = nx.DiGraph()
    digraph.add_edges_from([(1, 2), (2, 3), (3, 2)])
    digraph.add_edge(3, 4, kind="o->")
    digraph.add_edge(4, 5, kind="<->")
    digraph.add_edge(6, 5, kind="---")
    digraph.add_edge(5, 6, kind="---")
    graph = from_networkx(digraph)
    assert graph.nodes == ("1", "2", "3", "4", "5", "6")
    assert [str(e) for e in graph.edges()] == [
        "1 --> 2",
        "2 --- 3",
        "3 o-> 4",
        "4 <-> 5",
        "5 --- 6",
    ]
    undirected = from_networkx(nx.Graph([("a", "b"), ("b", "c")]))
    assert [str(e) for e in undirected.edges()] == ["a --- b", "b --- c"]


@pytest.mark.parametrize(
    ("g", "needle"),
    [
        (nx.Graph([("a", "b", {"kind": "-->"})]), "use a DiGraph"),
        (nx.DiGraph([("a", "b", {"kind": "-->"}), ("b", "a", {"kind": "-->"})]), "disagree"),
        (nx.DiGraph([("a", "b", {"kind": "-->"}), ("b", "a")]), "disagree"),
        (nx.DiGraph([("a", "b", {"kind": "=>"})]), "unknown edge kind '=>'"),
        (nx.DiGraph([("a", "a")]), "self-loop"),
        (nx.DiGraph([((1, 2), "b")]), "relabel"),
        (nx.DiGraph([(1, "1")]), "same name"),
        (nx.MultiDiGraph([("a", "b"), ("a", "b")]), "second link"),
    ],
)
def test_from_networkx_errors(g, needle):
    with pytest.raises(GraphError) as info:
        from_networkx(g)
    assert needle in str(info.value)


# ------------------------------------------------------------ files


@pytest.mark.parametrize(
    ("filename", "reader"),
    [
        ("g.txt", read_tetrad),
        ("g.tetrad", read_tetrad),
        ("g.graph", read_tetrad),
        ("g.dot", read_dot),
        ("g.GV", read_dot),
        ("g.json", read_json),
    ],
)
def test_write_and_read_graph_by_extension(tmp_path, filename, reader):
    path = tmp_path / filename
    write_graph(_example(), path)
    _same(read_graph(path), _example())
    _same(reader(path.read_text(encoding="utf-8")), _example())
    assert os.listdir(tmp_path) == [filename]  # no temporary file left behind


def test_format_argument_overrides_extension(tmp_path):
    path = tmp_path / "graph.data"
    write_graph(_example(), path, format="DOT")
    assert path.read_text(encoding="utf-8").startswith("digraph")
    _same(read_graph(path, format="dot"), _example())
    _same(parse_graph(path.read_text(encoding="utf-8"), "dot", str(path)), _example())


def test_unknown_extension_or_format(tmp_path):
    with pytest.raises(GraphFormatError) as info:
        read_graph(tmp_path / "graph.xml")
    message = str(info.value)
    assert "'.xml'" in message and "format=" in message
    for expected in ("tetrad", ".tetrad", "dot", ".gv", "json", ".json"):
        assert expected in message
    with pytest.raises(GraphFormatError, match="unknown graph format 'yaml'"):
        parse_graph("", "yaml")
    with pytest.raises(GraphFormatError, match="no extension"):
        write_graph(_example(), tmp_path / "graph")


def test_read_graph_file_errors_name_the_path(tmp_path):
    missing = tmp_path / "missing.dot"
    with pytest.raises(GraphFormatError) as info:
        read_graph(missing)
    assert str(missing) in str(info.value) and "No such file" in str(info.value)

    folder = tmp_path / "folder.json"
    folder.mkdir()
    with pytest.raises(GraphFormatError, match="cannot read"):
        read_graph(folder)

    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Graph Nodes:\ncaf\xe9;b\n".encode("latin-1"))
    with pytest.raises(GraphFormatError) as info:
        read_graph(latin1)
    assert info.value.line == 2 and str(latin1) in str(info.value) and "UTF-8" in str(info.value)


def test_read_graph_skips_byte_order_mark_and_reports_parse_errors_with_path(tmp_path):
    path = tmp_path / "g.txt"
    path.write_bytes(b"\xef\xbb\xbfGraph Nodes:\na;b\n\nGraph Edges:\n1. a --> b\n")
    assert [str(e) for e in read_graph(path).edges()] == ["a --> b"]
    path.write_text("Graph Nodes:\na;b\n\nGraph Edges:\n1. a --> q\n", encoding="utf-8")
    with pytest.raises(GraphFormatError) as info:
        read_graph(path)
    assert str(info.value).startswith(f"{path}, line 5: ")


def test_write_graph_replaces_atomically_and_keeps_mode(tmp_path):
    path = tmp_path / "g.json"
    path.write_text("old", encoding="utf-8")
    os.chmod(path, 0o640)
    write_graph(_example(), path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    _same(read_graph(path), _example())

    # A graph the format cannot hold leaves the old file untouched.
    bad = CausalGraph(["a;b"])
    tetrad_path = tmp_path / "g.txt"
    tetrad_path.write_text("old", encoding="utf-8")
    with pytest.raises(GraphError, match="';'"):
        write_graph(bad, tetrad_path)
    assert tetrad_path.read_text(encoding="utf-8") == "old"
    assert sorted(os.listdir(tmp_path)) == ["g.json", "g.txt"]


def test_write_graph_errors_name_the_path(tmp_path):
    target = tmp_path / "no such dir" / "g.dot"
    with pytest.raises(GraphFormatError) as info:
        write_graph(_example(), target)
    assert str(target) in str(info.value) and "cannot write" in str(info.value)
    with pytest.raises(GraphFormatError, match="UTF-8"):
        write_graph(CausalGraph(["bad\udc80"]), tmp_path / "g.json")
    assert os.listdir(tmp_path) == []


def test_marks_of_example_survive_every_converter_that_keeps_marks():
    graph = _example()
    for back in (
        read_tetrad(write_tetrad(graph)),
        read_dot(write_dot(graph)),
        read_json(write_json(graph)),
        from_causallearn(to_causallearn(graph)),
    ):
        assert back.mark("sprinkler on?", "wet grass") == Mark.ARROW
        assert back.mark("wet grass", "sprinkler on?") == Mark.CIRCLE
