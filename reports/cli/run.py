r"""``mesalens run``: from logged tables to a verdict, written into an output folder.

::

    mesalens run --regime train=PATH... --regime deploy[:FORMAT]=PATH... \
        --base Yb --mesa Ym --decision Dm [--policy-inputs ...] \
        [--method pc|ges|fci|boss|grasp] [--test ...] [--alpha A] [--knowledge FILE] \
        [--format FMT] [--columns A,B] [--dtype COLUMN=KIND ...] \
        [--config job.toml] [--scheduler ADDRESS] --out DIR

Reads every regime in parallel (dask), learns the class (causal-learn) with
the regime exogenous, decides the criterion over it, and writes into DIR:

* ``result.json`` — the check-graph document plus the learned graph, the
  discovery settings and CI tests, the data summary per regime, versions
  and input fingerprints (:mod:`mesalens.reports.run_document`);
* ``graph.txt`` — the learned graph in the Tetrad text format (names it
  cannot hold escaped), and ``graph.json`` the same graph, names as they are;
* ``report.html`` — the self-contained HTML report (:mod:`mesalens.reports.html`).

Exit codes are those of ``check-graph``. A config file (TOML) may hold any
option under the same names (``regimes`` as a table ``{name = "path"}``, and
``dtypes`` as a table ``{column = "float"|"int"|"category"|"bool"}`` of type
overrides, merged column by column with ``--dtype``); options on the command
line win. Every option is declared once, in
:mod:`mesalens.reports.checks.options`. The config and the options are validated together by
:func:`mesalens.reports.checks.config.parse_run_config`, the validator of job
files too, so a wrong value is one error line naming the file (or the
option), the key and the value, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mesalens.connectors.errors import InputError, MesalensError
from mesalens.connectors.regime import parse_regime_option
from mesalens.reports.checks.options import (
    DTYPE_OVERRIDES,
    FLAGS,
    OPTIONS,
    TOP_ONLY_KEYS,
    click_options,
)
from mesalens.reports.cli.common import CONTEXT, errors_as_one_line, fail
from mesalens.reports.vocabulary import (
    confirmation_lines,
    contradiction_words,
    contradicts_all,
    gap_confirmed,
    graph_origin,
    pag_note,
    run_exit_code_line,
)

# `mesalens run --help` imports only the above (the options table, click):
# the data pipeline, dask, rich and the report renderers load when a run starts.
if TYPE_CHECKING:
    from rich.console import Console

    from mesalens.reports.checks.config import RunConfig
    from mesalens.reports.checks.results import RunResult

__all__ = ["run_command"]


def _dtype_options(texts: tuple[str, ...]) -> dict[str, str]:
    """The ``--dtype COLUMN=KIND`` options as a table of type overrides."""
    kinds = ", ".join(DTYPE_OVERRIDES)
    overrides: dict[str, str] = {}
    for text in texts:
        # The kind never holds "=", so the last one separates it from the column.
        column, equals, kind = text.rpartition("=")
        column, kind = column.strip(), kind.strip().lower()
        if not equals or not column:
            raise InputError(
                f"--dtype {text!r} is not COLUMN=KIND; write e.g. --dtype action=category "
                f"(kinds: {kinds})"
            )
        if kind not in DTYPE_OVERRIDES:
            raise InputError(f"--dtype {text!r}: {kind!r} is not a type; use one of {kinds}")
        if column in overrides and overrides[column] != kind:
            raise InputError(
                f"--dtype gives column {column!r} two types ({overrides[column]!r} and "
                f"{kind!r}); give it once"
            )
        overrides[column] = kind
    return overrides


def _given_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The table's options given on the command line, by key, as a config would hold them."""
    given = {
        key: options[key] for key in OPTIONS if options.get(key) is not None and options[key] != ()
    }
    if "regimes" in given:
        given["regimes"] = [parse_regime_option(text) for text in given["regimes"]]
    if "dtypes" in given:
        given["dtypes"] = _dtype_options(given["dtypes"])
    return given


def _run_config(
    options: Mapping[str, Any], config: dict[str, Any], source: str | None
) -> RunConfig:
    """The command line's values merged over the config's, validated (see parse_run_config)."""
    from mesalens.reports.checks.config import parse_run_config

    given = _given_options(options)
    if not (given.get("out") or config.get("out")):
        raise click.UsageError("missing option --out DIR")
    missing = [f"--{k}" for k in ("base", "mesa", "decision") if {**config, **given}.get(k) is None]
    if missing:
        raise click.UsageError(f"missing option {', '.join(missing)}")
    return parse_run_config(config, source=source, options=given, flags=FLAGS)


