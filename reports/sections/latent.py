"""The report's latent-confounding section: a PAG checked over its MAGs.

Renders the ``"latent"`` part of a check or run document (built by
:mod:`mesalens.reports.result_json` from
:mod:`mesalens.pipeline.pag_checker`): that the counts of the verdict are
MAGs rather than DAGs, what the check assumed (the regime exogenous and
unconfounded, no selection bias, the MAG manipulation used for the policy),
that the verdict is a sound approximation and not a complete one, Zhang's
MAG of the PAG (Artificial Intelligence 2008, Theorem 2), and the MAGs of
the class with the criterion's status in each and the m-connecting path or
the cycle that decided it (Wang, Du & Zhou, ICML 2024, characterise this
class).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mesalens.reports.sections.common import ReportSection, render_template

__all__ = ["render_latent"]

# Edge kinds as drawn in text: the marks a reviewer reads in a PAG.
_ARROWS = {"-->": "→", "<->": "↔", "o->": "o→", "o-o": "o–o", "---": "—"}

# Rows of the MAG table shown; the JSON keeps every recorded MAG.
MAX_ROWS = 50


def _edges_text(triples: Sequence[Sequence[str]]) -> str:
    if not triples:
        return "(no edges)"
    return ", ".join(f"{u} {_ARROWS.get(kind, kind)} {v}" for u, kind, v in triples)


def render_latent(document: Mapping[str, Any]) -> ReportSection | None:
    """The latent-confounding section (None when the class is not a PAG)."""
    part = document.get("latent")
    if not part:
        return None
    roles = document["roles"]
    rows = [
        {
            "number": number,
            "edges": _edges_text(entry["edges"]),
            "status": entry["status"],
            "path": " – ".join(entry["open_path"]) if entry.get("open_path") else "",
            "violation": " → ".join(entry["violation"]) if entry.get("violation") else "",
        }
        for number, entry in enumerate(part["mags"][:MAX_ROWS], start=1)
    ]
    context = {
        "part": part,
        "rows": rows,
        "hidden": max(0, len(part["mags"]) - MAX_ROWS),
        "n_recorded": len(part["mags"]),
        "pag": _edges_text(part["pag"]),
        "zhang": _edges_text(part["zhang_mag"]),
        "regime": roles["regime"],
        "decision": ", ".join(roles["decision"]),
        "keep": roles["policy_inputs"] == "keep",
        "n_hold": document["n_hold"],
        "n_fail": document["n_fail"],
        "n_invalid": document["n_invalid"],
        "n_counted": document["n_dags"],
    }
    return ReportSection(
        id="latent",
        title="Latent confounding",
        body=render_template("latent.html.j2", context),
    )
