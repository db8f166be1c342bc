"""The advice through the command line: check-graph and run, and the knowledge file passed back.

The advice's counts are checked against brute force in tests/test_advice.py;
here each command writes it (result.json, report.html, terminal,
advice-knowledge.txt), and the written knowledge file, passed back with
``--knowledge``, gives the verdict and counts the advice stated.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from tests.test_cli import EXIT, GRAPHS, ROLES, run

COUNTS = ("verdict", "n_dags", "n_hold", "n_fail", "n_invalid")


def _counts(document_or_row: dict) -> tuple:
    return tuple(document_or_row[key] for key in COUNTS)


def test_check_graph_advice_and_its_knowledge_file_passed_back(tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    done = run(
        "check-graph",
        "--example",
        "undecided",
        "--json",
        str(out / "result.json"),
        "--html",
        str(out / "report.html"),
    )
    assert done.returncode == EXIT["some"], done.stderr
    document = json.loads((out / "result.json").read_text())
    advice = document["advice"]
    assert advice["knowledge_file"] == "advice-knowledge.txt"
    assert advice["edges"][0]["edge"] == ["final_action", "got_coin"]
    assert "advice: orient final_action --- got_coin" in done.stdout
    assert f"written to {out / 'advice-knowledge.txt'}" in done.stdout
    # The advice comes before the exit-code line, which stays last.
    assert done.stdout.strip().splitlines()[-1].startswith("Exit code 3")
    html = (out / "report.html").read_text()
    assert "What would settle this" in html and 'id="advice-edges"' in html
    written = out / "advice-knowledge.txt"
    assert written.read_text() == advice["knowledge"][0]["text"]
    # Every listed knowledge set, passed back, gives the stated verdict and counts.
    for k, row in enumerate(advice["knowledge"]):
        path = written if k == 0 else tmp_path / f"k{k}.txt"
        path.write_text(row["text"])
        again = run(
            "check-graph", "--example", "undecided", "--knowledge", str(path), "--json", "-", "-q"
        )
        assert again.returncode == EXIT[row["verdict"]], again.stderr
        assert _counts(json.loads(again.stdout)) == _counts(row)


def test_check_graph_policy_advice_is_what_the_suggested_inputs_give(tmp_path):
    for verdict in ("none", "invalid", "some"):
        text, extra = GRAPHS[verdict]
        graph = tmp_path / f"{verdict}.txt"
        graph.write_text(text)
        done = run("check-graph", str(graph), *ROLES, *extra, "--json", "-", "-q")
        assert done.returncode == EXIT[verdict]
        policy = json.loads(done.stdout)["advice"]["policy"]
        if verdict == "none":
            # s --> Yb: no policy can block it, and the advice says which path.
            assert policy["passing"] == []
            assert policy["blocking_paths"][0]["path"] == ["s", "Yb"]
            continue
        if verdict == "invalid":
            [row] = policy["invalid_inputs"]
            assert row["input"] == "X" and row["cycle"] == ["D", "X", "D"]
        assert policy["passing"], f"no passing policy for the {verdict} graph"
        for row in policy["passing"]:
            inputs = ",".join(row["inputs"]) or "none"
            again = run(
                "check-graph", str(graph), *ROLES, "--policy-inputs", inputs, "--json", "-", "-q"
            )
            assert again.returncode == 0, again.stderr
            assert _counts(json.loads(again.stdout)) == _counts(row)


def test_no_advice_and_bad_knowledge(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    done = run(
        "check-graph", "--example", "undecided", "--no-advice", "--json", str(out / "r.json")
    )
    assert done.returncode == EXIT["some"]
    assert "advice" not in json.loads((out / "r.json").read_text())
    assert "advice:" not in done.stdout
    assert not (out / "advice-knowledge.txt").exists()
    # Knowledge the graph contradicts: one error line, nothing written.
    bad = tmp_path / "bad.txt"
    bad.write_text("requiredirect\nregime final_action\n")
    done = run(
        "check-graph", "--example", "undecided", "--knowledge", str(bad), "--json", str(out / "x")
    )
    assert done.returncode == 1
    assert done.stderr.startswith("mesalens: error: ") and len(done.stderr.splitlines()) == 1
    assert "regime --> final_action" in done.stderr and "no edge" in done.stderr
    assert not (out / "x").exists()

    # A check whose advice has no knowledge removes an older file next to its report.
    run("check-graph", "--example", "undecided", "--json", str(out / "r.json"))
    assert (out / "advice-knowledge.txt").exists()
    done = run(
        "check-graph",
        "--example",
        "undecided",
        "--policy-inputs",
        "value",
        "--json",
        str(out / "r.json"),
    )
    assert done.returncode == EXIT["all"]
    assert not (out / "advice-knowledge.txt").exists()


def _write_logs(folder: Path) -> list[str]:
    """Logs of the undecided example's SCM: the learned class leaves final_action --- got_coin."""
    rng = np.random.default_rng(0)
    args = []
    for name, shift in (("train", 0.0), ("deploy", 1.0)):
        n = 3000
        value = shift + rng.normal(size=n)
        action = 0.8 * value + rng.normal(size=n)
        coin = 0.7 * value + 0.8 * action + rng.normal(size=n)
        frame = pd.DataFrame({"value": value, "final_action": action, "got_coin": coin})
        frame.to_csv(folder / f"{name}.csv", index=False)
        args += ["--regime", f"{name}={folder / f'{name}.csv'}"]
    return [
        *args,
        *("--base", "got_coin", "--mesa", "value", "--decision", "final_action"),
        *("--policy-inputs", "value,regime", "--no-sensitivity", "--no-direct-test"),
    ]


