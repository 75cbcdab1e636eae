"""The fleet-wide limit per LA host (labridge.cli.fleet.limits), measured: real worker processes
against a sandbox over loopback with latency, the limit in a real PostgreSQL database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from labridge.cli.fleet.limits import (
    HostGate,
    HostLimits,
    close_all,
    ensure_schema,
    host_key,
    in_flight_now,
)
from labridge.client import AsyncClient, using_gate
from labridge.errors import ConfigurationError, StoreError
from labridge.sandbox.server import RunningSandbox, start_background

from ..clienv import cli_env, invoke

WORKER = Path(__file__).with_name("gate_worker.py")
PROCESSES = 3
CALLS = 15  # per process, all at once: 45 calls and 3 logins in all
LATENCY_MS = 150

#: For the tests taking ``fleet_db``: the suite's ``database_url``, PostgreSQL only.
on_postgres = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def fleet_db(database_url: str) -> Iterator[str]:
    """The fleet's database (the test's own, dropped after it), its tables made."""
    ensure_schema(database_url)
    yield database_url
    close_all()  # before the database is dropped


@pytest.fixture(scope="module")
def slow_la() -> Iterator[RunningSandbox]:
    """A sandbox over loopback answering every call after LATENCY_MS."""
    with start_background(latency_ms=LATENCY_MS) as running:
        yield running


def unique_host() -> str:
    return f"la-{uuid.uuid4().hex}.test"


def run_workers(
    tmp_path: Path, fleet_db: str, la_url: str, *, gated: bool, **config: Any
) -> list[tuple[float, float]]:
    """Run PROCESSES workers at once; every exchange's (start, end) across all of them."""
    out = tmp_path / f"calls-{uuid.uuid4().hex}.jsonl"
    settings = {
        "database_url": fleet_db,
        "la_url": la_url,
        "host": unique_host(),
        "in_flight": 3,
        "per_second": 1000.0,
        "lease_seconds": 60.0,
        "calls": CALLS,
        "out": str(out),
        "gated": gated,
        "start_at": time.time() + 4.0,  # after every worker has started up
        **config,
    }
    path = tmp_path / f"worker-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(settings))
    workers = [subprocess.Popen([sys.executable, str(WORKER), str(path)]) for _ in range(PROCESSES)]
    for worker in workers:
        assert worker.wait(timeout=120) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    calls = [(line["start"], line["end"]) for line in lines if line["event"] == "call"]
    assert len(calls) == PROCESSES * (CALLS + 1)  # each call and each process's login
    return calls


def most_at_once(calls: list[tuple[float, float]]) -> int:
    """The most intervals overlapping at any moment (an end before a start at the same time)."""
    edges = sorted([(end, -1) for _, end in calls] + [(start, 1) for start, _ in calls])
    now = peak = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak


def most_starts_in_a_second(calls: list[tuple[float, float]]) -> int:
    starts = sorted(start for start, _ in calls)
    return max(sum(1 for s in starts[i:] if s < first + 1.0) for i, first in enumerate(starts))


@on_postgres
def test_calls_in_flight_are_limited_across_processes(
    tmp_path: Path, fleet_db: str, slow_la: RunningSandbox
) -> None:
    gated = run_workers(tmp_path, fleet_db, slow_la.url, gated=True, in_flight=3)
    free = run_workers(tmp_path, fleet_db, slow_la.url, gated=False)
    print(f"in flight at most: gated {most_at_once(gated)}, without a gate {most_at_once(free)}")
    assert most_at_once(gated) == 3  # never more, and the limit is used
    assert most_at_once(free) > 3  # the control: the same workers overrun it without the gate


@on_postgres
def test_calls_per_second_are_limited_across_processes(
    tmp_path: Path, fleet_db: str, slow_la: RunningSandbox
) -> None:
    calls = run_workers(tmp_path, fleet_db, slow_la.url, gated=True, in_flight=20, per_second=10)
    free = run_workers(tmp_path, fleet_db, slow_la.url, gated=False)
    starts = sorted(start for start, _ in calls)
    spread = starts[-1] - starts[0]
    print(
        f"starts in one second at most: gated {most_starts_in_a_second(calls)} "
        f"({len(calls)} calls over {spread:.2f} s), without {most_starts_in_a_second(free)}"
    )
    assert most_starts_in_a_second(calls) <= 10 + 1  # one more: the sleep's overshoot varies
    assert spread >= (len(calls) - 1) / 10 - 0.05  # evenly spaced at 10 a second
    assert most_starts_in_a_second(free) > 11


