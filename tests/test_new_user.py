"""What a demanding new user hits, following only README.md (the redteam pass).

* ``check-graph`` prints the verdict and its evidence first, then the files
  it wrote, the exit code last (the order ``run`` keeps);
* a JSON graph with an edge written as a list says what an edge looks like;
* advice that suggests policy inputs quotes them for the shell when needed;
* a knowledge file naming a node the graph lacks says "node of the graph";
* a job file naming two checks alike says which two;
* a role left out by ``--columns`` is told to be added there;
* on an 80-column terminal the summary wraps between words at 80 columns;
* a direct-test level of 0.5 or more, which would confirm gaps beyond the
  tolerance, is refused;
* ``simulate --help`` says its ranges in words, as ``run --help`` does;
* ``check-graph`` with no graph says so (not "not both");
* the same rows in another order are refused as one regime copied;
* README's ``undecided`` example prints the lines README shows.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mesalens.reports.cli import cli


def test_check_graph_names_its_files_after_the_verdict_and_before_the_exit_code(tmp_path):
    html, out_json = tmp_path / "report.html", tmp_path / "result.json"
    result = CliRunner().invoke(
        cli,
        ["check-graph", "--example", "collider", "--html", str(html), "--json", str(out_json)],
    )
    assert result.exit_code == 4, result.output
    lines = result.output.splitlines()
    verdict = next(i for i, line in enumerate(lines) if line.startswith("Verdict: none"))
    written = [i for i, line in enumerate(lines) if " written to " in line]
    assert len(written) == 2 and min(written) > verdict, result.output
    assert lines[-1].startswith("Exit code 4") and max(written) == len(lines) - 2


def test_a_json_edge_given_as_a_list_is_shown_how_to_write_it(tmp_path):
    graph = tmp_path / "g.json"
    graph.write_text(
        json.dumps({"nodes": ["regime", "Ym", "Dm", "Yb"], "edges": [["regime", "Ym", "-->"]]})
    )
    result = CliRunner().invoke(
        cli, ["check-graph", str(graph), "--base", "Yb", "--mesa", "Ym", "--decision", "Dm"]
    )
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("mesalens: error:")
    shape = '{"source": "a", "target": "b", "kind": "-->"}'
    assert f"edges[0] should be a JSON object like {shape}" in result.output


def test_policy_advice_quotes_a_column_name_with_a_space_so_it_can_be_pasted(tmp_path):
    graph = tmp_path / "g.dot"
    graph.write_text(
        'digraph { regime -> "obs x"; "obs x" -> "value head"; "value head" -> act;'
        ' "value head" -> rew; act -> rew [dir=none]; }'
    )
    roles = ["--base", "rew", "--mesa", "value head", "--decision", "act"]
    result = CliRunner().invoke(
        cli, ["check-graph", str(graph), *roles, "--policy-inputs", "obs x"]
    )
    assert result.exit_code == 3, result.output
    line = next(x for x in result.output.splitlines() if "(+rew)" in x)
    assert line.startswith("advice: --policy-inputs 'obs x,rew' (+rew) gives all"), line
    # Pasted as the shell reads it, the suggestion gives what the advice said.
    again = CliRunner().invoke(
        cli, ["check-graph", str(graph), *roles, "--policy-inputs", "obs x,rew"]
    )
    assert again.exit_code == 0, again.output


def test_check_graph_knowledge_naming_an_unknown_node_speaks_of_the_graph(tmp_path):
    graph, knowledge = tmp_path / "g.dot", tmp_path / "k.txt"
    graph.write_text("digraph { regime -> a; a -> Ym; Ym -> Dm; Dm -> Yb; a -> Yb }")
    knowledge.write_text("addtemporal\n1 regime\n2 a nosuch\n")
    roles = ["--base", "Yb", "--mesa", "Ym", "--decision", "Dm"]
    result = CliRunner().invoke(
        cli, ["check-graph", str(graph), *roles, "--knowledge", str(knowledge)]
    )
    assert result.exit_code == 1
    assert "'nosuch', which is not a node of the graph (nodes: 'regime', 'a'," in result.output
    assert "column" not in result.output


def test_a_job_file_naming_two_checks_alike_says_which_two(tmp_path):
    check = '[[check]]\nname = "{}"\nbase = "r"\nmesa = "v"\ndecision = "a"\n'
    check += '[check.regimes]\ntrain = "t.csv"\ndeploy = "d.csv"\n'
    jobs = tmp_path / "jobs.toml"
    for first, second, shown in (("x", "x", ""), ("x", "X", " (as 'x')")):
        jobs.write_text(check.format(first) + check.format(second))
        result = CliRunner().invoke(
            cli, ["run", "--config", str(jobs), "--out", str(tmp_path / "out")]
        )
        assert result.exit_code == 1
        assert (
            f"check name '{second}' is used twice, by check #1{shown} and check #2; rename one"
            in result.output
        ), result.output


def test_a_role_left_out_by_columns_says_to_add_it_there(tmp_path):
    rows = "x,v,a,r\n" + "".join(f"{i % 2},{i % 3},{i % 2},{i % 5}\n" for i in range(60))
    train, deploy = tmp_path / "t.csv", tmp_path / "d.csv"
    train.write_text(rows)
    deploy.write_text(rows.replace("\n0,", "\n1,", 5))
    regimes = ["--regime", f"train={train}", "--regime", f"deploy={deploy}"]
    roles = ["--base", "r", "--mesa", "v", "--decision", "a"]
    result = CliRunner().invoke(
        cli, ["run", *regimes, *roles, "--columns", "x,v,a", "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 1
    assert result.output.startswith("mesalens: error: --base names 'r', not a column of the data")
    assert "add it to --columns (config: columns) if you chose the columns" in result.output
    assert not (tmp_path / "out").exists()


def _on_a_terminal(*args: str, columns: int = 80) -> tuple[int, list[str]]:
    """Run mesalens with stdout and stderr on a pseudo-terminal ``columns`` wide."""
    import fcntl
    import os
    import re
    import struct
    import subprocess
    import termios

    from tests.test_cli import MESALENS

    primary, secondary = os.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(TERM="xterm", NO_COLOR="1")
    process = subprocess.Popen(
        [MESALENS, *args], stdout=secondary, stderr=secondary, stdin=subprocess.DEVNULL, env=env
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    code = process.wait(timeout=60)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode("utf-8"))
    return code, [line.split("\r")[-1] for line in text.replace("\r\n", "\n").split("\n")]


def test_on_an_80_column_terminal_no_summary_line_is_wider(tmp_path):
    html = tmp_path / "a-folder-with-a-rather-long-name" / "report.html"
    html.parent.mkdir()
    code, lines = _on_a_terminal("check-graph", "--example", "collider", "--html", str(html))
    assert code == 4
    assert max(len(line) for line in lines) <= 80, [line for line in lines if len(line) > 80]
    # Wrapped between words: the long C1/C2 sentence goes on over lines, whole.
    text = " ".join(line.strip() for line in lines)
    assert "C1: value is an ancestor of got_coin; C2: every directed path from regime" in text
    # The files, then the exit code; a path wider than the terminal is folded.
    last = "".join(text[text.index("HTML report written to") :].split())
    assert last.startswith(f"HTMLreportwrittento{html}Exitcode4(verdictnone)"), last


def test_a_direct_test_level_of_a_half_or_more_is_refused(tmp_path):
    # From 0.5 up the equivalence test's z is negative: it would confirm, and
    # let exit 0 through for, a gap whose estimate is beyond the tolerance.
    import mesalens
    from mesalens import InputError

    args = ["run", "--regime", "a=a.csv", "--regime", "b=b.csv", "--base", "r", "--mesa", "v"]
    args += ["--decision", "d", "--out", str(tmp_path / "out")]
    for level in ("0.5", "0.9"):
        result = CliRunner().invoke(cli, [*args, "--direct-test-alpha", level])
        assert result.exit_code == 2
        assert "is not in the range strictly between 0 and 0.5" in result.output
    config = tmp_path / "run.toml"
    config.write_text(
        'base = "r"\nmesa = "v"\ndecision = "d"\ndirect_test_alpha = 0.7\n'
        '[regimes]\na = "a.csv"\nb = "b.csv"\n'
    )
    result = CliRunner().invoke(cli, ["run", "--config", str(config), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "'direct_test_alpha' must be a number strictly between 0 and 0.5, got 0.7" in (
        result.output
    )
    with pytest.raises(InputError, match=r"strictly between 0 and 0\.5"):
        mesalens.run(
            {"a": "a.csv", "b": "b.csv"}, base="r", mesa="v", decision="d", direct_test_alpha=0.6
        )
    assert not (tmp_path / "out").exists() and not (tmp_path / "o").exists()


def test_simulate_help_says_its_ranges_in_words_as_run_does():
    result = CliRunner().invoke(cli, ["simulate", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "<x" not in text and "x<" not in text, text
    assert "[default: 0.01; strictly between 0 and 1]" in text


def test_check_graph_without_a_graph_says_none_was_given(tmp_path):
    result = CliRunner().invoke(cli, ["check-graph", "--base", "Yb", "--mesa", "Ym"])
    assert result.exit_code == 2
    assert "no graph given: name a GRAPH file" in result.output
    assert "not both" not in result.output
    graph = tmp_path / "g.txt"
    graph.write_text("Graph Nodes:\nregime;Yb\n\nGraph Edges:\n1. regime --> Yb\n")
    both = CliRunner().invoke(cli, ["check-graph", str(graph), "--example", "collider"])
    assert both.exit_code == 2
    assert f"give either a GRAPH file ('{graph}') or --example collider, not both" in both.output


def test_the_same_rows_in_another_order_are_refused_as_one_regime_copied(tmp_path):
    # Shuffled, the rows show a discrete column's levels in another order.
    rows = [f"{i % 2},{(i // 2) % 3},{i % 7 / 7:.3f}\n" for i in range(300)]
    train, deploy = tmp_path / "train.csv", tmp_path / "deploy.csv"
    train.write_text("x,v,r\n" + "".join(rows))
    deploy.write_text("x,v,r\n" + "".join(reversed(rows)))
    args = ["run", "--regime", f"train={train}", "--regime", f"deploy={deploy}"]
    args += ["--base", "r", "--mesa", "v", "--decision", "x", "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert "regimes 'train' and 'deploy' hold the same rows (300 each" in result.output
    assert not (tmp_path / "out").exists()


def test_readme_undecided_example_prints_the_lines_readme_shows(tmp_path, monkeypatch):
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    after = readme[readme.index("its last lines, before the report's path and the exit code") :]
    shown = after.split("```\n", 2)[1].strip().splitlines()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "review").mkdir()
    result = CliRunner().invoke(
        cli, ["check-graph", "--example", "undecided", "--html", "review/report.html"]
    )
    assert result.exit_code == 3
    lines = result.output.strip().splitlines()
    assert lines[-2:] == [
        "HTML report written to review/report.html",
        "Exit code 3 (verdict some): 0 all, 3 some, 4 none, 5 invalid; 1 bad input, 2 usage error.",
    ]
    assert lines[-2 - len(shown) : -2] == shown
