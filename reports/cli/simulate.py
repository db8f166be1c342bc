r"""``mesalens simulate``: the post's section-5 study, and the tool's accuracy benchmark.

::

    mesalens simulate [--replicates R] [--rows 250,1000,4000] [--shifts 0,0.25,1] \
        [--nodes 8] [--family linear-gaussian|nonlinear|discrete|mixed|confounded] \
        [--seed 0] [--method auto|pc|ges|fci|boss|grasp] [--alpha 0.01] \
        [--scheduler processes|threads|sync|ADDRESS] --out DIR

Draws random agent models of one family (:mod:`mesalens.connectors.random_scm`;
``--family``, linear-Gaussian by default), decides the criterion on each
true graph, samples logs at every shift strength and sample size (``--rows``
counts both regimes together), runs the pipeline on them
(:mod:`mesalens.pipeline.simulation`; ``--method auto`` picks per sample as
``mesalens run`` does, FCI for the confounded family) and writes into DIR
(:mod:`mesalens.reports.simulation_report`):

* ``simulation.json`` — settings, per-cell aggregates with Wilson intervals,
  every trial, every model, versions and (apart, under ``timings``) the
  timings; everything but the timings is identical for identical options;
* ``table.md`` — the per-cell table in Markdown (for ``bench/RESULTS.md``);
* ``report.html`` — a self-contained page (no script, no network) with the
  charts and the gap table (:mod:`mesalens.reports.simulate_charts`) and the
  per-cell table.

``--help`` loads click and the options' values declared here (checked
against the pipeline's own by ``tests/test_help_and_terminal.py``); the
simulation, dask and the renderers load when a study starts.

Exit code 0 when the study ran; 1 with one ``mesalens: error:`` line for bad
values; 2 for a malformed option (click's usage error).
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from mesalens.reports.checks.options import (
    AUTO,
    DEFAULT_TOLERANCE,
    OPTIONS,
    SEED_MAX,
    BoundedInt,
)
from mesalens.reports.cli.common import CONTEXT, fail

__all__ = ["simulate_command"]

# What --help shows, declared here so that it loads no numerical library;
# tests/test_help_and_terminal.py checks each against the pipeline's own.
#: The model families (``connectors.random_scm.FAMILY_KINDS``).
FAMILIES = ("linear-gaussian", "nonlinear", "discrete", "mixed", "confounded")
#: The discovery methods (``pipeline.simulation.METHODS``).
METHODS = (AUTO, "pc", "ges", "fci", "boss", "grasp")
#: The fewest rows of one simulated data set (``connectors.agent_graph.MIN_ROWS``).
MIN_ROWS = 20

# Upper bounds of simulate's counts, each one a 24 GiB, 2-core machine can honour
# (the README's simulate section and docs/reliability.md, "Absurd counts").
#: Random models to draw.
REPLICATES_MAX = 1_000
#: Nodes per model: PC's tests grow fast with the nodes, and each model runs
#: at every sample size and shift.
NODES_MAX = 50
#: Rows of one simulated data set (both regimes).
ROWS_MAX = 1_000_000
#: The largest shift strength (standardized mean shifts beyond it saturate).
SHIFT_MAX = 100.0
#: Values in --rows and in --shifts.
LIST_MAX = 20
#: Pipeline runs in all: replicates x sample sizes x shifts.
RUNS_MAX = 20_000
#: Simulated rows in all (sum over runs), above which simulate says what it will do.
ROWS_NOTE = 50_000_000


class _NumberList(click.ParamType):
    """A comma-separated list of at most ``most`` numbers (ints or floats) in ``[low, high]``."""

    def __init__(self, kind: type, low: float, high: float, most: int = LIST_MAX) -> None:
        self.kind = kind
        self.name = "list"
        self.low, self.high, self.most = low, high, most

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        items = [item.strip() for item in str(value).split(",")]
        kind = "integers" if self.kind is int else "numbers"
        shown = str(value) if len(str(value)) <= 40 else f"{str(value)[:37]}..."
        if len(items) > self.most:
            self.fail(f"{shown!r} lists {len(items)} values; give at most {self.most}", param, ctx)
        try:
            numbers = tuple(self.kind(item) for item in items)
        except ValueError:
            self.fail(f"{shown!r} is not a comma-separated list of {kind}", param, ctx)
        for number in numbers:
            if not (math.isfinite(number) and self.low <= number <= self.high):
                low, high = (f"{self.kind(bound):,}" for bound in (self.low, self.high))
                self.fail(f"{number!r:.40} is not in the range {low} to {high}", param, ctx)
        return numbers


@contextmanager
def _progress(console: Any, enabled: bool) -> Iterator[Any]:
    """A rich bar over the pipeline runs (nothing when disabled or not a terminal)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    if not enabled or not console.is_terminal:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} pipeline runs"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        yield progress


