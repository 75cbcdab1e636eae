"""Kill a real `labridge enrol` process at random points, resume it, and check that LA ends with
every learner enrolled once: no duplicates, nobody lost, even when the local store is deleted
between runs (issue 3, "Exactly once")."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from labridge.sandbox.server import RunningSandbox, start_background

pytestmark = pytest.mark.slow  # kills real processes at random points

SAMPLE = Path(__file__).parents[1] / "examples" / "learners.csv"
KILLS = 8


@pytest.fixture
def sandbox(dialect: str) -> Iterator[RunningSandbox]:
    with start_background(dialect=dialect, test_hooks=True) as running:
        # Slow every enrolment down a little (the work is done first, then the answer waits),
        # so that kills land before, during and after calls, not only between them.
        fault = {"operation": "GroupEnrolment", "mode": "delay", "seconds": 0.08, "count": 500}
        httpx.post(running.url + "/_sandbox/faults", json=fault).raise_for_status()
        yield running


def _command(store: Path, *extra: str) -> list[str]:
    # No settle window: a learner whose send a kill left uncertain is looked for in LA at once
    # (the sandbox commits before it answers, so nothing is still on its way to LA).
    config = store.with_name("labridge.toml")
    config.write_text("[la]\nsettle_seconds = 0\n", encoding="utf-8")
    return [sys.executable, "-m", "labridge", "enrol", str(SAMPLE), "--db", str(store),
            "--create", "--config", str(config), *extra]  # fmt: skip


def _env(sandbox: RunningSandbox) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABRIDGE_")}
    return {**env, "LABRIDGE_URL": sandbox.url, "LABRIDGE_USERNAME": "sandbox",
            "LABRIDGE_PASSWORD": "sandbox"}  # fmt: skip


def _candidates(sandbox: RunningSandbox) -> int:
    return int(httpx.get(sandbox.url + "/_sandbox/stats").json()["candidates"])


def _wait_for_candidates(sandbox: RunningSandbox, proc: subprocess.Popen[bytes], n: int) -> None:
    """Until LA holds ``n`` candidates, or the run ended by itself, or 60 s went by."""
    deadline = time.monotonic() + 60
    while _candidates(sandbox) < n and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)


def test_killed_and_resumed_enrolment_enrols_everyone_exactly_once(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    rnd = random.Random(20261127)
    store = tmp_path / "labridge.db"
    env = _env(sandbox)
    killed_mid_enrolment = 0
    for attempt in range(KILLS):
        before = _candidates(sandbox)
        proc = subprocess.Popen(_command(store, "--json", "--concurrency", "2"), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        if attempt % 4 == 0:
            time.sleep(rnd.uniform(0.1, 1.5))  # early: while starting, syncing or checking
        else:  # mid-enrolment: once a few more learners are in LA, at a random count
            _wait_for_candidates(sandbox, proc, before + rnd.randint(1, 5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        killed_mid_enrolment += proc.returncode == -signal.SIGKILL and _candidates(sandbox) > before
        if attempt % 3 == 2 and store.exists():
            store.unlink()  # the local database is lost: LA's own candidates must still tell
    final = subprocess.run(_command(store, "--json"), env=env, capture_output=True, text=True,
                           timeout=120)  # fmt: skip
    assert final.returncode == 1, final.stderr  # the sample keeps its handful of bad rows
    report = json.loads(final.stdout)
    stats = httpx.get(sandbox.url + "/_sandbox/stats").json()
    assert stats["duplicate_source_ids"] == 0
    assert killed_mid_enrolment >= 2, "the kills should interrupt enrolments in progress"
    assert report["enrolled"] + report["skipped"] + report["invalid"] == 51
    # 8 bad rows, the repeated row among them whatever an earlier run did with its first copy.
    assert report["invalid"] == 8
    # Everyone valid is in LA: a dry run now finds nothing left to enrol.
    check = subprocess.run(_command(store, "--json", "--dry-run"), env=env,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    plan = json.loads(check.stdout)
    assert plan["would_enrol"] == 0
    assert plan["skipped"] == 43  # 42 enrolled + 1 in LA already (the repeat is invalid)
    assert stats["candidates"] == 9 + 42  # 9 seeded (2 withdrawn)
    # The killed runs' presence locks were swept away by the runs after them.
    assert list(tmp_path.glob("labridge.db.enrol-*.lock")) == []


def _states(store: Path) -> dict[str, int]:
    with sqlite3.connect(store) as conn:
        rows = conn.execute("SELECT state, count(*) FROM enrolments GROUP BY state").fetchall()
    return {state: int(n) for state, n in rows}


def test_killed_between_the_pending_commit_and_the_outcomes_enrols_nobody_twice(
    tmp_path: Path,
) -> None:
    """A chunk of learners is journalled pending in one transaction and sent; their outcomes are
    written later, several at a time. A run killed while LA holds the chunk's answers leaves
    them pending (with the next chunk, journalled ahead): the next run finds the sent ones in
    LA, sends only the others, and so enrols everyone once."""
    store = tmp_path / "labridge.db"
    with start_background(test_hooks=True) as sandbox:
        # The first four enrolments are done at once, their answers held back for 3 s.
        fault = {"operation": "GroupEnrolment", "mode": "delay", "seconds": 3, "count": 4}
        httpx.post(sandbox.url + "/_sandbox/faults", json=fault).raise_for_status()
        env = _env(sandbox)
        before = _candidates(sandbox)
        proc = subprocess.Popen(_command(store, "--json", "--concurrency", "4"), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        _wait_for_candidates(sandbox, proc, before + 4)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL, "the run ended before the kill"
        states = _states(store)
        # The four sent, unanswered, and at most one more chunk journalled ahead of its send.
        assert 4 <= states.get("pending", 0) <= 8, states
        final = subprocess.run(_command(store, "--json"), env=env, capture_output=True,
                               text=True, timeout=120)  # fmt: skip
        stats = httpx.get(sandbox.url + "/_sandbox/stats").json()
    report = json.loads(final.stdout)
    found = [r for r in report["records"] if "found in LA after an uncertain send" in r["reason"]]
    assert len(found) == 4  # the four LA did enrol: not sent again
    assert (report["enrolled"], report["invalid"], report["uncertain"]) == (42, 8, 0)
    assert stats["calls"]["GroupEnrolment"] == 42  # every valid learner sent exactly once
    assert stats["duplicate_source_ids"] == 0
    assert stats["candidates"] == 9 + 42
    assert _states(store).get("pending", 0) == 0
