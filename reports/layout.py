"""A layered drawing of a causal graph as inline SVG, for the HTML report.

Node positions come from a library layout: grandalf's :class:`SugiyamaLayout`
(the layered "dot" algorithm: ranking, crossing reduction, Brandes-Köpf
coordinates), run per connected component. The layout needs an acyclic
orientation; directed edges keep theirs and edges without one (``---``,
``<->``, ``o-o``) take the orientation of a DAG of the class when one is
given (a witness), else the node order. Edges spanning several layers are
routed through grandalf's dummy vertices and drawn as smooth curves.

The SVG marks every edge end as the graph says: an arrowhead for an arrow
mark, nothing for a tail, a small open circle for a circle mark (so ``---``
is a plain line, ``<->`` has two heads and ``o->`` a circle and a head).
Roles are colours (with a legend in the report), policy inputs get a dashed
outer ring, and open paths can be highlighted: edges of a path that the
drawn graph does not have (the policy's edges added in ``G_σ``) are drawn as
hidden dashed overlays that show with their path.

Every name is escaped here, since the SVG is inserted into the page as
markup: a node called ``<script>`` draws as that text.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from grandalf.graphs import Edge as _GEdge
from grandalf.graphs import Graph as _GGraph
from grandalf.graphs import Vertex as _GVertex
from grandalf.layouts import SugiyamaLayout
from markupsafe import escape

__all__ = [
    "ROLE_COLORS",
    "EdgeRoute",
    "GraphDrawing",
    "GraphLayout",
    "NodeBox",
    "draw_graph",
    "layered_layout",
]

# Node geometry (pixels) and the font the widths are estimated for.
NODE_HEIGHT = 30.0
NODE_MIN_WIDTH = 56.0
CHAR_WIDTH = 7.0  # 12 px system sans-serif, average advance
NODE_PADDING = 22.0
MAX_LABEL = 26  # longer names are cut with "…" (the full name is in the tooltip)
LAYER_GAP = 64.0
NODE_GAP = 26.0
DUMMY_WIDTH = 2.0
COMPONENT_GAP = 48.0
MARGIN = 16.0
ROW_WIDTH = 1100.0  # components are packed into rows about this wide

#: Fill, stroke and legend label per role (``other``: every other variable).
ROLE_COLORS: dict[str, tuple[str, str, str]] = {
    "regime": ("#ede9fe", "#6d28d9", "regime s"),
    "base": ("#dcfce7", "#15803d", "base objective Y_b"),
    "mesa": ("#dbeafe", "#1d4ed8", "mesa objective Y_m"),
    "decision": ("#fef3c7", "#b45309", "decision D_m"),
    "other": ("#ffffff", "#64748b", "other variable"),
}
POLICY_RING = "#0e7490"
EDGE_COLOR = "#475569"
HIGHLIGHT = "#dc2626"

# Which end marks each edge kind has, at (u, v).
_MARKS: dict[str, tuple[str, str]] = {
    "-->": ("-", ">"),
    "<--": (">", "-"),
    "---": ("-", "-"),
    "<->": (">", ">"),
    "o->": ("o", ">"),
    "<-o": (">", "o"),
    "o-o": ("o", "o"),
    "--o": ("-", "o"),
    "o--": ("o", "-"),
}
_MARKER = {">": "arrow", "o": "circle"}


@dataclass(frozen=True)
class NodeBox:
    """A node's box: centre ``(x, y)``, size, and the label drawn (maybe shortened)."""

    name: str
    x: float
    y: float
    width: float
    height: float
    label: str


@dataclass(frozen=True)
class EdgeRoute:
    """An edge ``u kind v`` and the points of its route, from ``u``'s border to ``v``'s."""

    u: str
    kind: str
    v: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class GraphLayout:
    """Positions of every node and the route of every edge, in a ``width × height`` box."""

    nodes: dict[str, NodeBox]
    edges: list[EdgeRoute]
    width: float
    height: float


@dataclass
class GraphDrawing:
    """An SVG drawing and, per requested path, the ids of its elements to highlight."""

    svg: str
    path_ids: list[list[str]] = field(default_factory=list)


class _VertexView:
    """What grandalf reads and writes on a vertex: its size and, after drawing, its centre."""

    def __init__(self, width: float, height: float):
        self.w = width
        self.h = height
        self.xy = (0.0, 0.0)


class _EdgeView:
    """What grandalf writes on an edge: the points of its route (through dummy vertices)."""

    def __init__(self) -> None:
        self.points: list[tuple[float, float]] = []

    def setpath(self, points: list[tuple[float, float]]) -> None:
        self.points = [(float(x), float(y)) for x, y in points]


def _label(name: str) -> str:
    return name if len(name) <= MAX_LABEL else name[: MAX_LABEL - 1] + "…"


