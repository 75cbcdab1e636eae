"""Graceful stop (issue 7): SIGTERM and SIGINT on real `labridge` processes against a slow
sandbox. No new LA call starts, the calls in flight finish, the journal is written, one log line
says what was left, the exit code is 128 + the signal; the next run enrols the rest, once."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from labridge.sandbox.server import RunningSandbox, start_background

pytestmark = pytest.mark.slow  # signals real processes mid-run

SAMPLE = Path(__file__).parents[2] / "examples" / "learners.csv"
SEEDED = 9


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    # Every enrolment takes 0.25 s before LA does the work, so a signal lands mid-run.
    with start_background(slow_rate=1.0, slow_ms=250, fault_seed=1) as running:
        yield running


def _env(sandbox: RunningSandbox) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABRIDGE_")}
    return {**env, "LABRIDGE_URL": sandbox.url, "LABRIDGE_USERNAME": "sandbox",
            "LABRIDGE_PASSWORD": "sandbox"}  # fmt: skip


def _stats(sandbox: RunningSandbox) -> dict[str, Any]:
    return dict(httpx.get(sandbox.url + "/_sandbox/stats", timeout=5).json())


def _enrol(store: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "labridge", "enrol", str(SAMPLE), "--db", str(store),
            "--create", *extra]  # fmt: skip


def _signal_mid_enrolment(
    sandbox: RunningSandbox, command: list[str], signum: int
) -> subprocess.CompletedProcess[str]:
    """Start ``command``, send ``signum`` once a few learners are in LA, wait for the end."""
    proc = subprocess.Popen(command, env=_env(sandbox), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while _stats(sandbox)["candidates"] < SEEDED + 3 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    signalled = time.monotonic()
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - signalled < 5  # the calls in flight, not the whole run
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def _journal_states(store: Path) -> dict[str, int]:
    with sqlite3.connect(store) as conn:
        rows = conn.execute("SELECT state, count(*) FROM enrolments GROUP BY state").fetchall()
    return dict(rows)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_enrol_cleanly_and_the_next_run_enrols_the_rest(
    sandbox: RunningSandbox, tmp_path: Path, signum: int, code: int
) -> None:
    store = tmp_path / "labridge.db"
    stopped = _signal_mid_enrolment(sandbox, _enrol(store, "--concurrency", "2"), signum)
    assert stopped.returncode == code, stopped.stderr
    lines = [line for line in stopped.stderr.splitlines() if "stopped by" in line]
    assert len(lines) == 1, stopped.stderr
    name = signal.Signals(signum).name
    assert f"stopped by {name}: enrolling:" in lines[0]
    assert "left" in lines[0]
    assert "the next run resumes the rest" in lines[0]
    assert "Traceback" not in stopped.stderr
    states = _journal_states(store)
    assert "pending" not in states  # the calls in flight were finished and journalled
    enrolled_so_far = _stats(sandbox)["candidates"] - SEEDED
    assert states.get("enrolled", 0) == enrolled_so_far < 42  # stopped early, nothing unrecorded
    again = subprocess.run(_enrol(store, "--json"), env=_env(sandbox), capture_output=True,
                           text=True, timeout=120)  # fmt: skip
    assert again.returncode == 1, again.stderr  # the sample keeps its invalid rows
    report = json.loads(again.stdout)
    assert report["enrolled"] == 42 - enrolled_so_far
    figures = _stats(sandbox)
    assert figures["duplicate_source_ids"] == 0
    assert figures["candidates"] == SEEDED + 42


def _run_config(sandbox: RunningSandbox, tmp_path: Path) -> Path:
    (tmp_path / "learners.csv").write_bytes(SAMPLE.read_bytes())
    config = tmp_path / "labridge.toml"
    config.write_text(
        f'[la]\nurl = "{sandbox.url}"\nusername = "sandbox"\n'
        f'[store]\ndatabase_url = "sqlite:///{tmp_path / "store.db"}"\n'
        '[[run.sources]]\npath = "learners.csv"\n',
        encoding="utf-8",
    )
    return config


def test_run_once_stops_after_the_current_step(sandbox: RunningSandbox, tmp_path: Path) -> None:
    config = _run_config(sandbox, tmp_path)
    command = [sys.executable, "-m", "labridge", "run", "--once", "--create", "--config",
               str(config)]  # fmt: skip
    stopped = _signal_mid_enrolment(sandbox, command, signal.SIGTERM)
    assert stopped.returncode == 143, stopped.stderr
    # One line per step that ended (a step's start is a DEBUG line now).
    assert "step enrol learners.csv stopped early" in stopped.stderr
    assert "update learners.csv: " not in stopped.stderr
    assert "progress pull: " not in stopped.stderr
    [line] = [x for x in stopped.stderr.splitlines() if "stopped by SIGTERM" in x]
    assert "steps not run: update learners.csv, progress pull" in line
    assert "pending" not in _journal_states(tmp_path / "store.db")


def test_a_scheduled_run_stops_between_cycles(sandbox: RunningSandbox, tmp_path: Path) -> None:
    config = _run_config(sandbox, tmp_path)
    command = [sys.executable, "-m", "labridge", "run", "--create", "--config", str(config)]
    proc = subprocess.Popen(command, env=_env(sandbox), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # the first cycle, to its end; the next is an hour away
        seen.append(line)
        if "cycle finished" in line:
            break
    proc.send_signal(signal.SIGTERM)
    err = "".join(seen) + proc.communicate(timeout=30)[1]
    assert proc.returncode == 143, err
    [line] = [x for x in err.splitlines() if "stopped by SIGTERM" in x]
    assert "no cycle was running" in line


def test_a_signal_during_sync_exits_with_the_signal_after_storing_it(tmp_path: Path) -> None:
    """Each read takes 0.4 s; the sync is one transaction, so it finishes and is stored, then the
    command exits 143 rather than 0, and nothing after it starts."""
    with start_background(latency_ms=400) as slow:
        store = tmp_path / "store.db"
        command = [sys.executable, "-m", "labridge", "sync", "--db", str(store)]
        proc = subprocess.Popen(command, env=_env(slow), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip
        deadline = time.monotonic() + 30
        # Counted as the read arrives, 0.4 s before its answer: the sync is surely in flight.
        while (
            not _stats(slow)["faults_fired"].get("GetTrainers:latency")
            and time.monotonic() < deadline
        ):
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert "stopped by SIGTERM: the sync was finished and stored" in " ".join(err.split())
    with sqlite3.connect(store) as conn:
        assert conn.execute("SELECT count(*) FROM trainers").fetchone()[0] > 0
