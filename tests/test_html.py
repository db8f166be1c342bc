"""The self-contained HTML report: content, escaping, wiring, size, and a real browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mesalens.connectors import load_regimes
from mesalens.connectors.regime import RegimeSpec
from mesalens.pipeline.checker import check
from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.roles import Roles
from mesalens.reports import distributions as distributions_module
from mesalens.reports import html as html_module
from mesalens.reports.cli import cli
from mesalens.reports.dag_pages import DAGS_PER_PAGE, class_dags
from mesalens.reports.distributions import regime_distributions
from mesalens.reports.html import render_check_report, write_report
from mesalens.reports.layout import draw_graph, layered_layout
from mesalens.reports.result_json import check_result_to_dict
from mesalens.reports.vocabulary import verdict_sentence

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
SCRIPT_NAME = "<script>alert(1)</script>"
ESCAPED_SCRIPT_NAME = "&lt;script&gt;alert(1)&lt;/script&gt;"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def write_logs(folder: Path, rows: int = 3000, seed: int = 0) -> dict[str, str]:
    """A linear agent whose regime reaches the reward around the value, plus a hostile column."""
    rng = np.random.default_rng(seed)
    paths = {}
    for code, name in enumerate(["train", "deploy"]):
        obs = rng.normal(size=rows) + 1.5 * code
        action = 0.8 * obs + rng.normal(size=rows)
        value = 0.9 * action + rng.normal(size=rows)
        reward = 0.9 * value + rng.normal(size=rows) + 1.5 * code
        noise = rng.normal(size=rows) + 0.7 * reward
        frame = pd.DataFrame(
            {"obs": obs, "action": action, "value": value, "reward": reward, SCRIPT_NAME: noise}
        )
        (folder / name).mkdir(parents=True, exist_ok=True)
        frame.to_parquet(folder / name / "part-0.parquet")
        paths[name] = str(folder / name / "*.parquet")
    return paths


def run_args(
    train: str,
    deploy: str,
    out: Path,
    roles: tuple[str, str, str, str] = ("reward", "value", "action", "obs"),
) -> list[str]:
    base, mesa, decision, policy_inputs = roles
    return [
        "run",
        "--regime",
        f"train={train}",
        "--regime",
        f"deploy={deploy}",
        "--base",
        base,
        "--mesa",
        mesa,
        "--decision",
        decision,
        "--policy-inputs",
        policy_inputs,
        "--out",
        str(out),
        "--quiet",
    ]


@pytest.fixture(scope="module")
def run_out(tmp_path_factory) -> Path:
    """``mesalens run`` once on the leaky logs: result.json and report.html in one folder."""
    folder = tmp_path_factory.mktemp("run")
    paths = write_logs(folder / "logs")
    # PC: its CI tests at the regime are what the report's evidence lists.
    args = [*run_args(paths["train"], paths["deploy"], folder / "out"), "--method", "pc"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 4, result.output  # verdict none: the regime reaches the reward
    return folder / "out"


def many_dags_graph() -> tuple[CausalGraph, Roles]:
    """A CPDAG whose class has 24+ DAGs (an undirected 4-clique) and a hostile node name."""
    graph = CausalGraph(["regime", "a", "b", "c", SCRIPT_NAME, "value", "action", "reward"])
    graph.add_edge("regime", "value", "-->")
    graph.add_edge("a", "value", "-->")
    for u, v in [("a", "b"), ("a", "c"), ("a", SCRIPT_NAME), ("b", "c")]:
        graph.add_edge(u, v, "---")
    for u, v in [("b", SCRIPT_NAME), ("c", SCRIPT_NAME)]:
        graph.add_edge(u, v, "---")
    graph.add_edge("value", "action", "-->")
    graph.add_edge("action", "reward", "-->")
    roles = Roles("regime", ("reward",), ("value",), ("action",), None)
    return graph, roles


# ------------------------------------------------------------------ layout
def test_layered_layout_draws_every_mark_and_ranks_the_regime_first():
    edges = [
        ("regime", "-->", "x"),
        ("x", "---", "y"),
        ("y", "<->", "z"),
        ("x", "o->", "z"),
        ("z", "o-o", "w"),
    ]
    layout = layered_layout(["regime", "x", "y", "z", "w"], edges, [("x", "y")], first="regime")
    boxes = layout.nodes
    assert boxes["regime"].y < boxes["x"].y < boxes["y"].y  # layers follow the orientation
    assert all(route.points for route in layout.edges)
    svg = draw_graph(layout, {"regime": "regime", "base": ["w"], "mesa": ["z"], "decision": []}).svg
    marks = dict(
        re.findall(r'data-marks="([^"]+)">.*?<path class="edge-line" d="[^"]+"(.*?)/>', svg)
    )
    assert 'marker-end="url(#g-arrow)"' in marks["--&gt;"]
    assert "marker" not in marks["---"]  # undirected: a plain line
    assert marks["&lt;-&gt;"].count("arrow") == 2  # bidirected: two heads
    assert 'marker-start="url(#g-circle)"' in marks["o-&gt;"]
    assert marks["o-o"].count("circle") == 2


def test_layout_is_deterministic():
    graph, roles = many_dags_graph()
    document = check_result_to_dict(check(graph, roles), graph_source="g.json")
    assert render_check_report(document) == render_check_report(document)


# ------------------------------------------------------------- check-graph
def test_check_graph_html_shows_verdict_path_conjecture_and_no_data(tmp_path):
    out_html, out_json = tmp_path / "report.html", tmp_path / "result.json"
    result = CliRunner().invoke(
        cli,
        ["check-graph", "--example", "collider", "--html", str(out_html), "--json", str(out_json)],
    )
    assert result.exit_code == 4, result.output
    assert f"HTML report written to {out_html}" in result.output
    page = out_html.read_text()
    document = json.loads(out_json.read_text())
    sentence = verdict_sentence(document, "the class of example:collider")
    assert "holds in 0 of 1 DAG" in sentence and "policy reading value" in sentence
    text = re.sub(r"<[^>]+>", "", page)
    assert sentence in text.replace("&#39;", "'")
    # No logs, so no Evidence section (issue 16 part 4), and a built-in example
    # is called one, never "given by the user".
    assert 'id="evidence"' not in page and 'href="#evidence"' not in page
    assert "given by the user" not in page and "the built-in example collider" in page
    assert page.count("<svg") >= 2 and 'class="graph"' in page
    assert 'class="edge on-path"' in page  # the failing parent set's open path, highlighted
    assert "disagrees" in page  # the collider is where the conjecture is wrong
    # Sections in the order of the issue.
    order = [page.index(f'id="{s}"') for s in ("verdict", "graph", "parent-sets", "provenance")]
    assert order == sorted(order) and page.index('id="provenance"') < page.index('id="dags"')


def test_check_graph_html_bad_input_writes_nothing(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("Graph Nodes:\na;b\n\nGraph Edges:\n1. a --> zzz\n")
    out_html, out_json = tmp_path / "r.html", tmp_path / "r.json"
    args = ["check-graph", str(bad), "--base", "b", "--mesa", "a", "--decision", "a"]
    result = CliRunner().invoke(cli, [*args, "--html", str(out_html), "--json", str(out_json)])
    assert result.exit_code == 1
    assert not out_html.exists() and not out_json.exists()
    # An unwritable report is one error line, not a traceback.
    result = CliRunner().invoke(
        cli, ["check-graph", "--example", "collider", "--html", str(tmp_path / "no" / "r.html")]
    )
    assert result.exit_code == 1
    assert "does not exist; create it or write elsewhere" in result.output
    assert list(tmp_path.iterdir()) == [bad]


def test_names_are_escaped_and_dags_are_paged(tmp_path):
    graph, roles = many_dags_graph()
    result = check(graph, roles)
    dags = class_dags(result)
    assert dags is not None and len(dags) == result.n_dags > 10
    page = render_check_report(
        check_result_to_dict(result, graph_source=f"{SCRIPT_NAME}.json"), dags=dags, result=result
    )
    assert page.count("<script") == 1  # the report's own script, nothing else
    assert SCRIPT_NAME not in page and ESCAPED_SCRIPT_NAME in page
    assert page.count('class="dag-page"') == -(-len(dags) // DAGS_PER_PAGE)
    # The Content Security Policy allows exactly the page's own script, by its hash.
    script = page[page.index("<script>") + len("<script>") : page.index("</script>")]
    assert f"script-src &#39;{html_module._csp_hash(script)}&#39;" in page
    write_report(tmp_path / "r.html", page)
    assert (tmp_path / "r.html").read_text() == page


def test_class_too_large_is_not_listed():
    graph, roles = many_dags_graph()
    result = check(graph, roles)
    assert class_dags(result, limit=result.n_dags - 1) is None
    page = render_check_report(check_result_to_dict(result), dags=None, result=result)
    assert "more than the 200 this report lists" in page


# --------------------------------------------------------------------- run
def test_run_writes_report_next_to_result(run_out):
    page = (run_out / "report.html").read_text()
    document = json.loads((run_out / "result.json").read_text())
    assert verdict_sentence(document, "the class learned from the logs").split(":")[0] in page
    assert "mesalens verdict NONE" in page
    # Evidence: the CI tests at the regime, the data per regime, per-column shifts.
    assert 'id="ci-table"' in page and 'id="regime-table"' in page
    assert 'id="distribution-table"' in page and 'class="dist"' in page
    # Provenance: inputs with fingerprints, versions, seed.
    for fingerprint in document["inputs"]:
        assert fingerprint["sha256"] in page
    assert document["versions"]["causal-learn"] in page
    assert SCRIPT_NAME not in page and ESCAPED_SCRIPT_NAME in page
    assert len(page.encode()) < 2_000_000
    # A single run (not a job's) has no job index to link back to.
    assert 'id="job-index-link"' not in page


def test_provenance_names_causal_learns_parameters_in_words(run_out):
    # PC's raw parameters (uc_rule 0, uc_priority 2, stable) read as words, the raw value kept.
    settings = json.loads((run_out / "result.json").read_text())["discovery"]["settings"]
    assert (settings["uc_rule"], settings["uc_priority"], settings["stable"]) == (0, 2, True)
    page = (run_out / "report.html").read_text()
    table = page[page.index('id="provenance"') :]
    rows = dict(re.findall(r'<tr><th scope="row">([^<]+)</th><td[^>]*>([^<]*)</td></tr>', table))
    assert rows["unshielded colliders"] == "oriented from the separating sets (uc_rule 0)"
    assert rows["conflicting colliders"] == "existing colliders kept (uc_priority 2)"
    assert rows["skeleton search"] == "order-independent (stable PC) (stable True)"
    assert "uc_rule" not in rows and "uc_priority" not in rows


def test_regime_distributions_two_computes(tmp_path, monkeypatch):
    paths = write_logs(tmp_path / "logs", rows=500, seed=3)
    data = load_regimes([RegimeSpec(k, v) for k, v in paths.items()])
    calls = []
    real = distributions_module.dask.compute

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(distributions_module.dask, "compute", counting)
    result = regime_distributions(data, bins=10, first=["reward", "obs", "reward"])
    assert len(calls) <= 2
    assert [c["name"] for c in result["columns"]][:3] == ["reward", "obs", "action"]
    obs = next(c for c in result["columns"] if c["name"] == "obs")
    assert [sum(counts) for counts in obs["counts"]] == [500, 500]
    assert len(obs["edges"]) == 11
    assert obs["smd"][1] > 1  # the regime shifts obs by 1.5 standard deviations
    json.dumps(result)  # JSON-ready


def test_credentials_in_locations_never_reach_the_report(run_out):
    document = json.loads((run_out / "result.json").read_text())
    url = "postgresql+psycopg://reader:Sup3r-s3cret@db.example:5432/logs?table=steps"
    document["inputs"] = [{"regime": "train", "source": url, "table": "steps"}]
    document["data"]["regimes"][0]["sources"] = [url]
    page = render_check_report(document, run_document=document)
    assert "Sup3r-s3cret" not in page and "reader:***@db.example" in page


@pytest.mark.postgres
def test_run_over_postgresql_shows_no_password(tmp_path):
    url = os.environ.get("MESALENS_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("MESALENS_TEST_POSTGRES_URL is unset in CI: run `make test`")
        pytest.skip("MESALENS_TEST_POSTGRES_URL is unset (`make postgres-start` starts a server)")
    sa = pytest.importorskip("sqlalchemy")
    parsed = sa.engine.make_url(url)
    # Percent-encode every character of the password: the URL then holds a
    # token that nothing but a leak of the URL could put into an output.
    encoded = "".join(f"%{byte:02X}" for byte in parsed.password.encode())
    secret_url = url.replace(f":{quote(parsed.password, safe='')}@", f":{encoded}@", 1)
    assert encoded in secret_url
    table = f"mesalens_html_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(url)
    try:
        rng = np.random.default_rng(5)
        for code, split in enumerate(["train", "deploy"]):
            obs = rng.normal(size=400) + code
            frame = pd.DataFrame({"split": split, "obs": obs, "action": obs + rng.normal(size=400)})
            frame["value"] = frame["action"] + rng.normal(size=400)
            frame["reward"] = frame["value"] + rng.normal(size=400)
            frame.to_sql(table, engine, if_exists="append", index=False)
        query = "query=SELECT obs, action, value, reward FROM {t} WHERE split = '{s}'"
        out = tmp_path / "out"
        train = f"{secret_url}?{query.format(t=table, s='train')}"
        deploy = f"{secret_url}?{query.format(t=table, s='deploy')}"
        args = [a for a in run_args(train, deploy, out) if a != "--quiet"]  # show the summary
        result = CliRunner().invoke(cli, args)
        assert result.exit_code in (0, 3, 4, 8), result.output
        shown = [
            result.output,
            (out / "result.json").read_text(),
            (out / "report.html").read_text(),
        ]
        for text in shown:
            assert encoded not in text and f":{parsed.password}@" not in text
        assert ":***@" in shown[2]
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()


def test_fifty_variables_stay_under_two_megabytes(tmp_path):
    rng = np.random.default_rng(1)
    names = [f"x{i:02d}" for i in range(49)]
    parents = {j: [i for i in range(j) if rng.random() < 1.2 / max(j, 1)] for j in range(49)}
    paths = {}
    for code, regime in enumerate(["train", "deploy"]):
        columns: dict[str, np.ndarray] = {}
        for j, name in enumerate(names):
            value = rng.normal(size=1500) + (code if j in (0, 3) else 0.0)
            for i in parents[j]:
                value = value + 0.7 * columns[names[i]]
            columns[name] = value / max(1.0, float(np.std(value)))
        (tmp_path / regime).mkdir()
        pd.DataFrame(columns).to_parquet(tmp_path / regime / "part-0.parquet")
        paths[regime] = str(tmp_path / regime / "*.parquet")
    args = run_args(
        paths["train"], paths["deploy"], tmp_path / "out", ("x40", "x30", "x20", "keep")
    )
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in (0, 3, 4, 8), result.output
    page = (tmp_path / "out" / "report.html").read_text()
    assert len(page.encode()) < 2_000_000
    assert page.count('class="node ') == 50
    # Nothing to fetch: no external references at all.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page, re.IGNORECASE)
    assert "@import" not in page and "url(http" not in page


# ----------------------------------------------------------------- browser
@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed in CI: run `make test` (target chromium)")
        pytest.skip("chromium is not installed (`make chromium` installs it)")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def open_page(browser, path: Path):
    """Open ``path`` and record what the page does: console messages, errors, requests, dialogs."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    seen = {"console": [], "errors": [], "requests": [], "dialogs": []}
    page.on("console", lambda message: seen["console"].append((message.type, message.text)))
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))
    page.on("request", lambda request: seen["requests"].append(request.url))

    def on_dialog(dialog):
        seen["dialogs"].append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, seen


