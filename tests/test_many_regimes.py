"""Many small regimes: the direct test compares each regime with the reference, not every pair.

Up to ten regimes it compares every pair (k(k-1)/2); beyond, each regime
against the first (k - 1 pairs), each on those two regimes' rows. Through the
CLI: the pairs in result.json, and a shift planted in one regime found
against the reference.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from mesalens.pipeline.gap_results import ALL_PAIRS_MAX_REGIMES, regime_pairs
from mesalens.reports.cli import cli

REGIMES = 14
ROWS = 80
SHIFTED = 7  # Y_b moves at fixed Y_m in this regime only


def write_regimes(folder: Path) -> list[str]:
    rng = np.random.default_rng(3)
    options = []
    for r in range(REGIMES):
        ym = rng.normal(size=ROWS) + 0.02 * r
        yb = ym + rng.normal(size=ROWS) + (2.0 if r == SHIFTED else 0.0)
        action = (ym + rng.normal(size=ROWS) > 0).astype(int)
        path = folder / f"r{r:02d}.csv"
        rows = (f"{a:.6f},{b:.6f},{c}" for a, b, c in zip(ym, yb, action, strict=True))
        path.write_text("\n".join(["ym,yb,action", *rows]) + "\n")
        options += ["--regime", f"r{r:02d}={path}"]
    return options


def test_pairs_rule():
    assert len(regime_pairs(ALL_PAIRS_MAX_REGIMES)) == 45
    assert regime_pairs(ALL_PAIRS_MAX_REGIMES + 1) == [
        (0, j) for j in range(1, ALL_PAIRS_MAX_REGIMES + 1)
    ]
    assert len(regime_pairs(200)) == 199


def test_many_small_regimes_are_each_compared_with_the_reference(tmp_path):
    options = write_regimes(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            "run", *options, "--base", "yb", "--mesa", "ym", "--decision", "action",
            "--no-sensitivity", "--quiet", "--out", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code in (0, 3, 4, 5, 8), result.output
    direct = json.loads((out / "result.json").read_text())["direct_test"]
    assert direct["status"] == "done" and direct["pairs"] == REGIMES - 1
    assert direct["comparisons"].startswith(
        f"each regime against the reference ({REGIMES - 1} pairs"
    )
    (outcome,) = direct["outcomes"]
    deciding = [t for t in outcome["tests"] if t["method"] == outcome["method"]]
    assert [(t["reference"], t["regime"]) for t in deciding] == [
        ("r00", f"r{j:02d}") for j in range(1, REGIMES)
    ]
    # Each pair on its own two regimes' rows (GCM), or on every row (Fisher-z).
    for test in outcome["tests"]:
        assert test["rows"] in (2 * ROWS, REGIMES * ROWS)
    assert len(outcome["gaps"]) == 2 * (REGIMES - 1)
    # The planted shift is found, against the reference, and only there.
    rejected = {t["regime"] for t in deciding if t["reject"]}
    assert rejected == {f"r{SHIFTED:02d}"} and direct["reject"]
    shifted = [g for g in outcome["gaps"] if g["regime"] == f"r{SHIFTED:02d}"]
    assert all(1.0 < g["estimate"] < 3.0 for g in shifted), shifted
