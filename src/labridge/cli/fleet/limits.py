"""One limit per LA host across the whole fleet: calls in flight and calls per second.

Every worker process of the fleet, on whatever machine, shares the fleet's PostgreSQL database,
and the limit lives there (docs/fleet.md): a host has ``in_flight`` slot rows, and a call holds
one as a lease (it expires by itself ``lease_seconds`` later, so a killed holder's slot comes
back); a host's rate row holds the theoretical arrival time of GCRA, and each call reserves its
start there, ``1 / per_second`` after the previous one. :meth:`HostGate.gate` is a
:data:`labridge.client.Gate`: pass it to :class:`~labridge.client.AsyncClient`, or set it for a
whole operation with :func:`labridge.client.using_gate`.

The database work is a few short autocommit statements on a small pool of plain psycopg
connections of the process's own, run in a worker thread (:func:`asyncio.to_thread`), so a gate
serves any event loop of any thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import psycopg
from sqlalchemy.engine import URL

from ...dburl import parse_url, scrub, shown
from ...errors import ConfigurationError, StoreError

log = logging.getLogger(__name__)

R = TypeVar("R")

#: How long a gate sleeps between two looks for a free slot: from the first to the last, growing,
#: each jittered (half to all of it) so that waiting callers do not poll in step.
FIRST_POLL = 0.005
LAST_POLL = 0.05
#: Idle connections a process keeps per fleet database; more are opened while busy.
IDLE_CONNECTIONS = 4
CONNECT_TIMEOUT = 10
_SCHEMA_LOCK = 0x1AB_F1EE7  # the pg_advisory_xact_lock key of ensure_schema
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS labridge_fleet_slots (host text, slot int, holder text, "
    "expires timestamptz, PRIMARY KEY (host, slot))",
    "CREATE TABLE IF NOT EXISTS labridge_fleet_rate (host text PRIMARY KEY, "
    "tat timestamptz NOT NULL)",
)
_DATABASE_HINT = (
    "check the fleet's database URL and that its PostgreSQL server is running and reachable"
)


@dataclass(frozen=True)
class HostLimits:
    """What one LA host may get from the whole fleet: ``in_flight`` calls at once, and calls
    started at ``per_second`` at most (spaced evenly, no burst)."""

    in_flight: int
    per_second: float

    def __post_init__(self) -> None:
        if self.in_flight < 1:
            raise ConfigurationError(
                f"a host's calls in flight must be at least 1, not {self.in_flight}"
            )
        if not self.per_second > 0:
            raise ConfigurationError(
                f"a host's calls per second must be more than 0, not {self.per_second}"
            )


def host_key(la_url: str) -> str:
    """The LA host of an LA base URL, as the limits name it: its host lowercased, with the port
    when not the scheme's default (tenants on one LA site share it)."""
    parts = urlsplit(la_url.strip())
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigurationError(f"{shown(la_url)} is not an LA URL (http:// or https://)")
    try:
        port = parts.port
    except ValueError:
        raise ConfigurationError(f"{shown(la_url)} has a port that is not a number") from None
    name = f"[{host}]" if ":" in host else host
    default = 443 if parts.scheme == "https" else 80
    return name if port in (None, default) else f"{name}:{port}"


class _Pool:
    """A few autocommit psycopg connections to one database, shared by the threads of a
    process: a connection is lent to one statement group at a time."""

    def __init__(self, database_url: str) -> None:
        #: The URL as messages show it, its password masked.
        self.shown = shown(database_url)
        self.url = _postgres_url(database_url)
        self.conninfo = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.schema_ready = False
        self._idle: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
        try:
            yield conn
        except BaseException:
            conn.close()  # its state is unknown: a statement may be half done
            raise
        with self._lock:
            if not conn.closed and len(self._idle) < IDLE_CONNECTIONS:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


_pools: dict[str, _Pool] = {}
_pools_lock = threading.Lock()


def _pool(database_url: str) -> _Pool:
    with _pools_lock:
        pool = _pools.get(database_url)
        if pool is None:
            pool = _pools[database_url] = _Pool(database_url)
        return pool


