"""The one seeded bottom-k sampler and its contract.

The loader's single pass (``load_regimes(sample_rows=...)``) and the direct
test's own sampling of the pooled frame must draw the same rows, in the
same order, for the same data and seed: the direct test takes the loader's
sample instead of reading the data again (:mod:`mesalens.connectors.sampling`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mesalens.connectors.file_inspection as inspection_module
from mesalens.connectors import load_regimes
from mesalens.connectors.regime import RegimeSpec
from mesalens.connectors.sampling import (
    bottom_k,
    key_order,
    merge_samples,
    partition_keys,
)
from mesalens.pipeline import alignment_gap as direct_test_module


def test_keys_are_seeded_by_seed_and_partition():
    np.testing.assert_array_equal(partition_keys(3, 1, 10), partition_keys(3, 1, 10))
    assert not np.array_equal(partition_keys(3, 1, 10), partition_keys(3, 2, 10))
    assert not np.array_equal(partition_keys(3, 1, 10), partition_keys(4, 1, 10))
    # The first rows' keys do not depend on how many rows the partition has.
    np.testing.assert_array_equal(partition_keys(3, 1, 10)[:4], partition_keys(3, 1, 4))


@pytest.mark.parametrize("size", [1, 7, 40, 500])
def test_merging_bottom_k_samples_in_any_grouping_is_the_bottom_k_of_the_union(size):
    rows = [30, 0, 55, 12, 80, 3]
    parts = []
    for index, n in enumerate(rows):
        keys = partition_keys(11, index, n)
        values = {
            "x": np.arange(n) + 1000.0 * index,
            "t": np.array([f"{index}-{i}" for i in range(n)], dtype=object),
        }
        parts.append((keys, values))
    union_keys = np.concatenate([k for k, _ in parts])
    union_x = np.concatenate([v["x"] for _, v in parts])
    expected = union_x[key_order(union_keys, size)]

    samples = [bottom_k(k, v, size) for k, v in parts]
    flat = merge_samples(samples, size)
    nested = merge_samples(
        [merge_samples(samples[:2], size), merge_samples(samples[2:5], size), samples[5]], size
    )
    for merged in (flat, nested):
        assert len(merged.keys) == min(size, sum(rows))
        order = key_order(merged.keys, size)
        np.testing.assert_array_equal(merged.values["x"][order], expected)
        # Every column follows its keys.
        assert [t.split("-") for t in merged.values["t"][order]] == [
            [str(int(x // 1000)), str(int(x % 1000))] for x in expected
        ]


def test_bottom_k_keeps_every_row_of_a_small_partition():
    keys = partition_keys(0, 0, 5)
    sample = bottom_k(keys, {"x": np.arange(5)}, 10)
    np.testing.assert_array_equal(sample.keys, keys)
    np.testing.assert_array_equal(sample.values["x"], np.arange(5))


def _logs(rows: int, seed: int) -> pd.DataFrame:
    """Numbers, whole numbers, text and flags, with missing values to drop."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=rows),
            "k": rng.integers(0, 3, rows),
            "c": rng.choice(["u", "v", "w"], rows),
            "b": rng.choice([True, False], rows),
            "y": rng.normal(size=rows) + seed,
        }
    )
    frame.loc[rng.choice(rows, 6, replace=False), "y"] = np.nan
    return frame


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("size", [60, 900, 10_000])
def test_the_pass_and_the_direct_test_draw_the_same_rows_in_the_same_order(
    tmp_path: Path, monkeypatch, fmt, size
):
    monkeypatch.setattr(inspection_module, "BLOCK_SIZE", 8192)
    specs = []
    for code, name in enumerate(["train", "deploy", "later"]):
        path = tmp_path / f"{name}.{fmt}"
        frame = _logs(900 + 150 * code, seed=code)
        if fmt == "csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, row_group_size=128)
        specs.append(RegimeSpec(name, str(path)))
    data = load_regimes(specs, sample_rows=size, seed=5)
    assert data.frame.npartitions > 3
    columns = list(data.columns)

    from_pass = data.profile.pooled_sample
    rows, from_frame = direct_test_module._sample(
        dataclasses.replace(data, profile=None), columns, size, 5
    )
    kept = sum(s.rows_kept for s in data.summary.values())
    assert rows == kept == 900 + 1050 + 1200 - 18
    assert len(from_pass) == min(size, kept)
    pd.testing.assert_frame_equal(from_pass, from_frame)
    # The direct test takes the pass's sample when its seed matches.
    rows_again, taken = direct_test_module._sample(data, columns, size, 5)
    assert rows_again == kept
    pd.testing.assert_frame_equal(taken, from_frame)

    # Both are the definition: the frame's rows with the smallest keys of
    # generators seeded by (seed, partition), smallest first.
    parts = data.frame.to_delayed()
    computed = [p.compute() for p in parts]
    keys = np.concatenate([partition_keys(5, i, len(p)) for i, p in enumerate(computed)])
    whole = pd.concat(computed, ignore_index=True)
    expected = whole.iloc[key_order(keys, size)].reset_index(drop=True)
    pd.testing.assert_frame_equal(from_frame, expected)
