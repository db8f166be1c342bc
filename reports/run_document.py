"""The ``result.json`` of ``mesalens run``: the check plus how it was reached.

It is the check-graph document (:mod:`mesalens.reports.result_json`, same
keys, same meaning) with these keys added::

    "learned_graph":  [[u, kind, v]]      the class discovery returned
    "discovery":      {"settings": {...}, "notes": [str],
                       "ci_tests": [{"x", "y", "conditioning_set",
                                     "statistic", "p_value", "decision"}]}
    "data":           {"regime_name": str, "regime_labels": [str],
                       "columns": [str], "kinds": {column: kind},
                       "missing_policy": str, "na_values": [str], "rows": int,
                       "regimes": [per-regime summary],
                       "notes": [str]      (what the loader did, e.g. a nested
                                            column left out),
                       "warnings": [str]   (a regime that lost > 1% of its rows
                                            to missing values, naming the columns),
                       "rows_kept": {"statement": str (the verdict concerns the
                                     rows kept; dropping on values is a selection),
                                     "dropped": {regime: {"rows_read",
                                       "rows_dropped", "share", "columns"}}}}
    "inputs":         [fingerprint per source]  (credentials never included)
    "versions":       {package: version}
    "timings":        {stage: seconds}
    "seed":           int
    "sensitivity":    {...} | null      (linear-Gaussian sensitivity analysis per
                                         σ-graph, :mod:`mesalens.pipeline.sensitivity`;
                                         null when turned off. "status": "done" |
                                         "skipped", "notes": [str],
                                         "reference_regime", "regimes": [str],
                                         "lambdas": [float], "mesa_at": {Y_m: float},
                                         "parent_sets": [{"parents": {D_m: [str]},
                                           "status", "n_dags", "complete",
                                           "contrasts": [{"regime", "base",
                                             "direct_effects": [{"mesa_parents",
                                               "n_dags", "estimate",
                                               "standard_error"}],
                                             "gap", "gap_standard_error",
                                             "implied_gap", "slope_change",
                                             "curve": [float per lambda]}]}],
                                         "possible_direct_effects": [{"regime",
                                           "base", "values": [{"estimate",
                                           "n_dags"}]}])
    "bootstrap":      {...} | null      (stability of the verdict under Poisson
                                         resampling, :mod:`mesalens.pipeline.bootstrap`;
                                         null unless --bootstrap B. "replicates": B,
                                         "seed", "resampling": "poisson", "threshold",
                                         "verdict" (the main one), "share" (its share
                                         of the B resamples), "share_interval" (95%
                                         Clopper-Pearson), "stable": bool,
                                         "verdict_counts" / "verdict_shares":
                                         {all, some, none, invalid, error},
                                         "errors": [{"replicate", "message"}],
                                         "edge_frequencies": [{"u", "v", "reasons"
                                           ("open path" | "decision" | "regime"),
                                           "main" (kind u..v in the learned graph, or
                                           "absent"), "main_share", "present",
                                           "learned" (resamples with a graph),
                                           "counts" / "shares": {kind: ...}}])
    "direct_test":    {...} | null      (the direct finite-sample test of
                                         Y_b ⊥ s | Y_m and the alignment gap on the
                                         pooled logs, :mod:`mesalens.pipeline.alignment_gap`;
                                         null when turned off. "status": "done" |
                                         "skipped" (too few rows; the reason in
                                         "notes"), "reference", "regimes",
                                         "mesa", "reject" (Holm over the deciding
                                         tests), "alpha", "level", "rows", "rows_used",
                                         "sampled", "seed", "settings", "clipped_share",
                                         "notes": [str], "outcomes": [{"base", "column",
                                           "kind", "method" ("fisherz" | "gcm"),
                                           "method_reason", "nonlinearity_p", "reject",
                                           "tests": [{"method", "regime", "reference",
                                             "statistic", "p_value", "p_holm", "reject",
                                             "rows"}],
                                           "gaps": [{"estimator" ("linear" | "flexible"),
                                             "regime", "reference", "estimate", "se",
                                             "lower", "upper", "covers_zero"}],
                                           "curve": {"mesa", "x": [float], "series":
                                             [{"regime", "mean", "lower", "upper"}]}
                                             | null}])
    "deterministic":  {...} | null      (deterministic relations among the columns and
                                         the columns left out for them,
                                         :mod:`mesalens.pipeline.deterministic_rule`:
                                         "policy" ("drop" | "error"), "residual_share"
                                         (linear: 1 - R² at most this), "min_rows_per_cell",
                                         "max_determinants", "relations": [{"kind"
                                           ("constant" | "determined" | "equivalent"),
                                           "column", "by": [str], "method" ("linear" |
                                           "cell counts" | null), "regimes": [str] | null
                                           (null: in the pooled data, so in every regime),
                                           "level", "residual_share", "sentence"}],
                                         "left_out": [{"column", "reason", "relation"}],
                                         "kept": [str], "notes": [str])
    "verdict_change": str | null        (scheduled jobs: the change against the
                                         previous run, in one sentence)
"""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

from mesalens.connectors.kinds import SELECTION_NOTE
from mesalens.connectors.loaded import LoadedData
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
        "na_values": list(data.na_values),
        "rows": int(analysis.statistics.n),
        "regimes": [summary.as_dict() for summary in data.summary.values()],
        "notes": list(data.notes),
        "warnings": list(data.warnings),
        "rows_kept": {
            "statement": SELECTION_NOTE
            if any(entry["rows_dropped"] for entry in data.dropped.values())
            else "No row had a missing value: the verdict concerns every row read.",
            "dropped": {name: dict(entry) for name, entry in data.dropped.items()},
        },
    }
    document["inputs"] = [dict(fingerprint) for fingerprint in data.fingerprints]
    document["versions"] = package_versions()
    document["timings"] = {k: round(v, 4) for k, v in analysis.timings.items()}
    document["seed"] = settings.seed
    sensitivity = analysis.sensitivity
    document["sensitivity"] = None if sensitivity is None else sensitivity.as_dict()
    resampled = analysis.bootstrap
    document["bootstrap"] = None if resampled is None else resampled.as_dict()
    direct = analysis.direct_test
    document["direct_test"] = None if direct is None else direct.as_dict()
    confirmation = analysis.confirmation
    document["confirmation"] = None if confirmation is None else confirmation.as_dict()
    found = analysis.deterministic
    document["deterministic"] = None if found is None else found.as_dict()
    document["advice"] = None if analysis.advice is None else analysis.advice.to_dict()
    return document
