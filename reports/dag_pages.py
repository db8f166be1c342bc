"""The listing of a small class's DAGs in the report, page by page.

When the restricted class has at most :data:`DAG_LIST_LIMIT` DAGs,
:func:`class_dags` lists them all with MCS-Enum (Wienöbst, Luttermann,
Bannach & Liśkiewicz, "Efficient Enumeration of Markov Equivalent DAGs",
AAAI 2023; :func:`mesalens.pipeline.enumeration.iter_dag_edges`), and
:func:`dag_pages` gives each its place in the report: the orientation of
every edge the class leaves undirected, and its status. A DAG's status is
that of the parent set its decision has in it (the parent-set table of the
check document), except that a DAG where a fixed policy input descends from
the decision admits no such policy (``invalid``). The DAGs come in pages of
:data:`DAGS_PER_PAGE`.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from mesalens.pipeline.check_result import CheckResult
from mesalens.pipeline.enumeration import iter_dag_edges

__all__ = ["DAGS_PER_PAGE", "DAG_LIST_LIMIT", "class_dags", "dag_pages"]

#: Classes with at most this many DAGs are listed in the report.
DAG_LIST_LIMIT = 200
#: DAGs per page of the listing.
DAGS_PER_PAGE = 10


def class_dags(
    result: CheckResult, limit: int = DAG_LIST_LIMIT
) -> list[list[tuple[str, str]]] | None:
    """Every DAG of the restricted class as ``(tail, head)`` name pairs, or None if too many.

    Parameters
    ----------
    result : CheckResult
        A finished check.
    limit : int
        List only when the class has at most this many DAGs.

    Returns
    -------
    list of edge lists or None
        None when the class has more than ``limit`` DAGs, or is a PAG's
        class of MAGs (listed in its own report section instead).
    """
    if result.n_dags > limit or result.restricted_pdag is None:
        return None
    names = result.node_names
    return [
        [(names[i], names[j]) for i, j in sorted(edges)]
        for edges in itertools.islice(iter_dag_edges(result.restricted_pdag), limit)
    ]


def _descendants(edges: Sequence[Sequence[str]], start: str) -> set[str]:
    children: dict[str, list[str]] = {}
    for u, v in edges:
        children.setdefault(u, []).append(v)
    seen: set[str] = set()
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in children.get(node, ()):
            if child not in seen:
                seen.add(child)
                queue.append(child)
    return seen


def _parents_key(parents: Any) -> tuple[tuple[str, tuple[str, ...]], ...] | tuple[str, ...]:
    """A parent set as a hashable key: sorted names, per decision when there are several."""
    if isinstance(parents, dict):
        return tuple((d, tuple(sorted(names))) for d, names in sorted(parents.items()))
    return tuple(sorted(parents))


def dag_pages(
    document: Mapping[str, Any], dags: Sequence[Sequence[Sequence[str]]]
) -> dict[str, Any]:
    """The listed DAGs in pages: per DAG its status and the orientation of each free edge.

    Parameters
    ----------
    document : mapping
        The check document (:func:`~mesalens.reports.result_json.check_result_to_dict`):
        its roles, restricted graph, parent sets and verdict.
    dags : sequence of edge lists
        From :func:`class_dags` (``(tail, head)`` name pairs); at most
        :data:`DAG_LIST_LIMIT` are shown.

    Returns
    -------
    dict
        ``pages`` (lists of at most :data:`DAGS_PER_PAGE` DAGs, each with
        ``index``, ``status``, ``parent_set`` (its row number in the
        parent-set table, or None), ``oriented``, ``n_edges`` and ``edges``),
        ``n_listed``, ``n_shown``, ``n_undirected`` and ``n_fixed``.
    """
    roles = document["roles"]
    decisions = list(roles["decision"])
    policy = roles["policy_inputs"]
    undirected = [(u, v) for u, kind, v in document["restricted_graph"] if kind == "---"]
    status_of: dict[Any, tuple[int, str]] = {}
    for number, entry in enumerate(document["parent_sets"], start=1):
        status_of[_parents_key(entry["parents"])] = (number, entry["status"])
    uniform = None
    if policy == "keep" and document["verdict"] in ("all", "none"):
        uniform = "hold" if document["verdict"] == "all" else "fail"
    shown = list(dags[:DAG_LIST_LIMIT])
    items = []
    for index, dag in enumerate(shown, start=1):
        pairs = [(str(u), str(v)) for u, v in dag]
        present = set(pairs)
        parents = {d: sorted(u for u, v in pairs if v == d) for d in decisions}
        key = _parents_key(parents[decisions[0]] if len(decisions) == 1 else parents)
        number, status = status_of.get(key, (None, uniform or "?"))
        if isinstance(policy, list) and policy:
            below: set[str] = set()
            for d in decisions:
                below |= _descendants(pairs, d)
            if below & set(policy):
                status = "invalid"
        oriented = [f"{u} → {v}" if (u, v) in present else f"{v} → {u}" for u, v in undirected]
        items.append(
            {
                "index": index,
                "status": status,
                "parent_set": number,
                "oriented": oriented,
                "n_edges": len(pairs),
                "edges": [f"{u} → {v}" for u, v in pairs],
            }
        )
    pages = [items[i : i + DAGS_PER_PAGE] for i in range(0, len(items), DAGS_PER_PAGE)]
    return {
        "pages": pages,
        "n_listed": len(dags),
        "n_shown": len(shown),
        "n_undirected": len(undirected),
        "n_fixed": len(document["restricted_graph"]) - len(undirected),
    }
