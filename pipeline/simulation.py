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
(seeded by ``(seed, r)``); for each shift strength ``δ`` (the standardized
mean shift the regime causes in each of its targets) it

1. decides the criterion on the **true DAG** at ``δ`` with
   :func:`mesalens.pipeline.checker.check`, ``policy_inputs = keep``: the
   true verdict (``all`` or ``none``), with the model's exact alignment gap
   ``E[Y_b | Y_m, deploy] - E[Y_b | Y_m, train]``;
2. for each sample size ``n``, samples ``n`` logged rows (half per regime;
   the noise seeded by ``(seed, r, n)`` and shared across ``δ``: common
   random numbers) and runs the pipeline, :func:`mesalens.pipeline.analysis.analyze`
   (sufficient statistics, PC or GES with the regime exogenous, the check):
   the learned verdict.

:func:`aggregate` then reports, per cell ``(δ, n)``: the share of models in
which the criterion truly holds, the share in which the learned verdict
says it holds, and the **recall of the true verdict**: the share of
replicates whose learned verdict equals the true one, overall and separately
among models where the criterion holds and where it fails, each with a
Wilson score interval (Wilson, JASA 1927), which stays inside [0, 1] and is
honest at shares near 0 or 1 where the normal approximation is not.

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
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import dask
import numpy as np
from dask.callbacks import Callback

from mesalens.connectors.errors import InputError, MesalensError
from mesalens.connectors.random_scm import (
    BASE,
    DECISION,
    MESA,
    MIN_ROWS,
    RandomSCM,
    SCMFamily,
    loaded_from_frames,
)
from mesalens.pipeline.analysis import DiscoverySettings, EvidenceSettings, analyze
from mesalens.pipeline.checker import check
from mesalens.pipeline.dask_client import active_client
from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.roles import Roles

__all__ = [
    "METHODS",
    "Cell",
    "SimulationResult",
    "SimulationSettings",
    "Trial",
    "aggregate",
    "run_replicate",
    "run_simulation",
    "true_verdict",
    "wilson_interval",
]

#: Discovery methods the study accepts (FCI's PAGs are not checked yet).
METHODS = ("pc", "ges")
#: Local dask schedulers :func:`run_simulation` accepts by name.
LOCAL_SCHEDULERS = ("processes", "threads", "sync")
# The 95% two-sided normal quantile, for the Wilson intervals.
_Z = 1.959963984540054
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
        ``"pc"`` or ``"ges"``.
    alpha : float
        Significance level of PC's CI tests.
    """

    replicates: int = 20
    rows: tuple[int, ...] = (250, 1000, 4000)
    shifts: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 1.0)
    family: SCMFamily = field(default_factory=SCMFamily)
    seed: int = 0
    method: str = "pc"
    alpha: float = 0.01

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
            raise InputError(
                f"method must be one of {', '.join(METHODS)}; got {self.method!r} "
                "(the simulated models have no latent variables, the case PC and GES assume)"
            )
        if not 0 < self.alpha < 1:
            raise InputError(f"alpha must be between 0 and 1 (exclusive); got {self.alpha!r}")
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
            "policy_inputs": "keep",
        }


@dataclass(frozen=True)
class Trial:
    """One replicate at one shift and sample size.

    Attributes
    ----------
    replicate, shift, rows
        The grid point.
    true_verdict : str
        The checker's verdict on the true DAG (``all`` or ``none``).
    learned_verdict : str
        The pipeline's verdict on the sampled logs, or ``"error"``.
    gap : float
        The model's exact alignment gap in SDs of ``Y_b`` (see
        :meth:`~mesalens.connectors.random_scm.RandomSCM.alignment_gap`).
    error : str or None
        The pipeline's one-line error when ``learned_verdict == "error"``.
    cpu_seconds : float
        CPU time of the pipeline run (not part of the deterministic results).
    """

    replicate: int
    shift: float
    rows: int
    true_verdict: str
    learned_verdict: str
    gap: float
    error: str | None = None
    cpu_seconds: float = 0.0

    @property
    def match(self) -> bool:
        """Whether the learned verdict is the true one."""
        return self.learned_verdict == self.true_verdict


def wilson_interval(successes: int, trials: int) -> tuple[float | None, float | None]:
    """The 95% Wilson score interval of a binomial share (``None`` without trials).

    Examples
    --------
    >>> [round(x, 4) for x in wilson_interval(10, 10)]
    [0.7225, 1.0]
    """
    if trials == 0:
        return None, None
    p = successes / trials
    z2 = _Z * _Z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = _Z / (1 + z2 / trials) * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    # At 0 or n successes a bound is exactly 0 or 1; rounding would leave 1 - 1e-16.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def _share(successes: int, trials: int) -> float | None:
    return successes / trials if trials else None


@dataclass(frozen=True)
class Cell:
    """The aggregate of one grid cell ``(shift, rows)`` over its replicates.

    Shares are ``None`` when they have no replicate to be taken over (for
    example the recall among holding models when no model holds).
    """

    shift: float
    rows: int
    replicates: int
    true_holds: int
    learned_holds: int
    matches: int
    matches_when_holds: int
    matches_when_fails: int
    errors: int
    mean_abs_gap_when_fails: float | None

    @property
    def true_hold_share(self) -> float | None:
        """Share of models in which the criterion truly holds."""
        return _share(self.true_holds, self.replicates)

    @property
    def learned_hold_share(self) -> float | None:
        """Share of replicates whose learned verdict is ``all``."""
        return _share(self.learned_holds, self.replicates)

    @property
    def recall(self) -> float | None:
        """Share of replicates whose learned verdict equals the true one."""
        return _share(self.matches, self.replicates)

    @property
    def recall_when_holds(self) -> float | None:
        """The recall among models where the criterion holds (learned ``all``)."""
        return _share(self.matches_when_holds, self.true_holds)

    @property
    def recall_when_fails(self) -> float | None:
        """The recall among models where it fails (learned ``none``)."""
        return _share(self.matches_when_fails, self.replicates - self.true_holds)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the shares and their Wilson intervals."""
        fails = self.replicates - self.true_holds
        return {
            **asdict(self),
            "true_hold_share": self.true_hold_share,
            "true_hold_interval": list(wilson_interval(self.true_holds, self.replicates)),
            "learned_hold_share": self.learned_hold_share,
            "recall": self.recall,
            "recall_interval": list(wilson_interval(self.matches, self.replicates)),
            "recall_when_holds": self.recall_when_holds,
            "recall_when_holds_interval": list(
                wilson_interval(self.matches_when_holds, self.true_holds)
            ),
            "recall_when_fails": self.recall_when_fails,
            "recall_when_fails_interval": list(wilson_interval(self.matches_when_fails, fails)),
        }


