"""The self-contained HTML report of a check: ``report.html``.

One file with everything inline (CSS, a few lines of JavaScript, the graph and
the plots as SVG), so that it opens from disk with no network: a Content
Security Policy in the page forbids every request and allows only its own
script (by hash). It shows, in order:

1. the verdict in one quotable sentence with the counts, the roles, the
   policy inputs, and what the verdict does and does not mean;
2. the graph (the learned one for ``run``, the restricted class for
   ``check-graph``) in a layered layout (:mod:`mesalens.reports.layout`),
   roles coloured, every edge mark drawn, a failing parent set's open path
   highlighted;
3. the parent sets of ``D_m``: DAG counts, hold/fail, open path, C1/C2 and
   where the post's conjecture disagrees with the criterion;
4. the evidence: the CI tests that decided each edge at the regime or a role
   variable, the data per regime, and per-column shifts with small plots;
5. provenance: inputs with fingerprints, settings, versions, timings, seed;

and a paged list of the DAGs of the class when it is small enough.

This module assembles the page; the parts with logic of their own live
beside it: the per-regime distributions of the data and their plots in
:mod:`mesalens.reports.distributions`, the listing of the class's DAGs in
:mod:`mesalens.reports.dag_pages`, and the formatting of numbers both use
in :mod:`mesalens.reports.formatting`.

Everything is rendered with Jinja2 with autoescaping from the JSON documents
(:mod:`mesalens.reports.result_json`, :mod:`mesalens.reports.run_document`),
so names and values from data or configs are text, never markup. Source
locations go through :func:`~mesalens.connectors.regime.redact_url` once more
before they are shown.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from mesalens.connectors.regime import redact_url
from mesalens.pipeline.checker import CheckResult
from mesalens.reports.atomic import atomic_write_text
from mesalens.reports.dag_pages import DAG_LIST_LIMIT, DAGS_PER_PAGE, class_dags, dag_pages
from mesalens.reports.distributions import (
    REGIME_PALETTE,
    distribution_rows,
    regime_distributions,
)
from mesalens.reports.formatting import (
    count_cell,
    format_bytes,
    format_number,
    format_p_value,
    format_share,
)
from mesalens.reports.layout import (
    EDGE_COLOR,
    HIGHLIGHT,
    POLICY_RING,
    ROLE_COLORS,
    draw_graph,
    layered_layout,
)
from mesalens.reports.sections import render_sections
from mesalens.reports.sections.common import ReportSection
from mesalens.reports.templating import template_asset, template_environment
from mesalens.reports.vocabulary import (
    SIGMA,
    class_unit,
    conjecture_mark,
    contradiction_sentence,
    flag,
    meaning,
    names_text,
    parents_text,
    path_text,
    policy_text,
    separation,
    unstable_sentence,
    verdict_label,
    verdict_segments,
)

if TYPE_CHECKING:  # the loader (dask.dataframe) is not needed to draw a report
    from mesalens.connectors.loader import LoadedData

__all__ = ["render_check_report", "render_run_report", "write_report"]

#: Parent sets shown in the table (the JSON has them all).
MAX_PARENT_SET_ROWS = 200
#: Rows of the table of every CI test on the role pairs (the JSON has them all).
MAX_CI_TEST_ROWS = 400

# Written as an escape because ruff flags the character as confusable.
ALPHA = "\u03b1"


# ---------------------------------------------------------------- the graph
def _node_names(
    document: Mapping[str, Any],
    run: Mapping[str, Any] | None,
    result: CheckResult | None,
    dags: Sequence[Sequence[Sequence[str]]] | None,
) -> list[str]:
    if result is not None:
        return list(result.node_names)
    if run is not None and run.get("data", {}).get("columns"):
        return list(run["data"]["columns"])
    roles = document["roles"]
    names: dict[str, None] = {roles["regime"]: None}
    for role in ("base", "mesa", "decision"):
        names.update(dict.fromkeys(roles[role]))
    if isinstance(roles["policy_inputs"], list):
        names.update(dict.fromkeys(roles["policy_inputs"]))
    for u, _kind, v in document["restricted_graph"]:
        names.update(dict.fromkeys((u, v)))
    for dag in dags or ():
        for u, v in dag:
            names.update(dict.fromkeys((u, v)))
    return list(names)


def _legend(
    edges: Sequence[Sequence[str]], policy_inputs: bool, has_paths: bool, has_overlay: bool
) -> list[Any]:
    """Legend entries as small SVG snippets with labels (roles, then the edge kinds present)."""
    items = []
    for role in ("regime", "base", "mesa", "decision", "other"):
        fill, stroke, label = ROLE_COLORS[role]
        swatch = Markup(
            '<svg width="26" height="16" viewBox="0 0 26 16" aria-hidden="true">'
            f'<rect x="1" y="2" width="24" height="12" rx="4" fill="{fill}" stroke="{stroke}" '
            'stroke-width="2"/></svg>'
        )
        items.append({"swatch": swatch, "label": label})
    if policy_inputs:
        items.append(
            {
                "swatch": Markup(
                    '<svg width="26" height="16" viewBox="0 0 26 16" aria-hidden="true">'
                    f'<rect x="1" y="1" width="24" height="14" rx="5" fill="none" '
                    f'stroke="{POLICY_RING}" stroke-width="1.5" stroke-dasharray="4 3"/></svg>'
                ),
                "label": "policy input",
            }
        )
    kinds_present = {kind for _u, kind, _v in edges}
    shapes = [
        ("directed", {"-->", "<--"}, ">", "-"),
        ("undirected (orientation unknown)", {"---"}, "-", "-"),
        ("bidirected (latent confounding)", {"<->"}, ">", ">"),
        ("circle mark (PAG)", {"o->", "<-o", "o-o", "--o", "o--"}, ">", "o"),
    ]
    for label, kinds, head, tail in shapes:
        if not kinds & kinds_present:
            continue
        parts = [
            '<svg width="40" height="16" viewBox="0 0 40 16" aria-hidden="true">',
            f'<line x1="{9 if tail != "-" else 2}" y1="8" x2="{31 if head != "-" else 38}" '
            f'y2="8" stroke="{EDGE_COLOR}" stroke-width="1.6"/>',
        ]
        if head == ">":
            parts.append(f'<path d="M30,3 L38,8 L30,13 z" fill="{EDGE_COLOR}"/>')
        if tail == ">":
            parts.append(f'<path d="M10,3 L2,8 L10,13 z" fill="{EDGE_COLOR}"/>')
        elif tail == "o":
            parts.append(
                f'<circle cx="6" cy="8" r="3.5" fill="#fff" stroke="{EDGE_COLOR}" '
                'stroke-width="1.4"/>'
            )
        parts.append("</svg>")
        items.append({"swatch": Markup("".join(parts)), "label": label})
    if has_paths:
        items.append(
            {
                "swatch": Markup(
                    '<svg width="40" height="16" viewBox="0 0 40 16" aria-hidden="true">'
                    f'<line x1="2" y1="8" x2="38" y2="8" stroke="{HIGHLIGHT}" '
                    'stroke-width="3.2"/></svg>'
                ),
                "label": "open path (regime to base objective)",
            }
        )
    if has_overlay:
        items.append(
            {
                "swatch": Markup(
                    '<svg width="40" height="16" viewBox="0 0 40 16" aria-hidden="true">'
                    f'<line x1="2" y1="8" x2="38" y2="8" stroke="{HIGHLIGHT}" stroke-width="2.4" '
                    'stroke-dasharray="5 4"/></svg>'
                ),
                "label": f"edge of G_{SIGMA} only (a policy input)",
            }
        )
    return items


def _cell(mark: tuple[str, str]) -> dict[str, str]:
    """A vocabulary marker as a table cell: its text and its CSS class."""
    text, kind = mark
    return {"text": text, "cls": kind}


# --------------------------------------------------------------- evidence
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


def _ci_evidence(run: Mapping[str, Any], roles: Mapping[str, Any]) -> dict[str, Any]:
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


def _data_summary(run: Mapping[str, Any]) -> dict[str, Any] | None:
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


# ------------------------------------------------------------------ assets
def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


# ------------------------------------------------------------------ render
def render_check_report(
    check_document: dict[str, Any],
    *,
    run_document: dict[str, Any] | None = None,
    distributions: dict[str, Any] | None = None,
    dags: list[Any] | None = None,
    result: CheckResult | None = None,
    sections: Sequence[ReportSection] = (),
) -> str:
    """Render the self-contained HTML report of a check (or of a run).

    Parameters
    ----------
    check_document : dict
        The check document (:func:`~mesalens.reports.result_json.check_result_to_dict`).
    run_document : dict, optional
        The run document (:func:`~mesalens.reports.run_document.run_result_to_dict`);
        with it the report shows the learned graph, the CI-test evidence, the
        data and the provenance of the run. Without it, the graph was given
        by the user and there is no data section.
    distributions : dict, optional
        From :func:`~mesalens.reports.distributions.regime_distributions`:
        per-column plots and shifts.
    dags : list of edge lists, optional
        DAGs of the class to list (``(tail, head)`` pairs); defaults to the
        document's ``dags`` when it has them. At most
        :data:`~mesalens.reports.dag_pages.DAG_LIST_LIMIT` are shown.
    result : CheckResult, optional
        The check itself, when at hand: gives the node order (isolated nodes
        included) and each parent set's witness graph for the path arrows.
    sections : sequence of ReportSection, optional
        Further evidence (:mod:`mesalens.reports.sections`), shown after the
        data and before the provenance.

    Returns
    -------
    str
        The HTML page.
    """
    document = check_document
    run = run_document
    is_run = run is not None
    roles = document["roles"]
    if dags is None:
        dags = document.get("dags")
    source = redact_url(str(document.get("graph_source") or "the given graph"))
    class_source = "the class learned from the logs" if is_run else f"the class of {source}"
    n_dags = document["n_dags"]

    # The graph and the open paths.
    names = _node_names(document, run, result, dags)
    drawn_edges = [
        tuple(e) for e in (run["learned_graph"] if is_run else document["restricted_graph"])
    ]
    witnesses = document.get("witnesses") or {}
    fail_witness = witnesses.get("fail")
    hold_witness = witnesses.get("hold")
    orientation = [tuple(p) for p in ((fail_witness or hold_witness or {}).get("dag") or [])]
    layout = layered_layout(names, drawn_edges, orientation, first=roles["regime"])

    paths: list[tuple[str, ...]] = []
    row_path_index: list[int | None] = []
    entries = document["parent_sets"]
    for entry in entries:
        path = entry.get("open_path")
        if path:
            key = tuple(path)
            if key not in paths:
                paths.append(key)
            row_path_index.append(paths.index(key))
        else:
            row_path_index.append(None)
    highlight = None
    fail_path = tuple((fail_witness or {}).get("open_path") or ())
    if fail_path:
        if fail_path not in paths:
            paths.append(fail_path)
        highlight = paths.index(fail_path)
    drawing = draw_graph(
        layout,
        roles,
        paths=paths,
        highlight=highlight,
        title=("learned graph" if is_run else "graph of the class"),
    )
    sigma_fail = None
    if fail_witness and fail_witness.get("sigma_graph"):
        sigma_fail = fail_witness["sigma_graph"]

    # The parent-set table.
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
                "path_ids": " ".join(drawing.path_ids[index]) if index is not None else "",
                "path_lit": index is not None and index == highlight,
                "c1": _cell(flag(entry.get("c1"), entry.get("n_c1"), n_valid)),
                "c2": _cell(flag(entry.get("c2"), entry.get("n_c2"), n_valid)),
                "conjecture": _cell(conjecture_mark(entry)),
            }
        )
    disagreeing = [r["number"] for r in rows if r["conjecture"]["cls"] == "disagree"]
    highlighted_row = next((r["number"] for r in rows if r["path_lit"]), None)

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

    evidence = _ci_evidence(run, roles) if is_run else None
    data_summary = _data_summary(run) if is_run else None
    distribution_table = (
        distribution_rows(distributions, (run or {}).get("data")) if distributions else None
    )
    dag_listing = dag_pages(document, dags) if dags is not None else None

    provenance = _provenance(document, run, source)
    script = template_asset("report.js")
    style = template_asset("report.css")
    csp = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src '{_csp_hash(script)}'; base-uri 'none'; form-action 'none'"
    )
    context = {
        "csp": csp,
        "style": Markup(style),
        "script": Markup(script),
        "is_run": is_run,
        "source": source,
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
        "verdict_change": (run or {}).get("verdict_change"),
        "unstable": unstable_sentence(run),
        "disagreeing": disagreeing,
        "parent_sets_complete": document.get("parent_sets_complete", True),
        "graph_svg": Markup(drawing.svg),
        "graph_caption": _graph_caption(document, run, fail_path, highlighted_row, sigma_fail),
        "legend": _legend(
            drawn_edges,
            isinstance(roles["policy_inputs"], list),
            bool(paths),
            _has_overlay(drawing),
        ),
        "n_nodes": len(names),
        "n_edges": len(drawn_edges),
        "rows": rows,
        "n_parent_sets": len(entries),
        "hidden_rows": max(0, len(entries) - MAX_PARENT_SET_ROWS),
        "decision": names_text(roles["decision"]),
        "mesa": names_text(roles["mesa"]),
        "base": names_text(roles["base"]),
        "regime": roles["regime"],
        "evidence": evidence,
        "data": data_summary,
        "distributions": distributions,
        "distribution_rows": distribution_table,
        "palette": list(REGIME_PALETTE),
        "provenance": provenance,
        "dags": dag_listing,
        "n_dags": count_cell(n_dags),
        "dag_limit": DAG_LIST_LIMIT,
        "dags_per_page": DAGS_PER_PAGE,
        "sigma": SIGMA,
        "sections": list(sections),
        "latent": bool(document.get("latent")),
    }
    return template_environment().get_template("report.html.j2").render(context)


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


def _has_overlay(drawing: Any) -> bool:
    return 'class="edge overlay' in drawing.svg


def _graph_caption(
    document: Mapping[str, Any],
    run: Mapping[str, Any] | None,
    fail_path: tuple[str, ...],
    row: int | None,
    sigma: Sequence[Sequence[str]] | None,
) -> str:
    parts = []
    if run is not None:
        learned = {frozenset((u, v)): kind for u, kind, v in run.get("learned_graph", [])}
        oriented = sum(
            1
            for u, kind, v in document["restricted_graph"]
            if learned.get(frozenset((u, v))) == "---" and kind != "---"
        )
        parts.append(
            "The class learned from the logs, as discovery returned it."
            + (
                f" Making the regime a root (nothing causes it) orients {oriented} more "
                f"edge{'s' if oriented != 1 else ''} in the class that was checked."
                if oriented
                else ""
            )
        )
    elif document.get("latent"):
        parts.append(
            "The class that was checked: the given PAG, with every edge at the regime "
            "oriented out of it (exogenous and unconfounded); its members are MAGs."
        )
    else:
        parts.append(
            "The class that was checked: the given graph closed under Meek's rules, with the "
            "regime made a root (nothing causes it)."
        )
    if fail_path:
        where = f" (parent set #{row})" if row is not None else ""
        unit = class_unit(document)
        parts.append(
            f"In red: the open path {path_text(fail_path, sigma)} of a failing {unit}{where}, "
            f"from the regime to the base objective given the mesa objective in G_{SIGMA}. "
            "Choose another parent set's path in the table below."
        )
    return " ".join(parts)


def _listing(value: Any) -> str:
    """A setting's value as text: a list as ``a, b``."""
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def _knowledge_text(knowledge: dict[str, Any]) -> str:
    """The discovery's background knowledge as a reviewer reads it.

    ``tiers: a, b | c; forbidden: value → reward; exogenous: regime``, the
    tiers in temporal order, a starred tier (no edges among its members)
    marked ``(no edges within)``.
    """
    within = set(knowledge.get("forbidden_within") or [])
    parts = []
    tiers = knowledge.get("tiers") or []
    if tiers:
        parts.append(
            "tiers: "
            + " | ".join(
                ", ".join(map(str, tier)) + (" (no edges within)" if i in within else "")
                for i, tier in enumerate(tiers)
            )
        )
    for name in ("forbidden", "required"):
        edges = knowledge.get(name) or []
        if edges:
            parts.append(f"{name}: " + ", ".join(f"{a} → {b}" for a, b in edges))
    if knowledge.get("exogenous"):
        parts.append("exogenous: " + ", ".join(map(str, knowledge["exogenous"])))
    return "; ".join(parts) or "none"


