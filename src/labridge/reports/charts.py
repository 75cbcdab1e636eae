"""Inline SVG charts for the HTML reports, drawn here in Python so the report needs no script
library and no network: a sparkline, a progress-over-time panel per learner, stacked course bars.

Markup is only ever built as ``Markup(literal).format(...)``, which escapes every argument that is
not itself Markup: names and course titles (user data) cannot inject tags or attributes. The
functions return :class:`~markupsafe.Markup`, which Jinja2 inserts as is.
Each chart carries ``role="img"`` and a ``<title>`` (the panels a ``<desc>`` too, read out with
the figures it shows), and says in words what it draws: the tables of the report hold the same
numbers.

Progress history holds a row only when a learner's percentage changed, so a learner's value holds
from their last change until today: the line is carried on, flat, to today's marker, and labelled
"no change since <date>" (a single change is a flat line, not a lone dot).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from markupsafe import Markup

from .labels import day_text, month_text

#: Colours of the distribution buckets, from far behind (red) to complete (green).
BUCKET_COLOURS = ("#d7301f", "#fc8d59", "#fdcc8a", "#a6d96a", "#1a9641")
#: At most this many points per sparkline: a learner pulled daily for years stays a few hundred
#: bytes.
SPARK_POINTS = 40
#: A panel marks each change with a dot up to this many changes (beyond, the line alone).
DOTS = 40
#: A panel's description lists each change up to this many; beyond, the first and the last.
LISTED = 8
#: The panel's drawing: the viewBox, then the plot area inside it (room for the axes' labels).
PANEL_W, PANEL_H = 320, 176
LEFT, RIGHT, TOP, BOTTOM = 40, 284, 20, 140
#: The width of a character of the 11 px labels, on average, in the panel's units.
CHAR_W = 5.8
#: The narrowest time axis, in days: a learner first pulled today still gets a readable axis.
MIN_SPAN = 14
#: Course-bar labels wrap at this many characters (never cut: a long name takes more lines).
LABEL_CHARS = 64


@dataclass(frozen=True)
class Series:
    """One learner's overall percentage over time, and their plan (start and end dates)."""

    label: str
    points: Sequence[tuple[date, float]]
    start: date | None = None
    end: date | None = None


@dataclass(frozen=True)
class Frame:
    """A panel's axes: day numbers ``lo..hi`` across ``LEFT..RIGHT``, 0..100 % up the side."""

    lo: float
    hi: float

    @classmethod
    def around(cls, series: Series, today: date) -> Frame:
        """Wide enough for the history, the plan and today, and at least :data:`MIN_SPAN`."""
        days = [_day(d) for d, _ in series.points] + [_day(today)]
        days += [_day(d) for d in (series.start, series.end) if d is not None]
        lo, hi = min(days), max(days)
        return cls(min(lo, hi - MIN_SPAN), hi)

    def x(self, when: date) -> float:
        return _scale(_day(when), self.lo, self.hi, LEFT, RIGHT)

    def y(self, percent: float) -> float:
        return _scale(percent, 0, 100, BOTTOM, TOP)


@dataclass(frozen=True)
class Box:
    """Where a one-line label sits: from ``left`` to ``right``, on the baseline ``y``."""

    left: float
    right: float
    y: float

    def meets(self, other: Box) -> bool:
        """Whether two labels of the panel's 11 px text would overlap."""
        return self.left < other.right and other.left < self.right and abs(self.y - other.y) < 12


