"""d-separation in a DAG, with a d-connecting path as the witness when it fails.

Sets X and Y are d-separated by Z in a DAG when every path between them is
*blocked*: it has a non-collider in Z, or a collider that is neither in Z nor
an ancestor of a node of Z. The test here is the linear-time reachability
algorithm known as Bayes-Ball (Shachter, UAI 1998; Koller & Friedman,
*Probabilistic Graphical Models*, Algorithm 3.1): a search over the states
(node, direction of arrival) that moves

* on from a node reached from a child (travelling against an edge) to its
  parents and children, unless the node is in Z;
* on from a node reached from a parent to its children unless the node is in
  Z, and to its parents when the node is in ``An(Z)`` (an open collider).

Recording where each state was reached from gives an active *trail*, which
may pass a node twice. Cutting the trail between the first and the last
visit of a repeated node keeps it active: a node visited twice in an active
trail cannot turn from an open non-collider into a closed collider (the
trail would have to leave it along an outgoing edge and come back to it,
which in a DAG only a collider below it, hence in ``An(Z)``, allows). So the
witness returned is a simple d-connecting path.

>>> from mesalens.pipeline.pdag import Pdag
>>> g = Pdag(4)  # 0 = s --> 1 = Ym <-- 2 = U --> 3 = Yb, and Ym --> Yb
>>> for i, j in [(0, 1), (2, 1), (2, 3), (1, 3)]: g.add_directed(i, j)
>>> d_connecting_path(g, {0}, {3}, {1})
[0, 1, 2, 3]
>>> d_connecting_path(g, {0}, {3}, set()) is not None
True
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from mesalens.pipeline.pdag import Pdag

__all__ = ["ancestors", "cut_loops", "d_connecting_path", "is_d_separated", "walk_back"]

_UP, _DOWN = 0, 1  # reached from a child / from a parent


def ancestors(dag: Pdag, nodes: Iterable[int]) -> set[int]:
    """The nodes with a directed path into ``nodes``, including ``nodes`` themselves."""
    parents = dag.parents
    found = set(nodes)
    frontier = found
    while frontier:
        reached: set[int] = set()
        for v in frontier:
            reached |= parents[v]
        frontier = reached - found
        found |= frontier
    return found


def d_connecting_path(
    dag: Pdag, x: Iterable[int], y: Iterable[int], z: Iterable[int]
) -> list[int] | None:
    """A simple path from ``x`` to ``y`` that is d-connecting given ``z``, or None if separated.

    ``dag`` must have no undirected edge. ``x``, ``y`` and ``z`` must be
    disjoint.
    """
    targets = set(y)
    given = set(z)
    children, parents = dag.children, dag.parents
    open_colliders = ancestors(dag, given)
    # The states reached in each direction; set differences against them
    # keep the per-edge work inside set operations.
    reached = ({*()}, {*()})  # (_UP, _DOWN)
    came_from: dict[tuple[int, int], tuple[int, int] | None] = {}
    queue: deque[tuple[int, int]] = deque()
    for source in sorted(set(x)):
        came_from[(source, _UP)] = None
        reached[_UP].add(source)
        queue.append((source, _UP))
    while queue:
        state = queue.popleft()
        node, direction = state
        if node in targets:
            return cut_loops(walk_back(came_from, state))
        if node not in given:
            moves = [(children[node] - reached[_DOWN], _DOWN)]
            if direction == _UP:
                moves.append((parents[node] - reached[_UP], _UP))
        elif direction == _DOWN and node in open_colliders:
            moves = [(parents[node] - reached[_UP], _UP)]
        else:
            continue
        if direction == _DOWN and node in open_colliders and node not in given:
            moves.append((parents[node] - reached[_UP], _UP))
        for new, towards in moves:
            if new:
                reached[towards].update(new)
                for w in sorted(new):
                    came_from[(w, towards)] = state
                    queue.append((w, towards))
    return None


def is_d_separated(dag: Pdag, x: Iterable[int], y: Iterable[int], z: Iterable[int]) -> bool:
    """Whether ``x`` and ``y`` are d-separated given ``z`` in the DAG ``dag``."""
    return d_connecting_path(dag, x, y, z) is None


def walk_back(came_from: dict, state: tuple) -> list[int]:
    """The nodes of a search's walk to ``state``, first to last.

    ``came_from`` maps each search state ``(node, ...)`` to the state it was
    reached from (None for a start).
    """
    nodes = []
    current: tuple | None = state
    while current is not None:
        nodes.append(current[0])
        current = came_from[current]
    nodes.reverse()
    return nodes


def cut_loops(trail: list[int]) -> list[int]:
    """The walk ``trail`` with every loop cut back to the first visit of its node."""
    path: list[int] = []
    position: dict[int, int] = {}
    for node in trail:
        if node in position:
            # Cut the loop back to the first visit of this node.
            cut = position[node]
            for dropped in path[cut + 1 :]:
                del position[dropped]
            del path[cut + 1 :]
        else:
            position[node] = len(path)
            path.append(node)
    return path
