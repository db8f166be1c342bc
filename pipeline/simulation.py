r"""The simulation study of the post's section 5: how often the criterion holds, and is found.

The post behind mesalens ends with a question it could not answer on paper:
over agent models of the form *data → D, D a parent of both Y_b and Y_m*,
how often does the mesa objective screen the regime off from the base
objective, ``(Y_b ⊥ s | Y_m)`` in ``G_σ``, and how does that change as the
regime shift grows? A second question comes with any tool that answers the
first one from logs: how often does the verdict learned from finite data
match the true graph's?

:func:`run_simulation` answers both on a grid. For each replicate ``r`` it
draws one model from :class:`~mesalens.connectors.random_scm.SCMFamily`
(seeded by ``(seed, r)``; the family's ``kind`` is linear-Gaussian,
nonlinear, discrete, mixed or confounded, all on the same random graph);
for each shift strength ``δ`` (the standardized mean shift the regime causes
in each of its targets) it

1. decides the criterion on the **true DAG** at ``δ`` with
   :func:`mesalens.pipeline.checker.check`, ``policy_inputs = keep``: the
   true verdict (``all`` or ``none``; for the confounded family the
   generating DAG, its hidden node included), with the model's exact
   alignment gap ``E[Y_b | Y_m, deploy] - E[Y_b | Y_m, train]``, summarised
   by :func:`mesalens.pipeline.simulation_gap.exact_gap` (analytic,
   enumerated from the CPTs, or from a seeded Monte-Carlo sample of
   ``gap_rows`` = 200,000 rows per regime);
2. for each sample size ``n``, samples ``n`` logged rows (half per regime;
   the noise seeded by ``(seed, r, n)`` and shared across ``δ``: common
   random numbers) and runs the pipeline, :func:`mesalens.pipeline.analysis.analyze`
   (sufficient statistics, the search of ``method`` with the regime
   exogenous and the automatic CI test, the check): the learned verdict;
   ``method="auto"`` is resolved per sample as ``mesalens run`` resolves it
   (:mod:`mesalens.pipeline.method_choice`), FCI for the confounded family;
3. where the learned verdict is ``all``, runs what decides ``mesalens
   run``'s exit code beyond it: the direct test and the equivalence test of
   its gap at the tolerance (:mod:`mesalens.pipeline.confirmation`). The
   trial records whether the ``all`` is confirmed (exit 0) or not (exit 8),
   the tested gap whose interval reaches furthest from 0 (averaged or at a
   decile of ``Y_m``: the one that decides), and whether an exit 0 would be
   **safe**: the criterion holds in the true DAG, or the exact gap is within
   the tolerance. The direct test decides no other verdict's exit code and
   is most of a trial's cost, so it is not run for them.

:func:`~mesalens.pipeline.simulation_cells.aggregate` then reports, per
cell ``(δ, n)``: the share of models in which the criterion truly holds,
the share in which the learned verdict is ``all``, the **precision of all**
(the share of learned ``all`` that truly hold), the **accuracy** (the share
of replicates whose learned verdict equals the true one), and the exit-code
shares: exit 0, safe exit 0, exit 8, and the recall where the criterion holds
(exit 0) and where it fails (no exit 0); each with a Wilson interval.

Replicates are independent: each is one dask task (a model, all its
strengths and sizes), computed on the active dask.distributed client when
there is one, else on dask's local process pool. A task's own dask work
(the one-pass statistics) runs synchronously inside it, so tasks never wait
on each other's scheduler. Results depend on the seed only, not on the
scheduler or the number of workers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import dask
import numpy as np
from dask.callbacks import Callback

from mesalens.connectors.agent_graph import BASE, DECISION, MESA, MIN_ROWS, AgentGraph
from mesalens.connectors.errors import InputError, MesalensError
from mesalens.connectors.random_scm import SCMFamily, loaded_from_frames
from mesalens.pipeline.analysis import DiscoverySettings, EvidenceSettings, analyze
from mesalens.pipeline.checker import check
from mesalens.pipeline.confirmation import Tolerance
from mesalens.pipeline.dask_client import active_client
from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.method_choice import AUTO
from mesalens.pipeline.roles import Roles
from mesalens.pipeline.simulation_cells import NOT_MEASURED, Cell, Trial, aggregate
from mesalens.pipeline.simulation_gap import (
    DECILES,
    MIN_LEVEL_SHARE,
    MONTE_CARLO_ROWS,
    exact_gap,
)

__all__ = [
    "METHODS",
    "SimulationResult",
    "SimulationSettings",
    "run_replicate",
    "run_shift",
    "run_simulation",
    "study_method",
    "true_verdict",
]

#: Discovery methods the study accepts (which fit a family: SimulationSettings).
METHODS = (AUTO, "pc", "ges", "fci", "boss", "grasp")
#: The families with a hidden common cause, which only FCI allows for.
LATENT_KINDS = ("confounded",)
#: The families that draw discrete variables with three levels, which GES cannot score here.
MULTILEVEL_KINDS = ("discrete", "mixed")
#: The families that mix continuous and three-level variables, which BOSS and GRaSP cannot score.
MIXED_KINDS = ("mixed",)
#: Local dask schedulers :func:`run_simulation` accepts by name.
LOCAL_SCHEDULERS = ("processes", "threads", "sync")
_TASK_PREFIX = "simulate-replicate"


#: How many float64 copies of a trial's sample it holds at least (see
#: SimulationSettings._require_memory).
_COPIES = 3


@dataclass(frozen=True)
class SimulationSettings:
    """The grid and the discovery settings of one study.

    Attributes
    ----------
    replicates : int
        Models drawn (each is run at every shift and sample size).
    rows : tuple of int
        Sample sizes: rows over both regimes.
    shifts : tuple of float
        Shift strengths ``δ`` (non-negative; 0 switches the regime off).
    family : SCMFamily
        The random model family (its ``nodes`` is the model size).
    seed : int
        Seed of everything random: models, noise and discovery.
    method : str
        ``"auto"`` (the run's default: chosen per data,
        :mod:`mesalens.pipeline.method_choice`; FCI for the confounded
        family), ``"pc"``, ``"ges"``, ``"fci"``, ``"boss"`` or ``"grasp"``:
        FCI only for the confounded family (its logs miss a common cause,
        which the others assume away); GES not for the discrete and mixed
        families (its linear-Gaussian score cannot use three-level codes),
        BOSS and GRaSP not for the mixed one.
    alpha : float
        Significance level of the CI tests (PC and FCI).
    tolerance : Tolerance
        The largest alignment gap accepted: a learned ``all`` exits 0 only
        when the direct test's gap is confirmed within it, as in ``mesalens
        run`` (:mod:`mesalens.pipeline.confirmation`); and an exit 0 is safe
        when the exact gap is within it.
    direct_test : bool
        Run the direct test where the learned verdict is ``all`` (default),
        so that every trial has the exit code ``mesalens run`` would give;
        False scores the structural verdict only (several times cheaper; the
        trials' ``confirmation`` is then ``not measured``).
    gap_rows : int
        Rows per regime of the Monte-Carlo sample behind a model's exact gap
        where it is neither analytic nor enumerable
        (:mod:`mesalens.pipeline.simulation_gap`).
    """

    replicates: int = 20
    rows: tuple[int, ...] = (250, 1000, 4000)
    shifts: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 1.0)
    family: SCMFamily = field(default_factory=SCMFamily)
    seed: int = 0
    method: str = AUTO
    alpha: float = 0.01
    gap_rows: int = MONTE_CARLO_ROWS
    tolerance: Tolerance = field(default_factory=lambda: Tolerance(0.1, "sd"))
    direct_test: bool = True

    def __post_init__(self) -> None:
        def integer(value: Any) -> bool:
            return not isinstance(value, bool) and isinstance(value, int | np.integer)

        if not integer(self.replicates) or self.replicates < 1:
            raise InputError(f"replicates must be a positive integer; got {self.replicates!r}")
        if not self.rows:
            raise InputError("rows lists no sample size; give at least one, e.g. 1000")
        for n in self.rows:
            if not integer(n) or n < MIN_ROWS:
                raise InputError(
                    f"rows must be integers of at least {MIN_ROWS} (both regimes together); "
                    f"got {n!r}"
                )
        if not self.shifts:
            raise InputError("shifts lists no shift strength; give at least one, e.g. 0.5")
        for shift in self.shifts:
            if (
                isinstance(shift, bool)
                or not isinstance(shift, int | float)
                or not (math.isfinite(shift) and shift >= 0)
            ):
                raise InputError(f"shifts must be non-negative numbers; got {shift!r}")
        if len(set(self.rows)) != len(self.rows) or len(set(self.shifts)) != len(self.shifts):
            raise InputError("rows and shifts must not list a value twice")
        if not integer(self.seed) or self.seed < 0:
            raise InputError(f"seed must be a non-negative integer; got {self.seed!r}")
        if self.method not in METHODS:
            raise InputError(f"method must be one of {', '.join(METHODS)}; got {self.method!r}")
        kind = self.family.kind
        if kind in LATENT_KINDS and self.method not in ("fci", AUTO):
            raise InputError(
                f"the {kind} family's logs miss a common cause, which {self.method.upper()} "
                "assumes away; use method fci (--method fci)"
            )
        if kind in MIXED_KINDS and self.method in ("boss", "grasp"):
            raise InputError(
                f"{self.method.upper()} here scores linear-Gaussian or all-discrete models, "
                f"which cannot use the {kind} family's three-level variables beside continuous "
                "ones; use method pc, fci or auto"
            )
        if kind in MULTILEVEL_KINDS and self.method == "ges":
            raise InputError(
                f"GES here scores linear-Gaussian models, which cannot use the level codes of "
                f"the {kind} family's three-level variables; use method pc or fci"
            )
        if not 0 < self.alpha < 1:
            raise InputError(f"alpha must be between 0 and 1 (exclusive); got {self.alpha!r}")
        if not integer(self.gap_rows) or self.gap_rows < MIN_ROWS:
            raise InputError(
                f"gap_rows must be an integer of at least {MIN_ROWS}; got {self.gap_rows!r}"
            )
        self._require_memory()

    def _require_memory(self) -> None:
        """Refuse, before any work, a sample size this machine cannot hold.

        A trial holds its sample as float64 a few times over (the array, the
        pooled frame, its partitions): at least ``_COPIES`` x rows x nodes x
        8 bytes. Without this, numpy failed part way into the run.
        """
        import psutil

        needed = _COPIES * max(self.rows) * self.family.nodes * 8
        total = psutil.virtual_memory().total
        if needed > total:
            raise InputError(
                f"rows {max(self.rows):,} of {self.family.nodes} variables need at least "
                f"{needed / 2**30:,.1f} GiB per trial, more than this machine's "
                f"{total / 2**30:,.1f} GiB; lower --rows or --nodes"
            )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        return {
            "replicates": int(self.replicates),
            "rows": [int(n) for n in self.rows],
            "shifts": [float(s) for s in self.shifts],
            "family": self.family.as_dict(),
            "seed": int(self.seed),
            "method": self.method,
            "alpha": float(self.alpha),
            "tolerance": {
                "value": self.tolerance.value,
                "unit": self.tolerance.unit,
                "text": self.tolerance.describe(),
            },
            "direct_test": "not run: the structural verdict only, no exit code"
            if not self.direct_test
            else "run, as mesalens run runs it, where the learned verdict is all (the "
            "one verdict whose exit code it decides): its gap's equivalence test at the "
            "tolerance decides exit 0 or 8",
            "policy_inputs": "keep",
            "gap": {
                "definition": "E[Y_b | Y_m = y, deploy] - E[Y_b | Y_m = y, train] at the point y "
                "of largest magnitude among Y_m's train deciles (continuous Y_m) or its levels "
                "of train probability at least min_level_share (discrete Y_m); gap in pooled "
                "within-regime SDs of Y_b, gap_units in Y_b's units",
                "deciles": list(DECILES),
                "min_level_share": MIN_LEVEL_SHARE,
                "monte_carlo_rows_per_regime": int(self.gap_rows),
                "monte_carlo_seed": "[seed, replicate, 1]",
            },
        }


def _roles(scm: AgentGraph) -> Roles:
    return Roles(regime=scm.regime, base=(BASE,), mesa=(MESA,), decision=(DECISION,))


def true_verdict(scm: AgentGraph, strength: float) -> str:
    """The checker's verdict on the model's true DAG at shift ``strength`` (policy ``keep``).

    The DAG is the generating one: a hidden node (the confounded family's)
    is in it, as the truth about the logged variables requires.
    """
    graph = CausalGraph(scm.nodes)
    for u, v in scm.edges(strength):
        graph.add_edge(u, v, "-->")
    return check(graph, _roles(scm)).verdict


def _exit_code_evidence(tolerance: Tolerance, direct: bool = True) -> EvidenceSettings:
    """The evidence ``mesalens run`` gathers to decide its exit code, and no more.

    The direct test and the equivalence test on its gap, at ``tolerance``,
    where the structural verdict is ``all`` (the one verdict whose exit code
    they decide); the sensitivity analysis and the bootstrap, which decide
    nothing, are off.
    """
    return EvidenceSettings(
        bootstrap=0,
        sensitivity=False,
        direct_test=direct,
        direct_test_only_for_all=True,
        tolerance=tolerance,
    )


def study_method(settings: SimulationSettings) -> str:
    """The method the study runs: ``auto`` is FCI for a family with a hidden common cause.

    Elsewhere ``auto`` is resolved per sample by the analysis, from the
    data's kinds (:mod:`mesalens.pipeline.method_choice`).
    """
    if settings.method == AUTO and settings.family.kind in LATENT_KINDS:
        return "fci"
    return settings.method


def _within(gap: float, gap_units: float | None, tolerance: Tolerance) -> bool:
    """Whether an exact gap is within the tolerance, in the tolerance's units."""
    value = gap if tolerance.unit == "sd" else gap_units
    return value is not None and math.isfinite(value) and abs(value) <= tolerance.value


def _tested_gap(analysis: Any) -> dict[str, Any]:
    """The tested gap whose interval reaches furthest from 0, in within-regime SDs of ``Y_b``.

    Of the averaged and the pointwise gaps, the one that decides: its
    interval lies inside the tolerance exactly when every gap's does. A gap
    without an interval reaches furthest of all.
    """
    confirmation, direct = analysis.confirmation, analysis.direct_test
    if confirmation is None or direct is None or not confirmation.checks:
        return {}

    def reach(c: Any) -> float:
        far = max(abs(c.lower), abs(c.upper))
        return far if math.isfinite(far) else math.inf

    check_ = max(confirmation.checks, key=reach)
    sd = next((o.within_sd for o in direct.outcomes if o.base == check_.base), math.nan)
    if not (math.isfinite(sd) and sd > 0):
        return {"gap_estimator": check_.estimator}

    def scaled(value: float) -> float | None:
        return value / sd if math.isfinite(value) else None

    return {
        "gap_estimate": scaled(check_.estimate),
        "gap_lower": scaled(check_.lower),
        "gap_upper": scaled(check_.upper),
        "gap_estimator": check_.estimator,
    }


def run_replicate(settings: SimulationSettings, replicate: int) -> list[Trial]:
    """Every trial of one replicate: one model at every shift and sample size.

    Deterministic: the model is drawn with seed ``(seed, replicate)``, the
    noise of size ``n`` with ``(seed, replicate, n)``, a Monte-Carlo gap's
    sample with ``(seed, replicate, 1)`` (``n`` is at least 20), discovery
    with ``seed``. The same trials as :func:`run_shift` over every shift.
    """
    return [trial for shift in settings.shifts for trial in run_shift(settings, replicate, shift)]


def run_shift(settings: SimulationSettings, replicate: int, shift: float) -> list[Trial]:
    """The trials of one replicate at one shift strength, one per sample size.

    :func:`run_simulation` runs one of these per dask task, so that its
    progress advances per (replicate, shift) rather than per replicate.
    """
    scm = settings.family.draw([settings.seed, replicate])
    roles = _roles(scm)
    discovery = DiscoverySettings(
        method=study_method(settings), alpha=settings.alpha, seed=settings.seed
    )
    evidence = _exit_code_evidence(settings.tolerance, settings.direct_test)
    trials = []
    # The one-pass statistics are a dask computation of their own: run them
    # inside this task, not on the scheduler that runs the study's tasks.
    with dask.config.set(scheduler="sync"):
        truth = true_verdict(scm, shift)
        gap = exact_gap(
            scm,
            shift,
            holds=truth == "all",
            seed=[settings.seed, replicate, 1],
            rows=settings.gap_rows,
        )
        for rows in settings.rows:
            frames = scm.sample(shift, rows, [settings.seed, replicate, rows])
            start = time.process_time()
            extra: dict[str, Any] = {}
            try:
                analysis = analyze(loaded_from_frames(frames), roles, discovery, evidence=evidence)
                learned, error = analysis.check.verdict, None
                extra = {
                    "method": str(analysis.discovery.settings.get("method", "")),
                    "confirmation": (
                        NOT_MEASURED
                        if not settings.direct_test
                        else analysis.confirmation.status
                        if analysis.confirmation is not None
                        else "not applicable"
                    ),
                    **_tested_gap(analysis),
                }
            except MesalensError as exc:
                learned, error = "error", " ".join(str(exc).split())
            trials.append(
                Trial(
                    replicate=replicate,
                    shift=float(shift),
                    rows=int(rows),
                    true_verdict=truth,
                    learned_verdict=learned,
                    gap=gap.gap,
                    error=error,
                    gap_units=gap.gap_units,
                    gap_method=gap.method,
                    safe=truth == "all" or _within(gap.gap, gap.gap_units, settings.tolerance),
                    cpu_seconds=time.process_time() - start,
                    **extra,
                )
            )
    return trials


@dataclass
class SimulationResult:
    """The study's settings, every trial and the aggregated cells."""

    settings: SimulationSettings
    trials: list[Trial]
    cells: list[Cell]
    scheduler: str
    wall_seconds: float = 0.0
    models: list[dict[str, Any]] = field(default_factory=list)

    @property
    def cpu_seconds(self) -> float:
        """CPU time of all pipeline runs together (summed over workers)."""
        return float(sum(t.cpu_seconds for t in self.trials))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: settings, cells, trials and models (timings under ``timings``)."""
        return {
            "settings": self.settings.as_dict(),
            "cells": [cell.as_dict() for cell in self.cells],
            "trials": [
                {k: v for k, v in asdict(t).items() if k != "cpu_seconds"} for t in self.trials
            ],
            "models": self.models,
            "timings": {
                "scheduler": self.scheduler,
                "wall_seconds": self.wall_seconds,
                "pipeline_cpu_seconds": self.cpu_seconds,
                "pipeline_cpu_seconds_by_rows": {
                    str(n): float(sum(t.cpu_seconds for t in self.trials if t.rows == n))
                    for n in self.settings.rows
                },
                "trials": len(self.trials),
            },
        }


class _Finished(Callback):
    """Report each finished (replicate, shift) task of a local dask computation."""

    def __init__(self, on_done: Callable[[], None]):
        super().__init__()
        self._on_done = on_done

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        name = key[0] if isinstance(key, tuple) else key
        if isinstance(name, str) and name.startswith(_TASK_PREFIX):
            self._on_done()


def run_simulation(
    settings: SimulationSettings,
    *,
    scheduler: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> SimulationResult:
    """Run the whole study, replicates in parallel on dask.

    Parameters
    ----------
    settings : SimulationSettings
        The grid, the model family, the seed and the discovery settings.
    scheduler : {"processes", "threads", "sync"}, optional
        A local dask scheduler. Default: the active dask.distributed client
        if there is one, else ``"processes"`` (PC holds the GIL, so threads
        would not run replicates side by side).
    on_progress : callable, optional
        Called as ``on_progress(done, total)`` with the finished trials (pipeline
        runs) out of all of them, after each finished (replicate, shift) task,
        and once with ``(0, total)`` at the start.

    Returns
    -------
    SimulationResult
        Identical trials and cells for identical settings, whatever the
        scheduler.

    Raises
    ------
    InputError
        For an unknown scheduler name.
    """
    if scheduler is not None and scheduler not in LOCAL_SCHEDULERS:
        raise InputError(
            f"scheduler must be one of {', '.join(LOCAL_SCHEDULERS)}; got {scheduler!r}"
        )
    # One task per (replicate, shift): each finishes one trial per sample size.
    per_task = len(settings.rows)
    total = settings.replicates * len(settings.shifts) * per_task
    done = 0

    def advance() -> None:
        nonlocal done
        done += per_task
        if on_progress is not None:
            on_progress(done, total)

    if on_progress is not None:
        on_progress(0, total)
    tasks = [
        dask.delayed(run_shift, pure=False)(
            settings, r, shift, dask_key_name=f"{_TASK_PREFIX}-{r:06d}-{s:03d}"
        )
        for r in range(settings.replicates)
        for s, shift in enumerate(settings.shifts)
    ]
    client = active_client() if scheduler is None else None
    start = time.perf_counter()
    if client is not None:
        from distributed import as_completed

        futures = client.compute(tasks)
        for _ in as_completed(futures):
            advance()
        outcomes = client.gather(futures)
        used = f"distributed ({client.scheduler.address})"
    else:
        used = scheduler or "processes"
        with _Finished(advance):
            outcomes = dask.compute(*tasks, scheduler=used)
    wall = time.perf_counter() - start
    trials = [trial for outcome in outcomes for trial in outcome]
    models = [
        {"replicate": r, **settings.family.draw([settings.seed, r]).as_dict()}
        for r in range(settings.replicates)
    ]
    return SimulationResult(
        settings=settings,
        trials=trials,
        cells=aggregate(trials),
        scheduler=used,
        wall_seconds=wall,
        models=models,
    )
