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
2. **Inspection** (:mod:`.file_inspection`). Every file's header, footer or
   first records are read, with a small sample of rows, and the file is cut
   into :class:`~mesalens.connectors.file_parts.FilePart` objects, the
   units of parallel reading (:mod:`.file_parts`).

Format and compression come from the file name (``.csv``, ``.tsv``,
``.parquet``, ``.jsonl``, each optionally followed by ``.gz`` or ``.zst``)
unless the regime names a format explicitly.
"""

from __future__ import annotations

import logging
import os
import posixpath
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from fsspec.core import url_to_fs

from mesalens.connectors.errors import DataError
from mesalens.connectors.file_inspection import FileInspector, SourceSchema
from mesalens.connectors.file_parts import FilePart, first_line
from mesalens.connectors.listing import list_files, printable
from mesalens.connectors.redaction import redact_url
from mesalens.connectors.regime import FILE_FORMATS

__all__ = ["FilePlan", "detect_format", "plan_files"]

logger = logging.getLogger(__name__)

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
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


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
        whole file for text files up to
        :data:`~mesalens.connectors.file_inspection.HASH_LIMIT` bytes, of the
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
        reason = first_line(exc).replace(location, display)
        raise DataError(f"regime {regime!r}: cannot open {display}: {reason}") from None
    has_protocol = "://" in location

    def show(p: str) -> str:
        if has_protocol:
            return redact_url(fs.unstrip_protocol(p))
        return printable(_local_display(p))

    paths, root = list_files(fs, path, display, regime, _hidden, show)
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
        inspector = FileInspector(fs, file_path, where, regime, fmt, compression, partition)
        schema, file_parts, fingerprint = inspector.inspect()
        schemas.append(schema)
        parts.extend(file_parts)
        fingerprints.append(fingerprint)
    return FilePlan(location=display, schemas=schemas, parts=parts, fingerprints=fingerprints)


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
