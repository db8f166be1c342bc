"""The alignment gap pointwise in Y_m: the estimators, the exact curve, and exit 8 when it hides.

The estimators of :mod:`mesalens.pipeline.pointwise_gap` against known
answers (straight lines per regime, a curved gap, group means by brute
force); the exact gap curve of :mod:`mesalens.pipeline.simulation_gap`
against closed forms; the confirmation's rule (the averaged gap is 0 but the
gap at the end deciles is ±0.3 SD: not confirmed); and the CLI: such logs
exit 8 with ``mesalens run``, where the averaged gap alone exited 0.
"""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtri

from mesalens.connectors.random_scm import SCMFamily
from mesalens.pipeline.confirmation import Tolerance, confirm
from mesalens.pipeline.pointwise_gap import (
    DECILES,
    LINE_TEST_LEVEL,
    MIN_LEVEL_ROWS,
    MIN_LEVEL_SHARE,
    level_point_gaps,
    line_test,
    linear_point_gaps,
    pointwise_gaps,
    spline_point_gaps,
)
from mesalens.pipeline.simulation_gap import (
    DECILES as SIMULATION_DECILES,
)
from mesalens.pipeline.simulation_gap import (
    MIN_LEVEL_SHARE as SIMULATION_LEVEL_SHARE,
)
from mesalens.pipeline.simulation_gap import (
    _conditional_sums,
    _curve_of,
    exact_curve,
    exact_theta,
)

from .test_exact_theta import linear_link_theta

MESALENS = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "mesalens")
ROWS = {"train": 5_000, "deploy": 5_000}


def test_the_points_are_the_ones_simulate_reads_the_exact_gap_at():
    assert DECILES == SIMULATION_DECILES and MIN_LEVEL_SHARE == SIMULATION_LEVEL_SHARE


# --------------------------------------------------------------------------- estimators


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    a=st.floats(-2, 2),
    b=st.floats(-2, 2),
    c=st.floats(-2, 2),
    d=st.floats(-2, 2),
    shift=st.floats(-1, 1),
    seed=st.integers(0, 10_000),
)
def test_the_linear_pointwise_gap_is_the_difference_of_the_two_lines(a, b, c, d, shift, seed):
    # Per regime y = intercept + slope * Y_m + tiny noise: the gap at y is (c - a) + (d - b) y,
    # read at the reference's deciles (brute force: numpy's quantiles of its rows).
    rng = np.random.default_rng(seed)
    codes = np.repeat([0, 1], 300)
    ym = rng.normal(size=600) + shift * codes
    y = np.where(codes == 1, c + d * ym, a + b * ym) + 1e-6 * rng.normal(size=600)
    gaps = linear_point_gaps(ym, y, codes, (0, 1))
    points = np.quantile(ym[codes == 0], DECILES)
    assert [g[0] for g in gaps] == [f"{round(100 * q)}%" for q in DECILES]
    for (_, value, estimate, se), point in zip(gaps, points, strict=True):
        assert value == pytest.approx(point)
        assert estimate == pytest.approx((c - a) + (d - b) * point, abs=1e-4)
        assert 0 <= se < 1e-4


def test_different_slopes_average_to_zero_but_not_pointwise():
    # The case: the gap averaged over the pooled Y_m is 0, at the end deciles ±0.3 SD.
    rng = np.random.default_rng(0)
    codes = np.repeat([0, 1], 20_000)
    ym = rng.normal(size=40_000)
    yb = np.where(codes == 1, 1.13, 0.87) * ym + 0.5 * rng.normal(size=40_000)
    sd = math.sqrt(1 + 0.25)
    gaps = linear_point_gaps(ym, yb, codes, (0, 1))
    first, last = gaps[0][2] / sd, gaps[-1][2] / sd
    assert first == pytest.approx(-0.3, abs=0.03) and last == pytest.approx(0.3, abs=0.03)
    assert abs(gaps[4][2]) / sd < 0.03  # the median: no gap


