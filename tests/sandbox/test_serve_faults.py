"""Faults for everyone: the fault flags of a real `labridge sandbox serve` process, met over
loopback by labridge's own client, and counted in /_sandbox/stats (issue 7)."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from labridge import AsyncClient, TransportError
from labridge.sandbox.app import STATS_PATH
from labridge.sandbox.server import free_port, serve_process

from .learners import learner

USER = PASSWORD = "sandbox"
SOURCE_ID = "MIS-900001"


def _stats(url: str) -> dict[str, Any]:
    result: dict[str, Any] = httpx.get(url + STATS_PATH, timeout=5).json()
    return result


def _client(url: str, **kw: Any) -> AsyncClient:
    return AsyncClient(url, USER, PASSWORD, backoff=0, **kw)


async def _enrolled(client: AsyncClient) -> int:
    return sum(c.source_id == SOURCE_ID for c in await client.get_candidates())


async def _outcomes(url: str, calls: int) -> list[bool]:
    """Whether each of ``calls`` reads in a row got through (one attempt each)."""
    seen = []
    async with _client(url, read_attempts=1) as client:
        for _ in range(calls):
            try:
                await client.get_trainers()
            except TransportError:
                seen.append(False)
            else:
                seen.append(True)
    return seen


async def test_fail_rate_answers_503_to_everything_but_authenticate() -> None:
    with serve_process("--fail-rate", "1") as url:
        assert await _outcomes(url, 3) == [False] * 3  # yet every one logged in
        figures = _stats(url)
    assert figures["faults_fired"] == {"GetTrainers:fail_before": 3}
    assert "GetTrainers" not in figures["calls"]  # refused before doing anything


async def test_the_same_fault_seed_replays_the_same_faults() -> None:
    runs = []
    for seed in ("7", "7", "8"):
        with serve_process("--fail-rate", "0.5", "--fault-seed", seed) as url:
            runs.append(await _outcomes(url, 24))
            fired = _stats(url)["faults_fired"]
        assert fired == {"GetTrainers:fail_before": runs[-1].count(False)}
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert 0 < runs[0].count(False) < 24


async def test_drop_rate_does_the_work_then_drops_the_connection() -> None:
    with serve_process("--drop-rate", "1") as url:
        async with _client(url) as client:
            with pytest.raises(TransportError) as raised:
                await client.group_enrolment(learner())
        assert raised.value.maybe_sent
        figures = _stats(url)
    assert figures["faults_fired"] == {"GroupEnrolment:drop_after_commit": 1}
    assert figures["candidates"] == figures["calls"]["GroupEnrolment"] + 9  # committed; 9 seeded


async def test_slow_rate_waits_before_the_work_so_it_happens_after_the_client_gave_up() -> None:
    with serve_process("--slow-rate", "1", "--slow-ms", "1500") as url:
        async with _client(url, timeout=0.4) as client:
            await client.authenticate()  # Authenticate is never slowed
            started = time.monotonic()
            with pytest.raises(TransportError) as raised:
                await client.group_enrolment(learner())
            assert time.monotonic() - started < 1.0
            assert raised.value.maybe_sent
        before = _stats(url)["candidates"]
        time.sleep(1.6)  # the sandbox is still to do the work: it does it now
        after = _stats(url)
    assert (before, after["candidates"]) == (9, 10)
    assert after["faults_fired"]["GroupEnrolment:slow_before_commit"] == 1


async def test_latency_and_token_ttl() -> None:
    with serve_process("--latency-ms", "150", "--token-ttl", "1") as url:
        async with _client(url) as client:
            started = time.monotonic()
            await client.get_trainers()
            assert time.monotonic() - started >= 0.3  # Authenticate and the call both wait
            time.sleep(1.2)  # the session lapses on the sandbox's side; the client does not know
            await client.get_trainers()
            assert client.logins == 2  # refused, logged in again, repeated
        figures = _stats(url)
    assert figures["faults_fired"]["GetTrainers:latency"] == 3
    assert figures["faults_fired"]["Authenticate:latency"] == 2


def test_bad_fault_flags_are_refused_with_a_message() -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "labridge", "sandbox", "serve", "--port", str(free_port()),
         "--fail-rate", "0.6", "--drop-rate", "0.6"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "must not exceed 1" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_serve_help_says_authenticate_is_spared() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "labridge", "sandbox", "serve", "--help"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert "except Authenticate" in " ".join(shown.stdout.split())
