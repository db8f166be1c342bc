"""File sources: CSV, TSV, Parquet and JSON Lines, local or behind any fsspec URL.

A regime's location names one file, a glob (``logs/train-*.csv.gz``) or a
directory, on local disk or behind any fsspec URL (``file://``,
``memory://``, ``s3://``, ...). This module turns such a location into a
:class:`FilePlan` in two steps, neither of which reads the data in full:

1. **Listing.** Globs are expanded with ``fs.glob`` (a glob that matches
   nothing is an error naming the pattern); a directory is a hive-partitioned
   dataset whose ``key=value`` path segments become columns (categorical,
   since a path segment is text) and whose hidden files (``_SUCCESS``,
   ``.crc``, ``_metadata``) are skipped. Files with no known suffix in a
   directory are taken as Parquet (Hive and Spark name them ``part-00000``).
2. **Inspection.** Every file's header is read: the CSV header line (read
   with fsspec rather than pandas, because pandas silently renames a
   duplicate ``a`` to ``a.1``), the Parquet footer (which also exposes a
   truncated or corrupt file before any work is scheduled), or the first
   :data:`SAMPLE_ROWS` records of a JSON Lines file. A small sample of rows
   goes with each header so that the loader can tell numbers from text.

The plan's :class:`FilePart` objects are the units of parallel work, one
dask partition each: a byte range of an uncompressed text file (cut at line
ends, like ``dask.dataframe.read_csv`` does), a whole compressed file (gzip
and zstd streams cannot be split), or a run of Parquet row groups. Keeping
the reading in our own small function -- driven by
``dask.dataframe.from_map`` in the loader, instead of handing the file list
to ``dd.read_csv`` -- is what lets every error raised while reading name the
file it came from, even when it surfaces in the middle of a parallel pass.

Cutting at line ends has the limit it has in dask: a quoted CSV field that
spans several lines must not straddle a cut, so such files should be
compressed (one partition) or smaller than :data:`BLOCK_SIZE`.

Format and compression come from the file name (``.csv``, ``.tsv``,
``.parquet``, ``.jsonl``, each optionally followed by ``.gz`` or ``.zst``)
unless the regime names a format explicitly.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import logging
import os
import posixpath
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.core import url_to_fs
from fsspec.spec import AbstractFileSystem
from fsspec.utils import read_block

from mesalens.connectors.errors import DataError
from mesalens.connectors.regime import FILE_FORMATS, redact_url

__all__ = [
    "BLOCK_SIZE",
    "HASH_LIMIT",
    "SAMPLE_ROWS",
    "FilePart",
    "FilePlan",
    "SourceSchema",
    "detect_format",
    "plan_files",
]

logger = logging.getLogger(__name__)

#: Target size in bytes of one partition (a byte range of a text file, or a
#: run of Parquet row groups measured uncompressed).
BLOCK_SIZE = 64 * 2**20

#: Rows read from the head of each file to tell numbers, flags and text apart.
SAMPLE_ROWS = 1000

#: Text files up to this size get a sha256 in their fingerprint; larger ones
#: only size and modification time, so that fingerprinting never costs a full
#: read of a large dataset. Parquet files are never read in full for it: their
#: ``sha256`` is that of the footer (``"hashed": "parquet footer ..."``).
HASH_LIMIT = 64 * 2**20

_COMPRESSIONS = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}
_FORMAT_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_SEPARATORS = {"csv": ",", "tsv": "\t"}
#: The column added to a CSV header line to catch rows with more fields
#: than the header (an unlikely name; a file that has it is refused as having
#: duplicate columns).
_EXTRA_FIELDS = "__mesalens_extra_fields__"
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_GLOB_CHARS = frozenset("*?[")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"]+")
# JSON values keep the types JSON gave them: no guessing of dates or dtypes.
# (pandas 3 folds date guessing into dtype=False and deprecates convert_dates.)
_JSON_OPTIONS: dict[str, Any] = {"lines": True, "dtype": False}
if int(pd.__version__.split(".")[0]) < 3:
    _JSON_OPTIONS["convert_dates"] = False


@dataclass(frozen=True, eq=False)
class SourceSchema:
    """What one source (a file or an SQL table) holds, learnt without a full read.

    Attributes
    ----------
    where : str
        The source as it may be shown to a person (credentials hidden).
    columns : tuple of str
        Its column names, in its own order.
    sample : pandas.DataFrame
        Up to :data:`SAMPLE_ROWS` rows from its head, as the reader parses
        them; the loader tells numeric from text columns with it.
    kinds : dict of str to str
        Column kinds known from a typed schema (Parquet, hive partitions):
        ``"number"``, ``"bool"``, ``"string"``, ``"empty"`` or
        ``"unsupported:<type>"``. Columns missing here are judged from the sample.
    """

    where: str
    columns: tuple[str, ...]
    sample: pd.DataFrame
    kinds: dict[str, str] = field(default_factory=dict)


def _read_json_lines(data: bytes, prefix: str, where: str) -> pd.DataFrame:
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


class _JoinedStream(io.RawIOBase):
    """``head`` followed by ``body`` as one readable stream, without copying ``body``.

    A text block can be most of a file (a compressed file is read whole);
    patching its header line must not cost a second copy of it.
    """

    def __init__(self, head: bytes, body: memoryview):
        self._pieces = [memoryview(head), body]

    def readable(self) -> bool:
        """A read-only stream."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the pieces in order; 0 at the end."""
        while self._pieces and not len(self._pieces[0]):
            self._pieces.pop(0)
        if not self._pieces:
            return 0
        piece = self._pieces[0]
        size = min(len(buffer), len(piece))
        buffer[:size] = piece[:size]
        self._pieces[0] = piece[size:]
        return size


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

    def read(
        self, columns: Sequence[str], text_columns: frozenset[str], strict: bool
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
            frame = self._read(columns, text_columns, strict)
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
                f"({self._describe()}): {_first_line(exc)}"
            ) from exc

    def _describe(self) -> str:
        return _describe(self.format, self.compression)

    def _file_columns(self, columns: Sequence[str]) -> list[str]:
        keys = {key for key, _ in self.partition_values}
        return [c for c in columns if c not in keys]

    def _read(
        self, columns: Sequence[str], text_columns: frozenset[str], strict: bool
    ) -> pd.DataFrame:
        wanted = self._file_columns(columns)
        if self.format == "parquet":
            with self.fs.open(self.path, "rb") as handle:
                parquet = pq.ParquetFile(handle)
                if self.row_groups:
                    table = self._row_groups(parquet, wanted)
                else:
                    table = parquet.schema_arrow.empty_table().select(wanted)
                return table.to_pandas(use_threads=False)
        data = self._read_bytes()
        if not data.strip():
            return pd.DataFrame({c: pd.Series([], dtype=object) for c in wanted})
        if self.format == "jsonl":
            block = f" of the block from byte {self.offset:,}" if self.offset else ""
            frame = _read_json_lines(data, f"regime {self.regime!r}", f"{block} of {self.where}")
            unknown = [c for c in frame.columns if c not in self.columns]
            if unknown and strict:
                raise DataError(
                    f"regime {self.regime!r}: a record in {self.where} has key "
                    f"{unknown[0]!r}, which the file's first {SAMPLE_ROWS} records lack; "
                    "give every record the same keys (null marks a missing value) "
                    "or select columns with columns=[...]"
                )
            return frame.reindex(columns=wanted)
        # With usecols, pandas drops the fields of a row beyond the header's
        # columns without a word. One more column named in the header line
        # catches them: it is empty unless a row has a field too many.
        end = data.find(b"\n")
        end = len(data) if end < 0 else end
        line = data[:end]
        ending = b"\r" if line.endswith(b"\r") else b""
        separator = _SEPARATORS[self.format].encode()
        head = line.removesuffix(b"\r") + separator + _EXTRA_FIELDS.encode() + ending + b"\n"
        frame = pd.read_csv(
            _JoinedStream(head, memoryview(data)[end + 1 :]),
            sep=_SEPARATORS[self.format],
            usecols=[*wanted, _EXTRA_FIELDS],
            dtype={_EXTRA_FIELDS: str, **{c: str for c in wanted if c in text_columns}},
            encoding="utf-8-sig",
        )
        extra = frame.pop(_EXTRA_FIELDS)
        ragged = np.flatnonzero(extra.notna().to_numpy())
        if len(ragged):
            block = f" of the block from byte {self.offset:,}" if self.offset else ""
            raise DataError(
                f"regime {self.regime!r}: data row {ragged[0] + 1}{block} of {self.where} has "
                f"more fields than the header's {len(self.columns)} columns (the first extra "
                f"field holds {extra.iloc[ragged[0]]!r}); fix the row or the header"
            )
        return frame[wanted]

    def _read_bytes(self) -> bytes:
        with self.fs.open(self.path, "rb", compression=self.compression) as handle:
            if self.length is None:
                return handle.read()
            block = read_block(handle, self.offset, self.length, delimiter=b"\n")
        # Only the first block starts with the header line; the others get it back.
        return block if self.offset == 0 else self.header + block