@click.command("run", context_settings=CONTEXT)
@click_options
@click.option(
    "--config",
    "config_path",
    metavar="FILE",
    help="A TOML file with these options (or a job file of [[check]] tables).",
)
@click.option("--quiet", "-q", is_flag=True, help="Print no summary.")
@click.pass_context
def run_command(ctx: click.Context, **options: Any) -> None:
    """Learn the causal class from logs and decide the criterion over it."""
    from mesalens.reports.checks.config import is_job_file, read_toml
    from mesalens.reports.checks.single_run import run_one
    from mesalens.reports.cli.console import summary_console
    from mesalens.reports.progress import run_progress

    console = summary_console(stderr=True)
    source = options["config_path"]
    try:
        config = read_toml(source) if source else {}
    except MesalensError as exc:
        fail(ctx, str(exc))
    if is_job_file(config):
        _run_job_file(ctx, console, options)
    with errors_as_one_line(ctx):
        run = _run_config(options, config, source)
        with run_progress(console, not options["quiet"]) as progress:
            result = run_one(
                run,
                out=str(run.out),
                out_option="--out" if options["out"] else "out",
                config_file=source,
                on_stage=progress.stage,
                on_test=progress.ci_test,
            )
    if not options["quiet"]:
        _print_run(console, result)
    ctx.exit(result.exit_code)


def _print_run(console: Console, result: RunResult) -> None:
    """The terminal summary of a run: verdict, evidence, notes, files, and the exit code last."""
    from rich.text import Text

    from mesalens.reports.sections.alignment_gap import direct_test_line
    from mesalens.reports.sections.deterministic import deterministic_lines
    from mesalens.reports.summary import bootstrap_line, render_summary

    analysis, data, document = result.analysis, result.data, result.document
    out = Path(str(result.out))
    if document.get("latent"):  # FCI: counts are over MAGs
        console.print(pag_note(document), soft_wrap=True)
    render_summary(
        analysis.check,
        console,
        graph_source=graph_origin(document),
        document=document,
        exit_line=False,
        report_folder=out,
    )
    for text, kind in confirmation_lines(document):
        console.print(Text(text, style="bold yellow" if kind == "warn" else ""), soft_wrap=True)
    if analysis.bootstrap is not None:
        console.print(bootstrap_line(analysis.bootstrap), soft_wrap=True)
    if analysis.direct_test is not None:
        part = document["direct_test"]
        console.print(direct_test_line(part), soft_wrap=True)
        if contradicts_all(analysis.check.verdict, part):
            kind = "note" if gap_confirmed(document) else "warning"
            console.print(f"{kind}: {contradiction_words(document)}", soft_wrap=True)
    found = analysis.deterministic
    for line in deterministic_lines(None if found is None else found.as_dict()):
        console.print(line, soft_wrap=True)
    for warning in data.warnings:
        console.print(f"warning: {warning}", soft_wrap=True)
    for note in (*data.notes, *analysis.discovery.notes):
        console.print(f"note: {note}", soft_wrap=True)
    written = [out / "result.json", out / "graph.txt", out / "graph.json", out / "report.html"]
    if (document.get("advice") or {}).get("knowledge_file"):
        written.append(out / document["advice"]["knowledge_file"])
    console.print(
        f"Results written to {', '.join(map(str, written[:-1]))} and {written[-1]}",
        soft_wrap=True,
    )
    console.print(Text(run_exit_code_line(result.gate), style="dim"), soft_wrap=True)


def _run_job_file(ctx: click.Context, console: Console, options: dict[str, Any]) -> None:
    """``run --config JOBS.toml``: every check of a job file, with history and index (exits)."""
    from mesalens.reports.jobs.engine import run_check as run_job_check
    from mesalens.reports.jobs.engine import run_job_file

    path = options["config_path"]
    given = [FLAGS[key] for key in _given_options(options) if key not in TOP_ONLY_KEYS]
    if given:
        raise click.UsageError(
            f"{path} is a job file ([[check]] tables): give {', '.join(given)} in its checks"
        )
    with errors_as_one_line(ctx):
        outcome = run_job_file(
            path, options["out"], run_one=run_job_check, scheduler=options["scheduler"]
        )
    if not options["quiet"]:
        for line in outcome.summary_lines():
            console.print(line, soft_wrap=True)
    ctx.exit(outcome.exit_code)
