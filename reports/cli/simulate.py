r"""``mesalens simulate``: the post's section-5 study, and the tool's accuracy benchmark.

::

    mesalens simulate [--replicates R] [--rows 250,1000,4000] [--shifts 0,0.25,1] \
        [--nodes 8] [--family linear-gaussian|nonlinear|discrete|mixed|confounded] \
        [--seed 0] [--method pc|ges|fci] [--alpha 0.01] \
        [--scheduler processes|threads|sync|ADDRESS] --out DIR

Draws random agent models of one family (:mod:`mesalens.connectors.random_scm`;
``--family``, linear-Gaussian by default), decides the criterion on each
true graph, samples logs at every shift strength and sample size (``--rows``
counts both regimes together), runs the pipeline on them
(:mod:`mesalens.pipeline.simulation`; ``--method`` defaults to PC, and to
FCI for the confounded family, the only one it accepts) and writes into DIR:

* ``simulation.json`` — settings, per-cell aggregates with Wilson intervals,
  every trial, every model, versions and (apart, under ``timings``) the
  timings; everything but the timings is identical for identical options;
* ``table.md`` — the per-cell table in Markdown (for ``bench/RESULTS.md``);
* ``report.html`` — a self-contained page (no script, no network) with the
  charts and the gap table (:mod:`mesalens.reports.simulate_charts`) and the
  per-cell table.

Exit code 0 when the study ran; 1 with one ``mesalens: error:`` line for bad
values; 2 for a malformed option (click's usage error).
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import click
from markupsafe import Markup
from rich import box
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mesalens.connectors.errors import InputError, MesalensError
from mesalens.connectors.random_scm import FAMILY_KINDS, SCMFamily
from mesalens.pipeline.confirmation import DEFAULT_TOLERANCE, Tolerance
from mesalens.pipeline.dask_client import connected_client
from mesalens.pipeline.method_choice import AUTO
from mesalens.pipeline.simulation import (
    LOCAL_SCHEDULERS,
    METHODS,
    MIN_ROWS,
    SimulationResult,
    SimulationSettings,
    run_simulation,
)
from mesalens.pipeline.simulation_cells import NOT_MEASURED
from mesalens.reports.atomic import atomic_write_text
from mesalens.reports.checks.options import SEED_MAX, BoundedInt
from mesalens.reports.checks.output_paths import check_output_paths
from mesalens.reports.cli.common import CONTEXT, fail
from mesalens.reports.result_json import dumps, mesalens_version
from mesalens.reports.simulate_charts import gap_table, simulation_charts
from mesalens.reports.templating import template_environment
from mesalens.reports.vocabulary import RUN_EXIT_CODES, gate, method_name

__all__ = [
    "render_simulation_report",
    "simulate_command",
    "simulation_document",
    "simulation_table",
]

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


_HEADINGS = (
    "shift",
    "rows",
    "models",
    "truly holds",
    "learned all",
    "precision of all",
    "precision 95% interval",
    "accuracy",
    "accuracy 95% interval",
    "exit 0",
    "safe exit 0",
    "safe 95% interval",
    "exit 8",
    "recall (holds)",
    "recall (fails)",
    "mean abs. gap (fails)",
    "errors",
)

# What each family's mechanisms are, for the report's design section.
_MECHANISMS = {
    "linear-gaussian": "Every mechanism is linear with Gaussian noise.",
    "nonlinear": "Every mechanism is additive with Gaussian noise; each edge's link is tanh or "
    "quadratic (z + z² - 1, on the parent standardized in the train regime).",
    "discrete": "Every variable is discrete (categorical CPTs, adjacent-category logits): the "
    "data variables, D_m and Y_m have 2 or 3 levels, the success Y_b is binary.",
    "mixed": "Each variable is discrete (2 or 3 levels; Y_b binary) or continuous with "
    "Gaussian noise, at least one of each; mechanisms are additive and linear in the parents.",
    "confounded": "Every mechanism is linear with Gaussian noise, and one hidden variable, not "
    "in the logs, is a common cause of Y_b and of Y_m or a data variable; the true verdict is "
    "the generating DAG's, the hidden variable included.",
}


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


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _interval(bounds: Sequence[float | None]) -> str:
    low, high = bounds
    return "–" if low is None or high is None else f"{low:.2f}–{high:.2f}"


def _safe(cell: dict[str, Any]) -> str:
    """Safe exit-0 runs of all exit-0 runs, ``19/20`` (``–`` without any)."""
    return f"{cell['confirmed_safe']}/{cell['confirmed']}" if cell["confirmed"] else "–"


def _cell_row(cell: dict[str, Any]) -> list[str]:
    gap = cell["mean_abs_gap_when_fails"]
    return [
        f"{cell['shift']:g}",
        f"{cell['rows']:,}",
        str(cell["replicates"]),
        _share(cell["true_hold_share"]),
        _share(cell["learned_hold_share"]),
        _share(cell["precision_of_all"]),
        _interval(cell["precision_of_all_interval"]),
        _share(cell["accuracy"]),
        _interval(cell["accuracy_interval"]),
        _share(cell["exit_zero_share"]),
        _safe(cell),
        _interval(cell["safe_interval"]),
        _share(cell["exit_eight_share"]),
        _share(cell["recall_when_holds"]),
        _share(cell["recall_when_fails"]),
        "–" if gap is None else f"{gap:.3f}",
        str(cell["errors"]),
    ]


def simulation_document(result: SimulationResult, command: str) -> dict[str, Any]:
    """The ``simulation.json`` document of a study (timings apart, under ``timings``)."""
    body = result.as_dict()
    timings = body.pop("timings")
    for trial in body["trials"]:
        trial["exit_code"] = _exit_code(trial)
    return {
        "mesalens_simulation": 1,
        "command": command,
        **body,
        "versions": {
            "mesalens": mesalens_version(),
            "causal-learn": metadata.version("causal-learn"),
        },
        "timings": timings,
    }


def _exit_code(trial: dict[str, Any]) -> int | None:
    """The exit code ``mesalens run`` would give on the trial's logs (1 for an error).

    None when the study ran without the direct test (``--no-direct-test``).
    """
    if trial["learned_verdict"] == "error":
        return 1
    if trial["confirmation"] == NOT_MEASURED:
        return None
    verdict = {
        "verdict": trial["learned_verdict"],
        "confirmation": {"status": trial["confirmation"]},
    }
    return RUN_EXIT_CODES[gate(verdict)]


def simulation_table(document: dict[str, Any]) -> str:
    """The per-cell table of a ``simulation.json`` document, in Markdown."""
    lines = [
        "| " + " | ".join(_HEADINGS) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(_HEADINGS))) + "|",
    ]
    lines += ["| " + " | ".join(_cell_row(cell)) + " |" for cell in document["cells"]]
    return "\n".join(lines) + "\n"


def _findings(document: dict[str, Any]) -> list[str]:
    """Plain sentences for the top of the report, read off the cells."""
    cells = document["cells"]
    settings = document["settings"]
    shifted = [c for c in cells if c["shift"] > 0]
    lines = []
    if shifted:
        first = {c["shift"]: c for c in shifted if c["rows"] == settings["rows"][0]}
        values = {c["true_hold_share"] for c in first.values()}
        if len(values) == 1:
            listed = ", ".join(f"{s:g}" for s in first)
            shares = f"{values.pop():.0%} of the models at every positive shift ({listed})"
        else:
            shares = ", ".join(
                f"{c['true_hold_share']:.0%} at shift {s:g}" for s, c in first.items()
            )
        lines.append(
            f"The criterion truly holds in {shares}: it is a property of the graph, which does "
            "not change with the shift's size once the regime moves anything."
        )
    if any(c["shift"] == 0 for c in cells):
        lines.append(
            "At shift 0 the regime changes nothing, so the criterion holds in every model; "
            "a learned 'none' there is a false alarm."
        )
    largest_n = max(settings["rows"])
    largest_shift = max(settings["shifts"])
    best = next(c for c in cells if c["rows"] == largest_n and c["shift"] == largest_shift)
    lines.append(
        f"With {largest_n:,} rows at shift {largest_shift:g}, the learned verdict matches the "
        f"true one in {best['matches']} of {best['replicates']} models "
        f"(accuracy {_share(best['accuracy'])}, "
        f"95% interval {_interval(best['accuracy_interval'])})."
    )
    if best["learned_holds"]:
        lines.append(
            f"There, {best['matches_when_holds']} of the {best['learned_holds']} learned 'all' "
            f"verdicts are right (precision of all {_share(best['precision_of_all'])}, "
            f"95% interval {_interval(best['precision_of_all_interval'])})."
        )
    small = [c for c in shifted if c["rows"] == min(settings["rows"])]
    if small:
        worst = min(small, key=lambda c: c["accuracy"])
        lines.append(
            f"The hardest cell with a shift: {worst['rows']:,} rows at shift {worst['shift']:g}, "
            f"accuracy {_share(worst['accuracy'])}."
        )
    lines += _exit_findings(document)
    trials = document["trials"]
    missed = sum(t["true_verdict"] == "none" and t["learned_verdict"] == "all" for t in trials)
    alarms = sum(t["true_verdict"] == "all" and t["learned_verdict"] == "none" for t in trials)
    if missed or alarms:
        lines.append(
            f"Of the wrong learned verdicts, {missed} missed a failure (learned 'all' where the "
            f"criterion fails: the regime's edges or the open path went unseen) and {alarms} "
            "were false alarms (learned 'none' where it holds)."
        )
    return lines


def _exit_findings(document: dict[str, Any]) -> list[str]:
    """Sentences on the exit code mesalens run would give: exit 0, its safety, exit 8."""
    cells, trials = document["cells"], document["trials"]
    tolerance = document["settings"]["tolerance"]["text"]
    if not all(c["exit_codes_measured"] for c in cells):
        return [
            "The study ran without the direct test (--no-direct-test): it scores the structural "
            "verdict only, not the exit code mesalens run would give."
        ]
    zero = sum(c["confirmed"] for c in cells)
    safe = sum(c["confirmed_safe"] for c in cells)
    eight = sum(c["not_confirmed"] for c in cells)
    lines = [
        f"mesalens run would exit 0 (a learned 'all' the logs confirm within {tolerance}) in "
        f"{zero:,} of {len(trials):,} runs, and 8 (an 'all' not confirmed) in {eight:,}."
    ]
    if zero:
        lines.append(
            f"{safe:,} of the {zero:,} exit-0 runs are safe ({safe / zero:.0%}): the criterion "
            "holds in the true graph or the exact gap is within the tolerance."
        )
    big = [c for c in cells if c["confirmed"] >= 20]
    if big:
        worst = min(big, key=lambda c: c["safe_share"])
        lines.append(
            f"Among the {len(big)} cells with at least 20 exit-0 runs, the lowest safe share is "
            f"{_share(worst['safe_share'])} ({_safe(worst)}, shift {worst['shift']:g}, "
            f"{worst['rows']:,} rows)."
        )
    return lines


def _methods_used(document: dict[str, Any]) -> str:
    """The method asked for and, for ``auto``, what it chose: ``auto (GES in 540 runs)``."""
    asked = document["settings"]["method"]
    counts: dict[str, int] = {}
    for trial in document["trials"]:
        if trial.get("method"):
            counts[trial["method"]] = counts.get(trial["method"], 0) + 1
    if asked != AUTO or not counts:
        return method_name(asked)
    chosen = ", ".join(f"{method_name(m)} in {n:,} runs" for m, n in sorted(counts.items()))
    return f"auto ({chosen})"


def render_simulation_report(document: dict[str, Any]) -> str:
    """The self-contained HTML page of a ``simulation.json`` document (no script, no network)."""
    environment = template_environment()
    assert environment.loader is not None
    style, _name, _uptodate = environment.loader.get_source(environment, "report.css")
    settings = document["settings"]
    family = settings["family"]
    kind = family["kind"]
    design = [
        ("model family", kind),
        ("models (replicates)", str(settings["replicates"])),
        ("nodes per model", str(family["nodes"])),
        ("edge probability", f"{family['edge_probability']:g}"),
        ("P(D_m → Y_b)", f"{family['direct']:g}"),
        ("P(Y_m → Y_b)", f"{family['mesa_to_base']:g}"),
        ("P(regime shifts a data variable)", f"{family['data_shift']:g}"),
        ("P(regime shifts D_m, Y_m or Y_b)", f"{family['objective_shift']:g}"),
        ("shift strengths", ", ".join(f"{s:g}" for s in settings["shifts"])),
        ("rows (both regimes)", ", ".join(f"{n:,}" for n in settings["rows"])),
        ("discovery", f"{_methods_used(document)}, alpha {settings['alpha']:g}"),
        ("tolerance", settings["tolerance"]["text"]),
        ("seed", str(settings["seed"])),
    ]
    context = {
        "csp": "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'",
        "style": Markup(style),
        "version": document["versions"]["mesalens"],
        "method": _methods_used(document),
        "settings": settings,
        "n_trials": f"{len(document['trials']):,}",
        "findings": _findings(document),
        "errors": sum(c["errors"] for c in document["cells"]),
        "charts": simulation_charts(document),
        "gap_table": gap_table(document),
        "headings": _HEADINGS,
        "rows": [_cell_row(cell) for cell in document["cells"]],
        "design": design,
        "mechanisms": _MECHANISMS[kind],
        "command": document["command"],
    }
    return environment.get_template("simulate.html.j2").render(context)


@contextmanager
def _progress(console: Console, enabled: bool) -> Iterator[Any]:
    """A rich bar over the pipeline runs (nothing when disabled or not a terminal)."""
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


# The terminal table leaves out the model count, the shares that hold and are
# learned all, the intervals and the gap (they are in table.md) to fit 80
# columns; its headings are table.md's.
_TERMINAL_COLUMNS = {
    i: heading
    for i, heading in enumerate(_HEADINGS)
    if heading not in ("models", "truly holds", "learned all", "mean abs. gap (fails)")
    and "interval" not in heading
}


def _print_table(console: Console, document: dict[str, Any]) -> None:
    columns = dict(_TERMINAL_COLUMNS)
    if not any(cell["errors"] for cell in document["cells"]):
        # An all-zero column only costs width (80 columns hold the others).
        columns = {i: heading for i, heading in columns.items() if heading != "errors"}
    rows = [_cell_row(cell) for cell in document["cells"]]
    table = Table(
        title="Learned vs true verdict, and the exit code mesalens run would give",
        show_edge=False,
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        pad_edge=False,
    )
    for index, heading in columns.items():
        # As wide as its longest value or heading word: headings wrap between words only.
        width = max(*(len(row[index]) for row in rows), *map(len, heading.split()))
        table.add_column(
            heading, justify="left" if index == 0 else "right", min_width=width, max_width=width
        )
    for row in rows:
        table.add_row(*(row[index] for index in columns))
    console.print(table)


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
    type=click.Choice(FAMILY_KINDS),
    default="linear-gaussian",
    show_default=True,
    help="The model family: the mechanisms on the random graph.",
)
@click.option("--seed", type=BoundedInt(min=0, max=SEED_MAX), default=0, show_default=True)
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
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.01,
    show_default=True,
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
    console = Console(stderr=True, markup=False, emoji=False, highlight=False)
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
        _print_table(Console(markup=False, emoji=False, highlight=False), document)
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
