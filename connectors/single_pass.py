"""The single pass: read every partition once, for the validation and the summaries.

:func:`scan` is one ``dask.compute``: a task per partition of every regime,
then per regime a few trees of merges. Each partition is decoded once
(numeric Parquet columns straight from Arrow,
:meth:`.file_parts.FilePart.read_numbers`; other sources through pandas and
:mod:`.reading`) and gives back its validation facts
(:class:`~mesalens.connectors.kinds.Stats`) and, from the same rows, the
summary that discovery and the report need: the complete rows' moments and
discrete cell counts (:mod:`.moments`), each numeric column's range and a
bottom-k sample (:mod:`.sampling`).

The column kinds are not known yet during the pass, so a whole-number
column that may still be discrete is summarised both as values and as level
indicators (a few small columns); what is not needed is dropped later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dask
import numpy as np
import pandas as pd

from mesalens.connectors.dask_scheduler import compute_scheduler
from mesalens.connectors.file_parts import FilePart
from mesalens.connectors.kinds import DISCRETE_MAX_LEVELS, Stats
from mesalens.connectors.moments import (
    VALUE,
    Moments,
    blas_single_thread,
    cell_counts,
    merge_moments,
    moments_of,
    unit_exponent,
)
from mesalens.connectors.reading import Part, convert
from mesalens.connectors.sampling import Sample, bottom_k, merge_samples, partition_keys

if TYPE_CHECKING:
    from mesalens.connectors.planning import Source

__all__ = ["INDICATOR_CAP", "PartResult", "Sampling", "scan"]

logger = logging.getLogger(__name__)

#: Text columns get indicator columns in the loader's summary up to this many
#: levels per partition (discovery refuses more than 100 anyway).
INDICATOR_CAP = 100

#: Whole numbers from this magnitude on are read as continuous float64.
WHOLE_LIMIT = 2.0**53

# Whole-number and fraction checks look at this many rows first.
_PREFIX = 4096
# Merge this many partition results per task, in at most this many trees per
# regime (one dask.compute returns their roots).
_SPLIT_EVERY = 8
_ROOTS_PER_REGIME = 4


@dataclass(frozen=True)
class Sampling:
    """How the pass samples rows: keys seeded by ``(seed, partition)``, ``size`` kept per regime.

    ``pooled``: whether a pooled sample of every column was asked for; without
    one, only the numeric columns the histograms need are kept.
    """

    seed: int
    size: int
    pooled: bool


@dataclass
class PartResult:
    """What the single pass returns for a partition, or for a regime once merged."""

    stats: Stats
    moments: Moments | None = None
    sample: Sample | None = None
    # Over complete rows, numeric columns only.
    low: dict[str, float] = field(default_factory=dict)
    high: dict[str, float] = field(default_factory=dict)
    # The most levels a column had in one partition (text and whole-number
    # columns that may be discrete).
    partition_levels: dict[str, int] = field(default_factory=dict)
    nonfinite: dict[str, int] = field(default_factory=dict)


def _part_pass(
    part: Part,
    index: int,
    code: int,
    regime_name: str,
    columns: tuple[str, ...],
    classes: dict[str, str],
    strict: bool,
    sampling: Sampling,
    na_values: frozenset[str] = frozenset(),
) -> PartResult:
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
        text = frozenset(c for c in columns if classes[c] == "string")
        raw = part.read(columns, text, strict, na_values)
        arrays = {c: convert(raw[c], classes[c], c, part, na_values).to_numpy() for c in columns}
        del raw
    stats = Stats(rows=len(next(iter(arrays.values()))) if arrays else 0)
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

    result = PartResult(stats=stats)
    labels: list[tuple[str, Any]] = [(regime_name, code)]
    blocks: list[np.ndarray] = [np.ones(rows)]
    units: list[int] = [0]  # the binary exponent of each label's unit (moments)
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
                units.extend(0 for _ in levels)
            if classes[column] != "string":
                labels.append((column, VALUE))
                blocks.append(arrays[column])
                units.append(
                    unit_exponent(result.low[column], result.high[column])
                    if column in result.low
                    else 0
                )
            cell_codes.append(codes)
            cell_levels.append(levels)
    cells = cell_counts(cell_codes, cell_levels) if rows else {}
    result.moments = moments_of(
        rows,
        labels,
        blocks,
        cells,
        (regime_name, *columns),
        nonfinite=result.nonfinite,
        exponents=units,
    )
    keys = partition_keys(sampling.seed, index, rows)
    numeric = {c: arrays[c] for c in columns if classes[c] != "string"}
    kept = arrays if sampling.pooled else numeric
    result.sample = bottom_k(keys, kept, sampling.size)
    return result


def _summarise_column(
    column: str, array: np.ndarray, klass: str, part: Part, result: PartResult, finite: bool
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
    if not len(fractional) and max(abs(low), abs(high)) >= WHOLE_LIMIT:
        # Beyond 2**53 float64 holds no longer every whole number, nor does
        # int64 hold 1e300: such a column is continuous, kept as float64.
        fractional = np.array([low if abs(low) >= WHOLE_LIMIT else high])
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


def _merge_results(size: int, *results: PartResult) -> PartResult:
    """Merge the results of partitions of one regime (samples kept to ``size`` rows)."""
    merged = PartResult(stats=Stats())
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


def scan(
    sources: list[Source],
    columns: tuple[str, ...],
    classes: dict[str, str],
    strict: bool,
    regime_name: str,
    sampling: Sampling,
    na_values: frozenset[str] = frozenset(),
) -> dict[str, PartResult]:
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
                run(
                    part,
                    index,
                    source.code,
                    regime_name,
                    columns,
                    classes,
                    strict,
                    sampling,
                    na_values,
                )
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
    grouped: dict[str, list[PartResult]] = {source.name: [] for source in sources}
    for owner, result in zip(owners, results, strict=True):
        grouped[owner].append(result)
    return {
        name: _merge_results(sampling.size, *parts) if parts else PartResult(stats=Stats())
        for name, parts in grouped.items()
    }
