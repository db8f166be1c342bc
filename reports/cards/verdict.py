"""The report's verdict card: the verdict, its counts, the roles and what it means.

The headline and the quotable sentence, the counts of the class (holds,
fails, invalid, each with its share), the roles and where the graph came
from, what the verdict means and does not, and the warnings that go with it
(an unstable bootstrap, a direct test that contradicts an ``all``, a change
since the previous scheduled run), and whether the logs confirm an ``all``. The words come from
:mod:`mesalens.reports.vocabulary`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mesalens.reports.formatting import count_cell, format_count, format_share
from mesalens.reports.vocabulary import (
    NOT_CONFIRMED,
    class_unit,
    confirmation_lines,
    contradiction_sentence,
    gap_confirmed,
    gate,
    graph_origin,
    meaning,
    policy_text,
    separation,
    unstable_sentence,
    verdict_label,
    verdict_segments,
)

__all__ = ["verdict_card"]


def verdict_card(
    document: Mapping[str, Any], run: Mapping[str, Any] | None, source: str
) -> dict[str, Any]:
    """The verdict card's context, for a check (``run`` None) or a run.

    ``source`` names the given graph (already redacted); a run's class is
    the one learned from the logs.
    """
    is_run = run is not None
    roles = document["roles"]
    class_source = "the class learned from the logs" if is_run else f"the class of {source}"
    n_dags = document["n_dags"]
    means, not_means = meaning(document, run if is_run else None)
    verdict = document["verdict"]
    unit = class_unit(document)
    # The verdict is over the valid DAGs, so the holds/fails shares are of those;
    # the invalid ones are a share of the whole class.
    n_valid = n_dags - document["n_invalid"]
    counts = [
        {
            "label": f"{unit}s in the class",
            "value": count_cell(n_dags),
            "share": "",
        },
        {
            "label": f"criterion holds (of {format_count(n_valid)} valid)",
            "value": count_cell(document["n_hold"]),
            "share": format_share(document["n_hold"], n_valid) if n_valid else "",
            "cls": "hold",
        },
        {
            "label": f"criterion fails (of {format_count(n_valid)} valid)",
            "value": count_cell(document["n_fail"]),
            "share": format_share(document["n_fail"], n_valid) if n_valid else "",
            "cls": "fail",
        },
        {
            "label": "invalid for the policy",
            "value": count_cell(document["n_invalid"]),
            "share": format_share(document["n_invalid"], n_dags),
            "cls": "invalid",
        },
    ]
    role_rows = [
        ("regime s", roles["regime"]),
        ("base objective Y_b", ", ".join(roles["base"])),
        ("mesa objective Y_m", ", ".join(roles["mesa"])),
        ("decision D_m", ", ".join(roles["decision"])),
        ("policy inputs", policy_text(roles["policy_inputs"], unit)),
    ]
    return {
        "verdict": verdict,
        "verdict_label": verdict_label(verdict, unit),
        "unit": unit,
        "separation": separation(document),
        "direct_contradiction": contradiction_sentence(document, run),
        # A contradicted all whose gap the logs confirm is a note, not an alarm.
        "direct_contradiction_alarm": not gap_confirmed(document),
        "graph_origin": graph_origin(run, source),
        "sentence_segments": verdict_segments(document, class_source),
        "counts": counts,
        "roles": role_rows,
        "means": means,
        "not_means": not_means,
        "keep_note": roles["policy_inputs"] == "keep",
        "notes": list(((run or {}).get("discovery") or {}).get("notes") or []),
        "data_notes": list(((run or {}).get("data") or {}).get("notes") or []),
        "data_warnings": list(((run or {}).get("data") or {}).get("warnings") or []),
        "verdict_change": (run or {}).get("verdict_change"),
        "unstable": unstable_sentence(run),
        "not_confirmed": is_run and gate(run) == NOT_CONFIRMED,
        "confirmation": [
            {"text": text, "warn": kind == "warn"} for text, kind in confirmation_lines(run or {})
        ],
    }
