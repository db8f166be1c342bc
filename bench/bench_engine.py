"""Verdict and exact counts on large CPDAGs, against the time of cliquepicking.mec_size.

Run from the repository root: ``.venv/bin/python bench/bench_engine.py``.
Prints a markdown table (the one in bench/RESULTS.md).

Times are CPU seconds of this process (``time.process_time``), the best of
several runs, and the two calls being compared alternate within each round,
so that load from other processes on a shared machine hits both alike.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cliquepicking

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.graphs import cpdag_with_roles
from mesalens.pipeline.checker import check
from mesalens.pipeline.pdag import Pdag
from mesalens.pipeline.roles import Roles

CASES = [
    # (nodes in the world, max clique, chance of extending the last clique)
    (100, 60, 0.95),
    (1000, 12, 0.8),
    (3000, 8, 0.8),
]


ROUNDS = 9  # alternating rounds; the best time of each call is kept
BASE_CALLS = 5  # mec_size calls per round (it is ~50x faster than a check)


def cpu_time(call, times: int = 1) -> float:
    start = time.process_time()
    for _ in range(times):
        call()
    return (time.process_time() - start) / times


def best_times(check_call, base_call) -> tuple[float, float]:
    """The best CPU time of each call over alternating rounds."""
    best_check = best_base = float("inf")
    for _ in range(ROUNDS):
        best_base = min(best_base, cpu_time(base_call, BASE_CALLS))
        best_check = min(best_check, cpu_time(check_call))
    return best_check, best_base


def main() -> None:
    print(
        "| nodes | edges | regime at | MEC size | mec_size (s) | policy | check (s) | ratio "
        "| verdict | parent sets | DAGs in restricted class |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n, max_clique, extend in CASES:
        for regime_at in ("world", "mesa"):
            graph, roles = cpdag_with_roles(n, n, max_clique, extend, regime_at=regime_at)
            pdag = Pdag.from_graph(graph)
            undirected = pdag.undirected_edges()
            arcs = pdag.directed_edges() + undirected + [(b, a) for a, b in undirected]
            size = cliquepicking.mec_size(arcs)
            for label, inputs in (("keep", None), ("3 inputs", tuple(roles["inputs"]))):
                spec = Roles(
                    "regime", (roles["base"],), (roles["mesa"],), (roles["decision"],), inputs
                )
                result = check(graph, spec)
                took, base_time = best_times(
                    lambda spec=spec, graph=graph: check(graph, spec),
                    lambda arcs=arcs: cliquepicking.mec_size(arcs),
                )
                print(
                    f"| {len(graph)} | {graph.number_of_edges()} | {regime_at} "
                    f"| ~10^{len(str(size)) - 1} | {base_time:.4f} | {label} | {took:.3f} "
                    f"| {took / base_time:.1f}x | {result.verdict} | {len(result.parent_sets)} "
                    f"| ~10^{len(str(result.n_dags)) - 1} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
