"""The human-readable summary of a check, for the terminal.

Rendering goes through a :class:`rich.console.Console` supplied by the
caller, so the same code prints colours on a terminal and plain text into a
pipe or a log file (rich drops the styles when its file is not a TTY). Node
names are always wrapped in :class:`rich.text.Text`: a name such as
``[red]`` or ``:smile:`` must print as written, not as markup or an emoji.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mesalens.pipeline.bootstrap import BootstrapResult
from mesalens.pipeline.checker import CheckResult, ParentSetResult
from mesalens.pipeline.graph import CausalGraph, Mark
from mesalens.pipeline.pag_checker import PagCheckResult
from mesalens.reports.formatting import format_count, format_share

__all__ = [
    "EXIT_CODES",
    "bootstrap_line",
    "exit_code_line",
    "format_path",
    "render_dags",
    "render_summary",
    "verdict_sentence",
]

# The process exit code of ``mesalens check-graph`` for each verdict; 1 is a
# bad input and 2 a usage error (click's convention).
EXIT_CODES: dict[str, int] = {"all": 0, "some": 3, "none": 4, "invalid": 5}

# Beyond this many parent sets the table is cut short; the JSON has them all.
MAX_TABLE_ROWS = 40

_VERDICT_STYLE = {
    "all": "bold green",
    "some": "bold yellow",
    "none": "bold red",
    "invalid": "bold magenta",
}
# Written as escapes because ruff flags the characters as confusable.
SIGMA = "\u03c3"
DASH = "\u2013"  # an en dash: "not applicable" in a table cell
_STATUS_STYLE = {"hold": "green", "fail": "red", "invalid": "magenta", "mixed": "yellow"}


def _names(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else "{" + ", ".join(names) + "}"


def bootstrap_line(result: BootstrapResult) -> Text:
    """One line on the verdict's stability under resampling; loud when it is unstable."""
    counts, total = result.counts, result.replicates
    share = format_share(counts[result.verdict], total)
    others = [
        f"{format_share(count, total)} {'errors' if outcome == 'error' else repr(outcome)}"
        for outcome, count in counts.items()
        if count and outcome != result.verdict
    ]
    rest = f" ({', '.join(others)})" if others else ""
    threshold = f"{round(result.threshold * 100, 6):g}%"
    if result.stable:
        line = Text(
            f"Bootstrap: the verdict {result.verdict!r} came back in {share} of {total} "
            f"resamples{rest}: stable at the {threshold} threshold"
        )
        if not result.enough_replicates:
            low, high = result.main_share_interval
            line.append(
                f", but {total} resamples are too few to rely on (95% interval "
                f"{low:.0%}-{high:.0%}); use --bootstrap {result.min_replicates} or more.",
                style="bold yellow",
            )
        else:
            line.append(".")
        return line
    line = Text("UNSTABLE", style="bold white on red")
    line.append(
        f": the verdict {result.verdict!r} came back in only {share} of {total} bootstrap "
        f"resamples{rest}, below the {threshold} threshold; it flips under resampling, "
        "so do not rely on it (see the report's stability section).",
        style="bold red",
    )
    return line


def format_path(path: Sequence[str], graph: CausalGraph | None = None) -> str:
    """Format a path as ``a → b ← c``, with the edge directions read off ``graph``.

    Without a graph (or for an edge the graph does not have) the nodes are
    joined with ``—``.
    """
    if not path:
        return ""
    parts = [path[0]]
    for a, b in itertools.pairwise(path):
        arrow = "—"
        if graph is not None and a in graph and b in graph:
            if graph.mark(a, b) == Mark.ARROW and graph.mark(b, a) != Mark.ARROW:
                arrow = "→"
            elif graph.mark(b, a) == Mark.ARROW and graph.mark(a, b) != Mark.ARROW:
                arrow = "←"
        parts.extend((arrow, b))
    return " ".join(parts)


