"""The direct test's exact estimand θ of simulated models, against closed forms and brute force."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesalens.connectors.agent_graph import BASE, MESA
from mesalens.connectors.random_scm import SCMFamily
from mesalens.pipeline.gap_estimators import linear_gaps
from mesalens.pipeline.simulation_gap import _monte_carlo_theta, exact_theta

SEEDS = st.integers(min_value=0, max_value=10_000)


def linear_link_theta(scm, strength: float) -> float:
    """θ of an additive model whose links are all linear: a linear-Gaussian SEM in raw units.

    Every node is ``v = Σ_u w_uv (u - m_u) / sd_u + δ c_v sd_v s + σ_v ε``, so
    ``E[Y_b | Y_m, s]`` is linear with a slope the shift does not change, and
    θ is the constant gap ``Δ_b - Σ_bm / Σ_mm Δ_m`` (as RandomSCM.alignment_gap).
    """
    n = len(scm.nodes)
    total = np.linalg.inv(np.eye(n) - (scm.weights / scm.scale[:, None]).T)
    shift = strength * scm.direction * scm.scale
    shift[0] = 0.0
    delta = total @ shift
    sigma = total @ np.diag(scm.noise**2) @ total.T
    m, b = scm.nodes.index(MESA), scm.nodes.index(BASE)
    return float(delta[b] - sigma[b, m] / sigma[m, m] * delta[m])


@settings(max_examples=6, deadline=None)
@given(seed=SEEDS, strength=st.sampled_from([0.25, 0.5, 1.0]))
def test_conditional_monte_carlo_matches_the_closed_form_of_a_linear_model(seed, strength):
    # The continuous-Y_m branch of the Monte Carlo (densities on a grid) on a
    # nonlinear-family model with every link made linear, where θ has a closed form.
    scm = SCMFamily(kind="nonlinear").draw([seed, 0])
    linear = dataclasses.replace(scm, links=np.zeros_like(scm.links))
    value = exact_theta(linear, strength, holds=False, seed=[seed, 1], rows=20_000)
    assert value.method == "monte-carlo" and value.mc_error > 0
    truth = linear_link_theta(linear, strength)
    assert abs(value.theta - truth) <= 5 * value.mc_error + 2e-3 * value.scale, (value, truth)


@settings(max_examples=6, deadline=None)
@given(seed=SEEDS, strength=st.sampled_from([0.25, 0.5, 1.0]))
def test_conditional_monte_carlo_matches_the_enumeration_of_a_discrete_model(seed, strength):
    # The discrete-Y_m and discrete-Y_b branches, against the exact joint table.
    scm = SCMFamily(kind="discrete").draw([seed, 0])
    exact = exact_theta(scm, strength, holds=False, seed=0)
    assert exact.method == "enumerated" and exact.mc_error == 0
    sampled = _monte_carlo_theta(scm, strength, [seed, 1], 20_000, zero=False)
    assert sampled.mc_error > 0 or exact.theta == pytest.approx(0.0, abs=1e-12)
    assert abs(sampled.theta - exact.theta) <= 5 * sampled.mc_error + 1e-3, (sampled, exact)
    assert sampled.scale == pytest.approx(exact.scale, rel=0.02)


@settings(max_examples=5, deadline=None)
@given(seed=SEEDS, kind=st.sampled_from(["linear-gaussian", "confounded"]))
def test_analytic_theta_is_the_pooled_average_a_large_sample_estimates(seed, kind):
    # Brute force: per-regime least squares (the right model for linear-Gaussian
    # data, a hidden confounder included) on 200,000 rows, averaged over the
    # pooled Y_m, with its HC3 standard error.
    scm = SCMFamily(kind=kind).draw([seed, 0])
    value = exact_theta(scm, 0.5, holds=False, seed=0)
    frames = scm.sample(0.5, 200_000, [seed, 2])
    pooled = np.concatenate([frames["train"][[MESA, BASE]], frames["deploy"][[MESA, BASE]]])
    codes = np.repeat([0, 1], [len(frames["train"]), len(frames["deploy"])])
    ((estimate, se),) = linear_gaps(pooled[:, :1], pooled[:, 1], codes, 2)
    assert abs(estimate - value.theta) <= 4.5 * se, (estimate, se, value)
    assert value.theta_sd == pytest.approx(scm.alignment_gap(0.5), abs=1e-12)


def test_theta_is_zero_when_the_criterion_holds_or_nothing_shifts():
    for kind in ("linear-gaussian", "nonlinear", "discrete", "mixed"):
        scm = SCMFamily(kind=kind).draw([3, 0])
        for strength, holds in ((0.5, True), (0.0, False)):
            value = exact_theta(scm, strength, holds=holds, seed=0, rows=2_000)
            assert (value.theta, value.mc_error, value.method) == (0.0, 0.0, "zero")
            assert value.scale > 0


def test_monte_carlo_theta_is_deterministic_for_a_seed():
    scm = SCMFamily(kind="mixed").draw([4, 0])
    first = exact_theta(scm, 0.5, holds=False, seed=[1, 2], rows=5_000)
    assert first == exact_theta(scm, 0.5, holds=False, seed=[1, 2], rows=5_000)
    assert first != exact_theta(scm, 0.5, holds=False, seed=[1, 3], rows=5_000)
