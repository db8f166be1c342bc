r"""Config and job files: the TOML formats of ``mesalens run --config`` and their validation.

This module is the one place that reads a TOML config and checks its values:
a single-run config and a job file take the same keys, and the values given
on ``mesalens run``'s command line go through the same validator
(:func:`parse_run_config`), so every key has one type check and one message.

A *single-run config* holds one check's keys at the top level (``regimes``,
``format``, ``regime_name``, ``base``, ``mesa``, ``decision``,
``policy_inputs``, ``method``, ``test``, ``alpha``, ``max_depth``,
``knowledge``, ``columns``, ``dtypes``, ``missing``, ``deterministic``, ``seed``, the evidence
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
from typing import TYPE_CHECKING, Any

from mesalens.connectors.errors import InputError, one_line
from mesalens.connectors.regime import (
    FORMATS,
    RegimeSpec,
    check_regimes,
    parse_regime_option,
)
from mesalens.pipeline.analysis import DiscoverySettings, EvidenceSettings
from mesalens.pipeline.errors import RoleError
from mesalens.pipeline.roles import Roles, join_names, parse_names, parse_policy_inputs

if TYPE_CHECKING:
    # Only a job's engine fills it in (a run record of the job's history).
    from mesalens.reports.jobs.layout import PreviousRun

from mesalens.reports.checks.options import (
    CHECK_KEYS,
    EVIDENCE_KEYS,
    OPTIONS,
    TOP_ONLY_KEYS,
    ConfigValueError,
)

__all__ = [
    "CheckSpec",
    "RunConfig",
    "build_roles",
    "evidence_settings",
    "is_job_file",
    "parse_run_config",
    "read_knowledge",
    "read_toml",
    "top_level_settings",
    "validate_check",
]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


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
    na_values : tuple of str
        Text read as a missing value in every column (``--na-values``).
    previous : PreviousRun or None
        Filled in by :func:`~mesalens.reports.jobs.engine.run_jobs` before ``run_one`` is called.
    evidence : EvidenceSettings
        The evidence beyond the graph to gather (key ``sensitivity``, ...).
    knowledge_label : str or None
        What a knowledge file's messages start with (default ``check NAME``;
        empty: nothing).
    index_link : str or None
        Where the report links back to the job's index (relative to the run's
        folder), for a check of a job file; None for a single run.
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
    na_values: tuple[str, ...] = ()
    previous: PreviousRun | None = None
    evidence: EvidenceSettings = field(default_factory=EvidenceSettings)
    knowledge_label: str | None = None
    index_link: str | None = None

    def load_knowledge(self) -> Any:
        """The background knowledge (a :class:`~mesalens.pipeline.knowledge.Knowledge`) or None.

        Raises
        ------
        InputError
            If the knowledge file cannot be read or is malformed.
        """
        label = f"check {self.name!r}" if self.knowledge_label is None else self.knowledge_label
        return read_knowledge(self.knowledge, label=label or None)

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
            "deterministic": self.settings.deterministic,
            "knowledge": knowledge,
            "columns": None if self.columns is None else list(self.columns),
            "dtypes": None if self.dtypes is None else dict(self.dtypes),
            "missing": self.missing,
            "na_values": list(self.na_values),
        }


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


def build_roles(regime: str, base: str, mesa: str, decision: str, policy_inputs: str) -> Roles:
    """The :class:`Roles` from the role options' texts (comma-separated names)."""
    regimes = parse_names(regime, "regime")
    if len(regimes) != 1:
        raise RoleError(
            f"--regime {regime!r} names {len(regimes)} nodes; the regime is a single node"
        )
    return Roles(
        regime=regimes[0],
        base=parse_names(base, "base"),
        mesa=parse_names(mesa, "mesa"),
        decision=parse_names(decision, "decision"),
        policy_inputs=parse_policy_inputs(policy_inputs),
    )


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
    values = {key: OPTIONS[key].value_in(config) for key in EVIDENCE_KEYS}
    return EvidenceSettings(**values)


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
        scheduler, out = top_level_settings(merged, None)
        check = validate_check(merged, name="run", base_dir=None, label=where)
        check = dataclasses.replace(check, knowledge_label=f"config {source!r}" if source else "")
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


def top_level_settings(
    config: Mapping[str, Any], base: Path | None
) -> tuple[str | None, str | None]:
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


def _na_values(value: Any) -> tuple[str, ...]:
    """The missing-value tokens: comma-separated text (the option) or a list of text."""
    if value is None:
        return ()
    if isinstance(value, str):
        tokens = [token.strip() for token in value.split(",")]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        tokens = list(value)
    else:
        raise ConfigValueError(
            "na_values", f'must be a list of text tokens, e.g. ["None", "NA"], got {value!r}'
        )
    return tuple(dict.fromkeys(token for token in tokens if token))


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
    from mesalens.connectors.kinds import DTYPE_OVERRIDES
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

    regime_name = OPTIONS["regime_name"].value_in(config)
    if not isinstance(regime_name, str) or not regime_name.strip():
        raise ConfigValueError(
            "regime_name", f"must be a column name such as 'regime', got {regime_name!r}"
        )
    policy = OPTIONS["policy_inputs"].value_in(config)
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

    method, test, alpha, max_depth, seed, missing, deterministic = (
        OPTIONS[key].value_in(config)
        for key in ("method", "test", "alpha", "max_depth", "seed", "missing", "deterministic")
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

    na_values = _na_values(config.get("na_values"))
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
            method=method,
            test=test,
            alpha=alpha,
            max_depth=max_depth,
            seed=seed,
            deterministic=deterministic,
        ),
        knowledge=knowledge,
        columns=columns,
        dtypes=dtypes,
        missing=missing,
        na_values=na_values,
        evidence=evidence,
    )
