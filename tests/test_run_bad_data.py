"""Every bad input of ``mesalens run``, through the command line.

Issue 3 asks that each bad input (a missing or extra column, a type clash, an
empty regime, an all-missing column, unparseable values,
duplicate column names, a corrupt file, and the like) gets ONE error line
that names the regime, the file and the column, exit code 1 (README's
exit-code table: "bad input"), no traceback, and that nothing is written.
Each case below builds a small pair of regimes (tens of rows) where one
thing is wrong and runs ``mesalens run`` on it; only the stable parts of the
message are asserted (regime, file, column, the gist), not the wording of
the hint.
"""

from __future__ import annotations

import gzip
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mesalens.reports.cli import cli

MESALENS = str(Path(sys.executable).with_name("mesalens"))
ROWS = 40


def frame(code: int, rows: int = ROWS) -> pd.DataFrame:
    """One regime of a small linear agent (``code`` shifts the observations)."""
    rng = np.random.default_rng(code)
    obs = rng.normal(size=rows) + 1.5 * code
    action = 0.8 * obs + rng.normal(size=rows)
    value = 0.9 * action + rng.normal(size=rows)
    reward = 0.9 * value + rng.normal(size=rows)
    return pd.DataFrame({"obs": obs, "action": action, "value": value, "reward": reward})


def good_csv(folder: Path) -> tuple[str, str]:
    """Well-formed train and deploy CSV files."""
    train, deploy = folder / "train.csv", folder / "deploy.csv"
    frame(0).to_csv(train, index=False)
    frame(1).to_csv(deploy, index=False)
    return str(train), str(deploy)


def with_deploy(write: Callable[[Path], Path]) -> Callable[[Path], tuple[list[str], list[str]]]:
    """A case where the train regime is good and ``write`` builds the deploy source."""

    def build(folder: Path) -> tuple[list[str], list[str]]:
        train, _ = good_csv(folder)
        deploy = write(folder)
        return [f"train={train}", f"deploy={deploy}"], [str(deploy)]

    return build


def with_parquet_train(
    write: Callable[[Path], Path],
) -> Callable[[Path], tuple[list[str], list[str]]]:
    """As :func:`with_deploy`, with the train regime in Parquet."""

    def build(folder: Path) -> tuple[list[str], list[str]]:
        train = folder / "train.parquet"
        frame(0).to_parquet(train)
        deploy = write(folder)
        return [f"train={train}", f"deploy={deploy}"], [str(train), str(deploy)]

    return build


def csv_of(name: str, data: pd.DataFrame | Callable[[], pd.DataFrame]):
    def write(folder: Path) -> Path:
        path = folder / name
        (data() if callable(data) else data).to_csv(path, index=False)
        return path

    return write


def text_file(name: str, text: str | bytes):
    def write(folder: Path) -> Path:
        path = folder / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path

    return write


# ---------------------------------------------------------------- the deploy sources
def _missing_column() -> pd.DataFrame:
    return frame(1).drop(columns="obs")


def _extra_column() -> pd.DataFrame:
    return frame(1).assign(extra=1.0)


def _type_clash() -> pd.DataFrame:
    data = frame(1)
    return data.assign(action=np.where(data["action"] > 0, "hi", "lo"))


def _unparseable_late() -> pd.DataFrame:
    # Past the rows the reader samples to infer types (connectors/file_inspection.py SAMPLE_ROWS).
    data = frame(1, rows=1500).astype({"value": object})
    data.loc[1400, "value"] = "N/A!"
    return data


def _all_missing() -> pd.DataFrame:
    return frame(1).assign(value=np.nan)


