"""What a new user meets first (issue 16, part 4): ``--help``, its speed, and the terminal.

* ``run --help`` shows every default (``--alpha``, ``--test``,
  ``--policy-inputs``, ``--missing`` ...), marks what a run needs
  ``[required]`` and says ranges in words, not ``[0<=x<=4294967295]``;
* the options table lists the values of the modules that implement them
  (it declares them itself so that ``--help`` imports none of those);
* the progress display: the bootstrap's resamples move one bar with a total,
  a bare stage shows no ``0/?``, and the CI-tests bar leaves with discovery;
* a terminal table fits 80 columns, long names folded.
"""

from __future__ import annotations

import re
import textwrap

import pytest
from click.testing import CliRunner
from rich.cells import cell_len
from rich.console import Console
from rich.progress import Progress

from mesalens.reports.checks import options
from mesalens.reports.cli import cli
from mesalens.reports.progress import CountColumn, RunProgress
from tests.test_imports import _fresh_imports, _importers


def help_text(*command: str) -> str:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def option_help(text: str, flag: str) -> str:
    """The help of one option: from its flag to the next option's."""
    start = text.index(f" {flag} ")
    following = re.search(r" (--[a-z]|-[a-zA-Z],) ", text[start + len(flag) + 2 :])
    return text[start : start + len(flag) + 2 + following.start()] if following else text[start:]


@pytest.mark.parametrize(
    ("flag", "shown"),
    [
        ("--alpha", "[default: 0.01] [strictly between 0 and 1]"),
        ("--test", "[default: auto]"),
        ("--policy-inputs", "[default: keep]"),
        ("--missing", "[default: drop]"),
        ("--method", "[default: auto]"),
        ("--seed", "[default: 0] [from 0 to 4,294,967,295]"),
        ("--max-depth", "[default: -1] [from -1 to 1,000]"),
        ("--direct-test-rows", "[from 200 to 10,000,000]"),
        ("--stability-threshold", "[above 0, at most 1]"),
        ("--out", "[required]"),
        ("--base", "[required]"),
        ("--regime", "[required]"),
    ],
)
def test_run_help_shows_defaults_required_and_ranges_in_words(flag, shown):
    assert shown in option_help(help_text("run"), flag)


def test_run_help_has_no_raw_click_ranges():
    text = help_text("run")
    assert "RANGE" not in text and "<=x" not in text and "x>=" not in text
    assert "4294967295" not in text


def test_an_out_of_range_value_is_refused_in_the_same_words():
    result = CliRunner().invoke(cli, ["run", "--alpha", "2", "--out", "x"])
    assert result.exit_code == 2
    assert "is not in the range strictly between 0 and 1" in result.output


def test_run_help_imports_none_of_the_data_pipeline():
    # `mesalens run --help` in a fresh interpreter: the options table and
    # click, none of numpy, pandas, scipy, dask, networkx, pyarrow or rich.
    heavy = ("numpy", "pandas", "scipy", "dask", "networkx", "pyarrow", "causallearn", "rich")
    modules, importtime = _fresh_imports(
        textwrap.dedent(
            """
            from click.testing import CliRunner
            from mesalens.reports.cli import cli
            result = CliRunner().invoke(cli, ["run", "--help"])
            assert result.exit_code == 0 and "--alpha" in result.output, result.output
            """
        )
    )
    loaded = [name for name in heavy if name in modules]
    assert not loaded, "; ".join(_importers(importtime, name) for name in loaded)
    assert "mesalens.reports.cli.run" in modules
    assert "mesalens.pipeline.analysis" not in modules


def test_the_options_table_lists_what_the_pipeline_implements():
    from mesalens.connectors.kinds import DTYPE_OVERRIDES, MISSING_POLICIES
    from mesalens.pipeline.bootstrap import DEFAULT_THRESHOLD
    from mesalens.pipeline.ci_tests import TESTS
    from mesalens.pipeline.confirmation import DEFAULT_TOLERANCE, MIN_REGIME_ROWS, Tolerance
    from mesalens.pipeline.deterministic_rule import POLICIES
    from mesalens.pipeline.discovery import METHODS
    from mesalens.pipeline.method_choice import AUTO

    assert options.METHODS == METHODS
    assert options.AUTO == AUTO
    assert options.OPTIONS["method"].choices == (AUTO, *METHODS)
    assert options.TESTS == TESTS == options.OPTIONS["test"].choices
    assert options.DTYPE_OVERRIDES == DTYPE_OVERRIDES
    assert options.MISSING_POLICIES == MISSING_POLICIES == options.OPTIONS["missing"].choices
    assert options.DETERMINISTIC_POLICIES == POLICIES
    assert options.DEFAULT_THRESHOLD == DEFAULT_THRESHOLD
    assert options.DEFAULT_TOLERANCE == DEFAULT_TOLERANCE
    assert options.DIRECT_TEST_ROWS_MIN == 2 * MIN_REGIME_ROWS
    assert options.OPTIONS["tolerance"].value_in({}) == Tolerance.parse(DEFAULT_TOLERANCE)
    assert options.OPTIONS["tolerance"].value_in({"tolerance": "0.5abs"}) == Tolerance.parse(
        "0.5abs"
    )