def _postgres_url(database_url: str) -> URL:
    url = parse_url(database_url, "the fleet database URL", "postgresql://user@host/fleet")
    if url.get_backend_name() != "postgresql":
        raise ConfigurationError(
            f"the fleet database {shown(database_url)} is not PostgreSQL",
            hint="the fleet's limits live in PostgreSQL: give a postgresql:// URL",
        )
    return url


def _run(pool: _Pool, work: Callable[[psycopg.Connection[Any]], R]) -> R:
    """``work`` on one of ``pool``'s connections; a database failure is a :class:`StoreError`
    naming the fleet database, its password masked."""
    try:
        with pool.connection() as conn:
            return work(conn)
    except psycopg.Error as exc:
        raise StoreError(
            f"the fleet database {pool.shown} cannot be used: {scrub(exc, pool.url)}",
            hint=_DATABASE_HINT,
        ) from None


def _create_schema(conn: psycopg.Connection[Any]) -> None:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        for statement in _SCHEMA:
            conn.execute(statement)


def ensure_schema(database_url: str) -> None:
    """Make the fleet's limit tables if they are missing (two processes may do it at once)."""
    pool = _pool(database_url)
    _run(pool, _create_schema)
    pool.schema_ready = True


def in_flight_now(database_url: str, host: str) -> int:
    """How many of ``host``'s slots are held right now (by a live lease), fleet-wide."""
    pool = _pool(database_url)

    def count(conn: psycopg.Connection[Any]) -> int:
        row = conn.execute(
            "SELECT count(*) FROM labridge_fleet_slots "
            "WHERE host = %s AND holder IS NOT NULL AND expires > now()",
            (host,),
        ).fetchone()
        return int(row[0]) if row else 0

    return _run(pool, count)


def close_all() -> None:
    """Close this process's connections to every fleet database (they reopen when needed)."""
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()


class HostGate:
    """The fleet-wide limit of one LA host, as this process applies it: :meth:`gate` holds one
    of the host's slots and starts no sooner than the host's rate allows. One per database and
    host per process (:meth:`shared`); safe to use from many threads and event loops."""

    _shared: ClassVar[dict[tuple[str, str], HostGate]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self, database_url: str, host: str, limits: HostLimits, lease_seconds: float
    ) -> None:
        if not lease_seconds > 0:
            raise ConfigurationError(f"a slot's lease must be over 0 s, not {lease_seconds}")
        _postgres_url(database_url)  # a wrong URL is told now, not at the first call
        self.database_url = database_url
        self.host = host
        self.lease_seconds = lease_seconds
        self._limits = limits
        self._slots_made: HostLimits | None = None  # the limits the slot rows were made for
        self._lock = threading.Lock()

    @classmethod
    def shared(
        cls, database_url: str, host: str, limits: HostLimits, lease_seconds: float
    ) -> HostGate:
        """This process's gate of ``host`` in ``database_url``, its limits and lease set to
        these (the rows follow at its next call)."""
        with cls._shared_lock:
            gate = cls._shared.get((database_url, host))
            if gate is None:
                gate = cls._shared[(database_url, host)] = cls(
                    database_url, host, limits, lease_seconds
                )
            else:
                gate.set_limits(limits, lease_seconds)
            return gate

    @property
    def limits(self) -> HostLimits:
        return self._limits

    def set_limits(self, limits: HostLimits, lease_seconds: float | None = None) -> None:
        """Apply ``limits`` from the next call on (fewer slots: the others are removed)."""
        with self._lock:
            self._limits = limits
            if lease_seconds is not None:
                self.lease_seconds = lease_seconds

    @contextlib.asynccontextmanager
    async def gate(self) -> AsyncIterator[object]:
        """Hold one of the host's slots, from a start the host's rate allows, for the block."""
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
        slot = await self._take(holder)
        try:
            delay = await asyncio.to_thread(self._run, self._reserve)
            if delay > 0:
                await asyncio.sleep(delay)
            yield slot
        finally:
            await self._release(holder)

    async def _release(self, holder: str) -> None:
        """Free ``holder``'s slot; if the database fails now, the lease runs out by itself (the
        call's own outcome is not replaced by that failure)."""
        try:
            await asyncio.to_thread(self._run, lambda conn: _free(conn, self.host, holder))
        except StoreError as exc:
            log.warning("a slot of %s stays taken until its lease ends: %s", self.host, exc)

    # -- the statements --------------------------------------------------------------------------

    def _run(self, work: Callable[[psycopg.Connection[Any]], R]) -> R:
        pool = _pool(self.database_url)
        if not pool.schema_ready:
            _run(pool, _create_schema)
            pool.schema_ready = True
        with self._lock:
            limits, made = self._limits, self._slots_made
        if made != limits:
            _run(pool, lambda conn: _make_slots(conn, self.host, limits))
            with self._lock:
                self._slots_made = limits
        return _run(pool, work)

    async def _take(self, holder: str) -> int:
        """A slot taken for ``holder``, after waiting as long as none is free."""
        pause = FIRST_POLL
        while True:
            slot = await _uncancelled(self._run, self._try_take(holder), self._freer(holder))
            if slot is not None:
                return slot
            await asyncio.sleep(max(FIRST_POLL, pause * random.uniform(0.5, 1.0)))
            pause = min(LAST_POLL, pause * 1.5)

    def _try_take(self, holder: str) -> Callable[[psycopg.Connection[Any]], int | None]:
        def take(conn: psycopg.Connection[Any]) -> int | None:
            with self._lock:
                in_flight, lease = self._limits.in_flight, self.lease_seconds
            row = conn.execute(
                "UPDATE labridge_fleet_slots SET holder = %(holder)s, "
                "expires = now() + make_interval(secs => %(lease)s) "
                "WHERE (host, slot) = (SELECT host, slot FROM labridge_fleet_slots "
                "WHERE host = %(host)s AND slot < %(n)s AND (holder IS NULL OR expires <= now()) "
                "ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING slot",
                {"holder": holder, "lease": lease, "host": self.host, "n": in_flight},
            ).fetchone()
            return int(row[0]) if row else None

        return take

    def _freer(self, holder: str) -> Callable[[], None]:
        def free() -> None:
            self._run(lambda conn: _free(conn, self.host, holder))

        return free

    def _reserve(self, conn: psycopg.Connection[Any]) -> float:
        """Reserve the next start the host's rate allows: the seconds to wait for it."""
        with self._lock:
            spacing = 1.0 / self._limits.per_second
        row = conn.execute(
            "UPDATE labridge_fleet_rate SET tat = greatest(tat, now()) "
            "+ make_interval(secs => %(spacing)s) WHERE host = %(host)s "
            "RETURNING extract(epoch FROM tat - now()) - %(spacing)s",
            {"spacing": spacing, "host": self.host},
        ).fetchone()
        return float(row[0]) if row else 0.0


