"""The report's graph card: the class drawn in layers, its open paths highlightable.

Draws the learned graph (for ``run``) or the restricted class (for
``check-graph``) with :mod:`mesalens.reports.layout`, the roles coloured and
every open path of the parent sets (and the failing witness's) ready to be
highlighted, and builds the card's caption and legend. The drawing and its
paths are shared with the parent-set table
(:mod:`mesalens.reports.cards.parent_sets`), whose rows select a path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from mesalens.reports.layout import (
    EDGE_COLOR,
    HIGHLIGHT,
    POLICY_RING,
    ROLE_COLORS,
    GraphDrawing,
    draw_graph,
    layered_layout,
)
from mesalens.reports.vocabulary import SIGMA, class_unit, path_text

if TYPE_CHECKING:
    from mesalens.pipeline.checker import CheckResult

__all__ = ["MAX_DRAWN_EDGES", "MAX_DRAWN_NODES", "ClassDrawing", "draw_class", "graph_card"]

# The layered layout (grandalf) takes minutes on a dense graph of a few
# hundred nodes, and nobody can read such a drawing: past these sizes the
# card says so instead of drawing (the JSON and the tables keep everything).
MAX_DRAWN_NODES = 200
MAX_DRAWN_EDGES = 500


@dataclass(frozen=True)
class ClassDrawing:
    """The drawn graph of a report and the open paths it can highlight.

    Attributes
    ----------
    names : list of str
        The nodes, in the order they were laid out.
    edges : list of tuple
        The drawn edges as ``(u, kind, v)``.
    drawing : GraphDrawing
        The SVG, with the element ids of each path.
    paths : list of tuple of str
        The distinct open paths: the parent sets' and the failing witness's.
    row_path_index : list of int or None
        Per parent set of the document, the index of its path in ``paths``.
    highlight : int or None
        The index of the failing witness's path, drawn highlighted.
    fail_path : tuple of str
        That path (empty when nothing fails).
    sigma_fail : sequence of [tail, head] pairs, or None
        The failing witness's G_sigma edges, for the path's arrows.
    """

    names: list[str]
    edges: list[tuple[str, ...]]
    drawing: GraphDrawing
    paths: list[tuple[str, ...]]
    row_path_index: list[int | None]
    highlight: int | None
    fail_path: tuple[str, ...]
    sigma_fail: Sequence[Sequence[str]] | None


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


def draw_class(
    document: Mapping[str, Any],
    run: Mapping[str, Any] | None,
    result: CheckResult | None,
    dags: Sequence[Sequence[Sequence[str]]] | None,
) -> ClassDrawing:
    """Lay out and draw the report's graph with every open path of the document."""
    is_run = run is not None
    roles = document["roles"]
    names = _node_names(document, run, result, dags)
    drawn_edges = [
        tuple(e) for e in (run["learned_graph"] if is_run else document["restricted_graph"])
    ]
    witnesses = document.get("witnesses") or {}
    fail_witness = witnesses.get("fail")
    hold_witness = witnesses.get("hold")
    orientation = [tuple(p) for p in ((fail_witness or hold_witness or {}).get("dag") or [])]
    too_large = len(names) > MAX_DRAWN_NODES or len(drawn_edges) > MAX_DRAWN_EDGES

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
    if too_large:
        drawing = GraphDrawing(
            svg=(
                f'<p class="note">The graph has {len(names):,} nodes and {len(drawn_edges):,} '
                f"edges, more than the {MAX_DRAWN_NODES:,} nodes or {MAX_DRAWN_EDGES:,} edges "
                "this report draws; it is not drawn. The open paths are in the table below, "
                "and every edge is in the JSON output (<code>restricted_graph</code>).</p>"
            ),
            path_ids=[[] for _ in paths],
        )
    else:
        layout = layered_layout(names, drawn_edges, orientation, first=roles["regime"])
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
    return ClassDrawing(
        names=names,
        edges=drawn_edges,
        drawing=drawing,
        paths=paths,
        row_path_index=row_path_index,
        highlight=highlight,
        fail_path=fail_path,
        sigma_fail=sigma_fail,
    )


def graph_card(
    document: Mapping[str, Any],
    run: Mapping[str, Any] | None,
    drawn: ClassDrawing,
    highlighted_row: int | None,
) -> dict[str, Any]:
    """The graph card's context: the SVG, its caption and legend, the size of the graph.

    ``highlighted_row`` is the parent set (numbered as in the table) whose
    path is highlighted, for the caption.
    """
    roles = document["roles"]
    return {
        "graph_svg": Markup(drawn.drawing.svg),
        "graph_caption": _graph_caption(
            document, run, drawn.fail_path, highlighted_row, drawn.sigma_fail
        ),
        "legend": _legend(
            drawn.edges,
            isinstance(roles["policy_inputs"], list),
            bool(drawn.paths),
            _has_overlay(drawn.drawing),
        ),
        "n_nodes": len(drawn.names),
        "n_edges": len(drawn.edges),
    }


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