@pytest.mark.parametrize("seed", range(3))
def test_the_spline_pointwise_gap_recovers_a_curved_gap(seed):
    # E[Y_b | Y_m] = sin(Y_m) in training, sin(Y_m) + 0.2 Y_m² in deployment; Y_m shifted.
    rng = np.random.default_rng(seed)
    codes = np.repeat([0, 1], 8_000)
    ym = rng.normal(size=16_000) + 0.5 * codes
    yb = np.sin(ym) + 0.2 * codes * ym**2 + 0.5 * rng.normal(size=16_000)
    gaps = spline_point_gaps(ym, yb, codes, (0, 1))
    for _, value, estimate, se in gaps:
        assert 0 < se < 0.05
        assert abs(estimate - 0.2 * value**2) < 4 * se
    # The straight lines miss it: the linear gap at the median is off by many SEs.
    _, value, estimate, se = linear_point_gaps(ym, yb, codes, (0, 1))[4]
    assert abs(estimate - 0.2 * value**2) > 4 * se


@pytest.mark.parametrize("rows", [500, 8_000])
def test_the_linear_points_keep_the_line_where_it_fits_and_take_the_spline_where_not(rows):
    # The same E[Y_b | Y_m] in both regimes, Y_m shifted: straight in one case, curved in the
    # other. The specification test keeps the line for the first; for the second the lines
    # (each the best line over its own regime's Y_m) differ, so the "linear" points would
    # show a gap that is not there, and the spline's estimate is used instead.
    rng = np.random.default_rng(11)
    codes = np.repeat([0, 1], rows)
    ym = rng.normal(size=2 * rows) + 0.5 * codes
    noise = 0.5 * rng.normal(size=2 * rows)
    frame = pd.DataFrame({"Y_m": ym})
    kinds = {"Y_m": "continuous"}
    straight, curved = 0.5 * ym + noise, np.sin(1.5 * ym) + noise
    assert line_test(ym, straight, codes, (0, 1)) >= LINE_TEST_LEVEL
    assert line_test(ym, curved, codes, (0, 1)) < 1e-3
    points = pointwise_gaps(frame, ["Y_m"], kinds, straight, codes, [(0, 1)])
    assert points["linear"] == [linear_point_gaps(ym, straight, codes, (0, 1))]
    assert points["flexible"] == [spline_point_gaps(ym, straight, codes, (0, 1))]
    points = pointwise_gaps(frame, ["Y_m"], kinds, curved, codes, [(0, 1)])
    spline = spline_point_gaps(ym, curved, codes, (0, 1))
    lines = linear_point_gaps(ym, curved, codes, (0, 1))
    assert points["flexible"] == [spline]
    # The spline's estimate, with an interval holding both fits' intervals at 90% and 95%.
    for got, s, li in zip(points["linear"][0], spline, lines, strict=True):
        assert got[:3] == s[:3] and got[3] >= s[3]
        for q in (ndtri(0.95), ndtri(0.975)):
            for e, se in ((s[2], s[3]), (li[2], li[3])):
                assert got[2] - q * got[3] <= e - q * se + 1e-12
                assert got[2] + q * got[3] >= e + q * se - 1e-12
    # What the line would have said: a gap 2 (500 rows) to 9 (8,000 rows) SEs from 0.
    assert max(abs(e) / se for _, _, e, se in lines) > (2 if rows < 1_000 else 4)


def test_the_line_test_is_near_its_level_on_straight_lines():
    # Liberal by design, but a p-value: on straight lines with heteroskedastic noise about a
    # fifth of 200 draws (seeded) fall below 0.2 (measured 0.2-0.3: HC3 Wald in finite samples).
    below = []
    for seed in range(200):
        rng = np.random.default_rng(seed)
        codes = np.repeat([0, 1], 1_000)
        ym = rng.normal(size=2_000) + 0.5 * codes
        y = 1 + 0.5 * ym + (0.5 + 0.3 * np.abs(ym)) * rng.normal(size=2_000)
        below.append(line_test(ym, y, codes, (0, 1)) < LINE_TEST_LEVEL)
    assert 0.1 < np.mean(below) < 0.35


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    levels=st.integers(2, 6),
    rows=st.integers(30, 400),
    seed=st.integers(0, 10_000),
)
def test_the_level_gaps_are_differences_of_group_means(levels, rows, seed):
    rng = np.random.default_rng(seed)
    codes = np.repeat([0, 1], rows)
    weights = rng.dirichlet(np.ones(levels))
    ym = pd.Series(rng.choice(levels, size=2 * rows, p=weights))
    y = rng.normal(size=2 * rows) + 0.3 * codes * ym.to_numpy()
    got = {
        at: (value, estimate, se)
        for at, value, estimate, se in level_point_gaps(ym, y, codes, (0, 1))
    }
    frame = pd.DataFrame({"s": codes, "m": ym, "y": y})
    reference = frame[frame.s == 0]
    for level, share in reference.m.value_counts(normalize=True).items():
        if share < MIN_LEVEL_SHARE:
            assert str(level) not in got
            continue
        value, estimate, se = got[str(level)]
        parts = [frame[(frame.s == s) & (frame.m == level)].y for s in (0, 1)]
        assert value == level
        if min(len(p) for p in parts) < MIN_LEVEL_ROWS:
            assert math.isnan(se)
            continue
        assert estimate == pytest.approx(parts[1].mean() - parts[0].mean())
        assert se == pytest.approx(math.sqrt(sum(p.var() / len(p) for p in parts)))


