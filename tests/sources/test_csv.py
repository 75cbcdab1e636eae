"""The CSV reader, on real files: encodings, delimiters, headers, mapping, and garbage refused."""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labridge.errors import ConfigurationError
from labridge.sources import ERROR_FIELD, SourceRecord, SourceRow, read_csv
from labridge.sources.mapping import parse_mapping

HEADER = "learner_id,forename,surname,birth_date,gender,email,course"
ROW_1 = "L001, Chloe ,Hartley,2005-03-14,F,chloe@example.com,Business Administrator Level 3"
ROW_2 = "L002,Ben,Patel,23/05/1989,Male,ben@example.org,601/7160/5"


def write(tmp_path: Path, content: str | bytes, name: str = "learners.csv") -> Path:
    path = tmp_path / name
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.write_bytes(data)
    return path


def records(rows: list[SourceRow]) -> list[SourceRecord]:
    assert all(isinstance(r, SourceRecord) for r in rows)
    return [r for r in rows if isinstance(r, SourceRecord)]


def read(path: Path, mapping: dict[str, object] | None = None) -> list[SourceRecord]:
    return records(list(read_csv(path, parse_mapping(mapping or {}))))


def refusal(path: Path) -> str:
    with pytest.raises(ConfigurationError) as caught:
        list(read_csv(path))
    message = str(caught.value)
    assert path.name in message
    return message


# --- reading ---------------------------------------------------------------------------------


