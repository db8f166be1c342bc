"""Load every regime into one pooled, validated dask DataFrame.

:func:`load_regimes` is the connectors' front door. It takes the regimes
(:class:`~mesalens.connectors.regime.RegimeSpec`) and returns
:class:`LoadedData`: a lazy dask DataFrame holding the rows of all regimes,
the regime column first, plus what the analysis needs to know about it.

How it works, in three steps:

1. **Plan** (cheap, no full read). Each regime's files are listed and their
   headers, footers or first rows inspected (:mod:`.files`), or its table or
   query inspected and cut into partitions (:mod:`.sql`). Schemas are then
   reconciled: the same columns in every file of every regime, the regime
   column not already taken, and one type per column -- a column with
   numbers in one regime and text in another is a *type clash*.
2. **Scan** (the one parallel pass). A single ``dask.compute`` reads every
   partition of every regime once and returns, per partition, the row
   count, missing values per column, which rows are incomplete, the distinct
   values of each column (capped for numbers) and whether numbers are whole
   -- and, from the same decoded rows, the summary that discovery and the
   report need (:class:`DataProfile`): the complete rows' moments and
   discrete cell counts (:mod:`.moments`), each numeric column's range, a
   uniform sample per regime for histograms and, when asked for
   (``sample_rows``), a seeded uniform sample of all regimes for the direct
   test. Numeric Parquet columns come straight from Arrow
   (:meth:`.files.FilePart.read_numbers`), other sources through pandas.
   The column kinds are not
   known yet, so a whole-number column that may still be discrete is
   summarised both as values and as level indicators (a few small columns);
   what is not needed is dropped later. Values that do not parse (``"abc"``
   in a numeric column) fail the pass with a message naming regime, file
   and column; nothing has been written by then.
3. **Decide and build.** From the statistics: empty regimes, all-missing and
   constant columns are rejected; the missing-value policy is applied
   (``"drop"`` complete-case rows, reported with counts, or ``"error"``);
   each column gets its final dtype and its *kind*; and the pooled frame is
   built, on first use of :attr:`LoadedData.frame`, with
   ``dask.dataframe.from_map`` over the same partitions. Nothing
   is held in memory: computing the frame reads the sources again, out of
   core and in parallel -- but ``mesalens run`` does not need to, since
   :func:`mesalens.pipeline.statistics.compute_statistics` takes the
   profile as ``precomputed=`` and the report's distributions come from it.

Dtypes and kinds
----------------
Every column of the frame is numeric or categorical:

=============================== ============ ===================================
source values                   dtype        kind
=============================== ============ ===================================
regime                          ``int64``    discrete (codes ``0..k-1``, labels
                                             in :attr:`LoadedData.regime_labels`)
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

import functools
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

import dask
import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from mesalens.connectors.dask_scheduler import compute_scheduler
from mesalens.connectors.errors import DataError, InputError
from mesalens.connectors.files import FilePart, FilePlan, SourceSchema, plan_files
from mesalens.connectors.moments import (
    VALUE,
    Moments,
    blas_single_thread,
    cell_counts,
    merge_moments,
    moments_of,
)
from mesalens.connectors.regime import DEFAULT_REGIME_NAME, RegimeSpec, check_regimes
from mesalens.connectors.sampling import (
    Sample,
    bottom_k,
    concatenate,
    key_order,
    merge_samples,
    partition_keys,
)
from mesalens.connectors.sql import SqlPlan, is_sql_location, plan_sql

if TYPE_CHECKING:
    import dask.dataframe as dd

__all__ = [
    "DISCRETE_MAX_LEVELS",
    "DTYPE_OVERRIDES",
    "INDICATOR_CAP",
    "MISSING_POLICIES",
    "SAMPLE_SIZE",
    "DataProfile",
    "LoadedData",
    "RegimeSummary",
    "load_regimes",
]

logger = logging.getLogger(__name__)

#: A whole-number column with at most this many distinct values is discrete.
DISCRETE_MAX_LEVELS = 20

#: Text columns get indicator columns in the loader's summary up to this many
#: levels per partition (discovery refuses more than 100 anyway).
INDICATOR_CAP = 100

#: Rows per regime in the uniform sample the report's histograms are drawn from.
SAMPLE_SIZE = 25_000

# Whole-number and fraction checks look at this many rows first.
_PREFIX = 4096
# Merge this many partition results per task, in at most this many trees per
# regime (one dask.compute returns their roots).
_SPLIT_EVERY = 8
_ROOTS_PER_REGIME = 4

#: What ``missing=`` accepts: drop incomplete rows (reported), or refuse them.
MISSING_POLICIES = ("drop", "error")

#: What ``dtypes={...}`` accepts per column.
DTYPE_OVERRIDES = ("float", "int", "category", "bool")

# Reading classes: how values are converted while reading, before the final
# dtype is known. "number" and "bool" become float64 (NaN = missing),
# "string" becomes Python str objects.
_OVERRIDE_CLASS = {"float": "number", "int": "number", "bool": "bool", "category": "string"}
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})
_SHOWN_FILES = 3


class _Part(Protocol):
    """What the loader needs from a file or SQL partition."""

    where: str
    regime: str

    def read(
        self, columns: Sequence[str], text_columns: frozenset[str], strict: bool
    ) -> pd.DataFrame:
        """Return the partition's rows of ``columns``, values as stored."""
        ...


