"""``mesalens check-graph``: the criterion over the class of a graph file or a built-in example.

Everything is computed before anything is written, so a bad input never
leaves a JSON file behind, and the JSON file itself is written atomically.
"""

from __future__ import annotations

import sys

import click
from rich.console import Console

from mesalens.connectors.errors import MesalensError
from mesalens.pipeline.formats import FORMATS
from mesalens.reports.checks.graph_check import build_roles, graph_input, role_texts
from mesalens.reports.checks.graph_check import check_graph as check_class
from mesalens.reports.checks.results import GraphCheckResult, check_destination
from mesalens.reports.cli.common import CONTEXT, fail, write_json
from mesalens.reports.examples import example_names
from mesalens.reports.summary import render_summary
from mesalens.reports.vocabulary import pag_note

__all__ = ["check_graph"]


@click.command("check-graph", context_settings=CONTEXT)
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
        found = graph_input(graph, example=example, format=graph_format)
        # Command-line options override the example's roles, which override
        # the built-in defaults.
        given = {
            "regime": regime,
            "base": base,
            "mesa": mesa,
            "decision": decision,
            "policy_inputs": policy_inputs,
        }
        texts, missing = role_texts(given, found.defaults)
        if missing:
            flags = ", ".join(f"--{key.replace('_', '-')}" for key in missing)
            raise click.UsageError(f"missing option {flags}")
        roles = build_roles(**texts)
        result = check_class(
            found.graph,
            roles,
            source=found.source,
            graph_sha256=found.sha256,
            graph_path=found.path,
            list_dags=list_dags,
        )
        # Both outputs are complete, and both destinations checked, before
        # either is written: a bad --html must not leave a new JSON behind.
        for option, path in (("--json", json_out), ("--html", html_out)):
            if path is not None and path != "-":
                check_destination(option, path, found.path)
        if html_out is not None:
            result.report_html()
        if json_out is not None:
            write_json(result.to_json(), json_out)
        if html_out is not None:
            result.write_report(html_out)
    except MesalensError as exc:
        fail(ctx, str(exc))
    except OSError as exc:  # reading a packaged example, or a stray file system error
        fail(ctx, f"{exc.strerror or exc}" + (f": {exc.filename!r}" if exc.filename else ""))

    if not quiet:
        _print_summary(result, json_out, html_out)
    ctx.exit(result.exit_code)


def _print_summary(result: GraphCheckResult, json_out: str | None, html_out: str | None) -> None:
    # Markup, emoji codes and highlighting are off: node names are data.
    console = Console(stderr=json_out == "-", markup=False, emoji=False, highlight=False)
    if json_out is not None and json_out != "-":
        console.print(f"JSON written to {json_out}", soft_wrap=True)
    if html_out is not None:
        console.print(f"HTML report written to {html_out}", soft_wrap=True)
    document = result.document
    if document.get("latent"):
        console.print(pag_note(document), soft_wrap=True)
    render_summary(
        result.check,
        console,
        graph_source=result.source,
        dags=document.get("dags"),
        document=document,
    )