@on_postgres
def test_a_killed_holder_s_slot_comes_back_after_its_lease(tmp_path: Path, fleet_db: str) -> None:
    host, lease = unique_host(), 3.0
    out = tmp_path / "held.jsonl"
    config = {
        "database_url": fleet_db,
        "host": host,
        "in_flight": 1,
        "per_second": 1000.0,
        "lease_seconds": lease,
        "calls": 1,
        "out": str(out),
        "gated": True,
        "start_at": 0,
    }
    with start_background(latency_ms=5_000) as stuck:  # the login is killed mid-call
        config["la_url"] = stuck.url
        (tmp_path / "held.json").write_text(json.dumps(config))
        worker = subprocess.Popen([sys.executable, str(WORKER), str(tmp_path / "held.json")])
        try:
            taken_at = _wait_for_entry(out, worker)
            time.sleep(0.5)  # LA answers after 5 s: the slot is held mid-call when killed
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
        assert in_flight_now(fleet_db, host) == 1
        gate = HostGate(fleet_db, host, HostLimits(1, 1000.0), lease)

        async def take() -> float:
            async with gate.gate():
                return time.time()

        got_at = asyncio.run(take())
    print(f"a killed holder's slot came back {got_at - taken_at:.2f} s after it was taken")
    assert lease - 0.1 <= got_at - taken_at <= lease + 1.5
    assert in_flight_now(fleet_db, host) == 0


def _wait_for_entry(out: Path, worker: subprocess.Popen[bytes]) -> float:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert worker.poll() is None
        if out.exists() and out.read_text().endswith("\n"):
            return float(json.loads(out.read_text().splitlines()[0])["at"])
        time.sleep(0.05)
    raise AssertionError("the worker never entered the gate")


class Holders:
    """Gates held by tasks of one event loop until released; the peak held at once."""

    def __init__(self) -> None:
        self.now = self.peak = 0

    @contextlib.asynccontextmanager
    async def held(self, gate: HostGate, seconds: float) -> AsyncIterator[None]:
        async with gate.gate():
            self.now += 1
            self.peak = max(self.peak, self.now)
            await asyncio.sleep(seconds)
            self.now -= 1
            yield

    async def run(self, gate: HostGate, calls: int, seconds: float = 0.05) -> int:
        async def one() -> None:
            async with self.held(gate, seconds):
                pass

        await asyncio.gather(*(one() for _ in range(calls)))
        return self.peak


@on_postgres
def test_lowering_in_flight_takes_effect(fleet_db: str) -> None:
    host = unique_host()
    gate = HostGate.shared(fleet_db, host, HostLimits(3, 1000.0), 30.0)
    assert asyncio.run(Holders().run(gate, 9)) == 3
    assert HostGate.shared(fleet_db, host, HostLimits(1, 1000.0), 30.0) is gate
    assert asyncio.run(Holders().run(gate, 5)) == 1
    assert _slots(fleet_db, host) == [0]
    gate.set_limits(HostLimits(2, 1000.0))
    assert asyncio.run(Holders().run(gate, 6)) == 2
    assert _slots(fleet_db, host) == [0, 1]


@on_postgres
def test_two_hosts_are_limited_apart(fleet_db: str) -> None:
    one = HostGate(fleet_db, unique_host(), HostLimits(1, 1000.0), 30.0)
    other = HostGate(fleet_db, unique_host(), HostLimits(1, 1000.0), 30.0)

    async def both() -> tuple[int, int, bool]:
        async with one.gate():
            async with other.gate():  # not held up by the other host's taken slot
                busy = (in_flight_now(fleet_db, one.host), in_flight_now(fleet_db, other.host))
            try:
                await asyncio.wait_for(one.gate().__aenter__(), timeout=0.3)
            except TimeoutError:
                blocked = True
            else:
                blocked = False
        return busy[0], busy[1], blocked

    assert asyncio.run(both()) == (1, 1, True)
    time.sleep(0.2)  # the slot a cancelled wait took, if any, is freed in its thread
    assert in_flight_now(fleet_db, one.host) == 0