@dataclass(frozen=True, eq=False)
class FilePlan:
    """Everything known about a regime's files before the data are read.

    Attributes
    ----------
    location : str
        The location as given, credentials hidden.
    schemas : list of SourceSchema
        One per file, in listing order.
    parts : list of FilePart
        The partitions, in file order.
    fingerprints : list of dict
        One per file: ``source``, ``size``, ``mtime`` and ``sha256``: of the
        whole file for text files up to :data:`HASH_LIMIT` bytes, of the
        footer for Parquet files (then ``hashed`` says so).
    """

    location: str
    schemas: list[SourceSchema]
    parts: list[FilePart]
    fingerprints: list[dict[str, Any]]

    @property
    def sources(self) -> list[str]:
        """The files, as they may be shown to a person."""
        return [schema.where for schema in self.schemas]


def detect_format(path: str) -> tuple[str | None, str | None]:
    """Tell a file's format and compression from its name.

    Parameters
    ----------
    path : str
        A file name or path, e.g. ``logs/train.jsonl.zst``.

    Returns
    -------
    format : str or None
        ``csv``, ``tsv``, ``parquet`` or ``jsonl``; ``None`` if the name does not say.
    compression : str or None
        ``gzip`` or ``zstd``; ``None`` if uncompressed.

    Examples
    --------
    >>> detect_format("logs/train.csv.gz")
    ('csv', 'gzip')
    >>> detect_format("part-0.parquet")
    ('parquet', None)
    """
    stem, suffix = posixpath.splitext(posixpath.basename(path).lower())
    compression = _COMPRESSIONS.get(suffix)
    if compression is not None:
        stem, suffix = posixpath.splitext(stem)
    return _FORMAT_SUFFIXES.get(suffix), compression


