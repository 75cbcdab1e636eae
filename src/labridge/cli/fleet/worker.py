"""``labridge worker`` and ``labridge schedule``: procrastinate workers on the fleet's database,
and the scheduler that defers each tenant's cycle when it is due.

A worker also schedules (unless ``--no-schedule``) and, every few seconds, runs again the jobs of
workers that stopped beating: any number of workers on any number of machines need nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from procrastinate import App

from ... import contract
from ...errors import LabridgeError
from .jobs import TASK, every, make_app, prepare, recover_stalled, schedule_due
from .state import connect
from .tenants import Fleet

log = logging.getLogger("labridge.fleet")

#: Seconds between two looks at the schedule, and at the workers' heartbeats.
TICK_SECONDS = 5.0


def activate_contract(fleet: Fleet) -> None:
    """The one contract of this process: the tenants' ``[contract]`` overrides (the same for
    all, :func:`.tenants.load_fleet` checks)."""
    if fleet.tenants:
        contract.activate(fleet.tenants[0].settings.catalogue())


def _ours_without_traceback(record: logging.LogRecord) -> bool:
    """procrastinate logs a failed job with its traceback; for labridge's own errors (their one
    line says what to do, and the step's line was logged already) the traceback is dropped."""
    if record.exc_info and isinstance(record.exc_info[1], LabridgeError):
        record.exc_info = None
        record.exc_text = None
    return True


async def work(fleet: Fleet, *, concurrency: int, queues: list[str] | None, schedule: bool,
               name: str | None = None, wait: bool = True) -> None:  # fmt: skip
    """Run a worker until SIGTERM/SIGINT (procrastinate's handlers: the steps under way finish
    first) or, with ``wait=False``, until the queue is empty."""
    activate_contract(fleet)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_ours_without_traceback)
    app = make_app(fleet)
    # Each running step holds a thread (its own store, client and event loop).
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=concurrency))
    async with app.open_async():
        await prepare(fleet, app)
        if schedule:  # the cycles due now are queued before the first job is fetched
            await schedule_due(app, fleet)
        stop = asyncio.Event()
        loops: list[Callable[[], Awaitable[object]]] = [lambda: recover_stalled(app, fleet)]
        if schedule:
            loops.append(lambda: schedule_due(app, fleet))
        extra = [asyncio.create_task(every(TICK_SECONDS, loop, stop)) for loop in loops]
        label = name or f"{socket.gethostname()}-{os.getpid()}"
        log.info("worker %s: %d tenants, %d steps at once, queues %s%s", label,
                 len(fleet.tenants), concurrency, ", ".join(queues) if queues else "all",
                 "; scheduling" if schedule else "")  # fmt: skip
        options: dict[str, Any] = {
            "concurrency": concurrency, "queues": queues, "name": label,
            "update_heartbeat_interval": fleet.stalled_seconds / 3,
            "stalled_worker_timeout": fleet.stalled_seconds,
        }  # fmt: skip
        try:
            if wait:
                await app.run_worker_async(wait=True, **options)
            else:
                await _until_empty(app, fleet, queues, options)
        finally:
            stop.set()  # the loops end after the round under way
            await asyncio.gather(*extra, return_exceptions=True)


async def _until_empty(app: App, fleet: Fleet, queues: list[str] | None,
                       options: dict[str, Any]) -> None:  # fmt: skip
    """Work until no job is left to do, due within the minute, on the queues: one worker for
    the whole run (procrastinate's own ``wait=False`` stops at the first moment no job is free
    to fetch, while a tenant's next step may still wait on its lock)."""
    running = asyncio.create_task(app.run_worker_async(wait=True, **options))
    idle = 0
    while not running.done() and idle < 2:
        await asyncio.wait({running}, timeout=1.0)
        idle = 0 if await jobs_left(fleet, queues) else idle + 1
    if not running.done():
        running.cancel()  # procrastinate stops gracefully: nothing is running by now
    with contextlib.suppress(asyncio.CancelledError):
        await running


async def jobs_left(fleet: Fleet, queues: list[str] | None) -> bool:
    """Whether the fleet's queues (or ``queues``) hold a job to do or being done, due now."""
    async with connect(fleet.database_url) as conn:
        cur = await conn.execute(
            "SELECT EXISTS (SELECT 1 FROM procrastinate_jobs WHERE task_name = %s AND "
            "status IN ('todo', 'doing') AND (scheduled_at IS NULL OR scheduled_at <= now() + "
            "interval '1 minute') AND (%s::text[] IS NULL OR queue_name = ANY(%s))) AS left",
            (TASK, queues, queues),
        )
        row = await cur.fetchone()
        return bool(row and row["left"])


async def schedule(fleet: Fleet, *, force: bool, only: str | None) -> dict[str, list[str]]:
    """Defer the due cycles once (``force``: every tenant's, or ``only``'s, now)."""
    activate_contract(fleet)
    app: App = make_app(fleet)
    async with app.open_async():
        await prepare(fleet, app)
        if only is not None:
            fleet.tenant(only)  # a name that is not there is an error, not a silent nothing
        return await schedule_due(app, fleet, force=force, only=only)


async def schedule_forever(fleet: Fleet) -> None:
    activate_contract(fleet)
    app = make_app(fleet)
    async with app.open_async():
        await prepare(fleet, app)
        await every(TICK_SECONDS, lambda: schedule_due(app, fleet), asyncio.Event())
