"""Reading learners with a SQL query on the MIS database (``--sql "SELECT ..." --source-db URL``).

Any SQLAlchemy URL works; ``postgresql://`` (and ``postgres://``) go through psycopg 3, the
driver labridge ships with. The query's columns are named as labridge fields (or renamed by the
mapping's ``[columns]``, compared case-insensitively); other columns are ignored and named once
in a warning on the ``labridge.sources.sql`` logger.

labridge only reads the MIS: the query must be one ``SELECT`` (or ``WITH ... SELECT``) statement,
and it runs in a transaction that is always rolled back, marked read-only where the database
allows it (PostgreSQL: the whole session is read-only, ``default_transaction_read_only``; SQLite
``PRAGMA query_only``). The check of the statement is a guard against mistakes, not a SQL parser:
it looks at the first keyword and refuses a second statement after a ``;`` (outside quotes and
comments). No guard inside one session stops a function that opens a session of its own
(PostgreSQL's ``dblink_exec``), so on PostgreSQL labridge also asks the server whether the role it
connected as may write to any table (``has_table_privilege``) and warns when it may: the real
protection is a role with SELECT rights only.

Every statement has a time limit (``timeout`` seconds, default 60): PostgreSQL's
``statement_timeout``; on SQLite, which has none, a progress handler that interrupts a statement
still producing its next row after that long. A query that hangs (``pg_sleep(100)``, a runaway
join) fails with a message naming the limit instead of holding the run.

Values become text: ``NULL`` leaves the field out, dates are ISO ``YYYY-MM-DD`` (a timestamp
keeps its date), integral numbers have no decimals (a ULN stored as a float or a NUMERIC stays
``1000000043``, not ``1.000000043e9``). Results stream in batches, so big tables are fine.
Errors name the database URL with its password masked, and the driver's message.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from ..dburl import parse_url, scrub, sqlite_file
from ..errors import ConfigurationError
from .mapping import SourceMapping
from .records import SourceRecord, SourceRow

logger = logging.getLogger(__name__)

#: Rows fetched per round trip when streaming a result.
BATCH_SIZE = 500
#: Seconds a statement may run before it is cancelled (``[source] statement_timeout``).
DEFAULT_TIMEOUT = 60.0
#: SQLite virtual-machine steps between two looks at the clock.
_SQLITE_CHECK_EVERY = 10_000
#: Tables named in the warning about a role that can write.
_SHOWN_TABLES = 3

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


def read_sql(
    query: str, url: str, mapping: SourceMapping | None = None, *, timeout: float = DEFAULT_TIMEOUT
) -> Iterator[SourceRow]:
    """Yield one :class:`SourceRecord` per row ``query`` returns on the database at ``url``.

    ``origin`` is ``"SQL row <n>"`` and ``row`` is ``n``, counting from 1 in the query's order.
    A statement running longer than ``timeout`` seconds is cancelled.
    """
    mapping = mapping if mapping is not None else SourceMapping()
    statement = check_query(query)
    if timeout <= 0:
        raise ConfigurationError(f"the source query's time limit must be positive, not {timeout}")
    sa_url = parse_url(url, "the source database URL", _URL_EXAMPLES)
    engine = _engine(sa_url)
    try:
        yield from _rows(engine, statement, mapping, timeout)
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
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        raise ConfigurationError(
            f"there is no SQLite database at {url.database}", hint="check the --source-db URL"
        )


def _rows(
    engine: Engine, statement: str, mapping: SourceMapping, timeout: float
) -> Iterator[SourceRow]:
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
        limit = _Limit(timeout)
        try:
            _guard(connection, limit)
            transaction = connection.begin()
        except SQLAlchemyError as exc:
            raise ConfigurationError(
                f"cannot prepare a read-only session on {shown}: {scrub(exc, engine.url)}"
            ) from None
        try:
            yield from _query(connection, statement, mapping, limit)
        except SQLAlchemyError as exc:
            raise _failure(exc, engine, limit) from None
        finally:
            transaction.rollback()


def _failure(exc: SQLAlchemyError, engine: Engine, limit: _Limit) -> ConfigurationError:
    shown = engine.url.render_as_string(hide_password=True)
    if limit.expired or _cancelled_for_time(exc):
        return ConfigurationError(
            f"the source query on {shown} ran longer than its limit of {limit.seconds:g} s and "
            "was cancelled",
            hint="make the query faster (an index, fewer joins), or raise [source] "
            "statement_timeout in labridge.toml",
        )
    return ConfigurationError(
        f"the source query failed on {shown}: {scrub(exc, engine.url)}",
        hint="check the query's SQL, table and column names",
    )


def _cancelled_for_time(exc: SQLAlchemyError) -> bool:
    # PostgreSQL's SQLSTATE 57014, query_canceled: what statement_timeout raises.
    return getattr(getattr(exc, "orig", None), "sqlstate", None) == "57014"


def _query(
    connection: Connection, statement: str, mapping: SourceMapping, limit: _Limit
) -> Iterator[SourceRow]:
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
            limit.restart()  # the limit is on producing a row, not on what we do with it
    finally:
        result.close()


class _Limit:
    """The time a statement may take to produce its next row, for SQLite's progress handler."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self.restart()

    def restart(self) -> None:
        self._deadline = time.monotonic() + self.seconds

    def interrupt(self) -> int:
        """SQLite's progress handler: a non-zero answer interrupts the statement."""
        if time.monotonic() > self._deadline:
            self.expired = True
            return 1
        return 0


def _guard(connection: Connection, limit: _Limit) -> None:
    """Read-only and time-limited, where the database has a switch for it; belt and braces
    beside the rollback."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.exec_driver_sql("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        connection.exec_driver_sql(f"SET statement_timeout = {int(limit.seconds * 1000)}")
        _warn_if_role_can_write(connection)
    elif dialect == "sqlite":
        connection.exec_driver_sql("PRAGMA query_only = ON")
        raw: Any = connection.connection.driver_connection
        raw.set_progress_handler(limit.interrupt, _SQLITE_CHECK_EVERY)
    if connection.in_transaction():
        connection.commit()  # the settings hold for the session; the read has its own transaction


_WRITABLE_TABLES = """
SELECT table_schema || '.' || table_name FROM information_schema.tables
WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
  AND (has_table_privilege(quote_ident(table_schema) || '.' || quote_ident(table_name), 'INSERT')
    OR has_table_privilege(quote_ident(table_schema) || '.' || quote_ident(table_name), 'UPDATE')
    OR has_table_privilege(quote_ident(table_schema) || '.' || quote_ident(table_name), 'DELETE')
    OR has_table_privilege(quote_ident(table_schema) || '.' || quote_ident(table_name), 'TRUNCATE'))
ORDER BY 1
"""


def _warn_if_role_can_write(connection: Connection) -> None:
    """A read-only session does not stop ``dblink_exec`` and its like, which open a session of
    their own: say so when the role could do damage that way."""
    writable = [row[0] for row in connection.exec_driver_sql(_WRITABLE_TABLES)]
    if not writable:
        return
    shown = ", ".join(writable[:_SHOWN_TABLES]) + (" ..." if len(writable) > _SHOWN_TABLES else "")
    logger.warning(
        "the source database role may write to %d table(s) (%s): labridge only reads, but "
        "connect it as a role with SELECT rights only (see the README, 'SQL source')",
        len(writable),
        shown,
    )


def _columns(names: Sequence[str], mapping: SourceMapping) -> list[str | None]:
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
