"""The study of ``mesalens simulate`` as JSON, Markdown, an HTML page and a terminal table.

Renders what :func:`mesalens.pipeline.simulation.run_simulation` measured:
the document (:func:`simulation_document`, the exit code ``mesalens run``
would give added to every trial), its per-cell Markdown table, its
self-contained HTML page (no script, no network; charts from
:mod:`mesalens.reports.simulate_charts`) and the 80-column terminal table.
The same column names everywhere (:data:`HEADINGS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata
from typing import Any

from markupsafe import Markup
from rich import box
from rich.console import Console
from rich.table import Table

from mesalens.pipeline.method_choice import AUTO
from mesalens.pipeline.simulation import SimulationResult
from mesalens.pipeline.simulation_cells import NOT_MEASURED
from mesalens.reports.result_json import mesalens_version
from mesalens.reports.simulate_charts import gap_table, simulation_charts
from mesalens.reports.templating import template_environment
from mesalens.reports.vocabulary import RUN_EXIT_CODES, gate, method_name

__all__ = [
    "HEADINGS",
    "print_simulation_table",
    "render_simulation_report",
    "simulation_document",
    "simulation_table",
]

HEADINGS = (
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
        "| " + " | ".join(HEADINGS) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(HEADINGS))) + "|",
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
        "headings": HEADINGS,
        "rows": [_cell_row(cell) for cell in document["cells"]],
        "design": design,
        "mechanisms": _MECHANISMS[kind],
        "command": document["command"],
    }
    return environment.get_template("simulate.html.j2").render(context)


# The terminal table leaves out the model count, the shares that hold and are
# learned all, the intervals and the gap (they are in table.md) to fit 80
# columns; its headings are table.md's.
_TERMINAL_COLUMNS = {
    i: heading
    for i, heading in enumerate(HEADINGS)
    if heading not in ("models", "truly holds", "learned all", "mean abs. gap (fails)")
    and "interval" not in heading
}


def print_simulation_table(console: Console, document: dict[str, Any]) -> None:
    """Print the per-cell table in 80 columns (table.md has every column)."""
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
