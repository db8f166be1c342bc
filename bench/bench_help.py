"""Start-up time of ``mesalens --help`` and each subcommand's ``--help``, against a baseline.

Runs each command as a fresh process (as a user's shell would), alternating
between this installation's ``mesalens`` and a baseline's (another
checkout's ``.venv/bin/mesalens``, e.g. main's), so that both see the same
machine load; prints the median wall time of each and their ratio as a
Markdown table, and the load average before and after.

    .venv/bin/python bench/bench_help.py --baseline /work/main/.venv/bin/mesalens --repeats 11
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = (
    ("--help",),
    ("run", "--help"),
    ("check-graph", "--help"),
    ("demo", "--help"),
    ("simulate", "--help"),
)


def wall_time(executable: str, arguments: tuple[str, ...]) -> float:
    """Seconds for one fresh ``executable ARGUMENTS`` process, output discarded."""
    start = time.perf_counter()
    done = subprocess.run(
        [executable, *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{executable} {' '.join(arguments)} exited {done.returncode}")
    return elapsed


def main() -> None:
    """Parse the arguments, time both installations alternately, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(sys.executable).with_name("mesalens")
    parser.add_argument("--mesalens", default=str(here), help="this installation's mesalens")
    parser.add_argument("--baseline", required=True, help="the baseline's mesalens executable")
    parser.add_argument("--repeats", type=int, default=11, help="runs of each command (odd)")
    args = parser.parse_args()
    for path in (args.mesalens, args.baseline):
        if shutil.which(path) is None:
            raise SystemExit(f"no executable {path!r}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows = []
    for arguments in COMMANDS:
        this, base = [], []
        for _ in range(args.repeats):
            base.append(wall_time(args.baseline, arguments))
            this.append(wall_time(args.mesalens, arguments))
        b, t = statistics.median(base), statistics.median(this)
        rows.append((" ".join(arguments), b, t, b / t))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    print("| command | baseline (s) | this (s) | speed-up |")
    print("|---|---|---|---|")
    for command, b, t, ratio in rows:
        print(f"| `mesalens {command}` | {b:.2f} | {t:.2f} | {ratio:.1f}x |")


if __name__ == "__main__":
    main()
