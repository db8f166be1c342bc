"""What a run does about deterministic relations: the columns it keeps, and why.

:func:`resolve_relations` finds the relations of the pooled data and of each
regime (:mod:`mesalens.pipeline.deterministic`) and applies the rule of
``--deterministic`` (config key ``deterministic``):

``drop`` (the default) goes on to a verdict on the columns that remain:

1. the role columns (regime, base, mesa, decision and the policy inputs
   named) are kept;
2. a constant column is left out;
3. a column equivalent (one-to-one) to a role column is merged into that
   role: it is left out, and the role column stands for both; of two
   equivalent columns that are not roles, the first stays;
4. a column determined by others is left out (its determining columns stay);
5. when a role column is determined by others, the columns that are not
   roles among those that determine it are left out: they enter only
   through the role's definition (the step count and the success flag that
   define a return);

and the search is repeated on the columns kept until it finds nothing more
to leave out. A relation among role columns alone cannot be resolved by
leaving a column out: a linear one (which makes the covariance singular) is
an error, another one is kept with a note. A relation that holds within some
regimes only (a goal fixed during training) is reported, not acted on: the
pooled data, which discovery uses, do not have it.

``error`` stops with one line naming every relation found and the
``--columns`` that the ``drop`` rule would keep, when that rule would leave a
column out. The reasoning and the limits are in ``docs/deterministic.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mesalens.connectors.errors import DataError
from mesalens.pipeline.deterministic import (
    CONSTANT,
    DETERMINED,
    EQUIVALENT,
    LINEAR,
    MAX_DETERMINANTS,
    MIN_ROWS_PER_CELL,
    RESIDUAL_SHARE,
    Relation,
    find_relations,
    regime_relations,
)
from mesalens.pipeline.roles import Roles, join_names
from mesalens.pipeline.statistics import DISCRETE, SufficientStatistics, compute_statistics

if TYPE_CHECKING:
    from mesalens.connectors.loaded import LoadedData

__all__ = [
    "POLICIES",
    "DeterministicResult",
    "regime_statistics",
    "resolve_relations",
    "select_columns",
]

#: What ``--deterministic`` accepts.
POLICIES = ("drop", "error")


@dataclass(frozen=True)
class LeftOut:
    """A column the rule left out, with the reason and the relation behind it."""

    column: str
    reason: str
    relation: Relation

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        return {"column": self.column, "reason": self.reason, "relation": self.relation.sentence()}


@dataclass(frozen=True)
class DeterministicResult:
    """The relations found and what the run did about them.

    Attributes
    ----------
    policy : str
        ``"drop"`` or ``"error"``.
    relations : tuple of Relation
        Those of the pooled data, in the order found (every round of the search).
    regime_relations : tuple of Relation
        Those that hold within some regimes only.
    left_out : tuple of LeftOut
        The columns left out, in the order decided.
    kept : tuple of str
        The columns discovery uses, regime first.
    notes : tuple of str
        Relations kept among role columns, and what they mean.
    """

    policy: str
    relations: tuple[Relation, ...]
    regime_relations: tuple[Relation, ...]
    left_out: tuple[LeftOut, ...]
    kept: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def all_relations(self) -> tuple[Relation, ...]:
        """The pooled relations, then the per-regime ones."""
        return (*self.relations, *self.regime_relations)

    def note_lines(self) -> list[str]:
        """One line per column left out, then the notes."""
        lines = [f"left out {item.column!r}: {item.reason}" for item in self.left_out]
        return [*lines, *self.notes]

    def as_dict(self) -> dict[str, Any]:
        """The ``deterministic`` part of ``result.json``."""
        return {
            "policy": self.policy,
            "residual_share": RESIDUAL_SHARE,
            "min_rows_per_cell": MIN_ROWS_PER_CELL,
            "max_determinants": MAX_DETERMINANTS,
            "relations": [r.as_dict() for r in self.all_relations],
            "left_out": [item.as_dict() for item in self.left_out],
            "kept": list(self.kept),
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------- statistics
def select_columns(stats: SufficientStatistics, columns: Sequence[str]) -> SufficientStatistics:
    """The statistics of a subset of the columns (cells of dropped discrete columns summed out)."""
    columns = [c for c in stats.columns if c in set(columns)]
    take = [stats.index[c] for c in columns]
    discrete = [c for c in columns if stats.kinds[c] == DISCRETE]
    at = [stats.discrete_columns.index(c) for c in discrete]
    if discrete:
        codes, inverse = np.unique(stats.discrete_codes[:, at], axis=0, return_inverse=True)
        counts = np.bincount(inverse.reshape(-1), weights=stats.cell_counts).astype(np.int64)
    else:
        codes = np.zeros((1, 0), dtype=np.int64)
        counts = np.array([stats.n], dtype=np.int64)
    expanded: list[int] = []
    expanded_index: dict[str, tuple[int, ...]] = {}
    for name in columns:
        start = len(expanded)
        expanded.extend(stats.expanded_index[name])
        expanded_index[name] = tuple(range(start, len(expanded)))
    return SufficientStatistics(
        columns=tuple(columns),
        kinds={c: stats.kinds[c] for c in columns},
        n=stats.n,
        means=stats.means[take],
        covariance=stats.covariance[np.ix_(take, take)],
        levels={c: stats.levels[c] for c in discrete},
        discrete_codes=codes,
        cell_counts=counts,
        expanded_columns=tuple(stats.expanded_columns[j] for j in expanded),
        expanded_index=expanded_index,
        expanded_means=stats.expanded_means[expanded],
        expanded_covariance=stats.expanded_covariance[np.ix_(expanded, expanded)],
    )


@dataclass(frozen=True)
class _RegimeMoments:
    """One regime's moments in the shape ``compute_statistics(precomputed=)`` takes."""

    moments: Any
    partition_levels: Mapping[str, int]
    indicator_cap: int
    dtypes: Mapping[str, Any]