def plan_files(location: str, format: str | None = None, *, regime: str) -> FilePlan:
    """List and inspect the files behind one regime's location.

    Parameters
    ----------
    location : str
        A path, glob or directory, local or as an fsspec URL.
    format : str or None
        One of :data:`~mesalens.connectors.regime.FILE_FORMATS`, or ``None``
        to tell each file's format from its name (files in a directory
        without a known suffix are taken as Parquet).
    regime : str
        The regime's name, for messages.

    Returns
    -------
    FilePlan
        The files' schemas, partitions and fingerprints.

    Raises
    ------
    DataError
        If nothing matches, a file is empty, corrupt, of unknown format, or
        has a duplicate or empty column name.
    """
    display = redact_url(location)
    if format is not None and format not in FILE_FORMATS:
        raise DataError(f"regime {regime!r}: {format!r} is not a file format ({display})")
    try:
        fs, path = url_to_fs(location)
    except Exception as exc:  # unknown protocol, missing optional package, bad URL
        # "from None": the original message may quote the URL with its password.
        reason = _first_line(exc).replace(location, display)
        raise DataError(f"regime {regime!r}: cannot open {display}: {reason}") from None
    has_protocol = "://" in location

    def show(p: str) -> str:
        if has_protocol:
            return redact_url(fs.unstrip_protocol(p))
        return _local_display(p)

    root: str | None = None
    try:
        if any(char in path for char in _GLOB_CHARS):
            found = fs.glob(path, detail=True)
            paths = sorted(p for p, info in found.items() if info.get("type") != "directory")
            if not paths:
                raise DataError(f"regime {regime!r}: no file matches {display}; check the pattern")
        elif fs.isdir(path):
            root = path.rstrip("/")
            paths = sorted(p for p in fs.find(root) if not _hidden(p, root))
            if not paths:
                raise DataError(f"regime {regime!r}: directory {display} holds no data files")
        elif fs.exists(path):
            paths = [path]
        else:
            raise DataError(f"regime {regime!r}: no such file or directory: {display}")
    except DataError:
        raise
    except Exception as exc:  # permission denied, unreachable store, ...
        raise DataError(f"regime {regime!r}: cannot list {display}: {_first_line(exc)}") from exc

    logger.info("regime %r: %d file(s) at %s", regime, len(paths), display)
    schemas: list[SourceSchema] = []
    parts: list[FilePart] = []
    fingerprints: list[dict[str, Any]] = []
    for file_path in paths:
        where = show(file_path)
        fmt, compression = detect_format(file_path)
        fmt = format or fmt or ("parquet" if root is not None else None)
        if fmt is None:
            raise DataError(
                f"regime {regime!r}: cannot tell the format of {where} from its name; "
                f"name it, e.g. --regime {regime}:csv=..., or --format csv for every regime "
                f"(formats: {', '.join(FILE_FORMATS)})"
            )
        if fmt == "parquet" and compression is not None:
            raise DataError(
                f"regime {regime!r}: {where} is a {compression}-compressed Parquet file; "
                "Parquet compresses internally, store it uncompressed"
            )
        partition = _partition_values(file_path, root) if root is not None else ()
        inspector = _FileInspector(fs, file_path, where, regime, fmt, compression, partition)
        schema, file_parts, fingerprint = inspector.inspect()
        schemas.append(schema)
        parts.extend(file_parts)
        fingerprints.append(fingerprint)
    return FilePlan(location=display, schemas=schemas, parts=parts, fingerprints=fingerprints)


