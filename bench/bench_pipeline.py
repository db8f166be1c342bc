"""Ingestion and discovery at scale: `mesalens run` against pyarrow and pandas + causal-learn.

For each size (total rows over two regimes, 20 float columns, Parquet shards
from ``bench/make_logs.py``), each measurement runs in a fresh subprocess so
that its peak RSS is its own (``ru_maxrss`` of that child, from ``os.wait4``):

(i)   ``mesalens run --regime train=DIR/train/*.parquet --regime deploy=...
      --base reward --mesa value --decision action --policy-inputs obs_0,obs_1
      --out OUT --quiet``;
(ii)  one pass of reading every shard with pyarrow
      (``ParquetFile(path).iter_batches()``, summing a column);
(iii) ``pandas.read_parquet`` of each regime's shards + concat, the regime
      column added, then ``causallearn.search.ConstraintBased.PC.pc(data, 0.01,
      'fisherz', show_progress=False)`` on the raw numpy array. Its wall time
      stops when that ``pc`` returns; the child then runs ``pc`` once more with
      the regime made exogenous (as mesalens does) to compare graphs exactly.

Run from the repository root::

    .venv/bin/python bench/bench_pipeline.py                # 1M, 10M, 30M rows
    .venv/bin/python bench/bench_pipeline.py --sizes 1M     # quick
    .venv/bin/python bench/bench_pipeline.py --sizes 1M,10M,30M --snapshot --blas1 --repeat 2
    .venv/bin/python bench/bench_pipeline.py --snapshot --stages 30M   # where (i)'s time goes
    .venv/bin/python bench/bench_pipeline.py --sizes 10M --run-arg=--no-direct-test  # (i) without
                                                                    # the direct-test evidence stage
    .venv/bin/python bench/bench_pipeline.py --floor 10M --repeat 3 --run-arg=--no-direct-test
                                        # (ii) with the imports every run needs: the floor

``--snapshot`` runs mesalens from a frozen copy of its code (for a tree that
others are editing); ``--blas1`` adds (i) with ``OPENBLAS_NUM_THREADS=1``;
(iii) is skipped when its peak, extrapolated linearly from a smaller size,
would not fit ``--baseline-max-gb`` (default 16) or the free memory.

Prints a markdown table (cells: wall time / CPU time / peak RSS; ratios: wall
(CPU)) and keeps the raw numbers in ROOT/results.json, merged across runs.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PYTHON = sys.executable
MESALENS = str(Path(PYTHON).with_name("mesalens"))
REGIMES = ("train", "deploy")
MARKER = "TIMED-SECTION-DONE"


# --------------------------------------------------------------------- children
def _shards(root: str) -> list[tuple[int, str]]:
    return [
        (code, path)
        for code, regime in enumerate(REGIMES)
        for path in sorted(glob.glob(f"{root}/{regime}/*.parquet"))
    ]


def child_pyarrow(root: str) -> None:
    """(ii): read every shard once with pyarrow, all columns, summing one."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    start = time.perf_counter()
    rows, total = 0, 0.0
    for _, path in _shards(root):
        for batch in pq.ParquetFile(path).iter_batches():
            rows += batch.num_rows
            total += pc.sum(batch.column("obs_0")).as_py()
    seconds = time.perf_counter() - start
    print(json.dumps({"rows": rows, "sum_obs_0": total, "seconds": seconds}))


def child_floor(root: str, overlap: bool) -> None:
    """(ii) plus the imports every ``mesalens run`` needs: a floor no implementation can beat.

    The design card binds mesalens to pandas, dask and causal-learn; a run
    imports them (causal-learn's ``pc`` pulls in scipy.stats, scikit-learn,
    matplotlib and networkx) and reads every value at least once. This child
    does only that: no statistics, no search, no output. With ``overlap`` the
    imports run on a second thread while the main thread reads.
    """
    import threading

    def imports() -> None:
        import causallearn.search.ConstraintBased.PC  # noqa: F401
        import dask  # noqa: F401
        import pandas  # noqa: F401

    worker = threading.Thread(target=imports)
    if overlap:
        worker.start()
    else:
        imports()
    child_pyarrow(root)
    if overlap:
        worker.join()


