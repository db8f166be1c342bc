"""Absurd counts for every count option: 0, -1, 10**30 and a 5,000-digit string.

Every whole-number option of ``run`` (and of its config and job files: the
options table), ``simulate``, ``demo`` and ``check-graph`` has a documented
upper bound. A value outside its range is a usage error on the command line
(exit 2, click's ``Error: Invalid value for '--OPTION'`` naming the range)
and one ``mesalens: error:`` line in a config file (exit 1); never a
traceback, never work started, nothing written.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mesalens.reports.checks.options import OPTIONS
from mesalens.reports.cli import cli
from mesalens.reports.cli import simulate as simulate_cli
from mesalens.reports.cli.check_graph import LIST_DAGS_MAX

HUGE = "9" * 5000  # past Python's 4,300-digit limit for int(str)
VALUES = ("0", "-1", str(10**30), HUGE)
RUN = [
    "run",
    "--regime",
    "train=missing/train.csv",
    "--regime",
    "deploy=missing/deploy.csv",
    "--base",
    "yb",
    "--mesa",
    "ym",
    "--decision",
    "action",
]
INT_OPTIONS = [option for option in OPTIONS.values() if option.kind == "int"]


def in_range(text: str, low: float | None, high: float | None) -> bool:
    try:
        value = int(text)
    except ValueError:
        return False
    return (low is None or value >= low) and (high is None or value <= high)


def invoke(folder: Path, *args: str):
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert not (folder / "out").exists(), "nothing is written"
    return result


def assert_usage_error(result, flag: str, high: float | None = None) -> None:
    assert result.exit_code == 2, result.output
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert f"Invalid value for '{flag}'" in line and len(line) < 300
    if high is not None:
        assert str(int(high)) in line.replace(",", "") or f"{high:g}" in line, line


def test_every_count_option_of_the_table_has_an_upper_bound():
    assert {option.key for option in INT_OPTIONS} >= {
        "max_depth",
        "bootstrap",
        "direct_test_rows",
        "seed",
    }
    for option in INT_OPTIONS:
        assert option.high is not None, option.key
        assert f"{option.high:,}" in option.requirement or str(option.high) in option.requirement


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("option", INT_OPTIONS, ids=lambda o: o.key)
def test_run_count_options_on_the_command_line(tmp_path, option, value):
    result = invoke(tmp_path, *RUN, "--out", str(tmp_path / "out"), option.flag, value)
    if in_range(value, option.low, option.high):
        # Accepted: the run goes on to the (missing) data, and stops there on one line.
        assert result.exit_code == 1 and result.stderr.startswith("mesalens: error: ")
        assert len(result.stderr.splitlines()) == 1 and "missing" in result.stderr
    else:
        assert_usage_error(result, option.flag, option.high if value == str(10**30) else None)


@pytest.mark.parametrize("value", [*VALUES[:3], f'"{HUGE}"'])
@pytest.mark.parametrize("option", INT_OPTIONS, ids=lambda o: o.key)
def test_run_count_options_in_a_config_file(tmp_path, option, value):
    config = tmp_path / "run.toml"
    config.write_text(f"{option.key} = {value}\n")
    result = invoke(tmp_path, *RUN, "--out", str(tmp_path / "out"), "--config", str(config))
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("mesalens: error: ") and len(line) < 400
    if not in_range(value, option.low, option.high):
        assert option.key in line and "must be" in line
        if value == str(10**30):
            assert f"{option.high:,}" in line or str(option.high) in line


SIMULATE = [
    ("--replicates", simulate_cli.REPLICATES_MAX),
    ("--nodes", simulate_cli.NODES_MAX),
    ("--seed", None),
    ("--rows", simulate_cli.ROWS_MAX),
    ("--shifts", simulate_cli.SHIFT_MAX),
]


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize(("flag", "high"), SIMULATE, ids=[s[0] for s in SIMULATE])
def test_simulate_count_options(tmp_path, flag, high, value):
    # --out is a file: a value that passes is then refused on one line, before any work.
    (tmp_path / "sim").write_text("a file")
    result = invoke(tmp_path, "simulate", flag, value, "--out", str(tmp_path / "sim"))
    if result.exit_code == 1:
        assert flag in ("--seed", "--shifts") and value == "0"
        message = f"--out must be a folder: '{tmp_path}/sim' is a file"
        assert result.stderr == f"mesalens: error: {message}\n"
    else:
        assert_usage_error(result, flag, high if value == str(10**30) else None)


def test_simulate_refuses_too_many_runs_in_all_and_answers_at_once(tmp_path):
    sizes = ",".join(str(250 + n) for n in range(20))
    shifts = ",".join(str(n / 10) for n in range(20))
    result = invoke(
        tmp_path, "simulate", "--replicates", "1000", "--rows", sizes, "--shifts", shifts,
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr == (
        "mesalens: error: --replicates 1000 x 20 --rows x 20 --shifts asks for 400,000 "
        "pipeline runs, more than the 20,000 allowed; give fewer replicates, sizes or shifts\n"
    )
    assert_usage_error(invoke(tmp_path, "simulate", "--nodes", "100000"), "--nodes", 50)
    assert_usage_error(invoke(tmp_path, "simulate", "--rows", ",".join(["300"] * 21)), "--rows")


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("flag", ["--rows", "--seed"])
def test_demo_count_options(tmp_path, flag, value):
    if flag == "--seed" and value == "0":
        pytest.skip("a valid seed: the demo would run")
    result = invoke(tmp_path, "demo", flag, value, "--out", str(tmp_path / "out"))
    assert_usage_error(result, flag)


@pytest.mark.parametrize("value", VALUES)
def test_check_graph_list_dags(tmp_path, value):
    result = invoke(tmp_path, "check-graph", "--example", "collider", "--list-dags", value)
    assert_usage_error(result, "--list-dags", LIST_DAGS_MAX if value == str(10**30) else None)
