r"""The Python API: :func:`check_graph` and :func:`run`, for notebooks and scripts.

Both are the commands' machinery called with Python values:
:func:`check_graph` is ``mesalens check-graph`` and :func:`run` is
``mesalens run``, with the same options (the keys of
:data:`mesalens.reports.checks.options.OPTIONS`, the one options table), the
same checks and the same error messages, raised as
:class:`~mesalens.connectors.errors.InputError` (or a subclass) instead of
printed. They return result objects
(:class:`~mesalens.reports.checks.results.GraphCheckResult`,
:class:`~mesalens.reports.checks.results.RunResult`) with the verdict, the
exact counts, the witnesses and the exit code as attributes, which show as
the report's verdict card and graph in Jupyter.

A graph may be a networkx ``DiGraph``, a causal-learn ``GeneralGraph``, a
pgmpy ``DAG`` or ``PDAG``, a mesalens ``CausalGraph`` or the path of a graph
file (:mod:`mesalens.pipeline.formats.objects`).

>>> import networkx as nx
>>> import mesalens
>>> g = nx.DiGraph([("regime", "coin"), ("coin", "reward"), ("value", "reward"),
...                 ("value", "action")])
>>> result = mesalens.check_graph(g, base="reward", mesa="value", decision="action")
>>> result.verdict, result.counts, result.exit_code
('none', {'n_dags': 1, 'n_hold': 0, 'n_fail': 1, 'n_invalid': 0}, 4)
>>> result.open_path
['regime', 'coin', 'reward']
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mesalens.connectors.errors import InputError
from mesalens.pipeline.errors import RoleError
from mesalens.pipeline.roles import join_names
from mesalens.reports.checks.graph_check import build_roles, graph_input, role_texts
from mesalens.reports.checks.graph_check import check_graph as check_class
from mesalens.reports.checks.options import OPTIONS

if TYPE_CHECKING:
    from mesalens.reports.checks.results import GraphCheckResult, RunResult

__all__ = ["check_graph", "run"]

Names = str | Sequence[str]


def _role_text(key: str, value: Any) -> str | None:
    """A role given as text (comma-separated, as on the command line) or a list of names."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Sequence) and all(isinstance(name, str) for name in value):
        if key == "policy_inputs" and not value:
            return "none"
        return join_names(list(value))
    raise RoleError(
        f"{key}={value!r}: give a node name, comma-separated names or a list of names"
        + (", or 'keep' or 'none'" if key == "policy_inputs" else "")
    )


