"""The CLI's side of exactly once: uncertain rows in status and enrolments, and `labridge
duplicates` (issue 7)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labridge import store
from labridge.cli import app
from labridge.store import duplicates, journal


def invoke(args: list[str], db: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [*args, "--db", str(db)], env={"COLUMNS": "250"})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray labridge.toml
    monkeypatch.delenv("LABRIDGE_DATABASE_URL", raising=False)
    return tmp_path / "store.db"


def test_an_uncertain_row_says_what_to_check(db: Path) -> None:
    since = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    with store.open_store(f"sqlite:///{db}") as opened, opened.begin() as session:
        journal.record(session, "MIS-1", "C-1", "uncertain", since, origin="a.csv line 2")
    code, out, _ = invoke(["enrolments"], db)
    assert code == 0
    assert "uncertain" in out
    assert "labridge will look again after 09:40 UTC" in out  # the default window, 600 s
    assert "check LA for learner id MIS-1" in out
    code, out, _ = invoke(["status"], db)
    assert "1 uncertain" in out
    code, out, _ = invoke(["enrolments", "--json"], db)
    (entry,) = json.loads(out)
    assert entry["state"] == "uncertain"
    assert entry["uncertain_since"] == since.isoformat()


def test_duplicates_lists_every_candidate_and_exits_1(db: Path) -> None:
    store.open_store(f"sqlite:///{db}").close()  # a store made, as labridge sync makes one
    code, out, _ = invoke(["duplicates"], db)
    assert code == 0
    assert "no learner twice" in out
    now = datetime.now(UTC) - timedelta(minutes=1)
    found = [duplicates.Duplicate("MIS-1", "C-1", ("cand-a", "cand-b"))]
    with store.open_store(f"sqlite:///{db}") as opened, opened.begin() as session:
        duplicates.record_found(session, found, now)
    code, out, _ = invoke(["duplicates", "--json"], db)
    assert code == 1
    assert json.loads(out) == [
        {"source_id": "MIS-1", "course_uuid": "C-1", "candidate_uuids": ["cand-a", "cand-b"]}
    ]
    code, out, _ = invoke(["duplicates"], db)
    assert code == 1
    assert "cand-a" in out
    assert "cand-b" in out
