"""``labridge progress pull`` end to end: the real sandbox over loopback, a real store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from labridge.sandbox.app import create_app
from labridge.sandbox.server import RunningSandbox, start_background

from .clienv import invoke

KEYS = {"learners", "changed", "unchanged", "failed", "failures"}


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    # A fixed base clock: the simulated progress is the same on every run.
    base = datetime(2025, 11, 3, 9, 0, tzinfo=UTC)
    la = create_app(clock=lambda: base, test_hooks=True)
    with start_background(la) as running:
        yield running


def pull_json(env: dict[str, str], *extra: str, code: int = 0) -> dict[str, Any]:
    got, out, err = invoke(["progress", "pull", "--create", "--json", *extra], env)
    assert got == code, err
    data: dict[str, Any] = json.loads(out)
    assert set(data) == KEYS
    return data


def hook(sandbox: RunningSandbox, path: str, body: dict[str, Any]) -> None:
    httpx.post(sandbox.url + path, json=body).raise_for_status()


def test_help_lists_progress_pull() -> None:
    code, out, _ = invoke(["progress", "--help"], {})
    assert code == 0
    assert "pull" in out


def test_pull_json_then_nothing_changes_until_the_clock_moves(
    env: dict[str, str], sandbox: RunningSandbox
) -> None:
    first = pull_json(env)
    assert first["learners"] == first["changed"] >= 5
    assert (first["unchanged"], first["failed"], first["failures"]) == (0, 0, [])
    again = pull_json(env)
    assert (again["changed"], again["unchanged"]) == (0, first["learners"])
    hook(sandbox, "/_sandbox/clock", {"advance_days": 60})
    later = pull_json(env)
    assert later["changed"] > 0
    assert later["changed"] + later["unchanged"] == later["learners"]
    full = pull_json(env, "--full", "--concurrency", "2")
    assert full["changed"] > 0  # the outcomes, seen for the first time


def test_pull_runs_up_to_64_in_flight_and_refuses_more(env: dict[str, str]) -> None:
    data = pull_json(env, "--concurrency", "64")
    assert data["learners"] == data["changed"] >= 5
    code, _, err = invoke(["progress", "pull", "--concurrency", "65"], env)
    assert code == 2
    assert "less than or equal to 64" in err


def test_pull_shows_a_table(env: dict[str, str]) -> None:
    code, out, _ = invoke(["progress", "pull", "--create"], env)
    assert code == 0
    assert "Progress pulled from LA" in out
    assert "unchanged" in out


def test_a_failed_learner_is_listed_and_exits_1(
    env: dict[str, str], sandbox: RunningSandbox
) -> None:
    # One call at a time: the first learner meets every 503 the client's four attempts see.
    hook(
        sandbox, "/_sandbox/faults", {"operation": "GetProgress", "mode": "fail_before", "count": 4}
    )
    data = pull_json(env, "--concurrency", "1", code=1)
    assert data["failed"] == 1
    assert data["changed"] == data["learners"] - 1
    (failure,) = data["failures"]
    assert set(failure) == {"candidate_uuid", "source_id", "error"}
    assert "503" in failure["error"]
    code, out, _ = invoke(["progress", "pull", "--create"], env)  # pulled again, and now it works
    assert code == 0
    assert "Learners not pulled" not in out


def test_la_failing_for_every_learner_exits_3_with_a_hint(
    env: dict[str, str], sandbox: RunningSandbox
) -> None:
    fault = {"operation": "GetProgress", "mode": "fail_before", "count": 1000}
    hook(sandbox, "/_sandbox/faults", fault)
    code, out, err = invoke(["progress", "pull", "--create"], env)
    assert code == 3
    assert "Learners not pulled" in out
    assert "LA answered for none of the" in err
    assert "what to do:" in err


def test_pull_into_postgresql(env: dict[str, str], store_url: str) -> None:
    data = pull_json(env, "--db", store_url)
    assert data["learners"] == data["changed"] > 0
