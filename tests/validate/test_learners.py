"""Pre-flight validation of learners to enrol (labridge.validate.learners) on the seed data."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import date

import pytest

from labridge.errors import Problem
from labridge.models import Company, EnrolmentCourse, EnrolmentUnit, EnrolmentUser
from labridge.sandbox import seed as data
from labridge.sources.records import FIELDS, SourceRecord
from labridge.validate import learners
from labridge.validate.learners import MANDATORY, Checked, check_all, check_record, check_user
from labridge.validate.lookups import ReferenceData

TODAY = date(2025, 8, 20)
ADULT_CARE = data.course_uuid("ST0005")  # QAN 603/4771/X
BUSINESS_ADMIN = data.course_uuid("ST0070")
AIRE = data.company_uuid("Aire Valley Logistics Ltd")


def email(forename: str, surname: str) -> str:
    return f"{forename}.{surname}@{data.PROVIDER_DOMAIN}".lower()


SARAH = email("Sarah", "Whitfield")  # assessor only
MARK = email("Mark", "Hollins")  # verifier only

#: A realistic MIS row: names and e-mails rather than UUIDs, UK dates, words for codes.
GOOD: dict[str, str] = {
    "learner_id": "NG-0042",
    "forename": "Amelia",
    "surname": "Hartley",
    "birth_date": "14/03/2004",
    "gender": "Female",
    "email": "amelia.hartley@Example.COM",
    "uln": "9276308686",
    "ni_number": "jh 12 34 56 c",
    "mobile": "07700 900123",
    "address_line1": "12 Kirkgate",
    "town": "Leeds",
    "postcode": "ls1 6bz",
    "nationality": "British",
    "ethnicity": "31",
    "employment_status": "employed",
    "company": "aire valley logistics ltd",
    "course": "603/4771/X",
    "units": "J/616/6347; A/616/6354",
    "start_date": "01/09/2025",
    "end_date": "2027-02-28",
    "assessor": SARAH.upper(),
    "verifier": MARK,
    "job_title": "Care Assistant",
    "line_manager": "Joan Briggs",
    "line_manager_email": "joan.briggs@example.com",
    # Empty cells: present in the source, but nothing to send.
    "phone": "",
    "address_line2": "",
    "department": " ",
}


def record(row: int = 1, /, **changes: str) -> SourceRecord:
    return SourceRecord(row, f"learners.csv line {row + 1}", {**GOOD, **changes})


def check(ref: ReferenceData, **changes: str) -> Checked:
    return check_record(record(**changes), ref, today=TODAY)


def codes(checked: Checked) -> list[tuple[str, str]]:
    return [(p.field, p.code) for p in checked.problems]


# -- a good record --------------------------------------------------------------------------------


def test_a_realistic_record_passes(ref: ReferenceData) -> None:
    checked = check(ref)
    assert checked.ok, checked.problems
    assert checked.course_uuid == ADULT_CARE
    user = checked.user
    assert user is not None
    assert (user.source_id, user.birth_date, user.gender) == ("NG-0042", "2004-03-14", "F")
    assert (user.email, user.ni_number, user.uln) == (
        "amelia.hartley@example.com",
        "JH123456C",
        "9276308686",
    )
    assert (user.company_uuid, user.nationality_id, user.ethnicity_id) == (AIRE, "28", "ETH01")
    assert user.assessor_uuid == data.trainer_uuid(SARAH)
    assert user.verifier_uuid == data.trainer_uuid(MARK)
    assert user.employment_status == "10"
    assert user.address is not None
    assert user.address.postcode == "LS1 6BZ"
    assert user.course == EnrolmentCourse(
        course_uuid=ADULT_CARE,
        start_date="2025-09-01",
        end_date="2027-02-28",
        units=[
            EnrolmentUnit(unit_uuid=data.unit_uuid("ST0005", "J/616/6347")),
            EnrolmentUnit(unit_uuid=data.unit_uuid("ST0005", "A/616/6354")),
        ],
    )


def test_only_the_fields_given_are_set(ref: ReferenceData) -> None:
    user = check(ref).user
    assert user is not None
    assert user.model_fields_set == {
        "source_id", "forename", "surname", "birth_date", "gender", "email", "uln",
        "ni_number", "mobile", "address", "nationality_id", "ethnicity_id",
        "employment_status", "company_uuid", "course", "assessor_uuid", "verifier_uuid",
        "job_title", "line_manager", "line_manager_email",
    }  # fmt: skip
    assert user.address is not None
    assert user.address.model_fields_set == {"line1", "town", "postcode"}
    assert user.course is not None
    assert user.course.model_fields_set == {"course_uuid", "start_date", "end_date", "units"}


def test_a_minimal_record_sets_the_mandatory_fields_only(ref: ReferenceData) -> None:
    minimal = {name: GOOD[name] for name in MANDATORY}
    checked = check_record(SourceRecord(1, "min.csv line 2", minimal), ref, today=TODAY)
    assert checked.user is not None
    assert checked.user.model_fields_set == {
        "source_id", "forename", "surname", "birth_date", "gender", "email",
        "company_uuid", "course", "assessor_uuid", "verifier_uuid",
    }  # fmt: skip
    assert checked.user.course is not None
    assert checked.user.course.model_fields_set == {"course_uuid", "start_date"}


def test_the_built_user_passes_the_wire_rules(ref: ReferenceData) -> None:
    user = check(ref).user
    assert user is not None
    assert check_user(user, ref, today=TODAY) == []


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"birth_date": "2010-06-27", "start_date": "2025-09-01"},  # too young
        {"start_date": "01/09/2025", "end_date": "31/08/2025"},  # end before start
        {"birth_date": "2025-08-21"},  # born in the future
        {"surname": "", "gender": ""},  # required
        {"company": "Aire Valley Logistics Ltd", "email": "A.B@EXAMPLE.ORG"},  # by name, cased
    ],
)
def test_a_record_read_once_gets_the_verdict_of_the_wire_rules(
    ref: ReferenceData, changes: dict[str, str]
) -> None:
    """check_record does not check again what reading checked: on a record every value of
    which reads, its verdict is still the one check_user gives the user it built."""
    rec = record(**changes)
    reading = learners._read(rec, ref)
    assert reading.problems == []
    wire = check_user(learners._build_user(reading), ref, today=TODAY)
    assert codes(check_record(rec, ref, today=TODAY)) == [(p.field, p.code) for p in wire]


# -- mandatory fields -----------------------------------------------------------------------------


@pytest.mark.parametrize("blank", ["", "   "])
def test_every_missing_mandatory_field_is_reported_once(ref: ReferenceData, blank: str) -> None:
    empty = SourceRecord(7, "learners.csv line 8", dict.fromkeys(FIELDS, blank))
    checked = check_record(empty, ref, today=TODAY)
    assert codes(checked) == [(name, "REQUIRED") for name in MANDATORY]
    assert checked.user is None
    assert checked.course_uuid == ""
    for name, problem in zip(MANDATORY, checked.problems, strict=True):
        assert problem.message.startswith("learners.csv line 8: ")
        assert f"fill the {name} column" in problem.message


def test_fields_absent_from_the_source_count_as_missing(ref: ReferenceData) -> None:
    checked = check_record(SourceRecord(1, "x", {}), ref, today=TODAY)
    assert [f for f, _ in codes(checked)] == list(MANDATORY)


# -- formats --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("uln", "1234567890", "INVALID_ULN"),
        ("uln", "123456789", "INVALID_ULN"),
        ("ni_number", "QQ123456Z", "INVALID_FORMAT"),
        ("postcode", "LS1", "INVALID_FORMAT"),
        ("email", "amelia@", "INVALID_FORMAT"),
        ("line_manager_email", "joan briggs@example.com", "INVALID_FORMAT"),
        ("birth_date", "31/02/2004", "INVALID_FORMAT"),
        ("start_date", "2025/09/01", "INVALID_FORMAT"),
        ("end_date", "28-02-2027", "INVALID_FORMAT"),
        ("gender", "x", "INVALID_FORMAT"),
        ("employment_status", "unemployed", "INVALID_FORMAT"),
    ],
)
def test_bad_formats(ref: ReferenceData, field: str, value: str, code: str) -> None:
    checked = check(ref, **{field: value})
    assert codes(checked) == [(field, code)]
    message = checked.problems[0].message
    assert message.startswith("learners.csv line 2: ")
    assert "; " in message  # what is wrong; how to fix it
    assert checked.user is None


def test_unknown_uln_is_sent_as_no_uln(ref: ReferenceData) -> None:
    user = check(ref, uln="9999999999").user
    assert user is not None
    assert "uln" not in user.model_fields_set


def test_unknown_postcode_is_left_out(ref: ReferenceData) -> None:
    user = check(ref, postcode="zz99 9zz").user
    assert user is not None
    assert user.address is not None
    assert user.address.model_fields_set == {"line1", "town"}
    alone = check(ref, postcode="ZZ99 9ZZ", address_line1="", town="").user
    assert alone is not None
    assert "address" not in alone.model_fields_set


# -- dates ----------------------------------------------------------------------------------------

# A start in academic year 2025/26 needs the learner to be 16 by Friday 26 June 2026.


def test_sixteen_on_the_last_friday_of_june_may_start(ref: ReferenceData) -> None:
    assert check(ref, birth_date="26/06/2010", start_date="2025-09-01").ok


def test_a_day_younger_is_too_young(ref: ReferenceData) -> None:
    checked = check(ref, birth_date="2010-06-27", start_date="2025-09-01")
    assert codes(checked) == [("birth_date", "TOO_YOUNG")]
    assert "2026-06-26" in checked.problems[0].message
    assert "2026-08-01 or later" in checked.problems[0].message


@pytest.mark.parametrize("end", ["2025-09-01", "31/08/2025"])
def test_end_not_after_start(ref: ReferenceData, end: str) -> None:
    checked = check(ref, start_date="01/09/2025", end_date=end)
    assert codes(checked) == [("end_date", "END_BEFORE_START")]


def test_birth_date_in_the_future(ref: ReferenceData) -> None:
    checked = check(ref, birth_date="2025-08-21")
    assert codes(checked) == [("birth_date", "INVALID_DATE")]


# -- references -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("company", "Acme Ltd", "UNKNOWN_COMPANY"),
        ("course", "Plumbing Level 9", "UNKNOWN_COURSE"),
        ("course", "Software Developer Level 4 (ST0116)", "INACTIVE_COURSE"),
        ("assessor", MARK, "NOT_AN_ASSESSOR"),
        ("verifier", SARAH, "NOT_A_VERIFIER"),
        ("assessor", email("Claire", "Dunmore"), "UNKNOWN_ASSESSOR"),
        ("verifier", "nobody@example.com", "UNKNOWN_VERIFIER"),
        ("nationality", "Martian", "UNKNOWN_NATIONALITY"),
        ("ethnicity", "30", "UNKNOWN_ETHNICITY"),
        ("units", "Y/616/6302", "UNIT_NOT_IN_COURSE"),
        ("units", "J/616/6347;Z9", "UNKNOWN_UNIT"),
    ],
)
def test_reference_problems(ref: ReferenceData, field: str, value: str, code: str) -> None:
    checked = check(ref, **{field: value})
    assert codes(checked) == [(field, code)]
    assert checked.problems[0].message.startswith("learners.csv line 2: ")


def test_ambiguous_company_name(ref: ReferenceData) -> None:
    twin = Company(company_uuid="twin", name="Aire Valley Logistics Ltd")
    both = dataclasses.replace(ref, companies=[*ref.companies, twin])
    checked = check_record(record(), both, today=TODAY)
    assert codes(checked) == [("company", "AMBIGUOUS_COMPANY")]
    assert "twin" in checked.problems[0].message


def test_units_by_uuid(ref: ReferenceData) -> None:
    u7 = data.unit_uuid("ST0070", "U7")
    user = check(ref, course=BUSINESS_ADMIN, units=f"{u7};EPA").user
    assert user is not None
    assert user.course is not None
    assert [u.unit_uuid for u in user.course.units or ()] == [u7, data.unit_uuid("ST0070", "EPA")]


def test_units_are_not_checked_against_a_course_that_did_not_resolve(ref: ReferenceData) -> None:
    checked = check(ref, course="Plumbing Level 9", units="nonsense")
    assert codes(checked) == [("course", "UNKNOWN_COURSE")]
    assert checked.course_uuid == ""


def test_every_problem_is_collected(ref: ReferenceData) -> None:
    checked = check(
        ref,
        forename="",
        uln="1234567890",
        gender="?",
        company="Acme Ltd",
        assessor=MARK,
        verifier=SARAH,
        units="U1",
        end_date="2025-01-01",
    )
    assert codes(checked) == [
        ("gender", "INVALID_FORMAT"),
        ("uln", "INVALID_ULN"),
        ("company", "UNKNOWN_COMPANY"),
        ("assessor", "NOT_AN_ASSESSOR"),
        ("verifier", "NOT_A_VERIFIER"),
        ("units", "UNIT_NOT_IN_COURSE"),
        ("forename", "REQUIRED"),
        ("end_date", "END_BEFORE_START"),
    ]
    assert checked.course_uuid == ADULT_CARE  # the course itself resolved
    assert {p.field for p in checked.problems} <= set(FIELDS)


# -- the wire rules -------------------------------------------------------------------------------


@pytest.fixture
def user(ref: ReferenceData) -> EnrolmentUser:
    built = check(ref).user
    assert built is not None
    return built


def wire_codes(user: EnrolmentUser, ref: ReferenceData) -> list[tuple[str, str]]:
    return [(p.field, p.code) for p in check_user(user, ref, today=TODAY)]


def test_check_user_of_an_empty_user(ref: ReferenceData) -> None:
    assert wire_codes(EnrolmentUser(), ref) == [(n, "REQUIRED") for n in MANDATORY]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"birth_date": "14/03/2004"}, ("birth_date", "INVALID_FORMAT")),
        ({"gender": "female"}, ("gender", "INVALID_FORMAT")),
        ({"employment_status": "employed"}, ("employment_status", "INVALID_FORMAT")),
        ({"uln": "9999999999"}, ("uln", "INVALID_ULN")),
        ({"uln": "9276 308686"}, ("uln", "INVALID_ULN")),
        ({"ni_number": "JH 12 34 56 C"}, ("ni_number", "INVALID_FORMAT")),
        ({"email": "amelia"}, ("email", "INVALID_FORMAT")),
        ({"company_uuid": "Aire Valley Logistics Ltd"}, ("company", "UNKNOWN_COMPANY")),
        ({"assessor_uuid": SARAH}, ("assessor", "UNKNOWN_ASSESSOR")),
        ({"verifier_uuid": data.trainer_uuid(SARAH)}, ("verifier", "NOT_A_VERIFIER")),
        ({"nationality_id": "British"}, ("nationality", "UNKNOWN_NATIONALITY")),
        ({"ethnicity_id": "31"}, ("ethnicity", "UNKNOWN_ETHNICITY")),
        ({"forename": " "}, ("forename", "REQUIRED")),
    ],
)
def test_check_user_takes_wire_forms_only(
    ref: ReferenceData, user: EnrolmentUser, changes: dict[str, str], expected: tuple[str, str]
) -> None:
    changed = user.model_copy(update=changes)
    assert wire_codes(changed, ref) == [expected]


def test_check_user_course_by_qan(ref: ReferenceData, user: EnrolmentUser) -> None:
    assert user.course is not None
    by_qan = user.course.model_copy(update={"course_uuid": None, "course_qan": "603/4771/X"})
    assert wire_codes(user.model_copy(update={"course": by_qan}), ref) == []
    unknown = by_qan.model_copy(update={"course_qan": "999/9999/9"})
    assert wire_codes(user.model_copy(update={"course": unknown}), ref) == [
        ("course", "UNKNOWN_COURSE")
    ]


def test_check_user_course_members(ref: ReferenceData, user: EnrolmentUser) -> None:
    assert user.course is not None
    no_start = user.course.model_copy(update={"start_date": None})
    assert wire_codes(user.model_copy(update={"course": no_start}), ref) == [
        ("start_date", "REQUIRED")
    ]
    other = [EnrolmentUnit(unit_uuid=data.unit_uuid("ST0070", "U1")), EnrolmentUnit(unit_uuid="?")]
    bad_units = user.course.model_copy(update={"units": other})
    assert wire_codes(user.model_copy(update={"course": bad_units}), ref) == [
        ("units", "UNIT_NOT_IN_COURSE"),
        ("units", "UNKNOWN_UNIT"),
    ]
    assert wire_codes(user.model_copy(update={"course": None}), ref) == [
        ("course", "REQUIRED"),
        ("start_date", "REQUIRED"),
    ]


# -- a whole input --------------------------------------------------------------------------------


def test_same_learner_on_the_same_course_twice(ref: ReferenceData) -> None:
    rows = [
        record(1),
        record(2, learner_id="NG-0043", forename="Ben"),
        record(3, course=ADULT_CARE, birth_date="2004-03-14"),  # NG-0042 again, written differently
    ]
    results = list(check_all(rows, ref, today=TODAY))
    assert [c.ok for c in results] == [True, True, False]
    assert codes(results[2]) == [("learner_id", "DUPLICATE_IN_INPUT")]
    assert "learners.csv line 2" in results[2].problems[0].message
    assert results[2].user is None
    assert results[2].course_uuid == ADULT_CARE


def test_same_learner_on_two_courses_is_fine(ref: ReferenceData) -> None:
    rows = [record(1), record(2, course=BUSINESS_ADMIN, units="U7")]
    assert all(c.ok for c in check_all(rows, ref, today=TODAY))


@pytest.mark.parametrize("changes", [{"surname": "Hartly"}, {"birth_date": "15/03/2004"}])
def test_one_learner_id_for_two_people(ref: ReferenceData, changes: dict[str, str]) -> None:
    rows = [record(1), record(2, course=BUSINESS_ADMIN, units="", **changes)]
    results = list(check_all(rows, ref, today=TODAY))
    assert codes(results[1]) == [("learner_id", "LEARNER_ID_REUSED")]
    assert "learners.csv line 2" in results[1].problems[0].message
    assert "Amelia Hartley" in results[1].problems[0].message


def test_invalid_rows_keep_their_problems_and_gain_the_duplicate(ref: ReferenceData) -> None:
    rows = [record(1, uln="1"), record(2, uln="1")]
    results = list(check_all(rows, ref, today=TODAY))
    assert codes(results[0]) == [("uln", "INVALID_ULN")]
    assert codes(results[1]) == [("uln", "INVALID_ULN"), ("learner_id", "DUPLICATE_IN_INPUT")]


def test_check_all_streams(ref: ReferenceData) -> None:
    endless = (record(n, learner_id=f"L{n}") for n in itertools.count(1))
    first = list(itertools.islice(check_all(endless, ref, today=TODAY), 3))
    assert [c.record.row for c in first] == [1, 2, 3]
    assert all(c.ok for c in first)


def test_ten_thousand_records_all_get_an_outcome(ref: ReferenceData) -> None:
    # How fast is measured in bench/run.py; here, that scale changes nothing about the answers.
    rows = [record(n, learner_id=f"L{n:05d}") for n in range(10_000)]
    results = list(check_all(rows, ref, today=TODAY))
    assert len(results) == 10_000
    assert all(c.ok for c in results)


def test_problems_are_plain_values(ref: ReferenceData) -> None:
    checked = check(ref, gender="?")
    assert checked.problems == (
        Problem(
            "gender",
            "INVALID_FORMAT",
            "learners.csv line 2: Gender is not recognised; use M, F, O (other) or U (not "
            "stated), or a word such as male, female, non-binary or prefer not to say",
        ),
    )


def test_a_row_the_reader_could_not_read_is_invalid_with_the_readers_reason(
    ref: ReferenceData,
) -> None:
    from labridge.sources.records import ERROR_FIELD

    reason = "line 7 has 2 cells more than the header: 'x', 'y'; quote them"
    checked = check_record(record(6, **{ERROR_FIELD: reason}), ref, today=TODAY)
    assert not checked.ok
    assert checked.problems[0].code == "UNREADABLE_ROW"
    assert "quote them" in checked.problems[0].message
