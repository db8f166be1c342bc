"""The report's evidence card: the CI tests that decided the role pairs, and the data.

For a run: every pair of variables that touches the regime or a role
variable, whether discovery kept its edge and the test that decided it
(:func:`ci_evidence`); the regimes' sources and row counts
(:func:`data_summary`); and the per-column distributions per regime
(:mod:`mesalens.reports.distributions`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mesalens.connectors.regime import redact_url
from mesalens.reports.distributions import REGIME_PALETTE, distribution_rows
from mesalens.reports.formatting import format_number, format_p_value

__all__ = ["EDGE_GLYPHS", "MAX_CI_TEST_ROWS", "ci_evidence", "data_summary", "evidence_card"]

#: Rows of the table of every CI test on the role pairs (the JSON has them all).
MAX_CI_TEST_ROWS = 400


def _role_variables(roles: Mapping[str, Any]) -> dict[str, str]:
    """Each role variable (and policy input) and the role it plays."""
    out = {roles["regime"]: "regime"}
    for role in ("base", "mesa", "decision"):
        for name in roles[role]:
            out[name] = role
    if isinstance(roles["policy_inputs"], list):
        for name in roles["policy_inputs"]:
            out.setdefault(name, "policy input")
    return out


_ROLE_ORDER = {"regime": 0, "base": 1, "mesa": 2, "decision": 3, "policy input": 4}

#: Edge kinds as drawn in text.
EDGE_GLYPHS = {
    "-->": "→",
    "<--": "←",
    "---": "—",
    "<->": "↔",
    "o->": "o→",
    "<-o": "←o",
    "o-o": "o–o",
    "--o": "–o",
    "o--": "o–",
}


def ci_evidence(run: Mapping[str, Any], roles: Mapping[str, Any]) -> dict[str, Any]:
    """The CI tests on pairs that touch the regime or a role variable, grouped by pair.

    Per pair: whether the learned graph joins it, and the test that decided
    it (for a removed edge the first test that found independence, whose
    conditioning set separates the pair; for a kept edge the test with the
    highest p-value, the one closest to removing it), plus every test run.
    """
    discovery = run.get("discovery") or {}
    tests = discovery.get("ci_tests") or []
    involved = _role_variables(roles)
    columns = list((run.get("data") or {}).get("columns") or [])
    position = {name: i for i, name in enumerate(columns)}
    edge_text = {
        frozenset((u, v)): f"{u} {EDGE_GLYPHS.get(kind, kind)} {v}"
        for u, kind, v in run.get("learned_graph", [])
    }

    def rank(name: str) -> tuple[int, int, str]:
        return (_ROLE_ORDER.get(involved.get(name, ""), 5), position.get(name, 1 << 30), name)

    pairs: dict[frozenset[str], list[dict[str, Any]]] = {}
    for test in tests:
        if test["x"] in involved or test["y"] in involved:
            pairs.setdefault(frozenset((test["x"], test["y"])), []).append(test)
    rows = []
    for key, group in pairs.items():
        x, y = sorted((group[0]["x"], group[0]["y"]), key=rank)
        independent = [t for t in group if t.get("decision") == "independent"]
        kept = key in edge_text
        if independent and not kept:
            deciding = independent[0]
        else:
            finite = [t for t in group if isinstance(t.get("p_value"), int | float)]
            deciding = max(finite, key=lambda t: t["p_value"]) if finite else group[-1]
        rows.append(
            {
                "x": x,
                "y": y,
                "rank": (rank(x), rank(y)),
                "roles": ", ".join(
                    sorted({involved[n] for n in (x, y) if n in involved}, key=_ROLE_ORDER.get)
                ),
                "outcome": "edge kept" if kept else "edge removed",
                "removed": not kept,
                "edge": edge_text.get(key, "no edge"),
                "conditioning": ", ".join(deciding.get("conditioning_set") or []) or "∅",
                "statistic": format_number(deciding.get("statistic")),
                "p_value": format_p_value(deciding.get("p_value")),
                "n_tests": len(group),
                "all": [
                    {
                        "conditioning": ", ".join(t.get("conditioning_set") or []) or "∅",
                        "statistic": format_number(t.get("statistic")),
                        "p_value": format_p_value(t.get("p_value")),
                        "decision": t.get("decision", ""),
                    }
                    for t in group
                ],
            }
        )
    rows.sort(key=lambda r: r["rank"])
    budget = MAX_CI_TEST_ROWS
    for row in rows:
        row["all"] = row["all"][: max(budget, 0)]
        budget -= len(row["all"])
    settings = discovery.get("settings") or {}
    n_shown = sum(r["n_tests"] for r in rows)
    return {
        "rows": rows,
        "n_listed": min(n_shown, MAX_CI_TEST_ROWS),
        "n_tests": len(tests),
        "n_shown": n_shown,
        "method": str(settings.get("method", "")),
        "test": str(settings.get("test", "")),
        "alpha": settings.get("alpha"),
    }


def data_summary(run: Mapping[str, Any]) -> dict[str, Any] | None:
    """The data per regime for the report: sources (redacted) and row counts; None without."""
    data = run.get("data")
    if not data:
        return None
    regimes = []
    for summary in data.get("regimes", []):
        missing = summary.get("missing") or {}
        sources = [redact_url(str(s)) for s in summary.get("sources", [])]
        regimes.append(
            {
                "name": summary.get("name", ""),
                "code": summary.get("code", ""),
                "format": summary.get("format", ""),
                "sources": sources,
                "rows_read": f"{summary.get('rows_read', 0):,}",
                "rows_dropped": f"{summary.get('rows_dropped', 0):,}",
                "rows_kept": f"{summary.get('rows_kept', 0):,}",
                "missing_total": f"{sum(missing.values()):,}",
                "missing": missing,
            }
        )
    return {
        "regime_name": data.get("regime_name", ""),
        "labels": list(data.get("regime_labels", [])),
        "columns": list(data.get("columns", [])),
        "kinds": dict(data.get("kinds", {})),
        "missing_policy": data.get("missing_policy", ""),
        "rows": f"{data.get('rows', 0):,}",
        "regimes": regimes,
    }


def evidence_card(
    run: Mapping[str, Any] | None,
    roles: Mapping[str, Any],
    distributions: dict[str, Any] | None,
) -> dict[str, Any]:
    """The evidence card's context: CI tests, data and distributions (none without a run)."""
    return {
        "evidence": ci_evidence(run, roles) if run is not None else None,
        "data": data_summary(run) if run is not None else None,
        "distributions": distributions,
        "distribution_rows": (
            distribution_rows(distributions, (run or {}).get("data")) if distributions else None
        ),
        "palette": list(REGIME_PALETTE),
    }
