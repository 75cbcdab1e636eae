"""Progress pull: ask LA how far every enrolled learner has got and keep the history of changes
(docs/contract.md §3.3; ``labridge progress pull``).

The learners are the candidates LA lists, as the last sync stored them (every status: a finished
learner's progress is worth keeping too). Each is asked for with GetProgress, or GetProgressFull
for outcome-level detail, with at most ``concurrency`` calls in flight. The answers are written
in batches (:data:`BATCH` learners per transaction), so a crash loses at most one batch, which
the next pull simply fetches again; only what changed reaches the history
(:mod:`labridge.store.progress_history`).

A learner whose call fails (LA unreachable, a fault for that candidate) is recorded as failed
with the reason, never stops the others, and is pulled again on the next run like everyone else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from .. import store
from ..client import AsyncClient
from ..clock import Clock, utc_now
from ..errors import AuthenticationError, LabridgeError, TransportError
from ..models import Candidate, Progress
from ..store import progress_history as progress_store
from .records import PULL_CONCURRENCY
from .tasks import Bounded, frozen_heap, task_group

#: Learners written per transaction.
BATCH = 50

#: Called as each learner's call ends, with the candidate and "pulled" or "failed".
OnLearner = Callable[[Candidate, str], None]


@dataclass(frozen=True)
class Failure:
    candidate_uuid: str
    source_id: str
    error: str
    #: What to do about it (the error's hint).
    hint: str = ""
    #: LA could not be reached or refused the session: nothing about this learner was learnt.
    unreachable: bool = False

    def as_dict(self) -> dict[str, str]:
        return {
            "candidate_uuid": self.candidate_uuid,
            "source_id": self.source_id,
            "error": self.error,
        }


@dataclass
class PullReport:
    full: bool
    learners: int = 0
    changed: int = 0
    unchanged: int = 0
    failures: list[Failure] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def unreachable(self) -> bool:
        """Every learner failed because LA could not be reached (exit code 3)."""
        return (
            bool(self.failures)
            and self.failed == self.learners
            and all(f.unreachable for f in self.failures)
        )

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` shape: the four counts of the issue, then the failures."""
        return {
            "learners": self.learners,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "failures": [f.as_dict() for f in self.failures],
        }


def enrolled(db: store.Store) -> list[Candidate]:
    """The learners to pull: every candidate LA listed at the last sync, any status."""
    with db.session() as session:
        return cast(list[Candidate], store.list_set(session, "candidates"))


async def pull(
    client: AsyncClient,
    db: store.Store,
    *,
    full: bool = False,
    concurrency: int = PULL_CONCURRENCY,
    clock: Clock = utc_now,
    on_learner: OnLearner | None = None,
) -> PullReport:
    """Pull every enrolled learner's progress into the store (sync first to know them all)."""
    puller = Puller(
        client, db, full=full, concurrency=concurrency, clock=clock, on_learner=on_learner
    )
    return await puller.run(enrolled(db))


class Puller:
    """One pull. Build it, then ``await run(candidates)``."""

    def __init__(
        self,
        client: AsyncClient,
        db: store.Store,
        *,
        full: bool = False,
        concurrency: int = PULL_CONCURRENCY,
        clock: Clock = utc_now,
        batch: int = BATCH,
        on_learner: OnLearner | None = None,
    ) -> None:
        self.client, self.db, self.full, self.clock = client, db, full, clock
        self.concurrency, self.batch = max(1, concurrency), max(1, batch)
        self.on_learner = on_learner
        self.report = PullReport(full)
        self._pending: list[progress_store.Pulled | progress_store.Failed] = []
        with db.session() as session:
            self.known = progress_store.load_known(session)

    async def run(self, candidates: Sequence[Candidate]) -> PullReport:
        self.report.learners = len(candidates)
        try:
            with frozen_heap():
                await self._pull_all(candidates)
        finally:
            self._flush()  # what was pulled before a crash or Ctrl+C is kept
        return self.report

    async def _pull_all(self, candidates: Sequence[Candidate]) -> None:
        async with task_group() as group:
            pulls = Bounded(group, self.concurrency)
            for candidate in candidates:
                await pulls.start(self._pull(candidate))

    async def _pull(self, candidate: Candidate) -> None:
        try:
            answer = await self._ask(candidate.candidate_uuid)
        except LabridgeError as exc:
            self._failed(candidate, exc)
        else:
            self._pending.append(progress_store.Pulled(candidate, answer, self.full))
            self._done(candidate, "pulled")
        if len(self._pending) >= self.batch:
            self._flush()

    async def _ask(self, candidate_uuid: str) -> Progress:
        if self.full:
            return await self.client.get_progress_full(candidate_uuid)
        return await self.client.get_progress(candidate_uuid)

    def _failed(self, candidate: Candidate, exc: LabridgeError) -> None:
        message = str(exc.args[0]) if exc.args else type(exc).__name__
        unreachable = isinstance(exc, TransportError | AuthenticationError)
        self.report.failures.append(
            Failure(candidate.candidate_uuid, candidate.source_id, message, exc.hint, unreachable)
        )
        self._pending.append(progress_store.Failed(candidate, message))
        self._done(candidate, "failed")

    def _flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        with self.db.begin() as session:
            written = progress_store.write_batch(session, self.known, batch, self.clock())
        for rows in written.values():
            if rows:
                self.report.changed += 1
            else:
                self.report.unchanged += 1

    def _done(self, candidate: Candidate, outcome: str) -> None:
        if self.on_learner is not None:
            self.on_learner(candidate, outcome)
