"""``mesalens run`` end to end: logs on disk to result.json, locally and on a cluster."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mesalens.reports.cli import cli

MESALENS = str(Path(sys.executable).with_name("mesalens"))


def write_logs(folder: Path, rows: int = 4000, seed: int = 0, leak: bool = False) -> dict:
    """Two regimes of a linear agent; with ``leak`` the regime reaches reward around value."""
    rng = np.random.default_rng(seed)
    paths = {}
    for code, name in enumerate(["train", "deploy"]):
        obs = rng.normal(size=rows) + 1.5 * code
        action = 0.8 * obs + rng.normal(size=rows)
        value = 0.9 * action + rng.normal(size=rows)
        reward = 0.9 * value + rng.normal(size=rows) + (1.5 * code if leak else 0.0)
        frame = pd.DataFrame({"obs": obs, "action": action, "value": value, "reward": reward})
        target = folder / name
        target.mkdir(parents=True, exist_ok=True)
        for shard, start in enumerate(range(0, rows, -(-rows // 3))):
            frame.iloc[start : start + -(-rows // 3)].to_parquet(target / f"part-{shard}.parquet")
        paths[name] = str(target / "*.parquet")
    return paths


def run_args(paths: dict, out: Path, *extra: str) -> list[str]:
    return [
        "run",
        "--regime",
        f"train={paths['train']}",
        "--regime",
        f"deploy={paths['deploy']}",
        "--base",
        "reward",
        "--mesa",
        "value",
        "--decision",
        "action",
        "--policy-inputs",
        "obs",
        "--out",
        str(out),
        *extra,
    ]


def test_run_writes_result_and_graph_with_the_verdict_as_exit_code(tmp_path):
    paths = write_logs(tmp_path / "logs")
    aligned = subprocess.run(
        [MESALENS, *run_args(paths, tmp_path / "aligned", "--method", "pc")],
        capture_output=True,
        text=True,
    )
    assert aligned.returncode == 0, aligned.stderr
    document = json.loads((tmp_path / "aligned" / "result.json").read_text())
    assert document["verdict"] == "all"
    assert document["data"]["regime_labels"] == ["train", "deploy"]
    assert [r["rows_kept"] for r in document["data"]["regimes"]] == [4000, 4000]
    assert document["discovery"]["settings"]["method"] == "pc"
    assert document["discovery"]["ci_tests"], "the CI tests that decided the graph are recorded"
    assert ["regime", "-->", "obs"] in document["learned_graph"]
    assert all("sha256" in f for f in document["inputs"])
    assert "causal-learn" in document["versions"]
    assert "Graph Nodes:" in (tmp_path / "aligned" / "graph.txt").read_text()

    leaky = write_logs(tmp_path / "leaky", leak=True)
    failing = subprocess.run(
        [MESALENS, *run_args(leaky, tmp_path / "leaky-out")], capture_output=True, text=True
    )
    assert failing.returncode == 4, failing.stderr
    document = json.loads((tmp_path / "leaky-out" / "result.json").read_text())
    assert document["verdict"] == "none"
    assert document["witnesses"]["fail"]["open_path"][0] == "regime"
    assert document["witnesses"]["fail"]["open_path"][-1] == "reward"


def test_run_is_deterministic(tmp_path):
    paths = write_logs(tmp_path / "logs")
    runner = CliRunner()
    for name in ("a", "b"):
        result = runner.invoke(cli, run_args(paths, tmp_path / name, "--quiet"))
        assert result.exit_code == 0, result.output
    first = json.loads((tmp_path / "a" / "result.json").read_text())
    second = json.loads((tmp_path / "b" / "result.json").read_text())
    first.pop("timings")
    second.pop("timings")
    assert first == second


def test_run_from_a_config_file(tmp_path):
    paths = write_logs(tmp_path / "logs")
    config = tmp_path / "job.toml"
    config.write_text(
        f"""
