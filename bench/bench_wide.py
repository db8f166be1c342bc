"""Wide logs: 50, 100 and 200 columns at 1M rows, `mesalens run` against causal-learn's PC.

Logs: ``--columns`` continuous columns (``feat_0 ..``, then ``action``,
``value``, ``reward``), a sparse random linear-Gaussian DAG in column order
(each column draws parents among the 10 before it, 1.5 on average, weights
±U(0.3, 0.8), unit noise, each column scaled as if its parents were
independent), deployment shifting the means of ``feat_0 .. feat_2``;
``--rows`` rows over two regimes, written as Parquet shards of 100,000 rows
(memory flat in rows), seeded.

Each measurement runs in a fresh child (peak RSS from ``os.wait4``), with
a wall-clock limit (``--timeout``): a child that does not finish is killed
and reported with the time waited.

(i)  ``mesalens run --regime train=... --regime deploy=... --base reward
     --mesa value --decision action --max-depth D --no-direct-test
     --no-sensitivity --quiet``: the one pass, discovery, the check, the
     report;
(ii) ``pandas.read_parquet`` of the shards, the regime column added, then
     ``causallearn...pc(data, 0.01, "fisherz", stable=True, uc_rule=0,
     uc_priority=2, max_k=D)`` on the raw array, the regime made exogenous
     (what mesalens runs, on the rows).

Run from the repository root, under ``nice`` on a shared machine::

    nice -n 10 .venv/bin/python bench/bench_wide.py --columns 50,100,200 --rows 1000000 \\
        --depth 2 --timeout 1800
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CHUNK = 100_000
SHIFTED = ("feat_0", "feat_1", "feat_2")


def names(columns: int) -> list[str]:
    return [*(f"feat_{i}" for i in range(columns - 3)), "action", "value", "reward"]


def make_dag(columns: int, seed: int) -> np.ndarray:
    """Weights ``w[i, j]`` of the edge ``j -> i`` (``j < i``)."""
    rng = np.random.default_rng([seed, columns])
    weights = np.zeros((columns, columns))
    for i in range(1, columns):
        low = max(0, i - 10)
        k = min(i - low, rng.poisson(1.5))
        for j in rng.choice(np.arange(low, i), size=k, replace=False):
            weights[i, j] = rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 0.8)
    return weights


def generate(root: Path, columns: int, rows: int, seed: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if (root / "done").exists():
        return
    shutil.rmtree(root, ignore_errors=True)
    cols = names(columns)
    weights = make_dag(columns, seed)
    shift = np.array([0.5 if c in SHIFTED else 0.0 for c in cols])
    # Per-column scale: about unit variance (as if the parents were independent).
    scale = 1.0 / np.sqrt(1.0 + np.sum(weights**2, axis=1))
    for code, regime in enumerate(("train", "deploy")):
        folder = root / regime
        folder.mkdir(parents=True)
        for shard, start in enumerate(range(0, rows // 2, CHUNK)):
            n = min(CHUNK, rows // 2 - start)
            rng = np.random.default_rng([seed, columns, code, shard])
            data = np.empty((n, columns))
            for i in range(columns):
                parents = np.flatnonzero(weights[i])
                data[:, i] = data[:, parents] @ weights[i, parents] + rng.standard_normal(n)
                data[:, i] += code * shift[i]
                data[:, i] *= scale[i]
            table = pa.table({c: data[:, i] for i, c in enumerate(cols)})
            pq.write_table(table, folder / f"part-{shard:04d}.parquet")
    (root / "done").write_text("")


def child_causallearn(root: str, depth: int) -> None:
    import pandas as pd
    from causallearn.graph.GraphNode import GraphNode
    from causallearn.search.ConstraintBased.PC import pc
    from causallearn.utils.PCUtils.BackgroundKnowledge import BackgroundKnowledge

    frames = []
    for code, regime in enumerate(("train", "deploy")):
        shards = sorted(glob.glob(f"{root}/{regime}/*.parquet"))
        frames.append(pd.concat([pd.read_parquet(p) for p in shards]).assign(regime=code))
    frame = pd.concat(frames, ignore_index=True)
    cols = ["regime", *[c for c in frame.columns if c != "regime"]]
    data = frame[cols].to_numpy(dtype=np.float64)
    del frame, frames
    nodes = [GraphNode(c) for c in cols]
    bk = BackgroundKnowledge()
    for node in nodes[1:]:
        bk.add_forbidden_by_node(node, nodes[0])
    cg = pc(
        data, 0.01, "fisherz", stable=True, uc_rule=0, uc_priority=2,
        background_knowledge=bk, node_names=cols, show_progress=False,
        max_k=None if depth < 0 else depth,
    )  # fmt: skip
    edges = [
        sorted((str(e.get_node1().get_name()), str(e.get_node2().get_name())))
        for e in cg.G.get_graph_edges()
    ]
    print(json.dumps({"edges": edges}))


def measured(cmd: list[str], timeout: float) -> dict:
    """Run ``cmd`` in a child; wall, CPU (user + sys) and peak RSS of that child."""
    start = time.perf_counter()
    with open(os.devnull, "w") as null:
        process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=null, text=True)
    deadline = start + timeout
    out_chunks: list[str] = []
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            process.kill()
            os.wait4(process.pid, 0)
            return {"finished": False, "wall": time.perf_counter() - start}
        time.sleep(0.5)
    if process.stdout is not None:
        out_chunks.append(process.stdout.read())
    return {
        "finished": True,
        "wall": time.perf_counter() - start,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_mib": usage.ru_maxrss / 1024,
        "returncode": os.waitstatus_to_exitcode(status),
        "stdout": "".join(out_chunks),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", default="50,100,200")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--depth", type=int, default=2, help="--max-depth for both (-1: none)")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--root", default="/tmp/wide_bench")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-causallearn", action="store_true")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_causallearn(args.child[0], int(args.child[1]))
        return
    mesalens = str(Path(sys.executable).with_name("mesalens"))
    print(f"load average before: {os.getloadavg()[0]:.1f}", file=sys.stderr)
    print(
        "| columns | rows | depth | mesalens run: wall / CPU / peak | verdict | CI tests "
        "(max depth reached) | edges | causal-learn on the raw array: wall / CPU / peak | "
        "same skeleton |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for columns in map(int, args.columns.split(",")):
        root = Path(args.root) / f"c{columns}_r{args.rows}"
        start = time.perf_counter()
        generate(root, columns, args.rows, args.seed)
        print(f"logs {columns} columns: {time.perf_counter() - start:.0f} s", file=sys.stderr)
        out = root / "out"
        shutil.rmtree(out, ignore_errors=True)
        ours = measured(
            [mesalens, "run", "--regime", f"train={root}/train/*.parquet",
             "--regime", f"deploy={root}/deploy/*.parquet", "--base", "reward",
             "--mesa", "value", "--decision", "action", "--max-depth", str(args.depth),
             "--no-direct-test", "--no-sensitivity", "--quiet", "--out", str(out)],
            args.timeout,
        )  # fmt: skip
        cell = verdict = tests = edges = "–"
        our_skeleton: set[frozenset[str]] = set()
        if ours["finished"]:
            cell = f"{ours['wall']:.0f} s / {ours['cpu']:.0f} s / {ours['peak_mib']:.0f} MiB"
            document = json.loads((out / "result.json").read_text())
            verdict = f"{document['verdict']} (exit {ours['returncode']})"
            records = document["discovery"]["ci_tests"]
            deepest = max((len(r["conditioning_set"]) for r in records), default=0)
            tests = f"{len(records):,} ({deepest})"
            our_skeleton = {frozenset((u, v)) for u, _, v in document["learned_graph"]}
            edges = str(len(our_skeleton))
        else:
            cell = f"not finished in {ours['wall']:.0f} s"
        theirs_cell, same = "not run", "–"
        if not args.skip_causallearn:
            theirs = measured(
                [sys.executable, __file__, "--child", str(root), str(args.depth)], args.timeout
            )
            if theirs["finished"] and theirs["returncode"] == 0:
                theirs_cell = (
                    f"{theirs['wall']:.0f} s / {theirs['cpu']:.0f} s / {theirs['peak_mib']:.0f} MiB"
                )
                their_edges = json.loads(theirs["stdout"].strip().splitlines()[-1])["edges"]
                their_skeleton = {frozenset(e) for e in their_edges}
                same = (
                    "yes"
                    if their_skeleton == our_skeleton
                    else (
                        f"no ({len(our_skeleton - their_skeleton)} / "
                        f"{len(their_skeleton - our_skeleton)} edges only ours / theirs)"
                    )
                )
            elif theirs["finished"]:
                theirs_cell = f"failed (exit {theirs['returncode']})"
            else:
                theirs_cell = f"not finished in {theirs['wall']:.0f} s"
        print(
            f"| {columns} | {args.rows:,} | {args.depth} | {cell} | {verdict} | {tests} | "
            f"{edges} | {theirs_cell} | {same} |",
            flush=True,
        )
    print(f"load average after: {os.getloadavg()[0]:.1f}", file=sys.stderr)


if __name__ == "__main__":
    main()
