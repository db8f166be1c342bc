"""The machine-readable form of a check: a JSON document with a fixed schema.

The document is built as plain dicts and lists whose key order is fixed by
this module (never by the order results happen to arrive in), so the same
check always serialises to the same bytes. Counts are Python ints: they are
exact and may exceed ``2**64``; :mod:`json` writes them as integer literals of
any length (readers in other languages may need a big-integer option).

Schema (``schema_version`` 1)::

    {
      "schema_version": 1,
      "mesalens_version": "0.1.0",
      "graph_source": "graph.txt" | null,
      "graph_sha256": hex str | null   (of the graph file's bytes; null for an
                                        example or a learned graph),
      "verdict": "all" | "some" | "none" | "invalid",
      "n_dags": int, "n_hold": int, "n_fail": int, "n_invalid": int,
      "roles": {"regime": str, "base": [str], "mesa": [str], "decision": [str],
                "policy_inputs": "keep" | [str]},
      "parent_sets": [
        {"parents": [str] | {decision: [str]},
         "n_dags": int, "n_hold": int, "n_fail": int, "n_invalid": int,
         "status": "hold" | "fail" | "invalid",
         "open_path": [str] | null,
         "c1": bool | null, "c2": bool | null,
         "n_c1": int | null, "n_c2": int | null,
         "conjecture_disagrees": bool | null}
      ],
      "parent_sets_complete": bool   (false: keep-mode table cut at 64 rows;
                                      the counts above are still exact),
      "diagnostics_cut": bool   (true: the C1/C2 diagnostics, or with keep the
                                 table, stopped at their work budget; the
                                 verdict and the counts are still exact),
      "witnesses": {"hold": {"dag": [[u, v]]} | null,
                    "fail": {"dag": [[u, v]], "sigma_graph": [[u, v]],
                             "open_path": [str]} | null},
      "restricted_graph": [[u, kind, v]],
      "dags": [[[u, v]]]            (only when a listing was requested)
      "latent": {...}               (only for a PAG: see _latent_dict; the
                                     counts above are then over MAGs, and
                                     MAG witnesses add "mag"/"sigma_mag"
                                     triples, "dag"/"sigma_graph" keep
                                     their --> edges)
    }

``c1``/``c2`` are null when the condition varies across the DAGs of the
parent set or could not be settled; ``n_c1``/``n_c2`` then say how many
valid DAGs satisfy it (null when unknown).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from importlib import metadata
from typing import Any

from mesalens.pipeline.check_result import CheckResult, ParentSetResult, Witness
from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.pag_checker import MagWitness, PagCheckResult

__all__ = ["SCHEMA_VERSION", "check_result_to_dict", "dumps", "iter_dumps", "mesalens_version"]

SCHEMA_VERSION = 1


def mesalens_version() -> str:
    """Return the installed version of mesalens (``"unknown"`` when not installed)."""
    try:
        return metadata.version("mesalens")
    except metadata.PackageNotFoundError:
        return "unknown"


def _edge_pairs(graph: CausalGraph) -> list[list[str]]:
    """List the ``-->`` edges of a DAG as ``[tail, head]`` pairs, in the graph's edge order."""
    # A MAG's <-> edges are not pairs: they are in the witness's "mag" triples.
    return [[edge.u, edge.v] for edge in graph.edges() if edge.kind == "-->"]


def _triples(graph: CausalGraph) -> list[list[str]]:
    return [[edge.u, edge.kind, edge.v] for edge in graph.edges()]


def _latent_dict(result: PagCheckResult) -> dict[str, Any]:
    """The PAG part of the document: unit, assumptions, Zhang's MAG, the listed MAGs."""
    latent = result.latent
    assert latent is not None
    return {
        "class": "pag",
        "unit": "MAG",
        "enumerated": latent.enumerated,
        "n_mags": latent.n_mags,
        "sound": True,
        "complete": latent.complete,
        "assumptions": list(latent.assumptions),
        "manipulation": latent.manipulation,
        "references": list(latent.references),
        "pag": _triples(latent.pag),
        "zhang_mag": _triples(latent.reference_mag),
        "mags": [
            {
                "edges": _triples(record.mag),
                "status": record.status,
                "open_path": (
                    None if record.witness.open_path is None else list(record.witness.open_path)
                ),
                "violation": (
                    None if record.witness.violation is None else list(record.witness.violation)
                ),
            }
            for record in latent.mags
        ],
    }


def _witness_dict(witness: Witness | None, failing: bool) -> dict[str, Any] | None:
    if witness is None:
        return None
    out: dict[str, Any] = {"dag": _edge_pairs(witness.dag)}
    if failing:
        out["sigma_graph"] = _edge_pairs(witness.sigma_graph)
        out["open_path"] = None if witness.open_path is None else list(witness.open_path)
    if isinstance(witness, MagWitness):
        out["mag"] = _triples(witness.dag)
        if failing:
            out["sigma_mag"] = _triples(witness.sigma_graph)
    return out


def _parents_value(parents: dict[str, tuple[str, ...]]) -> list[str] | dict[str, list[str]]:
    if len(parents) == 1:
        (only,) = parents.values()
        return sorted(only)
    return {decision: sorted(names) for decision, names in parents.items()}


