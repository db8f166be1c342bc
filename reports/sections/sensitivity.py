"""The report's sensitivity section: direct effects and gaps per σ-graph.

Renders the ``"sensitivity"`` part of ``result.json`` (built by
:mod:`mesalens.pipeline.sensitivity`): an IDA-style table with the regime's
direct effect on the base objective (the part that does not pass through the
mesa objective) in every distinct σ-graph of the class, and the gap
``E[Y_b | Y_m, deploy] - E[Y_b | Y_m, train]`` with its 95% interval.

The λ curves (the gap as the regime's mechanism changes are scaled by λ from
0 to 1) stay in ``result.json`` but are not drawn: the regime only shifts
means in this parametrisation, so each curve is the straight line λ × gap and
a chart of it carries nothing the gap at λ = 1 does not (docs/simulate.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mesalens.reports.formatting import format_count, format_estimate
from mesalens.reports.sections.common import ReportSection, render_template

__all__ = ["render_sensitivity"]

_Z95 = 1.959963984540054


def _by_decision(parents: Any, decisions: Sequence[str]) -> Mapping[str, Sequence[str]]:
    """A check parent set's ``parents`` (a list for one decision node) as a mapping."""
    if isinstance(parents, Mapping):
        return parents
    return {decisions[0]: parents or []} if len(decisions) == 1 else {}


def _parents_key(parents: Mapping[str, Sequence[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple(sorted((node, tuple(sorted(names))) for node, names in parents.items()))


def _parents(parents: Mapping[str, Sequence[str]]) -> str:
    return "; ".join(f"{node} ← {{{', '.join(names)}}}" for node, names in parents.items())


def _interval(gap: float, standard_error: float | None) -> str:
    """The gap's 95% interval (normal, from its delta-method standard error)."""
    if standard_error is None:
        return "–"
    half = _Z95 * float(standard_error)
    return f"{format_estimate(gap - half, 4)} to {format_estimate(gap + half, 4)}"


def render_sensitivity(document: Mapping[str, Any]) -> ReportSection | None:
    """The sensitivity section of a run document (None when the run has no such part)."""
    part = document.get("sensitivity")
    if not part:
        return None
    roles = document.get("roles", {})
    mesa = ", ".join(roles.get("mesa", [])) or "Y_m"
    decision = ", ".join(roles.get("decision", [])) or "D_m"
    # Number each parent set as the report's parent-set table does.
    decisions = roles.get("decision", [])
    numbers = {
        _parents_key(_by_decision(entry.get("parents"), decisions)): number
        for number, entry in enumerate(document.get("parent_sets") or [], start=1)
    }
    rows = []
    for position, entry in enumerate(part.get("parent_sets", []), start=1):
        number = numbers.get(_parents_key(entry["parents"]), position)
        for contrast in entry["contrasts"]:
            for effect in contrast["direct_effects"]:
                se = effect["standard_error"]
                rows.append(
                    {
                        "number": number,
                        "parents": _parents(entry["parents"]),
                        "status": entry["status"],
                        "regime": contrast["regime"],
                        "base": contrast["base"],
                        "mesa_parents": _parents(effect["mesa_parents"]),
                        "n_dags": format_count(int(effect["n_dags"])),
                        "n_dags_exact": str(effect["n_dags"]),
                        "effect": format_estimate(effect["estimate"], 4),
                        "effect_se": f"{se:.2g}" if se is not None else "–",
                        "gap": format_estimate(contrast["gap"], 4),
                        "gap_se": f"{contrast['gap_standard_error']:.2g}",
                        "gap_interval": _interval(contrast["gap"], contrast["gap_standard_error"]),
                    }
                )
    possible = [
        {
            "regime": item["regime"],
            "base": item["base"],
            "text": ", ".join(
                f"{format_estimate(v['estimate'], 4)} ({format_count(int(v['n_dags']))} DAGs)"
                for v in item["values"]
            ),
        }
        for item in part.get("possible_direct_effects", [])
    ]
    body = render_template(
        "sensitivity.html.j2",
        {
            "part": part,
            "rows": rows,
            "possible": possible,
            "mesa": mesa,
            "decision": decision,
            "mesa_at": ", ".join(f"{k} = {v:.4g}" for k, v in part.get("mesa_at", {}).items()),
        },
    )
    return ReportSection(id="sensitivity", title="Sensitivity", body=body)
