"""Hostile graph inputs: the code before issue 14's fixes against now, side by side.

The "before" modules are the Tetrad reader and the checker of a given commit
(default ``8e7cb2a``, main before this work), loaded from ``git show`` under
other names into the same process, so each before/after pair runs under the
same load. A case that runs past ``--timeout`` seconds is stopped with
SIGALRM and reported as "> T s".

Cases: a Tetrad file with one malformed 40 KB edge line (the error
explanation); reading a complete DAG of 700 nodes (244,650 edges, just
inside the edge limit) and refusing the 5,000-node one (308 MB; built in a
temporary folder); the check of complete undirected CPDAGs K100 and K300
(``--policy-inputs keep``), whose C1/C2 diagnostics and parent-set table now
spend a work budget.

Run from the repository root::

    nice -n 10 .venv/bin/python bench/bench_hostile_graphs.py --timeout 120
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

from mesalens.pipeline import checker as new_checker
from mesalens.pipeline.errors import GraphFormatError
from mesalens.pipeline.formats import read_graph
from mesalens.pipeline.formats import tetrad as new_tetrad
from mesalens.reports.checks.config import build_roles

ROOT = Path(__file__).resolve().parent.parent


def load_old(commit: str, path: str, name: str) -> types.ModuleType:
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{commit}:{path}"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    spec = importlib.util.spec_from_loader(name, loader=None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    exec(compile(source, f"{commit}:{path}", "exec"), module.__dict__)
    return module


class Timeout(Exception):
    pass


def timed(function, timeout: float) -> tuple[str, str]:
    """Run ``function()``; its wall time (or "> T s") and a short outcome."""

    def alarm(*_):
        raise Timeout

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    start = time.perf_counter()
    try:
        outcome = function()
    except Timeout:
        return f"> {timeout:g} s", "no answer"
    except GraphFormatError as exc:
        outcome = "error: " + str(exc)[:90]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return f"{time.perf_counter() - start:.2f} s", str(outcome)[:90]


def complete(n: int, kind: str) -> str:
    names = ["s", "D", "Ym", "Yb", *(f"x{i}" for i in range(n - 4))]
    pairs = itertools.combinations(names, 2)
    edges = "".join(f"{k}. {a} {kind} {b}\n" for k, (a, b) in enumerate(pairs, 1))
    return "Graph Nodes:\n" + ";".join(names) + "\n\nGraph Edges:\n" + edges


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commit", default="8e7cb2a")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    old_tetrad = load_old(args.commit, "pipeline/formats/tetrad.py", "old_tetrad")
    old_checker = load_old(args.commit, "pipeline/checker.py", "old_checker")
    roles = build_roles(regime="s", base="Yb", mesa="Ym", decision="D", policy_inputs="keep")
    rows = []

    bad = "s " + "x" * 20_000 + " --> " + "y " * 10_000
    text = "Graph Nodes:\ns;D;Ym;Yb\n\nGraph Edges:\n1. s --> D\n2. " + bad + "\n"
    for label, module in (("before", old_tetrad), ("after", new_tetrad)):
        rows.append(
            (
                "malformed 40 KB edge line",
                label,
                *timed(lambda m=module: m.read_tetrad(text, "bad.txt"), args.timeout),
            )
        )

    k700 = complete(700, "-->")
    for label, module in (("before", old_tetrad), ("after", new_tetrad)):
        rows.append(
            (
                "read K700 DAG (244,650 edges)",
                label,
                *timed(lambda m=module: repr(m.read_tetrad(k700, "k700.txt")), args.timeout),
            )
        )

    with tempfile.TemporaryDirectory() as folder:
        big = Path(folder) / "dag5000.txt"
        with big.open("w") as handle:
            names = ["s", "D", "Ym", "Yb", *(f"x{i}" for i in range(4996))]
            handle.write("Graph Nodes:\n" + ";".join(names) + "\n\nGraph Edges:\n")
            for k, (a, b) in enumerate(itertools.combinations(names, 2), 1):
                handle.write(f"{k}. {a} --> {b}\n")
        size = os.path.getsize(big)

        def old_read():
            return repr(old_tetrad.read_tetrad(big.read_text(), str(big)))

        rows.append((f"K5000 DAG, {size / 1e6:.0f} MB", "before", *timed(old_read, args.timeout)))
        rows.append(
            (
                f"K5000 DAG, {size / 1e6:.0f} MB",
                "after",
                *timed(lambda: repr(read_graph(big)), args.timeout),
            )
        )

    for n in (100, 300):
        graph = new_tetrad.read_tetrad(complete(n, "---"))
        for label, module in (("before", old_checker), ("after", new_checker)):

            def run(m=module, g=graph):
                result = m.check(g, roles)
                unknown = sum(entry.n_c1 is None for entry in result.parent_sets)
                sets = len(result.parent_sets)
                return f"{result.verdict}, {sets} parent sets, {unknown} C1/C2 unknown"

            rows.append((f"check K{n} CPDAG, keep", label, *timed(run, args.timeout)))

    print(f"load average at the end: {os.getloadavg()}")
    print("| case | code | wall | outcome |")
    print("|---|---|---|---|")
    for case, label, wall, outcome in rows:
        print(f"| {case} | {label} | {wall} | {outcome.replace('|', '/')} |")


if __name__ == "__main__":
    main()
