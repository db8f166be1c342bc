"""The roles of a check: regime ``s``, base ``Y_b``, mesa ``Y_m`` and decision ``D_m``.

See ``spec/criterion.md``: the four roles are disjoint sets of nodes (the
regime a single node), and ``policy_inputs`` says what the model's policy
reads: ``None`` keeps the graph's own parents of the decision (``keep``), a
tuple (possibly empty) replaces them.
"""

from __future__ import annotations

import csv
import dataclasses
import fnmatch
import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from mesalens.pipeline.errors import RoleError
from mesalens.pipeline.graph import CausalGraph

__all__ = [
    "Roles",
    "is_pattern",
    "join_names",
    "parse_names",
    "parse_policy_inputs",
    "resolve_patterns",
    "spell_as_in_graph",
]


@dataclass(frozen=True)
class Roles:
    """Who is who in a check. Build it with names; :meth:`validate` against a graph."""

    regime: str
    base: tuple[str, ...]
    mesa: tuple[str, ...]
    decision: tuple[str, ...]
    policy_inputs: tuple[str, ...] | None = None  # None means "keep"

    def __post_init__(self) -> None:
        for option, names in (
            ("base", self.base),
            ("mesa", self.mesa),
            ("decision", self.decision),
        ):
            if not names:
                raise RoleError(f"--{option} names no variable; give at least one column name")
            if len(set(names)) != len(names):
                raise RoleError(f"--{option} lists a variable twice: {', '.join(names)}")
        if not self.regime:
            raise RoleError("--regime is empty; give the name of the regime node, e.g. 'regime'")
        seen: dict[str, str] = {}
        for option, names in self.role_sets():
            for name in names:
                if name in seen:
                    raise RoleError(
                        f"{name!r} is both --{seen[name]} and --{option}; "
                        "the regime, base, mesa and decision roles must be disjoint"
                    )
                seen[name] = option
        if self.policy_inputs is not None:
            if len(set(self.policy_inputs)) != len(self.policy_inputs):
                raise RoleError(
                    "--policy-inputs lists a variable twice: " + ", ".join(self.policy_inputs)
                )
            for name in self.policy_inputs:
                if name in self.decision:
                    raise RoleError(
                        f"--policy-inputs lists the decision {name!r} itself; "
                        "a decision cannot read its own value"
                    )

    def role_sets(self) -> list[tuple[str, tuple[str, ...]]]:
        """The four roles as ``(option name, names)``."""
        return [
            ("regime", (self.regime,)),
            ("base", self.base),
            ("mesa", self.mesa),
            ("decision", self.decision),
        ]

    def validate(self, graph: CausalGraph) -> None:
        """Raise :class:`RoleError` if a role or policy input is not a node of ``graph``."""
        if not graph.nodes:
            raise RoleError("the graph has no nodes; check that the file holds the graph")
        named = [*self.role_sets(), ("policy-inputs", self.policy_inputs or ())]
        for option, names in named:
            missing = [n for n in names if n not in graph]
            if missing:
                shown = ", ".join(repr(n) for n in graph.nodes[:15])
                more = f", ... ({len(graph.nodes)} in all)" if len(graph.nodes) > 15 else ""
                raise RoleError(
                    f"--{option} names {', '.join(repr(m) for m in missing)}, which "
                    f"{'is' if len(missing) == 1 else 'are'} not in the graph; "
                    f"its nodes are {shown}{more}"
                )

    def policy_description(self) -> str:
        """``keep``, ``none`` or the comma-separated inputs, as on the command line."""
        if self.policy_inputs is None:
            return "keep"
        return ", ".join(self.policy_inputs) if self.policy_inputs else "none"


def parse_names(text: str, option: str) -> tuple[str, ...]:
    """Split a comma-separated option value into names, rejecting empty items.

    A name that itself holds a comma is written in double quotes, as in a
    CSV field (``'"action, taken",value'``); :mod:`csv` does the splitting.

    >>> parse_names('a, b', "base")
    ('a', 'b')
    >>> parse_names('"action, taken", value', "decision")
    ('action, taken', 'value')
    """
    try:
        (fields,) = csv.reader([text], skipinitialspace=True, strict=True)
    except (csv.Error, ValueError):
        raise RoleError(
            f"--{option} {text!r} is not a comma-separated list of names; quote a name that "
            "holds a comma, e.g. '\"action, taken\",value'"
        ) from None
    names = tuple(field.strip() for field in fields)
    if not names or any(not n for n in names):
        raise RoleError(
            f"--{option} {text!r} has an empty name; give comma-separated names, e.g. 'a,b'"
        )
    return names