def check_graph(
    graph: Any = None,
    *,
    example: str | None = None,
    regime: str | None = None,
    base: Names | None = None,
    mesa: Names | None = None,
    decision: Names | None = None,
    policy_inputs: Names | None = None,
    format: str | None = None,
    names: Sequence[str] | None = None,
    list_dags: int | None = None,
) -> GraphCheckResult:
    """Decide the inner-alignment criterion over the equivalence class of ``graph``.

    ``mesalens check-graph`` as a function: nothing is written (see the
    result's ``write_json`` and ``write_report``).

    Parameters
    ----------
    graph : object, optional
        A DAG, CPDAG, MPDAG or PAG: a networkx ``DiGraph`` (an undirected edge
        as the two edges ``u -> v`` and ``v -> u``, or a ``kind`` attribute),
        a causal-learn ``GeneralGraph``, a pgmpy ``DAG`` or ``PDAG``, a
        ``CausalGraph``, or the path of a Tetrad, DOT or JSON graph file.
    example : str, optional
        A built-in example graph (``mesalens examples``) in place of
        ``graph``; its roles are the defaults of the role arguments.
    regime : str, optional
        The regime node s (default ``regime``).
    base, mesa, decision : str or list of str
        Y_b, Y_m and D_m: a node name, comma-separated names, or a list.
    policy_inputs : str or list of str, optional
        What the policy reads: ``keep`` (default: D_m's parents in each DAG),
        ``none`` (or an empty list), or the nodes.
    format : str, optional
        For a file: ``tetrad``, ``dot`` or ``json``, in place of the suffix.
    names : list of str, optional
        For a causal-learn graph: its node names in order (causal-learn
        calls them ``X1``, ``X2``, ... unless the search was given names).
    list_dags : int, optional
        Also list up to this many DAGs into the document (``dags``); the
        result's ``dags()`` streams any number of them.

    Returns
    -------
    GraphCheckResult
        ``verdict``, ``counts``, ``witnesses``, ``open_path``,
        ``parent_sets``, ``advice`` (what would settle or fix the verdict:
        ``docs/advice.md``), ``exit_code``; ``to_json()``,
        ``write_report(path)``, ``dags(limit)``.

    Raises
    ------
    InputError
        With the command line's message: a graph that cannot be read or
        converted, roles it does not have, an edge into the regime, ...

    Examples
    --------
    >>> import mesalens
    >>> result = mesalens.check_graph(example="collider")
    >>> result.verdict, result.exit_code
    ('none', 4)
    >>> [sorted(dag.edges) for dag in result.dags(limit=1)]
    [[('action', 'got_coin'), ('level_difficulty', 'got_coin'), ('level_difficulty', 'value'),
      ('regime', 'value'), ('value', 'action'), ('value', 'got_coin')]]
    >>> mesalens.check_graph(example="collider", base="reward")
    Traceback (most recent call last):
    ...
    mesalens.pipeline.errors.RoleError: --base names 'reward', which is not in the graph; ...
    """
    given = {
        "regime": regime,
        "base": _role_text("base", base),
        "mesa": _role_text("mesa", mesa),
        "decision": _role_text("decision", decision),
        "policy_inputs": _role_text("policy_inputs", policy_inputs),
    }
    found = graph_input(graph, example=example, format=format, names=names)
    texts, missing = role_texts(given, found.defaults)
    if missing:
        raise RoleError(
            f"check_graph() needs the role(s) {', '.join(missing)}: give them, e.g. "
            "base='reward', mesa='value', decision='action'"
        )
    if list_dags is not None and (
        isinstance(list_dags, bool) or not isinstance(list_dags, int) or list_dags < 1
    ):
        raise InputError(f"list_dags={list_dags!r}: give a whole number >= 1")
    return check_class(
        found.graph,
        build_roles(**texts),
        source=found.source,
        graph_sha256=found.sha256,
        graph_path=found.path,
        list_dags=list_dags,
    )


#: The arguments of :func:`run` of its own, never among ``**options``.
_OWN = ("regimes", "config", "out")
#: Table keys :func:`run` takes as keyword arguments.
_OPTION_KEYS = tuple(key for key in OPTIONS if key not in _OWN)


