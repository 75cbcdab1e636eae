"""Enrol: take learners from the provider's records and enrol them with GroupEnrolment, exactly
once (docs/contract.md §3.5; docs/reliability.md: claim before send, outcome after).

For each source row, in order:

- a row the source itself skipped (nothing to enrol) is recorded as ``skipped`` with its reason;
- a row repeating a learner and course given earlier in the same input is ``invalid``
  (``DUPLICATE_IN_INPUT``) on every run, whatever became of the first row; having no journal row
  of its own, it is kept in :mod:`labridge.store.repeats` for the to-do list;
- a record that fails pre-flight validation is ``invalid``, with every problem;
- a learner already enrolled on that course, by labridge's journal or by LA's own candidates
  (synced just before), is ``skipped``;
- otherwise, unless this is a dry run (``would_enrol``), the run *claims* the learner in the
  store (one sender per learner, whatever else runs on the store; a learner another live run
  holds is ``skipped``, "in progress elsewhere"), re-reads the row, and, before the first learner
  of each course, refreshes its view of that course's candidates in LA (a learner LA lists is
  never sent). The attempt is journalled as ``pending`` and GroupEnrolment is sent: ``enrolled``
  with the CandidateUUID, or ``refused`` with LA's whole MessageList.

GroupEnrolment is never resent blindly. When its outcome is unknown (a timeout or dropped
connection after sending, an unreadable answer, or a ``pending`` row whose run died) the row
becomes ``uncertain``: LA may still be committing it. Only once a settle window has passed since
then does labridge look for the learner in LA (every status), later in the same run or on a later
one, and send again only if LA still does not list them; meanwhile the record is ``uncertain``.

After a run that sent anything, LA is checked for learners it holds twice (which only separate
stores against one LA can cause): new ones are reported, and kept for ``labridge duplicates``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from sqlalchemy.orm import Session

from .. import store
from ..client import AsyncClient, built
from ..clock import Clock, utc_now
from ..errors import ConfigurationError, LabridgeError, Problem, ProtocolError, TransportError
from ..models import Candidate, EnrolmentUser, Framework, Wire
from ..sources.records import SkippedRecord, SourceRecord, SourceRow
from ..store import duplicates, erase, journal, locks, repeats
from ..store.duplicates import Duplicate
from ..validate.learners import Checked, check_all
from ..validate.lookups import ReferenceData
from .records import Outcome, RecordsReport, RunOptions
from .tasks import Bounded, task_group

OUTCOMES = ("enrolled", "would_enrol", "skipped", "uncertain", "refused", "invalid")
#: Journal rows that need no call (invalid, skipped) are written in batches of this size.
BATCH = 200
#: How long a claim holds: well beyond one call's deadline, so a live run never loses it mid-send.
LEASE = timedelta(minutes=5)
#: The default settle window: how long LA is given to finish a send whose outcome is unknown.
SETTLE_SECONDS = 600.0
IN_PROGRESS = "in progress elsewhere"
WRONG_CONTRACT = (
    "the contract's name for SourceSystemLearnerUUID is probably wrong: run `labridge doctor`"
)

log = logging.getLogger(__name__)

OnRecord = Callable[["RecordOutcome"], None]
Key = tuple[str, str]


@dataclass(frozen=True)
class RecordOutcome(Outcome):
    """One record's outcome in an enrolment run (``labridge.EnrolOutcome``)."""

    course: str = ""
    candidate_uuid: str = ""
    reason: str = ""
    #: For an ``uncertain`` record: when the next run will look for the learner in LA.
    settle_after: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "origin": self.origin,
            "outcome": self.outcome,
            "course": self.course,
            "candidate_uuid": self.candidate_uuid,
            "reason": self.reason,
            "problems": [p.as_dict() for p in self.problems],
            "settle_after": self.settle_after.isoformat() if self.settle_after else None,
        }


