"""A job's output folder damaged by hand: one damaged check fails alone, on one line.

Every file the engine reads back from its own output folder (``run.json``,
``latest``, ``history.json``, the locks, the index, the log, the folders
themselves) is damaged in a random way between two runs of a job, through
the CLI (``mesalens run --config JOBS.toml``; the checks' analysis is replaced
by a fast fake so that hypothesis can try many cases). The other checks must
run, the damaged one must give one line naming the file, and following the
line's advice (moving the file away) must make the next run succeed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesalens.reports.cli import cli
from mesalens.reports.jobs import engine as job_engine
from mesalens.reports.jobs.outcome import RunOutcome

CHECKS = ("a", "b", "c")
JOB = """
base = "reward"
mesa = "value"
decision = "action"

[regimes]
train = "logs/train/*.parquet"
deploy = "logs/deploy/*.parquet"
""" + "".join(f'\n[[check]]\nname = "{name}"\n' for name in CHECKS)


def fake_check(check, folder: Path, **_: object) -> RunOutcome:
    """What the real check writes, without the analysis."""
    (folder / "result.json").write_text(json.dumps({"verdict": "all"}))
    (folder / "report.html").write_text("<html></html>")
    return RunOutcome(verdict="all", n_dags=2, n_hold=2, n_fail=0, n_invalid=0)


@pytest.fixture
def fast_checks(monkeypatch):
    # `mesalens run` imports the engine's run_check when a job file starts.
    monkeypatch.setattr(job_engine, "run_check", fake_check)


def run_job(folder: Path):
    """``mesalens run --config jobs.toml --out out`` in ``folder``; (exit code, stdout, stderr)."""
    result = CliRunner().invoke(
        cli, ["run", "--config", str(folder / "jobs.toml"), "--out", str(folder / "out")]
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr  # the summary is on stderr


def finished_job(folder: Path) -> Path:
    (folder / "jobs.toml").write_text(JOB)
    for _ in range(2):
        code, _, stderr = run_job(folder)
        assert code == 0, stderr
    return folder / "out"


def targets(out: Path) -> list[str]:
    """Every file, folder and link of a finished job's output, relative to it."""
    found = []
    for root, dirs, files in os.walk(out):
        for name in [*dirs, *files]:
            found.append(os.path.relpath(os.path.join(root, name), out))
    return sorted(found)


def run_counts(out: Path) -> dict[str, int]:
    runs = {name: out / name / "runs" for name in CHECKS}
    return {name: len(os.listdir(p)) if p.is_dir() else -1 for name, p in runs.items()}


# Values of another JSON type than the one a record field holds.
WRONG = {
    str: [1, [], {}, True],
    int: ["1", 1.5, [], True],
    float: ["1", [], True],
    bool: ["1", 1, []],
    list: ["x", 1, {}],
    dict: ["x", 1, []],
}
KINDS = ("folder", "file", "dangling link", "looping link", "truncated", "not JSON", "wrong type")


def damage(path: Path, kind: str, draw) -> bool:
    """Damage ``path`` in the way ``kind``; True when the engine must refuse it."""
    was_json = path.is_file() and not path.is_symlink() and path.suffix == ".json"
    text = path.read_text() if was_json else ""
    if kind == "wrong type" and was_json:
        document = json.loads(text)
        if path.name != "run.json":
            path.write_text(json.dumps([document]))  # history/index: rebuilt, never read
            return False
        fields = sorted(k for k, v in document.items() if k != "run" and type(v) in WRONG)
        field = draw(st.sampled_from(fields))
        document[field] = draw(st.sampled_from(WRONG[type(document[field])]))
        path.write_text(json.dumps(document))
        return True
    if kind in ("truncated", "not JSON") and was_json:
        # A share, not a length: the files' lengths vary from run to run (times).
        keep = int(draw(st.floats(0, 1, exclude_max=True)) * len(text.rstrip()))
        path.write_text(text[:keep] if kind == "truncated" else "<html>not json</html>")
        return path.name == "run.json"
    if kind in ("truncated", "not JSON"):
        kind = "file"
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
    if kind == "folder":
        path.mkdir()
        (path / "x").write_text("x")
    elif kind == "file":
        path.write_text("hand-written\n")
    elif kind == "dangling link":
        path.symlink_to("nowhere-" + path.name)
    else:
        path.symlink_to(path.name)
    return False


