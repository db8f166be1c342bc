r"""The output folder of a job: its layout and the run records that describe its runs.

Layout of the output folder ``DIR``::

    DIR/
      index.html               every check and every run, newest first (self-contained)
      index.json               the same content, machine-readable
      mesalens.log             one line per job/check start, verdict, change, error (appended)
      .index.lock              serialises rewrites of the index
      CHECK/
        .lock                  held (flock) while a run of CHECK is in progress
        history.json           {"check": CHECK, "runs": [run record, ...]} oldest first
        trends.json            the index's cache of each run's rows and alignment gap
        latest -> runs/RUN     symlink to the newest run that produced a verdict
        runs/
          20250301T020000Z/    one folder per run: what ``run_one`` wrote
            run.json           (result.json, graph.txt, report.html, ...) + the run record
          20250301T020000Z-1/  a second run within the same second
          .20250302T020000Z.partial/   a run in progress (or killed): ignored, then removed

A *run record* (``run.json``, and the entries of ``history.json`` and
``index.json``) holds ``check``, ``run`` (the folder name), ``seq`` (1, 2, ...
per check: the order of the runs even if the clock moves back), ``status``
(``ok`` or ``error``), ``started``/``finished`` (UTC, ISO 8601),
``verdict``, ``n_dags``, ``n_hold``, ``n_fail``, ``n_invalid`` (exact
integers; ``null`` for an error), ``stability`` (with ``bootstrap = B``:
``{"stable", "share", "threshold", "replicates"}``, whether the share of
bootstrap resamples that reproduce the verdict reaches the check's
``stability_threshold``, as in ``result.json``'s ``bootstrap``; ``null``
without a bootstrap or for an error), ``direct_test`` (with the direct
test: ``{"status", "reject", "contradicts"}``, the test's status and decision
as in ``result.json``'s ``direct_test`` and whether it contradicts a
structural ``all``, by
:func:`~mesalens.reports.vocabulary.contradicts_all`; ``null``
without the test, for an error, or in a record written before the field
existed), ``previous_run``/``previous_verdict`` (the
newest earlier run with a verdict), ``changed`` (the verdict differs from
``previous_verdict``), ``error`` (the one-line message of a failed run),
``files`` (what the run folder holds) and ``config`` (the check as run,
credentials in URLs hidden).

These names, the records' JSON text (:func:`json_text`) and timestamps
(:func:`iso_now`) are shared by :mod:`mesalens.reports.jobs.engine`, which
writes the runs, and :mod:`mesalens.reports.jobs.index`, which reads them back.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "CHECK_NAME",
    "HISTORY_JSON",
    "INDEX_FROM_RUN",
    "INDEX_HTML",
    "INDEX_JSON",
    "INDEX_LOCK",
    "LATEST",
    "LOCK_FILE",
    "LOG_FILE",
    "PARTIAL_SUFFIX",
    "RESERVED_NAMES",
    "RUNS",
    "RUN_JSON",
    "SCHEMA_VERSION",
    "PreviousRun",
    "iso_now",
    "json_text",
]

INDEX_HTML = "index.html"
#: ``index.html`` as seen from a run folder (``DIR/CHECK/runs/RUN/``): the
#: link back to the index in each run's report.
INDEX_FROM_RUN = f"../../../{INDEX_HTML}"
INDEX_JSON = "index.json"
LOG_FILE = "mesalens.log"
HISTORY_JSON = "history.json"
RUN_JSON = "run.json"
LATEST = "latest"
RUNS = "runs"
LOCK_FILE = ".lock"
INDEX_LOCK = ".index.lock"
SCHEMA_VERSION = 1

PARTIAL_SUFFIX = ".partial"
CHECK_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
# Names of files in DIR that a check folder must not shadow (compared ignoring case).
RESERVED_NAMES = frozenset({INDEX_HTML, INDEX_JSON, LOG_FILE, INDEX_LOCK})


@dataclass(frozen=True)
class PreviousRun:
    """The newest earlier run of a check that produced a verdict.

    :func:`~mesalens.reports.jobs.engine.run_jobs` puts it in
    :attr:`~mesalens.reports.checks.config.CheckSpec.previous` before calling
    ``run_one``, so that a report can say "changed from ``all``".

    Attributes
    ----------
    run : str
        Its run folder name (``20250301T020000Z``).
    verdict : str
        Its verdict.
    finished : str
        When it finished (UTC, ISO 8601).
    """

    run: str
    verdict: str
    finished: str

    @property
    def relative_path(self) -> str:
        """The previous run folder as seen from the new run's folder (``../RUN``)."""
        return f"../{self.run}"


def json_text(document: Any) -> str:
    """A JSON document as the job files write it: indented, UTF-8, a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def iso_now() -> str:
    """The current UTC time to the second, as ISO 8601 (``2026-11-27T07:05:00Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