@dataclass
class EnrolReport(RecordsReport[RecordOutcome]):
    OUTCOMES = OUTCOMES
    #: Learners LA holds twice, first found by the check after this run.
    duplicates: list[Duplicate] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Some record needs fixing, is still uncertain, or LA holds a learner twice."""
        return super().failed or bool(self.count("uncertain") or self.duplicates)

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "duplicates": [d.as_dict() for d in self.duplicates]}


@dataclass(frozen=True)
class Options(RunOptions):
    """How an enrolment run goes (``labridge.EnrolOptions``)."""

    #: Ask LA to e-mail each learner enrolled their login details.
    send_login_details: bool = False
    #: Seconds after a send became uncertain before LA is asked whether it landed.
    settle_seconds: float = SETTLE_SECONDS


async def enrol(
    client: AsyncClient,
    db: store.Store,
    rows: Iterable[SourceRow],
    options: Options = Options(),
    *,
    on_record: OnRecord | None = None,
) -> EnrolReport:
    """Enrol each learner of ``rows`` (from :func:`labridge.open_source` or your own
    :class:`~labridge.sources.records.SourceRecord`) exactly once, as this module describes.

    Sync first (:func:`labridge.workflows.sync.sync`): the run checks records against the
    reference data in ``db`` and skips learners LA already lists. ``options.dry_run`` checks
    everything and sends nothing. ``on_record`` is called with each record's outcome as it is
    decided. Every row ends with an outcome in the returned report."""
    return await Enroller(client, db, options, on_record=on_record).run(rows)


def presence_lock(run_id: str) -> str:
    """The name of the lock a run holds while it lives: others tell its claims from a dead
    run's by it (:mod:`labridge.store.locks`)."""
    return f"enrol-{run_id}"


def uncertain_reason(source_id: str, settle_after: datetime) -> str:
    when = settle_after.astimezone(UTC).strftime("%H:%M UTC")
    return (
        f"LA may have enrolled this learner; labridge will look again after {when}, or check "
        f"LA for learner id {source_id}"
    )


