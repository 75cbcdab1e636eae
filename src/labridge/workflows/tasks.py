"""Concurrency shared by the workflows: task groups whose failure is the first error itself, a
bound on how many tasks are in flight, and a garbage collector that leaves alone what a long run
started with."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from .. import stopping

_frozen_depth = 0


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Exempt the objects alive on entry from the garbage collector's full collections until the
    (outermost) exit, as :func:`gc.freeze` does; they are collected normally again afterwards.

    A run of thousands of calls makes records that live long enough to reach the oldest
    generation, and every full collection this triggers walks all of the process's objects (the
    store's engine, the models' schemas, the synced records): issue 11 measured 1.5 ms of CPU a
    learner in those collections of a full progress pull, of 7.5. Garbage already there on entry
    waits until the exit to be collected. Runs may nest, or overlap in one event loop: only the
    last to end unfreezes."""
    global _frozen_depth
    if _frozen_depth == 0:
        gc.freeze()
    _frozen_depth += 1
    try:
        yield
    finally:
        _frozen_depth -= 1
        if _frozen_depth == 0:
            gc.unfreeze()


@asynccontextmanager
async def task_group() -> AsyncIterator[asyncio.TaskGroup]:
    """An :class:`asyncio.TaskGroup`: when one task fails the others are cancelled and awaited,
    so nothing is left running; the caller then sees that first failure (a TransportError, say),
    not an ExceptionGroup, so that the CLI maps it to its exit code and hint as usual."""
    try:
        async with asyncio.TaskGroup() as group:
            yield group
    except BaseExceptionGroup as failed:
        raise _first_leaf(failed) from None


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


class Bounded:
    """At most ``limit`` tasks of ``group`` in flight. :meth:`start` waits for a free slot before
    it creates the task, so a long stream of records is not turned into tasks all at once.

    Once a stop is requested (:mod:`labridge.stopping`) no new work starts: :meth:`start` waits
    for the tasks in flight to finish, then raises :class:`~labridge.stopping.StopRequested`
    (raising while they run would make the task group cancel them mid-call)."""

    def __init__(self, group: asyncio.TaskGroup, limit: int) -> None:
        self._group = group
        self._limit = max(1, limit)
        self._slots = asyncio.Semaphore(self._limit)

    async def start(self, work: Coroutine[Any, Any, None], *, stoppable: bool = True) -> None:
        """Start ``work`` once a slot is free. ``stoppable=False``: work already promised (an
        enrolment journalled as going out) starts even after a stop is requested."""
        if stoppable and stopping.requested() is not None:
            await self._stop(work)
        try:
            await self._slots.acquire()
        except BaseException:  # cancelled while waiting: the work never starts, say so cleanly
            work.close()
            raise
        if stoppable and stopping.requested() is not None:
            self._slots.release()
            await self._stop(work)
        task = self._group.create_task(work)
        task.add_done_callback(lambda _: self._slots.release())

    async def check_stop(self) -> None:
        """Before new work is prepared: once a stop is requested, wait for the tasks in flight,
        then raise :class:`~labridge.stopping.StopRequested`."""
        if stopping.requested() is not None:
            await self._stop(None)

    async def _stop(self, work: Coroutine[Any, Any, None] | None) -> None:
        if work is not None:
            work.close()
        for _ in range(self._limit):  # every slot back: nothing of ours is in flight any more
            await self._slots.acquire()
        stopping.check("new work was not started")
