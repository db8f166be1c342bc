r"""Config and job files: the TOML formats of ``mesalens run --config`` and their validation.

This module is the one place that reads a TOML config and checks its values:
a single-run config and a job file take the same keys, and the values given
on ``mesalens run``'s command line go through the same validator
(:func:`parse_run_config`), so every key has one type check and one message.

A *single-run config* holds one check's keys at the top level (``regimes``,
``format``, ``regime_name``, ``base``, ``mesa``, ``decision``,
``policy_inputs``, ``method``, ``test``, ``alpha``, ``max_depth``,
``knowledge``, ``columns``, ``dtypes``, ``missing``, ``seed``, the evidence
keys ``sensitivity``, ``bootstrap``, ``stability_threshold``, ``direct_test``,
``direct_test_rows``, and ``scheduler`` and ``out``); command-line options win,
and relative paths are relative to the working directory, as on the command
line.

A *job file* is a TOML file with one ``[[check]]`` table per check. Each check
takes the same keys plus a ``name``; the same keys at the top level are
defaults that every check inherits (a check's own ``regimes`` table replaces
the default one whole). ``scheduler`` (a dask.distributed address) and
``out`` (the output folder when ``--out`` is not given) are top-level only::

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

``format`` (``csv``, ``tsv``, ``parquet``, ``jsonl`` or ``sql``) is the reader of
every regime whose key does not name its own (``"train:csv" = "logs/train.log"``),
in place of telling the format from the file's suffix.

Check names are plain tokens (letters, digits, ``_``, ``.``, ``-``; not
starting with ``.`` or ``-``), distinct even ignoring case. Relative paths
(regime locations that are not URLs, a knowledge file, ``out``) are relative
to the job file's folder, so a cron job works whatever its working directory.

:func:`read_toml` reads either kind of file; :func:`load_job_file` validates a
job file into a :class:`JobFile` of :class:`CheckSpec`, which
:mod:`mesalens.reports.jobs` runs; :func:`parse_run_config` validates a
single-run config merged with the command line into a :class:`RunConfig`.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mesalens.connectors.errors import InputError, MesalensError
from mesalens.connectors.regime import (
    DEFAULT_REGIME_NAME,
    FORMATS,
    RegimeSpec,
    check_regimes,
    parse_regime_option,
)
from mesalens.pipeline.analysis import DiscoverySettings, EvidenceSettings
from mesalens.pipeline.errors import RoleError
from mesalens.pipeline.roles import Roles, join_names, parse_names
from mesalens.reports.cli_common import BadInput, build_roles, one_line

# A check's name is also its folder in the output folder, so the output folder's
# layout says which names a check may take.
from mesalens.reports.jobs.layout import CHECK_NAME, RESERVED_NAMES, PreviousRun

__all__ = [
    "CHECK_KEYS",
    "EVIDENCE_KEYS",
    "TOP_ONLY_KEYS",
    "CheckSpec",
    "ConfigValueError",
    "JobFile",
    "RunConfig",
    "evidence_settings",
    "is_job_file",
    "is_job_path",
    "load_job_file",
    "parse_job",
    "parse_run_config",
    "read_knowledge",
    "read_toml",
    "validate_check",
]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")

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
    "format",
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
        Filled in by :func:`~mesalens.reports.jobs.engine.run_jobs` before ``run_one`` is called.
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
        return read_knowledge(self.knowledge, label=f"check {self.name!r}")

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


@dataclass(frozen=True)
class RunConfig:
    """A single run's settings: a config file merged with the command line, validated.

    Attributes
    ----------
    check : CheckSpec
        The check (named ``run``).
    scheduler : str or None
        A dask.distributed scheduler address.
    out : str or None
        The output folder.
    """

    check: CheckSpec
    scheduler: str | None = None
    out: str | None = None


def read_knowledge(knowledge: str | Mapping[str, Any] | None, *, label: str | None = None) -> Any:
    """Background knowledge from a Tetrad knowledge file's path or an inline table.

    Parameters
    ----------
    knowledge : str or mapping or None
        A file path, a table (``tiers``, ``required``, ``forbidden``) or None.
    label : str, optional
        What the knowledge belongs to (``check 'coinrun'``), to start messages with.

    Returns
    -------
    Knowledge or None
        The :class:`~mesalens.pipeline.knowledge.Knowledge`, or None without any.

    Raises
    ------
    InputError
        If the file cannot be read or the knowledge is malformed.
    """
    from mesalens.pipeline.knowledge import Knowledge, read_tetrad_knowledge

    if knowledge is None:
        return None
    prefix = f"{label}: " if label else ""
    if isinstance(knowledge, str):
        try:
            text = Path(knowledge).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(
                f"{prefix}cannot read the knowledge file {knowledge!r}: {exc.strerror or exc}"
            ) from None
        return read_tetrad_knowledge(text, source=knowledge)
    return Knowledge.from_mapping(knowledge, source=f"{label or 'config'} [knowledge]")


def read_toml(path: str | os.PathLike[str], *, what: str = "config") -> dict[str, Any]:
    """Read a TOML file (a single-run config or a job file) into a dictionary.

    Parameters
    ----------
    path : str or path-like
        The file.
    what : str, default "config"
        What the file is, for messages (``config``, ``job file``).

    Returns
    -------
    dict
        The parsed TOML, not yet validated.

    Raises
    ------
    InputError
        If the file cannot be read or is not valid TOML (one line).
    """
    source = os.fspath(path)
    try:
        with open(source, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise InputError(f"cannot read the {what} {source!r}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{what} {source!r} is not valid TOML: {one_line(str(exc))}") from None


def is_job_file(config: Mapping[str, Any]) -> bool:
    """Whether a parsed TOML config is a job file (it has ``check`` tables) or a single check."""
    return "check" in config


def is_job_path(path: str | os.PathLike[str]) -> bool:
    """Whether the TOML file at ``path`` is a job file.

    An unreadable or invalid file gives ``False``, so that the single-check
    config reader reports the problem in its own words.
    """
    try:
        return is_job_file(read_toml(path))
    except InputError:
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
    config = read_toml(source, what="job file")
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
    try:
        scheduler, out = _top_level(config, base)
    except ConfigValueError as exc:
        raise InputError(f"{where}: key {exc.key!r} {exc}") from None
    defaults = {key: config[key] for key in CHECK_KEYS if key in config}
    checks: list[CheckSpec] = []
    seen: dict[str, str] = {}
    for position, table in enumerate(tables, start=1):
        name = table.get("name")
        if not isinstance(name, str) or not CHECK_NAME.fullmatch(name):
            shown = f"name {name!r}" if name is not None else "no name"
            raise InputError(
                f"{where}: check #{position} has {shown}; give each [[check]] a name of "
                "letters, digits, '_', '.' or '-' (e.g. name = \"coinrun-nightly\")"
            )
        if name.lower() in RESERVED_NAMES:
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
            checks.append(validate_check(merged, name=name, base_dir=base))
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


def parse_run_config(
    config: Mapping[str, Any],
    *,
    source: str | None = None,
    options: Mapping[str, Any] | None = None,
    flags: Mapping[str, str] | None = None,
) -> RunConfig:
    """Validate a single run's settings: a config file's keys merged with the command line.

    Parameters
    ----------
    config : mapping
        The parsed single-run config (empty without ``--config``).
    source : str, optional
        The config file's path, for messages.
    options : mapping, optional
        Values given on the command line, by config key (``test``, not
        ``ci_test``); they win over the config's. ``regimes`` is a sequence of
        :class:`~mesalens.connectors.regime.RegimeSpec` here, and ``dtypes``
        overrides the config's table column by column.
    flags : mapping, optional
        The command-line option of each key (``{"test": "--test"}``), so that
        a message about a value given on the command line names the option.

    Returns
    -------
    RunConfig
        The check (named ``run``; relative paths left relative to the working
        directory), the scheduler and the output folder.

    Raises
    ------
    InputError
        With a one-line message naming the file, the key (or the option), the
        value and how to fix it.
    """
    options = dict(options or {})
    flags = flags or {}
    where = f"config {source!r}" if source else "config"
    allowed = {*CHECK_KEYS, *TOP_ONLY_KEYS}
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise InputError(
            f"{where} has unknown key(s) {', '.join(map(repr, unknown))}; "
            f"the keys are {', '.join(sorted(allowed))}"
        )
    merged = {**config, **options}
    if isinstance(config.get("dtypes"), dict) and isinstance(options.get("dtypes"), dict):
        merged["dtypes"] = {**config["dtypes"], **options["dtypes"]}
    if "regimes" not in merged:
        check_regimes([], minimum=2)
    try:
        scheduler, out = _top_level(merged, None)
        check = validate_check(merged, name="run", base_dir=None, label=where)
    except ConfigValueError as exc:
        # A dtypes table merged from both places: a bad entry can only be the
        # config's, since the command line's entries are checked as they are parsed.
        if exc.key in options and exc.key != "dtypes" and exc.key in flags:
            raise InputError(f"{flags[exc.key]} {exc}") from None
        raise InputError(f"{where}: key {exc.key!r} {exc}") from None
    if "stability_threshold" in options and not check.evidence.bootstrap:
        # Silently ignored, it would read as if the verdict had been judged stable.
        raise InputError(
            "--stability-threshold applies to the bootstrap, which is off; add --bootstrap B "
            "(e.g. --bootstrap 200) or leave the threshold out"
        )
    return RunConfig(check=check, scheduler=scheduler, out=out)


def _top_level(config: Mapping[str, Any], base: Path | None) -> tuple[str | None, str | None]:
    """The ``scheduler`` and ``out`` keys, validated (``out`` resolved against ``base``)."""
    scheduler = config.get("scheduler")
    if scheduler is not None and not (isinstance(scheduler, str) and scheduler.strip()):
        raise ConfigValueError(
            "scheduler", f"must be an address such as 'tcp://HOST:8786', got {scheduler!r}"
        )
    out = config.get("out")
    if out is not None:
        if not (isinstance(out, str) and out.strip()):
            raise ConfigValueError("out", f"must be a folder path such as 'results', got {out!r}")
        out = _resolve_path(out, base)
    return scheduler, out


def _names_text(config: Mapping[str, Any], key: str) -> str | None:
    """A role value (text or list of names) as the command line's comma-separated text."""
    value = config.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return join_names(value)
    raise ConfigValueError(
        key, f'must be a name or a list of names, e.g. ["a", "b"]; got {value!r}'
    )


