r"""``mesalens run``: from logged tables to a verdict, written into an output folder.

::

    mesalens run --regime train=PATH... --regime deploy=PATH... \
        --base Yb --mesa Ym --decision Dm [--policy-inputs ...] \
        [--method pc|ges|fci] [--test ...] [--alpha A] [--knowledge FILE] \
        [--config job.toml] [--scheduler ADDRESS] --out DIR

Reads every regime in parallel (dask), learns the class (causal-learn) with
the regime exogenous, decides the criterion over it, and writes into DIR:

* ``result.json`` — the check-graph document plus the learned graph, the
  discovery settings and CI tests, the data summary per regime, versions
  and input fingerprints (:mod:`mesalens.reports.run_document`);
* ``graph.txt`` — the learned graph in the Tetrad text format;
* ``report.html`` — the self-contained HTML report (:mod:`mesalens.reports.html`).

Exit codes are those of ``check-graph``. A config file (TOML) may hold any
option under the same names (``regimes`` as a table ``{name = "path"}``, and
``dtypes`` as a table ``{column = "float"|"int"|"category"|"bool"}`` of type
overrides); options on the command line win.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from mesalens.connectors import DEFAULT_REGIME_NAME, MesalensError, load_regimes
from mesalens.connectors.loader import LoadedData
from mesalens.connectors.regime import RegimeSpec, check_regimes, parse_regime_option
from mesalens.connectors.simulator import SCENARIOS, scenario_names, write_logs
from mesalens.pipeline.analysis import (
    AnalysisResult,
    DiscoverySettings,
    EvidenceSettings,
    analyze,
)
from mesalens.pipeline.dask_client import connected_client
from mesalens.pipeline.formats.tetrad import write_tetrad
from mesalens.pipeline.knowledge import Knowledge, read_tetrad_knowledge
from mesalens.pipeline.pag_checker import PagCheckResult, pag_note
from mesalens.reports.atomic import atomic_write_text
from mesalens.reports.cli_common import CONTEXT, BadInput, build_roles, fail
from mesalens.reports.html import render_run_report, write_report
from mesalens.reports.job_files import (
    CHECK_KEYS,
    EVIDENCE_KEYS,
    TOP_ONLY_KEYS,
    ConfigValueError,
    evidence_settings,
    is_job_path,
)
from mesalens.reports.jobs import run_check, run_job_file
from mesalens.reports.progress import run_progress
from mesalens.reports.result_json import dumps
from mesalens.reports.run_document import run_result_to_dict
from mesalens.reports.sections.direct_test import direct_test_line
from mesalens.reports.summary import EXIT_CODES, bootstrap_line, render_summary

__all__ = ["demo_command", "run_command", "write_run_outputs"]

# One list of keys for single-check configs and job files.
_CONFIG_KEYS = {*CHECK_KEYS, *TOP_ONLY_KEYS}


def _read_config(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            config = tomllib.load(handle)
    except OSError as exc:
        raise BadInput(f"cannot read the config {path!r}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"config {path!r} is not valid TOML: {exc}") from None
    unknown = sorted(set(config) - _CONFIG_KEYS)
    if unknown:
        raise BadInput(
            f"config {path!r} has unknown keys {', '.join(unknown)}; "
            f"the keys are {', '.join(sorted(_CONFIG_KEYS))}"
        )
    return config


def _as_text(value: Any) -> str | None:
    """Config values may be lists where the command line takes comma-separated text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join(str(v) for v in value) if value else "none"
    return str(value)


def _regime_specs(options: tuple[str, ...], config: dict[str, Any]) -> list[RegimeSpec]:
    if options:
        specs = [parse_regime_option(text) for text in options]
    else:
        table = config.get("regimes", {})
        if not isinstance(table, dict):
            raise BadInput("config key 'regimes' must be a table: [regimes] train = 'PATH'")
        specs = [parse_regime_option(f"{name}={location}") for name, location in table.items()]
    check_regimes(specs, minimum=2)
    return specs


