"""The data files of ``mesalens run``: hostile names, folders and headers (issue 14).

Each case goes through the command line. A bad input is ONE ``mesalens:
error:`` line, exit code 1 and nothing written; anything else is a valid run
with every output. The classes with a generator (CSV headers) get a
hypothesis test.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesalens.pipeline.formats import read_graph
from mesalens.reports.cli import cli

MESALENS = str(Path(sys.executable).with_name("mesalens"))
OUTPUTS = {"result.json", "graph.txt", "graph.json", "report.html"}


def frame(code: int, rows: int = 60) -> pd.DataFrame:
    """One regime of a small linear agent (``code`` shifts the observations)."""
    rng = np.random.default_rng(code)
    obs = rng.normal(size=rows) + 1.5 * code
    action = 0.8 * obs + rng.normal(size=rows)
    value = 0.9 * action + rng.normal(size=rows)
    reward = 0.9 * value + rng.normal(size=rows)
    return pd.DataFrame({"obs": obs, "action": action, "value": value, "reward": reward})


def roles(out: Path, decision: str = "action") -> list[str]:
    return [
        "--base", "reward", "--mesa", "value", "--decision", decision,
        "--no-direct-test", "--no-sensitivity", "--out", str(out),
    ]  # fmt: skip


def invoke(args: list[str]):
    result = CliRunner().invoke(cli, ["run", *args])
    # A bad input ends in ctx.exit(1); any other exception would be a traceback.
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result


def assert_one_line(result, out: Path, *words: str) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mesalens: error: ")
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert not out.exists()
    return lines[0]


# --------------------------------------------------------------------------- file names


def test_a_data_file_name_that_is_not_utf8_is_refused_up_front(tmp_path):
    frame(0).to_csv(tmp_path / "train.csv", index=False)
    odd = os.fsdecode(b"dep\xffloy.csv")
    frame(1).to_csv(tmp_path / odd, index=False)
    out = tmp_path / "out"
    # Named directly, and matched by a glob.
    for deploy in (str(tmp_path / odd), str(tmp_path / "dep*.csv")):
        result = invoke(["--regime", f"train={tmp_path / 'train.csv'}", "--regime",
                         f"deploy={deploy}", *roles(out)])  # fmt: skip
        line = assert_one_line(result, out, "'deploy'", "UTF-8", "rename")
        assert "dep\\xffloy" in line


def test_a_hive_folder_name_that_is_not_utf8_is_refused(tmp_path):
    frame(0).to_csv(tmp_path / "train.csv", index=False)
    folder = tmp_path / "deploy" / os.fsdecode(b"day=\xe9t\xe9")
    folder.mkdir(parents=True)
    with (folder / "part-0.parquet").open("wb") as handle:  # pyarrow wants UTF-8 paths
        frame(1).to_parquet(handle)
    out = tmp_path / "out"
    result = invoke(["--regime", f"train={tmp_path / 'train.csv'}", "--regime",
                     f"deploy={tmp_path / 'deploy'}", *roles(out)])  # fmt: skip
    assert_one_line(result, out, "'deploy'", "UTF-8", "day=\\xe9t\\xe9")


# --------------------------------------------------------------------------- unreadable folders


def _as_nobody() -> list[str]:
    """The prefix that runs a command as the unprivileged user ``nobody``."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to run mesalens as the user nobody")
    return [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


@pytest.fixture
def shared_folder():
    """A folder that the user nobody can enter (pytest's tmp_path is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="mesalens-perm-"))
    folder.chmod(0o755)
    yield folder
    for path in (folder, *folder.rglob("*")):
        if path.is_dir():
            path.chmod(0o755)
    shutil.rmtree(folder)


@pytest.mark.parametrize(
    ("location", "locked", "mode"),
    [
        ("locked/*.csv", "locked", 0o700),  # a glob's folder
        ("locked", "locked", 0o700),  # a hive folder
        ("logs/*/*.csv", "logs/b", 0o700),  # a folder the glob descends into
        ("logs", "logs/b", 0o700),  # a sub-folder of a hive folder
        ("locked/deploy.csv", "locked/deploy.csv", 0o600),  # the file itself
    ],
)
def test_an_unreadable_folder_or_file_is_named_as_such(shared_folder, location, locked, mode):
    prefix = _as_nobody()
    frame(0).to_csv(shared_folder / "train.csv", index=False)
    for folder in ("locked", "logs/a", "logs/b"):
        (shared_folder / folder).mkdir(parents=True)
        frame(1).to_csv(shared_folder / folder / "deploy.csv", index=False)
    for path in shared_folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    (shared_folder / locked).chmod(mode)
    out = shared_folder / "out"
    result = subprocess.run(
        [*prefix, MESALENS, "run", "--regime", f"train={shared_folder / 'train.csv'}",
         "--regime", f"deploy={shared_folder / location}", *roles(out)],
        capture_output=True, text=True, timeout=120, cwd=shared_folder,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    line = result.stderr
    assert line.startswith("mesalens: error: regime 'deploy'")
    assert "permission denied" in line and locked in line, line
    assert "check the pattern" not in line and "no data files" not in line
    assert not out.exists()


# --------------------------------------------------------------------------- names in the outputs


def _two_csv(folder: Path, rename: dict[str, str]) -> list[str]:
    args = []
    for code, regime in enumerate(("train", "deploy")):
        path = folder / f"{regime}.csv"
        frame(code).rename(columns=rename).to_csv(path, index=False)
        args += ["--regime", f"{regime}={path}"]
    return args


def test_a_quoted_comma_and_quotes_in_a_header_name_are_a_column_name(tmp_path):
    out = tmp_path / "out"
    result = invoke([*_two_csv(tmp_path, {"obs": "o, bs", "action": 'a "quoted", act'}),
                     *roles(out, decision='"a ""quoted"", act"')])  # fmt: skip
    assert result.exit_code in (0, 3, 4, 5, 8), result.output
    assert {p.name for p in out.iterdir()} == OUTPUTS
    document = json.loads((out / "result.json").read_text())
    assert "o, bs" in document["data"]["kinds"]
    assert set(read_graph(out / "graph.json").nodes) == {
        "regime", "o, bs", 'a "quoted", act', "value", "reward"
    }  # fmt: skip


def test_a_quoted_newline_in_a_header_name_is_one_line_naming_the_column(tmp_path):
    # No output (graph files, report, terminal) can hold the name as it is, and
    # check-graph would refuse the graph.json: refused before the analysis.
    out = tmp_path / "out"
    result = invoke([*_two_csv(tmp_path, {"obs": "o\nbs"}), *roles(out)])
    assert_one_line(result, out)
    assert "column 'o\\nbs' holds the control character U+000A" in result.stderr


@pytest.mark.parametrize("name", ["act;ion", "act ion", "(action)", " action", "act%3Bion"])
def test_a_name_tetrad_cannot_hold_is_escaped_in_graph_txt_and_kept_in_graph_json(tmp_path, name):
    out = tmp_path / "out"
    # A column besides the roles (role options strip the spaces around a name).
    result = invoke([*_two_csv(tmp_path, {"obs": name}), *roles(out)])
    assert result.exit_code in (0, 3, 4, 5, 8), result.output
    assert {p.name for p in out.iterdir()} == OUTPUTS
    text = (out / "graph.txt").read_text()
    json_graph = read_graph(out / "graph.json")
    assert name in json_graph.nodes
    tetrad = read_graph(out / "graph.txt")  # check-graph reads it back, comment and all
    document = json.loads((out / "result.json").read_text())
    escaped = document["graph_files"]["escaped_names"]
    if name in ("act%3Bion", "act ion"):  # names Tetrad holds: as they are, no comment
        assert not text.startswith("#") and escaped == {}
        assert name in tetrad.nodes
    else:
        assert text.startswith("# mesalens: node names escaped")
        assert escaped[name] in tetrad.nodes and name not in tetrad.nodes
    # The same edges, whatever the spelling.
    assert tetrad.number_of_edges() == json_graph.number_of_edges()


def test_the_escaped_graph_reads_in_causal_learn(tmp_path):
    from causallearn.utils.TXT2GeneralGraph import txt2generalgraph

    out = tmp_path / "out"
    result = invoke([*_two_csv(tmp_path, {"action": "act;ion"}),
                     *roles(out, decision="act;ion")])  # fmt: skip
    assert result.exit_code in (0, 3, 4, 5, 8), result.output
    graph = txt2generalgraph(str(out / "graph.txt"))
    assert "act%3Bion" in [node.get_name() for node in graph.get_nodes()]


# --------------------------------------------------------------------------- the class: CSV headers

NAME_CHARS = st.sampled_from(
    [*list("ab\"\n\r,; \t()[]%#=\\'"), "é", "é", "漢", "\xa0", "\u2028", "\x00", "\ufeff"]
)
NAMES = st.lists(NAME_CHARS, max_size=5).map("".join)


def _toml(text: str) -> str:
    return json.dumps(text).replace("\x7f", "\\u007f")


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    extra=st.lists(NAMES, max_size=3),
    decision=NAMES,
    duplicate=st.booleans(),
)
def test_random_csv_header_names_give_a_run_or_one_line(
    tmp_path_factory, extra, decision, duplicate
):
    folder = tmp_path_factory.mktemp("header")
    names = ["obs", decision or "action", "value", "reward", *extra]
    if duplicate:
        names.append(names[1])
    out = folder / "out"
    regimes = []
    for code, regime in enumerate(("train", "deploy")):
        data = frame(code)
        rng = np.random.default_rng(code + 10)
        columns = [data[c].to_numpy() for c in ("obs", "action", "value", "reward")]
        columns += [rng.normal(size=len(data)) for _ in names[4:]]
        path = folder / f"{regime}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(names)
            writer.writerows(zip(*columns, strict=True))
        regimes.append(f"{regime} = {_toml(str(path))}")
    config = folder / "run.toml"
    config.write_text(
        f'base = "reward"\nmesa = "value"\ndecision = [{_toml(names[1])}]\n'
        f"sensitivity = false\ndirect_test = false\nout = {_toml(str(out))}\n"
        f"[regimes]\n" + "\n".join(regimes) + "\n",
        encoding="utf-8",
    )
    result = invoke(["--config", str(config), "--quiet"])
    if result.exit_code == 1:
        assert_one_line(result, out)
        return
    assert result.exit_code in (0, 3, 4, 5, 8), result.output
    assert {p.name for p in out.iterdir()} == OUTPUTS
    nodes = read_graph(out / "graph.json").nodes
    assert set(nodes) == {"regime", *names}
    read_graph(out / "graph.txt")


# --------------------------------------------------------------------------- advice that works


def _typed_regimes(folder: Path, extra: dict[str, object]) -> list[str]:
    """Parquet regimes of the small agent plus ``extra``: name -> (pyarrow array per regime)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    args = []
    for code, regime in enumerate(("train", "deploy")):
        table = pa.Table.from_pandas(frame(code), preserve_index=False)
        for name, make in extra.items():
            table = table.append_column(name, make(code, table.num_rows))
        path = folder / f"{regime}.parquet"
        pq.write_table(table, path)
        args += ["--regime", f"{regime}={path}"]
    return args


def _nested(kind: str):
    import pyarrow as pa

    def make(code: int, rows: int):
        if kind == "list":
            return pa.array([[i, code] for i in range(rows)])
        if kind == "struct":
            return pa.array([{"a": i, "b": "x"} for i in range(rows)])
        return pa.array([[("k", i)] for i in range(rows)], type=pa.map_(pa.string(), pa.int64()))

    return make


@pytest.mark.parametrize("kind", ["list", "struct", "map"])
def test_a_nested_column_is_left_out_with_a_note_and_each_refusal_has_advice_that_works(
    tmp_path, kind
):
    regimes = _typed_regimes(tmp_path, {"nested": _nested(kind)})
    out = tmp_path / "out"
    result = invoke([*regimes, *roles(out)])
    assert result.exit_code in (0, 3, 4, 5, 8), result.output
    assert "note: column 'nested' was left out" in result.stderr
    document = json.loads((out / "result.json").read_text())
    assert "nested" not in document["data"]["columns"]
    assert any("'nested' was left out" in note for note in document["data"]["notes"])
    assert "Data note: column &#39;nested&#39; was left out" in (out / "report.html").read_text()
    shutil.rmtree(out)

    # Named by a type override: the advice is to remove it, which is a valid run.
    for dtype in ("float", "category"):
        line = assert_one_line(
            invoke([*regimes, *roles(out), "--dtype", f"nested={dtype}"]), out, "'nested'"
        )
        assert f"remove --dtype nested={dtype}" in line
    # Named by --columns: the advice is to leave it out of them, which is a valid run.
    chosen = "obs,action,value,reward"
    line = assert_one_line(
        invoke([*regimes, *roles(out), "--columns", f"{chosen},nested"]), out, "'nested'"
    )
    assert "leave it out of --columns" in line
    assert invoke([*regimes, *roles(out), "--columns", chosen]).exit_code in (0, 3, 4, 5, 8)
    shutil.rmtree(out)
    # A role: nothing in mesalens turns it into a variable; the advice is to flatten it.
    line = assert_one_line(
        invoke([*regimes, "--base", "nested", "--mesa", "value", "--decision", "action",
                "--out", str(out)]), out, "'nested'", "--base", "flatten",
    )  # fmt: skip
    assert "--dtype" not in line


def test_json_lines_arrays_and_objects_are_nested_columns_too(tmp_path):
    args = []
    for code, regime in enumerate(("train", "deploy")):
        data = frame(code)
        data["tags"] = [[int(i), "a"] for i in range(len(data))]
        data["meta"] = [{"seed": int(i)} for i in range(len(data))]
        path = tmp_path / f"{regime}.jsonl"
        data.to_json(path, orient="records", lines=True)
        args += ["--regime", f"{regime}={path}"]
    out = tmp_path / "out"
    result = invoke([*args, *roles(out)])
    assert result.exit_code in (0, 3, 4, 5, 8), result.output
    assert "'tags' was left out" in result.stderr and "'meta' was left out" in result.stderr


def _temporal(kind: str):
    import datetime

    import pyarrow as pa

    start = datetime.datetime(2024, 1, 1)

    def make(code: int, rows: int):
        if kind == "timestamp":
            return pa.array(
                [start + datetime.timedelta(minutes=i * (code + 1)) for i in range(rows)]
            )
        if kind == "date":
            return pa.array([start.date() + datetime.timedelta(days=i + code) for i in range(rows)])
        if kind == "duration":
            return pa.array([datetime.timedelta(seconds=i * (code + 2)) for i in range(rows)])
        return pa.array([bytes([i % 3, 7]) for i in range(rows)], type=pa.binary(2))

    return make


@pytest.mark.parametrize(
    ("kind", "advice"),
    [("timestamp", "float"), ("date", "float"), ("duration", "float"), ("binary", "category")],
)
def test_following_the_advice_for_an_unusable_type_gives_a_run(tmp_path, kind, advice):
    regimes = _typed_regimes(tmp_path, {"stamp": _temporal(kind)})
    out = tmp_path / "out"
    line = assert_one_line(invoke([*regimes, *roles(out)]), out, "'stamp'")
    assert f"--dtype stamp={advice}" in line
    result = invoke([*regimes, *roles(out), "--dtype", f"stamp={advice}"])
    assert result.exit_code in (0, 3, 4, 5, 8), result.output


def test_a_text_column_with_too_many_levels_is_not_told_to_be_continuous(tmp_path):
    args = []
    for code, regime in enumerate(("train", "deploy")):
        data = frame(code, rows=300)
        data["user"] = [f"user-{i}-{code}" for i in range(len(data))]
        path = tmp_path / f"{regime}.csv"
        data.to_csv(path, index=False)
        args += ["--regime", f"{regime}={path}"]
    out = tmp_path / "out"
    line = assert_one_line(invoke([*args, *roles(out)]), out, "'user'", "--columns")
    assert "continuous" in line and "cannot be continuous" in line
    assert "--dtype user=float" not in line


@settings(max_examples=200, deadline=None, derandomize=True)
@given(rows=st.lists(st.lists(NAMES, min_size=1, max_size=4), min_size=1, max_size=6))
def test_record_boundaries_are_those_of_the_csv_module(rows):
    from mesalens.connectors.csv_text import complete_records, record_end

    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    ends = []
    for row in rows:
        writer.writerow(row)
        ends.append(len(buffer.getvalue().encode("utf-8")))
    data = buffer.getvalue().encode("utf-8")
    assert record_end(data) == ends[0]
    assert complete_records(data) == data
    # Cut anywhere: what is kept is whole records (a last line may lack its break).
    for cut in range(0, len(data), max(1, len(data) // 7)):
        kept = complete_records(data[:cut])
        assert kept == data[:cut] or len(kept) in (0, *ends)
