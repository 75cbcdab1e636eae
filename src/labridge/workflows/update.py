"""Update: push later changes from the provider's records with UpdateEnrolment, sending only the
members that changed plus the identifiers (docs/contract.md §3.6; §4, step 4).

For each source row, in order:

- a row the source itself skipped has no enrolment to update: ``not_enrolled``, with its reason;
- a record that fails the same pre-flight validation as ``enrol`` is ``invalid`` and never sent;
- the learner's candidate is looked up: labridge's journal (enrolled on that course), else LA's
  candidates by SourceSystemLearnerUUID and course (synced just before); none is
  ``not_enrolled``, with the hint to run ``labridge enrol`` first;
- the record's members are compared with the *baseline* (below); nothing changed is
  ``unchanged``, a dry run is ``would_update``, otherwise UpdateEnrolment is sent: ``updated``
  (and the journal records what LA now holds), or ``refused`` with LA's whole MessageList.

Members are compared by their wire names, nested ones as ``Address.Postcode``,
``Course.EndDate`` and ``Course.Units`` (the unit UUIDs, sorted, comma-separated).

The baseline is what labridge last pushed for the learner (the journal's ``pushed``: the whole
GroupEnrolment user, merged with every update since); a member absent there was never sent, so
LA has it empty. A learner labridge found in LA but never pushed has no such record: the
baseline is then what GetCandidates shows (e-mail, names, ULN, company, course dates), and a
member it does not show is unknown (``None``), counted as changed only when the source has a
value. LA's own edits are therefore never overwritten unless the source changes too.

The rules, member by member:

- BirthDate, Forename and Gender cannot be updated (§3.6): a change is reported as a notice
  (``NOT_UPDATABLE``), never sent; the user changes them in LA by hand.
- The course itself is part of the learner's key, never an update: a record on another course is
  another enrolment. Of the course, StartDate and EndDate are updated; units are only added (LA
  adds what it is sent to the units held), a unit dropped from the source is a notice.
- An address is sent as ``Address`` holding only the sub-members that changed (an omitted
  member stays as LA has it, §3.6).
- A value the source no longer has is kept in LA (a ``KEPT_IN_LA`` notice) unless
  ``clear_missing``, which sends ``""`` for it (§3.6: an empty string clears).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import store
from ..client import AsyncClient, built
from ..clock import Clock, utc_now
from ..errors import LabridgeError, Problem, ProtocolError, TransportError
from ..models import Candidate
from ..sources.records import SkippedRecord, SourceRecord, SourceRow
from ..store import erase, journal
from ..validate.learners import Checked, check_all
from ..validate.lookups import ReferenceData
from .changes import (
    Baseline,
    Change,
    Diff,
    baseline,
    diff,
    flatten,
    pushed_after,
    unflatten,
    update_user,
)
from .enrol import by_learner
from .records import Outcome, RecordsReport, RunOptions
from .tasks import Bounded, task_group

OUTCOMES = (
    "updated", "would_update", "unchanged", "uncertain", "refused", "invalid", "not_enrolled"
)  # fmt: skip
UNCERTAIN = (
    "LA may have applied this update (its answer was lost); the next `labridge update` compares "
    "LA's values with what was sent and sends it again only if they differ"
)
ENROL_FIRST = "run `labridge enrol` with this source first, then `labridge update`"

OnRecord = Callable[["RecordOutcome"], None]


@dataclass(frozen=True)
class RecordOutcome(Outcome):
    """One record's outcome in an update run (``labridge.UpdateOutcome``): the members that
    changed, by wire name, each as (before, after)."""

    changes: Mapping[str, Change] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "outcome": self.outcome,
            "changes": {name: [old, new] for name, (old, new) in self.changes.items()},
            "problems": [p.as_dict() for p in self.problems],
        }


@dataclass
class UpdateReport(RecordsReport[RecordOutcome]):
    OUTCOMES = OUTCOMES

    @property
    def failed(self) -> bool:
        """Some record needs fixing, or an update's outcome is still unknown."""
        return super().failed or bool(self.count("uncertain"))


@dataclass(frozen=True)
class Options(RunOptions):
    """How an update run goes (``labridge.UpdateOptions``)."""

    #: Blank in LA the members the source leaves empty (else LA keeps them).
    clear_missing: bool = False