def _parent_set_dict(entry: ParentSetResult) -> dict[str, Any]:
    witness = entry.witness
    open_path = None
    if witness is not None and witness.open_path is not None:
        open_path = list(witness.open_path)
    return {
        "parents": _parents_value(entry.parents),
        "n_dags": int(entry.n_dags),
        "n_hold": int(entry.n_hold),
        "n_fail": int(entry.n_fail),
        "n_invalid": int(entry.n_invalid),
        "status": entry.status,
        "open_path": open_path,
        "c1": entry.c1,
        "c2": entry.c2,
        "n_c1": None if entry.n_c1 is None else int(entry.n_c1),
        "n_c2": None if entry.n_c2 is None else int(entry.n_c2),
        # With no valid DAG there is nothing to compare the conjecture with
        # (ParentSetResult reports False there, from a count of zero).
        "conjecture_disagrees": entry.conjecture_disagrees if entry.n_valid else None,
    }


def check_result_to_dict(
    result: CheckResult,
    graph_source: str | None = None,
    dags: Sequence[Sequence[tuple[str, str]]] | None = None,
    graph_sha256: str | None = None,
) -> dict[str, Any]:
    """Turn a :class:`~mesalens.pipeline.check_result.CheckResult` into the JSON document.

    Parameters
    ----------
    result : CheckResult
        What :func:`mesalens.pipeline.checker.check` returned.
    graph_source : str, optional
        Where the graph came from (a file name or ``example:NAME``).
    graph_sha256 : str, optional
        The SHA-256 of the graph file's bytes, so a reviewer can tell which
        version of the file was checked.
    dags : sequence of edge lists, optional
        DAGs of the restricted class listed on request, each a sequence of
        ``(tail, head)`` name pairs. When given, the document has a ``dags``
        key; when None it has none (listing was not requested).

    Returns
    -------
    dict
        JSON-serialisable, with a deterministic key order; see the module
        docstring for the schema.
    """
    roles = result.roles
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "mesalens_version": mesalens_version(),
        "graph_source": graph_source,
        "graph_sha256": graph_sha256,
        "verdict": result.verdict,
        "n_dags": int(result.n_dags),
        "n_hold": int(result.n_hold),
        "n_fail": int(result.n_fail),
        "n_invalid": int(result.n_invalid),
        "roles": {
            "regime": roles.regime,
            "base": list(roles.base),
            "mesa": list(roles.mesa),
            "decision": list(roles.decision),
            "policy_inputs": ("keep" if roles.policy_inputs is None else list(roles.policy_inputs)),
        },
        "parent_sets": [_parent_set_dict(entry) for entry in result.parent_sets],
        "parent_sets_complete": result.parent_sets_complete,
        "diagnostics_cut": result.diagnostics_cut,
        "witnesses": {
            "hold": _witness_dict(result.hold_witness, failing=False),
            "fail": _witness_dict(result.fail_witness, failing=True),
        },
        "restricted_graph": [[edge.u, edge.kind, edge.v] for edge in result.restricted.edges()],
    }
    if dags is not None:
        document["dags"] = [[[u, v] for u, v in dag] for dag in dags]
    if isinstance(result, PagCheckResult):
        document["latent"] = _latent_dict(result)
    return document


def _int_text(value: int) -> str:
    try:
        return str(value)
    except ValueError:
        # Past sys.get_int_max_str_digits() (4300 digits by default) int -> str
        # refuses; decimal's conversion has no such limit and stays exact.
        return str(Decimal(value))


def _encode(value: Any, level: int) -> str:
    """Encode ``value``: nested containers indented, flat lists on one line."""
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return "null"
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return _int_text(value)
    inner = _INDENT * (level + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [
            f"{inner}{json.dumps(str(key), ensure_ascii=False)}: {_encode(item, level + 1)}"
            for key, item in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + _INDENT * level + "}"
    if isinstance(value, list | tuple):
        if all(not isinstance(item, dict | list | tuple) for item in value):
            # Edge pairs and paths read best on one line.
            return "[" + ", ".join(_encode(item, level + 1) for item in value) + "]"
        items = [f"{inner}{_encode(item, level + 1)}" for item in value]
        return "[\n" + ",\n".join(items) + "\n" + _INDENT * level + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


_INDENT = "  "


def dumps(document: dict[str, Any]) -> str:
    r"""Serialise a document from :func:`check_result_to_dict` (indented, newline-terminated).

    Lists of plain values (edge pairs, paths, name lists) stay on one line;
    everything else is indented by two spaces. Node names are written as
    UTF-8 text rather than ``\u`` escapes, and key order is kept as built,
    so the output is readable and byte-for-byte reproducible. The result is
    standard JSON: :func:`json.loads` reads it back.
    """
    return _encode(document, 0) + "\n"


def iter_dumps(
    document: dict[str, Any], dags: Iterable[Sequence[tuple[str, str]]] | None = None
) -> Iterator[str]:
    """:func:`dumps` of ``document`` with ``dags`` as its last key, in chunks, as they come.

    The chunks join to exactly ``dumps({**document, "dags": [...]})``, but
    only one DAG is held at a time: ``--list-dags 10**9`` streams to its
    file in constant memory.
    """
    if dags is None:
        yield dumps(document)
        return
    closing = '"dags": []\n}'
    head = _encode({**document, "dags": []}, 0)
    assert head.endswith(closing)
    yield head[: -len("[]\n}")]
    first = True
    for dag in dags:
        pairs = [[u, v] for u, v in dag]
        yield ("[\n" if first else ",\n") + _INDENT * 2 + _encode(pairs, 2)
        first = False
    yield ("[]" if first else "\n" + _INDENT + "]") + "\n}\n"
