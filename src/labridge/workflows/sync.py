"""Sync: pull every reference set and the candidates from LA into the store (docs/contract.md §4
step 2).

The reads go out concurrently (the client logs in once for all of them); the store is then
brought in line in one transaction, by natural key, marking what vanished from LA. A run with
nothing changed writes no reference row; only the run itself is logged in ``sync_runs``.

Candidates are listed in every status LA holds (docs/contract.md §3.3: no single GetCandidates call
lists them all, so the calls are unioned and de-duplicated by CandidateUUID): a learner LA holds
as Withdrawn is still enrolled as far as labridge is concerned, even when the store is lost.

An empty answer never empties a set the store holds silently (a wrong contract or a hiccup of
LA's would otherwise mark every row removed): the run is refused, with nothing written, unless
the caller accepts that set's emptying (``labridge sync --accept-empty companies``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from .. import stopping, store
from ..client import AsyncClient
from ..clock import Clock, utc_now
from ..errors import ConfigurationError
from ..models import Candidate, LAModel
from ..store import erase
from .tasks import task_group

OnFetched = Callable[[str], None]

#: The reads, in the order of the report, each with the store sets it feeds.
_READS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("frameworks", ("frameworks", "units")),
    ("trainers", ("trainers",)),
    ("companies", ("companies",)),
    ("nationalities", ("nationalities",)),
    ("ethnicities", ("ethnicities",)),
    ("candidates", ("candidates",)),
)
READS: tuple[str, ...] = tuple(name for name, _ in _READS)

#: GetCandidates flags (blnActive, blnCompleted) whose union is every status (docs/contract.md
#: §3.3):
#: in learning (Active, BreakInLearning) and completed; not in learning (Withdrawn) and completed.
_CANDIDATE_CALLS: tuple[tuple[bool, bool], ...] = ((True, True), (False, True))


class EmptyAnswerRefused(ConfigurationError):
    """LA answered an empty list for a set the store holds rows of; nothing was written."""


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


def _fetchers(
    client: AsyncClient, include_test: bool
) -> dict[str, Callable[[], Awaitable[Sequence[LAModel]]]]:
    return {
        "frameworks": client.get_frameworks,
        "trainers": client.get_trainers,
        "companies": client.get_companies,
        "nationalities": client.get_nationalities,
        "ethnicities": client.get_ethnicities,
        "candidates": lambda: every_candidate(client, include_test=include_test),
    }


async def every_candidate(client: AsyncClient, *, include_test: bool = False) -> list[Candidate]:
    """Every candidate LA holds, in any status (test learners with ``include_test``): the union
    of the GetCandidates calls that cover them all, each CandidateUUID once, in LA's order."""
    async with task_group() as group:
        calls = [
            group.create_task(
                client.get_candidates("", active=active, completed=completed, test=include_test)
            )
            for active, completed in _CANDIDATE_CALLS
        ]
    seen: dict[str, Candidate] = {}
    for call in calls:
        for candidate in call.result():
            seen.setdefault(candidate.candidate_uuid, candidate)
    return list(seen.values())


async def sync(
    client: AsyncClient,
    db: store.Store,
    *,
    clock: Clock = utc_now,
    on_fetched: OnFetched | None = None,
    include_test: bool = False,
    accept_empty: Collection[str] = (),
) -> SyncReport:
    """Pull everything, then upsert. A failed read or write marks the run failed and re-raises;
    the store is left as it was (one transaction). ``accept_empty`` names the reads (see
    :data:`READS`) whose empty answer may empty the store's set."""
    _check_names(accept_empty)
    stopping.check("sync had not started")
    started = clock()
    with db.begin() as session:
        run_id = store.start_sync_run(session, started)
    try:
        fetched = await _fetch_all(client, on_fetched, include_test)
        with db.begin() as session:
            _refuse_empty(session, fetched, accept_empty)
            # A learner erased on request is not mirrored again while LA still lists them.
            fetched["candidates"] = erase.Forgotten.load(session).keep(fetched["candidates"])
            counts = _upsert_all(session, fetched, clock())
            finished = clock()
            store.finish_sync_run(session, run_id, finished, "ok", counts)
    except BaseException:
        with db.begin() as session:
            store.finish_sync_run(session, run_id, clock(), "failed", {})
        raise
    return SyncReport(run_id, started, finished, counts)


def _check_names(accept_empty: Collection[str]) -> None:
    unknown = sorted(set(accept_empty) - set(READS))
    if unknown:
        raise ConfigurationError(
            f"--accept-empty {', '.join(unknown)}: not a set sync reads",
            hint=f"the sets are {', '.join(READS)}",
        )


def _refuse_empty(
    session: Session, fetched: dict[str, Sequence[LAModel]], accept_empty: Collection[str]
) -> None:
    """Refuse the run when LA answered nothing for a set the store holds: an empty answer is
    never taken to mean that every record of the set is gone."""
    held = store.status(session)["sets"]
    for read, sets in _READS:
        present = held[sets[0]]["present"]
        if fetched[read] or not present or read in accept_empty:
            continue
        raise EmptyAnswerRefused(
            f"LA returned no {read}, the store holds {present}: sync refused to mark them all "
            "removed, and wrote nothing",
            hint="an empty answer is often a wrong LA URL or contract, or a passing fault of LA's: "
            f"check LA and run sync again; if LA really has no {read} now, run "
            f"`labridge sync --accept-empty {read}`",
        )


async def _fetch_all(
    client: AsyncClient, on_fetched: OnFetched | None, include_test: bool
) -> dict[str, Sequence[LAModel]]:
    fetchers = _fetchers(client, include_test)

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
    return READS
