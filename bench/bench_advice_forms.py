"""The advice with knowledge in three forms against the advice at a git revision (default ``main``).

Run from the repository root: ``.venv/bin/python bench/bench_advice_forms.py [REV]``.
Prints a markdown table (bench/RESULTS.md, section "Advice: knowledge in
three forms").

The revision's ``pipeline/advice.py`` is loaded from ``git show`` as a
separate module, next to this tree's, in one process; both advise on the
same check results, in alternating rounds (best of ``ROUNDS``, CPU seconds
of this process), so that load from other processes hits both alike: the
ratio is the one to read. Cases: the ``some`` cases of
``bench/bench_advice.py`` (CPDAGs of 100, 1,000 and 3,000 world nodes,
policy reading the regime) and the built-in example ``undecided``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_advice import best_check_and_advice
from bench.graphs import cpdag_with_roles
from mesalens.pipeline.advice import advise
from mesalens.pipeline.checker import check
from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.roles import Roles

ROOT = Path(__file__).resolve().parent.parent
CASES = [(100, 60, 0.95), (1000, 12, 0.8), (3000, 8, 0.8)]
ROUNDS = 3


def _old_advise(revision: str):
    source = subprocess.run(
        ["git", "show", f"{revision}:pipeline/advice.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location("advice_at_revision", handle.name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    os.unlink(handle.name)
    return module.advise


def _cases():
    for n, clique, extend in CASES:
        graph, roles = cpdag_with_roles(n, 0, clique, extend, regime_at="mesa")
        spec = Roles(
            "regime", (roles["base"],), (roles["mesa"],), (roles["decision"],), ("regime",)
        )
        yield f"{len(graph.nodes)} nodes", check(graph, spec)
    # The built-in example ``undecided`` (mesalens check-graph --example undecided).
    g = CausalGraph(["regime", "value", "final_action", "got_coin"])
    for u, v in [("regime", "value"), ("value", "final_action"), ("value", "got_coin")]:
        g.add_edge(u, v, "---")
    g.add_edge("final_action", "got_coin", "---")
    spec = Roles("regime", ("got_coin",), ("value",), ("final_action",), ("value", "regime"))
    yield "example undecided", check(g, spec)


def _pag_cases():
    """Two PAGs: the tests' ``PAG_SOME`` and a 6-node PAG with two o-o triangles."""
    some = CausalGraph(["regime", "reward", "action", "value"])
    some.add_edge("reward", "action", "o-o")
    some.add_edge("reward", "value", "o-o")
    yield (
        "4 nodes (PAG_SOME)",
        some,
        Roles("regime", ("reward",), ("value",), ("action",), ("regime",)),
    )
    nodes = ["regime", "a", "b", "c", "d", "e"]
    wide = CausalGraph(nodes)
    for u, v in [("a", "b"), ("b", "c"), ("a", "c"), ("c", "d"), ("d", "e"), ("c", "e")]:
        wide.add_edge(u, v, "o-o")
    wide.add_edge("regime", "a", "o->")
    yield (
        "6 nodes, two o-o triangles",
        wide,
        Roles("regime", ("d",), ("a",), ("e",), ("regime",)),
    )


def main() -> None:
    revision = sys.argv[1] if len(sys.argv) > 1 else "main"
    old_advise = _old_advise(revision)
    print(f"load average at start: {os.getloadavg()}")
    print(
        f"| case | {revision} (s) | this tree (s) | ratio | knowledge rows {revision} | "
        "rows now (required/forbidden/tiers) | resolution checks used/allowed now |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, result in _cases():
        best_old = best_new = float("inf")
        for _ in range(ROUNDS):
            start = time.process_time()
            old = old_advise(result).to_dict()
            best_old = min(best_old, time.process_time() - start)
            start = time.process_time()
            new = advise(result).to_dict()
            best_new = min(best_new, time.process_time() - start)
        forms = [
            sum(r["form"] == f for r in new["knowledge"])
            for f in ("required", "forbidden", "tiers")
        ]
        budget = new["budget"]
        print(
            f"| {label} | {best_old:.3f} | {best_new:.3f} | {best_new / best_old:.2f}x | "
            f"{len(old['knowledge'])} | {'/'.join(map(str, forms))} | "
            f"{budget['resolution_used']}/{budget['resolution_checks']} |"
        )
    print()
    print("| PAG | MAGs | verdict | check (s) | advice (s) | ratio | circle-mark rows | policies |")
    print("|---|---|---|---|---|---|---|---|")
    for label, graph, spec in _pag_cases():
        result, advice, best_check, best_advice = best_check_and_advice(graph, spec, ROUNDS)
        policy = advice["policy"] or {}
        print(
            f"| {label} | {result.n_dags} | {result.verdict} | {best_check:.3f} | "
            f"{best_advice:.3f} | {best_advice / max(best_check, 1e-9):.0f}x | "
            f"{len(advice['marks'])} | {policy.get('checked', 0)}/{policy.get('allowed', 0)} |"
        )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
