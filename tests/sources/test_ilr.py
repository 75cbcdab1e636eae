"""The ILR reader (and the choice of reader by content), on ILR files the tests write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labridge.errors import ConfigurationError
from labridge.sources import (
    ERROR_FIELD,
    SkippedRecord,
    SourceMapping,
    SourceRecord,
    SourceRow,
    open_source,
    read_ilr,
)
from labridge.sources.mapping import parse_mapping

from .ilr_files import (
    build_ilr,
    component_aim,
    employment,
    learner,
    programme_aim,
    qualification_aim,
    write_ilr,
)

YEARS = ["2024-25", "2025-26"]
BA = "Business Administrator Level 3 (ST0070)"
BTEC = "601/7160/5"
COURSE_QANS = [BTEC, "600/6982/5", "600/4813/X"]
MAPPING = parse_mapping(
    {
        "ilr": {
            "standards": {"196": BA},
            "employers": {"105000123": "Aire Valley Logistics Ltd"},
        },
        "by_course": {BA: {"assessor": "sarah.whitfield@northgate-training.co.uk"}},
        "defaults": {"verifier": "mark.hollins@northgate-training.co.uk"},
    }
)


def read(
    path: Path, mapping: SourceMapping = MAPPING, qans: list[str] = COURSE_QANS
) -> list[SourceRow]:
    return list(read_ilr(path, mapping, qans))


def only(rows: list[SourceRow]) -> SourceRecord:
    (row,) = rows
    assert isinstance(row, SourceRecord)
    return row


def skipped(rows: list[SourceRow]) -> SkippedRecord:
    (row,) = rows
    assert isinstance(row, SkippedRecord)
    return row


def one_learner(tmp_path: Path, year: str = "2025-26", **fields: Any) -> Path:
    return write_ilr(tmp_path / "ILR.xml", [learner("LR0042", 42, **fields)], year)


# --- what is enrolled ------------------------------------------------------------------------


@pytest.mark.parametrize("year", YEARS)
def test_an_apprentice_gives_one_record_with_every_field(tmp_path: Path, year: str) -> None:
    aims = [programme_aim("196"), component_aim(BTEC.replace("/", ""), "196")]
    record = only(read(one_learner(tmp_path, year, aims=aims)))
    assert (record.row, record.origin) == (1, "ILR learner LR0042 (ZPROG001, StdCode 196)")
    assert record.fields == {
        "learner_id": "LR0042",
        "uln": learner("x", 42)["ULN"],
        "surname": "Hartley",
        "forename": "Chloe Anne",
        "birth_date": "2005-03-14",
        "ethnicity": "31",
        "gender": "F",
        "ni_number": "QQ123456C",
        "postcode": "LS6 2AB",
        "address_line1": "14 Brudenell Grove",
        "address_line2": "Hyde Park",
        "address_line3": "Leeds",
        "phone": "01134960042",
        "email": "learner42@example.com",
        "course": BA,
        "start_date": "2025-09-01",
        "end_date": "2027-03-31",
        "employment_status": "10",
        "company": "Aire Valley Logistics Ltd",
        "assessor": "sarah.whitfield@northgate-training.co.uk",
        "verifier": "mark.hollins@northgate-training.co.uk",
    }


@pytest.mark.parametrize("year", YEARS)
def test_a_qualification_matching_an_la_course_gives_a_record(tmp_path: Path, year: str) -> None:
    path = one_learner(tmp_path, year, aims=[qualification_aim("60171605")])
    record = only(read(path))
    assert record.origin == "ILR learner LR0042 (60171605)"
    assert record.fields["course"] == BTEC  # LA's QAN, slashes and all
    assert record.fields["start_date"] == "2025-09-08"
    assert record.fields["end_date"] == "2026-07-17"
    assert ERROR_FIELD not in record.fields


def test_qans_compare_ignoring_case_slashes_and_spaces(tmp_path: Path) -> None:
    path = one_learner(tmp_path, aims=[qualification_aim("6004813x")])
    assert only(read(path, qans=[" 600 / 4813 / X "])).fields["course"] == " 600 / 4813 / X "


def test_the_mapping_can_name_the_course_of_an_aim(tmp_path: Path) -> None:
    mapping = parse_mapping({"ilr": {"aims": {"Z0001947": "Employability Skills", BTEC: "Mine"}}})
    aims = [qualification_aim("Z0001947"), qualification_aim("60171605")]
    first, second = read(one_learner(tmp_path, aims=aims), mapping)
    assert isinstance(first, SourceRecord)
    assert isinstance(second, SourceRecord)
    assert first.fields["course"] == "Employability Skills"
    assert second.fields["course"] == "Mine"  # [ilr.aims] wins over the QAN match


def test_several_aims_give_several_records_with_their_own_rows(tmp_path: Path) -> None:
    learners = [
        learner("LR0001", 1, aims=[programme_aim("196"), qualification_aim("60069825")]),
        learner("LR0002", 2, aims=[qualification_aim("60171605")]),
    ]
    rows = read(write_ilr(tmp_path / "ILR.xml", learners))
    assert [(r.row, r.origin) for r in rows] == [
        (1, "ILR learner LR0001 (ZPROG001, StdCode 196)"),
        (2, "ILR learner LR0001 (60069825)"),
        (3, "ILR learner LR0002 (60171605)"),
    ]
    assert [r.source_id for r in rows] == ["LR0001", "LR0001", "LR0002"]


def test_components_of_an_enrolled_apprenticeship_are_left_to_it(tmp_path: Path) -> None:
    aims = [
        programme_aim("196"),
        component_aim("60171605", "196"),  # matches an LA course, but is part of the programme
        qualification_aim("60069825"),
    ]
    rows = read(one_learner(tmp_path, aims=aims))
    assert [r.origin for r in rows] == [
        "ILR learner LR0042 (ZPROG001, StdCode 196)",
        "ILR learner LR0042 (60069825)",
    ]


def test_a_component_counts_alone_when_its_programme_is_not_enrolled(tmp_path: Path) -> None:
    aims = [programme_aim("196", CompStatus="6"), component_aim("60171605", "196")]
    assert only(read(one_learner(tmp_path, aims=aims))).fields["course"] == BTEC


def test_other_programmes_are_not_apprenticeships(tmp_path: Path) -> None:
    t_level = programme_aim("", ProgType="31", StdCode=None, FundModel="25")
    bootcamp = programme_aim("", ProgType="32", StdCode=None, FundModel="37")
    reason = skipped(read(one_learner(tmp_path, aims=[t_level, bootcamp]))).reason
    assert reason.startswith("no continuing apprenticeship programme aim (ZPROG001, ProgType 25)")


# --- what is skipped, and why ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "state"),
    [("2", "completed"), ("3", "withdrawn"), ("6", "on a break in learning")],
)
def test_programmes_not_continuing_are_skipped_saying_why(
    tmp_path: Path, status: str, state: str
) -> None:
    path = one_learner(tmp_path, aims=[programme_aim("196", CompStatus=status)])
    row = skipped(read(path))
    assert (row.row, row.origin, row.source_id) == (1, "ILR learner LR0042", "LR0042")
    assert row.reason == f"aim ZPROG001 (StdCode 196) is {state} (CompStatus {status})"


def test_qualifications_not_continuing_are_skipped_saying_why(tmp_path: Path) -> None:
    aims = [
        qualification_aim("60171605", CompStatus="2", Outcome="1"),
        qualification_aim("60069825", CompStatus="3", WithdrawReason="43"),
    ]
    assert skipped(read(one_learner(tmp_path, aims=aims))).reason == (
        "aim 60171605 is completed (CompStatus 2); aim 60069825 is withdrawn (CompStatus 3)"
    )


def test_a_learner_with_nothing_matching_is_skipped_saying_why(tmp_path: Path) -> None:
    aims = [qualification_aim("Z0007846"), qualification_aim("50093186")]
    assert skipped(read(one_learner(tmp_path, aims=aims))).reason == (
        "no continuing apprenticeship programme aim (ZPROG001, ProgType 25) and no continuing "
        "aim whose Ofqual number matches an LA course"
    )


def test_skipped_and_enrolled_learners_keep_file_order(tmp_path: Path) -> None:
    learners = [
        learner("LR0001", 1, aims=[programme_aim("196", CompStatus="2")]),
        learner("LR0002", 2, aims=[programme_aim("196")]),
        learner("LR0003", 3, aims=[qualification_aim("Z0007846")]),
    ]
    rows = read(write_ilr(tmp_path / "ILR.xml", learners))
    assert [(type(r).__name__, r.row, r.source_id) for r in rows] == [
        ("SkippedRecord", 1, "LR0001"),
        ("SourceRecord", 2, "LR0002"),
        ("SkippedRecord", 3, "LR0003"),
    ]


# --- the mapping's gaps are reported on the record -------------------------------------------


def test_an_unmapped_standard_gives_an_invalid_record_saying_the_fix(tmp_path: Path) -> None:
    record = only(read(one_learner(tmp_path, aims=[programme_aim("119")])))
    assert record.origin == "ILR learner LR0042 (ZPROG001, StdCode 119)"
    assert record.fields["course"] == ""
    assert record.fields[ERROR_FIELD] == (
        "StdCode 119 is not mapped to an LA course: add it under [ilr.standards] in the "
        "mapping file"
    )


def test_employers_map_to_companies_and_fill_by_employer(tmp_path: Path) -> None:
    mapping = parse_mapping(
        {
            "ilr": {"standards": {"196": BA}, "employers": {"105000123": "Aire"}},
            "by_employer": {
                "105000123": {"assessor": "emp-assessor@x", "job_title": "Apprentice"},
                "105555555": {"company": "Bramley Care Homes Ltd"},
                "999999999": {"company": "Oakwood Academy Trust"},
            },
        }
    )
    learners = [
        learner(
            f"LR{n}",
            n,
            aims=[programme_aim("196")],
            employment=[employment("10", "2025-01-01", emp)],
        )
        for n, emp in enumerate(["105000123", "105555555", "999999999", "123456789"])
    ]
    rows = read(write_ilr(tmp_path / "ILR.xml", learners), mapping)
    fields = [r.fields for r in rows if isinstance(r, SourceRecord)]
    assert fields[0]["company"] == "Aire"
    assert fields[0]["assessor"] == "emp-assessor@x"
    assert fields[0]["job_title"] == "Apprentice"
    assert fields[1]["company"] == "Bramley Care Homes Ltd"
    assert fields[2]["company"] == "Oakwood Academy Trust"
    assert all(ERROR_FIELD not in f for f in fields[:3])
    assert "company" not in fields[3]
    assert fields[3][ERROR_FIELD] == (
        "EmpId 123456789 is not mapped to an LA company: add it under [ilr.employers] in the "
        "mapping file"
    )


def test_an_employer_not_on_eds_is_no_mapping_gap(tmp_path: Path) -> None:
    path = one_learner(
        tmp_path,
        aims=[programme_aim("196")],
        employment=[employment("10", "2024-01-01", "999999999")],
    )
    record = only(read(path))
    assert "company" not in record.fields
    assert ERROR_FIELD not in record.fields


def test_employment_status_is_the_one_in_force_at_each_aims_start(tmp_path: Path) -> None:
    statuses = [
        employment("11", "2023-06-01"),
        employment("10", "2025-08-15", "105000123"),
        employment("10", "2026-01-05", "105004567"),
    ]
    aims = [
        programme_aim("196", LearnStartDate="2025-09-01"),
        qualification_aim("60171605", LearnStartDate="2026-01-05"),
        qualification_aim("60069825", LearnStartDate="2023-01-01"),
    ]
    mapping = parse_mapping({"ilr": {"employers": {"105000123": "Aire", "105004567": "Bramley"}}})
    rows = read(one_learner(tmp_path, employment=statuses, aims=aims), mapping)
    fields = [r.fields for r in rows if isinstance(r, SourceRecord)]
    assert [(f.get("employment_status"), f.get("company")) for f in fields] == [
        ("10", "Aire"),
        ("10", "Bramley"),
        (None, None),  # before any status applied
    ]


def test_missing_optional_elements_leave_fields_absent(tmp_path: Path) -> None:
    data = learner("LR0042", 42, aims=[programme_aim("196", LearnPlanEndDate=None)])
    for name in ("FamilyName", "GivenNames", "DateOfBirth", "Email", "TelNo", "NINumber"):
        del data[name]
    data["employment"] = []
    record = only(read(write_ilr(tmp_path / "ILR.xml", [data])))
    for field in ("surname", "forename", "birth_date", "email", "phone", "ni_number", "end_date"):
        assert field not in record.fields
    assert "employment_status" not in record.fields


# --- files refused ---------------------------------------------------------------------------


def refusal(path: Path) -> str:
    with pytest.raises(ConfigurationError) as caught:
        list(read_ilr(path, MAPPING, COURSE_QANS))
    message = str(caught.value)
    assert path.name in message
    return message


def test_a_doctype_with_entities_is_refused(tmp_path: Path) -> None:
    body = build_ilr([learner("LR0001", 1, aims=[programme_aim("196")])], declaration=False)
    hostile = (
        b'<!DOCTYPE Message [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
        + body.replace(b"<GivenNames>Chloe Anne", b"<GivenNames>&b;")
    )
    path = tmp_path / "ILR.xml"
    path.write_bytes(hostile)
    assert "has a DOCTYPE: XML with DTDs or entities is refused" in refusal(path)


def test_an_external_dtd_is_refused(tmp_path: Path) -> None:
    body = build_ilr([learner("LR0001", 1)], declaration=False)
    path = tmp_path / "ILR.xml"
    path.write_bytes(b'<!DOCTYPE Message SYSTEM "http://example.com/ilr.dtd">\n' + body)
    assert "has a DOCTYPE" in refusal(path)


def test_an_undeclared_entity_is_refused(tmp_path: Path) -> None:
    body = build_ilr([learner("LR0001", 1)]).replace(b"Chloe Anne", b"&xxe;")
    path = tmp_path / "ILR.xml"
    path.write_bytes(body)
    assert "is not well-formed XML" in refusal(path)


@pytest.mark.parametrize(
    ("xml", "found"),
    [
        (b'<Message xmlns="ESFA/ILR/2023-24"/>', "Message in namespace 'ESFA/ILR/2023-24'"),
        (b'<Message xmlns="SFA/ILR/2017-18"/>', "Message in namespace 'SFA/ILR/2017-18'"),
        (b"<Message/>", "Message in no namespace"),
        (
            b'<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"/>',
            "Envelope in namespace 'http://schemas.xmlsoap.org/soap/envelope/'",
        ),
    ],
)
def test_other_roots_and_namespaces_are_refused_naming_them(
    tmp_path: Path, xml: bytes, found: str
) -> None:
    path = tmp_path / "other.xml"
    path.write_bytes(xml)
    message = refusal(path)
    assert f"other.xml is not an ILR file labridge reads: its root element is {found}" in message
    assert "ESFA/ILR/2024-25 (2024-25), ESFA/ILR/2025-26 (2025-26)" in message


@pytest.mark.parametrize("content", [b"", b"<Message xmlns='ESFA/ILR/2025-26'><Learner>"])
def test_malformed_xml_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "ILR.xml"
    path.write_bytes(content)
    assert "ILR.xml is not well-formed XML" in refusal(path)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        list(read_ilr(tmp_path / "absent.xml"))


# --- files as the DfE writes them, and big ones ----------------------------------------------


@pytest.mark.parametrize("year", YEARS)
def test_a_leading_comment_and_no_declaration_are_fine(tmp_path: Path, year: str) -> None:
    data = build_ilr(
        [learner("LR0001", 1, aims=[programme_aim("196")])],
        year,
        comment="Anonymised example learners written by the labridge tests",
        declaration=False,
    )
    assert data.startswith(b"<!--")
    path = tmp_path / "ILR.xml"
    path.write_bytes(data)
    assert only(read(path)).fields["course"] == BA


def test_a_large_file_streams(tmp_path: Path) -> None:
    aims = [
        [programme_aim("196")],
        [qualification_aim("60171605")],
        [qualification_aim("Z0007846")],
    ]
    learners = (learner(f"LR{n:06d}", n, aims=aims[n % 3]) for n in range(5000))
    path = write_ilr(tmp_path / "ILR-big.xml", learners)
    rows = read_ilr(path, MAPPING, COURSE_QANS)
    assert next(rows).source_id == "LR000000"
    counted = 1 + sum(1 for _ in rows)
    assert counted == 5000


# --- choosing the reader by content ----------------------------------------------------------


def test_open_source_reads_xml_as_ilr_and_the_rest_as_csv(tmp_path: Path) -> None:
    ilr = write_ilr(tmp_path / "export.txt", [learner("LR0001", 1, aims=[programme_aim("196")])])
    (ilr_row,) = open_source(ilr, MAPPING, COURSE_QANS)
    assert ilr_row.origin == "ILR learner LR0001 (ZPROG001, StdCode 196)"
    csv = tmp_path / "learners.xml"  # the name does not decide
    csv.write_bytes(b"\xef\xbb\xbflearner_id;forename\nL1;Ann\n")
    (csv_row,) = open_source(csv)
    assert csv_row.origin == "learners.xml line 2"


@pytest.mark.parametrize(
    "content", [b"\xef\xbb\xbf<?xml version='1.0'?>\n<root/>", b"\n\t <root/>"]
)
def test_open_source_sends_any_xml_to_the_ilr_reader(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "data.xml"
    path.write_bytes(content)
    with pytest.raises(ConfigurationError, match="its root element is root in no namespace"):
        list(open_source(path))


def test_open_source_refuses_at_once_what_it_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"absent\.csv does not exist"):
        open_source(tmp_path / "absent.csv")
    with pytest.raises(ConfigurationError, match="is a directory"):
        open_source(tmp_path)
