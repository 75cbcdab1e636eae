"""Settings anchored to their file (issue 10, point 1), in real ``labridge`` processes started
from other working directories: the store a config file names (or the default one beside it) is
the store used wherever the command runs; a store that does not exist is never made silently.

The incident replayed: ``labridge run --once --config <dir>/labridge.toml`` from cron, in another
directory, made a new empty store and sent UpdateEnrolment for every learner."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from labridge.sandbox.server import serve_process

SAMPLE = Path(__file__).parents[2] / "examples" / "learners.csv"
SECRET = "s3cr3t-Pa55"


def labridge(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m labridge ARGS`` in ``cwd``, with the sandbox's password and no other
    LABRIDGE_* variable from the test's own environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABRIDGE_")}
    env["LABRIDGE_PASSWORD"] = "sandbox"
    env["COLUMNS"] = "250"  # Rich wraps at the terminal width: long paths on one line
    return subprocess.run(
        [sys.executable, "-m", "labridge", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


@pytest.fixture(scope="module")
def sandbox() -> Iterator[str]:
    """A sandbox in its own process (in memory): the tests here only read LA, or dry-run."""
    with serve_process() as url:
        yield url


def _config(directory: Path, url: str, extra: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "labridge.toml"
    path.write_text(f'[la]\nurl = "{url}"\nusername = "sandbox"\n{extra}', encoding="utf-8")
    return path


def _dirs(tmp_path: Path) -> tuple[Path, Path]:
    """A directory for the settings, and another one to run the commands from."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return tmp_path / "etc-labridge", elsewhere


def test_the_default_store_lives_beside_the_config_file(sandbox: str, tmp_path: Path) -> None:
    settings_dir, elsewhere = _dirs(tmp_path)
    config = _config(settings_dir, sandbox)
    synced = labridge("sync", "-v", "--config", str(config), cwd=elsewhere)
    assert synced.returncode == 0, synced.stderr
    assert (settings_dir / "labridge.db").exists()
    assert list(elsewhere.iterdir()) == []  # nothing made where the command ran
    # The first log line names the settings file and the store.
    first = synced.stderr.splitlines()[0]
    assert f"config {config}, store sqlite:///{settings_dir / 'labridge.db'}" in first, first
    # status, from a third directory, says which file and store it read.
    third = tmp_path / "third"
    third.mkdir()
    shown = labridge("status", "--config", str(config), cwd=third)
    assert shown.returncode == 0, shown.stderr
    assert f"Config: {config}" in shown.stdout
    assert f"Store: sqlite:///{settings_dir / 'labridge.db'}" in shown.stdout
    as_json = json.loads(labridge("status", "--json", "--config", str(config), cwd=third).stdout)
    assert as_json["config"] == str(config)
    assert as_json["store"] == f"sqlite:///{settings_dir / 'labridge.db'}"
    assert as_json["last_sync"]["status"] == "ok"  # the store sync filled, not a new one


def test_relative_paths_in_the_file_are_relative_to_the_file(sandbox: str, tmp_path: Path) -> None:
    settings_dir, elsewhere = _dirs(tmp_path)
    (settings_dir / "data").mkdir(parents=True)
    (settings_dir / "exports").mkdir()
    shutil.copy(SAMPLE, settings_dir / "exports" / "learners.csv")
    config = _config(
        settings_dir,
        sandbox,
        '[store]\ndatabase_url = "sqlite:///data/store.db"\n'
        '[[run.sources]]\npath = "exports/learners.csv"\n',
    )
    assert labridge("sync", "--config", str(config), cwd=elsewhere).returncode == 0
    assert (settings_dir / "data" / "store.db").exists()
    # A bare path in the file is a SQLite file too, relative to the file.
    config.write_text(config.read_text().replace("sqlite:///data/store.db", "data/store.db"))
    shown = json.loads(labridge("status", "--json", "--config", str(config), cwd=elsewhere).stdout)
    assert shown["store"] == f"sqlite:///{settings_dir / 'data' / 'store.db'}"
    # enrol's source path from the command line stays the shell's (relative to cwd), the store
    # the file's.
    shutil.copy(SAMPLE, elsewhere / "here.csv")
    dry = labridge("enrol", "here.csv", "--dry-run", "--json", "--config", str(config),
                   cwd=elsewhere)  # fmt: skip
    assert dry.returncode == 1, dry.stderr  # the sample's invalid rows
    assert json.loads(dry.stdout)["would_enrol"] == 42
    assert sorted(p.name for p in elsewhere.iterdir()) == ["here.csv"]


def test_db_on_the_command_line_is_relative_to_the_working_directory(
    sandbox: str, tmp_path: Path
) -> None:
    settings_dir, elsewhere = _dirs(tmp_path)
    config = _config(settings_dir, sandbox)
    synced = labridge("sync", "--db", "mine.db", "--config", str(config), cwd=elsewhere)
    assert synced.returncode == 0, synced.stderr
    assert (elsewhere / "mine.db").exists()
    assert not (settings_dir / "labridge.db").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["enrol", "learners.csv"],
        ["update", "learners.csv"],
        ["progress", "pull"],
        ["run", "--once"],
    ],
)
def test_a_missing_store_needs_create(sandbox: str, tmp_path: Path, command: list[str]) -> None:
    settings_dir, elsewhere = _dirs(tmp_path)
    config = _config(settings_dir, sandbox)
    shutil.copy(SAMPLE, elsewhere / "learners.csv")
    typo = elsewhere / "labrdige.db"
    result = labridge(*command, "--db", "labrdige.db", "--config", str(config), cwd=elsewhere)
    assert result.returncode == 2, result.stderr
    err = " ".join(result.stderr.split())  # Rich wraps long lines
    assert f"no store at {typo} (config {config})" in err, err
    assert "give --create to make a new one" in err
    assert "Traceback" not in result.stderr
    assert not typo.exists()  # a mistyped path made nothing
    stats = httpx.get(sandbox + "/_sandbox/stats").json()
    assert "GroupEnrolment" not in stats["calls"]
    assert "UpdateEnrolment" not in stats["calls"]


