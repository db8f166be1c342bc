"""The G² and χ² tests from cell counts, against causal-learn on the rows and a brute force.

:mod:`mesalens.pipeline.contingency` numbers the strata of a conditioning set
once and keeps them; these tests draw small discrete tables (levels that
never occur, strata where ``x`` or ``y`` is constant, conditioning sets in
any order) and check the p-values against ``causallearn.utils.cit.Chisq_or_Gsq``
on the raw rows and against a loop over the strata, with the cache forced to
renumber at every step and to forget at once.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from causallearn.utils.cit import Chisq_or_Gsq
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2

from mesalens.pipeline.ci_tests import ChiSquareTest
from mesalens.pipeline.contingency import Strata
from mesalens.pipeline.statistics import compute_statistics


@st.composite
def tables(draw):
    """Rows of 3-5 discrete columns (2-4 levels, some rare), a test ``x, y | S``."""
    width = draw(st.integers(3, 5))
    rows = draw(st.integers(8, 120))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    cards = [draw(st.integers(2, 4)) for _ in range(width)]
    data = np.column_stack([rng.integers(0, k, rows) for k in cards])
    if draw(st.booleans()):  # a dependence: column 1 follows column 0 mostly
        follow = rng.random(rows) < 0.7
        data[follow, 1] = data[follow, 0] % cards[1]
    # Codes 0..k-1 with every level observed, as causal-learn and the statistics see them.
    data = np.column_stack([np.unique(c, return_inverse=True)[1].reshape(-1) for c in data.T])
    x, y = sorted(draw(st.lists(st.integers(0, width - 1), min_size=2, max_size=2, unique=True)))
    others = [i for i in range(width) if i not in (x, y)]
    order = draw(st.permutations(others))
    return data, x, y, tuple(order[: draw(st.integers(0, len(order)))])


def brute_force(data, x, y, conditioning, *, likelihood):
    """The statistic and p-value, stratum by stratum with plain counting."""
    statistic, dof = 0.0, 0
    strata = Counter(tuple(row[list(conditioning)]) for row in data)
    for key in strata:
        rows = [row for row in data if tuple(row[list(conditioning)]) == key]
        n = len(rows)
        cx = Counter(int(r[x]) for r in rows)
        cy = Counter(int(r[y]) for r in rows)
        cxy = Counter((int(r[x]), int(r[y])) for r in rows)
        for a in cx:
            for b in cy:
                expected = cx[a] * cy[b] / n
                observed = cxy.get((a, b), 0)
                if likelihood:
                    statistic += 2 * observed * math.log(observed / expected) if observed else 0.0
                else:
                    statistic += (observed - expected) ** 2 / expected
        dof += (len(cx) - 1) * (len(cy) - 1)  # the levels seen in this stratum
    return statistic, 1.0 if dof == 0 else float(chi2.sf(statistic, dof))


def statistics_of(data):
    frame = pd.DataFrame(data, columns=[f"v{i}" for i in range(data.shape[1])])
    return compute_statistics(frame, dict.fromkeys(frame.columns, "discrete"))


@settings(max_examples=150, deadline=None)
@given(tables(), st.sampled_from(["gsq", "chisq"]))
def test_p_values_equal_causallearn_on_the_rows_and_a_brute_force(case, method):
    data, x, y, conditioning = case
    test = ChiSquareTest(statistics_of(data), g_squared=method == "gsq")
    statistic, p_value = test(x, y, conditioning)
    theirs = Chisq_or_Gsq(data, method)(x, y, list(conditioning))
    assert p_value == pytest.approx(theirs, rel=1e-9, abs=1e-12)
    expected_statistic, expected_p = brute_force(
        data, x, y, conditioning, likelihood=method == "gsq"
    )
    assert statistic == pytest.approx(expected_statistic, rel=1e-9, abs=1e-9)
    assert p_value == pytest.approx(expected_p, rel=1e-9, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(tables())
def test_renumbering_and_forgetting_do_not_change_a_test(case):
    data, x, y, conditioning = case
    stats = statistics_of(data)
    plain = ChiSquareTest(stats)
    squeezed = ChiSquareTest(stats)
    squeezed.strata = Strata(stats.discrete_codes, squeezed.cardinality, cache_bytes=1)
    squeezed.strata.dense_limit = 0  # renumber after every conditioning variable
    # The prefixes of the set first (cached in the plain test), then the set.
    for k in range(len(conditioning) + 1):
        assert squeezed(x, y, conditioning[:k]) == plain(x, y, conditioning[:k])
    assert squeezed(x, y, conditioning) == plain(x, y, conditioning)


def test_strata_are_cached_per_conditioning_set_and_numbered_in_order():
    codes = np.array([[0, 1, 2], [1, 0, 0], [1, 1, 1], [0, 1, 0]])
    strata = Strata(codes, [2, 2, 3])
    code, bound = strata((1, 0))
    assert bound == 4  # 2 x 2 configurations, no renumbering needed
    assert code.tolist() == [2, 1, 3, 2]  # (v1, v0) read as a two-digit number
    assert strata((1, 0))[0] is code and strata.hits == 1
    strata.dense_limit = 0
    code, bound = strata((2, 1, 0))
    assert bound == 4 and code.tolist() == [3, 0, 2, 1]  # (0,0,1) < (0,1,0) < (1,1,1) < (2,1,0)
