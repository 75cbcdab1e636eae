"""Tables stop at ``TABLE_ROWS`` rows: past it, the rows a person must act on come first and the
caption says how many more there are and where every row is (``--json``, ``--csv``). Rich lays
a table out whole: 20,000 rows took 40 s (bench/output.py), and nobody reads them."""

from __future__ import annotations

from rich.console import Console

from labridge.cli import console
from labridge.errors import Problem
from labridge.workflows.enrol import EnrolReport, RecordOutcome


def _report(outcomes: list[str]) -> EnrolReport:
    report = EnrolReport(True)
    problem = (Problem("uln", "invalid", "check digit"),)
    report.records = [
        RecordOutcome(f"L{i}", f"row {i}", o, row=i, problems=problem if o == "invalid" else ())
        for i, o in enumerate(outcomes)
    ]
    return report


def _text(table: object) -> str:
    out = Console(width=200, record=True)
    out.print(table)
    return out.export_text()


def test_a_report_within_table_rows_shows_every_row_and_no_caption() -> None:
    table = console.enrol_table(_report(["would_enrol"] * console.TABLE_ROWS), {})
    assert table.row_count == console.TABLE_ROWS
    assert table.caption is None


def test_a_big_report_shows_the_rows_to_fix_first_and_says_where_the_rest_are() -> None:
    outcomes = ["would_enrol"] * 1_000 + ["invalid"] * 5 + ["would_enrol"] * 995
    table = console.enrol_table(_report(outcomes), {})
    assert table.row_count == console.TABLE_ROWS
    text = _text(table)
    first_rows = [line for line in text.splitlines() if "row " in line][:5]
    assert all("invalid" in line for line in first_rows), first_rows
    assert f"and {2_000 - console.TABLE_ROWS:,} more rows not shown" in text
    assert "--json" in text


def test_table_rows_keeps_source_order_within_each_kind() -> None:
    rows = [("a", "ok"), ("b", "refused"), ("c", "ok"), ("d", "uncertain")] * 100
    shown, hidden = console.table_rows(rows, lambda r: r[1])
    assert len(shown) == console.TABLE_ROWS == 300
    assert hidden == len(rows) - console.TABLE_ROWS
    assert [r[0] for r in shown[:4]] == ["b", "d", "b", "d"]
    assert shown[200:202] == [("a", "ok"), ("c", "ok")]


def test_an_empty_report_still_prints_its_table() -> None:
    assert console.enrol_table(EnrolReport(False), {}).row_count == 0
