r"""Scheduled batch jobs: several checks from one job file, with a history of runs.

A *job file* is a TOML file with one ``[[check]]`` table per check. Each check
takes the keys of the single-check ``mesalens run --config`` file (``regimes``,
``regime_name``, ``base``, ``mesa``, ``decision``, ``policy_inputs``, ``method``,
``test``, ``alpha``, ``max_depth``, ``knowledge``, ``columns``, ``dtypes``,
``missing``, ``seed``, and the evidence keys ``sensitivity``, ``bootstrap``,
``stability_threshold``, ``direct_test``, ``direct_test_rows``) plus a
``name``; the same keys at the top level are defaults that every check
inherits (a check's own ``regimes`` table replaces the default one whole).
``scheduler`` (a dask.distributed address) and ``out`` (the output
folder when ``--out`` is not given) are top-level only::

    method = "pc"
    alpha = 0.01
    base = "true_reward"
    mesa = "value"
    decision = "action"

    [[check]]
    name = "coinrun"
    policy_inputs = ["obs_x", "obs_y"]
    [check.regimes]
    train = "logs/coinrun/train/*.parquet"
    deploy = "logs/coinrun/deploy/*.parquet"

    [[check]]
    name = "maze"
    mesa = "value_head"
    [check.regimes]
    train = "logs/maze/train/*.parquet"
    deploy = "postgresql+psycopg://reader@db/logs?table=maze_deploy"

Check names are plain tokens (letters, digits, ``_``, ``.``, ``-``; not
starting with ``.`` or ``-``), distinct even ignoring case. Relative paths
(regime locations that are not URLs, a knowledge file, ``out``) are relative
to the job file's folder, so a cron job works whatever its working directory.

Layout of the output folder ``DIR``::

    DIR/
      index.html               every check and every run, newest first (self-contained)
      index.json               the same content, machine-readable
      mesalens.log             one line per job/check start, verdict, change, error (appended)
      .index.lock              serialises rewrites of the index
      CHECK/
        .lock                  held (flock) while a run of CHECK is in progress
        history.json           {"check": CHECK, "runs": [run record, ...]} oldest first
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
integers; ``null`` for an error), ``previous_run``/``previous_verdict`` (the
newest earlier run with a verdict), ``changed`` (the verdict differs from
``previous_verdict``), ``error`` (the one-line message of a failed run),
``files`` (what the run folder holds) and ``config`` (the check as run,
credentials in URLs hidden).

Exit code of a job (first that applies):

====  ==================================================================
code  meaning
====  ==================================================================
1     a check failed (bad input, unreadable data, internal error): its
      error is in the history, the index and the log; the other checks ran.
      Also an invalid job file (nothing runs then).
6     a check's verdict changed against its previous run with a verdict
7     a check was skipped: another run of it holds its lock ("busy")
5     the worst verdict is ``invalid``
4     the worst verdict is ``none``
3     the worst verdict is ``some``
0     every check ran and every verdict is ``all``
====  ==================================================================

Guarantees, for running from cron or a workflow scheduler:

* **Atomic runs.** A run is written into ``runs/.RUN.partial/`` and renamed to
  ``runs/RUN/`` (an atomic rename) only once complete, ``run.json`` last; a
  run killed at any point leaves at most a ``.partial`` folder, which the
  index ignores and the next run of the check removes. ``index.html``,
  ``index.json``, ``history.json`` and ``run.json`` are written atomically
  (temporary file, fsync, rename) and ``latest`` is replaced atomically (a
  temporary symlink renamed over it), so none is ever truncated or missing
  once it exists.
* **One source of truth.** ``history.json`` and the index are rebuilt from the
  ``run.json`` files of the complete run folders, so they cannot disagree
  with them, and a run killed after its rename is listed by the next one.
* **Locks.** Each check has a lock file taken with a non-blocking
  :func:`fcntl.flock`: a run of a check that is already running elsewhere is
  skipped with ``another run of check X is in progress (pid N)`` instead of
  interleaving with it. The lock dies with its process; nothing to clean up.
* **Idempotent re-runs.** Running the same job again adds a new run folder
  (``-1``, ``-2`` ... when the second is the same) and rewrites the index; it
  never changes or removes a complete run.
* **Logs** are appended to ``DIR/mesalens.log`` (UTC timestamps, pid), with
  every location passed through :func:`~mesalens.connectors.redact_url`.

The checks themselves are run by a function passed in (``run_one``), so this
module does not depend on how a check runs; :func:`run_check` is the real
one (load the regimes, analyse, write the outputs).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import html
import json
import logging
import os
import re
import shutil
import time
import tomllib
import traceback
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mesalens.connectors.errors import InputError, MesalensError
from mesalens.connectors.regime import (
    DEFAULT_REGIME_NAME,
    RegimeSpec,
    check_regimes,
    parse_regime_option,
    redact_url,
)
from mesalens.pipeline.analysis import DiscoverySettings, EvidenceSettings
from mesalens.pipeline.dask_client import connected_client
from mesalens.pipeline.roles import Roles
from mesalens.reports.atomic import atomic_write_text
from mesalens.reports.cli_common import BadInput, build_roles, one_line
from mesalens.reports.summary import EXIT_CODES, format_count

__all__ = [
    "CHECK_KEYS",
    "EVIDENCE_KEYS",
    "EXIT_BUSY",
    "EXIT_CHANGED",
    "EXIT_FAILED",
    "INDEX_HTML",
    "INDEX_JSON",
    "LOG_FILE",
    "TOP_ONLY_KEYS",
    "CheckOutcome",
    "CheckSpec",
    "ConfigValueError",
    "JobFile",
    "JobsOutcome",
    "PreviousRun",
    "RunOutcome",
    "build_index",
    "collect_runs",
    "evidence_settings",
    "is_job_file",
    "is_job_path",
    "jobs_exit_code",
    "load_job_file",
    "parse_job",
    "render_index_html",
    "run_check",
    "run_job_file",
    "run_jobs",
    "verdict_change_note",
]

#: Exit code: a check failed, or the job file is invalid.
EXIT_FAILED = 1
#: Exit code: a verdict changed against the previous run of its check.
EXIT_CHANGED = 6
#: Exit code: a check was skipped because another run of it is in progress.
EXIT_BUSY = 7

INDEX_HTML = "index.html"
INDEX_JSON = "index.json"
LOG_FILE = "mesalens.log"
HISTORY_JSON = "history.json"
RUN_JSON = "run.json"
LATEST = "latest"
RUNS = "runs"
LOCK_FILE = ".lock"
INDEX_LOCK = ".index.lock"
SCHEMA_VERSION = 1

_PARTIAL_SUFFIX = ".partial"
_RUN_ID = re.compile(r"(\d{8}T\d{6}Z)(?:-(\d+))?")
_CHECK_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
# Names of files in DIR that a check folder must not shadow (compared ignoring case).
_RESERVED = frozenset({INDEX_HTML, INDEX_JSON, LOG_FILE, INDEX_LOCK})
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"]+")

# The keys of the evidence beyond the graph (see evidence_settings).
EVIDENCE_KEYS = (
    "sensitivity",
    "bootstrap",
    "stability_threshold",
    "direct_test",
    "direct_test_rows",
)
# The single-check keys a [[check]] table (or the top level, as defaults) may hold;
# a single-check config (`run --config`) takes these and TOP_ONLY_KEYS.
CHECK_KEYS = (
    "regimes",
    "regime_name",
    "base",
    "mesa",
    "decision",
    "policy_inputs",
    "method",
    "test",
    "alpha",
    "max_depth",
    "knowledge",
    "columns",
    "dtypes",
    "missing",
    "seed",
    *EVIDENCE_KEYS,
)
TOP_ONLY_KEYS = ("scheduler", "out")
# Worst first, for the exit code of several verdicts.
_VERDICT_ORDER = ("invalid", "none", "some", "all")


# --------------------------------------------------------------------------- job files


@dataclass(frozen=True)
class PreviousRun:
    """The newest earlier run of a check that produced a verdict.

    :func:`run_jobs` puts it in :attr:`CheckSpec.previous` before calling
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


