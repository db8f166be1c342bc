"""Output paths checked before any work: a folder that is a file, two options on one path,
an output that is, contains or is inside an input. Through the CLI, for run, check-graph,
simulate and job files; each gives one ``mesalens: error:`` line, exit 1, nothing written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from mesalens.reports.cli import cli

ROLES = ["--base", "yb", "--mesa", "ym", "--decision", "action"]
GRAPH = "Graph Nodes:\nregime;ym;yb;action\n\nGraph Edges:\n1. regime --> ym\n2. ym --> yb\n"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def assert_refused(result, message: str, folder: Path, before: list[str]) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr == f"mesalens: error: {message}\n"
    assert result.stdout == ""
    assert tree(folder) == before, "nothing is written"


@pytest.fixture
def logs(tmp_path, monkeypatch):
    """Two regimes of CSV data (never read: every case is refused first), cwd = tmp_path."""
    monkeypatch.chdir(tmp_path)
    for name in ("train", "deploy"):
        (tmp_path / "logs" / name).mkdir(parents=True)
        (tmp_path / "logs" / name / "part.csv").write_text("ym,yb,action\n1,2,0\n")
    return ["--regime", "train=logs/train/part.csv", "--regime", "deploy=logs/deploy"]


def test_run_out_that_is_a_file(tmp_path, logs):
    Path("out").write_text("mine")
    before = tree(tmp_path)
    result = invoke("run", *logs, *ROLES, "--out", "out")
    assert_refused(result, "--out must be a folder: 'out' is a file", tmp_path, before)


@pytest.mark.parametrize(
    ("out", "message"),
    [
        (
            "logs/deploy",
            "--out 'logs/deploy' is the data of regime 'deploy' itself; write elsewhere",
        ),
        (
            "logs",
            "--out 'logs' contains the data of regime 'train' 'logs/train/part.csv': outputs "
            "would be written among the inputs; give an output folder outside it",
        ),
        (
            "logs/deploy/out",
            "--out 'logs/deploy/out' is inside the data of regime 'deploy' 'logs/deploy': its "
            "outputs would be read as input next time; write outside it",
        ),
        (
            "./logs/train/../train/part.csv",
            "--out must be a folder: './logs/train/../train/part.csv' is a file",
        ),
    ],
)
def test_run_out_is_contains_or_is_inside_an_input(tmp_path, logs, out, message):
    before = tree(tmp_path)
    assert_refused(invoke("run", *logs, *ROLES, "--out", out), message, tmp_path, before)


def test_run_out_containing_the_knowledge_or_config_file(tmp_path, logs):
    Path("res").mkdir()
    Path("res/knowledge.txt").write_text("/knowledge\naddtemporal\n1 ym\n2 yb\n")
    before = tree(tmp_path)
    result = invoke("run", *logs, *ROLES, "--knowledge", "res/knowledge.txt", "--out", "res")
    assert result.exit_code == 1 and "contains the knowledge file" in result.stderr
    assert tree(tmp_path) == before
    Path("res/run.toml").write_text('base = "yb"\nmesa = "ym"\ndecision = "action"\n')
    before = tree(tmp_path)
    result = invoke("run", *logs, "--config", "res/run.toml", "--out", "res")
    assert result.exit_code == 1 and "contains the config file 'res/run.toml'" in result.stderr
    assert tree(tmp_path) == before


def test_check_graph_two_options_on_one_path_or_on_the_graph(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("g.txt").write_text(GRAPH)
    roles = ["--regime", "regime", *ROLES]
    before = tree(tmp_path)
    assert_refused(
        invoke("check-graph", "g.txt", *roles, "--json", "x", "--html", "./x"),
        "--json and --html name the same output 'x'; give each its own path",
        tmp_path,
        before,
    )
    os.symlink("g.txt", "link.txt")
    before = tree(tmp_path)
    assert_refused(
        invoke("check-graph", "g.txt", *roles, "--html", "link.txt"),
        "--html 'link.txt' is the input graph 'g.txt'; write elsewhere",
        tmp_path,
        before,
    )
    Path("d").mkdir()
    before = tree(tmp_path)
    assert_refused(
        invoke("check-graph", "--example", "collider", "--json", "d"),
        "--json 'd' is a folder; give a file name",
        tmp_path,
        before,
    )


def test_simulate_out_that_is_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("sim").write_text("mine")
    before = tree(tmp_path)
    assert_refused(
        invoke("simulate", "--replicates", "1", "--out", "sim"),
        "--out must be a folder: 'sim' is a file",
        tmp_path,
        before,
    )


JOB = """
base = "yb"
mesa = "ym"
decision = "action"
{out}
[regimes]
train = "logs/train/part.csv"
deploy = "logs/deploy"

[[check]]
name = "a"
"""


def test_job_out_containing_the_job_file_or_inside_the_data(tmp_path, logs):
    Path("jobs").mkdir()
    Path("jobs/logs").symlink_to(tmp_path / "logs")
    Path("jobs/nightly.toml").write_text(JOB.format(out=""))
    before = tree(tmp_path)
    result = invoke("run", "--config", "jobs/nightly.toml", "--out", "jobs")
    assert_refused(
        result,
        "--out 'jobs' contains the job file 'jobs/nightly.toml': outputs would be written "
        "among the inputs; give an output folder outside it",
        tmp_path,
        before,
    )
    # The job file's own out, relative to its folder, inside a data folder (through a link).
    Path("jobs/nightly.toml").write_text(JOB.format(out='out = "logs/deploy/out"'))
    before = tree(tmp_path)
    result = invoke("run", "--config", "jobs/nightly.toml")
    assert result.exit_code == 1 and tree(tmp_path) == before
    assert result.stderr.startswith("mesalens: error: out in 'jobs/nightly.toml' ")
    assert "is inside the data of regime 'deploy'" in result.stderr
    assert len(result.stderr.splitlines()) == 1
