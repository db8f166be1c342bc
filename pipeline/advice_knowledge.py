r"""Background knowledge that settles a ``some``: required edges, forbidden edges and tiers.

The advice (:mod:`mesalens.pipeline.advice`) proposes knowledge in the three
forms of a Tetrad knowledge file (:mod:`mesalens.pipeline.knowledge`):

* **required edges** ``a --> b`` (``requiredirect``);
* **forbidden edges**: forbidding ``b --> a`` where the class has the
  undirected ``a --- b``. The class's skeleton is fixed, so the edge is there
  and must point one way: on the class this is *exactly* requiring
  ``a --> b``, and a forbidden set is never smaller (nor larger) than the
  required set it mirrors. A forbidden edge between nodes the class does not
  join says nothing about the class. The two differ as assumptions for
  discovery (``run --knowledge``): a required edge also asserts that the two
  nodes are adjacent, a forbidden one only rules out one direction;
* **tiers**: an ordering of groups. For a node ``x`` and a valid set ``P``
  of its undirected neighbours as parents (an outcome of the experiment on
  ``x``), the tiers ``P | x | R`` (``R`` its other undirected neighbours)
  direct every edge at ``x`` at once: one statement (``x`` before all its
  neighbours, or after them) where required edges need one line per edge.

Each candidate is written as a file (:func:`knowledge_text`), **read back**
with :func:`~mesalens.pipeline.knowledge.read_tetrad_knowledge`, and the
undirected edges of the class that the file directs are found with
``check-graph --knowledge``'s own rule
(:func:`~mesalens.pipeline.knowledge_graph.forces`). Those edges, closed
under Meek's rules, are an MPDAG whose DAGs are exactly the DAGs of the class
where the knowledge holds (Meek, UAI 1995); its counts are the checker's
(parts checked with :func:`~mesalens.pipeline.checker.check_part`), and an
MPDAG counted once (a single edge, an experiment's outcome) is not counted
again: the same directed edges, or the same closed MPDAG, keep the same
DAGs. Nothing is inferred from the form: each file's counts are those of
the DAGs the file, as parsed, keeps.

>>> print(knowledge_text(tiers=[["x"], ["a", "b"]], header=["x first"]), end="")
/knowledge
# x first
addtemporal
1 x
2 a b
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from mesalens.pipeline.advice_counts import Tally
from mesalens.pipeline.knowledge import Knowledge, read_tetrad_knowledge
from mesalens.pipeline.knowledge_graph import forces
from mesalens.pipeline.pdag import Pdag, consistent_extension, meek_closure

__all__ = [
    "FORMS",
    "MAX_KNOWLEDGE",
    "Candidate",
    "KnowledgeSearch",
    "describe",
    "directed_by",
    "knowledge_text",
]

#: The three forms, in the order a tie is broken.
FORMS = ("required", "forbidden", "tiers")
#: How many knowledge files the advice lists (each form of each set).
MAX_KNOWLEDGE = 12

Edge = tuple[int, int]
Key = tuple[tuple[Edge, ...], tuple[Edge, ...]]


def knowledge_text(
    required: Iterable[tuple[str, str]] = (),
    header: Sequence[str] = (),
    *,
    forbidden: Iterable[tuple[str, str]] = (),
    tiers: Sequence[Sequence[str]] = (),
) -> str:
    """A Tetrad knowledge file with these tiers, forbidden and required edges.

    >>> print(knowledge_text([("x", "D")], ["assumes x causes D"]), end="")
    /knowledge
    # assumes x causes D
    requiredirect
    x D
    """
    lines = ["/knowledge", *(f"# {line}" for line in header)]
    if tiers:
        lines += ["addtemporal", *(f"{k} {' '.join(t)}" for k, t in enumerate(tiers, start=1))]
    forbidden = list(forbidden)
    if forbidden:
        lines += ["forbiddirect", *(f"{a} {b}" for a, b in forbidden)]
    required = list(required)
    if required or not (tiers or forbidden):
        lines += ["requiredirect", *(f"{a} {b}" for a, b in required)]
    return "\n".join(lines) + "\n"


def directed_by(g: Pdag, names: Sequence[str], knowledge: Knowledge) -> list[Edge] | None:
    """The undirected edges of ``g`` that ``knowledge`` directs, as ``check-graph`` does.

    None when it directs an edge both ways (``check-graph`` rejects that).
    """
    found = []
    index = {name: i for i, name in enumerate(names)}
    mentioned = sorted(index[name] for name in knowledge.names() if name in index)
    inside = set(mentioned)
    for a in mentioned:
        for b in sorted(g.undirected[a] & inside):
            if a > b:
                continue
            forward = forces(knowledge, names[a], names[b])
            backward = forces(knowledge, names[b], names[a])
            if forward and backward:
                return None
            if forward or backward:
                found.append((a, b) if forward else (b, a))
    return found


def closed_key(g: Pdag, edges: Iterable[Edge]) -> Key | None:
    """The MPDAG of ``g`` with ``edges`` directed and closed under Meek's rules; None if no DAG."""
    h = g.copy()
    for t, head in edges:
        if head in h.parents[t]:
            return None
        if t not in h.parents[head]:
            h.orient(t, head)
    meek_closure(h)
    if consistent_extension(h) is None:
        return None
    return h.key()


