"""Inline SVG charts for the HTML reports, drawn here in Python so the report needs no script
library and no network: a sparkline, a small-multiples panel per learner, stacked course bars.

Markup is only ever built as ``Markup(literal).format(...)``, which escapes every argument that is
not itself Markup: names and course titles (user data) cannot inject tags or attributes. The
functions return :class:`~markupsafe.Markup`, which Jinja2 inserts as is.
Each chart carries ``role="img"``, a ``<title>`` and an ``aria-label`` for screen readers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from markupsafe import Markup

#: Colours of the distribution buckets, from far behind (red) to complete (green).
BUCKET_COLOURS = ("#d7301f", "#fc8d59", "#fdcc8a", "#a6d96a", "#1a9641")
#: At most this many points per sparkline: a learner pulled daily for years stays a few hundred
#: bytes.
SPARK_POINTS = 40


@dataclass(frozen=True)
class Series:
    """One learner's overall percentage over time, and their plan (start and end dates)."""

    label: str
    points: Sequence[tuple[date, float]]
    start: date | None = None
    end: date | None = None


def sparkline(points: Sequence[tuple[date, float]], label: str) -> Markup:
    """A 100x24 line of the percentages, oldest first; one point draws a dot."""
    if not points:
        return Markup('<span class="muted">no history</span>')
    shown = _thin(points, SPARK_POINTS)
    first, last = _day(shown[0][0]), _day(shown[-1][0])
    xs = [_scale(_day(d), first, last, 2, 98) for d, _ in shown]
    ys = [_scale(v, 0, 100, 22, 2) for _, v in shown]
    text = f"{label}: {points[0][1]:.0f}% to {points[-1][1]:.0f}% over {len(points)} changes"
    return Markup(
        '<svg class="spark" viewBox="0 0 100 24" width="100" height="24" role="img" '
        'aria-label="{0}"><title>{0}</title>{1}</svg>'
    ).format(text, _actual(xs, ys))


def panel(series: Series, today: date) -> Markup:
    """One learner's progress over time: their actual line, the plan (dashed) and today."""
    left, right, top, bottom = 30, 232, 24, 110
    days = [_day(d) for d, _ in series.points] + [_day(today)]
    days += [_day(d) for d in (series.start, series.end) if d is not None]
    lo, hi = min(days), max(days)

    def x(d: date) -> float:
        return _scale(_day(d), lo, hi, left, right)

    def y(v: float) -> float:
        return _scale(v, 0, 100, bottom, top)

    parts = [_grid(left, right, y), _line("today", x(today), top, x(today), bottom)]
    if series.start is not None and series.end is not None:
        parts.append(_line("plan", x(series.start), y(0), x(series.end), y(100)))
    parts.append(_actual([x(d) for d, _ in series.points], [y(v) for _, v in series.points]))
    latest = series.points[-1][1] if series.points else 0.0
    text = f"{series.label}: {latest:.0f}% now, {len(series.points)} changes recorded"
    name = series.label if len(series.label) <= 32 else series.label[:31] + "…"
    return Markup(
        '<svg class="chart panel" viewBox="0 0 240 130" role="img" aria-label="{0}">'
        '<title>{0}</title><text class="name" x="{1}" y="14">{2}</text>{3}</svg>'
    ).format(text, left, name, Markup("").join(parts))


def course_bars(courses: Sequence[tuple[str, Mapping[str, int]]], buckets: Sequence[str]) -> Markup:
    """One 100%-stacked bar per course over the buckets, with a legend; counts in the segments."""
    row, label_w, bar_w, top = 26, 230, 440, 34
    rows = [
        _course_row(name, counts, buckets, top + i * row, label_w, bar_w)
        for i, (name, counts) in enumerate(courses)
    ]
    text = f"Learners per course by overall progress, {len(courses)} courses"
    return Markup(
        '<svg class="chart bars" viewBox="0 0 {1} {2}" role="img" aria-label="{0}">'
        "<title>{0}</title>{3}{4}</svg>"
    ).format(
        text,
        label_w + bar_w + 50,
        top + row * len(courses) + 8,
        _legend(buckets, label_w),
        Markup("").join(rows),
    )


def _course_row(
    name: str, counts: Mapping[str, int], buckets: Sequence[str], y: int, x0: int, width: int
) -> Markup:
    total = sum(counts.values()) or 1
    shown = name if len(name) <= 34 else name[:33] + "…"
    parts = [Markup('<text class="label" x="{}" y="{}">{}</text>').format(x0 - 8, y + 14, shown)]
    x = float(x0)
    for bucket, colour in zip(buckets, BUCKET_COLOURS, strict=True):
        n = counts.get(bucket, 0)
        seg = width * n / total
        if n:
            tip = f"{name}: {n} learner{'s' if n != 1 else ''} at {bucket}%"
            parts.append(_segment(x, y, seg, colour, tip, n))
        x += seg
    total_text = Markup('<text class="total" x="{}" y="{}">{}</text>')
    parts.append(total_text.format(x0 + width + 6, y + 14, total))
    return Markup("").join(parts)


def _segment(x: float, y: int, width: float, colour: str, tip: str, n: int) -> Markup:
    rect = Markup(
        '<rect x="{:.1f}" y="{}" width="{:.1f}" height="20" fill="{}"><title>{}</title></rect>'
    ).format(x, y, width, colour, tip)
    if width < 18:  # too narrow for its count: the tooltip and the table carry it
        return rect
    count = Markup('<text class="count" x="{:.1f}" y="{}">{}</text>')
    return rect + count.format(x + width / 2, y + 14, n)


def _legend(buckets: Sequence[str], x0: int) -> Markup:
    item = Markup(
        '<rect x="{0}" y="6" width="14" height="14" fill="{1}"/>'
        '<text class="legend" x="{2}" y="18">{3}%</text>'
    )
    return Markup("").join(
        item.format(x0 + i * 80, colour, x0 + i * 80 + 18, bucket)
        for i, (bucket, colour) in enumerate(zip(buckets, BUCKET_COLOURS, strict=True))
    )


def _grid(left: int, right: int, y: Callable[[float], float]) -> Markup:
    tick = Markup(
        '<line class="grid" x1="{0}" y1="{2:.1f}" x2="{1}" y2="{2:.1f}"/>'
        '<text class="tick" x="{3}" y="{4:.1f}">{5}</text>'
    )
    return Markup("").join(
        tick.format(left, right, y(v), left - 4, y(v) + 3, v) for v in (0, 50, 100)
    )


def _line(kind: str, x1: float, y1: float, x2: float, y2: float) -> Markup:
    line = Markup('<line class="{}" x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}"/>')
    return line.format(kind, x1, y1, x2, y2)


def _actual(xs: Sequence[float], ys: Sequence[float]) -> Markup:
    """The learner's own line (a dot when there is one point, nothing when there is none)."""
    if not xs:
        return Markup("")
    if len(xs) == 1:
        dot = Markup('<circle class="actual" cx="{:.1f}" cy="{:.1f}" r="2.5"/>')
        return dot.format(xs[0], ys[0])
    return Markup('<polyline class="actual" points="{}"/>').format(_pairs(xs, ys))


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


def _thin(points: Sequence[tuple[date, float]], most: int) -> Sequence[tuple[date, float]]:
    """Every n-th point so at most ``most`` remain, always keeping the last."""
    if len(points) <= most:
        return points
    step = -(-len(points) // (most - 1))
    return [*points[::step], points[-1]]
