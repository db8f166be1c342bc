"""The results of a check, as objects: what ``check-graph`` and ``run`` print, write and exit with.

:class:`GraphCheckResult` (a graph's class, :mod:`.graph_check`) and
:class:`RunResult` (logs, :mod:`.single_run`) are what the Python API returns
(``mesalens.check_graph`` and ``mesalens.run``) and what the two commands
print from, write and take their exit code from. Both carry the result
document (``result.json``) and read their attributes off it:

* ``verdict``, the counts (``n_dags``, ``n_hold``, ``n_fail``, ``n_invalid``;
  ``counts`` has all four), ``roles``, ``witnesses`` (a DAG on each side; the
  failing one with its open path), ``open_path``, ``parent_sets``, ``advice``
  (what would settle or fix the verdict), and
  ``exit_code`` with the ``gate`` it stands for;
* ``to_json()`` (the document's text, byte for byte what ``--json`` writes),
  ``write_json(path)`` and ``write_report(path)`` (both atomic);
* ``dags(limit)``, a generator of the DAGs of the class as networkx
  ``DiGraph`` objects, listed with linear delay, never all held at once;
* ``_repr_html_()``: in Jupyter, the verdict card and the graph
  (:mod:`mesalens.reports.notebook`).

A run's result adds the confirmation by the logs (``confirmation``,
``confirmed``), the direct test, the bootstrap, the learned graph and
``save(out)``, which writes the output folder as ``mesalens run --out`` does.
"""

from __future__ import annotations

import itertools
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mesalens.connectors.atomic import atomic_write_text
from mesalens.connectors.errors import InputError
from mesalens.pipeline.check_result import CheckResult
from mesalens.pipeline.graph import CausalGraph
from mesalens.pipeline.roles import Roles
from mesalens.reports.result_json import dumps
from mesalens.reports.vocabulary import EXIT_CODES, RUN_EXIT_CODES, gate

if TYPE_CHECKING:
    import networkx as nx

    from mesalens.reports.checks.runner import CheckRun

__all__ = ["GraphCheckResult", "RunResult", "check_destination"]


def check_destination(what: str, path: str | os.PathLike[str], protect: str | None = None) -> None:
    """Refuse an output path whose folder is missing, that is a folder, or is ``protect``.

    ``what`` starts the message (``--html 'r.html'`` on the command line);
    ``protect`` is the input graph's path, which an output must not replace.

    >>> check_destination("--json", "/no/such/folder/out.json")
    Traceback (most recent call last):
    ...
    mesalens.connectors.errors.InputError: --json '/no/such/folder/out.json': the folder \
'/no/such/folder' does not exist; create it or write elsewhere
    """
    text = os.fspath(path)
    target = Path(text)
    if not target.parent.is_dir():
        raise InputError(
            f"{what} {text!r}: the folder {str(target.parent)!r} does not exist; create it "
            "or write elsewhere"
        )
    if target.is_dir():
        raise InputError(f"{what} {text!r} is a folder; give a file name")
    if protect is not None and target.exists() and target.resolve() == Path(protect).resolve():
        raise InputError(f"{what} {text!r} is the input graph itself; write elsewhere")


def _limit(limit: int | None) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InputError(
            f"dags(limit={limit!r}): the limit must be a whole number >= 1, or None for all"
        )
    return limit


