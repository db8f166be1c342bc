"""The report's parent-set table: one row per valid parent set of ``D_m``.

Per parent set: its DAGs (or a PAG's MAGs) and their share of the class,
how many hold, fail and do not admit the policy, its open path with a
button that highlights it on the graph (:mod:`mesalens.reports.cards.graph`),
C1, C2 and whether the post's conjecture agrees with the criterion. The
words and marks come from :mod:`mesalens.reports.vocabulary`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mesalens.reports.formatting import count_cell, format_share
from mesalens.reports.vocabulary import conjecture_mark, flag, parents_text, path_text

if TYPE_CHECKING:
    from mesalens.pipeline.checker import CheckResult
    from mesalens.reports.cards.graph import ClassDrawing

__all__ = ["MAX_PARENT_SET_ROWS", "parent_set_card"]

#: Parent sets shown in the table (the JSON has them all).
MAX_PARENT_SET_ROWS = 200


def _cell(mark: tuple[str, str]) -> dict[str, str]:
    """A vocabulary marker as a table cell: its text and its CSS class."""
    text, kind = mark
    return {"text": text, "cls": kind}


def parent_set_card(
    document: Mapping[str, Any], drawn: ClassDrawing, result: CheckResult | None
) -> dict[str, Any]:
    """The parent-set table's context: its rows, the disagreeing and the highlighted row.

    ``result``, when at hand, gives each parent set's own G_sigma for the
    arrows of its open path; without it the failing witness's (for its
    path) or the restricted class's edges are used.
    """
    n_dags = document["n_dags"]
    entries = document["parent_sets"]
    row_path_index, highlight = drawn.row_path_index, drawn.highlight
    fail_path, sigma_fail = drawn.fail_path, drawn.sigma_fail
    result_sets = result.parent_sets if result is not None else None
    rows = []
    for number, entry in enumerate(entries[:MAX_PARENT_SET_ROWS], start=1):
        path = entry.get("open_path")
        path_words = ""
        if path:
            witness_edges = None
            if result_sets is not None and len(result_sets) == len(entries):
                witness = result_sets[number - 1].witness
                if witness is not None and witness.open_path is not None:
                    witness_edges = [[e.u, e.kind, e.v] for e in witness.sigma_graph.edges()]
            if witness_edges is None and sigma_fail is not None and tuple(path) == fail_path:
                witness_edges = sigma_fail
            if witness_edges is None:
                witness_edges = document["restricted_graph"]
            path_words = path_text(path, witness_edges)
        index = row_path_index[number - 1]
        n_valid = entry["n_hold"] + entry["n_fail"]
        rows.append(
            {
                "number": number,
                "parents": parents_text(entry["parents"]),
                "n_dags": count_cell(entry["n_dags"]),
                "share": format_share(entry["n_dags"], n_dags),
                "n_hold": count_cell(entry["n_hold"]),
                "n_fail": count_cell(entry["n_fail"]),
                "n_invalid": count_cell(entry["n_invalid"]),
                "status": entry["status"],
                "path": path_words,
                "path_ids": " ".join(drawn.drawing.path_ids[index]) if index is not None else "",
                "path_lit": index is not None and index == highlight,
                "c1": _cell(flag(entry.get("c1"), entry.get("n_c1"), n_valid)),
                "c2": _cell(flag(entry.get("c2"), entry.get("n_c2"), n_valid)),
                "conjecture": _cell(conjecture_mark(entry)),
            }
        )
    return {
        "rows": rows,
        "disagreeing": [r["number"] for r in rows if r["conjecture"]["cls"] == "disagree"],
        "highlighted_row": next((r["number"] for r in rows if r["path_lit"]), None),
        "n_parent_sets": len(entries),
        "n_invalid_sets": sum(1 for entry in entries if entry["status"] == "invalid"),
        "hidden_rows": max(0, len(entries) - MAX_PARENT_SET_ROWS),
        "parent_sets_complete": document.get("parent_sets_complete", True),
    }
