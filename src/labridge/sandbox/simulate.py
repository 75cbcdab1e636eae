"""GetProgress and GetProgressFull as the sandbox plays them (docs/contract.md §3.3): progress
simulated.

Nobody uploads evidence to the sandbox, so it simulates the work, deterministically, from what LA
holds of a learner (start date, planned end date, status, the units enrolled on, in the course's
order, and their outcomes) and the sandbox clock (:mod:`.clock`, moved by ``POST /_sandbox/clock``).

The model:

- **Pace.** A stable hash of the CandidateUUID (SHA-256, not Python's salted ``hash``) seeds a
  :class:`random.Random` that draws the learner's kind and rate (the share of the plan done per
  share of the planned time): half *on track* (rate 0.9 to 1.2), a fifth *behind* (0.4 to 0.8),
  15% *stalled* (0.7 to 1.1 until a point drawn between 20% and 60% of the planned duration, then
  nothing more: never past 66%), 15% *early* (1.3 to 1.6). A learner held as Completed is never
  behind or stalled (and its rate is at least 1); one on a break in learning or withdrawn is
  stalled, since LA holds no date of the break and a learner who stopped makes no progress.
- **Plan.** The learner's outcomes, unit after unit and in order within a unit, are N equal steps
  over the planned duration D in days: AnticipatedEndDate minus StartDate, or a year (same day
  twelve months on) when there is no planned end, or it is not after the start. At rate r, step k
  is due after t_k = k*D/(N*r) working days, and completes on the day ``ceil(t_k)`` after the
  start once the learner's working days (days since the start, capped at the stall day) reach
  t_k. A unit without outcomes is one step.
- **Evidence.** A done outcome holds its full evidence (1 to 4 pieces, hashed from learner and
  step); the one being worked on holds the share its working days so far earn; later ones none.
- **Answer.** Unit ``Progress`` and ``OverallProgress`` are the percentage of steps done, to one
  decimal; ``CompletedDate`` is the day a unit's (an outcome's) last step completed;
  ``LastActivityDate`` the latest completion, else the start date; ``Status`` the status held, but
  Completed once everything is done (unless Withdrawn). That switch is not written back:
  GetCandidates goes on listing the status held.

Same learner and clock, same answer; a later clock never undoes anything, since each step's day is
fixed and working days only grow. Before the start nothing is done. The simulation is a function
of the enrolment as it is now: an UpdateEnrolment that moves a learner's dates or adds units
re-plans the learner's whole course (completion dates may move), as no history is kept.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from .. import models as m
from .clock import parse_date
from .db import ACTIVE, BREAK_IN_LEARNING, COMPLETED, WITHDRAWN, Outcome

if TYPE_CHECKING:
    from .db import SandboxDB

ON_TRACK, BEHIND, STALLED, EARLY = "on_track", "behind", "stalled", "early"

#: (kind, share of learners, range of rates); the shares add up to 1.
KINDS: tuple[tuple[str, float, tuple[float, float]], ...] = (
    (ON_TRACK, 0.50, (0.9, 1.2)),
    (BEHIND, 0.20, (0.4, 0.8)),
    (STALLED, 0.15, (0.7, 1.1)),
    (EARLY, 0.15, (1.3, 1.6)),
)
#: Where in the planned duration a stalled learner stops (shares of it). With the stalled rates
#: above, a stalled learner never gets past 66%.
STALL_AT = (0.2, 0.6)
#: Pieces of evidence a done outcome holds.
EVIDENCE = (1, 4)
#: Changing it gives every learner a new pace.
_SALT = "labridge-sandbox-progress/1:"


# ---------------------------------------------------------------------------------------------
# Pace


@dataclass(frozen=True)
class Pace:
    kind: str
    #: Share of the plan done per share of the planned time.
    rate: float
    #: Share of the planned duration after which a stalled learner does nothing more.
    stall_at: float | None = None


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256((_SALT + text).encode()).digest()[:8], "big")


def learner_key(cand: m.Candidate) -> str:
    """What a learner's simulated pace hangs on: their own id and course, so that the same
    learner enrolled again (a new CandidateUUID each time, as in LA) progresses the same way and
    a demo or test run is reproducible; the CandidateUUID when there is no learner id."""
    return f"{cand.source_id}|{cand.course_uuid}" if cand.source_id else cand.candidate_uuid


def pace_of(candidate_uuid: str, status: str = ACTIVE) -> Pace:
    """The learner's pace: drawn from its UUID, then fitted to the status LA holds."""
    rng = random.Random(_seed(candidate_uuid))
    roll, speed, stop = rng.random(), rng.random(), rng.random()
    kind = _kind(roll)
    if status in (BREAK_IN_LEARNING, WITHDRAWN):
        kind = STALLED
    elif status == COMPLETED and kind in (BEHIND, STALLED):
        kind = ON_TRACK
    low, high = next(rates for k, _, rates in KINDS if k == kind)
    rate = low + speed * (high - low)
    if status == COMPLETED:
        rate = max(rate, 1.0)
    stall_at = STALL_AT[0] + stop * (STALL_AT[1] - STALL_AT[0]) if kind == STALLED else None
    return Pace(kind, rate, stall_at)