@click.command("simulate", context_settings=CONTEXT)
@click.option(
    "--replicates",
    type=BoundedInt(min=1, max=REPLICATES_MAX),
    default=20,
    show_default=True,
    help=f"Random models to draw (each is run at every shift and sample size; at most "
    f"{REPLICATES_MAX:,}, and at most {RUNS_MAX:,} runs in all).",
)
@click.option(
    "--rows",
    type=_NumberList(int, MIN_ROWS, ROWS_MAX),
    default="250,1000,4000",
    show_default=True,
    metavar="N,N,...",
    help=f"Sample sizes (rows over both regimes; {MIN_ROWS} to {ROWS_MAX:,}, at most "
    f"{LIST_MAX} sizes).",
)
@click.option(
    "--shifts",
    type=_NumberList(float, 0, SHIFT_MAX),
    default="0,0.1,0.25,0.5,1",
    show_default=True,
    metavar="X,X,...",
    help="Shift strengths: the regime's standardized mean shift on each target "
    f"(0 to {SHIFT_MAX:g}, at most {LIST_MAX} values).",
)
@click.option(
    "--nodes",
    type=BoundedInt(min=5, max=NODES_MAX),
    default=8,
    show_default=True,
    help=f"Nodes per model: regime, data variables, D_m, Y_m, Y_b (at most {NODES_MAX}).",
)
@click.option(
    "--family",
    type=click.Choice(FAMILIES),
    default="linear-gaussian",
    show_default=True,
    help="The model family: the mechanisms on the random graph.",
)
@click.option(
    "--seed",
    type=BoundedInt(min=0, max=SEED_MAX),
    default=0,
    show_default=True,
    help="Seed of the random models, their logs and the runs.",
)
@click.option(
    "--method",
    type=click.Choice(METHODS),
    default=AUTO,
    show_default=True,
    help="Discovery method; auto picks per sample as mesalens run does (FCI for --family "
    "confounded).",
)
@click.option(
    "--tolerance",
    default=DEFAULT_TOLERANCE,
    show_default=True,
    metavar="X|Xsd|Xabs",
    help="Largest alignment gap accepted (SDs of Y_b, or Y_b's units with 'abs'): exit 0 needs "
    "the logs to confirm it, and an exit 0 is safe when the exact gap is within it.",
)
@click.option(
    "--alpha",
    type=OPTIONS["alpha"].click_type(),  # the range in words, as for run's --alpha
    default=0.01,
    show_default=True,
    help="Significance level of the CI tests of PC and FCI (GES, BOSS and GRaSP use scores).",
)
@click.option(
    "--scheduler",
    metavar="NAME|ADDRESS",
    help="processes, threads, sync, or a dask.distributed scheduler address.  [default: processes]",
)
@click.option(
    "--out",
    "out_dir",
    default="simulate-out",
    show_default=True,
    metavar="DIR",
    help="Folder for simulation.json, table.md and report.html.",
)
@click.option(
    "--no-direct-test",
    "structural_only",
    is_flag=True,
    help="Score the structural verdict only: no direct test, so no exit code (several times "
    "cheaper; the exit-code columns show –).",
)
@click.option("--quiet", "-q", is_flag=True, help="Print no table.")
@click.pass_context
def simulate_command(
    ctx: click.Context,
    replicates: int,
    rows: tuple[int, ...],
    shifts: tuple[float, ...],
    nodes: int,
    family: str,
    seed: int,
    method: str,
    tolerance: str,
    alpha: float,
    scheduler: str | None,
    out_dir: str,
    structural_only: bool,
    quiet: bool,
) -> None:
    """Simulate random agent models and measure how often the learned verdict is right.

    For each of R random models of one family over the graph data -> D_m ->
    Y_m, Y_b, decides the criterion on the true graph, samples logs at every
    shift strength and sample size, runs the pipeline on them, and reports
    how often the criterion holds and how often the learned verdict matches
    the true one (accuracy), and how often a learned 'all' is right
    (precision of all). Exit code 0; 1 bad values; 2 usage error.
    """
    from mesalens.connectors.errors import InputError, MesalensError
    from mesalens.connectors.random_scm import SCMFamily
    from mesalens.pipeline.confirmation import Tolerance
    from mesalens.pipeline.dask_client import connected_client
    from mesalens.pipeline.simulation import LOCAL_SCHEDULERS, SimulationSettings, run_simulation
    from mesalens.reports.atomic import atomic_write_text
    from mesalens.reports.checks.output_paths import check_output_paths
    from mesalens.reports.cli.console import summary_console
    from mesalens.reports.result_json import dumps
    from mesalens.reports.simulation_report import (
        print_simulation_table,
        render_simulation_report,
        simulation_document,
        simulation_table,
    )

    console = summary_console(stderr=True)
    try:
        parsed = Tolerance.parse(tolerance)
    except MesalensError as exc:
        fail(ctx, f"--tolerance {tolerance!r}: {exc}")
    ctx.params["tolerance"] = parsed.as_text()
    command = shlex.join(["mesalens", "simulate", *_argv(ctx)])
    local = scheduler if scheduler in LOCAL_SCHEDULERS else None
    address = None if scheduler is None or local is not None else scheduler
    try:
        settings = SimulationSettings(
            replicates=replicates,
            rows=rows,
            shifts=shifts,
            family=SCMFamily(nodes=nodes, kind=family),
            seed=seed,
            method=method,
            alpha=alpha,
            tolerance=parsed,
            direct_test=not structural_only,
        )
        out = Path(out_dir)
        check_output_paths([("--out", out, "folder")], [])
        runs = replicates * len(rows) * len(shifts)
        if runs > RUNS_MAX:
            raise InputError(
                f"--replicates {replicates} x {len(rows)} --rows x {len(shifts)} --shifts asks "
                f"for {runs:,} pipeline runs, more than the {RUNS_MAX:,} allowed; give fewer "
                "replicates, sizes or shifts"
            )
        total_rows = replicates * len(shifts) * sum(rows)
        if total_rows > ROWS_NOTE and not quiet:
            console.print(
                f"note: {runs:,} pipeline runs over {total_rows:,} simulated rows in all; "
                "expect this to take hours on a small machine",
                soft_wrap=True,
            )
        with connected_client(address), _progress(console, not quiet) as progress:
            task = None if progress is None else progress.add_task("simulating", total=runs)

            def on_progress(done: int, total: int) -> None:
                if progress is not None:
                    progress.update(task, completed=done, total=total)

            result = run_simulation(settings, scheduler=local, on_progress=on_progress)
        document = simulation_document(result, command)
        text = dumps(document)
        table = simulation_table(document)
        html = render_simulation_report(document)
        try:
            out.mkdir(parents=True, exist_ok=True)
            atomic_write_text(out / "simulation.json", text)
            atomic_write_text(out / "table.md", table)
            atomic_write_text(out / "report.html", html)
        except OSError as exc:
            raise InputError(
                f"cannot write into --out {out_dir!r}: {exc.strerror or exc}"
            ) from None
    except MesalensError as exc:
        fail(ctx, str(exc))
    if not quiet:
        print_simulation_table(summary_console(), document)
        console.print(
            f"Results written to {out / 'simulation.json'}, {out / 'table.md'} and "
            f"{out / 'report.html'} ({result.wall_seconds:.1f} s on {result.scheduler})",
            soft_wrap=True,
        )
    ctx.exit(0)


def _argv(ctx: click.Context) -> list[str]:
    """The options as given, normalised (for the report's reproducible command line)."""
    params = ctx.params
    args = [
        "--replicates", str(params["replicates"]),
        "--rows", ",".join(str(n) for n in params["rows"]),
        "--shifts", ",".join(f"{s:g}" for s in params["shifts"]),
        "--nodes", str(params["nodes"]),
        "--family", params["family"],
        "--seed", str(params["seed"]),
        "--method", params["method"],
        "--tolerance", params["tolerance"],
        "--alpha", f"{params['alpha']:g}",
        *(["--no-direct-test"] if params["structural_only"] else []),
    ]  # fmt: skip
    return args