def _provenance(
    document: Mapping[str, Any], run: Mapping[str, Any] | None, source: str
) -> dict[str, Any]:
    if run is None:
        from mesalens.reports.run_document import package_versions

        sha = str(document.get("graph_sha256") or "")
        return {
            "graph_source": source,
            "graph_sha256": sha,
            "inputs": [],
            "settings": [],
            "versions": list(package_versions().items()),
            "versions_note": "of the mesalens installation that wrote this report",
            "timings": [],
            "seed": None,
            "mesalens_version": document.get("mesalens_version", ""),
            "schema_version": document.get("schema_version", ""),
        }
    inputs = []
    for fingerprint in run.get("inputs", []):
        sha = str(fingerprint.get("sha256", "")) if fingerprint.get("sha256") else ""
        detail = []
        for key in ("table", "query"):
            if fingerprint.get(key):
                detail.append(f"{key}: {fingerprint[key]}")
        inputs.append(
            {
                "regime": fingerprint.get("regime", ""),
                "source": redact_url(str(fingerprint.get("source", ""))),
                "size": format_bytes(fingerprint.get("size")),
                "mtime": str(fingerprint.get("mtime", "") or ""),
                "sha256": sha,
                "sha_short": sha[:16],
                "detail": "; ".join(redact_url(d) for d in detail),
            }
        )
    settings = []
    for key, value in ((run.get("discovery") or {}).get("settings") or {}).items():
        if key == "knowledge" and isinstance(value, dict):
            value = _knowledge_text(value)
        elif isinstance(value, dict):
            value = "; ".join(f"{k}: {_listing(v)}" for k, v in value.items() if v) or "none"
        elif isinstance(value, list):
            value = _listing(value)
        settings.append((str(key), str(value)))
    data = run.get("data") or {}
    if data.get("missing_policy"):
        settings.append(("missing values", str(data["missing_policy"])))
    timings = [(stage, f"{seconds:.3f} s") for stage, seconds in (run.get("timings") or {}).items()]
    total = sum((run.get("timings") or {}).values())
    if timings:
        timings.append(("total", f"{total:.3f} s"))
    return {
        "graph_source": source,
        "graph_sha256": "",  # a learned graph: its inputs' fingerprints are below
        "inputs": inputs,
        "settings": settings,
        "versions": list((run.get("versions") or {}).items()),
        "versions_note": "recorded with the run",
        "timings": timings,
        "seed": run.get("seed"),
        "mesalens_version": document.get("mesalens_version", ""),
        "schema_version": document.get("schema_version", ""),
    }