def verdict_sentence(result: CheckResult) -> str:
    """Say in one sentence in how many DAGs the criterion holds.

    For example ``The criterion (Yb ⊥ s | Ym in G_sigma) holds in 3 of 5 DAGs
    (60%) of the class; 0 invalid.`` (with the Greek sigma).
    """
    roles = result.roles
    n_dags = result.n_dags
    dags = _unit(result) if n_dags == 1 else f"{_unit(result)}s"
    return (
        f"The criterion ({_names(roles.base)} ⊥ {roles.regime} | {_names(roles.mesa)} "
        f"in G_{SIGMA}) "
        f"holds in {format_count(result.n_hold)} of {format_count(n_dags)} {dags} "
        f"({format_share(result.n_hold, n_dags)}) of the class; "
        f"{format_count(result.n_invalid)} invalid."
    )


def _unit(result: CheckResult) -> str:
    """What the class is made of: DAGs, or MAGs for a PAG (latent confounding)."""
    return "MAG" if isinstance(result, PagCheckResult) else "DAG"


def _verdict_explanation(result: CheckResult) -> str:
    roles = result.roles
    unit = _unit(result)
    base, mesa, decision = _names(roles.base), _names(roles.mesa), _names(roles.decision)
    if result.verdict == "all":
        return (
            f"inner aligned in every valid {unit} of the class: given {mesa}, the regime "
            f"tells nothing more about {base}."
        )
    if result.verdict == "some":
        return (
            f"inner aligned in some {unit}s of the class and not in others: the graph does not "
            f"decide it; the table shows which parents of {decision} make the difference."
        )
    if result.verdict == "none":
        return (
            f"not inner aligned in any valid {unit} of the class: a path from {roles.regime} to "
            f"{base} stays open given {mesa}."
        )
    return (
        f"no {unit} of the class admits the policy: every one has a policy input that is a "
        f"descendant of {decision}, so reading it would create a cycle."
    )


def _flag(value: bool | None, count: int | None, entry: ParentSetResult) -> Text:
    if entry.n_valid == 0:
        return Text(DASH, style="dim")
    if count is None:
        return Text("?", style="dim")  # the diagnostics ran out of budget
    if value is None:
        return Text("varies", style="yellow")
    return Text("yes" if value else "no")


def _parents_text(entry: ParentSetResult) -> str:
    if len(entry.parents) == 1:
        (names,) = entry.parents.values()
        return ", ".join(names) if names else "(none)"
    return "; ".join(
        f"{decision}: {', '.join(names) if names else '(none)'}"
        for decision, names in entry.parents.items()
    )


def _parent_set_table(result: CheckResult) -> Table:
    decision = _names(result.roles.decision)
    table = Table(
        title=f"Parent sets of {decision} in the class", title_justify="left", box=box.SIMPLE_HEAD
    )
    table.add_column("#", justify="right", style="dim")
    shown = result.parent_sets[:MAX_TABLE_ROWS]
    # Rich shrinks wrappable columns first; keep short parent lists on one
    # line. The hold and fail counts per parent set are left to the JSON: a
    # parent set's status says which of the two its valid DAGs are.
    widest = max((len(_parents_text(entry)) for entry in shown), default=8)
    table.add_column(f"parents of {decision} in G", overflow="fold", min_width=min(widest, 24))
    table.add_column(f"{_unit(result)}s", justify="right")
    table.add_column("invalid", justify="right")
    table.add_column("status", min_width=7)
    table.add_column("C1")
    table.add_column("C2")
    table.add_column("conj.")
    for number, entry in enumerate(shown, start=1):
        disagrees = entry.conjecture_disagrees
        if entry.n_valid == 0 or disagrees is None:
            mark = Text("?" if entry.n_valid else DASH, style="dim")
        else:
            mark = Text("DISAGREES", style="bold yellow") if disagrees else Text("agrees")
        table.add_row(
            str(number),
            Text(_parents_text(entry)),
            format_count(entry.n_dags),
            format_count(entry.n_invalid),
            Text(entry.status, style=_STATUS_STYLE.get(entry.status, "")),
            _flag(entry.c1, entry.n_c1, entry),
            _flag(entry.c2, entry.n_c2, entry),
            mark,
        )
    return table


def _open_path_lines(result: CheckResult) -> list[str]:
    """One line per parent set with a failing DAG: its open path, numbered as in the table."""
    lines = []
    for number, entry in enumerate(result.parent_sets[:MAX_TABLE_ROWS], start=1):
        witness = entry.witness
        if witness is not None and witness.open_path is not None:
            lines.append(f"  #{number}: {format_path(witness.open_path, witness.sigma_graph)}")
    return lines


