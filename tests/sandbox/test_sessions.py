"""The sandbox's session rules (docs/contract.md §2), against a real SandboxDB and a manual
clock."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from labridge.models import Token
from labridge.sandbox.db import SandboxDB
from labridge.sandbox.sessions import SESSION_LIFETIME, SessionRefused, Sessions

from .conftest import ManualClock


@pytest.fixture
def sessions(db: SandboxDB, clock: ManualClock) -> Sessions:
    return Sessions(db, clock)


def test_a_new_token_has_a_decimal_id_and_an_upper_case_uuid4(sessions: Sessions) -> None:
    token = sessions.open("alice")
    assert re.fullmatch(r"[1-9]\d{9}", token.id)
    parsed = uuid.UUID(token.uuid)
    assert parsed.version == 4
    assert token.uuid == str(parsed).upper()


def test_tokens_are_unique(sessions: Sessions) -> None:
    tokens = [sessions.open("alice") for _ in range(50)]
    assert len({t.id for t in tokens}) == 50
    assert len({t.uuid for t in tokens}) == 50


def test_a_token_is_bound_to_its_user(sessions: Sessions) -> None:
    token = sessions.open("alice")
    session = sessions.verify(token)
    assert session.username == "alice"
    assert session.token == token


def test_a_token_is_stored_with_an_expiry_thirty_minutes_ahead(
    sessions: Sessions, db: SandboxDB, clock: ManualClock
) -> None:
    token = sessions.open("alice")
    stored = db.get_session(token.id)
    assert stored is not None
    assert stored[0] == token.uuid
    assert stored[2] == clock.now + timedelta(minutes=30)
    assert timedelta(minutes=30) == SESSION_LIFETIME


def test_missing_token_is_refused(sessions: Sessions) -> None:
    with pytest.raises(SessionRefused, match="no session token"):
        sessions.verify(None)


def test_unknown_token_is_refused(sessions: Sessions) -> None:
    with pytest.raises(SessionRefused, match="unknown session token"):
        sessions.verify(Token(id="1234567890", uuid="0F0F0F0F-0000-4000-8000-000000000000"))


def test_foreign_token_is_refused(sessions: Sessions) -> None:
    mine, theirs = sessions.open("alice"), sessions.open("bob")
    with pytest.raises(SessionRefused, match="does not match"):
        sessions.verify(Token(id=mine.id, uuid=theirs.uuid))


def test_non_ascii_uuid_is_refused_not_crashed(sessions: Sessions) -> None:
    token = sessions.open("alice")
    with pytest.raises(SessionRefused, match="does not match"):
        sessions.verify(Token(id=token.id, uuid="ÉÉÉ-ünïcødé"))


def test_a_token_lives_up_to_just_before_thirty_minutes(
    sessions: Sessions, clock: ManualClock
) -> None:
    token = sessions.open("alice")
    clock.advance(minutes=29, seconds=59)
    assert sessions.verify(token).username == "alice"


def test_a_token_expires_at_thirty_minutes_and_is_forgotten(
    sessions: Sessions, db: SandboxDB, clock: ManualClock
) -> None:
    token = sessions.open("alice")
    clock.advance(minutes=30)
    with pytest.raises(SessionRefused, match="expired"):
        sessions.verify(token)
    assert db.get_session(token.id) is None


def test_renew_slides_the_expiry(sessions: Sessions, clock: ManualClock) -> None:
    token = sessions.open("alice")
    for _ in range(4):  # two hours of calls, never more than 25 minutes apart
        clock.advance(minutes=25)
        sessions.verify(token)
        sessions.renew(token)
    clock.advance(minutes=29)
    sessions.verify(token)
    clock.advance(minutes=1)
    with pytest.raises(SessionRefused, match="expired"):
        sessions.verify(token)


def test_verify_alone_does_not_slide(sessions: Sessions, clock: ManualClock) -> None:
    token = sessions.open("alice")
    clock.advance(minutes=20)
    sessions.verify(token)
    clock.advance(minutes=10)
    with pytest.raises(SessionRefused, match="expired"):
        sessions.verify(token)


def test_a_naive_clock_is_taken_as_utc(db: SandboxDB) -> None:
    naive = ManualClock(datetime(2025, 9, 1, 9, 0))  # naive on purpose
    sessions = Sessions(db, naive)
    token = sessions.open("alice")
    stored = db.get_session(token.id)
    assert stored is not None
    assert stored[2] == datetime(2025, 9, 1, 9, 30, tzinfo=UTC)
    naive.advance(minutes=30)
    with pytest.raises(SessionRefused, match="expired"):
        sessions.verify(token)
