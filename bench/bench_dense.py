"""`mesalens check-graph` on dense classes: complete undirected graphs K_n.

Every node of K_n is adjacent to the decision D, so D has 2^(n-2) candidate
parent sets and the C1/C2 diagnostics of each would branch exponentially;
they stop at their budget (``DIAGNOSTICS_LEAF_BUDGET`` per parent set,
``DIAGNOSTICS_TOTAL_BUDGET`` in all, ``pipeline/checker.py``) and are then
reported as unknown, while the counts stay exact. Each run is a fresh
``mesalens check-graph`` process (wall time from the parent, interpreter
start included), for ``--policy-inputs keep`` (the default) and ``none``
(explicit inputs: every parent set is checked).

Run from the repository root::

    .venv/bin/python bench/bench_dense.py                 # K8 .. K25
    .venv/bin/python bench/bench_dense.py --sizes 12,16
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MESALENS = str(Path(sys.executable).with_name("mesalens"))


def complete_graph(n: int, path: Path) -> None:
    """K_n in Tetrad text: the roles s, D, Ym, Yb and n - 4 other nodes, every pair joined."""
    names = ["s", "D", "Ym", "Yb", *(f"x{i}" for i in range(n - 4))]
    edges = [f"{a} --- {b}" for a, b in itertools.combinations(names, 2)]
    lines = [f"{k}. {edge}" for k, edge in enumerate(edges, start=1)]
    path.write_text("Graph Nodes:\n" + ";".join(names) + "\n\nGraph Edges:\n" + "\n".join(lines))


def measure(graph: Path, policy: str, out: Path, timeout: float) -> dict:
    cmd = [MESALENS, "check-graph", str(graph), "--regime", "s", "--base", "Yb", "--mesa", "Ym",
           "--decision", "D", "--policy-inputs", policy, "--json", str(out), "--quiet"]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"wall": None, "error": f"over {timeout:g} s"}
    wall = time.perf_counter() - start
    row: dict = {"wall": wall, "rc": proc.returncode}
    if proc.returncode in (0, 3, 4, 5):
        document = json.loads(out.read_text())
        sets = document["parent_sets"]
        row.update(
            n_dags=document["n_dags"],
            parent_sets=len(sets),
            unknown=sum(entry["n_c1"] is None for entry in sets),
        )
    else:
        row["error"] = err.strip().splitlines()[-1] if err.strip() else f"exit {proc.returncode}"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="8,10,12,14,16,25")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    print("| n | policy inputs | wall | DAGs | parent sets | C1/C2 unknown | note |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for n in (int(text) for text in args.sizes.split(",")):
            graph = Path(folder, f"k{n}.txt")
            complete_graph(n, graph)
            for policy in ("keep", "none"):
                row = measure(graph, policy, Path(folder, f"k{n}-{policy}.json"), args.timeout)
                wall = "–" if row["wall"] is None else f"{row['wall']:.2f} s"
                print(
                    f"| {n} | {policy} | {wall} | {row.get('n_dags', '–')} | "
                    f"{row.get('parent_sets', '–')} | {row.get('unknown', '–')} | "
                    f"{row.get('error', '')} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
