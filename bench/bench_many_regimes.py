"""`mesalens run` on many small regimes: the wall time and the pairs the direct test compared.

Run from the repository root::

    nice -n 10 .venv/bin/python bench/bench_many_regimes.py --regimes 200 --rows 50 --timeout 900

With ``--direct-test K1,K2,...`` it instead times the direct test alone, in
this process, in CPU seconds (``time.process_time``: the load of a shared
machine does not count), on K regimes of ``--rows`` rows each, under the rule
of today (each regime against the reference beyond ten regimes) and under
the old rule (every pair, one k-class propensity model), alternating, and
prints one markdown row per K (the old rule only up to ``--old-max`` regimes).

Otherwise it writes ``--regimes`` CSV files of ``--rows`` rows each (``ym`` shifts with
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


def direct_test_cpu(counts: list[int], rows: int, old_max: int) -> None:
    """CPU seconds of the direct test under today's rule and the old one (every pair)."""
    import functools

    import dask.dataframe as dd
    import pandas as pd

    from mesalens.connectors.loaded import LoadedData
    from mesalens.pipeline import alignment_gap, gap_regressions, gap_results
    from mesalens.pipeline.alignment_gap import direct_test
    from mesalens.pipeline.gap_results import DirectTestSettings

    def timed(k: int, every_pair: bool) -> tuple[float, int]:
        rng = np.random.default_rng(0)
        s = np.repeat(np.arange(k), rows)
        ym = rng.normal(size=k * rows) + 0.01 * s
        frame = pd.DataFrame({"regime": s, "ym": ym, "yb": ym + rng.normal(size=k * rows)})
        data = LoadedData(
            functools.partial(dd.from_pandas, frame, npartitions=1),
            "regime",
            tuple(f"r{i}" for i in range(k)),
            ("regime", "ym", "yb"),
            {"regime": "discrete", "ym": "continuous", "yb": "continuous"},
            {},
            (),
        )
        limit = 10**9 if every_pair else gap_results.ALL_PAIRS_MAX_REGIMES
        for module in (gap_results, gap_regressions, alignment_gap):
            if hasattr(module, "ALL_PAIRS_MAX_REGIMES"):
                module.ALL_PAIRS_MAX_REGIMES = limit
        try:
            start = time.process_time()
            # Beyond 100 regimes Fisher-z's statistics would need the loader's pass
            # (compute_statistics alone refuses a discrete column of >100 levels): GCM only.
            settings = DirectTestSettings(method="gcm" if k > 100 else "auto")
            result = direct_test(data, base=("yb",), mesa=("ym",), settings=settings)
            spent = time.process_time() - start
        finally:
            for module in (gap_results, gap_regressions, alignment_gap):
                if hasattr(module, "ALL_PAIRS_MAX_REGIMES"):
                    module.ALL_PAIRS_MAX_REGIMES = 10
        outcome = result.outcomes[0]
        return spent, sum(1 for t in outcome.tests if t.method == outcome.method)

    timed(2, every_pair=False)  # warm-up: imports and first fits are not timed
    print(
        "| regimes | rows each | pairs (today) | CPU s (today) | pairs (every pair) "
        "| CPU s (every pair) | ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    for k in counts:
        new, new_pairs = timed(k, every_pair=False)
        if k <= old_max:
            old, old_pairs = timed(k, every_pair=True)
            tail = f"{old_pairs} | {old:.1f} | {old / new:.1f}x"
        else:
            tail = "- | not run | -"
        print(f"| {k} | {rows} | {new_pairs} | {new:.1f} | {tail} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regimes", type=int, default=200)
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--direct-test", metavar="K1,K2,...", default=None)
    parser.add_argument("--old-max", type=int, default=40)
    args = parser.parse_args()
    if args.direct_test:
        direct_test_cpu([int(k) for k in args.direct_test.split(",")], args.rows, args.old_max)
        return
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
            document = json.loads(result.read_text())
            stages = document.get("timings") or {}
            shown = ", ".join(
                f"{k} {v:.1f}" for k, v in stages.items() if isinstance(v, int | float)
            )
            print(f"stages (s): {shown}", file=sys.stderr)
            direct = document.get("direct_test") or {}
            outcomes = direct.get("outcomes") or []
            if outcomes:
                pairs = sum(1 for t in outcomes[0]["tests"] if t["method"] == outcomes[0]["method"])
        print(f"| {args.regimes} | {args.rows} | {wall:.1f} | {done.returncode} | {pairs} |")
        if done.returncode not in (0, 3, 4, 5, 8):
            print(done.stderr[-2000:], file=sys.stderr)


if __name__ == "__main__":
    main()
