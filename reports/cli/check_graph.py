"""``mesalens check-graph``: the criterion over the class of a graph file or a built-in example.

Everything is computed before anything is written, so a bad input never
leaves a JSON file behind, and the JSON file itself is written atomically.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from mesalens.connectors.errors import InputError, MesalensError
from mesalens.pipeline.check_result import CheckResult
from mesalens.pipeline.checker import check, restricted_class
from mesalens.pipeline.enumeration import iter_dag_edges
from mesalens.pipeline.formats import FORMATS, read_graph_with_sha256
from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.roles import Roles
from mesalens.reports.atomic import atomic_write_text
from mesalens.reports.checks.config import build_roles, read_knowledge
from mesalens.reports.cli.common import CONTEXT, fail, write_json
from mesalens.reports.examples import example_names, load_example
from mesalens.reports.result_json import check_result_to_dict, dumps
from mesalens.reports.sections.advice import ADVICE_KNOWLEDGE_FILE
from mesalens.reports.summary import render_summary
from mesalens.reports.vocabulary import EXIT_CODES, pag_note

__all__ = ["check_graph"]


def _list_dags(graph: CausalGraph, roles: Roles, limit: int) -> list[list[tuple[str, str]]]:
    """Up to ``limit`` DAGs of the restricted class, as sorted ``(tail, head)`` name pairs."""
    if graph.kind() == "pag":
        raise InputError(
            "--list-dags lists DAGs, but GRAPH is a PAG whose class is MAGs; they are listed "
            "in the JSON ('latent', 'mags') and the HTML report: use --json or --html instead"
        )
    names = graph.nodes
    dags = []
    for edges in itertools.islice(iter_dag_edges(restricted_class(graph, roles)), limit):
        dags.append([(names[i], names[j]) for i, j in sorted(edges)])
    return dags


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
    "--knowledge",
    metavar="FILE",
    help="Tetrad knowledge file (tiers, required and forbidden edges): orients the graph's "
    "undirected edges before the check.",
)
@click.option(
    "--advice/--no-advice",
    default=True,
    show_default="on",
    help="What would settle a 'some' (edges, knowledge, experiments) and which policy inputs "
    f"would pass; with --json/--html also writes {ADVICE_KNOWLEDGE_FILE} next to them.",
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
    knowledge: str | None,
    advice: bool,
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
        if knowledge is not None:
            from mesalens.pipeline.knowledge_graph import apply_knowledge

            causal_graph = apply_knowledge(
                causal_graph, read_knowledge(knowledge, label="--knowledge")
            )
        result = check(causal_graph, roles)
        dags = None if list_dags is None else _list_dags(causal_graph, roles, list_dags)
        advice_part = None
        if advice:
            from mesalens.pipeline.advice import advise

            advice_part = advise(result).to_dict()
        knowledge_out = _knowledge_destination(advice_part, html_out, json_out)
        if knowledge_out is not None and advice_part is not None:
            advice_part["knowledge_file"] = ADVICE_KNOWLEDGE_FILE
        document = None
        if json_out is not None or html_out is not None:
            document = check_result_to_dict(
                result, graph_source=source, dags=dags, graph_sha256=graph_sha256
            )
            if advice_part is not None:
                document["advice"] = advice_part
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
        if knowledge_out is not None and advice_part is not None:
            _write_knowledge(knowledge_out, advice_part["knowledge"][0]["text"], graph)
        elif advice_part is not None:
            # An older file would speak for a check it is not of.
            stale = _report_folder(html_out, json_out)
            if stale is not None:
                (stale / ADVICE_KNOWLEDGE_FILE).unlink(missing_ok=True)
        if json_out is not None and document is not None:
            write_json(dumps(document), json_out)
        if html_out is not None and html is not None:
            from mesalens.reports.html import write_report

            try:
                write_report(html_out, html)
            except OSError as exc:
                raise InputError(
                    f"cannot write the HTML report {html_out!r}: {exc.strerror or exc}"
                ) from None
    except MesalensError as exc:
        fail(ctx, str(exc))
    except OSError as exc:  # reading a packaged example, or a stray file system error
        fail(ctx, f"{exc.strerror or exc}" + (f": {exc.filename!r}" if exc.filename else ""))

    if not quiet:
        _print_summary(result, document, source, dags, json_out, html_out, advice_part)
    ctx.exit(EXIT_CODES[result.verdict])


def _knowledge_destination(
    advice_part: dict[str, Any] | None, html_out: str | None, json_out: str | None
) -> Path | None:
    """Where the advice's knowledge file goes: next to the HTML report, else the JSON file."""
    if advice_part is None or not advice_part["knowledge"]:
        return None
    folder = _report_folder(html_out, json_out)
    return None if folder is None else folder / ADVICE_KNOWLEDGE_FILE


def _report_folder(html_out: str | None, json_out: str | None) -> Path | None:
    """The folder of the HTML report, else of the JSON file (None for stdout only)."""
    for path in (html_out, json_out):
        if path is not None and path != "-":
            return Path(path).parent
    return None


def _write_knowledge(target: Path, text: str, graph: str | None) -> None:
    if graph is not None and target.exists() and target.resolve() == Path(graph).resolve():
        raise InputError(
            f"the advice's knowledge file {str(target)!r} is the input graph itself; "
            "write the report elsewhere or use --no-advice"
        )
    try:
        atomic_write_text(target, text)
    except OSError as exc:
        raise InputError(
            f"cannot write the advice's knowledge file {str(target)!r}: {exc.strerror or exc}"
        ) from None


def _check_destination(option: str, path: str | None, graph: str | None) -> None:
    """Refuse an output path whose folder is missing, or that is the input graph itself."""
    if path is None or path == "-":
        return
    target = Path(path)
    if not target.parent.is_dir():
        raise InputError(
            f"{option} {path!r}: the folder {str(target.parent)!r} does not exist; create it "
            "or write elsewhere"
        )
    if target.is_dir():
        raise InputError(f"{option} {path!r} is a folder; give a file name")
    if graph is not None and target.exists() and target.resolve() == Path(graph).resolve():
        raise InputError(f"{option} {path!r} is the input graph itself; write elsewhere")


def _print_summary(
    result: CheckResult,
    document: dict[str, Any] | None,
    source: str,
    dags: list[list[tuple[str, str]]] | None,
    json_out: str | None,
    html_out: str | None = None,
    advice_part: dict[str, Any] | None = None,
) -> None:
    # Markup, emoji codes and highlighting are off: node names are data.
    console = Console(stderr=json_out == "-", markup=False, emoji=False, highlight=False)
    if json_out is not None and json_out != "-":
        console.print(f"JSON written to {json_out}", soft_wrap=True)
    if html_out is not None:
        console.print(f"HTML report written to {html_out}", soft_wrap=True)
    if document is None:
        document = check_result_to_dict(result, graph_source=source)
        if advice_part is not None:
            document["advice"] = advice_part
    if document.get("latent"):
        console.print(pag_note(document), soft_wrap=True)
    render_summary(
        result,
        console,
        graph_source=source,
        dags=dags,
        document=document,
        report_folder=Path(html_out or json_out or ".").parent,
    )
