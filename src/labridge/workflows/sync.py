"""Sync: pull every reference set and the candidates from LA into the store (docs/contract.md §4
step 2).

The six reads go out concurrently (the client logs in once for all of them); the store is then
brought in line in one transaction, by natural key, marking what vanished from LA. A run with
nothing changed writes no reference row; only the run itself is logged in ``sync_runs``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from .. import store
from ..client import AsyncClient
from ..models import LAModel
from .tasks import task_group

Progress = Callable[[str], None]
Clock = Callable[[], datetime]

#: The reads, in the order of the report, each with the store sets it feeds.
_READS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("frameworks", ("frameworks", "units")),
    ("trainers", ("trainers",)),
    ("companies", ("companies",)),
    ("nationalities", ("nationalities",)),
    ("ethnicities", ("ethnicities",)),
    ("candidates", ("candidates",)),
)


@dataclass(frozen=True)
class SyncReport:
    run_id: int
    started_at: datetime
    finished_at: datetime
    counts: dict[str, store.SetCounts]

    @property
    def changed(self) -> bool:
        return any(c.added or c.changed or c.removed for c in self.counts.values())

    def as_dict(self) -> dict[str, dict[str, int]]:
        """The ``--json`` shape of the issue: ``{"frameworks": {"added": n, ...}, ...}``."""
        return {name: self.counts[name].as_dict() for name in store.SETS}


def _fetchers(client: AsyncClient) -> dict[str, Callable[[], Awaitable[Sequence[LAModel]]]]:
    return {
        "frameworks": client.get_frameworks,
        "trainers": client.get_trainers,
        "companies": client.get_companies,
        "nationalities": client.get_nationalities,
        "ethnicities": client.get_ethnicities,
        # Every candidate LA lists, in progress or finished: both are "enrolled" for labridge.
        "candidates": lambda: client.get_candidates("", active=True, completed=True),
    }


async def sync(
    client: AsyncClient,
    db: store.Store,
    *,
    clock: Clock = lambda: datetime.now(UTC),
    on_fetched: Progress | None = None,
) -> SyncReport:
    """Pull everything, then upsert. A failed read or write marks the run failed and re-raises;
    the store is left as it was (one transaction)."""
    started = clock()
    with db.begin() as session:
        run_id = store.start_sync_run(session, started)
    try:
        fetched = await _fetch_all(client, on_fetched)
        with db.begin() as session:
            counts = _upsert_all(session, fetched, clock())
            finished = clock()
            store.finish_sync_run(session, run_id, finished, "ok", counts)
    except BaseException:
        with db.begin() as session:
            store.finish_sync_run(session, run_id, clock(), "failed", {})
        raise
    return SyncReport(run_id, started, finished, counts)


async def _fetch_all(
    client: AsyncClient, on_fetched: Progress | None
) -> dict[str, Sequence[LAModel]]:
    fetchers = _fetchers(client)

    async def one(name: str) -> Sequence[LAModel]:
        records = await fetchers[name]()
        if on_fetched is not None:
            on_fetched(name)
        return records

    async with task_group() as group:
        tasks = {name: group.create_task(one(name)) for name, _ in _READS}
    return {name: task.result() for name, task in tasks.items()}


def _upsert_all(
    session: Session, fetched: dict[str, Sequence[LAModel]], now: datetime
) -> dict[str, store.SetCounts]:
    counts: dict[str, store.SetCounts] = {}
    for read, sets in _READS:
        for name in sets:
            counts[name] = store.upsert_set(session, name, fetched[read], now)
    return counts


def fetch_names() -> tuple[str, ...]:
    """The names of the reads, for progress displays."""
    return tuple(name for name, _ in _READS)
