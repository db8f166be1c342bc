"""Coverage of the direct test's gap intervals against the exact estimand, in every simulate family.

For each family of ``mesalens simulate`` (linear-gaussian, nonlinear,
discrete, mixed, confounded), ``--replicates`` models are drawn exactly as
the simulation study draws them (``SCMFamily(kind, nodes).draw([seed, r])``);
for each shift and each number of rows per regime, logs are sampled
(``scm.sample(shift, 2 * rows, [seed, r, 2 * rows])``) and the direct test
runs as ``mesalens run`` runs it (:func:`direct_test` with the run's
default settings and seed). The exact estimand ``θ`` of every model and
shift is :func:`mesalens.pipeline.simulation_gap.exact_theta` (analytic,
enumerated, or a seeded conditional Monte Carlo with its error).

Reported per family x rows (pooled over the shifts) and per family x shift
x rows, with Wilson 95% intervals:

* ``linear``: the nominal 95% interval of the linear (HC3) gap covers ``θ``;
* ``flexible``: the same for the flexible (AIPW) gap;
* ``deciding``: the estimator the equivalence test behind exit 0 uses
  (linear where Fisher-z decides, flexible where GCM does);
* ``tost``: the deciding estimator's ``1 - 2α`` interval (90%, the one TOST
  reads) covers ``θ``; nominal 90%.

Each sample goes through the direct test once per ``--learners`` value
(``boost``: the flexible fits before splines; ``auto``: today's default), so
the learners are compared on the same data, and their CPU time side by side
in one process.

Run from the repository root, under ``nice`` (two worker processes)::

    nice -n 10 .venv/bin/python bench/bench_gap_coverage.py --replicates 40 \\
        --shifts 0.5 --rows 500,2000,8000 --out /tmp/coverage.json

``--table FILE...`` prints the tables of saved runs (pooled, e.g. batches
run with ``--first``) without running anything.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import sys
import time
from pathlib import Path

FAMILIES = ("linear-gaussian", "nonlinear", "discrete", "mixed", "confounded")
Z95, Z90 = 1.959963984540054, 1.6448536269514722


def wilson(successes: int, trials: int) -> tuple[float, float]:
    from mesalens.pipeline.simulation_cells import wilson_interval

    low, high = wilson_interval(successes, trials)
    return (math.nan if low is None else low, math.nan if high is None else high)


def fast_model(job: tuple) -> list[dict]:
    """The pointwise gaps only, without the rest of the direct test (``--fast``).

    The pointwise estimators need no cross-fitting, so they are run directly
    on the sampled rows (every row: the samples are below the direct test's
    100,000-row cap). Which one decides is chosen with the direct test's own
    pre-test (:mod:`mesalens.pipeline.alignment_gap`, ``method="auto"``): the
    same cross-fitted per-regime OLS and spline regressions and the one-sided
    paired test at ``alpha``, on the rows in the order the simulation drew
    them (the direct test's folds follow its sample's order, so a borderline
    pre-test can go the other way there). The exact gap at the points is
    :func:`mesalens.pipeline.simulation_gap.exact_curve`.
    """
    import numpy as np
    import pandas as pd
    from scipy.special import ndtr
    from threadpoolctl import threadpool_limits

    from mesalens.connectors.random_scm import SCMFamily
    from mesalens.pipeline.gap_regressions import (
        boost_features,
        cross_fit_folds,
        learner_for,
        linear_cross_fit,
        linear_features,
        regressions,
    )
    from mesalens.pipeline.gap_results import DirectTestSettings
    from mesalens.pipeline.pointwise_gap import pointwise_gaps
    from mesalens.pipeline.simulation import true_verdict
    from mesalens.pipeline.simulation_gap import exact_curve

    kind, nodes, replicate, shifts, sizes, seed, _, curve_rows = job
    scm = SCMFamily(nodes=nodes, kind=kind).draw([seed, replicate])
    settings = DirectTestSettings(seed=seed)
    out = []
    with threadpool_limits(limits=1):
        for shift in shifts:
            holds = true_verdict(scm, shift) == "all"
            start = time.process_time()
            curve = exact_curve(scm, shift, holds=holds, seed=[seed, replicate, 2], rows=curve_rows)
            curve_seconds = time.process_time() - start
            for rows in sizes:
                frames = scm.sample(shift, 2 * rows, [seed, replicate, 2 * rows])
                start = time.process_time()
                frame = pd.concat([frames["train"], frames["deploy"]], ignore_index=True)
                codes = np.repeat([0, 1], [len(frames["train"]), len(frames["deploy"])])
                kinds = {
                    c: "discrete" if pd.api.types.is_integer_dtype(frame[c]) else "continuous"
                    for c in ("Y_m", "Y_b")
                }
                y = frame["Y_b"].to_numpy(dtype=float)
                method = "gcm"
                if kinds["Y_m"] == kinds["Y_b"] == "continuous":
                    fold = cross_fit_folds(codes, settings.folds, settings.seed)
                    learner = learner_for(frame, ["Y_m"], kinds)
                    x, categorical = boost_features(frame, ["Y_m"])
                    mu = regressions(x, categorical, y, codes, 2, fold, settings, learner)
                    z = linear_features(frame, ["Y_m"], kinds)
                    linear = linear_cross_fit(z, y, codes, 2, fold, settings.folds)
                    diff = (y - linear) ** 2 - (y - mu[np.arange(len(y)), codes]) ** 2
                    spread = diff.std(ddof=1)
                    t = np.sqrt(len(diff)) * diff.mean() / spread if spread > 0 else 0.0
                    method = "gcm" if float(ndtr(-t)) < settings.alpha else "fisherz"
                points = pointwise_gaps(frame, ["Y_m"], kinds, y, codes, [(0, 1)])
                record = {
                    "learner": "auto",
                    "family": kind,
                    "replicate": replicate,
                    "shift": shift,
                    "rows": rows,
                    "holds": holds,
                    "status": "done",
                    "method": method,
                    "scale": curve.scale,
                    "curve_method": curve.method,
                    "curve_seconds": curve_seconds,
                }
                for estimator, per_pair in (points or {}).items():
                    (values,) = per_pair
                    exact, error = curve.at([float(v) for _, v, _, _ in values])
                    record[f"{estimator}_points"] = [
                        [at, float(v), e, se, float(x), float(r)]
                        for (at, v, e, se), x, r in zip(values, exact, error, strict=True)
                    ]
                record["flexible2_points"] = _more_knots(frames, curve, points)
                record["cpu_seconds"] = time.process_time() - start
                out.append(record)
    return out


def one_model(job: tuple) -> list[dict]:
    """Every trial of one model: each shift and each number of rows per regime."""
    import dask

    from mesalens.connectors.random_scm import SCMFamily, loaded_from_frames
    from mesalens.pipeline.alignment_gap import direct_test
    from mesalens.pipeline.gap_results import DirectTestSettings
    from mesalens.pipeline.simulation import true_verdict
    from mesalens.pipeline.simulation_gap import exact_curve, exact_theta

    kind, nodes, replicate, shifts, sizes, seed, learners, curve_rows = job
    scm = SCMFamily(nodes=nodes, kind=kind).draw([seed, replicate])
    out = []
    with dask.config.set(scheduler="sync"):
        for shift in shifts:
            holds = true_verdict(scm, shift) == "all"
            theta = exact_theta(scm, shift, holds=holds, seed=[seed, replicate, 2])
            start = time.process_time()
            curve = exact_curve(scm, shift, holds=holds, seed=[seed, replicate, 2], rows=curve_rows)
            curve_seconds = time.process_time() - start
            for rows in sizes:
                frames = scm.sample(shift, 2 * rows, [seed, replicate, 2 * rows])
                same: dict | None = None
                for learner in sorted(learners):  # "auto" before "boost"
                    if same is not None and learner == "boost":
                        # auto chose boosting: the boost run would repeat it exactly.
                        out.append({**same, "learner": "boost"})
                        continue
                    start = time.process_time()
                    result = direct_test(
                        loaded_from_frames(frames),
                        base=("Y_b",),
                        mesa=("Y_m",),
                        settings=DirectTestSettings(seed=seed, learner=learner),
                        too_few_rows="skip",
                    )
                    seconds = time.process_time() - start
                    record = {
                        "learner": learner,
                        "used": result.learner,
                        "family": kind,
                        "replicate": replicate,
                        "shift": shift,
                        "rows": rows,
                        "holds": holds,
                        "theta": theta.theta,
                        "theta_sd": theta.theta_sd,
                        "mc_error": theta.mc_error,
                        "theta_method": theta.method,
                        "cpu_seconds": seconds,
                        "status": result.status,
                    }
                    if result.status == "done":
                        (outcome,) = result.outcomes
                        record["method"] = outcome.method
                        record["clipped_share"] = result.clipped_share
                        for gap in outcome.gaps:
                            record[gap.estimator] = [gap.estimate, gap.se]
                        # The pointwise gaps and the exact gap at the same points (Y_b's units).
                        for estimator in ("linear", "flexible"):
                            points = [g for g in outcome.pointwise if g.estimator == estimator]
                            exact, error = curve.at([float(g.value) for g in points])
                            record[f"{estimator}_points"] = [
                                [g.at, float(g.value), g.estimate, g.se, float(x), float(e)]
                                for g, x, e in zip(points, exact, error, strict=True)
                            ]
                        # Alternatives on the same sample: twice the spline's knots.
                        record["flexible2_points"] = _more_knots(frames, curve, outcome.pointwise)
                        record["scale"] = curve.scale
                        record["curve_method"] = curve.method
                        record["curve_seconds"] = curve_seconds
                    out.append(record)
                    if learner == "auto" and result.learner == "boost":
                        same = record
    return out


def _more_knots(frames, curve, outcome) -> list:
    """The flexible pointwise gap with twice :func:`spline_knots` knots (continuous Y_m only)."""
    import numpy as np
    import pandas as pd

    from mesalens.pipeline.pointwise_gap import spline_knots, spline_point_gaps

    train, deploy = frames["train"], frames["deploy"]
    if pd.api.types.is_integer_dtype(train["Y_m"]) or not outcome:
        return []  # the same as the flexible points: nothing to compare
    ym = np.concatenate([train["Y_m"].to_numpy(float), deploy["Y_m"].to_numpy(float)])
    yb = np.concatenate([train["Y_b"].to_numpy(float), deploy["Y_b"].to_numpy(float)])
    codes = np.repeat([0, 1], [len(train), len(deploy)])
    knots = 2 * spline_knots(min(len(train), len(deploy))) - 1
    points = spline_point_gaps(ym, yb, codes, (0, 1), knots=knots)
    exact, error = curve.at([value for _, value, _, _ in points])
    return [
        [at, float(value), e, se, float(x), float(r)]
        for (at, value, e, se), x, r in zip(points, exact, error, strict=True)
    ]


def covered(record: dict, estimator: str, z: float) -> bool:
    estimate, se = record[estimator]
    return abs(estimate - record["theta"]) <= z * se


def summarise(records: list[dict], keys: tuple[str, ...]) -> list[dict]:
    """Coverage per group of ``keys``."""
    groups: dict[tuple, list[dict]] = {}
    for record in records:
        if record["status"] == "done":
            groups.setdefault(tuple(record[k] for k in keys), []).append(record)
    rows = []
    for key in sorted(groups, key=lambda k: (k[0], FAMILIES.index(k[1]), *k[2:])):
        chosen = groups[key]
        n = len(chosen)
        row = dict(zip(keys, key, strict=True))
        row["n"] = n
        deciding = [("linear" if r["method"] == "fisherz" else "flexible") for r in chosen]
        counts = {
            "linear": sum(covered(r, "linear", Z95) for r in chosen),
            "flexible": sum(covered(r, "flexible", Z95) for r in chosen),
            "deciding": sum(covered(r, e, Z95) for r, e in zip(chosen, deciding, strict=True)),
            "tost": sum(covered(r, e, Z90) for r, e in zip(chosen, deciding, strict=True)),
        }
        for name, count in counts.items():
            row[name] = (count / n, *wilson(count, n))
        row["gcm_share"] = sum(e == "flexible" for e in deciding) / n
        row["cpu"] = sum(r["cpu_seconds"] for r in chosen) / n
        rows.append(row)
    return rows


def table(rows: list[dict], keys: tuple[str, ...]) -> str:
    def cell(value: tuple[float, float, float]) -> str:
        return f"{100 * value[0]:.1f} ({100 * value[1]:.0f}-{100 * value[2]:.0f})"

    head = [*keys, "n", "linear 95%", "flexible 95%", "deciding 95%", "TOST 90%", "GCM decides"]
    head.append("CPU s/test")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        values = [str(row[k]) for k in keys] + [str(row["n"])]
        values += [cell(row[name]) for name in ("linear", "flexible", "deciding", "tost")]
        values += [f"{100 * row['gcm_share']:.0f}%", f"{row['cpu']:.2f}"]
        lines.append("| " + " | ".join(values) + " |")
    return "\n".join(lines)


def point_hits(record: dict, estimator: str, z: float) -> list[tuple[str, bool]]:
    """Per point with an interval: its label and whether the interval covers the exact gap."""
    return [
        (at, abs(estimate - exact) <= z * se)
        for at, _, estimate, se, exact, _ in record.get(f"{estimator}_points", [])
        if se is not None and math.isfinite(se)
    ]


def summarise_pointwise(records: list[dict], keys: tuple[str, ...]) -> list[dict]:
    """Coverage of the pointwise intervals against the exact gap at the same points, per group."""
    groups: dict[tuple, list[dict]] = {}
    for record in records:
        if record["status"] == "done" and f"{_deciding(record)}_points" in record:
            groups.setdefault(tuple(record[k] for k in keys), []).append(record)
    rows = []
    for key in sorted(groups, key=lambda k: (k[0], FAMILIES.index(k[1]), *k[2:])):
        chosen = groups[key]
        row = dict(zip(keys, key, strict=True))
        row["n"] = len(chosen)
        for name, estimator, z in (
            ("linear", "linear", Z95),
            ("flexible", "flexible", Z95),
            ("flexible2", "flexible2", Z95),
            ("deciding", None, Z95),
            ("tost", None, Z90),
        ):
            hits = [
                hit
                for r in chosen
                for hit in point_hits(
                    r,
                    "flexible"
                    if estimator == "flexible2" and not r["flexible2_points"]
                    else estimator or _deciding(r),
                    z,
                )
            ]
            count = sum(covered for _, covered in hits)
            row[name] = (count / len(hits), *wilson(count, len(hits))) if hits else None
            if name == "deciding":
                row["points"] = len(hits)
                by_point: dict[str, list[bool]] = {}
                for at, covered in hits:
                    by_point.setdefault(at, []).append(covered)
                worst = min(by_point.items(), key=lambda item: sum(item[1]) / len(item[1]))
                row["worst"] = (
                    worst[0],
                    sum(worst[1]) / len(worst[1]),
                    *wilson(sum(worst[1]), len(worst[1])),
                )
                # Records whose every point's interval covers (what a joint claim needs).
                every = sum(all(c for _, c in point_hits(r, _deciding(r), Z95)) for r in chosen)
                row["every"] = (every / len(chosen), *wilson(every, len(chosen)))
        missing = sum(
            1
            for r in chosen
            for p in r.get(f"{_deciding(r)}_points", [])
            if p[3] is None or not math.isfinite(p[3])
        )
        row["no_interval"] = missing
        row["gcm_share"] = sum(_deciding(r) == "flexible" for r in chosen) / len(chosen)
        rows.append(row)
    return rows


def _deciding(record: dict) -> str:
    return "linear" if record.get("method") == "fisherz" else "flexible"


def pointwise_table(rows: list[dict], keys: tuple[str, ...]) -> str:
    def cell(value) -> str:
        if value is None:
            return "–"
        return f"{100 * value[0]:.1f} ({100 * value[1]:.0f}-{100 * value[2]:.0f})"

    head = [*keys, "n", "points", "deciding 95%", "worst point 95%", "all points 95%"]
    head += ["TOST 90%", "linear 95%", "flexible 95%", "flexible, 2x knots 95%"]
    head += ["GCM decides", "no interval"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        worst = row["worst"]
        values = [str(row[k]) for k in keys] + [str(row["n"]), str(row["points"])]
        values += [cell(row["deciding"]), f"{worst[0]}: {cell(worst[1:])}", cell(row["every"])]
        values += [cell(row["tost"]), cell(row["linear"]), cell(row["flexible"])]
        values += [cell(row["flexible2"])]
        values += [f"{100 * row['gcm_share']:.0f}%", str(row["no_interval"])]
        lines.append("| " + " | ".join(values) + " |")
    return "\n".join(lines)


def report(records: list[dict]) -> str:
    skipped = sum(r["status"] != "done" for r in records)
    # One value per model and shift (the learners and sizes share it).
    mc = list(
        {
            (r["family"], r["replicate"], r["shift"]): r["mc_error"] / (r["theta"] / r["theta_sd"])
            for r in records
            if r.get("mc_error", 0) > 0
        }.values()
    )
    # The exact curve's Monte-Carlo error at the points, in SDs of Y_b (largest per trial).
    point_mc = [
        max(p[5] for p in r["flexible_points"]) / r["scale"]
        for r in records
        if r.get("flexible_points") and r.get("curve_method") == "monte-carlo"
    ]
    coarse, fine = ("learner", "family", "rows"), ("learner", "family", "shift", "rows")
    averaged = [r for r in records if "theta" in r]
    parts = []
    if averaged:
        parts += [
            "Per learner, family and rows per regime (pooled over shifts):",
            table(summarise(averaged, coarse), coarse),
            "",
            "Per learner, family, shift and rows per regime:",
            table(summarise(averaged, fine), fine),
            "",
        ]
    if point_mc:
        point_mc.sort()
        parts.append(
            f"Monte-Carlo error of the exact pointwise gap (SD of Y_b, largest of a trial's "
            f"points): median {point_mc[len(point_mc) // 2]:.4f}, max {point_mc[-1]:.4f} "
            f"over {len(point_mc)} trials"
        )
    parts += [
        "Pointwise gap (each decile or level of the reference's Y_m), per learner, family and "
        "rows per regime (pooled over shifts and points):",
        pointwise_table(summarise_pointwise(records, coarse), coarse),
        "",
        "Pointwise gap per learner, family, shift and rows per regime:",
        pointwise_table(summarise_pointwise(records, fine), fine),
        "",
        f"skipped direct tests: {skipped}",
    ]
    learners = sorted({r["learner"] for r in records})
    if len(learners) > 1:
        # The same samples through each learner: CPU per test, side by side.
        cpu = {
            name: sum(r["cpu_seconds"] for r in records if r["learner"] == name)
            for name in learners
        }
        parts.append(
            "CPU of the direct test, all trials: "
            + ", ".join(f"{name} {cpu[name]:.0f} s" for name in learners)
        )
    if mc:
        parts.append(
            f"Monte-Carlo error of theta (SD of Y_b): median {sorted(mc)[len(mc) // 2]:.4f}, "
            f"max {max(mc):.4f} over {len(mc)} model-shifts"
        )
    return "\n".join(parts)


def variance_case(rows: int, draws: int) -> str:
    """The docstring's hard case: Y_m 1.5 times wider in deploy, Y_b = Y_m² + noise, θ = 0.

    The AIPW gap of each learner on the same draws (seeds ``0..draws-1``),
    with the direct test's folds, clip and boosting settings.
    """
    import numpy as np
    from threadpoolctl import threadpool_limits

    from mesalens.pipeline.gap_estimators import aipw_gaps
    from mesalens.pipeline.gap_regressions import cross_fit_folds, propensities, regressions
    from mesalens.pipeline.gap_results import DirectTestSettings

    settings = DirectTestSettings(seed=0)
    found: dict[str, list[tuple[float, float]]] = {"boost": [], "spline": []}
    with threadpool_limits(limits=1):
        for seed in range(draws):
            rng = np.random.default_rng(seed)
            codes = np.repeat([0, 1], rows)
            ym = rng.normal(size=2 * rows) * np.where(codes == 1, 1.5, 1.0)
            yb = ym**2 + 0.5 * rng.normal(size=2 * rows)
            x, flags = ym[:, None], np.array([False])
            fold = cross_fit_folds(codes, settings.folds, settings.seed)
            for learner, values in found.items():
                pi = propensities(x, flags, codes, 2, fold, settings, learner)
                mu = regressions(x, flags, yb, codes, 2, fold, settings, learner)
                ((estimate, se),) = aipw_gaps(yb, codes, mu, pi, 2, settings.clip)
                values.append((estimate, se))
    lines = [f"variance case, {rows:,} rows per regime, {draws} draws:"]
    for learner, values in found.items():
        hits = sum(abs(e) <= Z95 * se for e, se in values)
        low, high = wilson(hits, draws)
        mean_se = sum(se for _, se in values) / draws
        mean = sum(e for e, _ in values) / draws
        lines.append(
            f"  {learner}: covers 0 in {hits}/{draws} ({100 * hits / draws:.0f}%, "
            f"{100 * low:.0f}-{100 * high:.0f}), mean estimate {mean:+.4f}, mean SE {mean_se:.4f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--replicates", type=int, default=40)
    parser.add_argument("--first", type=int, default=0, help="first replicate (to add a batch)")
    parser.add_argument("--shifts", default="0.25,0.5")
    parser.add_argument("--rows", default="500,2000,8000", help="rows per regime")
    parser.add_argument("--nodes", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--learners",
        default="boost,auto",
        help="DirectTestSettings.learner values, each run on the same samples",
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help="the pointwise gaps only, without the rest of the direct test (see fast_model)",
    )
    parser.add_argument(
        "--curve-rows",
        type=int,
        default=100_000,
        help="rows per regime of the exact gap curve's conditional Monte Carlo",
    )
    parser.add_argument("--out", type=Path, help="write every trial here (JSON)")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=math.inf,
        help="stop after this long and report the models finished (replicates run in order)",
    )
    parser.add_argument(
        "--table", type=Path, nargs="+", help="print the tables of saved runs (pooled) and stop"
    )
    parser.add_argument(
        "--variance-case",
        type=int,
        nargs=2,
        metavar=("ROWS", "DRAWS"),
        help="only the hard case of the alignment_gap docstring, both learners, and stop",
    )
    args = parser.parse_args(argv)
    if args.variance_case:
        print(variance_case(*args.variance_case))
        return 0
    if args.table:
        print(report([t for path in args.table for t in json.loads(path.read_text())["trials"]]))
        return 0
    families = tuple(args.families.split(","))
    shifts = tuple(float(s) for s in args.shifts.split(","))
    sizes = tuple(int(n) for n in args.rows.split(","))
    jobs = [
        (
            kind,
            args.nodes,
            r,
            shifts,
            sizes,
            args.seed,
            tuple(args.learners.split(",")),
            args.curve_rows,
        )
        for r in range(args.first, args.first + args.replicates)
        for kind in families
    ]
    # Import the package before the workers fork, so every worker runs the same code.
    import sklearn.ensemble  # noqa: F401

    import mesalens.pipeline.alignment_gap
    import mesalens.pipeline.simulation  # noqa: F401

    start = time.perf_counter()
    records: list[dict] = []
    context = multiprocessing.get_context("fork")
    done = 0
    with context.Pool(args.workers) as pool:
        for part in pool.imap_unordered(fast_model if args.fast else one_model, jobs):
            records.extend(part)
            done += 1
            elapsed = time.perf_counter() - start
            print(f"{done}/{len(jobs)} models, {elapsed:.0f} s", file=sys.stderr)
            if elapsed > args.max_seconds:
                pool.terminate()
                break
    wall = time.perf_counter() - start
    records.sort(key=lambda r: (r["family"], r["replicate"], r["shift"], r["rows"]))
    text = report(records)
    print(text)
    print(f"{done} of {len(jobs)} models; wall {wall:.0f} s, load average {os.getloadavg()[0]:.1f}")
    if args.out:
        document = {"argv": sys.argv, "wall_seconds": wall, "models": done, "trials": records}
        args.out.write_text(json.dumps(document, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
