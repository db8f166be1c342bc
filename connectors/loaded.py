"""What :func:`~mesalens.connectors.load_regimes` returns: the pooled data and what is known of it.

:class:`LoadedData` holds the lazy pooled frame with its regimes, columns,
kinds, summary and fingerprints; :class:`RegimeSummary` what was read for
one regime; :class:`DataProfile` what the loader's single pass learnt about
the kept rows besides validating them. Plain records: building them is the
loader's job (:mod:`.loader`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import dask.dataframe as dd
    import numpy as np
    import pandas as pd

    from mesalens.connectors.moments import Moments

__all__ = ["DataProfile", "LoadedData", "RegimeSummary"]


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
    notes : tuple of str
        What the loader did on its own (a nested column left out).
    warnings : tuple of str
        What may make the verdict wrong (a regime that lost more than 1% of
        its rows to missing values, naming the columns).
    dropped : dict of str to dict
        Per regime: ``rows_read``, ``rows_dropped``, ``share`` and the
        missing values per ``columns``
        (:class:`~mesalens.connectors.kinds.DroppedRows`).
    na_values : tuple of str
        The user's extra missing-value tokens (``--na-values``).
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
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    dropped: dict[str, dict[str, Any]] = field(default_factory=dict)
    na_values: tuple[str, ...] = ()

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
        most
        :data:`~mesalens.connectors.loader.SAMPLE_SIZE` kept rows (all rows when there are fewer):
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
        (:func:`mesalens.pipeline.alignment_gap.direct_test` relies on it).
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
