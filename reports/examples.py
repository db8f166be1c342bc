"""Built-in example graphs, shipped as package data of :mod:`mesalens.pipeline`.

Each example is a Tetrad-format file ``examples/NAME.txt`` whose leading
comment lines carry its metadata::

    # description: one line saying what the example shows
    # roles: regime=regime base=got_coin mesa=value decision=action policy_inputs=obs

The role values are written as on the command line (comma-separated names,
``keep`` or ``none`` for the policy inputs); :func:`load_example` returns them
as strings so that the command line can let its own options override them
and parse everything the same way.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

from mesalens.connectors.errors import InputError
from mesalens.pipeline.formats import parse_graph
from mesalens.pipeline.graph import CausalGraph

__all__ = ["ROLE_KEYS", "example_description", "example_names", "load_example"]

# The keys a ``# roles:`` line may set, named as the command-line options.
ROLE_KEYS = ("regime", "base", "mesa", "decision", "policy_inputs")

_SUFFIX = ".txt"


def _folder() -> Traversable:
    return resources.files("mesalens.pipeline").joinpath("examples")


def example_names() -> list[str]:
    """Return the names of the built-in examples, sorted."""
    folder = _folder()
    if not folder.is_dir():
        return []
    return sorted(
        entry.name.removesuffix(_SUFFIX)
        for entry in folder.iterdir()
        if entry.is_file() and entry.name.endswith(_SUFFIX)
    )


def _read(name: str) -> str:
    names = example_names()
    if name not in names:
        raise InputError(
            f"unknown example {name!r}; the built-in examples are {', '.join(names) or '(none)'}"
        )
    return _folder().joinpath(name + _SUFFIX).read_text(encoding="utf-8")


def _header(text: str) -> dict[str, str]:
    """Collect the ``# key: value`` comment lines, by key."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            continue
        key, sep, value = stripped.lstrip("#").partition(":")
        if sep and key.strip() and " " not in key.strip():
            fields.setdefault(key.strip().lower(), value.strip())
    return fields


def _parse_roles(line: str, source: str) -> dict[str, str]:
    roles: dict[str, str] = {}
    for token in line.split():
        key, sep, value = token.partition("=")
        if not sep or key not in ROLE_KEYS or not value:
            raise InputError(
                f"{source}: cannot read {token!r} in the '# roles:' line; write key=value "
                f"with a key among {', '.join(ROLE_KEYS)}"
            )
        roles[key] = value
    return roles


def example_description(name: str) -> str:
    """Return the one-line description of example ``name`` (empty if it has none)."""
    return _header(_read(name)).get("description", "")


def load_example(name: str) -> tuple[CausalGraph, dict[str, str]]:
    """Load a built-in example graph and its default roles.

    Parameters
    ----------
    name : str
        One of :func:`example_names`.

    Returns
    -------
    graph : CausalGraph
        The example's graph.
    roles : dict of str to str
        Default role options by key (see :data:`ROLE_KEYS`), as command-line
        text, e.g. ``{"base": "got_coin", "policy_inputs": "obs"}``.

    Raises
    ------
    InputError
        If there is no such example or its header is malformed.
    GraphFormatError
        If its graph does not parse.
    """
    text = _read(name)
    source = f"example:{name}"
    roles = _parse_roles(_header(text).get("roles", ""), source)
    # The Tetrad reader has no comment syntax; blanking the comment lines
    # (rather than dropping them) keeps the line numbers of any parse error.
    body = "\n".join("" if line.lstrip().startswith("#") else line for line in text.split("\n"))
    return parse_graph(body, "tetrad", source), roles
