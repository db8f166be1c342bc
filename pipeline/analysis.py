"""From pooled logs to a verdict: statistics, discovery, the check.

This is the pipeline's one entry point for data. It takes the table the
connectors produced (:class:`~mesalens.connectors.LoadedData`, all regimes
pooled, the regime column first), and

1. resolves the roles' glob patterns (``--mesa 'probe_*'``) against the
   data's columns and checks that the roles name columns of the data;
2. computes the sufficient statistics in one pass over the data
   (:mod:`mesalens.pipeline.statistics`), finds the deterministic relations
   among the columns and leaves columns out for them by the rule of
   ``settings.deterministic`` (:mod:`mesalens.pipeline.deterministic_rule`);
3. learns the equivalence class with causal-learn
   (:mod:`mesalens.pipeline.discovery`), the regime exogenous; the one test
   that needs rows, KCI, gets the pooled complete rows (from the loader's
   pooled sample when it holds them all, else read once from the frame),
   and more than :data:`~mesalens.pipeline.ci_tests.KCI_MAX_ROWS` of them
   are refused before discovery starts;
4. decides the criterion over the class (:mod:`mesalens.pipeline.checker`);
5. gathers the evidence beyond the graph that :class:`EvidenceSettings`
   asks for (each kind in its own module, each filling one field of
   :class:`AnalysisResult`);
6. decides whether the logs confirm a structural ``all`` to within the
   tolerance (:mod:`mesalens.pipeline.confirmation`): the decision behind
   exit code 0.

Where the data live (one machine or a dask.distributed cluster) is the
caller's business: dask uses the active client, if any.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from mesalens.connectors.errors import InputError
from mesalens.connectors.loaded import LoadedData
from mesalens.pipeline.advice import Advice, advise
from mesalens.pipeline.alignment_gap import direct_test
from mesalens.pipeline.bootstrap import DEFAULT_THRESHOLD, BootstrapResult, bootstrap
from mesalens.pipeline.check_result import CheckResult
from mesalens.pipeline.checker import check
from mesalens.pipeline.ci_tests import KCI_MAX_ROWS
from mesalens.pipeline.confirmation import Confirmation, Tolerance, confirm
from mesalens.pipeline.deterministic_rule import (
    DeterministicResult,
    regime_statistics,
    resolve_relations,
)
from mesalens.pipeline.discovery import SCORE_BASED, discover
from mesalens.pipeline.discovery_result import DiscoveryResult
from mesalens.pipeline.errors import DiscoveryError, RoleError
from mesalens.pipeline.formats.names import clip, name_problem
from mesalens.pipeline.gap_results import DirectTestResult, DirectTestSettings
from mesalens.pipeline.knowledge import Knowledge
from mesalens.pipeline.method_choice import AUTO, MethodChoice, choose_method
from mesalens.pipeline.roles import Roles, resolve_patterns
from mesalens.pipeline.sensitivity import SensitivityResult, sensitivity_analysis
from mesalens.pipeline.statistics import SufficientStatistics, compute_statistics

__all__ = [
    "AnalysisResult",
    "DiscoverySettings",
    "EvidenceSettings",
    "analyze",
    "require_column_names",
    "require_role_columns",
]


@dataclass(frozen=True)
class DiscoverySettings:
    """How to learn the class (see :func:`mesalens.pipeline.discovery.discover`)."""

    # "auto": chosen for the data by measured accuracy (mesalens.pipeline.method_choice).
    method: str = AUTO
    test: str = "auto"
    alpha: float = 0.01
    max_depth: int = -1
    seed: int = 0
    # Deterministic relations among the columns: "drop" leaves columns out by
    # the rule of mesalens.pipeline.deterministic_rule, "error" stops.
    deterministic: str = "drop"


@dataclass(frozen=True)
class EvidenceSettings:
    """Which evidence beyond the structural verdict to gather, and how."""

    # Bootstrap the whole discovery + check on this many Poisson resamples
    # (0: off); the verdict is stable when at least `stability_threshold` of
    # them reproduce it (mesalens.pipeline.bootstrap).
    bootstrap: int = 0
    stability_threshold: float = DEFAULT_THRESHOLD

    # Linear-Gaussian sensitivity analysis per σ-graph (mesalens.pipeline.sensitivity).
    sensitivity: bool = True

    # What would settle a `some` and which policy inputs would pass, over the
    # learned class (mesalens.pipeline.advice).
    advice: bool = True

    # The direct finite-sample test of Y_b ⊥ s | Y_m and the alignment gap on the
    # pooled logs, its regression estimators on a seeded sample of at most
    # `direct_test_rows` rows (mesalens.pipeline.alignment_gap).
    direct_test: bool = True
    direct_test_rows: int = 100_000
    # Run the direct test only when the structural verdict is `all`, the one
    # verdict whose exit code it decides (the simulation study's economy; a
    # run gathers it whatever the verdict, for the report).
    direct_test_only_for_all: bool = False
    # The level of the direct test's tests, and of the equivalence test on its gaps.
    direct_test_alpha: float = DirectTestSettings.alpha

    # The largest alignment gap a reviewer accepts: a structural `all` is
    # confirmed (exit code 0) only when the direct test's gaps are within it
    # (mesalens.pipeline.confirmation).
    tolerance: Tolerance = field(default_factory=lambda: Tolerance(0.1, "sd"))

    @property
    def sample_rows(self) -> int:
        """Rows the loader's pass should sample for these stages (0: none).

        Pass it as ``load_regimes(sample_rows=..., seed=...)`` with the
        analysis seed: the direct test then takes its sample from the pass
        instead of reading the data again.
        """
        return self.direct_test_rows if self.direct_test else 0


@dataclass
class AnalysisResult:
    """Everything one run learned, for the reports."""

    roles: Roles
    statistics: SufficientStatistics
    discovery: DiscoveryResult
    check: CheckResult
    timings: dict[str, float] = field(default_factory=dict)
    bootstrap: BootstrapResult | None = None
    sensitivity: SensitivityResult | None = None
    direct_test: DirectTestResult | None = None
    confirmation: Confirmation | None = None
    # The deterministic relations found and the columns left out for them.
    deterministic: DeterministicResult | None = None
    # What would settle the verdict, and which policy inputs would pass.
    advice: Advice | None = None


def require_column_names(columns: Sequence[str]) -> None:
    """Raise :class:`InputError` for a column name no output can hold (see ``name_problem``).

    The graph files, the report and the terminal all name the columns; a name
    with a control character or a lone surrogate would be written where no
    reader (``check-graph`` among them) could read it back.
    """
    for column in columns:
        problem = name_problem(column)
        if problem is not None:
            raise InputError(
                f"column {clip(column)} {problem}; rename it in the logs, or leave it out "
                "with --columns"
            )


def require_role_columns(roles: Roles, columns: tuple[str, ...], regime_name: str) -> None:
    """Raise :class:`RoleError` unless every role and policy input is a column of the data."""
    if roles.regime != regime_name:
        raise RoleError(
            f"the regime role is {roles.regime!r} but the data's regime column is "
            f"{regime_name!r}; pass --regime-name {roles.regime} or use {regime_name!r}"
        )
    named = [*roles.role_sets(), ("policy-inputs", roles.policy_inputs or ())]
    for option, names in named:
        missing = [n for n in names if n not in columns]
        if missing:
            raise RoleError(
                f"--{option} names {', '.join(repr(m) for m in missing)}, not a column of the "
                f"data; the columns are {', '.join(repr(c) for c in columns)}; fix the "
                "spelling, or add it to --columns (config: columns) if you chose the columns"
            )


def _knowledge_for(
    knowledge: Knowledge | None,
    every: Sequence[str],
    kept: Sequence[str],
) -> Knowledge | None:
    """The knowledge checked against every column, then restricted to the columns kept.

    A knowledge file written for the whole dump may name columns that the
    deterministic-relations rule left out; what it says about them goes with
    them (the columns left out are listed with their reasons).
    """
    if knowledge is None:
        return None
    knowledge.validate(every)
    if knowledge.names() <= set(kept):
        return knowledge
    return knowledge.restricted(kept)


def analyze(
    data: LoadedData,
    roles: Roles,
    settings: DiscoverySettings | None = None,
    *,
    knowledge: Knowledge | None = None,
    evidence: EvidenceSettings | None = None,
    on_stage: Callable[[str], None] | None = None,
    on_test: Callable[[int, int], None] | None = None,
) -> AnalysisResult:
    """Learn the class from ``data`` and decide the criterion over it.

    Parameters
    ----------
    data : LoadedData
        The pooled regimes from :func:`mesalens.connectors.load_regimes`.
    roles : Roles
        The roles; the regime must be the data's regime column.
    settings : DiscoverySettings, optional
        Method, test, alpha, depth and seed (defaults: the method chosen for
        the data (``auto``), automatic test,
        alpha 0.01).
    knowledge : Knowledge, optional
        Background knowledge (tiers, forbidden and required edges).
    evidence : EvidenceSettings, optional
        The evidence to gather after the check (defaults: see the class).
    on_stage : callable, optional
        Called with ``"statistics"``, ``"discovery"`` and ``"check"`` as each
        stage starts (for progress displays), then with the name of each
        evidence stage (``"bootstrap"`` and its sub-stages, ...); in the
        direct test with ``"direct test (regime pairs DONE/TOTAL)"`` as it goes.
    on_test : callable, optional
        Passed to discovery: called after each CI test.

    Raises
    ------
    RoleError, DataError, DiscoveryError, GraphError
        With one-line messages naming the problem; :class:`DiscoveryError`
        before discovery when the KCI test is asked for on more than
        :data:`~mesalens.pipeline.ci_tests.KCI_MAX_ROWS` rows or with the
        bootstrap.
    """
    settings = settings or DiscoverySettings()
    evidence = evidence or EvidenceSettings()
    roles = resolve_patterns(roles, data.variables)
    require_column_names(data.columns)
    require_role_columns(roles, data.columns, data.regime_name)
    timings: dict[str, float] = {}

    def stage(name: str) -> float:
        if on_stage is not None:
            on_stage(name)
        return time.perf_counter()

    start = stage("statistics")
    # The loader's pass already summarised the data: no second read.
    statistics = compute_statistics(
        lambda: data.frame, data.kinds, data.columns, precomputed=data.profile
    )
    # Constant, derived and equivalent columns: found from the statistics and
    # left out by the rule of --deterministic (or an error), before discovery.
    deterministic, statistics = resolve_relations(
        statistics,
        roles,
        policy=settings.deterministic,
        per_regime=regime_statistics(data, data.variables),
    )
    columns = deterministic.kept
    knowledge = _knowledge_for(knowledge, data.columns, columns)
    timings["statistics"] = time.perf_counter() - start

    choice = None
    if settings.method == AUTO:
        choice = choose_method(
            statistics,
            regime=data.regime_name,
            knowledge=knowledge,
            test=settings.test,
            max_depth=settings.max_depth,
        )
        settings = replace(settings, method=choice.method)
    # KCI reads rows, not statistics: refuse what it cannot do before any work.
    raw_rows = _needs_rows(settings)
    if raw_rows:
        _check_kci(statistics.n, evidence)
    start = stage("discovery")
    learned = discover(
        statistics,
        method=settings.method,
        test=settings.test,
        alpha=settings.alpha,
        max_depth=settings.max_depth,
        knowledge=knowledge,
        regime=data.regime_name,
        seed=settings.seed,
        progress=on_test,
        raw=_pooled_rows(data, statistics) if raw_rows else None,
    )
    if choice is not None:
        _record_choice(learned, choice)
    timings["discovery"] = time.perf_counter() - start

    start = stage("check")
    # A PAG (FCI) is checked over its MAGs (mesalens.pipeline.pag_checker).
    result = check(learned.graph, roles)
    timings["check"] = time.perf_counter() - start
    analysis = AnalysisResult(
        roles=roles,
        statistics=statistics,
        discovery=learned,
        check=result,
        timings=timings,
        deterministic=deterministic,
    )

    # Evidence beyond the graph: each stage fills its own field of `analysis`.
    if evidence.bootstrap:
        start = stage("bootstrap")
        analysis.bootstrap = bootstrap(
            data.frame,
            data.kinds,
            columns,
            roles,
            main_graph=learned.graph,
            main_check=result,
            replicates=evidence.bootstrap,
            seed=settings.seed,
            threshold=evidence.stability_threshold,
            method=settings.method,
            test=settings.test,
            alpha=settings.alpha,
            max_depth=settings.max_depth,
            knowledge=knowledge,
            on_stage=on_stage,
        )
        timings["bootstrap"] = time.perf_counter() - start
    if evidence.advice:
        start = stage("advice")
        analysis.advice = advise(result)
        timings["advice"] = time.perf_counter() - start
    if evidence.sensitivity:
        start = stage("sensitivity")
        analysis.sensitivity = sensitivity_analysis(
            statistics, result, regime_labels=data.regime_labels
        )
        timings["sensitivity"] = time.perf_counter() - start
    if evidence.direct_test and (not evidence.direct_test_only_for_all or result.verdict == "all"):
        start = stage("direct test")
        analysis.direct_test = direct_test(
            data,
            base=roles.base,
            mesa=roles.mesa,
            statistics=statistics,
            settings=DirectTestSettings(
                rows=evidence.direct_test_rows,
                seed=settings.seed,
                alpha=evidence.direct_test_alpha,
            ),
            too_few_rows="skip",
            on_progress=None
            if on_stage is None
            else lambda done, total: on_stage(f"direct test (regime pairs {done}/{total})"),
        )
        timings["direct_test"] = time.perf_counter() - start
    analysis.confirmation = confirm(
        result.verdict,
        None if analysis.direct_test is None else analysis.direct_test.as_dict(),
        evidence.tolerance,
        rows={label: s.rows_kept for label, s in data.summary.items()},
        alpha=evidence.direct_test_alpha,
    )
    return analysis


def _record_choice(learned: DiscoveryResult, choice: MethodChoice) -> None:
    """Say in the discovery settings that ``auto`` chose the method, and why."""
    learned.settings["method_choice"] = choice.as_dict()


def _needs_rows(settings: DiscoverySettings) -> bool:
    """Whether discovery will run a test on the rows (KCI; GES, BOSS and GRaSP use no test)."""
    return settings.test == "kci" and settings.method not in SCORE_BASED


def _check_kci(rows: int, evidence: EvidenceSettings) -> None:
    """Refuse, in the user's terms, a KCI run that cannot work (before any output)."""
    if rows > KCI_MAX_ROWS:
        raise DiscoveryError(
            f"the KCI test is limited to {KCI_MAX_ROWS:,} rows (it builds n x n kernel matrices) "
            f'but the data have {rows:,}; use --test fisherz or --test dg (test = "fisherz" '
            f"in a job file), or give it at most {KCI_MAX_ROWS:,} rows"
        )
    if evidence.bootstrap:
        raise DiscoveryError(
            "the bootstrap resamples sufficient statistics, not rows, so it cannot rerun the "
            "KCI test; turn it off (--bootstrap 0) or use another test"
        )


def _pooled_rows(data: LoadedData, statistics: SufficientStatistics) -> np.ndarray:
    """The pooled complete rows as an ``n x p`` array in the statistics' column order.

    A discrete column is encoded as the statistics encode it: its value when
    its levels are numbers, else its level index. The rows come from the
    loader's pooled sample when that holds every row (``sample_rows`` at
    least ``n``, as the direct test's default asks), else from reading the
    frame once, so ``n`` must be small (KCI refuses more than
    :data:`KCI_MAX_ROWS`). They are sorted, which makes the array the same
    whichever way it was read.
    """
    columns = list(statistics.columns)
    profile = data.profile
    if (
        profile is not None
        and profile.pooled_sample is not None
        and len(profile.pooled_sample) == statistics.n
    ):
        frame = profile.pooled_sample[columns]
    else:
        frame = data.frame[columns].compute()
    if len(frame) != statistics.n:  # the statistics and the rows must describe the same data
        raise DiscoveryError(
            f"read {len(frame):,} rows for the KCI test but the statistics count "
            f"{statistics.n:,}; did the data change during the run? Run it again"
        )
    raw = np.column_stack([statistics.plain_values(name, frame[name]) for name in columns])
    return raw[np.lexsort(raw.T[::-1])]
