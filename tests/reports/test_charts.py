"""The charts' geometry, read back from the SVG they draw: axes, ticks and labels where the frame
puts them, a history carried on flat to today and labelled, course names never cut; and the words
of :mod:`labridge.reports.labels`."""

from __future__ import annotations

from datetime import UTC, date, datetime

import lxml.etree
import pytest
from lxml.etree import _Element
from markupsafe import Markup

from labridge.reports import charts
from labridge.reports.charts import (
    BOTTOM,
    CHAR_W,
    LEFT,
    PANEL_W,
    RIGHT,
    TOP,
    Frame,
    Series,
    course_bars,
    panel,
    sparkline,
    time_ticks,
)
from labridge.reports.labels import day_text, status_name
from labridge.reports.progress_report import BUCKETS, standing_of

TODAY = date(2026, 3, 1)
PLAN = (date(2025, 9, 1), date(2026, 9, 1))
TWO = [(datetime(2025, 10, 1, 6, tzinfo=UTC), 8.0), (datetime(2026, 1, 1, 6, tzinfo=UTC), 30.0)]


def svg(markup: Markup) -> _Element:
    return lxml.etree.fromstring(str(markup).encode())


def attr(el: _Element, name: str) -> str:
    """The attribute ``name`` of ``el``, which must be there."""
    value = el.get(name)
    assert value is not None, f"no {name} on <{el.tag}>"
    return value


def num(el: _Element, name: str) -> float:
    return float(attr(el, name))


def child(el: _Element, path: str) -> _Element:
    """The first element at ``path`` under ``el``, which must be there."""
    found = el.find(path)
    assert found is not None, f"no {path} in <{el.tag}>"
    return found


def texts(doc: _Element, cls: str) -> list[_Element]:
    return [t for t in doc.iter("text") if cls in (t.get("class") or "").split()]


def line(doc: _Element, cls: str) -> tuple[float, float, float, float]:
    (found,) = [el for el in doc.iter("line") if el.get("class") == cls]
    return num(found, "x1"), num(found, "y1"), num(found, "x2"), num(found, "y2")


# -- the frame and the time axis ------------------------------------------------------------------


def test_frame_spans_history_plan_and_today() -> None:
    series = Series("A", [(datetime(2025, 10, 1, 6, tzinfo=UTC), 8.0)], *PLAN)
    frame = Frame.around(series, TODAY)
    assert frame.x(PLAN[0]) == LEFT
    assert frame.x(PLAN[1]) == RIGHT
    assert LEFT < frame.x(TODAY) < RIGHT
    assert (frame.y(0), frame.y(100), frame.y(50)) == (BOTTOM, TOP, (BOTTOM + TOP) / 2)


def test_frame_of_a_first_pull_today_is_still_a_span() -> None:
    frame = Frame.around(Series("A", [(datetime(2026, 3, 1, 6, tzinfo=UTC), 5.0)]), TODAY)
    assert frame.hi - frame.lo == charts.MIN_SPAN
    assert frame.x(date(2026, 2, 15)) == LEFT
    assert frame.x(datetime(2026, 3, 1, 6, tzinfo=UTC)) == RIGHT


@pytest.mark.parametrize(
    ("lo", "hi", "labels"),
    [
        (date(2025, 9, 1), date(2026, 9, 1), ["Oct 2025", "Jan 2026", "Apr 2026", "Jul 2026"]),
        (date(2025, 9, 15), date(2025, 12, 20), ["Oct 2025", "Nov 2025", "Dec 2025"]),
        (date(2025, 9, 1), date(2025, 11, 3), ["Sep 2025", "Oct 2025", "Nov 2025"]),
        (date(2024, 3, 1), date(2026, 3, 1), ["Jul 2024", "Jan 2025", "Jul 2025", "Jan 2026"]),
        (date(2020, 1, 1), date(2026, 3, 1), ["Jan 2020", "Jan 2022", "Jan 2024", "Jan 2026"]),
        (date(2026, 2, 15), date(2026, 3, 1), ["15 Feb 2026", "1 Mar 2026"]),  # under 2 months
        (date(2026, 3, 1), date(2026, 3, 1), ["1 Mar 2026"]),
    ],
)
def test_time_ticks_are_dated_and_few(lo: date, hi: date, labels: list[str]) -> None:
    ticks = time_ticks(lo, hi)
    assert [text for _, text in ticks] == labels
    assert all(lo <= day <= hi for day, _ in ticks)
    assert [day for day, _ in ticks] == sorted(day for day, _ in ticks)


