"""The bootstrap's local process pool gives what the in-process path gives.

``bootstrap(..., processes=True)`` runs every replicate after the first in a
spawn-context :class:`~concurrent.futures.ProcessPoolExecutor`. Replicates
are deterministic in ``(seed, replicate)``, so the pool must return the very
same outcomes, edge frequencies and error messages as ``processes=False``; a
worker that dies is counted as an ``error`` replicate, as on a cluster.
Spawned workers import numpy, scipy and causal-learn afresh (seconds each),
so every test here uses three replicates or fewer.
"""

from __future__ import annotations

import multiprocessing
import os

import dask.dataframe as dd

from mesalens.pipeline.bootstrap import BootstrapResult, bootstrap
from mesalens.pipeline.checker import check
from tests.test_bootstrap import COLUMNS, KINDS, ROLES, borderline, main_result

# Seed 4 of the borderline data: replicate 0 (always run in the parent) and
# replicate 2 learn the leak regime --> reward (verdict "none"), replicate 1
# does not ("all"); so the pool's replicates 1 and 2 differ from each other.
SEED = 4
# Seed 14: replicate 0 gives "all", replicate 1 learns the leak ("none").
SEED_LEAK_SECOND = 14


def run(processes: bool, replicates: int = 3, seed: int = SEED, **options) -> BootstrapResult:
    frame = borderline()
    graph, result = main_result(frame)
    return bootstrap(
        dd.from_pandas(frame, npartitions=2, sort=False),
        KINDS,
        COLUMNS,
        ROLES,
        main_graph=graph,
        main_check=result,
        replicates=replicates,
        seed=seed,
        processes=processes,
        **options,
    )


# Module-level, so that spawned workers can unpickle them.
def crash_on_the_leak(graph, roles):
    """A check with a bug: it fails whenever the regime is adjacent to the reward."""
    if graph.edge("regime", "reward") is not None:
        raise ZeroDivisionError("boom")
    return check(graph, roles)


def die_in_a_worker(graph, roles):
    """Kill the process running it when that is a pool worker (as the OOM killer would)."""
    if multiprocessing.parent_process() is not None:
        os._exit(3)
    return check(graph, roles)


def test_the_pool_gives_the_same_outcomes_shares_and_edges_as_the_parent():
    done = []
    pooled = run(True, on_replicate=lambda k, total: done.append((k, total)))
    local = run(False)
    assert [o.verdict for o in local.outcomes] == ["none", "all", "none"]
    assert pooled.outcomes == local.outcomes
    assert pooled.edges == local.edges
    assert pooled.counts == local.counts and pooled.stable == local.stable
    assert pooled.as_dict() == local.as_dict()
    assert done == [(1, 3), (2, 3), (3, 3)]


def test_a_failing_replicate_in_a_worker_is_reported_as_in_the_parent():
    # Two replicates, so one worker: replicate 1 fails in it.
    pooled = run(True, replicates=2, seed=SEED_LEAK_SECOND, check_graph=crash_on_the_leak)
    local = run(False, replicates=2, seed=SEED_LEAK_SECOND, check_graph=crash_on_the_leak)
    assert run(False, replicates=2, seed=SEED_LEAK_SECOND).counts["none"] == 1
    assert pooled.errors == local.errors == [(1, "check: ZeroDivisionError: boom")]
    assert pooled.outcomes == local.outcomes
    assert pooled.counts == {"all": 1, "some": 0, "none": 0, "invalid": 0, "error": 1}
    # The graph of the failed check still counts for the edge frequencies.
    assert pooled.edges == local.edges and all(e.learned == 2 for e in pooled.edges)
    assert pooled.as_dict()["errors"] == [
        {"replicate": 1, "message": "check: ZeroDivisionError: boom"}
    ]


def test_a_worker_that_dies_is_an_error_replicate_not_the_end_of_the_bootstrap():
    # Two replicates: the first runs in the parent, the second in a one-worker pool.
    result = run(True, replicates=2, check_graph=die_in_a_worker)
    assert result.outcomes[0].verdict == "none" and result.outcomes[0].error is None
    ((replicate, message),) = result.errors
    assert replicate == 1 and message.startswith("worker: BrokenProcessPool: ")
    assert result.counts["error"] == 1 and not result.stable