def regime_statistics(data: LoadedData, columns: Sequence[str]) -> dict[str, SufficientStatistics]:
    """Each regime's statistics of ``columns`` from the loader's pass (empty when it has none)."""
    profile = data.profile
    if profile is None or len(profile.regimes) != len(data.regime_labels):
        return {}
    kinds = {c: data.kinds[c] for c in columns}
    out: dict[str, SufficientStatistics] = {}

    def unavailable() -> Any:
        # The pooled frame is not this regime's: without its moments, no statistics.
        raise DataError("no per-regime moments for a column with many levels")

    for label, moments in zip(data.regime_labels, profile.regimes, strict=True):
        if moments.n < 2:
            continue
        shim = _RegimeMoments(
            moments, profile.partition_levels, profile.indicator_cap, profile.dtypes
        )
        try:
            out[label] = compute_statistics(unavailable, kinds, list(columns), precomputed=shim)
        except DataError:
            return {}
    return out


# --------------------------------------------------------------------- the rule
def _role_of(roles: Roles) -> dict[str, str]:
    named = {name: option for option, names in roles.role_sets() for name in names}
    for name in roles.policy_inputs or ():
        named.setdefault(name, "policy-inputs")
    return named


def _apply(
    relations: Sequence[Relation], role: Mapping[str, str], kept: set[str], regime: str
) -> tuple[list[LeftOut], list[str], list[str]]:
    """One round of the rule: the columns to leave out, notes, and unresolvable relations."""
    out: dict[str, LeftOut] = {}
    notes: list[str] = []
    fatal: list[str] = []

    def leave(column: str, reason: str, relation: Relation) -> None:
        if column in kept and column not in role and column not in out:
            out[column] = LeftOut(column, reason, relation)

    rank = {CONSTANT: 0, EQUIVALENT: 1, DETERMINED: 2}
    for relation in sorted(relations, key=lambda r: rank[r.kind]):
        if relation.kind != CONSTANT and any(c in out for c in relation.columns):
            # A column of it was just left out: the next round, on the columns
            # kept, tells whether it still holds (of x, y and x + y, one goes).
            continue
        if relation.kind == CONSTANT:
            if relation.column in role:
                fatal.append(
                    f"the {role[relation.column]} column {relation.column!r} is constant, so "
                    "nothing can depend on it"
                )
            leave(relation.column, "constant", relation)
            continue
        if relation.kind == EQUIVALENT:
            members = relation.columns
            roles_in = [c for c in members if c in role]
            if len(roles_in) > 1:
                _role_only(relation, fatal, notes)
            stays = roles_in[0] if roles_in else members[0]
            what = (
                f"the {role[stays]} column {stays!r}: merged into that role"
                if roles_in
                else (repr(stays))
            )
            for column in members:
                if column != stays:
                    leave(column, f"equivalent (one-to-one) to {what}", relation)
            continue
        target, by = relation.column, relation.by
        if target not in role:
            names = ", ".join(map(repr, by))
            leave(target, f"determined by {names}", relation)
            continue
        if target == regime and relation.method != LINEAR:
            notes.append(
                f"the regime is determined by {', '.join(map(repr, by))}: the regimes do not "
                "overlap in these columns, so their effect on the rest cannot be told apart "
                "from the regime's"
            )
            continue
        definition = [c for c in by if c not in role]
        if not definition:
            _role_only(relation, fatal, notes)
            continue
        for column in definition:
            leave(
                column,
                f"it defines the {role[target]} column {target!r} ({relation.sentence()})",
                relation,
            )
    return list(out.values()), notes, fatal


