"""Fixtures of the client tests: clocks we advance by hand, the real sandbox app in-process, and
clients talking to it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette

from labridge.client import AsyncClient, Client
from labridge.sandbox.app import STATS_PATH, create_app

BASE_URL = "http://sandbox"
USERNAME = "northgate-ws"
#: Distinctive (and XML-hostile) so that a leak into a message or a log line is unmistakable.
PASSWORD = "Tr0ub4dor&3<pw>"


class ManualClock:
    """Seconds, like ``time.monotonic``, that move only when the test says so."""

    def __init__(self, start: float = 10_000.0) -> None:
        self.seconds = start

    def __call__(self) -> float:
        return self.seconds

    def advance(self, seconds: float = 0.0, *, minutes: float = 0.0) -> None:
        self.seconds += seconds + minutes * 60


class SandboxClock:
    """UTC time for the sandbox's session rules. It moves when the test says so, and by ``step``
    after every reading (a zero step unless a test wants time to race)."""

    def __init__(self, start: datetime = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)) -> None:
        self.now = start
        self.step = timedelta(0)

    def __call__(self) -> datetime:
        now = self.now
        self.now += self.step
        return now

    def advance(self, *, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


async def sandbox_calls(app: Starlette) -> Counter[str]:
    """How often each operation was called, as the sandbox's stats page reports it."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        response = await http.get(STATS_PATH)
    response.raise_for_status()
    return Counter(response.json()["calls"])


def sandbox_calls_sync(app: Starlette) -> Counter[str]:
    """:func:`sandbox_calls` for tests without an event loop (those of the sync client)."""
    return asyncio.run(sandbox_calls(app))


@pytest.fixture
def client_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sandbox_clock() -> SandboxClock:
    return SandboxClock()


@pytest.fixture
def sandbox_app(sandbox_clock: SandboxClock) -> Iterator[Starlette]:
    app = create_app(username=USERNAME, password=PASSWORD, clock=sandbox_clock, test_hooks=True)
    yield app
    app.state.db.close()


@pytest.fixture
async def client(sandbox_app: Starlette, client_clock: ManualClock) -> AsyncIterator[AsyncClient]:
    transport = httpx.ASGITransport(app=sandbox_app)
    async with AsyncClient(
        BASE_URL, USERNAME, PASSWORD, transport=transport, clock=client_clock
    ) as client:
        yield client


@pytest.fixture
def sync_client(sandbox_app: Starlette, client_clock: ManualClock) -> Iterator[Client]:
    transport = httpx.ASGITransport(app=sandbox_app)
    with Client(BASE_URL, USERNAME, PASSWORD, transport=transport, clock=client_clock) as client:
        yield client
