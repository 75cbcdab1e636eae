"""Tests of the client's token state machine (labridge.session), driven by a clock we advance."""

from __future__ import annotations

import pytest

from labridge.models import Token
from labridge.session import RENEW_MARGIN, SESSION_LIFETIME, Session

from .conftest import ManualClock

TOKEN = Token(id="1000000001", uuid="A-UUID")
OTHER = Token(id="1000000002", uuid="B-UUID")

#: The idle time after which the session gives up its token (LA's 30 minutes less the margin).
RENEW_AT = SESSION_LIFETIME - RENEW_MARGIN


@pytest.fixture
def session(client_clock: ManualClock) -> Session:
    return Session(clock=client_clock)


def test_a_new_session_has_no_token(session: Session) -> None:
    assert session.usable() is None
    assert session.generation == 0


def test_a_login_makes_the_token_usable(session: Session) -> None:
    session.logged_in(TOKEN)

    assert session.usable() == TOKEN


def test_the_token_is_usable_until_just_before_the_margin(
    session: Session, client_clock: ManualClock
) -> None:
    session.logged_in(TOKEN)
    client_clock.advance(RENEW_AT - 0.001)

    assert session.usable() == TOKEN


def test_the_token_is_given_up_at_the_margin_before_la_expires_it(
    session: Session, client_clock: ManualClock
) -> None:
    session.logged_in(TOKEN)
    client_clock.advance(RENEW_AT)

    assert session.usable() is None
    assert session.token is None  # forgotten, so the next call logs in


def test_the_margin_is_one_minute_of_la_s_thirty() -> None:
    # docs/contract.md §2: the token lives 30 minutes; the client renews a minute early.
    assert SESSION_LIFETIME == 30 * 60
    assert RENEW_MARGIN == 60


def test_a_success_slides_the_expiry(session: Session, client_clock: ManualClock) -> None:
    session.logged_in(TOKEN)
    client_clock.advance(RENEW_AT - 1)
    session.succeeded()
    client_clock.advance(RENEW_AT - 1)

    assert session.usable() == TOKEN


def test_without_a_success_the_same_idle_time_expires_the_token(
    session: Session, client_clock: ManualClock
) -> None:
    session.logged_in(TOKEN)
    client_clock.advance(RENEW_AT - 1)
    session.usable()  # looking at the token is not a call: it does not slide the expiry
    client_clock.advance(RENEW_AT - 1)

    assert session.usable() is None


def test_a_success_repeating_the_token_keeps_it(session: Session) -> None:
    session.logged_in(TOKEN)
    session.succeeded(Token(id=TOKEN.id, uuid=TOKEN.uuid))

    assert session.usable() == TOKEN


def test_a_success_carrying_a_new_token_adopts_it(session: Session) -> None:
    session.logged_in(TOKEN)
    session.succeeded(OTHER)

    assert session.usable() == OTHER


def test_a_success_does_not_revive_a_forgotten_token(session: Session) -> None:
    session.logged_in(TOKEN)
    session.rejected(TOKEN)
    session.succeeded(OTHER)  # a late answer to a call made before the rejection

    assert session.usable() is None


def test_rejected_forgets_the_current_token(session: Session) -> None:
    session.logged_in(TOKEN)
    session.rejected(TOKEN)

    assert session.usable() is None


def test_rejected_keeps_a_newer_token(session: Session) -> None:
    # Two calls fail with TOKEN; the first one's re-login already replaced it with OTHER.
    session.logged_in(TOKEN)
    session.logged_in(OTHER)
    session.rejected(TOKEN)

    assert session.usable() == OTHER


def test_each_login_bumps_the_generation(session: Session) -> None:
    session.logged_in(TOKEN)
    session.logged_in(OTHER)

    assert session.generation == 2


def test_successes_and_rejections_leave_the_generation_alone(session: Session) -> None:
    session.logged_in(TOKEN)
    session.succeeded(OTHER)
    session.rejected(OTHER)

    assert session.generation == 1


def test_expiry_leaves_the_generation_alone(session: Session, client_clock: ManualClock) -> None:
    session.logged_in(TOKEN)
    client_clock.advance(SESSION_LIFETIME)
    session.usable()

    assert session.generation == 1


def test_the_token_is_kept_out_of_the_repr(session: Session) -> None:
    session.logged_in(TOKEN)

    assert TOKEN.uuid not in repr(session)
