"""Inline SVG charts for the HTML reports, drawn here in Python so the report needs no script
library and no network: a sparkline, a small-multiples panel per learner, stacked course bars.

Every piece of user data (names, course titles) goes through :func:`markupsafe.escape` before it
enters the markup; the functions return :class:`~markupsafe.Markup`, which Jinja2 inserts as is.
Each chart carries ``role="img"``, a ``<title>`` and an ``aria-label`` for screen readers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from markupsafe import Markup, escape

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
    body = (
        f'<circle cx="{xs[0]:.1f}" cy="{ys[0]:.1f}" r="2"/>'
        if len(shown) == 1
        else f'<polyline points="{_pairs(xs, ys)}"/>'
    )
    return Markup(
        '<svg class="spark" viewBox="0 0 100 24" width="100" height="24" role="img" '
        f'aria-label="{escape(text)}"><title>{escape(text)}</title>{body}</svg>'
    )


def panel(series: Series, today: date) -> Markup:
    """One learner's progress over time: their actual line, the plan (dashed) and today."""
    w, h, left, right, top, bottom = 240, 130, 30, 232, 24, 110
    days = [_day(d) for d, _ in series.points] + [_day(today)]
    days += [_day(d) for d in (series.start, series.end) if d is not None]
    lo, hi = min(days), max(days)

    def x(d: date) -> float:
        return _scale(_day(d), lo, hi, left, right)

    def y(v: float) -> float:
        return _scale(v, 0, 100, bottom, top)

    parts = [_grid(left, right, y), _today(x(today), top, bottom)]
    if series.start is not None and series.end is not None:
        parts.append(
            f'<line class="plan" x1="{x(series.start):.1f}" y1="{y(0):.1f}" '
            f'x2="{x(series.end):.1f}" y2="{y(100):.1f}"/>'
        )
    parts.append(_actual([x(d) for d, _ in series.points], [y(v) for _, v in series.points]))
    latest = series.points[-1][1] if series.points else 0.0
    text = f"{series.label}: {latest:.0f}% now, {len(series.points)} changes recorded"
    name = escape(series.label if len(series.label) <= 32 else series.label[:31] + "…")
    return Markup(
        f'<svg class="chart panel" viewBox="0 0 {w} {h}" role="img" aria-label="{escape(text)}">'
        f'<title>{escape(text)}</title><text class="name" x="{left}" y="14">{name}</text>'
        f"{''.join(parts)}</svg>"
    )


def course_bars(
    courses: Sequence[tuple[str, Mapping[str, int]]], buckets: Sequence[str]
) -> Markup:
    """One 100%-stacked bar per course over the buckets, with a legend; counts in the segments."""
    row, label_w, bar_w, top = 26, 230, 440, 34
    height = top + row * len(courses) + 8
    rows = [
        _course_row(name, counts, buckets, top + i * row, label_w, bar_w)
        for i, (name, counts) in enumerate(courses)
    ]
    text = f"Learners per course by overall progress, {len(courses)} courses"
    return Markup(
        f'<svg class="chart bars" viewBox="0 0 {label_w + bar_w + 50} {height}" role="img" '
        f'aria-label="{escape(text)}"><title>{escape(text)}</title>'
        f"{_legend(buckets, label_w)}{''.join(rows)}</svg>"
    )


def _course_row(
    name: str, counts: Mapping[str, int], buckets: Sequence[str], y: int, x0: int, width: int
) -> str:
    total = sum(counts.values()) or 1
    shown = name if len(name) <= 34 else name[:33] + "…"
    parts = [f'<text class="label" x="{x0 - 8}" y="{y + 14}">{escape(shown)}</text>']
    x = float(x0)
    for bucket, colour in zip(buckets, BUCKET_COLOURS, strict=True):
        n = counts.get(bucket, 0)
        seg = width * n / total
        if n:
            tip = escape(f"{name}: {n} learner{'s' if n != 1 else ''} at {bucket}%")
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{seg:.1f}" height="20" fill="{colour}">'
                f"<title>{tip}</title></rect>"
            )
            if seg >= 18:
                parts.append(f'<text class="count" x="{x + seg / 2:.1f}" y="{y + 14}">{n}</text>')
        x += seg
    parts.append(f'<text class="total" x="{x0 + width + 6}" y="{y + 14}">{total}</text>')
    return "".join(parts)


def _legend(buckets: Sequence[str], x0: int) -> str:
    parts = []
    for i, (bucket, colour) in enumerate(zip(buckets, BUCKET_COLOURS, strict=True)):
        x = x0 + i * 80
        parts.append(
            f'<rect x="{x}" y="6" width="14" height="14" fill="{colour}"/>'
            f'<text class="legend" x="{x + 18}" y="18">{bucket}%</text>'
        )
    return "".join(parts)


def _grid(left: int, right: int, y: Callable[[float], float]) -> str:
    lines = []
    for v in (0, 50, 100):
        lines.append(
            f'<line class="grid" x1="{left}" y1="{y(v):.1f}" x2="{right}" y2="{y(v):.1f}"/>'
            f'<text class="tick" x="{left - 4}" y="{y(v) + 3:.1f}">{v}</text>'
        )
    return "".join(lines)


def _today(x: float, top: int, bottom: int) -> str:
    return f'<line class="today" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}"/>'


def _actual(xs: Sequence[float], ys: Sequence[float]) -> str:
    if not xs:
        return ""
    if len(xs) == 1:
        return f'<circle class="actual" cx="{xs[0]:.1f}" cy="{ys[0]:.1f}" r="2.5"/>'
    return f'<polyline class="actual" points="{_pairs(xs, ys)}"/>'


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