def join_names(names: Sequence[str]) -> str:
    """The inverse of :func:`parse_names`: names as one option value, quoted where needed.

    >>> join_names(["action, taken", "value"])
    '"action, taken",value'
    """
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(names)
    return buffer.getvalue()


def parse_policy_inputs(text: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """``keep`` (or None) -> None; ``none`` -> (); ``a,b`` -> ("a", "b")."""
    if text is None:
        return None
    if not isinstance(text, str):
        return tuple(text)
    if text.strip().lower() == "keep":
        return None
    if text.strip().lower() == "none":
        return ()
    if not text.strip():
        raise RoleError(
            "--policy-inputs is empty; give 'none' for a policy that reads no node, 'keep' "
            "for the graph's own parents of the decision, or comma-separated names"
        )
    return parse_names(text, "policy-inputs")


def is_pattern(name: str) -> bool:
    """Whether a role name is a glob pattern (``*``, ``?`` or ``[...]``), e.g. ``probe_*``."""
    return any(mark in name for mark in "*?[")


def _expand(names: tuple[str, ...], option: str, columns: Sequence[str]) -> tuple[str, ...]:
    out: list[str] = []
    for name in names:
        if name in columns or not is_pattern(name):
            matched = [name]  # a column of that very name wins over the pattern
        else:
            matched = [c for c in columns if fnmatch.fnmatchcase(c, name)]
            if not matched:
                shown = ", ".join(repr(c) for c in columns[:15])
                more = f", ... ({len(columns)} in all)" if len(columns) > 15 else ""
                raise RoleError(
                    f"--{option} {name!r} matches no column of the data; the columns are "
                    f"{shown}{more} (a pattern takes *, ? and [...], as in 'probe_*')"
                )
        out.extend(m for m in matched if m not in out)
    return tuple(out)


def resolve_patterns(roles: Roles, columns: Sequence[str]) -> Roles:
    """The roles with every glob pattern replaced by the columns it matches, in column order.

    A role may span several columns (a probe, an embedding): ``--mesa
    'probe_*'`` names every column that starts with ``probe_``. A name that is
    a column itself is taken as it is.

    >>> roles = Roles("regime", ("reward",), ("probe_*",), ("action",))
    >>> resolve_patterns(roles, ["reward", "probe_1", "probe_0", "action"]).mesa
    ('probe_1', 'probe_0')

    Raises
    ------
    RoleError
        If a pattern matches no column, or the matched roles overlap.
    """
    names = [*roles.base, *roles.mesa, *roles.decision, *(roles.policy_inputs or ())]
    if not any(is_pattern(n) for n in names):
        return roles
    policy = roles.policy_inputs
    return dataclasses.replace(
        roles,
        base=_expand(roles.base, "base", columns),
        mesa=_expand(roles.mesa, "mesa", columns),
        decision=_expand(roles.decision, "decision", columns),
        policy_inputs=None if policy is None else _expand(policy, "policy-inputs", columns),
    )


def spell_as_in_graph(roles: Roles, graph: CausalGraph) -> Roles:
    """``roles`` with every name that is no node, but one node's twin in NFC, spelt as that node.

    Names are compared in Unicode normal form NFC: ``é`` typed as one code
    point (``U+00E9``) names the node written ``e`` + ``U+0301`` in the
    graph file, and the other way round. The graph readers refuse two nodes
    that are equal in NFC, so the match is unique.
    """

    def form(name: str) -> str:
        return unicodedata.normalize("NFC", name)

    by_form: dict[str, str] = {}
    for node in graph.nodes:
        by_form.setdefault(form(node), node)

    def spell(name: str) -> str:
        return name if name in graph.index else by_form.get(form(name), name)

    def spell_all(names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(spell(name) for name in names)

    return dataclasses.replace(
        roles,
        regime=spell(roles.regime),
        base=spell_all(roles.base),
        mesa=spell_all(roles.mesa),
        decision=spell_all(roles.decision),
        policy_inputs=None if roles.policy_inputs is None else spell_all(roles.policy_inputs),
    )
