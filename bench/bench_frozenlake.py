"""The demo's FrozenLake scenarios: cost of training and logging, and verdicts over seeds.

Run from the repository root: ``.venv/bin/python bench/bench_frozenlake.py
[--seeds 10] [--rows 2000,20000]``. Prints two markdown tables (the ones in
bench/RESULTS.md, "The FrozenLake demo"):

* per scenario, the CPU seconds (``time.process_time``, the machine is
  shared) of training the agent and of logging 20,000 episodes through
  gymnasium, seed 0;
* per scenario and number of episodes, how many seeds give the verdict that
  is right for the environment, each run as a user runs it: ``mesalens demo
  --scenario NAME --seed S --rows R`` in a subprocess, verdict read from its
  ``result.json``; with the exact gap at equal value estimate (from the
  transition table) over the seeds;
* the calibration of the control's independence: over 30 replicate logs
  (20,000 episodes each) of the sighted agent of seed 0, the p-values of the
  G² test of ``success ⊥ regime | value_estimate`` (one 2×2 table per value),
  which are uniform when the independence holds, with a Kolmogorov-Smirnov
  test against the uniform and how many fall below 0.01.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from mesalens.connectors.frozen_lake import (
    LAKE_SCENARIOS,
    exact_gap,
    lake_scenario_names,
    simulate_lake,
    train_agent,
)
from mesalens.connectors.lake_agent import log_episodes

MESALENS = str(Path(sys.executable).with_name("mesalens"))


def costs() -> None:
    print("| scenario | train (CPU s) | train + log 20,000 episodes (CPU s) | steps logged |")
    print("|---|---|---|---|")
    for name in lake_scenario_names():
        start = time.process_time()
        train_agent(name, 0)
        trained = time.process_time() - start
        start = time.process_time()
        _, frames = simulate_lake(name, rows=20_000, seed=0)
        both = time.process_time() - start
        steps = sum(int(f.steps.sum()) for f in frames.values())
        print(f"| {name} | {trained:.2f} | {both:.2f} | {steps:,} |")


def verdicts(seeds: int, rows: list[int]) -> None:
    print()
    print("| scenario | episodes | right verdict | verdicts | exact gap (min to max) |")
    print("|---|---|---|---|---|")
    for name in lake_scenario_names():
        gaps = [exact_gap(name, train_agent(name, seed)) for seed in range(seeds)]
        for count in rows:
            found: Counter[str] = Counter()
            for seed in range(seeds):
                with tempfile.TemporaryDirectory() as folder:
                    options = ["--seed", str(seed), "--rows", str(count), "--out", folder]
                    done = subprocess.run(
                        [MESALENS, "demo", "--scenario", name, *options],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    assert "learned verdict" in done.stdout, done.stdout
                    found[
                        json.loads((Path(folder) / name / "result.json").read_text())["verdict"]
                    ] += 1
            right = found[LAKE_SCENARIOS[name].expected_verdict]
            shown = ", ".join(f"{v} {n}" for v, n in sorted(found.items()))
            print(
                f"| {name} | {count:,} | {right} of {seeds} | {shown} | "
                f"{min(gaps):+.3f} to {max(gaps):+.3f} |"
            )


def calibration(replicates: int = 30) -> None:
    name = "frozenlake-sighted"
    goals = LAKE_SCENARIOS[name].goals
    agent = train_agent(name, 0)
    p_values = []
    for r in range(replicates):
        frames = [
            log_episodes(agent, goals[regime], 10_000, np.random.default_rng([r, code])).assign(
                regime=code
            )
            for code, regime in enumerate(("train", "deploy"))
        ]
        pooled = pd.concat(frames)
        g2, dof = 0.0, 0
        for _, stratum in pooled.groupby("value_estimate"):
            table = pd.crosstab(stratum.regime, stratum.success).to_numpy()
            if table.shape == (2, 2):
                g2 += stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")[0]
                dof += 1
        p_values.append(stats.chi2.sf(g2, dof))
    p = np.sort(p_values)
    uniform = stats.kstest(p, "uniform").pvalue
    print()
    print(f"Calibration ({name}, seed 0, {replicates} replicate logs of 20,000 episodes): G²")
    print(f"p-values of success ⊥ regime | value_estimate: min {p[0]:.3f}, quartiles")
    print(f"{np.quantile(p, 0.25):.3f} / {np.median(p):.3f} / {np.quantile(p, 0.75):.3f}, ", end="")
    print(f"below 0.01: {(p < 0.01).sum()} of {replicates}; KS against uniform p = {uniform:.2f}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--rows", default="2000,20000")
    args = parser.parse_args()
    costs()
    verdicts(args.seeds, [int(r) for r in args.rows.split(",")])
    calibration()


if __name__ == "__main__":
    main()
