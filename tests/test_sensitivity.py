"""The linear-Gaussian sensitivity analysis: known SCMs, brute force over the class, the CLI."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesalens.connectors.simulator import write_logs
from mesalens.pipeline.checker import check
from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.linear_sem import direct_effect, fit_linear_sem, gap
from mesalens.pipeline.roles import Roles
from mesalens.pipeline.sensitivity import DEFAULT_LAMBDAS, sensitivity_analysis
from mesalens.pipeline.statistics import compute_statistics
from mesalens.reports.cli import cli
from tests.reference import all_extensions, cpdag_of, moral_dags
from tests.test_bootstrap import run_args

N = 40_000


def simulate(edges: dict[tuple[str, str], float], order: list[str], regime, rng) -> pd.DataFrame:
    """Unit-noise linear SCM in causal order; ``regime`` is the integer regime column."""
    values = {"s": np.asarray(regime, dtype=float)}
    for node in order:
        column = rng.standard_normal(len(regime))
        for (u, v), weight in edges.items():
            if v == node:
                column = column + weight * values[u]
        values[node] = column
    frame = pd.DataFrame({k: values[k] for k in ["s", *order] if k in values})
    frame["s"] = np.asarray(regime, dtype=np.int64)
    return frame


def statistics_of(frame: pd.DataFrame, discrete=("s",)):
    kinds = {c: "discrete" if c in discrete else "continuous" for c in frame.columns}
    return compute_statistics(frame, kinds, list(frame.columns))


def dag(nodes: list[str], edges) -> CausalGraph:
    graph = CausalGraph(nodes)
    for u, v in edges:
        graph.add_edge(u, v)
    return graph


def binary_regime(n: int) -> np.ndarray:
    return (np.arange(n) >= n // 2).astype(np.int64)


# The spec's collider (s -> Ym <- U -> Yb, Ym -> Dm -> Yb) plus a path s -> A -> Yb
# around the mesa objective. Unit noise. By hand: the direct effect is 0.7 * 2 = 1.4;
# Yb = Dm + U + 2A with Dm = Ym + noise and E[U | Ym, s] = (Ym - s) / 2, so
# E[Yb | Ym, s] = Ym + (Ym - s) / 2 + 1.4 s: a gap of 1.4 - 0.5 = 0.9 at every Ym.
COLLIDER = {
    ("s", "Ym"): 1.0,
    ("U", "Ym"): 1.0,
    ("Ym", "Dm"): 1.0,
    ("Dm", "Yb"): 1.0,
    ("U", "Yb"): 1.0,
    ("s", "A"): 0.7,
    ("A", "Yb"): 2.0,
}
COLLIDER_ORDER = ["U", "A", "Ym", "Dm", "Yb"]


def test_direct_effect_and_gap_match_the_analytic_values():
    rng = np.random.default_rng(0)
    frame = simulate(COLLIDER, COLLIDER_ORDER, binary_regime(N), rng)
    roles = Roles("s", ("Yb",), ("Ym",), ("Dm",), ("Ym",))
    result = check(dag(["s", *COLLIDER_ORDER], COLLIDER), roles)
    assert result.verdict == "none"
    sens = sensitivity_analysis(statistics_of(frame), result, regime_labels=["train", "deploy"])
    assert sens.status == "done"
    assert (sens.reference_regime, sens.regimes) == ("train", ("deploy",))
    (entry,) = sens.parent_sets
    (contrast,) = entry.contrasts
    (effect,) = contrast.direct_effects
    assert effect.estimate == pytest.approx(1.4, abs=0.05)
    # The delta-method standard errors are small at this n and cover the truth.
    assert 0 < effect.standard_error < 0.05
    assert abs(effect.estimate - 1.4) < 5 * effect.standard_error + 1e-3
    assert contrast.gap == pytest.approx(0.9, abs=0.06)
    assert abs(contrast.gap - 0.9) < 5 * contrast.gap_standard_error
    # λ = 0 is no shift; λ = 1 is the fitted model's implied gap, computed separately.
    assert contrast.curve[0] == 0.0
    assert contrast.curve[-1] == pytest.approx(contrast.implied_gap, abs=1e-9)
    assert contrast.curve[-1] == pytest.approx(contrast.gap, abs=1e-12)
    assert sens.lambdas == DEFAULT_LAMBDAS and len(sens.lambdas) == 21
    # Mean shifts only: linear in λ, the same slope in both regimes.
    assert np.allclose(contrast.curve, np.array(sens.lambdas) * contrast.gap, atol=1e-9)
    assert contrast.slope_change == {"Ym": 0.0}
    assert sens.mesa_at["Ym"] == pytest.approx(frame["Ym"].mean())


def test_the_analytic_delta_method_gradients_match_finite_differences():
    frame = simulate(COLLIDER, COLLIDER_ORDER, binary_regime(3000), np.random.default_rng(6))
    columns = ["s", *COLLIDER_ORDER]
    index = {c: i for i, c in enumerate(columns)}
    parents = [sorted(index[u] for (u, v) in COLLIDER if v == c) for c in columns]
    sem = fit_linear_sem(frame[columns].cov().to_numpy(), len(frame), columns, [0], parents)
    source, base, mesa = 0, index["Yb"], [index["Ym"]]

    def numeric_se(f):
        variance = 0.0
        for j, pa in enumerate(sem.parents):
            if j == 0:
                continue
            grad = []
            for i in pa:
                h = 1e-6
                up, down = sem.coefficients.copy(), sem.coefficients.copy()
                up[i, j] += h
                down[i, j] -= h
                grad.append((f(up, sem.noise) - f(down, sem.noise)) / (2 * h))
            grad = np.array(grad)
            if pa:
                variance += grad @ sem.coefficient_covariance[j] @ grad
            up_w, down_w = sem.noise.copy(), sem.noise.copy()
            up_w[j] += 1e-6
            down_w[j] -= 1e-6
            d = (f(sem.coefficients, up_w) - f(sem.coefficients, down_w)) / 2e-6
            variance += d**2 * sem.noise_variance[j]
        return math.sqrt(variance)

    def with_params(b, w):
        return dataclasses.replace(sem, coefficients=b, noise=w)

    effect, effect_se = direct_effect(sem, source, base, mesa)
    assert effect_se == pytest.approx(
        numeric_se(lambda b, w: direct_effect(with_params(b, w), source, base, mesa)[0]), rel=1e-4
    )
    value, value_se = gap(sem, source, base, mesa)
    assert value_se == pytest.approx(
        numeric_se(lambda b, w: gap(with_params(b, w), source, base, mesa)[0]), rel=1e-4
    )
    assert effect == pytest.approx(1.4, abs=0.2) and value == pytest.approx(0.9, abs=0.2)


def test_a_graph_where_the_criterion_holds_gives_the_zero_curve():
    edges = {("s", "A"): 1.5, ("A", "Ym"): -1.0, ("Ym", "Dm"): 0.8, ("Dm", "Yb"): 1.2}
    order = ["A", "Ym", "Dm", "Yb"]
    # Data from a graph with a leak: the fitted model must still obey the graph it is fitted on.
    leaky = {**edges, ("s", "Yb"): 1.0}
    frame = simulate(leaky, order, binary_regime(4000), np.random.default_rng(1))
    for inputs in (None, ("Ym",)):
        roles = Roles("s", ("Yb",), ("Ym",), ("Dm",), inputs)
        result = check(dag(["s", *order], edges), roles)
        assert result.verdict == "all"
        sens = sensitivity_analysis(statistics_of(frame), result)
        for entry in sens.parent_sets:
            assert entry.status == "hold"
            for contrast in entry.contrasts:
                # Exactly zero, not rounding noise the report's chart would draw.
                assert contrast.curve == (0.0,) * len(sens.lambdas)
                assert contrast.gap == contrast.gap_standard_error == 0.0
                assert contrast.implied_gap == pytest.approx(0.0, abs=1e-10)
                assert all(
                    e.estimate == pytest.approx(0.0, abs=1e-12) for e in contrast.direct_effects
                )


def _brute_force(frame, n, dags, names, inputs, roles=("s", "Ym", "Dm", "Yb")):
    """(pa(Dm), pa_σ(Ym)) -> (direct effect, DAG count), fitting every DAG of the class."""
    s, ym, dm, yb = (names.index(v) for v in roles)
    data = frame[list(names)].to_numpy(dtype=float)
    found: dict[tuple, list] = {}
    for edges in dags:
        g = nx.DiGraph(list(edges))
        g.add_nodes_from(range(n))
        if g.in_degree(s):
            continue
        key_d = tuple(sorted(names[p] for p in g.predecessors(dm)))
        sigma = g.copy()
        if inputs is not None:
            sigma.remove_edges_from(list(sigma.in_edges(dm)))
            sigma.add_edges_from((names.index(p), dm) for p in inputs)
        if not nx.is_directed_acyclic_graph(sigma):
            continue
        coef = {}
        for j in range(n):
            pa = sorted(sigma.predecessors(j))
            if j == s or not pa:
                continue
            x = np.column_stack([np.ones(len(data)), data[:, pa]])
            beta = np.linalg.lstsq(x, data[:, j], rcond=None)[0][1:]
            coef.update({(p, j): b for p, b in zip(pa, beta, strict=True)})
        pruned = sigma.copy()
        pruned.remove_node(ym)
        effect = sum(
            math.prod(coef[e] for e in itertools.pairwise(path))
            for path in nx.all_simple_paths(pruned, s, yb)
        )
        key = (key_d, tuple(sorted(names[p] for p in sigma.predecessors(ym))))
        entry = found.setdefault(key, [effect, 0])
        assert entry[0] == pytest.approx(effect, abs=1e-8), "one value per (pa(Dm), pa(Ym))"
        entry[1] += 1
    return found


@pytest.mark.parametrize("inputs", [None, ("Ym",)], ids=["keep", "explicit"])
def test_a_cpdag_gives_the_ida_set_of_fitting_every_dag(inputs):
    # s -> X -> {Ym, Dm, Yb} and the triangle Ym, Dm, Yb: no v-structure, so the triangle
    # stays undirected in the restricted class (6 DAGs), and both pa(Dm) and pa(Ym) vary.
    names = ["s", "X", "Ym", "Dm", "Yb"]
    truth = {
        ("s", "X"): 1.0,
        ("X", "Ym"): 0.8,
        ("X", "Dm"): -0.5,
        ("X", "Yb"): 0.9,
        ("Ym", "Dm"): 0.7,
        ("Ym", "Yb"): 0.6,
        ("Dm", "Yb"): 1.1,
    }
    frame = simulate(truth, names[1:], binary_regime(6000), np.random.default_rng(2))
    index = {v: i for i, v in enumerate(names)}
    directed, undirected = cpdag_of(len(names), [(index[u], index[v]) for u, v in truth])
    graph = CausalGraph.from_index_edges(names, directed=directed, undirected=undirected)
    roles = Roles("s", ("Yb",), ("Ym",), ("Dm",), inputs)
    result = check(graph, roles)
    sens = sensitivity_analysis(statistics_of(frame), result)
    assert sens.status == "done"

    dags = all_extensions(len(names), directed, undirected)
    brute = _brute_force(frame, len(names), dags, names, inputs)
    ours = {}
    for entry in sens.parent_sets:
        (contrast,) = entry.contrasts
        assert sum(e.n_dags for e in contrast.direct_effects) == entry.n_dags
        for effect in contrast.direct_effects:
            key = (tuple(sorted(entry.parents["Dm"])), effect.mesa_parents["Ym"])
            assert key not in ours
            ours[key] = (effect.estimate, effect.n_dags)
    assert set(ours) == set(brute)
    for key, (value, count) in brute.items():
        assert ours[key][0] == pytest.approx(value, abs=1e-8)
        assert ours[key][1] == count
    # One entry per valid parent set of Dm, and several distinct values in the class.
    valid = [e for e in result.parent_sets if e.status in ("hold", "fail")]
    assert [e.parents for e in sens.parent_sets] == [e.parents for e in valid]
    assert len(sens.parent_sets) >= 2
    values = sens.possible_direct_effects("1", "Yb")
    assert len(values) >= 2
    assert sum(count for _, count in values) == sum(c for _, c in brute.values())
    # The gap depends on the σ-graph's distribution only: one value per parent set, and
    # zero exactly where the criterion holds there.
    for entry in sens.parent_sets:
        (contrast,) = entry.contrasts
        assert contrast.curve[-1] == pytest.approx(contrast.implied_gap, abs=1e-9)
        if entry.status == "hold":
            assert np.allclose(contrast.curve, 0.0, atol=1e-10)


@st.composite
def ida_instances(draw):
    n, edges = draw(moral_dags(min_nodes=4, max_nodes=6, extra_edges=1))
    g = nx.DiGraph(edges)
    g.add_nodes_from(range(n))
    regime = draw(st.sampled_from(sorted(v for v in range(n) if g.in_degree(v) == 0)))
    others = draw(st.permutations([v for v in range(n) if v != regime]))
    ym, dm, yb = others[:3]
    policy = draw(st.sampled_from(["keep", "mesa", "none"]))
    inputs = {"keep": None, "mesa": (f"v{ym}",), "none": ()}[policy]
    weights = draw(st.lists(st.floats(0.4, 1.5), min_size=len(edges), max_size=len(edges)))
    signs = draw(st.lists(st.sampled_from([-1, 1]), min_size=len(edges), max_size=len(edges)))
    seed = draw(st.integers(0, 2**16))
    return (
        n,
        edges,
        regime,
        (ym, dm, yb),
        inputs,
        [w * z for w, z in zip(weights, signs, strict=True)],
        seed,
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ida_instances())
def test_the_ida_set_matches_fitting_every_dag_of_random_classes(instance):
    n, edges, regime, (ym, dm, yb), inputs, weights, seed = instance
    names = [f"v{i}" for i in range(n)]
    rng = np.random.default_rng(seed)
    rows = 600
    data = {}
    for v in nx.topological_sort(nx.DiGraph(edges) if edges else nx.empty_graph(n, nx.DiGraph)):
        if v == regime:
            data[v] = binary_regime(rows).astype(float)
            continue
        column = rng.standard_normal(rows)
        for (u, w), b in zip(edges, weights, strict=True):
            if w == v:
                column = column + b * data[u]
        data[v] = column
    for v in range(n):
        data.setdefault(v, rng.standard_normal(rows))
    frame = pd.DataFrame({names[v]: data[v] for v in range(n)})
    frame[names[regime]] = frame[names[regime]].astype(np.int64)
    directed, undirected = cpdag_of(n, edges)
    graph = CausalGraph.from_index_edges(names, directed=directed, undirected=undirected)
    role_names = tuple(names[v] for v in (regime, ym, dm, yb))
    roles = Roles(role_names[0], (role_names[3],), (role_names[1],), (role_names[2],), inputs)
    result = check(graph, roles)
    sens = sensitivity_analysis(statistics_of(frame, discrete=(names[regime],)), result)
    brute = _brute_force(
        frame, n, all_extensions(n, directed, undirected), names, inputs, roles=role_names
    )
    if sens.status == "skipped":
        assert result.verdict == "invalid" and not brute
        return
    ours = {}
    for entry in sens.parent_sets:
        (contrast,) = entry.contrasts
        for effect in contrast.direct_effects:
            key = (tuple(sorted(entry.parents[role_names[2]])), effect.mesa_parents[role_names[1]])
            ours[key] = (effect.estimate, effect.n_dags)
        if entry.status == "hold":
            assert np.allclose(contrast.curve, 0.0, atol=1e-9)
        assert contrast.curve[-1] == pytest.approx(contrast.implied_gap, abs=1e-8)
    assert set(ours) == set(brute)
    for key, (value, count) in brute.items():
        assert ours[key][0] == pytest.approx(value, abs=1e-7)
        assert ours[key][1] == count


def test_several_regimes_give_one_contrast_each_against_the_first():
    regime = np.repeat([0, 1, 2], N // 3)
    shift = np.array([0.0, 1.0, -2.0])[regime]
    rng = np.random.default_rng(3)
    a = shift + rng.standard_normal(len(regime))  # s -> A, a mean shift per regime
    ym = 0.5 * a + rng.standard_normal(len(regime))
    dm = ym + rng.standard_normal(len(regime))
    yb = dm + 1.5 * a + rng.standard_normal(len(regime))
    frame = pd.DataFrame({"s": regime, "A": a, "Ym": ym, "Dm": dm, "Yb": yb})
    edges = [("s", "A"), ("A", "Ym"), ("Ym", "Dm"), ("Dm", "Yb"), ("A", "Yb")]
    result = check(dag(list(frame.columns), edges), Roles("s", ("Yb",), ("Ym",), ("Dm",)))
    labels = ["train", "deploy", "holdout"]
    sens = sensitivity_analysis(statistics_of(frame), result, regime_labels=labels)
    assert sens.regimes == ("deploy", "holdout")
    (entry,) = sens.parent_sets
    got = {c.regime: c.direct_effects[0].estimate for c in entry.contrasts}
    assert got["deploy"] == pytest.approx(1.5 * 1.0, abs=0.06)
    assert got["holdout"] == pytest.approx(1.5 * -2.0, abs=0.06)


def test_discrete_roles_are_skipped_with_a_note():
    rng = np.random.default_rng(4)
    frame = simulate(COLLIDER, COLLIDER_ORDER, binary_regime(2000), rng)
    frame["Yb"] = (frame["Yb"] > 0).astype(np.int64)
    roles = Roles("s", ("Yb",), ("Ym",), ("Dm",), ("Ym",))
    result = check(dag(["s", *COLLIDER_ORDER], COLLIDER), roles)
    sens = sensitivity_analysis(statistics_of(frame, discrete=("s", "Yb")), result)
    assert sens.status == "skipped" and not sens.parent_sets
    (note,) = sens.notes
    assert "'Yb'" in note and "discrete" in note
    assert sens.as_dict()["status"] == "skipped"

    # A two-level column that plays no role enters as 0/1, with a note; more levels skip.
    frame = simulate(COLLIDER, COLLIDER_ORDER, binary_regime(2000), rng)
    frame["U"] = (frame["U"] > 0).astype(np.int64)
    sens = sensitivity_analysis(statistics_of(frame, discrete=("s", "U")), result)
    assert sens.status == "done" and any("'U'" in n and "0/1" in n for n in sens.notes)
    frame["U"] = np.arange(len(frame)) % 3
    sens = sensitivity_analysis(statistics_of(frame, discrete=("s", "U")), result)
    assert sens.status == "skipped" and "3 levels" in sens.notes[0]


def test_bad_lambdas_are_an_input_error():
    frame = simulate(COLLIDER, COLLIDER_ORDER, binary_regime(500), np.random.default_rng(5))
    result = check(dag(["s", *COLLIDER_ORDER], COLLIDER), Roles("s", ("Yb",), ("Ym",), ("Dm",)))
    with pytest.raises(ValueError, match="lambdas"):
        sensitivity_analysis(statistics_of(frame), result, lambdas=[0.0, -1.0])


def _run(logs, out, *extra):
    args = [
        "run",
        "--regime",
        f"train={logs / 'train'}/*.parquet",
        "--regime",
        f"deploy={logs / 'deploy'}/*.parquet",
        "--base",
        "true_reward",
        "--mesa",
        "value",
        "--decision",
        "action",
        "--policy-inputs",
        "value,deployment_cue",
        "--out",
        str(out),
        "--quiet",
        *extra,
    ]
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_run_end_to_end_writes_sensitivity_to_json_and_html(tmp_path):
    # The deceptive scenario: regime -> deployment_cue -> action -> true_reward avoids the
    # value, with coefficients 2, -1 and 1: a direct effect of -2.
    logs = tmp_path / "logs"
    write_logs("deceptive", logs, rows=8000, seed=0, shards=2)
    outcome = _run(logs, tmp_path / "out")
    assert outcome.exit_code == 4, outcome.output
    document = json.loads((tmp_path / "out" / "result.json").read_text())
    part = document["sensitivity"]
    assert part["status"] == "done"
    assert part["reference_regime"] == "train" and part["regimes"] == ["deploy"]
    assert len(part["lambdas"]) == 21
    (possible,) = part["possible_direct_effects"]
    assert possible["base"] == "true_reward"
    assert [round(v["estimate"], 1) for v in possible["values"]] == [-2.0]
    for entry in part["parent_sets"]:
        for contrast in entry["contrasts"]:
            assert contrast["curve"][0] == 0.0
            assert contrast["curve"][-1] == pytest.approx(contrast["implied_gap"], abs=1e-9)
    assert "sensitivity" in document["timings"]
    html = (tmp_path / "out" / "report.html").read_text()
    section = html[html.index('<section id="sensitivity"') :]
    section = section[: section.index("</section>")]
    assert 'href="#sensitivity"' in html
    assert 'id="sensitivity-table"' in section
    # The λ curve is λ x gap by construction: numbers, not a chart of a straight line.
    assert "<svg" not in section and "λ × gap" in section
    for entry in part["parent_sets"]:
        for contrast in entry["contrasts"]:
            gap, half = contrast["gap"], 1.959963984540054 * contrast["gap_standard_error"]
            assert f"{gap - half:+.4g} to {gap + half:+.4g}" in section
    # The table shows the estimate as the JSON has it, and the IDA set in a note.
    estimate = possible["values"][0]["estimate"]
    assert f"{estimate:+.4g}" in section
    assert "Possible direct effects of deploy on true_reward" in section
    assert_rows_numbered_as_parent_sets(document, section)

    off = _run(logs, tmp_path / "off", "--no-sensitivity")
    assert off.exit_code == 4, off.output
    assert json.loads((tmp_path / "off" / "result.json").read_text())["sensitivity"] is None
    assert 'id="sensitivity"' not in (tmp_path / "off" / "report.html").read_text()


def assert_rows_numbered_as_parent_sets(document, section):
    """Each sensitivity row carries the number of its parent set in the parent-set table."""
    numbered = {
        tuple(entry["parents"]): number
        for number, entry in enumerate(document["parent_sets"], start=1)
    }
    shown = re.findall(
        r'<td class="num muted">(\d+)</td>\s*<td class="names">action ← \{([^}]*)\}', section
    )
    assert shown
    for number, parents in shown:
        names = tuple(sorted(p.strip() for p in parents.split(",") if p.strip()))
        assert int(number) == numbered[names], (number, parents)


def test_sensitivity_rows_are_numbered_as_the_parent_set_table(tmp_path):
    # coinrun with the policy reading value and level_difficulty: the one
    # valid failing parent set is #3 of six, the first of the analysis.
    logs = tmp_path / "logs"
    write_logs("coinrun", logs, rows=4000, seed=0, shards=1)
    out = tmp_path / "out"
    args = run_args(str(logs / "train"), str(logs / "deploy"), out, "--no-direct-test", "--quiet")
    outcome = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert outcome.exit_code == 4, outcome.output
    document = json.loads((tmp_path / "out" / "result.json").read_text())
    html = (tmp_path / "out" / "report.html").read_text()
    section = html[html.index('<section id="sensitivity"') :]
    section = section[: section.index("</section>")]
    first = document["sensitivity"]["parent_sets"][0]["parents"]["action"]
    assert [p["parents"] for p in document["parent_sets"]].index(sorted(first)) > 0
    assert_rows_numbered_as_parent_sets(document, section)


def test_a_config_value_that_is_not_a_boolean_is_one_error_line(tmp_path):
    config = tmp_path / "job.toml"
    config.write_text('sensitivity = "yes"\n')
    outcome = CliRunner().invoke(
        cli,
        [
            "run",
            "--config",
            str(config),
            "--regime",
            "a=x.csv",
            "--regime",
            "b=y.csv",
            "--base",
            "y",
            "--mesa",
            "m",
            "--decision",
            "d",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert outcome.exit_code == 1
    assert "sensitivity" in outcome.output and "true or false" in outcome.output
    assert "Traceback" not in outcome.output


def test_job_files_take_the_sensitivity_key(tmp_path):
    from mesalens.connectors.errors import InputError
    from mesalens.reports.jobs.job_file import load_job_file

    def job(value: str) -> str:
        path = tmp_path / "jobs.toml"
        path.write_text(
            'base = "y"\nmesa = "m"\ndecision = "d"\n'
            f"sensitivity = {value}\n"
            '[[check]]\nname = "a"\n[check.regimes]\ntrain = "t.csv"\ndeploy = "d.csv"\n'
            '[[check]]\nname = "b"\nsensitivity = true\n'
            '[check.regimes]\ntrain = "t.csv"\ndeploy = "d.csv"\n'
        )
        return str(path)

    first, second = load_job_file(job("false")).checks
    assert first.evidence.sensitivity is False and second.evidence.sensitivity is True
    with pytest.raises(InputError, match="sensitivity"):
        load_job_file(job('"no"'))


def test_a_pag_is_skipped_with_a_note():
    frame = simulate(COLLIDER, COLLIDER_ORDER, binary_regime(500), np.random.default_rng(7))
    result = check(dag(["s", *COLLIDER_ORDER], COLLIDER), Roles("s", ("Yb",), ("Ym",), ("Dm",)))
    # A PAG's check result has no restricted PDAG (mesalens.pipeline.pag_checker).
    pag_like = dataclasses.replace(result, restricted_pdag=None)
    sens = sensitivity_analysis(statistics_of(frame), pag_like)
    assert sens.status == "skipped" and "PAG" in sens.notes[0]
