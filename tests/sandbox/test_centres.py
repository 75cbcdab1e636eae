"""Many LA centres on one sandbox host (issue 13): centres kept apart, each at its own base URL
that labridge's client takes as it is, and the host's traffic figures in /_sandbox/stats; in
process and from a real ``labridge sandbox serve --centres`` over loopback."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from labridge import AsyncClient
from labridge import contract as c
from labridge.config import clean_url
from labridge.sandbox.app import STATS_PATH, create_app
from labridge.sandbox.centres import centre_file, centre_name, create_centres_app
from labridge.sandbox.server import serve_process
from labridge.sandbox.traffic import Traffic

from .conftest import BASE_URL, LA, PASSWORD, USERNAME
from .learners import la_client, learner, stats

SOURCE_ID = "MIS-900001"


def _centres(count: int, **kwargs: Any) -> Starlette:
    return create_centres_app(count, username=USERNAME, password=PASSWORD, **kwargs)


async def _source_ids(app: Starlette, centre: str) -> list[str]:
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient(
        f"{BASE_URL}/{centre}", USERNAME, PASSWORD, transport=transport, backoff=0
    ) as client:
        return [candidate.source_id for candidate in await client.get_candidates()]


def test_centres_are_named_with_two_digits_and_three_from_100() -> None:
    assert centre_name(3, 12) == "centre-03"
    assert centre_name(12, 12) == "centre-12"
    assert centre_name(3, 100) == "centre-003"
    assert centre_file("/data/la.db", 7, 20) == Path("/data/la-centre-07.db")
    assert centre_file("sandbox", 1, 2) == Path("sandbox-centre-01")


async def test_a_learner_enrolled_in_centre_1_is_not_in_centre_2() -> None:
    app = _centres(2)
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient(
        f"{BASE_URL}/centre-01", USERNAME, PASSWORD, transport=transport, backoff=0
    ) as client:
        answer = await client.group_enrolment(learner())
    assert answer.candidate_uuid
    assert SOURCE_ID in await _source_ids(app, "centre-01")
    assert SOURCE_ID not in await _source_ids(app, "centre-02")
    first, second = (centre.state.db for centre in app.state.centres)
    assert first.stats()["candidates"] == second.stats()["candidates"] + 1


async def test_a_session_of_centre_1_is_unknown_to_centre_2() -> None:
    transport = httpx.ASGITransport(app=_centres(2))
    one = LA(httpx.AsyncClient(transport=transport, base_url=f"{BASE_URL}/centre-01"))
    two = LA(httpx.AsyncClient(transport=transport, base_url=f"{BASE_URL}/centre-02"))
    async with one.http, two.http:
        token = await one.authenticate()
        assert (await one.send("GetTrainers", token=token)).status_code == 200
        refused = await two.send("GetTrainers", token=token)
        assert "unknown session token" in LA.fault(refused).faultstring
        assert (await two.send("GetTrainers", token=await two.authenticate())).status_code == 200


async def test_a_path_outside_every_centre_is_a_404() -> None:
    app = _centres(2)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        user = c.service_of("Authenticate").path
        assert (await http.get(f"/centre-01{user}")).status_code == 200
        for path in (user, f"/centre-03{user}", f"/centre-1{user}", "/centre-01x/", "/nowhere"):
            assert (await http.get(path)).status_code == 404, path


async def test_a_centres_wsdl_gives_its_own_address() -> None:
    app = _centres(3)
    path = c.service_of("Authenticate").path
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        wsdl = await http.get(f"/centre-03{path}?wsdl")
    assert f'location="{BASE_URL}/centre-03{path}"'.encode() in wsdl.content


async def _outcomes(app: Starlette, calls: int) -> list[int]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        la = LA(http)
        token = await la.authenticate()
        return [(await la.send("GetTrainers", token=token)).status_code for _ in range(calls)]


async def test_centre_i_draws_its_faults_from_fault_seed_plus_i() -> None:
    host = _centres(2, fail_rate=0.5, fault_seed=40)
    seen = []
    for centre in host.state.centres:
        seen.append(await _outcomes(centre, 24))
    alone = [
        await _outcomes(create_app(fail_rate=0.5, fault_seed=seed, username=USERNAME,
                                   password=PASSWORD), 24)
        for seed in (40, 41)
    ]  # fmt: skip
    assert seen == alone
    assert seen[0] != seen[1]  # a chance of 2**-24 of failing by luck
    assert {503, 200} <= set(seen[0])


async def test_concurrent_calls_across_centres_are_counted_host_wide() -> None:
    app = _centres(2, latency_ms=200)
    transport = httpx.ASGITransport(app=app)
    clients = [
        httpx.AsyncClient(transport=transport, base_url=f"{BASE_URL}/centre-0{i}") for i in (1, 2)
    ]
    one, two = LA(clients[0]), LA(clients[1])
    tokens = [await one.authenticate(), await two.authenticate()]  # one after the other
    calls = [one.send("GetTrainers", token=tokens[0]) for _ in range(3)]
    calls += [two.send("GetTrainers", token=tokens[1]) for _ in range(2)]
    answers = await asyncio.gather(*calls)
    assert [answer.status_code for answer in answers] == [200] * 5
    await clients[0].get(c.service_of("Authenticate").path + "?wsdl")  # not a call
    for client in clients:
        await client.aclose()
    figures = await stats(app)
    assert figures["centres"] == 2
    assert figures["calls"] == 7
    assert figures["in_flight_peak"] == 5
    assert figures["busiest_second"] >= 5
    first, second = figures["per_centre"]
    assert (first["soap_calls"], first["in_flight_peak"]) == (4, 3)
    assert (second["soap_calls"], second["in_flight_peak"]) == (3, 2)
    assert first["calls"] == {"Authenticate": 1, "GetTrainers": 3}  # the database's counts


async def test_sequential_calls_have_a_peak_of_one() -> None:
    app = _centres(3)
    for centre in ("centre-01", "centre-02", "centre-03"):
        await _source_ids(app, centre)
    figures = await stats(app)
    assert figures["calls"] == 6  # Authenticate and GetCandidates in each
    assert figures["in_flight_peak"] == 1
    assert 2 <= figures["busiest_second"] <= 6  # a centre's two calls came within a second


async def test_a_single_app_reports_the_host_figures_beside_its_own() -> None:
    app = create_app(username=USERNAME, password=PASSWORD, latency_ms=200)
    before = await stats(app)
    async with la_client(app) as client:
        await asyncio.gather(*(client.get_trainers() for _ in range(4)))
    figures = await stats(app)
    assert set(figures) == set(before) >= {"candidates", "calls", "faults_fired"}
    assert (before["soap_calls"], before["in_flight_peak"], before["busiest_second"]) == (0, 0, 0)
    assert figures["soap_calls"] == sum(figures["calls"].values()) >= 5  # some logged in twice
    assert figures["in_flight_peak"] >= 4
    assert 4 <= figures["busiest_second"] <= figures["soap_calls"]


def test_busiest_second_is_the_most_calls_started_within_one_second() -> None:
    now = [0.0]
    traffic = Traffic({"/x"}, clock=lambda: now[0])
    for moment in (0.0, 0.5, 0.9, 1.5, 1.6, 1.7, 1.8, 3.5):
        now[0] = moment
        traffic.started()
        traffic.finished()
    # 0.9, 1.5, 1.6, 1.7, 1.8 started within one second; 0.5 is a second before 1.5.
    assert traffic.figures() == {"calls": 8, "in_flight_peak": 1, "busiest_second": 5}


def test_create_centres_app_refuses_a_shared_database() -> None:
    with pytest.raises(ValueError, match="at least one centre"):
        create_centres_app(0)
    with pytest.raises(ValueError, match="2 database URLs for 3 centres"):
        create_centres_app(3, database_urls=["sqlite://", "sqlite://"])


async def test_serve_centres_over_loopback_answers_labridges_client_at_a_centre() -> None:
    with serve_process("--centres", "3") as url:
        base = clean_url(f"{url}/centre-02{c.service_of('Authenticate').path}?wsdl")
        assert base == f"{url}/centre-02"  # a pasted service address keeps the centre's path
        async with AsyncClient(base, "sandbox", "sandbox", backoff=0) as client:
            assert await client.get_trainers()
        figures = httpx.get(url + STATS_PATH, timeout=5).json()
        assert httpx.get(url + "/centre-04" + STATS_PATH, timeout=5).status_code == 404
    assert figures["centres"] == 3
    assert figures["calls"] == 2  # Authenticate and GetTrainers
    assert [centre["soap_calls"] for centre in figures["per_centre"]] == [0, 2, 0]


def test_serve_centres_with_db_keeps_each_centre_in_a_file_beside_it(tmp_path: Path) -> None:
    with serve_process("--centres", "2", "--db", str(tmp_path / "la.db")) as url:
        assert httpx.get(url + STATS_PATH, timeout=5).json()["centres"] == 2
    assert {"la-centre-01.db", "la-centre-02.db"} <= {p.name for p in tmp_path.iterdir()}
    assert not (tmp_path / "la.db").exists()


def test_serve_centres_refuses_a_database_url_with_a_clear_error() -> None:
    command = [sys.executable, "-m", "labridge", "sandbox", "serve", "--centres", "2"]
    done = subprocess.run(
        [*command, "--db", "postgresql://la@127.0.0.1/la"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    said = " ".join(done.stderr.split())
    assert "--db with --centres takes a file" in said
    assert "--db sandbox.db" in said
    assert "Traceback" not in said
