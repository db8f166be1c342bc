"""Listing every DAG of a class: throughput and memory, against graphical_models and cliquepicking.

Run from the repository root: ``.venv/bin/python bench/bench_listing.py``.
Prints markdown tables (the ones in bench/RESULTS.md, "Listing throughput
and memory").

Implementations, all handed a prebuilt input (built outside the timing):

* ours: ``iter_dag_edges(pdag)`` (edge lists) and
  ``iter_topological_orders(pdag)`` (one topological order per DAG), both
  generators;
* ``cliquepicking.mec_list_dags(arcs)`` / ``mec_list_orders(arcs)`` (Rust,
  return the whole list; an undirected edge is both ``(a, b)`` and ``(b, a)``);
* ``graphical_models.PDAG(...).all_dags()`` (pure Python, returns a set of
  frozensets of arcs).

Every measurement runs in a fresh subprocess (``--worker``): the listing is
consumed fully, counting, and repeated (the best of up to five runs; a class
with few DAGs is listed many times per run) for DAGs per second, in CPU time
of the process (``time.process_time``: the machine is shared; cliquepicking is
single-threaded). Peak RSS is ``ru_maxrss`` after the timed runs minus
``ru_maxrss`` after the imports and the input; the tracemalloc peak comes from
one more listing with tracemalloc on (Python-level allocations only:
cliquepicking's Rust-side buffers are seen by RSS, not by tracemalloc). The
driver itself stays small (the graphs are built in a subprocess too), since
Linux carries a parent's peak RSS into a child's ``ru_maxrss``.

cliquepicking panics (Rust index out of bounds, raised as pyo3's
``PanicException``, a ``BaseException``) on a graph that is one undirected
clique. A table of its own records that, and the workarounds of an extra
isolated node and of an extra pendant node; the throughput runs on complete
graphs use the isolated node (node 0, the clique on 1..n). Its output is
checked against ours on every graph but K9 (same set of DAGs, each acyclic,
same skeleton, no v-structure, no duplicates), graphical_models' by a
fingerprint of its set of DAGs (a sum of ``hash(frozenset(arcs))``, which is
deterministic for tuples of ints).
"""

from __future__ import annotations

import gc
import itertools
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from datetime import date
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MIN_RUN_TIME = 0.8  # seconds of timed listing per measurement, at least one run
MAX_RUNS = 5
MIN_LISTING_TIME = 0.2  # a run lists the class this long at least (small classes)
WORKER_TIMEOUT = 240
MASK = (1 << 64) - 1


def complete(n: int) -> list[tuple[int, int]]:
    return list(itertools.combinations(range(n), 2))


def path(n: int) -> list[tuple[int, int]]:
    return [(i, i + 1) for i in range(n - 1)]


# Dense chordal graphs of bench.graphs.random_chordal_edges: name -> (n, seed, max_clique),
# extend 0.8; 10^4..10^5 DAGs each.
CHORDAL = {
    "chordal A": (14, 2, 6),
    "chordal B": (16, 0, 5),
    "chordal C": (14, 0, 6),
}


def build_graphs() -> dict[str, tuple[int, list[tuple[int, int]]]]:
    """Name -> (nodes, undirected edges); all deterministic."""
    from bench.graphs import random_chordal_edges  # imports mesalens: not in the workers

    graphs = {f"K{k}": (k, complete(k)) for k in (6, 7, 8, 9)}
    graphs["path12"] = (12, path(12))
    for name, (n, seed, max_clique) in CHORDAL.items():
        graphs[name] = (n, random_chordal_edges(n, seed, max_clique, 0.8))
    return graphs


