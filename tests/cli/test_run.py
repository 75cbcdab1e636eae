"""`labridge run`: the whole cycle from labridge.toml, once (in-process CLI) and on a schedule (a
real process, stopped with Ctrl+C), with a failing step that does not stop the cycle."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from itertools import pairwise
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from labridge.cli import app
from labridge.sandbox.server import RunningSandbox

SAMPLE = Path(__file__).parents[2] / "examples" / "learners.csv"


def _config(tmp_path: Path, sandbox: RunningSandbox, every_minutes: float = 60) -> Path:
    shutil.copy(SAMPLE, tmp_path / "learners.csv")
    path = tmp_path / "labridge.toml"
    path.write_text(
        f"""
[la]
url = "{sandbox.url}"
username = "sandbox"

[store]
database_url = "sqlite:///{tmp_path / "store.db"}"

[run]
every_minutes = {every_minutes}

[[run.sources]]
path = "learners.csv"

[[run.sources]]
path = "missing.csv"
""",
        encoding="utf-8",
    )
    return path


def test_run_once_does_the_whole_cycle_and_carries_on_after_a_failed_step(
    sandbox: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path, sandbox)
    monkeypatch.chdir(tmp_path / "..")  # paths in the file are relative to the file
    env = {"LABRIDGE_PASSWORD": "sandbox"}
    result = CliRunner().invoke(
        app, ["run", "--once", "--create", "--json", "--config", str(config)], env=env
    )
    assert result.exit_code == 1  # the missing source's steps failed
    cycle = json.loads(result.stdout)
    steps = {s["name"]: s for s in cycle["steps"]}
    assert list(steps) == [
        "sync",
        "enrol learners.csv",
        "update learners.csv",
        "enrol missing.csv",
        "update missing.csv",
        "progress pull",
    ]
    # Done, with the sample's invalid rows to fix: a warning, not ok.
    assert steps["enrol learners.csv"]["status"] == "warning"
    assert not steps["enrol learners.csv"]["ok"]
    assert "42 enrolled" in steps["enrol learners.csv"]["summary"]
    assert not steps["enrol missing.csv"]["ok"]
    assert "missing.csv" in steps["enrol missing.csv"]["summary"]
    assert steps["progress pull"]["ok"]  # after the failures, the cycle went on
    # 42 enrolled + the 9 seeded, the 2 withdrawn included (sync lists every status)
    assert "51 learners" in steps["progress pull"]["summary"]
    assert "enrol missing.csv: failed" in result.stderr
    stats = httpx.get(sandbox.url + "/_sandbox/stats").json()
    assert stats["duplicate_source_ids"] == 0


@pytest.mark.slow
def test_scheduled_cycles_never_overlap_and_stop_cleanly(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    # Cycles due every 1.2 s, each made slower than that by slow progress answers.
    config = _config(tmp_path, sandbox, every_minutes=0.02)
    fault = {"operation": "GetProgress", "mode": "delay", "seconds": 0.05, "count": 10_000}
    httpx.post(sandbox.url + "/_sandbox/faults", json=fault).raise_for_status()
    env = {**os.environ, "LABRIDGE_PASSWORD": "sandbox"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "labridge", "run", "--create", "--config", str(config)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")))  # type: ignore[union-attr]
    reader.start()
    deadline = time.monotonic() + 120
    while sum("cycle finished" in line for line in lines) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    reader.join(timeout=10)
    proc.stderr.close()  # type: ignore[union-attr]
    err = "".join(lines)
    events = re.findall(r"cycle (started|finished)", err)
    assert events.count("finished") >= 2, err[-2000:]
    # Strictly alternating: a cycle never starts while another runs.
    assert all(a != b for a, b in pairwise(events)), events
    assert "scheduled: every 0.02 minutes" in err
    second = subprocess.run(
        [sys.executable, "-m", "labridge", "run", "--once", "--config", str(config)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "already running" not in second.stderr  # the first one's lock went with it
