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

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import mesalens.connectors.file_inspection as inspection_module
import mesalens.connectors.file_parts as file_parts_module
import mesalens.connectors.files as files_module
import mesalens.connectors.loader as loader_module
import mesalens.connectors.moments as moments_module
from mesalens.connectors import DataError, InputError, load_regimes
from mesalens.connectors.regime import RegimeSpec
from mesalens.pipeline.statistics import StatisticsError, compute_statistics
from mesalens.reports.cli import cli
from mesalens.reports.cli.run import run_command
from mesalens.reports.distributions import regime_distributions


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


def test_the_pass_runs_on_an_active_client_and_on_threads_without_one(tmp_path):
    # The loader hands dask.compute its threads directly (no dask.distributed
    # import to look for a client) only while no client can exist; a client
    # the user started must still get the work.
    from mesalens.connectors.dask_scheduler import compute_scheduler

    threaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import dask.threaded, mesalens.connectors.dask_scheduler as d;"
            "assert d.compute_scheduler() is dask.threaded.get",
        ],
        capture_output=True,
        text=True,
    )
    assert threaded.returncode == 0, threaded.stderr
    from distributed import Client, LocalCluster, get_task_stream

    for folder in ("alone", "client"):
        (tmp_path / folder).mkdir()
    alone = load(tmp_path / "alone", fmt="parquet")
    with (
        LocalCluster(
            n_workers=1, processes=False, threads_per_worker=2, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        assert compute_scheduler() is None
        with get_task_stream(client) as stream:
            on_client = load(tmp_path / "client", fmt="parquet")
    assert len(stream.data) >= 2  # a task per partition at least
    assert_same_statistics(
        *(
            compute_statistics(data.frame, data.kinds, data.columns, precomputed=data.profile)
            for data in (alone, on_client)
        )
    )


@pytest.mark.parametrize(("fmt", "block"), [("csv", 16384), ("parquet", 2000), ("csv", None)])
def test_precomputed_statistics_equal_a_pass_over_the_frame(tmp_path, monkeypatch, fmt, block):
    if block is not None:
        monkeypatch.setattr(inspection_module, "BLOCK_SIZE", block)
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
    monkeypatch.setattr(inspection_module, "BLOCK_SIZE", 16384)
    data = load(tmp_path)
    fast = regime_distributions(data, bins=10)
    slow = regime_distributions(dataclasses.replace(data, profile=None), bins=10)
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
    monkeypatch.setattr(inspection_module, "BLOCK_SIZE", 16384)
    first = regime_distributions(load(tmp_path), bins=10)
    again = regime_distributions(load(tmp_path), bins=10)
    x = next(c for c in first["columns"] if c["name"] == "x")
    assert [sum(counts) for counts in x["counts"]] == [100, 100]
    assert x["rows"] == [1495, 1495]  # rows stay exact
    assert first == again  # the sample is deterministic


def test_parquet_fingerprint_hashes_the_footer_not_the_data(tmp_path, monkeypatch):
    frame = mixed(500, seed=1)
    path = tmp_path / "train.parquet"
    frame.to_parquet(path)
    hashed: list[int] = []
    real_open = inspection_module.FileInspector._parquet_footer

    def footer(self, size):
        out = real_open(self, size)
        hashed.append(len(out or b""))
        return out

    monkeypatch.setattr(inspection_module.FileInspector, "_parquet_footer", footer)
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
    monkeypatch.setattr(inspection_module, "BLOCK_SIZE", 2000)
    paths = {}
    for code, name in enumerate(["train", "deploy"]):
        paths[name] = tmp_path / f"{name}.parquet"
        mixed(1500, seed=code, shift=float(code)).to_parquet(paths[name], row_group_size=200)
    reads: list[str] = []
    real_read = file_parts_module.FilePart.read

    def counting(self, *args, **kwargs):
        reads.append(f"{self.path}:{self.row_groups}")
        return real_read(self, *args, **kwargs)

    monkeypatch.setattr(file_parts_module.FilePart, "read", counting)
    out = tmp_path / "out"
    # The direct-test evidence stage draws its own sample from the frame (a
    # second read by design); this test is about the loader, statistics and report.
    has_direct_test = any(p.name == "direct_test" for p in run_command.params)
    off = ["--no-direct-test"] if has_direct_test else []
    args = [*run_args(str(paths["train"]), str(paths["deploy"]), out), *off]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in (0, 3, 4, 8), result.output
    assert len(reads) == len(set(reads)) > 2  # every partition read exactly once
    document = json.loads((out / "result.json").read_text())
    assert [r["rows_kept"] for r in document["data"]["regimes"]] == [1495, 1495]
    assert all(f["hashed"].startswith("parquet footer") for f in document["inputs"])
    page = (out / "report.html").read_text()
    assert 'id="distribution-table"' in page and page.count('class="dist"') >= 6
    for fingerprint in document["inputs"]:
        assert fingerprint["sha256"] in page


@pytest.mark.parametrize(
    ("fmt", "values"), [("csv", [np.inf]), ("parquet", [np.inf]), ("parquet", [np.inf, -np.inf])]
)
def test_infinite_value_found_in_the_pass_is_reported_before_any_output(tmp_path, fmt, values):
    # Parquet takes the Arrow path; +inf and -inf together sum to NaN, not inf.
    train, deploy = mixed(200, seed=0), mixed(200, seed=1, shift=1.0)
    for row, value in enumerate(values, start=3):
        deploy.loc[row, "x"] = value
    paths = []
    for name, frame in (("train", train), ("deploy", deploy)):
        path = tmp_path / f"{name}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path)
        paths.append(str(path))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, run_args(*paths, out))
    assert result.exit_code == 1, result.output  # a data error, as before
    assert f"infinite values in 'x' ({len(values)})" in result.output
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


# ------------------------------------------------------- Arrow-native Parquet reads


def numeric_logs(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Only columns Arrow hands over as numbers: floats, ints with nulls, flags, huge ints."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": np.sort(rng.normal(size=rows)) * 1e-3 + 1e6 + shift,  # sorted: prefix ≠ mean
            "k": pd.array(rng.integers(0, 4, rows), dtype="Int64"),
            "many": rng.integers(0, 1000, rows).astype(np.uint16),
            "big": rng.integers(2**60, 2**61, rows, dtype=np.int64),
            "b": pd.array(rng.choice([True, False], rows), dtype="boolean"),
            "y": rng.normal(size=rows) + shift,
        }
    )
    frame.loc[rng.choice(rows, 4, replace=False), "k"] = pd.NA
    frame.loc[rng.choice(rows, 3, replace=False), "b"] = pd.NA
    frame.loc[rng.choice(rows, 2, replace=False), "y"] = np.nan
    return frame