def render_run_report(run_document: dict[str, Any], result: CheckResult, data: LoadedData) -> str:
    """Render the report of a ``run``: the run document, the data's distributions, the DAGs.

    Parameters
    ----------
    run_document : dict
        From :func:`~mesalens.reports.run_document.run_result_to_dict`.
    result : CheckResult
        The check of the run (its class is listed when small enough).
    data : LoadedData
        The pooled regimes: the per-column distributions come from the
        loader's pass (role variables first;
        :func:`~mesalens.reports.distributions.regime_distributions`).

    Returns
    -------
    str
        The HTML page (see :func:`render_check_report`).
    """
    roles = result.roles
    distributions = regime_distributions(
        data, first=[*roles.base, *roles.mesa, *roles.decision, *(roles.policy_inputs or ())]
    )
    return render_check_report(
        run_document,
        run_document=run_document,
        distributions=distributions,
        dags=class_dags(result),
        result=result,
        sections=render_sections(run_document),
    )


def write_report(path: str | os.PathLike[str], html: str) -> None:
    """Write a rendered report atomically (complete or not there at all).

    Parameters
    ----------
    path : str or path-like
        The file to create or replace; its directory must exist.
    html : str
        From :func:`render_check_report`.

    Raises
    ------
    OSError
        If the file cannot be written; the target is then left as it was.
    """
    atomic_write_text(path, html)