THROUGHPUT_GRAPHS = ["K8", "path12", "chordal A", "chordal B", "chordal C"]
SCALING_GRAPHS = ["K6", "K7", "K8", "K9"]
IMPLS = ["ours edges", "ours orders", "cp dags", "cp orders", "gm all_dags"]
IMPL_LABEL = {
    "ours edges": "ours `iter_dag_edges`",
    "ours orders": "ours `iter_topological_orders`",
    "cp dags": "cliquepicking `mec_list_dags`",
    "cp orders": "cliquepicking `mec_list_orders`",
    "gm all_dags": "graphical_models `PDAG.all_dags`",
}
# graphical_models is too slow and too big for these (an estimate is printed).
GM_SKIP = {"K9", "chordal C"}


def traced(impl: str, graph: str) -> bool:
    """Whether to take a tracemalloc peak: it is a separate, slower listing.

    tracemalloc slows our generators ~10x (every dict resize is an allocation)
    and graphical_models ~3x; to stay within minutes, it is left out where it
    says nothing new (peak RSS is measured everywhere).
    """
    if impl == "gm all_dags":
        return graph in ("K6", "path12")
    if impl.startswith("cp"):
        return graph != "K9"  # the 362,880-DAG lists: RSS shows them
    return graph != "chordal C" and (impl, graph) != ("ours edges", "K9")


def undirected_arcs(edges, shift: int = 0) -> list[tuple[int, int]]:
    """Both directions of every edge, as cliquepicking wants them."""
    return [arc for a, b in edges for arc in ((a + shift, b + shift), (b + shift, a + shift))]


def is_clique(n: int, edges) -> bool:
    return len(edges) == n * (n - 1) // 2


# --------------------------------------------------------------------------- worker


def _listing(impl: str, n: int, edges):
    """The call that lists the class once and an iterable it returns."""
    if impl.startswith("ours"):
        from mesalens.pipeline.enumeration import iter_dag_edges, iter_topological_orders
        from mesalens.pipeline.pdag import Pdag, meek_closure

        g = Pdag(n)
        for a, b in edges:
            g.add_undirected(a, b)
        meek_closure(g)
        fn = iter_dag_edges if impl == "ours edges" else iter_topological_orders
        return lambda: fn(g)
    if impl.startswith("cp"):
        import cliquepicking

        fn = cliquepicking.mec_list_dags if impl == "cp dags" else cliquepicking.mec_list_orders
        arcs = undirected_arcs(edges)
        return lambda: fn(arcs)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from graphical_models import PDAG
    pdag = PDAG(nodes=set(range(n)), edges=set(edges))
    return pdag.all_dags


def _count(iterable) -> int:
    count = 0
    for _ in iterable:
        count += 1
    return count