class _FileInspector:
    """Reads one file's header, sample and fingerprint, and cuts it into parts."""

    def __init__(
        self,
        fs: AbstractFileSystem,
        path: str,
        where: str,
        regime: str,
        fmt: str,
        compression: str | None,
        partition: tuple[tuple[str, str | None], ...],
    ) -> None:
        self.fs = fs
        self.path = path
        self.where = where
        self.regime = regime
        self.format = fmt
        self.compression = compression
        self.partition = partition
        self.prefix = f"regime {regime!r}: {where}"

    def inspect(self) -> tuple[SourceSchema, list[FilePart], dict[str, Any]]:
        """Return the file's schema, its parts and its fingerprint."""
        try:
            info = self.fs.info(self.path)
        except Exception as exc:
            raise DataError(f"{self.prefix}: cannot read: {_first_line(exc)}") from exc
        size = int(info.get("size") or 0)
        fingerprint = self._fingerprint(info, size)
        if size == 0:
            raise DataError(f"{self.prefix}: the file is empty (0 bytes)")
        try:
            if self.format == "parquet":
                schema, parts = self._inspect_parquet()
            else:
                schema, parts = self._inspect_text(size)
        except (DataError, MemoryError):
            raise
        except Exception as exc:  # decompression, parse and footer errors
            raise DataError(
                f"{self.prefix}: cannot read ({self._describe()}): {_first_line(exc)}"
            ) from exc
        return schema, parts, fingerprint

    def _describe(self) -> str:
        return _describe(self.format, self.compression)

    def _part(self, columns: tuple[str, ...], **kwargs: Any) -> FilePart:
        return FilePart(
            fs=self.fs,
            path=self.path,
            where=self.where,
            regime=self.regime,
            format=self.format,
            compression=self.compression,
            columns=columns,
            partition_values=self.partition,
            **kwargs,
        )

    def _fingerprint(self, info: dict[str, Any], size: int) -> dict[str, Any]:
        fingerprint: dict[str, Any] = {"source": self.where, "size": size, "mtime": None}
        try:
            fingerprint["mtime"] = self.fs.modified(self.path).isoformat()
        except Exception:  # not every filesystem keeps modification times
            mtime = info.get("mtime") or info.get("LastModified") or info.get("created")
            fingerprint["mtime"] = None if mtime is None else str(mtime)
        if self.format == "parquet":
            # A Parquet footer holds the schema, every row group's row count,
            # byte offsets and per-column min/max/null-count statistics: with
            # size and mtime it identifies the data without reading it
            # (hashing every shard cost more than one whole pyarrow pass).
            footer = self._parquet_footer(size)
            if footer is not None:
                fingerprint["sha256"] = hashlib.sha256(footer).hexdigest()
                fingerprint["hashed"] = "parquet footer (data pages not hashed)"
            return fingerprint
        if 0 < size <= HASH_LIMIT:
            digest = hashlib.sha256()
            with self.fs.open(self.path, "rb") as handle:
                for chunk in iter(lambda: handle.read(2**20), b""):
                    digest.update(chunk)
            fingerprint["sha256"] = digest.hexdigest()
        return fingerprint

    def _parquet_footer(self, size: int) -> bytes | None:
        """The file's Parquet footer (metadata and its length), or None if it has none."""
        if size < 12:
            return None
        try:
            with self.fs.open(self.path, "rb") as handle:
                handle.seek(size - 8)
                tail = handle.read(8)
                length = int.from_bytes(tail[:4], "little")
                if tail[4:] != b"PAR1" or length > size - 12:
                    return None
                handle.seek(size - 8 - length)
                return handle.read(length) + tail
        except Exception:  # a broken file is reported by the inspection that follows
            return None

    def _check_names(self, names: Sequence[str]) -> tuple[str, ...]:
        seen: set[str] = set()
        for position, name in enumerate(names, start=1):
            if not str(name).strip():
                raise DataError(
                    f"{self.prefix}: column {position} has no name; name every column "
                    "(a pandas index written by to_csv? write it with index=False)"
                )
            if name in seen:
                raise DataError(
                    f"{self.prefix}: column {name!r} appears twice in the header; "
                    "give every column a distinct name"
                )
            seen.add(name)
        for key, value in self.partition:
            if key in seen:
                raise DataError(
                    f"{self.prefix}: column {key!r} is both in the file and in its "
                    f"directory path ({key}={value}); rename one of them"
                )
        return (*names, *(key for key, _ in self.partition))

    def _partition_frame(self, sample: pd.DataFrame) -> pd.DataFrame:
        for key, value in self.partition:
            sample[key] = pd.Series([value] * len(sample), index=sample.index, dtype=object)
        return sample

    def _inspect_text(self, size: int) -> tuple[SourceSchema, list[FilePart]]:
        lines = SAMPLE_ROWS + (self.format != "jsonl")  # the CSV header line, then rows
        with self.fs.open(self.path, "rb", compression=self.compression) as handle:
            head = _read_lines(handle, lines)
        header = b"" if self.format == "jsonl" else head.partition(b"\n")[0] + b"\n"
        if not head.strip():
            raise DataError(f"{self.prefix}: the file holds no data (not even a header line)")
        if self.format == "jsonl":
            sample = _read_json_lines(head, f"regime {self.regime!r}", f" of {self.where}")
            if not len(sample.columns):
                raise DataError(f"{self.prefix}: the records have no keys")
            names = [str(c) for c in sample.columns]
        else:
            text = header.decode("utf-8-sig").rstrip("\r\n")
            names = next(csv.reader([text], delimiter=_SEPARATORS[self.format]))
            sample = pd.read_csv(
                io.BytesIO(head), sep=_SEPARATORS[self.format], encoding="utf-8-sig"
            )
            header = header.removeprefix(b"\xef\xbb\xbf")
        columns = self._check_names(names)
        sample = self._partition_frame(sample)
        kinds = {key: "string" for key, _ in self.partition}
        schema = SourceSchema(where=self.where, columns=columns, sample=sample, kinds=kinds)
        if self.compression is not None or size <= BLOCK_SIZE:
            # A compressed stream cannot be cut: the whole file is one partition.
            return schema, [self._part(columns, header=header)]
        parts = [
            self._part(columns, offset=offset, length=BLOCK_SIZE, header=header)
            for offset in range(0, size, BLOCK_SIZE)
        ]
        return schema, parts

    def _inspect_parquet(self) -> tuple[SourceSchema, list[FilePart]]:
        with self.fs.open(self.path, "rb") as handle:
            parquet = pq.ParquetFile(handle)
            arrow_schema = parquet.schema_arrow
            metadata = parquet.metadata
            groups = [
                (metadata.row_group(i).total_byte_size, metadata.row_group(i).num_rows)
                for i in range(metadata.num_row_groups)
            ]
        # A pandas index saved with the data ("__index_level_0__") is row
        # labels, not a variable: leave it out like pandas would.
        index_columns = {
            c
            for c in (arrow_schema.pandas_metadata or {}).get("index_columns", [])
            if isinstance(c, str)
        }
        names = [str(name) for name in arrow_schema.names if name not in index_columns]
        columns = self._check_names(names)
        kinds = {name: _arrow_kind(arrow_schema.field(name).type) for name in names}
        kinds.update({key: "string" for key, _ in self.partition})
        sample = self._partition_frame(arrow_schema.empty_table().select(names).to_pandas())
        schema = SourceSchema(where=self.where, columns=columns, sample=sample, kinds=kinds)
        # Runs of row groups up to BLOCK_SIZE (uncompressed) make one partition;
        # a file without row groups still gets one, so its schema is seen.
        runs: list[list[int]] = []
        total = BLOCK_SIZE
        for index, (nbytes, _rows) in enumerate(groups):
            if total + nbytes > BLOCK_SIZE and (not runs or runs[-1]):
                runs.append([])
                total = 0
            runs[-1].append(index)
            total += nbytes
        if not runs:
            runs = [[]]
        return schema, [self._part(columns, row_groups=tuple(run)) for run in runs]


