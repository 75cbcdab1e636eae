"""The client against the real sandbox app, in-process (docs/architecture.md, "Tests run real
things").

The client's clock (seconds) and the sandbox's clock (UTC) are separate values the tests advance, so
that either side's idea of the 30-minute session (docs/contract.md §2) can run ahead of the other's.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import httpx
import pytest
from starlette.applications import Starlette

from labridge.client import AsyncClient, Client
from labridge.errors import AuthenticationError
from labridge.sandbox import seed

from .conftest import (
    BASE_URL,
    PASSWORD,
    USERNAME,
    ManualClock,
    SandboxClock,
    sandbox_calls,
    sandbox_calls_sync,
)

LISTED_STATUSES = {"Active", "BreakInLearning"}  # what GetCandidates lists by default
CARE_QAN = seed.course_by_key("ST0005").qan  # Adult Care Worker Level 2
WRONG_PASSWORD = "Wr0ng&Pa55<pw>"


def idle(minutes: float, *clocks: ManualClock | SandboxClock) -> None:
    for clock in clocks:
        clock.advance(minutes=minutes)


# --- logging in ----------------------------------------------------------------------------------


async def test_the_client_logs_in_only_when_first_called(
    client: AsyncClient, sandbox_app: Starlette
) -> None:
    assert client.logins == 0
    assert (await sandbox_calls(sandbox_app))["Authenticate"] == 0

    await client.get_trainers()

    assert client.logins == 1
    assert (await sandbox_calls(sandbox_app))["Authenticate"] == 1


async def test_later_calls_reuse_the_token(client: AsyncClient, sandbox_app: Starlette) -> None:
    await client.get_trainers()
    await client.get_companies()
    await client.get_ethnicities()

    assert client.logins == 1
    assert (await sandbox_calls(sandbox_app))["Authenticate"] == 1


async def test_a_wrong_password_is_an_authentication_error_that_hides_it(
    sandbox_app: Starlette,
) -> None:
    transport = httpx.ASGITransport(app=sandbox_app)
    async with AsyncClient(BASE_URL, USERNAME, WRONG_PASSWORD, transport=transport) as client:
        with pytest.raises(AuthenticationError) as raised:
            await client.get_trainers()

    message = str(raised.value)
    assert USERNAME in message
    assert "LABRIDGE_PASSWORD" in message  # says what to check
    assert WRONG_PASSWORD not in message
    assert WRONG_PASSWORD not in repr(raised.value.args)
    assert (await sandbox_calls(sandbox_app))["GetTrainers"] == 0


async def test_the_password_never_reaches_the_logs(
    sandbox_app: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    transport = httpx.ASGITransport(app=sandbox_app)
    async with AsyncClient(BASE_URL, USERNAME, PASSWORD, transport=transport) as client:
        await client.get_trainers()
    async with AsyncClient(BASE_URL, USERNAME, WRONG_PASSWORD, transport=transport) as client:
        with pytest.raises(AuthenticationError):
            await client.get_trainers()

    assert caplog.records  # the exchange was logged...
    assert PASSWORD not in caplog.text  # ...without the password, right or wrong
    assert WRONG_PASSWORD not in caplog.text


# --- typed methods return the seeded records -----------------------------------------------------


async def test_get_frameworks_lists_every_course_with_its_units(client: AsyncClient) -> None:
    frameworks = {f.course_uuid: f for f in await client.get_frameworks()}

    assert set(frameworks) == {seed.course_uuid(course.key) for course in seed.COURSES}
    for course in seed.COURSES:
        framework = frameworks[seed.course_uuid(course.key)]
        assert (framework.name, framework.qan, framework.level, framework.active) == (
            course.name,
            course.qan,
            course.level,
            course.active,
        )
        assert {(u.reference, u.name, u.mandatory) for u in framework.units} == {
            (u.reference, u.name, u.mandatory) for u in course.units
        }
        assert {u.unit_uuid for u in framework.units} == {
            seed.unit_uuid(course.key, u.reference) for u in course.units
        }


async def test_get_trainers_lists_the_active_trainers_with_their_roles(
    client: AsyncClient,
) -> None:
    trainers = await client.get_trainers()

    assert {t.trainer_uuid: (t.is_assessor, t.is_verifier) for t in trainers} == {
        t.uuid: (t.is_assessor, t.is_verifier) for t in seed.TRAINERS if t.active
    }
    assert {(t.forename, t.surname, t.email) for t in trainers} == {
        (t.forename, t.surname, t.email) for t in seed.TRAINERS if t.active
    }


async def test_get_nationalities_lists_the_gov_uk_list(client: AsyncClient) -> None:
    nationalities = await client.get_nationalities()

    assert [(n.nationality_id, n.name) for n in nationalities] == seed.nationality_records()


async def test_get_ethnicities_lists_the_nineteen_ilr_groups(client: AsyncClient) -> None:
    ethnicities = await client.get_ethnicities()

    assert len(ethnicities) == 19
    assert [(e.ethnicity_id, e.name) for e in ethnicities] == [
        (eid, name) for eid, name, _ in seed.ethnicity_records()
    ]


async def test_get_companies_lists_every_employer(client: AsyncClient) -> None:
    companies = {c.company_uuid: c for c in await client.get_companies()}

    assert {(c.name, c.postcode, c.contact_email) for c in companies.values()} == {
        (c.name, c.postcode, c.contact_email) for c in seed.COMPANIES
    }
    assert set(companies) == {c.uuid for c in seed.COMPANIES}


async def test_get_candidates_lists_the_learners_on_programme(client: AsyncClient) -> None:
    candidates = await client.get_candidates()

    assert {c.candidate_uuid for c in candidates} == {
        s.uuid for s in seed.CANDIDATES if s.status in LISTED_STATUSES
    }
    olivia = next(c for c in candidates if c.source_id == "MIS-000123")
    assert (olivia.forename, olivia.surname, olivia.status) == ("Olivia", "Hartley", "Active")
    assert olivia.course_uuid == seed.course_uuid("ST0070")
    assert olivia.company_uuid == seed.company_uuid("Castlegate Accountants LLP")


async def test_get_candidates_by_course_qan_filters(client: AsyncClient) -> None:
    candidates = await client.get_candidates(CARE_QAN)

    expected = {
        s.uuid
        for s in seed.CANDIDATES
        if seed.course_by_key(s.course).qan == CARE_QAN and s.status in LISTED_STATUSES
    }
    assert expected  # the seed has someone on this course
    assert {c.candidate_uuid for c in candidates} == expected
    assert {c.course_qan for c in candidates} == {CARE_QAN}


# --- the 30-minute sliding session ---------------------------------------------------------------


async def test_calls_inside_the_idle_window_keep_the_session_alive(
    client: AsyncClient, client_clock: ManualClock, sandbox_clock: SandboxClock
) -> None:
    await client.get_trainers()
    for _ in range(3):  # 84 minutes in all, never 29 idle
        idle(28, client_clock, sandbox_clock)
        await client.get_trainers()

    assert client.logins == 1


async def test_the_client_logs_in_again_before_the_idle_expiry(
    client: AsyncClient,
    client_clock: ManualClock,
    sandbox_clock: SandboxClock,
    sandbox_app: Starlette,
) -> None:
    await client.get_trainers()
    idle(29.5, client_clock, sandbox_clock)  # LA would still take the token, for 30 seconds

    await client.get_trainers()

    assert client.logins == 2
    calls = await sandbox_calls(sandbox_app)
    assert calls["Authenticate"] == 2
    assert calls["GetTrainers"] == 2  # no call was spent on an authentication fault


async def test_a_token_la_expired_is_replaced_once_and_the_call_repeated(
    client: AsyncClient, sandbox_clock: SandboxClock, sandbox_app: Starlette
) -> None:
    await client.authenticate()
    idle(31, sandbox_clock)  # only LA's clock: the client still believes in its token

    trainers = await client.get_trainers()

    assert trainers
    assert client.logins == 2
    calls = await sandbox_calls(sandbox_app)
    assert calls["GetTrainers"] == 2  # refused, then repeated with the new token
    assert calls["Authenticate"] == 2


async def test_re_authentication_happens_once_then_fails(
    client: AsyncClient, sandbox_clock: SandboxClock, sandbox_app: Starlette
) -> None:
    sandbox_clock.step = timedelta(minutes=31)  # every token has expired by its next use

    with pytest.raises(AuthenticationError) as raised:
        await client.get_trainers()

    assert "Authentication failed" in str(raised.value)
    assert client.logins == 2
    calls = await sandbox_calls(sandbox_app)
    assert calls["Authenticate"] == 2
    assert calls["GetTrainers"] == 2


# --- concurrency ---------------------------------------------------------------------------------


async def test_concurrent_first_calls_log_in_once(
    client: AsyncClient, sandbox_app: Starlette
) -> None:
    results = await asyncio.gather(*(client.get_trainers() for _ in range(20)))

    assert all(results)
    assert client.logins == 1
    calls = await sandbox_calls(sandbox_app)
    assert calls["Authenticate"] == 1
    assert calls["GetTrainers"] == 20


async def test_concurrent_calls_with_a_wrong_password_try_it_once(
    sandbox_app: Starlette,
) -> None:
    transport = httpx.ASGITransport(app=sandbox_app)
    async with AsyncClient(BASE_URL, USERNAME, WRONG_PASSWORD, transport=transport) as client:
        results = await asyncio.gather(
            *(client.get_trainers() for _ in range(20)), return_exceptions=True
        )

    assert all(isinstance(result, AuthenticationError) for result in results)
    # LA may lock an account after a few failed logins: one refusal answers every waiting call.
    assert (await sandbox_calls(sandbox_app))["Authenticate"] == 1


async def test_concurrent_calls_after_la_expired_the_token_log_in_once_more(
    client: AsyncClient, sandbox_clock: SandboxClock, sandbox_app: Starlette
) -> None:
    await client.authenticate()
    idle(31, sandbox_clock)

    results = await asyncio.gather(*(client.get_trainers() for _ in range(20)))

    assert all(results)
    assert client.logins == 2
    assert (await sandbox_calls(sandbox_app))["Authenticate"] == 2


async def test_concurrent_calls_after_the_idle_margin_log_in_once_more(
    client: AsyncClient,
    client_clock: ManualClock,
    sandbox_clock: SandboxClock,
    sandbox_app: Starlette,
) -> None:
    await client.authenticate()
    idle(29.5, client_clock, sandbox_clock)

    results = await asyncio.gather(*(client.get_trainers() for _ in range(20)))

    assert all(results)
    assert client.logins == 2
    calls = await sandbox_calls(sandbox_app)
    assert calls["Authenticate"] == 2
    assert calls["GetTrainers"] == 20


# --- the synchronous Client ----------------------------------------------------------------------


def test_sync_client_logs_in_lazily_and_fetches(
    sync_client: Client, sandbox_app: Starlette
) -> None:
    assert sync_client.logins == 0

    trainers = sync_client.get_trainers()
    frameworks = sync_client.get_frameworks()

    assert {t.trainer_uuid for t in trainers} == {t.uuid for t in seed.TRAINERS if t.active}
    assert len(frameworks) == len(seed.COURSES)
    assert sync_client.logins == 1
    assert sandbox_calls_sync(sandbox_app)["Authenticate"] == 1


def test_sync_client_filters_candidates_by_course_qan(sync_client: Client) -> None:
    candidates = sync_client.get_candidates(CARE_QAN)

    assert candidates
    assert {c.course_qan for c in candidates} == {CARE_QAN}


def test_sync_client_wrong_password_is_an_authentication_error(sandbox_app: Starlette) -> None:
    transport = httpx.ASGITransport(app=sandbox_app)
    with (
        Client(BASE_URL, USERNAME, WRONG_PASSWORD, transport=transport) as client,
        pytest.raises(AuthenticationError) as raised,
    ):
        client.get_trainers()

    assert USERNAME in str(raised.value)
    assert WRONG_PASSWORD not in str(raised.value)


def test_sync_client_logs_in_again_before_the_idle_expiry(
    sync_client: Client,
    client_clock: ManualClock,
    sandbox_clock: SandboxClock,
    sandbox_app: Starlette,
) -> None:
    sync_client.get_trainers()
    idle(29.5, client_clock, sandbox_clock)

    sync_client.get_trainers()

    assert sync_client.logins == 2
    assert sandbox_calls_sync(sandbox_app)["GetTrainers"] == 2


def test_sync_client_replaces_a_token_la_expired(
    sync_client: Client, sandbox_clock: SandboxClock, sandbox_app: Starlette
) -> None:
    sync_client.authenticate()
    idle(31, sandbox_clock)

    assert sync_client.get_trainers()
    assert sync_client.logins == 2
    calls = sandbox_calls_sync(sandbox_app)
    assert (calls["Authenticate"], calls["GetTrainers"]) == (2, 2)


def test_sync_client_re_authenticates_once_then_fails(
    sync_client: Client, sandbox_clock: SandboxClock, sandbox_app: Starlette
) -> None:
    sandbox_clock.step = timedelta(minutes=31)

    with pytest.raises(AuthenticationError):
        sync_client.get_trainers()

    assert sandbox_calls_sync(sandbox_app)["Authenticate"] == 2
