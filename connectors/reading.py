"""Read one partition and convert its values to their reading class.

Before the final dtypes are known (they are decided after the whole pass,
:mod:`.kinds`), every column is read in one of three *reading classes*:
``"number"`` and ``"bool"`` become float64 (NaN = missing; flags such as
``true``/``yes``/``1`` become 1.0, their opposites 0.0) and ``"string"``
becomes Python ``str`` objects. A value that does not convert (``"abc"`` in
a numeric column) fails the read with a
:class:`~mesalens.connectors.errors.DataError` naming regime, file and
column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from mesalens.connectors.errors import DataError

__all__ = ["Part", "as_text", "convert", "read_part"]

_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


class Part(Protocol):
    """What the loader needs from a file or SQL partition."""

    where: str
    regime: str

    def read(
        self,
        columns: Sequence[str],
        text_columns: frozenset[str],
        strict: bool,
        na_values: frozenset[str] = frozenset(),
    ) -> pd.DataFrame:
        """Return the partition's rows of ``columns``, values as stored."""
        ...


def read_part(
    part: Part,
    columns: Sequence[str],
    classes: Mapping[str, str],
    strict: bool,
    na_values: frozenset[str] = frozenset(),
) -> pd.DataFrame:
    """Read one partition and convert every column to its reading class."""
    text_columns = frozenset(c for c in columns if classes[c] == "string")
    raw = part.read(columns, text_columns, strict, na_values)
    converted = {c: convert(raw[c], classes[c], c, part, na_values) for c in columns}
    return pd.DataFrame(converted, index=pd.RangeIndex(len(raw)))


def convert(
    series: pd.Series,
    klass: str,
    column: str,
    part: Part,
    na_values: frozenset[str] = frozenset(),
) -> pd.Series:
    """Convert one column: numbers and flags to float64 (NaN = missing), text to str.

    A text value that is one of ``na_values`` (the user's missing-value
    tokens, ``--na-values``) becomes missing, whatever the format.
    """
    series = series.reset_index(drop=True)
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    if na_values and not (
        ptypes.is_numeric_dtype(series.dtype) or ptypes.is_bool_dtype(series.dtype)
    ):
        series = series.mask(series.isin(na_values))
    if klass == "string":
        if ptypes.is_string_dtype(series.dtype) and not ptypes.is_object_dtype(series.dtype):
            return series.astype(object)  # already text: skip the per-value conversion
        return series.map(as_text, na_action="ignore").astype(object)
    if klass == "bool":
        return _as_flags(series, column, part)
    if ptypes.is_bool_dtype(series.dtype) or ptypes.is_numeric_dtype(series.dtype):
        return series.astype("float64")
    values = series
    if ptypes.is_object_dtype(series.dtype):
        # Only an object column can mix Python bools in; to_numeric would refuse them.
        values = series.map(
            lambda v: float(v) if isinstance(v, bool | np.bool_) else v, na_action="ignore"
        )
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    bad = series.notna() & numbers.isna()
    if bad.any():
        value = series[bad].iloc[0]
        raise DataError(
            f"regime {part.regime!r}: column {column!r} of {part.where} is numeric but "
            f"holds {value!r}, which is not a number; fix the value, or treat the column "
            f"as a category with --dtype {column}=category (config: dtypes)"
        )
    return numbers


def as_text(value: Any) -> str:
    """Spell a value as category text; whole floats lose their ``.0``."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _as_flags(series: pd.Series, column: str, part: Part) -> pd.Series:
    """Convert flags (``true``/``yes``/``1``/... and their opposites) to 1.0 and 0.0."""

    def flag(value: Any) -> float:
        if isinstance(value, bool | np.bool_):
            return float(value)
        if isinstance(value, int | float | np.number) and value in (0, 1):
            return float(value)
        text = str(value).strip().lower()
        if text in _TRUE:
            return 1.0
        if text in _FALSE:
            return 0.0
        raise DataError(
            f"regime {part.regime!r}: column {column!r} of {part.where} holds {value!r}, "
            "which is not a flag (true/false, yes/no, 1/0)"
        )

    return series.map(flag, na_action="ignore").astype("float64")