def _read_lines(handle: Any, lines: int) -> bytes:
    """Read the first ``lines`` lines (decompressing streams cannot ``readline``)."""
    chunks: list[bytes] = []
    seen = 0
    while seen < lines:
        chunk = handle.read(2**16)
        if not chunk:
            break
        chunks.append(chunk)
        seen += chunk.count(b"\n")
    data = b"".join(chunks)
    end = -1
    for _ in range(lines):
        end = data.find(b"\n", end + 1)
        if end < 0:
            return data
    return data[: end + 1]


def _arrow_kind(arrow_type: pa.DataType) -> str:
    """Classify an Arrow type as the loader's ``number``/``bool``/``string``/... kinds."""
    if pa.types.is_dictionary(arrow_type):
        return "string"
    if pa.types.is_boolean(arrow_type):
        return "bool"
    if (
        pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type)
        or pa.types.is_decimal(arrow_type)
    ):
        return "number"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    if pa.types.is_null(arrow_type):
        return "empty"
    return f"unsupported:{arrow_type}"


def _float_compatible(arrow_type: pa.DataType, flag: bool) -> bool:
    """Whether an Arrow column converts to the loader's float64 exactly as pandas would."""
    if flag:
        return pa.types.is_boolean(arrow_type)
    return (
        pa.types.is_boolean(arrow_type)
        or pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type)
    )