def exit_code_line(verdict: str) -> str:
    """One line saying which exit code this verdict gives and what the codes mean."""
    return (
        f"Exit code {EXIT_CODES[verdict]} (verdict {verdict}): 0 all, 3 some, 4 none, "
        "5 invalid; 1 bad input, 2 usage error."
    )


def render_summary(
    result: CheckResult,
    console: Console,
    graph_source: str | None = None,
    dags: Sequence[Sequence[tuple[str, str]]] | None = None,
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
    """
    roles = result.roles
    verdict = result.verdict
    if graph_source is not None:
        console.print(Text(f"Graph: {graph_source}"), soft_wrap=True)
    console.print(
        Text(
            f"Roles: regime {roles.regime}, base {_names(roles.base)}, mesa {_names(roles.mesa)}, "
            f"decision {_names(roles.decision)}, policy inputs {roles.policy_description()}"
        ),
        soft_wrap=True,
    )
    console.print(Text(verdict_sentence(result)), soft_wrap=True)
    headline = Text("Verdict: ")
    headline.append(verdict, style=_VERDICT_STYLE[verdict])
    headline.append(f" — {_verdict_explanation(result)}")
    console.print(headline, soft_wrap=True)
    if roles.policy_inputs is None:
        console.print(
            Text(
                "With policy inputs 'keep' the intervened graph is the graph itself, so the "
                f"criterion is the same in every {_unit(result)} of the class."
            ),
            soft_wrap=True,
        )

    console.print()
    console.print(_parent_set_table(result))
    hidden = len(result.parent_sets) - MAX_TABLE_ROWS
    if hidden > 0:
        console.print(Text(f"... and {hidden} more parent sets (the JSON output has them all)."))
    if not result.parent_sets_complete:
        console.print(
            Text(
                f"The class has more valid parent sets than the {len(result.parent_sets)} listed; "
                "with policy inputs 'keep' they all give the same answer, and the counts above "
                "cover the whole class."
            ),
            soft_wrap=True,
        )
    console.print(
        Text(
            f"C1: {_names(roles.mesa)} is an ancestor of {_names(roles.base)}; C2: every directed "
            f"path from {roles.regime} to {_names(roles.base)} passes through {_names(roles.mesa)} "
            f"(both in G_{SIGMA}). The post's conjecture says the criterion holds exactly when "
            "C1 and C2 do.",
            style="dim",
        ),
        soft_wrap=True,
    )
    disagreeing = [
        str(k) for k, entry in enumerate(result.parent_sets, start=1) if entry.conjecture_disagrees
    ]
    if disagreeing:
        console.print(
            Text(
                f"The conjecture disagrees with the criterion for parent set(s) "
                f"{', '.join(disagreeing)}: C1 ∧ C2 gives the other answer there; the criterion "
                f"({'m' if _unit(result) == 'MAG' else 'd'}-separation in G_{SIGMA}) is the one "
                "that decides.",
                style="bold yellow",
            ),
            soft_wrap=True,
        )

    paths = _open_path_lines(result)
    if paths:
        console.print(
            Text(
                f"Open paths from {roles.regime} to {_names(roles.base)} given "
                f"{_names(roles.mesa)} in G_{SIGMA}:"
            ),
            soft_wrap=True,
        )
        for line in paths:
            console.print(Text(line), soft_wrap=True)
    if dags is not None:
        console.print()
        render_dags(dags, result.n_dags, console)
    console.print(Text(exit_code_line(verdict), style="dim"), soft_wrap=True)


def render_dags(dags: Sequence[Sequence[tuple[str, str]]], n_dags: int, console: Console) -> None:
    """Print listed DAGs as numbered edge lists, saying how many of the class they are."""
    total = "DAG" if n_dags == 1 else "DAGs"
    console.print(
        Text(
            f"DAGs of the restricted class: showing {len(dags):,} of "
            f"{format_count(n_dags)} {total}."
        ),
        soft_wrap=True,
    )
    for number, dag in enumerate(dags, start=1):
        edges = ", ".join(f"{u} → {v}" for u, v in dag) if dag else "(no edges)"
        console.print(Text(f"{number:>4}. {edges}"), soft_wrap=True)