def test_a_plain_export_reads_row_by_row_with_stripped_values(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\n{ROW_1}\n{ROW_2}\n")
    first, second = read(path)
    assert (first.row, first.origin) == (1, "learners.csv line 2")
    assert (second.row, second.origin) == (2, "learners.csv line 3")
    assert first.fields == {
        "learner_id": "L001",
        "forename": "Chloe",
        "surname": "Hartley",
        "birth_date": "2005-03-14",
        "gender": "F",
        "email": "chloe@example.com",
        "course": "Business Administrator Level 3",
    }
    assert second.source_id == "L002"


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_bom_delimiter_and_line_endings_do_not_matter(
    tmp_path: Path, bom: bytes, delimiter: str, newline: str
) -> None:
    lines = [HEADER, ROW_1, ROW_2.replace("23/05/1989", "1989-05-23")]
    text = newline.join(line.replace(",", delimiter) for line in lines) + newline
    (first, second) = read(write(tmp_path, bom + text.encode("utf-8")))
    assert first.fields["learner_id"] == "L001"
    assert first.fields["course"] == "Business Administrator Level 3"
    assert second.fields["birth_date"] == "1989-05-23"
    assert second.fields["course"] == "601/7160/5"


def test_headers_match_ignoring_case_and_spaces(tmp_path: Path) -> None:
    path = write(tmp_path, " Learner_ID ;FORENAME; Surname \nL1;Aisha;Khan\n")
    (record,) = read(path)
    assert record.fields == {"learner_id": "L1", "forename": "Aisha", "surname": "Khan"}


def test_the_mapping_renames_maps_values_and_fills_gaps(tmp_path: Path) -> None:
    mapping = {
        "columns": {"Learner Ref": "learner_id", "Sex": "gender", "Programme": "course"},
        "values": {"gender": {"1": "M", "2": "F"}, "course": {"BA3": "Business Administrator"}},
        "defaults": {"verifier": "mark.hollins@northgate-training.co.uk", "nationality": "British"},
        "by_course": {"business administrator": {"assessor": "sarah@x", "verifier": "helen@x"}},
    }
    text = "Learner Ref,Sex,Programme,Assessor,Nationality\nL1,1,ba3,,\nL2,2,Other,james@x,Irish\n"
    first, second = read(write(tmp_path, text), mapping)
    assert first.fields == {
        "learner_id": "L1",
        "gender": "M",
        "course": "Business Administrator",
        "assessor": "sarah@x",
        "verifier": "helen@x",
        "nationality": "British",
    }
    assert second.fields["gender"] == "F"
    assert second.fields["assessor"] == "james@x"
    assert second.fields["verifier"] == "mark.hollins@northgate-training.co.uk"
    assert second.fields["nationality"] == "Irish"


def test_blank_lines_and_empty_rows_are_not_records(tmp_path: Path) -> None:
    text = f"\n\n{HEADER}\n\n{ROW_1}\n   \n,,,,,,\n , ,\n{ROW_2}\n\n"
    first, second = read(write(tmp_path, text))
    assert (first.row, first.origin) == (1, "learners.csv line 5")
    assert (second.row, second.origin) == (2, "learners.csv line 9")


def test_quoted_cells_keep_delimiters_quotes_and_newlines(tmp_path: Path) -> None:
    text = (
        "learner_id,address_line1,surname,units\n"
        'L1,"Flat 2, 14 Brudenell Grove","O""Brien","U1;U2"\n'
        'L2,"The Old Mill\nMill Lane",Smith,U7\n'
        "L3,1 Kirkgate,O'Neill,\n"
    )
    first, second, third = read(write(tmp_path, text))
    assert first.fields["address_line1"] == "Flat 2, 14 Brudenell Grove"
    assert first.fields["surname"] == 'O"Brien'
    assert first.fields["units"] == "U1;U2"
    assert second.fields["address_line1"] == "The Old Mill\nMill Lane"
    assert second.origin == "learners.csv line 3"
    assert third.origin == "learners.csv line 5"
    assert third.fields["surname"] == "O'Neill"
    assert third.fields["units"] == ""


def test_semicolon_files_keep_units_whole_when_quoted(tmp_path: Path) -> None:
    text = 'learner_id;units;course\nL1;"U1;U2;EPA";ST0070\n'
    (record,) = read(write(tmp_path, text))
    assert record.fields["units"] == "U1;U2;EPA"


def test_the_delimiter_is_the_one_giving_most_known_columns(tmp_path: Path) -> None:
    # The header holds a comma inside a name, but semicolons split it into the known columns.
    text = "learner_id;forename;surname;Notes, remarks\nL1;Ann;Lee;a, b\n"
    (record,) = read(write(tmp_path, text))
    assert record.fields == {"learner_id": "L1", "forename": "Ann", "surname": "Lee"}


def test_short_rows_lack_the_last_fields(tmp_path: Path) -> None:
    (record,) = read(write(tmp_path, f"{HEADER}\nL1,Ann\n"))
    assert record.fields == {"learner_id": "L1", "forename": "Ann"}


def test_a_row_with_extra_cells_carries_an_error_naming_its_line(tmp_path: Path) -> None:
    text = f"{HEADER}\n{ROW_1}\nL2,Ben,Patel,1989-05-23,M,ben@example.org,Data, Technician\n"
    first, second = read(write(tmp_path, text))
    assert ERROR_FIELD not in first.fields
    assert second.fields["course"] == "Data"
    error = second.fields[ERROR_FIELD]
    assert "learners.csv line 3 has 8 cells but the header has 7 columns" in error
    assert "'Technician'" in error
    assert "quote any cell that contains the delimiter" in error


def test_trailing_empty_cells_are_harmless(tmp_path: Path) -> None:
    (record,) = read(write(tmp_path, f"{HEADER}\n{ROW_1},,,\n"))
    assert ERROR_FIELD not in record.fields


def test_unknown_columns_are_named_once_in_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = "learner_id,Tutor Group,forename,Notes,\nL1,TG4,Ann,x,\nL2,TG5,Bo,y,\n"
    with caplog.at_level(logging.WARNING, logger="labridge.sources.csv"):
        first, _ = read(write(tmp_path, text))
    assert first.fields == {"learner_id": "L1", "forename": "Ann"}
    (warning,) = caplog.records
    assert "learners.csv" in warning.getMessage()
    assert "'Tutor Group', 'Notes'" in warning.getMessage()


def test_two_columns_for_one_field_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "Learner Ref,learner_id\nL1,L1\n")
    with pytest.raises(ConfigurationError, match="'Learner Ref' and 'learner_id' both give"):
        list(read_csv(path, parse_mapping({"columns": {"Learner Ref": "learner_id"}})))


