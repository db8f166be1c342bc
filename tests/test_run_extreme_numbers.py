"""Numbers at the edge of float64's range in ``mesalens run`` (issue 14).

``1e308`` squared is infinite and ``(1e-200)`` squared is zero: moments
taken naively overflowed into a false "constant column" diagnosis, with a
numpy warning on the terminal. A column is now summarised in units of a
power of two when its magnitude is extreme (:mod:`mesalens.connectors.moments`),
an exact change of unit, so the learned class must be the one of the same
data at an ordinary scale, and no warning may reach the user.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesalens.connectors.moments import merge_moments, moments_of
from mesalens.reports.cli import cli

COLUMNS = ("obs", "action", "value", "reward")
EXAMPLES = settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def frame(code: int, rows: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(code)
    obs = rng.normal(size=rows) + 1.5 * code
    action = 0.8 * obs + rng.normal(size=rows)
    value = 0.9 * action + rng.normal(size=rows)
    reward = 0.9 * value + rng.normal(size=rows)
    return pd.DataFrame({"obs": obs, "action": action, "value": value, "reward": reward})


def run(folder: Path, frames: list[pd.DataFrame]):
    """``mesalens run`` on Parquet regimes; the result, its document and any warning raised."""
    args = ["run"]
    for code, data in enumerate(frames):
        path = folder / f"regime{code}.parquet"
        data.to_parquet(path)
        args += ["--regime", f"r{code}={path}"]
    out = folder / "out"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        roles = ["--base", "reward", "--mesa", "value", "--decision", "action"]
        result = CliRunner().invoke(cli, [*args, *roles, "--out", str(out)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    runtime = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert runtime == [], runtime
    assert "Warning" not in result.stderr, result.stderr
    document = json.loads((out / "result.json").read_text()) if result.exit_code != 1 else None
    return result, document


@pytest.fixture(scope="module")
def ordinary(tmp_path_factory):
    """The learned class at an ordinary scale."""
    result, document = run(tmp_path_factory.mktemp("ordinary"), [frame(0), frame(1)])
    assert result.exit_code in (0, 3, 4, 5, 8), result.output
    return document


@EXAMPLES
@given(column=st.sampled_from(COLUMNS), exponent=st.integers(-960, 1000))
def test_a_column_scaled_by_a_power_of_two_learns_the_same_class(
    tmp_path_factory, ordinary, column, exponent
):
    frames = [frame(0), frame(1)]
    for data in frames:
        data[column] = np.ldexp(data[column].to_numpy(), exponent)
    result, document = run(tmp_path_factory.mktemp("scaled"), frames)
    assert result.exit_code in (0, 3, 4, 5, 8), result.output
    assert "constant" not in result.stderr
    assert document["learned_graph"] == ordinary["learned_graph"]
    assert document["verdict"] == ordinary["verdict"]


EXTREMES = st.sampled_from([1e308, -1e308, 1.7e308, 5e-324, -5e-324, 2.2e-308, 1e-300, 1e300, 0.0])


@EXAMPLES
@given(
    column=st.sampled_from(COLUMNS),
    values=st.lists(EXTREMES, min_size=2, max_size=5, unique=True),
    mixed=st.booleans(),
)
def test_extreme_columns_give_a_run_or_one_line_and_never_a_false_constant(
    tmp_path_factory, column, values, mixed
):
    frames = [frame(0), frame(1)]
    rng = np.random.default_rng(len(values))
    for data in frames:
        picked = rng.choice(values, size=len(data))
        # Mixed: the extremes on top of the column's own values.
        data[column] = (
            np.where(rng.random(len(data)) < 0.5, picked, data[column]) if mixed else picked
        )
    result, _ = run(tmp_path_factory.mktemp("extreme"), frames)
    if result.exit_code == 1:
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("mesalens: error: "), result.stderr
        assert "constant" not in lines[0], lines[0]
    else:
        assert result.exit_code in (0, 3, 4, 5, 8), result.output


@given(
    exponent=st.integers(-1070, 1020),
    split=st.integers(1, 99),
)
@settings(max_examples=60, deadline=None, derandomize=True)
def test_moments_in_a_power_of_two_unit_merge_exactly(exponent, split):
    rng = np.random.default_rng(0)
    x = rng.normal(size=100)
    y = 0.5 * x + rng.normal(size=100)
    scaled = np.ldexp(x, exponent)
    labels = [("x", "v"), ("y", "v")]
    whole = moments_of(100, labels, [scaled, y], {}, ())
    parts = merge_moments(
        moments_of(split, labels, [scaled[:split], y[:split]], {}, ()),
        moments_of(100 - split, labels, [scaled[split:], y[split:]], {}, ()),
    )
    for summary in (whole, parts):
        unit = int(summary.exponents[0])  # x is summarised in units of 2**unit
        cov = summary.m2 / 99
        assert cov[0, 0] > 0
        if exponent > -1020:  # denormals keep too few bits to compare closely
            r = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
            assert r == pytest.approx(np.corrcoef(x, y)[0, 1], rel=1e-9)
            # var(x * 2**exponent) in units of 2**unit: var(x) * 4**(exponent - unit).
            expected = math.ldexp(float(np.var(x, ddof=1)), 2 * (exponent - unit))
            assert cov[0, 0] == pytest.approx(expected, rel=1e-9)