def test_run_report_in_chromium(browser, run_out):
    document = json.loads((run_out / "result.json").read_text())
    page, seen = open_page(browser, run_out / "report.html")
    try:
        sentence = page.inner_text("#verdict-sentence")
        assert sentence == verdict_sentence(document, "the class learned from the logs")
        assert page.locator("svg.graph").count() == 1
        assert page.locator("svg.graph g.node").count() == len(document["data"]["columns"])
        assert page.locator("svg.graph .on-path").count() >= 3  # the open path, lit
        # The hostile column name is text on the page, and no script ran from it.
        assert page.get_by_text(SCRIPT_NAME, exact=True).first.is_visible()
        assert seen["dialogs"] == []
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    finally:
        page.close()
    assert seen["errors"] == []
    assert [m for m in seen["console"] if m[0] in ("error", "warning")] == []
    assert seen["requests"] == [(run_out / "report.html").as_uri()]  # no network at all


def test_check_graph_report_in_chromium_pages_and_escapes(browser, tmp_path):
    graph, roles = many_dags_graph()
    result = check(graph, roles)
    dags = class_dags(result)
    path = tmp_path / "report.html"
    write_report(path, render_check_report(check_result_to_dict(result), dags=dags, result=result))
    page, seen = open_page(browser, path)
    try:
        label = page.locator(".pager-label")
        pages = -(-len(dags) // DAGS_PER_PAGE)
        assert label.inner_text() == f"page 1 of {pages}"
        assert page.locator(".dag-page:visible").count() == 1
        page.click("[data-step='1']")
        assert label.inner_text() == f"page 2 of {pages}"
        assert page.locator(".dag-page[data-page='1']").is_visible()
        assert page.get_by_text(SCRIPT_NAME, exact=True).first.is_visible()
        # A graph given without logs: no Evidence section to show empty.
        assert page.locator("#evidence").count() == 0
        assert "No data inputs: the graph is " in page.inner_text("#provenance")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "check-graph-report.png"), full_page=True)
    finally:
        page.close()
    assert seen["dialogs"] == [] and seen["errors"] == []
    assert [m for m in seen["console"] if m[0] in ("error", "warning")] == []
    assert seen["requests"] == [path.as_uri()]
