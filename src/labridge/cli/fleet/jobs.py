"""The fleet's jobs on procrastinate: one job per step of a tenant's cycle.

A cycle of a tenant is the steps of ``labridge run`` (:func:`labridge.cli.cycle.steps`: sync;
retention; enrol and update per source; progress pull), each deferred as a job of the task
``labridge.step`` with

- ``lock = "tenant:<name>"``: procrastinate runs no two jobs of one lock at once, and runs them
  in the order they were deferred, so a tenant's steps run one after the other, on whichever
  worker, while other tenants' steps run beside them;
- ``queueing_lock = "tenant:<name>:<step>"``: at most one of each step waits; a cycle deferred
  while the last one's step still waits does not pile up behind a slow or broken tenant.

A step that raises is retried with backoff (``[fleet] retries``, ``retry_wait_seconds``,
doubling), then left failed with its error; a configuration error (a wrong password, a missing
file) is not retried: it will not mend itself. A worker killed mid-step leaves its job
``doing``; another worker finds it by the dead worker's stale heartbeat and runs it again. The
step itself is safe to run again: the enrolment journal holds exactly-once across processes and
machines (docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from procrastinate import App, JobContext, PsycopgConnector
from procrastinate.exceptions import AlreadyEnqueued, ProcrastinateException
from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy, RetryDecision

from ...errors import ConfigurationError, LabridgeError
from .. import cycle
from ..cycle_report import Outcome
from . import limits, state, stores
from .tenants import Fleet, Tenant

log = logging.getLogger("labridge.fleet")

TASK = "labridge.step"
#: A lease on an LA call slot outlives the longest call by this much (limits.HostGate).
LEASE_MARGIN_SECONDS = 15.0
#: What the fleet's status says of a step whose worker died under it.
STALLED_TEXT = "its worker stopped mid-step; another runs it again"
#: What a step counts as needing a person, in its tenant's journal.
ATTENTION = ("invalid", "refused", "uncertain")


@dataclass
class _Running:
    """The fleet a worker process serves (its tenants file, read once at start)."""

    fleet: Fleet | None = None


_current = _Running()


class _Backoff(BaseRetryStrategy):
    """Retry ``retries`` times, waiting ``wait``, then twice that, ...; never a configuration
    error."""

    def __init__(self, retries: int, wait: int) -> None:
        self.retries, self.wait = retries, wait

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if not will_retry(exception, job.attempts, self.retries):
            return None
        return RetryDecision(retry_in={"seconds": self.wait * 2**job.attempts})


def will_retry(exception: BaseException, attempts: int, retries: int) -> bool:
    return attempts < retries and not isinstance(exception, ConfigurationError)


def make_app(fleet: Fleet) -> App:
    """The procrastinate app of ``fleet``, its one task registered."""
    app = App(connector=PsycopgConnector(conninfo=state.conninfo(fleet.database_url)))
    _current.fleet = fleet
    app.task(
        name=TASK,
        pass_context=True,
        retry=_Backoff(fleet.retries, fleet.retry_wait_seconds),
    )(run_step)
    return app


async def prepare(fleet: Fleet, app: App) -> None:
    """Apply procrastinate's schema and the fleet's tables once (any number of processes may
    start at once), and add the tenants new to the fleet."""
    async with state.connect(fleet.database_url) as conn:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(7307985410201314)")
            cur = await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS x")
            row = await cur.fetchone()
            if not (row and row["x"]):
                await conn.execute(app.schema_manager.get_schema())
        await state.ensure_schema(conn)
        await asyncio.to_thread(limits.ensure_schema, fleet.database_url)
        await state.add_tenants(conn, [(t.name, t.la_host) for t in fleet.tenants],
                                datetime.now(UTC))  # fmt: skip


# -- deferring a cycle ----------------------------------------------------------------------------


def next_after(tenant: Tenant, now: datetime) -> datetime:
    """When the tenant's cycle after one starting ``now`` is due: its ``[run] cron`` (in its
    time zone) or ``every_minutes``."""
    fire = cycle.next_cycle(tenant.settings.run, now)
    return fire if fire is not None else now + timedelta(minutes=tenant.settings.run.every_minutes)


async def defer_cycle(app: App, tenant: Tenant) -> list[str]:
    """Defer one cycle of ``tenant``, a job per step; the steps deferred (a step whose job from
    an earlier cycle still waits is left to that one)."""
    names = [name for name, _ in cycle.steps(tenant.settings)]
    cycle_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ-") + uuid.uuid4().hex[:6]
    deferred: list[str] = []
    async with state.connect(_fleet().database_url) as conn:
        for position, name in enumerate(names):
            task = app.configure_task(
                TASK,
                lock=tenant.lock,
                queueing_lock=f"{tenant.lock}:{name}",
                queue=tenant.queue,
            )
            try:
                job_id = await task.defer_async(tenant=tenant.name, step=name, cycle=cycle_id)
            except AlreadyEnqueued:
                log.info("%s: %s still waits from an earlier cycle; not deferred again",
                         tenant.name, name)  # fmt: skip
                continue
            last = position == len(names) - 1
            await state.step_waiting(conn, tenant.name, cycle_id, name, position, last, job_id)
            deferred.append(name)
    return deferred


async def schedule_due(app: App, fleet: Fleet, *, force: bool = False,
                       only: str | None = None) -> dict[str, list[str]]:  # fmt: skip
    """Defer the cycle of every tenant that is due (each due cycle once, however many
    schedulers run: the one that moves ``next_cycle`` on defers it)."""
    now = datetime.now(UTC)
    done: dict[str, list[str]] = {}
    async with state.connect(fleet.database_url) as conn:
        claimed = [
            t for t in fleet.tenants
            if (only is None or t.name == only)
            and await state.claim_cycle(conn, t.name, now, next_after(t, now), force)
        ]  # fmt: skip
    for tenant in claimed:
        done[tenant.name] = await defer_cycle(app, tenant)
    return done


# -- running a step -------------------------------------------------------------------------------


def _fleet() -> Fleet:
    fleet = _current.fleet
    if fleet is None:
        raise ConfigurationError("this process serves no fleet (no tenants file was read)")
    return fleet


async def run_step(context: JobContext, tenant: str, step: str, cycle: str) -> None:
    """The task: run one step of one tenant's cycle, record what happened, raise on failure so
    that procrastinate retries it."""
    fleet = _fleet()
    job = context.job
    who = fleet.tenant(tenant)
    async with state.connect(fleet.database_url) as conn:
        await state.step_running(
            conn, tenant, cycle, step, job.id, job.attempts, context.worker_name
        )
    try:
        outcome, counts = await asyncio.to_thread(_work, fleet, who, step)
    except Exception as exc:
        retrying = will_retry(exc, job.attempts, fleet.retries)
        text = (
            str(exc)
            if isinstance(exc, LabridgeError)
            else f"{type(exc).__name__} (see the worker's log)"
        )
        if not isinstance(exc, LabridgeError):
            log.exception("%s: %s failed unexpectedly", tenant, step)
        else:
            log.error("%s: %s failed: %s", tenant, step, text)
        async with state.connect(fleet.database_url) as conn:
            await state.step_finished(conn, tenant, cycle, step,
                                      "retrying" if retrying else "failed", None, text)  # fmt: skip
        raise
    log.log(logging.WARNING if outcome.warning else logging.INFO, "%s: %s: %s", tenant, step,
            outcome.summary)  # fmt: skip
    async with state.connect(fleet.database_url) as conn:
        await state.step_finished(conn, tenant, cycle, step, "succeeded", outcome.summary, None)
        await state.counted(conn, tenant, *counts)


def _work(fleet: Fleet, tenant: Tenant, step: str) -> tuple[Outcome, tuple[int, int]]:
    """The step itself, in a worker thread: it opens its own store, client and event loop, as
    ``labridge run`` does, with its calls to LA passing the fleet's limit for that LA host."""
    from ..local_store import status

    work = dict(cycle.steps(tenant.settings)).get(step)
    if work is None:
        raise ConfigurationError(
            f"tenant {tenant.name!r} has no step {step!r} any more",
            hint="its sources changed in the tenants file since the cycle was deferred",
        )
    stores.ensure(tenant.store_url, create=fleet.create_stores)
    with _gated(fleet, tenant):
        done = work()
    outcome = done if isinstance(done, Outcome) else Outcome(done)
    states = status(tenant.settings)["enrolments"]
    return outcome, (int(states["enrolled"]), sum(int(states[s]) for s in ATTENTION))


