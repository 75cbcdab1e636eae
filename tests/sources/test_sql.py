"""The SQL reader, on real SQLite and PostgreSQL databases."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Generator, Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from labridge.errors import ConfigurationError
from labridge.sources import SourceRecord, read_sql
from labridge.sources.mapping import parse_mapping
from labridge.sources.sql import check_query, to_text

METADATA = sa.MetaData()
LEARNERS = sa.Table(
    "mis_learners",
    METADATA,
    sa.Column("learner_ref", sa.String(12), primary_key=True),
    sa.Column("forename", sa.String(50)),
    sa.Column("surname", sa.String(50)),
    sa.Column("dob", sa.Date),
    sa.Column("uln_int", sa.BigInteger),
    sa.Column("uln_float", sa.Float),
    sa.Column("uln_numeric", sa.Numeric(12, 0)),
    sa.Column("fee", sa.Numeric(8, 2)),
    sa.Column("ni_number", sa.String(9), nullable=True),
    sa.Column("notes", sa.Text),
)
ROWS = [
    {
        "learner_ref": "MIS-0001",
        "forename": "  Chloe ",
        "surname": "Hartley",
        "dob": date(2005, 3, 14),
        "uln_int": 1000000043,
        "uln_float": 1000000043.0,
        "uln_numeric": Decimal("9276308686"),
        "fee": Decimal("12.50"),
        "ni_number": None,
        "notes": "first",
    },
    {
        "learner_ref": "MIS-0002",
        "forename": "Ben",
        "surname": "Patel",
        "dob": date(1989, 5, 23),
        "uln_int": 9999999999,
        "uln_float": 1061485810.0,
        "uln_numeric": Decimal("1061486949"),
        "fee": Decimal("100.00"),
        "ni_number": "QQ123456C",
        "notes": "",
    },
]
SELECT = (
    "SELECT learner_ref AS learner_id, forename, surname, dob AS birth_date, uln_int AS uln, "
    "uln_float AS employee_reference, uln_numeric AS awarding_body_registration_no, "
    "fee AS job_title, ni_number FROM mis_learners ORDER BY learner_ref"
)


#: For tests about PostgreSQL alone: the conftest fixture, with only its PostgreSQL database.
POSTGRESQL_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def mis_url(database_url: str) -> str:
    """A database holding the MIS table and its rows."""
    engine = sa.create_engine(database_url, poolclass=NullPool)
    try:
        METADATA.create_all(engine)
        with engine.begin() as connection:
            connection.execute(LEARNERS.insert(), ROWS)
    finally:
        engine.dispose()
    return database_url


def count_rows(url: str) -> int:
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(sa.text("SELECT count(*) FROM mis_learners")).scalar_one()
            )
    finally:
        engine.dispose()


def read(query: str, url: str, mapping: Mapping[str, object] | None = None) -> list[SourceRecord]:
    rows = list(read_sql(query, url, parse_mapping(dict(mapping or {}))))
    assert all(isinstance(r, SourceRecord) for r in rows)
    return [r for r in rows if isinstance(r, SourceRecord)]


def test_values_become_labridge_text(mis_url: str) -> None:
    first, second = read(SELECT, mis_url)
    assert (first.row, first.origin) == (1, "SQL row 1")
    assert (second.row, second.origin) == (2, "SQL row 2")
    assert first.fields == {
        "learner_id": "MIS-0001",
        "forename": "Chloe",
        "surname": "Hartley",
        "birth_date": "2005-03-14",
        "uln": "1000000043",
        "employee_reference": "1000000043",
        "awarding_body_registration_no": "9276308686",
        "job_title": "12.5",
    }
    assert "ni_number" not in first.fields  # NULL: absent
    assert second.fields["uln"] == "9999999999"
    assert second.fields["employee_reference"] == "1061485810"
    assert second.fields["job_title"] == "100"
    assert second.fields["ni_number"] == "QQ123456C"


@POSTGRESQL_ONLY
def test_a_postgresql_url_is_read_through_psycopg(mis_url: str) -> None:
    url = sa.make_url(mis_url)
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    assert plain.startswith("postgresql://")
    assert len(read(SELECT, plain)) == 2


@POSTGRESQL_ONLY  # SQLite has no timestamp type: its dates are text, read as they are
def test_timestamps_keep_their_date(mis_url: str) -> None:
    query = "SELECT 'L1' AS learner_id, TIMESTAMP '2025-09-01 08:30:00' AS start_date"
    (record,) = read(query, mis_url)
    assert record.fields["start_date"] == "2025-09-01"


def test_colons_and_percent_signs_reach_the_database_as_written(mis_url: str) -> None:
    query = (
        "SELECT learner_ref AS learner_id, '10:30' AS job_title, 'a%b' AS department "
        "FROM mis_learners WHERE learner_ref LIKE 'MIS-%1' AND learner_ref <> ':x'"
    )
    (record,) = read(query, mis_url)
    assert record.fields == {"learner_id": "MIS-0001", "job_title": "10:30", "department": "a%b"}


def test_columns_are_renamed_by_the_mapping(mis_url: str) -> None:
    mapping = {"columns": {"Learner Ref": "learner_id", "DOB": "birth_date"}}
    query = 'SELECT learner_ref AS "Learner Ref", dob AS "DOB" FROM mis_learners ORDER BY 1'
    first, _ = read(query, mis_url, mapping)
    assert first.fields == {"learner_id": "MIS-0001", "birth_date": "2005-03-14"}


def test_the_mapping_fills_gaps(mis_url: str) -> None:
    mapping = {"defaults": {"ni_number": "not given", "course": "BA"}}
    first, second = read(SELECT, mis_url, mapping)
    assert first.fields["ni_number"] == "not given"
    assert second.fields["ni_number"] == "QQ123456C"
    assert first.fields["course"] == "BA"


def test_unknown_columns_are_named_in_a_warning(
    mis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="labridge.sources.sql"):
        records = read("SELECT learner_ref AS learner_id, notes FROM mis_learners", mis_url)
    assert [r.fields for r in records] == [{"learner_id": "MIS-0001"}, {"learner_id": "MIS-0002"}]
    (warning,) = [r for r in caplog.records if "ignoring column" in r.getMessage()]
    assert "'notes'" in warning.getMessage()


def test_a_query_with_no_known_column_is_refused(mis_url: str) -> None:
    with pytest.raises(ConfigurationError, match="returns none of the expected columns"):
        read("SELECT notes FROM mis_learners", mis_url)


def test_two_columns_for_one_field_are_refused(mis_url: str) -> None:
    with pytest.raises(ConfigurationError, match="more than one column for learner_id"):
        read("SELECT learner_ref AS learner_id, notes AS LEARNER_ID FROM mis_learners", mis_url)


def test_big_results_stream(mis_url: str) -> None:
    engine = sa.create_engine(mis_url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(
            LEARNERS.insert(), [{"learner_ref": f"B{n:05d}", "forename": "X"} for n in range(2500)]
        )
    engine.dispose()
    rows = read_sql("SELECT learner_ref AS learner_id FROM mis_learners ORDER BY 1", mis_url)
    first = next(rows)
    assert first.source_id == "B00000"
    assert sum(1 for _ in rows) == 2501
    # A read stopped early closes its cursor and connection (no ResourceWarning, an error here).
    again = read_sql("SELECT learner_ref AS learner_id FROM mis_learners", mis_url)
    next(again)
    assert isinstance(again, Generator)  # what read_sql returns: a generator, so it closes
    again.close()


def test_the_query_cannot_write(mis_url: str) -> None:
    if sa.make_url(mis_url).get_backend_name() == "postgresql":
        query = "WITH gone AS (DELETE FROM mis_learners RETURNING learner_ref) SELECT * FROM gone"
    else:
        query = "WITH x AS (SELECT 1) DELETE FROM mis_learners"
    with pytest.raises(ConfigurationError, match="the source query failed"):
        read(query, mis_url)
    assert count_rows(mis_url) == 2


def test_an_sql_error_names_the_database_and_the_drivers_message(mis_url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        read("SELECT learner_id FROM no_such_table", mis_url)
    message = str(caught.value)
    assert "the source query failed on" in message
    assert "no_such_table" in message


# --- the statement check ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "kept"),
    [
        ("SELECT 1 AS learner_id", "SELECT 1 AS learner_id"),
        ("  select 1;  ", "  select 1"),
        ("-- learners\n/* all */ SELECT 1; -- done\n", "-- learners\n/* all */ SELECT 1"),
        ("WITH x AS (SELECT 1 AS a) SELECT a FROM x", "WITH x AS (SELECT 1 AS a) SELECT a FROM x"),
        ("SELECT ';' AS learner_id, 'a'';b' AS x", "SELECT ';' AS learner_id, 'a'';b' AS x"),
        ('SELECT 1 AS "odd;name"', 'SELECT 1 AS "odd;name"'),
    ],
)
def test_single_select_statements_are_accepted(query: str, kept: str) -> None:
    assert check_query(query) == kept


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("DELETE FROM mis_learners", "must start with SELECT or WITH, not 'DELETE'"),
        ("update mis_learners set forename = 'x'", "not 'update'"),
        ("  -- nothing\n", "not 'nothing'"),
        ("(SELECT 1)", "not '('"),
        ("SELECT 1; DROP TABLE mis_learners", "more than one statement"),
        ("SELECT 1; SELECT 2;", "more than one statement"),
    ],
)
def test_other_statements_are_refused(query: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem.replace("(", r"\(")):
        check_query(query)


def test_a_refused_statement_never_reaches_the_database(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="must start with SELECT"):
        list(read_sql("DROP TABLE x", f"sqlite:///{tmp_path}/absent.db"))
    assert not (tmp_path / "absent.db").exists()


# --- bad URLs and unreachable databases; passwords never shown -------------------------------


def test_a_url_that_is_not_a_url_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="is not a database URL"):
        list(read_sql("SELECT 1", "not a url at all"))


def test_an_unknown_database_kind_is_refused_with_the_password_masked() -> None:
    with pytest.raises(ConfigurationError) as caught:
        list(read_sql("SELECT 1", "nosuchdb://mis:s3cret-pw@host/db"))
    message = str(caught.value)
    assert "cannot use the source database URL nosuchdb://mis:***@host/db" in message
    assert "s3cret" not in message


def test_a_missing_sqlite_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="there is no SQLite database at"):
        list(read_sql("SELECT 1", f"sqlite:///{tmp_path}/missing.db"))
    assert not (tmp_path / "missing.db").exists()


def test_an_unreachable_server_is_refused_with_the_password_masked() -> None:
    url = "postgresql://mis:s3cret-pw@127.0.0.1:1/mis"
    with pytest.raises(ConfigurationError) as caught:
        list(read_sql("SELECT 1", url))
    message = str(caught.value)
    assert (
        "cannot connect to the source database at postgresql+psycopg://mis:***@127.0.0.1:1/mis"
        in (message)
    )
    assert "s3cret" not in message


@POSTGRESQL_ONLY
def test_a_wrong_database_is_refused_with_the_password_masked(database_url: str) -> None:
    url = sa.make_url(database_url)
    wrong = url.set(password="s3cret-pw", database="no_such_database_here")
    with pytest.raises(ConfigurationError) as caught:
        list(read_sql("SELECT 1", wrong.render_as_string(hide_password=False)))
    message = str(caught.value)
    assert ":***@" in message
    assert "no_such_database_here" in message
    assert "s3cret" not in message


# --- conversions, value by value -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        ("  x ", "x"),
        ("", ""),
        (1000000043, "1000000043"),
        (1.0e9, "1000000000"),
        (9276308686.0, "9276308686"),
        (12.5, "12.5"),
        (Decimal("1.000000043E+9"), "1000000043"),
        (Decimal("12.50"), "12.5"),
        (Decimal("0.000001"), "0.000001"),
        (date(2025, 9, 1), "2025-09-01"),
        (datetime(2025, 9, 1, 23, 59), "2025-09-01"),
        (b"caf\xc3\xa9", "café"),
        (True, "True"),
    ],
)
def test_to_text(value: object, text: str | None) -> None:
    assert to_text(value) == text


# -- read-only and bounded (the MIS is the provider's; labridge must never hurt it) --------------


@POSTGRESQL_ONLY
def test_a_query_that_hangs_is_cancelled_on_postgresql(mis_url: str) -> None:
    started = time.monotonic()
    with pytest.raises(ConfigurationError, match=r"ran longer than its limit of 0\.5 s") as caught:
        list(read_sql("SELECT pg_sleep(100) AS learner_id", mis_url, timeout=0.5))
    assert time.monotonic() - started < 30  # cancelled, not waited out
    assert "statement_timeout" in str(caught.value)


@SQLITE_ONLY
def test_a_runaway_query_is_interrupted_on_sqlite(mis_url: str) -> None:
    runaway = (
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) "
        "SELECT count(*) AS learner_id FROM n"
    )
    with pytest.raises(ConfigurationError, match=r"ran longer than its limit of 0\.5 s"):
        list(read_sql(runaway, mis_url, timeout=0.5))


def test_a_slow_consumer_is_not_the_querys_fault(mis_url: str) -> None:
    """The limit is on producing each row: time spent by the caller between rows never counts."""
    rows = read_sql("SELECT learner_ref AS learner_id FROM mis_learners", mis_url, timeout=0.2)
    first = next(rows)
    assert isinstance(first, SourceRecord)
    time.sleep(0.4)
    assert [first.fields, *(r.fields for r in rows if isinstance(r, SourceRecord))] == [
        {"learner_id": "MIS-0001"},
        {"learner_id": "MIS-0002"},
    ]


@POSTGRESQL_ONLY
def test_the_postgresql_session_is_read_only(mis_url: str) -> None:
    (record,) = read("SELECT current_setting('default_transaction_read_only') AS learner_id",
                     mis_url)  # fmt: skip
    assert record.fields["learner_id"] == "on"


@POSTGRESQL_ONLY
def test_a_role_that_can_write_is_warned_about(
    mis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """dblink_exec opens a session of its own, past any read-only guard: labridge cannot stop it,
    so it says, before running the query, that the role it was given could do such damage."""
    _admin_execute(mis_url, "CREATE EXTENSION IF NOT EXISTS dblink")
    target = sa.make_url(mis_url)
    dsn = f"host={target.host} port={target.port} dbname={target.database} user={target.username}"
    escape = f"SELECT dblink_exec('{dsn}', 'DELETE FROM mis_learners') AS learner_id"
    with caplog.at_level(logging.WARNING, logger="labridge.sources.sql"):
        read(escape, mis_url)
    (warning,) = [r for r in caplog.records if "may write" in r.getMessage()]
    assert "public.mis_learners" in warning.getMessage()
    assert "SELECT rights only" in warning.getMessage()
    assert count_rows(mis_url) == 0  # the reason for the warning: it did write


@POSTGRESQL_ONLY
def test_a_select_only_role_reads_without_a_warning(
    mis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    role = f"labridge_ro_{uuid.uuid4().hex[:12]}"
    _admin_execute(mis_url, f"CREATE ROLE {role} LOGIN", f"GRANT SELECT ON mis_learners TO {role}")
    try:
        url = sa.make_url(mis_url).set(username=role).render_as_string(hide_password=False)
        with caplog.at_level(logging.WARNING, logger="labridge.sources.sql"):
            records = read(SELECT, url)
        assert len(records) == 2
        assert not [r for r in caplog.records if "may write" in r.getMessage()]
    finally:
        _admin_execute(mis_url, f"REVOKE ALL ON mis_learners FROM {role}", f"DROP ROLE {role}")


def _admin_execute(url: str, *statements: str) -> None:
    engine = sa.create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
    finally:
        engine.dispose()