def _unparseable() -> pd.DataFrame:
    data = frame(1).astype({"value": object})
    data.loc[ROWS // 2, "value"] = "N/A!"
    return data


def _every_row_incomplete() -> pd.DataFrame:
    data = frame(1)
    data.loc[data.index % 2 == 0, "obs"] = np.nan
    data.loc[data.index % 2 == 1, "value"] = np.nan
    return data


def _duplicate_header(folder: Path) -> Path:
    path = folder / "deploy_dup.csv"
    lines = frame(1).to_csv(index=False).splitlines()
    lines[0] = "obs,action,value,action"
    path.write_text("\n".join(lines) + "\n")
    return path


def ragged_row(rows: int, row: int) -> Callable[[Path], Path]:
    """A CSV whose data row ``row`` has two fields more than the header."""

    def write(folder: Path) -> Path:
        path = folder / "deploy_ragged.csv"
        lines = frame(1, rows=rows).to_csv(index=False).splitlines()
        lines[row] += ",7,8"
        path.write_text("\n".join(lines) + "\n")
        return path

    return write


def _parquet_type_clash(folder: Path) -> Path:
    path = folder / "deploy.parquet"
    data = frame(1)
    data.assign(action=np.where(data["action"] > 0, "hi", "lo")).to_parquet(path)
    return path


def _truncated_parquet_shard(folder: Path) -> Path:
    # Three shards, the last one cut in half: the message must name that shard.
    shards = folder / "deploy"
    shards.mkdir()
    data = frame(1)
    for i in range(3):
        data.iloc[i * 10 : (i + 1) * 10].to_parquet(shards / f"part-{i}.parquet")
    broken = shards / "part-2.parquet"
    whole = broken.read_bytes()
    broken.write_bytes(whole[: len(whole) // 2])
    return broken


def _garbage_parquet(folder: Path) -> Path:
    path = folder / "deploy.parquet"
    path.write_bytes(b"this is not parquet at all\n" * 10)
    return path


def _truncated_gzip_csv(folder: Path) -> Path:
    path = folder / "deploy.csv.gz"
    whole = gzip.compress(frame(1, rows=400).to_csv(index=False).encode())
    path.write_bytes(whole[: len(whole) // 2])
    return path


def _malformed_jsonl(folder: Path) -> Path:
    path = folder / "deploy.jsonl"
    lines = frame(1).to_json(orient="records", lines=True).splitlines()
    lines[ROWS // 2] = '{"obs": 1.0, "action": 2.0, "value": '
    path.write_text("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------- cases with their own shape
def truncated_parquet(folder: Path) -> tuple[list[str], list[str]]:
    train, _ = good_csv(folder)
    broken = _truncated_parquet_shard(folder)
    return [f"train={train}", f"deploy={broken.parent / '*.parquet'}"], [str(broken)]


def bad_sql_table(folder: Path) -> tuple[list[str], list[str]]:
    database = folder / "logs.db"
    with sqlite3.connect(database) as connection:
        frame(0).to_sql("train", connection, index=False)
        frame(1).to_sql("deploy", connection, index=False)
    connection.close()
    good = f"sqlite:///{database}?table=train"
    bad = f"sqlite:///{database}?table=nope"
    return [f"train={good}", f"deploy={bad}"], [str(database), "nope"]


def same_regime_twice(folder: Path) -> tuple[list[str], list[str]]:
    train, deploy = good_csv(folder)
    return [f"train={train}", f"train={deploy}"], [train, deploy]


def single_regime(folder: Path) -> tuple[list[str], list[str]]:
    train, _ = good_csv(folder)
    return [f"train={train}"], []


def knowledge_case(text: str) -> Callable[[Path], tuple[list[str], list[str]]]:
    def build(folder: Path) -> tuple[list[str], list[str]]:
        train, deploy = good_csv(folder)
        knowledge = folder / "bad.knowledge"
        knowledge.write_text(text)
        return [f"train={train}", f"deploy={deploy}", "--knowledge", str(knowledge)], [
            str(knowledge)
        ]

    return build


# (build, words): build(folder) writes the sources and returns the --regime values and
# the files the error line must name; words are what else the line must hold (regimes
# quoted, as the messages quote them, so that a file name alone does not count).
CASES = [
    pytest.param(
        with_deploy(csv_of("deploy_missing.csv", _missing_column)),
        ["'deploy'", "obs", "'train'"],
        id="missing-column",
    ),
    pytest.param(
        with_deploy(csv_of("deploy_extra.csv", _extra_column)),
        ["'deploy'", "extra"],
        id="extra-column",
    ),
    pytest.param(
        with_deploy(csv_of("deploy_clash.csv", _type_clash)),
        ["'deploy'", "'train'", "action"],
        id="type-clash",
    ),
    pytest.param(
        with_deploy(csv_of("deploy_empty.csv", frame(1).iloc[:0])),
        ["'deploy'", "rows"],
        id="empty-regime",
    ),
    pytest.param(
        with_deploy(csv_of("deploy_allnan.csv", _all_missing)),
        ["'deploy'", "value", "missing"],
        id="all-missing-column",
    ),
    pytest.param(
        with_deploy(csv_of("deploy_unparse.csv", _unparseable)),
        ["'deploy'", "value", "N/A!"],
        id="unparseable-value",
    ),
    pytest.param(
        with_deploy(csv_of("deploy_unparse_late.csv", _unparseable_late)),
        ["'deploy'", "value", "N/A!"],
        id="unparseable-value-past-the-type-sample",
    ),
    pytest.param(
        with_parquet_train(_parquet_type_clash), ["'deploy'", "action"], id="type-clash-parquet"
    ),
    pytest.param(with_deploy(_duplicate_header), ["'deploy'", "action"], id="duplicate-column"),
    pytest.param(
        with_deploy(ragged_row(ROWS, ROWS // 2)),
        ["'deploy'", "fields"],
        id="row-longer-than-header",
    ),
    pytest.param(
        with_deploy(ragged_row(1500, 1400)),
        ["'deploy'", "fields"],
        id="row-longer-than-header-past-the-type-sample",
    ),
    pytest.param(truncated_parquet, ["'deploy'", "Parquet"], id="truncated-parquet"),
    pytest.param(with_deploy(_garbage_parquet), ["'deploy'", "Parquet"], id="garbage-parquet"),
    pytest.param(with_deploy(_truncated_gzip_csv), ["'deploy'", "gzip"], id="truncated-csv-gz"),
    pytest.param(
        with_deploy(_malformed_jsonl),
        ["'deploy'", f"line {ROWS // 2 + 1} of", "not a JSON record"],
        id="malformed-jsonl",
    ),
    pytest.param(
        with_deploy(csv_of("deploy_alldrop.csv", _every_row_incomplete)),
        ["'deploy'", "obs", "row"],
        id="every-row-dropped",
    ),
    pytest.param(bad_sql_table, ["'deploy'", "'nope'", "does not exist"], id="sql-table"),
    pytest.param(same_regime_twice, ["'train'", "twice"], id="same-regime-twice"),
    pytest.param(single_regime, ["two regimes"], id="single-regime"),
    pytest.param(
        knowledge_case("/knowledge\nforbiddirect\nobs value\nbogus line here\n"),
        ["line 4", "forbiddirect"],
        id="knowledge-malformed-line",
    ),
    pytest.param(
        knowledge_case("/knowledge\naddtemporal\n1 obs\n1 action\n"),
        ["line 4", "tier 1"],
        id="knowledge-tier-twice",
    ),
    pytest.param(
        knowledge_case("/knowledge\nforbiddirect\nobs zzz\n"),
        ["'zzz'"],
        id="knowledge-unknown-variable",
    ),
    pytest.param(
        knowledge_case("/knowledge\nrequiredirect\nvalue regime\n"),
        ["value", "regime"],
        id="knowledge-required-into-regime",
    ),
]


def run_cli(args: list[str]):
    return CliRunner().invoke(cli, args)


def role_args(out: Path) -> list[str]:
    return [
        "--base",
        "reward",
        "--mesa",
        "value",
        "--decision",
        "action",
        "--policy-inputs",
        "obs",
        "--no-direct-test",
        "--no-sensitivity",
        "--quiet",
        "--out",
        str(out),
    ]


def regime_args(sources: list[str]) -> list[str]:
    args: list[str] = []
    for item in sources:
        if item.startswith("--") or (args and args[-1] == "--knowledge"):
            args.append(item)
        else:
            args += ["--regime", item]
    return args


@pytest.mark.parametrize(("build", "words"), CASES)
def test_bad_input_is_one_line_naming_regime_file_and_column_and_writes_nothing(
    tmp_path, build, words
):
    sources, named_files = build(tmp_path)
    out = tmp_path / "out"
    result = run_cli(["run", *regime_args(sources), *role_args(out)])

    assert result.exit_code == 1, result.output
    # A bad input ends in ctx.exit(1); any other exception would be a traceback.
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("mesalens: error: ")
    assert "Traceback" not in line
    for word in words:
        assert word in line, (word, line)
    for path in named_files:
        # Files as given on the command line (SQLite: the database path, and the table).
        assert path in line, (path, line)
    assert not out.exists()


def test_the_executable_prints_one_line_without_traceback(tmp_path):
    # The same contract from the real console script (stderr, exit status).
    sources, (broken,) = truncated_parquet(tmp_path)
    out = tmp_path / "out"
    result = subprocess.run(
        [MESALENS, "run", *regime_args(sources), *role_args(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("mesalens: error: ")
    assert "'deploy'" in result.stderr and broken in result.stderr
    assert not out.exists()
