"""What a data officer's real exports do: a header from another system, a Windows encoding."""

from __future__ import annotations

from pathlib import Path

import pytest

from labridge.errors import ConfigurationError
from labridge.sources import SourceRecord, read_csv
from labridge.sources.mapping import parse_mapping
from labridge.sources.open import open_source
from labridge.sources.records import MANDATORY

#: An export whose headers are the MIS's own words, not labridge's.
FOREIGN = (
    "Learner Ref,First Name,Surname,Date of Birth,Gender,Email,Employer,Course,Start Date,"
    "Assessor,Verifier\n"
    "MIS-1,Ann,Lee,2001-02-03,F,ann@example.org,Acme,ST0070,2025-09-01,a@x.org,v@x.org\n"
    "MIS-2,Bob,Ng,2002-02-03,M,bob@example.org,Acme,ST0070,2025-09-01,a@x.org,v@x.org\n"
)


def test_a_wrong_header_is_one_error_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(FOREIGN, encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        list(read_csv(path, required=MANDATORY))
    message = str(caught.value)
    assert message.startswith("export.csv: the header has no column for learner_id, forename, ")
    assert "birth_date" in message
    assert "company" in message
    assert "columns found: 'Learner Ref', 'First Name'" in message
    # The closest headers, as the [columns] lines that map them:
    assert '"Learner Ref" = "learner_id"' in message
    assert '"First Name" = "forename"' in message
    assert '"Date of Birth" = "birth_date"' in message
    assert '"Start Date" = "start_date"' in message
    assert '"YOUR COLUMN" = "company"' in message  # "Employer" is not like "company"


def test_the_suggested_lines_make_the_file_read(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(FOREIGN, encoding="utf-8")
    columns = {"Learner Ref": "learner_id", "First Name": "forename", "Date of Birth":
               "birth_date", "Start Date": "start_date", "Employer": "company"}  # fmt: skip
    rows = list(read_csv(path, parse_mapping({"columns": columns}), required=MANDATORY))
    assert [r.fields["learner_id"] for r in rows if isinstance(r, SourceRecord)] == [
        "MIS-1",
        "MIS-2",
    ]


def test_a_mapping_default_counts_as_a_column(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_text(
        "learner_id,forename,surname,birth_date,gender,email,company,course,start_date\n"
        "L1,Ann,Lee,2001-02-03,F,a@example.org,Acme,ST0070,2025-09-01\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigurationError, match="no column for assessor, verifier "):
        list(read_csv(path, required=MANDATORY))
    mapping = parse_mapping({"defaults": {"assessor": "a@x.org", "verifier": "v@x.org"}})
    (row,) = read_csv(path, mapping, required=MANDATORY)
    assert isinstance(row, SourceRecord)


def test_open_source_passes_the_requirement_on(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(FOREIGN, encoding="utf-8")
    with pytest.raises(ConfigurationError, match="the header has no column for learner_id"):
        list(open_source(path, required=MANDATORY))


CP1252 = "learner_id,forename,surname\nL1,Zoë,O\u2019Brien\nL2,José,Núñez\n".encode("cp1252")


def test_a_windows_export_reads_with_its_encoding(tmp_path: Path) -> None:
    path = tmp_path / "mis.csv"
    path.write_bytes(CP1252)
    rows = [r for r in read_csv(path, encoding="cp1252") if isinstance(r, SourceRecord)]
    assert [(r.fields["forename"], r.fields["surname"]) for r in rows] == [
        ("Zoë", "O\u2019Brien"),
        ("José", "Núñez"),
    ]
    rows = [r for r in open_source(path, encoding="windows-1252") if isinstance(r, SourceRecord)]
    assert rows[1].fields["surname"] == "Núñez"


def test_a_windows_export_read_as_utf8_says_which_encoding_to_try(tmp_path: Path) -> None:
    path = tmp_path / "mis.csv"
    path.write_bytes(CP1252)
    with pytest.raises(ConfigurationError) as caught:
        list(read_csv(path))
    assert "mis.csv line 2 is not UTF-8 (byte 0xeb at column 6)" in str(caught.value)
    assert "--encoding cp1252" in str(caught.value)


def test_an_unknown_encoding_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mis.csv"
    path.write_bytes(CP1252)
    with pytest.raises(ConfigurationError, match="'klingon' is not a text encoding"):
        list(read_csv(path, encoding="klingon"))