def _resolve_path(location: str, base: Path | None) -> str:
    """A local path relative to ``base``; URLs (``scheme://``) and absolute paths as given.

    Without ``base`` the path is left as given (relative to the working directory).
    """
    if base is None or _URL.match(location):
        return location
    expanded = os.path.expanduser(location)
    if os.path.isabs(expanded):
        return expanded
    return os.path.join(str(base), expanded)


def _regime_specs(value: Any, default_format: str | None, base: Path | None) -> list[RegimeSpec]:
    """The regimes from a ``regimes`` table (or the command line's specs), formats filled in."""
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        specs = [parse_regime_option(f"{regime}={location}") for regime, location in value.items()]
    elif isinstance(value, Sequence) and value and all(isinstance(v, RegimeSpec) for v in value):
        specs = list(value)
    else:
        raise ConfigValueError(
            "regimes",
            f"must be a table of NAME = \"LOCATION\" (e.g. [regimes] train = 'logs/train.csv'), "
            f"got {value!r}",
        )
    resolved = []
    for spec in specs:
        # A regime that names its own format (NAME:FORMAT) keeps it; `format` is for the rest.
        fmt = spec.format or default_format
        resolved.append(
            dataclasses.replace(spec, location=_resolve_path(spec.location, base), format=fmt)
        )
    check_regimes(resolved, minimum=2)
    return resolved