def _knowledge(path: str | None, config: dict[str, Any]) -> Knowledge | None:
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise BadInput(f"cannot read the knowledge file {path!r}: {exc.strerror}") from None
        return read_tetrad_knowledge(text, source=path)
    value = config.get("knowledge")
    if isinstance(value, str):
        return _knowledge(value, {})
    if isinstance(value, dict):
        return Knowledge.from_mapping(value, source="config [knowledge]")
    return None


@click.command("run", context_settings=CONTEXT)
@click.option(
    "--regime",
    "regimes",
    multiple=True,
    metavar="NAME=PATH",
    help="A regime and its logs (file, glob, hive folder, fsspec URL or SQL URL); repeat.",
)
@click.option("--regime-name", metavar="NAME", help="Name of the regime node.  [default: regime]")
@click.option("--base", metavar="NAMES", help="The base objective Y_b (columns).")
@click.option("--mesa", metavar="NAMES", help="The mesa objective Y_m (columns).")
@click.option("--decision", metavar="NAMES", help="The mesa decision D_m (columns).")
@click.option("--policy-inputs", metavar="keep|none|A,B,...", help="What the policy reads.")
@click.option("--method", type=click.Choice(["pc", "ges", "fci"]), help="[default: pc]")
@click.option("--test", "ci_test", metavar="NAME", help="auto|fisherz|gsq|chisq|dg|kci")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True))
@click.option("--max-depth", type=click.IntRange(min=-1), help="Largest conditioning set.")
@click.option("--knowledge", metavar="FILE", help="Tetrad knowledge file (tiers, edges).")
@click.option("--columns", metavar="A,B,...", help="Use only these columns.")
@click.option("--missing", type=click.Choice(["drop", "error"]), help="Rows with missing values.")
@click.option("--seed", type=int, help="Seed for everything random.  [default: 0]")
@click.option("--config", "config_path", metavar="FILE", help="A TOML file with these options.")
@click.option("--scheduler", metavar="ADDRESS", help="A dask.distributed scheduler address.")
@click.option(
    "--out", "out_dir", metavar="DIR", help="Folder for result.json, graph.txt and report.html."
)
@click.option(
    "--sensitivity/--no-sensitivity",
    default=None,
    help="Linear-Gaussian sensitivity analysis per σ-graph.  [default: on]",
)
@click.option(
    "--bootstrap",
    type=click.IntRange(min=0),
    metavar="B",
    help="Rerun discovery and check on B Poisson resamples: verdict shares, edge "
    "frequencies.  [default: 0, off]",
)
@click.option(
    "--stability-threshold",
    type=click.FloatRange(0, 1, min_open=True),
    metavar="SHARE",
    help="With --bootstrap: the verdict is stable when this share of resamples give it.  "
    "[default: 0.95]",
)
@click.option(
    "--direct-test/--no-direct-test",
    default=None,
    help="Test Y_b ⊥ s | Y_m on the logs and estimate the alignment gap.  [default: on]",
)
@click.option(
    "--direct-test-rows",
    type=click.IntRange(min=100),
    metavar="N",
    help="Sample at most N rows for the direct test's regressions.  [default: 100000]",
)
@click.option("--quiet", "-q", is_flag=True, help="Print no summary.")
@click.pass_context
def run_command(ctx: click.Context, **options: Any) -> None:
    """Learn the causal class from logs and decide the criterion over it."""
    console = Console(stderr=True, markup=False, emoji=False, highlight=False)
    if options["config_path"] and is_job_path(options["config_path"]):
        _run_job_file(ctx, console, options)
    try:
        config = _read_config(options["config_path"]) if options["config_path"] else {}

        def pick(name: str, default: Any = None) -> Any:
            value = options.get(name)
            return value if value is not None else config.get(name, default)

        out_dir = pick("out_dir") or config.get("out")
        if not out_dir:
            raise click.UsageError("missing option --out DIR")
        missing = [f"--{k}" for k in ("base", "mesa", "decision") if pick(k) is None]
        if missing:
            raise click.UsageError(f"missing option {', '.join(missing)}")
        specs = _regime_specs(options["regimes"], config)
        regime_name = pick("regime_name", DEFAULT_REGIME_NAME)
        roles = build_roles(
            regime_name,
            _as_text(pick("base")),
            _as_text(pick("mesa")),
            _as_text(pick("decision")),
            _as_text(pick("policy_inputs", "keep")),
        )
        settings = DiscoverySettings(
            method=pick("method", "pc"),
            test=pick("ci_test") or config.get("test", "auto"),
            alpha=float(pick("alpha", 0.01)),
            max_depth=int(pick("max_depth", -1)),
            seed=int(pick("seed", 0)),
        )
        try:
            evidence = evidence_settings(
                {key: value for key in EVIDENCE_KEYS if (value := pick(key)) is not None}
            )
        except ConfigValueError as exc:
            raise BadInput(f"{exc.key} {exc}") from None
        knowledge = _knowledge(options["knowledge"], config)
        columns = _as_text(pick("columns"))
        scheduler = pick("scheduler")
        with connected_client(scheduler), run_progress(console, not options["quiet"]) as progress:
            data = load_regimes(
                specs,
                regime_name=regime_name,
                columns=None if columns is None else [c.strip() for c in columns.split(",")],
                missing=pick("missing", "drop"),
                dtypes=config.get("dtypes"),
                sample_rows=evidence.sample_rows,
                seed=settings.seed,
            )
            analysis = analyze(
                data,
                roles,
                settings,
                knowledge=knowledge,
                on_stage=progress.stage,
                on_test=progress.ci_test,
                evidence=evidence,
            )
        out = write_run_outputs(Path(out_dir), analysis, data, settings)
    except (MesalensError, BadInput) as exc:
        fail(ctx, str(exc))
    except OSError as exc:
        fail(ctx, f"{exc.strerror or exc}" + (f": {exc.filename!r}" if exc.filename else ""))

    if not options["quiet"]:
        console.print(
            f"Results written to {out / 'result.json'}, {out / 'graph.txt'} and "
            f"{out / 'report.html'}"
        )
        for note in analysis.discovery.notes:
            console.print(f"note: {note}", soft_wrap=True)
        if isinstance(analysis.check, PagCheckResult):  # FCI: counts are over MAGs
            console.print(pag_note(analysis.check), soft_wrap=True)
        render_summary(analysis.check, console, graph_source="discovery")
        if analysis.bootstrap is not None:
            console.print(bootstrap_line(analysis.bootstrap), soft_wrap=True)
        if analysis.direct_test is not None:
            part = analysis.direct_test.as_dict()
            console.print(direct_test_line(part), soft_wrap=True)
    ctx.exit(EXIT_CODES[analysis.check.verdict])