class Enroller:
    """One enrolment run. Build it, then ``await run(rows)``."""

    def __init__(
        self,
        client: AsyncClient,
        db: store.Store,
        options: Options = Options(),
        *,
        clock: Clock = utc_now,
        on_record: OnRecord | None = None,
    ) -> None:
        self.client, self.db, self.options, self.clock = client, db, options, clock
        self.on_record = on_record
        self.report = EnrolReport(options.dry_run)
        self.run_id = str(uuid4())
        self.settle = timedelta(seconds=options.settle_seconds)
        self._batch: list[tuple[str, str, str, str, tuple[Problem, ...]]] = []
        #: Learners claimed and sent together (up to the calls in flight); the journal's
        #: writes since its last transaction, and the learners done whose claims go with them.
        self._chunk = max(1, options.concurrency)
        self._writes: list[journal.Write] = []
        self._unclaimed: list[journal.Write] = []
        self._released: list[Key] = []
        #: Learners journalled ``pending`` whose send has not started yet, as they were claimed.
        self._unsent: dict[Key, journal.Entry] = {}
        #: Every learner and course this run read, and the rows that repeated one of them.
        self._read: set[Key] = set()
        self._repeats: list[repeats.Repeat] = []
        with db.session() as session:
            self.ref = ReferenceData.load(session)
            self.journal = journal.load_all(session)
            self.forgotten = erase.Forgotten.load(session)
            listed = [x for x in store.list_set(session, "candidates") if isinstance(x, Candidate)]
        self.in_la = by_learner(listed)
        self._no_learner_ids = bool(listed) and not any(x.source_id for x in listed)
        self.courses: dict[str, Framework] = {f.course_uuid: f for f in self.ref.frameworks}
        self._views: dict[str, asyncio.Task[dict[Key, Candidate]]] = {}
        self._later: dict[Key, tuple[Checked, RecordOutcome]] = {}
        self._sent = False

    async def run(self, rows: Iterable[SourceRow]) -> EnrolReport:
        if self._no_learner_ids:
            raise ConfigurationError(WRONG_CONTRACT, hint="nothing was sent")
        locks.sweep(self.db.engine, presence_lock(""))
        with locks.hold(self.db.engine, presence_lock(self.run_id)):
            try:
                await self._all(rows)
                await self._second_look()
                if self._sent:
                    await self._check_duplicates()
            except LabridgeError as exc:
                exc.partial = self.report  # completed in place below: what was finished
                raise
            finally:
                self._finish_journal()
                self._flush()
                self._keep_repeats()
                self.report.records.extend(outcome for _, outcome in self._later.values())
                self.report.records.sort(key=lambda r: r.row)
        locks.forget(self.db.engine, presence_lock(self.run_id))
        return self.report

    async def _all(self, rows: Iterable[SourceRow]) -> None:
        async with task_group() as group:
            sends = Bounded(group, self.options.concurrency)
            chunk: list[Checked] = []
            for checked in check_all(self._records(rows), self.ref, today=self.options.today):
                if not self._settled(checked):
                    chunk.append(checked)
                if len(chunk) >= self._chunk:
                    await self._attempt(sends, chunk)
                    chunk = []
            if chunk:
                await self._attempt(sends, chunk)
        self._write_now()  # what the second look reads of the journal is written

    async def _second_look(self) -> None:
        """The learners that became uncertain in this run and whose settle window has passed
        by now (no waiting): look in LA afresh, send only those it does not list."""
        due = [
            k
            for k, (_, o) in self._later.items()
            if o.settle_after and o.settle_after <= self.clock()
        ]
        if not due:
            return
        self._views.clear()  # what LA listed earlier in the run is stale for these
        async with task_group() as group:
            sends = Bounded(group, self.options.concurrency)
            for start in range(0, len(due), self._chunk):
                chunk = [self._later.pop(key)[0] for key in due[start : start + self._chunk]]
                await self._attempt(sends, chunk, tick=False)

    # -- the decisions that need no call ----------------------------------------------------------

    def _records(self, rows: Iterable[SourceRow]) -> Iterator[SourceRecord]:
        for row in rows:
            erased_on = self.forgotten.on(row.source_id)
            if erased_on is not None:  # erased on request: never sent again, nor journalled
                reason = erase.reason(erased_on)
                outcome = RecordOutcome(row.source_id, row.origin, "skipped", reason=reason,
                                        row=row.row)  # fmt: skip
                self._done(outcome)
            elif isinstance(row, SkippedRecord):
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
        course = checked.course_uuid or rec.fields.get("course", "")
        if self._repeated((source_id, course), checked):
            return True
        if checked.course_uuid and self._already_enrolled(checked):
            return True
        if not checked.ok:
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

    def _repeated(self, key: Key, checked: Checked) -> bool:
        """A second row for a learner and course this input gave already: invalid whatever
        became of the first (before, a repeat run reported it skipped once the first enrolled).
        It is kept apart from the journal, whose one row per learner is the first row's."""
        if key not in self._read or checked.ok:
            self._read.add(key)
            return False
        rec = checked.record
        self._done(RecordOutcome(key[0], rec.origin, "invalid", key[1],
                                 problems=checked.problems, row=rec.row))  # fmt: skip
        self._repeats.append(
            repeats.Repeat(key[0], key[1], rec.origin, checked.problems, self.clock())
        )
        return True

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
        if self.options.dry_run:
            reason = f"already enrolled in LA (candidate {candidate.candidate_uuid})"
            self._done(self._skip(checked, candidate.candidate_uuid, reason))
        elif entry is not None and entry.state in ("pending", "uncertain"):
            if checked.ok:  # settled once claimed (_ready): a live run may be sending them now
                return False
            self._found_after_uncertain(checked, candidate, True)
        else:
            reason = f"already enrolled in LA (candidate {candidate.candidate_uuid})"
            self._done(self._skip(checked, candidate.candidate_uuid, reason))
            self._record(key, "enrolled", rec.origin, new=True,
                         candidate_uuid=candidate.candidate_uuid)  # fmt: skip
        return True

    def _skip(self, checked: Checked, candidate: str, reason: str) -> RecordOutcome:
        rec = checked.record
        return RecordOutcome(rec.source_id, rec.origin, "skipped", checked.course_uuid, candidate,
                             reason=reason, row=rec.row)  # fmt: skip

    # -- claiming and sending ---------------------------------------------------------------------

    async def _attempt(self, sends: Bounded, chunk: list[Checked], *, tick: bool = True) -> None:
        """Claim a chunk of learners, decide each, and journal those to send as ``pending``,
        committed before any of them is sent (one transaction, or two when a course's view of
        LA is still to be fetched in between); then send them as slots free up, even after a
        stop is requested (they are journalled as going out). Their outcomes are journalled a
        few at a time (:meth:`_record`), their claims released with them (docs/reliability.md,
        "The batched journal")."""
        await sends.check_stop()
        viewed = all(self._viewed(c.course_uuid) for c in chunk)
        with self.db.begin() as session:
            looks = self._claim(session, chunk, tick)
            sending = self._pending(session, looks, tick) if viewed else []
        if not viewed:
            await asyncio.gather(*map(self._view, {entry.course for _, entry in looks}))
            with self.db.begin() as session:
                sending = self._pending(session, looks, tick)
        self._unsent.update((entry.key, entry) for _, entry, _ in sending)
        for checked, entry, wire in sending:
            await sends.start(self._send(checked, entry.key, wire, tick), stoppable=False)

    def _viewed(self, course_uuid: str) -> bool:
        """Whether LA's view of the course was fetched in this run (and may be read at once)."""
        task = self._views.get(course_uuid)
        return task is not None and task.done()

    def _claim(
        self, session: Session, chunk: list[Checked], tick: bool
    ) -> list[tuple[Checked, journal.Entry]]:
        """This run's claim on each learner of ``chunk`` (the outcomes journalled meanwhile
        written first), and those whose fate LA's view decides, with their row as it is now. A
        learner another live run holds is skipped; a claim left by a run that died is taken
        over at once."""
        self._write(session)
        learners = [(c.record.source_id, c.course_uuid, c.record.origin) for c in chunk]
        now = self.clock()
        won, held = journal.claim_many(session, learners, self.run_id, now, LEASE)
        live: dict[str, bool] = {}
        for key, holder in held.items():
            dead = holder.claimed_by
            if dead is None:  # released since: left alone this run, as another run's
                continue
            if dead not in live:
                live[dead] = locks.held(self.db.engine, presence_lock(dead))
                if not live[dead]:
                    locks.forget(self.db.engine, presence_lock(dead))
            taken = None if live[dead] else journal.take_over(session, *key, dead, self.run_id,
                                                              now, LEASE)  # fmt: skip
            if taken is not None:
                won[key] = taken
        looks: list[tuple[Checked, journal.Entry]] = []
        for checked in chunk:
            entry = won.get((checked.record.source_id, checked.course_uuid))
            if entry is None:
                self._done(self._skip(checked, "", IN_PROGRESS), tick=tick)
            elif self._ready(checked, entry, tick):
                looks.append((checked, entry))
            else:
                self._released.append(entry.key)
        return looks

    def _pending(
        self, session: Session, looks: list[tuple[Checked, journal.Entry]], tick: bool
    ) -> list[tuple[Checked, journal.Entry, Wire]]:
        """Of the learners claimed, those LA does not list, journalled ``pending`` with the
        struct about to be sent; the others' outcomes (LA lists them)."""
        sending: list[tuple[Checked, journal.Entry, Wire]] = []
        for checked, entry in looks:
            found = self._views[entry.course].result().get(entry.key)
            if found is None:
                assert checked.user is not None
                # Built once: the struct journalled as sent is the very one that goes out.
                sending.append((checked, entry, built(checked.user)))
                continue
            if entry.state in ("pending", "uncertain"):  # the send whose answer was lost landed
                self._found_after_uncertain(checked, found, tick)
            else:
                reason = f"already enrolled in LA (candidate {found.candidate_uuid})"
                self._record(entry.key, "enrolled", checked.record.origin,
                             candidate_uuid=found.candidate_uuid)  # fmt: skip
                self._done(self._skip(checked, found.candidate_uuid, reason), tick=tick)
            self._released.append(entry.key)
        self._write(session)  # the states decided above (an uncertain row's, say) come first
        now = self.clock()
        pending = [journal.Write(*entry.key, "pending", now, checked.record.origin,
                                 pushed=wire.members, sent=True)
                   for checked, entry, wire in sending]  # fmt: skip
        journal.record_many(session, pending)
        self._sent = self._sent or bool(sending)
        return sending

    def _ready(self, checked: Checked, entry: journal.Entry, tick: bool) -> bool:
        """Whether LA's view decides a claimed learner (else its outcome is decided here)."""
        if entry.state == "enrolled":  # another run enrolled the learner meanwhile
            reason = f"already enrolled (candidate {entry.candidate_uuid}, in labridge's journal)"
            self._done(self._skip(checked, entry.candidate_uuid or "", reason), tick=tick)
            return False
        unsettled = entry.state in ("pending", "uncertain")
        listed = self.in_la.get(entry.key) if unsettled else None
        if listed is not None:  # LA listed them at the sync: a send whose answer was lost landed
            self._found_after_uncertain(checked, listed, tick)
            return False
        return not unsettled or self._window_passed(checked, entry, tick)

    def _found_after_uncertain(self, checked: Checked, found: Candidate, tick: bool) -> None:
        reason = f"found in LA after an uncertain send (candidate {found.candidate_uuid})"
        self._enrolled(checked, found.candidate_uuid, tick, reason)

    def _window_passed(self, checked: Checked, entry: journal.Entry, tick: bool) -> bool:
        """Whether LA may be asked about an unsettled row now; else it is reported uncertain.
        A ``pending`` row here was left by a run that died: its fate is unknown from now."""
        since = entry.uncertain_since
        if entry.state == "pending" or since is None:
            since = self.clock()
            self._record(entry.key, "uncertain", checked.record.origin)
        if since + self.settle > self.clock():
            self._uncertain(checked, since, tick)
            return False
        return True

    async def _send(self, checked: Checked, key: Key, wire: Wire, tick: bool) -> None:
        # From here on the request may have left: its pending row stays unless an answer comes.
        del self._unsent[key]
        try:
            await self._outcome(checked, key, wire, tick)
        finally:
            self._released.append(key)
            if len(self._writes) >= 2 * self._chunk:  # not left for long in memory
                self._write_now()

    async def _outcome(self, checked: Checked, key: Key, wire: Wire, tick: bool) -> None:
        assert checked.user is not None
        rec, user = checked.record, checked.user
        try:
            answer = await self.client.group_enrolment(
                wire, send_login_details=self.options.send_login_details
            )
        except TransportError as exc:
            if not exc.maybe_sent:  # it never left: nothing to settle, the next run sends it
                self._record(key, "queued", rec.origin)
                raise
            self._became_uncertain(checked, tick)
            return
        except ProtocolError:  # an answer we cannot read: LA may have enrolled the learner
            self._became_uncertain(checked, tick)
            return
        if answer.success:
            self._enrolled(checked, answer.candidate_uuid, tick)
            return
        hidden = _personal_values(rec, user)
        problems = tuple(
            Problem(m.field, m.code, _redacted(m.message, hidden)) for m in answer.messages
        )
        self._record(key, "refused", rec.origin, problems=problems)
        self._done(RecordOutcome(rec.source_id, rec.origin, "refused", key[1],
                                 problems=problems, row=rec.row), tick=tick)  # fmt: skip

    def _became_uncertain(self, checked: Checked, tick: bool) -> None:
        key = (checked.record.source_id, checked.course_uuid)
        self._record(key, "uncertain", checked.record.origin)
        self._uncertain(checked, self.clock(), tick)

    def _uncertain(self, checked: Checked, since: datetime, tick: bool) -> None:
        """Report the record ``uncertain`` until LA is asked after the settle window; held
        back, so that a second look later in this run can replace it."""
        rec, after = checked.record, since + self.settle
        outcome = RecordOutcome(rec.source_id, rec.origin, "uncertain", checked.course_uuid,
                                reason=uncertain_reason(rec.source_id, after), row=rec.row,
                                settle_after=after)  # fmt: skip
        self._later[(rec.source_id, checked.course_uuid)] = (checked, outcome)
        if tick and self.on_record is not None:
            self.on_record(outcome)

    def _enrolled(
        self, checked: Checked, candidate_uuid: str, tick: bool = True, reason: str = ""
    ) -> None:
        rec = checked.record
        key = (rec.source_id, checked.course_uuid)
        self._record(key, "enrolled", rec.origin, candidate_uuid=candidate_uuid)
        self._done(RecordOutcome(rec.source_id, rec.origin, "enrolled", key[1], candidate_uuid,
                                 reason=reason, row=rec.row), tick=tick)  # fmt: skip

    # -- LA's view ------------------------------------------------------------------------------

    async def _view(self, course_uuid: str) -> dict[Key, Candidate]:
        """LA's candidates of one course, asked once per run right before its first send (and
        again for a second look): another store's run may have enrolled them since the sync."""
        task = self._views.get(course_uuid)
        if task is None:
            task = asyncio.ensure_future(self._list_course(course_uuid))
            self._views[course_uuid] = task
        return await task

    async def _list_course(self, course_uuid: str) -> dict[Key, Candidate]:
        course = self.courses.get(course_uuid)
        listed = await self._every_status(course.qan if course is not None else "")
        return by_learner(x for x in listed if x.course_uuid == course_uuid)

    async def _every_status(self, qan: str) -> list[Candidate]:
        """Every candidate LA lists for ``qan`` ("" for every course): in learning or not,
        completed, test learners included (docs/contract.md §3.3: no single call lists them all)."""
        found: list[Candidate] = []
        for active in (True, False):
            found += await self.client.get_candidates(qan, active=active, completed=True, test=True)
        return found

    async def _check_duplicates(self) -> None:
        """Every learner LA holds twice on the courses of this run's valid records (a duplicate
        is one learner twice on one course; those elsewhere show at the next sync, in
        ``labridge duplicates``); a failure here is a warning, the enrolments stand."""
        run = {r.course for r in self.report.records if r.course and r.outcome != "invalid"}
        run |= {key[1] for key in self._later}
        qans = {self.courses[c].qan if c in self.courses else "" for c in run}
        slots = asyncio.Semaphore(max(1, self.options.concurrency))

        async def listed(qan: str) -> list[Candidate]:
            async with slots:
                return await self._every_status(qan)

        try:
            async with task_group() as group:
                calls = [group.create_task(listed(q)) for q in sorted({""} if "" in qans else qans)]
        except LabridgeError as exc:
            log.warning("could not check LA for duplicates after this run: %s (%s)", exc, exc.hint)
            return
        found = duplicates.find(self.forgotten.keep(x for c in calls for x in c.result()))
        with self.db.begin() as session:
            self.report.duplicates = duplicates.record_found(session, found, self.clock())

    # -- journal and report ---------------------------------------------------------------------

    def _record(self, key: Key, state: str, origin: str, *, new: bool = False, **kw: Any) -> None:
        """Journal a learner's new state with the next transaction (:meth:`_write`); ``new``:
        a learner this run did not claim, who may have no row yet."""
        write = journal.Write(*key, state, self.clock(), origin, **kw)
        (self._unclaimed if new else self._writes).append(write)

    def _write(self, session: Session) -> None:
        """The states journalled since the last write, and the claims of the learners done."""
        journal.record_many(session, self._unclaimed)
        journal.record_many(session, self._writes, existing=True, run_id=self.run_id,
                            release=self._released)  # fmt: skip
        self._unclaimed.clear()
        self._writes.clear()
        self._released.clear()

    def _write_now(self) -> None:
        if self._writes or self._unclaimed or self._released:
            with self.db.begin() as session:
                self._write(session)

    def _finish_journal(self) -> None:
        """At the end of a run, however it ends: every outcome written; learners journalled
        ``pending`` whose send never started put back to ``queued``; every claim released."""
        with self.db.begin() as session:
            self._write(session)
            journal.unsend_many(session, list(self._unsent.values()), self.clock())
            self._unsent.clear()
            journal.release_all(session, self.run_id)

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
                               problems=problems,
                               unless=("enrolled", "pending", "uncertain"))  # fmt: skip
        self._batch.clear()

    def _keep_repeats(self) -> None:
        if self.options.dry_run:
            return
        with self.db.begin() as session:
            repeats.replace(session, self._read, self._repeats, self.clock())

    def _done(self, outcome: RecordOutcome, *, tick: bool = True) -> None:
        self.report.records.append(outcome)
        if tick and self.on_record is not None:
            self.on_record(outcome)


