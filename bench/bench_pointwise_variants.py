"""Spline choices for the flexible pointwise gap, on the same draws: coverage and power.

For ``--reps`` models of one ``mesalens simulate`` family (drawn as the
simulation study draws them, seed 0), shifts 0.25 and 0.5 and each number of
rows per regime, the gap at the reference's deciles is estimated by a cubic
regression spline per regime with a fixed number of knots (each choice in
``--knots``, and ``auto``: :func:`~mesalens.pipeline.pointwise_gap.spline_knots`),
HC3 errors, and compared with the exact gap
(:func:`~mesalens.pipeline.simulation_gap.exact_curve`, 30,000 rows per
regime). Printed per choice: how many of the points' 95% intervals cover
the exact gap, in how many trials whose criterion holds TOST confirms every
point at 0.1 SD of ``Y_b``, and the median 90% half-width in SDs of ``Y_b``.

Run from the repository root::

    nice -n 5 .venv/bin/python bench/bench_pointwise_variants.py --rows 2000,8000 \\
        --reps 12 --family nonlinear --knots 5,6,7,11
"""

from __future__ import annotations

import argparse

import numpy as np
from threadpoolctl import threadpool_limits

from mesalens.connectors.random_scm import SCMFamily
from mesalens.pipeline.pointwise_gap import spline_point_gaps
from mesalens.pipeline.simulation import true_verdict
from mesalens.pipeline.simulation_gap import exact_curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="2000,8000")
    parser.add_argument("--reps", type=int, default=12)
    parser.add_argument("--family", default="nonlinear")
    parser.add_argument("--knots", default="5,6,7,11")
    args = parser.parse_args()
    sizes = [int(r) for r in args.rows.split(",")]
    choices: list[int | None] = [int(k) for k in args.knots.split(",")] + [None]
    # per (choice, rows): covered points, points, confirmed where it holds, holding trials, widths
    stats = {(k, r): [0, 0, 0, 0, []] for k in choices for r in sizes}
    with threadpool_limits(1):
        for rep in range(args.reps):
            scm = SCMFamily(nodes=8, kind=args.family).draw([0, rep])
            for shift in (0.25, 0.5):
                holds = true_verdict(scm, shift) == "all"
                curve = exact_curve(scm, shift, holds=holds, seed=[0, rep, 2], rows=30_000)
                for rows in sizes:
                    frames = scm.sample(shift, 2 * rows, [0, rep, 2 * rows])
                    train, deploy = frames["train"], frames["deploy"]
                    if np.issubdtype(train["Y_m"].dtype, np.integer):
                        continue
                    ym = np.concatenate([train["Y_m"], deploy["Y_m"]]).astype(float)
                    y = np.concatenate([train["Y_b"], deploy["Y_b"]]).astype(float)
                    codes = np.repeat([0, 1], [len(train), len(deploy)])
                    for knots in choices:
                        points = spline_point_gaps(ym, y, codes, (0, 1), knots=knots)
                        estimate = np.array([p[2] for p in points])
                        se = np.array([p[3] for p in points])
                        truth, _ = curve.at([p[1] for p in points])
                        entry = stats[(knots, rows)]
                        entry[0] += int(np.sum(np.abs(estimate - truth) <= 1.96 * se))
                        entry[1] += len(points)
                        entry[4].extend(list(1.645 * se / curve.scale))
                        if holds:
                            entry[3] += 1
                            inside = np.abs(estimate) + 1.645 * se < 0.1 * curve.scale
                            entry[2] += int(np.all(inside))
    for (knots, rows), (hit, total, confirmed, holding, widths) in stats.items():
        name = "auto" if knots is None else f"{knots} knots"
        print(
            f"{args.family} {rows} rows/regime, {name:9s}: coverage {hit}/{total} = "
            f"{hit / max(total, 1):.3f}; TOST confirms where it holds {confirmed}/{holding}; "
            f"median 90% half-width {np.median(widths):.3f} SD"
        )


if __name__ == "__main__":
    main()
