"""`mesalens run` on many small regimes: the wall time and the pairs the direct test compared.

Run from the repository root::

    nice -n 10 .venv/bin/python bench/bench_many_regimes.py --regimes 200 --rows 50 --timeout 900

It writes ``--regimes`` CSV files of ``--rows`` rows each (``ym`` shifts with
the regime, ``yb`` follows ``ym`` alone, ``action`` follows ``ym``), runs
``mesalens run`` on them once (a subprocess, ``--timeout`` seconds at most)
and prints one markdown table row: regimes, rows, wall seconds (or
"no answer"), exit code, and the number of regime pairs in ``result.json``'s
direct test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_regimes(folder: Path, regimes: int, rows: int, seed: int = 0) -> list[str]:
    """One CSV file per regime; the ``--regime`` options that name them."""
    rng = np.random.default_rng(seed)
    options = []
    for r in range(regimes):
        ym = rng.normal(size=rows) + 0.01 * r
        yb = ym + rng.normal(size=rows)
        action = (ym + rng.normal(size=rows) > 0).astype(int)
        path = folder / f"r{r:03d}.csv"
        rows_text = (f"{a:.6f},{b:.6f},{c}" for a, b, c in zip(ym, yb, action, strict=True))
        lines = ["ym,yb,action", *rows_text]
        path.write_text("\n".join(lines) + "\n")
        options += ["--regime", f"r{r:03d}={path}"]
    return options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regimes", type=int, default=200)
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    mesalens = Path(sys.executable).with_name("mesalens")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        options = write_regimes(folder, args.regimes, args.rows)
        command = [
            str(mesalens),
            "run",
            *options,
            "--base",
            "yb",
            "--mesa",
            "ym",
            "--decision",
            "action",
            "--quiet",
            "--out",
            str(folder / "out"),
        ]
        start = time.monotonic()
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            print(f"| {args.regimes} | {args.rows} | no answer in {args.timeout:.0f} s | - | - |")
            return
        wall = time.monotonic() - start
        pairs: object = "-"
        result = folder / "out" / "result.json"
        if result.exists():
            direct = json.loads(result.read_text()).get("direct_test") or {}
            outcomes = direct.get("outcomes") or []
            if outcomes:
                pairs = sum(1 for t in outcomes[0]["tests"] if t["method"] == outcomes[0]["method"])
        print(f"| {args.regimes} | {args.rows} | {wall:.1f} | {done.returncode} | {pairs} |")
        if done.returncode not in (0, 3, 4, 5, 8):
            print(done.stderr[-2000:], file=sys.stderr)


if __name__ == "__main__":
    main()