def worker(spec: dict) -> dict:
    impl, n, edges = spec["impl"], spec["n"], [tuple(e) for e in spec["edges"]]
    if spec.get("isolated"):  # cliquepicking's workaround: node 0 isolated, the graph on 1..n
        n, edges = n + 1, [(a + 1, b + 1) for a, b in edges]
    listing = _listing(impl, n, edges)
    gc.collect()
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out: dict = {}
    try:
        start = time.process_time()
        listed = listing()
        count = _count(listed)
        first = time.process_time() - start
        if impl == "gm all_dags":  # an order-free fingerprint of its set of DAGs, vs ours
            out["fingerprint"] = sum(hash(frozenset(d)) for d in listed) & MASK
        del listed
        inner = math.ceil(MIN_LISTING_TIME / max(first, 1e-6)) if first < MIN_LISTING_TIME else 1
        times = [first] if inner == 1 else []
        spent = first
        while not times or (spent < MIN_RUN_TIME and len(times) < MAX_RUNS):
            start = time.process_time()
            for _ in range(inner):
                _count(listing())
            elapsed = time.process_time() - start
            times.append(elapsed / inner)
            spent += elapsed
    except BaseException as exc:  # cliquepicking's PanicException is a BaseException
        return {"crashed": f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"}
    out.update(count=count, best=min(times), runs=len(times), inner=inner)
    out["rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_rss
    if spec.get("trace"):
        gc.collect()
        tracemalloc.start()
        _count(listing())
        out["trace_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return out


# --------------------------------------------------------------------------- checks


def _check_dags(n: int, edges, dags) -> list[str]:
    """Problems with a list of DAGs (edge lists) claimed to be the class of an undirected graph."""
    problems = []
    skeleton = {frozenset(e) for e in edges}
    adjacent = skeleton
    bad_skeleton = cyclic = vstruct = 0
    for dag in dags:
        if {frozenset(e) for e in dag} != skeleton or len(dag) != len(skeleton):
            bad_skeleton += 1
            continue
        parents: list[list[int]] = [[] for _ in range(n)]
        indegree = [0] * n
        children: list[list[int]] = [[] for _ in range(n)]
        for a, b in dag:
            parents[b].append(a)
            children[a].append(b)
            indegree[b] += 1
        if any(
            frozenset((p, q)) not in adjacent
            for ps in parents
            for p, q in itertools.combinations(ps, 2)
        ):
            vstruct += 1
        ready = [v for v in range(n) if indegree[v] == 0]
        seen = 0
        while ready:
            v = ready.pop()
            seen += 1
            for w in children[v]:
                indegree[w] -= 1
                if indegree[w] == 0:
                    ready.append(w)
        if seen != n:
            cyclic += 1
    if len({frozenset(d) for d in dags}) != len(dags):
        problems.append(f"{len(dags) - len({frozenset(d) for d in dags})} duplicates")
    for what, k in (("wrong skeleton", bad_skeleton), ("cyclic", cyclic), ("v-structure", vstruct)):
        if k:
            problems.append(f"{k} {what}")
    return problems


def _orders_to_dags(edges, orders, drop=None):
    dags = []
    for order in orders:
        position = {v: k for k, v in enumerate(order) if v != drop}
        dags.append([(a, b) if position[a] < position[b] else (b, a) for a, b in edges])
    return dags


def _cp_call(fn, arcs):
    try:
        return fn(arcs), None
    except BaseException as exc:  # PanicException
        return None, f"crashed ({type(exc).__name__}: {str(exc).splitlines()[0][:80]})"


def checks(graphs: dict) -> dict:
    """cliquepicking's output against ours, and its clique defect with both workarounds."""
    import cliquepicking

    from mesalens.pipeline.enumeration import iter_dag_edges
    from mesalens.pipeline.pdag import Pdag

    result: dict = {"graphs": {}, "defect": []}
    for name, (n, edges) in graphs.items():
        edges = [tuple(e) for e in edges]
        g = Pdag(n)
        for a, b in edges:
            g.add_undirected(a, b)
        ours = {frozenset(d) for d in iter_dag_edges(g)}
        entry = {
            "ours": len(ours),
            "mec_size": cliquepicking.mec_size(undirected_arcs(edges)),
            "fingerprint": sum(hash(d) for d in ours) & MASK,
        }
        isolated = is_clique(n, edges)
        shift = 1 if isolated else 0
        arcs = undirected_arcs(edges, shift)
        for label, fn in (
            ("dags", cliquepicking.mec_list_dags),
            ("orders", cliquepicking.mec_list_orders),
        ):
            listed, crash = _cp_call(fn, arcs)
            if crash:
                entry[label] = crash
                continue
            if label == "dags":
                dags = [[(a - shift, b - shift) for a, b in d] for d in listed]
            else:
                dags = _orders_to_dags(edges, [[v - shift for v in o] for o in listed], drop=-1)
            del listed
            problems = _check_dags(n, edges, dags)
            if {frozenset(d) for d in dags} != ours:
                problems.append("set of DAGs differs from ours")
            entry[label] = "; ".join(problems) or f"OK ({len(dags)} DAGs, = ours)"
        result["graphs"][name] = entry

    for k in (2, 3, 5, 8):
        edges = complete(k)
        g = Pdag(k)
        for a, b in edges:
            g.add_undirected(a, b)
        ours = {frozenset(d) for d in iter_dag_edges(g)}
        row = {"graph": f"K{k}", "DAGs": len(ours)}
        for label, fn in (
            ("dags", cliquepicking.mec_list_dags),
            ("orders", cliquepicking.mec_list_orders),
        ):
            listed, crash = _cp_call(fn, undirected_arcs(edges))
            row[f"plain {label}"] = crash or f"{len(listed)} listed"
            # Workaround 1: an isolated node 0, the clique on 1..k.
            listed, crash = _cp_call(fn, undirected_arcs(edges, 1))
            if crash:
                row[f"isolated {label}"] = crash
            else:
                if label == "dags":
                    dags = [[(a - 1, b - 1) for a, b in d] for d in listed]
                else:
                    dags = _orders_to_dags(edges, [[v - 1 for v in o] for o in listed], drop=-1)
                ok = {frozenset(d) for d in dags} == ours and not _check_dags(k, edges, dags)
                row[f"isolated {label}"] = f"{len(listed)} listed, " + ("= ours" if ok else "WRONG")
            # Workaround 2: a pendant node k hanging from node 0 (a different class:
            # k! DAGs with 0 --> k plus (k-1)! with k --> 0, where 0 is a source).
            listed, crash = _cp_call(fn, undirected_arcs([*edges, (0, k)]))
            if crash:
                row[f"pendant {label}"] = crash
                continue
            if label == "orders":
                listed = _orders_to_dags([*edges, (0, k)], listed)
            kept = [[e for e in d if e != (0, k)] for d in listed if (0, k) in d]
            ok = {frozenset(d) for d in kept} == ours and not _check_dags(k, edges, kept)
            expected = math.factorial(k) + math.factorial(k - 1)
            row[f"pendant {label}"] = (
                f"{len(listed)} listed (k!+(k-1)! = {expected}); keeping 0-->{k} and dropping it: "
                + (f"{len(kept)} = ours" if ok else "WRONG")
            )
        result["defect"].append(row)
    return result


# --------------------------------------------------------------------------- driver


def run_worker(mode: str, payload: dict) -> dict:
    """Run this file in a fresh interpreter (``--worker`` or ``--check``); its JSON answer."""
    env = dict(os.environ, RUST_BACKTRACE="0", PYTHONWARNINGS="ignore")
    cmd = [sys.executable, str(Path(__file__).resolve()), mode]
    try:
        proc = subprocess.run(
            cmd,
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            env=env,
            timeout=WORKER_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"crashed": f"timeout after {WORKER_TIMEOUT} s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"crashed": f"worker exit {proc.returncode}: {tail[:160]}"}
    return json.loads(lines[-1])


def human(nbytes: float | None) -> str:
    if nbytes is None:
        return "–"
    for unit in ("B", "KiB", "MiB"):
        if abs(nbytes) < 1024:
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.2f} GiB"


def rate(res: dict | None) -> float | None:
    return res["count"] / res["best"] if res and "count" in res else None


def ratio(a: float | None, b: float | None) -> str:
    return "–" if a is None or b is None else f"{a / b:.2f}"


def measure(graphs: dict, impl: str, graph: str) -> dict:
    n, edges = graphs[graph]
    spec = {
        "impl": impl,
        "n": n,
        "edges": edges,
        "isolated": impl.startswith("cp") and is_clique(n, edges),
        "trace": traced(impl, graph),
    }
    started = time.perf_counter()
    res = run_worker("--worker", spec)
    res["wall"] = time.perf_counter() - started
    res["isolated"] = spec["isolated"]
    return res


def print_throughput(graphs: dict, results: dict, check: dict) -> None:
    gm_rates = [rate(results.get(("gm all_dags", g))) for g in CHORDAL]
    gm_rates = [r for r in gm_rates if r]
    print("### Throughput and peak memory\n")
    print(
        "| graph | DAGs | implementation | runs × listings | best s / listing | DAGs/s "
        "| peak RSS Δ | tracemalloc peak | output check |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---|")
    for graph in THROUGHPUT_GRAPHS:
        n, edges = graphs[graph]
        title = f"{graph} ({n} nodes, {len(edges)} edges)"
        checked = check["graphs"].get(graph, {})
        for impl in IMPLS:
            res = results.get((impl, graph))
            label = IMPL_LABEL[impl]
            if res is None:
                size = checked.get("ours", 0)
                estimate = f"; est. {size / min(gm_rates):.0f} s at its slowest chordal rate"
                why = "not run (too slow" + (estimate if gm_rates and size else "") + ")"
                print(f"| {title} | {size:,} | {label} | {why} | | | | | |")
                continue
            if res.get("isolated"):
                label += " (+ isolated node 0)"
            if "crashed" in res:
                print(f"| {title} | | {label} | crashed: {res['crashed']} | | | | | |")
                continue
            if impl.startswith("cp"):
                note = checked.get(impl.split()[1], "not checked")
            elif impl == "gm all_dags":
                same = res.get("fingerprint") == checked.get("fingerprint")
                note = "set fingerprint = ours" if same else "**set fingerprint differs from ours**"
            else:
                size = checked.get("mec_size")
                note = (
                    f"count = mec_size ({size:,})"
                    if size == res["count"]
                    else "**count ≠ mec_size**"
                )
            print(
                f"| {title} | {res['count']:,} | {label} | {res['runs']} × {res['inner']} "
                f"| {res['best']:.4g} | {rate(res):,.0f} | {human(res['rss_kib'] * 1024)} "
                f"| {human(res.get('trace_peak'))} | {note} |"
            )


def print_targets(results: dict) -> None:
    print("\n### Targets: ours ≥ 10× graphical_models, and within 3× of cliquepicking\n")
    print("Ratios of DAGs/s (ours ÷ theirs; within 3× means ≥ 0.33).\n")
    print(
        "| graph | edges ÷ gm | orders ÷ gm | edges ÷ cp dags | orders ÷ cp orders "
        "| ≥ 10× gm | within 3× of cp |"
    )
    print("|---|---:|---:|---:|---:|---|---|")
    for graph in THROUGHPUT_GRAPHS:
        ours_e = rate(results.get(("ours edges", graph)))
        ours_o = rate(results.get(("ours orders", graph)))
        gm = rate(results.get(("gm all_dags", graph)))
        cpd = rate(results.get(("cp dags", graph)))
        cpo = rate(results.get(("cp orders", graph)))
        met_gm = "–" if not (gm and ours_e) else ("yes" if ours_e / gm >= 10 else "**no**")
        if cpd and cpo and ours_e and ours_o:
            met_cp = "yes" if min(ours_e / cpd, ours_o / cpo) >= 1 / 3 else "**no**"
        else:
            met_cp = "–"
        print(
            f"| {graph} | {ratio(ours_e, gm)} | {ratio(ours_o, gm)} | {ratio(ours_e, cpd)} "
            f"| {ratio(ours_o, cpo)} | {met_gm} | {met_cp} |"
        )


def print_scaling(graphs: dict, results: dict) -> None:
    print("\n### Memory as the class grows (complete graphs K6..K9)\n")
    sizes = [math.factorial(graphs[g][0]) for g in SCALING_GRAPHS]
    header = " | ".join(f"{g}: {k:,} DAGs" for g, k in zip(SCALING_GRAPHS, sizes, strict=True))
    print(f"| implementation | measure | {header} |")
    print("|---|---|" + "---:|" * len(SCALING_GRAPHS))
    for impl in IMPLS:
        for measure_name, key in (("tracemalloc peak", "trace_peak"), ("peak RSS Δ", "rss_kib")):
            cells = []
            for graph in SCALING_GRAPHS:
                res = results.get((impl, graph))
                if res is None:
                    cells.append("not run")
                elif "crashed" in res:
                    cells.append("crashed")
                elif key == "rss_kib":
                    cells.append(human(res[key] * 1024))
                else:
                    cells.append(human(res[key]) if key in res else "not traced")
            print(f"| {IMPL_LABEL[impl]} | {measure_name} | " + " | ".join(cells) + " |")
        if impl.startswith("ours") or impl.startswith("cp"):
            cells = [f"{rate(results.get((impl, g))) or 0:,.0f}" for g in SCALING_GRAPHS]
            print(f"| {IMPL_LABEL[impl]} | DAGs/s | " + " | ".join(cells) + " |")


def print_defect(check: dict) -> None:
    print("\n### cliquepicking on one undirected clique (the upstream panic) and two workarounds\n")
    if not check["defect"]:
        print("(the check worker did not run)")
        return
    cols = [k for k in check["defect"][0] if k not in ("graph", "DAGs")]
    print("| graph | DAGs | " + " | ".join(cols) + " |")
    print("|---|---:|" + "---|" * len(cols))
    for row in check["defect"]:
        cells = " | ".join(str(row[c]) for c in cols)
        print(f"| {row['graph']} | {row['DAGs']:,} | {cells} |")


def machine() -> str:
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = ", ".join(
        f"{p} {metadata.version(p)}" for p in ("cliquepicking", "graphical-models", "networkx")
    )
    return (
        f"nproc {os.cpu_count()} ({model}), Python {platform.python_version()}, {versions}; "
        f"{date.today().isoformat()}"
    )


DUEL_GRAPHS = ["path12", "K8"]
DUEL_ROUNDS = 15
DUEL_ROUND_TIME = 0.04  # seconds of listing per implementation and round, at least one listing


def duel(graphs: dict) -> dict:
    """Every implementation in ONE process, alternating round by round; best CPU time each.

    The targets are ratios, and ratios taken in one process under the same
    load are the ones to trust on a shared machine. "cold" clears the chain
    structure that ``Pdag`` caches after its first listing, so every listing
    pays its whole setup.
    """
    import warnings

    import cliquepicking

    from mesalens.pipeline.enumeration import iter_dag_edges, iter_topological_orders
    from mesalens.pipeline.pdag import Pdag, meek_closure

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from graphical_models import PDAG

    out: dict = {}
    for name, (n, edges) in graphs.items():
        g = Pdag(n)
        for a, b in edges:
            g.add_undirected(a, b)
        meek_closure(g)
        shift = 1 if is_clique(n, edges) else 0  # cliquepicking's panic: isolated node 0
        arcs = undirected_arcs(edges, shift)
        gm = PDAG(nodes=set(range(n)), edges=set(edges))

        def cold(fn, g=g):
            g._structure = None  # the per-graph cache, see above
            return fn(g)

        calls = {
            "ours orders": lambda g=g: iter_topological_orders(g),
            "ours orders (cold)": lambda cold=cold: cold(iter_topological_orders),
            "ours edges": lambda g=g: iter_dag_edges(g),
            "ours edges (cold)": lambda cold=cold: cold(iter_dag_edges),
            "cp orders": lambda arcs=arcs: cliquepicking.mec_list_orders(arcs),
            "cp dags": lambda arcs=arcs: cliquepicking.mec_list_dags(arcs),
            "gm all_dags": gm.all_dags,
        }
        best = dict.fromkeys(calls, float("inf"))
        inner = {}
        counts = {}
        for impl, call in calls.items():  # calibrate: listings per round
            start = time.process_time()
            counts[impl] = _count(call())
            first = max(time.process_time() - start, 1e-7)
            inner[impl] = max(1, int(DUEL_ROUND_TIME / first))
        names = list(calls)
        for round_ in range(DUEL_ROUNDS):
            # A different implementation goes first in each round.
            shift = round_ % len(names)
            for impl in names[shift:] + names[:shift]:
                call = calls[impl]
                if impl == "gm all_dags" and round_ and inner[impl] == 1:
                    continue  # one slow listing is enough (K8: ~10 s)
                start = time.process_time()
                for _ in range(inner[impl]):
                    _count(call())
                best[impl] = min(best[impl], (time.process_time() - start) / inner[impl])
        out[name] = {
            impl: {"count": counts[impl], "best": best[impl], "inner": inner[impl]}
            for impl in calls
        }
    return out


def print_duel(results: dict) -> None:
    print("\n### Head to head in one process (the ratios the targets are judged by)\n")
    print(
        f"One worker per graph runs every implementation in turn, {DUEL_ROUNDS} rounds of "
        f"at least {DUEL_ROUND_TIME} s each (graphical_models on K8: one listing); best CPU "
        'time per listing. "cold" clears the chain structure a `Pdag` caches after its '
        "first listing, so each listing pays its whole setup.\n"
    )
    print("| graph | implementation | DAGs | best s / listing | DAGs/s | ÷ gm | ÷ cliquepicking |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for graph, res in results.items():
        gm = res["gm all_dags"]["count"] / res["gm all_dags"]["best"]
        for impl, r in res.items():
            speed = r["count"] / r["best"]
            peer = "cp orders" if "orders" in impl else "cp dags"
            vs_cp = (
                f"{speed / (res[peer]['count'] / res[peer]['best']):.2f}"
                if impl.startswith("ours")
                else "–"
            )
            print(
                f"| {graph} | {impl} | {r['count']:,} | {r['best']:.3g} | {speed:,.0f} "
                f"| {speed / gm:.1f} | {vs_cp} |"
            )


def main() -> None:
    total_start = time.perf_counter()
    print(f"Machine: {machine()}; load average at start {os.getloadavg()[0]:.2f}\n", flush=True)
    print(
        "DAGs/s: best CPU time (`time.process_time`) per listing over the runs of one worker; "
        "peak RSS Δ: `ru_maxrss` after the timed runs minus after imports and input; "
        "tracemalloc peak: one more listing, traced.\n"
    )
    # Built in a subprocess: bench.graphs imports mesalens, and a big parent would
    # leak into the workers' ru_maxrss (Linux keeps the peak across fork and exec).
    built = run_worker("--graphs", {})
    graphs = {name: (n, [tuple(e) for e in edges]) for name, (n, edges) in built.items()}
    results: dict[tuple[str, str], dict] = {}
    for graph in dict.fromkeys(THROUGHPUT_GRAPHS + SCALING_GRAPHS):
        for impl in IMPLS:
            if impl == "gm all_dags" and graph in GM_SKIP:
                continue
            res = results[(impl, graph)] = measure(graphs, impl, graph)
            shown = "crashed: " + res["crashed"] if "crashed" in res else f"{rate(res):,.0f} DAGs/s"
            print(f"  {graph:10s} {impl:12s} {shown} ({res['wall']:.1f} s)", file=sys.stderr)
    checked = ["K6", "K7", "K8", "path12", *CHORDAL]
    check = run_worker("--check", {"graphs": {g: graphs[g] for g in checked}})
    if "crashed" in check:
        print(f"checks failed to run: {check['crashed']}", file=sys.stderr)
        check = {"graphs": {}, "defect": []}
    print_throughput(graphs, results, check)
    print_targets(results)
    print_duel(run_worker("--duel", {g: graphs[g] for g in DUEL_GRAPHS}))
    print_scaling(graphs, results)
    print_defect(check)
    print(
        f"\nTotal {time.perf_counter() - total_start:.0f} s wall; "
        f"load average at the end {os.getloadavg()[0]:.2f}."
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        print(json.dumps(worker(json.load(sys.stdin))))
    elif sys.argv[1:] == ["--graphs"]:
        print(json.dumps(build_graphs()))
    elif sys.argv[1:] == ["--duel"]:
        print(
            json.dumps(
                duel(
                    {k: (n, [tuple(e) for e in e_]) for k, (n, e_) in json.load(sys.stdin).items()}
                )
            )
        )
    elif sys.argv[1:] == ["--check"]:
        print(json.dumps(checks(json.load(sys.stdin)["graphs"])))
    else:
        main()