# -- a learner's panel ----------------------------------------------------------------------------


def test_panel_axes_plan_and_today_are_labelled() -> None:
    points = TWO
    doc = svg(panel(Series("Amy", points, *PLAN), TODAY, "p0"))
    frame = Frame.around(Series("Amy", points, *PLAN), TODAY)
    assert [t.text for t in texts(doc, "y")] == ["0%", "25%", "50%", "75%", "100%"]
    assert [t.text for t in texts(doc, "x")] == ["Oct 2025", "Jan 2026", "Apr 2026", "Jul 2026"]
    xs = [num(t, "x") for t in texts(doc, "x")]
    assert xs == sorted(xs)
    assert all(LEFT <= x <= RIGHT for x in xs)
    assert xs[1] == pytest.approx(frame.x(date(2026, 1, 1)), abs=0.1)
    assert line(doc, "plan") == pytest.approx(
        (frame.x(PLAN[0]), BOTTOM, frame.x(PLAN[1]), TOP), abs=0.1
    )
    (plan_label,) = texts(doc, "plan-label")
    assert plan_label.text == "plan"
    assert num(plan_label, "x") > RIGHT  # in the right margin, beside the line's end
    x1, y1, x2, y2 = line(doc, "today")
    assert x1 == x2 == pytest.approx(frame.x(TODAY), abs=0.1)
    assert (y1, y2) == (TOP, BOTTOM)
    (today_label,) = texts(doc, "today-label")
    assert today_label.text == "today"
    assert num(today_label, "y") < TOP  # above the plot, over its line


def test_panel_describes_itself_with_dates() -> None:
    points = TWO
    doc = svg(panel(Series("Amy <b>", points, *PLAN), TODAY, "p7"))
    assert doc.get("aria-labelledby") == attr(child(doc, "title"), "id") == "p7-t"
    assert doc.get("aria-describedby") == attr(child(doc, "desc"), "id") == "p7-d"
    assert doc.findtext("title") == "Amy <b>: progress over time, 30% now"  # escaped, not markup
    assert doc.findtext("desc") == (
        "Overall progress: 8% on 1 Oct 2025, 30% on 1 Jan 2026; no change since 1 Jan 2026. "
        "Plan: 0% on 1 Sep 2025 to 100% on 1 Sep 2026. Today is 1 Mar 2026."
    )


def test_a_single_point_is_a_flat_line_to_today_saying_since_when() -> None:
    point = (datetime(2026, 2, 1, 6, tzinfo=UTC), 20.0)
    series = Series("Hal", [point], date(2026, 6, 1), date(2027, 6, 1))
    frame = Frame.around(series, TODAY)
    doc = svg(panel(series, TODAY, "p1"))
    assert doc.find("polyline") is None  # nothing to join
    x1, y1, x2, y2 = line(doc, "actual held")
    assert (x1, x2) == pytest.approx((frame.x(point[0]), frame.x(TODAY)), abs=0.1)
    assert y1 == y2 == pytest.approx(frame.y(20), abs=0.1)
    (label,) = texts(doc, "held-label")
    assert label.text == "no change since 1 Feb 2026"
    x = num(label, "x")
    assert x > LEFT
    assert x + CHAR_W * len(label.text) <= PANEL_W  # inside the panel
    assert num(label, "y") < y1  # above the line


def test_a_value_at_100_percent_is_labelled_below_the_line() -> None:
    points = [(date(2025, 11, 1), 80.0), (date(2025, 12, 1), 100.0)]
    doc = svg(panel(Series("Eve", points, date(2024, 3, 1), date(2025, 12, 1)), TODAY, "p2"))
    (label,) = texts(doc, "held-label")
    assert label.text == "no change since 1 Dec 2025"
    assert num(label, "y") > TOP + 10
    (plan_label,) = texts(doc, "plan-label")  # the plan ended before today: beside its middle
    assert LEFT < num(plan_label, "x") < RIGHT


def test_a_change_today_has_no_since_label() -> None:
    points = [(date(2026, 2, 1), 10.0), (datetime(2026, 3, 1, 6, tzinfo=UTC), 20.0)]
    doc = svg(panel(Series("Cat", points, *PLAN), TODAY, "p3"))
    assert texts(doc, "held-label") == []
    assert len(doc.findall("circle")) == 2
    x1, _, _, _ = line(doc, "today")
    assert x1 == pytest.approx(num(doc.findall("circle")[-1], "cx"), abs=0.1)


