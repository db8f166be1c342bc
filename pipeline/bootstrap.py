r"""Stability of the verdict: the bootstrap of the whole discovery and check.

The structural verdict is decided exactly over the class that discovery
returned, but that class was learned from finite data: one conditional
independence test with a p-value near ``alpha`` can add or drop an edge, and
with it an open path from the regime to the base objective. The verdict is
only as trustworthy as the edges it rests on. Following the non-parametric
bootstrap for learned graphs (Friedman, Goldszmidt & Wyner, "Data analysis
with Bayesian networks: a bootstrap approach", UAI 1999), mesalens reruns the
*whole* pipeline (statistics, discovery with the same method, test, alpha and
knowledge, the check with the same roles) on ``B`` resamples of the rows and
reports

* the share of resamples that give each verdict (``all``, ``some``,
  ``none``, ``invalid``, or ``error`` when a resample's discovery or check
  fails, e.g. an inconsistent graph, or the worker running it dies);
* the frequency of each kind of edge (``-->``, ``<--``, ``---``, ...,
  ``absent``) for the edges the verdict rests on: those on the open paths
  of the main result, every edge at a decision node ``D_m`` and every edge
  at the regime, in the main graph or in any resample;
* whether the verdict is **stable**: its share is at least a threshold
  (0.95 by default). An unstable verdict flips under resampling, and a
  reviewer must not read it as a finding of the data.

In the notation of the algorithm, with ``D`` the pooled rows::

    for r = 1, ..., B:
        D*_r  = Poisson resample of D         (row i repeated K_ri ~ Poisson(1) times)
        S*_r  = sufficient statistics of D*_r
        G*_r  = discover(S*_r)                (or: error)
        v*_r  = check(G*_r, roles).verdict    (or: error)
    share(v) = #{r : v*_r = v} / B
    stable   = share(v_main) >= threshold

**The Poisson bootstrap.** The classical bootstrap draws ``n`` rows with
replacement, a multinomial that needs ``n`` and all the rows at once. The
Poisson bootstrap (Hanley & MacGibbon, "Creating non-parametric bootstrap
samples using Poisson frequencies", Comput. Methods Programs Biomed. 2006;
Chamandy, Muralidharan, Najmi & Naidu, "Estimating uncertainty for massive
data streams", Google, 2012) repeats each row independently ``Poisson(1)``
times instead: the same distribution in the limit, and it can be applied to
each partition on its own, so the data, which may be larger than memory,
are never gathered.

**Deterministic whatever the partitioning.** The count ``K_ri`` of row
``i`` in replicate ``r`` depends on ``(seed, r, i)`` only, with ``i`` the
row's position in the whole table: a counter-based generator (Philox,
Salmon et al., SC 2011) keyed by ``(seed, r)`` is advanced to ``i`` and gives
one uniform ``u``, and ``K_ri`` is the Poisson(1) quantile of ``u``. So a
replicate is the same rows however the table is split into partitions and
wherever the partitions are processed. The positions need each partition's
length: one cheap pass (row counts) before the main one.

**One read for all replicates.** The statistics of the ``B`` resamples are
one dask graph over the same source partitions, computed in one call: each
partition is read once and summarised ``B`` times. Discovery and check then
run per replicate in parallel: on the active dask.distributed client when
there is one, else in a local process pool when the work is worth the
pool's start-up (causal-learn's searches are serialised within one
process), else one after the other.
"""

from __future__ import annotations

import functools
import itertools
import math
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mesalens.connectors.errors import InputError
from mesalens.connectors.moments import blas_single_thread
from mesalens.pipeline.check_result import VERDICTS, CheckResult
from mesalens.pipeline.checker import check
from mesalens.pipeline.dask_client import active_client
from mesalens.pipeline.graph import EDGE_KINDS, CausalGraph
from mesalens.pipeline.knowledge import Knowledge
from mesalens.pipeline.roles import Roles

__all__ = [
    "DEFAULT_THRESHOLD",
    "OUTCOMES",
    "BootstrapResult",
    "EdgeFrequency",
    "ReplicateOutcome",
    "bootstrap",
    "poisson_counts",
    "resample_partition",
    "resampled_statistics",
]

# The terminal summary imports this module for BootstrapResult, and so does
# `mesalens check-graph`, which never resamples: pandas, dask, scipy and the
# discovery and statistics modules (over 1 s of imports together) are
# imported by the functions that use them.
if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd

    from mesalens.pipeline.statistics import StatisticsError, SufficientStatistics

