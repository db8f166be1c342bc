"""Regimes: named data sources, and the one column that tells them apart.

A *regime* is one setting the logged data comes from -- ``train`` and
``deploy`` in the typical case, but any number of named regimes is allowed.
The analysis pools all regimes into one table and adds a *regime column*
whose value says which regime each row came from; causal discovery then
treats that column as the variable whose influence the mesa objective may or
may not screen off.

This module is the single place that knows

* the default name of the regime column (:data:`DEFAULT_REGIME_NAME`);
* how a regime is described (:class:`RegimeSpec`) and how the command line
  spells one (:func:`parse_regime_option`, ``NAME=LOCATION`` or
  ``NAME:FORMAT=LOCATION``; a regime without a format of its own takes
  ``mesalens run --format`` or the config key ``format`` when given, else the
  format its location implies: the file suffix, a directory, a database URL);
* which formats exist (:data:`FORMATS`);
* that a location is shown to a person only as :attr:`RegimeSpec.display`
  (:func:`mesalens.connectors.redaction.redact_url`): connection URLs may
  carry passwords, and a password must never reach an error message, a log
  line or a summary; a regime's secrets are also remembered, to be cut out
  of any error text (:mod:`mesalens.connectors.redaction`).

Examples
--------
>>> spec = parse_regime_option("deploy=postgresql://bob:hunter2@db/logs?table=runs")
>>> spec.name, spec.display
('deploy', 'postgresql://bob:***@db/logs?table=runs')
>>> check_regimes([parse_regime_option("train=a.csv"), spec])
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from mesalens.connectors.errors import InputError
from mesalens.connectors.redaction import redact_url, remember_secrets

__all__ = [
    "DEFAULT_REGIME_NAME",
    "FILE_FORMATS",
    "FORMATS",
    "RegimeSpec",
    "check_regimes",
    "parse_regime_option",
    "redact_url",
]

#: Name of the column that holds each row's regime, unless the caller picks another.
DEFAULT_REGIME_NAME = "regime"

#: Formats read from files (single files, globs or hive-partitioned directories).
FILE_FORMATS = ("csv", "tsv", "parquet", "jsonl")

#: Every format a :class:`RegimeSpec` may name; ``sql`` is a table or query.
FORMATS = (*FILE_FORMATS, "sql")

# A regime name is shown in reports and used as a label: keep it to one
# plain token so that "NAME=LOCATION" and "NAME:FORMAT=LOCATION" stay unambiguous.
_NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class RegimeSpec:
    """One named regime and where its rows are.

    Parameters
    ----------
    name : str
        The regime's label (``train``, ``deploy``, ...), a plain token.
    location : str
        A file path, glob, directory, fsspec URL or SQLAlchemy URL. It may hold
        a password, so it is left out of ``repr``; show :attr:`display` instead.
    format : str or None
        One of :data:`FORMATS`, or ``None`` to infer it from the location
        (its suffix, a directory, or a database URL).

    Raises
    ------
    InputError
        If the name is not a plain token, the location is empty or the format
        is unknown.
    """

    name: str
    location: str = field(repr=False)
    format: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_PATTERN.fullmatch(self.name):
            raise InputError(
                f"regime name {self.name!r} is not usable: use letters, digits, '_', '.' "
                "or '-' (e.g. train, deploy)"
            )
        if not isinstance(self.location, str) or not self.location.strip():
            raise InputError(f"regime {self.name!r} has no location: give a path or URL")
        if self.format is not None and self.format not in FORMATS:
            raise InputError(
                f"regime {self.name!r}: unknown format {self.format!r}; "
                f"use one of {', '.join(FORMATS)}"
            )
        remember_secrets(self.location)

    @property
    def display(self) -> str:
        """The location as it may be shown to a person (password hidden)."""
        return redact_url(self.location)

    def __repr__(self) -> str:
        return f"RegimeSpec(name={self.name!r}, location={self.display!r}, format={self.format!r})"


def parse_regime_option(text: str) -> RegimeSpec:
    """Parse one ``--regime`` option into a :class:`RegimeSpec`.

    The text is ``NAME=LOCATION`` or ``NAME:FORMAT=LOCATION``. Only the first
    ``=`` separates name and location, so locations may contain ``=`` (hive
    directories such as ``day=3``, or ``?table=logs`` in a database URL).

    Parameters
    ----------
    text : str
        For example ``train=logs/train-*.csv.gz``,
        ``deploy:csv=logs/deploy.txt`` or
        ``deploy=sqlite:///logs.db?table=deploy``.

    Returns
    -------
    RegimeSpec
        The named regime; its format is ``None`` unless given.

    Raises
    ------
    InputError
        If the text has no ``=``, an empty name or location, or an unknown format.
    """
    name, equals, location = text.partition("=")
    if not equals:
        raise InputError(
            f"regime option {redact_url(text)!r} has no '=': write NAME=LOCATION, "
            "e.g. --regime train=logs/train.csv"
        )
    name = name.strip()
    if "/" in name or "\\" in name:
        # "postgresql://u:pw@h/db?table=t" without a name: the first "=" is
        # inside the URL. Say so without echoing the URL's password.
        raise InputError(
            f"regime option {redact_url(text)!r} does not start with a name: write "
            "NAME=LOCATION, e.g. --regime deploy=postgresql://...?table=logs"
        )
    fmt: str | None = None
    if ":" in name:
        name, _, fmt = name.partition(":")
        name, fmt = name.strip(), fmt.strip().lower()
    if not name:
        raise InputError(
            f"regime option {redact_url(text)!r} has no name before '=': "
            "write NAME=LOCATION, e.g. --regime train=logs/train.csv"
        )
    location = location.strip()
    if not location:
        raise InputError(
            f"regime option {name!r} has no location after '=': "
            f"write {name}=PATH, e.g. --regime {name}=logs/{name}.csv"
        )
    return RegimeSpec(name=name, location=location, format=fmt or None)


def check_regimes(specs: Sequence[RegimeSpec], minimum: int = 2) -> None:
    """Check that regime names are distinct and that there are enough regimes.

    Reading works with a single regime; the analysis compares regimes and
    needs at least two, which is the default ``minimum``.

    Parameters
    ----------
    specs : sequence of RegimeSpec
        The regimes in the order they were given.
    minimum : int, default 2
        The fewest regimes allowed.

    Raises
    ------
    InputError
        If two regimes share a name or there are fewer than ``minimum``.
    """
    seen: dict[str, RegimeSpec] = {}
    for spec in specs:
        if spec.name in seen:
            raise InputError(
                f"regime {spec.name!r} is given twice ({seen[spec.name].display} and "
                f"{spec.display}); give each regime a distinct name"
            )
        seen[spec.name] = spec
    if not specs:
        raise InputError("no regime given: name each with --regime NAME=LOCATION")
    if len(specs) < minimum:
        given = ", ".join(f"{spec.name!r} ({spec.display})" for spec in specs)
        if minimum == 2:
            raise InputError(
                f"the analysis needs at least two regimes, got only {given}: name the other "
                "with another --regime (e.g. --regime train=... --regime deploy=...)"
            )
        raise InputError(f"at least {minimum} regimes are needed, got {len(specs)}: {given}")
