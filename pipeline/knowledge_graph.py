r"""Background knowledge applied to a graph one already has (``check-graph --knowledge``).

Discovery takes knowledge while it searches (:mod:`mesalens.pipeline.discovery`).
A graph given to ``check-graph`` is already learned: its skeleton is kept,
and the knowledge only orients its undirected edges. An undirected edge
``a --- b`` becomes ``a --> b`` when the knowledge requires ``a --> b``,
forbids ``b --> a`` or puts ``a`` in an earlier tier than ``b``. The checker
then closes the result under Meek's rules (an MPDAG) and checks that it
still has a DAG.

Knowledge that the graph contradicts is an error, never silently dropped:
a required edge between nodes the graph does not join, a directed edge the
knowledge forbids, an undirected edge it would orient both ways, or two
adjacent nodes of a starred tier.

>>> from mesalens.pipeline.knowledge import read_tetrad_knowledge
>>> g = CausalGraph(["a", "b", "c"])
>>> g.add_edge("a", "b", "---"); g.add_edge("b", "c", "---")
>>> print(apply_knowledge(g, read_tetrad_knowledge("requiredirect\na b\n")).edges()[0])
a --> b
"""

from __future__ import annotations

from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.knowledge import Knowledge, KnowledgeError

__all__ = ["apply_knowledge", "forces"]


def forces(knowledge: Knowledge, a: str, b: str) -> bool:
    """Whether the knowledge says ``a --> b`` for adjacent ``a``, ``b``.

    A required ``a --> b``, a forbidden ``b --> a`` or ``a`` in an earlier tier
    than ``b`` (the advice reads knowledge files back with this rule).
    """
    if knowledge.is_required(a, b) or knowledge.is_forbidden(b, a):
        return True
    tier_a, tier_b = knowledge.tier_of(a), knowledge.tier_of(b)
    return tier_a is not None and tier_b is not None and tier_a < tier_b


def apply_knowledge(graph: CausalGraph, knowledge: Knowledge) -> CausalGraph:
    """``graph`` (a DAG, CPDAG or MPDAG) with its undirected edges oriented by ``knowledge``.

    Raises
    ------
    KnowledgeError
        When the knowledge names a node the graph lacks, contradicts itself,
        or contradicts the graph (see the module docstring).
    GraphError
        For a PAG (its circle marks are not undirected edges).
    """
    graph.require_marks(("-->", "---"), "check-graph --knowledge (DAGs, CPDAGs and MPDAGs)")
    knowledge.validate(graph.nodes, of="the graph")
    where = f" ({knowledge.source})" if knowledge.source else ""
    for a, b in sorted(knowledge.required):
        if graph.edge(a, b) is None:
            raise KnowledgeError(
                f"the knowledge requires {a} --> {b}, but the graph has no edge between them; "
                "check-graph keeps the graph's edges and only orients them: drop the requirement"
                + where
            )
    result = CausalGraph(graph.nodes)
    for edge in graph.edges():
        a, b = edge.u, edge.v
        if edge.kind == "-->":
            if forces(knowledge, b, a):
                raise KnowledgeError(
                    f"the graph has {a} --> {b}, which the knowledge forbids{where}; "
                    "fix the knowledge or the graph"
                )
            result.add_edge(a, b, "-->")
            continue
        forward, backward = forces(knowledge, a, b), forces(knowledge, b, a)
        if forward and backward:
            raise KnowledgeError(
                f"the knowledge forbids both directions of the graph's edge {a} --- {b}{where} "
                "(explicitly, or by a starred tier); drop one of the two"
            )
        if forward:
            result.add_edge(a, b, "-->")
        elif backward:
            result.add_edge(b, a, "-->")
        else:
            result.add_edge(a, b, "---")
    return result
