"""The loader's one pass over CSV logs: time per million rows, for two code trees.

The CSV reader now parses the rows under a header of its own (so that no
column name reaches pandas' parser) and tells each column which fields are
missing (text: empty only; numbers: the usual tokens). This script measures
what that costs: it writes two regimes of ROWS rows each (8 float columns,
one whole-number column and two text columns, a few missing values), then
times :func:`mesalens.connectors.load_regimes` on them (the single pass:
validation, moments, cell counts, samples), best of ``--repeat`` runs, in
the interpreter it runs in.

Run it with each tree's interpreter on the same files::

    .venv/bin/python bench/bench_csv_read.py --rows 1000000 --folder /tmp/csvbench
    /path/to/other/tree/.venv/bin/python bench/bench_csv_read.py --rows 1000000 \\
        --folder /tmp/csvbench

It prints one line: the tree, the rows, the best and median wall times.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd


def write_logs(folder: Path, rows: int) -> list[Path]:
    """Two regimes of CSV logs (kept when already there)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for code, name in enumerate(("train", "deploy")):
        path = folder / f"{name}-{rows}.csv"
        paths.append(path)
        if path.exists():
            continue
        rng = np.random.default_rng(code)
        data = {f"x{i}": rng.normal(size=rows) + code * (i == 0) for i in range(8)}
        data["count"] = rng.integers(0, 5, size=rows)
        data["state"] = rng.choice(["None", "Mild", "Severe"], size=rows)
        data["flag"] = rng.choice(["yes", "no"], size=rows)
        frame = pd.DataFrame(data)
        frame.loc[frame.index % 997 == 0, "x3"] = np.nan  # a few missing values
        frame.to_csv(path, index=False)
    return paths


def main() -> None:
    """Time the pass and print one line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per regime")
    parser.add_argument("--folder", type=Path, default=Path("/tmp/mesalens-csvbench"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import mesalens.connectors as connectors
    from mesalens.connectors import RegimeSpec, load_regimes

    train, deploy = write_logs(args.folder, args.rows)
    specs = [RegimeSpec("train", str(train)), RegimeSpec("deploy", str(deploy))]
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        data = load_regimes(specs)
        times.append(time.perf_counter() - start)
    tree = Path(connectors.__path__[0]).parent
    kept = sum(summary.rows_kept for summary in data.summary.values())
    print(
        f"{tree}: {2 * args.rows:,} rows ({kept:,} kept), best {min(times):.2f} s, "
        f"median {statistics.median(times):.2f} s over {args.repeat} runs"
    )


if __name__ == "__main__":
    main()