def test_several_mesa_columns_have_no_pointwise_gap():
    frame = pd.DataFrame({"a": np.arange(100.0), "b": np.arange(100.0)})
    codes = np.repeat([0, 1], 50)
    kinds = {"a": "continuous", "b": "continuous"}
    assert pointwise_gaps(frame, ["a", "b"], kinds, np.zeros(100), codes, [(0, 1)]) is None


# --------------------------------------------------------------------------- the exact curve


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 10_000), strength=st.sampled_from([0.25, 0.5]))
def test_the_exact_curve_of_a_linear_model_is_its_constant_gap(seed, strength):
    scm = SCMFamily(kind="nonlinear").draw([seed, 0])
    linear = dataclasses.replace(scm, links=np.zeros_like(scm.links))
    curve = exact_curve(linear, strength, holds=False, seed=[seed, 1], rows=20_000)
    truth = linear_link_theta(linear, strength)
    centre = linear.centre[linear.nodes.index("Y_m")]
    points = centre + np.linspace(-1, 1, 5) * linear.scale[linear.nodes.index("Y_m")]
    gap, error = curve.at(points)
    assert curve.method == "monte-carlo" and (error > 0).all()
    assert np.all(np.abs(gap - truth) <= 5 * error + 0.01 * curve.scale), (gap, truth)


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 10_000), strength=st.sampled_from([0.25, 0.5, 1.0]))
def test_the_exact_curve_of_a_discrete_model_matches_its_monte_carlo(seed, strength):
    scm = SCMFamily(kind="discrete").draw([seed, 0])
    curve = exact_curve(scm, strength, holds=False, seed=0)
    assert curve.method == "enumerated" and curve.discrete
    _, grid, sums = _conditional_sums(scm, strength, [seed, 1], 20_000, zero=False)
    sampled, p0, _ = _curve_of(sums.sum(axis=1))
    shown = p0 / p0.sum() > 0.05
    gap, _ = curve.at(grid[shown])
    assert np.allclose(gap, sampled[shown], atol=0.03)


def test_the_exact_curve_is_zero_when_the_criterion_holds_and_agrees_with_theta():
    scm = SCMFamily(kind="linear-gaussian").draw([0, 3])
    for holds in (True, False):
        curve = exact_curve(scm, 0.5, holds=holds, seed=0)
        theta = exact_theta(scm, 0.5, holds=holds, seed=0)
        assert curve.at([0.0, 2.0])[0] == pytest.approx([theta.theta] * 2)
    nonlinear = SCMFamily(kind="nonlinear").draw([0, 1])
    assert exact_curve(nonlinear, 0.5, holds=True, seed=0).at([1.0])[0][0] == 0.0


# --------------------------------------------------------------------------- the rule


def direct(average: float, points: list[tuple[str, float, float]], se: float = 0.01) -> dict:
    """A direct-test document: an averaged linear gap and pointwise ones (at, estimate, se)."""
    gaps = [
        {"estimator": e, "regime": "deploy", "reference": "train", "estimate": average, "se": se}
        for e in ("linear", "flexible")
    ]
    pointwise = [
        {
            "estimator": e,
            "regime": "deploy",
            "reference": "train",
            "at": at,
            "value": 0.5,
            "estimate": estimate,
            "se": point_se,
        }
        for e in ("linear", "flexible")
        for at, estimate, point_se in points
    ]
    outcome = {
        "base": "yb",
        "method": "fisherz",
        "gaps": gaps,
        "pointwise_gaps": pointwise,
        "within_sd": 1.0,
    }
    return {"status": "done", "outcomes": [outcome], "mesa": ["ym"], "reject": False}