def validate_check(
    config: Mapping[str, Any],
    *,
    name: str,
    base_dir: Path | None,
    label: str | None = None,
) -> CheckSpec:
    """Validate one check's keys and build its :class:`CheckSpec`.

    The single validator of a check's keys, for a job file's ``[[check]]``
    tables (merged with the top-level defaults) and for a single run
    (:func:`parse_run_config`).

    Parameters
    ----------
    config : mapping
        The check's keys (see the module docstring).
    name : str
        The check's name.
    base_dir : Path or None
        The folder relative paths are resolved against; None leaves them as given.
    label : str, optional
        What an inline knowledge table belongs to, for its messages
        (default: ``check NAME``).

    Returns
    -------
    CheckSpec
        The validated check.

    Raises
    ------
    ConfigValueError
        For a missing key or a value of the wrong type or range (the caller
        names the file and the key).
    InputError
        For bad regimes, roles or inline knowledge (one-line message).
    """
    from mesalens.connectors.loader import DTYPE_OVERRIDES, MISSING_POLICIES
    from mesalens.pipeline.discovery import METHODS, TESTS
    from mesalens.pipeline.knowledge import Knowledge

    base = base_dir
    for key in ("base", "mesa", "decision", "regimes"):
        if key not in config:
            raise ConfigValueError(key, "is missing: give it in the [[check]] table or at the top")
    fmt = config.get("format")
    if fmt is not None:
        if not isinstance(fmt, str) or fmt.strip().lower() not in FORMATS:
            raise ConfigValueError("format", f"must be one of {', '.join(FORMATS)}, got {fmt!r}")
        fmt = fmt.strip().lower()
    specs = _regime_specs(config["regimes"], fmt, base)

    regime_name = config.get("regime_name", DEFAULT_REGIME_NAME)
    if not isinstance(regime_name, str) or not regime_name.strip():
        raise ConfigValueError(
            "regime_name", f"must be a column name such as 'regime', got {regime_name!r}"
        )
    policy = config.get("policy_inputs", "keep")
    if isinstance(policy, list):
        policy_text = _names_text(config, "policy_inputs") if policy else "none"
    elif isinstance(policy, str):
        policy_text = policy
    else:
        raise ConfigValueError(
            "policy_inputs", f"must be 'keep', 'none' or a list of names, got {policy!r}"
        )
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
        raise ConfigValueError(
            "alpha", f"must be a number strictly between 0 and 1, got {alpha!r}; e.g. 0.01"
        )
    max_depth = config.get("max_depth", -1)
    if isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < -1:
        raise ConfigValueError(
            "max_depth", f"must be an integer >= -1 (-1: no limit), got {max_depth!r}"
        )
    seed = config.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigValueError("seed", f"must be an integer, got {seed!r}; e.g. 0")
    missing = config.get("missing", "drop")
    if missing not in MISSING_POLICIES:
        raise ConfigValueError(
            "missing", f"must be one of {', '.join(MISSING_POLICIES)}, got {missing!r}"
        )

    columns_text = _names_text(config, "columns")
    columns = None
    if columns_text is not None:
        try:  # the role options' splitting: a name with a comma is quoted
            columns = parse_names(columns_text, "columns")
        except RoleError:
            raise ConfigValueError(
                "columns", f"has an empty name in {config['columns']!r}; give column names"
            ) from None

    dtypes = config.get("dtypes")
    if dtypes is not None:
        if not isinstance(dtypes, dict):
            raise ConfigValueError(
                "dtypes",
                f'must be a table of COLUMN = TYPE, e.g. {{obs = "category"}}, got {dtypes!r}',
            )
        for column, kind in dtypes.items():
            if not isinstance(kind, str) or kind not in DTYPE_OVERRIDES:
                raise ConfigValueError(
                    "dtypes",
                    f"gives column {column!r} the type {kind!r}; "
                    f"use one of {', '.join(DTYPE_OVERRIDES)}",
                )

    evidence = evidence_settings(config)

    knowledge = config.get("knowledge")
    if isinstance(knowledge, str):
        if not knowledge.strip():
            raise ConfigValueError("knowledge", "must be a knowledge file path or a table, got ''")
        knowledge = _resolve_path(knowledge, base)
    elif isinstance(knowledge, dict):
        Knowledge.from_mapping(knowledge, source=f"{label or f'check {name!r}'} [knowledge]")
    elif knowledge is not None:
        raise ConfigValueError(
            "knowledge",
            f"must be a knowledge file path or a [knowledge] table, got {knowledge!r}",
        )

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
