"""Seeded bottom-k row sampling: a uniform sample drawn in one parallel pass.

Every row gets a *key*, a uniform number from a generator seeded by
``(seed, partition)`` (:func:`partition_keys`), and the sample is the ``k``
rows with the smallest keys (*bottom-k*).

Why it is uniform: the keys are independent and identically distributed,
so every set of ``k`` rows is equally likely to hold the ``k`` smallest --
a uniform sample without replacement, and the same sample for the same seed
and the same partitions.

Why it is mergeable: the ``k`` smallest keys of a union of rows are among
the ``k`` smallest of each part. So every partition keeps only its own
bottom-``k`` (:func:`bottom_k`), any number of those merge into the
bottom-``k`` of their union (:func:`merge_samples`), in any grouping, and
what travels between dask tasks stays ``k`` rows however large the data.
The final sample is read in key order (:func:`key_order`).

The contract
------------
Two callers draw this sample and must draw the same rows, in the same
order: the loader's single pass (:func:`mesalens.connectors.load_regimes`
with ``sample_rows``, :attr:`DataProfile.pooled_sample
<mesalens.connectors.loaded.DataProfile.pooled_sample>`) and the direct
test's own sampling of the pooled frame
(:func:`mesalens.pipeline.alignment_gap.direct_test`), which takes the
loader's sample instead of reading the data again when it was drawn with
its seed. They agree because both key the rows with :func:`partition_keys`
the same way: ``index`` counts the pooled frame's partitions in order (every
part of every regime, regimes in code order), and ``rows`` are a
partition's complete rows in their order -- the rows the pooled frame
holds. ``tests/test_sampling.py`` holds them to it.

Examples
--------
>>> keys = partition_keys(7, 0, 5)
>>> part = bottom_k(keys, {"x": np.arange(5.0)}, 2)
>>> int(len(part.keys)), bool(part.keys.max() <= np.sort(keys)[1])
(2, True)
>>> merged = merge_samples([part, bottom_k(partition_keys(7, 1, 3), {"x": np.ones(3)}, 2)], 2)
>>> int(len(merged.keys))
2
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Sample", "bottom_k", "concatenate", "key_order", "merge_samples", "partition_keys"]


@dataclass
class Sample:
    """A uniform sample of rows: those with the smallest random keys (bottom-k)."""

    keys: np.ndarray
    values: dict[str, np.ndarray]


def partition_keys(seed: int, index: int, rows: int) -> np.ndarray:
    """Keys for the ``rows`` rows of partition ``index``: uniform, seeded by ``(seed, index)``."""
    return np.random.default_rng([seed, index]).random(rows)


def bottom_k(keys: np.ndarray, columns: dict[str, np.ndarray], size: int) -> Sample:
    """Keep the rows with the ``size`` smallest keys (a mergeable uniform sample)."""
    if len(keys) > size:
        # Sorted positions: the gathers below then run through memory in order.
        keep = np.sort(np.argpartition(keys, size)[:size])
        return Sample(keys[keep], {c: a[keep] for c, a in columns.items()})
    return Sample(keys, dict(columns))


def concatenate(samples: Sequence[Sample]) -> Sample:
    """All rows of the samples, one after another (their columns are the first one's)."""
    keys = np.concatenate([s.keys for s in samples])
    names = samples[0].values.keys()
    values = {c: np.concatenate([s.values[c] for s in samples]) for c in names}
    return Sample(keys, values)


def merge_samples(samples: Sequence[Sample], size: int) -> Sample:
    """The bottom-``size`` sample of the union of the samples' rows."""
    union = concatenate(samples)
    return bottom_k(union.keys, union.values, size)


def key_order(keys: np.ndarray, size: int) -> np.ndarray:
    """The positions of the ``size`` smallest keys, smallest first."""
    return np.argsort(keys, kind="stable")[:size]