def by_learner(candidates: Iterable[Any]) -> dict[tuple[str, str], Candidate]:
    """LA's candidates by (SourceSystemLearnerUUID, CourseUUID), the first one listed for a
    learner enrolled twice; candidates with no learner id are left out."""
    out: dict[tuple[str, str], Candidate] = {}
    for cand in candidates:
        if isinstance(cand, Candidate) and cand.source_id:
            out.setdefault((cand.source_id, cand.course_uuid), cand)
    return out


#: The record's fields that are a learner's personal data: LA's refusal messages may quote them
#: ("The ULN 9276308687 fails its check digit"), and those messages are shown, journalled and
#: exported; the field name says enough to fix it.
PERSONAL_FIELDS = (
    "forename", "surname", "birth_date", "email", "uln", "ni_number", "phone", "mobile",
    "address_line1", "address_line2", "address_line3", "address_line4", "town", "postcode",
    "line_manager", "line_manager_email", "line_manager_phone", "employee_reference",
)  # fmt: skip


def _personal_values(rec: SourceRecord, user: EnrolmentUser) -> list[str]:
    """The record's personal values as the source gave them and as they were sent."""
    address = user.address.model_dump() if user.address is not None else {}
    values = {rec.fields.get(name) for name in PERSONAL_FIELDS}
    values |= {getattr(user, name, None) for name in PERSONAL_FIELDS}
    values |= {v for v in address.values() if isinstance(v, str)}
    # Longest first, so that a value inside another is not left half shown.
    return sorted((v for v in values if isinstance(v, str) and len(v) >= 3), key=len, reverse=True)


def _redacted(message: str, values: list[str]) -> str:
    for value in values:
        message = message.replace(value, "…")
    return message
