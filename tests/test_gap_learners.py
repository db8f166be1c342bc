"""The direct test's flexible fits: which learner, and the pieces behind the AIPW gap's coverage."""

from __future__ import annotations

import functools

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit

from mesalens.connectors.errors import InputError
from mesalens.connectors.loaded import LoadedData
from mesalens.pipeline.alignment_gap import direct_test
from mesalens.pipeline.gap_estimators import aipw_gaps
from mesalens.pipeline.gap_regressions import (
    cross_fit_folds,
    learner_for,
    propensities,
    regressions,
)
from mesalens.pipeline.gap_results import DirectTestSettings

CONTINUOUS = {"ym": "continuous", "yb": "continuous"}
ONE = np.array([False])


def variance_shift(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y_m ~ N(0, 1) in train, N(0, 1.5²) in deploy; Y_b = Y_m² + noise: θ = 0 exactly."""
    rng = np.random.default_rng(seed)
    codes = np.repeat([0, 1], n)
    ym = rng.normal(size=2 * n) * np.where(codes == 1, 1.5, 1.0)
    return codes, ym[:, None], ym**2 + 0.5 * rng.normal(size=2 * n)


def test_splines_for_one_continuous_mesa_column_boosting_otherwise():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "ym": rng.normal(size=200),
            "level": rng.integers(0, 3, size=200),
            "word": pd.Categorical(rng.choice(["a", "b"], size=200)),
            "few": np.round(rng.normal(size=200)),  # continuous by kind, 5-9 distinct values
        }
    )
    kinds = {"ym": "continuous", "level": "discrete", "word": "discrete", "few": "continuous"}
    assert learner_for(frame, ["ym"], kinds) == "spline"
    assert learner_for(frame, ["level"], kinds) == "boost"
    assert learner_for(frame, ["word"], kinds) == "boost"
    assert learner_for(frame, ["ym", "level"], kinds) == "boost"
    assert learner_for(frame, ["few"], kinds) == "boost"
    frame.loc[3, "ym"] = np.nan
    assert learner_for(frame, ["ym"], kinds) == "boost"
    with pytest.raises(InputError, match="learner must be one of auto, boost, got 'trees'"):
        DirectTestSettings(learner="trees")


def test_under_the_null_the_spline_fits_do_not_extrapolate_a_gap_where_one_regime_is_thin():
    # The case that made the AIPW interval undercover: deploy's Y_m reaches |y| > 2.5,
    # where train has almost no rows. Per-regime boosted fits are flat beyond their
    # data, so train's fit there is far below y² and the fitted gap is large; the
    # spline fits share the pooled f and extrapolate only the regimes' difference.
    codes, x, y = variance_shift(2000, 1)
    fold = cross_fit_folds(codes, 5, 0)
    tail = (codes == 1) & (np.abs(x[:, 0]) > 2.5)
    assert tail.sum() > 50
    fitted = {}
    for learner in ("spline", "boost"):
        mu = regressions(x, ONE, y, codes, 2, fold, DirectTestSettings(), learner)
        fitted[learner] = float(np.mean(np.abs(mu[tail, 1] - mu[tail, 0])))
    assert fitted["spline"] < 0.5 < 2 < fitted["boost"], fitted


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 10_000), shift=st.sampled_from([0.5, 1.0, 2.0]))
def test_spline_regime_probabilities_are_calibrated(seed, shift):
    # Y_m ~ N(0, 1) in train and N(shift, 1) in deploy, equal rows:
    # P(deploy | y) = expit(shift · y - shift² / 2).
    rng = np.random.default_rng(seed)
    n = 3000
    codes = np.repeat([0, 1], n)
    x = (rng.normal(size=2 * n) + shift * codes)[:, None]
    fold = cross_fit_folds(codes, 5, seed)
    pi = propensities(x, ONE, codes, 2, fold, DirectTestSettings(), "spline")
    truth = expit(shift * x[:, 0] - shift**2 / 2)
    assert np.allclose(pi.sum(axis=1), 1.0)
    central = (truth > 0.02) & (truth < 0.98)
    error = np.abs(pi[central, 1] - truth[central])
    # Seeds 0-3 at these shifts: mean 0.010-0.021, 90th percentile 0.022-0.047.
    assert error.mean() < 0.03 and np.quantile(error, 0.9) < 0.06


def test_the_spline_aipw_gap_is_unbiased_at_large_n_in_the_variance_shift_case():
    # θ = 0; with 20,000 rows per regime the estimate is within 3 standard errors
    # of it, and the standard error is small (the fits are efficient).
    codes, x, y = variance_shift(20_000, 2)
    fold = cross_fit_folds(codes, 5, 0)
    settings_ = DirectTestSettings()
    mu = regressions(x, ONE, y, codes, 2, fold, settings_, "spline")
    pi = propensities(x, ONE, codes, 2, fold, settings_, "spline")
    ((estimate, se),) = aipw_gaps(y, codes, mu, pi, 2, settings_.clip)
    assert abs(estimate) < 3 * se and se < 0.01, (estimate, se)


def test_the_result_says_which_learner_made_the_flexible_fits():
    rng = np.random.default_rng(3)
    n = 600
    s = np.repeat([0, 1], n // 2)
    ym = rng.normal(size=n) + s
    frame = pd.DataFrame({"regime": s, "ym": ym, "yb": ym + rng.normal(size=n)})
    data = LoadedData(
        functools.partial(dd.from_pandas, frame, npartitions=2),
        "regime",
        ("train", "deploy"),
        ("regime", "ym", "yb"),
        {"regime": "discrete", **CONTINUOUS},
        {},
        (),
    )
    fast = {"folds": 2, "trees": 20}
    spline = direct_test(data, base=["yb"], mesa=["ym"], settings=DirectTestSettings(**fast))
    boost = direct_test(
        data, base=["yb"], mesa=["ym"], settings=DirectTestSettings(**fast, learner="boost")
    )
    assert (spline.learner, boost.learner) == ("spline", "boost")
    assert spline.as_dict()["learner"] == "spline"
    assert spline.as_dict()["settings"]["learner"] == "auto"
    # The linear gap does not depend on the learner; the flexible one does.
    assert spline.outcomes[0].gaps[0] == boost.outcomes[0].gaps[0]
    assert spline.outcomes[0].gaps[1] != boost.outcomes[0].gaps[1]
