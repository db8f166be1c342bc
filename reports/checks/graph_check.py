"""One check of a given graph: roles merged with an example's, the class checked, DAGs listed.

The machinery behind ``mesalens check-graph`` and the Python API's
``mesalens.check_graph``: both get the graph with :func:`graph_input` (a
file, a graph object or a built-in example), resolve the roles with :func:`role_texts`
(what the caller gave wins over a built-in example's roles, which win over
the defaults ``regime`` and ``keep``), build them with
:func:`~mesalens.reports.checks.config.build_roles` and decide the criterion
with :func:`check_graph`, which returns a
:class:`~mesalens.reports.checks.results.GraphCheckResult` that prints,
writes and gives the exit code. Nothing here writes a file.

>>> from mesalens.reports.examples import load_example
>>> graph, defaults = load_example("collider")
>>> texts, missing = role_texts({"regime": None, "base": None, "mesa": None,
...                              "decision": None, "policy_inputs": None}, defaults)
>>> missing
[]
>>> result = check_graph(graph, build_roles(**texts), source="example:collider")
>>> result.verdict, result.n_dags, result.exit_code
('none', 1, 4)
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mesalens.connectors.errors import InputError
from mesalens.pipeline.checker import check
from mesalens.pipeline.enumeration import iter_dag_edges
from mesalens.pipeline.formats.objects import graph_from_object
from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.roles import Roles, spell_as_in_graph
from mesalens.reports.checks.config import build_roles
from mesalens.reports.checks.results import GraphCheckResult
from mesalens.reports.examples import load_example
from mesalens.reports.result_json import check_result_to_dict

__all__ = [
    "ROLE_DEFAULTS",
    "ROLE_KEYS",
    "GraphInput",
    "build_roles",
    "check_graph",
    "graph_input",
    "role_texts",
]

#: The role options, in the order the command line and the API take them.
ROLE_KEYS = ("regime", "base", "mesa", "decision", "policy_inputs")
#: The roles that have a default of their own.
ROLE_DEFAULTS = {"regime": "regime", "policy_inputs": "keep"}


@dataclass(frozen=True)
class GraphInput:
    """The graph to check, where it came from, and the roles it brings along.

    Attributes
    ----------
    graph : CausalGraph
        The graph, converted.
    source : str
        A path, ``example:NAME``, or the kind of object (``a networkx DiGraph``).
    sha256 : str or None
        The SHA-256 of a graph file's bytes.
    path : str or None
        The graph file, which no output may replace.
    defaults : dict of str to str
        An example's roles, as command-line text (empty otherwise).
    """

    graph: CausalGraph
    source: str
    sha256: str | None = None
    path: str | None = None
    defaults: dict[str, str] = field(default_factory=dict)


def graph_input(
    graph: Any = None,
    *,
    example: str | None = None,
    format: str | None = None,
    names: Sequence[str] | None = None,
) -> GraphInput:
    """Read, convert or load the graph to check: a file, a graph object, or a built-in example.

    Raises
    ------
    InputError
        For both or neither of ``graph`` and ``example``, an unknown example,
        or a graph that cannot be read or converted
        (:func:`~mesalens.pipeline.formats.objects.graph_from_object`).
    """
    if (graph is None) == (example is None):
        raise InputError("give either a graph or example=NAME (not both)")
    if example is not None:
        if format is not None or names is not None:
            raise InputError("format= and names= apply to a graph, not to example=")
        loaded, defaults = load_example(example)
        return GraphInput(loaded, f"example:{example}", defaults=defaults)
    converted, source, sha256 = graph_from_object(
        graph, format=format, names=None if names is None else list(names)
    )
    path = os.fspath(graph) if isinstance(graph, str | os.PathLike) else None
    return GraphInput(converted, source, sha256=sha256, path=path)


def role_texts(
    given: Mapping[str, str | None], defaults: Mapping[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """The role options as text: the given ones, else an example's ``defaults``, else the defaults.

    The defaults of their own are :data:`ROLE_DEFAULTS`.

    Returns
    -------
    texts : dict of str to str
        The roles that have a value, by key.
    missing : list of str
        The keys that have none (among ``base``, ``mesa``, ``decision``).
    """
    defaults = defaults or {}
    texts: dict[str, str] = {}
    missing: list[str] = []
    for key in ROLE_KEYS:
        value = given.get(key)
        if value is None:
            value = defaults.get(key, ROLE_DEFAULTS.get(key))
        if value is None:
            missing.append(key)
        else:
            texts[key] = value
    return texts, missing


def check_graph(
    graph: CausalGraph,
    roles: Roles,
    *,
    source: str,
    graph_sha256: str | None = None,
    graph_path: str | None = None,
    list_dags: int | None = None,
    knowledge: str | None = None,
    advice: bool = True,
) -> GraphCheckResult:
    """Decide the criterion over the class of ``graph`` (nothing is written).

    Parameters
    ----------
    graph : CausalGraph
        A DAG, CPDAG, MPDAG or PAG.
    roles : Roles
        The roles and the policy inputs.
    source : str
        Where the graph came from (a path, ``example:NAME``), for the document.
    graph_sha256 : str, optional
        The SHA-256 of the graph file's bytes.
    graph_path : str, optional
        The graph file, which no output of the result may replace.
    list_dags : int, optional
        List up to this many DAGs of the class into the document (``dags``).
    knowledge : str, optional
        A Tetrad knowledge file whose required and forbidden edges and tiers
        orient the graph's undirected edges before the check.
    advice : bool, default True
        Add what would settle a ``some`` and which policy inputs would pass
        (:mod:`mesalens.pipeline.advice`) to the document (``advice``).

    Returns
    -------
    GraphCheckResult

    Raises
    ------
    InputError
        For roles the graph does not have, a graph the checker refuses, or a
        listing asked of a PAG.
    """
    if knowledge is not None:
        from mesalens.pipeline.knowledge_graph import apply_knowledge
        from mesalens.reports.checks.config import read_knowledge

        graph = apply_knowledge(graph, read_knowledge(knowledge, label="--knowledge"))
    # Role names are compared with node names in Unicode normal form NFC.
    result = check(graph, spell_as_in_graph(roles, graph))
    dags = None
    if list_dags is not None:
        if result.restricted_pdag is None:
            raise InputError(
                "--list-dags lists DAGs, but GRAPH is a PAG whose class is MAGs; they are "
                "listed in the JSON ('latent', 'mags') and the HTML report: use --json or "
                "--html instead"
            )
        names = result.node_names
        dags = [
            [(names[i], names[j]) for i, j in sorted(edges)]
            for edges in itertools.islice(iter_dag_edges(result.restricted_pdag), list_dags)
        ]
    document = check_result_to_dict(
        result, graph_source=source, dags=dags, graph_sha256=graph_sha256
    )
    if advice:
        from mesalens.pipeline.advice import advise

        document["advice"] = advise(result).to_dict()
    if dags is not None:  # the listing is the last key, as check-graph streams it
        document["dags"] = document.pop("dags")
    return GraphCheckResult(result, document, graph, source, graph_path=graph_path)
