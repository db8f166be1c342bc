"""Deterministic relations from the sufficient statistics, and the rule that leaves columns out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesalens.connectors.errors import DataError
from mesalens.pipeline.deterministic import find_relations
from mesalens.pipeline.deterministic_rule import resolve_relations, select_columns
from mesalens.pipeline.roles import Roles
from mesalens.pipeline.statistics import compute_statistics


def _stats(frame: pd.DataFrame, discrete: tuple[str, ...] = ()):
    kinds = {c: "discrete" if c in discrete else "continuous" for c in frame}
    return compute_statistics(frame, kinds)


def _sentences(stats, **kwargs) -> set[str]:
    return {r.sentence() for r in find_relations(stats, **kwargs)}


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    n_free=st.integers(2, 5),
    picks=st.lists(st.integers(0, 4), min_size=1, max_size=3, unique=True),
    coefficients=st.lists(st.floats(0.5, 3.0), min_size=3, max_size=3),
    seed=st.integers(0, 1000),
)
def test_a_linear_combination_is_found_with_exactly_its_columns(n_free, picks, coefficients, seed):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=400) * (i + 1) for i in range(n_free)})
    used = [f"x{p}" for p in sorted(picks) if p < n_free] or ["x0"]
    signs = rng.choice([-1.0, 1.0], size=len(used))
    frame["derived"] = 7.0 + sum(
        s * c * frame[u] for s, c, u in zip(signs, coefficients, used, strict=False)
    )
    relations = find_relations(_stats(frame))
    assert len(relations) == 1
    (relation,) = relations
    if len(used) == 1:
        assert relation.kind == "equivalent"
        assert set(relation.columns) == {used[0], "derived"}
    else:
        assert relation.kind == "determined"
        assert relation.column == "derived"
        assert set(relation.by) == set(used)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(seed=st.integers(0, 1000), levels=st.integers(2, 6))
def test_a_function_of_two_discrete_columns_is_found_from_the_cells(seed, levels):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, levels, 2000)
    b = rng.integers(0, 3, 2000)
    noise = rng.integers(0, 4, 2000)
    frame = pd.DataFrame({"a": a, "b": b, "noise": noise, "f": (a * b) % 3})
    stats = _stats(frame, discrete=("a", "b", "noise", "f"))
    relations = [r for r in find_relations(stats) if r.column == "f"]
    assert [(r.kind, set(r.by)) for r in relations] == [("determined", {"a", "b"})]


def test_independent_columns_have_no_relation():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=500), "y": rng.normal(size=500)})
    frame["k"] = rng.integers(0, 3, 500)
    assert find_relations(_stats(frame, discrete=("k",))) == ()


def test_thin_cells_are_not_taken_for_a_function():
    # 200 rows over 100 combinations of a and b: "one level per cell" is chance.
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {"a": rng.integers(0, 10, 200), "b": rng.integers(0, 10, 200), "x": rng.integers(0, 2, 200)}
    )
    stats = _stats(frame, discrete=("a", "b", "x"))
    assert not [r for r in find_relations(stats) if r.column == "x"]


def test_constants_equivalences_and_a_continuous_function_of_a_discrete_column():
    rng = np.random.default_rng(2)
    steps = rng.integers(1, 9, 3000)
    frame = pd.DataFrame(
        {
            "steps": steps,
            "value": 0.95**steps,  # monotone: one-to-one with steps
            "square": (steps - 4.0) ** 2,  # a function of steps, not one-to-one
            "version": np.full(3000, 3),
            "other": rng.normal(size=3000),
        }
    )
    stats = _stats(frame, discrete=("steps", "version"))
    assert _sentences(stats) == {
        "column 'version' is constant",
        "columns 'steps' and 'value' are equivalent (one-to-one) (linear)",
        "column 'square' is determined by 'steps' (linear)",
    }


def test_select_columns_matches_the_statistics_of_those_columns():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "a": rng.integers(0, 3, 600),
            "x": rng.normal(size=600),
            "b": rng.integers(0, 4, 600),
            "y": rng.normal(size=600),
        }
    )
    kinds = {"a": "discrete", "b": "discrete", "x": "continuous", "y": "continuous"}
    full = compute_statistics(frame, kinds)
    direct = compute_statistics(frame[["a", "y"]], {"a": "discrete", "y": "continuous"})
    chosen = select_columns(full, ["y", "a"])
    assert chosen.columns == direct.columns
    np.testing.assert_allclose(chosen.covariance, direct.covariance)
    np.testing.assert_allclose(chosen.expanded_covariance, direct.expanded_covariance)
    np.testing.assert_array_equal(chosen.discrete_codes, direct.discrete_codes)
    np.testing.assert_array_equal(chosen.cell_counts, direct.cell_counts)
    assert chosen.expanded_columns == direct.expanded_columns


def _logged(seed: int = 4, rows: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    regime = np.repeat([0, 1], rows // 2)
    steps = rng.integers(1, 10, rows) + regime
    success = rng.integers(0, 2, rows)
    frame = pd.DataFrame(
        {
            "regime": regime,
            "steps": steps,
            "success": success,
            "reward": 10.0 * success - steps,  # defined from steps and success
            "value": rng.normal(size=rows) + 0.1 * steps,
            "action": rng.integers(0, 3, rows),
            "copy": 0,
            "noise": rng.normal(size=rows),
        }
    )
    frame["noise_twice"] = 2.0 * frame["noise"] - 1.0
    return frame


_KINDS = ("regime", "steps", "success", "action", "copy")


def test_the_drop_rule_keeps_roles_and_leaves_out_definitions_constants_and_copies():
    frame = _logged()
    stats = _stats(frame, discrete=_KINDS)
    roles = Roles("regime", ("reward",), ("value",), ("action",))
    result, kept = resolve_relations(stats, roles)
    reasons = {item.column: item.reason for item in result.left_out}
    assert reasons["copy"] == "constant"
    assert reasons["noise_twice"] == "equivalent (one-to-one) to 'noise'"
    assert reasons["steps"].startswith("it defines the base column 'reward'")
    assert reasons["success"].startswith("it defines the base column 'reward'")
    assert set(reasons) == {"copy", "noise_twice", "steps", "success"}
    assert kept.columns == ("regime", "reward", "value", "action", "noise")
    assert result.kept == kept.columns
    # Nothing deterministic is left among the columns kept.
    assert find_relations(kept) == ()


def test_the_error_rule_names_every_relation_and_the_columns_that_work():
    stats = _stats(_logged(), discrete=_KINDS)
    roles = Roles("regime", ("reward",), ("value",), ("action",))
    with pytest.raises(DataError) as caught:
        resolve_relations(stats, roles, policy="error")
    message = str(caught.value)
    assert "\n" not in message
    for sentence in (
        "column 'copy' is constant",
        "columns 'noise' and 'noise_twice' are equivalent",
        "column 'reward' is determined by 'steps', 'success' (linear)",
    ):
        assert sentence in message
    assert "--columns 'reward,value,action,noise'" in message


def test_linearly_dependent_role_columns_are_an_error_naming_them():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"regime": np.repeat([0, 1], 500), "value": rng.normal(size=1000)})
    frame["reward"] = 2 * frame["value"]
    frame["action"] = rng.normal(size=1000)
    stats = _stats(frame, discrete=("regime",))
    with pytest.raises(DataError, match=r"'reward'.*among role columns only"):
        resolve_relations(stats, Roles("regime", ("reward",), ("value",), ("action",)))
