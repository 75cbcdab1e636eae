"""No traceback reaches a user (issue 9, point 7): every failure below is a labridge error with
its documented exit code (2 configuration or store, 3 LA, 70 internal, 130 interrupted), a
message naming what failed and a "what to do" line. Real stores (SQLite files, PostgreSQL), a
real sandbox behind a loopback proxy, the real CLI in-process or as a process of its own."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import typer
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner, Result

from alteredla import altered_la, drop_member
from labridge.cli import app, options, shell
from labridge.sandbox.server import RunningSandbox
from labridge.store import engine
from labridge.store.engine import open_store

from .clienv import PASSWORD


def run(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, args, env=env or {})


def assert_clean_failure(result: Result, code: int, *names: str) -> None:
    """Exit ``code``, an ``error:`` line naming each of ``names``, a "what to do" line, and no
    exception let through (CliRunner keeps one in ``result.exception``)."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    text = " ".join(result.stderr.split())  # rich wraps long lines
    assert "error:" in text, text
    assert "what to do:" in text, text
    squeezed = "".join(text.split())  # rich also breaks a long path anywhere
    for name in names:
        assert "".join(name.split()) in squeezed, text
    assert "Traceback" not in result.output


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray labridge.toml or labridge.db
    for key in ("LABRIDGE_URL", "LABRIDGE_USERNAME", "LABRIDGE_PASSWORD", "LABRIDGE_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    return tmp_path


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database holding a store at the newest schema."""
    from conftest import _postgres_database

    for url in _postgres_database():
        open_store(url).close()
        yield url


@pytest.fixture
def short_lock_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """The store waits a second for a lock, not a minute."""
    monkeypatch.setattr(engine, "SQLITE_BUSY_SECONDS", 1)


# --- LA's answers ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_an_answer_missing_a_required_member_names_operation_and_member(
    shared_sandbox: RunningSandbox, in_tmp: Path
) -> None:
    with altered_la(shared_sandbox.url, drop_member("GetTrainers", "TrainerUUID")) as url:
        env = {
            **os.environ, "LABRIDGE_URL": url, "LABRIDGE_USERNAME": "ws-user",
            "LABRIDGE_PASSWORD": PASSWORD, "LABRIDGE_DATABASE_URL": f"sqlite:///{in_tmp}/s.db",
        }  # fmt: skip
        proc = subprocess.run(
            [sys.executable, "-m", "labridge", "sync"],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    err = " ".join(proc.stderr.split())
    assert proc.returncode == shell.EXIT_LA, proc.stderr
    assert "GetTrainers" in err
    assert "TrainerUUID" in err
    assert "what to do:" in err
    assert "Traceback" not in proc.stderr + proc.stdout


# --- the store ------------------------------------------------------------------------------------


def _hold_sqlite_lock(path: Path) -> subprocess.Popen[str]:
    """Another process holding BEGIN EXCLUSIVE on the SQLite file until it is killed."""
    code = (
        "import sqlite3, sys, time\n"
        f"c = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
        "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(120)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_sqlite_store_locked_by_another_process(in_tmp: Path, short_lock_wait: None) -> None:
    path = in_tmp / "store.db"
    open_store(f"sqlite:///{path}").close()
    holder = _hold_sqlite_lock(path)
    try:
        # A store at the newest schema is only read to open it: status still answers.
        looked = run(["status", "--db", str(path)])
        result = run(["forget", "MIS-1", "--db", str(path)])  # a write must wait, then fail
    finally:
        holder.kill()
        holder.communicate()
    assert looked.exit_code == 0, looked.output
    assert_clean_failure(result, shell.EXIT_CONFIG, str(path), "locked by another program")


def _pg_engine(url: str) -> sa.Engine:
    return sa.create_engine(url, poolclass=NullPool)


def test_a_postgresql_store_whose_write_lock_is_held(pg_url: str, short_lock_wait: None) -> None:
    url = pg_url
    holder = _pg_engine(url)
    with holder.connect() as conn:
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({engine.PG_WRITE_LOCK})")
        looked = run(["status", "--db", url])  # reading needs no write lock
        result = run(["forget", "MIS-1", "--db", url])
        conn.rollback()
    holder.dispose()
    assert looked.exit_code == 0, looked.output
    assert_clean_failure(result, shell.EXIT_CONFIG, "locked by another program")


def test_a_postgresql_table_locked_in_the_middle_of_a_command(
    pg_url: str, short_lock_wait: None
) -> None:
    """The store opens, then the read meets a lock: a store error, not a SQLAlchemy traceback."""
    url = pg_url
    holder = _pg_engine(url)
    with holder.connect() as conn:
        conn.exec_driver_sql("LOCK TABLE enrolments IN ACCESS EXCLUSIVE MODE")
        result = run(["enrolments", "--db", url])
        conn.rollback()
    holder.dispose()
    assert_clean_failure(result, shell.EXIT_CONFIG, "locked by another program")


@pytest.mark.slow
def test_ctrl_c_while_waiting_for_a_lock_exits_without_a_traceback(pg_url: str) -> None:
    """Ctrl+C while a command waits on a PostgreSQL lock: "interrupted", exit 130. Under a heavy
    load the interrupt was seen to go unanswered until the store's lock wait (60 s) ran out
    instead; that ending must be clean too: the locked-store error, exit 2."""
    url = pg_url
    holder = _pg_engine(url)
    with holder.connect() as conn:
        conn.exec_driver_sql("LOCK TABLE enrolments IN ACCESS EXCLUSIVE MODE")
        proc = subprocess.Popen(
            [sys.executable, "-m", "labridge", "enrolments", "--db", url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        _wait_until_blocked(holder, proc)
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=engine.SQLITE_BUSY_SECONDS + 30)
        except subprocess.TimeoutExpired:
            proc.kill()  # leave no process (nor its pipes) to the tests after this one
            proc.communicate()
            raise
        finally:
            conn.rollback()
    holder.dispose()
    assert (proc.returncode, "interrupted" in err) in ((130, True), (shell.EXIT_CONFIG, False)), err
    if proc.returncode == shell.EXIT_CONFIG:
        assert "locked by another program" in " ".join(err.split())
    assert "Traceback" not in out + err


def _wait_until_blocked(admin: sa.Engine, proc: subprocess.Popen[str]) -> None:
    """Until another session waits on a lock (the command, its store open, reading)."""
    deadline = time.monotonic() + 60
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND datname = current_database()"
    )  # this test's database: no other's
    while time.monotonic() < deadline and proc.poll() is None:
        with admin.connect() as probe:
            if probe.exec_driver_sql(query).scalar():
                return
        time.sleep(0.2)
    raise AssertionError("the command never waited on the lock")


def test_a_store_that_lost_its_tables_mid_command(in_tmp: Path) -> None:
    """A SQLite file at the newest schema whose tables went (deleted and recreated by another
    program): the command's read fails after the store opened."""
    path = in_tmp / "store.db"
    open_store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE enrolment_events")
        conn.execute("DROP TABLE enrolments")
    result = run(["enrolments", "--db", str(path)])
    assert_clean_failure(result, shell.EXIT_CONFIG, "lost its tables")


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda p: p.write_bytes(os.urandom(4096)), "not a SQLite database"),
        (lambda p: p.write_text("learner_id,forename\n" * 200), "not a SQLite database"),
        (lambda p: p.mkdir(), "is a directory"),
    ],
    ids=["binary", "text", "directory"],
)
def test_a_store_path_that_is_not_a_store(in_tmp: Path, make: object, says: str) -> None:
    path = in_tmp / "store.db"
    make(path)  # type: ignore[operator]
    result = run(["status", "--db", str(path)])
    assert_clean_failure(result, shell.EXIT_CONFIG, "store.db", says)


