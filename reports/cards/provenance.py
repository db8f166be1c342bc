"""The report's provenance card: what was checked, with what, and how long it took.

For a run: the inputs with their fingerprints (locations redacted), the
discovery's settings (background knowledge as a reviewer reads it), the
versions recorded with the run, the timings and the seed. For a given
graph: its source and SHA-256, and the versions of this installation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mesalens.connectors.regime import redact_url
from mesalens.reports.formatting import format_bytes

__all__ = ["provenance"]


def _listing(value: Any) -> str:
    """A setting's value as text: a list as ``a, b``."""
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def _knowledge_text(knowledge: dict[str, Any]) -> str:
    """The discovery's background knowledge as a reviewer reads it.

    ``tiers: a, b | c; forbidden: value → reward; exogenous: regime``, the
    tiers in temporal order, a starred tier (no edges among its members)
    marked ``(no edges within)``.
    """
    within = set(knowledge.get("forbidden_within") or [])
    parts = []
    tiers = knowledge.get("tiers") or []
    if tiers:
        parts.append(
            "tiers: "
            + " | ".join(
                ", ".join(map(str, tier)) + (" (no edges within)" if i in within else "")
                for i, tier in enumerate(tiers)
            )
        )
    for name in ("forbidden", "required"):
        edges = knowledge.get(name) or []
        if edges:
            parts.append(f"{name}: " + ", ".join(f"{a} → {b}" for a, b in edges))
    if knowledge.get("exogenous"):
        parts.append("exogenous: " + ", ".join(map(str, knowledge["exogenous"])))
    return "; ".join(parts) or "none"


# The discovery settings a reviewer would otherwise read as causal-learn's raw
# parameters: key -> (label, {raw value: words}); the raw value stays in brackets.
_SETTING_WORDS: dict[str, tuple[str, dict[Any, str]]] = {
    "stable": (
        "skeleton search",
        {True: "order-independent (stable PC)", False: "order-dependent (original PC)"},
    ),
    "uc_rule": (
        "unshielded colliders",
        {
            0: "oriented from the separating sets",
            1: "oriented by the largest p-value (maxP)",
            2: "oriented by definite maxP",
        },
    ),
    "uc_priority": (
        "conflicting colliders",
        {
            -1: "causal-learn's default for the rule",
            0: "the later orientation overwrites",
            1: "made bidirected",
            2: "existing colliders kept",
            3: "the stronger collider wins",
            4: "the stronger collider wins (strict)",
        },
    ),
    "max_path_length": ("discriminating paths", {-1: "no length limit"}),
}


def _setting(key: str, value: Any) -> tuple[str, str]:
    """A discovery setting as a reviewer reads it: ``("unshielded colliders", "... (uc_rule 0)")``.

    >>> _setting("uc_rule", 0)
    ('unshielded colliders', 'oriented from the separating sets (uc_rule 0)')
    >>> _setting("alpha", 0.01)
    ('alpha', '0.01')
    """
    if key not in _SETTING_WORDS:
        return key, str(value)
    label, words = _SETTING_WORDS[key]
    for raw, text in words.items():
        if value == raw and type(value) is type(raw):
            return label, f"{text} ({key} {value})"
    return label, str(value)


def provenance(
    document: Mapping[str, Any], run: Mapping[str, Any] | None, source: str
) -> dict[str, Any]:
    """The provenance card's context (the template's ``provenance``) of a check or a run."""
    if run is None:
        from mesalens.reports.run_document import package_versions

        sha = str(document.get("graph_sha256") or "")
        return {
            "graph_source": source,
            "graph_sha256": sha,
            "inputs": [],
            "settings": [],
            "versions": list(package_versions().items()),
            "versions_note": "of the mesalens installation that wrote this report",
            "timings": [],
            "seed": None,
            "mesalens_version": document.get("mesalens_version", ""),
            "schema_version": document.get("schema_version", ""),
        }
    inputs = []
    for fingerprint in run.get("inputs", []):
        sha = str(fingerprint.get("sha256", "")) if fingerprint.get("sha256") else ""
        detail = []
        for key in ("table", "query"):
            if fingerprint.get(key):
                detail.append(f"{key}: {fingerprint[key]}")
        inputs.append(
            {
                "regime": fingerprint.get("regime", ""),
                "source": redact_url(str(fingerprint.get("source", ""))),
                "size": format_bytes(fingerprint.get("size")),
                "mtime": str(fingerprint.get("mtime", "") or ""),
                "sha256": sha,
                "sha_short": sha[:16],
                "detail": "; ".join(redact_url(d) for d in detail),
            }
        )
    settings = []
    for key, value in ((run.get("discovery") or {}).get("settings") or {}).items():
        if key == "knowledge" and isinstance(value, dict):
            value = _knowledge_text(value)
        elif isinstance(value, dict):
            value = "; ".join(f"{k}: {_listing(v)}" for k, v in value.items() if v) or "none"
        elif isinstance(value, list):
            value = _listing(value)
        else:
            settings.append(_setting(str(key), value))
            continue
        settings.append((str(key), str(value)))
    data = run.get("data") or {}
    if data.get("missing_policy"):
        settings.append(("missing values", str(data["missing_policy"])))
    timings = [(stage, f"{seconds:.3f} s") for stage, seconds in (run.get("timings") or {}).items()]
    total = sum((run.get("timings") or {}).values())
    if timings:
        timings.append(("total", f"{total:.3f} s"))
    return {
        "graph_source": source,
        "graph_sha256": "",  # a learned graph: its inputs' fingerprints are below
        "inputs": inputs,
        "settings": settings,
        "versions": list((run.get("versions") or {}).items()),
        "versions_note": "recorded with the run",
        "timings": timings,
        "seed": run.get("seed"),
        "mesalens_version": document.get("mesalens_version", ""),
        "schema_version": document.get("schema_version", ""),
    }
