"""Values that are not missing, and rows dropped out loud (issue 15, item 6).

The case is the bnlearn *insurance* network (pgmpy ships it): its
``Accident`` has a state named ``None``. Written as CSV, that state must stay
a value; only ``--na-values None`` makes it missing, and then the rows lost
are a warning on the terminal and in the report, and ``result.json`` says the
verdict concerns the rows kept.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mesalens.reports.cli import cli

COLUMNS = ["Age", "RiskAversion", "DrivingSkill", "DrivQuality", "Accident", "MedCost"]
ROLES = ["--base", "MedCost", "--mesa", "Accident", "--decision", "DrivQuality"]


@pytest.fixture(scope="module")
def insurance() -> dict[str, pd.DataFrame]:
    """Two regimes of the insurance network; deployment has more adolescent drivers."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pgmpy's own deprecation notices
        from pgmpy.sampling import BayesianModelSampling
        from pgmpy.utils import get_example_model

        model = get_example_model("insurance")
        sampler = BayesianModelSampling(model)
        train = sampler.forward_sample(size=3000, seed=1, show_progress=False)
        pool = sampler.forward_sample(size=9000, seed=2, show_progress=False)
    # Age is a root: keeping its rows unevenly shifts P(Age) and nothing else.
    rng = np.random.default_rng(3)
    keep = (pool["Age"] == "Adolescent") | (rng.random(len(pool)) < 0.25)
    deploy = pool[keep].head(3000)
    return {"train": train[COLUMNS].reset_index(drop=True),
            "deploy": deploy[COLUMNS].reset_index(drop=True)}  # fmt: skip


def run(regimes: dict[str, Path], out: Path, *extra: str):
    args = ["run"]
    for name, path in regimes.items():
        args += ["--regime", f"{name}={path}"]
    result = CliRunner().invoke(
        cli, [*args, *ROLES, "--no-direct-test", "--no-sensitivity", "--out", str(out), *extra]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result


def write(frames: dict[str, pd.DataFrame], folder: Path, suffix: str) -> dict[str, Path]:
    paths = {}
    for name, frame in frames.items():
        path = folder / f"{name}.{suffix}"
        if suffix == "csv":
            frame.to_csv(path, index=False)
        else:
            frame.astype(str).to_parquet(path)
        paths[name] = path
    return paths


def test_none_in_a_text_column_is_a_value_as_in_parquet(insurance, tmp_path):
    assert (insurance["train"]["Accident"] == "None").mean() > 0.5  # the case is real
    csv_out, parquet_out = tmp_path / "csv", tmp_path / "parquet"
    from_csv = run(write(insurance, tmp_path, "csv"), csv_out)
    from_parquet = run(write(insurance, tmp_path, "parquet"), parquet_out)
    assert from_csv.exit_code in (0, 3, 4, 5, 8), from_csv.output
    assert "warning:" not in from_csv.stderr
    document = json.loads((csv_out / "result.json").read_text())
    for summary in document["data"]["regimes"]:
        assert summary["rows_dropped"] == 0
        assert summary["rows_read"] == len(insurance[summary["name"]])
    assert document["data"]["warnings"] == []
    # The same data as Parquet strings: the same rows, class and verdict.
    other = json.loads((parquet_out / "result.json").read_text())
    assert from_parquet.exit_code == from_csv.exit_code
    assert other["verdict"] == document["verdict"]
    assert other["learned_graph"] == document["learned_graph"]


def test_na_values_none_drops_the_rows_out_loud(insurance, tmp_path):
    out = tmp_path / "out"
    result = run(write(insurance, tmp_path, "csv"), out, "--na-values", "None")
    assert result.exit_code in (0, 3, 4, 5, 8), result.output
    document = json.loads((out / "result.json").read_text())
    data = document["data"]
    assert data["na_values"] == ["None"]
    for name, frame in insurance.items():
        lost = int((frame["Accident"] == "None").sum())
        entry = data["rows_kept"]["dropped"][name]
        assert entry["rows_dropped"] == lost and entry["columns"] == {"Accident": lost}
        share = f"{lost / len(frame):.1%}"
        line = next(
            w for w in result.stderr.splitlines() if w.startswith(f"warning: regime {name!r}")
        )
        assert f"{lost:,} of {len(frame):,} rows ({share})" in line and "'Accident'" in line
        assert any(f"{lost:,} of {len(frame):,}" in w for w in data["warnings"])
    assert "selects a sub-population" in data["rows_kept"]["statement"]
    assert "the verdict concerns the rows kept" in data["rows_kept"]["statement"].lower()
    report = (out / "report.html").read_text()
    assert report.count("Data warning:") == 2


def test_numeric_columns_keep_the_usual_missing_tokens_and_one_percent_is_quiet(tmp_path):
    rng = np.random.default_rng(0)
    frames = {}
    for code, name in enumerate(("train", "deploy")):
        x = rng.normal(size=400) + code
        frame = pd.DataFrame({"x": x, "y": x + rng.normal(size=400), "z": rng.normal(size=400)})
        frame = frame.astype(object)
        frame.loc[:3, "y"] = "NA"  # 4 of 400 rows: 1%, not more than 1%
        if name == "train":
            frame.loc[4:5, "z"] = "null"  # 6 of 400: 1.5%
        frames[name] = frame
    paths = {}
    for name, frame in frames.items():
        paths[name] = tmp_path / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    out = tmp_path / "out"
    args = ["run", *(a for n, p in paths.items() for a in ("--regime", f"{n}={p}"))]
    roles = "--base y --mesa x --decision z --no-direct-test --no-sensitivity".split()
    result = CliRunner().invoke(cli, [*args, *roles, "--out", str(out)])
    assert result.exit_code in (0, 3, 4, 5, 8), result.output
    data = json.loads((out / "result.json").read_text())["data"]
    assert data["rows_kept"]["dropped"]["train"]["columns"] == {"y": 4, "z": 2}
    assert data["rows_kept"]["dropped"]["deploy"]["rows_dropped"] == 4
    # 6 of 400 rows (1.5%) is a warning naming both columns; 4 of 400 (1%) is not.
    lines = [w for w in result.stderr.splitlines() if w.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("warning: regime 'train'")
    assert "'y' (4)" in lines[0] and "'z' (2)" in lines[0]


def test_na_values_in_a_config_and_a_bad_one(tmp_path, insurance):
    paths = write({k: v.head(300) for k, v in insurance.items()}, tmp_path, "csv")
    config = tmp_path / "run.toml"
    config.write_text("na_values = 7\n")
    out = tmp_path / "out"
    result = run(paths, out, "--config", str(config))
    assert result.exit_code == 1
    assert result.stderr.startswith("mesalens: error:") and "na_values" in result.stderr
    assert result.stderr.count("\n") == 1 and not out.exists()
    config.write_text('na_values = ["None"]\n')
    result = run(paths, out, "--config", str(config))
    assert result.exit_code in (0, 3, 4, 5, 8), result.output
    assert json.loads((out / "result.json").read_text())["data"]["na_values"] == ["None"]
