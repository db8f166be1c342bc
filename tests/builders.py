"""Small constructors the tests share (unlike tests/reference.py, these use mesalens)."""

from __future__ import annotations

from mesalens.pipeline.pdag import Pdag


def make_pdag(n, directed, undirected):
    """A :class:`Pdag` on ``n`` nodes with these ``(a, b)`` directed and undirected edges."""
    g = Pdag(n)
    for a, b in directed:
        g.add_directed(a, b)
    for a, b in undirected:
        g.add_undirected(a, b)
    return g
