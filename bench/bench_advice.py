"""The cost of the advice (``pipeline/advice.py``) against the check it advises on.

Run from the repository root: ``.venv/bin/python bench/bench_advice.py``.
Prints a markdown table (the one in bench/RESULTS.md, section "Advice").

On the CPDAGs of ``bench/bench_engine.py`` (``bench/graphs.py``, 100, 1,000
and 3,000 world nodes, the regime at the mesa objective, which leaves the
decision several parent sets), for policies that give ``some``, ``none`` and
``invalid``: CPU seconds of ``check`` and of ``advise`` on its result, in
alternating rounds (best of ``ROUNDS``), so that load from other processes
hits both alike; the ratio is the one to read. Also the checks each search
was allowed and used, and whether it finished within its budget.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.graphs import cpdag_with_roles
from mesalens.pipeline.advice import advise
from mesalens.pipeline.advice_knowledge import describe
from mesalens.pipeline.checker import check
from mesalens.pipeline.knowledge import read_tetrad_knowledge
from mesalens.pipeline.knowledge_graph import apply_knowledge
from mesalens.pipeline.roles import Roles

CASES = [(100, 60, 0.95), (1000, 12, 0.8), (3000, 8, 0.8)]
ROUNDS = 3


def best_check_and_advice(graph, spec: Roles, rounds: int = ROUNDS):
    """The check, its advice (as a dict), and the best CPU seconds of each over ``rounds``."""
    best_check = best_advice = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        result = check(graph, spec)
        best_check = min(best_check, time.process_time() - start)
        start = time.process_time()
        advice = advise(result).to_dict()
        best_advice = min(best_advice, time.process_time() - start)
    return result, advice, best_check, best_advice


def main() -> None:
    print(f"load average at start: {os.getloadavg()}")
    print(
        "| nodes | policy | verdict | check (s) | advice (s) | ratio | resolution checks "
        "used/allowed | complete | policies checked/allowed | passing |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    passed_back = []
    for n, clique, extend in CASES:
        graph, roles = cpdag_with_roles(n, 0, clique, extend, regime_at="mesa")
        for label, inputs in (
            ("regime", ("regime",)),
            ("the 3 observations", tuple(roles["inputs"])),
            ("keep", None),
        ):
            spec = Roles("regime", (roles["base"],), (roles["mesa"],), (roles["decision"],), inputs)
            result, advice, best_check, best_advice = best_check_and_advice(graph, spec)
            budget, policy = advice["budget"], advice["policy"]
            if advice["knowledge"]:
                passed_back.append((len(graph.nodes), graph, spec, advice["knowledge"]))
            print(
                f"| {len(graph.nodes)} | {label} | {result.verdict} | {best_check:.3f} | "
                f"{best_advice:.2f} | {best_advice / best_check:.0f}x | "
                f"{budget['resolution_used']}/{budget['resolution_checks']} | "
                f"{budget['resolution_complete']} | "
                + (
                    f"{policy['checked']}/{policy['allowed']} | {policy['n_passing']} |"
                    if policy
                    else "– | – |"
                ),
                flush=True,
            )
    print()
    print("| nodes | knowledge file passed back | stated | check with it (s) | same counts |")
    print("|---|---|---|---|---|")
    for nodes, graph, spec, rows in passed_back:
        for row in rows:
            start = time.process_time()
            again = check(apply_knowledge(graph, read_tetrad_knowledge(row["text"])), spec)
            seconds = time.process_time() - start
            same = (again.n_dags, again.n_hold, again.n_fail) == (
                row["n_dags"],
                row["n_hold"],
                row["n_fail"],
            )
            said = f"{row['form']}: {describe(row)}"
            print(f"| {nodes} | {said} | {row['verdict']} | {seconds:.2f} | {same} |", flush=True)
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
