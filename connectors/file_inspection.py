"""Inspect one file without reading it in full: its columns, a sample, a fingerprint, its parts.

Every file's header is read: the CSV header line (read with fsspec rather
than pandas, because pandas silently renames a duplicate ``a`` to ``a.1``),
the Parquet footer (which also exposes a truncated or corrupt file before
any work is scheduled), or the first :data:`SAMPLE_ROWS` records of a JSON
Lines file. A small sample of rows goes with each header so that the loader
can tell numbers from text (:class:`SourceSchema`). The file is then cut
into :class:`~mesalens.connectors.file_parts.FilePart` objects of about
:data:`BLOCK_SIZE` each, and fingerprinted.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem
from fsspec.spec import AbstractFileSystem

from mesalens.connectors.csv_text import complete_records, read_body, record_end
from mesalens.connectors.errors import DataError
from mesalens.connectors.file_parts import (
    SEPARATORS,
    FilePart,
    describe_format,
    first_line,
    read_json_lines,
)

__all__ = ["BLOCK_SIZE", "HASH_LIMIT", "SAMPLE_ROWS", "FileInspector", "SourceSchema"]

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

_BOM = b"\xef\xbb\xbf"


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


class FileInspector:
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
            if isinstance(self.fs, LocalFileSystem) and not os.access(self.path, os.R_OK):
                raise PermissionError(13, "permission denied", self.path)
        except PermissionError:
            raise DataError(
                f"{self.prefix}: cannot read the file: permission denied; give the user "
                "running mesalens read access to it (chmod a+r)"
            ) from None
        except Exception as exc:
            raise DataError(f"{self.prefix}: cannot read: {first_line(exc)}") from exc
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
                f"{self.prefix}: cannot read ({self._describe()}): {first_line(exc)}"
            ) from exc
        return schema, parts, fingerprint

    def _describe(self) -> str:
        return describe_format(self.format, self.compression)

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
            inspected_rows=SAMPLE_ROWS,
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
        alike: dict[str, str] = {}  # by Unicode normal form NFC
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
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate, e.g. a JSON key "\udcff"
                raise DataError(
                    f"{self.prefix}: column {position} is named {name!a}, which is not "
                    "valid Unicode text (a lone surrogate); rename the column"
                ) from None
            twin = alike.get(unicodedata.normalize("NFC", name))
            if twin is not None:
                raise DataError(
                    f"{self.prefix}: columns {twin!r} and {name!r} look alike but are spelt "
                    f"with different Unicode characters ({twin!a} and {name!a}); "
                    "rename one of them"
                )
            alike[unicodedata.normalize("NFC", name)] = name
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
        if not head.strip():
            raise DataError(f"{self.prefix}: the file holds no data (not even a header line)")
        if self.format == "jsonl":
            header = b""
            sample = read_json_lines(head, f"regime {self.regime!r}", f" of {self.where}")
            if not len(sample.columns):
                raise DataError(f"{self.prefix}: the records have no keys")
            names = [str(c) for c in sample.columns]
            columns = self._check_names(names)
        else:
            # The header is a record: a quoted name may hold a line break.
            head = head.removeprefix(_BOM)
            end = record_end(head)
            if end < 0:
                if head.count(b'"') % 2:
                    raise DataError(
                        f"{self.prefix}: the header never ends: a quote in it is not closed; "
                        "close the quote around the column name"
                    )
                end = len(head)
            # The header's bytes as the file holds them (a reader cuts them off
            # the first block by their length), ending in a line break.
            header = head[:end] if head[:end].endswith(b"\n") else head[:end] + b"\n"
            text = header.decode("utf-8").removesuffix("\n").removesuffix("\r")
            reader = csv.reader(io.StringIO(text, newline=""), delimiter=SEPARATORS[self.format])
            names = next(reader, [])
            columns = self._check_names(names)
            sample = read_body(
                complete_records(head[end:]),
                SEPARATORS[self.format],
                len(names),
                range(len(names)),
                [False] * len(names),
                frozenset(),
                extra=False,
            )
            sample.columns = names
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
    if pa.types.is_nested(arrow_type):  # list, struct, map, union: left out with a note
        return f"nested:{arrow_type}"
    return f"unsupported:{arrow_type}"