def time_ticks(lo: date, hi: date, most: int = 4) -> list[tuple[date, str]]:
    """Dated ticks for an axis from ``lo`` to ``hi``: month starts every 1, 2, 3, 6 or 12...
    months (at most ``most``, aligned to quarters and years), or the two ends named by day when
    the span holds fewer than two month starts."""
    first = lo.year * 12 + lo.month - 1 + (lo.day > 1)  # the first month start >= lo
    last = hi.year * 12 + hi.month - 1
    for step in (1, 2, 3, 6, 12, 24, 60, 120):
        months = [m for m in range(first, last + 1) if m % step == 0]
        if len(months) <= most:
            break
    if len(months) < 2:
        return [(lo, day_text(lo)), (hi, day_text(hi))] if lo != hi else [(lo, day_text(lo))]
    days = [date(m // 12, m % 12 + 1, 1) for m in months]
    return [(d, month_text(d)) for d in days]


def panel(series: Series, today: date, key: str) -> Markup:
    """One learner's progress over time: dated time axis, percentage axis, their line carried on
    to today, the plan (dashed, labelled) and today (labelled). ``key`` makes the ids unique."""
    frame = Frame.around(series, today)
    parts = [_y_axis(frame), _x_axis(frame)]
    plan_label: Box | None = None
    if series.start is not None and series.end is not None:
        plan, plan_label = _plan(frame, series.start, series.end)
        parts.append(plan)
    parts.append(_progress(frame, series.points, today, plan_label))
    parts.append(_today(frame, _now(series.points, today)))
    return Markup(
        '<svg class="chart panel" viewBox="0 0 {0} {1}" role="img" '
        'aria-labelledby="{2}-t" aria-describedby="{2}-d">'
        '<title id="{2}-t">{3}</title><desc id="{2}-d">{4}</desc>{5}</svg>'
    ).format(
        PANEL_W,
        PANEL_H,
        key,
        panel_title(series),
        panel_description(series, today),
        Markup("").join(parts),
    )


def panel_title(series: Series) -> str:
    latest = f"{series.points[-1][1]:.0f}% now" if series.points else "no history yet"
    return f"{series.label}: progress over time, {latest}"


def panel_description(series: Series, today: date) -> str:
    """The panel in words: the changes, the plan and what today's marker shows."""
    text = f"Overall progress: {history_text(series.points, today)}."
    if series.start is not None and series.end is not None:
        text += f" Plan: 0% on {day_text(series.start)} to 100% on {day_text(series.end)}."
    return text + f" Today is {day_text(today)}."


def history_text(points: Sequence[tuple[date, float]], today: date) -> str:
    """``8% on 1 Oct 2025, 16% on 1 Nov 2025; no change since 1 Nov 2025``, shortened to the
    first and the last change beyond :data:`LISTED` changes."""
    if not points:
        return "no history yet"
    said = [f"{v:.0f}% on {day_text(_date(d))}" for d, v in points]
    if len(said) > LISTED:
        said = [f"{len(said)} changes, from {said[0]}", f"to {said[-1]}"]
    text = ", ".join(said)
    since = held_since(points, today)
    return text + (f"; no change since {day_text(since)}" if since is not None else "")


def held_since(points: Sequence[tuple[date, float]], today: date) -> date | None:
    """The date of the last change when the value has held since (a single change always has);
    ``None`` when it changed today, or when there is no history."""
    if not points:
        return None
    last = _date(points[-1][0])
    return last if len(points) == 1 or last < today else None


def sparkline(points: Sequence[tuple[date, float]], label: str, today: date) -> Markup:
    """A 100x24 line of the percentages, oldest first, carried on flat to today."""
    if not points:
        return Markup('<span class="muted">no history</span>')
    shown = _thin(points, SPARK_POINTS)
    first, now = _day(shown[0][0]), _day(_now(points, today))
    if now <= first:  # one change, today: a flat line across
        first, now = now - 1, now
    xs = [_scale(_day(d), first, now, 2, 98) for d, _ in shown]
    ys = [_scale(v, 0, 100, 22, 2) for _, v in shown]
    xs, ys = [*xs, 98.0], [*ys, ys[-1]]
    text = f"{label}: {history_text(points, today)}"
    return Markup(
        '<svg class="spark" viewBox="0 0 100 24" width="100" height="24" role="img" '
        'aria-label="{0}"><title>{0}</title>{1}</svg>'
    ).format(text, Markup('<polyline points="{}"/>').format(_pairs(xs, ys)))


def course_bars(courses: Sequence[tuple[str, Mapping[str, int]]], buckets: Sequence[str]) -> Markup:
    """One 100%-stacked bar per course over the buckets, its full name above it (wrapped, never
    cut), its count of learners at the end; a legend; counts in the segments wide enough."""
    width, x0, bar_w, y = 480, 8, 420, 34
    rows = []
    for name, counts in courses:
        row, y = _course_row(name, counts, buckets, y, x0, bar_w)
        rows.append(row)
    text = f"Learners per course by overall progress, {len(courses)} courses"
    return Markup(
        '<svg class="chart bars" viewBox="0 0 {1} {2}" role="img" aria-label="{0}">'
        "<title>{0}</title>{3}{4}</svg>"
    ).format(text, width, y, _legend(buckets, x0, width), Markup("").join(rows))


def _course_row(
    name: str, counts: Mapping[str, int], buckets: Sequence[str], y: int, x0: int, width: int
) -> tuple[Markup, int]:
    """A course's wrapped name, then its bar; and the ``y`` where the next course starts."""
    lines = textwrap.wrap(name, LABEL_CHARS) or [name]
    spans = Markup("").join(
        Markup('<tspan x="{}" dy="{}">{}</tspan>').format(x0, 0 if i == 0 else 14, line)
        for i, line in enumerate(lines)
    )
    label = Markup('<text class="label" x="{0}" y="{1}"><title>{2}</title>{3}</text>')
    parts = [label.format(x0, y + 11, name, spans)]
    top = y + 14 * len(lines) + 2
    total = sum(counts.values()) or 1
    x = float(x0)
    for bucket, colour in zip(buckets, BUCKET_COLOURS, strict=True):
        n = counts.get(bucket, 0)
        seg = width * n / total
        if n:
            tip = f"{name}: {n} learner{'s' if n != 1 else ''} at {bucket}%"
            parts.append(_segment(x, top, seg, colour, tip, n))
        x += seg
    total_text = Markup('<text class="total" x="{}" y="{}">{}</text>')
    parts.append(total_text.format(x0 + width + 6, top + 14, sum(counts.values())))
    return Markup("").join(parts), top + 20 + 12


def _segment(x: float, y: int, width: float, colour: str, tip: str, n: int) -> Markup:
    rect = Markup(
        '<rect x="{:.1f}" y="{}" width="{:.1f}" height="20" fill="{}"><title>{}</title></rect>'
    ).format(x, y, width, colour, tip)
    if width < 18:  # too narrow for its count: the tooltip and the table carry it
        return rect
    count = Markup('<text class="count" x="{:.1f}" y="{}">{}</text>')
    return rect + count.format(x + width / 2, y + 14, n)


def _legend(buckets: Sequence[str], x0: int, width: int) -> Markup:
    item = Markup(
        '<rect x="{0}" y="6" width="14" height="14" fill="{1}"/>'
        '<text class="legend" x="{2}" y="18">{3}%</text>'
    )
    learners = Markup('<text class="legend total-head" x="{}" y="18">learners</text>')
    return Markup("").join(
        item.format(x0 + i * 72, colour, x0 + i * 72 + 18, bucket)
        for i, (bucket, colour) in enumerate(zip(buckets, BUCKET_COLOURS, strict=True))
    ) + learners.format(width - 4)


# -- a panel's parts ------------------------------------------------------------------------------


def _y_axis(frame: Frame) -> Markup:
    """Grid lines and percentage labels at 0, 25, 50, 75 and 100 %."""
    tick = Markup(
        '<line class="grid" x1="{0}" y1="{2:.1f}" x2="{1}" y2="{2:.1f}"/>'
        '<text class="tick y" x="{3}" y="{4:.1f}">{5}%</text>'
    )
    return Markup("").join(
        tick.format(LEFT, RIGHT, frame.y(v), LEFT - 5, frame.y(v) + 4, v)
        for v in (0, 25, 50, 75, 100)
    )


def _x_axis(frame: Frame) -> Markup:
    """The time axis: its baseline, and dated ticks under it."""
    lo, hi = date.fromordinal(int(frame.lo)), date.fromordinal(int(frame.hi))
    tick = Markup(
        '<line class="axis" x1="{0:.1f}" y1="{1}" x2="{0:.1f}" y2="{2}"/>'
        '<text class="tick x" x="{0:.1f}" y="{3}">{4}</text>'
    )
    ticks = Markup("").join(
        tick.format(frame.x(d), BOTTOM, BOTTOM + 4, BOTTOM + 16, text)
        for d, text in time_ticks(lo, hi)
    )
    base = Markup('<line class="axis" x1="{0}" y1="{2}" x2="{1}" y2="{2}"/>')
    return base.format(LEFT, RIGHT, BOTTOM) + ticks


def _plan(frame: Frame, start: date, end: date) -> tuple[Markup, Box]:
    """The plan, 0 % at the start to 100 % at the planned end. Labelled in the right margin when
    it ends at the right edge; else above the middle of the line, where the learner's own line
    (which runs on to today, past the plan's end) rarely is. With the label's box."""
    x1, y1, x2, y2 = frame.x(start), frame.y(0), frame.x(end), frame.y(100)
    line = _line("plan", x1, y1, x2, y2)
    width = CHAR_W * len("plan")
    if x2 >= RIGHT - 1:
        label = Markup('<text class="plan-label" x="{:.1f}" y="{:.1f}">plan</text>')
        x, y = x2 + 3, y2 + 4
        return line + label.format(x, y), Box(x, x + width, y)
    label = Markup('<text class="plan-label end" x="{:.1f}" y="{:.1f}">plan</text>')
    x, y = (x1 + x2) / 2 - 4, (y1 + y2) / 2 - 4
    return line + label.format(x, y), Box(x - width, x, y)


def _today(frame: Frame, now: date) -> Markup:
    x = frame.x(now)
    label = Markup('<text class="today-label" x="{:.1f}" y="{}">today</text>')
    return _line("today", x, TOP, x, BOTTOM) + label.format(min(x, PANEL_W - 16), TOP - 6)


def _progress(
    frame: Frame, points: Sequence[tuple[date, float]], today: date, avoid: Box | None
) -> Markup:
    """The learner's line, a dot per change, carried on flat to today; "no change since" it
    held."""
    if not points:
        return Markup('<text class="empty" x="{}" y="{}">no history yet</text>').format(
            (LEFT + RIGHT) // 2, (TOP + BOTTOM) // 2
        )
    xs = [frame.x(d) for d, _ in points]
    ys = [frame.y(v) for _, v in points]
    now = frame.x(_now(points, today))
    parts = []
    if len(xs) > 1:
        parts.append(Markup('<polyline class="actual" points="{}"/>').format(_pairs(xs, ys)))
    parts.append(_line("actual held", xs[-1], ys[-1], now, ys[-1]))
    if len(xs) <= DOTS:
        dot = Markup('<circle class="actual" cx="{:.1f}" cy="{:.1f}" r="2.5"/>')
        parts.extend(dot.format(x, y) for x, y in zip(xs, ys, strict=True))
    since = held_since(points, today)
    if since is not None:
        parts.append(_held_label(f"no change since {day_text(since)}", now, ys[-1], avoid))
    return Markup("").join(parts)


def _held_label(text: str, end: float, line_y: float, avoid: Box | None) -> Markup:
    """Above the flat stretch (below it near 100 %, or when above would cover the plan's
    label), ending at today's marker, moved along to stay inside the panel (:data:`CHAR_W`
    estimates the text's width)."""
    width = CHAR_W * len(text)
    x = min(max(end - 3 - width, LEFT + 2), PANEL_W - 2 - width)
    above, below = line_y - 6, line_y + 14
    y = above if above >= TOP + 12 else below
    if avoid is not None and avoid.meets(Box(x, x + width, y)):
        y = below if y == above and below <= BOTTOM - 4 else above
    label = Markup('<text class="held-label" x="{:.1f}" y="{:.1f}">{}</text>')
    return label.format(x, y, text)


# -- helpers --------------------------------------------------------------------------------------


def _now(points: Sequence[tuple[date, float]], today: date) -> date:
    """Where today's marker goes: today, or this morning's pull when it is later than midnight."""
    if points and _day(points[-1][0]) > _day(today):
        return points[-1][0]
    return today


def _line(kind: str, x1: float, y1: float, x2: float, y2: float) -> Markup:
    line = Markup('<line class="{}" x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}"/>')
    return line.format(kind, x1, y1, x2, y2)


def _pairs(xs: Sequence[float], ys: Sequence[float]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))


def _scale(value: float, lo: float, hi: float, out_lo: float, out_hi: float) -> float:
    """``value`` in ``[lo, hi]`` mapped onto ``[out_lo, out_hi]``; the middle for an empty range."""
    if hi <= lo:
        return (out_lo + out_hi) / 2
    value = min(max(value, lo), hi)
    return out_lo + (value - lo) / (hi - lo) * (out_hi - out_lo)


def _day(value: date) -> float:
    """A date or datetime as a day number, so that several pulls on one day stay apart."""
    if isinstance(value, datetime):
        return value.toordinal() + (value.hour * 3600 + value.minute * 60 + value.second) / 86400
    return float(value.toordinal())


def _date(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value


def _thin(points: Sequence[tuple[date, float]], most: int) -> Sequence[tuple[date, float]]:
    """Every n-th point so at most ``most`` remain, always keeping the last."""
    if len(points) <= most:
        return points
    step = -(-len(points) // (most - 1))
    return [*points[::step], points[-1]]