def _edges(graph: Any, names: list[str]) -> list[list[str]]:
    """causal-learn's adjacency matrix as ``[u, kind, v]`` triples (mesalens' spelling)."""
    matrix = graph.graph
    out = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            a, b = int(matrix[i, j]), int(matrix[j, i])
            if a == 0 and b == 0:
                continue
            if a == -1 and b == 1:
                out.append([names[i], "-->", names[j]])
            elif a == 1 and b == -1:
                out.append([names[j], "-->", names[i]])
            elif a == -1 and b == -1:
                out.append([names[i], "---", names[j]])
            elif a == 1 and b == 1:
                out.append([names[i], "<->", names[j]])
            else:
                out.append([names[i], f"?{a},{b}?", names[j]])
    return out


def _lean_array(root: str) -> tuple[list[str], Any]:
    """The raw array filled shard by shard into one preallocated block (no pandas copies)."""
    import numpy as np
    import pyarrow.parquet as pq

    shards = _shards(root)
    rows = sum(pq.ParquetFile(path).metadata.num_rows for _, path in shards)
    names = ["regime", *pq.ParquetFile(shards[0][1]).schema_arrow.names]
    data = np.empty((rows, len(names)))
    at = 0
    for code, path in shards:
        for batch in pq.ParquetFile(path).iter_batches():
            n = batch.num_rows
            data[at : at + n, 0] = code
            for j, name in enumerate(names[1:], start=1):
                data[at : at + n, j] = batch.column(name).to_numpy()
            at += n
    return names, data


def child_pandas_pc(root: str, lean: bool = False) -> None:
    """(iii): pandas.read_parquet + concat + causal-learn pc on the raw array.

    ``lean``: the array is filled without pandas (a graph check where (iii)
    does not fit in memory; not the baseline).
    """
    import numpy as np
    import pandas as pd
    from causallearn.search.ConstraintBased.PC import pc

    start = time.perf_counter()
    if lean:
        names, data = _lean_array(root)
    else:
        frames = []
        for code, regime in enumerate(REGIMES):
            frame = pd.read_parquet(f"{root}/{regime}")  # every shard of the regime
            frame.insert(0, "regime", np.int64(code))
            frames.append(frame)
        pooled = pd.concat(frames, ignore_index=True)
        del frames
        names = [str(c) for c in pooled.columns]
        data = pooled.to_numpy(dtype=np.float64)
        del pooled
    read_seconds = time.perf_counter() - start
    cg = pc(data, 0.01, "fisherz", show_progress=False)
    pc_seconds = time.perf_counter() - start - read_seconds
    plain = _edges(cg.G, names)
    print(
        json.dumps(
            {
                "rows": int(data.shape[0]),
                "read_seconds": read_seconds,
                "pc_seconds": pc_seconds,
                "graph": plain,
            }
        )
    )
    print(MARKER, flush=True)

    # Untimed: the same search with the regime exogenous (every edge into it
    # forbidden), which is what mesalens runs; for the exact graph comparison.
    from causallearn.graph.GraphNode import GraphNode
    from causallearn.utils.PCUtils.BackgroundKnowledge import BackgroundKnowledge

    nodes = [GraphNode(name) for name in names]
    bk = BackgroundKnowledge()
    for node in nodes[1:]:
        bk.add_forbidden_by_node(node, nodes[0])
    cg = pc(data, 0.01, "fisherz", show_progress=False, background_knowledge=bk, node_names=names)
    print(json.dumps({"graph_exogenous": _edges(cg.G, names)}))


