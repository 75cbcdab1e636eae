"""Exactly once with real processes (issue 7): two `labridge enrol` at once on one store (SQLite
and PostgreSQL), two machines on one PostgreSQL store, two separate stores against one LA, and
the run lock keyed by the store's identity."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from labridge.cli.cycle import single_instance
from labridge.errors import ConfigurationError
from labridge.sandbox.server import RunningSandbox

pytestmark = pytest.mark.slow  # races real processes on one store

SAMPLE = Path(__file__).parents[1] / "examples" / "learners.csv"
LEARNERS = 200

#: Machines share a store on PostgreSQL; its run lock is an advisory lock in the database.
POSTGRESQL_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def sandbox(sandbox: RunningSandbox) -> RunningSandbox:
    """The suite's sandbox, with a little latency per enrolment, so that the two runs overlap
    for the whole batch."""
    fault = {"operation": "GroupEnrolment", "mode": "delay", "seconds": 0.01, "count": 1000}
    httpx.post(sandbox.url + "/_sandbox/faults", json=fault).raise_for_status()
    return sandbox


def learners_csv(path: Path, n: int = LEARNERS) -> Path:
    """``n`` learners LA accepts: the sample's first three valid rows, each learner with its own
    id and e-mail address."""
    with SAMPLE.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        for i in range(n):
            row = dict(rows[i % 3], learner_id=f"MIS-7{i:05d}", email=f"learner.{i}@example.org")
            writer.writerow(row)
    return path


def _env(sandbox: RunningSandbox) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABRIDGE_")}
    return {**env, "LABRIDGE_URL": sandbox.url, "LABRIDGE_USERNAME": "sandbox",
            "LABRIDGE_PASSWORD": "sandbox"}  # fmt: skip


def _enrol(source: Path, db: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    args = ["enrol", str(source), "--db", db, "--json", "--create"]
    command = [sys.executable, "-m", "labridge", *args]
    return subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def _finish(proc: subprocess.Popen[str]) -> tuple[int, dict[str, Any], str]:
    out, err = proc.communicate(timeout=300)
    assert "Traceback" not in err, err
    assert proc.returncode in (0, 1), err
    return proc.returncode, json.loads(out), err


def _stats(sandbox: RunningSandbox) -> dict[str, Any]:
    return dict(httpx.get(sandbox.url + "/_sandbox/stats").json())


def _at_once(sandbox: RunningSandbox, runs: list[tuple[Path, str, Path]]) -> list[Any]:
    env = _env(sandbox)
    procs = [_enrol(source, db, env, cwd) for source, db, cwd in runs]
    return [_finish(p) for p in procs]


def test_two_enrol_runs_at_once_on_one_store_enrol_everyone_once(
    sandbox: RunningSandbox, database_url: str, tmp_path: Path
) -> None:
    source = learners_csv(tmp_path / "learners.csv")
    before = _stats(sandbox)["candidates"]
    results = _at_once(sandbox, [(source, database_url, tmp_path)] * 2)
    stats = _stats(sandbox)
    assert stats["duplicate_source_ids"] == 0
    assert stats["candidates"] == before + LEARNERS
    assert stats["calls"]["GroupEnrolment"] == LEARNERS
    # Every learner was enrolled by exactly one of the two runs; the other skipped them.
    assert sum(report["enrolled"] for _, report, _ in results) == LEARNERS
    for _, report, _ in results:
        assert report["enrolled"] + report["skipped"] == LEARNERS


@POSTGRESQL_ONLY
def test_two_machines_on_one_postgresql_store_enrol_everyone_once(
    sandbox: RunningSandbox, database_url: str, tmp_path: Path
) -> None:
    machines = [tmp_path / "a", tmp_path / "b"]
    for home in machines:
        home.mkdir()
        learners_csv(home / "learners.csv")
    results = _at_once(sandbox, [(m / "learners.csv", database_url, m) for m in machines])
    assert _stats(sandbox)["duplicate_source_ids"] == 0
    assert sum(report["enrolled"] for _, report, _ in results) == LEARNERS


def _listed(db: Path, env: dict[str, str]) -> set[str]:
    command = [sys.executable, "-m", "labridge", "duplicates", "--json", "--db", str(db)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr
    found = json.loads(done.stdout)
    assert done.returncode == (1 if found else 0)
    return {uuid for d in found for uuid in d["candidate_uuids"]}


def test_separate_stores_never_resend_and_their_duplicates_are_listed(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    source = learners_csv(tmp_path / "learners.csv", 60)
    env = _env(sandbox)
    # One after the other: the second store's run sends nobody LA already lists.
    _finish(_enrol(source, str(tmp_path / "first.db"), env, tmp_path))
    calls = _stats(sandbox)["calls"]["GroupEnrolment"]
    _, report, _ = _finish(_enrol(source, str(tmp_path / "second.db"), env, tmp_path))
    assert report["enrolled"] == 0
    assert _stats(sandbox)["calls"]["GroupEnrolment"] == calls
    # At once, on a new batch: whatever duplicates arise are reported loudly and listed.
    fresh = tmp_path / "fresh.csv"
    with source.open(encoding="utf-8") as fh:
        fresh.write_text(fh.read().replace("MIS-7", "MIS-8"), encoding="utf-8")
    stores = [tmp_path / "c.db", tmp_path / "d.db"]
    results = _at_once(sandbox, [(fresh, str(db), tmp_path) for db in stores])
    stats = _stats(sandbox)
    listed = set().union(*(_listed(db, env) for db in stores))
    assert len(listed) == stats["duplicate_source_ids"] + stats["duplicate_pairs"]
    if stats["duplicate_pairs"]:
        warned = [r for r in results if r[0] == 1 and "more than once" in r[2]]
        assert warned, "a run that finds duplicates warns and exits 1"
        assert all(r[1]["duplicates"] for r in warned)


def _hold_lock(url: str) -> subprocess.Popen[str]:
    script = textwrap.dedent(
        f"""
        import sys, time
        from labridge.cli.cycle import single_instance
        with single_instance({url!r}):
            sys.stdout.write("locked\\n"); sys.stdout.flush()
            time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "locked\n"
    return proc


def test_the_run_lock_is_the_stores_not_the_urls(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    with single_instance(f"sqlite:///{tmp_path}/x/store.db"):
        for spelling in (f"{tmp_path}/x/./store.db", f"{tmp_path}/x/../x/store.db"):
            refused = pytest.raises(ConfigurationError, match="already running")
            with refused, single_instance(f"sqlite:///{spelling}"):
                pass
        # The lock lives beside the store, not in the temp directory keyed by the URL's text.
        assert (tmp_path / "x" / "store.db.run.lock").exists()


@POSTGRESQL_ONLY
def test_the_run_lock_holds_across_processes_on_one_postgresql_store(database_url: str) -> None:
    holder = _hold_lock(database_url)
    # Another machine reaches the same server under another name: still the same store.
    elsewhere = database_url.replace("@127.0.0.1:", "@localhost:")
    assert elsewhere != database_url
    try:
        for url in (database_url, elsewhere):
            refused = pytest.raises(ConfigurationError, match="already running")
            with refused, single_instance(url):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)  # dies holding the lock, as a crash would
        holder.wait(timeout=10)
        assert holder.stdout is not None
        holder.stdout.close()
    started = time.monotonic()
    while True:  # the server notices the dead connection at once
        try:
            with single_instance(database_url):
                break
        except ConfigurationError:
            assert time.monotonic() - started < 10, "a killed holder blocks the next run"
            time.sleep(0.1)
