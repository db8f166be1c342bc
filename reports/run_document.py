"""The ``result.json`` of ``mesalens run``: the check plus how it was reached.

It is the check-graph document (:mod:`mesalens.reports.result_json`, same
keys, same meaning) with these keys added::

    "learned_graph":  [[u, kind, v]]      the class discovery returned
    "discovery":      {"settings": {...}, "notes": [str],
                       "ci_tests": [{"x", "y", "conditioning_set",
                                     "statistic", "p_value", "decision"}]}
    "data":           {"regime_name": str, "regime_labels": [str],
                       "columns": [str], "kinds": {column: kind},
                       "missing_policy": str, "rows": int,
                       "regimes": [per-regime summary]}
    "inputs":         [fingerprint per source]  (credentials never included)
    "versions":       {package: version}
    "timings":        {stage: seconds}
    "seed":           int
    "verdict_change": str | null        (scheduled jobs: the change against the
                                         previous run, in one sentence)
"""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

from mesalens.connectors.loader import LoadedData
from mesalens.pipeline.analysis import AnalysisResult, DiscoverySettings
from mesalens.reports.result_json import check_result_to_dict

__all__ = ["package_versions", "run_result_to_dict"]

_PACKAGES = ("mesalens", "causal-learn", "pgmpy", "dask", "distributed", "pandas", "numpy")


def package_versions() -> dict[str, str]:
    """The versions of Python and of the packages a result depends on."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def run_result_to_dict(
    analysis: AnalysisResult, data: LoadedData, settings: DiscoverySettings
) -> dict[str, Any]:
    """Build the ``result.json`` document of one run."""
    document = check_result_to_dict(analysis.check, graph_source="discovery")
    learned = analysis.discovery
    document["learned_graph"] = [[e.u, e.kind, e.v] for e in learned.graph.edges()]
    document["discovery"] = {
        "settings": dict(learned.settings),
        "notes": list(learned.notes),
        "ci_tests": [
            {
                "x": record.x,
                "y": record.y,
                "conditioning_set": list(record.conditioning_set),
                "statistic": record.statistic,
                "p_value": record.p_value,
                "decision": record.decision,
            }
            for record in learned.ci_tests
        ],
    }
    document["data"] = {
        "regime_name": data.regime_name,
        "regime_labels": list(data.regime_labels),
        "columns": list(data.columns),
        "kinds": dict(data.kinds),
        "missing_policy": data.missing,
        "rows": int(analysis.statistics.n),
        "regimes": [summary.as_dict() for summary in data.summary.values()],
    }
    document["inputs"] = [dict(fingerprint) for fingerprint in data.fingerprints]
    document["versions"] = package_versions()
    document["timings"] = {k: round(v, 4) for k, v in analysis.timings.items()}
    document["seed"] = settings.seed
    return document
