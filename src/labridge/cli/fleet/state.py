"""What the fleet keeps beside procrastinate's queue, in the fleet's PostgreSQL database.

- ``labridge_fleet_tenants``: per tenant, when its next cycle is due (the schedule: whichever
  scheduler moves it on first defers that cycle, so any number of them defer each cycle once),
  and its learners enrolled and records needing attention, as its last step counted them.
- ``labridge_fleet_steps``: per tenant, cycle and step, what happened: waiting, running,
  retrying, succeeded or failed, with the step's one-line summary or its error. An error is what
  labridge's own errors say (never a learner's data: docs/data-protection.md); an unexpected one
  is its class alone, logged in full by the worker.

Plain psycopg 3 (async), short statements in autocommit: nothing here holds a transaction open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from ... import dburl
from ...errors import StoreError

SCHEMA = """
SELECT pg_advisory_xact_lock(7307985410201313);
CREATE TABLE IF NOT EXISTS labridge_fleet_tenants (
    name text PRIMARY KEY,
    la_host text NOT NULL,
    next_cycle timestamptz,
    cycles integer NOT NULL DEFAULT 0,
    learners_enrolled integer,
    needing_attention integer,
    counted_at timestamptz
);
CREATE TABLE IF NOT EXISTS labridge_fleet_steps (
    id bigserial PRIMARY KEY,
    tenant text NOT NULL,
    cycle text NOT NULL,
    step text NOT NULL,
    position integer NOT NULL,
    last boolean NOT NULL,
    job_id bigint,
    attempts integer NOT NULL DEFAULT 0,
    worker text,
    status text NOT NULL,
    deferred_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    summary text,
    error text,
    UNIQUE (tenant, cycle, step)
);
CREATE INDEX IF NOT EXISTS labridge_fleet_steps_tenant ON labridge_fleet_steps (tenant, id);
"""


def conninfo(url: str) -> str:
    """A libpq connection string from the fleet's database URL (SQLAlchemy's spelling too)."""
    parsed = dburl.parse_url(url, "[fleet] database_url", "postgresql://user@host/db")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def connect(url: str) -> AsyncIterator[psycopg.AsyncConnection[dict[str, Any]]]:
    """An autocommit connection to the fleet's database, or a store error naming it (password
    masked) and what to check."""
    try:
        conn = await psycopg.AsyncConnection.connect(
            conninfo(url), autocommit=True, row_factory=dict_row
        )
    except psycopg.Error as exc:
        raise StoreError(
            f"cannot reach the fleet's database {dburl.shown(url)}: "
            f"{dburl.scrub(exc, dburl.parse_url(url, 'the URL', ''))}",
            hint="check [fleet] database_url (or LABRIDGE_FLEET_DATABASE_URL) and that the "
            "PostgreSQL server is running",
        ) from None
    try:
        async with conn:
            yield conn
    except psycopg.Error as exc:
        raise StoreError(
            f"the fleet's database {dburl.shown(url)} failed: {type(exc).__name__} "
            f"(SQLSTATE {getattr(exc, 'sqlstate', None)})",
            hint="run the command again; if it fails again, check the PostgreSQL server",
        ) from None


async def ensure_schema(conn: psycopg.AsyncConnection[Any]) -> None:
    async with conn.transaction():
        await conn.execute(SCHEMA)


async def add_tenants(conn: psycopg.AsyncConnection[Any], tenants: Sequence[tuple[str, str]],
                      first: datetime) -> None:  # fmt: skip
    """Make the rows of tenants new to the fleet, their first cycle due at ``first``; a tenant's
    LA host is kept up to date."""
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO labridge_fleet_tenants (name, la_host, next_cycle) VALUES (%s, %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET la_host = excluded.la_host",
            [(name, host, first) for name, host in tenants],
        )


async def claim_cycle(conn: psycopg.AsyncConnection[Any], tenant: str, now: datetime,
                      then: datetime, force: bool = False) -> bool:  # fmt: skip
    """Move the tenant's next cycle from due (at or before ``now``) on to ``then``; ``True`` for
    the one caller that did, which defers the cycle. ``force`` claims it even if not due."""
    cur = await conn.execute(
        "UPDATE labridge_fleet_tenants SET next_cycle = %s, cycles = cycles + 1 "
        "WHERE name = %s AND (%s OR next_cycle <= %s) RETURNING name",
        (then, tenant, force, now),
    )
    return (await cur.fetchone()) is not None


async def step_waiting(conn: psycopg.AsyncConnection[Any], tenant: str, cycle: str, step: str,
                       position: int, last: bool, job_id: int | None) -> None:  # fmt: skip
    await conn.execute(
        "INSERT INTO labridge_fleet_steps (tenant, cycle, step, position, last, job_id, status) "
        "VALUES (%s, %s, %s, %s, %s, %s, 'waiting') ON CONFLICT (tenant, cycle, step) DO NOTHING",
        (tenant, cycle, step, position, last, job_id),
    )


async def step_running(conn: psycopg.AsyncConnection[Any], tenant: str, cycle: str, step: str,
                       job_id: int | None, attempts: int, worker: str | None) -> None:  # fmt: skip
    await conn.execute(
        "INSERT INTO labridge_fleet_steps (tenant, cycle, step, position, last, job_id, status, "
        "attempts, worker, started_at) VALUES (%s, %s, %s, 0, false, %s, 'running', %s, %s, "
        "now()) ON CONFLICT (tenant, cycle, step) DO UPDATE SET status = 'running', "
        "started_at = now(), attempts = excluded.attempts, job_id = excluded.job_id, "
        "worker = excluded.worker",
        (tenant, cycle, step, job_id, attempts, worker),
    )


async def step_finished(conn: psycopg.AsyncConnection[Any], tenant: str, cycle: str, step: str,
                        status: str, summary: str | None, error: str | None) -> None:  # fmt: skip
    await conn.execute(
        "UPDATE labridge_fleet_steps SET status = %s, finished_at = now(), summary = %s, "
        "error = %s WHERE tenant = %s AND cycle = %s AND step = %s",
        (status, summary, error, tenant, cycle, step),
    )


async def counted(conn: psycopg.AsyncConnection[Any], tenant: str, enrolled: int,
                  attention: int) -> None:  # fmt: skip
    await conn.execute(
        "UPDATE labridge_fleet_tenants SET learners_enrolled = %s, needing_attention = %s, "
        "counted_at = now() WHERE name = %s",
        (enrolled, attention, tenant),
    )
