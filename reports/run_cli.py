r"""``mesalens run``: from logged tables to a verdict, written into an output folder.

::

    mesalens run --regime train=PATH... --regime deploy[:FORMAT]=PATH... \
        --base Yb --mesa Ym --decision Dm [--policy-inputs ...] \
        [--method pc|ges|fci] [--test ...] [--alpha A] [--knowledge FILE] \
        [--format FMT] [--columns A,B] [--dtype COLUMN=KIND ...] \
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
overrides, merged column by column with ``--dtype``); options on the command
line win. The config and the options are validated together by
:func:`mesalens.reports.job_files.parse_run_config`, the validator of job
files too, so a wrong value is one error line naming the file (or the
option), the key and the value, and nothing is written.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from mesalens.connectors import DEFAULT_REGIME_NAME, MesalensError, load_regimes
from mesalens.connectors.loader import DTYPE_OVERRIDES, LoadedData
from mesalens.connectors.regime import FORMATS, RegimeSpec, parse_regime_option
from mesalens.connectors.simulator import SCENARIOS, scenario_names, write_logs
from mesalens.pipeline.analysis import (
    AnalysisResult,
    DiscoverySettings,
    EvidenceSettings,
    analyze,
)
from mesalens.pipeline.dask_client import connected_client
from mesalens.pipeline.formats.tetrad import write_tetrad
from mesalens.pipeline.pag_checker import PagCheckResult, pag_note
from mesalens.pipeline.roles import join_names
from mesalens.reports.atomic import atomic_write_text
from mesalens.reports.cli_common import CONTEXT, BadInput, build_roles, fail
from mesalens.reports.html import render_run_report, write_report
from mesalens.reports.job_files import (
    RunConfig,
    is_job_file,
    parse_run_config,
    read_knowledge,
    read_toml,
)
from mesalens.reports.jobs.engine import run_check, run_job_file
from mesalens.reports.progress import run_progress
from mesalens.reports.result_json import dumps
from mesalens.reports.run_document import run_result_to_dict
from mesalens.reports.sections.direct_test import (
    CONTRADICTION_WORDS,
    contradicts_all,
    direct_test_line,
)
from mesalens.reports.summary import EXIT_CODES, bootstrap_line, render_summary

__all__ = ["demo_command", "run_command", "write_run_outputs"]


def _as_text(value: Any) -> str | None:
    """Config values may be lists where the command line takes comma-separated text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        return join_names([str(v) for v in value]) if value else "none"
    return str(value)


def _dtype_options(texts: tuple[str, ...]) -> dict[str, str]:
    """The ``--dtype COLUMN=KIND`` options as a table of type overrides."""
    kinds = ", ".join(DTYPE_OVERRIDES)
    overrides: dict[str, str] = {}
    for text in texts:
        # The kind never holds "=", so the last one separates it from the column.
        column, equals, kind = text.rpartition("=")
        column, kind = column.strip(), kind.strip().lower()
        if not equals or not column:
            raise BadInput(
                f"--dtype {text!r} is not COLUMN=KIND; write e.g. --dtype action=category "
                f"(kinds: {kinds})"
            )
        if kind not in DTYPE_OVERRIDES:
            raise BadInput(f"--dtype {text!r}: {kind!r} is not a type; use one of {kinds}")
        if column in overrides and overrides[column] != kind:
            raise BadInput(
                f"--dtype gives column {column!r} two types ({overrides[column]!r} and "
                f"{kind!r}); give it once"
            )
        overrides[column] = kind
    return overrides


def _run_config(
    options: Mapping[str, Any], config: dict[str, Any], source: str | None
) -> RunConfig:
    """The command line's values merged over the config's, validated (see parse_run_config)."""
    given: dict[str, Any] = {}
    for name, value in options.items():
        key = _OPTION_KEYS.get(name, name)
        if key in _FLAGS and value not in (None, ()):
            given[key] = value
    if options["regimes"]:
        given["regimes"] = [parse_regime_option(text) for text in options["regimes"]]
    if options["dtype_options"]:
        given["dtypes"] = _dtype_options(options["dtype_options"])
    if not (given.get("out") or config.get("out")):
        raise click.UsageError("missing option --out DIR")
    missing = [f"--{k}" for k in ("base", "mesa", "decision") if {**config, **given}.get(k) is None]
    if missing:
        raise click.UsageError(f"missing option {', '.join(missing)}")
    return parse_run_config(config, source=source, options=given, flags=_FLAGS)