def _box_size(label: str) -> tuple[float, float]:
    return max(NODE_MIN_WIDTH, CHAR_WIDTH * len(label) + NODE_PADDING), NODE_HEIGHT


def _layout_orientation(
    names: Sequence[str],
    edges: Sequence[tuple[str, str, str]],
    orientation: Iterable[tuple[str, str]],
) -> list[tuple[str, str, bool]]:
    """Orient every edge for ranking: ``(tail, head, reversed)`` per edge, in order."""
    position = {name: i for i, name in enumerate(names)}
    preferred = {(u, v) for u, v in orientation}
    oriented = []
    for u, kind, v in edges:
        marks = _MARKS.get(kind, ("-", "-"))
        if (u, v) in preferred:
            forward = True
        elif (v, u) in preferred:
            forward = False
        elif marks[1] == ">" and marks[0] != ">":
            forward = True
        elif marks[0] == ">" and marks[1] != ">":
            forward = False
        else:
            forward = position[u] < position[v]
        oriented.append((u, v, False) if forward else (v, u, True))
    return oriented


def _clip(box: NodeBox, toward: tuple[float, float]) -> tuple[float, float]:
    """The point where the segment from ``box``'s centre toward ``toward`` leaves the box."""
    dx, dy = toward[0] - box.x, toward[1] - box.y
    if dx == 0 and dy == 0:
        return box.x, box.y
    half_w, half_h = box.width / 2 + 2, box.height / 2 + 2
    scale = min(
        half_w / abs(dx) if dx else math.inf,
        half_h / abs(dy) if dy else math.inf,
    )
    return box.x + dx * scale, box.y + dy * scale


def _component_box(
    vertices: list[_GVertex],
) -> tuple[dict[str, tuple[float, float]], float, float]:
    """A laid-out component's centres relative to its top left corner, and its size."""
    xs = [v.view.xy[0] for v in vertices]
    ys = [v.view.xy[1] for v in vertices]
    left = min(x - v.view.w / 2 for x, v in zip(xs, vertices, strict=True))
    right = max(x + v.view.w / 2 for x, v in zip(xs, vertices, strict=True))
    top = min(y - v.view.h / 2 for y, v in zip(ys, vertices, strict=True))
    bottom = max(y + v.view.h / 2 for y, v in zip(ys, vertices, strict=True))
    centres = {v.data: (v.view.xy[0] - left, v.view.xy[1] - top) for v in vertices}
    return centres, right - left, bottom - top


def layered_layout(
    nodes: Sequence[str],
    edges: Sequence[tuple[str, str, str]],
    orientation: Iterable[tuple[str, str]] = (),
    first: str | None = None,
) -> GraphLayout:
    """Lay a mixed graph out in layers with grandalf's Sugiyama layout.

    Parameters
    ----------
    nodes : sequence of str
        The node names (their order breaks ties).
    edges : sequence of (u, kind, v)
        The edges, ``kind`` one of ``-->``, ``---``, ``<->``, ``o->``, ``o-o``
        (and their mirror images).
    orientation : iterable of (tail, head), optional
        A preferred direction for edges the graph leaves unoriented, e.g. the
        edges of one DAG of the class, so that the layers follow a real DAG.
    first : str, optional
        A node whose component is placed first (top left): the regime.

    Returns
    -------
    GraphLayout
        Node boxes and edge routes in pixels, origin at the top left.
    """
    names = list(nodes)
    labels = {name: _label(name) for name in names}
    sizes = {name: _box_size(labels[name]) for name in names}
    vertices = {name: _GVertex(name) for name in names}
    for name, vertex in vertices.items():
        vertex.view = _VertexView(*sizes[name])
    oriented = _layout_orientation(names, edges, orientation)
    g_edges = []
    for tail, head, _reversed in oriented:
        edge = _GEdge(vertices[tail], vertices[head])
        edge.view = _EdgeView()
        g_edges.append(edge)
    graph = _GGraph(list(vertices.values()), g_edges)

    placed: list[tuple[dict[str, tuple[float, float]], float, float]] = []
    for component in graph.C:
        members = list(component.sV)
        if len(members) > 1:
            sugiyama = SugiyamaLayout(component)
            sugiyama.xspace = NODE_GAP
            sugiyama.yspace = LAYER_GAP
            # Dummy vertices (the bends of long edges) are thin, not node-sized:
            # dense graphs stay far narrower.
            sugiyama.dw, sugiyama.dh = DUMMY_WIDTH, NODE_HEIGHT
            sugiyama.init_all()
            sugiyama.draw(N=3.5)
        placed.append(_component_box(members))

    order = {name: i for i, name in enumerate(names)}

    def rank(item: tuple[dict[str, tuple[float, float]], float, float]) -> tuple[int, int, int]:
        centres = item[0]
        return (
            0 if first is not None and first in centres else 1,
            -len(centres),
            min(order[name] for name in centres),
        )

    placed.sort(key=rank)
    # Pack the components into rows, tallest first within the given order.
    positions: dict[str, tuple[float, float]] = {}
    x = y = row_height = width = 0.0
    row_limit = max(ROW_WIDTH, max((w for _, w, _ in placed), default=0.0))
    for centres, comp_w, comp_h in placed:
        if x > 0 and x + comp_w > row_limit:
            x, y = 0.0, y + row_height + COMPONENT_GAP
            row_height = 0.0
        for name, (cx, cy) in centres.items():
            positions[name] = (MARGIN + x + cx, MARGIN + y + cy)
        x += comp_w + COMPONENT_GAP
        row_height = max(row_height, comp_h)
        width = max(width, x - COMPONENT_GAP)
    height = y + row_height

    boxes = {
        name: NodeBox(name, positions[name][0], positions[name][1], *sizes[name], labels[name])
        for name in names
    }
    routes = []
    for (u, kind, v), (tail, head, flipped), g_edge in zip(edges, oriented, g_edges, strict=True):
        # grandalf routes in component coordinates; move the inner points as
        # the component moved (the offset of its tail vertex).
        dx = positions[tail][0] - g_edge.v[0].view.xy[0]
        dy = positions[tail][1] - g_edge.v[0].view.xy[1]
        inner = [(px + dx, py + dy) for px, py in g_edge.view.points[1:-1]]
        points = [(boxes[tail].x, boxes[tail].y), *inner, (boxes[head].x, boxes[head].y)]
        if flipped:
            points.reverse()
        start = _clip(boxes[u], points[1])
        end = _clip(boxes[v], points[-2])
        points = [start, *points[1:-1], end]
        routes.append(EdgeRoute(u, kind, v, tuple(points)))
    return GraphLayout(boxes, routes, width + 2 * MARGIN, height + 2 * MARGIN)