def describe(row: dict[str, Any]) -> str:
    """A knowledge row in words: ``a --> b``, ``not b --> a``, ``x before a, b``."""
    if row["form"] == "required":
        return ", ".join(f"{t} --> {h}" for t, h in row["required"])
    if row["form"] == "forbidden":
        return ", ".join(f"not {t} --> {h}" for t, h in row["forbidden"])
    return " before ".join(", ".join(tier) for tier in row["tiers"])


@dataclass(frozen=True)
class Candidate:
    """One piece of knowledge in one form (node indices)."""

    form: str
    edges: tuple[Edge, ...] = ()  # required or forbidden edges
    tiers: tuple[tuple[int, ...], ...] = ()

    @property
    def size(self) -> int:
        """How many statements: edges for required/forbidden, tier boundaries for tiers."""
        return len(self.edges) if self.form != "tiers" else len(self.tiers) - 1


class KnowledgeSearch:
    """Counts knowledge files over a class, each MPDAG once.

    ``count(edges)`` is the adviser's exact, budgeted count of the DAGs with
    every ``edges`` (None past the budget).
    """

    def __init__(
        self, g: Pdag, names: Sequence[str], count: Callable[[Sequence[Edge]], Tally | None]
    ):
        self.g = g
        self.names = list(names)
        self.count = count
        self.known: dict[Key, Tally] = {}  # by closed MPDAG
        self.by_edges: dict[frozenset[Edge], Tally] = {}
        self.parts: list[tuple[Pdag, Tally]] = []

    def remember(self, edges: Sequence[Edge], tally: Tally) -> None:
        """Record the counts of the DAGs with every ``edges`` (already counted)."""
        self.by_edges[frozenset(edges)] = tally

    def remember_part(self, part: Pdag, tally: Tally) -> None:
        """Record the counts of a Meek-closed part of the class (keyed when first needed)."""
        self.parts.append((part, tally))

    def tally(self, edges: Sequence[Edge]) -> Tally | None:
        """The counts of the DAGs with every ``edges``: remembered, else counted (None: budget).

        The same edges are the same DAGs; other edges with the same closed
        MPDAG too (a tier file and the experiment outcome it states).
        """
        same = self.by_edges.get(frozenset(edges))
        if same is not None:
            return same
        key = closed_key(self.g, edges)
        if key is None:
            return Tally()
        while self.parts:
            part, counted = self.parts.pop()
            self.known[part.key()] = counted
        if key not in self.known:
            found = self.count(list(edges))
            if found is None:
                return None
            self.known[key] = found
        return self.known[key]

    def row(self, candidate: Candidate) -> dict[str, Any] | None:
        """The candidate's file, read back and counted; None past the budget or if empty."""
        name = self.names
        pairs = [[name[t], name[h]] for t, h in candidate.edges]
        tiers = [[name[v] for v in tier] for tier in candidate.tiers]
        draft = {
            "form": candidate.form,
            "required": pairs if candidate.form == "required" else [],
            "forbidden": pairs if candidate.form == "forbidden" else [],
            "tiers": tiers,
        }
        knowledge = read_tetrad_knowledge(self._text(draft, []), source="advice")
        directed = directed_by(self.g, name, knowledge)
        if not directed:
            return None
        tally = self.tally(directed)
        if tally is None:
            return None
        said = describe(draft)
        orients = ", ".join(f"{name[t]} --> {name[h]}" for t, h in directed)
        header = [
            f"mesalens advice: if {said} (every DAG of the class where this holds), "
            f"the verdict is {tally.verdict!r}: {tally.n_hold} of {tally.n_dags} DAGs hold, "
            f"{tally.n_fail} fail, {tally.n_invalid} cannot host the policy.",
            f"On this class it directs {orients}.",
            "Pass this file back with --knowledge only if you know it to be true.",
        ]
        return {
            "form": candidate.form,
            "size": candidate.size,
            "required": draft["required"],
            "forbidden": draft["forbidden"],
            "tiers": tiers,
            "orients": [[name[t], name[h]] for t, h in directed],
            "undecided": tally.undecided,
            **tally.to_dict(),
            "text": self._text(draft, header),
        }

    @staticmethod
    def _text(draft: dict[str, Any], header: list[str]) -> str:
        return knowledge_text(
            [tuple(e) for e in draft["required"]],
            header,
            forbidden=[tuple(e) for e in draft["forbidden"]],
            tiers=draft["tiers"],
        )


def rank(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The settling rows of the smallest size, the weakest (most DAGs kept) first."""
    settling = [r for r in rows if r["n_dags"] and r["verdict"] != "some"]
    if not settling:
        return []
    smallest = min(r["size"] for r in settling)
    chosen = [r for r in settling if r["size"] == smallest]
    chosen.sort(
        key=lambda r: (
            r["undecided"],
            -r["n_dags"],
            FORMS.index(r["form"]),
            r["orients"],
            r["text"],
        )
    )
    return chosen[:MAX_KNOWLEDGE]
