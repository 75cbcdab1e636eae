"""AsyncClient's gate (labridge.client.Gate): every HTTP exchange with LA, each retry attempt and
Authenticate too, runs inside it, and the wait there is not part of the call's deadline."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from labridge import TransportError
from labridge.client import AsyncClient, call_gate, using_gate
from labridge.sandbox.app import create_app

from .conftest import BASE_URL, PASSWORD, USERNAME


class Recorded:
    """A gate that waits ``wait`` seconds before letting a call through, and a transport that
    notes, for each request LA receives, whether the gate was held then."""

    def __init__(self, app: Starlette, wait: float = 0.0) -> None:
        self.wait = wait
        self.entered = 0
        self.held = 0
        self.sent_while_held: list[bool] = []
        self.transport = _Watched(httpx.ASGITransport(app=app), self)

    @contextlib.asynccontextmanager
    async def gate(self) -> AsyncIterator[object]:
        await asyncio.sleep(self.wait)
        self.entered += 1
        self.held += 1
        try:
            yield None
        finally:
            self.held -= 1


class _Watched(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, recorded: Recorded) -> None:
        self.inner = inner
        self.recorded = recorded

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.recorded.sent_while_held.append(self.recorded.held > 0)
        return await self.inner.handle_async_request(request)


def _client(recorded: Recorded, **options: Any) -> AsyncClient:
    """A client of the recorded sandbox, every exchange through its gate."""
    return AsyncClient(BASE_URL, USERNAME, PASSWORD, transport=recorded.transport,
                       gate=recorded.gate, **options)  # fmt: skip


def _app(fail_rate: float = 0.0, latency_ms: float = 0.0) -> Starlette:
    return create_app(
        username=USERNAME, password=PASSWORD, fail_rate=fail_rate, latency_ms=latency_ms
    )


async def test_every_exchange_runs_inside_the_gate() -> None:
    recorded = Recorded(_app())
    async with _client(recorded) as client:
        await asyncio.gather(client.get_nationalities(), client.get_trainers())
    assert recorded.entered == 3  # one login (single flight) and the two calls
    assert recorded.sent_while_held == [True, True, True]
    assert recorded.held == 0


async def test_each_retry_attempt_passes_the_gate() -> None:
    recorded = Recorded(_app(fail_rate=1.0))  # every call but Authenticate answers 503
    async with _client(recorded, read_attempts=3, backoff=0) as client:
        with pytest.raises(TransportError):
            await client.get_trainers()
    assert recorded.entered == 1 + 3
    assert all(recorded.sent_while_held)


async def test_the_wait_at_the_gate_is_not_part_of_the_deadline() -> None:
    recorded = Recorded(_app(latency_ms=100), wait=0.4)
    async with _client(recorded, deadline=0.3, read_attempts=1) as client:
        assert await client.get_nationalities()  # 0.5 s per exchange, of which 0.1 s with LA


async def test_using_gate_sets_the_gate_of_a_context() -> None:
    recorded = Recorded(_app())
    assert call_gate.get() is None
    with using_gate(recorded.gate):
        assert call_gate.get() == recorded.gate
        inner = await asyncio.create_task(_seen())  # a task copies the context, as asyncio.run
    assert inner == recorded.gate
    assert call_gate.get() is None


async def _seen() -> object:
    return call_gate.get()
