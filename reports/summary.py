"""The human-readable summary of a check, for the terminal.

Rendering goes through a :class:`rich.console.Console` supplied by the
caller, so the same code prints colours on a terminal and plain text into a
pipe or a log file (rich drops the styles when its file is not a TTY). Node
names are always wrapped in :class:`rich.text.Text`: a name such as
``[red]`` or ``:smile:`` must print as written, not as markup or an emoji.

The words come from :mod:`mesalens.reports.vocabulary`, read off the check's
result document; this module lays them out and styles them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mesalens.reports.formatting import format_count
from mesalens.reports.result_json import check_result_to_dict
from mesalens.reports.sections.advice import advice_lines
from mesalens.reports.vocabulary import (
    SIGMA,
    bootstrap_words,
    class_unit,
    conjecture_mark,
    count_sentence,
    exit_code_line,
    flag,
    names_text,
    parents_text,
    path_text,
    policy_option,
    separation,
    verdict_explanation,
)

if TYPE_CHECKING:
    from mesalens.pipeline.bootstrap import BootstrapResult
    from mesalens.pipeline.check_result import CheckResult, ParentSetResult
    from mesalens.pipeline.graph import CausalGraph

__all__ = ["bootstrap_line", "render_dags", "render_summary"]

# Beyond this many parent sets the table is cut short; the JSON has them all.
MAX_TABLE_ROWS = 40

_VERDICT_STYLE = {
    "all": "bold green",
    "some": "bold yellow",
    "none": "bold red",
    "invalid": "bold magenta",
}
_STATUS_STYLE = {"hold": "green", "fail": "red", "invalid": "magenta", "mixed": "yellow"}
# The terminal's style for each kind of marker the vocabulary returns.
_MARK_STYLE = {"muted": "dim", "warn": "yellow", "disagree": "bold yellow", "": ""}


def bootstrap_line(result: BootstrapResult) -> Text:
    """One line on the verdict's stability under resampling; loud when it is unstable."""
    part = result.as_dict()
    lead, rest = bootstrap_words(part)
    if not part["stable"]:
        line = Text(lead, style="bold white on red")
        line.append(rest, style="bold red")
        return line
    line = Text(lead)
    line.append(rest, style=None if part["enough_replicates"] else "bold yellow")
    return line


def _mark(text: str, kind: str) -> Text:
    """A vocabulary marker, styled for the terminal (the conjecture's disagreement shouted)."""
    return Text(text.upper() if kind == "disagree" else text, style=_MARK_STYLE[kind])


def _parents(entry: ParentSetResult) -> Any:
    """A parent set's parents in the document's shape, in the graph's node order.

    The terminal lists them as the check found them; the document sorts
    them by name.
    """
    if len(entry.parents) == 1:
        (names,) = entry.parents.values()
        return names
    return entry.parents


def _edges(graph: CausalGraph) -> list[list[str]]:
    """A graph's edges as the document's ``[u, kind, v]`` triples (for :func:`path_text`)."""
    return [[edge.u, edge.kind, edge.v] for edge in graph.edges()]


def _parent_set_table(document: dict[str, Any], result: CheckResult) -> Table:
    decision = names_text(document["roles"]["decision"])
    table = Table(
        title=f"Parent sets of {decision} in the class", title_justify="left", box=box.SIMPLE_HEAD
    )
    table.add_column("#", justify="right", style="dim")
    shown = list(zip(document["parent_sets"], result.parent_sets, strict=True))[:MAX_TABLE_ROWS]
    texts = [parents_text(_parents(live)) for _entry, live in shown]
    # Rich shrinks wrappable columns first; keep short parent lists on one
    # line. The hold and fail counts per parent set are left to the JSON: a
    # parent set's status says which of the two its valid DAGs are.
    widest = max((len(text) for text in texts), default=8)
    table.add_column(f"parents of {decision}", overflow="fold", min_width=min(widest, 24))
    table.add_column(f"{class_unit(document)}s", justify="right")
    table.add_column("invalid", justify="right")
    table.add_column("status", min_width=7)
    table.add_column("C1")
    table.add_column("C2")
    table.add_column("conj.")
    for number, ((entry, _live), text) in enumerate(zip(shown, texts, strict=True), start=1):
        n_valid = entry["n_hold"] + entry["n_fail"]
        table.add_row(
            str(number),
            Text(text),
            format_count(entry["n_dags"]),
            format_count(entry["n_invalid"]),
            Text(entry["status"], style=_STATUS_STYLE.get(entry["status"], "")),
            _mark(*flag(entry["c1"], entry["n_c1"], n_valid)),
            _mark(*flag(entry["c2"], entry["n_c2"], n_valid)),
            _mark(*conjecture_mark(entry)),
        )
    return table


def _open_path_lines(document: dict[str, Any], result: CheckResult) -> list[str]:
    """One line per parent set with a failing DAG: its open path, numbered as in the table."""
    lines = []
    shown = zip(document["parent_sets"][:MAX_TABLE_ROWS], result.parent_sets, strict=False)
    for number, (entry, live) in enumerate(shown, start=1):
        path = entry["open_path"]
        if path is not None and live.witness is not None:
            # The edges of this parent set's own G_sigma give the arrows;
            # the document keeps only the main failing witness's.
            lines.append(f"  #{number}: {path_text(path, _edges(live.witness.sigma_graph))}")
    return lines


