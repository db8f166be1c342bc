"""The advice on a PAG against brute force: circle marks fixed, policy inputs changed.

The class of a random MAG is listed by brute force (tests/test_pag.py: every
ancestral orientation of its skeleton with the same m-separations, sharing
no code with mesalens.pipeline.mag) and judged by d-separation in each
member's canonical DAG. Each circle-mark option the advice states is
compared with the brute-force counts over the members that have those
marks, and each suggested policy with the brute-force counts under it.
"""

from __future__ import annotations

import json
import random

import pytest
from click.testing import CliRunner

from mesalens.pipeline.advice import advise
from mesalens.pipeline.checker import check
from mesalens.pipeline.errors import GraphError
from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.roles import Roles
from mesalens.reports.cli import cli
from tests.test_pag import PAG_SOME, SEEDS, brute_verdict, case, normal_form, pag_of

COUNTS = ("n_dags", "n_hold", "n_fail", "n_invalid")


def _triple(text: str):
    """``a --> b`` or ``a <-> b`` as a member's edge (normal form)."""
    u, kind, v = text.split()
    return next(iter(normal_form([(u, kind, v)])))


def _stated(row) -> tuple[int, int, int, int]:
    return tuple(row[k] for k in COUNTS)


def _roles(nodes, rng) -> Roles:
    s, base, mesa, decision = rng.sample(nodes, 4)
    rest = [v for v in nodes if v != decision]
    return Roles(s, (base,), (mesa,), (decision,), tuple(rng.sample(rest, rng.randint(0, 2))))


@pytest.mark.parametrize("seed", SEEDS)
def test_pag_advice_matches_brute_force(seed):
    nodes, _mag, members = case(seed)
    if len(nodes) < 4:
        pytest.skip("needs four roles")
    pag = pag_of(nodes, members)
    rng = random.Random(seed)
    for _draw in range(12):
        roles = _roles(nodes, rng)
        if brute_verdict(nodes, members, roles)[0] == 0:
            continue  # no MAG with the regime a root: an input error, tested in test_pag
        try:
            result = check(pag, roles)
        except GraphError:  # an arrowhead at the regime: tested in test_pag
            continue
        advice = advise(result).to_dict()
        assert advice["unit"] == "mag"
        assert advice["knowledge"] == advice["experiments"] == advice["edges"] == []
        if result.verdict == "all":
            assert advice["policy"] is None and advice["marks"] == []
            continue
        if result.verdict != "some":
            assert advice["marks"] == []
        for row in advice["marks"]:
            covered, undecided = 0, 0
            for option in row["orientations"]:
                edge = _triple(option["edge"])
                having = {m for m in members if edge in m}
                n, hold, fail, invalid = brute_verdict(nodes, having, roles)
                assert _stated(option) == (n, hold, fail, invalid), (row["pag_edge"], edge)
                covered += n
                undecided += n if hold and fail else 0
            assert covered == result.n_dags, "the options of an edge split the class"
            assert row["undecided"] == undecided < result.n_dags
        policy = advice["policy"]
        for row in policy["passing"]:
            new = Roles(roles.regime, roles.base, roles.mesa, roles.decision, tuple(row["inputs"]))
            n, hold, fail, invalid = brute_verdict(nodes, members, new)
            assert _stated(row) == (n, hold, fail, invalid) and hold and not fail, row["inputs"]
        for row in policy["invalid_inputs"]:
            alone = Roles(roles.regime, roles.base, roles.mesa, roles.decision, (row["input"],))
            n, _hold, _fail, invalid = brute_verdict(nodes, members, alone)
            assert (row["n_dags"], row["n_downstream"]) == (n, invalid) and invalid > 0


def test_pag_advice_through_check_graph(tmp_path):
    graph = tmp_path / "pag.txt"
    graph.write_text(PAG_SOME)
    args = ["check-graph", str(graph), "--base", "reward", "--mesa", "value"]
    args += ["--decision", "action", "--policy-inputs", "regime"]
    out, html = tmp_path / "result.json", tmp_path / "report.html"
    done = CliRunner().invoke(cli, [*args, "--json", str(out), "--html", str(html)])
    assert done.exit_code == 3, done.output
    advice = json.loads(out.read_text())["advice"]
    assert advice["unit"] == "mag" and advice["knowledge"] == []
    assert not (tmp_path / "advice-knowledge.txt").exists()
    [first, *_] = advice["marks"]
    assert first["pag_edge"] == "reward o-o action" and first["undecided"] == 0
    assert "advice: if reward o-o action were fixed: reward --> action gives all" in done.output
    assert 'id="advice-marks"' in html.read_text()
    # Each suggested policy, rechecked through the command line, gives the stated counts.
    assert advice["policy"]["passing"]
    for row in advice["policy"]["passing"]:
        inputs = ",".join(row["inputs"]) or "none"
        again = CliRunner().invoke(cli, [*args[:-1], inputs, "--json", "-", "-q", "--no-advice"])
        document = json.loads(again.stdout)
        assert again.exit_code == 0 and _stated(document) == _stated(row)


def test_a_pag_too_large_to_list_gets_no_policy_advice(monkeypatch):
    from mesalens.pipeline import pag_checker

    nodes, _mag, members = case(39)
    pag = pag_of(nodes, members)
    roles = Roles("X0", ("X1",), ("X2",), ("X3",), None)  # none over 19 MAGs
    listed = advise(check(pag, roles)).to_dict()
    assert listed["verdict"] == "none" and listed["policy"]["checked"] > 0
    monkeypatch.setattr(pag_checker, "KEEP_SEARCH_STEPS", 3)
    result = check(pag, roles)
    assert result.latent.n_mags is None and result.verdict == "none"
    advice = advise(result).to_dict()
    assert advice["policy"] is None and advice["marks"] == []
    assert any("too large to list" in note for note in advice["notes"])


def test_run_with_fci_gives_policy_advice_over_mags(tmp_path):
    from tests.test_pag import run_fci_on_confounded_logs

    result, out = run_fci_on_confounded_logs(tmp_path)
    assert result.exit_code == 4, result.output
    document = json.loads((out / "result.json").read_text())
    advice = document["advice"]
    assert advice["unit"] == "mag" and advice["knowledge"] == [] and advice["marks"] == []
    assert not (out / "advice-knowledge.txt").exists()
    policy = advice["policy"]
    # Reading obs carries the regime into action, and value <-- U --> reward
    # opens it given value; a policy that reads nothing cuts it.
    assert policy["checked"] > 0
    assert {"inputs": [], "changes": ["-obs"]}.items() <= policy["passing"][0].items()
    learned = CausalGraph(sorted({n for u, _k, v in document["learned_graph"] for n in (u, v)}))
    for u, kind, v in document["learned_graph"]:
        learned.add_edge(u, v, kind)
    for row in policy["passing"]:
        again = check(
            learned, Roles("regime", ("reward",), ("value",), ("action",), tuple(row["inputs"]))
        )
        assert (again.verdict, *(getattr(again, k) for k in COUNTS)) == (
            row["verdict"],
            *_stated(row),
        )
    assert "advice: --policy-inputs none (-obs) gives all" in result.output
    assert "What would settle this" in (out / "report.html").read_text()
