"""The fleet end to end, as its users run it: a tenants file, ``labridge schedule``, several
``labridge worker`` processes on one PostgreSQL, ``labridge fleet status``; each tenant an LA
centre of its own (a sandbox over loopback)."""

from __future__ import annotations

import itertools
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labridge.sandbox.server import RunningSandbox, start_background

from .conftest import Run, fleet_rows, start, tenants_toml

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
#: examples/learners.csv: 51 rows, 42 enrolled (one is in LA already), 8 invalid.
ENROLLED, IN_LA_ALREADY, INVALID = 42, 1, 8


@pytest.fixture
def centres() -> Iterator[list[RunningSandbox]]:
    with start_background() as a, start_background() as b, start_background() as c:
        yield [a, b, c]


def _file(tmp_path: Path, prefix: str, centres: list[RunningSandbox],
          *more: dict[str, str]) -> Path:  # fmt: skip
    tenants = [{"name": f"centre-{i + 1}", "url": s.url, "source": str(EXAMPLES / "learners.csv")}
               for i, s in enumerate(centres)]  # fmt: skip
    tenants += more
    path = tmp_path / "tenants.toml"
    path.write_text(tenants_toml(prefix, tenants), encoding="utf-8")
    return path


def _status(labridge: Run) -> dict[str, Any]:
    done = labridge("fleet", "status", "--json")
    return dict(json.loads(done.stdout))