# Options that describe one check: in a job file they belong in its [[check]] tables.
_CHECK_OPTIONS = {
    "regimes": "--regime",
    "regime_name": "--regime-name",
    "base": "--base",
    "mesa": "--mesa",
    "decision": "--decision",
    "policy_inputs": "--policy-inputs",
    "method": "--method",
    "ci_test": "--test",
    "alpha": "--alpha",
    "max_depth": "--max-depth",
    "knowledge": "--knowledge",
    "columns": "--columns",
    "missing": "--missing",
    "seed": "--seed",
    "bootstrap": "--bootstrap",
    "stability_threshold": "--stability-threshold",
    "sensitivity": "--sensitivity/--no-sensitivity",
    "direct_test": "--direct-test/--no-direct-test",
    "direct_test_rows": "--direct-test-rows",
}


def _run_job_file(ctx: click.Context, console: Console, options: dict[str, Any]) -> None:
    """``run --config JOBS.toml``: every check of a job file, with history and index (exits)."""
    path = options["config_path"]
    given = [flag for name, flag in _CHECK_OPTIONS.items() if options.get(name) not in (None, ())]
    if given:
        raise click.UsageError(
            f"{path} is a job file ([[check]] tables): give {', '.join(given)} in its checks"
        )
    run_one = functools.partial(run_check, write_outputs=write_run_outputs)
    try:
        outcome = run_job_file(
            path, options["out_dir"], run_one=run_one, scheduler=options["scheduler"]
        )
    except (MesalensError, BadInput) as exc:
        fail(ctx, str(exc))
    except OSError as exc:
        fail(ctx, f"{exc.strerror or exc}" + (f": {exc.filename!r}" if exc.filename else ""))
    if not options["quiet"]:
        for line in outcome.summary_lines():
            console.print(line, soft_wrap=True)
    ctx.exit(outcome.exit_code)


