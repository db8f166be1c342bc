"""What would settle a ``some`` over the MAGs of a PAG: the circle marks that decide it.

A PAG's class is a set of MAGs (:mod:`mesalens.pipeline.pag_checker`); a
circle mark ``o`` is a tail in some of them and an arrowhead in others. For
an edge with circle marks (``u o-> v``, ``u o-o v``), each way of fixing them
(``u --> v`` or ``u <-> v``; for ``o-o`` also ``v --> u``) keeps exactly the
MAGs of the class with those marks. Each is checked with the PAG checker
itself, :func:`~mesalens.pipeline.pag_checker.check_pag`, on the restricted
PAG with that edge fixed and the class's own reference MAG (so the MAGs
listed are those of the learned class that have the marks): the counts are
exact and never inferred, and the options of an edge split the class.
An edge is listed when some option leaves fewer MAGs undecided than the
class; ``undecided`` sums the MAGs of the options whose verdict is still
``some``.

What is not advised for a PAG, and why (``docs/advice.md``): no knowledge
file (``check-graph --knowledge`` takes DAGs, CPDAGs and MPDAGs only), no
experiments (an intervention's outcome over MAGs with latent confounding is
not a parent set), and no pairs of edges. The policy-design advice
(:mod:`mesalens.pipeline.advice`) covers PAGs with the same checker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mesalens.pipeline.advice_counts import (
    MAX_LISTED,
    RESOLUTION_BUDGET,
    Tally,
    check_cost,
    checks_allowed,
    skeleton_distances,
)
from mesalens.pipeline.errors import ClassTooLargeError, GraphError
from mesalens.pipeline.graph import Mark
from mesalens.pipeline.pag_checker import PagCheckResult, check_pag

__all__ = ["MarkAdvice", "edge_text", "mark_resolution"]

_SYMBOL = {Mark.TAIL: "-", Mark.ARROW: ">", Mark.CIRCLE: "o"}


def edge_text(u: str, v: str, mark_u: Mark, mark_v: Mark) -> str:
    """An edge as text: ``u o-> v``, ``u --> v``, ``u <-> v``, ``v --> u`` for ``u <-- v``.

    >>> edge_text("a", "b", Mark.ARROW, Mark.TAIL), edge_text("a", "b", Mark.CIRCLE, Mark.ARROW)
    ('b --> a', 'a o-> b')
    """
    if mark_u == Mark.ARROW and mark_v == Mark.TAIL:
        return f"{v} --> {u}"
    left = "<" if mark_u == Mark.ARROW else _SYMBOL[mark_u]
    return f"{u} {left}-{_SYMBOL[mark_v]} {v}"


@dataclass
class MarkAdvice:
    """The circle-mark rows and the budget they used."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    allowed: int = 0
    used: int = 0
    complete: bool = True


def _options(mark_u: Mark, mark_v: Mark) -> list[tuple[Mark, Mark]]:
    """The ways to fix an edge's circle marks (no tail at both ends: no selection bias)."""
    at_u = (Mark.TAIL, Mark.ARROW) if mark_u == Mark.CIRCLE else (mark_u,)
    at_v = (Mark.TAIL, Mark.ARROW) if mark_v == Mark.CIRCLE else (mark_v,)
    return [(a, b) for a in at_u for b in at_v if not (a == b == Mark.TAIL)]


def _tally_fixed(result: PagCheckResult, u: str, v: str, marks: tuple[Mark, Mark]) -> Tally:
    """The counts over the class's MAGs whose edge ``u``-``v`` has ``marks``."""
    assert result.latent is not None
    fixed = result.latent.restricted_pag.copy()
    fixed.remove_edge(u, v)
    fixed.add_marked_edge(u, v, *marks)
    try:
        return Tally.of(check_pag(fixed, result.roles, reference=result.latent.reference_mag))
    except GraphError as error:
        if "no MAG of this PAG" in str(error):
            return Tally()  # no MAG of the class has these marks
        raise


def mark_resolution(result: PagCheckResult) -> MarkAdvice:
    """For a ``some`` over MAGs: how fixing each edge's circle marks would decide it.

    Edges nearest the decision come first; each is checked completely (one
    PAG check per option) or not at all, within :func:`checks_allowed` of
    the resolution budget, a check costing nodes times MAGs
    (:func:`~mesalens.pipeline.advice_counts.check_cost`).
    """
    assert result.latent is not None
    pag = result.latent.restricted_pag
    total = Tally.of(result)
    advice = MarkAdvice(allowed=checks_allowed(RESOLUTION_BUDGET, check_cost(result)))
    distance = skeleton_distances(pag, result.roles.decision)
    edges = sorted(
        (e for e in pag.edges() if Mark.CIRCLE in (e.mark_u, e.mark_v)),
        key=lambda e: (min(distance[e.u], distance[e.v]), e.u, e.v),
    )
    rows = []
    for edge in edges:
        options = _options(edge.mark_u, edge.mark_v)
        if advice.used + len(options) > advice.allowed:
            advice.complete = False
            continue
        advice.used += len(options)
        try:
            tallies = [(marks, _tally_fixed(result, edge.u, edge.v, marks)) for marks in options]
        except ClassTooLargeError:
            advice.complete = False
            continue
        undecided = sum(t.undecided for _, t in tallies)
        if undecided >= total.n_dags:
            continue
        rows.append(
            {
                "edge": [edge.u, edge.v],
                "pag_edge": edge_text(edge.u, edge.v, edge.mark_u, edge.mark_v),
                "undecided": undecided,
                "orientations": [
                    {"edge": edge_text(edge.u, edge.v, *marks), **tally.to_dict()}
                    for marks, tally in tallies
                    if tally.n_dags
                ],
            }
        )
    rows.sort(key=lambda row: (row["undecided"], row["edge"]))
    advice.rows = rows[:MAX_LISTED]
    return advice