def test_run_advice_from_the_learned_class_and_its_knowledge_file(tmp_path):
    args = _write_logs(tmp_path)
    done = run("run", *args, "--out", str(tmp_path / "out"))
    assert done.returncode == EXIT["some"], done.stderr
    document = json.loads((tmp_path / "out" / "result.json").read_text())
    advice = document["advice"]
    [best, *_] = advice["knowledge"]
    assert best["required"] == [["final_action", "got_coin"]]
    knowledge = tmp_path / "out" / "advice-knowledge.txt"
    assert knowledge.read_text() == best["text"]
    # run's terminal summary goes to stderr.
    assert "advice: knowledge final_action --> got_coin settles it" in done.stderr
    assert "What would settle this" in (tmp_path / "out" / "report.html").read_text()
    again = run("run", *args, "--knowledge", str(knowledge), "--out", str(tmp_path / "again"))
    assert again.returncode == EXIT[best["verdict"]], again.stderr
    redone = json.loads((tmp_path / "again" / "result.json").read_text())
    assert _counts(redone) == _counts(best)
    # The second run's advice settles nothing more, so it writes no knowledge file.
    assert not (tmp_path / "again" / "advice-knowledge.txt").exists()
    off = run("run", *args, "--no-advice", "--out", str(tmp_path / "out"))
    assert off.returncode == EXIT["some"]
    assert json.loads((tmp_path / "out" / "result.json").read_text())["advice"] is None
    assert not knowledge.exists(), "a stale knowledge file outlived the run that wrote it"


# A class of 3 DAGs where the knowledge comes in all three forms: v3 before
# v2 and v4 (one tier line) directs both edges at v3 and settles the verdict.
THREE_FORMS = """Graph Nodes:
v0;v1;v2;v3;v4

Graph Edges:
1. v0 --- v1
2. v1 --- v2
3. v1 --- v3
4. v1 --- v4
5. v2 --- v3
6. v3 --- v4
"""
THREE_FORMS_ROLES = ["--regime", "v0", "--base", "v3", "--mesa", "v1", "--decision", "v2"]


def test_knowledge_in_three_forms_each_passed_back(tmp_path):
    import mesalens

    graph = tmp_path / "graph.txt"
    graph.write_text(THREE_FORMS)
    args = ["check-graph", str(graph), *THREE_FORMS_ROLES, "--policy-inputs", "v0"]
    out = tmp_path / "result.json"
    done = run(*args, "--json", str(out), "--html", str(tmp_path / "report.html"))
    assert done.returncode == EXIT["some"], done.stderr
    advice = json.loads(out.read_text())["advice"]
    forms = {row["form"] for row in advice["knowledge"]}
    assert forms == {"required", "forbidden", "tiers"}
    [tiers] = [row for row in advice["knowledge"] if row["form"] == "tiers"]
    assert tiers["tiers"] == [["v3"], ["v2", "v4"]] and tiers["size"] == 1
    assert tiers["orients"] == [["v3", "v2"], ["v3", "v4"]]
    assert "addtemporal\n1 v3\n2 v2 v4\n" in tiers["text"]
    assert "advice: knowledge as tiers, v3 before v2, v4 (on this class: v3 --> v2, v3 --> v4)" in (
        done.stdout
    )
    assert "tiers: if <code>v3 before v2, v4</code>" in (tmp_path / "report.html").read_text()
    for k, row in enumerate(advice["knowledge"]):
        if row["form"] == "forbidden":  # the same class edge as its required mirror
            [mirror] = [
                r
                for r in advice["knowledge"]
                if r["form"] == "required" and r["orients"] == row["orients"]
            ]
            assert _counts(mirror) == _counts(row)
        path = tmp_path / f"k{k}.txt"
        path.write_text(row["text"])
        again = run(*args, "--knowledge", str(path), "--json", "-", "-q", "--no-advice")
        assert again.returncode == EXIT[row["verdict"]], (again.stderr, row["text"])
        assert _counts(json.loads(again.stdout)) == _counts(row), row["text"]
    # The Python API's result carries the same advice.
    result = mesalens.check_graph(
        str(graph), regime="v0", base="v3", mesa="v1", decision="v2", policy_inputs="v0"
    )
    assert result.advice["knowledge"] == advice["knowledge"]