def test_an_averaged_gap_of_zero_with_gaps_at_the_ends_is_not_confirmed():
    doc = direct(0.0, [("10%", -0.3, 0.01), ("50%", 0.0, 0.01), ("90%", 0.3, 0.01)])
    result = confirm("all", doc, Tolerance(0.1), rows=ROWS)
    assert not result.confirmed and result.pointwise
    (reason,) = result.reasons
    assert (
        "decile" in reason
        and "beyond the tolerance" in reason
        and "more points beyond it" in reason
    )
    averaged = [c for c in result.checks if c.at is None]
    assert len(averaged) == 1 and averaged[0].confirmed
    # The same gaps inside the tolerance are confirmed.
    doc = direct(0.0, [("10%", -0.03, 0.01), ("50%", 0.0, 0.01), ("90%", 0.03, 0.01)])
    assert confirm("all", doc, Tolerance(0.1), rows=ROWS).confirmed


def test_rows_needed_come_from_the_widest_pointwise_interval():
    doc = direct(0.0, [("10%", 0.02, 0.06), ("90%", 0.0, 0.02)], se=0.005)
    result = confirm("all", doc, Tolerance(0.1), rows=ROWS)
    z = float(ndtri(0.95))
    needed = math.ceil(5_000 * (z * 0.06 / (0.1 - 0.02)) ** 2)
    assert not result.confirmed
    assert (
        result.advice
        == f"about {needed:,} rows per regime would confirm |gap| < tolerance at this variance"
    )
    assert result.as_dict()["checks"][1]["at"] == "10%"


def test_a_level_without_an_interval_is_not_confirmed():
    doc = direct(0.0, [("0", 0.0, 0.01), ("3", 0.0, math.nan)])
    result = confirm("all", doc, Tolerance(0.1), rows=ROWS)
    assert not result.confirmed and "no interval at ym = 3" in result.reasons[0]


# --------------------------------------------------------------------------- the CLI


@pytest.fixture(scope="module")
def slopes(tmp_path_factory) -> Path:
    """Regimes whose slopes differ: averaged gap 0, end-decile gaps ±0.3 SD of Y_b."""
    folder = tmp_path_factory.mktemp("slopes")
    rng = np.random.default_rng(1)
    for name, slope in (("train", 0.87), ("deploy", 1.13)):
        value = rng.normal(size=5_000)
        action = value + rng.normal(size=5_000)
        reward = slope * value + 0.5 * rng.normal(size=5_000)
        frame = pd.DataFrame({"action": action, "value": value, "reward": reward})
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def test_different_slopes_exit_8_through_the_cli(slopes, tmp_path):
    done = subprocess.run(
        [
            *(MESALENS, "run", "--regime", f"train={slopes / 'train.csv'}"),
            *("--regime", f"deploy={slopes / 'deploy.csv'}", "--base", "reward"),
            *("--mesa", "value", "--decision", "action", "--no-sensitivity"),
            *("--out", str(tmp_path / "o")),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 8, done.stderr
    assert "Not confirmed by the logs (exit code 8)" in done.stderr
    assert "value's 10% decile" in done.stderr or "value's 90% decile" in done.stderr
    document = json.loads((tmp_path / "o" / "result.json").read_text())
    assert document["verdict"] == "all"
    confirmation = document["confirmation"]
    assert confirmation["status"] == "not confirmed" and confirmation["pointwise"]
    (averaged,) = [c for c in confirmation["checks"] if c["at"] is None]
    assert averaged["confirmed"]  # the averaged gap alone would have exited 0
    ends = {c["at"]: c for c in confirmation["checks"] if c["at"] in ("10%", "90%")}
    sd = document["direct_test"]["outcomes"][0]["within_sd"]
    assert ends["10%"]["beyond"] and ends["90%"]["beyond"]
    assert ends["10%"]["estimate"] / sd == pytest.approx(-0.3, abs=0.05)
    assert ends["90%"]["estimate"] / sd == pytest.approx(0.3, abs=0.05)
    report = (tmp_path / "o" / "report.html").read_text()
    assert "Gap at each decile of value" in report