class _Result(ABC):
    """What both kinds of result share; subclasses set ``document`` and ``check``."""

    document: dict[str, Any]
    check: CheckResult
    #: The input graph file, which no output may replace (None: none).
    _protect: str | None = None

    # ---------------------------------------------------------------- reading
    @property
    def verdict(self) -> str:
        """``all``, ``some``, ``none`` or ``invalid`` (over the valid DAGs of the class)."""
        return str(self.document["verdict"])

    @property
    def n_dags(self) -> int:
        """The DAGs in the class (MAGs for a PAG), exact."""
        return int(self.document["n_dags"])

    @property
    def n_hold(self) -> int:
        """The valid DAGs in which the criterion holds."""
        return int(self.document["n_hold"])

    @property
    def n_fail(self) -> int:
        """The valid DAGs in which it fails."""
        return int(self.document["n_fail"])

    @property
    def n_invalid(self) -> int:
        """The DAGs that cannot host the declared policy."""
        return int(self.document["n_invalid"])

    @property
    def counts(self) -> dict[str, int]:
        """``n_dags``, ``n_hold``, ``n_fail`` and ``n_invalid``, by name."""
        return {key: int(self.document[key]) for key in ("n_dags", "n_hold", "n_fail", "n_invalid")}

    @property
    def roles(self) -> Roles:
        """The roles checked: regime, base, mesa, decision and policy inputs."""
        return self.check.roles

    @property
    def witnesses(self) -> dict[str, Any]:
        """A DAG on each side (``hold``, ``fail``; None when a side is empty), as edge pairs.

        The failing one also has its G_σ (``sigma_graph``) and the open
        path from the regime to the base objective (``open_path``).
        """
        return self.document["witnesses"]

    @property
    def open_path(self) -> list[str] | None:
        """The failing witness's open path in G_σ, from the regime to Y_b; None if nothing fails."""
        fail = self.document["witnesses"].get("fail") or {}
        path = fail.get("open_path")
        return None if path is None else list(path)

    @property
    def parent_sets(self) -> list[dict[str, Any]]:
        """One entry per parent set of the decision: counts, status, open path, C1, C2."""
        return self.document["parent_sets"]

    @property
    def advice(self) -> dict[str, Any] | None:
        """What would settle a ``some`` or fix the policy (``docs/advice.md``); None if off.

        ``edges``, ``knowledge`` (each with its Tetrad file, ``text``, in the
        form ``required``, ``forbidden`` or ``tiers``), ``experiments``,
        ``marks`` (a PAG's circle marks) and ``policy``, with exact counts
        (``unit``: ``dag``, or ``mag`` for a PAG).
        """
        return self.document.get("advice")

    @property
    def gate(self) -> str:
        """What the exit code stands for: the verdict (for a run, ``all, not confirmed`` too)."""
        return str(self.document["verdict"])

    @property
    def exit_code(self) -> int:
        """The command line's exit code: 0 all, 3 some, 4 none, 5 invalid."""
        return EXIT_CODES[self.verdict]

    # ---------------------------------------------------------------- output
    def to_json(self) -> str:
        """The result document as JSON text (what ``--json`` writes)."""
        return dumps(self.document)

    def write_json(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_json` to ``path``, atomically.

        Raises
        ------
        InputError
            If the folder is missing, ``path`` is a folder, or it cannot be written.
        """
        check_destination("JSON output", path, self._protect)
        try:
            atomic_write_text(os.fspath(path), self.to_json())
        except OSError as exc:
            raise InputError(
                f"cannot write the JSON output {os.fspath(path)!r}: {exc.strerror or exc}"
            ) from None

    @abstractmethod
    def report_html(self) -> str:
        """The self-contained HTML report (what ``--html`` and ``report.html`` hold)."""

    def write_report(self, path: str | os.PathLike[str], html: str | None = None) -> None:
        """Write :meth:`report_html` (or ``html``) to ``path`` atomically: complete, or not at all.

        Raises
        ------
        InputError
            If the folder is missing, ``path`` is a folder, or it cannot be written.
        """
        from mesalens.reports.html import write_report

        check_destination("HTML report", path, self._protect)
        if html is None:
            html = self.report_html()
        try:
            write_report(os.fspath(path), html)
        except OSError as exc:
            raise InputError(
                f"cannot write the HTML report {os.fspath(path)!r}: {exc.strerror or exc}"
            ) from None

    # ---------------------------------------------------------------- DAGs
    def dags(self, limit: int | None = None) -> Iterator[nx.DiGraph]:
        """The DAGs of the restricted class, one at a time, as networkx ``DiGraph`` objects.

        Parameters
        ----------
        limit : int, optional
            Stop after this many (default: all of them; the count is
            ``n_dags``, which may be astronomically large).

        Yields
        ------
        networkx.DiGraph
            One DAG: every node of the graph (in its order) and its edges.

        Raises
        ------
        InputError
            For a PAG, whose class is MAGs (listed in ``document["latent"]``
            and the report), or a limit that is not a whole number >= 1.
        """
        import networkx as nx

        limit = _limit(limit)
        if self.check.restricted_pdag is None:
            raise InputError(
                "dags() lists DAGs, but the graph is a PAG whose class is MAGs; they are listed "
                "in document['latent']['mags'] and in the HTML report (write_report)"
            )
        from mesalens.pipeline.enumeration import iter_dag_edges

        names = self.check.node_names
        for edges in itertools.islice(iter_dag_edges(self.check.restricted_pdag), limit):
            dag = nx.DiGraph()
            dag.add_nodes_from(names)
            dag.add_edges_from((names[i], names[j]) for i, j in sorted(edges))
            yield dag

    # ---------------------------------------------------------------- display
    def _notebook_html(self, run: dict[str, Any] | None) -> str:
        from mesalens.reports.notebook import render_notebook_html

        return render_notebook_html(
            self.document, run=run, result=self.check, exit_code=self.exit_code, gate=self.gate
        )

    def __repr__(self) -> str:
        counts = " ".join(f"{key}={value}" for key, value in self.counts.items())
        name = type(self).__name__
        return f"<{name} verdict={self.verdict!r} {counts} exit_code={self.exit_code}>"


class GraphCheckResult(_Result):
    """The criterion over the class of a given graph (``mesalens check-graph``).

    Attributes
    ----------
    check : CheckResult
        The checker's result (witness graphs, parent sets).
    document : dict
        The result document (see :mod:`mesalens.reports.result_json`).
    graph : CausalGraph
        The graph as given (converted).
    source : str
        Where it came from: a path, ``example:NAME`` or the kind of object.
    """

    def __init__(
        self,
        check: CheckResult,
        document: dict[str, Any],
        graph: CausalGraph,
        source: str,
        *,
        graph_path: str | None = None,
    ):
        self.check = check
        self.document = document
        self.graph = graph
        self.source = source
        self._protect = graph_path

    @cached_property
    def _html(self) -> str:
        return self._render(self.document.get("dags"))

    def _render(self, dags: Sequence[Sequence[tuple[str, str]]] | None) -> str:
        from mesalens.reports.dag_pages import class_dags
        from mesalens.reports.html import render_check_report
        from mesalens.reports.sections import render_sections

        return render_check_report(
            self.document,
            dags=dags if dags is not None else class_dags(self.check),
            result=self.check,
            sections=render_sections(self.document),
        )

    def report_html(self, dags: Sequence[Sequence[tuple[str, str]]] | None = None) -> str:
        """The self-contained HTML report (what ``check-graph --html`` writes).

        ``dags`` are the listed DAGs the report shows (default: the
        document's, else the class's first ones).
        """
        return self._html if dags is None else self._render(dags)

    def _repr_html_(self) -> str:
        return self._notebook_html(None)


class RunResult(_Result):
    """A run on logs (``mesalens run``): the learned class, its verdict and the evidence.

    Attributes
    ----------
    check : CheckResult
        The checker's result over the learned class.
    document : dict
        The run's result document (``result.json``).
    analysis : AnalysisResult
        Discovery, the check and the evidence stages.
    data : LoadedData
        The loaded regimes (summaries, fingerprints).
    out : Path or None
        The folder the outputs were written to (None: not written; see :meth:`save`).
    """

    def __init__(
        self, run: CheckRun, settings: Any, inputs: Sequence[tuple[str, str]] = ()
    ) -> None:
        self.analysis = run.analysis
        self.data = run.data
        self.document = run.document
        self.out = run.out
        self.check = run.analysis.check
        self._settings = settings
        # The local inputs (what, path): a later save() must not write over them.
        self._inputs = tuple(inputs)

    @property
    def gate(self) -> str:
        """The verdict, or ``all, not confirmed`` when the logs do not confirm an ``all``."""
        return gate(self.document)

    @property
    def exit_code(self) -> int:
        """``mesalens run``'s exit code: 0 all (confirmed), 8 all (not confirmed), 3, 4, 5."""
        return RUN_EXIT_CODES[self.gate]

    @property
    def confirmation(self) -> dict[str, Any] | None:
        """Whether the logs confirm an ``all`` (``status``, ``reasons``, ``advice``); else None."""
        return self.document.get("confirmation")

    @property
    def confirmed(self) -> bool:
        """Whether the verdict is ``all`` and the logs confirm it (exit code 0)."""
        return self.exit_code == 0

    @property
    def direct_test(self) -> dict[str, Any] | None:
        """The direct test of Y_b ⊥ s | Y_m on the logs and the alignment gaps (None if off)."""
        return self.document.get("direct_test")

    @property
    def bootstrap(self) -> dict[str, Any] | None:
        """The bootstrap's verdict shares and stability (None without ``bootstrap``)."""
        return self.document.get("bootstrap")

    @property
    def learned_graph(self) -> CausalGraph:
        """The graph discovery returned (before the regime is made a root)."""
        return self.analysis.discovery.graph

    @cached_property
    def _html(self) -> str:
        from mesalens.reports.html import render_run_report

        return render_run_report(self.document, self.check, self.data)

    def report_html(self) -> str:
        """The self-contained HTML report (``report.html`` of ``mesalens run``)."""
        return self._html

    def save(self, out: str | os.PathLike[str]) -> Path:
        """Write ``result.json``, ``graph.txt``, ``graph.json`` and ``report.html`` into ``out``.

        As ``mesalens run --out`` does (each file atomically, ``result.json``
        last); the folder is created if missing. Returns the folder.

        Raises
        ------
        InputError
            If ``out`` is a file, holds or is one of the run's inputs, or
            cannot be written.
        """
        from mesalens.reports.checks.output_paths import check_output_paths
        from mesalens.reports.checks.runner import write_run_outputs

        folder = Path(os.fspath(out))
        check_output_paths([("out", folder, "folder")], self._inputs)
        try:
            self.document = write_run_outputs(folder, self.analysis, self.data, self._settings)
        except OSError as exc:
            raise InputError(
                f"cannot write the outputs into {str(folder)!r}: {exc.strerror or exc}"
            ) from None
        self.out = folder
        return folder

    def _repr_html_(self) -> str:
        return self._notebook_html(self.document)
