"""``labridge store backup``: a consistent, private copy of a SQLite store taken while another
process writes to it; no overwriting without --force; no store created by a typo; PostgreSQL
answered with the pg_dump command (password left out), which is run here on a real database."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import make_url
from typer.testing import CliRunner

from labridge import store
from labridge.cli import app
from labridge.errors import ConfigurationError
from labridge.store.backup import backup

from .conftest import head_revision

#: Writes one meta row per transaction through labridge's own store code, for ever.
WRITER = textwrap.dedent(
    """
    import sys
    from labridge import store
    db = store.open_store(sys.argv[1])
    n = 0
    while True:
        with db.begin() as session:
            store.set_meta(session, f"w{n:07d}", "x" * 200)
        n += 1
        if n == 20:
            print("writing", flush=True)
    """
)


def _labridge(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labridge", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "COLUMNS": "400"},  # one message, one line
    )  # fmt: skip


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Path:
    path = tmp_path / "labridge.db"
    with store.open_store(f"sqlite:///{path}") as db, db.begin() as session:
        for n in range(600):  # a few hundred pages, so a copy is not instantaneous
            store.set_meta(session, f"seed{n:05d}", "y" * 2000)
    return path


@pytest.fixture
def writer(sqlite_store: Path, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    errors = tmp_path / "writer.err"
    with errors.open("w") as err, subprocess.Popen(
        [sys.executable, "-c", WRITER, f"sqlite:///{sqlite_store}"],
        stdout=subprocess.PIPE, stderr=err, text=True,
    ) as process:  # fmt: skip
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "writing", errors.read_text()
        yield process
        process.kill()


def _written(path: Path) -> list[int]:
    with closing(sqlite3.connect(path)) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        keys = copy.execute("SELECT key FROM meta WHERE key LIKE 'w%' ORDER BY key").fetchall()
        assert copy.execute("SELECT count(*) FROM meta WHERE key LIKE 'seed%'").fetchone() == (600,)
    return [int(key[1:]) for (key,) in keys]


def test_a_backup_taken_while_another_process_writes_is_whole_and_consistent(
    sqlite_store: Path, writer: subprocess.Popen[str], tmp_path: Path
) -> None:
    counts = []
    for n in range(8):
        result = backup(f"sqlite:///{sqlite_store}", tmp_path / f"copy{n}.db")
        written = _written(result.path)
        # Each transaction added the next row: a consistent snapshot holds a gapless prefix.
        assert written == list(range(len(written)))
        counts.append(len(written))
        assert result.revision == _head()
        time.sleep(0.05)
    assert writer.poll() is None  # the writer was never blocked to death, and is still going
    assert counts == sorted(counts)
    assert counts[-1] > counts[0] >= 20
    copy = tmp_path / "copy0.db"
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert not Path(f"{copy}-wal").exists()  # one self-contained file
    assert not list(tmp_path.glob("*.partial"))


def test_the_command_backs_up_from_the_config_file_and_refuses_to_overwrite(
    sqlite_store: Path, tmp_path: Path
) -> None:
    config = tmp_path / "labridge.toml"
    config.write_text(f'[store]\ndatabase_url = "sqlite:///{sqlite_store}"\n', encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = tmp_path / "backups" / "labridge-1.db"
    target.parent.mkdir()
    args = ["store", "backup", str(target), "--config", str(config)]

    first = _labridge(*args, cwd=elsewhere)  # a real process, started elsewhere
    assert first.returncode == 0, first.stderr
    assert "Backed up the store" in first.stderr
    assert str(target) in first.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with store.open_store(f"sqlite:///{sqlite_store}") as db, db.begin() as session:
        store.set_meta(session, "w0000000", "after the first backup")

    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2
    assert "already exists" in again.stderr
    assert "--force" in again.stderr
    assert _written(target) == []  # untouched

    forced = CliRunner().invoke(app, [*args, "--force", "--json"])
    assert forced.exit_code == 0, forced.output
    assert json.loads(forced.stdout)["path"] == str(target)
    assert _written(target) == [0]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "Traceback" not in first.stderr + again.output + forced.output


def test_a_mistyped_store_is_an_error_and_no_store_is_created(tmp_path: Path) -> None:
    missing = tmp_path / "labrige.db"
    result = CliRunner().invoke(
        app, ["store", "backup", str(tmp_path / "b.db"), "--db", str(missing)]
    )
    assert result.exit_code == 2
    assert f"thereisnostoreat{missing}" in "".join(result.stderr.split())
    assert not missing.exists()
    assert not (tmp_path / "b.db").exists()


def test_refusals_say_what_to_do(sqlite_store: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{sqlite_store}"
    with pytest.raises(ConfigurationError, match="is the store itself"):
        backup(url, sqlite_store, force=True)
    with pytest.raises(ConfigurationError, match="is a directory"):
        backup(url, tmp_path)
    with pytest.raises(ConfigurationError, match="does not exist"):
        backup(url, tmp_path / "no" / "such" / "dir.db")
    other = tmp_path / "other.db"
    with closing(sqlite3.connect(other)) as plain:
        plain.execute("CREATE TABLE t (x)")
    with pytest.raises(ConfigurationError, match="not a labridge store"):
        backup(f"sqlite:///{other}", tmp_path / "b.db")
    assert not (tmp_path / "b.db").exists()
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ConfigurationError, match="cannot back up"):
        backup(f"sqlite:///{garbage}", tmp_path / "c.db")
    assert not list(tmp_path.glob("*.partial"))


def test_postgresql_gets_the_pg_dump_command_without_its_password(tmp_path: Path) -> None:
    url = "postgresql://alice:hunter2%40x@db.example:5433/labridge_prod"
    args = ["store", "backup", str(tmp_path / "b.dump"), "--db", url]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "400"})  # no path cut at the margin
    assert result.exit_code == 2
    text = " ".join(result.stderr.split())
    assert "hunter2" not in result.output
    assert (
        f"pg_dump --format=custom --file={tmp_path / 'b.dump'} --host=db.example --port=5433 "
        "--username=alice labridge_prod" in text
    )
    assert "PGPASSWORD" in text
    assert "what to do:" in text


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
def test_the_pg_dump_command_given_backs_up_a_real_store(store_url: str, tmp_path: Path) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("the pg_dump advice is for PostgreSQL stores")
    store.open_store(store_url).close()  # migrated: a labridge store
    target = tmp_path / "labridge.dump"
    with pytest.raises(ConfigurationError) as refused:
        backup(store_url, target)
    command = refused.value.hint.removeprefix("run: ").split(" (the password")[0]
    url = make_url(store_url)
    env = {**os.environ, "PGPASSWORD": str(url.password or "")}
    subprocess.run(shlex.split(command), check=True, env=env, timeout=120)
    listing = subprocess.run(
        ["pg_restore", "--list", str(target)], check=True, capture_output=True, text=True
    ).stdout
    assert "TABLE public alembic_version" in listing
    assert "TABLE public meta" in listing


def _head() -> str | None:
    return head_revision()
