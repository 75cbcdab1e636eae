"""The labridge command, end to end: real sandbox over loopback, real store, real processes."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from labridge.sandbox.server import RunningSandbox
from labridge.store import open_store

from .clienv import PASSWORD, invoke


def test_help_teaches_every_command() -> None:
    code, out, _ = invoke(["--help"], {})
    assert code == 0
    for command in ("demo", "init", "sync", "status", "sandbox"):
        assert command in out


def test_sync_json_then_nothing_changes(shared_env: dict[str, str]) -> None:
    code, out, _ = invoke(["sync", "--json"], shared_env)
    assert code == 0
    first = json.loads(out)
    assert set(first) == {
        "frameworks", "units", "trainers", "companies", "nationalities", "ethnicities",
        "candidates",
    }  # fmt: skip
    assert all(set(v) == {"added", "changed", "removed", "total"} for v in first.values())
    assert first["ethnicities"] == {"added": 19, "changed": 0, "removed": 0, "total": 19}
    code, out, _ = invoke(["sync", "--json"], shared_env)
    second = json.loads(out)
    assert all(v["added"] == v["changed"] == v["removed"] == 0 for v in second.values())
    assert {k: v["total"] for k, v in second.items()} == {k: v["total"] for k, v in first.items()}


def test_sync_table_and_status(shared_env: dict[str, str]) -> None:
    code, out, _ = invoke(["sync"], shared_env)
    assert code == 0
    assert "frameworks" in out
    assert "added" in out
    code, out, _ = invoke(["status", "--json"], shared_env)
    assert code == 0
    status = json.loads(out)
    assert status["sets"]["ethnicities"] == {"present": 19, "removed": 0}
    assert status["last_sync"]["status"] == "ok"
    code, out, _ = invoke(["status"], shared_env)
    assert "Last sync" in out


def test_status_of_an_empty_store_says_to_sync(shared_env: dict[str, str]) -> None:
    code, _, err = invoke(["status"], shared_env)  # no store yet: status makes none
    assert code == 2
    assert "run `labridge sync` first" in " ".join(err.split())
    open_store(shared_env["LABRIDGE_DATABASE_URL"]).close()  # a store made, never synced
    code, out, _ = invoke(["status"], shared_env)
    assert code == 0
    assert "Never synced" in out


def test_sync_into_postgresql(shared_env: dict[str, str], store_url: str) -> None:
    code, out, err = invoke(["sync", "--json", "--db", store_url], shared_env)
    assert code == 0, err
    assert json.loads(out)["ethnicities"]["total"] == 19


def test_missing_settings_exit_2_and_say_what_to_set(shared_env: dict[str, str]) -> None:
    # The URL defaults to LA's documented host; the username has no default.
    del shared_env["LABRIDGE_USERNAME"]
    code, _, err = invoke(["sync"], shared_env)
    assert code == 2
    assert "LABRIDGE_USERNAME" in err
    assert "labridge init" in err


def test_refused_credentials_exit_3_without_leaking_the_password(
    shared_env: dict[str, str],
) -> None:
    shared_env["LABRIDGE_PASSWORD"] = "Not-" + PASSWORD
    code, out, err = invoke(["sync", "-vv"], shared_env)
    assert code == 3
    assert "refused" in err
    assert "LABRIDGE_PASSWORD" in err
    assert PASSWORD not in out + err


def test_unreachable_la_exits_3_with_a_hint(shared_env: dict[str, str]) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    shared_env["LABRIDGE_URL"] = f"http://127.0.0.1:{port}"
    code, _, err = invoke(["sync"], shared_env)
    assert code == 3
    assert "cannot reach LA" in err
    assert "what to do" in err


def test_init_writes_a_private_commented_file_and_refuses_to_overwrite(
    shared_env: dict[str, str], tmp_path: Path
) -> None:
    target = tmp_path / "labridge.toml"
    code, _, _ = invoke(["init", "--url", "https://x.example", "--username", "me"], shared_env)
    assert code == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    text = target.read_text()
    assert "# " in text
    assert 'url = "https://x.example"' in text
    code, _, err = invoke(["init"], shared_env)
    assert code == 2
    assert "--force" in err
    code, _, _ = invoke(["init", "--force"], shared_env)
    assert code == 0


def test_config_file_is_read(shared_env: dict[str, str], tmp_path: Path) -> None:
    url, username = shared_env.pop("LABRIDGE_URL"), shared_env.pop("LABRIDGE_USERNAME")
    (tmp_path / "other.toml").write_text(f'[la]\nurl = "{url}"\nusername = "{username}"\n')
    code, out, err = invoke(
        ["sync", "--json", "--config", str(tmp_path / "other.toml")], shared_env
    )
    assert code == 0, err
    assert json.loads(out)["ethnicities"]["total"] == 19


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_sandbox_serve_runs_until_stopped(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "labridge", "sandbox", "serve", "--port", str(port),
         "--db", str(tmp_path / "sandbox.db")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        stats = _wait_for(f"http://127.0.0.1:{port}/_sandbox/stats")
        assert stats["candidates"] >= 3
        wsdl = httpx.get(f"http://127.0.0.1:{port}/webservices/soap/user.cfc?wsdl", timeout=5)
        assert b"GetCandidates" in wsdl.content
    finally:
        proc.terminate()
        proc.communicate(timeout=15)
    assert (tmp_path / "sandbox.db").exists()


def _wait_for(url: str) -> dict[str, int]:
    deadline = time.monotonic() + 20
    while True:
        try:
            return dict(httpx.get(url, timeout=1).json())
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


SAMPLE = Path(__file__).parents[2] / "examples" / "learners.csv"


def test_enrol_dry_run_json_sends_nothing(
    shared_env: dict[str, str], shared_sandbox: RunningSandbox
) -> None:
    before = (
        httpx.get(shared_sandbox.url + "/_sandbox/stats").json()["calls"].get("GroupEnrolment", 0)
    )
    code, out, _ = invoke(["enrol", str(SAMPLE), "--dry-run", "--json", "--create"], shared_env)
    report = json.loads(out)
    assert code == 1  # the sample has records to fix
    assert report["would_enrol"] > 30
    assert report["enrolled"] == 0
    assert report["invalid"] >= 5
    assert len(report["records"]) == 51
    outcomes = {r["outcome"] for r in report["records"]}
    assert outcomes <= {"would_enrol", "skipped", "invalid"}
    invalid = next(r for r in report["records"] if r["outcome"] == "invalid")
    assert set(invalid["problems"][0]) == {"field", "code", "message"}
    after = (
        httpx.get(shared_sandbox.url + "/_sandbox/stats").json()["calls"].get("GroupEnrolment", 0)
    )
    assert after == before


def test_enrol_from_sql_then_enrolments_report(
    shared_env: dict[str, str], shared_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    mis = tmp_path / "mis.db"
    import csv
    import sqlite3

    with SAMPLE.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with sqlite3.connect(mis) as conn:
        cols = list(rows[0])
        conn.execute(f"CREATE TABLE learners ({', '.join(cols)})")
        conn.executemany(
            f"INSERT INTO learners VALUES ({', '.join('?' * len(cols))})",
            [[r[c] for c in cols] for r in rows[:5]],
        )
    query = "SELECT * FROM learners"
    code, out, err = invoke(
        ["enrol", "--sql", query, "--source-db", f"sqlite:///{mis}", "--json", "--create",
         "--db", str(tmp_path / "sql-store.db")],
        shared_env,
    )  # fmt: skip
    report = json.loads(out)
    assert report["enrolled"] + report["invalid"] + report["skipped"] == 5, err
    assert report["enrolled"] >= 3
    code, out, _ = invoke(
        ["enrolments", "--json", "--db", str(tmp_path / "sql-store.db"), "--csv",
         str(tmp_path / "todo.csv")],
        shared_env,
    )  # fmt: skip
    assert code == 0
    listed = json.loads(out)
    assert {e["source_id"] for e in listed} == {r["learner_id"] for r in rows[:5]}
    assert all(e["state"] in ("enrolled", "invalid", "skipped") for e in listed)
    lines = (tmp_path / "todo.csv").read_text().splitlines()
    assert lines[0].startswith("source_id,course,course_name,state")
    code, out, _ = invoke(["status", "--json", "--db", str(tmp_path / "sql-store.db")], shared_env)
    status = json.loads(out)
    assert status["enrolments"]["enrolled"] == report["enrolled"]
    assert status["progress"] == {"learners": 0, "failing": 0, "history_rows": 0, "last_pull": None}
    code, out, _ = invoke(["status", "--db", str(tmp_path / "sql-store.db")], shared_env)
    assert "Enrolments (labridge's journal):" in out
    assert "Progress: never pulled" in out


def test_enrol_needs_a_source(shared_env: dict[str, str]) -> None:
    code, _, err = invoke(["enrol"], shared_env)
    assert code == 2
    assert "--sql" in err


def test_source_values_that_look_like_markup_are_shown_as_text(
    shared_env: dict[str, str], tmp_path: Path
) -> None:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    row = (
        lines[1]
        .replace("MIS-200100", "MIS-[/bold]1")
        .replace("Upton Manor Residential Care", "Acme [/] Ltd")
    )
    source = tmp_path / "odd.csv"
    source.write_text(f"{lines[0]}\n{row}\n", encoding="utf-8")
    shared_env["COLUMNS"] = "200"
    code, out, err = invoke(["enrol", str(source), "--create"], shared_env)
    assert code == 1, err  # invalid (unknown company), and reported, not a crash
    assert "MIS-[/bold]1" in out
    assert "'Acme [/] Ltd'" in out
    code, out, _ = invoke(["enrolments"], shared_env)
    assert code == 0
    assert "MIS-[/bold]1" in out
