"""The enrol table is printed in pieces: Rich lays out a table whole, and one of 40,000 rows
took 850 MB (bench/memory.py); every record is still shown, the title once."""

from __future__ import annotations

from labridge import console
from labridge.workflows.enrol import EnrolReport, RecordOutcome


def test_a_big_report_prints_as_tables_of_at_most_table_rows_records() -> None:
    count = console.TABLE_ROWS * 2 + 7
    report = EnrolReport(True)
    report.records = [
        RecordOutcome(f"L{i}", f"row {i}", "would_enrol", row=i) for i in range(count)
    ]
    tables = list(console.enrol_tables(report, {}))
    assert [t.row_count for t in tables] == [console.TABLE_ROWS, console.TABLE_ROWS, 7]
    assert [bool(t.title) for t in tables] == [True, False, False]


def test_an_empty_report_still_prints_one_table() -> None:
    assert len(list(console.enrol_tables(EnrolReport(False), {}))) == 1
