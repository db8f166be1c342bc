"""The advice against brute force: applying each piece gives the stated verdict and counts.

Every DAG of a small random class is listed by trying every orientation
(tests/reference.py, which shares no code with mesalens.pipeline); each
piece of advice is then applied to that list by hand (keep the DAGs with
the edge, with the parents the experiment would reveal, with the required
edges; or re-judge every DAG under the new policy inputs) and its counts
compared with what the advice states.
"""

from __future__ import annotations

import itertools

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesalens.pipeline.advice import Tally, advise, parts_with_edges
from mesalens.pipeline.advice_knowledge import MAX_KNOWLEDGE
from mesalens.pipeline.checker import check, restricted_class
from mesalens.pipeline.counting import ExtensionCounter
from mesalens.pipeline.errors import GraphError
from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.knowledge import read_tetrad_knowledge
from mesalens.pipeline.knowledge_graph import apply_knowledge
from mesalens.pipeline.roles import Roles
from tests.reference import all_extensions, brute_force_check, cpdag_of
from tests.test_checker import build, check_instances, names


@st.composite
def undecided_instances(draw):
    """A class built around an undecided core, grown with random nodes.

    The core is ``s --> x``, ``x --> D``, ``x --> Yb`` and ``D --- Yb`` with a
    policy reading ``s``: ``s --> D --> Yb`` is open exactly when D --> Yb.
    Further nodes join with parents that form a clique (so that most edges
    stay unoriented) and sometimes one more edge (a v-structure); they may
    be mesa nodes or policy inputs too. Labels are shuffled.
    """
    n = draw(st.integers(4, 7))
    forward = draw(st.booleans())
    parents: dict[int, set[int]] = {0: set(), 1: {0}}
    if forward:
        parents[2], parents[3], order = {1}, {1, 2}, [0, 1, 2, 3]
    else:
        parents[3], parents[2], order = {1}, {1, 3}, [0, 1, 3, 2]
    for v in range(4, n):
        anchor = draw(st.sampled_from(order))
        clique = sorted(parents[anchor] | {anchor})
        parents[v] = set(draw(st.lists(st.sampled_from(clique), unique=True, min_size=1)))
        if draw(st.integers(0, 3)) == 0:
            parents[v].add(draw(st.sampled_from(order)))
        order.append(v)
    extras = list(range(4, n))
    mesa = (
        (1, *draw(st.lists(st.sampled_from(extras), unique=True, max_size=1))) if extras else (1,)
    )
    others = [v for v in range(n) if v not in (2,)]
    policy = tuple(
        dict.fromkeys(
            ([0] if draw(st.integers(0, 3)) else [])
            + draw(st.lists(st.sampled_from(others), unique=True, max_size=2))
        )
    )
    if draw(st.integers(0, 7)) == 0:
        policy = None
    label = draw(st.permutations(range(n)))
    dag = sorted((label[p], label[v]) for v, ps in parents.items() for p in ps)
    directed, undirected = cpdag_of(n, dag)
    return (
        n,
        sorted(directed),
        sorted(undirected),
        label[0],
        (label[3],),
        tuple(label[m] for m in mesa),
        (label[2],),
        None if policy is None else tuple(label[p] for p in policy),
    )


def _brute(n, dags, s, base, mesa, decisions, inputs) -> Tally:
    total = Tally()
    for entry in brute_force_check(n, dags, s, base, mesa, decisions, inputs).values():
        total += Tally(entry.n_dags, entry.n_hold, entry.n_fail, entry.n_invalid)
    return total


def _rooted(n, dags, s):
    """The DAGs of the list in which the regime has no parents (the restricted class)."""
    return [d for d in dags if not any(b == s for _, b in d)]


def _setup(instance):
    n, directed, undirected, s, base, mesa, decisions, policy = instance
    label = names(n)
    roles = Roles(
        regime=label[s],
        base=tuple(label[b] for b in base),
        mesa=tuple(label[m] for m in mesa),
        decision=tuple(label[d] for d in decisions),
        policy_inputs=None if policy is None else tuple(label[p] for p in policy),
    )
    graph = build(n, directed, undirected)
    dags = _rooted(n, all_extensions(n, directed, undirected), s)
    return n, label, roles, graph, dags, (s, base, mesa, decisions)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(undecided_instances(), check_instances()))
