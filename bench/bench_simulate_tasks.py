"""Cost of running ``mesalens simulate`` as one dask task per (replicate, shift).

The progress bar advances per task, so the study runs one task per
(replicate, shift) rather than one per replicate (each task re-draws its
model). This times both, side by side in one process, on the sync scheduler:

    nice -n 10 .venv/bin/python bench/bench_simulate_tasks.py
"""

from __future__ import annotations

import statistics
import time

import dask

from mesalens.pipeline.simulation import SimulationSettings, run_replicate, run_simulation


def main() -> None:
    """Print the wall time of each layout over three alternating rounds, and their ratio."""
    settings = SimulationSettings(
        replicates=3, rows=(200, 1000), shifts=(0.0, 0.5, 1.0), seed=0, direct_test=False
    )
    per_shift, per_replicate = [], []
    for _ in range(3):
        start = time.perf_counter()
        run_simulation(settings, scheduler="sync")
        per_shift.append(time.perf_counter() - start)
        start = time.perf_counter()
        tasks = [dask.delayed(run_replicate, pure=False)(settings, r) for r in range(3)]
        dask.compute(*tasks, scheduler="sync")
        per_replicate.append(time.perf_counter() - start)
    print("per (replicate, shift) task, s:", [round(x, 2) for x in per_shift])
    print("per replicate task, s:         ", [round(x, 2) for x in per_replicate])
    ratio = statistics.median(per_shift) / statistics.median(per_replicate)
    print(f"ratio of medians (per shift / per replicate): {ratio:.2f}")


if __name__ == "__main__":
    main()