@click.command("run", context_settings=CONTEXT)
@click.option(
    "--regime",
    "regimes",
    multiple=True,
    metavar="NAME[:FORMAT]=PATH",
    help="A regime and its logs (file, glob, hive folder, fsspec URL or SQL URL); repeat. "
    "NAME:FORMAT=PATH names this regime's reader (e.g. deploy:csv=logs/deploy.log).",
)
@click.option(
    "--format",
    "fmt",
    metavar="FMT",
    help=f"Reader ({'|'.join(FORMATS)}) for every regime that does not name its own "
    "NAME:FORMAT, in place of telling it from the file suffix (.csv .tsv .tab .parquet .pq "
    ".jsonl .ndjson, optionally .gz/.zst) or a database URL.  [default: from the suffix]",
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
@click.option(
    "--dtype",
    "dtype_options",
    multiple=True,
    metavar="COLUMN=KIND",
    help=f"Read COLUMN as KIND ({'|'.join(DTYPE_OVERRIDES)}), e.g. action=category for an "
    "int-coded category; repeat. Merged with the config's dtypes table; these win.",
)
@click.option("--missing", type=click.Choice(["drop", "error"]), help="Rows with missing values.")
@click.option("--seed", type=int, help="Seed for everything random.  [default: 0]")
@click.option(
    "--config",
    "config_path",
    metavar="FILE",
    help="A TOML file with these options (or a job file of [[check]] tables).",
)
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
    source = options["config_path"]
    try:
        config = read_toml(source) if source else {}
    except MesalensError as exc:
        fail(ctx, str(exc))
    if is_job_file(config):
        _run_job_file(ctx, console, options)
    try:
        run = _run_config(options, config, source)
        check = run.check
        knowledge = read_knowledge(check.knowledge, label=source and f"config {source!r}")
        with (
            connected_client(run.scheduler),
            run_progress(console, not options["quiet"]) as progress,
        ):
            data = load_regimes(
                list(check.regimes),
                regime_name=check.regime_name,
                columns=None if check.columns is None else list(check.columns),
                missing=check.missing,
                dtypes=None if check.dtypes is None else dict(check.dtypes),
                sample_rows=check.evidence.sample_rows,
                seed=check.settings.seed,
            )
            analysis = analyze(
                data,
                check.roles,
                check.settings,
                knowledge=knowledge,
                on_stage=progress.stage,
                on_test=progress.ci_test,
                evidence=check.evidence,
            )
        out = write_run_outputs(Path(str(run.out)), analysis, data, check.settings)
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
            if contradicts_all(analysis.check.verdict, part):
                console.print(f"warning: {CONTRADICTION_WORDS}", soft_wrap=True)
    ctx.exit(EXIT_CODES[analysis.check.verdict])


# Options that describe one check: in a job file they belong in its [[check]] tables.
_CHECK_OPTIONS = {
    "regimes": "--regime",
    "fmt": "--format",
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
    "dtype_options": "--dtype",
    "missing": "--missing",
    "seed": "--seed",
    "bootstrap": "--bootstrap",
    "stability_threshold": "--stability-threshold",
    "sensitivity": "--sensitivity/--no-sensitivity",
    "direct_test": "--direct-test/--no-direct-test",
    "direct_test_rows": "--direct-test-rows",
}


# The config key of each option whose name differs from it.
_OPTION_KEYS = {"fmt": "format", "ci_test": "test", "dtype_options": "dtypes", "out_dir": "out"}
# The command-line option of each config key, for messages about values given there.
_FLAGS = {
    **{_OPTION_KEYS.get(name, name): flag for name, flag in _CHECK_OPTIONS.items()},
    "scheduler": "--scheduler",
    "out": "--out",
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

    ``result.json`` is the commit marker: an old one is removed before the
    other two files are replaced, and the new one is written last. So when
    ``out`` holds a ``result.json``, ``graph.txt`` and ``report.html`` are of
    the same run; a failure part way leaves no ``result.json`` (and a message),
    never a new report beside an old result. (Swapping in a whole temporary
    folder would be atomic only for a fresh ``out``: a folder cannot be renamed
    over a non-empty one, and other files a user keeps in ``out`` would go.)

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
    # The next atomic write's directory fsync makes this removal durable
    # before any new file appears under its final name.
    (out / "result.json").unlink(missing_ok=True)
    atomic_write_text(out / "graph.txt", graph_text)
    write_report(out / "report.html", report)
    atomic_write_text(out / "result.json", document)
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
@click.option(
    "--rows",
    type=click.IntRange(min=100),
    default=20_000,
    show_default=True,
    help="Rows per scenario, over both regimes (half in each).",
)
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
                join_names(truth.roles["base"]),
                join_names(truth.roles["mesa"]),
                join_names(truth.roles["decision"]),
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
