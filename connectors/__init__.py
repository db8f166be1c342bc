"""Connectors: read logged tables (files, SQL) and add the regime column.

The public entry point is :func:`load_regimes`: give it the regimes
(:class:`RegimeSpec`, usually from :func:`parse_regime_option`) and it
returns :class:`LoadedData`, one lazy dask DataFrame pooling every regime
with the regime column first, validated, plus kinds, a summary and
fingerprints. Connectors produce tables; they never import
``mesalens.pipeline`` or ``mesalens.reports``.

The names below are resolved on first use (PEP 562 module ``__getattr__``):
importing any connector module, even :mod:`mesalens.connectors.errors`,
runs this file first, and eagerly importing the loader here would make every
``mesalens`` command pay for dask.dataframe, pandas and SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mesalens.connectors.errors import DataError, InputError, MesalensError
    from mesalens.connectors.files import detect_format
    from mesalens.connectors.kinds import DISCRETE_MAX_LEVELS, DTYPE_OVERRIDES, MISSING_POLICIES
    from mesalens.connectors.loaded import LoadedData, RegimeSummary
    from mesalens.connectors.loader import load_regimes
    from mesalens.connectors.redaction import redact_url
    from mesalens.connectors.regime import (
        DEFAULT_REGIME_NAME,
        FILE_FORMATS,
        FORMATS,
        RegimeSpec,
        check_regimes,
        parse_regime_option,
    )
    from mesalens.connectors.sql import is_sql_location

__all__ = [
    "DEFAULT_REGIME_NAME",
    "DISCRETE_MAX_LEVELS",
    "DTYPE_OVERRIDES",
    "FILE_FORMATS",
    "FORMATS",
    "MISSING_POLICIES",
    "DataError",
    "InputError",
    "LoadedData",
    "MesalensError",
    "RegimeSpec",
    "RegimeSummary",
    "check_regimes",
    "detect_format",
    "is_sql_location",
    "load_regimes",
    "parse_regime_option",
    "redact_url",
]

# Where each public name lives (the module under mesalens.connectors).
_HOMES = {
    "DataError": "errors",
    "InputError": "errors",
    "MesalensError": "errors",
    "detect_format": "files",
    "DISCRETE_MAX_LEVELS": "kinds",
    "DTYPE_OVERRIDES": "kinds",
    "MISSING_POLICIES": "kinds",
    "LoadedData": "loaded",
    "RegimeSummary": "loaded",
    "load_regimes": "loader",
    "DEFAULT_REGIME_NAME": "regime",
    "FILE_FORMATS": "regime",
    "FORMATS": "regime",
    "RegimeSpec": "regime",
    "check_regimes": "regime",
    "parse_regime_option": "regime",
    "redact_url": "redaction",
    "is_sql_location": "sql",
}


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first access (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    """The module's names, the lazily imported ones included."""
    return sorted(set(globals()) | set(__all__))