base = "reward"
mesa = "value"
decision = "action"
policy_inputs = ["obs"]
alpha = 0.01
[regimes]
train = "{paths["train"]}"
deploy = "{paths["deploy"]}"
"""
    )
    result = CliRunner().invoke(cli, ["run", "--config", str(config), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "o" / "result.json").read_text())["verdict"] == "all"
    # The output folder may come from the config too.
    config.write_text(f'out = "{tmp_path / "from-config"}"\n' + config.read_text())
    result = CliRunner().invoke(cli, ["run", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "from-config" / "result.json").is_file()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--base", "nope"], "'nope', not a column of the data"),
        (["--mesa", "reward"], "both --base and --mesa"),
        (["--alpha", "1.5"], None),
        (["--knowledge", "/does/not/exist"], "cannot read the knowledge file"),
        (["--scheduler", "tcp://127.0.0.1:9"], "cannot reach the dask scheduler"),
    ],
)
def test_bad_input_writes_nothing(tmp_path, change, message):
    paths = write_logs(tmp_path / "logs", rows=300)
    out = tmp_path / "out"
    args = run_args(paths, out, "--quiet")
    for flag, value in zip(change[::2], change[1::2], strict=True):
        position = args.index(flag) if flag in args else None
        if position is None:
            args += [flag, value]
        else:
            args[position + 1] = value
    result = subprocess.run([MESALENS, *args], capture_output=True, text=True)
    if message is None:
        assert result.returncode == 2, result.stderr
    else:
        assert result.returncode == 1, result.stderr
        assert message in result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not out.exists() or not any(out.iterdir())


def test_a_missing_regime_file_is_named(tmp_path):
    paths = write_logs(tmp_path / "logs", rows=300)
    paths["deploy"] = str(tmp_path / "nowhere" / "*.parquet")
    result = subprocess.run(
        [MESALENS, *run_args(paths, tmp_path / "out", "--quiet")], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "deploy" in result.stderr and "nowhere" in result.stderr
    assert not (tmp_path / "out").exists()


def test_local_cluster_gives_the_same_result(tmp_path):
    from distributed import Client, LocalCluster

    paths = write_logs(tmp_path / "logs")
    local = CliRunner().invoke(cli, run_args(paths, tmp_path / "local", "--quiet"))
    assert local.exit_code == 0, local.output
    with LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as c:
        distributed = subprocess.run(
            [
                MESALENS,
                *run_args(
                    paths, tmp_path / "cluster", "--quiet", "--scheduler", c.scheduler_address
                ),
            ],
            capture_output=True,
            text=True,
        )
        # The work really ran there: the scheduler saw the pass's tasks.
        with Client(c) as client:
            keys = client.run_on_scheduler(
                lambda dask_scheduler: [str(t[0]) for t in dask_scheduler.transition_log]
            )
    assert any("part_pass" in key for key in keys), keys[:10]
    assert distributed.returncode == 0, distributed.stderr
    first = json.loads((tmp_path / "local" / "result.json").read_text())
    second = json.loads((tmp_path / "cluster" / "result.json").read_text())
    for key in ("verdict", "n_dags", "parent_sets", "learned_graph", "discovery", "data"):
        assert first[key] == second[key], key


def test_demo_learned_verdicts_equal_the_true_graphs_verdicts(tmp_path):
    from mesalens.connectors.simulator import SCENARIOS, scenario_names, scenario_truth
    from mesalens.pipeline.checker import check
    from mesalens.pipeline.graph import CausalGraph
    from mesalens.pipeline.roles import Roles

    # The FrozenLake scenarios have their own test (tests/test_frozen_lake.py).
    chosen = [arg for name in scenario_names() for arg in ("--scenario", name)]
    result = CliRunner().invoke(cli, ["demo", *chosen, "--out", str(tmp_path), "--rows", "20000"])
    assert result.exit_code == 0, result.output
    for name in scenario_names():
        nodes, edges, roles = scenario_truth(name)
        true_graph = CausalGraph(nodes)
        for u, v in edges:
            true_graph.add_edge(u, v)
        policy = roles["policy_inputs"]
        true_verdict = check(
            true_graph,
            Roles(
                regime="regime",
                base=tuple(roles["base"]),
                mesa=tuple(roles["mesa"]),
                decision=tuple(roles["decision"]),
                policy_inputs=None if policy == "keep" else tuple(policy),
            ),
        ).verdict
        assert true_verdict == SCENARIOS[name].expected_verdict
        learned = json.loads((tmp_path / name / "result.json").read_text())
        assert learned["verdict"] == true_verdict, name
        shards = list((tmp_path / "logs" / name).glob("*/part-*.parquet"))
        assert len(shards) == 8


@pytest.fixture
def fake_server():
    """A TCP server on localhost that accepts and then stays silent or sends ``banner``."""
    import socket
    import threading

    servers = []

    def start(banner: bytes = b"") -> str:
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(5)
        servers.append(server)
        accepted = []

        def serve():
            while True:
                try:
                    connection, _ = server.accept()
                except OSError:
                    return
                accepted.append(connection)  # kept open: a silent peer
                if banner:
                    connection.sendall(banner)

        threading.Thread(target=serve, daemon=True).start()
        return f"tcp://127.0.0.1:{server.getsockname()[1]}"

    yield start
    for server in servers:
        server.close()


@pytest.mark.parametrize(
    ("banner", "reason"),
    [(b"", "no answer within 2 s"), (b"SSH-2.0-OpenSSH_9.6\r\n" * 50, "does not speak dask")],
)
def test_a_server_that_is_not_a_scheduler_is_an_error_in_bounded_time(fake_server, banner, reason):
    # A port that accepts and never answers used to hang the run (and a
    # nightly job) for good: distributed's timeout bounds only the TCP
    # connection. One that answers something else made distributed try to
    # allocate exabytes.
    import time

    from mesalens.pipeline.dask_client import SchedulerError, connected_client

    address = fake_server(banner)
    start = time.perf_counter()
    with pytest.raises(SchedulerError, match=reason):
        with connected_client(address, timeout="2s"):
            pass
    assert time.perf_counter() - start < 10


def test_a_scheduler_address_never_shows_its_credentials():
    from mesalens.pipeline.dask_client import SchedulerError, connected_client

    with pytest.raises(SchedulerError) as failure:
        with connected_client("tcp://user:s3cret@nohost.invalid:1", timeout="1s"):
            pass
    assert "s3cret" not in str(failure.value) and "user:***@" in str(failure.value)


@pytest.mark.parametrize("address", ["nowhere:x", "tcp://127.0.0.1:9"])
def test_an_unreachable_scheduler_leaves_the_local_schedulers_working(address):
    # distributed's Client makes itself dask's default before it connects; a
    # failed connection used to leave `scheduler: dask.distributed` behind,
    # and every later compute in the process failed.
    import dask

    from mesalens.pipeline.dask_client import SchedulerError, active_client, connected_client

    before = dask.config.get("scheduler", None)
    with pytest.raises(SchedulerError, match="cannot reach the dask scheduler at") as failure:
        with connected_client(address, timeout="1s"):
            pass
    assert failure.value.__context__ is None  # no traceback keeps the failed client alive
    assert dask.config.get("scheduler", None) == before
    assert active_client() is None
    assert dask.delayed(sum)([1, 2]).compute() == 3
