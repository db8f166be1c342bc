"""Deterministic linear-Gaussian agent logs as Parquet shards, for the pipeline benchmark.

Writes ``OUT/train/part-*.parquet`` and ``OUT/deploy/part-*.parquet`` (half the
rows each) plus ``OUT/manifest.json``. Twenty continuous columns, in this
order: ``obs_0 .. obs_16``, ``action``, ``value``, ``reward``; a sparse random
DAG over them (topological order = column order) with Gaussian noise, and in
the deploy regime a mean shift on a few observation columns.

Rows are drawn and written in chunks (one Parquet row group each), so memory
stays at one chunk whatever the size. Every shard is seeded by
``(seed, regime, shard)``: the data are the same on every machine and run.

Run from the repository root::

    .venv/bin/python bench/make_logs.py --rows 10000000 --out /tmp/pipeline_bench/logs_10M
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

COLUMNS = [*(f"obs_{i}" for i in range(17)), "action", "value", "reward"]
REGIMES = ("train", "deploy")
# Deploy-regime mean shifts (in noise standard deviations).
SHIFTS = {"obs_2": 0.5, "obs_5": -0.7, "obs_9": 0.6}
# Edges every graph has, so that the roles mean something.
FORCED = [
    ("obs_0", "action"),
    ("obs_1", "action"),
    ("action", "value"),
    ("obs_3", "value"),
    ("action", "reward"),
    ("obs_4", "reward"),
]
EXPECTED_PARENTS = 1.0  # average in-degree of the random part
# The graph's seed. In random DAGs with several colliders some pairs are
# d-connected only through a conditioned descendant of a collider, with a
# partial correlation of ~1e-3: PC at 1M rows takes that for independence,
# orients false colliders and can return a cyclic or non-extendable graph,
# which `mesalens run` (rightly) refuses to check. Graph 2 has no such trap
# (PC learns exactly its class at 1M rows), so every size reaches a verdict
# and the benchmark compares complete runs. Another graph: --dag-seed.
DAG_SEED = 2


def make_dag(seed: int) -> dict[str, dict[str, float]]:
    """Parents and weights of each column: ``{child: {parent: weight}}``."""
    rng = np.random.default_rng([seed, 12345])
    parents: dict[str, dict[str, float]] = {name: {} for name in COLUMNS}

    def weight() -> float:
        return float(rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 0.8))

    for j, child in enumerate(COLUMNS):
        if j == 0:
            continue
        chance = min(1.0, EXPECTED_PARENTS / j)
        for parent in COLUMNS[:j]:
            if rng.random() < chance:
                parents[child][parent] = weight()
    for parent, child in FORCED:
        parents[child].setdefault(parent, weight())
    # No edge into a policy input from the decision's descendants: the
    # topological order already guarantees that (obs_* come first).
    return parents


def _chunk(
    rng: np.random.Generator, rows: int, dag: dict[str, dict[str, float]], regime: str
) -> pa.Table:
    data: dict[str, np.ndarray] = {}
    for name in COLUMNS:
        values = rng.standard_normal(rows)
        for parent, w in dag[name].items():
            values += w * data[parent]
        if regime == "deploy" and name in SHIFTS:
            values += SHIFTS[name]
        # Keep variances near one so no column dominates.
        scale = 1.0 / np.sqrt(1.0 + sum(w * w for w in dag[name].values()))
        data[name] = values * scale
    return pa.table(data)


def write_logs(
    out: Path,
    rows: int,
    *,
    shard_rows: int = 250_000,
    chunk_rows: int = 50_000,
    seed: int = 0,
    dag_seed: int = DAG_SEED,
) -> dict[str, object]:
    """Write ``rows`` rows (half per regime) under ``out``; reuse them if already there."""
    manifest_path = out / "manifest.json"
    params = {
        "rows": rows,
        "shard_rows": shard_rows,
        "chunk_rows": chunk_rows,
        "seed": seed,
        "dag_seed": dag_seed,
        "columns": COLUMNS,
        "shifts": SHIFTS,
        "version": 1,
    }
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("params") == params:
            return manifest
    if out.exists():
        shutil.rmtree(out)
    start = time.perf_counter()
    dag = make_dag(dag_seed)
    schema = pa.schema([(name, pa.float64()) for name in COLUMNS])
    per_regime = rows // len(REGIMES)
    files = 0
    for r, regime in enumerate(REGIMES):
        folder = out / regime
        folder.mkdir(parents=True)
        remaining = per_regime + (rows - per_regime * len(REGIMES) if r == 0 else 0)
        shard = 0
        while remaining > 0:
            n_shard = min(shard_rows, remaining)
            rng = np.random.default_rng([seed, r, shard])
            with pq.ParquetWriter(folder / f"part-{shard:05d}.parquet", schema) as writer:
                left = n_shard
                while left > 0:
                    n = min(chunk_rows, left)
                    writer.write_table(_chunk(rng, n, dag, regime))
                    left -= n
            remaining -= n_shard
            shard += 1
            files += 1
    size = sum(p.stat().st_size for p in out.rglob("*.parquet"))
    manifest = {
        "params": params,
        "files": files,
        "bytes": size,
        "seconds": round(time.perf_counter() - start, 2),
        "edges": [[p, c, round(w, 4)] for c, ps in dag.items() for p, w in ps.items()],
    }
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True, help="total rows, both regimes")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--shard-rows", type=int, default=250_000)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0, help="seed of the rows")
    parser.add_argument("--dag-seed", type=int, default=DAG_SEED, help="seed of the graph")
    args = parser.parse_args()
    manifest = write_logs(
        args.out,
        args.rows,
        shard_rows=args.shard_rows,
        chunk_rows=args.chunk_rows,
        seed=args.seed,
        dag_seed=args.dag_seed,
    )
    print(
        f"{args.out}: {args.rows:,} rows, {manifest['files']} shards, "
        f"{manifest['bytes'] / 2**20:,.0f} MiB ({manifest['seconds']} s to write)"
    )


if __name__ == "__main__":
    main()
