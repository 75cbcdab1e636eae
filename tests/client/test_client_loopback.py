"""The sync client over a real loopback socket, against a sandbox served by uvicorn."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType

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


class _Lookups(MetaPathFinder):
    """Records every module the import system is asked to find (and finds none itself)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        self.names.append(fullname)
        return None


def test_a_call_over_a_socket_searches_no_module(running_sandbox: RunningSandbox) -> None:
    # httpcore looks for sniffio several times a request; when it is not installed, every look
    # is a failed import that walks sys.path (issue 11: ~0.5 ms of CPU a call).
    with Client(running_sandbox.url, USERNAME, PASSWORD, backoff=0, timeout=5) as client:
        client.get_trainers()  # the first call imports what it needs
        lookups = _Lookups()
        sys.meta_path.insert(0, lookups)
        try:
            trainers = client.get_trainers()
        finally:
            sys.meta_path.remove(lookups)
    assert trainers
    assert lookups.names == []
