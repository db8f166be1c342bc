"""``mesalens run``'s config validation, ``--format``, ``--dtype`` and its output commit order.

Everything goes through the CLI (click's CliRunner): a wrong config value is
one ``mesalens: error:`` line naming the file, the key and the value, with
exit code 1 and no output folder; ``--format`` reads files whose names say
nothing about their format; ``--dtype`` overrides a column's type, merged with
the config's ``dtypes`` (the command line wins); and ``result.json`` is the
commit marker of an output folder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mesalens.connectors.errors import InputError
from mesalens.reports.checks import runner
from mesalens.reports.cli import cli
from mesalens.reports.jobs.job_file import load_job_file

ROLES = ["--base", "reward", "--mesa", "value", "--decision", "action"]
# Discovery only: the extra evidence is tested elsewhere and costs time here.
FAST = ["--no-direct-test", "--no-sensitivity", "--quiet"]


def frames(rows: int = 400, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Two regimes of a linear agent whose action is int-coded (0..4)."""
    rng = np.random.default_rng(seed)
    out = {}
    for code, name in enumerate(["train", "deploy"]):
        obs = rng.normal(size=rows) + code
        action = np.clip(np.round(obs + 2 + rng.normal(size=rows) * 0.7), 0, 4).astype(int)
        value = 0.9 * action + rng.normal(size=rows)
        reward = 0.9 * value + rng.normal(size=rows)
        out[name] = pd.DataFrame({"obs": obs, "action": action, "value": value, "reward": reward})
    return out


def invoke(args: list[str]):
    result = CliRunner().invoke(cli, ["run", *args])
    # CliRunner turns an uncaught exception into exit code 1 too: demand a clean exit.
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exception,
        result.output,
    )
    return result


def error_line(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mesalens: error: "), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def csv_logs(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("logs")
    paths = {}
    for name, frame in frames().items():
        frame.to_csv(folder / f"{name}.csv", index=False)
        paths[name] = str(folder / f"{name}.csv")
    return paths


def write_config(folder: Path, logs: dict[str, str], line: str) -> Path:
    config = folder / "c.toml"
    config.write_text(
        'base = "reward"\nmesa = "value"\ndecision = "action"\n'
        f"{line}\n"
        f'[regimes]\ntrain = "{logs["train"]}"\ndeploy = "{logs["deploy"]}"\n'
    )
    return config


# --------------------------------------------------------------------------- config values


@pytest.mark.parametrize(
    ("line", "key", "shown", "hint"),
    [
        ('alpha = "high"', "alpha", "'high'", "between 0 and 1"),
        ("alpha = 1.5", "alpha", "1.5", "between 0 and 1"),
        ('max_depth = "deep"', "max_depth", "'deep'", "integer from -1 to 1000"),
        ('seed = "x"', "seed", "'x'", "must be an integer"),
        ("seed = 1.5", "seed", "1.5", "must be an integer"),
        ('dtypes = ["obs"]', "dtypes", "['obs']", "COLUMN = TYPE"),
        ('dtypes = {obs = "weird"}', "dtypes", "'weird'", "category"),
        ("regime_name = 7", "regime_name", "7", "column name"),
        ("scheduler = 5", "scheduler", "5", "tcp://HOST:8786"),
        ("knowledge = 5", "knowledge", "5", "knowledge file path or a [knowledge] table"),
        ("columns = 5", "columns", "5", "list of names"),
        ("policy_inputs = 3", "policy_inputs", "3", "'keep', 'none'"),
        ('test = "foo"', "test", "'foo'", "fisherz"),
        ('format = "xml"', "format", "'xml'", "csv, tsv, parquet, jsonl, sql"),
        ("out = 5", "out", "5", "folder path"),
        ("sensitivity = 1", "sensitivity", "1", "true or false"),
    ],
)
def test_a_wrong_config_value_is_one_line_naming_file_key_and_value(
    tmp_path, csv_logs, line, key, shown, hint
):
    config = write_config(tmp_path, csv_logs, line)
    out = tmp_path / "out"
    # --out would win over the config's `out` (only the values in use are checked).
    given = [] if key == "out" else ["--out", str(out)]
    message = error_line(invoke(["--config", str(config), *given]))
    assert f"config {str(config)!r}: key {key!r}" in message, message
    assert shown in message and hint in message, message
    assert not out.exists()


def test_unknown_config_keys_are_named(tmp_path, csv_logs):
    config = write_config(tmp_path, csv_logs, "aplha = 0.1")
    message = error_line(invoke(["--config", str(config), "--out", str(tmp_path / "o")]))
    assert "'aplha'" in message and "c.toml" in message and "alpha" in message


def test_job_files_and_single_configs_share_the_validator(tmp_path, csv_logs):
    # The same wrong value gives the same words in a job file's check.
    config = write_config(tmp_path, csv_logs, 'alpha = "high"')
    single = error_line(invoke(["--config", str(config), "--out", str(tmp_path / "o")]))
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(
        config.read_text().replace("[regimes]", '[[check]]\nname = "a"\n[check.regimes]')
    )
    with pytest.raises(InputError) as info:
        load_job_file(jobs)
    reason = "key 'alpha' must be a number strictly between 0 and 1, got 'high'"
    assert reason in single and reason in str(info.value)
    assert "check 'a'" in str(info.value)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--test", "foo"], "--test must be one of"),
        (["--format", "xml"], "--format must be one of csv, tsv, parquet, jsonl, sql, got 'xml'"),
        (["--dtype", "action=weird"], "--dtype 'action=weird': 'weird' is not a type"),
        (["--dtype", "action"], "--dtype 'action' is not COLUMN=KIND"),
        (["--dtype", "action=int", "--dtype", "action=float"], "two types"),
        (["--dtype", "nope=float"], "names column 'nope'"),
        (["--stability-threshold", "0.9"], "--stability-threshold applies to the bootstrap"),
    ],
)
def test_a_wrong_option_value_names_the_option(tmp_path, csv_logs, extra, needle):
    out = tmp_path / "out"
    args = ["--regime", f"train={csv_logs['train']}", "--regime", f"deploy={csv_logs['deploy']}"]
    message = error_line(invoke([*args, *ROLES, "--out", str(out), *extra, *FAST]))
    assert needle in message, message
    assert not out.exists() or not any(out.iterdir())


