"""One file partition and its reading: CSV, TSV, Parquet and JSON Lines.

A :class:`FilePart` is one partition's worth of one file, the unit of
parallel work, one dask partition each: a byte range of an uncompressed
text file (cut at line ends, like ``dask.dataframe.read_csv`` does), a whole
compressed file (gzip and zstd streams cannot be split), or a run of
Parquet row groups. Keeping the reading in our own small function -- driven
by ``dask.dataframe.from_map`` in the loader, instead of handing the file
list to ``dd.read_csv`` -- is what lets every error raised while reading
name the file it came from, even when it surfaces in the middle of a
parallel pass.

Cutting at line ends has the limit it has in dask: a quoted CSV field that
spans several lines must not straddle a cut, so such files should be
compressed (one partition) or smaller than
:data:`~mesalens.connectors.file_inspection.BLOCK_SIZE`.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.spec import AbstractFileSystem
from fsspec.utils import read_block

from mesalens.connectors.csv_text import EXTRA, read_body
from mesalens.connectors.errors import DataError
from mesalens.connectors.redaction import redact_url

__all__ = ["SEPARATORS", "FilePart", "describe_format", "first_line", "read_json_lines"]

SEPARATORS = {"csv": ",", "tsv": "\t"}
_BOM = b"\xef\xbb\xbf"
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"]+")
# JSON values keep the types JSON gave them: no guessing of dates or dtypes.
# (pandas 3 folds date guessing into dtype=False and deprecates convert_dates.)
_JSON_OPTIONS: dict[str, Any] = {"lines": True, "dtype": False}
if int(pd.__version__.split(".")[0]) < 3:
    _JSON_OPTIONS["convert_dates"] = False


def read_json_lines(data: bytes, prefix: str, where: str) -> pd.DataFrame:
    """JSON Lines text as a frame; a malformed record is a :class:`DataError` naming its line.

    pandas names a character offset at best, so on failure the lines are
    parsed one by one to find the first that is not a JSON object. The
    message reads ``f"{prefix}: line N{where} is not a JSON record (why)"``.
    """
    try:
        return pd.read_json(io.BytesIO(data), **_JSON_OPTIONS)
    except (ValueError, TypeError) as exc:  # TypeError: a record that is not an object
        for number, line in enumerate(data.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as error:
                reason = str(error).split(":")[0]
            else:
                if isinstance(record, dict):
                    continue
                reason = f"a JSON {type(record).__name__}, not an object"
            raise DataError(
                f"{prefix}: line {number}{where} is not a JSON record ({reason}); fix or remove it"
            ) from exc
        raise


@dataclass(frozen=True)
class FilePart:
    """One partition's worth of one file: the unit of parallel reading.

    Attributes
    ----------
    fs : fsspec.spec.AbstractFileSystem
        The filesystem holding the file (picklable, so parts can travel to
        dask workers).
    path : str
        The file's path within ``fs``.
    where : str
        The file as it may be shown to a person.
    regime : str
        The regime the file belongs to, for error messages.
    format : str
        One of ``csv``, ``tsv``, ``parquet``, ``jsonl``.
    compression : str or None
        ``gzip``, ``zstd`` or ``None``.
    columns : tuple of str
        The file's own columns (from its header, footer or first records).
    offset, length : int, int or None
        The byte range of an uncompressed text file; ``length=None`` reads
        the whole file.
    header : bytes
        The CSV header line, put in front of every block but the first.
    row_groups : tuple of int or None
        Parquet row groups to read; ``None`` for text files.
    partition_values : tuple of (str, str or None)
        Hive ``key=value`` pairs from the file's directory path.
    inspected_rows : int
        How many records from the file's head its inspection read (a JSON
        Lines record with a key those lacked is refused, naming the number).
    """

    fs: AbstractFileSystem
    path: str
    where: str
    regime: str
    format: str
    compression: str | None
    columns: tuple[str, ...]
    offset: int = 0
    length: int | None = None
    header: bytes = b""
    row_groups: tuple[int, ...] | None = None
    partition_values: tuple[tuple[str, str | None], ...] = ()
    inspected_rows: int = 0

    def read(
        self,
        columns: Sequence[str],
        text_columns: frozenset[str],
        strict: bool,
        na_values: frozenset[str] = frozenset(),
    ) -> pd.DataFrame:
        """Read this part's rows of ``columns`` into pandas, as the file spells them.

        Parameters
        ----------
        columns : sequence of str
            The analysis columns, all present in this file.
        text_columns : frozenset of str
            Columns to keep as text (CSV would otherwise turn ``007`` into 7).
        strict : bool
            Whether a JSON Lines record may not bring keys beyond the file's
            columns (true when the caller reads every column).
        na_values : frozenset of str, default empty
            More fields a CSV or TSV file reads as missing
            (:func:`~mesalens.connectors.csv_text.na_tokens`).

        Returns
        -------
        pandas.DataFrame
            Exactly ``columns``, values not yet converted.

        Raises
        ------
        DataError
            If the file cannot be read; the message names regime and file.
        """
        with self._reader_errors():
            frame = self._read(columns, text_columns, strict, na_values)
        for key, value in self.partition_values:
            if key in columns:
                frame[key] = pd.Series([value] * len(frame), index=frame.index, dtype=object)
        return frame.loc[:, list(columns)]

    def read_numbers(
        self, columns: Sequence[str], flags: frozenset[str] = frozenset()
    ) -> dict[str, np.ndarray] | None:
        """Read ``columns`` of a Parquet part straight from Arrow, as float64 arrays.

        The fast path of the loader's pass: numeric Parquet columns need no
        pandas frame and no per-value conversion, and a float column without
        nulls is not even copied. It applies when every column is stored as
        integers, floats or booleans (``flags``: the columns read as flags,
        which must be stored as booleans); otherwise, and for other formats,
        it returns ``None`` and the caller reads through :meth:`read`.

        Parameters
        ----------
        columns : sequence of str
            The analysis columns, all present in this file.
        flags : frozenset of str, default empty
            Columns whose reading class is ``bool``.

        Returns
        -------
        dict of str to ndarray or None
            Per column, its values as float64 (NaN where the file has a
            null; booleans as 0.0 and 1.0), or ``None`` if this part does not
            qualify.

        Raises
        ------
        DataError
            If the file cannot be read; the message names regime and file.
        """
        if self.format != "parquet" or not self.row_groups:
            return None
        if self._file_columns(columns) != list(columns):
            return None  # hive partition values are text
        with self._reader_errors(), self.fs.open(self.path, "rb") as handle:
            parquet = pq.ParquetFile(handle)
            schema = parquet.schema_arrow
            if not all(_float_compatible(schema.field(c).type, c in flags) for c in columns):
                return None
            table = self._row_groups(parquet, columns)
            # A float64 column without nulls comes back as a view of Arrow's buffer.
            # safe=False: huge integers round to the nearest float, as pandas' astype does.
            return {c: table.column(c).cast(pa.float64(), safe=False).to_numpy() for c in columns}

    def _row_groups(self, parquet: pq.ParquetFile, columns: Sequence[str]) -> pa.Table:
        """Read the row groups of this part, only ``columns``."""
        # One thread: dask already reads a partition per core, and pyarrow's
        # own pool on top costs ~50% more CPU for nothing.
        return parquet.read_row_groups(
            list(self.row_groups or ()), columns=list(columns), use_threads=False
        )

    @contextlib.contextmanager
    def _reader_errors(self) -> Iterator[None]:
        """Turn any reader failure into one line that names the regime and the file."""
        try:
            yield
        except (DataError, MemoryError):
            raise
        except Exception as exc:
            raise DataError(
                f"regime {self.regime!r}: cannot read {self.where} "
                f"({self._describe()}): {first_line(exc)}"
            ) from exc

    def _describe(self) -> str:
        return describe_format(self.format, self.compression)

    def _file_columns(self, columns: Sequence[str]) -> list[str]:
        keys = {key for key, _ in self.partition_values}
        return [c for c in columns if c not in keys]

    def _read(
        self,
        columns: Sequence[str],
        text_columns: frozenset[str],
        strict: bool,
        na_values: frozenset[str],
    ) -> pd.DataFrame:
        wanted = self._file_columns(columns)
        if self.format == "parquet":
            with self.fs.open(self.path, "rb") as handle:
                parquet = pq.ParquetFile(handle)
                if self.row_groups:
                    table = self._row_groups(parquet, wanted)
                else:
                    table = parquet.schema_arrow.empty_table().select(wanted)
                # Dates, times and durations read as numbers (--dtype X=float)
                # are their stored counts (days, seconds, ...), as Arrow holds them.
                for i, name in enumerate(table.column_names):
                    kind = table.schema.field(i).type
                    if name not in text_columns and pa.types.is_temporal(kind):
                        storage = pa.int32() if kind.bit_width == 32 else pa.int64()
                        table = table.set_column(i, name, table.column(i).cast(storage))
                return table.to_pandas(use_threads=False)
        data = self._read_bytes()
        if not data.strip():
            return pd.DataFrame({c: pd.Series([], dtype=object) for c in wanted})
        if self.format == "jsonl":
            block = f" of the block from byte {self.offset:,}" if self.offset else ""
            frame = read_json_lines(data, f"regime {self.regime!r}", f"{block} of {self.where}")
            unknown = [c for c in frame.columns if c not in self.columns]
            if unknown and strict:
                raise DataError(
                    f"regime {self.regime!r}: a record in {self.where} has key "
                    f"{unknown[0]!r}, which the file's first {self.inspected_rows} records lack; "
                    "give every record the same keys (null marks a missing value) "
                    "or select columns with columns=[...]"
                )
            return frame.reindex(columns=wanted)
        # pandas reads the rows under a header of our own (c0, c1, ...): the
        # user's names never reach its parser, whatever they hold. One more
        # column than the header's catches a row with a field too many, which
        # pandas' usecols would otherwise drop without a word.
        start = 3 if self.offset == 0 and data.startswith(_BOM) else 0
        width = len(self.columns) - len(self.partition_values)
        position = {name: i for i, name in enumerate(self.columns[:width])}
        frame = read_body(
            memoryview(data)[start + len(self.header) :],
            SEPARATORS[self.format],
            width,
            [position[c] for c in wanted],
            [c in text_columns for c in wanted],
            na_values,
        )
        extra = frame.pop(EXTRA)
        # pandas keeps the file's order of columns, not that of usecols.
        frame = frame.rename(columns={f"c{position[c]}": c for c in wanted})[list(wanted)]
        ragged = np.flatnonzero(extra.notna().to_numpy())
        if len(ragged):
            block = f" of the block from byte {self.offset:,}" if self.offset else ""
            raise DataError(
                f"regime {self.regime!r}: data row {ragged[0] + 1}{block} of {self.where} has "
                f"more fields than the header's {width} columns (the first extra "
                f"field holds {extra.iloc[ragged[0]]!r}); fix the row or the header"
            )
        return frame

    def _read_bytes(self) -> bytes:
        with self.fs.open(self.path, "rb", compression=self.compression) as handle:
            if self.length is None:
                return handle.read()
            block = read_block(handle, self.offset, self.length, delimiter=b"\n")
        # Only the first block starts with the header line; the others get it back.
        return block if self.offset == 0 else self.header + block


def _float_compatible(arrow_type: pa.DataType, flag: bool) -> bool:
    """Whether an Arrow column converts to the loader's float64 exactly as pandas would."""
    if flag:
        return pa.types.is_boolean(arrow_type)
    return (
        pa.types.is_boolean(arrow_type)
        or pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type)
    )


def describe_format(fmt: str, compression: str | None) -> str:
    """Say what a file that failed to read was supposed to be."""
    what = "Parquet" if fmt == "parquet" else fmt.upper()
    if compression:
        what = f"{compression}-compressed {what}"
    return f"corrupt or not valid {what}"


def first_line(exc: BaseException) -> str:
    """Return the first line of an exception's message, any URL in it redacted.

    Filesystems such as HTTP keep the whole URL, userinfo included, as the
    path, and quote it in their errors.
    """
    for line in str(exc).splitlines():
        if line.strip():
            return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), line.strip())
    return type(exc).__name__