def test_every_piece_of_advice_gives_the_stated_counts(instance):
    n, label, roles, graph, dags, (s, base, mesa, decisions) = _setup(instance)
    if not dags:
        return
    result = check(graph, roles)
    inputs = instance[-1]
    assert Tally.of(result) == _brute(n, dags, s, base, mesa, decisions, inputs)
    advice = advise(result).to_dict()
    index = {name: i for i, name in enumerate(label)}

    def tally_where(keep) -> Tally:
        chosen = [d for d in dags if keep(d)]
        return _brute(n, chosen, s, base, mesa, decisions, inputs)

    def stated(row) -> Tally:
        return Tally(row["n_dags"], row["n_hold"], row["n_fail"], row["n_invalid"])

    if result.verdict != "some":
        assert advice["edges"] == advice["knowledge"] == advice["experiments"] == []
    for row in advice["edges"]:
        undecided = 0
        for orientation in row["orientations"]:
            t, h = (index[v] for v in orientation["edge"])
            want = tally_where(lambda d, t=t, h=h: (t, h) in d)
            assert stated(orientation) == want, f"orienting {orientation['edge']}"
            assert orientation["verdict"] == want.verdict
            undecided += want.undecided
        assert row["undecided"] == undecided < len(dags)
    sizes = {row["size"] for row in advice["knowledge"]}
    assert len(sizes) <= 1, "only the smallest settling knowledge is listed"
    for row in advice["knowledge"]:
        knowledge = read_tetrad_knowledge(row["text"])
        assert sorted(knowledge.required) == sorted(tuple(e) for e in row["required"])
        assert sorted(knowledge.forbidden) == sorted(tuple(e) for e in row["forbidden"])
        assert knowledge.tiers == row["tiers"]
        assert row["size"] == (len(row["tiers"]) - 1 if row["tiers"] else len(row[row["form"]]))
        want = tally_where(lambda d, k=knowledge: _satisfies(d, k, label))
        assert stated(row) == want and want.verdict != "some", row["text"]
        # The knowledge file, passed back: the same counts through check-graph's path.
        again = check(apply_knowledge(graph, knowledge), roles)
        assert Tally.of(again) == want
    if result.verdict == "some" and advice["budget"]["resolution_complete"]:
        _assert_smallest_and_all_listed(advice, tally_where, n, label, dags)
    for row in advice["experiments"]:
        x = index[row["intervene_on"]]
        covered, undecided = 0, 0
        for outcome in row["outcomes"]:
            parents = {index[p] for p in outcome["parents"]}
            want = tally_where(lambda d, x=x, p=parents: {a for a, b in d if b == x} == p)
            assert stated(outcome) == want, f"intervening on {row['intervene_on']}"
            covered += want.n_dags
            undecided += want.undecided
        if row["n_outcomes"] == len(row["outcomes"]):
            assert covered == len(dags)
            assert row["undecided"] == undecided < len(dags)
    if result.verdict == "all":
        assert advice["policy"] is None
        return
    policy = advice["policy"]
    for row in policy["passing"]:
        new = tuple(index[v] for v in row["inputs"])
        want = _brute(n, dags, s, base, mesa, decisions, new)
        assert stated(row) == want and want.verdict == "all", f"policy {row['inputs']}"
    if policy["complete"] and policy["largest_change"] >= 1 and policy["n_passing"] <= 8:
        # Every one-change policy that passes by brute force is listed.
        others = [v for v in range(n) if v not in decisions]
        if inputs is None:
            singles = [(), *((v,) for v in others)]
        else:
            singles = [tuple(p for p in inputs if p != v) for v in inputs]
            singles += [(*inputs, v) for v in others if v not in inputs]
        passing = {tuple(sorted(index[v] for v in row["inputs"])) for row in policy["passing"]}
        for candidate in singles:
            verdict = _brute(n, dags, s, base, mesa, decisions, candidate).verdict
            if policy["largest_change"] == 1 or verdict != "all":
                assert (verdict == "all") == (tuple(sorted(candidate)) in passing), candidate
    for row in policy["invalid_inputs"]:
        p = index[row["input"]]
        downstream = [
            d for d in dags if any(nx.has_path(nx.DiGraph(list(d)), dm, p) for dm in decisions)
        ]
        assert row["n_downstream"] == len(downstream) > 0
        assert row["n_dags"] == len(dags)
        cycle = [index[v] for v in row["cycle"]]
        assert cycle[0] == cycle[-1] in decisions and cycle[-2] == p
        assert any(all(e in d for e in itertools.pairwise(cycle[:-1])) for d in dags)