@dataclass(frozen=True)
class RegimeSummary:
    """What was read for one regime, for reports.

    Attributes
    ----------
    name : str
        The regime's label.
    code : int
        Its value in the regime column.
    format : str
        ``csv``, ``tsv``, ``parquet``, ``jsonl`` or ``sql`` (``+``-joined if mixed).
    sources : tuple of str
        Files or database URLs read, credentials hidden.
    rows_read : int
        Rows in the sources.
    rows_dropped : int
        Rows dropped because a value was missing (policy ``"drop"``).
    missing : dict of str to int
        Missing values per analysis column, before dropping.
    dtypes : dict of str to str
        Each column's dtype in the pooled frame.
    """

    name: str
    code: int
    format: str
    sources: tuple[str, ...]
    rows_read: int
    rows_dropped: int
    missing: dict[str, int]
    dtypes: dict[str, str]

    @property
    def rows_kept(self) -> int:
        """Rows that remain in the pooled frame."""
        return self.rows_read - self.rows_dropped

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        return {
            "name": self.name,
            "code": self.code,
            "format": self.format,
            "sources": list(self.sources),
            "rows_read": self.rows_read,
            "rows_dropped": self.rows_dropped,
            "rows_kept": self.rows_kept,
            "missing": dict(self.missing),
            "dtypes": dict(self.dtypes),
        }


@dataclass(frozen=True, eq=False)
class LoadedData:
    """All regimes pooled into one lazy dask DataFrame, plus what to know about it.

    Attributes
    ----------
    build_frame : callable
        Returns the pooled dask DataFrame (:attr:`frame`): one row per
        complete source row; columns ``columns`` with the regime column first
        as ``int64`` codes. Lazy: computing it reads the sources.
    regime_name : str
        The regime column's name.
    regime_labels : tuple of str
        Regime names; code ``i`` in the regime column means ``regime_labels[i]``.
    columns : tuple of str
        The analysis columns, the regime column first.
    kinds : dict of str to str
        ``"continuous"`` or ``"discrete"`` for every column (see module docs).
    summary : dict of str to RegimeSummary
        Per regime, in the order given.
    fingerprints : tuple of dict
        Per source: ``regime``, ``source`` (credentials hidden) and ``size``,
        ``mtime``, ``sha256`` for files or ``table``/``query`` for SQL; enough
        to tell later whether the data changed.
    missing : str
        The missing-value policy applied.
    profile : DataProfile or None
        Moments, ranges and a sample of the kept rows from the pass that
        validated them (``None`` when built otherwise).
    """

    build_frame: Callable[[], dd.DataFrame]
    regime_name: str
    regime_labels: tuple[str, ...]
    columns: tuple[str, ...]
    kinds: dict[str, str]
    summary: dict[str, RegimeSummary]
    fingerprints: tuple[dict[str, Any], ...]
    missing: str = "drop"
    profile: DataProfile | None = field(default=None, repr=False)

    @functools.cached_property
    def frame(self) -> dd.DataFrame:
        """The pooled frame, built by ``build_frame`` on first use.

        Built lazily because only what reads the data again needs it (the
        bootstrap, a statistics or sample fallback); importing
        ``dask.dataframe`` alone costs a run about 0.7 s.
        """
        return self.build_frame()

    @property
    def variables(self) -> tuple[str, ...]:
        """The analysis columns without the regime column."""
        return self.columns[1:]


@dataclass(frozen=True, eq=False)
class _Source:
    """One regime's plan."""

    spec: RegimeSpec
    code: int
    plan: FilePlan | SqlPlan
    format: str

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def files(self) -> str:
        return _files_text(self.plan.sources)


@dataclass
class _Stats:
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

    def merge(self, other: _Stats) -> None:
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


@dataclass(frozen=True, eq=False)
class _FramePlan:
    """What every partition of the pooled frame needs to build itself."""

    regime_name: str
    columns: tuple[str, ...]
    classes: dict[str, str]
    dtypes: dict[str, Any]
    strict: bool


