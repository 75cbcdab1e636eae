"""Fixtures for the sandbox tests: a real SandboxDB, the real app in-process, a manual clock, and
the same in either dialect (``samples`` or ``coldfusion``, :mod:`labridge.sandbox.dialects`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from labridge import contract as c
from labridge import soap
from labridge.errors import SoapFault
from labridge.models import Token
from labridge.sandbox.app import create_app
from labridge.sandbox.db import SandboxDB
from labridge.sandbox.defaults import Dialect
from labridge.sandbox.server import RunningSandbox, start_background

USERNAME = "web.service@northgate.example"
PASSWORD = "correct horse battery staple"
BASE_URL = "http://sandbox"


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2025, 9, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def db() -> Iterator[SandboxDB]:
    database = SandboxDB("sqlite://")
    yield database
    database.close()


@pytest.fixture
def app(db: SandboxDB, clock: ManualClock) -> Starlette:
    return create_app(db, username=USERNAME, password=PASSWORD, clock=clock, test_hooks=True)


def sandbox_app(dialect: Dialect | str = Dialect.SAMPLES, **kwargs: Any) -> Starlette:
    """A sandbox app speaking ``dialect``, test hooks on; ``kwargs`` go to :func:`create_app`."""
    kwargs.setdefault("test_hooks", True)
    return create_app(dialect=dialect, **kwargs)


def sandbox_runner(dialect: Dialect | str = Dialect.SAMPLES, **kwargs: Any) -> RunningSandbox:
    """A sandbox speaking ``dialect`` on a loopback socket (stop it, or use it with ``with``);
    ``kwargs`` go to :func:`create_app` (``db``, ``clock``, ``username``...)."""
    return start_background(sandbox_app(dialect, **kwargs))


@pytest.fixture
def cf_app(db: SandboxDB, clock: ManualClock) -> Starlette:
    """The ``app`` fixture's sandbox, speaking as ColdFusion does."""
    return sandbox_app(Dialect.COLDFUSION, db=db, username=USERNAME, password=PASSWORD, clock=clock)


@pytest.fixture
async def cf_client(cf_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=cf_app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http


@pytest.fixture
def cf_la(cf_client: httpx.AsyncClient) -> LA:
    """Requests as labridge's codec writes them, to the ColdFusion-dialect sandbox. Its answers
    are read with lxml (labridge's decoder is learning ColdFusion's shapes elsewhere), so only
    :meth:`LA.post` and :meth:`LA.send` apply, and :func:`cf_token` to log in."""
    return LA(cf_client)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http


@dataclass
class LA:
    """Talks to the sandbox the way labridge's codec does, or with hand-written XML."""

    http: httpx.AsyncClient

    async def post(self, path: str, body: bytes | str, **kwargs: Any) -> httpx.Response:
        content = body.encode() if isinstance(body, str) else body
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
        return await self.http.post(path, content=content, headers=headers, **kwargs)

    async def send(
        self, name: str, params: dict[str, Any] | None = None, token: Token | None = None
    ) -> httpx.Response:
        op = c.operation(name)
        body = soap.encode_request(op, params or {}, token)
        return await self.post(c.service_of(name).path, body)

    async def authenticate(self, username: str = USERNAME, password: str = PASSWORD) -> Token:
        response = await self.send("Authenticate", {"szUsername": username, "szPassword": password})
        decoded = soap.decode_response(response.content, c.AUTHENTICATE)
        assert decoded.value == c.YES
        assert decoded.header.token is not None
        return decoded.header.token

    async def call(
        self, name: str, token: Token, params: dict[str, Any] | None = None
    ) -> soap.Response:
        """A call expected to succeed: HTTP 200 and a decoded answer."""
        response = await self.send(name, params, token)
        assert response.status_code == 200, response.text
        return soap.decode_response(response.content, c.operation(name))

    @staticmethod
    def fault(response: httpx.Response, operation: str = "GetTrainers") -> SoapFault:
        """The SOAP fault a response carries (HTTP 500, text/xml); fails the test otherwise."""
        assert response.status_code == 500, response.text
        assert response.headers["content-type"] == "text/xml; charset=utf-8"
        try:
            soap.decode_response(response.content, c.operation(operation))
        except SoapFault as fault:
            return fault
        raise AssertionError(f"no fault in {response.text}")


@pytest.fixture
def la(client: httpx.AsyncClient) -> LA:
    return LA(client)
