"""The ``mesalens`` command line.

``mesalens check-graph`` decides the inner-alignment criterion over the
equivalence class of a graph file (or a built-in example) and reports it as a
terminal summary and, on request, as JSON. Its exit code is the verdict:

====  ==========================================================
code  meaning
====  ==========================================================
0     verdict ``all``: the criterion holds in every valid DAG
3     verdict ``some``
4     verdict ``none``
5     verdict ``invalid``: no DAG of the class admits the policy
1     bad input (graph, roles, files): one ``mesalens: error:`` line
2     usage error (unknown option, missing argument)
====  ==========================================================

Everything is computed before anything is written, so a bad input never
leaves a JSON file behind, and the JSON file itself is written atomically.
Errors that mesalens raises on purpose (:class:`MesalensError`) and failures
to read or write files are reported on one line; any other exception is a
bug and keeps its traceback.

Start-up time
-------------
``check-graph``, ``run``, ``demo`` and ``simulate`` are *lazy* subcommands (click's
documented "Lazily Loading Subcommands" pattern, :class:`LazyGroup`): their
modules, which import dask.dataframe, causal-learn, scikit-learn and the
rest of the data pipeline, are imported only when one of them is invoked,
so ``mesalens --help`` and every ``mesalens COMMAND --help`` start in a
fraction of the time (``run --help`` needs only the options table of
:mod:`mesalens.reports.checks.options`), and ``check-graph`` loads the graph
engine but none of the data pipeline. ``tests/test_imports.py`` checks
which modules each path loads.
"""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Mapping
from importlib import metadata
from typing import Any

import click

from mesalens.reports.cli.common import CONTEXT, EXIT_BAD_INPUT

__all__ = ["EXIT_BAD_INPUT", "LAZY_COMMANDS", "LazyGroup", "cli", "main"]

#: The lazily imported subcommands: name -> ("module:attribute", the short
#: help ``mesalens --help`` shows, so that listing them imports nothing;
#: tests/test_imports.py checks it against the command's own).
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "check-graph": (
        "mesalens.reports.cli.check_graph:check_graph",
        "Decide the inner-alignment criterion over the equivalence class of GRAPH.",
    ),
    "run": (
        "mesalens.reports.cli.run:run_command",
        "Learn the causal class from logs and decide the criterion over it.",
    ),
    "demo": (
        "mesalens.reports.cli.demo:demo_command",
        "Simulate agent logs and run the whole pipeline on them.",
    ),
    "simulate": (
        "mesalens.reports.cli.simulate:simulate_command",
        "Simulate random agent models and measure how often the learned verdict is right.",
    ),
}


class LazyGroup(click.Group):
    """A click group whose listed subcommands are imported on first use.

    Parameters
    ----------
    *args, **kwargs
        As for :class:`click.Group`.
    lazy_subcommands : mapping, optional
        Command name -> ``("module:attribute", short help)``.
    """

    def __init__(
        self,
        *args: Any,
        lazy_subcommands: Mapping[str, tuple[str, str]] | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = dict(lazy_subcommands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The eager and the lazy commands, sorted by name."""
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command ``cmd_name``, importing its module if it is lazy."""
        if cmd_name in self.commands or cmd_name not in self.lazy_subcommands:
            return super().get_command(ctx, cmd_name)
        target, _ = self.lazy_subcommands[cmd_name]
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):  # a wrong table entry: a bug, not bad input
            raise TypeError(f"{target} is a {type(command).__name__}, not a click command")
        self.add_command(command, cmd_name)  # later look-ups skip the import
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands as :class:`click.Group` does, without importing the lazy ones."""
        # name -> the command, or its stored short help if it is not imported yet
        entries: dict[str, click.Command | str] = {}
        for name in self.list_commands(ctx):
            if name in self.commands:
                if not self.commands[name].hidden:
                    entries[name] = self.commands[name]
            else:
                entries[name] = self.lazy_subcommands[name][1]
        if not entries:
            return
        # The width click.Group.format_commands allows a short help.
        limit = formatter.width - 6 - max(map(len, entries))
        rows = [
            (
                name,
                # A stand-in command shortens the stored text as the real one would.
                click.Command(name, help=entry).get_short_help_str(limit)
                if isinstance(entry, str)
                else entry.get_short_help_str(limit),
            )
            for name, entry in entries.items()
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _installed_version() -> str:
    """The installed version of mesalens (as ``result.json`` records it), ``unknown`` if none."""
    try:
        return metadata.version("mesalens")
    except metadata.PackageNotFoundError:
        return "unknown"


@click.group(cls=LazyGroup, context_settings=CONTEXT, lazy_subcommands=LAZY_COMMANDS)
@click.version_option(_installed_version(), "-V", "--version", prog_name="mesalens")
def cli() -> None:
    """Check whether a model's own objective screens off the regime shift.

    mesalens decides the inner-alignment criterion (Y_b independent of the
    regime s given Y_m, in the graph with the policy as a soft intervention)
    over every DAG of a causal graph's equivalence class.
    """


@cli.command("examples")
@click.option("--names", "names_only", is_flag=True, help="Print only the names, one a line.")
def examples_command(names_only: bool) -> None:
    """List the built-in example graphs (use them with check-graph --example NAME)."""
    from mesalens.reports.examples import example_description, example_names

    for name in example_names():
        if names_only:
            click.echo(name)
        else:
            click.echo(f"{name:<12} {example_description(name)}")


def main() -> None:
    """Run the ``mesalens`` console script."""
    try:
        cli(prog_name="mesalens")
    except MemoryError:
        # Outputs are written atomically, so nothing half-written is left behind.
        click.echo(
            "mesalens: error: out of memory: the data or a size asked for (--rows, --nodes, "
            "--bootstrap, --direct-test-rows) needs more memory than this machine has; lower "
            "it, or run on a dask cluster (--scheduler)",
            err=True,
        )
        sys.exit(EXIT_BAD_INPUT)
    finally:
        # The process ends next. Its last garbage collection would walk every
        # object of the libraries a run loads (causal-learn, scipy, pandas,
        # matplotlib) only to free memory the OS takes back anyway: ~0.9 s of
        # a `mesalens run`, against ~0.1 s with the objects frozen.
        # (Files and outputs are closed by then; atexit handlers still run.)
        gc.freeze()
