"""Every output path of a command, checked against the others and the inputs before any work.

``run``, ``check-graph``, ``simulate`` and job files name their outputs
(``--out`` folders, ``--json`` and ``--html`` files) and their inputs (data
files and folders, a graph file, a knowledge file, a config or job file).
:func:`check_output_paths` refuses, on one line and before anything is read
or written:

* an output folder that is a file (``--out must be a folder: 'out' is a file``),
  or an output file that is a folder;
* two options naming the same output path (``--json x --html x``);
* an output that is an input, an output folder that contains an input, and
  an output inside an input folder (the next run would read its own outputs,
  or overwrite its data).

Paths are compared after resolving symbolic links, ``..`` and the current
folder (:func:`os.path.realpath`), so ``out`` and ``./out/../out`` are one path.
Remote inputs (``s3://``, a database URL other than a SQLite file) cannot hold
a local output and are not compared; a glob stands for the files it matches
and, when it is recursive (``**``), for the folder it searches.

>>> try:
...     check_output_paths([("--json", "x.json", "file"), ("--html", "./x.json", "file")], [])
... except InputError as exc:
...     print(exc)
--json and --html name the same output 'x.json'; give each its own path
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from mesalens.connectors.errors import InputError
from mesalens.reports.checks.config import CheckSpec

__all__ = ["check_inputs", "check_output_paths", "local_input_paths"]

# At most this many files of a glob are compared (an output among the rest is
# still refused, later, by the reader: a glob of thousands is a data folder).
_GLOB_FILES = 10_000


def _real(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.realpath(os.path.expanduser(os.fspath(path))))


def local_input_paths(location: str) -> list[str]:
    """The local paths a data location reads: the file, the folder, a glob's matches.

    Examples
    --------
    >>> local_input_paths("s3://bucket/logs/*.parquet")
    []
    >>> local_input_paths("sqlite:///logs.db?table=steps")
    ['logs.db']
    >>> local_input_paths("file:///data/train.csv")
    ['/data/train.csv']
    """
    if "://" in location:
        scheme, _, rest = location.partition("://")
        if scheme == "file":
            location = rest
        elif scheme.split("+")[0] == "sqlite" and rest.startswith("/"):
            path = rest[1:].split("?")[0]
            return [path] if path and path != ":memory:" else []
        else:
            return []
    if not glob.has_magic(location):
        return [location]
    found = []
    for n, match in enumerate(glob.iglob(location, recursive=True)):
        if n >= _GLOB_FILES:
            break
        found.append(match)
    if "**" in location:
        base = location.split("**")[0] or "."
        found.append(base)
    return found


def check_output_paths(
    outputs: Sequence[tuple[str, str | os.PathLike[str] | None, str]],
    inputs: Iterable[tuple[str, str | os.PathLike[str]]],
) -> None:
    """Refuse outputs that clash with each other or with an input (see the module docstring).

    Parameters
    ----------
    outputs : sequence of (option, path or None, kind)
        Each output: the option that names it (``--out``), its path (None or
        ``-`` for none / stdout: skipped) and ``folder`` or ``file``.
    inputs : iterable of (what, path)
        Each local input: what it is (``data file``, ``graph file``, ``the
        knowledge file``, ``the job file``) and its path.

    Raises
    ------
    InputError
        On the first clash, naming both paths and what to do.
    """
    given = [(opt, os.fspath(p), kind) for opt, p, kind in outputs if p is not None and p != "-"]
    for option, path, kind in given:
        target = Path(path)
        exists = target.is_symlink() or target.exists()
        if kind == "folder" and exists and not target.is_dir():
            what = "a dangling or looping link" if target.is_symlink() else "a file"
            raise InputError(f"{option} must be a folder: {path!r} is {what}")
        if kind == "file" and target.is_dir():
            raise InputError(f"{option} {path!r} is a folder; give a file name")
    for n, (option, path, _) in enumerate(given):
        for other, other_path, _ in given[n + 1 :]:
            if _real(path) == _real(other_path):
                raise InputError(
                    f"{option} and {other} name the same output {path!r}; give each its own path"
                )
        for a_kind, a_path, a_folder in given:
            if a_kind != option and a_folder == "folder" and _real(path) != _real(a_path):
                if _real(path).is_relative_to(_real(a_path)):
                    raise InputError(
                        f"{option} {path!r} is inside the output folder {a_kind} {a_path!r}; "
                        "give it a path of its own"
                    )
    resolved_inputs = [(what, os.fspath(p), _real(p)) for what, p in inputs]
    for option, path, kind in given:
        out = _real(path)
        for what, shown, source in resolved_inputs:
            if out == source:
                named = "itself" if shown == path else repr(shown)
                raise InputError(f"{option} {path!r} is the {what} {named}; write elsewhere")
            if kind == "folder" and source.is_relative_to(out):
                raise InputError(
                    f"{option} {path!r} contains the {what} {shown!r}: outputs would be written "
                    "among the inputs; give an output folder outside it"
                )
            if out.is_relative_to(source):
                raise InputError(
                    f"{option} {path!r} is inside the {what} {shown!r}: its outputs would be "
                    "read as input next time; write outside it"
                )


def check_inputs(check: CheckSpec) -> list[tuple[str, str]]:
    """The local inputs of a check: each regime's data paths and its knowledge file."""
    inputs = [
        (f"data of regime {spec.name!r}", path)
        for spec in check.regimes
        for path in local_input_paths(spec.location)
    ]
    if isinstance(check.knowledge, str):
        inputs.append(("knowledge file", check.knowledge))
    return inputs
