"""SQL sources: a table or a query behind any SQLAlchemy connection URL.

A regime's location is an SQLAlchemy URL with one extra query parameter
that says what to read::

    sqlite:///logs.db?table=deploy
    postgresql://user:pw@host/db?table=analytics.deploy_runs
    postgresql://user:pw@host/db?query=SELECT reward, action FROM runs WHERE split = 'deploy'

``query=`` must come last: everything after it, ``&`` included, is the
query. A query with no spaces is taken as percent-encoded and decoded. Other
parameters (``sslmode=require``, ...) go to the driver unchanged. A plain
``postgresql://`` URL uses psycopg (version 3) when psycopg2 is not
installed, and ``postgres://`` is read as ``postgresql://``.

Partitioning
------------
Reading is split into partitions only along a numeric *index column*, as
``dask.dataframe.read_sql_table`` does: the column's minimum and maximum are
fetched in one query, the range is cut into equal intervals, and each
partition reads ``WHERE index >= lo AND index < hi`` (the first one also
takes rows whose index is NULL, so no row is lost). The number of
partitions follows the table's estimated size (row count times the bytes per
row of a sample, over :data:`~mesalens.connectors.file_inspection.BLOCK_SIZE`).

* A table's index column is its primary key when that is a single integer
  column; ``?index_col=NAME`` names another (or one for a query).
* Without an index column the source is one partition: a single
  ``pandas.read_sql`` in one dask task. ``LIMIT/OFFSET`` paging is
  deliberately not used: without a total order it may return a row twice or
  never, and even with one every page rescans the rows before it.
* As in dask, the index column is the table's row identity, not an analysis
  variable, and is left out of the columns. (Alias it in a query to keep it.)

We build the partition statements ourselves and run them through the
loader's ``dask.dataframe.from_map`` instead of calling
``dd.read_sql_query`` so that SQL partitions behave like file partitions:
errors name the regime and the source, and any password is scrubbed from the
driver's message before it is shown.

Credentials
-----------
The connection URL with its password lives only inside :class:`SqlPart` (it
is needed to connect from a dask worker) and is never shown: messages,
logs, summaries and fingerprints use :func:`~mesalens.connectors.regime.redact_url`.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, unquote_plus, urlencode

import numpy as np
import pandas as pd

import mesalens.connectors.file_inspection as inspection
from mesalens.connectors.errors import DataError
from mesalens.connectors.file_inspection import SourceSchema
from mesalens.connectors.redaction import redact_url

# SQLAlchemy (~0.4 s to import) is imported inside the functions that talk to
# a database, so that reading files, or any command that reads no SQL, never
# loads it.
if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import Engine

__all__ = ["SqlPart", "SqlPlan", "is_sql_location", "plan_sql"]

logger = logging.getLogger(__name__)

# Dialect names SQLAlchemy ships or commonly has plugins for. A scheme with a
# driver ("postgresql+psycopg") is always taken as SQL: fsspec protocols never
# contain "+".
_SQL_DIALECTS = frozenset(
    {
        "sqlite",
        "postgresql",
        "postgres",
        "mysql",
        "mariadb",
        "mssql",
        "oracle",
        "duckdb",
        "redshift",
        "snowflake",
        "cockroachdb",
        "trino",
        "bigquery",
    }
)
_OWN_PARAMETERS = ("table", "query", "index_col")
_SUBQUERY_ALIAS = "mesalens_q"


def is_sql_location(location: str) -> bool:
    """Whether ``location`` is a database URL rather than a path or fsspec URL.

    Examples
    --------
    >>> is_sql_location("sqlite:///logs.db?table=runs")
    True
    >>> is_sql_location("memory://logs/train.csv")
    False
    """
    scheme, sep, _ = location.partition("://")
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.\-]*", scheme):
        return False
    return "+" in scheme or scheme.lower() in _SQL_DIALECTS


@dataclass(frozen=True)
class SqlPart:
    """One partition of a table or query: the unit of parallel reading.

    Attributes
    ----------
    url : str
        The SQLAlchemy URL *with* its password, for connecting; never shown.
    where : str
        The source as it may be shown to a person (password hidden).
    regime : str
        The regime the source belongs to, for messages.
    table : str or None
        A table name (``schema.table`` allowed); exactly one of ``table`` and
        ``query`` is set.
    query : str or None
        A SELECT statement.
    index_col : str or None
        The column the partitions are cut along.
    lower, upper : int or float or None
        This partition's interval of the index column, ``lower <= index < upper``;
        ``None`` leaves a side open (the first and last partitions).
    with_nulls : bool
        Whether this partition also takes rows whose index is NULL.
    """

    url: str
    where: str
    regime: str
    table: str | None
    query: str | None
    index_col: str | None = None
    lower: float | int | None = None
    upper: float | int | None = None
    with_nulls: bool = False

    def __repr__(self) -> str:  # the URL carries the password: never print it
        return f"SqlPart(where={self.where!r}, lower={self.lower!r}, upper={self.upper!r})"

    def read(
        self,
        columns: Sequence[str],
        text_columns: frozenset[str],
        strict: bool,
        na_values: frozenset[str] = frozenset(),
    ) -> pd.DataFrame:
        """Read this partition's rows of ``columns``.

        Parameters
        ----------
        columns : sequence of str
            The analysis columns.
        text_columns : frozenset of str
            Unused: database values arrive typed. Kept for the common reader interface.
        strict : bool
            Unused, as above.
        na_values : frozenset of str, default empty
            Unused here: text values that are missing-value tokens are
            turned missing by :func:`mesalens.connectors.reading.convert`.

        Returns
        -------
        pandas.DataFrame
            Exactly ``columns``, values as the driver returns them.

        Raises
        ------
        DataError
            If the database refuses; the message names regime and source.
        """
        import sqlalchemy as sa

        del text_columns, strict, na_values
        source = _source(self.table, self.query)
        statement = sa.select(*(sa.column(c) for c in columns)).select_from(source)
        if self.index_col is not None:
            index = sa.column(self.index_col)
            bounds = []
            if self.lower is not None:
                bounds.append(index >= self.lower)
            if self.upper is not None:
                bounds.append(index < self.upper)
            if bounds:
                condition = sa.and_(*bounds)
                if self.with_nulls:
                    condition = sa.or_(condition, index.is_(None))
                statement = statement.where(condition)
        engine = _engine(self.url, self.where, self.regime)
        try:
            with engine.connect() as connection:
                frame = pd.read_sql(statement, connection)
        except Exception as exc:  # driver errors: scrub and name the source
            message = f"regime {self.regime!r}: cannot read {self.where}"
            raise _failure(message, exc, self.url) from None
        finally:
            engine.dispose()
        return frame.loc[:, list(columns)]


@dataclass(frozen=True, eq=False)
class SqlPlan:
    """Everything known about a regime's table or query before the data are read.

    Attributes
    ----------
    location : str
        The location, password hidden.
    schemas : list of SourceSchema
        One entry: the table's or query's columns and a sample of rows.
    parts : list of SqlPart
        The partitions.
    fingerprints : list of dict
        One entry: ``source`` (redacted URL), ``table`` or ``query``, and
        ``rows`` when they were counted.
    index_col : str or None
        The partitioning column, left out of the columns.
    """

    location: str
    schemas: list[SourceSchema]
    parts: list[SqlPart]
    fingerprints: list[dict[str, Any]]
    index_col: str | None

    @property
    def sources(self) -> list[str]:
        """The source, as it may be shown to a person."""
        return [self.location]


def plan_sql(location: str, *, regime: str) -> SqlPlan:
    """Inspect a table or query and cut it into partitions.

    Parameters
    ----------
    location : str
        An SQLAlchemy URL with ``?table=NAME`` or ``?query=SELECT ...``, and
        optionally ``index_col=NAME``.
    regime : str
        The regime's name, for messages.

    Returns
    -------
    SqlPlan
        Columns, a sample of rows, the partitions and a fingerprint.

    Raises
    ------
    DataError
        If the URL is malformed, the database unreachable, the table missing,
        or the query fails. No message contains the password.
    """
    import sqlalchemy as sa

    where = redact_url(location)
    prefix = f"regime {regime!r}: {where}"
    url, table, query, index_col = _parse_location(location, prefix)
    engine = _engine(url, where, regime)
    try:
        with engine.connect() as connection:
            if table is not None:
                index_col = _check_table(connection, table, index_col, prefix)
            result = connection.execute(
                sa.select(sa.text("*"))
                .select_from(_source(table, query))
                .limit(inspection.SAMPLE_ROWS)
            )
            # Names straight from the cursor: pandas would rename a duplicate.
            names = [str(name) for name in result.keys()]
            twice = [name for name, n in Counter(names).items() if n > 1]
            if twice:
                raise DataError(
                    f"{prefix}: column {twice[0]!r} appears twice; "
                    "give every column a distinct name (SELECT ... AS ...)"
                )
            sample = pd.DataFrame.from_records(result.fetchall(), columns=names)
            if index_col is not None and index_col not in sample.columns:
                raise DataError(
                    f"{prefix}: index column {index_col!r} is not among the columns "
                    f"({', '.join(map(str, sample.columns))})"
                )
            rows: int | None = None
            parts = [SqlPart(url=url, where=where, regime=regime, table=table, query=query)]
            if index_col is not None:
                rows, parts = _partition(
                    connection, sample, url, where, regime, table, query, index_col
                )
    except DataError:
        raise
    except Exception as exc:  # connection refused, bad SQL, permissions, ...
        raise _failure(prefix, exc, url) from None
    finally:
        engine.dispose()
    columns = tuple(str(c) for c in sample.columns if c != index_col)
    for position, name in enumerate(columns, start=1):
        if not name.strip():
            raise DataError(f"{prefix}: column {position} has no name; name it (SELECT ... AS ...)")
    sample = sample.loc[:, list(columns)]
    logger.info(
        "regime %r: %s in %d partition(s)%s",
        regime,
        f"table {table}" if table is not None else "query",
        len(parts),
        f" along {index_col!r}" if index_col else "",
    )
    fingerprint: dict[str, Any] = {"source": where}
    fingerprint.update({"table": table} if table is not None else {"query": query})
    if rows is not None:
        fingerprint["rows"] = rows
    schema = SourceSchema(where=where, columns=columns, sample=sample)
    return SqlPlan(
        location=where,
        schemas=[schema],
        parts=parts,
        fingerprints=[fingerprint],
        index_col=index_col,
    )


def _parse_location(location: str, prefix: str) -> tuple[str, str | None, str | None, str | None]:
    """Split a location into the engine URL and the table, query and index column."""
    base, _, query_string = location.partition("?")
    params: dict[str, str] = {}
    match = re.search(r"(?:^|&)query=", query_string)
    if match is not None:
        sql = query_string[match.end() :]
        # An SQL query always has spaces; one without was percent-encoded.
        params["query"] = sql if " " in sql else unquote_plus(sql)
        query_string = query_string[: match.start()]
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        params[key] = value
    table = params.pop("table", None) or None
    query = (params.pop("query", None) or "").strip().rstrip(";").strip() or None
    index_col = params.pop("index_col", None) or None
    if (table is None) == (query is None):
        raise DataError(
            f"{prefix}: say what to read with exactly one of ?table=NAME or ?query=SELECT ... "
            "(query last)"
        )
    scheme, sep, rest = base.partition("://")
    if scheme.lower() == "postgres":
        scheme = "postgresql"
    if scheme.lower() == "postgresql" and importlib.util.find_spec("psycopg2") is None:
        scheme = "postgresql+psycopg"
    base = f"{scheme}{sep}{rest}"
    if params:
        base = f"{base}?{urlencode(params)}"
    from sqlalchemy.engine import make_url

    try:
        url = make_url(base)
    except Exception as exc:
        raise _failure(f"{prefix}: not a valid database URL", exc, base) from None
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:"):
            raise DataError(f"{prefix}: an in-memory SQLite database holds no data; name a file")
        if not database.startswith("file:") and not os.path.isfile(database):
            # SQLite would silently create an empty database: refuse instead.
            raise DataError(f"{prefix}: no such SQLite database file: {database}")
    return url.render_as_string(hide_password=False), table, query, index_col


def _engine(url: str, where: str, regime: str) -> Engine:
    """Create an engine without a pool: parts may run in any thread or process."""
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    try:
        return sa.create_engine(url, poolclass=NullPool)
    except Exception as exc:  # missing driver, bad options
        raise _failure(f"regime {regime!r}: cannot connect to {where}", exc, url) from None


def _source(table: str | None, query: str | None) -> Any:
    """Return a selectable for a table name (``schema.table`` allowed) or a query."""
    import sqlalchemy as sa

    if table is not None:
        schema, _, name = table.rpartition(".")
        return sa.table(name, schema=schema or None)
    return sa.text(f"({query}) AS {_SUBQUERY_ALIAS}")


def _check_table(
    connection: sa.Connection, table: str, index_col: str | None, prefix: str
) -> str | None:
    """Check the table exists and return its index column (given or primary key)."""
    import sqlalchemy as sa

    schema, _, name = table.rpartition(".")
    inspector = sa.inspect(connection)
    if not inspector.has_table(name, schema=schema or None):
        known = inspector.get_table_names(schema=schema or None)
        raise DataError(
            f"{prefix}: table {table!r} does not exist (tables: {', '.join(known) or 'none'})"
        )
    if index_col is not None:
        return index_col
    key = inspector.get_pk_constraint(name, schema=schema or None).get("constrained_columns") or []
    if len(key) != 1:
        return None
    types = {c["name"]: c["type"] for c in inspector.get_columns(name, schema=schema or None)}
    try:
        numeric = types[key[0]].python_type in (int, float)
    except (NotImplementedError, KeyError):
        numeric = False
    return key[0] if numeric else None


def _partition(
    connection: sa.Connection,
    sample: pd.DataFrame,
    url: str,
    where: str,
    regime: str,
    table: str | None,
    query: str | None,
    index_col: str,
) -> tuple[int, list[SqlPart]]:
    """Cut the index column's range into intervals sized by the estimated data volume."""
    import sqlalchemy as sa

    index = sa.column(index_col)
    count, low, high = connection.execute(
        sa.select(sa.func.count(), sa.func.min(index), sa.func.max(index)).select_from(
            _source(table, query)
        )
    ).one()
    common = {"url": url, "where": where, "regime": regime, "table": table, "query": query}
    if low is None or high is None or not count:
        return int(count or 0), [SqlPart(**common)]
    try:
        low, high = float(low), float(high)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"regime {regime!r}: {where}: index column {index_col!r} is not numeric; "
            "name a numeric column with ?index_col=NAME"
        ) from exc
    bytes_per_row = sample.memory_usage(deep=True).sum() / max(len(sample), 1)
    wanted = math.ceil(count * max(bytes_per_row, 1.0) / inspection.BLOCK_SIZE)
    integral = low.is_integer() and high.is_integer()
    span = high - low + 1 if integral else high - low
    npartitions = max(1, min(wanted, count, int(span) if integral else count))
    if npartitions == 1:
        return int(count), [SqlPart(**common)]
    if integral:
        cuts = np.unique(np.linspace(low, high + 1, npartitions + 1).round().astype(np.int64))
        edges: list[float | int] = [int(c) for c in cuts]
    else:
        edges = [float(e) for e in np.linspace(low, high, npartitions + 1)]
    parts = []
    for i in range(len(edges) - 1):
        last = i == len(edges) - 2
        parts.append(
            SqlPart(
                **common,
                index_col=index_col,
                lower=None if i == 0 else edges[i],
                upper=None if last else edges[i + 1],
                with_nulls=i == 0,
            )
        )
    return int(count), parts


def _failure(message: str, exc: BaseException, url: str) -> DataError:
    """Turn a driver error into a one-line DataError that cannot leak the password.

    The driver's whole message goes to the debug log, scrubbed; the error is
    raised ``from None`` by the callers because the original exception (say,
    SQLAlchemy's "Could not parse URL from string '...'") may quote the URL,
    and a traceback printed later would show it.
    """
    logger.debug("%s; the driver said: %s", message, _scrub(exc, url, whole=True))
    return DataError(f"{message}: {_scrub(exc, url)}")


def _scrub(exc: BaseException | str, url: str, *, whole: bool = False) -> str:
    """Return an error message (its first line unless ``whole``) without the password."""
    text = str(exc)
    line = text.strip() if whole else ""
    if not line:
        line = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(exc).__name__)
    from sqlalchemy.engine import make_url

    try:
        password = make_url(url).password
    except Exception:  # a URL too broken to parse: fall back to the textual redaction
        password = None
    line = line.replace(url, redact_url(url))
    if password:
        for secret in {str(password), unquote(str(password))}:
            if secret:
                line = line.replace(secret, "***")
    return line