def test_a_panel_without_history_says_so() -> None:
    doc = svg(panel(Series("Nobody", [], *PLAN), TODAY, "p4"))
    assert [t.text for t in texts(doc, "empty")] == ["no history yet"]
    assert "no history yet" in (doc.findtext("desc") or "")


# -- sparklines and course bars -------------------------------------------------------------------


def test_sparkline_of_one_point_is_a_flat_line_across() -> None:
    doc = svg(sparkline([(date(2026, 1, 1), 40.0)], "Ben", TODAY))
    pairs = [p.split(",") for p in attr(child(doc, "polyline"), "points").split()]
    assert [float(x) for x, _ in pairs] == [2.0, 98.0]
    assert len({y for _, y in pairs}) == 1
    assert doc.get("aria-label") == "Ben: 40% on 1 Jan 2026; no change since 1 Jan 2026"


def test_sparkline_runs_on_to_today() -> None:
    points = [(date(2025, 10, 1), 10.0), (date(2025, 12, 1), 30.0)]
    pairs = attr(child(svg(sparkline(points, "Ben", TODAY)), "polyline"), "points").split()
    assert len(pairs) == 3
    assert pairs[-1].split(",")[1] == pairs[-2].split(",")[1]
    assert float(pairs[-2].split(",")[0]) < 98.0


LONG = (
    "Level 4 Software Developer Apprenticeship Standard (ST0116) with Integrated End-Point "
    "Assessment, Functional Skills English and Maths"
)


def test_course_names_wrap_and_are_never_cut() -> None:
    counts = {"0-24": 2, "25-49": 1, "50-74": 0, "75-99": 0, "100": 1}
    doc = svg(course_bars([(LONG, counts), ("Short", counts)], BUCKETS))
    first, second = texts(doc, "label")
    lines = [span.text or "" for span in first.iter("tspan")]
    assert len(lines) > 1
    assert " ".join(lines) == LONG
    assert first.findtext("title") == LONG  # the whole name on hover too
    assert all(len(text) <= charts.LABEL_CHARS for text in lines)
    # The long name's bar sits below its last line; the next course starts below that bar.
    bars = [r for r in doc.iter("rect") if r.find("title") is not None]
    assert num(bars[0], "y") >= num(first, "y") + 14 * (len(lines) - 1)
    assert num(second, "y") > num(bars[0], "y") + 20
    assert [t.text for t in texts(doc, "total")] == ["4", "4"]
    assert int(attr(doc, "viewBox").split()[3]) > num(bars[-1], "y") + 20


# -- words ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("BreakInLearning", "Break in learning"),
        ("Active", "In learning"),
        ("Completed", "Completed"),
        ("Withdrawn", "Withdrawn"),
        ("OnHoldPendingILR", "On hold pending ilr"),  # one LA adds later: words, not raw
        ("", ""),
    ],
)
def test_status_names(raw: str, words: str) -> None:
    assert status_name(raw) == words


def test_day_text_ignores_the_locale() -> None:
    assert day_text(date(2025, 9, 1)) == "1 Sep 2025"


@pytest.mark.parametrize(
    ("on_track", "status", "start", "standing"),
    [
        (True, "Completed", PLAN[0], "completed"),
        (None, "Withdrawn", PLAN[0], "not_judged"),
        (False, "Active", PLAN[0], "behind"),
        (True, "Active", date(2026, 6, 1), "not_started"),
        (True, "Active", PLAN[0], "on_track"),
        (True, "Active", None, "on_track"),
    ],
)
def test_one_standing_per_learner(
    on_track: bool | None, status: str, start: date | None, standing: str
) -> None:
    assert standing_of(on_track, status, start, TODAY) == standing


def test_the_since_label_keeps_off_the_plan_label() -> None:
    """The plan ended before today: its label sits above the middle of its line; a learner held
    at about that height is labelled below their line instead of over the plan's label."""
    plan = (date(2025, 1, 1), date(2026, 1, 1))
    series = Series("Mo", [(date(2026, 1, 15), 50.0)], *plan)
    doc = svg(panel(series, TODAY, "p5"))
    frame = Frame.around(series, TODAY)
    (plan_label,) = texts(doc, "plan-label")
    (held,) = texts(doc, "held-label")
    plan_x, held_x = num(plan_label, "x"), num(held, "x")
    assert held_x < plan_x  # the two overlap across ...
    assert num(held, "y") > frame.y(50)  # ... so "no change since" goes below the line
    assert abs(num(held, "y") - num(plan_label, "y")) >= 12
