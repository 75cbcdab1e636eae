"""The bounded starter honours a stop request: the work in flight finishes, nothing new starts."""

from __future__ import annotations

import asyncio
import gc
import signal
import weakref
from collections.abc import Iterator

import pytest

from labridge import stopping
from labridge.workflows.tasks import Bounded, frozen_heap, task_group


@pytest.fixture(autouse=True)
def no_stop_left() -> Iterator[None]:
    stopping.reset()
    yield
    stopping.reset()


async def test_a_stop_lets_the_work_in_flight_finish_and_starts_nothing_new() -> None:
    started: list[int] = []
    finished: list[int] = []

    async def work(i: int) -> None:
        started.append(i)
        await asyncio.sleep(0.05)
        finished.append(i)

    async def run_all() -> None:
        async with task_group() as group:
            bounded = Bounded(group, 2)
            for i in range(10):
                if i == 3:
                    stopping.request_stop(signal.SIGTERM)
                await bounded.start(work(i))

    with pytest.raises(stopping.StopRequested) as raised:
        await run_all()
    assert started == finished == [0, 1, 2]  # in flight: finished, not cancelled
    assert raised.value.exit_code == 143
    assert "stopped by SIGTERM" in str(raised.value)


async def test_without_a_stop_everything_runs() -> None:
    done: list[int] = []

    async def work(i: int) -> None:
        await asyncio.sleep(0)
        done.append(i)

    async with task_group() as group:
        bounded = Bounded(group, 3)
        for i in range(7):
            await bounded.start(work(i))
    assert sorted(done) == list(range(7))


class _Node:
    link: object = None


def test_a_frozen_heap_spares_what_was_there_until_the_last_run_ends() -> None:
    assert gc.get_freeze_count() == 0
    gc.disable()  # no collection of its own between the garbage made and the run's start
    try:
        node = _Node()
        node.link = node  # garbage in a cycle, there on entry
        alive = weakref.ref(node)
        del node
        with frozen_heap():
            frozen = gc.get_freeze_count()
            assert frozen > 0
            with frozen_heap():  # a run inside another
                pass
            assert gc.get_freeze_count() == frozen  # the inner end leaves the outer run's alone
            gc.collect()
            assert alive() is not None
        assert gc.get_freeze_count() == 0
        gc.collect()
        assert alive() is None
    finally:
        gc.enable()


def test_a_frozen_heap_unfreezes_when_the_run_fails() -> None:
    seen: list[int] = []

    def run() -> None:
        with frozen_heap():
            seen.append(gc.get_freeze_count())
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run()
    assert seen[0] > 0
    assert gc.get_freeze_count() == 0