def _make_slots(conn: psycopg.Connection[Any], host: str, limits: HostLimits) -> None:
    """Slots 0..in_flight-1 of ``host`` and its rate row, made if missing; higher slots gone."""
    conn.execute(
        "INSERT INTO labridge_fleet_slots (host, slot) SELECT %s, n FROM generate_series(0, %s) n "
        "ON CONFLICT DO NOTHING",
        (host, limits.in_flight - 1),
    )
    conn.execute(
        "DELETE FROM labridge_fleet_slots WHERE host = %s AND slot >= %s", (host, limits.in_flight)
    )
    conn.execute(
        "INSERT INTO labridge_fleet_rate (host, tat) VALUES (%s, now()) ON CONFLICT DO NOTHING",
        (host,),
    )


def _free(conn: psycopg.Connection[Any], host: str, holder: str) -> None:
    conn.execute(
        "UPDATE labridge_fleet_slots SET holder = NULL, expires = NULL "
        "WHERE host = %s AND holder = %s",
        (host, holder),
    )


async def _uncancelled(
    run: Callable[[Callable[[psycopg.Connection[Any]], R]], R],
    work: Callable[[psycopg.Connection[Any]], R],
    undo: Callable[[], None],
) -> R:
    """``run(work)`` in a thread; if the caller is cancelled meanwhile, the work still finishes
    in its thread and ``undo`` follows it there (a slot taken for nobody is freed at once)."""
    task = asyncio.ensure_future(asyncio.to_thread(run, work))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        task.add_done_callback(lambda _: threading.Thread(target=_quietly(undo)).start())
        raise


def _quietly(undo: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        with contextlib.suppress(StoreError):
            undo()  # the lease runs out by itself if the database is gone

    return run
