"""Job files: a TOML file of ``[[check]]`` tables, read and validated into a :class:`JobFile`.

The format is described in :mod:`mesalens.reports.checks.config`, whose
validator (:func:`~mesalens.reports.checks.config.validate_check`) checks
each ``[[check]]`` table, merged with the top-level defaults, exactly as it
checks a single run's config. What only a job file has is checked here: the
check names (each is also a folder of the output folder, so the output
folder's layout, :mod:`mesalens.reports.jobs.layout`, says which names a
check may take) and the keys that belong at the top.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mesalens.connectors.errors import InputError, MesalensError, one_line
from mesalens.reports.checks.config import (
    CheckSpec,
    is_job_file,
    read_toml,
    top_level_settings,
    validate_check,
)
from mesalens.reports.checks.options import CHECK_KEYS, TOP_ONLY_KEYS, ConfigValueError
from mesalens.reports.jobs.layout import CHECK_NAME, INDEX_FROM_RUN, RESERVED_NAMES

__all__ = ["JobFile", "is_job_path", "load_job_file", "parse_job"]


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
        scheduler, out = top_level_settings(config, base)
    except ConfigValueError as exc:
        raise InputError(f"{where}: key {exc.key!r} {exc}") from None
    defaults = {key: config[key] for key in CHECK_KEYS if key in config}
    checks: list[CheckSpec] = []
    seen: dict[str, tuple[int, str]] = {}
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
            first, spelled = seen[name.lower()]
            also = "" if spelled == name else f" (as {spelled!r})"
            raise InputError(
                f"{where}: check name {name!r} is used twice, by check #{first}{also} and "
                f"check #{position}; rename one: check names must be distinct, ignoring case"
            )
        seen[name.lower()] = (position, name)
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
            check = validate_check(merged, name=name, base_dir=base)
            checks.append(dataclasses.replace(check, index_link=INDEX_FROM_RUN))
        except ConfigValueError as exc:
            raise InputError(f"{label}: key {exc.key!r} {exc}") from None
        except MesalensError as exc:
            raise InputError(f"{label}: {one_line(str(exc))}") from None
    return JobFile(checks=tuple(checks), source=source, scheduler=scheduler, out=out)
