"""The sandbox clock and ``/_sandbox/clock``: moving "now" on for sessions, enrolment times and
progress alike, on top of the clock a test injects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.applications import Starlette

from labridge.sandbox.clock import MAX_OFFSET, BadAdvance, SandboxClock
from labridge.sandbox.db import SandboxDB

from .conftest import LA, ManualClock
from .learners import la_client, learner, stats
from .progress_checks import advance, clock_call

# -- the endpoint ------------------------------------------------------------------------------


async def test_the_clock_starts_at_the_injected_clock(app: Starlette, clock: ManualClock) -> None:
    response = await clock_call(app)
    assert response.status_code == 200
    assert response.json() == {"now": clock.now.isoformat(), "offset_days": 0}


async def test_advancing_moves_now_and_adds_up(app: Starlette, clock: ManualClock) -> None:
    assert await advance(app, 1.5) == {
        "now": (clock.now + timedelta(days=1.5)).isoformat(),
        "offset_days": 1.5,
    }
    assert (await advance(app, 0))["offset_days"] == 1.5
    assert (await advance(app, 88.5))["offset_days"] == 90
    assert (await clock_call(app)).json()["offset_days"] == 90


async def test_the_offset_rides_on_the_injected_clock(app: Starlette, clock: ManualClock) -> None:
    await advance(app, 2)
    clock.advance(minutes=5)
    now = datetime.fromisoformat((await clock_call(app)).json()["now"])
    assert now == clock.now + timedelta(days=2)


@pytest.mark.parametrize(
    "payload",
    [
        {"advance_days": -1},
        {"advance_days": -0.001},
        {"advance_days": "3"},
        {"advance_days": True},
        {"advance_days": None},
        {"advance_days": [1]},
        {"advance_days": MAX_OFFSET.days + 1},
        {},
        {"days": 1},
        {"advance_days": 1, "also": 2},
        [1],
        3,
    ],
    ids=repr,
)
async def test_a_bad_request_is_refused_and_moves_nothing(app: Starlette, payload: Any) -> None:
    response = await clock_call(app, payload)
    assert response.status_code == 400
    assert response.json()["error"].startswith("cannot move the clock: ")
    assert (await clock_call(app)).json()["offset_days"] == 0


@pytest.mark.parametrize("content", ["", "not json", '{"advance_days": NaN}', '{"advance_days": '])
async def test_a_body_that_is_not_a_json_number_is_refused(app: Starlette, content: str) -> None:
    response = await clock_call(app, content=content)
    assert response.status_code == 400
    assert "error" in response.json()
    assert (await clock_call(app)).json()["offset_days"] == 0


async def test_the_clock_may_not_be_moved_past_its_limit_in_all(app: Starlette) -> None:
    await advance(app, MAX_OFFSET.days)
    response = await clock_call(app, {"advance_days": 1})
    assert response.status_code == 400
    assert "in all" in response.json()["error"]
    assert (await clock_call(app)).json()["offset_days"] == MAX_OFFSET.days


def test_the_clock_never_goes_back() -> None:
    clock = SandboxClock(lambda: datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(BadAdvance, match="only moves forward"):
        clock.advance(timedelta(seconds=-1))
    assert clock.offset == timedelta()


def test_a_naive_base_clock_is_taken_as_utc() -> None:
    clock = SandboxClock(lambda: datetime(2026, 1, 1, 12, 0))
    clock.advance(timedelta(hours=1))
    assert clock() == datetime(2026, 1, 1, 13, 0, tzinfo=UTC)


# -- what the clock moves ----------------------------------------------------------------------


async def test_advancing_a_day_expires_sessions(app: Starlette, la: LA) -> None:
    token = await la.authenticate()
    await la.call("GetTrainers", token)
    await advance(app, 1)
    fault = la.fault(await la.send("GetTrainers", None, token))
    assert fault.faultstring.startswith("Authentication failed: session expired")


async def test_twenty_nine_minutes_on_a_session_still_lives(app: Starlette, la: LA) -> None:
    token = await la.authenticate()
    await advance(app, 29 / (24 * 60))
    await la.call("GetTrainers", token)


async def test_the_labridge_client_logs_in_again_by_itself(app: Starlette) -> None:
    async with la_client(app) as client:
        await client.get_trainers()
        assert client.logins == 1
        await advance(app, 1)
        trainers = await client.get_trainers()
        assert client.logins == 2
    assert trainers
    assert (await stats(app))["calls"]["Authenticate"] == 2


async def test_enrolment_times_come_from_the_sandbox_clock(
    app: Starlette, db: SandboxDB, clock: ManualClock
) -> None:
    await advance(app, 10)
    async with la_client(app) as client:
        response = await client.group_enrolment(learner(), send_login_details=True)
    moved = clock.now + timedelta(days=10)
    fields = db.candidate_fields(response.candidate_uuid)
    assert fields is not None
    assert datetime.fromisoformat(str(fields["created_at"])) == moved
    [mail] = db.welcome_emails(response.candidate_uuid)
    assert mail.sent_at == moved
    assert mail.expires_at == moved + timedelta(hours=24)
