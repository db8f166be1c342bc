"""The loader's single pass: validation, sufficient statistics and report data in one read.

``mesalens run`` reads every partition exactly once: the loader's pass
validates the data and, from the same decoded rows, keeps the moments that
discovery needs and the ranges, per-regime moments and sample that the
report's distributions need. These tests hold it to the results of the old
separate passes (``compute_statistics`` on the frame, and the report's two
dask passes), and check the Parquet fingerprint that replaced hashing every
shard.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import mesalens.connectors.files as files_module
import mesalens.connectors.loader as loader_module
from mesalens.connectors import DataError, load_regimes
from mesalens.connectors.regime import RegimeSpec
from mesalens.pipeline.statistics import StatisticsError, compute_statistics
from mesalens.reports import html as html_module
from mesalens.reports.cli import cli
from mesalens.reports.run_cli import run_command


def mixed(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Every kind of column the loader tells apart, with a few missing values."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=rows) + 1e6 + shift,  # large mean, small spread
            "k": rng.integers(0, 4, rows),  # whole, few levels: discrete
            "many": rng.integers(0, 1000, rows),  # whole, many levels: continuous
            "c": rng.choice(["u", "v", "w"], rows),  # text: discrete
            "b": rng.choice([True, False], rows),  # flags: discrete
            "y": rng.normal(size=rows),
        }
    )
    frame["y"] += 0.5 * frame["k"] + shift
    frame.loc[rng.choice(rows, 5, replace=False), "y"] = np.nan
    return frame


def load(tmp_path: Path, fmt: str = "csv", rows: int = 1500) -> object:
    paths = []
    for code, name in enumerate(["train", "deploy"]):
        frame = mixed(rows, seed=code, shift=float(code))
        path = tmp_path / f"{name}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, row_group_size=200)
        paths.append(RegimeSpec(name, str(path)))
    return load_regimes(paths)


def assert_same_statistics(a, b) -> None:
    assert a.columns == b.columns and a.n == b.n and dict(a.levels) == dict(b.levels)
    assert a.expanded_columns == b.expanded_columns
    for name in ("means", "covariance", "expanded_means", "expanded_covariance"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-9, atol=1e-7)
    np.testing.assert_array_equal(a.discrete_codes, b.discrete_codes)
    np.testing.assert_array_equal(a.cell_counts, b.cell_counts)
    pd.testing.assert_frame_equal(a.counts, b.counts)


@pytest.mark.parametrize(("fmt", "block"), [("csv", 16384), ("parquet", 2000), ("csv", None)])
def test_precomputed_statistics_equal_a_pass_over_the_frame(tmp_path, monkeypatch, fmt, block):
    if block is not None:
        monkeypatch.setattr(files_module, "BLOCK_SIZE", block)
    data = load(tmp_path, fmt)
    assert data.frame.npartitions > (2 if block else 1)
    assert data.kinds == {
        "regime": "discrete",
        "x": "continuous",
        "k": "discrete",
        "many": "continuous",
        "c": "discrete",
        "b": "discrete",
        "y": "continuous",
    }
    fast = compute_statistics(data.frame, data.kinds, data.columns, precomputed=data.profile)
    slow = compute_statistics(data.frame, data.kinds, data.columns)
    assert fast.n == 3000 - 10  # five rows with a missing y per regime dropped
    assert_same_statistics(fast, slow)
    # Other column subsets and kinds still come from the same moments.
    kinds = {**data.kinds, "k": "continuous"}
    columns = ["regime", "k", "c", "y"]
    assert_same_statistics(
        compute_statistics(data.frame, kinds, columns, precomputed=data.profile),
        compute_statistics(data.frame, kinds, columns),
    )


def test_precomputed_statistics_keep_the_level_limit(tmp_path):
    rows = 300
    frames = [
        pd.DataFrame({"t": [f"id{i}" for i in range(rows)], "y": np.arange(rows) * 0.5 + code})
        for code in range(2)
    ]
    specs = []
    for code, frame in enumerate(frames):
        frame.to_csv(tmp_path / f"r{code}.csv", index=False)
        specs.append(RegimeSpec(f"r{code}", str(tmp_path / f"r{code}.csv")))
    data = load_regimes(specs)
    with pytest.raises(StatisticsError, match="'t' has more than 100 levels"):
        compute_statistics(data.frame, data.kinds, data.columns, precomputed=data.profile)


def test_report_distributions_from_the_pass_equal_the_two_passes(tmp_path, monkeypatch):
    monkeypatch.setattr(files_module, "BLOCK_SIZE", 16384)
    data = load(tmp_path)
    fast = html_module.regime_distributions(data, bins=10)
    slow = html_module.regime_distributions(
        loader_module.LoadedData(**{**data.__dict__, "profile": None}), bins=10
    )
    assert [c["name"] for c in fast["columns"]] == [c["name"] for c in slow["columns"]]
    rows = data.frame.compute().groupby("regime")
    for mine, theirs in zip(fast["columns"], slow["columns"], strict=True):
        assert mine["type"] == theirs["type"] and mine["rows"] == theirs["rows"]
        assert mine["counts"] == theirs["counts"], mine["name"]
        if mine["type"] == "numeric":
            np.testing.assert_allclose(mine["edges"], theirs["edges"])
            np.testing.assert_allclose(mine["mean"], rows[mine["name"]].mean(), rtol=1e-12)
            # Against pandas, not the old pass: dask's group-by std sums
            # squares and is off by 1e-4 on x (mean 1e6, spread 1).
            np.testing.assert_allclose(mine["std"], rows[mine["name"]].std(), rtol=1e-9)
        else:
            assert mine["categories"] == theirs["categories"] and mine["tvd"] == theirs["tvd"]


def test_histograms_beyond_the_sample_size_use_a_uniform_sample(tmp_path, monkeypatch):
    monkeypatch.setattr(loader_module, "SAMPLE_SIZE", 100)
    monkeypatch.setattr(files_module, "BLOCK_SIZE", 16384)
    first = html_module.regime_distributions(load(tmp_path), bins=10)
    again = html_module.regime_distributions(load(tmp_path), bins=10)
    x = next(c for c in first["columns"] if c["name"] == "x")
    assert [sum(counts) for counts in x["counts"]] == [100, 100]
    assert x["rows"] == [1495, 1495]  # rows stay exact
    assert first == again  # the sample is deterministic


def test_parquet_fingerprint_hashes_the_footer_not_the_data(tmp_path, monkeypatch):
    frame = mixed(500, seed=1)
    path = tmp_path / "train.parquet"
    frame.to_parquet(path)
    hashed: list[int] = []
    real_open = files_module._FileInspector._parquet_footer

    def footer(self, size):
        out = real_open(self, size)
        hashed.append(len(out or b""))
        return out

    monkeypatch.setattr(files_module._FileInspector, "_parquet_footer", footer)
    plan = files_module.plan_files(str(path), regime="train")
    (fingerprint,) = plan.fingerprints
    assert fingerprint["hashed"].startswith("parquet footer")
    assert hashed[0] < os.path.getsize(path) / 4  # only the footer was read for it
    metadata = pq.ParquetFile(path).metadata
    assert hashed[0] == metadata.serialized_size + 8
    # Same footer (a copy with another mtime): same hash; other data: another hash.
    again = files_module.plan_files(str(path), regime="train").fingerprints[0]
    assert again["sha256"] == fingerprint["sha256"]
    frame.assign(x=frame["x"] + 1).to_parquet(path)
    changed = files_module.plan_files(str(path), regime="train").fingerprints[0]
    assert changed["sha256"] != fingerprint["sha256"]


def run_args(train: str, deploy: str, out: Path) -> list[str]:
    return [
        "run",
        "--regime", f"train={train}", "--regime", f"deploy={deploy}",
        "--base", "y", "--mesa", "x", "--decision", "k", "--policy-inputs", "c",
        "--out", str(out), "--quiet",
    ]  # fmt: skip


def test_run_reads_every_partition_once(tmp_path, monkeypatch):
    monkeypatch.setattr(files_module, "BLOCK_SIZE", 2000)
    paths = {}
    for code, name in enumerate(["train", "deploy"]):
        paths[name] = tmp_path / f"{name}.parquet"
        mixed(1500, seed=code, shift=float(code)).to_parquet(paths[name], row_group_size=200)
    reads: list[str] = []
    real_read = files_module.FilePart.read

    def counting(self, *args, **kwargs):
        reads.append(f"{self.path}:{self.row_groups}")
        return real_read(self, *args, **kwargs)

    monkeypatch.setattr(files_module.FilePart, "read", counting)
    out = tmp_path / "out"
    # The direct-test evidence stage draws its own sample from the frame (a
    # second read by design); this test is about the loader, statistics and report.
    has_direct_test = any(p.name == "direct_test" for p in run_command.params)
    off = ["--no-direct-test"] if has_direct_test else []
    args = [*run_args(str(paths["train"]), str(paths["deploy"]), out), *off]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in (0, 3, 4), result.output
    assert len(reads) == len(set(reads)) > 2  # every partition read exactly once
    document = json.loads((out / "result.json").read_text())
    assert [r["rows_kept"] for r in document["data"]["regimes"]] == [1495, 1495]
    assert all(f["hashed"].startswith("parquet footer") for f in document["inputs"])
    page = (out / "report.html").read_text()
    assert 'id="distribution-table"' in page and page.count('class="dist"') >= 6
    for fingerprint in document["inputs"]:
        assert fingerprint["sha256"] in page


def test_infinite_value_found_in_the_pass_is_reported_before_any_output(tmp_path):
    train, deploy = mixed(200, seed=0), mixed(200, seed=1, shift=1.0)
    deploy.loc[3, "x"] = np.inf
    train.to_csv(tmp_path / "train.csv", index=False)
    deploy.to_csv(tmp_path / "deploy.csv", index=False)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, run_args(str(tmp_path / "train.csv"), str(tmp_path / "deploy.csv"), out)
    )
    assert result.exit_code == 1, result.output  # a data error, as before
    assert "infinite values in 'x' (1)" in result.output
    assert not out.exists()


def test_unparseable_value_names_regime_file_and_column(tmp_path):
    train = mixed(50, seed=0).astype({"x": object})
    train.loc[7, "x"] = "abc"
    train.to_csv(tmp_path / "train.csv", index=False)
    mixed(50, seed=1).to_csv(tmp_path / "deploy.csv", index=False)
    with pytest.raises(DataError, match=r"regime 'train': column 'x' of .*train\.csv"):
        load_regimes(
            [
                RegimeSpec("train", str(tmp_path / "train.csv")),
                RegimeSpec("deploy", str(tmp_path / "deploy.csv")),
            ]
        )
