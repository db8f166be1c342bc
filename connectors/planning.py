"""The plan step: inspect each regime's sources and reconcile their columns.

Cheap, no full read: a regime's files are listed and their headers, footers
or first rows inspected (:mod:`.files`), or its table or query inspected and
cut into partitions (:mod:`.sql`), giving one :class:`Source` per regime.
Their column sets are then reconciled (:func:`analysis_columns`): the same
columns in every file of every regime, and the regime column not already
taken.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from mesalens.connectors.errors import DataError
from mesalens.connectors.files import FilePlan, plan_files
from mesalens.connectors.regime import RegimeSpec
from mesalens.connectors.sql import SqlPlan, is_sql_location, plan_sql

__all__ = ["Source", "analysis_columns", "plan_regime"]

logger = logging.getLogger(__name__)

_SHOWN_FILES = 3


@dataclass(frozen=True, eq=False)
class Source:
    """One regime's plan."""

    spec: RegimeSpec
    code: int
    plan: FilePlan | SqlPlan
    format: str

    @property
    def name(self) -> str:
        """The regime's name."""
        return self.spec.name

    @property
    def files(self) -> str:
        """The regime's sources, named on one line."""
        return _files_text(self.plan.sources)


def plan_regime(spec: RegimeSpec, code: int) -> Source:
    """List or inspect one regime's sources."""
    logger.info("regime %r: inspecting %s", spec.name, spec.display)
    if spec.format == "sql" or (spec.format is None and is_sql_location(spec.location)):
        plan: FilePlan | SqlPlan = plan_sql(spec.location, regime=spec.name)
        fmt = "sql"
    else:
        plan = plan_files(spec.location, spec.format, regime=spec.name)
        fmt = "+".join(sorted({part.format for part in plan.parts}))
    return Source(spec=spec, code=code, plan=plan, format=fmt)


def analysis_columns(
    sources: list[Source], selected: tuple[str, ...] | None, regime_name: str
) -> tuple[str, ...]:
    """Reconcile the column sets of all files of all regimes."""
    for source in sources:
        for schema in source.plan.schemas:
            if regime_name in schema.columns and (selected is None or regime_name in selected):
                raise DataError(
                    f"column {regime_name!r} already exists in {schema.where} "
                    f"(regime {source.name!r}); pass a different regime name with "
                    "--regime-name (config: regime_name)"
                )
    if selected is not None:
        for source in sources:
            for schema in source.plan.schemas:
                absent = [c for c in selected if c not in schema.columns]
                if absent:
                    raise DataError(
                        f"regime {source.name!r}: {schema.where} has no column {absent[0]!r} "
                        f"(selected with --columns, config: columns); its columns are "
                        f"{', '.join(schema.columns)}"
                    )
        return selected
    for source in sources:
        first = source.plan.schemas[0]
        for schema in source.plan.schemas[1:]:
            lacking = [c for c in first.columns if c not in schema.columns]
            if lacking:
                raise DataError(
                    f"regime {source.name!r}: {schema.where} lacks column {lacking[0]!r}, "
                    f"which {first.where} has; every file of a regime needs the same columns"
                )
            extra = [c for c in schema.columns if c not in first.columns]
            if extra:
                raise DataError(
                    f"regime {source.name!r}: {schema.where} has column {extra[0]!r}, "
                    f"which {first.where} lacks; every file of a regime needs the same columns"
                )
    reference = sources[0]
    wanted = reference.plan.schemas[0].columns
    for source in sources[1:]:
        have = source.plan.schemas[0].columns
        lacking = [c for c in wanted if c not in have]
        if lacking:
            raise DataError(
                f"regime {source.name!r} ({source.files}) lacks column {lacking[0]!r}, "
                f"which regime {reference.name!r} ({reference.files}) has"
                f"{_more(lacking)}; every regime needs the same columns: select the ones "
                "they share with --columns (config: columns)"
            )
        extra = [c for c in have if c not in wanted]
        if extra:
            raise DataError(
                f"regime {source.name!r} ({source.files}) has column {extra[0]!r}, "
                f"which regime {reference.name!r} ({reference.files}) lacks"
                f"{_more(extra)}; every regime needs the same columns: select the ones "
                "they share with --columns (config: columns)"
            )
    if not wanted:
        raise DataError(f"regime {reference.name!r} ({reference.files}) has no columns")
    return wanted


def _files_text(files: Sequence[str]) -> str:
    """Name up to a few files on one line."""
    shown = ", ".join(files[:_SHOWN_FILES])
    if len(files) > _SHOWN_FILES:
        shown += f" and {len(files) - _SHOWN_FILES} more"
    return shown


def _more(items: Sequence[str]) -> str:
    """Say how many more differences there are, if any."""
    return f" (and {len(items) - 1} more)" if len(items) > 1 else ""