#: Fewer resamples than this are reported as too few to rely on, stable or not.
MIN_REPLICATES = 20

#: A verdict is stable when at least this share of resamples reproduce it.
DEFAULT_THRESHOLD = 0.95

#: What a replicate can give: a verdict, or an error.
OUTCOMES = (*VERDICTS, "error")

#: The kind of an edge that a graph does not have.
ABSENT = "absent"

# Why an edge is in the frequency table.
REASON_PATH, REASON_DECISION, REASON_REGIME = "open path", "decision", "regime"


# Poisson(1) quantiles: P(K > 19) < 1e-18, below the resolution of a double
# uniform, so the table covers every count that can be drawn.
@functools.cache
def _poisson_cdf() -> np.ndarray:
    from scipy.special import pdtr  # the Poisson CDF: scipy.stats.poisson.cdf calls it

    return pdtr(np.arange(20), 1.0)


# A local process pool costs a few seconds of imports per worker; use one
# only when the replicates would take longer than this one after the other.
_POOL_WORTH_SECONDS = 20.0

# The same edge read from its other end: swap the marks.
_KIND_OF_MARKS = {marks: kind for kind, marks in EDGE_KINDS.items()}
_REVERSED_KIND = {kind: _KIND_OF_MARKS[(mv, mu)] for kind, (mu, mv) in EDGE_KINDS.items()}


# ----------------------------------------------------------------- resampling
def poisson_counts(seed: int, replicate: int, start: int, length: int) -> np.ndarray:
    """How often rows ``start, ..., start + length - 1`` appear in one Poisson resample.

    Parameters
    ----------
    seed : int
        The run's seed.
    replicate : int
        The replicate number (``0 <= replicate``).
    start : int
        The position of the first row in the whole table.
    length : int
        How many rows.

    Returns
    -------
    ndarray of int64, shape (length,)
        Independent Poisson(1) counts; the count of row ``i`` depends on
        ``(seed, replicate, i)`` only, so any split of the table into
        blocks gives the same counts.
    """
    key = np.random.SeedSequence([abs(int(seed)), int(seed < 0), int(replicate)])
    bits = np.random.Philox(key)
    # Each Philox counter step yields four 64-bit words, one per uniform.
    bits.advance(start // 4)
    generator = np.random.Generator(bits)
    generator.random(start % 4)
    uniforms = generator.random(length)
    return np.searchsorted(_poisson_cdf(), uniforms, side="right").astype(np.int64)


def resample_partition(part: pd.DataFrame, seed: int, replicate: int, start: int) -> pd.DataFrame:
    """One partition of a Poisson resample: each row repeated ``Poisson(1)`` times.

    ``start`` is the position of the partition's first row in the whole
    table (see :func:`poisson_counts`).
    """
    counts = poisson_counts(seed, replicate, start, len(part))
    return part.iloc[np.repeat(np.arange(len(part)), counts)]


def resampled_statistics(
    frame: dd.DataFrame | pd.DataFrame,
    kinds: Mapping[str, str],
    columns: Sequence[str],
    *,
    seed: int,
    replicates: Iterable[int],
    max_levels: int = 100,
) -> list[SufficientStatistics | StatisticsError]:
    """The sufficient statistics of Poisson resamples of ``frame``, read in one pass.

    Parameters
    ----------
    frame : dask.dataframe.DataFrame or pandas.DataFrame
        The pooled data.
    kinds : mapping of str to str
        ``"continuous"`` or ``"discrete"`` per column.
    columns : sequence of str
        The columns, in the order of the statistics.
    seed : int
        The run's seed.
    replicates : iterable of int
        The replicate numbers.
    max_levels : int, optional
        As for :func:`~mesalens.pipeline.statistics.compute_statistics`.

    Returns
    -------
    list
        Per replicate, its statistics, or the :class:`StatisticsError` that
        summarising it raised (e.g. a resample of fewer than two rows).
    """
    import dask
    import dask.dataframe as dd
    import pandas as pd

    from mesalens.pipeline.statistics import StatisticsError, statistics_delayed

    if isinstance(frame, pd.DataFrame):
        frame = dd.from_pandas(frame, npartitions=1)
    frame = frame[list(columns)]
    # One list of source partitions: every replicate's graph starts from
    # the same keys, so one compute reads each partition once.
    parts = frame.to_delayed()
    lengths = dask.compute(*[dask.delayed(len, pure=True)(part) for part in parts])
    starts = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)[:-1]])
    resample = dask.delayed(resample_partition, pure=True)
    meta = frame._meta
    numbers = [int(r) for r in replicates]
    lazy = []
    for r in numbers:
        pieces = [resample(part, seed, r, int(s)) for part, s in zip(parts, starts, strict=True)]
        resampled = dd.from_delayed(pieces, meta=meta, verify_meta=False)
        lazy.append(statistics_delayed(resampled, kinds, columns, max_levels=max_levels))
    try:
        with blas_single_thread():
            return list(dask.compute(*lazy))
    except StatisticsError:
        pass
    # Some replicate cannot be summarised (it fails only in degenerate
    # cases): compute them one by one to tell which, at the cost of rereading.
    results: list[SufficientStatistics | StatisticsError] = []
    for graph in lazy:
        try:
            with blas_single_thread():
                (result,) = dask.compute(graph)
        except StatisticsError as exc:
            result = exc
        results.append(result)
    return results


