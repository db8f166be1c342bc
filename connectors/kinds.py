"""Column kinds: each column's reading class, validation facts, final dtype and kind.

The loader (:func:`mesalens.connectors.load_regimes`) decides in three steps:

1. Before the pass, from the sources' schemas and sampled rows: one reading
   class per column (:func:`column_classes`, :mod:`.reading`), or a *type
   clash* -- a column with numbers in one regime and text in another.
2. During the pass, every partition's validation facts (:class:`Stats`: row
   and missing counts, distinct values, a non-whole value), merged per
   regime.
3. After it, from the merged facts: empty regimes and all-missing columns
   are rejected and the missing-value policy is applied
   (:func:`check_rows`); constant columns are rejected and every column gets
   its final dtype and kind (:func:`decide_kinds`).

Dtypes and kinds
----------------
Every column of the frame is numeric or categorical:

=============================== ============ ===================================
source values                   dtype        kind
=============================== ============ ===================================
regime                          ``int64``    discrete (codes ``0..k-1``, labels
                                             in :attr:`~.loaded.LoadedData.regime_labels`)
flags (``true``/``false``)      ``int64``    discrete (``0``/``1``)
text                            ``category`` discrete (categories known, sorted)
whole numbers, <= 20 values     ``int64``    discrete
whole numbers, more values      ``int64``    continuous
other numbers                   ``float64``  continuous
=============================== ============ ===================================

Whole-number-ness is decided from the values, not from the storage type:
CSV and JSON carry no types, and integer columns with NULLs arrive from
Parquet and SQL as floats. ``dtypes={"col": "float"|"int"|"category"|"bool"}``
overrides the decision for a column (``float`` is always continuous).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from mesalens.connectors.errors import DataError
from mesalens.connectors.reading import as_text

if TYPE_CHECKING:
    from mesalens.connectors.file_inspection import SourceSchema
    from mesalens.connectors.planning import Source

__all__ = [
    "DISCRETE_MAX_LEVELS",
    "DROP_WARNING_SHARE",
    "DTYPE_OVERRIDES",
    "MISSING_POLICIES",
    "SELECTION_NOTE",
    "DroppedRows",
    "Stats",
    "check_rows",
    "column_classes",
    "decide_kinds",
    "dropped_rows",
    "nested_columns",
]

logger = logging.getLogger(__name__)

#: A whole-number column with at most this many distinct values is discrete.
DISCRETE_MAX_LEVELS = 20

#: What ``missing=`` accepts: drop incomplete rows (reported), or refuse them.
MISSING_POLICIES = ("drop", "error")

#: What ``dtypes={...}`` accepts per column.
DTYPE_OVERRIDES = ("float", "int", "category", "bool")

# Reading classes: how values are converted while reading, before the final
# dtype is known. "number" and "bool" become float64 (NaN = missing),
# "string" becomes Python str objects.
_OVERRIDE_CLASS = {"float": "number", "int": "number", "bool": "bool", "category": "string"}


@dataclass
class Stats:
    """Statistics of one partition, or of a regime once merged."""

    rows: int = 0
    incomplete: int = 0
    missing: Counter[str] = field(default_factory=Counter)
    # Distinct values among complete rows; None once a numeric column has
    # more than DISCRETE_MAX_LEVELS (text columns keep all: they are categories).
    levels: dict[str, set[Any] | None] = field(default_factory=dict)
    # A non-whole value per numeric column that has one, with where it was seen.
    fractions: dict[str, tuple[float, str]] = field(default_factory=dict)
    # The first file where each column has a missing value.
    missing_where: dict[str, str] = field(default_factory=dict)

    def merge(self, other: Stats) -> None:
        """Add ``other`` into these statistics."""
        self.rows += other.rows
        self.incomplete += other.incomplete
        self.missing.update(other.missing)
        for column, values in other.levels.items():
            self.levels[column] = _union(self.levels.get(column, set()), values)
        for column, fraction in other.fractions.items():
            self.fractions.setdefault(column, fraction)
        for column, where in other.missing_where.items():
            self.missing_where.setdefault(column, where)


def nested_columns(sources: list[Source], columns: tuple[str, ...]) -> dict[str, str]:
    """The columns that hold nested values (lists, structs, maps) somewhere, with where.

    Returns
    -------
    dict of str to str
        Column -> ``"<type> values (in <file>, regime <name>)"``, in column order.
    """
    found: dict[str, str] = {}
    for column in columns:
        for source in sources:
            for schema in source.plan.schemas:
                kind = schema.kinds.get(column) or _sample_kind(schema.sample[column])
                if kind.startswith("nested:") and column not in found:
                    found[column] = (
                        f"{kind.partition(':')[2]} values (in {schema.where}, "
                        f"regime {source.name!r})"
                    )
    return found


def column_classes(
    sources: list[Source], columns: tuple[str, ...], overrides: Mapping[str, str]
) -> dict[str, str]:
    """Give every column one reading class, or report a type clash."""
    classes: dict[str, str] = {}
    for column in columns:
        if column in overrides:
            classes[column] = _OVERRIDE_CLASS[overrides[column]]
            continue
        seen: list[tuple[Source, SourceSchema, str]] = []
        for source in sources:
            for schema in source.plan.schemas:
                kind = schema.kinds.get(column) or _sample_kind(schema.sample[column])
                if kind.startswith("unsupported:"):
                    what = kind.partition(":")[2]
                    temporal = what.startswith(("timestamp", "date", "time", "duration"))
                    read_as = (
                        f"as numbers (the stored count of days, seconds or their fractions) "
                        f"with --dtype {column}=float"
                        if temporal and schema.kinds.get(column)
                        else f"as text with --dtype {column}=category"
                    )
                    raise DataError(
                        f"column {column!r} in {schema.where} (regime {source.name!r}) holds "
                        f"{what} values, which mesalens cannot use as they are; leave it out "
                        "by selecting the other columns with --columns (config: columns), or "
                        f"read it {read_as} (config: dtypes)"
                    )
                seen.append((source, schema, kind))
        numeric = [entry for entry in seen if entry[2] in ("number", "bool")]
        text = [entry for entry in seen if entry[2] == "string"]
        if numeric and text:
            (n_source, n_schema, _), (t_source, t_schema, _) = numeric[0], text[0]
            raise DataError(
                f"column {column!r} holds numbers in {n_schema.where} (regime "
                f"{n_source.name!r}) but text in {t_schema.where} (regime {t_source.name!r}); "
                f"fix the data, or treat it as a category with --dtype {column}=category "
                "(config: dtypes)"
            )
        if text:
            classes[column] = "string"
        elif numeric and all(entry[2] == "bool" for entry in numeric):
            classes[column] = "bool"
        else:
            classes[column] = "number"
    return classes


def _sample_kind(sample: pd.Series) -> str:
    """Tell from sampled values whether a column holds numbers, flags or text."""
    dtype = sample.dtype
    if len(sample) and sample.isna().all():
        # Missing throughout the sample (CSV reads that as float): the other
        # files or regimes decide, and text later on is no parse error.
        return "empty"
    if isinstance(dtype, pd.CategoricalDtype):
        return "string"
    if ptypes.is_bool_dtype(dtype):
        return "bool"
    if ptypes.is_numeric_dtype(dtype):
        return "number"
    if not (ptypes.is_object_dtype(dtype) or ptypes.is_string_dtype(dtype)):
        return f"unsupported:{dtype}"
    values = sample.dropna().tolist()
    if not values:
        return "empty"
    strings = [v for v in values if isinstance(v, str)]
    flags = [v for v in values if isinstance(v, bool | np.bool_)]
    numbers = [
        v
        for v in values
        if isinstance(v, int | float | Decimal | np.number) and not isinstance(v, bool | np.bool_)
    ]
    others = len(values) - len(strings) - len(flags) - len(numbers)
    if others:
        odd = next(
            v
            for v in values
            if not isinstance(v, str | bool | np.bool_ | int | float | Decimal | np.number)
        )
        if isinstance(odd, list | tuple | dict | np.ndarray):  # JSON arrays and objects
            return f"nested:{type(odd).__name__}"
        return f"unsupported:{type(odd).__name__}"
    if not strings:
        return "bool" if flags and not numbers else "number"
    # Text that is mostly numbers is a numeric column with a few bad values:
    # call it numeric, so that the bad values are reported rather than the
    # whole column silently becoming a category.
    parsed = pd.to_numeric(pd.Series(strings, dtype=object), errors="coerce").notna().sum()
    return "number" if len(numbers) + parsed > len(values) / 2 else "string"


def check_rows(
    sources: list[Source], stats: dict[str, Stats], columns: tuple[str, ...], missing: str
) -> dict[str, int]:
    """Reject empty regimes and all-missing columns; apply the missing-value policy."""
    for source in sources:
        if stats[source.name].rows == 0:
            raise DataError(
                f"regime {source.name!r} has no rows ({source.files}); every regime needs data"
            )
    for source in sources:
        regime = stats[source.name]
        for column in columns:
            if regime.missing.get(column, 0) == regime.rows:
                raise DataError(
                    f"column {column!r} is missing in every row of regime {source.name!r} "
                    f"({source.files}); fill it in, or leave it out by selecting the other "
                    "columns with --columns (config: columns)"
                )
    dropped: dict[str, int] = {}
    for source in sources:
        regime = stats[source.name]
        if missing == "error" and regime.incomplete:
            column, count = regime.missing.most_common(1)[0]
            raise DataError(
                f"regime {source.name!r}: column {column!r} has {count} missing value(s) "
                f"(first in {regime.missing_where[column]}) and the missing-value policy is "
                "'error'; fill them in, or drop those rows with --missing drop "
                "(config: missing = 'drop')"
            )
        if regime.incomplete == regime.rows:
            column, count = regime.missing.most_common(1)[0]
            raise DataError(
                f"regime {source.name!r} ({source.files}) has no complete row: every row "
                f"misses a value (column {column!r} in {count} rows)"
            )
        dropped[source.name] = regime.incomplete
        if regime.incomplete:
            detail = ", ".join(f"{c}: {n}" for c, n in regime.missing.most_common())
            logger.info(
                "regime %r: dropped %d of %d rows with missing values (%s)",
                source.name,
                regime.incomplete,
                regime.rows,
                detail,
            )
    return dropped


#: A regime that loses more than this share of its rows to missing values gets a warning.
DROP_WARNING_SHARE = 0.01

#: What ``result.json`` and the report say about the rows a verdict concerns.
SELECTION_NOTE = (
    "The verdict concerns the rows kept. Rows with a missing value were dropped; when "
    "whether a value is missing depends on the values themselves (a state logged as "
    "'None', a sensor that fails when readings are high), dropping those rows selects a "
    "sub-population, and conditioning on that selection can open or close paths: the "
    "learned class and the verdict then describe the kept rows, not the whole regime."
)


@dataclass(frozen=True)
class DroppedRows:
    """The rows dropped for missing values, per regime, and the warnings they call for.

    Attributes
    ----------
    dropped : dict of str to dict
        Per regime: ``rows_read``, ``rows_dropped``, ``share`` and ``columns``
        (missing values per column that has any, most first).
    warnings : list of str
        One per regime that lost more than :data:`DROP_WARNING_SHARE` of its rows.
    """

    dropped: dict[str, dict[str, Any]]
    warnings: list[str]


def dropped_rows(
    sources: list[Source], stats: dict[str, Stats], dropped: Mapping[str, int]
) -> DroppedRows:
    """Say how many rows each regime lost, and warn when more than 1% of one did."""
    table: dict[str, dict[str, Any]] = {}
    warnings: list[str] = []
    for source in sources:
        regime = stats[source.name]
        lost = int(dropped.get(source.name, 0))
        share = lost / regime.rows if regime.rows else 0.0
        columns = {c: int(n) for c, n in regime.missing.most_common() if n}
        table[source.name] = {
            "rows_read": int(regime.rows),
            "rows_dropped": lost,
            "share": share,
            "columns": columns,
        }
        if share > DROP_WARNING_SHARE:
            named = ", ".join(f"{c!r} ({n:,})" for c, n in list(columns.items())[:5])
            if len(columns) > 5:
                named += f" and {len(columns) - 5} more"
            warnings.append(
                f"regime {source.name!r}: {lost:,} of {regime.rows:,} rows ({share:.1%}) were "
                f"dropped for missing values in {named}; the verdict concerns the rows kept, "
                "a selected sub-population if whether a value is missing depends on the "
                "values. Check that these are missing and not values (in text, only empty "
                "fields and the --na-values tokens are missing), or fill them in"
            )
    return DroppedRows(dropped=table, warnings=warnings)


def decide_kinds(
    sources: list[Source],
    stats: dict[str, Stats],
    columns: tuple[str, ...],
    classes: dict[str, str],
    overrides: Mapping[str, str],
    *,
    keep_constant: bool = False,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Choose every column's final dtype and kind; reject constant columns unless kept."""
    pooled = Stats()
    for source in sources:
        pooled.merge(stats[source.name])
    dtypes: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    for column in columns:
        levels = pooled.levels.get(column, set())
        if levels is not None and len(levels) == 1 and not keep_constant:
            (value,) = levels
            where = "; ".join(f"{s.name!r}: {s.files}" for s in sources)
            raise DataError(
                f"column {column!r} is constant (always {as_text(value)!r}) across every "
                f"regime ({where}); a variable that never varies cannot take part in "
                "discovery: leave it out by selecting the other columns with --columns "
                "(config: columns)"
            )
        override = overrides.get(column)
        klass = classes[column]
        if klass == "string":
            dtypes[column] = pd.CategoricalDtype(sorted(levels or ()))
            kinds[column] = "discrete"
        elif klass == "bool":
            dtypes[column] = np.dtype(np.int64)
            kinds[column] = "discrete"
        elif override == "float":
            dtypes[column] = np.dtype(np.float64)
            kinds[column] = "continuous"
        elif column in pooled.fractions:
            value, where = pooled.fractions[column]
            if override == "int":
                owner = next(s.name for s in sources if where in s.plan.sources)
                why = (
                    "beyond the whole numbers an int64 or float64 holds exactly (2**53)"
                    if float(value).is_integer()
                    else "not a whole number"
                )
                raise DataError(
                    f"regime {owner!r}: column {column!r} of {where} holds {value!r}, which is "
                    f"{why}, but its type override (--dtype, config: dtypes) says 'int'; fix "
                    "the value or use float"
                )
            dtypes[column] = np.dtype(np.float64)
            kinds[column] = "continuous"
        else:
            dtypes[column] = np.dtype(np.int64)
            kinds[column] = "discrete" if levels is not None else "continuous"
    return dtypes, kinds


def _union(left: set[Any] | None, right: set[Any] | None) -> set[Any] | None:
    """Merge two capped sets of distinct values (``None`` = too many to keep)."""
    if left is None or right is None:
        return None
    merged = left | right
    numeric = all(isinstance(v, float) for v in merged)
    return None if numeric and len(merged) > DISCRETE_MAX_LEVELS else merged
