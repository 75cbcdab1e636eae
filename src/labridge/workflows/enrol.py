"""Enrol: take learners from the provider's records and enrol them with GroupEnrolment, exactly
once (docs/contract.md §3.5; design.md, "Exactly once", "Nothing lost").

For each source row, in order:

- a row the source itself skipped (nothing to enrol) is recorded as ``skipped`` with its reason;
- a record that fails pre-flight validation is ``invalid``, with every problem;
- a learner already enrolled on that course, by labridge's journal or by LA's own candidates
  (synced just before), is ``skipped``;
- otherwise, unless this is a dry run (``would_enrol``), the attempt is journalled as ``pending``
  and committed, GroupEnrolment is sent, and the answer is journalled: ``enrolled`` with the
  CandidateUUID, or ``refused`` with LA's whole MessageList.

GroupEnrolment is never blindly retried. After an ambiguous failure (the request may have reached
LA) labridge asks LA, with GetCandidates, whether the learner is there before sending again. A
``pending`` row left by a crash is settled the same way on the next run: the sync before it has
just listed LA's candidates, so a learner who did get enrolled is found there and skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from .. import contract as c
from .. import store
from ..client import AsyncClient
from ..errors import Problem, TransportError
from ..models import Candidate, EnrolmentUser
from ..sources.records import SkippedRecord, SourceRecord, SourceRow
from ..store import journal
from ..validate.enrolment import Checked, check_all
from ..validate.reference import ReferenceData
from .report import RecordsReport
from .tasks import Bounded, task_group

OUTCOMES = ("enrolled", "would_enrol", "skipped", "refused", "invalid")
#: Sends of one learner after ambiguous failures, each preceded by a look in LA.
MAX_SENDS = 3
#: Journal rows that need no call (invalid, skipped) are written in batches of this size.
BATCH = 200

Clock = Callable[[], datetime]
OnRecord = Callable[["RecordOutcome"], None]


@dataclass(frozen=True)
class RecordOutcome:
    source_id: str
    origin: str
    outcome: str
    course: str = ""
    candidate_uuid: str = ""
    problems: tuple[Problem, ...] = ()
    reason: str = ""
    #: The source row's number: the report lists records in source order, whatever order
    #: their enrolments finish in.
    row: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "origin": self.origin,
            "outcome": self.outcome,
            "course": self.course,
            "candidate_uuid": self.candidate_uuid,
            "reason": self.reason,
            "problems": [p.as_dict() for p in self.problems],
        }


@dataclass
class EnrolReport(RecordsReport[RecordOutcome]):
    OUTCOMES = OUTCOMES


@dataclass(frozen=True)
class Options:
    dry_run: bool = False
    send_login_details: bool = False
    concurrency: int = 4
    today: date | None = None


class Enroller:
    """One enrolment run. Build it, then ``await run(rows)``."""

    def __init__(
        self,
        client: AsyncClient,
        db: store.Store,
        options: Options = Options(),
        *,
        clock: Clock = lambda: datetime.now(UTC),
        on_record: OnRecord | None = None,
    ) -> None:
        self.client, self.db, self.options, self.clock = client, db, options, clock
        self.on_record = on_record
        self.report = EnrolReport(options.dry_run)
        self._batch: list[tuple[str, str, str, str, tuple[Problem, ...]]] = []
        with db.session() as session:
            self.ref = ReferenceData.load(session)
            self.journal = journal.load_all(session)
            self.in_la = by_learner(store.list_set(session, "candidates"))

    async def run(self, rows: Iterable[SourceRow]) -> EnrolReport:
        try:
            async with task_group() as group:
                sends = Bounded(group, self.options.concurrency)
                for checked in check_all(self._records(rows), self.ref, today=self.options.today):
                    if not self._settled(checked):
                        await sends.start(self._send(checked))
        finally:
            self._flush()
            self.report.records.sort(key=lambda r: r.row)
        return self.report

    # -- the decisions that need no call ----------------------------------------------------------

    def _records(self, rows: Iterable[SourceRow]) -> Iterator[SourceRecord]:
        for row in rows:
            if isinstance(row, SkippedRecord):
                key = row.source_id or row.origin
                self._done(
                    RecordOutcome(key, row.origin, "skipped", reason=row.reason, row=row.row)
                )
                self._journal_later(key, "", "skipped", row.origin, ())
            else:
                yield row

    def _settled(self, checked: Checked) -> bool:
        """Decide without calling LA when possible; True when the record is done."""
        rec = checked.record
        source_id = rec.source_id or rec.origin
        if checked.course_uuid and self._already_enrolled(checked):
            return True
        if not checked.ok:
            course = checked.course_uuid or rec.fields.get("course", "")
            self._done(
                RecordOutcome(
                    source_id, rec.origin, "invalid", course, problems=checked.problems, row=rec.row
                )
            )
            self._journal_later(source_id, course, "invalid", rec.origin, checked.problems)
            return True
        if self.options.dry_run:
            self._done(
                RecordOutcome(
                    source_id, rec.origin, "would_enrol", checked.course_uuid, row=rec.row
                )
            )
            return True
        return False

    def _already_enrolled(self, checked: Checked) -> bool:
        rec, key = checked.record, (checked.record.source_id, checked.course_uuid)
        entry = self.journal.get(key)
        if entry is not None and entry.state == "enrolled":
            reason = f"already enrolled (candidate {entry.candidate_uuid}, in labridge's journal)"
            self._done(self._skip(checked, entry.candidate_uuid or "", reason))
            return True
        candidate = self.in_la.get(key)
        if candidate is None:
            return False
        reason = f"already enrolled in LA (candidate {candidate.candidate_uuid})"
        self._done(self._skip(checked, candidate.candidate_uuid, reason))
        if not self.options.dry_run:
            self._record(key, "enrolled", rec.origin, candidate_uuid=candidate.candidate_uuid)
        return True

    def _skip(self, checked: Checked, candidate: str, reason: str) -> RecordOutcome:
        rec = checked.record
        return RecordOutcome(rec.source_id, rec.origin, "skipped", checked.course_uuid, candidate,
                             reason=reason, row=rec.row)  # fmt: skip

    # -- sending --------------------------------------------------------------------------------

    async def _send(self, checked: Checked) -> None:
        assert checked.user is not None
        rec, user = checked.record, checked.user
        key = (rec.source_id, checked.course_uuid)
        pushed = c.to_wire(c.StructRef(c.type_of_model(EnrolmentUser).name), user)
        for _ in range(MAX_SENDS):
            self._record(key, "pending", rec.origin, pushed=pushed, sent=True)
            try:
                answer = await self.client.group_enrolment(
                    user, send_login_details=self.options.send_login_details
                )
            except TransportError as exc:
                if not exc.maybe_sent:
                    raise  # it never left: the row stays pending and the next run sends it
                found = await self._find_in_la(key)
                if found is not None:
                    self._enrolled(checked, found.candidate_uuid)
                    return
                continue  # LA has no such learner: the request did not land, send again
            if answer.success:
                self._enrolled(checked, answer.candidate_uuid)
            else:
                problems = tuple(Problem(m.field, m.code, m.message) for m in answer.messages)
                self._record(key, "refused", rec.origin, problems=problems)
                outcome = RecordOutcome(rec.source_id, rec.origin, "refused", key[1],
                                        problems=problems, row=rec.row)  # fmt: skip
                self._done(outcome)
            return
        raise TransportError(
            f"GroupEnrolment for {rec.source_id} ({rec.origin}) failed {MAX_SENDS} times without "
            "reaching LA",
            hint="check the network to LA and run the same command again; nothing is duplicated",
        )

    async def _find_in_la(self, key: tuple[str, str]) -> Candidate | None:
        listed = await self.client.get_candidates("", active=True, completed=True, test=True)
        return by_learner(listed).get(key)

    def _enrolled(self, checked: Checked, candidate_uuid: str) -> None:
        rec = checked.record
        key = (rec.source_id, checked.course_uuid)
        self._record(key, "enrolled", rec.origin, candidate_uuid=candidate_uuid)
        self._done(RecordOutcome(rec.source_id, rec.origin, "enrolled", key[1], candidate_uuid,
                                 row=rec.row))  # fmt: skip

    # -- journal and report ---------------------------------------------------------------------

    def _record(self, key: tuple[str, str], state: str, origin: str, **kw: Any) -> None:
        with self.db.begin() as session:
            journal.record(session, key[0], key[1], state, self.clock(), origin=origin, **kw)

    def _journal_later(
        self, source_id: str, course: str, state: str, origin: str, problems: tuple[Problem, ...]
    ) -> None:
        if self.options.dry_run:
            return
        self._batch.append((source_id, course, state, origin, problems))
        if len(self._batch) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self._batch:
            return
        now = self.clock()
        with self.db.begin() as session:
            for source_id, course, state, origin, problems in self._batch:
                # A later bad row (a repeat of an enrolled learner, say) never overwrites a
                # success, nor an attempt whose fate is still to be settled.
                journal.record(session, source_id, course, state, now, origin=origin,
                               problems=problems, unless=("enrolled", "pending"))  # fmt: skip
        self._batch.clear()

    def _done(self, outcome: RecordOutcome) -> None:
        self.report.records.append(outcome)
        if self.on_record is not None:
            self.on_record(outcome)


def by_learner(candidates: Iterable[Any]) -> dict[tuple[str, str], Candidate]:
    """LA's candidates by (SourceSystemLearnerUUID, CourseUUID), the first one listed for a
    learner enrolled twice; candidates with no learner id are left out."""
    out: dict[tuple[str, str], Candidate] = {}
    for cand in candidates:
        if isinstance(cand, Candidate) and cand.source_id:
            out.setdefault((cand.source_id, cand.course_uuid), cand)
    return out
