"""Fault injection (``/_sandbox/faults``): each mode as labridge's client meets it, in-process and
over a real loopback socket, and whether the work was committed (docs/reliability.md)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from labridge import AsyncClient, TransportError, soap
from labridge import contract as c
from labridge import models as m
from labridge.sandbox.app import create_app
from labridge.sandbox.faults import FAULTS_PATH
from labridge.sandbox.server import RunningSandbox, start_background

from .conftest import BASE_URL, PASSWORD, USERNAME
from .learners import arm, la_client, learner, sandbox_get, stats

SOURCE_ID = "MIS-900001"


async def enrolled_ids(client: AsyncClient) -> list[str]:
    """CandidateUUIDs LA holds for the test learner."""
    return [x.candidate_uuid for x in await client.get_candidates() if x.source_id == SOURCE_ID]


async def armed(app: Starlette, **fault: Any) -> None:
    response = await arm(app, **fault)
    assert response.status_code == 200, response.text


def _authenticate_body() -> bytes:
    params = {"szUsername": USERNAME, "szPassword": PASSWORD}
    return soap.encode_request(c.AUTHENTICATE, params, None)


AUTH_PATH = c.service_of("Authenticate").path


# -- fail_before -------------------------------------------------------------------------------


async def test_fail_before_answers_503_and_enrols_nobody(app: Starlette) -> None:
    await armed(app, operation="GroupEnrolment", mode="fail_before")
    async with la_client(app) as client:
        with pytest.raises(TransportError) as raised:
            await client.group_enrolment(learner())
        assert raised.value.maybe_sent  # a 503 cannot prove the write did not happen
        assert "503" in str(raised.value)
        assert await enrolled_ids(client) == []
        again = await client.group_enrolment(learner())  # the fault was used up
        assert await enrolled_ids(client) == [again.candidate_uuid]
    figures = await stats(app)
    assert figures["calls"]["GroupEnrolment"] == 1  # the refused call did nothing, not even count
    assert figures["faults_fired"] == {"GroupEnrolment:fail_before": 1}


async def test_a_read_that_meets_fail_before_is_retried_by_the_client(app: Starlette) -> None:
    await armed(app, operation="GetTrainers", mode="fail_before", count=2)
    async with la_client(app) as client:
        assert await client.get_trainers()
    assert (await stats(app))["faults_fired"] == {"GetTrainers:fail_before": 2}


# -- drop_after_commit -------------------------------------------------------------------------


async def test_drop_after_commit_in_process_is_a_transport_error_after_the_work(
    app: Starlette,
) -> None:
    await armed(app, operation="GroupEnrolment", mode="drop_after_commit")
    async with la_client(app) as client:
        with pytest.raises(TransportError) as raised:
            await client.group_enrolment(learner(), send_login_details=True)
        assert raised.value.maybe_sent
        assert len(await enrolled_ids(client)) == 1  # committed before the drop
    figures = await stats(app)
    assert (figures["welcome_emails"], figures["duplicate_source_ids"]) == (1, 0)


async def test_drop_after_commit_is_an_httpx_transport_error_in_process(app: Starlette) -> None:
    await armed(app, operation="Authenticate", mode="drop_after_commit")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post(AUTH_PATH, content=_authenticate_body())
        assert (await http.post(AUTH_PATH, content=_authenticate_body())).status_code == 200


async def test_an_update_that_meets_a_drop_is_applied(app: Starlette) -> None:
    async with la_client(app) as client:
        cid = (await client.group_enrolment(learner())).candidate_uuid
        await armed(app, operation="UpdateEnrolment", mode="drop_after_commit")
        with pytest.raises(TransportError) as raised:
            await client.update_enrolment(m.EnrolmentUserUpdate(candidate_uuid=cid, surname="Ng"))
        assert raised.value.maybe_sent
        assert [x.surname for x in await client.get_candidates() if x.candidate_uuid == cid] == [
            "Ng"
        ]


# -- over a real socket ------------------------------------------------------------------------


@pytest.fixture
def running(app: Starlette) -> Iterator[RunningSandbox]:
    with start_background(app) as sandbox:
        yield sandbox


def _arm_over_tcp(sandbox: RunningSandbox, **fault: Any) -> None:
    httpx.post(sandbox.url + FAULTS_PATH, json=fault, timeout=5).raise_for_status()


async def test_drop_after_commit_over_tcp_closes_the_connection(running: RunningSandbox) -> None:
    _arm_over_tcp(running, operation="GroupEnrolment", mode="drop_after_commit")
    async with AsyncClient(running.url, USERNAME, PASSWORD, backoff=0) as client:
        with pytest.raises(TransportError) as raised:
            await client.group_enrolment(learner())
        assert raised.value.maybe_sent
        assert "RemoteProtocolError" in str(raised.value)
        assert len(await enrolled_ids(client)) == 1
    _arm_over_tcp(running, operation="Authenticate", mode="drop_after_commit")
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(running.url + AUTH_PATH, content=_authenticate_body(), timeout=5)


async def test_delay_over_tcp_times_the_client_out_after_the_work(
    running: RunningSandbox,
) -> None:
    _arm_over_tcp(running, operation="GroupEnrolment", mode="delay", seconds=1.5)
    async with AsyncClient(running.url, USERNAME, PASSWORD, backoff=0, timeout=0.5) as client:
        await client.authenticate()  # so that only the enrolment meets the short timeout
        started = time.monotonic()
        with pytest.raises(TransportError) as raised:
            await client.group_enrolment(learner())
        assert time.monotonic() - started < 1.4  # the client gave up before the answer came
        assert raised.value.maybe_sent
        assert "ReadTimeout" in str(raised.value)
        assert len(await enrolled_ids(client)) == 1  # yet the learner was enrolled


async def test_delay_in_process_answers_late(app: Starlette) -> None:
    await armed(app, operation="GroupEnrolment", mode="delay", seconds=0.3)
    async with la_client(app) as client:
        await client.authenticate()
        started = time.monotonic()
        response = await client.group_enrolment(learner())
    assert time.monotonic() - started >= 0.3
    assert response.success


# -- arming, listing, clearing -----------------------------------------------------------------


async def test_count_arms_that_many_calls_in_the_order_armed(app: Starlette) -> None:
    await armed(app, operation="GroupEnrolment", mode="fail_before", count=2)
    await armed(app, operation="GroupEnrolment", mode="drop_after_commit")
    listing = (await sandbox_get(app, FAULTS_PATH)).json()["armed"]
    assert listing == [
        {"operation": "GroupEnrolment", "mode": "fail_before", "count": 2},
        {"operation": "GroupEnrolment", "mode": "drop_after_commit", "count": 1},
    ]
    async with la_client(app) as client:
        for _ in range(3):
            with pytest.raises(TransportError):
                await client.group_enrolment(learner())
        assert len(await enrolled_ids(client)) == 1  # only the dropped call did the work
        await client.group_enrolment(learner())
        assert len(await enrolled_ids(client)) == 2
    assert (await sandbox_get(app, FAULTS_PATH)).json() == {"armed": []}


async def test_delete_disarms_every_fault(app: Starlette) -> None:
    await armed(app, operation="GroupEnrolment", mode="fail_before", count=5)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        assert (await http.delete(FAULTS_PATH)).json() == {"armed": []}
    async with la_client(app) as client:
        assert (await client.group_enrolment(learner())).success


async def test_faults_belong_to_one_app(app: Starlette) -> None:
    await armed(app, operation="GroupEnrolment", mode="fail_before")
    other = create_app(username=USERNAME, password=PASSWORD, test_hooks=True)
    try:
        async with la_client(other) as client:
            assert (await client.group_enrolment(learner())).success
    finally:
        other.state.db.close()
    assert len((await sandbox_get(app, FAULTS_PATH)).json()["armed"]) == 1


@pytest.mark.parametrize(
    ("payload", "complaint"),
    [
        ({"operation": "Enrol", "mode": "fail_before"}, "not an LA operation"),
        ({"operation": "GroupEnrolment", "mode": "explode"}, "mode must be one of"),
        ({"operation": "GroupEnrolment", "mode": "fail_before", "count": 0}, "count"),
        ({"operation": "GroupEnrolment", "mode": "fail_before", "count": True}, "count"),
        ({"operation": "GroupEnrolment", "mode": "delay"}, "seconds"),
        ({"operation": "GroupEnrolment", "mode": "delay", "seconds": 3600}, "between"),
        (["GroupEnrolment"], "JSON object"),
    ],
)
async def test_a_fault_the_sandbox_cannot_arm_is_refused(
    app: Starlette, payload: Any, complaint: str
) -> None:
    response = await _post_json(app, payload)
    assert response.status_code == 400
    assert complaint in response.json()["error"]
    assert (await sandbox_get(app, FAULTS_PATH)).json() == {"armed": []}


async def test_a_body_that_is_not_json_is_refused(app: Starlette) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        response = await http.post(FAULTS_PATH, content=b"{not json")
    assert response.status_code == 400


async def _post_json(app: Starlette, payload: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        return await http.post(FAULTS_PATH, json=payload)


# -- slow_before_commit, and random faults from create_app -------------------------------------


async def test_slow_before_commit_over_tcp_does_the_work_after_the_client_gave_up(
    running: RunningSandbox,
) -> None:
    _arm_over_tcp(running, operation="GroupEnrolment", mode="slow_before_commit", seconds=1.0)
    listing = httpx.get(running.url + FAULTS_PATH, timeout=5).json()["armed"]
    assert listing == [
        {"operation": "GroupEnrolment", "mode": "slow_before_commit", "count": 1, "seconds": 1.0}
    ]
    async with AsyncClient(running.url, USERNAME, PASSWORD, backoff=0, timeout=0.3) as client:
        await client.authenticate()
        with pytest.raises(TransportError) as raised:
            await client.group_enrolment(learner())
        assert raised.value.maybe_sent
        assert await enrolled_ids(client) == []  # LA is still to do the work...
        time.sleep(1.0)
        assert len(await enrolled_ids(client)) == 1  # ...and does it after all


async def test_slow_before_commit_needs_seconds(app: Starlette) -> None:
    response = await arm(app, operation="GroupEnrolment", mode="slow_before_commit")
    assert response.status_code == 400
    assert "slow_before_commit needs" in response.json()["error"]


async def test_create_app_random_faults_spare_authenticate() -> None:
    app = create_app(
        username=USERNAME, password=PASSWORD, fail_rate=1.0, fault_seed=1, test_hooks=True
    )
    try:
        async with la_client(app, read_attempts=2) as client:
            with pytest.raises(TransportError, match="503"):
                await client.get_trainers()
            assert client.logins == 1
        assert (await stats(app))["faults_fired"] == {"GetTrainers:fail_before": 2}
    finally:
        app.state.db.close()


def test_create_app_refuses_rates_that_cannot_be() -> None:
    with pytest.raises(ValueError, match="must not exceed 1"):
        create_app(fail_rate=0.5, drop_rate=0.3, slow_rate=0.3, slow_ms=10)
    with pytest.raises(ValueError, match="slow time"):
        create_app(slow_rate=0.1)
