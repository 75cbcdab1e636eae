"""The progress report: where every learner stands against their plan, per course and overall.

Read straight from the store's progress tables (``progress_learners`` for the latest state,
``progress_history`` for the changes over time) with a handful of queries, whatever the number of
learners: units are counted in SQL, the history is read once, and the rest is one pass in Python.

**On track.** A learner's *expected* percentage is how far through their planned course they are
today: ``(today - start) / (end - start) * 100``, clamped to 0..100. They are *on track* when
their overall percentage is at least ``expected - TOLERANCE`` (10 points: LA's percentages move in
steps of whole units and outcomes, so a learner a few points short of a straight line is normal),
or when their status is ``Completed``. A learner not learning now (``Withdrawn``, or on a
``BreakInLearning``, whose plan is re-set on return), or one whose planned dates are missing or
unreadable, is not judged (``on_track`` is ``None``) and counted under "not judged".

**Standing.** For counting, each learner has exactly one *standing*, so that the summary's
figures add up to the number of learners: ``completed``; ``not_judged``; ``behind``;
``not_started`` (on track only because their planned start is still to come); else ``on_track``.
The per-learner ``on_track`` keeps the rule above (a completed learner is on track).
"""

from __future__ import annotations

import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlalchemy import Connection, case, func, select
from sqlalchemy.orm import Session

from ..store import tables as t
from ..validate.uk import date_or_none
from . import charts, labels
from .formats import ReportFormat
from .spreadsheet import SafeWriter

#: Points an overall percentage may trail the expected one and still count as on track.
TOLERANCE = 10.0
#: Statuses (docs/contract.md §3.3) of learners not learning now: not judged against their plan.
NOT_JUDGED = frozenset({"Withdrawn", "BreakInLearning"})
#: How many learners the "most behind" list names.
MOST_BEHIND = 10
#: The distribution buckets of overall percentages, as the report names them.
BUCKETS = ("0-24", "25-49", "50-74", "75-99", "100")
#: A learner's standings (see the module's docstring), in the order the report counts them.
STANDINGS = ("on_track", "behind", "not_started", "completed", "not_judged")
#: The columns of the CSV, and the members of each learner in the JSON, in this order.
COLUMNS = (
    "candidate_uuid",
    "source_id",
    "name",
    "course",
    "overall",
    "expected",
    "on_track",
    "standing",
    "units_done",
    "units_total",
    "last_activity",
    "start_date",
    "end_date",
    "status",
)

Points = list[tuple[datetime, float]]


@dataclass(frozen=True)
class LearnerProgress:
    """One learner's line in the report: where they stand against their plan. (The store's row
    of a learner's latest progress is :class:`labridge.store.progress_history.LatestProgress`.)"""

    candidate_uuid: str
    source_id: str
    name: str
    course: str
    overall: float
    expected: float | None
    on_track: bool | None
    standing: str
    units_done: int
    units_total: int
    last_activity: str
    start_date: str
    end_date: str
    status: str

    @property
    def gap(self) -> float:
        """Percentage points behind the plan (negative when ahead)."""
        return 0.0 if self.expected is None else self.expected - self.overall

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in COLUMNS}


@dataclass(frozen=True)
class CourseSpread:
    course: str
    learners: int
    buckets: dict[str, int]
    #: Learners per standing (:data:`STANDINGS`): these add up to ``learners``.
    standings: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "course": self.course,
            "learners": self.learners,
            "buckets": dict(self.buckets),
            **self.standings,
        }


@dataclass(frozen=True)
class ProgressReport:
    generated_at: datetime
    today: date
    tolerance: float
    learners: list[LearnerProgress]
    courses: list[CourseSpread]
    most_behind: list[LearnerProgress]
    #: Learner-level history (pulled at, overall %) by candidate, oldest first.
    history: dict[str, Points] = field(repr=False)
    #: Learners known to the progress table whose pull never succeeded: not in the report.
    never_pulled: int = 0

    def summary(self) -> dict[str, int]:
        """The learners by standing, which add up to ``learners``; ``never_pulled`` are not among
        them (they are not in the report)."""
        return {
            "learners": len(self.learners),
            **standing_counts(self.learners),
            "never_pulled": self.never_pulled,
        }

    def headline(self) -> str:
        """``12 learners: 3 on track, 5 behind, 1 not started yet, 1 completed, 2 not judged``."""
        counts = standing_counts(self.learners)
        parts = ", ".join(f"{counts[s]} {labels.standing_name(s)}" for s in STANDINGS)
        return f"{len(self.learners)} learner{'s' if len(self.learners) != 1 else ''}: {parts}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at.isoformat(),
            "today": self.today.isoformat(),
            "tolerance": self.tolerance,
            "summary": self.summary(),
            "learners": [learner.as_dict() for learner in self.learners],
            "courses": [course.as_dict() for course in self.courses],
            "most_behind": [learner.as_dict() for learner in self.most_behind],
        }


