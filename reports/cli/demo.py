"""``mesalens demo``: agent logs through the whole pipeline, one run per scenario.

The simulated scenarios come from :mod:`mesalens.connectors.simulator`; the
FrozenLake ones train and log Q-learning agents in gymnasium
(:mod:`mesalens.connectors.frozen_lake`, the ``demo`` extra): without
gymnasium they are skipped with a note, unless asked for by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mesalens.reports.checks.options import SEED_MAX, BoundedInt
from mesalens.reports.cli.common import CONTEXT, errors_as_one_line

if TYPE_CHECKING:
    from rich.console import Console

    from mesalens.reports.checks.config import CheckSpec

__all__ = ["DEMO_ROWS_MAX", "DEMO_SCENARIOS", "demo_command"]

#: The built-in scenarios, simulated (``connectors.simulator``) then FrozenLake
#: (``connectors.frozen_lake``), in the order a plain ``mesalens demo`` runs
#: them. Declared here so that ``--help`` loads no numerical library;
#: tests/test_help_and_terminal.py checks them against the connectors'.
DEMO_SCENARIOS = (
    "aligned",
    "coinrun",
    "deceptive",
    "collider",
    "pilot",
    "frozenlake-blind",
    "frozenlake-sighted",
)

#: The most rows (or FrozenLake episodes) per scenario: the logs are simulated
#: in memory before they are written.
DEMO_ROWS_MAX = 2_000_000


def _as_text(value: Any) -> str | None:
    """A scenario's role value (a list of names) as the command line's comma-separated text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        from mesalens.pipeline.roles import join_names

        return join_names([str(v) for v in value]) if value else "none"
    return str(value)


@click.command("demo", context_settings=CONTEXT)
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    type=click.Choice(DEMO_SCENARIOS),
    help="A built-in scenario (repeatable).  [default: all]",
)
@click.option(
    "--out",
    "out_dir",
    default="demo-out",
    show_default=True,
    metavar="DIR",
    help="Folder for the logs (DIR/logs/) and one result folder per scenario.",
)
@click.option(
    "--rows",
    type=BoundedInt(min=100, max=DEMO_ROWS_MAX),
    default=20_000,
    show_default=True,
    help=f"Rows per scenario, over both regimes (half in each; at most {DEMO_ROWS_MAX:,}).",
)
@click.option(
    "--seed",
    type=BoundedInt(min=0, max=SEED_MAX),
    default=0,
    show_default=True,
    help="Seed of the simulated logs and of the runs.",
)
@click.option("--logs-only", is_flag=True, help="Write the logs and stop.")
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
    graph.txt, report.html). The frozenlake-* scenarios train Q-learning
    agents in gymnasium's FrozenLake (the demo extra) and log one row per
    episode; --rows counts episodes there.
    Exits 0 whatever the verdicts; they are printed with the true ones.
    """
    from mesalens.connectors.frozen_lake import (
        LAKE_SCENARIOS,
        gymnasium_available,
        require_gymnasium,
    )
    from mesalens.connectors.simulator import SCENARIOS, write_logs
    from mesalens.reports.checks.runner import run_check
    from mesalens.reports.cli.console import summary_console
    from mesalens.reports.vocabulary import RUN_EXIT_CODES, gate

    console = summary_console()
    out = Path(out_dir)
    with errors_as_one_line(ctx):
        if any(name in LAKE_SCENARIOS for name in scenarios):
            require_gymnasium()  # before anything is written
        for name in scenarios or DEMO_SCENARIOS:
            if name in LAKE_SCENARIOS:
                if not scenarios and not gymnasium_available():
                    console.print(
                        f"{name}: skipped: gymnasium is not installed "
                        "(pip install 'mesalens[demo]'; make demo installs it)",
                        soft_wrap=True,
                    )
                    continue
                _lake(console, name, out, rows, seed, logs_only)
                continue
            written = write_logs(name, out / "logs" / name, rows=rows, seed=seed)
            _logs_line(console, name, out, written)
            if logs_only:
                continue
            truth = SCENARIOS[name]
            check = _check(name, out, written, truth.roles, seed)
            result = run_check(check, out / name)
            outcome = gate(result.document)
            console.print(
                f"{name}: learned verdict {result.analysis.check.verdict!r} "
                f"(true graph: {truth.expected_verdict!r}); exit code "
                f"{RUN_EXIT_CODES[outcome]} ({outcome}); {result.out / 'report.html'}",
                soft_wrap=True,
            )


def _logs_line(console: Console, name: str, out: Path, written: dict[str, list[Path]]) -> None:
    console.print(
        f"{name}: logs in {out / 'logs' / name}/ ({sum(map(len, written.values()))} shards)"
    )


def _check(
    name: str,
    out: Path,
    written: dict[str, list[Path]],
    roles: Any,
    seed: int,
    columns: tuple[str, ...] | None = None,
    dtypes: dict[str, str] | None = None,
    knowledge: dict[str, Any] | None = None,
) -> CheckSpec:
    """The check of one scenario on its freshly written shards."""
    from mesalens.connectors import DEFAULT_REGIME_NAME
    from mesalens.connectors.regime import RegimeSpec
    from mesalens.pipeline.analysis import DiscoverySettings
    from mesalens.pipeline.roles import join_names
    from mesalens.reports.checks.config import CheckSpec, build_roles

    return CheckSpec(
        name=name,
        regimes=tuple(
            RegimeSpec(regime, str(out / "logs" / name / regime / "*.parquet"))
            for regime in written
        ),
        regime_name=DEFAULT_REGIME_NAME,
        roles=build_roles(
            DEFAULT_REGIME_NAME,
            join_names(roles["base"]),
            join_names(roles["mesa"]),
            join_names(roles["decision"]),
            _as_text(roles["policy_inputs"]),
        ),
        settings=DiscoverySettings(seed=seed),
        columns=columns,
        dtypes=dtypes,
        knowledge=knowledge,
    )


def _lake(console: Console, name: str, out: Path, rows: int, seed: int, logs_only: bool) -> None:
    """Train and log a FrozenLake agent, then check its full dump of logs."""
    from mesalens.connectors.frozen_lake import LAKE_SCENARIOS, exact_gap, simulate_lake
    from mesalens.connectors.simulator import write_frames
    from mesalens.reports.checks.runner import run_check
    from mesalens.reports.vocabulary import RUN_EXIT_CODES, gate

    agent, frames = simulate_lake(name, rows=rows, seed=seed)
    written = write_frames(frames, out / "logs" / name)
    _logs_line(console, name, out, written)
    if logs_only:
        return
    truth = LAKE_SCENARIOS[name]
    # The full dump, derived columns included (a return computed from the
    # success flag and the step count, ...): run finds and leaves them out.
    check = _check(
        name,
        out,
        written,
        truth.roles,
        seed,
        dtypes=dict(truth.dtypes),
        knowledge={"tiers": [list(tier) for tier in truth.tiers]},
    )
    result = run_check(check, out / name)
    outcome = gate(result.document)
    console.print(
        f"{name}: learned verdict {result.analysis.check.verdict!r} "
        f"(right for the environment: {truth.expected_verdict!r}; exact gap at equal "
        f"value_estimate {exact_gap(name, agent):+.3f}); exit code "
        f"{RUN_EXIT_CODES[outcome]} ({outcome}); {result.out / 'report.html'}",
        soft_wrap=True,
    )