def test_rows_stream_before_a_later_problem(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\n{ROW_1}\n".encode() + b"L2,Ren\xe9e\n")
    rows = read_csv(path)
    assert next(rows).row == 1
    with pytest.raises(ConfigurationError, match="line 3 is not UTF-8"):
        next(rows)


CELLS = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.lists(CELLS, min_size=3, max_size=3), max_size=6),
    delimiter=st.sampled_from([",", ";", "\t"]),
)
def test_whatever_a_csv_writer_writes_reads_back(
    tmp_path: Path, rows: list[list[str]], delimiter: str
) -> None:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerows([["learner_id", "forename", "units"], *rows])
    got = read(write(tmp_path, out.getvalue()))
    kept = [row for row in rows if any(cell.strip() for cell in row)]
    assert [list(r.fields.values()) for r in got] == [[c.strip() for c in row] for row in kept]
    assert [r.row for r in got] == list(range(1, len(kept) + 1))


# --- garbage refused, each with the file, the line and the fix -------------------------------


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        list(read_csv(tmp_path / "absent.csv"))


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    assert "is empty: no header line" in refusal(write(tmp_path, ""))
    assert "is empty: no header line" in refusal(write(tmp_path, "\n \r\n\n"))


def test_a_header_with_no_known_column_is_refused_listing_the_expected(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, "Name,DOB,Course Title\nAnn,2001-01-01,BA\n"))
    assert "the header line has none of the expected columns" in message
    assert "'Name,DOB,Course Title'" in message
    assert "learner_id, line_manager" in message


def test_data_without_a_header_is_refused(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, f"{ROW_1}\n{ROW_2}\n"))
    assert "none of the expected columns" in message


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)), "is an Excel workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), "is an old Excel workbook"),
        ("learner_id,forename\r\nL1,Ann\r\n".encode("utf-16"), "is UTF-16 text"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "is a PDF document"),
    ],
)
def test_files_exported_by_mistake_are_named(tmp_path: Path, content: bytes, what: str) -> None:
    message = refusal(write(tmp_path, content, "export.csv"))
    assert f"export.csv {what}" in message
    assert "not a CSV file" in message
    assert "CSV UTF-8" in message


def test_binary_files_are_refused(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"))
    assert "learners.csv is a binary file or UTF-16 text (it holds NUL bytes)" in message


def test_nul_bytes_further_in_are_refused_naming_the_line(tmp_path: Path) -> None:
    rows = "".join(f"{ROW_1}\n" for _ in range(200))  # past the first 8 KiB looked at
    message = refusal(write(tmp_path, f"{HEADER}\n{rows}L2,A\x00n\n"))
    assert "learners.csv line 202 contains NUL bytes" in message


def test_bytes_that_are_not_utf8_are_refused_naming_the_line(tmp_path: Path) -> None:
    latin1 = f"{HEADER}\n{ROW_1}\nL2,Ren\xe9e,Dupont\n".encode("latin-1")
    message = refusal(write(tmp_path, latin1))
    assert "learners.csv line 3 is not UTF-8 (byte 0xe9 at column 7)" in message
    assert "save it" in message


def test_an_enormous_field_is_refused(tmp_path: Path) -> None:
    huge = "x" * 200_000
    message = refusal(write(tmp_path, f'{HEADER}\nL1,"{huge}",Lee\n'))
    assert "line 2 cannot be read as CSV: field larger than field limit" in message


def test_an_enormous_line_is_refused(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, HEADER + "\n" + "L1," + "y," * 600_000 + "\n"))
    assert "line 2 is longer than 1048576 bytes" in message


def test_a_quote_never_closed_is_refused(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, f'{HEADER}\n{ROW_1}\nL2,"Ben,Patel\nL3,Cy,Dow\n'))
    assert "cannot be read as CSV: unexpected end of data" in message
    assert "the row starting on line 3 has a quote that is not closed" in message
