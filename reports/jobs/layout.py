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

Every file of the folder may have been damaged by hand (wrong types, a folder
where a file belongs, a dangling or looping link, truncation, not JSON).
:func:`record_problem` says what is wrong with a run record as read back, and
:class:`DamagedOutput` is the one-line error, naming the file and what to do,
that fails the check concerned (and only that check).

These names, the records' JSON text (:func:`json_text`) and timestamps
(:func:`iso_now`) are shared by :mod:`mesalens.reports.jobs.engine`, which
writes the runs, and :mod:`mesalens.reports.jobs.index`, which reads them back.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mesalens.connectors.errors import InputError
from mesalens.reports.vocabulary import EXIT_CODES

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
    "RUN_ID",
    "RUN_JSON",
    "SCHEMA_VERSION",
    "DamagedOutput",
    "PreviousRun",
    "iso_now",
    "json_text",
    "record_problem",
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
#: The name of a run folder: the UTC time to the second, and ``-N`` for the Nth rerun in it.
RUN_ID = re.compile(r"(\d{8}T\d{6}Z)(?:-(\d+))?")
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


class DamagedOutput(InputError):
    """A file or folder of a job's output folder is not what the engine wrote there.

    The message names the file, what is wrong and what to do (move it away);
    the engine fails the check concerned with it and runs the others.

    Parameters
    ----------
    path : Path
        The damaged file or folder.
    problem : str
        What is wrong with it (``is a folder, not a file``).
    remedy : str
        What to do (``move it away; mesalens writes it again``).
    """

    def __init__(self, path: Path, problem: str, remedy: str):
        super().__init__(f"{str(path)!r} {problem}; {remedy}")
        self.path = path


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else f"{text[:37]}..."


# Optional fields of a record: None, or a value this test accepts.
_OPTIONAL_FIELDS: dict[str, tuple[str, Any]] = {
    "schema_version": ("a whole number", _is_int),
    "check": ("a text", lambda v: isinstance(v, str)),
    "started": ("a text", lambda v: isinstance(v, str)),
    "finished": ("a text", lambda v: isinstance(v, str)),
    "duration_s": ("a number", _is_number),
    "previous_run": ("a text", lambda v: isinstance(v, str)),
    "previous_verdict": ("a text", lambda v: isinstance(v, str)),
    "error": ("a text", lambda v: isinstance(v, str)),
    "files": (
        "a list of file names",
        lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    ),
    "config": ("a JSON object", lambda v: isinstance(v, dict)),
    "stability": (
        "a stability summary",
        lambda v: (
            isinstance(v, dict)
            and isinstance(v.get("stable"), bool)
            and all(_is_number(v.get(k)) for k in ("share", "threshold", "replicates"))
        ),
    ),
    "direct_test": (
        "a direct-test summary",
        lambda v: (
            isinstance(v, dict)
            and isinstance(v.get("status", ""), str)
            and all(isinstance(v.get(k, False), bool) for k in ("reject", "contradicts"))
        ),
    ),
    "confirmation": (
        "a confirmation",
        lambda v: (
            isinstance(v, dict)
            and isinstance(v.get("status", ""), str)
            and isinstance(v.get("reasons") or [], list)
            and all(isinstance(x, str) for x in v.get("reasons") or [])
            and isinstance(v.get("advice") or "", str)
        ),
    ),
}


def record_problem(record: Any) -> str | None:
    """What is wrong with a run record read back from ``run.json``, or None if nothing is.

    Fields missing from an older record are fine (they read as ``null``);
    present ones must have the types the engine writes.

    Examples
    --------
    >>> record_problem({"seq": 1, "status": "ok", "verdict": "all", "n_dags": 2}) is None
    True
    >>> record_problem({"seq": "1", "status": "ok", "verdict": "all"})
    'its "seq" is "1", not a whole number of at least 1'
    >>> record_problem([1, 2])
    'holds a JSON array, not a run record (a JSON object)'
    """
    if not isinstance(record, dict):
        kind = "null" if record is None else f"JSON {type(record).__name__}"
        kind = {"JSON list": "JSON array", "JSON dict": "JSON object"}.get(kind, kind)
        return f"holds a {kind}, not a run record (a JSON object)"
    seq = record.get("seq")
    if not (_is_int(seq) and seq >= 1):
        return f'its "seq" is {_shown(seq)}, not a whole number of at least 1'
    status = record.get("status")
    if status not in ("ok", "error"):
        return f'its "status" is {_shown(status)}, not "ok" or "error"'
    verdict = record.get("verdict")
    if status == "ok" and (not isinstance(verdict, str) or verdict not in EXIT_CODES):
        return f'its "verdict" is {_shown(verdict)}, not one of {", ".join(EXIT_CODES)}'
    if status == "error" and verdict is not None:
        return f'its "verdict" is {_shown(verdict)} although its "status" is "error"'
    for key in ("n_dags", "n_hold", "n_fail", "n_invalid"):
        value = record.get(key)
        if value is not None and not (_is_int(value) and value >= 0):
            return f'its "{key}" is {_shown(value)}, not a whole number'
    if not isinstance(record.get("changed", False), bool):
        return f'its "changed" is {_shown(record.get("changed"))}, not true or false'
    for key, (kind, test) in _OPTIONAL_FIELDS.items():
        value = record.get(key)
        if value is not None and not test(value):
            return f'its "{key}" is {_shown(value)}, not {kind}'
    return None
