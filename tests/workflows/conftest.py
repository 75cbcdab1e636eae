"""Fixtures of the workflow tests: a sandbox app in-process (each dialect), a client of it, and a
migrated store on each database the suite runs on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import Message, Receive

from labridge import store
from labridge.client import AsyncClient
from labridge.sandbox.app import create_app


async def read_request(receive: Receive) -> tuple[bytes, Receive]:
    """An ASGI request's whole body, and a ``receive`` that gives the app the same messages
    again (for test harnesses that look at a call before the sandbox does)."""
    messages: list[Message] = []
    while not messages or messages[-1].get("more_body", False):
        messages.append(await receive())
    body = b"".join(m.get("body", b"") for m in messages)

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return body, replay


def client_of(la: Starlette | httpx.AsyncBaseTransport, **options: Any) -> AsyncClient:
    """A client of the sandbox app ``la`` (or through a transport in front of one), with no
    backoff between its retries; ``options`` as :class:`AsyncClient` takes them."""
    transport = la if isinstance(la, httpx.AsyncBaseTransport) else httpx.ASGITransport(app=la)
    return AsyncClient("http://sandbox", "sandbox", "sandbox", backoff=0, transport=transport,
                       **options)  # fmt: skip


@pytest.fixture
def sandbox(dialect: str) -> Starlette:
    """A sandbox app of the test's own, in each dialect, with its test hooks."""
    return create_app(dialect=dialect, test_hooks=True)


@pytest.fixture
async def client(sandbox: Starlette) -> AsyncIterator[AsyncClient]:
    async with client_of(sandbox) as la:
        yield la


@pytest.fixture
def db(store_url: str) -> Iterator[store.Store]:
    """A migrated store on each database the suite runs on (SQLite and PostgreSQL)."""
    opened = store.open_store(store_url)
    yield opened
    opened.close()
