"""The report's section "What would settle this", and the advice's terminal lines.

Renders the ``"advice"`` part of a result document (built by
:mod:`mesalens.pipeline.advice`): for a ``some``, the undirected edges whose
orientation decides the verdict, the smallest background knowledge that
settles it (and the knowledge file written for it), the single-variable
experiments, and for a PAG the circle marks whose fixing decides it (counts
over MAGs); for ``none``, ``some`` and ``invalid``, the smallest changes to
the policy inputs that make the verdict ``all``, or the open paths that block
them, and for ``invalid`` the declared inputs that close a cycle. Each list
is ranked by how many DAGs its items leave undecided. The reasoning is in
``docs/advice.md``.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mesalens.pipeline.advice_knowledge import describe
from mesalens.reports.formatting import format_count
from mesalens.reports.sections.common import ReportSection, render_template

__all__ = ["ADVICE_KNOWLEDGE_FILE", "advice_lines", "render_advice"]

#: The knowledge file the advice writes next to the report (``run``: in
#: ``--out``; ``check-graph``: next to ``--html``, else ``--json``), named in
#: the document's ``knowledge_file``; pass it back with ``--knowledge``.
ADVICE_KNOWLEDGE_FILE = "advice-knowledge.txt"

# How many items of each kind the terminal shows.
TERMINAL_ITEMS = 3


def _counts(row: Mapping[str, Any]) -> str:
    """``none (0 hold, 4 fail of 4)``, with the DAGs that cannot host the policy when any."""
    hold, fail, total = (format_count(row[k]) for k in ("n_hold", "n_fail", "n_dags"))
    text = f"{row['verdict']} ({hold} hold, {fail} fail of {total}"
    if row["n_invalid"]:
        text += f", {format_count(row['n_invalid'])} cannot host the policy"
    return text + ")"


def _arrow(edge: list[str]) -> str:
    return f"{edge[0]} --> {edge[1]}"


#: How each form of knowledge is named in the report and the terminal.
FORM_NAMES = {"required": "required edges", "forbidden": "forbidden edges", "tiers": "tiers"}


def _units(part: Mapping[str, Any]) -> str:
    return "MAGs" if part.get("unit") == "mag" else "DAGs"


def _mark_rows(part: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "edge": row["pag_edge"],
            "undecided": format_count(row["undecided"]),
            "options": [f"{o['edge']}: {_counts(o)}" for o in row["orientations"]],
        }
        for row in part.get("marks", [])
    ]


def _knowledge_lines(part: Mapping[str, Any], where: str | None) -> list[str]:
    """The best knowledge of each form (the first, written to ``where``, first)."""
    lines, seen = [], set()
    for k, row in enumerate(part["knowledge"]):
        if row["form"] in seen:
            continue
        seen.add(row["form"])
        written = f"; written to {where} (pass it with --knowledge)" if where and k == 0 else ""
        said = describe(row)
        if row["form"] != "required":
            said = (
                f"as {FORM_NAMES[row['form']]}, {said} "
                f"(on this class: {', '.join(_arrow(e) for e in row['orients'])})"
            )
        lines.append(f"advice: knowledge {said} settles it: {_counts(row)}{written}")
    return lines


def _policy_text(row: Mapping[str, Any]) -> str:
    # Quoted for the shell when a name needs it, so that the option can be pasted.
    inputs = shlex.quote(",".join(row["inputs"])) if row["inputs"] else "none"
    return f"--policy-inputs {inputs} ({' '.join(row['changes'])})"


def _edge_rows(part: Mapping[str, Any]) -> list[dict[str, str]]:
    return [
        {
            "edge": f"{row['edge'][0]} --- {row['edge'][1]}",
            "undecided": format_count(row["undecided"]),
            "first": f"{_arrow(row['orientations'][0]['edge'])}: {_counts(row['orientations'][0])}",
            "second": f"{_arrow(row['orientations'][1]['edge'])}: "
            f"{_counts(row['orientations'][1])}",
        }
        for row in part["edges"]
    ]


def _experiment_rows(part: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for row in part["experiments"]:
        outcomes = [f"parents {{{', '.join(o['parents'])}}}: {_counts(o)}" for o in row["outcomes"]]
        hidden = row["n_outcomes"] - len(row["outcomes"])
        if hidden:
            outcomes.append(f"... and {hidden} more outcomes (counted in the ranking)")
        rows.append(
            {
                "target": row["intervene_on"],
                "undecided": format_count(row["undecided"]),
                "outcomes": outcomes,
            }
        )
    return rows


def render_advice(document: Mapping[str, Any]) -> ReportSection | None:
    """The "What would settle this" section (None when the document has no advice)."""
    part = document.get("advice")
    if not part:
        return None
    policy = part.get("policy")
    context = {
        "part": part,
        "n_dags": document.get("n_dags"),
        "edges": _edge_rows(part),
        "units": _units(part),
        "marks": _mark_rows(part),
        "knowledge": [
            {
                "form": FORM_NAMES[row["form"]],
                "said": describe(row),
                "orients": ", ".join(_arrow(e) for e in row["orients"]),
                "size": row["size"],
                "counts": _counts(row),
            }
            for row in part["knowledge"]
        ],
        "experiments": _experiment_rows(part),
        "policy": policy,
        "passing": [
            {"text": _policy_text(row), "counts": _counts(row)}
            for row in (policy or {}).get("passing", [])
        ],
        "blocking": [
            {"path": " — ".join(row["path"]), "candidates": row["candidates"]}
            for row in (policy or {}).get("blocking_paths", [])
        ],
        "invalid_inputs": (policy or {}).get("invalid_inputs", []),
    }
    return ReportSection(
        id="advice",
        title="What would settle this",
        body=render_template("advice.html.j2", context),
    )


def advice_lines(part: Mapping[str, Any] | None, folder: Path | None = None) -> list[str]:
    """A few ranked terminal lines: the best of each kind of advice.

    ``folder`` is the report's, where the knowledge file was written.
    """
    if not part:
        return []
    lines: list[str] = []
    for row in part["edges"][:TERMINAL_ITEMS]:
        first, second = row["orientations"]
        lines.append(
            f"advice: orient {row['edge'][0]} --- {row['edge'][1]}: "
            f"{_arrow(first['edge'])} gives {_counts(first)}; "
            f"{_arrow(second['edge'])} gives {_counts(second)}"
        )
    for row in part.get("marks", [])[:TERMINAL_ITEMS]:
        options = "; ".join(f"{o['edge']} gives {_counts(o)}" for o in row["orientations"])
        lines.append(f"advice: if {row['pag_edge']} were fixed: {options}")
    if part["knowledge"]:
        where = part.get("knowledge_file")
        if where and folder is not None:
            where = str(folder / where)
        lines += _knowledge_lines(part, where)
    for row in part["experiments"][:TERMINAL_ITEMS]:
        lines.append(
            f"advice: intervening on {row['intervene_on']} leaves "
            f"{format_count(row['undecided'])} DAGs "
            f"undecided ({row['n_outcomes']} possible outcomes)"
        )
    policy = part.get("policy")
    if policy:
        for row in policy["passing"][:TERMINAL_ITEMS]:
            lines.append(f"advice: {_policy_text(row)} gives {_counts(row)}")
        if not policy["passing"]:
            size = policy["largest_change"]
            impossible = policy["n_invalid_candidates"]
            lines.append(
                f"advice: no policy within {size} change{'s' if size > 1 else ''} of the inputs "
                f"({policy['checked']} checked"
                + (f", {impossible} impossible in every {_units(part)[:-1]}" if impossible else "")
                + (", budget reached" if not policy["complete"] else "")
                + ") makes the verdict all"
            )
            for row in policy["blocking_paths"][:TERMINAL_ITEMS]:
                lines.append(
                    f"advice: open path {' — '.join(row['path'])} blocks "
                    f"{row['candidates']} of them"
                )
        for row in policy["invalid_inputs"]:
            cycle = " --> ".join(row["cycle"]) if row["cycle"] else "a directed path"
            lines.append(
                f"advice: input {row['input']} is downstream of the decision in "
                f"{row['n_downstream']} of {row['n_dags']} {_units(part)}: reading it closes "
                f"{cycle}"
            )
    lines += [f"advice: note: {note}" for note in part["notes"]]
    return lines