def _partition_values(path: str, root: str) -> tuple[tuple[str, str | None], ...]:
    """Return the hive ``key=value`` pairs in ``path`` below ``root``."""
    relative = posixpath.relpath(path, root)
    pairs = []
    for segment in relative.split("/")[:-1]:
        key, equals, value = segment.partition("=")
        if equals and key:
            value = unquote(value)  # writers percent-encode '/', '=' and friends
            pairs.append((key, None if value == _HIVE_NULL else value))
    return tuple(pairs)


def _hidden(path: str, root: str) -> bool:
    """Whether ``path`` is bookkeeping (``_SUCCESS``, ``.crc``, ``_metadata``), not data."""
    relative = posixpath.relpath(path, root)
    return any(
        segment.startswith(("_", ".")) and "=" not in segment for segment in relative.split("/")
    )


def _local_display(path: str) -> str:
    """Show a local path relative to the working directory when it lies below it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if relative.startswith("..") else relative


def _describe(fmt: str, compression: str | None) -> str:
    """Say what a file that failed to read was supposed to be."""
    what = "Parquet" if fmt == "parquet" else fmt.upper()
    if compression:
        what = f"{compression}-compressed {what}"
    return f"corrupt or not valid {what}"


def _first_line(exc: BaseException) -> str:
    """Return the first line of an exception's message, any URL in it redacted.

    Filesystems such as HTTP keep the whole URL, userinfo included, as the
    path, and quote it in their errors.
    """
    for line in str(exc).splitlines():
        if line.strip():
            return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), line.strip())
    return type(exc).__name__