@dataclass(frozen=True)
class CheckSpec:
    """One check of a job file, validated.

    Attributes
    ----------
    name : str
        The check's name (a plain token; also its folder name).
    regimes : tuple of RegimeSpec
        Two or more regimes; relative paths already resolved.
    regime_name : str
        The name of the regime column.
    roles : Roles
        Regime, base, mesa, decision and policy inputs.
    settings : DiscoverySettings
        Method, test, alpha, depth and seed.
    knowledge : str or mapping or None
        A Tetrad knowledge file (absolute path) or an inline table.
    columns : tuple of str or None
        Only these columns, or all.
    dtypes : mapping of str to str or None
        Per-column type overrides (``float``, ``int``, ``category``, ``bool``).
    missing : str
        ``"drop"`` or ``"error"``.
    previous : PreviousRun or None
        Filled in by :func:`run_jobs` before ``run_one`` is called.
    evidence : EvidenceSettings
        The evidence beyond the graph to gather (key ``sensitivity``, ...).
    """

    name: str
    regimes: tuple[RegimeSpec, ...]
    regime_name: str
    roles: Roles
    settings: DiscoverySettings
    knowledge: str | Mapping[str, Any] | None = None
    columns: tuple[str, ...] | None = None
    dtypes: Mapping[str, str] | None = None
    missing: str = "drop"
    previous: PreviousRun | None = None
    evidence: EvidenceSettings = field(default_factory=EvidenceSettings)

    def load_knowledge(self) -> Any:
        """The background knowledge (a :class:`~mesalens.pipeline.knowledge.Knowledge`) or None.

        Raises
        ------
        InputError
            If the knowledge file cannot be read or is malformed.
        """
        from mesalens.pipeline.knowledge import Knowledge, read_tetrad_knowledge

        if self.knowledge is None:
            return None
        if isinstance(self.knowledge, str):
            try:
                text = Path(self.knowledge).read_text(encoding="utf-8")
            except OSError as exc:
                raise InputError(
                    f"check {self.name!r}: cannot read the knowledge file "
                    f"{self.knowledge!r}: {exc.strerror or exc}"
                ) from None
            return read_tetrad_knowledge(text, source=self.knowledge)
        return Knowledge.from_mapping(self.knowledge, source=f"check {self.name!r} knowledge")

    def describe(self) -> dict[str, Any]:
        """The check as plain JSON values, locations with their credentials hidden."""
        roles = self.roles
        knowledge: Any = None
        if isinstance(self.knowledge, str):
            knowledge = self.knowledge
        elif self.knowledge is not None:
            knowledge = "inline table"
        return {
            "regimes": {spec.name: spec.display for spec in self.regimes},
            "regime_name": self.regime_name,
            "base": list(roles.base),
            "mesa": list(roles.mesa),
            "decision": list(roles.decision),
            "policy_inputs": "keep" if roles.policy_inputs is None else list(roles.policy_inputs),
            "method": self.settings.method,
            "test": self.settings.test,
            "alpha": self.settings.alpha,
            "max_depth": self.settings.max_depth,
            "seed": self.settings.seed,
            "knowledge": knowledge,
            "columns": None if self.columns is None else list(self.columns),
            "dtypes": None if self.dtypes is None else dict(self.dtypes),
            "missing": self.missing,
        }


@dataclass(frozen=True)
class JobFile:
    """A validated job file.

    Attributes
    ----------
    checks : tuple of CheckSpec
        The checks, in file order (the order they run in).
    source : str
        The job file's path, for messages and the log.
    scheduler : str or None
        A dask.distributed scheduler address for every check.
    out : str or None
        The output folder named in the file (absolute), used without ``--out``.
    """

    checks: tuple[CheckSpec, ...]
    source: str = "<job file>"
    scheduler: str | None = None
    out: str | None = None


def is_job_file(config: Mapping[str, Any]) -> bool:
    """Whether a parsed TOML config is a job file (it has ``check`` tables) or a single check."""
    return "check" in config


def is_job_path(path: str | os.PathLike[str]) -> bool:
    """Whether the TOML file at ``path`` is a job file.

    An unreadable or invalid file gives ``False``, so that the single-check
    config reader reports the problem in its own words.
    """
    try:
        with open(path, "rb") as handle:
            return is_job_file(tomllib.load(handle))
    except (OSError, tomllib.TOMLDecodeError):
        return False


