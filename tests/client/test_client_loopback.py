"""The sync client over a real loopback socket, against a sandbox served by uvicorn."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from labridge.client import Client
from labridge.errors import TransportError
from labridge.sandbox import seed
from labridge.sandbox.server import RunningSandbox, start_background

from .conftest import PASSWORD, USERNAME


@pytest.fixture
def running_sandbox() -> Iterator[RunningSandbox]:
    sandbox = start_background(username=USERNAME, password=PASSWORD)
    try:
        yield sandbox
    finally:
        sandbox.stop()
        sandbox.app.state.db.close()


def test_over_a_socket_then_refused_once_the_sandbox_stops(
    running_sandbox: RunningSandbox,
) -> None:
    with Client(running_sandbox.url, USERNAME, PASSWORD, backoff=0, timeout=5) as client:
        trainers = client.get_trainers()
        assert {t.trainer_uuid for t in trainers} == {t.uuid for t in seed.TRAINERS if t.active}

        running_sandbox.stop()
        started = time.monotonic()
        with pytest.raises(TransportError) as raised:
            client.get_trainers()
        elapsed = time.monotonic() - started

    assert elapsed < 2  # refused at once, not left to time out
    assert raised.value.maybe_sent is False
    assert running_sandbox.url in str(raised.value)
    assert "check the LA URL and the network" in str(raised.value)  # says what to do
