"""The HTML progress report opened in a real headless Chromium (Debian's ``chromium`` package),
not only written: the charts are laid out with a size, the tables have their rows, the sorting
script runs without an error, nothing is fetched but the file itself, and a screenshot shows a
page that is not blank. What a reader sees is checked as laid out: dated and percentage axes, the
plan and today labelled, a stalled learner's "no change since", a long course name whole, summary
cards that add up, statuses in words; and the page at 400 px wide does not scroll sideways.

Playwright's Python package drives the system browser through ``executable_path``; its own
browser download is never used (it fails on these machines). Outside CI the tests skip, saying
why, when the browser or Playwright is missing; under CI (``CI`` set, as ``.ci/run`` runs) they
fail instead, so a broken CI set-up cannot pass silently.
"""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from labridge.reports import build_progress_report, progress_html
from labridge.reports.progress_report import STANDINGS, ProgressReport
from labridge.store import Store
from labridge.store import tables as t

from .browser import CHROMIUM, FLAGS, Watch, assert_not_blank, require
from .progress_data import HOSTILE, TODAY

#: A course title as long as real apprenticeship standards' are: shown whole, never cut.
LONG_COURSE = (
    "Level 4 Software Developer Apprenticeship Standard (ST0116) with Integrated End-Point "
    "Assessment, Functional Skills English and Maths"
)


@pytest.fixture
def report_file(sqlite_progress_store: Store, tmp_path: Path) -> tuple[Path, ProgressReport]:
    with sqlite_progress_store.begin() as session:
        rename = update(t.frameworks).where(t.frameworks.c.course_uuid == "c-soft")
        session.execute(rename.values(name=LONG_COURSE))
    with sqlite_progress_store.engine.connect() as conn:
        report = build_progress_report(conn, TODAY, now=datetime(2026, 3, 1, 9, tzinfo=UTC))
    path = tmp_path / "progress-report.html"
    path.write_text(progress_html(report), encoding="utf-8")
    return path, report


def test_report_renders_in_chromium(
    page: tuple[Any, Watch], report_file: tuple[Path, ProgressReport], tmp_path: Path
) -> None:
    tab, watch = page
    path, report = report_file
    tab.goto(path.as_uri(), wait_until="load")

    assert tab.title() == "Learner progress report, 2026-03-01"
    assert_charts_have_size(tab, panels=len(report.learners))
    assert tab.locator("#learners-table tbody tr").count() == len(report.learners)
    assert tab.locator("#behind-table tbody tr").count() == len(report.most_behind)
    assert tab.locator("#courses-table tbody tr").count() == len(report.courses)
    assert f"Gus {HOSTILE}" in tab.locator("#learners-table").inner_text()  # text, not markup
    assert tab.evaluate("document.scripts.length") == 1
    assert_sorting_works(tab)

    shot = tmp_path / "progress-report.png"
    tab.screenshot(path=shot, full_page=True)
    assert_not_blank(shot, width=1280)

    assert watch.errors == []
    assert watch.dialogs == []  # the hostile name ran no script
    assert set(watch.requests) == {path.as_uri()}


def assert_charts_have_size(tab: Any, panels: int) -> None:
    charts = tab.locator("svg.chart")
    assert charts.count() == 1 + panels  # the course bars, then one panel per learner
    sparks = tab.locator("svg.spark")
    for locator in [charts.nth(i) for i in range(charts.count())] + [sparks.first]:
        box = locator.bounding_box()
        assert box is not None
        assert box["width"] > 50, box
        assert box["height"] > 10, box
    bars = tab.locator("svg.bars").bounding_box()
    assert bars["width"] > 600  # laid out across the page, not collapsed
    # The bars' segments are drawn: their painted boxes are not empty.
    widths = tab.eval_on_selector_all(
        "svg.bars rect", "rects => rects.map(r => r.getBoundingClientRect().width)"
    )
    assert len(widths) == 12
    assert min(widths) > 0


