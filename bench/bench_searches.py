"""The search alone: PC, GES, BOSS and GRaSP on the statistics of the pipeline benchmark's logs.

``mesalens run`` learns its graph from sufficient statistics, so a search's
cost does not grow with the rows; this times :func:`discover` alone, per
method, on the statistics of the benchmark's logs (``bench/make_logs.py``,
the data of "Ingestion and discovery at scale" in ``bench/RESULTS.md``):
all 20 columns plus the regime (21 variables), and 7 of them plus the
regime (8 variables: ``SMALL``). The statistics are computed once per column
set (one pass, not timed); each method runs once untimed (causal-learn's
modules are imported then), then ``--repeat`` times timed in this process.
Reported: best and median wall, CPU of the best, the learned graph's size,
whether it equals PC's, and (21 variables) its skeleton against the true
graph (``manifest.json``; over 8 of the 21 variables the true model's
adjacencies include pairs joined through the omitted ones, so no truth is
given there).

Run from the repository root (generates the logs if missing)::

    .venv/bin/python bench/bench_searches.py --rows 10000000 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics as stats_module
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The roles' neighbourhood: the shifted obs_2, the decision's and value's parents.
SMALL = ["obs_0", "obs_1", "obs_2", "obs_3", "action", "value", "reward"]
METHODS = ("pc", "ges", "boss", "grasp")


def load_statistics(root: Path, columns: list[str] | None):
    """The statistics ``mesalens run`` computes, of the regimes pooled with a regime column."""
    import dask.dataframe as dd

    from mesalens.pipeline.statistics import compute_statistics

    frames = [
        dd.read_parquet(str(root / name)).assign(regime=code)
        for code, name in enumerate(["train", "deploy"])
    ]
    frame = dd.concat(frames)
    names = ["regime", *(columns or [c for c in frame.columns if c != "regime"])]
    kinds = {c: "continuous" for c in names}
    kinds["regime"] = "discrete"
    return compute_statistics(frame, kinds, names)


def true_skeleton(manifest: dict, names: list[str]) -> set[frozenset[str]]:
    edges = {frozenset((p, c)) for p, c, _ in manifest["edges"]}
    edges |= {frozenset(("regime", c)) for c in manifest["params"]["shifts"]}
    return {e for e in edges if e <= set(names)}


def time_method(stats, method: str, repeat: int) -> dict:
    from mesalens.pipeline.discovery import discover

    discover(stats, method=method, regime="regime")  # imports causal-learn's modules
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = discover(stats, method=method, regime="regime")
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    best = min(range(repeat), key=walls.__getitem__)
    return {
        "best": walls[best],
        "median": stats_module.median(walls),
        "cpu": cpus[best],
        "graph": result.graph,
        "tests": len(result.ci_tests),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--root", default="/tmp/pipeline_bench")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    label = f"{args.rows // 1_000_000}M" if args.rows % 1_000_000 == 0 else str(args.rows)
    root = Path(args.root) / f"logs_{label}"
    if not (root / "manifest.json").exists():
        make_logs = [sys.executable, str(HERE / "make_logs.py"), "--rows", str(args.rows)]
        subprocess.run([*make_logs, "--out", str(root)], check=True)
    manifest = json.loads((root / "manifest.json").read_text())
    print(f"load average before: {os.getloadavg()[0]:.1f}", file=sys.stderr)
    print(
        "| variables | method | search: best / median wall | CPU | edges | CI tests | "
        "same graph as PC | skeleton vs truth (missing / extra) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for columns in (SMALL, None):
        start = time.perf_counter()
        stats = load_statistics(root, columns)
        seconds = time.perf_counter() - start
        print(f"statistics of {len(stats.columns)} variables: {seconds:.1f} s", file=sys.stderr)
        truth = true_skeleton(manifest, list(stats.columns))
        pc_graph = None
        for method in METHODS:
            timing = time_method(stats, method, args.repeat)
            graph = timing["graph"]
            pc_graph = graph if method == "pc" else pc_graph
            skeleton = {frozenset((e.u, e.v)) for e in graph.edges()}
            versus = (
                f"{len(truth - skeleton)} / {len(skeleton - truth)}" if columns is None else "–"
            )
            print(
                f"| {len(stats.columns)} | {method} | {timing['best']:.3f} s / "
                f"{timing['median']:.3f} s | {timing['cpu']:.3f} s | {len(skeleton)} | "
                f"{timing['tests']} | {'yes' if graph == pc_graph else 'no'} | {versus} |",
                flush=True,
            )
    print(f"load average after: {os.getloadavg()[0]:.1f}", file=sys.stderr)


if __name__ == "__main__":
    main()
