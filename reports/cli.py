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
``run``, ``demo`` and ``simulate`` are *lazy* subcommands (click's
documented "Lazily Loading Subcommands" pattern, :class:`LazyGroup`): their
modules, which import dask.dataframe, causal-learn, scikit-learn and the
rest of the data pipeline, are imported only when one of them is invoked,
so ``mesalens --help`` and ``mesalens check-graph`` start in a fraction of
the time. ``tests/test_imports.py`` checks which modules each path loads.
"""

from __future__ import annotations

import gc
import importlib
import itertools
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from mesalens.connectors.errors import MesalensError
from mesalens.pipeline.checker import CheckResult, check, restricted_class
from mesalens.pipeline.enumeration import iter_dag_edges
from mesalens.pipeline.formats import FORMATS, read_graph_with_sha256
from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.roles import Roles
from mesalens.reports.cli_common import (
    CONTEXT,
    EXIT_BAD_INPUT,
    BadInput,
    build_roles,
    fail,
    write_json,
)
from mesalens.reports.examples import example_description, example_names, load_example
from mesalens.reports.result_json import check_result_to_dict, dumps, mesalens_version
from mesalens.reports.summary import render_summary
from mesalens.reports.vocabulary import EXIT_CODES, pag_note

__all__ = ["EXIT_BAD_INPUT", "LAZY_COMMANDS", "LazyGroup", "cli", "main"]

#: The lazily imported subcommands: name -> ("module:attribute", the short
#: help ``mesalens --help`` shows, so that listing them imports nothing;
#: tests/test_imports.py checks it against the command's own).
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "run": (
        "mesalens.reports.run_cli:run_command",
        "Learn the causal class from logs and decide the criterion over it.",
    ),
    "demo": (
        "mesalens.reports.run_cli:demo_command",
        "Simulate agent logs and run the whole pipeline on them.",
    ),
    "simulate": (
        "mesalens.reports.simulate_cli:simulate_command",
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


def _list_dags(graph: CausalGraph, roles: Roles, limit: int) -> list[list[tuple[str, str]]]:
    """Up to ``limit`` DAGs of the restricted class, as sorted ``(tail, head)`` name pairs."""
    if graph.kind() == "pag":
        raise BadInput(
            "--list-dags lists DAGs, but GRAPH is a PAG whose class is MAGs; they are listed "
            "in the JSON ('latent', 'mags') and the HTML report: use --json or --html instead"
        )
    names = graph.nodes
    dags = []
    for edges in itertools.islice(iter_dag_edges(restricted_class(graph, roles)), limit):
        dags.append([(names[i], names[j]) for i, j in sorted(edges)])
    return dags


@click.group(cls=LazyGroup, context_settings=CONTEXT, lazy_subcommands=LAZY_COMMANDS)
@click.version_option(mesalens_version(), "-V", "--version", prog_name="mesalens")
def cli() -> None:
    """Check whether a model's own objective screens off the regime shift.

    mesalens decides the inner-alignment criterion (Y_b independent of the
    regime s given Y_m, in the graph with the policy as a soft intervention)
    over every DAG of a causal graph's equivalence class.
    """


@cli.command("check-graph")
@click.argument("graph", required=False, metavar="[GRAPH]")
@click.option(
    "--example",
    type=click.Choice(example_names()),
    help="Check a built-in example graph (with its roles as defaults) instead of GRAPH.",
)
@click.option("--regime", metavar="NAME", help="The regime node s.  [default: regime]")
@click.option("--base", metavar="NAMES", help="The base objective Y_b: comma-separated node names.")
@click.option("--mesa", metavar="NAMES", help="The mesa objective Y_m: comma-separated node names.")
@click.option(
    "--decision", metavar="NAMES", help="The mesa decision D_m: comma-separated node names."
)
@click.option(
    "--policy-inputs",
    metavar="keep|none|A,B,...",
    help="What the policy reads: 'keep' (the decision's parents in each DAG), 'none', "
    "or a list of nodes.  [default: keep]",
)
@click.option(
    "--json",
    "json_out",
    metavar="OUT|-",
    help="Write the result as JSON to OUT ('-' for stdout; the summary then goes to stderr).",
)
@click.option(
    "--html",
    "html_out",
    metavar="FILE",
    help="Also write the self-contained HTML report to FILE.",
)
@click.option(
    "--list-dags",
    type=click.IntRange(min=1, max=sys.maxsize),
    metavar="N",
    help="Also list up to N DAGs of the class (in the terminal and in the JSON).",
)
@click.option(
    "--format",
    "graph_format",
    type=click.Choice(sorted(FORMATS), case_sensitive=False),
    help="Format of GRAPH.  [default: from the file extension]",
)
@click.option("--quiet", "-q", is_flag=True, help="Print no summary (errors still go to stderr).")
@click.pass_context
def check_graph(
    ctx: click.Context,
    graph: str | None,
    example: str | None,
    regime: str | None,
    base: str | None,
    mesa: str | None,
    decision: str | None,
    policy_inputs: str | None,
    json_out: str | None,
    html_out: str | None,
    list_dags: int | None,
    graph_format: str | None,
    quiet: bool,
) -> None:
    """Decide the inner-alignment criterion over the equivalence class of GRAPH.

    GRAPH is a DAG, CPDAG or MPDAG file in the Tetrad (.txt), DOT (.dot) or
    JSON (.json) format, or a PAG (latent confounding), checked over its
    MAGs. Exit code: 0 verdict all, 3 some, 4 none, 5 invalid, 1 bad input,
    2 usage error.
    """
    if (graph is None) == (example is None):
        raise click.UsageError("give either a GRAPH file or --example NAME (not both)")
    if example is not None and graph_format is not None:
        raise click.UsageError("--format applies to a GRAPH file, not to --example")
    try:
        if example is not None:
            causal_graph, defaults = load_example(example)
            source = f"example:{example}"
        else:
            causal_graph, defaults, source = None, {}, str(graph)
        given = {
            "regime": regime,
            "base": base,
            "mesa": mesa,
            "decision": decision,
            "policy_inputs": policy_inputs,
        }
        fallback = {"regime": "regime", "policy_inputs": "keep"}
        # Command-line options override the example's roles, which override
        # the built-in defaults.
        options = {
            key: value if value is not None else defaults.get(key, fallback.get(key))
            for key, value in given.items()
        }
        missing = [f"--{key.replace('_', '-')}" for key, value in options.items() if value is None]
        if missing:
            raise click.UsageError(f"missing option {', '.join(missing)}")
        roles = build_roles(**options)
        graph_sha256 = None
        if causal_graph is None:
            causal_graph, graph_sha256 = read_graph_with_sha256(str(graph), format=graph_format)
        result = check(causal_graph, roles)
        dags = None if list_dags is None else _list_dags(causal_graph, roles, list_dags)
        document = None
        if json_out is not None or html_out is not None:
            document = check_result_to_dict(
                result, graph_source=source, dags=dags, graph_sha256=graph_sha256
            )
        # Both outputs are complete, and both destinations checked, before
        # either is written: a bad --html must not leave a new JSON behind.
        for option, path in (("--json", json_out), ("--html", html_out)):
            _check_destination(option, path, None if graph is None else str(graph))
        html = None
        if html_out is not None and document is not None:
            # The report code (pandas, dask, templates) loads only when asked for.
            from mesalens.reports.dag_pages import class_dags
            from mesalens.reports.html import render_check_report
            from mesalens.reports.sections import render_sections

            html = render_check_report(
                document,
                dags=dags if dags is not None else class_dags(result),
                result=result,
                sections=render_sections(document),
            )
        if json_out is not None and document is not None:
            write_json(dumps(document), json_out)
        if html_out is not None and html is not None:
            from mesalens.reports.html import write_report

            try:
                write_report(html_out, html)
            except OSError as exc:
                raise BadInput(
                    f"cannot write the HTML report {html_out!r}: {exc.strerror or exc}"
                ) from None
    except (MesalensError, BadInput) as exc:
        fail(ctx, str(exc))
    except OSError as exc:  # reading a packaged example, or a stray file system error
        fail(ctx, f"{exc.strerror or exc}" + (f": {exc.filename!r}" if exc.filename else ""))

    if not quiet:
        _print_summary(result, document, source, dags, json_out, html_out)
    ctx.exit(EXIT_CODES[result.verdict])


def _check_destination(option: str, path: str | None, graph: str | None) -> None:
    """Refuse an output path whose folder is missing, or that is the input graph itself."""
    if path is None or path == "-":
        return
    target = Path(path)
    if not target.parent.is_dir():
        raise BadInput(
            f"{option} {path!r}: the folder {str(target.parent)!r} does not exist; create it "
            "or write elsewhere"
        )
    if target.is_dir():
        raise BadInput(f"{option} {path!r} is a folder; give a file name")
    if graph is not None and target.exists() and target.resolve() == Path(graph).resolve():
        raise BadInput(f"{option} {path!r} is the input graph itself; write elsewhere")


def _print_summary(
    result: CheckResult,
    document: dict[str, Any] | None,
    source: str,
    dags: list[list[tuple[str, str]]] | None,
    json_out: str | None,
    html_out: str | None = None,
) -> None:
    # Markup, emoji codes and highlighting are off: node names are data.
    console = Console(stderr=json_out == "-", markup=False, emoji=False, highlight=False)
    if json_out is not None and json_out != "-":
        console.print(f"JSON written to {json_out}", soft_wrap=True)
    if html_out is not None:
        console.print(f"HTML report written to {html_out}", soft_wrap=True)
    if document is None:
        document = check_result_to_dict(result, graph_source=source)
    if document.get("latent"):
        console.print(pag_note(document), soft_wrap=True)
    render_summary(result, console, graph_source=source, dags=dags, document=document)


@cli.command("examples")
@click.option("--names", "names_only", is_flag=True, help="Print only the names, one a line.")
def examples_command(names_only: bool) -> None:
    """List the built-in example graphs (use them with check-graph --example NAME)."""
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
