"""Summarise ``mesalens simulate`` outputs: one Markdown row per study, and issue 13's targets.

Reads the ``simulation.json`` of each folder given and prints

1. a comparison table, one row per study (family, method): the accuracy and
   the precision of ``all`` pooled over every cell, the accuracy in the
   cells of shift 0.25 with 4,000 rows (2,000 per regime) and of shift 0.5
   with 16,000 rows; and, where the study measured exit codes, the exit-0
   runs, how many of them are safe, the exit-8 runs, and the two recalls;
2. the targets of issue 13 per study that measured exit codes: the lowest
   safe share among cells with at least 20 exit-0 runs, the recall where it
   holds at 16,000 rows (8,000 per regime), the recall where it fails at
   shift 0.25 and 4,000 rows (2,000 per regime).

Usage::

    .venv/bin/python bench/simulate_summary.py /tmp/simexit-runs/*/
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

NAMES = {"pc": "PC", "ges": "GES", "fci": "FCI", "boss": "BOSS", "grasp": "GRaSP", "auto": "auto"}


def _pooled(trials: list[dict[str, Any]]) -> dict[str, Any]:
    learned_all = [t for t in trials if t["learned_verdict"] == "all"]
    holds = [t for t in trials if t["true_verdict"] == "all"]
    fails = [t for t in trials if t["true_verdict"] != "all"]
    measured = all(t.get("exit_code") is not None for t in trials)
    row: dict[str, Any] = {
        "n": len(trials),
        "accuracy": sum(t["learned_verdict"] == t["true_verdict"] for t in trials) / len(trials),
        "precision": (
            sum(t["true_verdict"] == "all" for t in learned_all) / len(learned_all)
            if learned_all
            else None
        ),
        "measured": measured,
    }
    if measured:
        zero = [t for t in trials if t["exit_code"] == 0]
        row.update(
            zero=len(zero),
            safe=sum(t["safe"] for t in zero),
            eight=sum(t["exit_code"] == 8 for t in trials),
            recall_holds=(sum(t["exit_code"] == 0 for t in holds) / len(holds)) if holds else None,
            recall_fails=(sum(t["exit_code"] != 0 for t in fails) / len(fails)) if fails else None,
        )
    return row


def _cell(trials: list[dict[str, Any]], shift: float, rows: int) -> list[dict[str, Any]]:
    return [t for t in trials if t["shift"] == shift and t["rows"] == rows]


def _f(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def main(folders: list[str]) -> None:
    documents = []
    for folder in folders:
        path = Path(folder) / "simulation.json"
        if path.exists():
            documents.append(json.loads(path.read_text()))
    documents.sort(key=lambda d: (d["settings"]["family"]["kind"], d["settings"]["method"]))
    print(
        "| family | method | runs | accuracy | precision of all | accuracy (0.25, 4,000) | "
        "accuracy (0.5, 16,000) | exit 0 | safe exit 0 | exit 8 | recall (holds) | "
        "recall (fails) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    targets = []
    for document in documents:
        settings, trials = document["settings"], document["trials"]
        kind, method = settings["family"]["kind"], NAMES[settings["method"]]
        if settings["method"] == "auto":
            used = sorted({NAMES.get(t.get("method", ""), "?") for t in trials})
            method = f"auto ({'/'.join(used)})"
        pooled = _pooled(trials)
        if not pooled["measured"]:
            method += " (structural only)"
        mid = _cell(trials, 0.25, 4000)
        big = _cell(trials, 0.5, 16000)
        mid_acc = _pooled(mid)["accuracy"] if mid else None
        big_acc = _pooled(big)["accuracy"] if big else None
        cells = [
            _f(pooled["accuracy"]),
            _f(pooled["precision"]),
            _f(mid_acc),
            _f(big_acc),
        ]
        if pooled["measured"]:
            cells += [
                str(pooled["zero"]),
                f"{pooled['safe']}/{pooled['zero']}",
                str(pooled["eight"]),
                _f(pooled["recall_holds"]),
                _f(pooled["recall_fails"]),
            ]
            by_cell = document["cells"]
            big_cells = [c for c in by_cell if c["confirmed"] >= 20]
            safest = min((c["safe_share"] for c in big_cells), default=None)
            at_8000 = [t for t in trials if t["rows"] == 16000]
            holds_8000 = [t for t in at_8000 if t["true_verdict"] == "all"]
            targets.append(
                (
                    kind,
                    method,
                    len(big_cells),
                    safest,
                    max(c["confirmed"] for c in by_cell),
                    sum(t["exit_code"] == 0 for t in holds_8000),
                    len(holds_8000),
                    _pooled(mid)["recall_fails"] if mid else None,
                )
            )
        else:
            cells += ["–"] * 5
        print(f"| {kind} | {method} | {pooled['n']} | " + " | ".join(cells) + " |")
    if targets:
        print()
        print(
            "| family | method | cells with ≥ 20 exit-0 runs | lowest safe share there | "
            "most exit-0 runs in a cell | exit 0 among holds at 8,000 rows per regime | "
            "recall (fails), 0.25 and 2,000 rows per regime |"
        )
        print("|---|---|---:|---:|---:|---:|---:|")
        for kind, method, n_big, safest, most, zero, holds, fails in targets:
            recall = f"{zero}/{holds} = {zero / holds:.2f}" if holds else "–"
            print(
                f"| {kind} | {method} | {n_big} | {_f(safest)} | {most} | {recall} | {_f(fails)} |"
            )


if __name__ == "__main__":
    main(sys.argv[1:])