def _satisfies(dag, knowledge, label) -> bool:
    """Whether a DAG (index edges) obeys the knowledge: by its definition, not by the code's."""
    edges = {(label[a], label[b]) for a, b in dag}
    tier = {name: k for k, names_ in enumerate(knowledge.tiers) for name in names_}
    return (
        knowledge.required <= edges
        and not knowledge.forbidden & edges
        and not any(a in tier and b in tier and tier[a] > tier[b] for a, b in edges)
    )


def _assert_smallest_and_all_listed(advice, tally_where, n, label, dags) -> None:
    """The listed knowledge is the smallest that settles, and all of it (brute force).

    Size 1 is a single required or forbidden edge between any two nodes, or
    one node before (after) all of its two or more undirected neighbours.
    When any settles, exactly those are listed (unless the list is cut);
    when none does, what is listed has size 2.
    """

    def settles(keep) -> bool:
        tally = tally_where(keep)
        return bool(tally.n_dags) and tally.verdict != "some"

    required, forbidden, tiers = set(), set(), set()
    for a, b in itertools.permutations(range(n), 2):
        if settles(lambda d, a=a, b=b: (a, b) in d):
            required.add((label[a], label[b]))
        if settles(lambda d, a=a, b=b: (a, b) not in d):
            forbidden.add((label[a], label[b]))
    for x in range(n):
        # x's undirected neighbours: adjacent, and oriented both ways among the DAGs.
        into = {a for d in dags for a, b in d if b == x}
        around = into & {b for d in dags for a, b in d if a == x}
        if len(around) < 2:
            continue
        group = tuple(sorted(label[y] for y in around))
        for first in (True, False):
            if settles(
                lambda d, x=x, first=first, around=around: all(
                    ((x, y) if first else (y, x)) in d for y in around
                )
            ):
                tiers.add(((label[x],), group) if first else (group, (label[x],)))
    # On a fixed class a forbidden b --> a is the required a --> b: never smaller.
    assert forbidden == {(b, a) for a, b in required}
    rows = advice["knowledge"]
    if not (required or tiers):
        assert all(row["size"] == 2 for row in rows)
        return
    assert rows and all(row["size"] == 1 for row in rows)
    if len(rows) < MAX_KNOWLEDGE:
        listed = {form: set() for form in ("required", "forbidden", "tiers")}
        for row in rows:
            if row["form"] == "tiers":
                listed["tiers"].add(tuple(tuple(t) for t in row["tiers"]))
            else:
                listed[row["form"]].add(tuple(row[row["form"]][0]))
        assert listed == {"required": required, "forbidden": forbidden, "tiers": tiers}


def test_the_undecided_example_advice_and_its_knowledge_file():
    g = CausalGraph(["regime", "value", "final_action", "got_coin"])
    for u, v in [
        ("regime", "value"),
        ("value", "final_action"),
        ("value", "got_coin"),
        ("final_action", "got_coin"),
    ]:
        g.add_edge(u, v, "---")
    roles = Roles("regime", ("got_coin",), ("value",), ("final_action",), ("value", "regime"))
    result = check(g, roles)
    advice = advise(result).to_dict()
    assert result.verdict == "some"
    [edge] = advice["edges"]
    assert edge["edge"] == ["final_action", "got_coin"] and edge["undecided"] == 0
    assert [o["verdict"] for o in edge["orientations"]] == ["none", "all"]
    assert [(k["form"], k[k["form"]]) for k in advice["knowledge"]] == [
        ("required", [["final_action", "got_coin"]]),
        ("required", [["got_coin", "final_action"]]),
        ("forbidden", [["got_coin", "final_action"]]),
        ("forbidden", [["final_action", "got_coin"]]),
    ]
    # A forbidden b --> a is the required a --> b on the class: same edge, same counts.
    required, forbidden = advice["knowledge"][0], advice["knowledge"][2]
    assert required["orients"] == forbidden["orients"] == [["final_action", "got_coin"]]
    counts = ("verdict", "n_dags", "n_hold", "n_fail", "n_invalid")
    assert [required[k] for k in counts] == [forbidden[k] for k in counts] == ["none", 1, 0, 1, 0]
    assert advice["policy"]["passing"][0]["inputs"] == ["value"]
    assert advice["policy"]["passing"][0]["changes"] == ["-regime"]