# ----------------------------------------------------------------- outcomes
@dataclass(frozen=True)
class ReplicateOutcome:
    """What one resample gave.

    Attributes
    ----------
    replicate : int
        The replicate number.
    verdict : str
        ``all``, ``some``, ``none``, ``invalid`` or ``error``.
    error : str or None
        For an error: which stage failed, and its message.
    edges : tuple of (str, str, str) or None
        The learned graph's edges as ``(u, kind, v)``; None when discovery
        failed.
    """

    replicate: int
    verdict: str
    error: str | None = None
    edges: tuple[tuple[str, str, str], ...] | None = None


@dataclass(frozen=True)
class EdgeFrequency:
    """How often each kind of edge between ``u`` and ``v`` came back.

    Attributes
    ----------
    u, v : str
        The pair; kinds are read from ``u`` to ``v`` (``-->`` is ``u --> v``).
    reasons : tuple of str
        Why the edge matters: ``"open path"``, ``"decision"``, ``"regime"``.
    main : str
        Its kind in the main learned graph, or ``"absent"``.
    counts : mapping of str to int
        Per kind (``"absent"`` included), the resamples that gave it.
    learned : int
        The resamples whose discovery gave a graph (the denominator).
    """

    u: str
    v: str
    reasons: tuple[str, ...]
    main: str
    counts: Mapping[str, int]
    learned: int

    def share(self, kind: str) -> float:
        """The share of learned graphs with this kind of edge (0 when none was learned)."""
        return self.counts.get(kind, 0) / self.learned if self.learned else 0.0

    @property
    def present(self) -> float:
        """The share of learned graphs in which ``u`` and ``v`` are adjacent."""
        return 1.0 - self.share(ABSENT) if self.learned else 0.0

    @property
    def main_share(self) -> float:
        """The share of learned graphs that agree with the main graph on this pair."""
        return self.share(self.main)


