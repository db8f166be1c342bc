"""Connectors: read logged tables (files, SQL) and add the regime column.

The public entry point is :func:`load_regimes`: give it the regimes
(:class:`RegimeSpec`, usually from :func:`parse_regime_option`) and it
returns :class:`LoadedData`, one lazy dask DataFrame pooling every regime
with the regime column first, validated, plus kinds, a summary and
fingerprints. Connectors produce tables; they never import
``mesalens.pipeline`` or ``mesalens.reports``.
"""

from mesalens.connectors.errors import DataError, InputError, MesalensError
from mesalens.connectors.files import detect_format
from mesalens.connectors.loader import (
    DISCRETE_MAX_LEVELS,
    DTYPE_OVERRIDES,
    MISSING_POLICIES,
    LoadedData,
    RegimeSummary,
    load_regimes,
)
from mesalens.connectors.regime import (
    DEFAULT_REGIME_NAME,
    FILE_FORMATS,
    FORMATS,
    RegimeSpec,
    check_regimes,
    parse_regime_option,
    redact_url,
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