def load_numeric(tmp_path: Path, *, sample_rows: int = 0, seed: int = 0) -> object:
    specs = []
    for code, name in enumerate(["train", "deploy"]):
        path = tmp_path / f"{name}.parquet"
        if not path.exists():
            numeric_logs(1200, seed=code, shift=float(code)).to_parquet(path, row_group_size=100)
        specs.append(RegimeSpec(name, str(path)))
    return load_regimes(specs, sample_rows=sample_rows, seed=seed)


def test_arrow_reads_equal_the_pandas_reads(tmp_path, monkeypatch):
    monkeypatch.setattr(inspection_module, "BLOCK_SIZE", 3000)
    arrow_reads: list[str] = []
    real = file_parts_module.FilePart.read_numbers

    def counting(self, *args, **kwargs):
        out = real(self, *args, **kwargs)
        arrow_reads.append(self.path if out is not None else "declined")
        return out

    monkeypatch.setattr(file_parts_module.FilePart, "read_numbers", counting)
    fast = load_numeric(tmp_path)
    assert len(arrow_reads) > 4 and "declined" not in arrow_reads
    monkeypatch.setattr(file_parts_module.FilePart, "read_numbers", lambda *a, **k: None)
    slow = load_numeric(tmp_path)

    assert fast.kinds == slow.kinds and fast.kinds["k"] == fast.kinds["b"] == "discrete"
    for regime in ("train", "deploy"):
        assert fast.summary[regime].as_dict() == slow.summary[regime].as_dict()
    assert fast.summary["train"].rows_dropped == 9  # the 4 + 3 + 2 missing values
    a, b = fast.profile, slow.profile
    assert a.low == b.low and a.high == b.high
    assert a.moments.labels == b.moments.labels and a.moments.cells == b.moments.cells
    np.testing.assert_allclose(a.moments.m2, b.moments.m2, rtol=1e-12)
    assert_same_statistics(
        compute_statistics(fast.frame, fast.kinds, fast.columns, precomputed=a),
        compute_statistics(slow.frame, slow.kinds, slow.columns),
    )


def test_read_numbers_declines_what_arrow_cannot_convert_as_pandas_does(tmp_path):
    frame = pd.DataFrame({"f": [1.5, 2.5], "t": ["a", "b"], "flag": [0, 1]})
    frame.to_parquet(tmp_path / "a.parquet")
    (part,) = files_module.plan_files(str(tmp_path / "a.parquet"), regime="r").parts
    assert part.read_numbers(["t"]) is None  # text
    assert part.read_numbers(["flag"], frozenset({"flag"})) is None  # flags stored as ints
    np.testing.assert_array_equal(part.read_numbers(["f", "flag"])["flag"], [0.0, 1.0])
    csv = tmp_path / "a.csv"
    frame.to_csv(csv, index=False)
    (text_part,) = files_module.plan_files(str(csv), regime="r").parts
    assert text_part.read_numbers(["f"]) is None


