"""The report's verdict card: the verdict, its counts, the roles and what it means.

The headline and the quotable sentence, the counts of the class (holds,
fails, invalid, each with its share), the roles and where the graph came
from, what the verdict means and does not, and the warnings that go with it
(an unstable bootstrap, a direct test that contradicts an ``all``, a change
since the previous scheduled run). The words come from
:mod:`mesalens.reports.vocabulary`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mesalens.reports.formatting import count_cell, format_share
from mesalens.reports.vocabulary import (
    class_unit,
    contradiction_sentence,
    meaning,
    policy_text,
    separation,
    unstable_sentence,
    verdict_label,
    verdict_segments,
)

__all__ = ["verdict_card"]

# Written as an escape because ruff flags the character as confusable.
ALPHA = "\u03b1"


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
    counts = [
        {
            "label": f"{unit}s in the class",
            "value": count_cell(n_dags),
            "share": "",
        },
        {
            "label": "criterion holds",
            "value": count_cell(document["n_hold"]),
            "share": format_share(document["n_hold"], n_dags),
            "cls": "hold",
        },
        {
            "label": "criterion fails",
            "value": count_cell(document["n_fail"]),
            "share": format_share(document["n_fail"], n_dags),
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
        "graph_origin": _graph_origin(run, source),
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
    }


def _graph_origin(run: Mapping[str, Any] | None, source: str) -> str:
    if run is None:
        return f"{source} (given by the user)"
    settings = (run.get("discovery") or {}).get("settings") or {}
    method = str(settings.get("method", "")).upper()
    test = settings.get("test")
    alpha = settings.get("alpha")
    details = ", ".join(
        part
        for part in (method, f"test {test}" if test else "", f"{ALPHA} = {alpha}" if alpha else "")
        if part
    )
    return f"learned from the logs ({details})" if details else "learned from the logs"
