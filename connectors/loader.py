"""Load every regime into one pooled, validated dask DataFrame.

:func:`load_regimes` is the connectors' front door. It takes the regimes
(:class:`~mesalens.connectors.regime.RegimeSpec`) and returns
:class:`~mesalens.connectors.loaded.LoadedData`: a lazy dask DataFrame
holding the rows of all regimes, the regime column first, plus what the
analysis needs to know about it. This module runs the steps; each step's
work lives in its own module.

How it works, in three steps:

1. **Plan** (cheap, no full read). Each regime's files are listed and their
   headers, footers or first rows inspected (:mod:`.files`), or its table or
   query inspected and cut into partitions (:mod:`.sql`). Schemas are then
   reconciled (:mod:`.planning`): the same columns in every file of every
   regime, the regime column not already taken, and one type per column
   (:mod:`.kinds`) -- a column with numbers in one regime and text in
   another is a *type clash*.
2. **Scan** (the one parallel pass, :mod:`.single_pass`). A single
   ``dask.compute`` reads every partition of every regime once and returns,
   per partition, the row count, missing values per column, which rows are
   incomplete, the distinct values of each column (capped for numbers) and
   whether numbers are whole -- and, from the same decoded rows, the summary
   that discovery and the report need
   (:class:`~mesalens.connectors.loaded.DataProfile`): the complete rows'
   moments and discrete cell counts (:mod:`.moments`), each numeric
   column's range, a uniform sample per regime for histograms and, when
   asked for (``sample_rows``), a seeded uniform sample of all regimes for
   the direct test (:mod:`.sampling`). Numeric Parquet columns come straight
   from Arrow (:meth:`.file_parts.FilePart.read_numbers`), other sources through
   pandas. The column kinds are not
   known yet, so a whole-number column that may still be discrete is
   summarised both as values and as level indicators (a few small columns);
   what is not needed is dropped later. Values that do not parse (``"abc"``
   in a numeric column) fail the pass with a message naming regime, file
   and column (:mod:`.reading`); nothing has been written by then.
3. **Decide and build.** From the statistics: empty regimes, all-missing and
   constant columns are rejected; the missing-value policy is applied
   (``"drop"`` complete-case rows, reported with counts, or ``"error"``);
   each column gets its final dtype and its *kind* (:mod:`.kinds`, which
   tabulates them); and the pooled frame is built, on first use of
   :attr:`LoadedData.frame <mesalens.connectors.loaded.LoadedData.frame>`,
   with ``dask.dataframe.from_map`` over the same partitions. Nothing
   is held in memory: computing the frame reads the sources again, out of
   core and in parallel -- but ``mesalens run`` does not need to, since
   :func:`mesalens.pipeline.statistics.compute_statistics` takes the
   profile as ``precomputed=`` and the report's distributions come from it.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mesalens.connectors.distinct import check_distinct_regimes
from mesalens.connectors.errors import DataError, InputError
from mesalens.connectors.kinds import (
    DTYPE_OVERRIDES,
    MISSING_POLICIES,
    check_rows,
    column_classes,
    decide_kinds,
    dropped_rows,
    nested_columns,
)
from mesalens.connectors.loaded import DataProfile, LoadedData, RegimeSummary
from mesalens.connectors.moments import VALUE, merge_moments
from mesalens.connectors.planning import Source, analysis_columns, plan_regime
from mesalens.connectors.reading import Part, read_part
from mesalens.connectors.regime import DEFAULT_REGIME_NAME, RegimeSpec, check_regimes
from mesalens.connectors.sampling import bottom_k, concatenate, key_order
from mesalens.connectors.single_pass import INDICATOR_CAP, PartResult, Sampling, scan

if TYPE_CHECKING:
    import dask.dataframe as dd

__all__ = ["SAMPLE_SIZE", "load_regimes"]

logger = logging.getLogger(__name__)

#: Rows per regime in the uniform sample the report's histograms are drawn from.
SAMPLE_SIZE = 25_000


def load_regimes(
    specs: Sequence[RegimeSpec],
    *,
    regime_name: str = DEFAULT_REGIME_NAME,
    columns: Sequence[str] | None = None,
    dtypes: Mapping[str, str] | None = None,
    missing: str = "drop",
    sample_rows: int = 0,
    seed: int = 0,
    keep_constant: bool = False,
    na_values: Sequence[str] = (),
    required: Mapping[str, str] | None = None,
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
        (:attr:`~mesalens.connectors.loaded.DataProfile.pooled_sample`), drawn
        in the same pass; 0 for none.
    seed : int, default 0
        Seeds the samples' keys (the report's histograms and ``sample_rows``).
    keep_constant : bool, default False
        Keep a column that is constant across every regime (the analysis
        then leaves it out and says so) instead of refusing it.
    na_values : sequence of str, default ()
        Text read as a missing value in every column (``--na-values``). By
        default a text column of a CSV or TSV file reads only an empty field
        as missing, so that ``None``, ``NA``, ``null`` and ``N/A`` stay values;
        a numeric column also reads the usual tokens
        (:data:`~mesalens.connectors.csv_text.NUMBER_NA`) as missing.
    required : mapping of str to str, optional
        Columns the caller needs, each with the option that names it (the
        roles: ``{"reward": "--base"}``): a nested column among them is an
        error, where other nested columns are left out with a note.

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

    tokens = _check_na_values(na_values)
    sources = [plan_regime(spec, code) for code, spec in enumerate(specs)]
    analysis = analysis_columns(sources, selected, regime_name)
    notes: list[str] = []
    analysis = _leave_out_nested(sources, analysis, selected, overrides, required or {}, notes)
    unknown = [c for c in overrides if c not in analysis]
    if unknown:
        raise DataError(
            f"a type override (--dtype, config: dtypes) names column {unknown[0]!r}, which "
            f"is not among the columns ({', '.join(analysis)})"
        )
    classes = column_classes(sources, analysis, overrides)
    strict = selected is None

    sampling = Sampling(seed=seed, size=max(SAMPLE_SIZE, sample_rows), pooled=sample_rows > 0)
    scanned = scan(sources, analysis, classes, strict, regime_name, sampling, tokens)
    stats = {name: result.stats for name, result in scanned.items()}
    rows_dropped = check_rows(sources, stats, analysis, missing)
    selection = dropped_rows(sources, stats, rows_dropped)
    final_dtypes, kinds = decide_kinds(
        sources, stats, analysis, classes, overrides, keep_constant=keep_constant
    )

    plan = _FramePlan(
        regime_name=regime_name,
        columns=analysis,
        classes=classes,
        dtypes=final_dtypes,
        strict=strict,
        na_values=tokens,
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
    profile = _profile(sources, scanned, plan, sampling, sample_rows)
    check_distinct_regimes(
        [source.name for source in sources],
        fingerprints,
        profile.regimes if profile is not None and profile.regimes else None,
        regime_name,
    )
    notes.extend(_unit_notes(profile))
    return LoadedData(
        profile=profile,
        build_frame=functools.partial(_pooled_frame, codes, parts, plan),
        regime_name=regime_name,
        regime_labels=tuple(source.name for source in sources),
        columns=(regime_name, *analysis),
        kinds={regime_name: "discrete", **kinds},
        summary=summary,
        fingerprints=fingerprints,
        missing=missing,
        notes=tuple(notes),
        warnings=tuple(selection.warnings),
        dropped=selection.dropped,
        na_values=tuple(sorted(tokens)),
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


def _unit_notes(profile: DataProfile) -> list[str]:
    """A note per column summarised in a power-of-two unit (its magnitude is extreme)."""
    moments = profile.moments
    if moments is None or not np.asarray(moments.exponents).any():
        return []
    notes = []
    for (column, level), exponent in zip(moments.labels, moments.exponents, strict=True):  # type: ignore[arg-type]
        if level == VALUE and exponent:
            largest = max(abs(profile.low.get(column, 0.0)), abs(profile.high.get(column, 0.0)))
            notes.append(
                f"column {column!r} reaches {largest:.3g}: its statistics are kept in units of "
                f"2**{int(exponent)} so that they neither overflow nor vanish; the CI tests and "
                "the verdict do not depend on the unit, effect sizes of it (sensitivity "
                "analysis, direct test) are in that unit"
            )
    return notes


def _check_na_values(na_values: Sequence[str]) -> frozenset[str]:
    """The missing-value tokens, checked: text, not one string to be split."""
    if isinstance(na_values, str) or not all(isinstance(t, str) for t in na_values):
        raise InputError(
            f"na_values must be a list of text tokens, e.g. ['None', 'NA'], not {na_values!r}"
        )
    return frozenset(na_values)


def _leave_out_nested(
    sources: list[Source],
    analysis: tuple[str, ...],
    selected: tuple[str, ...] | None,
    overrides: Mapping[str, str],
    required: Mapping[str, str],
    notes: list[str],
) -> tuple[str, ...]:
    """Leave out the columns of nested values (lists, structs, maps), or refuse a named one.

    mesalens has no use for a nested value, and no option turns one into a
    variable; so such a column is left out with a note, unless the user named
    it (a role, ``--columns``, ``--dtype``): then the message says which
    option named it and what to do, advice that leads nowhere else.
    """
    nested = nested_columns(sources, analysis)
    for column, what in nested.items():
        if column in required:
            raise DataError(
                f"column {column!r}, named by {required[column]}, holds {what}, which "
                "mesalens cannot use as a variable; flatten it into columns of numbers, "
                "flags or text before the run (one column per element or field), and name "
                "those instead"
            )
        if selected is not None and column in selected:
            raise DataError(
                f"column {column!r} holds {what}, which mesalens cannot use as a variable; "
                "leave it out of --columns (config: columns)"
            )
        if column in overrides:
            raise DataError(
                f"column {column!r} holds {what}, which no type override can read; remove "
                f"--dtype {column}={overrides[column]} (config: dtypes): nested columns are "
                "left out by themselves"
            )
    kept = tuple(c for c in analysis if c not in nested)
    if nested and not kept:
        raise DataError(
            f"every column holds nested values ({', '.join(map(repr, nested))}); mesalens "
            "needs columns of numbers, flags or text: flatten them before the run"
        )
    for column, what in nested.items():
        notes.append(
            f"column {column!r} was left out: it holds {what}, which mesalens cannot use "
            "as a variable; flatten it into columns of numbers or text to use it"
        )
    return kept


# --------------------------------------------------------------------------- the pooled frame


@dataclass(frozen=True, eq=False)
class _FramePlan:
    """What every partition of the pooled frame needs to build itself."""

    regime_name: str
    columns: tuple[str, ...]
    classes: dict[str, str]
    dtypes: dict[str, Any]
    strict: bool
    na_values: frozenset[str] = frozenset()


def _pooled_frame(codes: list[int], parts: list[Part], plan: _FramePlan) -> dd.DataFrame:
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


def _read_final(code: int, part: Part, plan: _FramePlan) -> pd.DataFrame:
    """Build one partition of the pooled frame: complete rows, final dtypes."""
    frame = read_part(part, plan.columns, plan.classes, plan.strict, plan.na_values).dropna()
    frame = frame.reset_index(drop=True)
    data: dict[str, Any] = {plan.regime_name: np.full(len(frame), code, dtype=np.int64)}
    data.update({c: frame[c].astype(plan.dtypes[c]) for c in plan.columns})
    return pd.DataFrame(data, index=pd.RangeIndex(len(frame)))


# --------------------------------------------------------------------------- the profile


def _profile(
    sources: list[Source],
    scanned: dict[str, PartResult],
    plan: _FramePlan,
    sampling: Sampling,
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
    sources: list[Source], results: list[PartResult], plan: _FramePlan, size: int
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