@dataclass(frozen=True)
class BootstrapResult:
    """The verdict's stability under ``B`` Poisson resamples.

    Attributes
    ----------
    replicates : int
        ``B``.
    seed : int
        The seed the resamples were drawn with.
    threshold : float
        The share of the main verdict at or above which it is stable.
    verdict : str
        The main (full-data) verdict.
    outcomes : tuple of ReplicateOutcome
        One per replicate, in replicate order.
    edges : tuple of EdgeFrequency
        The edges that matter: open-path edges first, then those at the
        decisions, then those at the regime.
    """

    replicates: int
    seed: int
    threshold: float
    verdict: str
    outcomes: tuple[ReplicateOutcome, ...]
    edges: tuple[EdgeFrequency, ...]

    @property
    def counts(self) -> dict[str, int]:
        """Per outcome (the verdicts and ``error``), how many resamples gave it."""
        found = Counter(outcome.verdict for outcome in self.outcomes)
        return {outcome: found.get(outcome, 0) for outcome in OUTCOMES}

    def share(self, outcome: str) -> float:
        """The share of all ``B`` resamples that gave ``outcome``."""
        return self.counts[outcome] / self.replicates

    @property
    def main_share(self) -> float:
        """The share of resamples that reproduce the main verdict (errors count against it)."""
        return self.share(self.verdict)

    @property
    def main_share_interval(self) -> tuple[float, float]:
        """A 95% Clopper-Pearson interval for :attr:`main_share` (small ``B`` is imprecise)."""
        from scipy import stats as scipy_stats

        test = scipy_stats.binomtest(self.counts[self.verdict], self.replicates)
        interval = test.proportion_ci(confidence_level=0.95, method="exact")
        return float(interval.low), float(interval.high)

    @property
    def stable(self) -> bool:
        """Whether the main verdict's share reaches the threshold."""
        return self.main_share >= self.threshold

    @property
    def min_replicates(self) -> int:
        """The fewest resamples whose share can speak to the threshold.

        With ``B`` resamples the share moves in steps of ``1/B``: below
        ``1/(1 - threshold)`` one disagreeing resample cannot even be told
        from none (and never fewer than 20, whose 95% interval for 20 of 20
        is already [0.83, 1]).
        """
        if self.threshold >= 1:
            return MIN_REPLICATES
        return max(MIN_REPLICATES, math.ceil(1 / (1 - self.threshold) - 1e-9))

    @property
    def enough_replicates(self) -> bool:
        """Whether there are :attr:`min_replicates` resamples or more."""
        return self.replicates >= self.min_replicates

    @property
    def errors(self) -> list[tuple[int, str]]:
        """``(replicate, message)`` of every failed resample."""
        return [(o.replicate, o.error or "") for o in self.outcomes if o.verdict == "error"]

    def as_dict(self) -> dict[str, Any]:
        """The result as plain JSON data (the ``"bootstrap"`` key of ``result.json``)."""
        counts = self.counts
        low, high = self.main_share_interval
        return {
            "replicates": self.replicates,
            "seed": self.seed,
            "resampling": "poisson",
            "threshold": self.threshold,
            "verdict": self.verdict,
            "share": self.main_share,
            "share_interval": [low, high],
            "stable": self.stable,
            "enough_replicates": self.enough_replicates,
            "min_replicates": self.min_replicates,
            "verdict_counts": counts,
            "verdict_shares": {k: v / self.replicates for k, v in counts.items()},
            "errors": [{"replicate": r, "message": m} for r, m in self.errors],
            "edge_frequencies": [
                {
                    "u": edge.u,
                    "v": edge.v,
                    "reasons": list(edge.reasons),
                    "main": edge.main,
                    "main_share": edge.main_share,
                    "present": edge.present,
                    "learned": edge.learned,
                    "counts": dict(edge.counts),
                    "shares": {kind: edge.share(kind) for kind in edge.counts},
                }
                for edge in self.edges
            ],
        }


# ----------------------------------------------------------------- replicates
@dataclass(frozen=True)
class _Job:
    """Everything one replicate's discovery and check need (picklable)."""

    replicate: int
    statistics: SufficientStatistics | None
    failure: str | None
    roles: Roles
    method: str
    test: str
    alpha: float
    max_depth: int
    knowledge: Knowledge | None
    seed: int
    check_graph: Callable[[CausalGraph, Roles], CheckResult]


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text if isinstance(exc, InputError) else f"{type(exc).__name__}: {text}"


def _run_replicate(job: _Job) -> ReplicateOutcome:
    """Discovery and check of one resample; a failure is an outcome, not an exception."""
    if job.statistics is None:
        return ReplicateOutcome(job.replicate, "error", f"statistics: {job.failure}")
    from mesalens.pipeline.discovery import discover

    # Any failure of one resample (an inconsistent graph, a singular
    # covariance, a bug) must be counted, not end the other B - 1.
    try:
        learned = discover(
            job.statistics,
            method=job.method,
            test=job.test,
            alpha=job.alpha,
            max_depth=job.max_depth,
            knowledge=job.knowledge,
            regime=job.roles.regime,
            seed=job.seed,
        )
    except Exception as exc:
        return ReplicateOutcome(job.replicate, "error", f"discovery: {_describe(exc)}")
    edges = tuple((e.u, e.kind, e.v) for e in learned.graph.edges())
    try:
        result = job.check_graph(learned.graph, job.roles)
    except Exception as exc:
        return ReplicateOutcome(job.replicate, "error", f"check: {_describe(exc)}", edges)
    return ReplicateOutcome(job.replicate, result.verdict, None, edges)


