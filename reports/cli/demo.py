"""``mesalens demo``: simulated agent logs through the whole pipeline, one run per scenario."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console

from mesalens.connectors import DEFAULT_REGIME_NAME
from mesalens.connectors.regime import RegimeSpec
from mesalens.connectors.simulator import SCENARIOS, scenario_names, write_logs
from mesalens.pipeline.analysis import DiscoverySettings
from mesalens.pipeline.roles import join_names
from mesalens.reports.checks.config import CheckSpec, build_roles
from mesalens.reports.checks.runner import run_check
from mesalens.reports.cli.common import CONTEXT, errors_as_one_line
from mesalens.reports.vocabulary import RUN_EXIT_CODES, gate

__all__ = ["demo_command"]


def _as_text(value: Any) -> str | None:
    """A scenario's role value (a list of names) as the command line's comma-separated text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        return join_names([str(v) for v in value]) if value else "none"
    return str(value)


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
    run learns the class from them and writes DIR/SCENARIO/ (result.json,
    graph.txt, report.html).
    Exits 0 whatever the verdicts; they are printed with the true ones.
    """
    console = Console(markup=False, emoji=False, highlight=False)
    out = Path(out_dir)
    with errors_as_one_line(ctx):
        for name in scenarios or scenario_names():
            written = write_logs(name, out / "logs" / name, rows=rows, seed=seed)
            console.print(
                f"{name}: logs in {out / 'logs' / name}/ ({sum(map(len, written.values()))} shards)"
            )
            if logs_only:
                continue
            truth = SCENARIOS[name]
            check = CheckSpec(
                name=name,
                regimes=tuple(
                    RegimeSpec(regime, str(out / "logs" / name / regime / "*.parquet"))
                    for regime in written
                ),
                regime_name=DEFAULT_REGIME_NAME,
                roles=build_roles(
                    DEFAULT_REGIME_NAME,
                    join_names(truth.roles["base"]),
                    join_names(truth.roles["mesa"]),
                    join_names(truth.roles["decision"]),
                    _as_text(truth.roles["policy_inputs"]),
                ),
                settings=DiscoverySettings(seed=seed),
            )
            result = run_check(check, out / name)
            outcome = gate(result.document)
            console.print(
                f"{name}: learned verdict {result.analysis.check.verdict!r} "
                f"(true graph: {truth.expected_verdict!r}); exit code "
                f"{RUN_EXIT_CODES[outcome]} ({outcome}); {result.out / 'report.html'}",
                soft_wrap=True,
            )
