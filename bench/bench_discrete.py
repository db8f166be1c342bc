"""Discrete discovery against causal-learn on the raw array: bnlearn networks, G², PC.

The case of issue 15: data sampled from a bnlearn network that pgmpy ships
(``insurance``, ``child``, ``alarm``), ``--rows`` rows per regime (20,000),
all its variables plus the regime. Training is a forward sample; deployment
shifts the first root node (alphabetically) by keeping every row at its
first state and a quarter of the others, so only that root's distribution
moves. For each network, in this one process:

* **mesalens**: the sufficient statistics of the pooled regimes (one pass,
  timed apart), then :func:`~mesalens.pipeline.discovery.discover` with PC
  and the G² test at ``--alpha``, answering every test from the joint cell
  counts;
* **causal-learn**: ``pc(data, alpha, "gsq", stable=True, uc_rule=0,
  uc_priority=2)`` on the raw integer array (the level codes), with the
  knowledge mesalens gives it (nothing points into the regime);
* optionally (``--before``) mesalens' previous G² test (a
  :func:`numpy.unique` over the conditioning columns per test, kept below as
  :class:`UniqueRowsGSquare`) on the same statistics.

causal-learn is imported before anything is timed. Each search runs
``--repeat`` times in turn (mesalens, causal-learn, ...); reported are the
best wall and CPU of each, their ratio, the CI tests run, and whether the
graphs are equal (mesalens' graph against causal-learn's, after causal-learn's
graph gets the same regime-root closure). Run under ``nice`` on a shared
machine; the ratio is what carries over.

Run from the repository root::

    nice -n 10 .venv/bin/python bench/bench_discrete.py --rows 20000 --repeat 1
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd
from scipy.special import chdtrc

from mesalens.pipeline.ci_tests import IndependenceTest
from mesalens.pipeline.contingency import g_squared

NETWORKS = ("insurance", "child", "alarm")


def sample(name: str, rows: int) -> pd.DataFrame:
    """Training and shifted deployment rows of a bnlearn network, pooled with a regime column."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgmpy.sampling import BayesianModelSampling
        from pgmpy.utils import get_example_model

        model = get_example_model(name)
        sampler = BayesianModelSampling(model)
        train = sampler.forward_sample(size=rows, seed=1, show_progress=False)
        pool = sampler.forward_sample(size=4 * rows, seed=2, show_progress=False)
    root = sorted(n for n in model.nodes if not list(model.predecessors(n)))[0]
    first = model.get_cpds(root).state_names[root][0]
    keep = (pool[root] == first) | (np.random.default_rng(3).random(len(pool)) < 0.25)
    deploy = pool[keep].head(rows)
    columns = sorted(train.columns)
    frame = pd.concat(
        [train[columns].assign(regime=0), deploy[columns].assign(regime=1)], ignore_index=True
    )
    return frame[["regime", *columns]]


class UniqueRowsGSquare(IndependenceTest):
    """mesalens' G² test before the stratum cache: ``numpy.unique(axis=0)`` per test."""

    name = "gsq"

    def __init__(self, stats):
        self.codes = stats.discrete_codes
        self.weights = stats.cell_counts.astype(np.float64)
        self.cardinality = [stats.cardinality(c) for c in stats.columns]

    def __call__(self, x, y, conditioning):
        card_x, card_y = self.cardinality[x], self.cardinality[y]
        xy = self.codes[:, x] * card_y + self.codes[:, y]
        if conditioning:
            _, stratum = np.unique(self.codes[:, list(conditioning)], axis=0, return_inverse=True)
            stratum = stratum.reshape(-1)
            strata = int(stratum.max()) + 1
        else:
            stratum, strata = np.zeros(len(xy), dtype=np.int64), 1
        table = np.bincount(
            stratum * (card_x * card_y) + xy, weights=self.weights,
            minlength=strata * card_x * card_y,
        ).reshape(strata, card_x, card_y)  # fmt: skip
        table = table[table.sum(axis=(1, 2)) > 0]
        statistic, dof = g_squared(table)
        return statistic, 1.0 if dof <= 0 else float(chdtrc(dof, statistic))


def timed(function, repeat: int):
    best_wall = best_cpu = float("inf")
    result = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return result, best_wall, best_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows per regime")
    parser.add_argument("--alpha", type=float, default=0.01)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--networks", default=",".join(NETWORKS))
    parser.add_argument("--before", action="store_true", help="also time the previous G² test")
    args = parser.parse_args()

    from causallearn.graph.GraphNode import GraphNode
    from causallearn.search.ConstraintBased.PC import pc
    from causallearn.utils.PCUtils.BackgroundKnowledge import BackgroundKnowledge

    from mesalens.pipeline.discovery import discover
    from mesalens.pipeline.formats.causallearn import from_causallearn
    from mesalens.pipeline.pdag import Pdag, orient_and_close
    from mesalens.pipeline.statistics import compute_statistics

    print(f"load average before: {os.getloadavg()[0]:.1f}", file=sys.stderr)
    print(
        "| network | variables | cells | statistics (one pass) | mesalens search: wall / CPU | "
        "causal-learn on the raw array: wall / CPU | CPU ratio (causal-learn / mesalens) | "
        "CI tests | same graph |" + (" before: wall / CPU |" if args.before else "")
    )
    print("|---|---|---|---|---|---|---|---|---|" + ("---|" if args.before else ""))
    for network in args.networks.split(","):
        frame = sample(network, args.rows)
        names = list(frame.columns)
        data = np.column_stack([pd.factorize(frame[c], sort=True)[0] for c in names])
        data = data.astype(np.int64)
        categorical = frame.astype({c: "category" for c in names[1:]})
        kinds = dict.fromkeys(names, "discrete")
        stats, stats_wall, _ = timed(lambda: compute_statistics(categorical, kinds, names), 1)  # noqa: B023

        def ours(test="gsq", stats=stats):
            return discover(stats, method="pc", test=test, alpha=args.alpha, regime="regime")

        def theirs(data=data, names=names):
            nodes = [GraphNode(name) for name in names]
            bk = BackgroundKnowledge()
            for node in nodes[1:]:
                bk.add_forbidden_by_node(node, nodes[0])
            return pc(
                data, args.alpha, "gsq", stable=True, uc_rule=0, uc_priority=2,
                background_knowledge=bk, node_names=names, show_progress=False,
            )  # fmt: skip

        mine, wall, cpu = timed(ours, args.repeat)
        cl, cl_wall, cl_cpu = timed(theirs, args.repeat)
        their_graph = Pdag.from_graph(from_causallearn(cl.G, names))
        orient_and_close(their_graph, 0, ())
        same = mine.graph == their_graph.to_graph(names)
        row = (
            f"| {network} | {len(names)} | {len(stats.cell_counts):,} | {stats_wall:.1f} s | "
            f"{wall:.1f} s / {cpu:.1f} s | {cl_wall:.1f} s / {cl_cpu:.1f} s | "
            f"{cl_cpu / cpu:.1f} | {len(mine.ci_tests):,} | {'yes' if same else 'no'} |"
        )
        if args.before:
            old, old_wall, old_cpu = timed(lambda: ours(UniqueRowsGSquare(stats)), 1)  # noqa: B023
            assert old.graph == mine.graph
            row += f" {old_wall:.1f} s / {old_cpu:.1f} s |"
        print(row, flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}", file=sys.stderr)


if __name__ == "__main__":
    main()