def _execute(
    jobs: list[_Job],
    processes: bool | None,
    on_replicate: Callable[[int, int], None] | None,
) -> list[ReplicateOutcome]:
    total = len(jobs)
    done = 0

    def finished(outcome: ReplicateOutcome) -> ReplicateOutcome:
        nonlocal done
        done += 1
        if on_replicate is not None:
            on_replicate(done, total)
        return outcome

    client = active_client()
    if client is not None:
        from distributed import as_completed

        futures = client.map(_run_replicate, jobs, pure=False)
        replicate_of = {
            future.key: job.replicate for future, job in zip(futures, jobs, strict=True)
        }
        outcomes = []
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except Exception as exc:  # a lost worker: count it, keep the others
                outcome = ReplicateOutcome(
                    replicate_of[future.key], "error", f"worker: {_describe(exc)}"
                )
            outcomes.append(finished(outcome))
        return sorted(outcomes, key=lambda o: o.replicate)

    if not jobs:
        return []
    start = time.perf_counter()
    outcomes = [finished(_run_replicate(jobs[0]))]
    rest = jobs[1:]
    cpus = os.cpu_count() or 1
    if processes is None:
        # The first replicate times the others: a pool only pays off for long runs.
        processes = cpus > 1 and (time.perf_counter() - start) * len(rest) > _POOL_WORTH_SECONDS
    if processes and rest:
        # spawn: the parent runs dask's threads, which fork would copy mid-flight.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(cpus, len(rest)), mp_context=context) as pool:
            futures = [pool.submit(_run_replicate, job) for job in rest]
            for job, future in zip(rest, futures, strict=True):
                try:
                    outcome = future.result()
                except BrokenExecutor as exc:
                    # A worker died (killed, out of memory, a crash in native
                    # code) and broke the pool: the replicates it left undone
                    # are counted as errors, as a lost worker's are on a
                    # cluster, rather than ending the whole run. Not rerun
                    # here: a crash in native code would take this process.
                    outcome = ReplicateOutcome(job.replicate, "error", f"worker: {_describe(exc)}")
                outcomes.append(finished(outcome))
    else:
        outcomes.extend(finished(_run_replicate(job)) for job in rest)
    return outcomes


# ----------------------------------------------------------------- edges
def _kind_between(edges: Iterable[tuple[str, str, str]], u: str, v: str) -> str:
    for a, kind, b in edges:
        if (a, b) == (u, v):
            return kind
        if (a, b) == (v, u):
            return _REVERSED_KIND[kind]
    return ABSENT


def _open_paths(result: CheckResult) -> list[tuple[str, ...]]:
    paths = []
    witnesses = [result.fail_witness, *(p.witness for p in result.parent_sets)]
    for witness in witnesses:
        if witness is not None and witness.open_path and witness.open_path not in paths:
            paths.append(tuple(witness.open_path))
    return paths


def _edges_that_matter(
    main_graph: CausalGraph,
    main_check: CheckResult,
    roles: Roles,
    outcomes: Sequence[ReplicateOutcome],
) -> list[EdgeFrequency]:
    learned = [o.edges for o in outcomes if o.edges is not None]
    main_edges = [(e.u, e.kind, e.v) for e in main_graph.edges()]
    order = {name: i for i, name in enumerate(main_graph.nodes)}
    reasons: dict[frozenset[str], list[str]] = {}
    oriented: dict[frozenset[str], tuple[str, str]] = {}

    def add(u: str, v: str, reason: str) -> None:
        pair = frozenset((u, v))
        oriented.setdefault(pair, (u, v))
        if reason not in reasons.setdefault(pair, []):
            reasons[pair].append(reason)

    for path in _open_paths(main_check):
        for u, v in itertools.pairwise(path):
            add(u, v, REASON_PATH)
    for reason, centres in ((REASON_DECISION, roles.decision), (REASON_REGIME, (roles.regime,))):
        centre_set = set(centres)
        pairs: set[tuple[str, str]] = set()
        for graph_edges in [main_edges, *learned]:
            for a, _, b in graph_edges:
                if a in centre_set or b in centre_set:
                    pairs.add((a, b))
        # Main-graph orientation first (a pair keeps the order it is first
        # seen in), then the resamples' pairs in node order.
        main_pairs = [(a, b) for a, _, b in main_edges if (a, b) in pairs]
        other = sorted(
            (p for p in pairs if frozenset(p) not in {frozenset(q) for q in main_pairs}),
            key=lambda p: sorted((order.get(p[0], 0), order.get(p[1], 0))),
        )
        for a, b in [*main_pairs, *other]:
            # Read from the regime outwards (it is exogenous), else from the decision.
            if b == roles.regime or (b in centre_set and a not in {*centre_set, roles.regime}):
                a, b = b, a
            add(a, b, reason)

    frequencies = []
    for pair, (u, v) in oriented.items():
        counts = Counter(_kind_between(edges, u, v) for edges in learned)
        frequencies.append(
            EdgeFrequency(
                u=u,
                v=v,
                reasons=tuple(reasons[pair]),
                main=_kind_between(main_edges, u, v),
                counts=dict(sorted(counts.items())),
                learned=len(learned),
            )
        )
    return frequencies