def load_job_file(path: str | os.PathLike[str]) -> JobFile:
    """Read and validate a job file.

    Parameters
    ----------
    path : str or path-like
        The TOML file.

    Returns
    -------
    JobFile
        Every check validated (names, keys, types, roles, regimes); relative
        paths resolved against the file's folder.

    Raises
    ------
    InputError
        With a one-line message naming the file, the check and the key.
    """
    source = os.fspath(path)
    try:
        with open(source, "rb") as handle:
            config = tomllib.load(handle)
    except OSError as exc:
        raise InputError(f"cannot read the job file {source!r}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"job file {source!r} is not valid TOML: {one_line(str(exc))}") from None
    return parse_job(config, source=source, base_dir=Path(source).resolve().parent)


def parse_job(
    config: Mapping[str, Any], *, source: str = "<job file>", base_dir: Path | None = None
) -> JobFile:
    """Validate a parsed job file (see the module docstring for the format).

    Parameters
    ----------
    config : mapping
        The parsed TOML.
    source : str, optional
        Where it came from, for messages.
    base_dir : Path, optional
        The folder relative paths are resolved against (default: the
        current directory).

    Returns
    -------
    JobFile
        The validated checks.

    Raises
    ------
    InputError
        With a one-line message naming the file, the check and the key.
    """
    base = (base_dir or Path.cwd()).resolve()
    where = f"job file {source!r}"
    allowed_top = {*CHECK_KEYS, *TOP_ONLY_KEYS, "check"}
    unknown = sorted(set(config) - allowed_top)
    if unknown:
        raise InputError(
            f"{where} has unknown top-level key(s) {', '.join(map(repr, unknown))}; "
            f"the keys are {', '.join(sorted(allowed_top))}"
        )
    tables = config.get("check")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise InputError(
            f"{where}: 'check' must be one or more [[check]] tables (double brackets), "
            "each with a name and the check's keys"
        )
    scheduler = config.get("scheduler")
    if scheduler is not None and not (isinstance(scheduler, str) and scheduler.strip()):
        raise InputError(f"{where}: 'scheduler' must be an address such as 'tcp://HOST:8786'")
    out = config.get("out")
    if out is not None:
        if not (isinstance(out, str) and out.strip()):
            raise InputError(f"{where}: 'out' must be a folder path")
        out = _resolve_path(out, base)
    defaults = {key: config[key] for key in CHECK_KEYS if key in config}
    checks: list[CheckSpec] = []
    seen: dict[str, str] = {}
    for position, table in enumerate(tables, start=1):
        name = table.get("name")
        if not isinstance(name, str) or not _CHECK_NAME.fullmatch(name):
            shown = f"name {name!r}" if name is not None else "no name"
            raise InputError(
                f"{where}: check #{position} has {shown}; give each [[check]] a name of "
                "letters, digits, '_', '.' or '-' (e.g. name = \"coinrun-nightly\")"
            )
        if name.lower() in _RESERVED:
            raise InputError(
                f"{where}: check name {name!r} is reserved for the index; choose another"
            )
        if name.lower() in seen:
            raise InputError(
                f"{where}: check name {name!r} is used twice (also {seen[name.lower()]!r}); "
                "check names must be distinct, ignoring case"
            )
        seen[name.lower()] = name
        label = f"{where}: check {name!r}"
        extra = sorted(set(table) - {*CHECK_KEYS, "name"})
        if extra:
            top_only = [key for key in extra if key in TOP_ONLY_KEYS]
            if top_only:
                raise InputError(
                    f"{label}: key {top_only[0]!r} belongs at the top of the job file, "
                    "not in a [[check]] table"
                )
            raise InputError(
                f"{label}: unknown key(s) {', '.join(map(repr, extra))}; "
                f"the keys are name, {', '.join(CHECK_KEYS)}"
            )
        merged = {**defaults, **{k: v for k, v in table.items() if k != "name"}}
        try:
            checks.append(_check_spec(name, merged, base))
        except ConfigValueError as exc:
            raise InputError(f"{label}: key {exc.key!r} {exc}") from None
        except (MesalensError, BadInput) as exc:
            raise InputError(f"{label}: {one_line(str(exc))}") from None
    return JobFile(checks=tuple(checks), source=source, scheduler=scheduler, out=out)


class ConfigValueError(Exception):
    """A value of the wrong type or range, to be prefixed with the check and key."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def evidence_settings(config: Mapping[str, Any]) -> EvidenceSettings:
    """The evidence settings of one check from its config keys (absent keys: the defaults).

    The one place that reads ``sensitivity``, ``bootstrap``,
    ``stability_threshold``, ``direct_test`` and ``direct_test_rows`` from a
    config table; ``run``'s options arrive here too, already merged with it.

    Raises
    ------
    ConfigValueError
        For a value of the wrong type or range (the caller names the key).
    """
    defaults = EvidenceSettings()
    sensitivity = config.get("sensitivity", defaults.sensitivity)
    if not isinstance(sensitivity, bool):
        raise ConfigValueError("sensitivity", f"must be true or false, got {sensitivity!r}")
    replicates = config.get("bootstrap", defaults.bootstrap)
    if isinstance(replicates, bool) or not isinstance(replicates, int) or replicates < 0:
        raise ConfigValueError(
            "bootstrap",
            f"must be a number of resamples >= 0, got {replicates!r}; e.g. 100 (0: off)",
        )
    threshold = config.get("stability_threshold", defaults.stability_threshold)
    share = isinstance(threshold, int | float) and not isinstance(threshold, bool)
    if not share or not 0 < threshold <= 1:
        raise ConfigValueError(
            "stability_threshold", f"must be a share in (0, 1], got {threshold!r}; e.g. 0.95"
        )
    direct = config.get("direct_test", defaults.direct_test)
    if not isinstance(direct, bool):
        raise ConfigValueError("direct_test", f"must be true or false, got {direct!r}")
    rows = config.get("direct_test_rows", defaults.direct_test_rows)
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 100:
        raise ConfigValueError(
            "direct_test_rows", f"must be an integer >= 100, got {rows!r}; e.g. 100000"
        )
    return EvidenceSettings(
        sensitivity=sensitivity,
        bootstrap=replicates,
        stability_threshold=float(threshold),
        direct_test=direct,
        direct_test_rows=rows,
    )


def _names_text(config: Mapping[str, Any], key: str) -> str | None:
    """A role value (text or list of names) as the command line's comma-separated text."""
    value = config.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    raise ConfigValueError(key, 'must be a name or a list of names, e.g. ["a", "b"]')


def _resolve_path(location: str, base: Path) -> str:
    """A local path relative to ``base``; URLs (``scheme://``) and absolute paths as given."""
    if _URL.match(location):
        return location
    expanded = os.path.expanduser(location)
    if os.path.isabs(expanded):
        return expanded
    return os.path.join(str(base), expanded)


def _check_spec(name: str, config: Mapping[str, Any], base: Path) -> CheckSpec:
    """Validate one check's merged keys and build its :class:`CheckSpec`."""
    from mesalens.connectors.loader import DTYPE_OVERRIDES, MISSING_POLICIES
    from mesalens.pipeline.discovery import METHODS, TESTS
    from mesalens.pipeline.knowledge import Knowledge

    for key in ("base", "mesa", "decision", "regimes"):
        if key not in config:
            raise ConfigValueError(key, "is missing: give it in the [[check]] table or at the top")
    table = config["regimes"]
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise ConfigValueError(
            "regimes", "must be a table of NAME = \"LOCATION\", e.g. [check.regimes] train = '...'"
        )
    specs = []
    for regime, location in table.items():
        spec = parse_regime_option(f"{regime}={location}")
        specs.append(dataclasses.replace(spec, location=_resolve_path(spec.location, base)))
    check_regimes(specs, minimum=2)

    regime_name = config.get("regime_name", DEFAULT_REGIME_NAME)
    if not isinstance(regime_name, str) or not regime_name.strip():
        raise ConfigValueError("regime_name", "must be a column name such as 'regime'")
    policy = config.get("policy_inputs", "keep")
    if isinstance(policy, list):
        policy_text = _names_text(config, "policy_inputs") if policy else "none"
    elif isinstance(policy, str):
        policy_text = policy
    else:
        raise ConfigValueError("policy_inputs", "must be 'keep', 'none' or a list of names")
    roles = build_roles(
        regime_name,
        _names_text(config, "base") or "",
        _names_text(config, "mesa") or "",
        _names_text(config, "decision") or "",
        policy_text or "none",
    )

    method = config.get("method", "pc")
    if method not in METHODS:
        raise ConfigValueError("method", f"must be one of {', '.join(METHODS)}, got {method!r}")
    test = config.get("test", "auto")
    if test not in TESTS:
        raise ConfigValueError("test", f"must be one of {', '.join(TESTS)}, got {test!r}")
    alpha = config.get("alpha", 0.01)
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ConfigValueError("alpha", f"must be a number strictly between 0 and 1, got {alpha!r}")
    max_depth = config.get("max_depth", -1)
    if isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < -1:
        raise ConfigValueError(
            "max_depth", f"must be an integer >= -1 (-1: no limit), got {max_depth!r}"
        )
    seed = config.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigValueError("seed", f"must be an integer, got {seed!r}")
    missing = config.get("missing", "drop")
    if missing not in MISSING_POLICIES:
        raise ConfigValueError(
            "missing", f"must be one of {', '.join(MISSING_POLICIES)}, got {missing!r}"
        )

    columns_text = _names_text(config, "columns")
    columns = None
    if columns_text is not None:
        columns = tuple(part.strip() for part in columns_text.split(","))
        if not all(columns):
            raise ConfigValueError("columns", "has an empty name; give a list of column names")

    dtypes = config.get("dtypes")
    if dtypes is not None:
        if not isinstance(dtypes, dict) or not all(
            isinstance(v, str) and v in DTYPE_OVERRIDES for v in dtypes.values()
        ):
            raise ConfigValueError(
                "dtypes",
                f"must be a table of COLUMN = TYPE with TYPE one of {', '.join(DTYPE_OVERRIDES)}",
            )

    evidence = evidence_settings(config)

    knowledge = config.get("knowledge")
    if isinstance(knowledge, str):
        if not knowledge.strip():
            raise ConfigValueError("knowledge", "must be a knowledge file path or a table")
        knowledge = _resolve_path(knowledge, base)
    elif isinstance(knowledge, dict):
        Knowledge.from_mapping(knowledge, source=f"check {name!r} knowledge")
    elif knowledge is not None:
        raise ConfigValueError("knowledge", "must be a knowledge file path or a table")

    return CheckSpec(
        name=name,
        regimes=tuple(specs),
        regime_name=regime_name,
        roles=roles,
        settings=DiscoverySettings(
            method=method, test=test, alpha=float(alpha), max_depth=max_depth, seed=seed
        ),
        knowledge=knowledge,
        columns=columns,
        dtypes=dtypes,
        missing=missing,
        evidence=evidence,
    )


# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class RunOutcome:
    """What ``run_one`` returns: the verdict of one check and its exact counts.

    Attributes
    ----------
    verdict : str
        ``all``, ``some``, ``none`` or ``invalid``.
    n_dags, n_hold, n_fail, n_invalid : int
        The counts of the check (exact integers of any size).
    notes : tuple of str
        Remarks worth logging (discovery notes, for example).
    """

    verdict: str
    n_dags: int = 0
    n_hold: int = 0
    n_fail: int = 0
    n_invalid: int = 0
    notes: tuple[str, ...] = ()

    @classmethod
    def from_check_result(cls, result: Any, notes: Sequence[str] = ()) -> RunOutcome:
        """Build from a :class:`~mesalens.pipeline.checker.CheckResult`."""
        return cls(
            verdict=result.verdict,
            n_dags=result.n_dags,
            n_hold=result.n_hold,
            n_fail=result.n_fail,
            n_invalid=result.n_invalid,
            notes=tuple(notes),
        )


@dataclass(frozen=True)
class CheckOutcome:
    """How one check of a job went.

    Attributes
    ----------
    name : str
        The check.
    status : str
        ``ok`` (a verdict), ``error`` (the check failed) or ``busy`` (skipped:
        another run of it holds its lock).
    message : str or None
        The error or busy message (one line).
    record : dict or None
        The run record written to ``run.json`` (None when busy).
    folder : Path or None
        The run's folder (None when busy).
    """

    name: str
    status: str
    message: str | None = None
    record: dict[str, Any] | None = None
    folder: Path | None = None

    @property
    def verdict(self) -> str | None:
        """The verdict, or None if the check produced none."""
        return None if self.record is None else self.record.get("verdict")

    @property
    def previous_verdict(self) -> str | None:
        """The verdict of the previous run with a verdict, if any."""
        return None if self.record is None else self.record.get("previous_verdict")

    @property
    def changed(self) -> bool:
        """Whether the verdict differs from the previous run's."""
        return bool(self.record and self.record.get("changed"))

    @property
    def exit_code(self) -> int:
        """The exit code of this check alone (see :func:`jobs_exit_code`)."""
        return jobs_exit_code([self])


@dataclass(frozen=True)
class JobsOutcome:
    """The result of :func:`run_jobs`.

    Attributes
    ----------
    checks : tuple of CheckOutcome
        One per check, in job-file order.
    exit_code : int
        See :func:`jobs_exit_code`.
    out_dir : Path
        The output folder (``index.html``, ``index.json``, ``mesalens.log``).
    """

    checks: tuple[CheckOutcome, ...]
    exit_code: int
    out_dir: Path

    @property
    def index_html(self) -> Path:
        """``DIR/index.html``."""
        return self.out_dir / INDEX_HTML

    @property
    def index_json(self) -> Path:
        """``DIR/index.json``."""
        return self.out_dir / INDEX_JSON

    @property
    def log_file(self) -> Path:
        """``DIR/mesalens.log``."""
        return self.out_dir / LOG_FILE

    def summary_lines(self) -> list[str]:
        """One line per check and a final line with the index and exit code, for a terminal."""
        lines = []
        for outcome in self.checks:
            if outcome.status == "ok":
                assert outcome.record is not None
                line = f"check {outcome.name}: verdict {outcome.verdict}"
                if outcome.changed:
                    line += f" (CHANGED from {outcome.previous_verdict})"
                lines.append(f"{line}; {outcome.folder}")
            else:
                lines.append(f"check {outcome.name}: {outcome.status}: {outcome.message}")
        lines.append(
            f"index: {self.index_html}; log: {self.log_file}; "
            f"exit code {self.exit_code} ({_exit_meaning(self.exit_code)})"
        )
        return lines


def jobs_exit_code(outcomes: Sequence[CheckOutcome]) -> int:
    """The exit code of a job: the first that applies of 1, 6, 7, 5, 4, 3, 0.

    1: a check failed; 6: a verdict changed against the check's previous run;
    7: a check was busy; else the worst verdict's code (``invalid`` 5,
    ``none`` 4, ``some`` 3, ``all`` 0). No checks gives 0.
    """
    if any(o.status == "error" for o in outcomes):
        return EXIT_FAILED
    if any(o.changed for o in outcomes):
        return EXIT_CHANGED
    if any(o.status == "busy" for o in outcomes):
        return EXIT_BUSY
    verdicts = {o.verdict for o in outcomes if o.verdict is not None}
    for verdict in _VERDICT_ORDER:
        if verdict in verdicts:
            return EXIT_CODES[verdict]
    return 0


def _exit_meaning(code: int) -> str:
    meanings = {
        EXIT_FAILED: "a check failed",
        EXIT_CHANGED: "a verdict changed",
        EXIT_BUSY: "a check was skipped: another run is in progress",
        **{value: f"worst verdict {verdict}" for verdict, value in EXIT_CODES.items()},
    }
    return meanings.get(code, "unknown")


def verdict_change_note(previous: PreviousRun | None, verdict: str) -> str | None:
    """A sentence for a report when ``verdict`` differs from the previous run's, else None."""
    if previous is None or previous.verdict == verdict:
        return None
    return (
        f"The verdict changed from {previous.verdict!r} (run {previous.run}, "
        f"finished {previous.finished}) to {verdict!r}."
    )


# --------------------------------------------------------------------------- running


def run_check(
    check: CheckSpec,
    folder: Path,
    *,
    write_outputs: Callable[..., Any],
    on_stage: Callable[[str], None] | None = None,
    on_test: Callable[[int, int], None] | None = None,
) -> RunOutcome:
    """The real ``run_one``: load the regimes, analyse, write the outputs into ``folder``.

    Parameters
    ----------
    check : CheckSpec
        The check.
    folder : Path
        Where the outputs go (the run's ``.partial`` folder).
    write_outputs : callable
        ``write_outputs(folder, analysis, data, settings, verdict_change=...)``, i.e.
        :func:`mesalens.reports.run_cli.write_run_outputs`.
    on_stage, on_test : callable, optional
        Progress callbacks passed to :func:`~mesalens.pipeline.analysis.analyze`.

    Returns
    -------
    RunOutcome
        The verdict, the counts and the discovery notes.

    Raises
    ------
    MesalensError
        On bad input or data (one-line message).
    """
    from mesalens.connectors import load_regimes
    from mesalens.pipeline.analysis import analyze

    data = load_regimes(
        list(check.regimes),
        regime_name=check.regime_name,
        columns=None if check.columns is None else list(check.columns),
        dtypes=None if check.dtypes is None else dict(check.dtypes),
        missing=check.missing,
        sample_rows=check.evidence.sample_rows,
        seed=check.settings.seed,
    )
    analysis = analyze(
        data,
        check.roles,
        check.settings,
        knowledge=check.load_knowledge(),
        evidence=check.evidence,
        on_stage=on_stage,
        on_test=on_test,
    )
    change = verdict_change_note(check.previous, analysis.check.verdict)
    write_outputs(folder, analysis, data, check.settings, verdict_change=change)
    return RunOutcome.from_check_result(analysis.check, notes=analysis.discovery.notes)


def run_job_file(
    config_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None,
    *,
    run_one: Callable[[CheckSpec, Path], RunOutcome],
    scheduler: str | None = None,
    now: datetime | None = None,
) -> JobsOutcome:
    """Load a job file and run it: :func:`load_job_file`, a dask client, :func:`run_jobs`.

    Parameters
    ----------
    config_path : str or path-like
        The job file.
    out_dir : str or path-like or None
        The output folder; None uses the file's ``out`` key.
    run_one : callable
        Runs one check into a folder (:func:`run_check` with its
        ``write_outputs`` bound, or a fake in tests).
    scheduler : str, optional
        A dask.distributed address; overrides the file's ``scheduler``.
    now : datetime, optional
        The time that names the runs (default: now, UTC).

    Returns
    -------
    JobsOutcome
        Per-check outcomes and the exit code.

    Raises
    ------
    InputError
        If the job file is invalid, no output folder is given, or the
        scheduler cannot be reached (also logged when the folder is known).
    """
    job: JobFile | None = None
    target = None if out_dir is None else Path(out_dir)
    try:
        job = load_job_file(config_path)
        if target is None:
            if job.out is None:
                raise InputError(
                    f"no output folder: give --out DIR or out = 'DIR' in {os.fspath(config_path)!r}"
                )
            target = Path(job.out)
        with connected_client(scheduler or job.scheduler):
            return run_jobs(job, target, run_one=run_one, now=now)
    except InputError as exc:
        if target is not None:
            with contextlib.suppress(OSError), _job_logger(target) as log:
                log.error("job %s: %s", os.fspath(config_path), _redact_text(one_line(str(exc))))
        raise


def run_jobs(
    job_file: JobFile,
    out_dir: str | os.PathLike[str],
    *,
    run_one: Callable[[CheckSpec, Path], RunOutcome],
    now: datetime | None = None,
) -> JobsOutcome:
    """Run every check of a job, one after the other, each into a new run folder.

    See the module docstring for the layout, the guarantees and the exit
    codes. A check that fails (``run_one`` raises) is recorded with status
    ``error`` and the others still run; a check whose lock is held by
    another process is skipped (``busy``). The index is rewritten after
    every check.

    Parameters
    ----------
    job_file : JobFile
        The checks (from :func:`load_job_file`).
    out_dir : str or path-like
        The output folder; created if needed.
    run_one : callable
        ``run_one(check, folder) -> RunOutcome`` writes one check's outputs
        into ``folder`` (which exists) and returns its verdict and counts; it
        raises :class:`~mesalens.connectors.MesalensError` on bad input.
        ``check.previous`` is the previous run with a verdict, if any.
    now : datetime, optional
        The time that names this job's runs (default: now; naive means UTC).

    Returns
    -------
    JobsOutcome
        Per-check outcomes and the exit code.

    Raises
    ------
    OSError
        If the output folder, the index or a history cannot be written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stamp = _as_utc(now or datetime.now(UTC))
    base_id = stamp.strftime("%Y%m%dT%H%M%SZ")
    outcomes: list[CheckOutcome] = []
    with _job_logger(out) as log:
        log.info(
            "job %s: start, %d check(s): %s",
            job_file.source,
            len(job_file.checks),
            ", ".join(c.name for c in job_file.checks),
        )
        try:
            for check in job_file.checks:
                outcomes.append(_run_one_check(check, out, base_id, run_one, log))
                _write_index(out)
        except BaseException as exc:
            log.error("job %s: stopped by %s", job_file.source, type(exc).__name__)
            raise
        code = jobs_exit_code(outcomes)
        log.info("job %s: done, exit code %d (%s)", job_file.source, code, _exit_meaning(code))
    return JobsOutcome(checks=tuple(outcomes), exit_code=code, out_dir=out)


def _run_one_check(
    check: CheckSpec,
    out: Path,
    base_id: str,
    run_one: Callable[[CheckSpec, Path], RunOutcome],
    log: logging.Logger,
) -> CheckOutcome:
    """Run one check under its lock into a new run folder; never raises for the check's errors."""
    check_dir = out / check.name
    runs_dir = check_dir / RUNS
    runs_dir.mkdir(parents=True, exist_ok=True)
    with _try_lock(check_dir / LOCK_FILE) as holder:
        if holder is not None:
            message = f"another run of check {check.name} is in progress (pid {holder})"
            log.warning("check %s: busy: %s; skipped", check.name, message)
            return CheckOutcome(name=check.name, status="busy", message=message)
        _remove_temporaries(check_dir, (f".{HISTORY_JSON}.", f".{LATEST}."))
        for stale in _partials(runs_dir):
            shutil.rmtree(stale, ignore_errors=True)
            log.warning(
                "check %s: removed %s/%s, left by a run that did not finish",
                check.name,
                RUNS,
                stale.name,
            )
        records = collect_runs(check_dir, log=log)
        previous = _previous_run(records)
        run_id = _unique_run_id(runs_dir, base_id)
        seq = max((r.get("seq", 0) for r in records), default=0) + 1
        partial = runs_dir / f".{run_id}{_PARTIAL_SUFFIX}"
        partial.mkdir()
        description = check.describe()
        log.info(
            "check %s: start run %s (regimes %s; method %s)",
            check.name,
            run_id,
            ", ".join(f"{k}={v}" for k, v in description["regimes"].items()),
            check.settings.method,
        )
        started = _iso_now()
        clock = time.monotonic()
        result: RunOutcome | None = None
        error: str | None = None
        try:
            result = run_one(dataclasses.replace(check, previous=previous), partial)
            _validate_outcome(result)
        except (MesalensError, BadInput) as exc:
            error = _redact_text(one_line(str(exc)))
        except OSError as exc:
            where = f": {exc.filename!r}" if exc.filename else ""
            error = _redact_text(one_line(f"{exc.strerror or exc}{where}"))
        except Exception as exc:
            error = _redact_text(one_line(f"internal error: {type(exc).__name__}: {exc}"))
            log.error("check %s: traceback:\n%s", check.name, _redact_text(traceback.format_exc()))
        if error is not None:
            # What run_one wrote before failing may be incomplete: keep only the record.
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
        record = _run_record(
            check.name, run_id, seq, started, time.monotonic() - clock, result, error, previous
        )
        record["files"] = sorted([*(p.name for p in partial.iterdir()), RUN_JSON])
        record["config"] = description
        atomic_write_text(partial / RUN_JSON, _json(record))
        final = runs_dir / run_id
        os.rename(partial, final)
        _fsync_dir(runs_dir)
        if error is None:
            _point_latest(check_dir, run_id)
        atomic_write_text(
            check_dir / HISTORY_JSON,
            _json(
                {
                    "schema_version": SCHEMA_VERSION,
                    "check": check.name,
                    "runs": [*records, record],
                }
            ),
        )
    if error is not None:
        log.error("check %s: run %s failed: %s", check.name, run_id, error)
        return CheckOutcome(
            name=check.name, status="error", message=error, record=record, folder=final
        )
    assert result is not None
    for note in result.notes:
        log.info("check %s: note: %s", check.name, _redact_text(one_line(note)))
    counts = ", ".join(f"{k}={record[k]}" for k in ("n_dags", "n_hold", "n_fail", "n_invalid"))
    if record["changed"]:
        log.warning(
            "check %s: run %s: verdict %s CHANGED from %s (run %s); %s",
            check.name,
            run_id,
            result.verdict,
            record["previous_verdict"],
            record["previous_run"],
            counts,
        )
    else:
        log.info("check %s: run %s: verdict %s; %s", check.name, run_id, result.verdict, counts)
    return CheckOutcome(name=check.name, status="ok", record=record, folder=final)


def _validate_outcome(result: Any) -> None:
    if not isinstance(result, RunOutcome):
        raise TypeError(f"run_one returned {type(result).__name__}, not a RunOutcome")
    if result.verdict not in EXIT_CODES:
        raise ValueError(f"run_one returned the verdict {result.verdict!r}")
    for name in ("n_dags", "n_hold", "n_fail", "n_invalid"):
        value = getattr(result, name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"run_one returned {name}={value!r}, not an integer")


def _run_record(
    name: str,
    run_id: str,
    seq: int,
    started: str,
    duration: float,
    result: RunOutcome | None,
    error: str | None,
    previous: PreviousRun | None,
) -> dict[str, Any]:
    ok = error is None and result is not None
    verdict = result.verdict if ok and result is not None else None
    return {
        "schema_version": SCHEMA_VERSION,
        "check": name,
        "run": run_id,
        "seq": seq,
        "status": "ok" if ok else "error",
        "started": started,
        "finished": _iso_now(),
        "duration_s": round(duration, 3),
        "verdict": verdict,
        "n_dags": result.n_dags if ok and result is not None else None,
        "n_hold": result.n_hold if ok and result is not None else None,
        "n_fail": result.n_fail if ok and result is not None else None,
        "n_invalid": result.n_invalid if ok and result is not None else None,
        "previous_run": None if previous is None else previous.run,
        "previous_verdict": None if previous is None else previous.verdict,
        "changed": bool(ok and previous is not None and previous.verdict != verdict),
        "error": error,
    }


def _previous_run(records: Sequence[Mapping[str, Any]]) -> PreviousRun | None:
    for record in reversed(records):
        if record.get("status") == "ok" and record.get("verdict") in EXIT_CODES:
            return PreviousRun(
                run=str(record["run"]),
                verdict=str(record["verdict"]),
                finished=str(record.get("finished", "")),
            )
    return None


def _unique_run_id(runs_dir: Path, base_id: str) -> str:
    """``base_id``, or ``base_id-1``, ``-2``, ... if a run folder of that name exists."""
    candidate, n = base_id, 0
    while (runs_dir / candidate).exists() or (runs_dir / f".{candidate}{_PARTIAL_SUFFIX}").exists():
        n += 1
        candidate = f"{base_id}-{n}"
    return candidate


def _partials(runs_dir: Path) -> list[Path]:
    return sorted(
        p
        for p in runs_dir.iterdir()
        if p.name.startswith(".") and p.name.endswith(_PARTIAL_SUFFIX) and p.is_dir()
    )


def _remove_temporaries(folder: Path, prefixes: tuple[str, ...]) -> None:
    """Remove the temporary files of atomic writes that a killed process left in ``folder``.

    Only called under the lock that every writer of those files holds.
    """
    for path in folder.iterdir():
        if path.name.startswith(prefixes) and path.name.endswith(".tmp"):
            with contextlib.suppress(OSError):
                path.unlink()


def _point_latest(check_dir: Path, run_id: str) -> None:
    """Make ``check_dir/latest`` a relative symlink to ``runs/run_id``, atomically."""
    temporary = check_dir / f".{LATEST}.{uuid.uuid4().hex[:12]}.tmp"
    os.symlink(f"{RUNS}/{run_id}", temporary)
    try:
        os.replace(temporary, check_dir / LATEST)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_dir(check_dir)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _try_lock(path: Path) -> Iterator[str | None]:
    """Hold an exclusive flock on ``path``; yield None, or the holder's pid text if it is taken."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            try:
                holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
            except OSError:
                holder = ""
            yield holder or "unknown"
            return
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield None
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- history and index


def collect_runs(check_dir: Path, *, log: logging.Logger | None = None) -> list[dict[str, Any]]:
    """The run records of a check, oldest first, read from its complete run folders.

    ``.partial`` folders and folders without a readable ``run.json`` are
    skipped (the latter with a warning on ``log``).

    Parameters
    ----------
    check_dir : Path
        ``DIR/CHECK``.
    log : logging.Logger, optional
        Where to warn about unreadable run folders.

    Returns
    -------
    list of dict
        Sorted by ``seq``, then by run name.
    """
    runs_dir = check_dir / RUNS
    records = []
    if not runs_dir.is_dir():
        return records
    for folder in runs_dir.iterdir():
        if folder.name.startswith(".") or not _RUN_ID.fullmatch(folder.name):
            continue
        try:
            record = json.loads((folder / RUN_JSON).read_text(encoding="utf-8"))
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            if log is not None:
                log.warning("skipped %s: no readable %s (%s)", folder, RUN_JSON, exc)
            continue
        record["run"] = folder.name
        records.append(record)
    records.sort(key=lambda r: (_int(r.get("seq")), _run_sort_key(r["run"])))
    return records


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _run_sort_key(run_id: str) -> tuple[str, int]:
    match = _RUN_ID.fullmatch(run_id)
    if match is None:
        return (run_id, 0)
    return (match.group(1), int(match.group(2) or 0))


def build_index(out_dir: Path) -> dict[str, Any]:
    """The index document of an output folder: every check and every run, newest first.

    Built from the run folders on disk (:func:`collect_runs`), so it lists
    the runs of every check ever run into ``out_dir``.

    Returns
    -------
    dict
        ``{"schema_version", "generated", "checks": [{"name", "latest_run",
        "latest_verdict", "status", "changed", "n_runs", "config", "runs"}]}``;
        each run record also has ``path``, its folder relative to ``out_dir``.
    """
    checks = []
    folders = (
        sorted(p for p in out_dir.iterdir() if p.is_dir() and _CHECK_NAME.fullmatch(p.name))
        if out_dir.is_dir()
        else []
    )
    for folder in folders:
        if not (folder / RUNS).is_dir():
            continue
        records = collect_runs(folder)
        for record in records:
            record["path"] = f"{folder.name}/{RUNS}/{record['run']}"
        newest = records[-1] if records else None
        latest = _previous_run(records)
        checks.append(
            {
                "name": folder.name,
                "latest_run": None if latest is None else latest.run,
                "latest_verdict": None if latest is None else latest.verdict,
                "status": None if newest is None else newest.get("status"),
                "changed": bool(newest and newest.get("changed")),
                "n_runs": len(records),
                "config": None if newest is None else newest.get("config"),
                "runs": list(reversed(records)),
            }
        )
    return {"schema_version": SCHEMA_VERSION, "generated": _iso_now(), "checks": checks}


def _write_index(out: Path) -> None:
    """Rebuild ``index.json`` and ``index.html`` from disk, under the index lock."""
    fd = os.open(out / INDEX_LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _remove_temporaries(out, (f".{INDEX_JSON}.", f".{INDEX_HTML}."))
        index = build_index(out)
        atomic_write_text(out / INDEX_JSON, _json(index))
        atomic_write_text(
            out / INDEX_HTML, render_index_html(index["checks"], generated=index["generated"])
        )
    finally:
        os.close(fd)


_VERDICT_COLORS = {
    "all": "#15803d",
    "some": "#b45309",
    "none": "#b91c1c",
    "invalid": "#7e22ce",
    "error": "#334155",
}

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#0f172a}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 6px}
.meta{color:#64748b;margin:0 0 16px}
table{border-collapse:collapse;margin:6px 0 12px}
th,td{border-bottom:1px solid #e2e8f0;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f8fafc;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:1px 8px;border-radius:9px;color:#fff;font-weight:600}
.changed{background:#fef2f2}.mark{color:#b91c1c;font-weight:700}
.alert{border:1px solid #fecaca;background:#fef2f2;padding:8px 12px;border-radius:6px}
.error{color:#b91c1c}code{font-size:12px;background:#f1f5f9;padding:0 3px;border-radius:3px}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px;margin:4px 0}
dt{color:#64748b}dd{margin:0}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _href(*parts: str) -> str:
    return _e("/".join(urllib.parse.quote(part) for part in parts))


def _badge(label: str | None) -> str:
    if label is None:
        return "&ndash;"
    color = _VERDICT_COLORS.get(label, "#475569")
    return f'<span class="badge" style="background:{color}">{_e(label)}</span>'


def _count(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return _e(format_count(value))
    return "&ndash;"


def _config_html(config: Mapping[str, Any] | None) -> str:
    if not config:
        return ""
    rows = []
    regimes = config.get("regimes") or {}
    for regime, location in regimes.items():
        rows.append(f"<dt>regime {_e(regime)}</dt><dd><code>{_e(location)}</code></dd>")
    for key in ("base", "mesa", "decision", "policy_inputs", "columns"):
        value = config.get(key)
        if value is None:
            continue
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        rows.append(f"<dt>{_e(key)}</dt><dd>{_e(text)}</dd>")
    settings = ", ".join(
        f"{key} {config[key]}" for key in ("method", "test", "alpha") if key in config
    )
    rows.append(f"<dt>discovery</dt><dd>{_e(settings)}</dd>")
    if config.get("knowledge"):
        rows.append(f"<dt>knowledge</dt><dd>{_e(config['knowledge'])}</dd>")
    return "<dl>" + "".join(rows) + "</dl>"


def _run_links(record: Mapping[str, Any]) -> str:
    path = str(record.get("path") or f"{record.get('check')}/{RUNS}/{record.get('run')}")
    parts = path.split("/")
    files = set(record.get("files") or ())
    links = [f'<a href="{_href(*parts)}/">folder</a>']
    for name in ("report.html", "result.json", "graph.txt"):
        if name in files:
            links.append(f'<a href="{_href(*parts, name)}">{_e(name)}</a>')
    return " &middot; ".join(links)


def render_index_html(entries: Sequence[Mapping[str, Any]], *, generated: str | None = None) -> str:
    """The index page: every check (as in ``index.json``'s ``checks``) and its runs.

    The page is self-contained (inline CSS, no script, no network) and every
    value from the runs is escaped; links are relative to the output folder.

    Parameters
    ----------
    entries : sequence of mapping
        The ``checks`` of :func:`build_index`, runs newest first.
    generated : str, optional
        When the index was built, shown at the top.

    Returns
    -------
    str
        The HTML document.
    """
    changed = [entry for entry in entries if entry.get("changed")]
    failed = [entry for entry in entries if entry.get("status") == "error"]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>mesalens runs</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>mesalens runs</h1>",
        f'<p class="meta">{len(entries)} check(s)'
        + (f"; index written {_e(generated)}" if generated else "")
        + "</p>",
    ]
    alerts = []
    for entry in changed:
        newest = entry["runs"][0]
        alerts.append(
            f'check <a href="#check-{_e(entry["name"])}">{_e(entry["name"])}</a>: verdict '
            f"changed from {_badge(newest.get('previous_verdict'))} to "
            f"{_badge(newest.get('verdict'))} in run {_e(newest.get('run'))}"
        )
    for entry in failed:
        newest = entry["runs"][0]
        alerts.append(
            f'check <a href="#check-{_e(entry["name"])}">{_e(entry["name"])}</a>: '
            f"its newest run {_e(newest.get('run'))} failed: "
            f'<span class="error">{_e(newest.get("error"))}</span>'
        )
    if alerts:
        out.append('<div class="alert">' + "<br>".join(alerts) + "</div>")

    out.append(
        "<table><thead><tr><th>check</th><th>latest verdict</th><th>latest run</th>"
        "<th>newest run</th><th>runs</th></tr></thead><tbody>"
    )
    for entry in entries:
        name = str(entry["name"])
        runs = entry.get("runs") or []
        newest = runs[0] if runs else {}
        status = newest.get("status")
        newest_label = _badge(newest.get("verdict") if status == "ok" else status)
        if entry.get("changed"):
            newest_label += ' <span class="mark">changed</span>'
        row_class = ' class="changed"' if entry.get("changed") else ""
        latest_run = entry.get("latest_run")
        latest = (
            f'<a href="{_href(name, RUNS, latest_run)}/">{_e(latest_run)}</a>'
            if latest_run
            else "&ndash;"
        )
        out.append(
            f'<tr{row_class}><td><a href="#check-{_e(name)}">{_e(name)}</a></td>'
            f"<td>{_badge(entry.get('latest_verdict'))}</td><td>{latest}</td>"
            f"<td>{_e(newest.get('run'))} {newest_label}</td>"
            f'<td class="num">{_e(entry.get("n_runs", len(runs)))}</td></tr>'
        )
    out.append("</tbody></table>")

    for entry in entries:
        name = str(entry["name"])
        out.append(f'<h2 id="check-{_e(name)}">{_e(name)}</h2>')
        out.append(_config_html(entry.get("config")))
        out.append(
            "<table><thead><tr><th>run</th><th>finished (UTC)</th><th>verdict</th>"
            "<th>DAGs</th><th>hold</th><th>fail</th><th>invalid</th><th>previous</th>"
            "<th>change</th><th>outputs</th></tr></thead><tbody>"
        )
        for record in entry.get("runs") or []:
            ok = record.get("status") == "ok"
            mark = ""
            if record.get("changed"):
                mark = (
                    f'<span class="mark">changed: {_e(record.get("previous_verdict"))} '
                    f"&rarr; {_e(record.get('verdict'))}</span>"
                )
            elif not ok:
                mark = f'<span class="error">error: {_e(record.get("error"))}</span>'
            row_class = ' class="changed"' if record.get("changed") else ""
            out.append(
                f"<tr{row_class}><td>{_e(record.get('run'))}</td>"
                f"<td>{_e(record.get('finished'))}</td>"
                f"<td>{_badge(record.get('verdict') if ok else 'error')}</td>"
                + "".join(
                    f'<td class="num">{_count(record.get(key))}</td>'
                    for key in ("n_dags", "n_hold", "n_fail", "n_invalid")
                )
                + f"<td>{_badge(record.get('previous_verdict'))}</td><td>{mark}</td>"
                f"<td>{_run_links(record)}</td></tr>"
            )
        out.append("</tbody></table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- helpers


def _json(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _redact_text(text: str) -> str:
    """Hide the credentials of every URL in a free text (error messages, tracebacks)."""
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)


class _UTCFormatter(logging.Formatter):
    converter = time.gmtime


@contextlib.contextmanager
def _job_logger(out: Path) -> Iterator[logging.Logger]:
    """A logger that appends to ``out/mesalens.log`` while the block runs.

    The logger is private to this call (not registered with :mod:`logging`),
    so two jobs in one process never write into each other's files and
    nothing reaches the application's own handlers.
    """
    out.mkdir(parents=True, exist_ok=True)
    logger = logging.Logger("mesalens.jobs", level=logging.INFO)
    handler = logging.FileHandler(out / LOG_FILE, mode="a", encoding="utf-8")
    handler.setFormatter(
        _UTCFormatter("%(asctime)sZ %(levelname)s pid=%(process)d %(message)s", "%Y-%m-%dT%H:%M:%S")
    )
    logger.addHandler(handler)
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        handler.close()
