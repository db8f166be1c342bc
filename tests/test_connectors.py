"""Connectors: every source format, the regime column, and every data error."""

from __future__ import annotations

import gzip
import logging
import os
import re
import sqlite3
import uuid
from pathlib import Path

import dask
import fsspec
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import mesalens.connectors.file_inspection as inspection_module
from mesalens.connectors import (
    DEFAULT_REGIME_NAME,
    DataError,
    InputError,
    LoadedData,
    RegimeSpec,
    check_regimes,
    detect_format,
    is_sql_location,
    load_regimes,
    parse_regime_option,
    redact_url,
)

CONNECTORS = Path(__file__).resolve().parent.parent / "connectors"


def table(n: int, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """A small regime: a float, a small integer and a text column."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1.0, n),
            "a": rng.integers(0, 3, n),
            "c": rng.choice(["u", "v", "w"], n),
        }
    )


def write(frame: pd.DataFrame, path: Path) -> str:
    """Write ``frame`` in the format its name says; return the path as text."""
    name = path.name
    if ".csv" in name:
        frame.to_csv(path, index=False)
    elif ".tsv" in name:
        frame.to_csv(path, index=False, sep="\t", compression="infer")
    elif name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    elif ".jsonl" in name:
        frame.to_json(path, orient="records", lines=True, compression="infer")
    else:
        raise AssertionError(name)
    return str(path)


def two_regimes(tmp_path: Path, train: pd.DataFrame, deploy: pd.DataFrame, **kwargs) -> LoadedData:
    specs = [
        RegimeSpec("train", write(train, tmp_path / "train.csv")),
        RegimeSpec("deploy", write(deploy, tmp_path / "deploy.csv")),
    ]
    return load_regimes(specs, **kwargs)


def error_of(specs, **kwargs) -> str:
    with pytest.raises(DataError) as caught:
        load_regimes(specs, **kwargs)
    message = str(caught.value)
    assert "\n" not in message, "messages are one line"
    return message


def sort_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


# --------------------------------------------------------------------------- regime options


def test_parse_regime_option_splits_at_the_first_equals_sign():
    spec = parse_regime_option("deploy=data/day=3/part.parquet")
    assert (spec.name, spec.location, spec.format) == ("deploy", "data/day=3/part.parquet", None)
    spec = parse_regime_option("train:CSV=logs/train.txt")
    assert (spec.name, spec.location, spec.format) == ("train", "logs/train.txt", "csv")
    spec = parse_regime_option("db=sqlite:///x.db?table=logs")
    assert spec.location == "sqlite:///x.db?table=logs"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("train", "no '='"),
        ("=a.csv", "no name"),
        ("train=", "no location"),
        ("train:xlsx=a.xlsx", "unknown format 'xlsx'"),
        ("tr ain=a.csv", "regime name"),
    ],
)
def test_parse_regime_option_rejects_malformed_text(text, needle):
    with pytest.raises(InputError, match=re.escape(needle)):
        parse_regime_option(text)


def test_parse_regime_option_never_shows_a_password():
    with pytest.raises(InputError) as caught:
        parse_regime_option("postgresql://bob:hunter2@db/x")
    assert "hunter2" not in str(caught.value)
    with pytest.raises(InputError, match="does not start with a name") as caught:
        parse_regime_option("postgresql://bob:hunter2@db/x?table=t")
    assert "hunter2" not in str(caught.value)
    spec = parse_regime_option("d=postgresql://bob:hunter2@db/x?table=t")
    assert "hunter2" not in repr(spec)
    assert spec.display == "postgresql://bob:***@db/x?table=t"


def test_check_regimes_needs_distinct_names_and_two_regimes():
    train, deploy = RegimeSpec("train", "a.csv"), RegimeSpec("deploy", "b.csv")
    check_regimes([train, deploy])
    check_regimes([train], minimum=1)
    with pytest.raises(InputError, match=r"at least two regimes, got only 'train' \(a\.csv\)"):
        check_regimes([train])
    with pytest.raises(InputError, match="regime 'train' is given twice"):
        check_regimes([train, RegimeSpec("train", "c.csv")])


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:pw@h:5432/db?table=t", "postgresql://u:***@h:5432/db?table=t"),
        ("postgresql+psycopg://u:p@s:s/w@h/db", "postgresql+psycopg://u:***@h/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        (
            "postgresql://h/db?user=u&password=pw&table=t",
            "postgresql://h/db?user=u&password=***&table=t",
        ),
        ("s3://key:secret@bucket/data/*.parquet", "s3://key:***@bucket/data/*.parquet"),
        ("memory://logs/a@b.csv", "memory://logs/a@b.csv"),
        ("data/train.csv", "data/train.csv"),
        (
            "postgresql://u:pw@h/db?query=SELECT * FROM t WHERE mail = 'a@b.c'",
            "postgresql://u:***@h/db?query=SELECT * FROM t WHERE mail = 'a@b.c'",
        ),
    ],
)
def test_redact_url(url, expected):
    assert redact_url(url) == expected


def test_formats_and_sql_locations_are_recognised():
    assert detect_format("a/b.csv.gz") == ("csv", "gzip")
    assert detect_format("b.JSONL.zst") == ("jsonl", "zstd")
    assert detect_format("b.tsv") == ("tsv", None)
    assert detect_format("part-0") == (None, None)
    assert is_sql_location("postgresql+psycopg://u:p@h/db?table=t")
    assert is_sql_location("sqlite:///x.db?table=t")
    assert not is_sql_location("file:///tmp/x.csv")
    assert not is_sql_location("/tmp/x.csv")


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    "name",
    ["train.csv", "train.tsv", "train.parquet", "train.jsonl", "train.csv.gz", "train.jsonl.zst"],
)
def test_every_file_format_reads_the_same_table(tmp_path, name):
    train, deploy = table(40, seed=1), table(30, shift=1.0, seed=2)
    specs = [
        RegimeSpec("train", write(train, tmp_path / name)),
        RegimeSpec("deploy", write(deploy, tmp_path / "deploy.csv")),
    ]
    data = load_regimes(specs)
    assert data.columns == ("regime", "x", "a", "c")
    assert data.regime_labels == ("train", "deploy")
    frame = data.frame.compute()
    got = frame[frame["regime"] == 0].drop(columns="regime").reset_index(drop=True)
    np.testing.assert_allclose(got["x"], train["x"])
    assert got["a"].tolist() == train["a"].tolist()
    assert got["c"].astype(str).tolist() == train["c"].tolist()
    assert data.summary["train"].format == detect_format(name)[0]


def test_pooled_frame_has_regime_codes_dtypes_and_kinds(tmp_path):
    train, deploy = table(50, seed=1), table(20, shift=2.0, seed=2)
    train["flag"] = train["a"] > 0
    deploy["flag"] = deploy["a"] > 1
    data = two_regimes(tmp_path, train, deploy)
    frame = data.frame.compute()
    assert list(frame.columns) == list(data.columns)
    assert frame["regime"].value_counts().to_dict() == {0: 50, 1: 20}
    dtypes = {c: str(t) for c, t in data.frame.dtypes.items()}
    assert dtypes == {
        "regime": "int64",
        "x": "float64",
        "a": "int64",
        "c": "category",
        "flag": "int64",
    }
    assert data.frame["c"].cat.known
    assert list(frame["c"].cat.categories) == ["u", "v", "w"]
    assert set(frame["flag"]) == {0, 1}
    assert data.kinds == {
        "regime": "discrete",
        "x": "continuous",
        "a": "discrete",
        "c": "discrete",
        "flag": "discrete",
    }
    assert data.variables == ("x", "a", "c", "flag")


def test_many_distinct_whole_numbers_are_continuous(tmp_path):
    train, deploy = table(60, seed=1), table(60, seed=2)
    train["steps"] = np.arange(60)
    deploy["steps"] = np.arange(60) * 2
    data = two_regimes(tmp_path, train, deploy)
    assert data.kinds["steps"] == "continuous"
    assert str(data.frame.dtypes["steps"]) == "int64"


def test_custom_regime_name_and_three_regimes(tmp_path):
    specs = [
        RegimeSpec(name, write(table(10 + i, seed=i), tmp_path / f"{name}.parquet"))
        for i, name in enumerate(["train", "deploy", "shifted"])
    ]
    data = load_regimes(specs, regime_name="setting")
    assert data.columns[0] == "setting" == data.regime_name
    assert data.regime_labels == ("train", "deploy", "shifted")
    counts = data.frame["setting"].value_counts().compute().to_dict()
    assert counts == {0: 10, 1: 11, 2: 12}
    assert DEFAULT_REGIME_NAME == "regime"


def test_hive_partitioned_directory(tmp_path):
    train = table(60, seed=1)
    train["day"] = np.where(np.arange(60) < 30, "mon", "tue")
    train.to_parquet(tmp_path / "train", partition_cols=["day"], index=False)
    (tmp_path / "train" / "_SUCCESS").write_text("")
    deploy = table(20, seed=2)
    deploy["day"] = "wed"
    specs = [
        RegimeSpec("train", str(tmp_path / "train")),
        RegimeSpec("deploy", write(deploy, tmp_path / "deploy.csv")),
    ]
    data = load_regimes(specs)
    assert set(data.columns) == {"regime", "x", "a", "c", "day"}
    frame = data.frame.compute()
    assert str(frame["day"].dtype) == "category"
    assert frame.groupby("regime")["day"].agg(lambda s: sorted(set(s))).to_dict() == {
        0: ["mon", "tue"],
        1: ["wed"],
    }
    assert len(data.summary["train"].sources) == 2


def test_glob_over_several_shards(tmp_path):
    shards = [table(15, seed=i) for i in range(3)]
    for i, shard in enumerate(shards):
        write(shard, tmp_path / f"train-{i}.csv.gz")
    specs = [
        RegimeSpec("train", str(tmp_path / "train-*.csv.gz")),
        RegimeSpec("deploy", write(table(10, seed=9), tmp_path / "deploy.jsonl")),
    ]
    data = load_regimes(specs)
    summary = data.summary["train"]
    assert summary.rows_read == 45
    assert [Path(s).name for s in summary.sources] == [f"train-{i}.csv.gz" for i in range(3)]
    assert data.frame.npartitions == 4
    got = data.frame.compute()
    expected = pd.concat(shards)
    np.testing.assert_allclose(np.sort(got.loc[got.regime == 0, "x"]), np.sort(expected["x"]))


def test_file_url(tmp_path):
    path = write(table(20, seed=1), tmp_path / "train.parquet")
    specs = [
        RegimeSpec("train", f"file://{path}"),
        RegimeSpec("deploy", write(table(20, seed=2), tmp_path / "deploy.tsv")),
    ]
    data = load_regimes(specs)
    assert data.summary["train"].sources == (f"file://{path}",)
    assert data.frame.compute().shape == (40, 4)


def test_memory_fsspec_url():
    root = f"/mesalens-test-{uuid.uuid4().hex}"
    fs = fsspec.filesystem("memory")
    try:
        train, deploy = table(25, seed=1), table(15, seed=2)
        with fs.open(f"{root}/train.csv", "wb") as handle:
            handle.write(train.to_csv(index=False).encode())
        with fs.open(f"{root}/deploy/part-0.parquet", "wb") as handle:
            deploy.to_parquet(handle, index=False)
        specs = [
            RegimeSpec("train", f"memory://{root}/train.csv"),
            RegimeSpec("deploy", f"memory://{root}/deploy"),
        ]
        data = load_regimes(specs)
        assert data.summary["train"].sources == (f"memory://{root}/train.csv",)
        frame = data.frame.compute()
        assert frame["regime"].value_counts().to_dict() == {0: 25, 1: 15}
    finally:
        fs.rm(root, recursive=True)


def test_large_csv_is_cut_into_blocks_without_losing_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(inspection_module, "BLOCK_SIZE", 512)
    train = table(300, seed=1)
    data = two_regimes(tmp_path, train, table(50, seed=2))
    assert data.frame.npartitions > 5
    got = data.frame.compute()
    got = got[got.regime == 0].drop(columns="regime").reset_index(drop=True)
    np.testing.assert_allclose(got["x"], train["x"])
    assert got["c"].astype(str).tolist() == train["c"].tolist()


def test_validation_is_one_dask_pass(tmp_path, monkeypatch):
    calls = []
    original = dask.compute

    def counting(*args, **kwargs):
        calls.append(len(args))
        return original(*args, **kwargs)

    monkeypatch.setattr(dask, "compute", counting)
    monkeypatch.setattr(inspection_module, "BLOCK_SIZE", 512)
    two_regimes(tmp_path, table(200, seed=1), table(100, seed=2))
    assert len(calls) == 1 and calls[0] > 2


def test_fingerprints_and_summary(tmp_path):
    data = two_regimes(tmp_path, table(20, seed=1), table(10, seed=2))
    train, _ = data.fingerprints
    assert train["regime"] == "train" and train["source"].endswith("train.csv")
    assert train["size"] == (tmp_path / "train.csv").stat().st_size
    assert re.fullmatch(r"[0-9a-f]{64}", train["sha256"])
    assert train["mtime"]
    summary = data.summary["deploy"].as_dict()
    assert summary["rows_read"] == summary["rows_kept"] == 10
    assert summary["dtypes"]["c"] == "category"


# --------------------------------------------------------------------------- options


def test_column_selection_reads_only_those_columns_in_that_order(tmp_path):
    train, deploy = table(20, seed=1), table(20, seed=2)
    train["junk"] = "only in train"
    data = two_regimes(tmp_path, train, deploy, columns=["c", "x"])
    assert data.columns == ("regime", "c", "x")
    assert list(data.frame.compute().columns) == ["regime", "c", "x"]


def test_column_selection_names_the_regime_that_lacks_a_column(tmp_path):
    train, deploy = table(20, seed=1), table(20, seed=2).drop(columns="a")
    message = error_of(
        [
            RegimeSpec("train", write(train, tmp_path / "train.csv")),
            RegimeSpec("deploy", write(deploy, tmp_path / "deploy.csv")),
        ],
        columns=["x", "a"],
    )
    assert "regime 'deploy'" in message and "deploy.csv" in message and "'a'" in message


def test_dtype_overrides(tmp_path):
    train, deploy = table(40, seed=1), table(40, seed=2)
    for frame in (train, deploy):
        frame["yes"] = np.where(frame["a"] > 0, "yes", "no")
        frame["whole"] = frame["a"].astype(float) * 2
    data = two_regimes(
        tmp_path,
        train,
        deploy,
        dtypes={"a": "category", "x": "float", "yes": "bool", "whole": "int"},
    )
    frame = data.frame.compute()
    assert list(frame["a"].cat.categories) == ["0", "1", "2"]
    assert set(frame["yes"]) == {0, 1} and str(frame["yes"].dtype) == "int64"
    assert str(frame["whole"].dtype) == "int64"
    assert data.kinds["a"] == data.kinds["yes"] == "discrete"
    assert data.kinds["x"] == "continuous"
    floats = two_regimes(tmp_path, train, deploy, dtypes={"a": "float"})
    assert floats.kinds["a"] == "continuous" and str(floats.frame.dtypes["a"]) == "float64"


def test_int_override_rejects_fractions(tmp_path):
    message = error_of(
        [
            RegimeSpec("train", write(table(20, seed=1), tmp_path / "train.csv")),
            RegimeSpec("deploy", write(table(20, seed=2), tmp_path / "deploy.csv")),
        ],
        dtypes={"x": "int"},
    )
    assert "'x'" in message and "not a whole number" in message and "regime 'train'" in message


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"missing": "impute"}, "missing-value policy 'impute'"),
        ({"dtypes": {"x": "double"}}, "'double' is not a type"),
        ({"columns": []}, "selects nothing"),
        ({"columns": ["x", "x"]}, "lists 'x' twice"),
        ({"columns": ["regime", "x"]}, "regime column"),
        ({"regime_name": ""}, "regime_name"),
    ],
)
def test_bad_options_are_input_errors(tmp_path, kwargs, needle):
    with pytest.raises(InputError, match=re.escape(needle)):
        two_regimes(tmp_path, table(10, seed=1), table(10, seed=2), **kwargs)


def test_override_for_an_unknown_column(tmp_path):
    with pytest.raises(DataError, match="--dtype, config: dtypes\\) names column 'zz'"):
        two_regimes(tmp_path, table(10, seed=1), table(10, seed=2), dtypes={"zz": "int"})


def test_missing_values_are_dropped_and_counted(tmp_path, caplog):
    train, deploy = table(30, seed=1), table(20, seed=2)
    train.loc[[1, 2, 3], "x"] = np.nan
    train.loc[[3, 4], "c"] = None
    caplog.set_level(logging.INFO, logger="mesalens.connectors")
    data = two_regimes(tmp_path, train, deploy)
    summary = data.summary["train"]
    assert summary.rows_read == 30
    assert summary.rows_dropped == 4
    assert summary.rows_kept == 26
    assert summary.missing == {"x": 3, "a": 0, "c": 2}
    assert data.summary["deploy"].rows_dropped == 0
    assert data.frame.compute()["regime"].value_counts().to_dict() == {0: 26, 1: 20}
    assert "dropped 4 of 30 rows" in caplog.text


def test_missing_values_policy_error(tmp_path):
    train = table(30, seed=1)
    train.loc[5, "a"] = np.nan
    message = error_of(
        [
            RegimeSpec("train", write(train, tmp_path / "train.csv")),
            RegimeSpec("deploy", write(table(20, seed=2), tmp_path / "deploy.csv")),
        ],
        missing="error",
    )
    assert "regime 'train'" in message and "'a'" in message and "train.csv" in message
    assert "1 missing" in message


# --------------------------------------------------------------------------- data errors


def regimes(tmp_path: Path, train: pd.DataFrame, deploy: pd.DataFrame, suffix=".csv"):
    return [
        RegimeSpec("train", write(train, tmp_path / f"train{suffix}")),
        RegimeSpec("deploy", write(deploy, tmp_path / f"deploy{suffix}")),
    ]


def test_error_missing_column(tmp_path):
    message = error_of(regimes(tmp_path, table(10), table(10).drop(columns="a")))
    assert message.startswith("regime 'deploy' (deploy.csv") or "regime 'deploy'" in message
    assert "lacks column 'a'" in message and "train" in message and "deploy.csv" in message


def test_error_extra_column(tmp_path):
    deploy = table(10).assign(extra=1.5)
    message = error_of(regimes(tmp_path, table(10), deploy))
    assert "regime 'deploy'" in message and "has column 'extra'" in message
    assert "deploy.csv" in message and "--columns (config: columns)" in message


def test_error_shards_of_one_regime_disagree(tmp_path):
    write(table(10, seed=1), tmp_path / "train-0.csv")
    write(table(10, seed=2).drop(columns="c"), tmp_path / "train-1.csv")
    specs = [
        RegimeSpec("train", str(tmp_path / "train-*.csv")),
        RegimeSpec("deploy", write(table(10), tmp_path / "deploy.csv")),
    ]
    message = error_of(specs)
    assert "regime 'train'" in message and "train-1.csv" in message and "'c'" in message


def test_error_type_clash(tmp_path):
    deploy = table(10).assign(a=lambda f: f["a"].map({0: "zero", 1: "one", 2: "two"}))
    message = error_of(regimes(tmp_path, table(10), deploy))
    assert "column 'a'" in message and "numbers in" in message and "text in" in message
    assert "regime 'train'" in message and "regime 'deploy'" in message
    assert "train.csv" in message and "deploy.csv" in message


def test_error_empty_regime(tmp_path):
    message = error_of(regimes(tmp_path, table(10), table(10).iloc[:0]))
    assert "regime 'deploy' has no rows" in message and "deploy.csv" in message


def test_error_empty_file(tmp_path):
    (tmp_path / "deploy.csv").write_text("")
    specs = [
        RegimeSpec("train", write(table(10), tmp_path / "train.csv")),
        RegimeSpec("deploy", str(tmp_path / "deploy.csv")),
    ]
    message = error_of(specs)
    assert "regime 'deploy'" in message and "deploy.csv" in message and "empty" in message


def test_error_all_missing_column(tmp_path):
    deploy = table(10).assign(x=np.nan)
    message = error_of(regimes(tmp_path, table(10), deploy, suffix=".parquet"))
    assert "column 'x' is missing in every row of regime 'deploy'" in message
    assert "deploy.parquet" in message


def test_error_constant_column(tmp_path):
    train, deploy = table(10).assign(k=7), table(10).assign(k=7)
    message = error_of(regimes(tmp_path, train, deploy))
    assert "column 'k' is constant" in message and "'7'" in message
    assert "'train'" in message and "'deploy'" in message and "deploy.csv" in message


def test_column_constant_within_each_regime_but_not_pooled_is_fine(tmp_path):
    data = two_regimes(tmp_path, table(10).assign(k=1), table(10).assign(k=2))
    assert data.kinds["k"] == "discrete"


def test_error_unparseable_value(tmp_path):
    train = table(20).astype({"x": object})
    train.loc[7, "x"] = "oops"
    message = error_of(regimes(tmp_path, train, table(10)))
    assert "regime 'train'" in message and "column 'x'" in message
    assert "train.csv" in message and "'oops'" in message and "not a number" in message


def test_error_unparseable_value_beyond_the_sample(tmp_path, monkeypatch):
    monkeypatch.setattr(inspection_module, "SAMPLE_ROWS", 5)
    monkeypatch.setattr(inspection_module, "BLOCK_SIZE", 256)
    train = table(60).astype({"a": object})
    train.loc[50, "a"] = "n/a?"
    message = error_of(regimes(tmp_path, train, table(10)))
    assert "regime 'train'" in message and "column 'a'" in message and "train.csv" in message


@pytest.mark.parametrize(("fmt", "block"), [("csv", None), ("csv", 256), ("tsv", 256)])
@pytest.mark.parametrize("columns", [None, ["x", "c"]])
def test_error_row_with_more_fields_than_the_header(tmp_path, monkeypatch, fmt, block, columns):
    # pandas' usecols drops a row's fields beyond the header silently; whole
    # files, later blocks and a column selection must all say so instead.
    monkeypatch.setattr(inspection_module, "SAMPLE_ROWS", 5)
    if block:
        monkeypatch.setattr(inspection_module, "BLOCK_SIZE", block)
    sep = "," if fmt == "csv" else "\t"
    text = table(60).to_csv(sep=sep, index=False).splitlines()
    text[51] += f"{sep}7{sep}8"  # data row 51
    (tmp_path / f"deploy.{fmt}").write_text("\n".join(text) + "\n")
    specs = [
        RegimeSpec("train", write(table(10), tmp_path / "train.csv")),
        RegimeSpec("deploy", str(tmp_path / f"deploy.{fmt}")),
    ]
    message = error_of(specs, columns=columns)
    assert "regime 'deploy'" in message and f"deploy.{fmt}" in message
    assert "more fields than the header's 3 columns" in message and "'7'" in message
    if block is None:
        assert "data row 51 of" in message


@pytest.mark.parametrize("bad", ['{"x": 1.0, "a": ', "[1, 2, 3]"])
@pytest.mark.parametrize("row", [3, 51])  # inside the reader's sample, and beyond it
def test_error_malformed_json_record_names_its_line(tmp_path, monkeypatch, bad, row):
    monkeypatch.setattr(inspection_module, "SAMPLE_ROWS", 5 if row > 5 else 1000)
    lines = table(60).to_json(orient="records", lines=True).splitlines()
    lines[row - 1] = bad
    (tmp_path / "deploy.jsonl").write_text("\n".join(lines) + "\n")
    specs = [
        RegimeSpec("train", write(table(10), tmp_path / "train.csv")),
        RegimeSpec("deploy", str(tmp_path / "deploy.jsonl")),
    ]
    message = error_of(specs)
    assert message.startswith(f"regime 'deploy': line {row} of ") and "deploy.jsonl" in message
    assert "is not a JSON record" in message
    if bad.startswith("["):
        assert "a JSON list, not an object" in message


def test_error_duplicate_column_names(tmp_path):
    (tmp_path / "deploy.csv").write_text("x,a,c,a\n1.0,1,u,2\n2.0,2,v,1\n")
    specs = [
        RegimeSpec("train", write(table(10), tmp_path / "train.csv")),
        RegimeSpec("deploy", str(tmp_path / "deploy.csv")),
    ]
    message = error_of(specs)
    assert "regime 'deploy'" in message and "deploy.csv" in message
    assert "column 'a' appears twice" in message


def test_error_unnamed_column(tmp_path):
    table(10).to_csv(tmp_path / "deploy.csv")  # writes the index as a nameless column
    specs = [
        RegimeSpec("train", write(table(10), tmp_path / "train.csv")),
        RegimeSpec("deploy", str(tmp_path / "deploy.csv")),
    ]
    message = error_of(specs)
    assert "deploy.csv" in message and "column 1 has no name" in message


def test_error_truncated_parquet(tmp_path):
    path = Path(write(table(50), tmp_path / "deploy.parquet"))
    path.write_bytes(path.read_bytes()[:-100])
    specs = [
        RegimeSpec("train", write(table(10), tmp_path / "train.csv")),
        RegimeSpec("deploy", str(path)),
    ]
    message = error_of(specs)
    assert "regime 'deploy'" in message and "deploy.parquet" in message
    assert "corrupt or not valid Parquet" in message


def test_error_not_gzip(tmp_path):
    (tmp_path / "deploy.csv.gz").write_text("x,a,c\n1.0,1,u\n")
    specs = [
        RegimeSpec("train", write(table(10), tmp_path / "train.csv")),
        RegimeSpec("deploy", str(tmp_path / "deploy.csv.gz")),
    ]
    message = error_of(specs)
    assert "regime 'deploy'" in message and "deploy.csv.gz" in message
    assert "gzip-compressed CSV" in message


def test_error_truncated_gzip_is_caught_during_the_scan(tmp_path):
    raw = gzip.compress(table(3000).to_csv(index=False).encode())
    (tmp_path / "deploy.csv.gz").write_bytes(raw[: len(raw) // 2])
    specs = [
        RegimeSpec("train", write(table(10), tmp_path / "train.csv")),
        RegimeSpec("deploy", str(tmp_path / "deploy.csv.gz")),
    ]
    message = error_of(specs)
    assert "regime 'deploy'" in message and "deploy.csv.gz" in message and "corrupt" in message


def test_error_regime_column_already_in_the_data(tmp_path):
    deploy = table(10).assign(regime="x")
    message = error_of(regimes(tmp_path, table(10).assign(regime="y"), deploy))
    assert "column 'regime' already exists in" in message and "train.csv" in message
    assert "pass a different regime name" in message
    # The deploy rows differ (identical regimes are refused: connectors/distinct.py).
    deploy = table(10).assign(regime="x", x=lambda f: f["x"] + 1)
    data = two_regimes(
        tmp_path, table(10).assign(regime="y"), deploy, regime_name="setting", columns=["x", "a"]
    )
    assert data.columns == ("setting", "x", "a")


def test_error_glob_without_match_and_missing_file(tmp_path):
    deploy = RegimeSpec("deploy", write(table(10), tmp_path / "deploy.csv"))
    pattern = str(tmp_path / "nothing-*.csv")
    message = error_of([RegimeSpec("train", pattern), deploy])
    assert "regime 'train'" in message and "no file matches" in message and pattern in message
    message = error_of([RegimeSpec("train", str(tmp_path / "gone.csv")), deploy])
    assert "no such file or directory" in message and "gone.csv" in message


def test_error_unknown_suffix_asks_for_a_format(tmp_path):
    path = tmp_path / "train.txt"
    table(10).to_csv(path, index=False)
    deploy = RegimeSpec("deploy", write(table(10, seed=3), tmp_path / "deploy.csv"))
    message = error_of([RegimeSpec("train", str(path)), deploy])
    assert "cannot tell the format" in message and "train:csv=" in message
    data = load_regimes([parse_regime_option(f"train:csv={path}"), deploy])
    assert data.summary["train"].rows_read == 10


def test_error_jsonl_record_with_a_new_key(tmp_path, monkeypatch):
    monkeypatch.setattr(inspection_module, "SAMPLE_ROWS", 3)
    lines = [f'{{"x": {i}.5, "a": {i % 2}}}' for i in range(10)] + ['{"x": 1.0, "a": 0, "z": 1}']
    (tmp_path / "deploy.jsonl").write_text("\n".join(lines) + "\n")
    specs = [
        RegimeSpec("train", write(table(10).drop(columns="c"), tmp_path / "train.csv")),
        RegimeSpec("deploy", str(tmp_path / "deploy.jsonl")),
    ]
    message = error_of(specs)
    assert "regime 'deploy'" in message and "deploy.jsonl" in message and "'z'" in message


def test_error_unsupported_column_type(tmp_path):
    train = table(10).assign(when=pd.Timestamp("2024-01-01"))
    deploy = table(10).assign(when=pd.Timestamp("2024-02-01"))
    message = error_of(regimes(tmp_path, train, deploy, suffix=".parquet"))
    assert "column 'when'" in message and "train.parquet" in message and "timestamp" in message


# --------------------------------------------------------------------------- SQL


def sqlite_db(path: Path, tables: dict[str, pd.DataFrame], key: str | None = None) -> str:
    with sqlite3.connect(path) as connection:
        for name, frame in tables.items():
            columns = ", ".join(f'"{c}"' for c in frame.columns)
            if key is not None:
                connection.execute(f'CREATE TABLE "{name}" ({key} INTEGER PRIMARY KEY, {columns})')
            else:
                connection.execute(f'CREATE TABLE "{name}" ({columns})')
            marks = ", ".join("?" for _ in frame.columns)
            connection.executemany(
                f'INSERT INTO "{name}" ({columns}) VALUES ({marks})',
                frame.astype(object).where(frame.notna(), None).itertuples(index=False),
            )
    return f"sqlite:///{path}"


def test_sqlite_table_and_query(tmp_path):
    train, deploy = table(40, seed=1), table(30, seed=2)
    url = sqlite_db(tmp_path / "logs.db", {"train": train, "logs": deploy})
    specs = [
        RegimeSpec("train", f"{url}?table=train"),
        RegimeSpec("deploy", f"{url}?query=SELECT x, a, c FROM logs WHERE a >= 0"),
    ]
    data = load_regimes(specs)
    assert data.summary["train"].format == "sql"
    frame = data.frame.compute()
    assert frame["regime"].value_counts().to_dict() == {0: 40, 1: 30}
    got = sort_rows(frame[frame.regime == 1].drop(columns="regime").astype({"c": str}))
    pd.testing.assert_frame_equal(got, sort_rows(deploy), check_dtype=False)
    assert data.kinds == {"regime": "discrete", "x": "continuous", "a": "discrete", "c": "discrete"}
    assert data.fingerprints[1]["query"] == "SELECT x, a, c FROM logs WHERE a >= 0"


def test_sqlite_primary_key_partitions_and_is_not_a_column(tmp_path, monkeypatch):
    monkeypatch.setattr(inspection_module, "BLOCK_SIZE", 1024)
    train = table(500, seed=1)
    train.loc[[3, 7], "x"] = np.nan
    url = sqlite_db(tmp_path / "logs.db", {"train": train}, key="id")
    specs = [
        RegimeSpec("train", f"{url}?table=train"),
        RegimeSpec("deploy", write(table(20, seed=2), tmp_path / "deploy.parquet")),
    ]
    data = load_regimes(specs)
    assert "id" not in data.columns
    assert data.frame.npartitions > 3
    assert data.summary["train"].rows_dropped == 2
    assert data.fingerprints[0]["rows"] == 500
    got = data.frame.compute()
    got = sort_rows(got[got.regime == 0].drop(columns="regime").astype({"c": str}))
    expected = sort_rows(train.dropna())
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_sql_query_partitioned_by_an_index_column(tmp_path, monkeypatch):
    monkeypatch.setattr(inspection_module, "BLOCK_SIZE", 1024)
    train = table(300, seed=1).assign(step=np.arange(300) * 0.5)
    url = sqlite_db(tmp_path / "logs.db", {"runs": train})
    query = "SELECT step, x, a, c FROM runs"
    specs = [
        RegimeSpec("train", f"{url}?index_col=step&query={query}"),
        RegimeSpec("deploy", write(table(20, seed=2), tmp_path / "deploy.csv")),
    ]
    data = load_regimes(specs)
    assert data.columns == ("regime", "x", "a", "c")
    assert data.frame.npartitions > 3
    assert data.summary["train"].rows_kept == 300


def test_sql_errors(tmp_path):
    url = sqlite_db(tmp_path / "logs.db", {"train": table(10)})
    deploy = RegimeSpec("deploy", write(table(10), tmp_path / "deploy.csv"))
    message = error_of([RegimeSpec("train", f"{url}?table=nope"), deploy])
    assert "regime 'train'" in message and "table 'nope' does not exist" in message
    assert "tables: train" in message
    message = error_of([RegimeSpec("train", url), deploy])
    assert "?table=NAME or ?query=" in message
    message = error_of([RegimeSpec("train", f"sqlite:///{tmp_path}/none.db?table=t"), deploy])
    assert "no such SQLite database file" in message and not (tmp_path / "none.db").exists()
    message = error_of([RegimeSpec("train", f"{url}?query=SELECT nothing FROM train"), deploy])
    assert "regime 'train'" in message and "nothing" in message


def test_sql_credentials_never_appear_in_errors_or_logs(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "Sup3r-s3cret"
    location = f"postgresql+psycopg://reader:{secret}@127.0.0.1:1/db?table=logs"
    deploy = RegimeSpec("deploy", write(table(10), tmp_path / "deploy.csv"))
    message = error_of([RegimeSpec("train", location), deploy])
    assert secret not in message and "reader:***@127.0.0.1:1" in message
    assert secret not in caplog.text


def test_connectors_never_import_downstream_layers():
    downstream = re.compile(r"^\s*(from|import)\s+mesalens\.(pipeline|reports)\b", re.MULTILINE)
    for path in CONNECTORS.glob("*.py"):
        assert not downstream.search(path.read_text()), path.name


@pytest.mark.postgres
def test_postgresql_table_and_query(tmp_path, caplog, monkeypatch):
    url = os.environ.get("MESALENS_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("MESALENS_TEST_POSTGRES_URL is unset in CI: run `make test`")
        pytest.skip("MESALENS_TEST_POSTGRES_URL is unset (`make postgres-start` starts a server)")
    monkeypatch.setattr(inspection_module, "BLOCK_SIZE", 2048)
    caplog.set_level(logging.DEBUG)
    name = f"mesalens_test_{uuid.uuid4().hex[:12]}"
    train, deploy = table(200, seed=1), table(120, seed=2)
    deploy.loc[4, "a"] = None
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    f"CREATE TABLE {name} (id SERIAL PRIMARY KEY, split TEXT, "
                    '"x" DOUBLE PRECISION, "a" INTEGER, "c" TEXT)'
                )
            )
        for split, frame in (("train", train), ("deploy", deploy)):
            frame.assign(split=split).to_sql(name, engine, if_exists="append", index=False)
        specs = [
            RegimeSpec("train", f"{url}?query=SELECT x, a, c FROM {name} WHERE split = 'train'"),
            RegimeSpec("deploy", f"{url}?table={name}"),
        ]
        with pytest.raises(DataError, match="has column 'split'"):
            load_regimes(specs)
        twice = RegimeSpec("twice", f"{url}?query=SELECT x, a AS x FROM {name}")
        with pytest.raises(DataError, match="column 'x' appears twice"):
            load_regimes([twice])
        data = load_regimes(specs, columns=["x", "a", "c"])
        assert data.frame.npartitions > 2  # the table is cut along its primary key
        assert data.summary["deploy"].rows_read == 120 + 200  # the table holds both splits
        assert data.summary["deploy"].rows_dropped == 1
        frame = data.frame.compute()
        got = sort_rows(frame[frame.regime == 0].drop(columns="regime").astype({"c": str}))
        pd.testing.assert_frame_equal(got, sort_rows(train), check_dtype=False)
        assert data.kinds["a"] == "discrete" and data.kinds["x"] == "continuous"
        password = sa.engine.make_url(url).password
        shown = repr(data.summary) + repr(data.fingerprints) + caplog.text
        assert f":{password}@" not in shown and ":***@" in repr(data.fingerprints)
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
        engine.dispose()


def test_parquet_index_saved_by_pandas_is_not_a_column(tmp_path):
    train = table(10).set_axis([f"row{i}" for i in range(10)])
    train.to_parquet(tmp_path / "train.parquet")  # stores the index as __index_level_0__
    specs = [
        RegimeSpec("train", str(tmp_path / "train.parquet")),
        RegimeSpec("deploy", write(table(10, seed=3), tmp_path / "deploy.csv")),
    ]
    assert load_regimes(specs).columns == ("regime", "x", "a", "c")


def test_text_column_missing_throughout_the_sample(tmp_path, monkeypatch):
    monkeypatch.setattr(inspection_module, "SAMPLE_ROWS", 5)
    train = table(30).astype({"c": object})
    train.loc[:9, "c"] = None
    data = two_regimes(tmp_path, train, table(10, seed=3))
    assert data.kinds["c"] == "discrete"
    assert data.summary["train"].rows_dropped == 10


def test_no_regime_at_all():
    with pytest.raises(InputError, match="no regime given"):
        load_regimes([])


def test_percent_encoded_query(tmp_path):
    url = sqlite_db(tmp_path / "logs.db", {"logs": table(20)})
    spec = RegimeSpec("train", f"{url}?query=SELECT%20x%2C%20a%2C%20c%20FROM%20logs")
    data = load_regimes([spec])
    assert data.summary["train"].rows_read == 20
    assert data.fingerprints[0]["query"] == "SELECT x, a, c FROM logs"
