"""What a search returns: the learned graph, its CI-test records, settings and notes.

The searches (:mod:`mesalens.pipeline.searches`) build these, and
:func:`mesalens.pipeline.discovery.discover` returns them; the analysis
and the reports read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mesalens.pipeline.graph import CausalGraph

__all__ = ["CITestRecord", "DiscoveryResult"]


@dataclass(frozen=True)
class CITestRecord:
    """One conditional-independence test the search performed.

    Attributes
    ----------
    x, y : str
        The tested pair (in column order).
    conditioning_set : tuple of str
        ``S`` in ``x ⟂ y | S`` (in column order).
    statistic : float
        The test statistic (Fisher's ``sqrt(n - |S| - 3) |z|``, G², χ², the
        degenerate Gaussian likelihood ratio, or KCI's statistic; NaN for a
        test that has none).
    p_value : float
        The p-value the data gave.
    decision : str
        ``"independent"`` when ``p_value > alpha`` (causal-learn's rule), else
        ``"dependent"``.
    test : str
        The test's name.
    kept_by_knowledge : bool
        True when the data said independent but the pair is a required edge,
        so the search was told "dependent" and kept the edge.
    """

    x: str
    y: str
    conditioning_set: tuple[str, ...]
    statistic: float
    p_value: float
    decision: str
    test: str
    kept_by_knowledge: bool = False


@dataclass
class DiscoveryResult:
    """What :func:`~mesalens.pipeline.discovery.discover` learned and how.

    Attributes
    ----------
    graph : CausalGraph
        A CPDAG (PC, GES; an MPDAG when knowledge, such as the regime being
        a root, oriented more) or a PAG (FCI).
    ci_tests : list of CITestRecord
        Every distinct CI test performed, in the order performed (empty for GES).
    settings : dict
        The method, test, alpha, depth, regime, seed, sample size and
        causal-learn options used.
    notes : list of str
        Things the report should say: required edges the data would have
        removed, forbidden edges removed after the search, warnings.
    """

    graph: CausalGraph
    ci_tests: list[CITestRecord] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