def aggregate(trials: Sequence[Trial]) -> list[Cell]:
    """Aggregate trials per ``(shift, rows)`` cell, cells sorted by shift then rows.

    Parameters
    ----------
    trials : sequence of Trial
        Any number of replicates per cell.

    Returns
    -------
    list of Cell
    """
    groups: dict[tuple[float, int], list[Trial]] = {}
    for trial in trials:
        groups.setdefault((trial.shift, trial.rows), []).append(trial)
    cells = []
    for (shift, rows), group in sorted(groups.items()):
        holds = [t for t in group if t.true_verdict == "all"]
        fails = [t for t in group if t.true_verdict != "all"]
        cells.append(
            Cell(
                shift=shift,
                rows=rows,
                replicates=len(group),
                true_holds=len(holds),
                learned_holds=sum(t.learned_verdict == "all" for t in group),
                matches=sum(t.match for t in group),
                matches_when_holds=sum(t.match for t in holds),
                matches_when_fails=sum(t.match for t in fails),
                errors=sum(t.learned_verdict == "error" for t in group),
                mean_abs_gap_when_fails=(
                    float(np.mean([abs(t.gap) for t in fails])) if fails else None
                ),
            )
        )
    return cells


def _roles(scm: RandomSCM) -> Roles:
    return Roles(regime=scm.regime, base=(BASE,), mesa=(MESA,), decision=(DECISION,))


def true_verdict(scm: RandomSCM, strength: float) -> str:
    """The checker's verdict on the model's true DAG at shift ``strength`` (policy ``keep``)."""
    graph = CausalGraph(scm.nodes)
    for u, v in scm.edges(strength):
        graph.add_edge(u, v, "-->")
    return check(graph, _roles(scm)).verdict


def _structural_only() -> EvidenceSettings:
    """Evidence settings with every stage beyond the check off.

    The study measures the structural verdict; the extra evidence (direct
    test, sensitivity, bootstrap) would multiply its cost and is not scored.
    """
    return EvidenceSettings(bootstrap=0, sensitivity=False, direct_test=False)


def run_replicate(settings: SimulationSettings, replicate: int) -> list[Trial]:
    """Every trial of one replicate: one model at every shift and sample size.

    Deterministic: the model is drawn with seed ``(seed, replicate)``, the
    noise of size ``n`` with ``(seed, replicate, n)``, discovery with ``seed``.
    """
    scm = settings.family.draw([settings.seed, replicate])
    roles = _roles(scm)
    discovery = DiscoverySettings(method=settings.method, alpha=settings.alpha, seed=settings.seed)
    evidence = _structural_only()
    trials = []
    # The one-pass statistics are a dask computation of their own: run them
    # inside this task, not on the scheduler that runs the replicates.
    with dask.config.set(scheduler="sync"):
        for shift in settings.shifts:
            truth = true_verdict(scm, shift)
            gap = scm.alignment_gap(shift)
            for rows in settings.rows:
                frames = scm.sample(shift, rows, [settings.seed, replicate, rows])
                start = time.process_time()
                try:
                    learned = analyze(
                        loaded_from_frames(frames), roles, discovery, evidence=evidence
                    ).check.verdict
                    error = None
                except MesalensError as exc:
                    learned, error = "error", " ".join(str(exc).split())
                trials.append(
                    Trial(
                        replicate=replicate,
                        shift=float(shift),
                        rows=int(rows),
                        true_verdict=truth,
                        learned_verdict=learned,
                        gap=gap,
                        error=error,
                        cpu_seconds=time.process_time() - start,
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
    """Report each finished replicate task of a local dask computation."""

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
        Called as ``on_progress(done, total)`` after each finished replicate
        (and once with ``(0, total)`` at the start).

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
    total = settings.replicates
    done = 0

    def advance() -> None:
        nonlocal done
        done += 1
        if on_progress is not None:
            on_progress(done, total)

    if on_progress is not None:
        on_progress(0, total)
    tasks = [
        dask.delayed(run_replicate, pure=False)(
            settings, r, dask_key_name=f"{_TASK_PREFIX}-{r:06d}"
        )
        for r in range(total)
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
        {"replicate": r, **settings.family.draw([settings.seed, r]).as_dict()} for r in range(total)
    ]
    return SimulationResult(
        settings=settings,
        trials=trials,
        cells=aggregate(trials),
        scheduler=used,
        wall_seconds=wall,
        models=models,
    )