def assert_sorting_works(tab: Any) -> None:
    header = tab.locator("#learners-table th", has_text="Overall")
    header.get_by_role("button").click()
    assert header.get_attribute("aria-sort") == "ascending"
    assert overall_column(tab) == sorted(overall_column(tab))
    header.get_by_role("button").click()
    assert header.get_attribute("aria-sort") == "descending"
    assert overall_column(tab) == sorted(overall_column(tab), reverse=True)


def overall_column(tab: Any) -> list[float]:
    script = "rows => rows.map(r => parseFloat(r.cells[3].getAttribute('data-sort')))"
    values: list[float] = tab.eval_on_selector_all("#learners-table tbody tr", script)
    return values


def test_report_dom_from_chromium_cli(
    report_file: tuple[Path, ProgressReport], tmp_path: Path
) -> None:
    """The browser's own ``--dump-dom``, without Playwright: the page parses into the same DOM."""
    require(f"{CHROMIUM} is not installed (apt-get install chromium)", CHROMIUM.exists())
    path, report = report_file
    command = [
        str(CHROMIUM),
        "--headless",
        *FLAGS,
        f"--user-data-dir={tmp_path / 'cli-profile'}",
        "--dump-dom",
        path.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    dom = done.stdout
    assert dom.count('<svg class="chart panel"') == len(report.learners)
    assert dom.count("<tr>") >= len(report.learners) + len(report.most_behind)
    assert "Gus &lt;script&gt;alert(1)&lt;/script&gt;" in dom


# -- what a reader sees ---------------------------------------------------------------------------

#: A tick of the time axis: a month (``Oct 2025``) or a day (``15 Feb 2026``).
DATED = re.compile(r"^(\d{1,2} )?(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}$")
#: Every text of every panel, with its box and its panel's box, as laid out.
LAID_OUT = """svgs => svgs.map(svg => {
  const box = svg.getBoundingClientRect();
  return {box: [box.left, box.top, box.right, box.bottom],
          texts: Array.from(svg.querySelectorAll('text')).map(t => {
            const r = t.getBoundingClientRect();
            return {cls: t.getAttribute('class'), text: t.textContent,
                    box: [r.left, r.top, r.right, r.bottom]};
          })};
})"""


def test_report_reads_as_people_read_it(
    page: tuple[Any, Watch], report_file: tuple[Path, ProgressReport]
) -> None:
    tab, watch = page
    path, report = report_file
    tab.goto(path.as_uri(), wait_until="load")
    panels = tab.eval_on_selector_all("svg.panel", LAID_OUT)
    assert len(panels) == len(report.learners)
    for drawn in panels:
        assert_panel_is_labelled(drawn)
    assert_single_point_says_since_when(tab)
    assert_long_course_name_whole(tab)
    assert_cards_add_up(tab, report)
    assert_statuses_in_words(tab)
    assert watch.errors == []


def assert_panel_is_labelled(drawn: dict[str, Any]) -> None:
    """Percentage and dated axes, the plan and today labelled; no label clipped by the panel."""
    by_class: dict[str, list[str]] = {}
    left, top, right, bottom = drawn["box"]
    for text in drawn["texts"]:
        by_class.setdefault(text["cls"], []).append(text["text"])
        x1, y1, x2, y2 = text["box"]
        assert left - 1 <= x1 < x2 <= right + 1, text
        assert top - 1 <= y1 < y2 <= bottom + 1, text
    assert by_class["tick y"] == ["0%", "25%", "50%", "75%", "100%"]
    assert len(by_class["tick x"]) >= 2
    assert all(DATED.match(tick) for tick in by_class["tick x"]), by_class["tick x"]
    assert by_class["today-label"] == ["today"]
    assert len(by_class.get("plan-label", []) + by_class.get("plan-label end", [])) == 1


def assert_single_point_says_since_when(tab: Any) -> None:
    """Hal has one change (0 % on 1 Feb 2026): a flat line on to today, saying so."""
    figure = tab.locator(".panels figure", has_text="Hal Hughes")
    assert figure.locator("text.held-label").text_content() == "no change since 1 Feb 2026"
    held = figure.locator("line.held").bounding_box()
    assert held["width"] > 5  # a line, not a dot
    assert held["height"] < 3  # flat
    today = figure.locator("line.today").bounding_box()
    assert abs(held["x"] + held["width"] - today["x"] - today["width"] / 2) < 2  # up to today
    spark = tab.locator("#learners-table tr", has_text="Hal Hughes").locator("svg.spark")
    assert "no change since 1 Feb 2026" in spark.get_attribute("aria-label")


def assert_long_course_name_whole(tab: Any) -> None:
    """In the bars (wrapped over lines inside the chart), the tables and the panels' captions."""
    label = tab.locator("svg.bars text.label").nth(2)
    lines = label.locator("tspan").all_text_contents()
    assert len(lines) > 1
    assert " ".join(lines) == LONG_COURSE
    assert label.locator("title").text_content() == LONG_COURSE
    box, chart = label.bounding_box(), tab.locator("svg.bars").bounding_box()
    assert box["x"] >= chart["x"]
    assert box["x"] + box["width"] <= chart["x"] + chart["width"]
    assert LONG_COURSE in tab.locator("#courses-table").inner_text()
    captions = tab.locator(".panels figcaption .course").all_text_contents()
    assert captions.count(LONG_COURSE) == 4  # the four Level 4 learners


def assert_cards_add_up(tab: Any, report: ProgressReport) -> None:
    cards = {
        card.get_attribute("data-count"): int(card.locator("dd").inner_text())
        for card in tab.locator("#summary dl > div").all()
    }
    assert list(cards) == ["learners", *STANDINGS]
    assert cards["learners"] == sum(cards[s] for s in STANDINGS)
    assert cards["learners"] == tab.locator("#learners-table tbody tr").count()
    headline = tab.locator("#headline").inner_text()
    assert headline == (
        "12 learners: 3 on track, 5 behind, 1 not started yet, 1 completed, 2 not judged."
    )
    labels = tab.locator("#summary dt").all_inner_texts()
    assert labels[0] == "Learners in this report"
    assert "planned start after today" in labels[3]
    standings = tab.eval_on_selector_all(
        "#learners-table tbody tr", "rows => rows.map(r => r.cells[5].textContent.trim())"
    )
    assert standings.count("on track") == cards["on_track"]
    assert standings.count("not started yet") == cards["not_started"]


def assert_statuses_in_words(tab: Any) -> None:
    statuses = tab.eval_on_selector_all(
        "#learners-table tbody tr", "rows => rows.map(r => r.cells[2].textContent)"
    )
    assert set(statuses) == {"In learning", "Completed", "Withdrawn", "Break in learning"}
    assert "BreakInLearning" not in tab.locator("body").inner_text()


def test_report_at_400_px_wide(
    narrow_page: tuple[Any, Watch], report_file: tuple[Path, ProgressReport], tmp_path: Path
) -> None:
    """A phone-sized window: nothing scrolls sideways (wide tables scroll in their own box),
    the charts fit and their labels stay legible; the screenshot is a real page."""
    tab, watch = narrow_page
    path, _ = report_file
    tab.goto(path.as_uri(), wait_until="load")
    assert tab.evaluate("document.scrollingElement.scrollWidth") <= 400
    for drawn in tab.eval_on_selector_all("svg.chart", LAID_OUT):
        left, _, right, _ = drawn["box"]
        assert 0 <= left < right <= 400
    for drawn in tab.eval_on_selector_all("svg.panel", LAID_OUT):
        assert_panel_is_labelled(drawn)
        ticks = [t for t in drawn["texts"] if t["cls"] == "tick y"]
        assert all(t["box"][3] - t["box"][1] >= 9 for t in ticks)  # about 11 px text, not 5
    for table in ("#courses-table", "#learners-table"):
        scroller = tab.locator(table).locator("xpath=..")
        assert scroller.evaluate("el => getComputedStyle(el).overflowX") == "auto"
    shot = tmp_path / "progress-report-400.png"
    tab.screenshot(path=shot, full_page=True)
    assert_not_blank(shot, width=400)
    assert watch.errors == []
    assert set(watch.requests) == {path.as_uri()}
