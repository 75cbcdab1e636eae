"""The progress report from a real store (SQLite and PostgreSQL): the on-track rule, the numbers
per learner and per course, and the JSON, CSV and HTML renderings (structure, escaping, no
external URL, caps on what is drawn, speed)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from typer.testing import CliRunner

from labridge.cli import app
from labridge.reports import ReportFormat, build_progress_report, progress_html, render_progress
from labridge.reports.progress_report import (
    BUCKETS,
    COLUMNS,
    PANELS,
    STANDINGS,
    ProgressReport,
    bucket,
    expected_percentage,
    judge,
)
from labridge.store import Store, open_store

from .progress_data import EXPECTED_BEHIND, HOSTILE, LEARNERS, TODAY, fill, many_learners

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def report_of(store: Store) -> ProgressReport:
    with store.engine.connect() as conn:
        return build_progress_report(conn, TODAY, now=NOW)


def nodes(doc: lxml.html.HtmlElement, path: str) -> list[Any]:
    """What the XPath ``path`` selects in ``doc``: elements, or strings for ``text()``."""
    found = doc.xpath(path)
    assert isinstance(found, list)
    return found


def _child(el: Any, tag: str) -> Any:
    found = el.find(tag)
    assert found is not None, f"no {tag} in <{el.tag}>"
    return found


# -- the rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "today", "expected"),
    [
        (date(2026, 1, 1), date(2026, 12, 31), date(2025, 6, 1), 0.0),  # not started yet
        (date(2026, 1, 1), date(2026, 1, 11), date(2026, 1, 1), 0.0),
        (date(2026, 1, 1), date(2026, 1, 11), date(2026, 1, 6), 50.0),
        (date(2026, 1, 1), date(2026, 1, 4), date(2026, 1, 2), 33.3),
        (date(2026, 1, 1), date(2026, 1, 11), date(2027, 1, 1), 100.0),  # past the planned end
        (date(2026, 1, 1), date(2026, 1, 1), date(2026, 1, 1), 100.0),  # a zero-length plan
        (date(2026, 1, 2), date(2026, 1, 1), date(2025, 1, 1), 0.0),
        (None, date(2026, 1, 1), date(2026, 1, 1), None),
    ],
)
def test_expected_percentage_is_the_share_of_the_plan_elapsed(
    start: date | None, end: date | None, today: date, expected: float | None
) -> None:
    assert expected_percentage(start, end, today) == expected


@pytest.mark.parametrize(
    ("overall", "expected", "status", "on_track"),
    [
        (50.0, 50.0, "Active", True),
        (40.0, 50.0, "Active", True),  # exactly the tolerance behind
        (39.9, 50.0, "Active", False),
        (0.0, 0.0, "Active", True),
        (12.0, 100.0, "Completed", True),  # completed is on track whatever the dates say
        (5.0, 80.0, "Withdrawn", None),
        (5.0, 80.0, "BreakInLearning", None),
        (5.0, None, "Active", None),  # no usable plan
    ],
)
def test_on_track_rule(overall: float, expected: float | None, status: str, on_track: bool) -> None:
    assert judge(overall, expected, status, tolerance=10.0) is on_track


@pytest.mark.parametrize(
    ("overall", "name"),
    [(0, "0-24"), (24.9, "0-24"), (25, "25-49"), (74.99, "50-74"), (99.9, "75-99"), (100, "100")],
)
def test_buckets(overall: float, name: str) -> None:
    assert bucket(overall) == name


# -- from the store -------------------------------------------------------------------------------


def test_learners_read_from_the_progress_tables(progress_store: Store) -> None:
    report = report_of(progress_store)
    by_uuid = {learner.candidate_uuid: learner for learner in report.learners}
    assert set(by_uuid) == {s.uuid for s in LEARNERS} | {"u-noname"}  # never-pulled left out
    amy = by_uuid["u-amy"]
    assert (amy.name, amy.course, amy.overall, amy.expected, amy.on_track) == (
        "Amy Ashworth",
        "Level 3 Data Technician",
        55.0,
        49.6,
        True,
    )
    # 55% of 5 units: two complete; outcome-level rows are not units.
    assert (amy.units_done, amy.units_total, amy.last_activity) == (2, 5, "2026-03-01")
    assert (by_uuid["u-kim"].units_done, by_uuid["u-kim"].units_total) == (5, 6)
    # No unit history: the course's unit list gives the total.
    assert (by_uuid["u-hal"].units_done, by_uuid["u-hal"].units_total) == (0, 6)
    assert by_uuid["u-noname"].name == "S012"  # no candidate row synced yet
    assert by_uuid["u-gus"].name == f"Gus {HOSTILE}"
    assert report.never_pulled == 1


def test_summary_courses_and_most_behind(progress_store: Store) -> None:
    report = report_of(progress_store)
    # One standing per learner: the parts add up to the learners (the never pulled are apart).
    assert report.summary() == {
        "learners": 12,
        "on_track": 3,  # Amy, Cat, Kim
        "behind": 5,
        "not_started": 1,  # Hal: planned start after today
        "completed": 1,  # Eve
        "not_judged": 2,  # Fin (withdrawn), Gus (break in learning)
        "never_pulled": 1,
    }
    assert report.headline() == (
        "12 learners: 3 on track, 5 behind, 1 not started yet, 1 completed, 2 not judged"
    )
    assert [c.as_dict() for c in report.courses] == [
        course("Health & Social Care <Level 2>", [2, 0, 0, 0, 1], [0, 0, 0, 1, 2]),
        course("Level 3 Data Technician", [2, 0, 3, 0, 0], [2, 3, 0, 0, 0]),
        course("Level 4 Software Developer", [2, 1, 0, 1, 0], [1, 2, 1, 0, 0]),
    ]
    for spread in report.courses:
        assert sum(spread.standings.values()) == spread.learners
    assert [learner.candidate_uuid for learner in report.most_behind] == EXPECTED_BEHIND
    assert [round(learner.gap, 1) for learner in report.most_behind] == [
        40.6,
        37.6,
        30.0,
        29.6,
        11.6,
    ]


def course(name: str, counts: list[int], standings: list[int]) -> dict[str, object]:
    buckets = dict(zip(BUCKETS, counts, strict=True))
    learners = sum(counts)
    return {"course": name, "learners": learners, "buckets": buckets} | dict(
        zip(STANDINGS, standings, strict=True)
    )


def test_history_is_one_point_per_change(progress_store: Store) -> None:
    history = report_of(progress_store).history
    assert [v for _, v in history["u-amy"]] == [8, 16, 25, 33, 45, 55]
    assert [v for _, v in history["u-ben"]] == [5, 10, 12]  # stalled: no new rows
    assert [when.date() for when, _ in history["u-hal"]] == [date(2026, 2, 1)]
    assert all(when.tzinfo is not None for when, _ in history["u-amy"])


def test_empty_store_gives_an_empty_report(store_url: str) -> None:
    with open_store(store_url) as store:
        report = report_of(store)
    assert report.as_dict()["learners"] == report.as_dict()["courses"] == []
    assert "No progress has been pulled yet" in progress_html(report)


# -- JSON and CSV ---------------------------------------------------------------------------------


def test_json_shape(sqlite_progress_store: Store) -> None:
    data = json.loads(render_progress(report_of(sqlite_progress_store), ReportFormat.json))
    assert list(data) == [
        "generated_at",
        "today",
        "tolerance",
        "summary",
        "learners",
        "courses",
        "most_behind",
    ]
    assert (data["generated_at"], data["today"]) == ("2026-03-01T09:30:00+00:00", "2026-03-01")
    assert all(list(learner) == list(COLUMNS) for learner in data["learners"])
    assert list(data["courses"][0]["buckets"]) == list(BUCKETS)
    fin = next(learner for learner in data["learners"] if learner["source_id"] == "S006")
    assert fin == {
        "candidate_uuid": "u-fin",
        "source_id": "S006",
        "name": "Fin O'Brien",
        "course": "Health & Social Care <Level 2>",
        "overall": 10.0,
        "expected": 49.6,
        "on_track": None,
        "standing": "not_judged",
        "units_done": 0,
        "units_total": 4,
        "last_activity": "2026-03-01",
        "start_date": "2025-09-01",
        "end_date": "2026-09-01",
        "status": "Withdrawn",
    }
    assert [learner["source_id"] for learner in data["most_behind"]][:2] == ["S010", "S002"]
    gus = next(learner for learner in data["learners"] if learner["source_id"] == "S007")
    assert gus["status"] == "BreakInLearning"  # JSON keeps LA's value
    assert data["summary"]["learners"] == sum(data["summary"][s] for s in STANDINGS)


def test_csv_has_one_line_per_learner(sqlite_progress_store: Store) -> None:
    text = render_progress(report_of(sqlite_progress_store), ReportFormat.csv)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) == 12
    ben = next(row for row in rows if row["source_id"] == "S002")
    assert (ben["overall"], ben["expected"], ben["on_track"]) == ("12.0", "49.6", "false")
    assert next(row for row in rows if row["source_id"] == "S006")["on_track"] == ""
    by_id = {row["source_id"]: row for row in rows}
    assert (by_id["S007"]["status"], by_id["S007"]["standing"]) == (
        "Break in learning",
        "not judged",
    )
    assert by_id["S001"]["status"] == "In learning"
    assert by_id["S008"]["standing"] == "not started yet"
    assert any(row["name"] == f"Gus {HOSTILE}" for row in rows)  # CSV keeps data as it is


# -- HTML -----------------------------------------------------------------------------------------


@pytest.fixture
def html(sqlite_progress_store: Store) -> str:
    return progress_html(report_of(sqlite_progress_store))


def test_html_is_self_contained(html: str) -> None:
    lowered = html.lower()
    for external in ("http:", "https:", "//cdn", "@import", "url(", "<link", " src="):
        assert external not in lowered, external
    assert html.count("<script>") == 1  # the sorting script, and only that


def test_html_escapes_user_data(html: str) -> None:
    assert HOSTILE not in html
    assert "Gus &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Health &amp; Social Care &lt;Level 2&gt;" in html
    assert "O&#39;Brien" in html
    doc = lxml.html.fromstring(html)
    assert len(nodes(doc, "//script")) == 1
    assert f"Gus {HOSTILE}" in str(doc.xpath("string(//table[@id='learners-table'])"))


def test_html_structure(html: str) -> None:
    doc = lxml.html.fromstring(html)
    assert doc.findtext(".//title") == "Learner progress report, 2026-03-01"
    assert [h.text_content() for h in nodes(doc, "//h2")] == [
        "Summary",
        "Courses: spread of learners by overall progress",
        "Learners most behind",
        "Progress over time",
        "All learners",
    ]
    assert len(nodes(doc, "//table[@id='learners-table']/tbody/tr")) == 12
    assert len(nodes(doc, "//table[@id='behind-table']/tbody/tr")) == 5
    assert len(nodes(doc, "//table[@id='courses-table']/tbody/tr")) == 3
    assert (
        len(nodes(doc, "//svg[contains(@class, 'bars')]//rect")) == 5 + 2 + 2 + 3
    )  # legend, then non-empty buckets
    panels = nodes(doc, "//div[@class='panels']/figure/figcaption/span[@class='who']/text()")
    assert panels[:5] == ["Jon Jones", "Ben Barker", "Dev Desai", "S012", "Ivy Ito"]  # behind first
    assert len(panels) == 12
    assert len(nodes(doc, "//svg[@class='spark']")) == 12
    for svg in doc.iter("svg"):
        assert svg.get("aria-label") or svg.get("aria-labelledby")
        assert svg.find("title") is not None
    for svg in nodes(doc, "//svg[contains(@class, 'panel')]"):  # title and description, by id
        assert svg.get("aria-labelledby") == _child(svg, "title").get("id")
        assert svg.get("aria-describedby") == _child(svg, "desc").get("id")
    assert len({svg.get("aria-labelledby") for svg in doc.iter("svg")} - {None}) == 12
    statuses = nodes(doc, "//table[@id='learners-table']/tbody/tr/td[3]/text()")
    assert set(statuses) == {"In learning", "Completed", "Withdrawn", "Break in learning"}
    assert "BreakInLearning" not in lxml.html.tostring(doc, method="text", encoding="unicode")
    cards = {div.get("data-count"): int(div.findtext("dd") or "") for div in nodes(doc, "//dl/div")}
    assert list(cards) == ["learners", *STANDINGS]
    assert cards["learners"] == sum(cards[s] for s in STANDINGS) == 12
    assert "@media print" in html


# -- the command ----------------------------------------------------------------------------------


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A filled SQLite store, given to the command as a bare path, run in an empty directory."""
    path = tmp_path / "store.db"
    with open_store(f"sqlite:///{path}") as store:
        fill(store)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # no stray labridge.toml; default outputs land here
    for name in ("LABRIDGE_DATABASE_URL", "LABRIDGE_URL", "LABRIDGE_USERNAME"):
        monkeypatch.delenv(name, raising=False)
    return str(path)