def write_run_outputs(
    out: Path,
    analysis: AnalysisResult,
    data: LoadedData,
    settings: DiscoverySettings,
    *,
    verdict_change: str | None = None,
) -> Path:
    """Write ``result.json``, ``graph.txt`` and ``report.html`` into ``out`` (each atomically).

    ``verdict_change`` (a sentence from a scheduled job, when the verdict
    differs from the previous run's) is called out in both. Returns ``out``.
    """
    # Everything is serialised before the first byte is written.
    run_document = run_result_to_dict(analysis, data, settings)
    run_document["verdict_change"] = verdict_change
    document = dumps(run_document)
    graph_text = write_tetrad(analysis.discovery.graph)
    report = render_run_report(run_document, analysis.check, data)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "graph.txt", graph_text)
    atomic_write_text(out / "result.json", document)
    write_report(out / "report.html", report)
    return out


@click.command("demo", context_settings=CONTEXT)
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    type=click.Choice(scenario_names()),
    help="A built-in scenario (repeatable).  [default: all]",
)
@click.option("--out", "out_dir", default="demo-out", show_default=True, metavar="DIR")
@click.option("--rows", type=click.IntRange(min=100), default=20_000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--logs-only", is_flag=True, help="Write the simulated logs and stop.")
@click.pass_context
def demo_command(
    ctx: click.Context,
    scenarios: tuple[str, ...],
    out_dir: str,
    rows: int,
    seed: int,
    logs_only: bool,
) -> None:
    """Simulate agent logs and run the whole pipeline on them.

    For each scenario the logs are written as Parquet shards to
    DIR/logs/SCENARIO/REGIME/ (the input shape mesalens expects), then
    ``run`` learns the class from them and writes DIR/SCENARIO/result.json.
    Exits 0 whatever the verdicts; they are printed with the true ones.
    """
    console = Console(markup=False, emoji=False, highlight=False)
    out = Path(out_dir)
    try:
        for name in scenarios or scenario_names():
            written = write_logs(name, out / "logs" / name, rows=rows, seed=seed)
            console.print(
                f"{name}: logs in {out / 'logs' / name}/ ({sum(map(len, written.values()))} shards)"
            )
            if logs_only:
                continue
            truth = SCENARIOS[name]
            roles = build_roles(
                DEFAULT_REGIME_NAME,
                ",".join(truth.roles["base"]),
                ",".join(truth.roles["mesa"]),
                ",".join(truth.roles["decision"]),
                _as_text(truth.roles["policy_inputs"]),
            )
            specs = [
                RegimeSpec(regime, str(out / "logs" / name / regime / "*.parquet"))
                for regime in written
            ]
            settings = DiscoverySettings(seed=seed)
            data = load_regimes(
                specs, sample_rows=EvidenceSettings().sample_rows, seed=settings.seed
            )
            analysis = analyze(data, roles, settings)
            target = write_run_outputs(out / name, analysis, data, settings)
            console.print(
                f"{name}: learned verdict {analysis.check.verdict!r} "
                f"(true graph: {truth.expected_verdict!r}); {target / 'result.json'}",
                soft_wrap=True,
            )
    except (MesalensError, BadInput) as exc:
        fail(ctx, str(exc))