def test_the_command_line_wins_over_a_wrong_config_value(tmp_path, csv_logs):
    # Only the value in use is checked: --test replaces the config's bad one.
    config = write_config(tmp_path, csv_logs, 'test = "foo"\nalpha = 0.05')
    result = invoke(["--config", str(config), "--out", str(tmp_path / "o"), "--test", "dg"])
    assert result.exit_code in (0, 3, 4, 8), result.output
    document = json.loads((tmp_path / "o" / "result.json").read_text())
    assert document["discovery"]["settings"]["alpha"] == 0.05


# --------------------------------------------------------------------------- --format


def test_format_reads_files_whose_names_do_not_tell(tmp_path):
    logs = frames(seed=1)
    logs["train"].to_csv(tmp_path / "train.log", index=False)
    logs["deploy"].to_json(tmp_path / "deploy.data", orient="records", lines=True)
    regimes = ["--regime", f"train={tmp_path / 'train.log'}"]
    regimes += ["--regime", f"deploy:jsonl={tmp_path / 'deploy.data'}"]

    # Without --format the suffix tells nothing: one line saying how to name it.
    message = error_line(invoke([*regimes, *ROLES, "--out", str(tmp_path / "x"), *FAST]))
    assert "cannot tell the format" in message and "train.log" in message
    assert not (tmp_path / "x").exists()

    # --format is the reader of every regime that does not name its own.
    out = tmp_path / "out"
    result = invoke([*regimes, *ROLES, "--format", "CSV", "--out", str(out), *FAST])
    assert result.exit_code in (0, 3, 4, 8), result.output
    document = json.loads((out / "result.json").read_text())
    formats = {r["name"]: r["format"] for r in document["data"]["regimes"]}
    assert formats == {"train": "csv", "deploy": "jsonl"}
    assert [r["rows_kept"] for r in document["data"]["regimes"]] == [400, 400]
    report = (out / "report.html").read_text()
    table = report[report.index('id="regime-table"') :]
    assert "<td>csv</td>" in table and "<td>jsonl</td>" in table