def _kind(roll: float) -> str:
    for kind, share, _ in KINDS:
        if roll < share:
            return kind
        roll -= share
    return KINDS[-1][0]


def _evidence(candidate_uuid: str, step: int) -> int:
    return random.Random(_seed(f"{candidate_uuid}#{step}")).randint(*EVIDENCE)


# ---------------------------------------------------------------------------------------------
# Timeline: when each step is done


def planned_end(start: date, end_date: str) -> date:
    """The planned end LA holds, or twelve months after the start without a usable one."""
    end = parse_date(end_date.strip())
    if end is not None and end > start:
        return end
    try:
        return start.replace(year=start.year + 1)
    except ValueError:  # 29 February
        return start.replace(year=start.year + 1, day=28)


@dataclass(frozen=True)
class Timeline:
    """One learner's N steps over D planned days at a pace."""

    start: date
    days: int
    steps: int
    pace: Pace

    def due(self, k: int) -> float:
        """t_k: working days after which step ``k`` (1-based; 0 is the start) is done."""
        return k * self.days / (self.steps * self.pace.rate)

    def worked(self, today: date) -> int:
        """Working days by ``today``: days since the start, none after a stall."""
        elapsed = (today - self.start).days
        if self.pace.stall_at is None:
            return elapsed
        return min(elapsed, math.floor(self.pace.stall_at * self.days))

    def completed_on(self, k: int, worked: int) -> date | None:
        """The day step ``k`` completed, or None if it is not done after ``worked`` days."""
        due = self.due(k)
        return self.start + timedelta(days=math.ceil(due)) if due <= worked else None

    def share_of(self, k: int, worked: int) -> float:
        """How much of step ``k`` is done after ``worked`` days (0 to 1)."""
        before, due = self.due(k - 1), self.due(k)
        return min(1.0, max(0.0, (worked - before) / (due - before)))


# ---------------------------------------------------------------------------------------------
# Learners and their answer


@dataclass(frozen=True)
class Learner:
    """What the simulation reads of one learner."""

    candidate: m.Candidate
    #: Units enrolled on, in the course's order, each with its outcomes in order.
    units: tuple[tuple[m.Unit, tuple[Outcome, ...]], ...]


def load(db: SandboxDB, candidate_uuid: str) -> Learner | None:
    found = db.learner(candidate_uuid)
    if found is None:
        return None
    candidate, units = found
    return Learner(candidate, tuple((u.unit, tuple(u.outcomes)) for u in units))


def progress_of(
    db: SandboxDB, candidate_uuid: str, today: date, *, full: bool
) -> m.Progress | None:
    """The learner's progress on ``today``, or None when LA has no such candidate."""
    learner = load(db, candidate_uuid)
    return None if learner is None else simulate(learner, today, full=full)


