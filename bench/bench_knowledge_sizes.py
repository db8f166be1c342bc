"""How small is the knowledge that settles a ``some``, and in which form?

Run from the repository root:
``.venv/bin/python bench/bench_knowledge_sizes.py [GRAPHS] [SEED]`` (default
300 graphs, seed 0). Prints a markdown table (bench/RESULTS.md, section
"Advice: knowledge in three forms, and PAGs").

Random 6-node DAGs (each forward edge with probability 0.55, the regime
first), their CPDAGs (tests/reference.py), kept when they have three or
more undirected edges and no edge into the regime; on each, every
single-decision role assignment (base one node, mesa one or two, policy
``keep``, the regime, or nothing) whose verdict is ``some`` is advised,
and the smallest knowledge the advice lists is tallied by size and form.
"""

from __future__ import annotations

import itertools
import random
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mesalens.pipeline.advice import advise
from mesalens.pipeline.checker import check
from mesalens.pipeline.errors import MesalensError
from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.roles import Roles
from tests.reference import cpdag_of

NAMES = ["regime", "a", "b", "c", "d", "e"]


def _graphs(count: int, seed: int):
    rng = random.Random(seed)
    made = 0
    while made < count:
        n = len(NAMES)
        dag = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < 0.55]
        directed, undirected = cpdag_of(n, dag)
        if len(undirected) < 3 or any(h == 0 for _, h in directed):
            continue
        graph = CausalGraph(NAMES)
        for u, v in directed:
            graph.add_edge(NAMES[u], NAMES[v], "-->")
        for u, v in undirected:
            graph.add_edge(NAMES[u], NAMES[v], "---")
        made += 1
        yield graph


def _roles():
    nodes = NAMES[1:]
    for d in nodes:
        rest = [v for v in nodes if v != d]
        for base in rest:
            others = [v for v in rest if v != base]
            for k in (1, 2):
                for mesa in itertools.combinations(others, k):
                    for inputs in (None, ("regime",), ()):
                        yield Roles("regime", (base,), mesa, (d,), inputs)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    found: Counter[str] = Counter()
    for graph in _graphs(count, seed):
        for roles in _roles():
            try:
                result = check(graph, roles)
            except MesalensError:
                continue
            if result.verdict != "some":
                continue
            found["some"] += 1
            rows = advise(result).to_dict()["knowledge"]
            forms = {row["form"] for row in rows}
            size = rows[0]["size"] if rows else None
            if size is None:
                found["nothing of size 1 or 2 settles it"] += 1
            elif size == 2:
                found["size 2 (pairs, or three tiers)"] += 1
            elif "required" in forms:
                found["size 1, a single required edge among them"] += 1
                found["  of which a tier file (size 1) is listed too"] += "tiers" in forms
            else:
                found["size 1 by tiers only"] += 1
    print(f"| {count} graphs, seed {seed} | `some` cases |")
    print("|---|---|")
    for label in (
        "some",
        "size 1, a single required edge among them",
        "  of which a tier file (size 1) is listed too",
        "size 1 by tiers only",
        "size 2 (pairs, or three tiers)",
        "nothing of size 1 or 2 settles it",
    ):
        print(f"| {label.strip()} | {found[label]} |")


if __name__ == "__main__":
    main()