def render_summary(
    result: CheckResult,
    console: Console,
    graph_source: str | None = None,
    dags: Sequence[Sequence[tuple[str, str]]] | None = None,
    document: dict[str, Any] | None = None,
    *,
    exit_line: bool = True,
    report_folder: Path | None = None,
) -> None:
    """Print the verdict, the parent-set table, the conjecture check and the exit code.

    Parameters
    ----------
    result : CheckResult
        The check to summarise.
    console : rich.console.Console
        Where to print (stdout, or stderr when the JSON goes to stdout).
    graph_source : str, optional
        Where the graph came from, shown in the heading.
    dags : sequence of edge lists, optional
        DAGs listed on request (see :func:`render_dags`), printed before the
        exit-code line.
    document : dict, optional
        The check's result document
        (:func:`~mesalens.reports.result_json.check_result_to_dict`) when the
        caller has it already; built from ``result`` otherwise. The words
        are read off it; ``result`` gives the parents in the graph's node
        order and each parent set's G_sigma for the arrows of its open path.
    exit_line : bool, default True
        End with the exit-code line (a run prints its own, after the evidence).
    report_folder : Path, optional
        The folder of the written report, where the advice's knowledge file is.
    """
    if document is None:
        document = check_result_to_dict(result, graph_source=graph_source)
    roles = document["roles"]
    verdict = document["verdict"]
    base, mesa = names_text(roles["base"]), names_text(roles["mesa"])
    if graph_source is not None:
        console.print(Text(f"Graph: {graph_source}"), soft_wrap=True)
    console.print(
        Text(
            f"Roles: regime {roles['regime']}, base {base}, mesa {mesa}, "
            f"decision {names_text(roles['decision'])}, "
            f"policy inputs {policy_option(roles['policy_inputs'])}"
        ),
        soft_wrap=True,
    )
    console.print(Text(count_sentence(document)), soft_wrap=True)
    headline = Text("Verdict: ")
    headline.append(verdict, style=_VERDICT_STYLE[verdict])
    headline.append(f" — {verdict_explanation(document)}")
    console.print(headline, soft_wrap=True)
    if roles["policy_inputs"] == "keep":
        console.print(
            Text(
                "With policy inputs 'keep' the intervened graph is the graph itself, so the "
                f"criterion is the same in every {class_unit(document)} of the class."
            ),
            soft_wrap=True,
        )

    console.print()
    console.print(_parent_set_table(document, result))
    entries = document["parent_sets"]
    hidden = len(entries) - MAX_TABLE_ROWS
    if hidden > 0:
        console.print(Text(f"... and {hidden} more parent sets (the JSON output has them all)."))
    if not document["parent_sets_complete"]:
        console.print(
            Text(
                f"The class has more valid parent sets than the {len(entries)} listed; "
                "with policy inputs 'keep' they all give the same answer, and the counts above "
                "cover the whole class."
            ),
            soft_wrap=True,
        )
    if document.get("diagnostics_cut"):
        console.print(
            Text(
                "The C1/C2 diagnostics stopped at their work budget on this class ('?' above; "
                "with policy inputs 'keep' the table of parent sets may also be cut): they "
                "are unknown, not false. The verdict and every count are exact."
            ),
            soft_wrap=True,
        )
    console.print(
        Text(
            f"C1: {mesa} is an ancestor of {base}; C2: every directed "
            f"path from {roles['regime']} to {base} passes through {mesa} "
            f"(both in G_{SIGMA}). The post's conjecture says the criterion holds exactly when "
            "C1 and C2 do.",
            style="dim",
        ),
        soft_wrap=True,
    )
    disagreeing = [
        str(k) for k, entry in enumerate(entries, start=1) if entry["conjecture_disagrees"]
    ]
    if disagreeing:
        console.print(
            Text(
                f"The conjecture disagrees with the criterion for parent set(s) "
                f"{', '.join(disagreeing)}: C1 ∧ C2 gives the other answer there; the criterion "
                f"({separation(document)} in G_{SIGMA}) is the one that decides.",
                style="bold yellow",
            ),
            soft_wrap=True,
        )

    paths = _open_path_lines(document, result)
    if paths:
        console.print(
            Text(f"Open paths from {roles['regime']} to {base} given {mesa} in G_{SIGMA}:"),
            soft_wrap=True,
        )
        for line in paths:
            console.print(Text(line), soft_wrap=True)
    if dags is not None:
        console.print()
        render_dags(dags, document["n_dags"], console)
    for line in advice_lines(document.get("advice"), report_folder):
        console.print(Text(line), soft_wrap=True)
    if exit_line:
        console.print(Text(exit_code_line(verdict), style="dim"), soft_wrap=True)


def render_dags(
    dags: Iterable[Sequence[tuple[str, str]]],
    n_dags: int,
    console: Console,
    shown: int | None = None,
) -> None:
    """Print listed DAGs as numbered edge lists, saying how many of the class they are.

    ``dags`` may be a stream (a listing's generator); ``shown`` then says how
    many it yields, so that nothing is collected before printing.
    """
    if shown is None:
        dags = list(dags)
        shown = len(dags)
    total = "DAG" if n_dags == 1 else "DAGs"
    console.print(
        Text(f"DAGs of the restricted class: showing {shown:,} of {format_count(n_dags)} {total}."),
        soft_wrap=True,
    )
    for number, dag in enumerate(dags, start=1):
        edges = ", ".join(f"{u} → {v}" for u, v in dag) if dag else "(no edges)"
        console.print(Text(f"{number:>4}. {edges}"), soft_wrap=True)
