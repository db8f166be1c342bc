"""mesalens: does a model's own objective screen off the shift from the one we care about.

The Python API, for notebooks and scripts (docs/api.md):

* :func:`check_graph` -- the criterion over the equivalence class of a graph
  you have: a networkx ``DiGraph``, a causal-learn ``GeneralGraph``, a pgmpy
  ``DAG``, a graph file, or a built-in ``example``;
* :func:`run` -- from logs to a verdict: discovery, the check, and the
  evidence of the logs, with every option of ``mesalens run``.

Both return a result object (:class:`GraphCheckResult`, :class:`RunResult`)
with the verdict, the exact counts, the witnesses and the exit code as
attributes, ``to_json()``, ``write_report(path)`` and ``dags(limit)``; in
Jupyter it shows as the verdict card and the graph. Bad input raises
:class:`InputError` with the command line's message.

>>> import mesalens
>>> mesalens.check_graph(example="aligned")
<GraphCheckResult verdict='all' n_dags=2 n_hold=2 n_fail=0 n_invalid=0 exit_code=0>

The package's code is in three subpackages, one layer each (docs/design.md):
:mod:`mesalens.connectors`, :mod:`mesalens.pipeline` and
:mod:`mesalens.reports` (with the ``mesalens`` command line). The names
above are imported on first use, so ``import mesalens`` (and every command
that starts with it) loads none of the pipeline.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mesalens.connectors.errors import InputError, MesalensError
    from mesalens.functions import check_graph, run
    from mesalens.reports.checks.results import GraphCheckResult, RunResult

__all__ = [
    "GraphCheckResult",
    "InputError",
    "MesalensError",
    "RunResult",
    "__version__",
    "check_graph",
    "run",
]

# Where each public name lives.
_HOMES = {
    "check_graph": "mesalens.functions",
    "run": "mesalens.functions",
    "GraphCheckResult": "mesalens.reports.checks.results",
    "RunResult": "mesalens.reports.checks.results",
    "InputError": "mesalens.connectors.errors",
    "MesalensError": "mesalens.connectors.errors",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from mesalens.reports.result_json import mesalens_version

        return mesalens_version()
    if name not in _HOMES:
        raise AttributeError(f"module 'mesalens' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