def _role_only(relation: Relation, fatal: list[str], notes: list[str]) -> None:
    if relation.method == LINEAR:
        fatal.append(
            f"{relation.sentence()}, among role columns only: they are linearly dependent and "
            "discovery cannot tell them apart"
        )
    else:
        notes.append(
            f"{relation.sentence()}, among role columns: kept; discovery may miss edges out of "
            f"{relation.column!r} (a deterministic relation breaks faithfulness)"
        )


def resolve_relations(
    stats: SufficientStatistics,
    roles: Roles,
    *,
    policy: str = "drop",
    per_regime: Mapping[str, SufficientStatistics] | None = None,
) -> tuple[DeterministicResult, SufficientStatistics]:
    """Find the deterministic relations and apply the rule of ``policy``.

    Parameters
    ----------
    stats : SufficientStatistics
        The pooled statistics of every column, the regime column included.
    roles : Roles
        The roles (their columns are kept).
    policy : {"drop", "error"}
        Leave columns out by the rule, or stop when the rule would.
    per_regime : mapping of str to SufficientStatistics, optional
        Each regime's statistics (:func:`regime_statistics`), for the
        relations that hold in some regimes only.

    Returns
    -------
    DeterministicResult
        What was found and done.
    SufficientStatistics
        The statistics of the columns kept.

    Raises
    ------
    DataError
        With ``policy="error"`` when the rule would leave a column out (one
        line naming every relation and the columns to keep), and with either
        policy when a role column is constant or role columns are linearly
        dependent.
    """
    if policy not in POLICIES:
        raise DataError(
            f"--deterministic {policy!r} is not a policy; use one of {', '.join(POLICIES)}"
        )
    role = _role_of(roles)
    regime = roles.regime
    # Role columns last: of linearly dependent columns the last is named as
    # determined, so that a role is "determined by" its definition.
    order = [c for c in stats.columns if c not in role] + [c for c in stats.columns if c in role]
    kept = set(stats.columns)
    current = stats
    found: list[Relation] = []
    left_out: list[LeftOut] = []
    notes: list[str] = []
    while True:
        relations = find_relations(current, order=[c for c in order if c in kept], regime=regime)
        seen = {r.key() for r in found}
        found.extend(r for r in relations if r.key() not in seen)
        out, round_notes, fatal = _apply(relations, role, kept, regime)
        for note in round_notes:
            if note not in notes:
                notes.append(note)
        if fatal:
            raise DataError(
                "deterministic relations the analysis cannot resolve: " + "; ".join(fatal)
                + "; give the roles other columns"
            )  # fmt: skip
        if not out:
            break
        left_out.extend(out)
        kept -= {item.column for item in out}
        current = select_columns(current, [c for c in current.columns if c in kept])
    by_regime = regime_relations(
        found,
        per_regime or {},
        order=[c for c in order if c != regime],
        regime=regime,
    )
    kept_columns = tuple(c for c in stats.columns if c in kept)
    result = DeterministicResult(
        policy=policy,
        relations=tuple(found),
        regime_relations=by_regime,
        left_out=tuple(left_out),
        kept=kept_columns,
        notes=tuple(notes),
    )
    if policy == "error" and left_out:
        sentences = "; ".join(r.sentence() for r in result.all_relations)
        suggestion = join_names([c for c in kept_columns if c != regime])
        raise DataError(
            f"--deterministic error: {len(result.all_relations)} deterministic relation(s) "
            f"found: {sentences}. Keep columns that work: --columns {suggestion!r} "
            "(or let --deterministic drop, the default, leave them out)"
        )
    return result, current