@dataclass(frozen=True)
class _Sampling:
    """How the pass samples rows: keys seeded by ``(seed, partition)``, ``size`` kept per regime.

    ``pooled``: whether a pooled sample of every column was asked for; without
    one, only the numeric columns the histograms need are kept.
    """

    seed: int
    size: int
    pooled: bool


@dataclass
class _PartResult:
    """What the single pass returns for a partition, or for a regime once merged."""

    stats: _Stats
    moments: Moments | None = None
    sample: Sample | None = None
    # Over complete rows, numeric columns only.
    low: dict[str, float] = field(default_factory=dict)
    high: dict[str, float] = field(default_factory=dict)
    # The most levels a column had in one partition (text and whole-number
    # columns that may be discrete).
    partition_levels: dict[str, int] = field(default_factory=dict)
    nonfinite: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class DataProfile:
    """What the loader's single pass learnt about the kept rows besides validation.

    Everything here comes from the same read that validated the data, so
    that neither the statistics for discovery nor the report's per-regime
    distributions need to read the data again.

    Attributes
    ----------
    moments : Moments or None
        Count, means, centred cross-products and discrete cells of all kept
        rows, labelled as in :mod:`mesalens.connectors.moments`: every
        numeric column's values, and an indicator per level of every column
        that may be discrete. Pass the profile as ``precomputed=`` to
        :func:`mesalens.pipeline.statistics.compute_statistics`.
    regimes : tuple of Moments
        The same per regime, by code.
    partition_levels : dict of str to int
        The most levels a text or whole-number column had in one partition.
    indicator_cap : int
        Text columns with more levels than this in a partition got no
        indicators (the statistics then read the frame themselves).
    low, high : dict of str to float
        Each numeric column's minimum and maximum over the kept rows.
    samples : tuple of dict of str to ndarray
        Per regime, the numeric columns' values on a uniform sample of at
        most :data:`SAMPLE_SIZE` kept rows (all rows when there are fewer):
        the report's histograms are drawn from it.
    dtypes : dict of str to dtype
        The pooled frame's columns and dtypes, the regime column first (its
        schema, known without building it).
    pooled_sample : pandas.DataFrame or None
        A uniform sample without replacement of at most ``sample_rows`` kept
        rows of all regimes (all rows when there are fewer), columns and
        dtypes as in the frame; ``None`` unless ``sample_rows`` was asked for.
        Bottom-k (:mod:`mesalens.connectors.sampling`): every row's key comes
        from a generator seeded by ``(seed, partition)`` and the rows with the
        smallest keys are kept, in key order -- the same rows as drawing the
        sample from the frame with the same seed
        (:func:`mesalens.pipeline.direct_test.direct_test` relies on it).
    sample_seed : int
        The seed of the samples' keys.
    """

    moments: Moments | None
    regimes: tuple[Moments, ...]
    partition_levels: dict[str, int]
    indicator_cap: int
    low: dict[str, float]
    high: dict[str, float]
    samples: tuple[dict[str, np.ndarray], ...]
    dtypes: dict[str, Any] = field(default_factory=dict)
    pooled_sample: pd.DataFrame | None = field(default=None, repr=False)
    sample_seed: int = 0


