"""``--json`` output: one plain streaming writer for every command, and valid JSON even when a
run stops on an error mid-way, with the records it finished and an ``error`` member (issue 9,
points 3 and 7). The aborted run is a real ``labridge`` process against a real sandbox."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from labridge.cli import console
from labridge.sandbox.faults import Fault, Mode
from labridge.sandbox.server import RunningSandbox, free_port

SAMPLE = Path(__file__).parents[2] / "examples" / "learners.csv"
FINE = 30  # enrolments LA answers before it goes down
PERSONAL = ("forename", "surname", "email", "ni_number", "birth_date", "address_line1", "uln")


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABRIDGE_")}
    return env | {
        "LABRIDGE_URL": url,
        "LABRIDGE_USERNAME": "sandbox",
        "LABRIDGE_PASSWORD": "sandbox",
    }


def _command(tmp_path: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "labridge", *args, "--db", str(tmp_path / "store.db")]


def _labridge(url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = _command(tmp_path, *args)
    return subprocess.run(command, env=_env(url), capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_an_enrol_run_that_loses_la_prints_what_it_finished_and_the_error(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """LA answers FINE enrolments, then goes down: the last of them is slow, and the sandbox is
    stopped while it is in flight (it is answered; the next call finds nobody listening)."""
    faults = sandbox.app.state.sandbox.faults
    faults.arm(Fault("GroupEnrolment", Mode.DELAY, 0.0), FINE - 1)  # answered as usual
    faults.arm(Fault("GroupEnrolment", Mode.SLOW_BEFORE_COMMIT, 1.0))
    proc = subprocess.Popen(
        _command(tmp_path, "enrol", str(SAMPLE), "--json", "--concurrency", "1", "--create"),
        env=_env(sandbox.url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not faults.fired().get("GroupEnrolment:slow_before_commit"):
        assert proc.poll() is None, "the run ended before its last enrolment"
        assert time.monotonic() < deadline, "the run never got to its last enrolment"
        time.sleep(0.01)
    sandbox.stop()  # waits for the call in flight, then LA is gone
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 3, stderr
    printed = json.loads(stdout)  # valid JSON, whole
    assert printed["enrolled"] == FINE
    assert sum(r["outcome"] == "enrolled" for r in printed["records"]) == FINE
    error = printed["error"]
    assert error["exit_code"] == 3
    assert error["message"]
    assert error["hint"]
    with SAMPLE.open(encoding="utf-8") as fh:
        learners = list(csv.DictReader(fh))
    shown = json.dumps(error)
    for learner in learners:
        for name in PERSONAL:
            value = learner[name].strip()
            assert len(value) < 4 or value not in shown, f"{name} in the error member"


def test_a_command_that_fails_before_any_record_prints_the_error_as_json(tmp_path: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    done = _labridge(nobody, tmp_path, "sync", "--json")
    assert done.returncode == 3, done.stderr
    error = json.loads(done.stdout)["error"]
    assert error["exit_code"] == 3
    assert error["hint"]
    assert "what to do" in done.stderr  # people still read stderr


def test_print_json_writes_each_record_on_a_line_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every list item is one line (the C encoder's, one call per record: issue 11 point 5
    measures the speed in bench/output.py), objects a member a line, and it reads back whole."""
    records = [
        {"source_id": f"MIS-{i}", "outcome": "would_enrol", "problems": [{"field": "uln"}]}
        for i in range(2_000)
    ]
    data = {"would_enrol": len(records), "records": records, "when": {"at": date(2026, 1, 2)}}
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stream)
    console.print_json(data)
    text = stream.getvalue()
    assert json.loads(text) == json.loads(json.dumps(data, default=str))
    lines = text.splitlines()
    assert lines[:3] == ["{", '  "would_enrol": 2000,', '  "records": [']
    assert (
        lines[3]
        == '    {"source_id": "MIS-0", "outcome": "would_enrol", "problems": [{"field": "uln"}]},'
    )
    assert sum(1 for line in lines if '"source_id"' in line) == 2_000
    assert (
        lines[-4:] == ["  ],", '  "when": {', '    "at": "2026-01-02"', "  }"] or lines[-1] == "}"
    )
    assert lines[-1] == "}"