def test_simulate_and_demo_declare_the_values_the_pipeline_has():
    # Their --help shows these without loading the pipeline; they must not drift.
    from mesalens.connectors.agent_graph import MIN_ROWS
    from mesalens.connectors.frozen_lake import lake_scenario_names
    from mesalens.connectors.random_scm import FAMILY_KINDS
    from mesalens.connectors.simulator import scenario_names
    from mesalens.pipeline.simulation import METHODS
    from mesalens.reports.cli import demo, simulate

    assert simulate.FAMILIES == FAMILY_KINDS
    assert simulate.METHODS == METHODS
    assert simulate.MIN_ROWS == MIN_ROWS
    assert demo.DEMO_SCENARIOS == (*scenario_names(), *lake_scenario_names())


@pytest.mark.parametrize(("command", "shown"), [("simulate", "--family"), ("demo", "--scenario")])
def test_simulate_and_demo_help_import_none_of_the_data_pipeline(command, shown):
    heavy = ("numpy", "pandas", "scipy", "dask", "networkx", "pyarrow", "causallearn", "rich")
    modules, importtime = _fresh_imports(
        textwrap.dedent(
            f"""
            from click.testing import CliRunner
            from mesalens.reports.cli import cli
            result = CliRunner().invoke(cli, ["{command}", "--help"])
            assert result.exit_code == 0 and "{shown}" in result.output, result.output
            """
        )
    )
    loaded = [name for name in heavy if name in modules]
    assert not loaded, "; ".join(_importers(importtime, name) for name in loaded)
    assert f"mesalens.reports.cli.{command}" in modules


def _display() -> tuple[Progress, RunProgress]:
    console = Console(file=open("/dev/null", "w"), force_terminal=True, width=100)
    progress = Progress(CountColumn(), console=console, auto_refresh=False)
    return progress, RunProgress(progress)


def _visible(progress: Progress) -> dict[str, tuple[float, float | None]]:
    return {t.description: (t.completed, t.total) for t in progress.tasks if t.visible}


def test_progress_bootstrap_bar_counts_resamples_and_ci_tests_leave_with_discovery():
    progress, run = _display()
    run.stage("statistics")
    run.stage("discovery")
    run.ci_test(12, 1)
    assert _visible(progress) == {"discovery": (0, None), "CI tests (depth 1)": (12, None)}
    run.stage("check")
    assert _visible(progress) == {"check": (0, None)}  # no lingering CI-tests spinner
    run.stage("bootstrap: statistics of 30 resamples")
    run.stage("bootstrap: discovery and check of 30 resamples")
    run.stage("bootstrap: 12/30 resamples checked")
    assert _visible(progress) == {"bootstrap: resamples checked": (12, 30)}
    run.stage("direct test")
    assert _visible(progress) == {"direct test": (0, None)}


def test_the_count_column_shows_no_question_mark():
    progress, _ = _display()
    column = CountColumn()
    progress.add_task("check", total=None)
    progress.add_task("CI tests", total=None, completed=85)
    progress.add_task("resamples", total=30, completed=12)
    assert [column.render(t).plain for t in progress.tasks] == ["", "85", "12/30"]


def test_the_parent_set_table_fits_80_columns_with_long_names(tmp_path):
    long = "observation_of_the_goal_position_in_the_deployment_level"
    graph = tmp_path / "g.txt"
    graph.write_text(
        "Graph Nodes:\n"
        f"regime;{long};{long}_2;value_head_estimate;first_action;success\n\n"
        "Graph Edges:\n"
        "1. regime --> value_head_estimate\n"
        f"2. {long} --- first_action\n"
        f"3. {long}_2 --- first_action\n"
        f"4. {long} --- {long}_2\n"
        "5. first_action --> success\n"
        "6. value_head_estimate --> success\n"
    )
    result = CliRunner(env={"COLUMNS": "80"}).invoke(
        cli,
        [
            "check-graph",
            str(graph),
            "--base",
            "success",
            "--mesa",
            "value_head_estimate",
            "--decision",
            "first_action",
            "--policy-inputs",
            long,
        ],
    )
    assert result.exit_code in (0, 3, 4, 5), result.output
    lines = result.output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Parent sets of"))
    end = next(i for i in range(start + 2, len(lines)) if not lines[i].strip())
    table = lines[start:end]
    assert len(table) > 8 and any(line.strip().startswith("nt_level") for line in table)  # folded
    assert max(cell_len(line.rstrip()) for line in table) <= 80, "\n".join(table)


def test_check_graph_help_imports_none_of_the_data_pipeline():
    # `mesalens check-graph --help` loads the graph formats and click, not the
    # checker's machinery (pandas, scipy, dask, networkx, causal-learn).
    heavy = ("pandas", "scipy", "dask", "networkx", "pyarrow", "causallearn")
    modules, importtime = _fresh_imports(
        textwrap.dedent(
            """
            from click.testing import CliRunner
            from mesalens.reports.cli import cli
            result = CliRunner().invoke(cli, ["check-graph", "--help"])
            assert result.exit_code == 0 and "--list-dags" in result.output, result.output
            """
        )
    )
    loaded = [name for name in heavy if name in modules]
    assert not loaded, "; ".join(_importers(importtime, name) for name in loaded)
    assert "mesalens.reports.cli.check_graph" in modules
    assert "mesalens.reports.checks.graph_check" not in modules
