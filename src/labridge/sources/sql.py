"""Reading learners with a SQL query on the MIS database (``--sql "SELECT ..." --source-db URL``).

Any SQLAlchemy URL works; ``postgresql://`` (and ``postgres://``) go through psycopg 3, the
driver labridge ships with. The query's columns are named as labridge fields (or renamed by the
mapping's ``[columns]``, compared case-insensitively); other columns are ignored and named once
in a warning on the ``labridge.sources.sql`` logger.

labridge only reads the MIS: the query must be one ``SELECT`` (or ``WITH ... SELECT``) statement,
and it runs in a transaction that is always rolled back, marked read-only where the database
allows it (PostgreSQL ``SET TRANSACTION READ ONLY``, SQLite ``PRAGMA query_only``). The check of
the statement is a guard against mistakes, not a SQL parser: it looks at the first keyword and
refuses a second statement after a ``;`` (outside quotes and comments).

Values become text: ``NULL`` leaves the field out, dates are ISO ``YYYY-MM-DD`` (a timestamp
keeps its date), integral numbers have no decimals (a ULN stored as a float or a NUMERIC stays
``1000000043``, not ``1.000000043e9``). Results stream in batches, so big tables are fine.
Errors name the database URL with its password masked, and the driver's message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from ..dburl import parse_url, scrub
from ..errors import ConfigurationError
from .mapping import Mapping
from .records import SourceRecord, SourceRow

logger = logging.getLogger(__name__)

#: Rows fetched per round trip when streaming a result.
BATCH_SIZE = 500

_URL_EXAMPLES = "postgresql://user@host:5432/mis or sqlite:///path/to/mis.db"
_TOKENS = re.compile(
    r"""(?P<space>\s+)
      | (?P<comment>--[^\n]*|/\*.*?\*/)
      | (?P<quoted>'(?:[^']|'')*'|"(?:[^"]|"")*"|`[^`]*`)
      | (?P<semicolon>;)
      | (?P<word>\w+)
      | (?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)


def read_sql(query: str, url: str, mapping: Mapping | None = None) -> Iterator[SourceRow]:
    """Yield one :class:`SourceRecord` per row ``query`` returns on the database at ``url``.

    ``origin`` is ``"SQL row <n>"`` and ``row`` is ``n``, counting from 1 in the query's order.
    """
    mapping = mapping if mapping is not None else Mapping()
    statement = check_query(query)
    sa_url = parse_url(url, "the source database URL", _URL_EXAMPLES)
    engine = _engine(sa_url)
    try:
        yield from _rows(engine, statement, mapping)
    finally:
        engine.dispose()


def check_query(query: str) -> str:
    """``query`` without its trailing ``;``, or a :class:`ConfigurationError` when it is not a
    single ``SELECT``/``WITH`` statement."""
    tokens = [
        (m.lastgroup, m.group(), m.start())
        for m in _TOKENS.finditer(query)
        if m.lastgroup not in ("space", "comment")
    ]
    first_semicolon = next((at for kind, _, at in tokens if kind == "semicolon"), len(query))
    while tokens and tokens[-1][0] == "semicolon":
        tokens.pop()
    hint = 'give one read-only query, e.g. --sql "SELECT learner_id, forename, ... FROM learners"'
    if not tokens or tokens[0][0] != "word" or tokens[0][1].casefold() not in ("select", "with"):
        shown = tokens[0][1] if tokens else "nothing"
        raise ConfigurationError(
            f"the source query must start with SELECT or WITH, not {shown!r}", hint=hint
        )
    if any(kind == "semicolon" for kind, _, _ in tokens):
        raise ConfigurationError("the source query holds more than one statement", hint=hint)
    return query[:first_semicolon]


def _engine(url: URL) -> Engine:
    shown = url.render_as_string(hide_password=True)
    _check_sqlite_file(url)
    try:
        # NullPool: the connection (and SQLite's query_only flag) ends with the read.
        return create_engine(url, poolclass=NullPool)
    except (ArgumentError, ImportError) as exc:
        raise ConfigurationError(
            f"cannot use the source database URL {shown}: {scrub(exc, url)}",
            hint=f"give a URL such as {_URL_EXAMPLES}",
        ) from None


def _check_sqlite_file(url: URL) -> None:
    """SQLite would create a missing file and then report "no such table": say what is wrong."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return
    if not database.startswith("file:") and not Path(database).is_file():
        raise ConfigurationError(
            f"there is no SQLite database at {database}", hint="check the --source-db URL"
        )


def _rows(engine: Engine, statement: str, mapping: Mapping) -> Iterator[SourceRow]:
    shown = engine.url.render_as_string(hide_password=True)
    try:
        connection = engine.connect()
    except SQLAlchemyError as exc:
        raise ConfigurationError(
            f"cannot connect to the source database at {shown}: {scrub(exc, engine.url)}",
            hint="check that the server is running and the URL's host, port, user, password "
            "and database name",
        ) from None
    with connection:
        transaction = connection.begin()
        try:
            yield from _query(connection, statement, mapping)
        except SQLAlchemyError as exc:
            raise ConfigurationError(
                f"the source query failed on {shown}: {scrub(exc, engine.url)}",
                hint="check the query's SQL, table and column names",
            ) from None
        finally:
            transaction.rollback()


def _query(connection: Connection, statement: str, mapping: Mapping) -> Iterator[SourceRow]:
    _read_only(connection)
    # no_parameters: the text goes to the driver as written, so ':' and '%' need no escaping.
    result = connection.execution_options(yield_per=BATCH_SIZE, no_parameters=True).exec_driver_sql(
        statement
    )
    try:  # closed however the read ends: PostgreSQL holds a server-side cursor open
        columns = _columns(list(result.keys()), mapping)
        for number, values in enumerate(result, 1):
            fields = {
                field: text
                for field, value in zip(columns, values, strict=True)
                if field is not None and (text := to_text(value)) is not None
            }
            yield SourceRecord(number, f"SQL row {number}", mapping.apply(fields))
    finally:
        result.close()


def _read_only(connection: Connection) -> None:
    """Belt and braces beside the rollback, where the database has a switch for it."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")
    elif dialect == "sqlite":
        connection.exec_driver_sql("PRAGMA query_only = ON")


def _columns(names: Sequence[str], mapping: Mapping) -> list[str | None]:
    columns = [mapping.rename(name) for name in names]
    known = [c for c in columns if c is not None]
    if not known:
        raise ConfigurationError(
            f"the source query returns none of the expected columns (it returns {list(names)})",
            hint="name the columns (SELECT ... AS forename) "
            + ", ".join(mapping.expected_columns()),
        )
    duplicates = sorted({c for c in known if known.count(c) > 1})
    if duplicates:
        raise ConfigurationError(
            f"the source query returns more than one column for {', '.join(duplicates)}",
            hint="return each field once",
        )
    unknown = [n for n, c in zip(names, columns, strict=True) if c is None]
    if unknown:
        logger.warning("source query: ignoring column(s) %s: not labridge fields", unknown)
    return columns


def to_text(value: object) -> str | None:
    """A database value as labridge text; ``None`` for SQL ``NULL``."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal) and value.is_finite():
        if value == value.to_integral_value():
            return str(int(value))
        return format(value.normalize(), "f")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace").strip()
    return str(value).strip()