def _path_text(value: Any) -> Any:
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def run(
    regimes: Mapping[str, str | os.PathLike[str]] | None = None,
    *,
    base: Names | None = None,
    mesa: Names | None = None,
    decision: Names | None = None,
    out: str | os.PathLike[str] | None = None,
    config: str | os.PathLike[str] | None = None,
    **options: Any,
) -> RunResult:
    """Learn the causal class from logs and decide the criterion over it (``mesalens run``).

    Parameters
    ----------
    regimes : mapping of str to path
        Two or more regimes and their logs: ``{"train": "logs/train/*.parquet",
        "deploy": "logs/deploy.csv"}`` (files, globs, hive folders, fsspec
        or SQL URLs; a key ``"deploy:csv"`` names the reader).
    base, mesa, decision : str or list of str
        The columns of Y_b, Y_m and D_m (names, comma-separated names or patterns).
    out : str or path, optional
        Write ``result.json``, ``graph.txt``, ``graph.json`` and
        ``report.html`` there, as ``mesalens run --out``; by default nothing
        is written (the result's ``save(out)`` and ``write_report(path)`` can).
    config : str or path, optional
        A single-run TOML config with any of these options; the arguments win.
    **options
        Every other option of ``mesalens run``, under its config key (listed
        below, from the options table): ``policy_inputs``, ``method``,
        ``test``, ``alpha``, ``seed``, ``bootstrap``, ``tolerance``, ...

    Returns
    -------
    RunResult
        ``verdict``, ``counts``, ``witnesses``, ``exit_code``, ``gate``,
        ``confirmation``, ``confirmed``, ``direct_test``, ``learned_graph``;
        ``to_json()``, ``write_report(path)``, ``save(out)``, ``dags(limit)``.

    Raises
    ------
    InputError
        With the command line's message (a value out of range names the
        argument: ``alpha must be a number strictly between 0 and 1, got 2``).
    TypeError
        For an option ``mesalens run`` does not have.

    Examples
    --------
    >>> import mesalens
    >>> mesalens.run({"train": "a.csv", "deploy": "b.csv"}, base="r", mesa="v",
    ...              decision="a", alpha=2)
    Traceback (most recent call last):
    ...
    mesalens.connectors.errors.InputError: alpha must be a number strictly between 0 and 1, \
got 2; e.g. 0.01
    >>> mesalens.run({"train": "a.csv"}, base="r", mesa="v", decision="a", alfa=0.05)
    Traceback (most recent call last):
    ...
    TypeError: run() got an unexpected option 'alfa' (did you mean 'alpha'?)
    """
    from mesalens.reports.checks.config import is_job_file, parse_run_config, read_toml
    from mesalens.reports.checks.single_run import run_one

    for key in options:
        if key not in _OPTION_KEYS:
            close = difflib.get_close_matches(key, _OPTION_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(f"run() got an unexpected option {key!r}{hint}")
    given: dict[str, Any] = {key: _path_text(value) for key, value in options.items()}
    for key, value in (("base", base), ("mesa", mesa), ("decision", decision)):
        if value is not None:
            given[key] = _role_text(key, value)
    if "policy_inputs" in given:
        given["policy_inputs"] = _role_text("policy_inputs", given["policy_inputs"])
    if regimes is not None:
        if not isinstance(regimes, Mapping):
            raise InputError(
                f"regimes={regimes!r}: give a mapping of regime name to logs, e.g. "
                "{'train': 'logs/train.csv', 'deploy': 'logs/deploy.csv'}"
            )
        given["regimes"] = {str(name): _path_text(where) for name, where in regimes.items()}
    if out is not None:
        given["out"] = _path_text(out)
    source = None if config is None else os.fspath(config)
    table = read_toml(source) if source is not None else {}
    if is_job_file(table):
        raise InputError(
            f"{source} is a job file ([[check]] tables); mesalens.run runs one check: run the "
            "job file with `mesalens run --config`"
        )
    missing = [key for key in ("base", "mesa", "decision") if {**table, **given}.get(key) is None]
    if missing:
        raise RoleError(
            f"run() needs {', '.join(missing)}: give the column(s), e.g. base='true_reward', "
            "mesa='value', decision='action'"
        )
    settings = parse_run_config(table, source=source, options=given, flags={k: k for k in given})
    return run_one(settings, out=settings.out, config_file=source)


def _options_section() -> str:
    """The options of :func:`run`, one per line, from the options table."""
    lines = ["", "    Options (keyword arguments; defaults as in ``mesalens run --help``)", ""]
    for key in (k for k in _OPTION_KEYS if k not in ("base", "mesa", "decision")):
        option = OPTIONS[key]
        shown = option.show_default if option.show_default is not None else option.default
        default = "" if shown in (None, "") else f" [default: {shown}]"
        lines.append(f"    * ``{key}`` (``{option.flag}``): {option.help}{default}")
    return "\n".join(lines) + "\n"


run.__doc__ = (run.__doc__ or "") + _options_section()
