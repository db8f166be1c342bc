"""The one runner: a check's settings in, its outputs written, its results returned.

Every command that analyses logs goes through :func:`run_check`: ``mesalens
run`` (one check from the command line or a config), ``mesalens demo`` (one
check per built-in scenario) and every check of a job file
(:mod:`mesalens.reports.jobs`). It

1. loads the regimes in one dask pass (:func:`mesalens.connectors.load_regimes`),
2. analyses them (:func:`mesalens.pipeline.analysis.analyze`: discovery, the
   check, the evidence stages),
3. writes ``result.json``, ``graph.txt``, ``graph.json`` and ``report.html``
   into the output folder (:func:`write_run_outputs`; also
   ``advice-knowledge.txt`` when the advice has knowledge that settles a
   ``some``), or, without one (the Python API's ``mesalens.run``), only
   builds the result document,

and returns what the caller prints or records (:class:`CheckRun`). Connecting
to a dask scheduler and showing progress are the caller's: a job file
connects once for all its checks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mesalens.connectors import load_regimes
from mesalens.connectors.atomic import atomic_write_text
from mesalens.connectors.loaded import LoadedData
from mesalens.pipeline.analysis import AnalysisResult, DiscoverySettings, analyze
from mesalens.reports.checks.config import CheckSpec
from mesalens.reports.checks.graph_outputs import graph_outputs
from mesalens.reports.html import render_run_report, write_report
from mesalens.reports.result_json import dumps
from mesalens.reports.run_document import run_result_to_dict
from mesalens.reports.sections.advice import ADVICE_KNOWLEDGE_FILE

__all__ = ["CheckRun", "run_check", "run_document", "write_run_outputs"]


@dataclass(frozen=True)
class CheckRun:
    """What one run of a check produced.

    Attributes
    ----------
    analysis : AnalysisResult
        The learned class, the verdict and the evidence.
    data : LoadedData
        The loaded regimes (summaries and fingerprints).
    out : Path or None
        The folder the outputs were written to (None: nothing was written).
    document : dict
        The run's result document, as written to ``result.json``.
    """

    analysis: AnalysisResult
    data: LoadedData
    out: Path | None
    document: dict[str, Any]


def run_check(
    check: CheckSpec,
    out: Path | None,
    *,
    on_stage: Callable[[str], None] | None = None,
    on_test: Callable[[int, int], None] | None = None,
    verdict_change: Callable[[str], str | None] | None = None,
) -> CheckRun:
    """Load, analyse and write one check.

    Parameters
    ----------
    check : CheckSpec
        The validated check (:mod:`mesalens.reports.checks.config`).
    out : Path or None
        The output folder (created if missing); None writes nothing.
    on_stage, on_test : callable, optional
        Progress callbacks, passed to :func:`~mesalens.pipeline.analysis.analyze`.
    verdict_change : callable, optional
        ``verdict -> sentence or None``: a scheduled job's note that the
        verdict differs from the previous run's, called out in the outputs.

    Returns
    -------
    CheckRun

    Raises
    ------
    MesalensError
        On bad input or data (one-line message); nothing is written then.
    OSError
        When the outputs cannot be written.
    """
    start = time.perf_counter()
    data = load_regimes(
        list(check.regimes),
        regime_name=check.regime_name,
        columns=None if check.columns is None else list(check.columns),
        missing=check.missing,
        dtypes=None if check.dtypes is None else dict(check.dtypes),
        sample_rows=check.evidence.sample_rows,
        seed=check.settings.seed,
        # Constant columns are left out by the analysis, which says so.
        keep_constant=True,
        na_values=check.na_values,
        required=_role_columns(check),
    )
    loading = time.perf_counter() - start
    analysis = analyze(
        data,
        check.roles,
        check.settings,
        knowledge=check.load_knowledge(),
        evidence=check.evidence,
        on_stage=on_stage,
        on_test=on_test,
    )
    # The report's time is the whole run's, reading the logs included.
    analysis.timings = {"load": loading, **analysis.timings}
    change = verdict_change(analysis.check.verdict) if verdict_change is not None else None
    if out is None:
        document = run_document(analysis, data, check.settings, verdict_change=change)
    else:
        document = write_run_outputs(
            out,
            analysis,
            data,
            check.settings,
            verdict_change=change,
            index_link=check.index_link,
        )
    return CheckRun(analysis=analysis, data=data, out=out, document=document)


def _role_columns(check: CheckSpec) -> dict[str, str]:
    """Each role column, with the option that names it (a nested one is then refused)."""
    roles = check.roles
    named: dict[str, str] = {}
    for flag, names in (
        ("--policy-inputs", roles.policy_inputs or ()),
        ("--decision", roles.decision),
        ("--mesa", roles.mesa),
        ("--base", roles.base),
    ):
        named.update(dict.fromkeys(names, flag))
    named.pop(check.regime_name, None)
    return named


def write_run_outputs(
    out: Path,
    analysis: AnalysisResult,
    data: LoadedData,
    settings: DiscoverySettings,
    *,
    verdict_change: str | None = None,
    index_link: str | None = None,
) -> dict[str, Any]:
    """Write ``result.json``, ``graph.txt``, ``graph.json`` and ``report.html`` (each atomically).

    ``graph.txt`` is the learned graph in the Tetrad text format, its node
    names escaped when the format cannot hold them, and ``graph.json`` the
    same graph with the names as they are (:mod:`.graph_outputs`).

    ``result.json`` is the commit marker: an old one is removed before the
    other two files are replaced, and the new one is written last. So when
    ``out`` holds a ``result.json``, ``graph.txt`` and ``report.html`` are of
    the same run; a failure part way leaves no ``result.json`` (and a message),
    never a new report beside an old result. (Swapping in a whole temporary
    folder would be atomic only for a fresh ``out``: a folder cannot be renamed
    over a non-empty one, and other files a user keeps in ``out`` would go.)

    ``verdict_change`` (a sentence from a scheduled job, when the verdict
    differs from the previous run's) is called out in both; ``index_link``
    (a job's index, relative to ``out``) is linked from the report. Returns
    the result document.
    """
    # Everything is serialised before the first byte is written.
    graph_text, graph_json, _escaped = graph_outputs(analysis.discovery.graph)
    document = run_document(analysis, data, settings, verdict_change=verdict_change)
    advice = document.get("advice")
    knowledge_text = None
    if advice and advice["knowledge"]:
        advice["knowledge_file"] = ADVICE_KNOWLEDGE_FILE
        knowledge_text = advice["knowledge"][0]["text"]
    text = dumps(document)
    report = render_run_report(document, analysis.check, data, index_link=index_link)
    out.mkdir(parents=True, exist_ok=True)
    # The next atomic write's directory fsync makes this removal durable
    # before any new file appears under its final name.
    (out / "result.json").unlink(missing_ok=True)
    # A knowledge file of an earlier run would speak for a class it is not of.
    (out / ADVICE_KNOWLEDGE_FILE).unlink(missing_ok=True)
    if knowledge_text is not None:
        atomic_write_text(out / ADVICE_KNOWLEDGE_FILE, knowledge_text)
    atomic_write_text(out / "graph.txt", graph_text)
    atomic_write_text(out / "graph.json", graph_json)
    write_report(out / "report.html", report)
    atomic_write_text(out / "result.json", text)
    return document


def run_document(
    analysis: AnalysisResult,
    data: LoadedData,
    settings: DiscoverySettings,
    *,
    verdict_change: str | None = None,
) -> dict[str, Any]:
    """The run's result document, as :func:`write_run_outputs` writes it to ``result.json``."""
    document = run_result_to_dict(analysis, data, settings)
    document["verdict_change"] = verdict_change
    _graph_text, _graph_json, escaped = graph_outputs(analysis.discovery.graph)
    document["graph_files"] = {
        "graph.txt": "Tetrad text format"
        + (", node names escaped (%XX = UTF-8 bytes)" if escaped else ""),
        "graph.json": "mesalens JSON graph, node names as they are",
        "escaped_names": escaped,
    }
    return document
