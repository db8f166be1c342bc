"""``mesalens check-graph``: the criterion over the class of a graph file or a built-in example.

Everything is computed before anything is written, so a bad input never
leaves a JSON file behind, and the JSON file itself is written atomically.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.text import Text

from mesalens.connectors.atomic import atomic_write_chunks
from mesalens.connectors.errors import InputError, MesalensError
from mesalens.pipeline.enumeration import iter_dag_edges
from mesalens.pipeline.formats import FORMATS
from mesalens.pipeline.formats.names import clip
from mesalens.reports.atomic import atomic_write_text
from mesalens.reports.cli.common import CONTEXT, fail
from mesalens.reports.examples import example_names
from mesalens.reports.sections.advice import ADVICE_KNOWLEDGE_FILE
from mesalens.reports.vocabulary import exit_code_line, pag_note

# `check-graph --help` imports only the above; the checker's machinery (pandas
# and the data pipeline come with it) loads when a check starts.
if TYPE_CHECKING:
    from mesalens.reports.checks.results import GraphCheckResult

__all__ = ["check_graph"]


#: The most DAGs ``--list-dags`` lists. Listing streams (constant memory), so
#: the bound is about time and output size: 10^9 DAGs of a dozen edges are
#: tens of gigabytes of JSON and hours of listing.
LIST_DAGS_MAX = 10**9


class _DagCount(click.ParamType):
    """A whole number of DAGs, 1 to :data:`LIST_DAGS_MAX` (help and errors say so in words)."""

    name = "count"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip().replace("_", "")
            if not text.isdigit():
                self.fail(f"{clip(str(value))} is not a whole number of DAGs", param, ctx)
            number = int(text) if len(text) <= 12 else LIST_DAGS_MAX + 1
        if not 1 <= number <= LIST_DAGS_MAX:
            self.fail(
                f"{clip(str(value))} is not between 1 and {LIST_DAGS_MAX:,}, the most DAGs "
                "mesalens lists",
                param,
                ctx,
            )
        return number


def _dag_listing(result: GraphCheckResult) -> Callable[[int], Iterator[list[tuple[str, str]]]]:
    """A function that starts a fresh listing of up to N DAGs as sorted name pairs.

    Each consumer (the JSON file, the terminal, the report) starts its own
    listing: the lister is deterministic and streams with linear delay, so
    no list of DAGs is ever held in memory.
    """
    restricted = result.check.restricted_pdag
    if restricted is None:
        raise InputError(
            "--list-dags lists DAGs, but GRAPH is a PAG whose class is MAGs; they are listed "
            "in the JSON ('latent', 'mags') and the HTML report: use --json or --html instead"
        )
    names = result.check.node_names

    def listing(limit: int) -> Iterator[list[tuple[str, str]]]:
        for edges in itertools.islice(iter_dag_edges(restricted), limit):
            yield [(names[i], names[j]) for i, j in sorted(edges)]

    return listing


def _utf8_path(option: str, path: str | None) -> None:
    """Refuse a path holding bytes that are not UTF-8: no output could name it."""
    from mesalens.connectors.listing import printable

    if path is None:
        return
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            f"{option} '{printable(path)}': the name holds bytes that are not UTF-8 (shown "
            "as \\xNN), which the JSON and the report cannot show; rename the file"
        ) from None


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
    type=_DagCount(),
    metavar="N",
    help="Also list up to N DAGs of the class (in the terminal and in the JSON; the report "
    "shows the first 200), N from 1 to 1,000,000,000. The listing streams: memory stays "
    "constant, time and output grow with N.",
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
    if graph is None and example is None:
        raise click.UsageError(
            "no graph given: name a GRAPH file (.txt, .dot, .gv, .json) or a built-in example "
            "with --example NAME (mesalens examples lists them)"
        )
    if graph is not None and example is not None:
        raise click.UsageError(
            f"give either a GRAPH file ({graph!r}) or --example {example}, not both"
        )
    if example is not None and graph_format is not None:
        raise click.UsageError("--format applies to a GRAPH file, not to --example")
    from mesalens.reports.checks.graph_check import build_roles, graph_input, role_texts
    from mesalens.reports.checks.graph_check import check_graph as check_class
    from mesalens.reports.checks.output_paths import check_output_paths
    from mesalens.reports.checks.results import check_destination
    from mesalens.reports.result_json import iter_dumps

    listing = None
    n_listed = None
    try:
        _utf8_path("GRAPH", graph)
        _utf8_path("--json", json_out)
        _utf8_path("--html", html_out)
        # Every output path is checked before the (possibly long) work (and
        # again just before writing).
        check_output_paths(
            [("--json", json_out, "file"), ("--html", html_out, "file")],
            [
                *([] if graph is None else [("input graph", graph)]),
                *([] if knowledge is None else [("knowledge file", knowledge)]),
            ],
        )
        for option, path in (("--json", json_out), ("--html", html_out)):
            if path is not None and path != "-":
                check_destination(option, path, graph)
        # A large graph file shows what is going on (on a terminal only).
        size = 0 if graph is None else _large(str(graph))
        show = not quiet and size > 0
        with _stage(show, f"reading {graph} ({size / 2**20:.0f} MiB)"):
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
        with _stage(show, f"checking the class ({found.graph.number_of_edges():,} edges)"):
            result = check_class(
                found.graph,
                roles,
                source=found.source,
                graph_sha256=found.sha256,
                graph_path=found.path,
                knowledge=knowledge,
                advice=advice,
            )
        advice_part = result.document.get("advice")
        knowledge_out = _knowledge_destination(advice_part, html_out, json_out)
        if knowledge_out is not None and advice_part is not None:
            advice_part["knowledge_file"] = ADVICE_KNOWLEDGE_FILE
        if list_dags is not None:
            listing = _dag_listing(result)
            n_listed = min(list_dags, result.n_dags)
        # Both outputs are complete before either is written: a bad --html
        # must not leave a new JSON behind.
        html = None
        if html_out is not None:
            from mesalens.reports.dag_pages import DAG_LIST_LIMIT

            shown = None if listing is None else list(listing(min(list_dags, DAG_LIST_LIMIT)))
            html = result.report_html(shown)
        if knowledge_out is not None and advice_part is not None:
            _write_knowledge(knowledge_out, advice_part["knowledge"][0]["text"], graph)
        elif advice_part is not None:
            # An older file would speak for a check it is not of.
            stale = _report_folder(html_out, json_out)
            if stale is not None:
                (stale / ADVICE_KNOWLEDGE_FILE).unlink(missing_ok=True)
        if json_out is not None:
            chunks = iter_dumps(result.document, None if listing is None else listing(list_dags))
            _write_json_stream(chunks, json_out, list_dags)
        if html is not None:
            result.write_report(html_out, html)
    except MesalensError as exc:
        fail(ctx, str(exc))
    except OSError as exc:  # reading a packaged example, or a stray file system error
        fail(ctx, f"{exc.strerror or exc}" + (f": {exc.filename!r}" if exc.filename else ""))
    except MemoryError:
        fail(ctx, _out_of_memory(list_dags))

    if not quiet:
        try:
            _print_summary(result, listing, n_listed, json_out, html_out)
        except MemoryError:
            fail(ctx, _out_of_memory(list_dags))
    ctx.exit(result.exit_code)


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


#: From this size on, reading and checking a graph file show a status line.
LARGE_GRAPH_BYTES = 2**20


def _large(path: str) -> int:
    """The size of ``path`` when it is at least :data:`LARGE_GRAPH_BYTES`, else 0."""
    try:
        size = os.stat(path).st_size
    except OSError:
        return 0
    return size if size >= LARGE_GRAPH_BYTES else 0


def _stage(show: bool, text: str) -> contextlib.AbstractContextManager[Any]:
    """A status line on stderr while a long stage runs, when stderr is a terminal."""
    console = Console(stderr=True, markup=False, emoji=False, highlight=False)
    if not show or not console.is_terminal:
        return contextlib.nullcontext()
    return console.status(text)


def _out_of_memory(list_dags: int | None) -> str:
    if list_dags is not None:
        return (
            f"ran out of memory with --list-dags {list_dags:,}; ask for fewer DAGs "
            "(the listing itself streams: the graph's DAGs are too large to hold even a few)"
        )
    return "ran out of memory checking this graph; check a smaller part of it"


def _write_json_stream(chunks: Iterator[str], target: str, list_dags: int | None) -> None:
    """Write the JSON chunks to ``target`` atomically (``-``: stdout) as they come."""
    if target == "-":
        for chunk in chunks:
            click.echo(chunk, nl=False)
        return
    try:
        atomic_write_chunks(target, (chunk.encode("utf-8") for chunk in chunks))
    except OSError as exc:
        raise InputError(
            f"cannot write the JSON output {target!r}: {exc.strerror or exc}"
            + ("" if list_dags is None else f" (with --list-dags {list_dags:,})")
        ) from None


def _print_summary(
    result: GraphCheckResult,
    listing: Callable[[int], Iterator[list[tuple[str, str]]]] | None,
    n_listed: int | None,
    json_out: str | None,
    html_out: str | None,
) -> None:
    from mesalens.reports.cli.console import summary_console
    from mesalens.reports.summary import render_dags, render_summary

    # Markup, emoji codes and highlighting are off: node names are data.
    console = summary_console(stderr=json_out == "-")
    document = result.document
    if document.get("latent"):
        console.print(pag_note(document), soft_wrap=True)
    render_summary(
        result.check,
        console,
        graph_source=result.source,
        document=document,
        exit_line=False,
        report_folder=Path(html_out or json_out or ".").parent,
    )
    if listing is not None and n_listed is not None:
        console.print()
        render_dags(listing(n_listed), document["n_dags"], console, shown=n_listed)
    # The files come after the verdict and its evidence, the exit code last.
    if json_out is not None and json_out != "-":
        console.print(f"JSON written to {json_out}", soft_wrap=True)
    if html_out is not None:
        console.print(f"HTML report written to {html_out}", soft_wrap=True)
    console.print(Text(exit_code_line(result.verdict), style="dim"), soft_wrap=True)
