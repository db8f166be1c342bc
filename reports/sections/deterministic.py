"""The report's section on deterministic relations, and its terminal lines.

Renders the ``"deterministic"`` part of a run document (built by
:mod:`mesalens.pipeline.deterministic_rule`): every relation found among the
columns (constant, determined by others, equivalent), where it holds (every
regime, or some regimes only), the columns left out for it and why, and the
thresholds used. The rule and its limits are in ``docs/deterministic.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mesalens.reports.sections.common import ReportSection, render_template

__all__ = ["deterministic_lines", "render_deterministic"]


def _where(relation: Mapping[str, Any]) -> str:
    regimes = relation.get("regimes")
    return "every regime" if not regimes else ", ".join(regimes) + " only"


def render_deterministic(document: Mapping[str, Any]) -> ReportSection | None:
    """The deterministic-relations section (None when the run has no such part)."""
    part = document.get("deterministic")
    if not part:
        return None
    left = {item["relation"]: [] for item in part["left_out"]}
    for item in part["left_out"]:
        left[item["relation"]].append(item["column"])
    rows = [
        {
            "kind": relation["kind"],
            "sentence": relation["sentence"],
            "method": relation["method"] or "",
            "where": _where(relation),
            "left_out": ", ".join(left.get(relation["sentence"], [])),
        }
        for relation in part["relations"]
    ]
    context = {
        "part": part,
        "rows": rows,
        "left_out": part["left_out"],
        "kept": ", ".join(part["kept"]),
        "r2": f"{1 - part['residual_share']:.9f}".rstrip("0"),
    }
    return ReportSection(
        id="deterministic",
        title="Deterministic relations",
        body=render_template("deterministic.html.j2", context),
    )


def deterministic_lines(part: Mapping[str, Any] | None) -> list[str]:
    """The terminal's lines: one per relation, one per column left out, then the notes."""
    if not part:
        return []
    lines = [f"deterministic: {relation['sentence']}" for relation in part["relations"]]
    lines += [f"note: left out {item['column']!r}: {item['reason']}" for item in part["left_out"]]
    lines += [f"note: {note}" for note in part["notes"]]
    return lines
