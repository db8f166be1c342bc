"""Start-up cost: which modules each command path imports.

``import mesalens.reports.cli``, ``mesalens --help`` and ``mesalens
check-graph`` must not import the heavy libraries that only ``run``,
``demo`` and ``simulate`` need (causal-learn alone takes ~2.7 s). Each path
runs in a fresh interpreter (``sys.executable -X importtime``), so the test
sees exactly what that path imports; a failure names the module and the
chain of modules that imported it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import click

from mesalens.reports.cli import LAZY_COMMANDS, cli

#: Imported only by the commands that read data or search.
HEAVY = (
    "causallearn",
    "sklearn",
    "matplotlib",
    "sqlalchemy",
    "dask.dataframe",
    "dask.distributed",
    "distributed",
    "scipy.stats",
    "pgmpy",
)


def _importers(importtime: str, module: str) -> str:
    """``module <- its importer <- ...`` from ``python -X importtime`` output."""
    entries = []
    for line in importtime.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2 or "self [us]" in line:
            continue
        name = line.split("|")[2]
        entries.append(((len(name) - len(name.lstrip())) // 2, name.strip()))
    # importtime prints a module after everything it imported, one level deeper.
    for i, (depth, name) in enumerate(entries):
        if name == module or name.startswith(module + "."):
            chain = [name]
            for outer, parent in entries[i + 1 :]:
                if outer < depth:
                    chain.append(parent)
                    depth = outer
            return " <- ".join(chain)
    return module


def _fresh_imports(code: str, cwd: Path | None = None) -> tuple[list[str], str]:
    """Run ``code`` in a new interpreter; return the modules it loaded and importtime's log."""
    script = code + "\nimport json as _j, sys as _s\nprint(_j.dumps(sorted(_s.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", script],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1]), done.stderr


def _assert_light(code: str, cwd: Path | None = None) -> None:
    modules, importtime = _fresh_imports(code, cwd)
    loaded = [h for h in HEAVY if h in modules]
    assert not loaded, "heavy modules imported: " + "; ".join(
        _importers(importtime, h) for h in loaded
    )


def test_importing_the_cli_loads_no_heavy_module():
    _assert_light("import mesalens.reports.cli")


def test_help_loads_no_heavy_module():
    _assert_light(
        textwrap.dedent(
            """
            from click.testing import CliRunner
            from mesalens.reports.cli import cli
            result = CliRunner().invoke(cli, ["--help"])
            assert result.exit_code == 0, result.output
            for name in ("check-graph", "examples", "run", "demo", "simulate"):
                assert f"  {name} " in result.output, result.output
            """
        )
    )


def test_check_graph_with_json_and_html_loads_no_heavy_module(tmp_path):
    # End to end through the CLI: the JSON and the report are written, and
    # neither the check nor the report needed the data-pipeline libraries.
    _assert_light(
        textwrap.dedent(
            """
            from click.testing import CliRunner
            from mesalens.reports.cli import cli
            result = CliRunner().invoke(
                cli,
                ["check-graph", "--example", "coinrun", "--json", "out.json",
                 "--html", "report.html"],
            )
            assert result.exit_code == 4, result.output
            """
        ),
        cwd=tmp_path,
    )
    document = json.loads((tmp_path / "out.json").read_text())
    assert document["verdict"] == "none"
    assert document["graph_source"] == "example:coinrun"
    html = (tmp_path / "report.html").read_text()
    assert "<html" in html.lower() and "coinrun" in html


def test_lazy_commands_list_their_own_short_help():
    # The stored short help is what the command itself would show.
    for name, (target, short_help) in LAZY_COMMANDS.items():
        command = cli.get_command(None, name)  # imports the command's module
        assert command is not None and command.name == name, target
        stand_in = click.Command(name, help=short_help)
        for limit in (20, 45, 60, 80, 200):
            shown = stand_in.get_short_help_str(limit)
            assert shown == command.get_short_help_str(limit), (name, limit)


def test_lazy_commands_run_through_the_group():
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["run", "--help"])
    assert result.exit_code == 0, result.output
    assert "--regime" in result.output
    listing = CliRunner().invoke(cli, ["--help"]).output
    assert "Learn the causal class from logs" in listing


def test_run_imports_causal_learn_only_when_it_searches(tmp_path):
    # `mesalens run` end to end in a fresh interpreter: importing the command
    # does not load causal-learn, loading the data does not either, and the
    # search does; result.json and report.html carry the verdict.
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent.parent)!r})
        from click.testing import CliRunner
        from tests.test_run import run_args, write_logs
        import mesalens.reports.checks.runner as runner
        from mesalens.reports.cli import cli
        assert "causallearn" not in sys.modules
        load = runner.load_regimes
        loaded = []
        def loading(*a, **k):
            data = load(*a, **k)
            loaded.append("causallearn" in sys.modules)
            return data
        runner.load_regimes = loading
        paths = write_logs(__import__("pathlib").Path("logs"), rows=1500)
        args = run_args(paths, "out", "--quiet", "--no-direct-test", "--method", "pc")
        result = CliRunner().invoke(cli, args)
        assert result.exit_code in (0, 3, 4, 8), result.output
        assert loaded == [False], loaded
        """
    )
    modules, importtime = _fresh_imports(code, cwd=tmp_path)
    assert "causallearn.search.ConstraintBased.PC" in modules
    # Without --scheduler the run uses dask's threads: no dask.distributed
    # (~0.25 s of imports) just to ask whether a client exists.
    assert "distributed" not in modules, _importers(importtime, "distributed")
    document = json.loads((tmp_path / "out" / "result.json").read_text())
    assert document["discovery"]["settings"]["method"] == "pc"
    assert document["verdict"] in {"all", "some", "none"}
    assert document["verdict"] in (tmp_path / "out" / "report.html").read_text()