def _gated(fleet: Fleet, tenant: Tenant) -> Any:
    from ...client import using_gate
    from .limits import HostGate

    host_limits = fleet.limits_of(tenant.la_host)
    # A live call never outlives its lease: its deadline, its wait for a start, and a margin.
    lease = (tenant.settings.la.deadline + host_limits.in_flight / host_limits.per_second
             + LEASE_MARGIN_SECONDS)  # fmt: skip
    gate = HostGate.shared(fleet.database_url, tenant.la_host, host_limits, lease)
    return using_gate(gate.gate)


# -- the worker -----------------------------------------------------------------------------------


async def recover_stalled(app: App, fleet: Fleet) -> int:
    """Run again the jobs of workers that stopped beating (killed, their machine gone)."""
    stalled = list(
        await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=fleet.stalled_seconds)
    )
    for job in stalled:
        try:
            await app.job_manager.retry_job(job)
        except ProcrastinateException:
            continue  # another worker put it back first, or it just ended
        args = job.task_kwargs
        log.warning("%s: %s was running on a worker that stopped; it runs again",
                    args.get("tenant"), args.get("step"))  # fmt: skip
        async with state.connect(fleet.database_url) as conn:
            await state.step_finished(
                conn,
                str(args.get("tenant")),
                str(args.get("cycle")),
                str(args.get("step")),
                "retrying",
                None,
                STALLED_TEXT,
            )
    return len(stalled)


async def every(seconds: float, work: Callable[[], Any], stop: asyncio.Event) -> None:
    """Run ``work`` every ``seconds`` until ``stop`` is set; one run under way is never cut
    short (a cycle claimed is deferred whole). A failure is logged, not fatal."""
    while not stop.is_set():
        try:
            await work()
        except (LabridgeError, psycopg.Error, ProcrastinateException) as exc:
            log.error("fleet: %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