def simulate(learner: Learner, today: date, *, full: bool) -> m.Progress:
    """The answer of GetProgressFull (``full``) or GetProgress (no outcomes) on ``today``."""
    cand = learner.candidate
    sizes = [max(1, len(outcomes)) for _, outcomes in learner.units]
    steps = sum(sizes)
    day = day_of(learner, steps, today)
    done = [d for k in range(1, steps + 1) if (d := day.completed_on(k)) is not None]
    finished = steps > 0 and len(done) == steps and cand.status != WITHDRAWN
    return m.Progress(
        candidate_uuid=cand.candidate_uuid,
        source_id=cand.source_id,
        course_uuid=cand.course_uuid,
        start_date=cand.start_date,
        end_date=cand.end_date,
        last_activity_date=max(done).isoformat() if done else cand.start_date,
        overall_progress=_percent(len(done), steps),
        status=COMPLETED if finished else cand.status,
        units=_units(learner, sizes, day, full=full),
    )


def _units(learner: Learner, sizes: list[int], day: Day, *, full: bool) -> list[m.UnitProgress]:
    """Each unit on ``day``; a unit of ``size`` steps holds the next ``size`` of the plan."""
    units, first = [], 0
    for (unit, outcomes), size in zip(learner.units, sizes, strict=True):
        span = [day.completed_on(k) for k in range(first + 1, first + size + 1)]
        shown = _outcomes(day, learner_key(learner.candidate), outcomes, first) if full else []
        units.append(_unit(unit, span, shown))
        first += size
    return units


@dataclass(frozen=True)
class Day:
    """A learner's timeline seen on one day (no timeline: nothing is ever done)."""

    timeline: Timeline | None
    worked: int

    def completed_on(self, k: int) -> date | None:
        return None if self.timeline is None else self.timeline.completed_on(k, self.worked)

    def share_of(self, k: int) -> float:
        return 0.0 if self.timeline is None else self.timeline.share_of(k, self.worked)


def day_of(learner: Learner, steps: int, today: date) -> Day:
    """The learner's ``steps`` seen on ``today``. Without a usable start date LA's learner has
    not started, as far as the simulation can tell."""
    cand = learner.candidate
    start = parse_date(cand.start_date.strip())
    if start is None or steps == 0:
        return Day(None, 0)
    pace = pace_of(learner_key(cand), cand.status)
    timeline = Timeline(start, (planned_end(start, cand.end_date) - start).days, steps, pace)
    return Day(timeline, timeline.worked(today))


def _outcomes(
    day: Day, candidate_uuid: str, outcomes: tuple[Outcome, ...], first: int
) -> list[m.OutcomeProgress]:
    """A unit's outcomes, steps ``first + 1`` onwards; evidence grows with each one's share."""
    shown = []
    for k, outcome in enumerate(outcomes, start=first + 1):
        completed = day.completed_on(k)
        shown.append(
            m.OutcomeProgress(
                outcome_uuid=outcome.outcome_uuid,
                reference=outcome.reference,
                description=outcome.description,
                completed=completed is not None,
                completed_date=completed.isoformat() if completed else "",
                evidence_count=math.floor(day.share_of(k) * _evidence(candidate_uuid, k)),
            )
        )
    return shown


def _unit(
    unit: m.Unit, span: list[date | None], outcomes: list[m.OutcomeProgress]
) -> m.UnitProgress:
    done = [d for d in span if d is not None]
    completed = bool(span) and len(done) == len(span)
    return m.UnitProgress(
        unit_uuid=unit.unit_uuid,
        name=unit.name,
        reference=unit.reference,
        progress=_percent(len(done), len(span)),
        completed=completed,
        completed_date=max(done).isoformat() if completed else "",
        outcomes=outcomes,
    )


def _percent(done: int, total: int) -> float:
    return round(100 * done / total, 1) if total else 0.0