def test_format_in_a_config_overrides_the_suffix(tmp_path):
    # deploy.csv actually holds JSON Lines: `format` wins over the suffix.
    logs = frames(seed=2)
    logs["train"].to_json(tmp_path / "train.data", orient="records", lines=True)
    logs["deploy"].to_json(tmp_path / "deploy.csv", orient="records", lines=True)
    config = write_config(
        tmp_path,
        {"train": str(tmp_path / "train.data"), "deploy": str(tmp_path / "deploy.csv")},
        'format = "jsonl"',
    )
    out = tmp_path / "out"
    result = invoke(["--config", str(config), "--out", str(out), *FAST])
    assert result.exit_code in (0, 3, 4, 8), result.output
    document = json.loads((out / "result.json").read_text())
    assert [r["format"] for r in document["data"]["regimes"]] == ["jsonl", "jsonl"]
    assert "<td>jsonl</td>" in (out / "report.html").read_text()


def test_an_unknown_format_in_a_regime_option_is_one_line(tmp_path, csv_logs):
    args = [
        "--regime",
        f"train:xml={csv_logs['train']}",
        "--regime",
        f"deploy={csv_logs['deploy']}",
    ]
    message = error_line(invoke([*args, *ROLES, "--out", str(tmp_path / "o"), *FAST]))
    assert "regime 'train': unknown format 'xml'" in message and "jsonl" in message


def test_help_documents_format_and_dtype():
    text = " ".join(CliRunner().invoke(cli, ["run", "--help"]).output.split())
    assert "NAME:FORMAT=PATH" in text and "--format FMT" in text
    assert "csv|tsv|parquet|jsonl|sql" in text and "does not name its own" in text
    assert "--dtype COLUMN=KIND" in text and "float|int|category|bool" in text


# --------------------------------------------------------------------------- --dtype


def kinds_in_report(report: str) -> dict[str, str]:
    table = report[report.index('id="distribution-table"') :]
    rows = re.findall(r'<td class="names">([^<]+)</td>\s*<td class="muted">([^<]+)</td>', table)
    return dict(rows)


def test_dtype_option_overrides_the_config_and_the_data(tmp_path, csv_logs):
    # action is int-coded (0..4): read as a discrete integer by default.
    config = write_config(tmp_path, csv_logs, 'dtypes = {action = "category", obs = "float"}')
    runs = {}
    for name, extra in {"config": [], "cli": ["--dtype", "action=float"]}.items():
        out = tmp_path / name
        result = invoke(["--config", str(config), "--out", str(out), *extra, *FAST])
        assert result.exit_code in (0, 3, 4, 8), result.output
        runs[name] = (
            json.loads((out / "result.json").read_text()),
            (out / "report.html").read_text(),
        )

    document, report = runs["config"]
    assert document["data"]["kinds"]["action"] == "discrete"
    assert document["data"]["regimes"][0]["dtypes"]["action"] == "category"
    assert kinds_in_report(report)["action"] == "discrete"

    # --dtype wins for its column; the config's other overrides stay.
    document, report = runs["cli"]
    assert document["data"]["kinds"]["action"] == "continuous"
    assert document["data"]["regimes"][0]["dtypes"]["action"] == "float64"
    assert document["data"]["regimes"][0]["dtypes"]["obs"] == "float64"
    assert kinds_in_report(report)["action"] == "continuous"


# --------------------------------------------------------------------------- commit order


def test_result_json_is_the_commit_marker_of_an_output_folder(tmp_path, csv_logs, monkeypatch):
    out = tmp_path / "out"
    args = ["--regime", f"train={csv_logs['train']}", "--regime", f"deploy={csv_logs['deploy']}"]
    args += [*ROLES, "--out", str(out), *FAST]
    assert invoke(args).exit_code in (0, 3, 4, 8)
    (out / "notes.txt").write_text("mine")

    # The disk fills up after graph.txt is replaced, before report.html is.
    def failing_report(path, html):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(runner, "write_report", failing_report)
    message = error_line(invoke([*args, "--alpha", "0.05"]))
    assert "No space left on device" in message and "report.html" in message
    # No result.json beside a graph of another run; the user's own file stays.
    assert not (out / "result.json").exists()
    assert (out / "graph.txt").is_file() and (out / "notes.txt").read_text() == "mine"

    monkeypatch.undo()
    assert invoke([*args, "--alpha", "0.05"]).exit_code in (0, 3, 4, 8)
    document = json.loads((out / "result.json").read_text())
    assert document["discovery"]["settings"]["alpha"] == 0.05
    assert not list(out.glob(".*.tmp"))
