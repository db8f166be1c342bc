"""``mesalens run`` on log dumps with deterministic relations, and on roles spanning columns."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.gridworld_dump import COLUMNS, TRUE_VERDICTS, write_dump

MESALENS = str(Path(sys.executable).with_name("mesalens"))
# FAST runs skip the direct test, so an 'all' is not confirmed by the logs: exit 8.
EXIT = {"all": 8, "some": 3, "none": 4, "invalid": 5}
ROLES = ["--base", "episode_return", "--mesa", "value", "--decision", "action"]
FAST = ["--no-sensitivity", "--no-direct-test"]


def mesalens(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([MESALENS, *args], capture_output=True, text=True, timeout=600)


def regime_args(paths: dict) -> list[str]:
    return ["--regime", f"train={paths['train']}", "--regime", f"deploy={paths['deploy']}"]


@pytest.fixture(scope="module")
def dumps(tmp_path_factory) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp("gridworld")
    return {agent: write_dump(folder / agent, agent) for agent in TRUE_VERDICTS}


@pytest.mark.parametrize("agent", sorted(TRUE_VERDICTS))
def test_the_full_dump_gives_the_true_verdict_and_lists_every_relation(tmp_path, dumps, agent):
    out = tmp_path / "out"
    result = mesalens("run", *regime_args(dumps[agent]), *ROLES, *FAST, "--out", str(out))
    assert result.returncode == EXIT[TRUE_VERDICTS[agent]], result.stderr
    document = json.loads((out / "result.json").read_text())
    assert document["verdict"] == TRUE_VERDICTS[agent]
    part = document["deterministic"]
    sentences = [relation["sentence"] for relation in part["relations"]]
    # The relations the logger built in: the value is one-to-one with the plan,
    # the return is defined from steps and success (or, when success never
    # varies, one-to-one with steps), the goal is fixed during training.
    assert any(
        r["kind"] == "equivalent" and {"planned_steps", "value"} <= {r["column"], *r["by"]}
        for r in part["relations"]
    )
    assert "column 'goal_x' is constant in regime 'train' only" in sentences
    assert any(r["column"] == "action" and r["kind"] == "determined" for r in part["relations"])
    if agent == "misgeneralizing":
        assert "column 'episode_return' is determined by 'steps', 'success' (linear)" in sentences
    else:
        assert "column 'success' is constant" in sentences
    # The role columns stay; every column left out has a reason and a relation.
    kept = set(part["kept"])
    assert {"regime", "episode_return", "value", "action"} <= kept
    left = {item["column"] for item in part["left_out"]}
    assert kept | left == {"regime", *COLUMNS}
    assert all(item["reason"] and item["relation"] in sentences for item in part["left_out"])
    assert document["discovery"]["settings"]["columns"] == part["kept"]
    # The terminal says each relation and each column left out ...
    for sentence in sentences:
        assert f"deterministic: {sentence}" in result.stderr
    for item in part["left_out"]:
        assert f"note: left out {item['column']!r}: " in result.stderr
    # ... and so does the report's table.
    report = (out / "report.html").read_text()
    assert 'id="deterministic-relations"' in report
    for sentence in sentences:
        assert sentence.replace("'", "&#39;") in report


def test_deterministic_error_names_every_relation_in_one_line(tmp_path, dumps):
    paths = dumps["misgeneralizing"]
    drop = mesalens("run", *regime_args(paths), *ROLES, *FAST, "--out", str(tmp_path / "drop"))
    relations = json.loads((tmp_path / "drop" / "result.json").read_text())["deterministic"]
    out = tmp_path / "error"
    result = mesalens(
        "run", *regime_args(paths), *ROLES, *FAST, "--deterministic", "error", "--out", str(out)
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mesalens: error: --deterministic error:")
    assert "Traceback" not in result.stderr and not out.exists()
    for relation in relations["relations"]:
        assert relation["sentence"] in lines[0]
    # The columns it suggests work: with them, the error rule has nothing to refuse.
    suggested = lines[0].split("--columns '", 1)[1].split("'", 1)[0]
    assert suggested.split(",") == [c for c in relations["kept"] if c != "regime"]
    again = mesalens(
        "run", *regime_args(paths), *ROLES, *FAST, "--deterministic", "error",
        "--columns", suggested, "--out", str(tmp_path / "again"),
    )  # fmt: skip
    assert again.returncode == drop.returncode, again.stderr
    document = json.loads((tmp_path / "again" / "result.json").read_text())
    assert document["deterministic"]["left_out"] == []
    assert document["verdict"] == "none"


def test_the_config_key_and_its_bad_value(tmp_path, dumps):
    paths = dumps["control"]
    config = tmp_path / "run.toml"
    config.write_text('deterministic = "error"\n')
    result = mesalens(
        "run", "--config", str(config), *regime_args(paths), *ROLES, *FAST,
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.returncode == 1 and "--deterministic error:" in result.stderr
    config.write_text('deterministic = "ignore"\n')
    result = mesalens(
        "run", "--config", str(config), *regime_args(paths), *ROLES, *FAST,
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"mesalens: error: config {str(config)!r}: key 'deterministic' must be one of drop, "
        "error, got 'ignore'"
    )


def test_a_constant_column_is_left_out_with_a_note(tmp_path):
    rng = np.random.default_rng(0)
    paths = {}
    for code, name in enumerate(("train", "deploy")):
        obs = rng.normal(size=3000) + code
        action = obs + rng.normal(size=3000)
        value = action + rng.normal(size=3000)
        reward = value + rng.normal(size=3000)
        frame = pd.DataFrame(
            {"obs": obs, "action": action, "value": value, "reward": reward, "env": "v2"}
        )
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
        paths[name] = str(tmp_path / f"{name}.csv")
    args = [*regime_args(paths), "--base", "reward", "--mesa", "value", "--decision", "action"]
    result = mesalens("run", *args, *FAST, "--out", str(tmp_path / "out"))
    assert result.returncode == EXIT["all"], result.stderr
    assert "note: left out 'env': constant" in result.stderr
    document = json.loads((tmp_path / "out" / "result.json").read_text())
    assert "env" not in document["discovery"]["settings"]["columns"]
    # A constant role column cannot be left out: one line says so.
    bad = mesalens(
        "run", *regime_args(paths), "--base", "env", "--mesa", "value", "--decision", "action",
        "--out", str(tmp_path / "bad"),
    )  # fmt: skip
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
    assert "the base column 'env' is constant" in bad.stderr


def test_data_sampled_from_the_water_network_gives_a_verdict(tmp_path):
    # bnlearn's water network has columns that never vary at the first time
    # step; those were an error, they are now left out.
    from pgmpy.sampling import BayesianModelSampling
    from pgmpy.utils import get_example_model

    model = get_example_model("water")
    paths = {}
    for code, name in enumerate(("train", "deploy")):
        sample = BayesianModelSampling(model).forward_sample(
            size=1500, seed=code, show_progress=False
        )
        sample.to_csv(tmp_path / f"{name}.csv", index=False)
        paths[name] = str(tmp_path / f"{name}.csv")
    constant = sorted(c for c in sample if sample[c].nunique() == 1)
    assert constant  # the case at hand
    result = mesalens(
        "run", *regime_args(paths), "--base", "CKNI_12_45", "--mesa", "CKNI_12_30",
        "--decision", "CKNI_12_15", *FAST, "--max-depth", "2", "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.returncode in (0, 3, 4, 5, 8), result.stderr
    document = json.loads((tmp_path / "out" / "result.json").read_text())
    left = {item["column"]: item["reason"] for item in document["deterministic"]["left_out"]}
    for column in constant:
        assert left[column] == "constant"


# ------------------------------------------------------------------ roles spanning columns
def _probe_logs(folder: Path) -> dict:
    """A mesa objective seen through a two-column probe; the regime shifts the reward around it."""
    rng = np.random.default_rng(3)
    paths = {}
    for code, name in enumerate(("train", "deploy")):
        n = 4000
        obs = rng.normal(size=n) + code
        action = obs + rng.normal(size=n)
        probe_0 = action + rng.normal(size=n)
        probe_1 = 0.5 * action + rng.normal(size=n)
        reward = probe_0 + probe_1 + rng.normal(size=n) + 1.5 * code
        frame = pd.DataFrame(
            {
                "obs": obs,
                "action": action,
                "probe_0": probe_0,
                "probe_1": probe_1,
                "reward": reward,
            }
        )
        frame.to_parquet(folder / f"{name}.parquet")
        paths[name] = str(folder / f"{name}.parquet")
    return paths


def test_a_role_named_by_a_pattern_is_the_same_set_of_nodes_as_its_columns(tmp_path):
    paths = _probe_logs(tmp_path)
    common = [*regime_args(paths), "--base", "reward", "--decision", "action", "--no-sensitivity"]
    listed = mesalens("run", *common, "--mesa", "probe_0,probe_1", "--out", str(tmp_path / "a"))
    globbed = mesalens("run", *common, "--mesa", "probe_*", "--out", str(tmp_path / "b"))
    assert listed.returncode == globbed.returncode == EXIT["none"], globbed.stderr
    first = json.loads((tmp_path / "a" / "result.json").read_text())
    second = json.loads((tmp_path / "b" / "result.json").read_text())
    assert first["roles"]["mesa"] == second["roles"]["mesa"] == ["probe_0", "probe_1"]
    for key in ("verdict", "n_dags", "n_hold", "n_fail", "learned_graph"):
        assert first[key] == second[key]
    # The criterion is given jointly, and the direct test conditions on both columns.
    assert second["direct_test"]["mesa"] == ["probe_0", "probe_1"]


def test_the_joint_criterion_holds_when_the_probe_columns_together_screen_off(tmp_path):
    rng = np.random.default_rng(4)
    paths = {}
    for code, name in enumerate(("train", "deploy")):
        n = 4000
        obs = rng.normal(size=n) + code
        probe_0 = obs + rng.normal(size=n)
        probe_1 = -obs + rng.normal(size=n)
        action = probe_0 + rng.normal(size=n)
        reward = probe_0 - probe_1 + rng.normal(size=n)
        pd.DataFrame(
            {"obs": obs, "probe_0": probe_0, "probe_1": probe_1, "action": action, "reward": reward}
        ).to_parquet(tmp_path / f"{name}.parquet")
        paths[name] = str(tmp_path / f"{name}.parquet")
    common = [*regime_args(paths), "--base", "reward", "--decision", "action", *FAST]
    joint = mesalens("run", *common, "--mesa", "probe_?", "--out", str(tmp_path / "joint"))
    alone = mesalens("run", *common, "--mesa", "probe_0", "--out", str(tmp_path / "alone"))
    # Both probe columns together screen the regime off the reward; one alone does not.
    assert joint.returncode == EXIT["all"], joint.stderr
    assert alone.returncode == EXIT["none"], alone.stderr


def test_a_pattern_that_matches_nothing_is_one_error_line(tmp_path):
    paths = _probe_logs(tmp_path)
    out = tmp_path / "out"
    result = mesalens(
        "run", *regime_args(paths), "--base", "reward", "--decision", "action",
        "--mesa", "head_*", "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 1 and not out.exists()
    assert result.stderr.strip().splitlines() == [
        "mesalens: error: --mesa 'head_*' matches no column of the data; the columns are "
        "'obs', 'action', 'probe_0', 'probe_1', 'reward' (a pattern takes *, ? and [...], "
        "as in 'probe_*')"
    ]


def test_a_three_column_probe_named_by_patterns_in_every_role_it_fills(tmp_path):
    """``--mesa 'probe_*'`` and ``--policy-inputs 'probe_*'``: three columns, one joint node set."""
    rng = np.random.default_rng(5)
    paths = {}
    for code, name in enumerate(("train", "deploy")):
        n = 4000
        obs = rng.normal(size=n) + code
        probe_a = rng.normal(size=n)  # what the probe reads of the task
        probe_b = rng.normal(size=n)
        probe_c = obs + rng.normal(size=n)  # and of the observation that the regime shifts
        action = probe_a + rng.normal(size=n)
        reward = probe_a + probe_b + probe_c + rng.normal(size=n)
        pd.DataFrame(
            {"obs": obs, "probe_a": probe_a, "probe_b": probe_b, "probe_c": probe_c,
             "action": action, "reward": reward}
        ).to_parquet(tmp_path / f"{name}.parquet")  # fmt: skip
        paths[name] = str(tmp_path / f"{name}.parquet")
    common = [*regime_args(paths), "--base", "reward", "--decision", "action", *FAST]
    every = mesalens(
        "run", *common, "--mesa", "probe_*", "--policy-inputs", "probe_*",
        "--out", str(tmp_path / "every"),
    )  # fmt: skip
    two = mesalens(
        "run", *common, "--mesa", "probe_[ab]", "--policy-inputs", "probe_[ab]",
        "--out", str(tmp_path / "two"),
    )  # fmt: skip
    # The three probe columns together screen the regime off the reward; without
    # probe_c the path regime -> obs -> probe_c -> reward stays open.
    assert every.returncode == EXIT["all"], every.stderr
    assert two.returncode == EXIT["none"], two.stderr
    document = json.loads((tmp_path / "every" / "result.json").read_text())
    assert document["roles"]["mesa"] == ["probe_a", "probe_b", "probe_c"]
    assert document["roles"]["policy_inputs"] == ["probe_a", "probe_b", "probe_c"]
    assert document["verdict"] == "all" and document["n_fail"] == 0


def test_a_knowledge_file_may_name_the_columns_the_rule_leaves_out(tmp_path, dumps):
    """Tiers written for the whole dump: checked against every column, then restricted."""
    paths = dumps["misgeneralizing"]
    start = COLUMNS[: COLUMNS.index("action")]  # known at the start: the cells, the plan, value
    outcome = COLUMNS[COLUMNS.index("steps") :]
    tiers = tmp_path / "tiers.txt"
    tiers.write_text(
        f"/knowledge\naddtemporal\n1 {' '.join(start)}\n2 action\n3 {' '.join(outcome)}\n"
    )
    out = tmp_path / "out"
    result = mesalens(
        "run", *regime_args(paths), *ROLES, *FAST, "--knowledge", str(tiers), "--out", str(out)
    )
    assert result.returncode == EXIT[TRUE_VERDICTS["misgeneralizing"]], result.stderr
    document = json.loads((out / "result.json").read_text())
    assert document["deterministic"]["left_out"]  # the file named columns left out
    # A name that is no column of the logs is still an error.
    tiers.write_text("/knowledge\naddtemporal\n1 value\n2 actoin\n")
    wrong = mesalens(
        "run", *regime_args(paths), *ROLES, *FAST, "--knowledge", str(tiers),
        "--out", str(tmp_path / "wrong"),
    )  # fmt: skip
    assert wrong.returncode == 1 and not (tmp_path / "wrong").exists()
    assert "'actoin'" in wrong.stderr and wrong.stderr.count("\n") == 1