def load_regimes(
    specs: Sequence[RegimeSpec],
    *,
    regime_name: str = DEFAULT_REGIME_NAME,
    columns: Sequence[str] | None = None,
    dtypes: Mapping[str, str] | None = None,
    missing: str = "drop",
    sample_rows: int = 0,
    seed: int = 0,
) -> LoadedData:
    """Read, check and pool the data of every regime.

    Parameters
    ----------
    specs : sequence of RegimeSpec
        The regimes, in the order that fixes their codes ``0..k-1``. One
        regime is enough to read; the analysis itself needs two
        (:func:`~mesalens.connectors.regime.check_regimes`).
    regime_name : str, default "regime"
        The name of the added regime column; it must not be a data column.
    columns : sequence of str, optional
        The columns to analyse, in this order; other columns are not read.
        By default every column, and then every regime must have the same ones.
    dtypes : mapping of str to str, optional
        Per-column overrides: ``"float"``, ``"int"``, ``"category"`` or ``"bool"``.
    missing : {"drop", "error"}, default "drop"
        ``"drop"`` removes rows with any missing value (counts are in the
        summary and the log); ``"error"`` refuses data with missing values.
    sample_rows : int, default 0
        Also keep a uniform sample of this many kept rows of all regimes
        (:attr:`DataProfile.pooled_sample`), drawn in the same pass; 0 for none.
    seed : int, default 0
        Seeds the samples' keys (the report's histograms and ``sample_rows``).

    Returns
    -------
    LoadedData
        The pooled lazy frame with regime codes, labels, kinds, summary and
        fingerprints.

    Raises
    ------
    InputError
        If an option is malformed (unknown policy or override, duplicate regime).
    DataError
        If a source is unreadable or the regimes are inconsistent; the
        one-line message names the regime, the file and the column.
    """
    specs = list(specs)
    check_regimes(specs, minimum=1)
    selected, overrides = _check_options(regime_name, columns, dtypes, missing, sample_rows)

    sources = [_plan(spec, code) for code, spec in enumerate(specs)]
    analysis = _analysis_columns(sources, selected, regime_name)
    unknown = [c for c in overrides if c not in analysis]
    if unknown:
        raise DataError(
            f"a type override (--dtype, config: dtypes) names column {unknown[0]!r}, which "
            f"is not among the columns ({', '.join(analysis)})"
        )
    classes = _column_classes(sources, analysis, overrides)
    strict = selected is None

    sampling = _Sampling(seed=seed, size=max(SAMPLE_SIZE, sample_rows), pooled=sample_rows > 0)
    scanned = _scan(sources, analysis, classes, strict, regime_name, sampling)
    stats = {name: result.stats for name, result in scanned.items()}
    rows_dropped = _check_rows(sources, stats, analysis, missing)
    final_dtypes, kinds = _decide(sources, stats, analysis, classes, overrides)

    plan = _FramePlan(
        regime_name=regime_name,
        columns=analysis,
        classes=classes,
        dtypes=final_dtypes,
        strict=strict,
    )
    codes = [source.code for source in sources for _ in source.plan.parts]
    parts = [part for source in sources for part in source.plan.parts]
    dtype_names = {regime_name: "int64", **{c: str(final_dtypes[c]) for c in analysis}}
    summary = {
        source.name: RegimeSummary(
            name=source.name,
            code=source.code,
            format=source.format,
            sources=tuple(source.plan.sources),
            rows_read=stats[source.name].rows,
            rows_dropped=rows_dropped[source.name],
            missing={c: int(stats[source.name].missing.get(c, 0)) for c in analysis},
            dtypes=dict(dtype_names),
        )
        for source in sources
    }
    fingerprints = tuple(
        {"regime": source.name, **fingerprint}
        for source in sources
        for fingerprint in source.plan.fingerprints
    )
    logger.info(
        "loaded %d regime(s), %d column(s), %d partition(s)",
        len(sources),
        len(analysis),
        len(parts),
    )
    return LoadedData(
        profile=_profile(sources, scanned, plan, sampling, sample_rows),
        build_frame=functools.partial(_pooled_frame, codes, parts, plan),
        regime_name=regime_name,
        regime_labels=tuple(source.name for source in sources),
        columns=(regime_name, *analysis),
        kinds={regime_name: "discrete", **kinds},
        summary=summary,
        fingerprints=fingerprints,
        missing=missing,
    )


# --------------------------------------------------------------------------- options


def _check_options(
    regime_name: str,
    columns: Sequence[str] | None,
    dtypes: Mapping[str, str] | None,
    missing: str,
    sample_rows: int,
) -> tuple[tuple[str, ...] | None, dict[str, str]]:
    """Validate the keyword options; return the column selection and overrides."""
    if not isinstance(regime_name, str) or not regime_name.strip():
        raise InputError(f"regime_name must be a non-empty string, not {regime_name!r}")
    if isinstance(sample_rows, bool) or not isinstance(sample_rows, int) or sample_rows < 0:
        raise InputError(
            f"sample_rows must be a whole number >= 0, got {sample_rows!r}; "
            "pass 0 for no pooled sample"
        )
    if missing not in MISSING_POLICIES:
        raise InputError(
            f"unknown missing-value policy {missing!r}; use one of {', '.join(MISSING_POLICIES)}"
        )
    selected: tuple[str, ...] | None = None
    if columns is not None:
        if isinstance(columns, str):
            raise InputError(f"columns must be a list of names, not the string {columns!r}")
        selected = tuple(columns)
        if not selected:
            raise InputError(
                "the column selection (--columns, config: columns) is empty and selects "
                "nothing; name at least one column"
            )
        twice = [c for c, n in Counter(selected).items() if n > 1]
        if twice:
            raise InputError(
                f"the column selection (--columns, config: columns) lists {twice[0]!r} twice"
            )
        if regime_name in selected:
            raise InputError(
                f"the column selection (--columns, config: columns) lists {regime_name!r}, "
                "the name of the regime column that mesalens adds; leave it out, or name the "
                "regime column differently with --regime-name (config: regime_name)"
            )
    overrides = dict(dtypes or {})
    for column, kind in overrides.items():
        if kind not in DTYPE_OVERRIDES:
            raise InputError(
                f"type override for column {column!r} (--dtype, config: dtypes): {kind!r} is "
                f"not a type; use one of {', '.join(DTYPE_OVERRIDES)}"
            )
        if column == regime_name:
            raise InputError(
                "a type override (--dtype, config: dtypes) cannot change the regime column "
                f"{regime_name!r}; leave it out"
            )
    return selected, overrides


