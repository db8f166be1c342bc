"""The report's direct-test section: what the logs say about this shift, next to the verdict.

Renders the ``"direct_test"`` part of ``result.json`` (built by
:mod:`mesalens.pipeline.alignment_gap`): the test of ``Y_b ⊥ s | Y_m`` on the
pooled logs per base objective and regime comparison (Fisher-z and/or the
generalised covariance measure, Holm-adjusted), the alignment gap
``E[E[Y_b | Y_m, regime] - E[Y_b | Y_m, reference]]`` with linear and
flexible (cross-fitted AIPW) estimates and confidence intervals, and a chart
of the binned ``E[Y_b | Y_m]`` per regime.

The structural verdict and the direct test answer different questions: the
verdict is about *any* shift of the regime's mechanisms through the learned
graph, the test about *this* shift in these logs. The section says in plain
words what it means when they disagree (:func:`explain`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup

from mesalens.reports.charts import Series, line_chart_svg
from mesalens.reports.formatting import format_estimate, format_p_value
from mesalens.reports.sections.common import ReportSection, render_template
from mesalens.reports.vocabulary import class_unit

__all__ = [
    "direct_test_line",
    "explain",
    "render_direct_test",
]

_METHOD_NAMES = {
    "fisherz": "Fisher-z (partial correlation, all rows)",
    "gcm": "GCM (cross-fitted gradient boosting)",
}


def _intervals_disagree(gaps: Sequence[Mapping[str, Any]]) -> list[str]:
    """Regimes whose linear and flexible intervals do not overlap."""
    by_regime: dict[str, dict[str, Mapping[str, Any]]] = {}
    for gap in gaps:
        by_regime.setdefault(gap["regime"], {})[gap["estimator"]] = gap
    out = []
    for regime, pair in by_regime.items():
        linear, flexible = pair.get("linear"), pair.get("flexible")
        if not linear or not flexible or None in (linear["lower"], flexible["lower"]):
            continue
        if linear["upper"] < flexible["lower"] or flexible["upper"] < linear["lower"]:
            out.append(regime)
    return out


def explain(
    verdict: str, part: Mapping[str, Any], mesa: str, base: str = "base", unit: str = "DAG"
) -> tuple[str, str]:
    """The plain-words reading of the structural verdict next to the direct test.

    Parameters
    ----------
    verdict : str
        The structural verdict (``all``, ``some``, ``none``, ``invalid``).
    part : mapping
        The ``direct_test`` part of ``result.json``.
    mesa : str
        The mesa objective's name(s), for the text.
    base : str
        The base objective's name(s), for the text.
    unit : str
        What the class is made of: ``"DAG"``, or ``"MAG"`` for a PAG.

    Returns
    -------
    kind : str
        ``"agree"``, ``"disagree"`` or ``"other"`` (for styling).
    text : str
        One paragraph.
    """
    rejected = bool(part["reject"])
    level = f"{part['level']:.0%}"
    if verdict == "invalid":
        return "other", (
            f"No {unit} of the learned class admits the declared policy, so there is no structural "
            "verdict to compare with; the direct test still describes these logs."
        )
    if verdict == "all" and rejected:
        return "disagree", (
            f"They disagree. The learned class says {mesa} screens the regime off from the base "
            f"objective in every {unit}, yet in the logs E[{base} | {mesa}] moves with the "
            "regime. Either the learned graph is wrong (discovery "
            "missed an edge that carries the shift around the mesa objective: a finite-sample "
            "error of its CI tests, or a hidden common cause), or the distribution is not "
            "faithful to the graph; or the test itself is off (a false alarm happens with "
            f"probability {part['alpha']} when nothing moves, and Fisher-z assumes a linear "
            f"E[{base} | {mesa}]: compare with GCM and the flexible gap). Do not rely on the "
            "structural 'all' until this is resolved."
        )
    if verdict in ("none", "some") and not rejected:
        where = f"every {unit}" if verdict == "none" else f"some {unit}s"
        return "disagree", (
            f"They disagree, and both can be right. In {where} of the learned class a path from "
            f"the regime to the base objective stays open given {mesa}, but this shift shows no "
            f"detectable gap (the {level} intervals below bound it). This shift does not excite "
            "the open path, or moves it too little for this sample to see. The structural "
            "verdict is about any shift through the same graph: a deployment that changes the "
            "same mechanisms differently, or more, can open a gap that these logs do not show."
        )
    if rejected:
        return "agree", (
            f"They agree: the graph leaves a path from the regime to the base objective open "
            f"given {mesa}, and in these logs E[{base} | {mesa}] does move with the regime "
            "(sizes below)."
        )
    return "agree", (
        f"They agree: {mesa} screens the regime off in every {unit} of the class, and the logs "
        f"show no detectable gap (the {level} intervals below bound it)."
    )


#: The gap estimator that goes with each test: the linear gap with Fisher-z
#: (both read the partial correlation), the flexible one with the GCM.
_GAP_OF_TEST = {"fisherz": "linear", "gcm": "flexible"}


def direct_test_line(part: Mapping[str, Any]) -> str:
    """One line for the terminal: the direct test's decision and, per base, the matching gap.

    The gap shown is the one estimated the way the deciding test reads the
    data (linear with Fisher-z, flexible with the GCM), so the line never
    pairs a rejection with an interval from the other estimator that covers
    zero; the report shows both.

    Examples
    --------
    >>> gap = {"estimator": "flexible", "regime": "deploy", "reference": "train",
    ...        "estimate": -1.8, "lower": -1.9, "upper": -1.7}
    >>> line = direct_test_line({"reject": True, "level": 0.95,
    ...     "outcomes": [{"base": "reward", "method": "gcm", "gaps": [gap]}]})
    >>> line.split("; ")[1]
    'reward: flexible gap deploy vs train -1.8 (95% CI -1.9 to -1.7)'
    >>> linear = {**gap, "estimator": "linear", "estimate": 0.45, "lower": 0.25, "upper": 0.64}
    >>> line = direct_test_line({"reject": True, "level": 0.95,
    ...     "outcomes": [{"base": "reward", "method": "fisherz", "gaps": [gap, linear]}]})
    >>> line.split("; ")[1]
    'reward: linear gap deploy vs train 0.45 (95% CI 0.25 to 0.64)'
    """
    if part.get("status") == "skipped":
        return "direct test: skipped; " + "; ".join(part.get("notes", []))
    decision = "independence rejected" if part["reject"] else "no detectable gap"
    unsigned = functools.partial(format_estimate, signed=False)
    pieces = []
    for outcome in part["outcomes"]:
        estimators = {g["estimator"] for g in outcome["gaps"]}
        wanted = _GAP_OF_TEST.get(outcome.get("method", ""), "flexible")
        shown = wanted if wanted in estimators else "flexible"
        pieces.extend(
            f"{outcome['base']}: {shown} gap {g['regime']} vs {g['reference']} "
            f"{unsigned(g['estimate'])} ({part['level']:.0%} CI {unsigned(g['lower'])} to "
            f"{unsigned(g['upper'])})"
            for g in outcome["gaps"]
            if g["estimator"] == shown
        )
    return f"direct test: {decision}; " + "; ".join(pieces)


def _chart(outcome: Mapping[str, Any], level: float) -> Markup | None:
    curve = outcome.get("curve")
    if not curve:
        return None
    x = [float(v) for v in curve["x"]]

    def floats(values: Sequence[float | None]) -> list[float]:
        return [float("nan") if v is None else float(v) for v in values]

    series = [
        Series(
            label=line["regime"],
            x=x,
            y=floats(line["mean"]),
            lower=floats(line["lower"]),
            upper=floats(line["upper"]),
        )
        for line in curve["series"]
    ]
    return line_chart_svg(
        series,
        x_label=f"{curve['mesa']} (median of its quantile bin)",
        y_label=f"mean {outcome['base']}",
        title=f"E[{outcome['base']} | {curve['mesa']}] per regime, {level:.0%} band",
    )


#: The report shows the pointwise gaps of at most this many regime pairs.
POINTWISE_PAIRS_SHOWN = 20


def _pointwise_rows(outcome: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per pair and point: the linear and the flexible gap there (deciding one marked)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    deciding = _GAP_OF_TEST.get(outcome.get("method", ""), "flexible")
    pairs: list[str] = []
    for g in outcome.get("pointwise_gaps") or []:
        comparison = f"{g['regime']} vs {g['reference']}"
        if comparison not in pairs:
            if len(pairs) == POINTWISE_PAIRS_SHOWN:
                continue
            pairs.append(comparison)
        value = g["value"]
        shown = format_estimate(value, signed=False) if isinstance(value, float) else str(value)
        row = rows.setdefault(
            (comparison, str(g["at"])),
            {"comparison": comparison, "at": str(g["at"]), "value": shown},
        )
        estimate = format_estimate(g["estimate"])
        if g["lower"] is None:
            row[g["estimator"]] = f"{estimate} (no interval)"
        else:
            lower, upper = format_estimate(g["lower"]), format_estimate(g["upper"])
            row[g["estimator"]] = f"{estimate} [{lower}, {upper}]"
        row["deciding"] = deciding
    return list(rows.values())


def render_direct_test(document: Mapping[str, Any]) -> ReportSection | None:
    """The direct-test section of a run document (None when the run has no such part)."""
    part = document.get("direct_test")
    if not part:
        return None
    roles = document.get("roles", {})
    mesa = ", ".join(part.get("mesa") or roles.get("mesa", [])) or "Y_m"
    base = ", ".join(roles.get("base", [])) or "Y_b"
    verdict = str(document.get("verdict", ""))
    if part.get("status") == "skipped":
        body = render_template("direct_test.html.j2", {"part": part, "skipped": True})
        return ReportSection(id="direct-test", title="Direct test", body=body)
    kind, reading = explain(verdict, part, mesa, base, class_unit(document))
    outcomes = []
    for outcome in part["outcomes"]:
        tests = [
            {
                "method": _METHOD_NAMES.get(t["method"], t["method"]),
                "deciding": t["method"] == outcome["method"],
                "comparison": f"{t['regime']} vs {t['reference']}",
                "statistic": format_estimate(t["statistic"]),
                "p_value": format_p_value(t["p_value"]),
                "p_holm": format_p_value(t["p_holm"]),
                "reject": t["reject"],
                "rows": f"{t['rows']:,}",
            }
            for t in outcome["tests"]
        ]
        gaps = [
            {
                "estimator": g["estimator"],
                "comparison": f"{g['regime']} vs {g['reference']}",
                "estimate": format_estimate(g["estimate"]),
                "se": format_estimate(g["se"], 2, signed=False),
                "interval": f"[{format_estimate(g['lower'])}, {format_estimate(g['upper'])}]",
                "covers_zero": g["covers_zero"],
            }
            for g in outcome["gaps"]
        ]
        outcomes.append(
            {
                "pointwise": _pointwise_rows(outcome),
                "pointwise_levels": any(
                    not str(g["at"]).endswith("%") for g in outcome.get("pointwise_gaps") or []
                ),
                "base": outcome["base"],
                "method": _METHOD_NAMES.get(outcome["method"], outcome["method"]),
                "method_reason": outcome["method_reason"],
                "reject": outcome["reject"],
                "tests": tests,
                "gaps": gaps,
                "estimators_disagree": _intervals_disagree(outcome["gaps"]),
                "chart": _chart(outcome, float(part["level"])),
            }
        )
    body = render_template(
        "direct_test.html.j2",
        {
            "part": part,
            "skipped": False,
            "verdict": verdict,
            "kind": kind,
            "reading": reading,
            "mesa": mesa,
            "base": base,
            "outcomes": outcomes,
            "rows": f"{part['rows']:,}",
            "rows_used": f"{part['rows_used']:,}",
        },
    )
    return ReportSection(id="direct-test", title="Direct test", body=body)