def test_an_invalid_policy_names_the_input_and_the_cycle():
    # regime --> D --> m --> Yb: a policy reading m (downstream of D) is impossible.
    g = CausalGraph(["regime", "D", "m", "Yb"])
    for u, v in [("regime", "D"), ("D", "m"), ("m", "Yb")]:
        g.add_edge(u, v, "-->")
    roles = Roles("regime", ("Yb",), ("m",), ("D",), ("m",))
    result = check(g, roles)
    assert result.verdict == "invalid"
    policy = advise(result).to_dict()["policy"]
    [row] = policy["invalid_inputs"]
    assert row["input"] == "m" and row["everywhere"] and row["cycle"] == ["D", "m", "D"]
    assert any(p["changes"] == ["-m"] for p in policy["passing"])


def test_knowledge_that_contradicts_the_graph_is_an_error():
    g = CausalGraph(["a", "b", "c"])
    g.add_edge("a", "b", "-->")
    g.add_edge("b", "c", "---")
    for text in ("requiredirect\nb a\n", "requiredirect\na c\n", "forbiddirect\na b\n"):
        with pytest.raises(GraphError):
            apply_knowledge(g, read_tetrad_knowledge(text))
    tiers = apply_knowledge(g, read_tetrad_knowledge("addtemporal\n1 c\n2 b\n"))
    assert tiers.edge("c", "b").kind == "-->"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(undecided_instances(), check_instances()), st.data())
def test_parts_with_two_required_edges_are_exactly_the_dags_with_both(instance, data):
    _, _, roles, graph, dags, _ = _setup(instance)
    if not dags:
        return
    g = restricted_class(graph, roles)
    pairs = [e for a, b in g.undirected_edges() for e in ((a, b), (b, a))]
    pairs += g.directed_edges()
    edges = data.draw(st.lists(st.sampled_from(pairs), max_size=2)) if pairs else []
    counter = ExtensionCounter()
    got = sum(counter.count(part) for part in parts_with_edges(g, edges))
    assert got == sum(1 for d in dags if all(e in d for e in edges))


def test_a_large_class_stays_within_budget_and_its_knowledge_is_counted_without_listing():
    # 10^112 DAGs: the knowledge file's MPDAG is counted by splitting at a node
    # (pipeline/counting.py), never by listing; the searches stop at budget.
    from bench.graphs import cpdag_with_roles

    graph, named = cpdag_with_roles(1000, 0, 12, 0.8, regime_at="mesa")
    roles = Roles("regime", (named["base"],), (named["mesa"],), (named["decision"],), ("regime",))
    result = check(graph, roles)
    assert result.verdict == "some" and result.n_dags > 10**300
    advice = advise(result).to_dict()
    assert advice["budget"]["resolution_used"] <= advice["budget"]["resolution_checks"] == 39
    assert not advice["budget"]["resolution_complete"] and advice["notes"]
    assert advice["policy"]["checked"] <= advice["policy"]["allowed"] == 19
    for row in advice["edges"]:
        first, second = row["orientations"]
        assert first["n_dags"] + second["n_dags"] == result.n_dags
    assert advice["knowledge"], "no knowledge settles the bench class"
    for row in advice["knowledge"]:
        again = check(apply_knowledge(graph, read_tetrad_knowledge(row["text"])), roles)
        assert Tally.of(again) == Tally(row["n_dags"], row["n_hold"], row["n_fail"], 0)


def test_rank_keeps_the_smallest_settling_knowledge_weakest_first():
    from mesalens.pipeline.advice_knowledge import rank

    def row(form, size, verdict, n_dags, orients):
        return {
            "form": form,
            "size": size,
            "verdict": verdict,
            "n_dags": n_dags,
            "undecided": n_dags if verdict == "some" else 0,
            "orients": orients,
            "text": f"{form} {orients}",
        }

    rows = [
        row("required", 2, "all", 5, [["a", "b"], ["c", "d"]]),
        row("tiers", 1, "none", 2, [["x", "a"], ["x", "b"]]),
        row("forbidden", 2, "all", 5, [["a", "b"], ["c", "d"]]),
        row("required", 1, "some", 9, [["a", "b"]]),  # does not settle
        row("tiers", 1, "all", 0, [["x", "c"], ["x", "d"]]),  # keeps no DAG
        row("tiers", 1, "all", 3, [["y", "a"], ["y", "b"]]),
    ]
    ranked = rank(rows)
    # A tier line (one statement) beats two required or forbidden edges; the
    # one that keeps more DAGs (the weaker assumption) comes first.
    assert [(r["form"], r["n_dags"]) for r in ranked] == [("tiers", 3), ("tiers", 2)]
    assert rank(rows[:1] + rows[2:4]) == [rows[0], rows[2]]
    assert rank([rows[3], rows[4]]) == []