# ------------------------------------------------------------------- drawing
def _num(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _path_data(points: Sequence[tuple[float, float]]) -> str:
    """SVG path data: a straight line, or a Catmull-Rom curve through the route's points."""
    first = points[0]
    data = [f"M{_num(first[0])},{_num(first[1])}"]
    if len(points) == 2:
        data.append(f"L{_num(points[1][0])},{_num(points[1][1])}")
        return " ".join(data)
    padded = [points[0], *points, points[-1]]
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1], padded[i], padded[i + 1], padded[i + 2]
        c1 = (p1[0] + (p2[0] - p0[0]) / 6, p1[1] + (p2[1] - p0[1]) / 6)
        c2 = (p2[0] - (p3[0] - p1[0]) / 6, p2[1] - (p3[1] - p1[1]) / 6)
        data.append(
            f"C{_num(c1[0])},{_num(c1[1])} {_num(c2[0])},{_num(c2[1])} {_num(p2[0])},{_num(p2[1])}"
        )
    return " ".join(data)


def _markers(prefix: str) -> str:
    parts = ["<defs>"]
    for suffix, color in (("", EDGE_COLOR), ("-hl", HIGHLIGHT)):
        parts.append(
            f'<marker id="{prefix}arrow{suffix}" viewBox="0 0 10 10" refX="9.5" refY="5" '
            f'markerWidth="7" markerHeight="7" orient="auto-start-reverse" '
            f'markerUnits="userSpaceOnUse">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
        )
        parts.append(
            f'<marker id="{prefix}circle{suffix}" viewBox="0 0 10 10" refX="9" refY="5" '
            f'markerWidth="8" markerHeight="8" orient="auto-start-reverse" '
            f'markerUnits="userSpaceOnUse">'
            f'<circle cx="5" cy="5" r="4" fill="#fff" stroke="{color}" stroke-width="1.6"/>'
            f"</marker>"
        )
    parts.append("</defs>")
    return "".join(parts)


def _role_of(name: str, roles: Mapping[str, Any]) -> str:
    if name == roles.get("regime"):
        return "regime"
    for role in ("base", "mesa", "decision"):
        if name in (roles.get(role) or ()):
            return role
    return "other"


def _edge_markup(
    element_id: str,
    route: EdgeRoute,
    prefix: str,
    classes: str,
    title: str,
) -> str:
    mark_u, mark_v = _MARKS.get(route.kind, ("-", "-"))
    attributes = []
    for which, mark in (("start", mark_u), ("end", mark_v)):
        if mark in _MARKER:
            attributes.append(f'marker-{which}="url(#{prefix}{_MARKER[mark]})"')
    marker_attrs = " ".join(attributes)
    return (
        f'<g id="{element_id}" class="{classes}" data-marks="{escape(route.kind)}">'
        f"<title>{escape(title)}</title>"
        f'<path class="edge-line" d="{_path_data(route.points)}" {marker_attrs}/></g>'
    )