def moved_away(message: str, out: Path, trash: Path) -> None:
    """Follow an error line's advice: move the file it names (a run.json: its run folder)."""
    (named,) = re.findall(r"'([^']+)'", message)[:1]
    path = Path(named)
    assert path.is_relative_to(out), message
    if path.name == "run.json" and "run folder" in message:
        path = path.parent
    path.rename(trash / f"moved-{len(list(trash.iterdir()))}")


SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@SETTINGS
@given(data=st.data())
def test_a_damaged_file_fails_its_check_alone_on_one_line(fast_checks, data):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        out = finished_job(folder)
        relative = data.draw(st.sampled_from(targets(out)), label="target")
        kind = data.draw(st.sampled_from(KINDS), label="damage")
        path = out / relative
        must_refuse = damage(path, kind, data.draw)
        owner = relative.split(os.sep)[0]
        runs_before = run_counts(out)

        code, stdout, stderr = run_job(folder)
        assert "Traceback" not in stdout + stderr
        if owner not in CHECKS:
            # A file of the whole job: it runs as usual, or nothing runs and one line says why.
            if code == 1:
                (line,) = stderr.splitlines()
                assert line.startswith("mesalens: error: ") and relative in line
                assert run_counts(out) == runs_before
                moved_away(line, out, folder)
                assert run_job(folder)[0] == 0
            else:
                assert code == 0, stdout + stderr
            return
        assert stdout == ""
        lines = stderr.splitlines()
        for name in CHECKS:
            if name != owner:
                assert f"check {name}: verdict all;" in stderr, stderr
        (own,) = [line for line in lines if line.startswith(f"check {owner}: ")]
        if own.startswith(f"check {owner}: verdict all;"):
            assert not must_refuse, own
            assert code == 0
            return
        assert own.startswith(f"check {owner}: error: "), own
        named = Path(re.findall(r"'([^']+)'", own)[0])
        assert path == named or path.is_relative_to(named) or named.is_relative_to(path), own
        assert code == 1 and lines[-1].endswith(f"exit code 1 (failed: check {owner})")
        assert not any(line.startswith("mesalens: error") for line in lines)
        # Following the advice leads to a run of every check, in at most two steps
        # (a damaged run folder holding a damaged file names the file, then the folder).
        for _ in range(2):
            moved_away(own, out, folder)
            code, _, stderr = run_job(folder)
            if code == 0:
                break
            (own,) = [line for line in stderr.splitlines() if line.startswith(f"check {owner}: ")]
        assert code == 0, stderr


def test_a_seq_of_the_wrong_type_fails_only_its_check(fast_checks, tmp_path):
    out = finished_job(tmp_path)
    (run,) = sorted((out / "b" / "runs").iterdir())[:1]
    record = json.loads((run / "run.json").read_text())
    record["seq"] = "1"
    (run / "run.json").write_text(json.dumps(record))
    code, _, stdout = run_job(tmp_path)
    assert code == 1
    assert "check a: verdict all;" in stdout and "check c: verdict all;" in stdout
    assert (
        f'check b: error: \'{run / "run.json"}\' its "seq" is "1", not a whole number of at '
        "least 1; move that run folder away (or restore the file)"
    ) in stdout
    index = json.loads((out / "index.json").read_text())
    (entry,) = [e for e in index["checks"] if e["name"] == "b"]
    assert entry["damaged"] and str(run / "run.json") in entry["damaged"][0]
    assert "damaged output" in (out / "index.html").read_text()
    log = (out / "mesalens.log").read_text()
    assert "check b: not run:" in log and "job " in log


def test_latest_replaced_by_a_folder_names_latest(fast_checks, tmp_path):
    out = finished_job(tmp_path)
    (out / "a" / "latest").unlink()
    (out / "a" / "latest").mkdir()
    code, _, stdout = run_job(tmp_path)
    assert code == 1
    assert (
        f"check a: error: '{out / 'a' / 'latest'}' is a folder, not the link mesalens makes; "
        "move it away; mesalens links it again to the newest run with a verdict"
    ) in stdout
    assert ".tmp" not in stdout and "check b: verdict all;" in stdout


def test_out_that_is_a_file_is_refused_before_any_work(fast_checks, tmp_path):
    (tmp_path / "jobs.toml").write_text(JOB)
    (tmp_path / "out").write_text("a file")
    code, stdout, stderr = run_job(tmp_path)
    assert code == 1 and stdout == ""
    assert stderr == f"mesalens: error: --out must be a folder: '{tmp_path / 'out'}' is a file\n"
    assert (tmp_path / "out").read_text() == "a file"