async def update(
    client: AsyncClient,
    db: store.Store,
    rows: Iterable[SourceRow],
    options: Options = Options(),
    *,
    on_record: OnRecord | None = None,
) -> UpdateReport:
    """Push later changes of already-enrolled learners with UpdateEnrolment, sending only the
    fields that differ from what LA last held (docs/contract.md §3.6). Sync first.
    ``options.dry_run`` shows each diff and sends nothing; ``options.clear_missing`` blanks in
    LA the fields the source leaves empty."""
    return await Updater(client, db, options, on_record=on_record).run(rows)


@dataclass(frozen=True)
class _Plan:
    """One learner's update, ready to send."""

    checked: Checked
    candidate_uuid: str
    base: Baseline
    diff: Diff

    @property
    def key(self) -> tuple[str, str]:
        return (self.checked.record.source_id, self.checked.course_uuid)


class Updater:
    """One update run. Build it, then ``await run(rows)``."""

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
        self.report = UpdateReport(options.dry_run)
        with db.session() as session:
            self.ref = ReferenceData.load(session)
            self.journal = journal.load_all(session)
            self.forgotten = erase.Forgotten.load(session)
            in_la = [x for x in store.list_set(session, "candidates") if isinstance(x, Candidate)]
        self.by_key = by_learner(in_la)
        self.by_uuid = {x.candidate_uuid: x for x in in_la}

    async def run(self, rows: Iterable[SourceRow]) -> UpdateReport:
        try:
            async with task_group() as group:
                sends = Bounded(group, self.options.concurrency)
                for checked in check_all(self._records(rows), self.ref, today=self.options.today):
                    plan = self._plan(checked)
                    if plan is not None:
                        await sends.start(self._send(plan))
        except LabridgeError as exc:
            exc.partial = self.report  # what was finished, for --json
            raise
        finally:
            self.report.records.sort(key=lambda r: r.row)
        return self.report

    # -- the decisions that need no call ----------------------------------------------------------

    def _records(self, rows: Iterable[SourceRow]) -> Iterator[SourceRecord]:
        for row in rows:
            erased_on = self.forgotten.on(row.source_id)
            if erased_on is not None:  # erased on request: nothing of theirs is sent again
                when = erased_on.date().isoformat()
                problem = Problem("row", "FORGOTTEN", f"forgotten: erased on {when}, not updated")
                self._done(row, row.source_id, "not_enrolled", (problem,))
            elif isinstance(row, SkippedRecord):
                problem = Problem("row", "SKIPPED_BY_SOURCE", f"{row.origin}: {row.reason}")
                self._done(row, row.source_id or row.origin, "not_enrolled", (problem,))
            else:
                yield row

    def _plan(self, checked: Checked) -> _Plan | None:
        """Decide without calling LA when possible; the update to send otherwise."""
        rec = checked.record
        if not checked.ok or checked.user is None:
            self._done(rec, rec.source_id or rec.origin, "invalid", checked.problems)
            return None
        self._settle_uncertain((rec.source_id, checked.course_uuid))
        found = self._find(rec.source_id, checked.course_uuid)
        if found is None:
            self._not_enrolled(checked)
            return None
        candidate_uuid, base = found
        # The user's wire form, built once; the diff compares it member by member.
        wire = built(checked.user).members
        todo = diff(flatten(wire), base, clear_missing=self.options.clear_missing)
        if not todo.changes or self.options.dry_run:
            outcome = "would_update" if todo.changes else "unchanged"
            self._done(rec, rec.source_id, outcome, tuple(todo.notices), todo.changes)
            return None
        return _Plan(checked, candidate_uuid, base, todo)

    def _find(self, source_id: str, course_uuid: str) -> tuple[str, Baseline] | None:
        """The learner's candidate and baseline: by the journal, else by LA's candidates."""
        entry = self.journal.get((source_id, course_uuid))
        if entry is not None and entry.state == "enrolled" and entry.candidate_uuid:
            in_la = self.by_uuid.get(entry.candidate_uuid)
            return entry.candidate_uuid, baseline(entry, in_la)
        in_la = self.by_key.get((source_id, course_uuid))
        if in_la is None:
            return None
        return in_la.candidate_uuid, baseline(None, in_la)

    def _settle_uncertain(self, key: tuple[str, str]) -> None:
        """An earlier update whose outcome is unknown: LA's values (synced just before) equal to
        what was sent mean it landed, so it is recorded as pushed; otherwise it is forgotten and
        the normal diff sends it again. Members GetCandidates does not show cannot tell: an
        update made only of those is sent again, which is harmless (docs/contract.md §3.6)."""
        entry = self.journal.get(key)
        if entry is None or entry.update_sent is None or self.options.dry_run:
            return
        in_la = self.by_uuid.get(entry.candidate_uuid or "")
        sent: dict[str, str] = entry.update_sent["send"]
        shown = baseline(None, in_la).values if in_la is not None else {}
        seen = [name for name in sent if shown.get(name) is not None]
        landed = bool(seen) and all(shown[name] == sent[name] for name in seen)
        with self.db.begin() as session:
            if landed and entry.candidate_uuid:
                journal.record_update(session, *key, entry.candidate_uuid,
                                      entry.update_sent["pushed"], self.clock())  # fmt: skip
            else:
                journal.clear_update_uncertain(session, *key)
            settled = journal.get(session, *key)
        if settled is not None:
            self.journal[key] = settled

    def _not_enrolled(self, checked: Checked) -> None:
        rec = checked.record
        course = rec.fields.get("course") or checked.course_uuid
        message = (
            f"{rec.origin}: learner {rec.source_id!r} is not enrolled on {course!r} in LA; "
            f"{ENROL_FIRST}"
        )
        problem = Problem("learner_id", "NOT_ENROLLED", message)
        self._done(rec, rec.source_id, "not_enrolled", (problem,))

    # -- sending --------------------------------------------------------------------------------

    async def _send(self, plan: _Plan) -> None:
        rec = plan.checked.record
        user = update_user(plan.diff.send, plan.candidate_uuid, plan.key[1], rec.source_id)
        # UpdateEnrolment is a write, so it is never retried here. A failure before sending stops
        # the run (the next one sends the same diff). When LA may have applied it, what was sent
        # is kept and the next run settles it against LA's values (_settle_uncertain); sending
        # the same values twice would be harmless anyway (docs/contract.md §3.6: an update sets
        # what it
        # names), but a change made in LA meanwhile must not be overwritten blindly.
        try:
            answer = await self.client.update_enrolment(user)
        except TransportError as exc:
            if not exc.maybe_sent:
                raise _interrupted(rec, exc) from exc
            self._uncertain(plan)
            return
        except ProtocolError:  # an answer we cannot read: LA may have applied it
            self._uncertain(plan)
            return
        notices = tuple(plan.diff.notices)
        if answer.success:
            self._pushed(plan)
            self._done(rec, rec.source_id, "updated", notices, plan.diff.changes)
            return
        problems = tuple(Problem(m.field, m.code, m.message) for m in answer.messages)
        with self.db.begin() as session:
            journal.record_update_refused(session, *plan.key, plan.candidate_uuid, problems,
                                          self.clock())  # fmt: skip
        self._done(rec, rec.source_id, "refused", problems + notices, plan.diff.changes)

    def _uncertain(self, plan: _Plan) -> None:
        rec = plan.checked.record
        sent = {"send": plan.diff.send,
                "pushed": unflatten(pushed_after(plan.base, plan.diff.send))}  # fmt: skip
        with self.db.begin() as session:
            journal.mark_update_uncertain(session, *plan.key, plan.candidate_uuid, sent,
                                          self.clock(), origin=rec.origin)  # fmt: skip
        problem = Problem("update", "UNCERTAIN", UNCERTAIN)
        self._done(rec, rec.source_id, "uncertain", (problem, *plan.diff.notices),
                   plan.diff.changes)  # fmt: skip

    def _pushed(self, plan: _Plan) -> None:
        pushed = unflatten(pushed_after(plan.base, plan.diff.send))
        with self.db.begin() as session:
            journal.record_update(session, *plan.key, plan.candidate_uuid, pushed, self.clock(),
                                  origin=plan.checked.record.origin)  # fmt: skip

    def _done(
        self,
        row: SourceRow,
        source_id: str,
        outcome: str,
        problems: tuple[Problem, ...] = (),
        changes: Mapping[str, Change] | None = None,
    ) -> None:
        changed = dict(changes or {})
        record = RecordOutcome(
            source_id, row.origin, outcome, changed, problems=problems, row=row.row
        )
        self.report.records.append(record)
        if self.on_record is not None:
            self.on_record(record)


def _interrupted(rec: SourceRecord, exc: TransportError) -> TransportError:
    fate = "may or may not have reached" if exc.maybe_sent else "did not reach"
    return TransportError(
        f"the update of {rec.source_id} ({rec.origin}) {fate} LA: {exc.args[0]}",
        hint="run the same command again once LA answers: labridge has not recorded it as sent, "
        "so it sends the same changes again, which is harmless",
        maybe_sent=exc.maybe_sent,
    )