def test_a_store_in_a_missing_directory(in_tmp: Path) -> None:
    path = in_tmp / "no-such-dir" / "store.db"
    result = run(["status", "--db", str(path)])
    assert_clean_failure(result, shell.EXIT_CONFIG, "no-such-dir")


@pytest.mark.parametrize("url", ["foo://bar/x", "mysql://u@h/d", "postgresql+nosuch://u@h/d"])
def test_a_store_url_of_an_unknown_scheme(in_tmp: Path, url: str) -> None:
    assert_clean_failure(run(["status", "--db", url]), shell.EXIT_CONFIG)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes any file")
def test_an_unreadable_store(in_tmp: Path) -> None:
    path = in_tmp / "store.db"
    open_store(f"sqlite:///{path}").close()
    path.chmod(0)
    try:
        assert_clean_failure(run(["status", "--db", str(path)]), shell.EXIT_CONFIG, "store.db")
    finally:
        path.chmod(0o600)


# --- files labridge writes ------------------------------------------------------------------------


def _bad_paths(tmp: Path) -> dict[str, Path]:
    (tmp / "a-directory").mkdir(exist_ok=True)
    return {
        "missing-directory": tmp / "no-such-dir" / "out.csv",
        "directory": tmp / "a-directory",
        "full-disk": Path("/dev/full"),
    }


@pytest.mark.parametrize("kind", ["missing-directory", "directory", "full-disk"])
@pytest.mark.parametrize(
    "command",
    [
        ["enrolments", "--csv"],
        ["progress", "report", "--output"],
        ["progress", "report", "--format", "csv", "--output"],
    ],
    ids=["enrolments-csv", "report-html", "report-csv"],
)
def test_writing_to_a_bad_path(in_tmp: Path, command: list[str], kind: str) -> None:
    store = in_tmp / "store.db"
    open_store(f"sqlite:///{store}").close()
    target = _bad_paths(in_tmp)[kind]
    result = run([*command, str(target), "--db", str(store)])
    assert_clean_failure(result, shell.EXIT_CONFIG, str(target))


