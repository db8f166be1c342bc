"""The report's stability section: how the verdict and its edges fare under resampling.

Renders the ``"bootstrap"`` part of ``result.json`` (built by
:mod:`mesalens.pipeline.bootstrap`): a banner that says whether the verdict
is stable (loudly, when it is not), the share of the ``B`` Poisson
resamples that gave each verdict (a table with bars), and the frequency of
each kind of edge for the edges the verdict rests on: those on the open
paths of the main result, and every edge at the decisions and at the
regime. An edge whose main kind came back in fewer resamples than the
threshold is flagged: that is where the verdict is fragile.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mesalens.reports.sections.common import ReportSection, render_template

__all__ = ["render_bootstrap"]

# Column order of the edge kinds; any other kind follows, "absent" is last.
_KIND_ORDER = ("-->", "<--", "---", "<->", "o->", "<-o", "o-o", "--o", "o--")
_OUTCOME_ORDER = ("all", "some", "none", "invalid", "error")
# How many failed resamples are listed by message; the JSON has them all.
_MAX_ERRORS = 10


def _percent(share: float) -> str:
    """A share as a percentage that never rounds a nonzero share to 0% or 100%."""
    if share <= 0:
        return "0%"
    if share >= 1:
        return "100%"
    value = 100 * share
    if value < 0.1:
        return "<0.1%"
    if value > 99.9:
        return ">99.9%"
    return f"{value:.1f}".removesuffix(".0") + "%"


def _drawn(u: str, kind: str, v: str) -> str:
    """The edge as text with its arrowhead to the right where it has one (``a --> b``)."""
    if kind.startswith("<") and not kind.endswith(">"):
        return f"{v} {kind[::-1].replace('<', '>')} {u}"
    return f"{u} {kind} {v}"


def _cell(edge: Mapping[str, Any], kind: str) -> str:
    if not edge["learned"]:
        return "–"
    return _percent(float(edge["shares"].get(kind, 0.0)))


def render_bootstrap(document: Mapping[str, Any]) -> ReportSection | None:
    """The stability section of a run document (None when the run was not bootstrapped)."""
    part = document.get("bootstrap")
    if not part:
        return None
    total = int(part["replicates"])
    threshold = float(part["threshold"])
    counts = part["verdict_counts"]
    outcomes = [
        {
            "name": name,
            "count": int(counts.get(name, 0)),
            "share": _percent(float(part["verdict_shares"].get(name, 0.0))),
            "width": round(100 * float(part["verdict_shares"].get(name, 0.0)), 2),
            "main": name == part["verdict"],
        }
        for name in _OUTCOME_ORDER
        if counts.get(name, 0) or name == part["verdict"]
    ]
    seen = {kind for edge in part["edge_frequencies"] for kind in edge["counts"]}
    seen |= {edge["main"] for edge in part["edge_frequencies"]}
    kinds = [k for k in _KIND_ORDER if k in seen]
    kinds += sorted(k for k in seen if k not in _KIND_ORDER and k != "absent")
    kinds.append("absent")
    edges = [
        {
            "u": edge["u"],
            "v": edge["v"],
            "reasons": ", ".join(edge["reasons"]),
            "main": edge["main"],
            "drawn": _drawn(edge["u"], edge["main"], edge["v"]),
            "agreement": _percent(float(edge["main_share"])) if edge["learned"] else "–",
            "fragile": bool(edge["learned"]) and float(edge["main_share"]) < threshold,
            "cells": [
                {
                    "kind": kind,
                    "text": _cell(edge, kind),
                    "main": kind == edge["main"],
                    "zero": not edge["counts"].get(kind, 0),
                }
                for kind in kinds
            ],
        }
        for edge in part["edge_frequencies"]
    ]
    errors = part.get("errors", [])
    low, high = part["share_interval"]
    body = render_template(
        "bootstrap.html.j2",
        {
            "part": part,
            "total": total,
            "share": _percent(float(part["share"])),
            "interval": f"{_percent(float(low))}–{_percent(float(high))}",
            "threshold": _percent(threshold),
            "outcomes": outcomes,
            "kinds": kinds,
            "edges": edges,
            "errors": errors[:_MAX_ERRORS],
            "more_errors": max(0, len(errors) - _MAX_ERRORS),
        },
    )
    title = "Stability" if part["stable"] else "Stability: UNSTABLE"
    return ReportSection(id="bootstrap", title=title, body=body)