# ----------------------------------------------------------------- entry point
def bootstrap(
    frame: dd.DataFrame | pd.DataFrame,
    kinds: Mapping[str, str],
    columns: Sequence[str],
    roles: Roles,
    *,
    main_graph: CausalGraph,
    main_check: CheckResult,
    replicates: int,
    seed: int = 0,
    threshold: float = DEFAULT_THRESHOLD,
    method: str = "pc",
    test: str = "auto",
    alpha: float = 0.01,
    max_depth: int = -1,
    knowledge: Knowledge | None = None,
    check_graph: Callable[[CausalGraph, Roles], CheckResult] = check,
    processes: bool | None = None,
    on_stage: Callable[[str], None] | None = None,
    on_replicate: Callable[[int, int], None] | None = None,
) -> BootstrapResult:
    """Rerun discovery and check on ``replicates`` Poisson resamples of the data.

    Parameters
    ----------
    frame : dask.dataframe.DataFrame or pandas.DataFrame
        The pooled data the main result was learned from (never gathered).
    kinds : mapping of str to str
        ``"continuous"`` or ``"discrete"`` per column.
    columns : sequence of str
        The analysis columns, in the main statistics' order.
    roles : Roles
        The check's roles (the regime is the data's regime column).
    main_graph : CausalGraph
        The class learned from all the data.
    main_check : CheckResult
        Its check: the main verdict and the open paths.
    replicates : int
        ``B``, at least 1.
    seed : int, optional
        Seeds the resamples (and each discovery, as in the main run).
    threshold : float, optional
        The main verdict is stable when at least this share of resamples
        give it (0 < threshold <= 1; default 0.95).
    method, test, alpha, max_depth, knowledge
        Discovery settings, as for the main run
        (:func:`~mesalens.pipeline.discovery.discover`).
    check_graph : callable, optional
        Decides the criterion over a learned graph (default:
        :func:`~mesalens.pipeline.checker.check`); a module-level function,
        so that workers can run it.
    processes : bool, optional
        Without a dask.distributed client: True runs the replicates in a
        local process pool, False in this process; None (default) chooses
        from the first replicate's time.
    on_stage : callable, optional
        Called with a stage name as the statistics and then the replicates
        start, and about ten times more as replicates finish.
    on_replicate : callable, optional
        Called as ``on_replicate(done, replicates)`` after each replicate.

    Returns
    -------
    BootstrapResult
        Verdict shares, edge frequencies and the stability flag.

    Raises
    ------
    InputError
        If ``replicates`` or ``threshold`` is out of range.
    """
    if isinstance(replicates, bool) or not isinstance(replicates, int) or replicates < 1:
        raise InputError(
            f"bootstrap must be a positive number of resamples, got {replicates!r}; "
            "use e.g. --bootstrap 100 (0 turns it off)"
        )
    if isinstance(threshold, bool) or not 0 < threshold <= 1:
        raise InputError(
            f"stability threshold must be in (0, 1], got {threshold!r}; e.g. 0.95 calls a "
            "verdict stable when 95% of resamples reproduce it"
        )
    if on_stage is not None:
        on_stage(f"bootstrap: statistics of {replicates} resamples")
    summaries = resampled_statistics(frame, kinds, columns, seed=seed, replicates=range(replicates))
    jobs = [
        _Job(
            replicate=r,
            statistics=None if isinstance(summary, Exception) else summary,
            failure=_describe(summary) if isinstance(summary, Exception) else None,
            roles=roles,
            method=method,
            test=test,
            alpha=alpha,
            max_depth=max_depth,
            knowledge=knowledge,
            seed=seed,
            check_graph=check_graph,
        )
        for r, summary in enumerate(summaries)
    ]
    if on_stage is not None:
        on_stage(f"bootstrap: discovery and check of {replicates} resamples")
    step = max(1, replicates // 10)

    def progress(done: int, total: int) -> None:
        if on_replicate is not None:
            on_replicate(done, total)
        # A stage display shows names only: about ten updates in all.
        if on_stage is not None and done < total and done % step == 0:
            on_stage(f"bootstrap: {done}/{total} resamples checked")

    outcomes = _execute(jobs, processes, progress)
    return BootstrapResult(
        replicates=replicates,
        seed=seed,
        threshold=float(threshold),
        verdict=main_check.verdict,
        outcomes=tuple(outcomes),
        edges=tuple(_edges_that_matter(main_graph, main_check, roles, outcomes)),
    )