@on_postgres
def test_gates_of_threads_with_their_own_loops_share_the_limit(fleet_db: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    host = unique_host()
    holders = [Holders() for _ in range(3)]
    gate = HostGate.shared(fleet_db, host, HostLimits(2, 1000.0), 30.0)
    seen: list[int] = []

    def watch() -> None:
        for _ in range(20):
            seen.append(in_flight_now(fleet_db, host))
            time.sleep(0.02)

    with ThreadPoolExecutor(4) as pool:
        watcher = pool.submit(watch)
        runs = [pool.submit(asyncio.run, h.run(gate, 4, 0.1)) for h in holders]
        peaks = [run.result() for run in runs]
        watcher.result()
    assert max(seen) == 2
    assert all(1 <= peak <= 2 for peak in peaks)


@on_postgres
def test_the_commands_client_takes_the_context_s_gate(
    fleet_db: str, sandbox: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = cli_env(sandbox, tmp_path, monkeypatch)
    gate = HostGate(fleet_db, host_key(sandbox.url), HostLimits(2, 1000.0), 30.0)
    exchanges: list[int] = []

    @contextlib.asynccontextmanager
    async def counted() -> AsyncIterator[object]:
        async with gate.gate() as slot:
            exchanges.append(in_flight_now(fleet_db, gate.host))
            yield slot

    code, _, err = invoke(["sync"], env)
    assert code == 0, err
    assert exchanges == []
    with using_gate(counted):
        code, _, err = invoke(["sync"], env)
    assert code == 0, err
    assert len(exchanges) >= 6  # the login and every set of the sync
    assert 1 <= max(exchanges) <= 2


def test_no_gate_is_today_s_client(slow_la: RunningSandbox) -> None:
    async def calls() -> None:
        async with AsyncClient(slow_la.url, "sandbox", "sandbox") as client:
            assert client._gate is None
            await client.get_nationalities()

    asyncio.run(calls())


def test_an_unreachable_fleet_database_is_a_clear_error() -> None:
    url = "postgresql://fleet:s3cret-pw@127.0.0.1:9/fleet"
    gate = HostGate(url, unique_host(), HostLimits(1, 1.0), 30.0)

    async def take() -> None:
        async with gate.gate():
            pass

    with pytest.raises(StoreError) as caught:
        asyncio.run(take())
    assert "the fleet database postgresql://fleet:***@127.0.0.1:9/fleet" in str(caught.value)
    assert "s3cret" not in str(caught.value) + str(caught.value.hint)


def test_limits_and_urls_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="at least 1"):
        HostLimits(0, 1.0)
    with pytest.raises(ConfigurationError, match="more than 0"):
        HostLimits(1, 0.0)
    with pytest.raises(ConfigurationError, match="not PostgreSQL"):
        HostGate("sqlite:///fleet.db", "h", HostLimits(1, 1.0), 30.0)


def test_host_key() -> None:
    assert host_key("https://api.learningassistant.com") == "api.learningassistant.com"
    assert host_key("https://API.LearningAssistant.com:443/x/") == "api.learningassistant.com"
    assert host_key("http://127.0.0.1:8765/centre-01") == host_key(
        "http://127.0.0.1:8765/centre-02"
    )
    assert host_key("http://127.0.0.1:8765/centre-01") == "127.0.0.1:8765"
    assert host_key("http://user:pw@[::1]:80/c") == "[::1]"


def _slots(fleet_db: str, host: str) -> list[int]:
    url = sa.make_url(fleet_db).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT slot FROM labridge_fleet_slots WHERE host = %s ORDER BY slot", (host,)
        ).fetchall()
    return [int(row[0]) for row in rows]
