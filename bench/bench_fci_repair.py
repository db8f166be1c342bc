"""How often FCI's output is not a valid PAG, before and after pipeline/pag_repair.py.

Random linear-Gaussian agent models (mesalens.connectors.random_scm.SCMFamily),
one draw per seed, sampled at shift strength 1 with ``--rows`` rows over both
regimes, discovered with FCI (Fisher's z, alpha 0.01) and checked with policy
inputs ``keep``. *Before*: FCI's output fails the PAG validity check (what
stopped the run before the repair). *After*: the check on the graph discovery
returns (repaired when needed) raises. CPU seconds by time.process_time, in
one process.

    .venv/bin/python bench/bench_fci_repair.py --seeds 20 --nodes 14 --rows 3000
    .venv/bin/python bench/bench_fci_repair.py --seeds 0 --resamples 20 --resample-seeds 0 3
"""

from __future__ import annotations

import argparse
import time

import dask
import numpy as np
import pandas as pd

from mesalens.connectors.errors import MesalensError
from mesalens.connectors.random_scm import SCMFamily
from mesalens.pipeline.discovery import discover
from mesalens.pipeline.pag_checker import check_pag
from mesalens.pipeline.pag_repair import pag_problem
from mesalens.pipeline.roles import Roles
from mesalens.pipeline.simulation import true_verdict
from mesalens.pipeline.statistics import compute_statistics

REPAIRED = "guaranteePag"


def pooled(frames: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, dict[str, str]]:
    parts = []
    for code, label in enumerate(frames):
        part = frames[label].copy()
        part.insert(0, "regime", code)
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    kinds = {"regime": "discrete", **dict.fromkeys(frame.columns[1:], "continuous")}
    return frame, kinds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--nodes", type=int, default=14)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--alpha", type=float, default=0.01)
    parser.add_argument(
        "--resamples", type=int, default=0, help="Poisson bootstrap resamples per listed seed"
    )
    parser.add_argument("--resample-seeds", type=int, nargs="*", default=[])
    args = parser.parse_args()
    roles = Roles(regime="regime", base=("Y_b",), mesa=("Y_m",), decision=("D_m",))
    before = after = 0
    search = repair = 0.0
    right = {True: 0, False: 0}
    # Untimed warm-up: the first search pays for importing causal-learn.
    scm = SCMFamily(nodes=args.nodes).draw([0, 0])
    frame, kinds = pooled(scm.sample(1.0, args.rows, [0, 0, args.rows]))
    discover(compute_statistics(frame, kinds), method="fci", regime="regime", alpha=args.alpha)
    print("seed  invalid-before  verdict-after  true  problem")
    for seed in range(args.seeds):
        scm = SCMFamily(nodes=args.nodes).draw([0, seed])
        frame, kinds = pooled(scm.sample(1.0, args.rows, [0, seed, args.rows]))
        with dask.config.set(scheduler="sync"):
            stats = compute_statistics(frame, kinds)
        start = time.process_time()
        result = discover(stats, method="fci", regime="regime", alpha=args.alpha)
        elapsed = time.process_time() - start
        notes = [n for n in result.notes if REPAIRED in n]
        problem = notes[0].split("(", 1)[1].split(")", 1)[0] if notes else ""
        if notes:
            before += 1
            repair += elapsed
        else:
            search += elapsed
        try:
            verdict = check_pag(result.graph, roles).verdict
        except MesalensError as exc:
            verdict = f"error: {exc}"
            after += 1
        assert pag_problem(result.graph) is None or verdict.startswith("error")
        truth = true_verdict(scm, 1.0)
        right[bool(notes)] += verdict == truth
        print(f"{seed:4d}  {bool(notes)!s:14}  {verdict:13}  {truth:4}  {problem}", flush=True)
    print(
        f"invalid before: {before}/{args.seeds}; check errors after: {after}/{args.seeds}; "
        f"mean CPU s per FCI run: valid {search / max(args.seeds - before, 1):.2f}, "
        f"repaired {repair / max(before, 1):.2f}; verdict right: valid runs "
        f"{right[False]}/{args.seeds - before}, repaired runs {right[True]}/{before}"
    )
    for seed in args.resample_seeds:
        resampled(seed, args, roles)


def resampled(seed: int, args: argparse.Namespace, roles: Roles) -> None:
    """How many Poisson bootstrap resamples of one data set FCI turns into no PAG."""
    scm = SCMFamily(nodes=args.nodes).draw([0, seed])
    frame, kinds = pooled(scm.sample(1.0, args.rows, [0, seed, args.rows]))
    rng = np.random.default_rng(seed)
    repaired = errors = 0
    for _ in range(args.resamples):
        rows = np.repeat(np.arange(len(frame)), rng.poisson(1.0, len(frame)))
        with dask.config.set(scheduler="sync"):
            stats = compute_statistics(frame.iloc[rows].reset_index(drop=True), kinds)
        result = discover(stats, method="fci", regime="regime", alpha=args.alpha)
        repaired += any(REPAIRED in n for n in result.notes)
        try:
            check_pag(result.graph, roles)
        except MesalensError:
            errors += 1
    print(
        f"seed {seed}: {repaired}/{args.resamples} resamples invalid before; "
        f"check errors after: {errors}/{args.resamples}"
    )


if __name__ == "__main__":
    main()