def test_create_makes_the_new_store(sandbox: str, tmp_path: Path) -> None:
    settings_dir, elsewhere = _dirs(tmp_path)
    config = _config(settings_dir, sandbox)
    shutil.copy(SAMPLE, elsewhere / "learners.csv")
    dry = labridge("enrol", "learners.csv", "--dry-run", "--create", "--config", str(config),
                   cwd=elsewhere)  # fmt: skip
    assert dry.returncode == 1, dry.stderr  # made, then the sample's invalid rows
    assert (settings_dir / "labridge.db").exists()


@pytest.mark.parametrize(
    "command", [["status"], ["enrolments"], ["duplicates"], ["progress", "report"]]
)
def test_reading_a_missing_store_says_how_to_make_one(tmp_path: Path, command: list[str]) -> None:
    result = labridge(*command, cwd=tmp_path)  # no labridge.toml here, no store either
    assert result.returncode == 2, result.stderr
    err = " ".join(result.stderr.split())
    assert f"no store at {tmp_path / 'labridge.db'} (config none" in err, err
    assert "run `labridge sync` first" in err
    assert list(tmp_path.iterdir()) == []


def test_a_database_without_labridge_tables_is_not_a_store_yet(
    sandbox: str, database_url: str, tmp_path: Path
) -> None:
    """PostgreSQL (and SQLite alike): an empty database is "no store" until sync makes it."""
    settings_dir, elsewhere = _dirs(tmp_path)
    config = _config(settings_dir, sandbox)
    missing = labridge("status", "--db", database_url, "--config", str(config), cwd=elsewhere)
    assert missing.returncode == 2, missing.stderr
    assert "no store at" in missing.stderr
    assert labridge("sync", "--db", database_url, "--config", str(config),
                    cwd=elsewhere).returncode == 0  # fmt: skip
    shown = labridge("status", "--db", database_url, "--config", str(config), cwd=elsewhere)
    assert shown.returncode == 0, shown.stderr


def test_the_first_log_line_masks_the_store_password(tmp_path: Path) -> None:
    url = f"postgresql://labridge:{SECRET}@127.0.0.1:1/labridge"  # nothing listens on port 1
    result = labridge("sync", "-v", "--db", url, "--url", "http://127.0.0.1:1",
                      "--username", "u", cwd=tmp_path)  # fmt: skip
    assert result.returncode != 0
    assert "store postgresql://labridge:***@127.0.0.1:1/labridge" in result.stderr
    assert SECRET not in result.stderr + result.stdout


@pytest.mark.slow
def test_the_incident_replayed_makes_no_new_store_and_sends_no_update(tmp_path: Path) -> None:
    """The demo's store and LA (kept with --keep), then the daily cron line from elsewhere: the
    run uses the store beside its labridge.toml, so it finds nothing to send again."""
    kept, elsewhere = tmp_path / "kept", tmp_path / "cron-cwd"
    elsewhere.mkdir()
    demo = labridge("demo", "--keep", str(kept), cwd=tmp_path, timeout=600)
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert (kept / "labridge.db").exists()
    with serve_process("--db", str(kept / "sandbox.db")) as url:
        # The source as the demo last sent it (one learner's e-mail changed in the MIS).
        config = _config(kept, url, '[[run.sources]]\npath = "learners-changed.csv"\n')
        before = httpx.get(url + "/_sandbox/stats").json()
        result = labridge("run", "--once", "--json", "--config", str(config), cwd=elsewhere)
        after = httpx.get(url + "/_sandbox/stats").json()
    assert result.returncode == 1, result.stderr  # the sample's invalid rows: warnings
    steps = {s["name"]: s for s in json.loads(result.stdout)["steps"]}
    assert "skipped" in steps["enrol learners-changed.csv"]["summary"], steps
    assert "enrolled" not in steps["enrol learners-changed.csv"]["summary"], steps
    assert "unchanged" in steps["update learners-changed.csv"]["summary"], steps
    assert "updated" not in steps["update learners-changed.csv"]["summary"], steps
    assert list(elsewhere.iterdir()) == []  # no new store where cron ran it
    for operation in ("GroupEnrolment", "UpdateEnrolment"):
        assert after["calls"].get(operation, 0) == before["calls"].get(operation, 0), operation
    assert after["candidates"] == before["candidates"]


def test_init_writes_the_db_given_as_the_shell_means_it(tmp_path: Path) -> None:
    settings_dir, elsewhere = _dirs(tmp_path)
    settings_dir.mkdir()
    config = settings_dir / "labridge.toml"
    made = labridge("init", "--path", str(config), "--db", "store.db", cwd=elsewhere)
    assert made.returncode == 0, made.stderr
    assert f'database_url = "sqlite:///{elsewhere / "store.db"}"' in config.read_text()