# --------------------------------------------------------------------------- planning


def _plan(spec: RegimeSpec, code: int) -> _Source:
    """List or inspect one regime's sources."""
    logger.info("regime %r: inspecting %s", spec.name, spec.display)
    if spec.format == "sql" or (spec.format is None and is_sql_location(spec.location)):
        plan: FilePlan | SqlPlan = plan_sql(spec.location, regime=spec.name)
        fmt = "sql"
    else:
        plan = plan_files(spec.location, spec.format, regime=spec.name)
        fmt = "+".join(sorted({part.format for part in plan.parts}))
    return _Source(spec=spec, code=code, plan=plan, format=fmt)


def _analysis_columns(
    sources: list[_Source], selected: tuple[str, ...] | None, regime_name: str
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


def _column_classes(
    sources: list[_Source], columns: tuple[str, ...], overrides: Mapping[str, str]
) -> dict[str, str]:
    """Give every column one reading class, or report a type clash."""
    classes: dict[str, str] = {}
    for column in columns:
        if column in overrides:
            classes[column] = _OVERRIDE_CLASS[overrides[column]]
            continue
        seen: list[tuple[_Source, SourceSchema, str]] = []
        for source in sources:
            for schema in source.plan.schemas:
                kind = schema.kinds.get(column) or _sample_kind(schema.sample[column])
                if kind.startswith("unsupported:"):
                    raise DataError(
                        f"column {column!r} in {schema.where} (regime {source.name!r}) holds "
                        f"{kind.partition(':')[2]} values, which mesalens cannot use; leave it "
                        "out by selecting the other columns with --columns (config: columns), "
                        f"or read it as numbers with --dtype {column}=float (config: dtypes)"
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
        return f"unsupported:{type(odd).__name__}"
    if not strings:
        return "bool" if flags and not numbers else "number"
    # Text that is mostly numbers is a numeric column with a few bad values:
    # call it numeric, so that the bad values are reported rather than the
    # whole column silently becoming a category.
    parsed = pd.to_numeric(pd.Series(strings, dtype=object), errors="coerce").notna().sum()
    return "number" if len(numbers) + parsed > len(values) / 2 else "string"


# --------------------------------------------------------------------------- reading


def _read_part(
    part: _Part, columns: Sequence[str], classes: Mapping[str, str], strict: bool
) -> pd.DataFrame:
    """Read one partition and convert every column to its reading class."""
    text_columns = frozenset(c for c in columns if classes[c] == "string")
    raw = part.read(columns, text_columns, strict)
    converted = {c: _convert(raw[c], classes[c], c, part) for c in columns}
    return pd.DataFrame(converted, index=pd.RangeIndex(len(raw)))


def _convert(series: pd.Series, klass: str, column: str, part: _Part) -> pd.Series:
    """Convert one column: numbers and flags to float64 (NaN = missing), text to str."""
    series = series.reset_index(drop=True)
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    if klass == "string":
        if ptypes.is_string_dtype(series.dtype) and not ptypes.is_object_dtype(series.dtype):
            return series.astype(object)  # already text: skip the per-value conversion
        return series.map(_as_text, na_action="ignore").astype(object)
    if klass == "bool":
        return _as_flags(series, column, part)
    if ptypes.is_bool_dtype(series.dtype) or ptypes.is_numeric_dtype(series.dtype):
        return series.astype("float64")
    values = series
    if ptypes.is_object_dtype(series.dtype):
        # Only an object column can mix Python bools in; to_numeric would refuse them.
        values = series.map(
            lambda v: float(v) if isinstance(v, bool | np.bool_) else v, na_action="ignore"
        )
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    bad = series.notna() & numbers.isna()
    if bad.any():
        value = series[bad].iloc[0]
        raise DataError(
            f"regime {part.regime!r}: column {column!r} of {part.where} is numeric but "
            f"holds {value!r}, which is not a number; fix the value, or treat the column "
            f"as a category with --dtype {column}=category (config: dtypes)"
        )
    return numbers


def _as_text(value: Any) -> str:
    """Spell a value as category text; whole floats lose their ``.0``."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _as_flags(series: pd.Series, column: str, part: _Part) -> pd.Series:
    """Convert flags (``true``/``yes``/``1``/... and their opposites) to 1.0 and 0.0."""

    def flag(value: Any) -> float:
        if isinstance(value, bool | np.bool_):
            return float(value)
        if isinstance(value, int | float | np.number) and value in (0, 1):
            return float(value)
        text = str(value).strip().lower()
        if text in _TRUE:
            return 1.0
        if text in _FALSE:
            return 0.0
        raise DataError(
            f"regime {part.regime!r}: column {column!r} of {part.where} holds {value!r}, "
            "which is not a flag (true/false, yes/no, 1/0)"
        )

    return series.map(flag, na_action="ignore").astype("float64")


def _part_pass(
    part: _Part,
    index: int,
    code: int,
    regime_name: str,
    columns: tuple[str, ...],
    classes: dict[str, str],
    strict: bool,
    sampling: _Sampling,
) -> _PartResult:
    """Read one partition once: what the validation needs, and its summary.

    The summary is taken before the columns' kinds are known, so it covers
    every way a column may end up: the values of every numeric column, and
    also indicators (and cell counts) for a whole-number column with at most
    :data:`DISCRETE_MAX_LEVELS` values here, which may still turn out
    discrete; what is not needed is dropped after the pass.
    """
    arrays: dict[str, np.ndarray] | None = None
    if isinstance(part, FilePart) and all(classes[c] != "string" for c in columns):
        arrays = part.read_numbers(columns, frozenset(c for c in columns if classes[c] == "bool"))
    if arrays is None:
        raw = part.read(columns, frozenset(c for c in columns if classes[c] == "string"), strict)
        arrays = {c: _convert(raw[c], classes[c], c, part).to_numpy() for c in columns}
        del raw
    stats = _Stats(rows=len(next(iter(arrays.values()))) if arrays else 0)
    incomplete = np.zeros(stats.rows, dtype=bool)
    finite: set[str] = set()  # float columns without NaN or infinity
    for column, array in arrays.items():
        if array.dtype.kind == "f":
            with np.errstate(invalid="ignore", over="ignore"):
                if np.isfinite(np.add.reduce(array)):
                    # A finite sum: no NaN and no infinity here, without a
                    # pass of isnan (or, later, of isinf).
                    finite.add(column)
                    continue
            absent = np.isnan(array)
        else:
            absent = pd.isna(array)
        count = int(absent.sum())
        if count:
            stats.missing[column] = count
            stats.missing_where[column] = part.where
            incomplete |= absent
    stats.incomplete = int(incomplete.sum())
    if stats.incomplete:
        arrays = {c: a[~incomplete] for c, a in arrays.items()}
    rows = stats.rows - stats.incomplete

    result = _PartResult(stats=stats)
    labels: list[tuple[str, Any]] = [(regime_name, code)]
    blocks: list[np.ndarray] = [np.ones(rows)]
    cell_codes: list[np.ndarray | None] = [np.zeros(rows, dtype=np.int64)]
    cell_levels: list[list[Any]] = [[code]]
    with np.errstate(invalid="ignore"):
        for column in columns:
            codes, levels = _summarise_column(
                column, arrays[column], classes[column], part, result, column in finite
            )
            if codes is not None:
                labels.extend((column, level) for level in levels)
                blocks.extend(codes == k for k in range(len(levels)))
            if classes[column] != "string":
                labels.append((column, VALUE))
                blocks.append(arrays[column])
            cell_codes.append(codes)
            cell_levels.append(levels)
    cells = cell_counts(cell_codes, cell_levels) if rows else {}
    result.moments = moments_of(
        rows, labels, blocks, cells, (regime_name, *columns), nonfinite=result.nonfinite
    )
    keys = partition_keys(sampling.seed, index, rows)
    numeric = {c: arrays[c] for c in columns if classes[c] != "string"}
    kept = arrays if sampling.pooled else numeric
    result.sample = bottom_k(keys, kept, sampling.size)
    return result


def _summarise_column(
    column: str, array: np.ndarray, klass: str, part: _Part, result: _PartResult, finite: bool
) -> tuple[np.ndarray | None, list[Any]]:
    """Record one column's validation facts; return its level codes if it may be discrete.

    ``finite`` says the column is already known to hold no infinity.
    """
    stats = result.stats
    if klass == "string":
        codes, uniques = pd.factorize(array)
        stats.levels[column] = set(uniques.tolist())
        result.partition_levels[column] = len(uniques)
        if len(uniques) > INDICATOR_CAP:
            return None, []  # discovery refuses it anyway (statistics' max_levels)
        return codes, list(uniques.tolist())
    if not len(array):
        stats.levels[column] = set()
        return None, []
    low, high = float(array.min()), float(array.max())
    result.low[column], result.high[column] = low, high
    # A value with a fraction makes the column continuous: look at a prefix
    # first, which settles a float column without touching the rest. (np.mod
    # of an infinity is NaN, which counts as a fraction, as before.)
    head = array[:_PREFIX]
    fractional = head[np.mod(head, 1) != 0]
    if not len(fractional) and len(array) > _PREFIX:
        fractional = array[np.mod(array, 1) != 0]
    if len(fractional):
        stats.fractions[column] = (float(fractional[0]), part.where)
        infinite = 0 if finite else int(np.isinf(array).sum())
        if infinite:
            result.nonfinite[column] = infinite
        # The level set of a continuous column only answers "constant?".
        stats.levels[column] = {low} if low == high else None
        return None, []
    if len(pd.unique(array[:_PREFIX])) > DISCRETE_MAX_LEVELS:
        stats.levels[column] = None
        return None, []
    codes, uniques = pd.factorize(array)
    if len(uniques) > DISCRETE_MAX_LEVELS:
        stats.levels[column] = None
        return None, []
    stats.levels[column] = set(uniques.tolist())
    result.partition_levels[column] = len(uniques)
    # Whole numbers: the pooled frame holds them as int64, so are their levels.
    return codes, [int(u) for u in uniques.tolist()]


def _merge_results(size: int, *results: _PartResult) -> _PartResult:
    """Merge the results of partitions of one regime (samples kept to ``size`` rows)."""
    merged = _PartResult(stats=_Stats())
    for result in results:
        merged.stats.merge(result.stats)
        for column, low in result.low.items():
            merged.low[column] = min(low, merged.low.get(column, low))
        for column, high in result.high.items():
            merged.high[column] = max(high, merged.high.get(column, high))
        for column, count in result.partition_levels.items():
            merged.partition_levels[column] = max(count, merged.partition_levels.get(column, 0))
    moments = [r.moments for r in results if r.moments is not None]
    merged.moments = merge_moments(*moments) if moments else None
    # Two at a time: a merge then holds two samples of `size` rows, not eight.
    for result in results:
        if result.sample is not None:
            merged.sample = (
                result.sample
                if merged.sample is None
                else merge_samples([merged.sample, result.sample], size)
            )
    return merged


def _scan(
    sources: list[_Source],
    columns: tuple[str, ...],
    classes: dict[str, str],
    strict: bool,
    regime_name: str,
    sampling: _Sampling,
) -> dict[str, _PartResult]:
    """Read every partition of every regime once: validation facts and summaries.

    One ``dask.compute`` call: a task per partition, then per regime a few
    trees of merges (their roots come back; the last merges run here, so
    what reaches this process stays small however many partitions there are).
    """
    run = dask.delayed(_part_pass, pure=True)
    merge = dask.delayed(_merge_results, pure=True)
    roots: list[Any] = []
    owners: list[str] = []
    index = 0
    for source in sources:
        tasks = []
        for part in source.plan.parts:
            tasks.append(
                run(part, index, source.code, regime_name, columns, classes, strict, sampling)
            )
            index += 1
        step = -(-len(tasks) // _ROOTS_PER_REGIME)
        for start in range(0, len(tasks), step):
            layer = tasks[start : start + step]
            while len(layer) > 1:
                layer = [
                    merge(sampling.size, *layer[i : i + _SPLIT_EVERY])
                    for i in range(0, len(layer), _SPLIT_EVERY)
                ]
            roots.extend(layer)
            owners.extend(source.name for _ in layer)
    logger.info("reading %d partition(s) of %d regime(s) in one pass", index, len(sources))
    with blas_single_thread():
        results = dask.compute(*roots, scheduler=compute_scheduler())
    grouped: dict[str, list[_PartResult]] = {source.name: [] for source in sources}
    for owner, result in zip(owners, results, strict=True):
        grouped[owner].append(result)
    return {
        name: _merge_results(sampling.size, *parts) if parts else _PartResult(stats=_Stats())
        for name, parts in grouped.items()
    }


def _pooled_frame(codes: list[int], parts: list[_Part], plan: _FramePlan) -> dd.DataFrame:
    """The lazy pooled frame: one partition per part, read again when computed."""
    import dask.dataframe as dd  # only for what reads the frame again (~0.7 s to import)

    meta = pd.DataFrame(
        {
            plan.regime_name: pd.Series([], dtype=np.int64),
            **{c: pd.Series([], dtype=plan.dtypes[c]) for c in plan.columns},
        }
    )
    return dd.from_map(
        _read_final,
        codes,
        parts,
        args=(plan,),
        meta=meta,
        label="mesalens-read",
        enforce_metadata=False,
    )


def _read_final(code: int, part: _Part, plan: _FramePlan) -> pd.DataFrame:
    """Build one partition of the pooled frame: complete rows, final dtypes."""
    frame = _read_part(part, plan.columns, plan.classes, plan.strict).dropna()
    frame = frame.reset_index(drop=True)
    data: dict[str, Any] = {plan.regime_name: np.full(len(frame), code, dtype=np.int64)}
    data.update({c: frame[c].astype(plan.dtypes[c]) for c in plan.columns})
    return pd.DataFrame(data, index=pd.RangeIndex(len(frame)))


def _profile(
    sources: list[_Source],
    scanned: dict[str, _PartResult],
    plan: _FramePlan,
    sampling: _Sampling,
    sample_rows: int,
) -> DataProfile:
    """Gather the pass's summaries (built once the data passed every check)."""
    results = [scanned[source.name] for source in sources]
    numeric = [c for c in plan.columns if plan.classes[c] != "string"]
    histogram_samples = []
    for result in results:
        if result.sample is None:
            histogram_samples.append({})
            continue
        values = {c: result.sample.values[c] for c in numeric}
        histogram_samples.append(bottom_k(result.sample.keys, values, SAMPLE_SIZE).values)
    regimes = tuple(r.moments for r in results if r.moments is not None)
    partition_levels: dict[str, int] = {}
    low: dict[str, float] = {}
    high: dict[str, float] = {}
    for result in results:
        for column, count in result.partition_levels.items():
            partition_levels[column] = max(count, partition_levels.get(column, 0))
        for column, value in result.low.items():
            low[column] = min(value, low.get(column, value))
        for column, value in result.high.items():
            high[column] = max(value, high.get(column, value))
    return DataProfile(
        moments=merge_moments(*regimes) if len(regimes) == len(results) else None,
        regimes=regimes,
        partition_levels=partition_levels,
        indicator_cap=INDICATOR_CAP,
        low=low,
        high=high,
        samples=tuple(histogram_samples),
        dtypes={plan.regime_name: np.dtype(np.int64), **plan.dtypes},
        pooled_sample=_pooled_sample(sources, results, plan, sample_rows) if sample_rows else None,
        sample_seed=sampling.seed,
    )


def _pooled_sample(
    sources: list[_Source], results: list[_PartResult], plan: _FramePlan, size: int
) -> pd.DataFrame:
    """The bottom-``size`` rows of all regimes, in key order, as the frame holds them.

    Each regime's sample holds its rows with the smallest keys, at least
    ``size`` of them, so the union holds the pooled bottom-``size`` rows.
    """
    regimes = [(s.code, r.sample) for s, r in zip(sources, results, strict=True) if r.sample]
    pooled = concatenate([sample for _, sample in regimes])
    codes = np.concatenate([np.full(len(sample.keys), code) for code, sample in regimes])
    keep = key_order(pooled.keys, size)
    data: dict[str, Any] = {plan.regime_name: codes[keep].astype(np.int64)}
    for column in plan.columns:
        data[column] = pd.Series(pooled.values[column][keep]).astype(plan.dtypes[column])
    return pd.DataFrame(data)


# --------------------------------------------------------------------------- deciding


def _check_rows(
    sources: list[_Source], stats: dict[str, _Stats], columns: tuple[str, ...], missing: str
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


def _decide(
    sources: list[_Source],
    stats: dict[str, _Stats],
    columns: tuple[str, ...],
    classes: dict[str, str],
    overrides: Mapping[str, str],
) -> tuple[dict[str, Any], dict[str, str]]:
    """Choose every column's final dtype and kind; reject constant columns."""
    pooled = _Stats()
    for source in sources:
        pooled.merge(stats[source.name])
    dtypes: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    for column in columns:
        levels = pooled.levels.get(column, set())
        if levels is not None and len(levels) == 1:
            (value,) = levels
            where = "; ".join(f"{s.name!r}: {s.files}" for s in sources)
            raise DataError(
                f"column {column!r} is constant (always {_as_text(value)!r}) across every "
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
                raise DataError(
                    f"regime {owner!r}: column {column!r} of {where} holds {value!r}, which is "
                    "not a whole number, but its type override (--dtype, config: dtypes) "
                    "says 'int'; fix the value or use float"
                )
            dtypes[column] = np.dtype(np.float64)
            kinds[column] = "continuous"
        else:
            dtypes[column] = np.dtype(np.int64)
            kinds[column] = "discrete" if levels is not None else "continuous"
    return dtypes, kinds


# --------------------------------------------------------------------------- helpers


def _union(left: set[Any] | None, right: set[Any] | None) -> set[Any] | None:
    """Merge two capped sets of distinct values (``None`` = too many to keep)."""
    if left is None or right is None:
        return None
    merged = left | right
    numeric = all(isinstance(v, float) for v in merged)
    return None if numeric and len(merged) > DISCRETE_MAX_LEVELS else merged


def _files_text(files: Sequence[str]) -> str:
    """Name up to a few files on one line."""
    shown = ", ".join(files[:_SHOWN_FILES])
    if len(files) > _SHOWN_FILES:
        shown += f" and {len(files) - _SHOWN_FILES} more"
    return shown


def _more(items: Sequence[str]) -> str:
    """Say how many more differences there are, if any."""
    return f" (and {len(items) - 1} more)" if len(items) > 1 else ""