# --- settings and mapping files -------------------------------------------------------------------

DEEP = "[columns]\nx = " + "[" * 100_000 + "]" * 100_000 + "\n"
DEEP_TABLES = "[columns]\nx = " + "{a=" * 5_000 + "1" + "}" * 5_000 + "\n"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (DEEP, "nested too deeply"),
        (DEEP_TABLES, "nested too deeply"),
        ("this is not toml\n", "not valid TOML"),
        ("[columns]\nx = {a = 'Canary Lane'}\n", "must be a text value, not a table"),
        ("[by_course.x]\nforename = [1, 2]\n", "must be a text value, not an array"),
        ("values = 3\n", "must be a table"),
    ],
    ids=["deep-arrays", "deep-tables", "not-toml", "table-for-text", "array-for-text", "scalar"],
)
def test_a_malformed_mapping_names_the_file(
    shared_sandbox: RunningSandbox, in_tmp: Path, text: str, says: str
) -> None:
    mapping = in_tmp / "my-mapping.toml"
    mapping.write_text(text, encoding="utf-8")
    source = in_tmp / "learners.csv"
    source.write_text("learner_id,forename\nMIS-1,Ann\n", encoding="utf-8")
    env = {"LABRIDGE_URL": shared_sandbox.url, "LABRIDGE_USERNAME": "ws-user",
           "LABRIDGE_PASSWORD": PASSWORD}  # fmt: skip
    result = run(["enrol", str(source), "--mapping", str(mapping), "--dry-run"], env)
    assert_clean_failure(result, shell.EXIT_CONFIG, "my-mapping.toml", says)
    assert "Canary Lane" not in result.output  # a value is described, never echoed


@pytest.mark.parametrize(
    "make",
    [
        lambda p: p.write_text(DEEP.replace("[columns]", "[la]"), encoding="utf-8"),
        lambda p: p.mkdir(),
        lambda p: p.write_text("[run]\nsources = 3\n", encoding="utf-8"),
    ],
    ids=["deep", "directory", "sources-not-a-list"],
)
def test_a_malformed_settings_file_names_it(in_tmp: Path, make: object) -> None:
    path = in_tmp / "my-settings.toml"
    make(path)  # type: ignore[operator]
    assert_clean_failure(run(["status", "--config", str(path)]), shell.EXIT_CONFIG, "my-settings")


def test_a_contract_file_nested_too_deeply(in_tmp: Path) -> None:
    path = in_tmp / "my-contract.toml"
    path.write_text(DEEP.replace("[columns]", "[contract]"), encoding="utf-8")
    result = run(["contract", "show", "--contract", str(path)])
    assert_clean_failure(result, shell.EXIT_CONFIG, "my-contract.toml", "nested too deeply")


def test_demo_keep_naming_a_file(in_tmp: Path) -> None:
    (in_tmp / "a-file").write_text("", encoding="utf-8")
    assert_clean_failure(run(["demo", "--keep", "a-file"]), shell.EXIT_CONFIG, "a-file")


# --- the last resort ------------------------------------------------------------------------------

SECRET_TEXT = "12 Canary Close, born 1990-01-01"
URL_PASSWORD = "Zq9-url-secret"

buggy = typer.Typer()


@buggy.command()
@shell.handles_errors
def explode(verbose: options.VerboseOpt = 0) -> None:
    """A command with a bug whose exception text holds personal data and a URL's password."""
    shell.log_verbosity(verbose)
    raise ValueError(f"{SECRET_TEXT} at https://u:{URL_PASSWORD}@la.example/x")


@buggy.command()
@shell.handles_errors
def some_failed() -> None:
    """A command ending with its own documented exit code."""
    raise typer.Exit(shell.EXIT_FAILED_RECORDS)


def test_a_commands_own_exit_code_is_not_an_internal_error() -> None:
    result = CliRunner().invoke(buggy, ["some-failed"])
    assert result.exit_code == shell.EXIT_FAILED_RECORDS
    assert "internal error" not in result.output


def test_an_unexpected_exception_is_one_line_without_its_message() -> None:
    result = CliRunner().invoke(buggy, ["explode"])
    assert result.exit_code == shell.EXIT_INTERNAL == 70
    assert result.exception is None or isinstance(result.exception, SystemExit)
    err = " ".join(result.stderr.split())
    assert "labridge: internal error (ValueError)" in err
    assert "-vv" in err
    assert SECRET_TEXT not in result.output
    assert URL_PASSWORD not in result.output
    assert "Traceback" not in result.output


def test_the_traceback_shows_at_vv_only_and_masked() -> None:
    assert "Traceback" not in CliRunner().invoke(buggy, ["explode", "-v"]).stderr
    result = CliRunner().invoke(buggy, ["explode", "-vv"])
    assert result.exit_code == shell.EXIT_INTERNAL
    assert "Traceback" in result.stderr
    assert "ValueError" in result.stderr
    assert URL_PASSWORD not in result.output