def test_command_prints_json_on_stdout(cli_db: str) -> None:
    result = CliRunner().invoke(app, ["progress", "report", "--format", "json", "--db", cli_db])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data["learners"]) == 12
    assert data["today"] == date.today().isoformat()
    assert not Path("progress-report.json").exists()


def test_command_writes_html_by_default_and_csv_on_request(cli_db: str, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["progress", "report", "--db", cli_db])
    assert result.exit_code == 0, result.output
    said = re.search(
        r"Wrote progress-report.html: 12 learners: (\d+) on track, (\d+) behind, "
        r"(\d+) not started yet, (\d+) completed, (\d+) not judged\.",
        " ".join(result.stderr.split()),
    )
    assert said is not None, result.stderr
    assert sum(int(n) for n in said.groups()) == 12  # figures that add up, as the cards' do
    assert Path("progress-report.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    out = tmp_path / "learners.csv"
    args = ["progress", "report", "--format", "csv", "--output", str(out), "--db", cli_db]
    assert runner.invoke(app, args).exit_code == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 13


def test_command_says_when_it_cannot_write(cli_db: str, tmp_path: Path) -> None:
    bad = tmp_path / "no-such-dir" / "report.html"
    result = CliRunner().invoke(app, ["progress", "report", "-o", str(bad), "--db", cli_db])
    assert result.exit_code == 2
    assert "cannot write the report" in result.stderr


# -- scale ----------------------------------------------------------------------------------------


def test_thousands_of_learners_render_with_capped_charts(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'big.db'}") as store:
        fill(store, many_learners(3000, pulls=24))
        report = report_of(store)
        page = progress_html(report)
        render_progress(report, ReportFormat.json)
        render_progress(report, ReportFormat.csv)
    assert len(report.learners) == 3000
    doc = lxml.html.fromstring(page)
    assert len(nodes(doc, "//svg[contains(@class, 'panel')]")) == PANELS  # capped, and said so
    assert (
        f"The {PANELS} learners furthest behind their plan, those judged behind first (of 3000;"
        in page
    )
    assert len(nodes(doc, "//table[@id='learners-table']/tbody/tr")) == 3000
    assert len(page) < 6_000_000


def test_template_ships_inside_the_package() -> None:
    template = files("labridge.reports") / "templates" / "progress.html.j2"
    assert template.is_file()
