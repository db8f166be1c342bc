r"""Background knowledge for causal discovery: tiers, forbidden and required edges.

Constraint-based search (PC, FCI) learns only an equivalence class from
conditional independences; what a domain expert already knows narrows it.
This module holds that knowledge in the three forms Tetrad and causal-learn
use (Spirtes, Glymour & Scheines, *Causation, Prediction, and Search*, 2000,
ch. 5.8; Meek, "Causal inference and causal explanation with background
knowledge", UAI 1995):

*tiers*
    A temporal order: a node in a later tier cannot cause a node in an earlier
    one, so every edge from a later tier into an earlier tier is forbidden.
    A *starred* tier (``2* a b``) also forbids every edge inside the tier.
*forbidden* ``(a, b)``
    The direct edge ``a --> b`` is not in the graph (``b --> a`` may be).
*required* ``(a, b)``
    The direct edge ``a --> b`` is in the graph.

The regime (which of training or deployment a row was logged in) is
*exogenous*: nothing causes it, observed or latent.
:meth:`Knowledge.with_regime_exogenous` records that, which forbids every edge
into the regime.

Two text forms are read: Tetrad's knowledge file (:func:`read_tetrad_knowledge`)
and a mapping from a configuration file (:meth:`Knowledge.from_mapping`)::

    /knowledge
    addtemporal
    1 regime
    2* coin_a coin_b
    3 value

    forbiddirect
    coin_a value

    requiredirect
    coin_b value

Examples
--------
>>> k = read_tetrad_knowledge("addtemporal\n1 a\n2 b c\nrequiredirect\nb c\n")
>>> k.tiers, sorted(k.required)
([['a'], ['b', 'c']], [('b', 'c')])
>>> k.is_forbidden("b", "a"), k.is_forbidden("a", "b")
(True, False)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mesalens.pipeline.errors import GraphFormatError
from mesalens.pipeline.graph import CausalGraph

__all__ = ["Knowledge", "KnowledgeError", "read_tetrad_knowledge"]


class KnowledgeError(GraphFormatError):
    """Background knowledge is malformed or contradicts itself or the data's columns.

    Takes the same arguments as :class:`GraphFormatError` (``message``, and
    ``source``/``line`` to say where in a knowledge file).
    """


@dataclass
class Knowledge:
    """Tiers, forbidden and required direct edges over named variables.

    Parameters
    ----------
    tiers : list of list of str
        The tiers in temporal order (earliest first). Edges from a later tier
        into an earlier one are forbidden.
    forbidden : set of (str, str)
        Directed edges ``a --> b`` that may not appear.
    required : set of (str, str)
        Directed edges ``a --> b`` that must appear.
    forbidden_within : set of int
        Indices into ``tiers`` of the starred tiers, whose members may not be
        adjacent to each other.
    exogenous : set of str
        Nodes that nothing causes, observed or latent (the regime): every edge
        into them is forbidden.
    source : str, optional
        Where the knowledge came from (a file name, ``config [knowledge]``),
        named by the errors :meth:`validate` finds against the data. It takes
        no part in comparisons.
    """

    tiers: list[list[str]] = field(default_factory=list)
    forbidden: set[tuple[str, str]] = field(default_factory=set)
    required: set[tuple[str, str]] = field(default_factory=set)
    forbidden_within: set[int] = field(default_factory=set)
    exogenous: set[str] = field(default_factory=set)
    source: str | None = field(default=None, compare=False)

    # ------------------------------------------------------------------ queries
    def tier_of(self, name: str) -> int | None:
        """The index of the tier holding ``name``, or None when it is in no tier."""
        for index, tier in enumerate(self.tiers):
            if name in tier:
                return index
        return None

    def is_forbidden(self, a: str, b: str) -> bool:
        """Whether the direct edge ``a --> b`` is forbidden (explicitly, by tiers or exogeneity)."""
        if (a, b) in self.forbidden or b in self.exogenous:
            return True
        tier_a, tier_b = self.tier_of(a), self.tier_of(b)
        if tier_a is None or tier_b is None:
            return False
        return tier_a > tier_b or (tier_a == tier_b and tier_a in self.forbidden_within)

    def is_required(self, a: str, b: str) -> bool:
        """Whether the direct edge ``a --> b`` is required."""
        return (a, b) in self.required

    def names(self) -> set[str]:
        """Every variable the knowledge mentions."""
        found = {name for tier in self.tiers for name in tier}
        found |= {name for pair in self.forbidden | self.required for name in pair}
        return found | self.exogenous

    def is_empty(self) -> bool:
        """True when the knowledge says nothing beyond exogenous nodes."""
        return not (self.tiers or self.forbidden or self.required)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], source: str = "<config>") -> Knowledge:
        """Build knowledge from a configuration mapping.

        Parameters
        ----------
        mapping : mapping
            Optional keys ``tiers`` (a list of lists of names, earliest first),
            ``forbidden`` and ``required`` (lists of ``[from, to]`` pairs) and
            ``forbidden_within`` (0-based indices of tiers whose members may
            not be adjacent).
        source : str, optional
            Where the mapping came from, for error messages.

        Returns
        -------
        Knowledge
            The knowledge (not yet checked against the data: see :meth:`validate`).

        Raises
        ------
        KnowledgeError
            On an unknown key or a value of the wrong shape.
        """
        if not isinstance(mapping, Mapping):
            raise KnowledgeError(
                f"knowledge must be a mapping with keys tiers/forbidden/required; "
                f"got {type(mapping).__name__}",
                source=source,
            )
        allowed = {"tiers", "forbidden", "required", "forbidden_within"}
        unknown = sorted(set(mapping) - allowed)
        if unknown:
            raise KnowledgeError(
                f"unknown knowledge key(s) {', '.join(map(repr, unknown))}; "
                f"use {', '.join(sorted(allowed))}",
                source=source,
            )
        tiers_value = mapping.get("tiers") or []
        if not _is_list(tiers_value) or not all(_is_list(t) for t in tiers_value):
            raise KnowledgeError(
                "'tiers' must be a list of lists of variable names, earliest tier first",
                source=source,
            )
        tiers = [[_name(x, "tiers", source) for x in tier] for tier in tiers_value]
        within_value = mapping.get("forbidden_within") or []
        if not _is_list(within_value) or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i < len(tiers)
            for i in within_value
        ):
            raise KnowledgeError(
                f"'forbidden_within' must be a list of 0-based tier indices below {len(tiers)}",
                source=source,
            )
        knowledge = cls(
            tiers=tiers,
            forbidden=_pairs(mapping.get("forbidden") or [], "forbidden", source),
            required=_pairs(mapping.get("required") or [], "required", source),
            forbidden_within=set(within_value),
            source=source,
        )
        knowledge._check_tiers_disjoint()
        return knowledge

    def with_regime_exogenous(self, regime: str) -> Knowledge:
        """A copy in which ``regime`` is exogenous: no edge may point into it.

        The regime records which deployment regime a row came from; nothing in
        the system causes it, so it is a root with no latent parent either.
        For causal-learn this becomes ``add_forbidden_by_node(x, regime)`` for
        every other node ``x`` (see :meth:`to_causallearn`).
        """
        return Knowledge(
            tiers=[list(t) for t in self.tiers],
            forbidden=set(self.forbidden),
            required=set(self.required),
            forbidden_within=set(self.forbidden_within),
            exogenous=self.exogenous | {regime},
            source=self.source,
        )

    def restricted(self, names: Iterable[str]) -> Knowledge:
        """The knowledge about ``names`` only: other variables leave the tiers and the edges.

        Used when columns are left out after the knowledge was written (the
        deterministic-relations rule): the tier order among the columns kept
        is unchanged, and a forbidden or required edge with an end left out
        goes with it.
        """
        keep = set(names)
        kept_tiers = [(i, [n for n in tier if n in keep]) for i, tier in enumerate(self.tiers)]
        nonempty = [(i, tier) for i, tier in kept_tiers if tier]
        return Knowledge(
            tiers=[tier for _, tier in nonempty],
            forbidden={(a, b) for a, b in self.forbidden if a in keep and b in keep},
            required={(a, b) for a, b in self.required if a in keep and b in keep},
            forbidden_within={k for k, (i, _) in enumerate(nonempty) if i in self.forbidden_within},
            exogenous=self.exogenous & keep,
            source=self.source,
        )

    def split_mutual(self, names: Sequence[str]) -> tuple[Knowledge, list[tuple[str, str]]]:
        """Separate the pairs forbidden in both directions from the rest.

        causal-learn's skeleton searches remove such a pair's edge without a
        separating set and then record an *empty* one, so every common
        neighbour becomes a spurious collider (causal-learn issue #224).
        :func:`mesalens.pipeline.discovery.discover` therefore searches with
        the knowledge returned here, in which no pair is forbidden both ways,
        and removes the returned pairs' edges itself.

        Parameters
        ----------
        names : sequence of str
            The variables, in data order (fixes the order of the result).

        Returns
        -------
        knowledge : Knowledge
            This knowledge without starred tiers and without explicit
            forbidden edges whose reverse is also forbidden.
        pairs : list of (str, str)
            Every pair of ``names`` forbidden in both directions, in data order.
        """
        order = {name: i for i, name in enumerate(names)}
        pairs = [
            (a, b)
            for a in names
            for b in names
            if order[a] < order[b] and self.is_forbidden(a, b) and self.is_forbidden(b, a)
        ]
        mutual = {frozenset(p) for p in pairs}
        reduced = Knowledge(
            # An exogenous node in a tier makes every earlier-tier node a mutual
            # pair with it (tiers forbid one direction, exogeneity the other);
            # taking it out of the tiers loses only those pairs' prohibitions.
            tiers=[[n for n in tier if n not in self.exogenous] for tier in self.tiers],
            forbidden={p for p in self.forbidden if frozenset(p) not in mutual},
            required=set(self.required),
            forbidden_within=set(),
            exogenous=set(self.exogenous),
            source=self.source,
        )
        return reduced, pairs

    # ------------------------------------------------------------------ checking
    def _check_tiers_disjoint(self) -> None:
        seen: dict[str, int] = {}
        for index, tier in enumerate(self.tiers):
            for name in tier:
                if name in seen and seen[name] != index:
                    raise KnowledgeError(
                        f"{name!r} is in tier {seen[name] + 1} and tier {index + 1}; "
                        "put each variable in one tier",
                        source=self.source,
                    )
                seen[name] = index

    def validate(self, names: Iterable[str], *, of: str = "the data") -> None:
        """Check the knowledge against the data's columns and against itself.

        Parameters
        ----------
        names : iterable of str
            The variables of the data.
        of : str
            What the names are of, for the message: ``"the data"`` (columns)
            or ``"the graph"`` (nodes).

        Raises
        ------
        KnowledgeError
            If the knowledge names a variable that is not a column, a variable
            sits in two tiers, a required edge is also forbidden (explicitly,
            by exogeneity or by a starred tier) or runs against the tier order,
            or the required edges form a directed cycle.
        """
        known = list(dict.fromkeys(names))
        unknown = sorted(self.names() - set(known))
        if unknown:
            shown = ", ".join(repr(n) for n in known[:12]) + (", ..." if len(known) > 12 else "")
            what = "column" if of == "the data" else "node"
            raise KnowledgeError(
                f"the knowledge names {', '.join(map(repr, unknown))}, which "
                f"{f'is not a {what}' if len(unknown) == 1 else f'are not {what}s'} of {of} "
                f"({what}s: {shown}); fix the spelling or drop the variable from the knowledge",
                source=self.source,
            )
        self._check_tiers_disjoint()
        for a, b in sorted(self.required):
            if a == b:
                raise KnowledgeError(
                    f"required edge {a} --> {b} is a self-loop; remove it", source=self.source
                )
            tier_a, tier_b = self.tier_of(a), self.tier_of(b)
            if tier_a is not None and tier_b is not None and tier_a > tier_b:
                raise KnowledgeError(
                    f"required edge {a} --> {b} runs against the tier order ({a!r} is in tier "
                    f"{tier_a + 1}, {b!r} in the earlier tier {tier_b + 1}); move one of them "
                    "or drop the requirement",
                    source=self.source,
                )
            if b in self.exogenous:
                raise KnowledgeError(
                    f"required edge {a} --> {b} points into the regime {b!r}, which nothing can "
                    "cause; drop the requirement or reverse it",
                    source=self.source,
                )
            if self.is_forbidden(a, b):
                raise KnowledgeError(
                    f"the edge {a} --> {b} is both required and forbidden"
                    f"{' (inside a starred tier)' if (a, b) not in self.forbidden else ''}; "
                    "drop one of the two",
                    source=self.source,
                )
        both = sorted((a, b) for a, b in self.required if (b, a) in self.required and a < b)
        if both:
            a, b = both[0]
            raise KnowledgeError(
                f"both {a} --> {b} and {b} --> {a} are required; keep one direction",
                source=self.source,
            )
        index = {name: i for i, name in enumerate(known)}
        cycle = CausalGraph.from_index_edges(
            known, [(index[a], index[b]) for a, b in sorted(self.required)]
        ).directed_cycle()
        if cycle is not None:
            raise KnowledgeError(
                "the required edges form a directed cycle " + " --> ".join(cycle) + "; "
                "drop one of them",
                source=self.source,
            )

    # ------------------------------------------------------------------ export
    def to_causallearn(self, nodes: Sequence[Any]) -> Any:
        """Convert to causal-learn's ``BackgroundKnowledge`` over ``nodes``.

        Parameters
        ----------
        nodes : sequence of causallearn.graph.GraphNode.GraphNode
            The search's nodes (their names are matched to the knowledge).

        Returns
        -------
        causallearn.utils.PCUtils.BackgroundKnowledge.BackgroundKnowledge
            Tiers become ``add_node_to_tier`` (0-based) plus
            ``forbid_within_tier`` for starred tiers; forbidden and required
            edges become ``add_forbidden_by_node`` / ``add_required_by_node``;
            an exogenous node ``r`` becomes ``add_forbidden_by_node(x, r)``
            for every other node ``x``.

        Raises
        ------
        KnowledgeError
            If the knowledge names a variable that is not among ``nodes``.
        """
        from causallearn.utils.PCUtils.BackgroundKnowledge import BackgroundKnowledge

        by_name = {node.get_name(): node for node in nodes}
        self.validate(by_name)
        bk = BackgroundKnowledge()
        for index, tier in enumerate(self.tiers):
            for name in tier:
                bk.add_node_to_tier(by_name[name], index)
            if index in self.forbidden_within:
                bk.forbid_within_tier(index)
        # Sorted, so that the knowledge (and anything iterating it) is deterministic.
        for a, b in sorted(self.forbidden):
            bk.add_forbidden_by_node(by_name[a], by_name[b])
        for a, b in sorted(self.required):
            bk.add_required_by_node(by_name[a], by_name[b])
        for root in sorted(self.exogenous):
            for node in nodes:
                if node.get_name() != root:
                    bk.add_forbidden_by_node(node, by_name[root])
        return bk


# ---------------------------------------------------------------------- helpers
def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple)


def _name(value: Any, key: str, source: str | None) -> str:
    if not isinstance(value, str) or not value:
        raise KnowledgeError(
            f"'{key}' must hold variable names (non-empty strings); got {value!r}", source=source
        )
    return value


def _pairs(value: Any, key: str, source: str | None) -> set[tuple[str, str]]:
    if not _is_list(value):
        raise KnowledgeError(f"'{key}' must be a list of [from, to] pairs", source=source)
    result = set()
    for item in value:
        if not _is_list(item) or len(item) != 2:
            raise KnowledgeError(
                f"'{key}' entries must be [from, to] pairs of names; got {item!r}", source=source
            )
        result.add((_name(item[0], key, source), _name(item[1], key, source)))
    return result


_SECTIONS = {"addtemporal", "forbiddirect", "requiredirect"}
# Later Tetrad versions also write these; mesalens does not model them.
_UNSUPPORTED = {"forbiddengroup", "requiredgroup", "knowledgegroup"}


def read_tetrad_knowledge(text: str, source: str = "<string>") -> Knowledge:
    """Parse a Tetrad knowledge file.

    The format is line-based: an optional ``/knowledge`` header, then the
    sections ``addtemporal`` (lines ``<tier number>[*] name name ...``),
    ``forbiddirect`` and ``requiredirect`` (lines ``from to``). Blank lines
    and lines starting with ``//`` or ``#`` are ignored; section names are
    case-insensitive. Tier numbers are positive integers; tiers are ordered
    by number (gaps are allowed and dropped).

    Parameters
    ----------
    text : str
        The file contents.
    source : str, optional
        The file name, for error messages.

    Returns
    -------
    Knowledge
        The knowledge (not yet checked against the data: see
        :meth:`Knowledge.validate`).

    Raises
    ------
    KnowledgeError
        Naming the file and line, on a line outside any section, an unknown
        section, a malformed tier number, a tier number used twice, a
        variable in two tiers, or an edge line without exactly two names.
    """
    section: str | None = None
    numbered: dict[int, tuple[list[str], bool, int]] = {}
    where: dict[str, int] = {}
    forbidden: set[tuple[str, str]] = set()
    required: set[tuple[str, str]] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("//", "#")):
            continue
        word = line.lower()
        if word == "/knowledge":
            continue
        if word in _SECTIONS:
            section = word
            continue
        if word in _UNSUPPORTED:
            raise KnowledgeError(
                f"the {line!r} section is not supported; express it with addtemporal, "
                "forbiddirect and requiredirect",
                source=source,
                line=number,
            )
        tokens = line.split()
        if section is None:
            raise KnowledgeError(
                f"{line!r} is outside any section; start with addtemporal, forbiddirect or "
                "requiredirect",
                source=source,
                line=number,
            )
        if section == "addtemporal":
            label, names = tokens[0], tokens[1:]
            starred = label.endswith("*")
            digits = label[:-1] if starred else label
            if not digits.isdigit() or int(digits) < 1:
                raise KnowledgeError(
                    f"a tier line starts with a positive tier number (e.g. '1 regime' or "
                    f"'2* a b'); got {label!r}",
                    source=source,
                    line=number,
                )
            tier = int(digits)
            if tier in numbered:
                raise KnowledgeError(
                    f"tier {tier} is listed twice (first on line {numbered[tier][2]}); "
                    "list all of a tier's variables on one line",
                    source=source,
                    line=number,
                )
            for name in names:
                if name in where:
                    raise KnowledgeError(
                        f"{name!r} is already in a tier (line {where[name]}); put each variable "
                        "in one tier",
                        source=source,
                        line=number,
                    )
                where[name] = number
            numbered[tier] = (list(dict.fromkeys(names)), starred, number)
        else:
            if len(tokens) != 2:
                raise KnowledgeError(
                    f"a {section} line names exactly two variables, 'from to'; got {len(tokens)} "
                    f"({line!r})",
                    source=source,
                    line=number,
                )
            (forbidden if section == "forbiddirect" else required).add((tokens[0], tokens[1]))
    ordered = sorted(numbered)
    return Knowledge(
        tiers=[numbered[t][0] for t in ordered],
        forbidden=forbidden,
        required=required,
        forbidden_within={i for i, t in enumerate(ordered) if numbered[t][1]},
        source=source,
    )