def draw_graph(
    layout: GraphLayout,
    roles: Mapping[str, Any],
    *,
    paths: Sequence[Sequence[str]] = (),
    highlight: int | None = None,
    prefix: str = "g-",
    title: str = "causal graph",
) -> GraphDrawing:
    """Draw a laid-out graph as an SVG element, roles coloured, open paths highlightable.

    Parameters
    ----------
    layout : GraphLayout
        From :func:`layered_layout`.
    roles : mapping
        ``regime`` (str), ``base``, ``mesa``, ``decision`` (lists of names) and
        ``policy_inputs`` (``"keep"`` or a list), as in the JSON document.
    paths : sequence of paths, optional
        Node sequences (open paths) that may be highlighted; for each one the
        drawing returns the ids of its nodes and edges. A step between two
        nodes the graph does not join gets a hidden dashed overlay edge.
    highlight : int, optional
        Index into ``paths`` of the path highlighted initially.
    prefix : str
        Prefix of every element id (keeps ids unique in the page).
    title : str
        The SVG's accessible title.

    Returns
    -------
    GraphDrawing
        The ``<svg>`` markup (names escaped) and the element ids per path.
    """
    names = list(layout.nodes)
    node_id = {name: f"{prefix}n{i}" for i, name in enumerate(names)}
    edge_id: dict[frozenset[str], str] = {}
    for i, route in enumerate(layout.edges):
        edge_id[frozenset((route.u, route.v))] = f"{prefix}e{i}"

    overlays: list[tuple[str, str, str]] = []  # (id, u, v)
    path_ids: list[list[str]] = []
    for path in paths:
        ids = [node_id[name] for name in path if name in node_id]
        for a, b in itertools.pairwise(path):
            key = frozenset((a, b))
            if key not in edge_id and a in node_id and b in node_id:
                edge_id[key] = f"{prefix}x{len(overlays)}"
                overlays.append((edge_id[key], a, b))
            if key in edge_id:
                ids.append(edge_id[key])
        path_ids.append(ids)
    lit = set(path_ids[highlight]) if highlight is not None and path_ids else set()

    policy = roles.get("policy_inputs")
    policy_inputs = set(policy) if isinstance(policy, list) else set()
    width, height = layout.width, layout.height
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" role="img" '
        f'viewBox="0 0 {_num(width)} {_num(height)}" width="{_num(width)}" '
        f'height="{_num(height)}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        _markers(prefix),
        '<g class="edges">',
    ]
    for i, route in enumerate(layout.edges):
        element = f"{prefix}e{i}"
        classes = "edge on-path" if element in lit else "edge"
        parts.append(
            _edge_markup(element, route, prefix, classes, f"{route.u} {route.kind} {route.v}")
        )
    for element, a, b in overlays:
        box_a, box_b = layout.nodes[a], layout.nodes[b]
        start = _clip(box_a, (box_b.x, box_b.y))
        end = _clip(box_b, (box_a.x, box_a.y))
        classes = "edge overlay on-path" if element in lit else "edge overlay"
        parts.append(
            f'<g id="{element}" class="{classes}"><title>{escape(a)} — {escape(b)}: '
            f"an edge of G_σ (the policy's input), not of this graph</title>"
            f'<path class="edge-line" d="{_path_data([start, end])}"/></g>'
        )
    parts.append('</g><g class="nodes">')
    for name in names:
        box = layout.nodes[name]
        role = _role_of(name, roles)
        fill, stroke, legend = ROLE_COLORS[role]
        element = node_id[name]
        classes = f"node role-{role}" + (" on-path" if element in lit else "")
        described = legend if role != "other" else "variable"
        if name in policy_inputs:
            described += ", policy input"
        left, top = box.x - box.width / 2, box.y - box.height / 2
        parts.append(
            f'<g id="{element}" class="{classes}"><title>{escape(name)} ({escape(described)})'
            f"</title>"
        )
        if name in policy_inputs:
            parts.append(
                f'<rect class="policy-ring" x="{_num(left - 4)}" y="{_num(top - 4)}" '
                f'width="{_num(box.width + 8)}" height="{_num(box.height + 8)}" rx="11" '
                f'fill="none" stroke="{POLICY_RING}" stroke-width="1.5" stroke-dasharray="4 3"/>'
            )
        parts.append(
            f'<rect class="node-box" x="{_num(left)}" y="{_num(top)}" width="{_num(box.width)}" '
            f'height="{_num(box.height)}" rx="8" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="{1.2 if role == "other" else 2}"/>'
            f'<text x="{_num(box.x)}" y="{_num(box.y)}" text-anchor="middle" '
            f'dominant-baseline="central">{escape(box.label)}</text></g>'
        )
    parts.append("</g></svg>")
    return GraphDrawing("".join(parts), path_ids)