# -- the rules ------------------------------------------------------------------------------------


def expected_percentage(start: date | None, end: date | None, today: date) -> float | None:
    """How far through the planned period ``today`` is, 0..100; ``None`` without a plan."""
    if start is None or end is None:
        return None
    if end <= start:
        return 100.0 if today >= end else 0.0
    share = (today - start).days / (end - start).days * 100
    return round(min(max(share, 0.0), 100.0), 1)


def judge(overall: float, expected: float | None, status: str, tolerance: float) -> bool | None:
    """On track (True), behind (False), or not judged (None): the module's rule."""
    if status == "Completed":
        return True
    if status in NOT_JUDGED or expected is None:
        return None
    return overall >= expected - tolerance


def standing_of(on_track: bool | None, status: str, start: date | None, today: date) -> str:
    """The one standing (:data:`STANDINGS`) a learner is counted under."""
    if status == "Completed":
        return "completed"
    if on_track is None:
        return "not_judged"
    if not on_track:
        return "behind"
    if start is not None and today < start:
        return "not_started"
    return "on_track"


def standing_counts(learners: Iterable[LearnerProgress]) -> dict[str, int]:
    counts = Counter(learner.standing for learner in learners)
    return {name: counts[name] for name in STANDINGS}


def bucket(overall: float) -> str:
    """The distribution bucket of an overall percentage."""
    if overall >= 100:
        return BUCKETS[-1]
    return BUCKETS[min(max(int(overall // 25), 0), 3)]


# -- reading the store ----------------------------------------------------------------------------


def build_progress_report(
    db: Connection | Session,
    today: date,
    *,
    tolerance: float = TOLERANCE,
    now: datetime | None = None,
) -> ProgressReport:
    """The report as of ``today`` from the store behind ``db`` (read only)."""
    units, course_units = _unit_counts(db), _course_unit_counts(db)
    learners = []
    for row in _learner_rows(db):
        done, total = units.get(row.candidate_uuid, (0, course_units.get(row.course_uuid, 0)))
        learners.append(_learner(row, done, total, today, tolerance))
    learners.sort(key=lambda learner: (learner.course.casefold(), learner.name.casefold()))
    return ProgressReport(
        generated_at=now or datetime.now(UTC),
        today=today,
        tolerance=tolerance,
        learners=learners,
        courses=course_spreads(learners),
        most_behind=most_behind(learners),
        history=_history(db),
        never_pulled=_never_pulled(db),
    )


def _learner(row: Any, done: int, total: int, today: date, tolerance: float) -> LearnerProgress:
    start = date_or_none(row.start_date)
    expected = expected_percentage(start, date_or_none(row.end_date), today)
    on_track = judge(row.overall, expected, row.status, tolerance)
    name = f"{row.forename or ''} {row.surname or ''}".strip() or row.source_id
    return LearnerProgress(
        candidate_uuid=row.candidate_uuid,
        source_id=row.source_id,
        name=name,
        course=row.course_name or row.course_uuid,
        overall=round(row.overall, 1),
        expected=expected,
        on_track=on_track,
        standing=standing_of(on_track, row.status, start, today),
        units_done=done,
        units_total=total,
        last_activity=row.last_activity_date,
        start_date=row.start_date,
        end_date=row.end_date,
        status=row.status,
    )


def _learner_rows(db: Connection | Session) -> Iterable[Any]:
    p, c, f = t.progress_learners, t.candidates, t.frameworks
    query = (
        select(p, c.c.forename, c.c.surname, f.c.name.label("course_name"))
        .outerjoin(c, c.c.candidate_uuid == p.c.candidate_uuid)
        .outerjoin(f, f.c.course_uuid == p.c.course_uuid)
        .where(p.c.pulled_at.is_not(None))
    )
    return db.execute(query).all()


def _unit_counts(db: Connection | Session) -> dict[str, tuple[int, int]]:
    """(units completed, units listed) per candidate, from each unit's latest history row."""
    h = t.progress_history
    latest = (
        select(func.max(h.c.id).label("id"))
        .where(h.c.level == "unit")
        .group_by(h.c.candidate_uuid, h.c.unit_uuid)
        .subquery()
    )
    done = func.sum(case((h.c.completed, 1), else_=0))
    query = (
        select(h.c.candidate_uuid, done, func.count())
        .join(latest, latest.c.id == h.c.id)
        .group_by(h.c.candidate_uuid)
    )
    return {uuid: (int(d or 0), int(n)) for uuid, d, n in db.execute(query)}


def _course_unit_counts(db: Connection | Session) -> dict[str, int]:
    """Units per course, for learners whose units LA has not reported yet."""
    u = t.units
    query = select(u.c.course_uuid, func.count()).where(u.c.removed_at.is_(None))
    return {uuid: int(n) for uuid, n in db.execute(query.group_by(u.c.course_uuid))}


def _history(db: Connection | Session) -> dict[str, Points]:
    h = t.progress_history
    query = (
        select(h.c.candidate_uuid, h.c.pulled_at, h.c.percentage)
        .where(h.c.level == "learner")
        .order_by(h.c.candidate_uuid, h.c.pulled_at, h.c.id)
    )
    series: dict[str, Points] = defaultdict(list)
    for uuid, pulled_at, percentage in db.execute(query):
        series[uuid].append((pulled_at, percentage))
    return dict(series)


def _never_pulled(db: Connection | Session) -> int:
    p = t.progress_learners
    query = select(func.count()).select_from(p).where(p.c.pulled_at.is_(None))
    return int(db.execute(query).scalar_one())


# -- summarising ----------------------------------------------------------------------------------


def course_spreads(learners: Sequence[LearnerProgress]) -> list[CourseSpread]:
    """Per course: learners per bucket and per standing; courses by name."""
    by_course: dict[str, list[LearnerProgress]] = defaultdict(list)
    for learner in learners:
        by_course[learner.course].append(learner)
    spreads = []
    for course in sorted(by_course, key=str.casefold):
        group = by_course[course]
        counts = Counter(bucket(learner.overall) for learner in group)
        spreads.append(
            CourseSpread(
                course=course,
                learners=len(group),
                buckets={name: counts[name] for name in BUCKETS},
                standings=standing_counts(group),
            )
        )
    return spreads


def most_behind(
    learners: Sequence[LearnerProgress], limit: int = MOST_BEHIND
) -> list[LearnerProgress]:
    """The learners behind their plan, furthest behind first (ties by name)."""
    behind = [learner for learner in learners if learner.on_track is False]
    behind.sort(key=lambda learner: (-learner.gap, learner.name.casefold()))
    return behind[:limit]


# -- CSV ------------------------------------------------------------------------------------------


def progress_csv(report: ProgressReport) -> str:
    """One line per learner, the columns of :data:`COLUMNS`; empty cells for "not known"; the
    status and standing in words (``Break in learning``), as the HTML shows them."""
    buffer = io.StringIO(newline="")
    writer = SafeWriter(buffer)
    writer.writerow(COLUMNS)
    for learner in report.learners:
        row = learner.as_dict()
        row["status"] = labels.status_name(learner.status)
        row["standing"] = labels.standing_name(learner.standing)
        writer.writerow(_csv_cell(value) for value in row.values())
    return buffer.getvalue()


def _csv_cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


# -- HTML -----------------------------------------------------------------------------------------

#: Caps on what the HTML draws, so thousands of learners still make a page a browser opens fast.
PANELS = 20
COURSE_BARS = 40

TEMPLATES = Environment(
    loader=PackageLoader("labridge.reports", "templates"),
    autoescape=True,  # names and courses are user data: everything is escaped
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=StrictUndefined,
)
TEMPLATES.filters["pct"] = lambda value: "" if value is None else f"{value:.0f}%"  # 37.5 -> "38%"
TEMPLATES.filters["status"] = labels.status_name
TEMPLATES.filters["standing"] = labels.standing_name


def progress_html(report: ProgressReport) -> str:
    """The report as one self-contained HTML page: inline CSS, inline SVG, no external URL."""
    # Learners judged behind first, then the rest (on track, not judged) by how far behind.
    ranked = sorted(report.learners, key=lambda lp: (lp.on_track is not False, -lp.gap))[:PANELS]
    largest = sorted(report.courses, key=lambda course: -course.learners)[:COURSE_BARS]
    bars = [(c.course, c.buckets) for c in sorted(largest, key=lambda c: c.course.casefold())]
    return TEMPLATES.get_template("progress.html.j2").render(
        report=report,
        summary=report.summary(),
        buckets=BUCKETS,
        bars=charts.course_bars(bars, BUCKETS) if bars else None,
        panels=[
            (learner, charts.panel(_series(learner, report), report.today, f"panel-{i}"))
            for i, learner in enumerate(ranked)
        ],
        sparks={
            learner.candidate_uuid: charts.sparkline(
                report.history.get(learner.candidate_uuid, []), learner.name, report.today
            )
            for learner in report.learners
        },
        courses_drawn=len(bars),
        standings=STANDINGS,
        headline=report.headline(),
    )


def _series(learner: LearnerProgress, report: ProgressReport) -> charts.Series:
    return charts.Series(
        label=learner.name,
        points=report.history.get(learner.candidate_uuid, []),
        start=date_or_none(learner.start_date),
        end=date_or_none(learner.end_date),
    )


def render_progress(report: ProgressReport, fmt: ReportFormat) -> str:
    """The report in ``fmt``: the text of the file (or of stdout, for JSON)."""
    if fmt is ReportFormat.html:
        return progress_html(report)
    if fmt is ReportFormat.csv:
        return progress_csv(report)
    return json.dumps(report.as_dict(), indent=2) + "\n"