@pytest.mark.slow
def test_two_workers_run_each_cycle_once_and_never_two_steps_of_a_tenant(
    tmp_path: Path, fleet_prefix: str, centres: list[RunningSandbox], labridge: Run
) -> None:
    _file(tmp_path, fleet_prefix, centres)
    labridge("tenants", "check", "--create", "--no-doctor", check=True)
    labridge("schedule", "--now", check=True)
    workers = [start(tmp_path, "worker", "--until-empty", "--concurrency", "2") for _ in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err
    for sandbox in centres:
        figures = sandbox.app.state.db.stats()
        assert figures["duplicate_source_ids"] == 0
    status = _status(labridge)
    tenants = status["tenants"]
    assert isinstance(tenants, list)
    assert len(tenants) == 3
    for tenant in tenants:
        assert tenant["last_cycle_ok"] is True, tenant
        assert tenant["learners_enrolled"] == ENROLLED + IN_LA_ALREADY
        assert tenant["needing_attention"] == INVALID
        assert [s["step"] for s in tenant["steps"]] == [
            "sync", "enrol learners.csv", "update learners.csv", "progress pull"]  # fmt: skip
    # A tenant's steps ran one after the other, whichever worker ran them.
    rows = fleet_rows(fleet_prefix, "SELECT tenant, started_at, finished_at FROM "
                      "labridge_fleet_steps ORDER BY tenant, started_at")  # fmt: skip
    for (t1, _, end), (t2, begin, _) in itertools.pairwise(rows):
        if t1 == t2:
            assert begin >= end
    # Both workers had work (the tenants are spread over them).
    names = fleet_rows(fleet_prefix, "SELECT count(DISTINCT worker) FROM labridge_fleet_steps")
    assert names[0][0] == 2
    # A second cycle enrols nobody again.
    labridge("schedule", "--now", check=True)
    labridge("worker", "--until-empty", check=True)
    for sandbox in centres:
        assert sandbox.app.state.db.stats()["duplicate_source_ids"] == 0
    assert all(
        t["learners_enrolled"] == ENROLLED + IN_LA_ALREADY for t in _status(labridge)["tenants"]
    )


@pytest.mark.slow
def test_a_broken_tenant_is_retried_then_failed_with_its_error_and_holds_up_nobody(
    tmp_path: Path, fleet_prefix: str, centres: list[RunningSandbox], labridge: Run
) -> None:
    _file(tmp_path, fleet_prefix, centres[:1], {"name": "gone", "url": "http://127.0.0.1:9"})
    labridge("schedule", "--now", check=True)
    done = labridge("worker", "--until-empty", "--concurrency", "2")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    status = _status(labridge)
    by_name = {t["name"]: t for t in status["tenants"]}
    assert by_name["centre-1"]["last_cycle_ok"] is True, json.dumps(by_name["centre-1"])
    gone = by_name["gone"]
    assert gone["failed"] >= 1
    assert gone["last_success"] is None
    # The cycle went on after the sync failed, as `labridge run`'s does: every step failed.
    assert gone["failed"] == 2
    assert gone["last_error"]["step"] in ("sync", "progress pull")
    assert "cannot reach LA at http://127.0.0.1:9" in gone["last_error"]["error"]
    attempts = fleet_rows(fleet_prefix, "SELECT attempts FROM procrastinate_jobs WHERE lock = "
                          "'tenant:gone' AND status = 'failed'")  # fmt: skip
    assert attempts
    assert attempts[0][0] == 2
    shown = labridge("fleet", "status")
    assert shown.returncode == 1
    assert "gone" in shown.stdout
    assert "Traceback" not in shown.stdout + shown.stderr
    page = labridge("fleet", "report", "-o", "fleet.html", check=True)
    assert "1 failing" in page.stdout
    html = (tmp_path / "fleet.html").read_text(encoding="utf-8")
    assert '<tr class="failing">\n  <td>gone</td>' in html


@pytest.mark.slow
def test_a_worker_killed_mid_enrolment_loses_nothing_and_enrols_nobody_twice(
    tmp_path: Path, fleet_prefix: str, labridge: Run
) -> None:
    with start_background(latency_ms=150) as slow:
        _file(tmp_path, fleet_prefix, [slow])
        labridge("schedule", "--now", check=True)
        first = start(tmp_path, "worker", "--concurrency", "1", "--no-schedule")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            running = fleet_rows(fleet_prefix, "SELECT 1 FROM labridge_fleet_steps WHERE step = "
                                 "'enrol learners.csv' AND status = 'running'")  # fmt: skip
            if running:
                break
            time.sleep(0.2)
        assert running, "the enrol step never started"
        time.sleep(2.0)  # some learners sent, some not
        os.kill(first.pid, signal.SIGKILL)
        first.communicate()
        before = slow.app.state.db.stats()["candidates"]
        done = labridge("worker", "--until-empty", "--no-schedule")
        assert done.returncode == 0, done.stderr
        figures = slow.app.state.db.stats()
        assert figures["duplicate_source_ids"] == 0
        assert figures["candidates"] > before  # the second worker finished the step
        status = _status(labridge)
        tenant = status["tenants"][0]
        assert tenant["last_cycle_ok"] is True
        assert tenant["learners_enrolled"] == ENROLLED + IN_LA_ALREADY
        assert "runs again" in done.stderr


def test_status_before_any_worker_says_what_to_run(
    tmp_path: Path, fleet_prefix: str, labridge: Run
) -> None:
    _file(tmp_path, fleet_prefix, [], {"name": "north", "url": "http://127.0.0.1:9"})
    done = labridge("fleet", "status")
    assert done.returncode == 2
    assert "holds no fleet yet" in done.stderr
    assert "tenants check --create" in done.stderr
    assert "Traceback" not in done.stderr


def test_schedulers_at_once_defer_each_due_cycle_once(
    tmp_path: Path, fleet_prefix: str, labridge: Run
) -> None:
    tenants = [{"name": f"t{i}", "url": "http://127.0.0.1:9"} for i in range(4)]
    _file(tmp_path, fleet_prefix, [], *tenants)
    labridge("tenants", "check", "--create", "--no-doctor")  # the fleet's tables, the stores
    schedulers = [start(tmp_path, "schedule", "--once") for _ in range(3)]
    for scheduler in schedulers:
        _, err = scheduler.communicate(timeout=120)
        assert scheduler.returncode == 0, err
    rows = fleet_rows(fleet_prefix, "SELECT lock, count(*) FROM procrastinate_jobs GROUP BY lock")
    assert sorted(rows) == [(f"tenant:t{i}", 2) for i in range(4)]  # sync and progress pull
    again = labridge("schedule", "--once", check=True)
    assert "no cycle was due" in again.stdout