def child_stages(root: str) -> None:
    """`mesalens run` in this process, with its stages timed (wall, CPU of all threads, peak)."""
    import resource

    start, cpu0 = time.perf_counter(), time.process_time()
    from mesalens.connectors import file_inspection, loader, planning
    from mesalens.pipeline import analysis
    from mesalens.reports import html
    from mesalens.reports.checks import runner
    from mesalens.reports.cli import run as run_cli

    stages: dict[str, list[float]] = {
        "imports": [time.perf_counter() - start, time.process_time() - cpu0, 1.0, 0.0]
    }

    def wrap(owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name, None)
        if original is None:
            return

        def timed(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                entry = stages.setdefault(label, [0.0, 0.0, 0.0, 0.0])
                entry[0] += time.perf_counter() - wall
                entry[1] += time.process_time() - cpu
                entry[2] += 1
                entry[3] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        setattr(owner, name, timed)

    wrap(runner, "load_regimes", "load_regimes (connectors/loader.py)")
    wrap(planning, "plan_files", "  plan_files: list, footers, fingerprints (connectors/files.py)")
    wrap(
        file_inspection.FileInspector,
        "_fingerprint",
        "    FileInspector._fingerprint: size, mtime, sha256 of the Parquet footer",
    )
    wrap(loader, "scan", "  scan: the one pass (validation + statistics + report data)")
    wrap(analysis, "compute_statistics", "compute_statistics: from the pass's moments")
    wrap(analysis, "discover", "discover: PC on the statistics")
    wrap(analysis, "check", "check: the criterion")
    wrap(analysis, "sensitivity_analysis", "sensitivity_analysis: from the statistics")
    wrap(analysis, "direct_test", "direct_test: on the pass's sample")
    wrap(runner, "write_run_outputs", "write_run_outputs (reports/checks/runner.py)")
    wrap(html, "regime_distributions", "  regime_distributions: from the pass's profile")
    cmd = [
        "--regime", f"train={root}/train/*.parquet",
        "--regime", f"deploy={root}/deploy/*.parquet",
        "--base", "reward", "--mesa", "value", "--decision", "action",
        "--policy-inputs", "obs_0,obs_1", "--out", f"{root}.stages-out", "--quiet",
        *json.loads(os.environ.get("BENCH_RUN_ARGS", "[]")),
    ]  # fmt: skip
    try:
        run_cli.run_command.main(args=cmd, standalone_mode=False)
    except SystemExit:
        pass
    stages["total"] = [
        time.perf_counter() - start,
        time.process_time() - cpu0,
        1.0,
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    ]
    print(json.dumps(stages))


# --------------------------------------------------------------------- parent
def measure(
    cmd: list[str], *, marker: str | None = None, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run ``cmd`` in a fresh process: wall time, peak RSS, CPU time, load, output."""
    load = os.getloadavg()[0]
    with tempfile.TemporaryFile(mode="w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            cwd=REPO,
            env=None if env is None else {**os.environ, **env},
        )
        assert proc.stdout is not None
        lines, stop = [], None
        for line in proc.stdout:
            if marker is not None and line.strip() == marker and stop is None:
                stop = time.perf_counter()
                continue
            lines.append(line.rstrip("\n"))
        _, status, usage = os.wait4(proc.pid, 0)
        end = time.perf_counter()
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read()
    return {
        "cmd": cmd,
        "wall": (stop or end) - start,
        "wall_total": end - start,
        "peak_mib": usage.ru_maxrss / 1024,  # Linux: KiB
        "cpu": usage.ru_utime + usage.ru_stime,
        "rc": proc.returncode,
        "load_before": load,
        "stdout": lines,
        "stderr_tail": stderr.strip().splitlines()[-5:],
    }


def run_mesalens(cmd: list[str], out: Path, env: dict[str, str]) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    run = measure(cmd, env=env)
    document_path = out / "result.json"
    if not document_path.exists():
        raise SystemExit(f"mesalens run wrote no result (rc {run['rc']}): {run['stderr_tail']}")
    document = json.loads(document_path.read_text())
    run["verdict"] = document["verdict"]
    run["graph"] = document["learned_graph"]
    run["timings"] = document.get("timings", {})
    run["n"] = document["data"]["rows"]
    return run


def compile_code(env: dict[str, str]) -> None:
    """Write the bytecode of mesalens's own modules before anything is timed.

    pip compiles every installed library, but an editable install's modules
    are compiled on first import, and never cached where
    ``PYTHONDONTWRITEBYTECODE`` is set (as in this sandbox): every run would
    then pay ~0.15 s that no installed copy pays.
    """
    folders = (
        [str(Path(env["PYTHONPATH"]) / "mesalens")]
        if "PYTHONPATH" in env
        else [str(REPO / folder) for folder in ("connectors", "pipeline", "reports")]
    )
    subprocess.run([PYTHON, "-m", "compileall", "-q", *folders], check=True)


def snapshot(root: Path) -> dict[str, str]:
    """Freeze the package's code: others may edit the tree while this runs."""
    target = root / "snapshot"
    shutil.rmtree(target, ignore_errors=True)
    for folder in ("connectors", "pipeline", "reports"):
        shutil.copytree(
            REPO / folder,
            target / "mesalens" / folder,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    newest = max(p.stat().st_mtime for p in (target / "mesalens").rglob("*") if p.is_file())
    print(f"code snapshot in {target} (newest file {time.ctime(newest)})", file=sys.stderr)
    return {"PYTHONPATH": str(target)}


def graph_set(edges: list[list[str]]) -> set[tuple[str, ...]]:
    """Edges as comparable tuples: undirected ones with their ends sorted."""
    out = set()
    for u, kind, v in edges:
        if kind in ("---", "<->") and v < u:
            u, v = v, u
        elif kind == "<--":
            u, kind, v = v, "-->", u
        out.add((u, kind, v))
    return out


def skeleton(edges: list[list[str]]) -> set[frozenset[str]]:
    return {frozenset((u, v)) for u, _, v in edges}


def parse_size(text: str) -> int:
    text = text.strip().upper()
    scale = {"K": 10**3, "M": 10**6}.get(text[-1], 1)
    return int(float(text.rstrip("KM")) * scale)


def label(rows: int) -> str:
    return f"{rows // 10**6}M" if rows % 10**6 == 0 else f"{rows:,}"


def mem_available_mib() -> float:
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def true_graph(manifest: dict[str, Any]) -> set[frozenset[str]]:
    edges = {frozenset((p, c)) for p, c, _ in manifest["edges"]}
    return edges | {frozenset(("regime", c)) for c in manifest["params"]["shifts"]}


def run_size(rows: int, args: argparse.Namespace, baseline_peaks: dict[int, float]) -> dict:
    root = Path(args.root) / f"logs_{label(rows)}"
    gen = subprocess.run(
        [PYTHON, str(HERE / "make_logs.py"), "--rows", str(rows), "--out", str(root)],
        check=True,
        capture_output=True,
        text=True,
    )
    print(gen.stdout.strip(), file=sys.stderr)
    manifest = json.loads((root / "manifest.json").read_text())
    result: dict[str, Any] = {"rows": rows, "bytes": manifest["bytes"], "files": manifest["files"]}

    # (ii) first: it also brings the files into the page cache, so that every
    # measurement below reads from a warm cache (none is charged for the disk).
    warm = measure([PYTHON, __file__, "--child", "pyarrow", str(root)])
    best: dict[str, dict[str, Any]] = {}
    for _ in range(args.repeat):
        arrow = measure([PYTHON, __file__, "--child", "pyarrow", str(root)])
        if arrow["rc"] != 0:
            raise SystemExit(f"pyarrow pass failed: {arrow['stderr_tail']}")
        arrow["inner"] = json.loads(arrow["stdout"][-1])
        if "pyarrow" not in best or arrow["wall"] < best["pyarrow"]["wall"]:
            best["pyarrow"] = arrow

        out = Path(args.root) / f"out_{label(rows)}"
        cmd = [
            MESALENS, "run",
            "--regime", f"train={root}/train/*.parquet",
            "--regime", f"deploy={root}/deploy/*.parquet",
            "--base", "reward", "--mesa", "value", "--decision", "action",
            "--policy-inputs", "obs_0,obs_1", "--out", str(out), "--quiet",
            *args.run_arg,
        ]  # fmt: skip
        run = run_mesalens(cmd, out, args.env)
        if "mesalens" not in best or run["wall"] < best["mesalens"]["wall"]:
            best["mesalens"] = run
        if args.blas1:
            # Diagnostic: the same run with OpenBLAS held to one thread per call.
            variant = run_mesalens(cmd, out, {**args.env, "OPENBLAS_NUM_THREADS": "1"})
            if "mesalens_blas1" not in best or variant["wall"] < best["mesalens_blas1"]["wall"]:
                best["mesalens_blas1"] = variant
    result["warm"] = {k: warm[k] for k in ("wall", "peak_mib")}
    result.update(best)

    # (iii), unless it would not fit: peak memory grows ~linearly with rows.
    smaller = max((r for r in baseline_peaks if r < rows), default=None)
    predicted = None if smaller is None else baseline_peaks[smaller] * rows / smaller
    budget = min(args.baseline_max_gb * 1024, mem_available_mib() - 2048)
    if predicted is not None and predicted > budget:
        result["pandas_pc"] = {
            "skipped": f"predicted peak {predicted / 1024:.1f} GiB (linear from {label(smaller)}) "
            f"> budget {budget / 1024:.1f} GiB"
        }
    else:
        base = measure([PYTHON, __file__, "--child", "pandas-pc", str(root)], marker=MARKER)
        if base["rc"] != 0:
            result["pandas_pc"] = {"skipped": f"failed (rc {base['rc']}): {base['stderr_tail']}"}
        else:
            inner = json.loads(base["stdout"][0])
            base.update(inner)
            base["graph_exogenous"] = json.loads(base["stdout"][1])["graph_exogenous"]
            result["pandas_pc"] = base
            baseline_peaks[rows] = base["peak_mib"]

    if "skipped" in result["pandas_pc"]:
        # Still check the graph: causal-learn on an array filled shard by shard
        # (measured: about 4.1x the array at peak, pc and np.corrcoef copy it).
        need = 4.2 * rows * 21 * 8 / 2**20 + 512
        if need <= budget:
            lean = measure([PYTHON, __file__, "--child", "lean-pc", str(root)], marker=MARKER)
            if lean["rc"] == 0:
                lean.update(json.loads(lean["stdout"][0]))
                lean["graph_exogenous"] = json.loads(lean["stdout"][1])["graph_exogenous"]
                result["lean_pc"] = lean

    # Graph checks.
    mesa = best["mesalens"]["graph"]
    checks: dict[str, Any] = {
        "skeleton_vs_truth": skeleton(mesa) == true_graph(manifest),
        "missing_vs_truth": sorted(
            " - ".join(sorted(e)) for e in true_graph(manifest) - skeleton(mesa)
        ),
        "extra_vs_truth": sorted(
            " - ".join(sorted(e)) for e in skeleton(mesa) - true_graph(manifest)
        ),
    }
    base = result["pandas_pc"] if "graph" in result["pandas_pc"] else result.get("lean_pc", {})
    if "graph" in base:
        checks["equal_exogenous_pc"] = graph_set(mesa) == graph_set(base["graph_exogenous"])
        checks["equal_plain_pc"] = graph_set(mesa) == graph_set(base["graph"])
        checks["skeleton_plain_pc"] = skeleton(mesa) == skeleton(base["graph"])
        checks["diff_plain_pc"] = sorted(
            " ".join(e) for e in graph_set(mesa) ^ graph_set(base["graph"])
        )
    result["checks"] = checks
    for item in result.values():
        if isinstance(item, dict):
            item.pop("stdout", None)
    return result


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| rows | data | (i) `mesalens run` | (ii) pyarrow pass | (iii) pandas + `pc` | "
        "(i)/(ii) | (i)/(iii) | verdict | graph (i) vs (iii) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def cell(x: dict[str, Any]) -> str:
        return f"{x['wall']:.1f} s / {x['cpu']:.1f} s / {x['peak_mib']:,.0f} MiB"

    def ratio(x: dict[str, Any], y: dict[str, Any]) -> str:
        return f"{x['wall'] / y['wall']:.1f} ({x['cpu'] / y['cpu']:.1f})"

    for r in sorted(results, key=lambda r: r["rows"]):
        m, a, b = r["mesalens"], r["pyarrow"], r["pandas_pc"]
        if "skipped" in b:
            base_cell, ratio_b, same = f"not run: {b['skipped']}", "–", "–"
            if "lean_pc" in r:
                lean = r["lean_pc"]
                base_cell += (
                    f"; lean variant (array filled shard by shard, no pandas): {cell(lean)}"
                )
                same = "identical" if r["checks"]["equal_exogenous_pc"] else "DIFFERENT"
                same += " to lean `pc` with the regime exogenous; plain: " + (
                    "identical"
                    if r["checks"]["equal_plain_pc"]
                    else f"{len(r['checks']['diff_plain_pc'])} edge marks differ"
                )
        else:
            base_cell, ratio_b = cell(b), ratio(m, b)
            c = r["checks"]
            exact = "identical" if c["equal_exogenous_pc"] else "DIFFERENT"
            if c["equal_plain_pc"]:
                plain = "identical"
            else:
                plain = "same skeleton" if c["skeleton_plain_pc"] else "DIFFERENT skeleton"
                plain += f" ({len(c['diff_plain_pc'])} edge marks differ)"
            same = f"{exact} to `pc` with the regime exogenous; plain `pc`: {plain}"
        lines.append(
            f"| {label(r['rows'])} | {r['files']} shards, {r['bytes'] / 2**20:,.0f} MiB | "
            f"{cell(m)} | {cell(a)} | {base_cell} | {ratio(m, a)} | {ratio_b} | "
            f"{m['verdict']} | {same} |"
        )
    variants = [r for r in sorted(results, key=lambda r: r["rows"]) if "mesalens_blas1" in r]
    if variants:
        lines += [
            "",
            "| rows | (i) as is | (i) with `OPENBLAS_NUM_THREADS=1` | statistics stage, as is "
            "→ one BLAS thread |",
            "|---|---|---|---|",
        ]
        for r in variants:
            m, v = r["mesalens"], r["mesalens_blas1"]
            lines.append(
                f"| {label(r['rows'])} | {cell(m)} | {cell(v)} | "
                f"{m['timings'].get('statistics', float('nan')):.1f} s → "
                f"{v['timings'].get('statistics', float('nan')):.1f} s |"
            )
    return "\n".join(lines)


def print_stages(rows: int, args: argparse.Namespace) -> None:
    root = Path(args.root) / f"logs_{label(rows)}"
    measure([PYTHON, __file__, "--child", "pyarrow", str(root)])  # warm the page cache
    env = {**args.env, "BENCH_RUN_ARGS": json.dumps(args.run_arg)}
    run = measure([PYTHON, __file__, "--child", "stages", str(root)], env=env)
    if run["rc"] != 0:
        raise SystemExit(f"stages run failed: {run['stderr_tail']}")
    stages = json.loads(run["stdout"][-1])
    total_wall, total_cpu = stages["total"][0], stages["total"][1]
    print(f"Stages of `mesalens run` at {label(rows)} rows (load {run['load_before']:.1f}):\n")
    print("| stage | calls | wall | CPU (all threads) | share of CPU | peak RSS after |")
    print("|---|---|---|---|---|---|")
    for name, (wall, cpu, calls, peak) in stages.items():
        print(
            f"| {name} | {calls:.0f} | {wall:.1f} s | {cpu:.1f} s | "
            f"{100 * cpu / total_cpu:.0f}% | {peak:,.0f} MiB |"
        )
    print(f"\n(process: {total_wall:.1f} s wall, {total_cpu:.1f} s CPU)")


def write_job_file(path: Path, root: Path, checks: int, run_args: list[str]) -> None:
    """A job file of ``checks`` identical checks of the benchmark's logs."""
    lines = [
        'base = "reward"',
        'mesa = "value"',
        'decision = "action"',
        'policy_inputs = ["obs_0", "obs_1"]',
        f"direct_test = {'false' if '--no-direct-test' in run_args else 'true'}",
    ]
    for number in range(1, checks + 1):
        lines += [
            "",
            "[[check]]",
            f'name = "check{number}"',
            "[check.regimes]",
            f'train = "{root}/train/*.parquet"',
            f'deploy = "{root}/deploy/*.parquet"',
        ]
    path.write_text("\n".join(lines) + "\n")


def print_batch(rows: int, args: argparse.Namespace) -> None:
    """Scheduled jobs run their checks in one process: what does each check after the first cost?

    Job files of 1 and of 3 checks, alternated ``--repeat`` times with the
    pyarrow pass, in fresh processes; the cost of a check in a process that
    has already imported everything is (T3 - T1) / 2.
    """
    root = Path(args.root) / f"logs_{label(rows)}"
    measure([PYTHON, __file__, "--child", "pyarrow", str(root)])  # warm the page cache
    work = Path(args.root) / f"batch_{label(rows)}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    best: dict[str, dict[str, Any]] = {}
    for _ in range(max(args.repeat, 1)):
        arrow = measure([PYTHON, __file__, "--child", "pyarrow", str(root)])
        if "pyarrow" not in best or arrow["wall"] < best["pyarrow"]["wall"]:
            best["pyarrow"] = arrow
        for checks in (1, 3):
            job = work / f"jobs{checks}.toml"
            write_job_file(job, root, checks, args.run_arg)
            out = work / f"out{checks}"
            shutil.rmtree(out, ignore_errors=True)
            cmd = [MESALENS, "run", "--config", str(job), "--out", str(out), "--quiet"]
            run = measure(cmd, env=args.env)
            if run["rc"] not in (0, 3, 4, 5):
                raise SystemExit(f"job file of {checks} failed: {run['stderr_tail']}")
            key = f"jobs{checks}"
            if key not in best or run["wall"] < best[key]["wall"]:
                best[key] = run
    arrow, one, three = best["pyarrow"], best["jobs1"], best["jobs3"]
    marginal_wall = (three["wall"] - one["wall"]) / 2
    marginal_cpu = (three["cpu"] - one["cpu"]) / 2
    print(f"Job files over the {label(rows)} logs (best of {max(args.repeat, 1)}):\n")
    print("| measurement | wall | CPU | peak RSS |")
    print("|---|---|---|---|")
    for name, run in (("pyarrow pass", arrow), ("1 check", one), ("3 checks", three)):
        print(f"| {name} | {run['wall']:.1f} s | {run['cpu']:.1f} s | {run['peak_mib']:,.0f} MiB |")
    print(
        f"\neach check after the first: {marginal_wall:.1f} s wall, {marginal_cpu:.1f} s CPU; "
        f"{marginal_wall / arrow['wall']:.1f}x (CPU {marginal_cpu / arrow['cpu']:.1f}x) "
        "of the pyarrow pass"
    )


def print_floor(rows: int, args: argparse.Namespace) -> None:
    """How close can any ``mesalens run`` get to (ii)? (ii) against (ii) plus the binding imports.

    Fresh processes, alternated ``--repeat`` times: (ii); (ii) after importing
    pandas, dask and causal-learn's ``pc`` (serially, and on a thread that
    overlaps the pass); and (i) itself. Best of each.
    """
    root = Path(args.root) / f"logs_{label(rows)}"
    measure([PYTHON, __file__, "--child", "pyarrow", str(root)])  # warm the page cache
    out = Path(args.root) / f"out_floor_{label(rows)}"
    children = {
        "pyarrow pass (ii)": [PYTHON, __file__, "--child", "pyarrow", str(root)],
        "(ii) + imports, serial": [PYTHON, __file__, "--child", "floor", str(root)],
        "(ii) + imports on a thread": [PYTHON, __file__, "--child", "floor-overlap", str(root)],
        "`mesalens run` (i)": [
            MESALENS, "run",
            "--regime", f"train={root}/train/*.parquet",
            "--regime", f"deploy={root}/deploy/*.parquet",
            "--base", "reward", "--mesa", "value", "--decision", "action",
            "--policy-inputs", "obs_0,obs_1", "--out", str(out), "--quiet",
            *args.run_arg,
        ],
    }  # fmt: skip
    best: dict[str, dict[str, Any]] = {}
    for _ in range(max(args.repeat, 1)):
        for name, cmd in children.items():
            shutil.rmtree(out, ignore_errors=True)
            run = measure(cmd, env=args.env)
            if run["rc"] not in (0, 3, 4, 5):
                raise SystemExit(f"{name} failed: {run['stderr_tail']}")
            if name not in best or run["wall"] < best[name]["wall"]:
                best[name] = run
    arrow = best["pyarrow pass (ii)"]
    print(f"Floor at {label(rows)} rows (best of {max(args.repeat, 1)}, alternated):\n")
    print("| measurement | wall | CPU | peak RSS | wall / (ii) |")
    print("|---|---|---|---|---|")
    for name, run in best.items():
        print(
            f"| {name} | {run['wall']:.1f} s | {run['cpu']:.1f} s | {run['peak_mib']:,.0f} MiB "
            f"| {run['wall'] / arrow['wall']:.1f}x |"
        )


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as handle:
        total = int(handle.readline().split()[1]) / 2**20
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(total, 1),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="/tmp/pipeline_bench")
    parser.add_argument("--sizes", default="1M,10M,30M")
    parser.add_argument("--repeat", type=int, default=1, help="runs of (i), (ii); best kept")
    parser.add_argument("--baseline-max-gb", type=float, default=16.0)
    parser.add_argument(
        "--snapshot",
        action="store_true",
        help="run mesalens from a frozen copy of the code (others may be editing the tree)",
    )
    parser.add_argument(
        "--blas1", action="store_true", help="also run (i) with OPENBLAS_NUM_THREADS=1"
    )
    parser.add_argument(
        "--stages", metavar="SIZE", help="time the stages of (i) at this size, then stop"
    )
    parser.add_argument(
        "--batch",
        metavar="SIZE",
        help="time a job file of 1 and of 3 checks over the logs of this size, then stop",
    )
    parser.add_argument(
        "--floor",
        metavar="SIZE",
        help="time (ii) alone and with the imports every run needs, against (i), then stop",
    )
    parser.add_argument(
        "--run-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for (i), repeatable (e.g. --run-arg=--no-direct-test)",
    )
    parser.add_argument(
        "--child", choices=["pyarrow", "floor", "floor-overlap", "pandas-pc", "lean-pc", "stages"]
    )
    parser.add_argument("target", nargs="?")
    args = parser.parse_args()
    if args.child == "pyarrow":
        return child_pyarrow(args.target)
    if args.child in ("floor", "floor-overlap"):
        return child_floor(args.target, overlap=args.child == "floor-overlap")
    if args.child == "pandas-pc":
        return child_pandas_pc(args.target)
    if args.child == "lean-pc":
        return child_pandas_pc(args.target, lean=True)
    if args.child == "stages":
        return child_stages(args.target)

    facts = machine()
    print(f"machine: {facts}", file=sys.stderr)
    args.env = snapshot(Path(args.root)) if args.snapshot else {}
    compile_code(args.env)
    if args.batch:
        return print_batch(parse_size(args.batch), args)
    if args.floor:
        return print_floor(parse_size(args.floor), args)
    if args.stages:
        return print_stages(parse_size(args.stages), args)
    # Results accumulate across invocations (one size at a time is fine).
    store = Path(args.root, "results.json")
    saved = json.loads(store.read_text())["results"] if store.exists() else []
    sizes = [parse_size(text) for text in args.sizes.split(",")]
    results = [r for r in saved if r["rows"] not in sizes]
    peaks = {r["rows"]: r["pandas_pc"]["peak_mib"] for r in saved if "peak_mib" in r["pandas_pc"]}
    for rows in sizes:
        start = time.perf_counter()
        result = run_size(rows, args, peaks)
        result["seconds"] = time.perf_counter() - start
        result["machine"] = facts
        results.append(result)
        print(f"{label(rows)} done in {result['seconds']:.0f} s", file=sys.stderr)
        store.write_text(json.dumps({"results": results}, indent=1, default=str))
    print(table(results))


if __name__ == "__main__":
    main()