def test_shifted_moments_keep_a_large_mean_with_a_sorted_prefix(tmp_path, monkeypatch):
    # A short prefix of a sorted column: its mean is ~3 standard deviations off.
    monkeypatch.setattr(moments_module, "_SHIFT_PREFIX", 10)
    data = load_numeric(tmp_path)
    kept = data.frame.compute()
    statistics = compute_statistics(data.frame, data.kinds, data.columns, precomputed=data.profile)
    x = statistics.columns.index("x")
    for column in ("x", "y", "big"):
        i = statistics.columns.index(column)
        np.testing.assert_allclose(
            statistics.covariance[i, i], kept[column].astype(float).var(), rtol=1e-9
        )
    np.testing.assert_allclose(statistics.means[x], kept["x"].mean(), rtol=1e-15)


# ------------------------------------------------------- the direct test's sample


@pytest.mark.parametrize("size", [50, 700, 5000])
def test_pooled_sample_of_the_pass_is_the_frames_bottom_k_sample(tmp_path, monkeypatch, size):
    from mesalens.pipeline import alignment_gap as direct_test_module

    monkeypatch.setattr(inspection_module, "BLOCK_SIZE", 16384)
    data = load(tmp_path, "csv")
    data = load_regimes(
        [
            RegimeSpec("train", str(tmp_path / "train.csv")),
            RegimeSpec("deploy", str(tmp_path / "deploy.csv")),
        ],
        sample_rows=size,
        seed=7,
    )
    assert data.frame.npartitions > 2
    columns = list(data.columns)
    rows, from_pass = direct_test_module._sample(data, columns, size, seed=7)
    read_again = direct_test_module._sample(
        dataclasses.replace(data, profile=None), columns, size, 7
    )
    assert rows == read_again[0] == 2990
    pd.testing.assert_frame_equal(from_pass, read_again[1])
    assert len(from_pass) == min(size, 2990)
    assert from_pass["c"].dtype == "category" and from_pass["k"].dtype == "int64"
    # Another seed, or more rows than were sampled: the frame is read instead.
    assert direct_test_module._sample_from_the_pass(data, size, seed=8) is None
    if size < 2990:
        assert direct_test_module._sample_from_the_pass(data, size + 1, seed=7) is None


def test_default_run_with_the_direct_test_reads_every_partition_once(tmp_path, monkeypatch):
    monkeypatch.setattr(inspection_module, "BLOCK_SIZE", 2000)
    paths = {}
    for code, name in enumerate(["train", "deploy"]):
        paths[name] = tmp_path / f"{name}.parquet"
        numeric_logs(1500, seed=code, shift=float(code)).to_parquet(paths[name], row_group_size=200)
    reads: list[str] = []
    for method in ("read", "read_numbers"):
        real = getattr(file_parts_module.FilePart, method)

        def counting(self, *args, _real=real, **kwargs):
            reads.append(f"{self.path}:{self.row_groups}")
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(file_parts_module.FilePart, method, counting)
    out = tmp_path / "out"
    args = [
        "run",
        "--regime", f"train={paths['train']}", "--regime", f"deploy={paths['deploy']}",
        "--base", "y", "--mesa", "x", "--decision", "k", "--policy-inputs", "many",
        "--out", str(out), "--quiet",
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in (0, 3, 4, 8), result.output
    assert len(reads) == len(set(reads)) > 2  # every partition read exactly once
    document = json.loads((out / "result.json").read_text())
    assert document["direct_test"]["rows_used"] == sum(
        r["rows_kept"] for r in document["data"]["regimes"]
    )


def test_a_run_from_parquet_never_imports_dask_dataframe(tmp_path):
    # Nothing in a default run reads the pooled frame, so it is never built:
    # not by the loader, the statistics, the direct test or the report.
    numeric_logs(400, seed=0).to_parquet(tmp_path / "a.parquet")
    numeric_logs(400, seed=1, shift=1.0).to_parquet(tmp_path / "b.parquet")
    a, b, out = tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "out"
    code = (
        "import sys\n"
        "from mesalens.connectors import load_regimes\n"
        "from mesalens.connectors.regime import RegimeSpec\n"
        f"data = load_regimes([RegimeSpec('a', {str(a)!r}), RegimeSpec('b', {str(b)!r})],"
        " sample_rows=50)\n"
        "assert 'dask.dataframe' not in sys.modules, 'loading imported dask.dataframe'\n"
        "from mesalens.reports.cli import cli\n"
        f"args = ['run', '--regime', 'a={a}', '--regime', 'b={b}', '--base', 'y', '--mesa', 'x',"
        f" '--decision', 'k', '--policy-inputs', 'many', '--out', {str(out)!r}, '--quiet']\n"
        "try:\n"
        "    cli.main(args=args, standalone_mode=False)\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert 'dask.dataframe' not in sys.modules, 'the run imported dask.dataframe'\n"
        "assert data.frame.npartitions == 2 and 'dask.dataframe' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    document = json.loads((out / "result.json").read_text())
    assert document["direct_test"] is not None and document["sensitivity"] is not None


def test_sample_rows_must_be_a_whole_number(tmp_path):
    with pytest.raises(InputError, match="sample_rows must be a whole number >= 0, got -1"):
        load_numeric(tmp_path, sample_rows=-1)
