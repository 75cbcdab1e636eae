"""Look-ups against LA's reference data (labridge.validate.lookups), on the sandbox's seed."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from labridge.models import Company, Ethnicity, Framework, Trainer, Unit
from labridge.sandbox import seed as data
from labridge.store import open_store, upsert_set
from labridge.validate.lookups import LookupProblem, ReferenceData, name_key, qan_key

NOW = datetime(2025, 9, 1, 8, 0, tzinfo=UTC)

ADULT_CARE = data.course_uuid("ST0005")  # QAN 603/4771/X
LEAD_CARE = data.course_uuid("ST0006")
BUSINESS_ADMIN = data.course_uuid("ST0070")  # units U1..U7, EPA
SOFTWARE_DEV = data.course_uuid("ST0116")  # inactive
AIRE = data.company_uuid("Aire Valley Logistics Ltd")


def email(forename: str, surname: str) -> str:
    return f"{forename}.{surname}@{data.PROVIDER_DOMAIN}".lower()


SARAH = email("Sarah", "Whitfield")  # assessor only
MARK = email("Mark", "Hollins")  # verifier only
PRIYA = email("Priya", "Chandra")  # both
CLAIRE = email("Claire", "Dunmore")  # both, inactive: not listed by GetTrainers


def problem_of(exc: pytest.ExceptionInfo[LookupProblem]) -> tuple[str, str, str]:
    assert len(exc.value.problems) == 1
    p = exc.value.problems[0]
    return p.field, p.code, p.message


# -- the data and its keys ------------------------------------------------------------------------


def test_seed_data_as_the_brief_describes_it(ref: ReferenceData) -> None:
    assert len(ref.frameworks) == 12
    assert [f.active for f in ref.frameworks].count(False) == 1
    assert (len(ref.trainers), len(ref.companies)) == (11, 30)
    assert (len(ref.nationalities), len(ref.ethnicities)) == (225, 19)


def test_reference_data_is_frozen_and_holds_tuples(ref: ReferenceData) -> None:
    assert isinstance(ref.frameworks, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.companies = ()  # type: ignore[misc]


def test_repr_gives_sizes(ref: ReferenceData) -> None:
    assert repr(ref) == (
        "<ReferenceData: 12 frameworks, 11 trainers, 30 companies, 225 nationalities, "
        "19 ethnicities>"
    )


def test_keys() -> None:
    assert name_key("  Aire   VALLEY logistics\tLtd ") == "aire valley logistics ltd"
    assert {qan_key(q) for q in ("603/4771/X", "6034771x", " 603 4771 X ", "603/ 4771/x")} == {
        "6034771X"
    }


# -- companies ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [AIRE, AIRE.upper(), "Aire Valley Logistics Ltd", "  aire  valley LOGISTICS ltd "]
)
def test_company_by_uuid_or_name(ref: ReferenceData, value: str) -> None:
    assert ref.company(value).company_uuid == AIRE


def test_company_ids_only_takes_the_exact_uuid(ref: ReferenceData) -> None:
    assert ref.company(AIRE, ids_only=True).company_uuid == AIRE
    for value in ("Aire Valley Logistics Ltd", AIRE.upper()):
        with pytest.raises(LookupProblem) as exc:
            ref.company(value, ids_only=True)
        assert problem_of(exc)[1] == "UNKNOWN_COMPANY"


def test_unknown_company_says_how_to_fix_it(ref: ReferenceData) -> None:
    with pytest.raises(LookupProblem) as exc:
        ref.company("Acme Ltd")
    field, code, message = problem_of(exc)
    assert (field, code) == ("company", "UNKNOWN_COMPANY")
    assert "'Acme Ltd'" in message
    assert "CompanyUUID" in message
    assert "labridge sync" in message


def test_misspelt_company_suggests_the_near_name(ref: ReferenceData) -> None:
    with pytest.raises(LookupProblem) as exc:
        ref.company("Aire Valley Logistic Ltd")
    assert "did you mean 'Aire Valley Logistics Ltd'?" in problem_of(exc)[2]


def test_two_companies_with_one_name_is_ambiguous(ref: ReferenceData) -> None:
    twin = Company(company_uuid="twin-uuid", name="PENDLE FOODS LTD", postcode="BB9 7SR")
    both = dataclasses.replace(ref, companies=[*ref.companies, twin])
    with pytest.raises(LookupProblem) as exc:
        both.company("Pendle Foods Ltd")
    field, code, message = problem_of(exc)
    assert (field, code) == ("company", "AMBIGUOUS_COMPANY")
    assert "twin-uuid" in message
    assert data.company_uuid("Pendle Foods Ltd") in message
    assert "CompanyUUID" in message
    assert both.company("twin-uuid").name == "PENDLE FOODS LTD"


# -- courses --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        ADULT_CARE,
        "603/4771/X",
        "603/4771/x",
        "6034771X",
        "603 4771 X",
        " 603 / 4771 / X ",
        "Adult Care Worker Level 2 (ST0005)",
        "adult care worker  level 2 (st0005)",
    ],
)
def test_course_by_uuid_qan_or_name(ref: ReferenceData, value: str) -> None:
    assert ref.course(value).course_uuid == ADULT_CARE


def test_course_by_qan_in_any_form(ref: ReferenceData) -> None:
    assert ref.course_by_qan("60347720").course_uuid == LEAD_CARE
    with pytest.raises(LookupProblem) as exc:
        ref.course_by_qan("Adult Care Worker Level 2 (ST0005)")
    assert problem_of(exc)[1] == "UNKNOWN_COURSE"


def test_course_ids_only_takes_the_uuid(ref: ReferenceData) -> None:
    assert ref.course(ADULT_CARE, ids_only=True).course_uuid == ADULT_CARE
    for value in ("603/4771/X", "Adult Care Worker Level 2 (ST0005)"):
        with pytest.raises(LookupProblem):
            ref.course(value, ids_only=True)


def test_unknown_course(ref: ReferenceData) -> None:
    with pytest.raises(LookupProblem) as exc:
        ref.course("999/9999/9")
    field, code, message = problem_of(exc)
    assert (field, code) == ("course", "UNKNOWN_COURSE")
    assert "'999/9999/9'" in message
    assert "labridge sync" in message


@pytest.mark.parametrize("value", [SOFTWARE_DEV, "Software Developer Level 4 (ST0116)"])
def test_inactive_course(ref: ReferenceData, value: str) -> None:
    with pytest.raises(LookupProblem) as exc:
        ref.course(value)
    field, code, message = problem_of(exc)
    assert (field, code) == ("course", "INACTIVE_COURSE")
    assert "Software Developer Level 4" in message
    assert "no new starts" in message


def test_two_courses_with_one_name_or_qan_are_ambiguous(ref: ReferenceData) -> None:
    copy = Framework(course_uuid="copy-uuid", name="Adult Care Worker Level 2 (ST0005)", qan="")
    both = dataclasses.replace(ref, frameworks=[*ref.frameworks, copy])
    with pytest.raises(LookupProblem) as exc:
        both.course("Adult Care Worker Level 2 (ST0005)")
    field, code, message = problem_of(exc)
    assert (field, code) == ("course", "AMBIGUOUS_COURSE")
    assert "copy-uuid" in message
    assert ADULT_CARE in message
    assert both.course("603/4771/X").course_uuid == ADULT_CARE


# -- units ----------------------------------------------------------------------------------------


def business_admin(ref: ReferenceData) -> Framework:
    return ref.course(BUSINESS_ADMIN)


def test_units_by_reference_and_uuid(ref: ReferenceData) -> None:
    u7 = data.unit_uuid("ST0070", "U7")
    epa = data.unit_uuid("ST0070", "EPA")
    units = ref.units(business_admin(ref), f" u7 ; {epa};;U7;{u7} ")
    assert [u.unit_uuid for u in units] == [u7, epa]


def test_unit_of_another_course_names_that_course(ref: ReferenceData) -> None:
    other = data.unit_uuid("ST0006", "Y/616/6302")
    for value in (other, "Y/616/6302"):
        with pytest.raises(LookupProblem) as exc:
            ref.units(ref.course(ADULT_CARE), value)
        field, code, message = problem_of(exc)
        assert (field, code) == ("units", "UNIT_NOT_IN_COURSE")
        assert "Lead Adult Care Worker Level 3 (ST0006)" in message
        assert "Adult Care Worker Level 2 (ST0005)" in message


def test_unknown_unit_lists_the_course_references(ref: ReferenceData) -> None:
    with pytest.raises(LookupProblem) as exc:
        ref.units(business_admin(ref), "U9")
    field, code, message = problem_of(exc)
    assert (field, code) == ("units", "UNKNOWN_UNIT")
    assert "'U9'" in message
    assert "U1, U2" in message


def test_every_bad_unit_is_reported(ref: ReferenceData) -> None:
    with pytest.raises(LookupProblem) as exc:
        ref.units(business_admin(ref), "U9;U1;J/616/6347;nonsense")
    assert [p.code for p in exc.value.problems] == [
        "UNKNOWN_UNIT",
        "UNIT_NOT_IN_COURSE",
        "UNKNOWN_UNIT",
    ]


def test_units_ids_only_takes_uuids(ref: ReferenceData) -> None:
    course = business_admin(ref)
    assert ref.unit(course, data.unit_uuid("ST0070", "U1"), ids_only=True).reference == "U1"
    with pytest.raises(LookupProblem) as exc:
        ref.unit(course, "U1", ids_only=True)
    assert problem_of(exc)[1] == "UNKNOWN_UNIT"


def test_a_reference_twice_in_one_course_is_ambiguous() -> None:
    course = Framework(
        course_uuid="c",
        name="C",
        units=[Unit(unit_uuid="a", reference="R1"), Unit(unit_uuid="b", reference="r1")],
    )
    ref = ReferenceData(frameworks=[course])
    with pytest.raises(LookupProblem) as exc:
        ref.unit(course, "R1")
    assert problem_of(exc)[1] == "AMBIGUOUS_UNIT"
    assert ref.unit(course, "b").reference == "r1"


# -- trainers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [data.trainer_uuid(PRIYA), PRIYA, PRIYA.upper(), f" {PRIYA} "])
def test_trainer_by_uuid_or_email(ref: ReferenceData, value: str) -> None:
    assert ref.trainer(value, "assessor").trainer_uuid == data.trainer_uuid(PRIYA)
    assert ref.trainer(value, "verifier").trainer_uuid == data.trainer_uuid(PRIYA)


@pytest.mark.parametrize(
    ("value", "role", "code", "name"),
    [
        (MARK, "assessor", "NOT_AN_ASSESSOR", "Mark Hollins"),
        (SARAH, "verifier", "NOT_A_VERIFIER", "Sarah Whitfield"),
    ],
)
def test_trainer_must_hold_the_role(
    ref: ReferenceData, value: str, role: str, code: str, name: str
) -> None:
    with pytest.raises(LookupProblem) as exc:
        ref.trainer(value, role)  # type: ignore[arg-type]
    field, got, message = problem_of(exc)
    assert (field, got) == (role, code)
    assert name in message
    assert f"{role} role" in message


@pytest.mark.parametrize(
    ("role", "code"), [("assessor", "UNKNOWN_ASSESSOR"), ("verifier", "UNKNOWN_VERIFIER")]
)
@pytest.mark.parametrize("value", ["nobody@example.com", CLAIRE, data.trainer_uuid(CLAIRE)])
def test_unknown_or_inactive_trainer(ref: ReferenceData, value: str, role: str, code: str) -> None:
    with pytest.raises(LookupProblem) as exc:
        ref.trainer(value, role)  # type: ignore[arg-type]
    field, got, message = problem_of(exc)
    assert (field, got) == (role, code)
    assert repr(value) in message
    assert "inactive" in message
    assert "labridge sync" in message


def test_trainer_ids_only_takes_the_uuid(ref: ReferenceData) -> None:
    assert ref.trainer(data.trainer_uuid(SARAH), "assessor", ids_only=True).email == SARAH
    with pytest.raises(LookupProblem):
        ref.trainer(SARAH, "assessor", ids_only=True)


def test_two_trainers_with_one_email_are_ambiguous(ref: ReferenceData) -> None:
    twin = Trainer(trainer_uuid="twin", email=SARAH.upper(), is_assessor=True)
    both = dataclasses.replace(ref, trainers=[*ref.trainers, twin])
    with pytest.raises(LookupProblem) as exc:
        both.trainer(SARAH, "assessor")
    assert problem_of(exc)[1] == "AMBIGUOUS_ASSESSOR"
    assert "twin" in problem_of(exc)[2]


# -- nationalities and ethnicities ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["British", " british ", "28"])
def test_nationality_by_id_or_name(ref: ReferenceData, value: str) -> None:
    assert ref.nationality(value).name == "British"


def test_unknown_nationality(ref: ReferenceData) -> None:
    with pytest.raises(LookupProblem) as exc:
        ref.nationality("Martian")
    field, code, message = problem_of(exc)
    assert (field, code) == ("nationality", "UNKNOWN_NATIONALITY")
    assert "NationalityID" in message
    with pytest.raises(LookupProblem):
        ref.nationality("British", ids_only=True)


@pytest.mark.parametrize(("ethnicity_id", "ilr_code"), sorted(data.ethnicity_ilr_codes().items()))
def test_every_ilr_ethnicity_code_maps_to_la(
    ref: ReferenceData, ethnicity_id: str, ilr_code: str
) -> None:
    assert ref.ethnicity(ilr_code).ethnicity_id == ethnicity_id
    assert ref.ethnicity(ethnicity_id).ethnicity_id == ethnicity_id


@pytest.mark.parametrize(
    "value", ["Irish", "IRISH", "ETH02", "32", "english/welsh/scottish/northern irish/british"]
)
def test_ethnicity_by_name(ref: ReferenceData, value: str) -> None:
    expected = "ETH01" if value.startswith("english") else "ETH02"
    assert ref.ethnicity(value).ethnicity_id == expected


def test_ilr_code_matches_la_names_written_differently() -> None:
    ref = ReferenceData(
        ethnicities=[Ethnicity(ethnicity_id="7", name="Any other Mixed/Multiple ethnic background")]
    )
    assert ref.ethnicity("38").ethnicity_id == "7"


@pytest.mark.parametrize("value", ["30", "Martian", "ETH20"])
def test_unknown_ethnicity(ref: ReferenceData, value: str) -> None:
    with pytest.raises(LookupProblem) as exc:
        ref.ethnicity(value)
    field, code, message = problem_of(exc)
    assert (field, code) == ("ethnicity", "UNKNOWN_ETHNICITY")
    assert "ILR ethnicity code" in message


def test_ethnicity_ids_only_takes_the_id(ref: ReferenceData) -> None:
    assert ref.ethnicity("ETH01", ids_only=True).ethnicity_id == "ETH01"
    for value in ("31", "Irish"):
        with pytest.raises(LookupProblem):
            ref.ethnicity(value, ids_only=True)


# -- from the store -------------------------------------------------------------------------------


def test_load_from_the_store(store_url: str, seeded: ReferenceData) -> None:
    gone = Company(company_uuid="gone", name="Gone Ltd")
    with open_store(store_url) as store:
        with store.begin() as session:
            upsert_set(session, "frameworks", list(seeded.frameworks), NOW)
            upsert_set(session, "units", list(seeded.frameworks), NOW)
            upsert_set(session, "trainers", list(seeded.trainers), NOW)
            upsert_set(session, "companies", [*seeded.companies, gone], NOW)
            upsert_set(session, "nationalities", list(seeded.nationalities), NOW)
            upsert_set(session, "ethnicities", list(seeded.ethnicities), NOW)
        with store.begin() as session:  # LA no longer lists "Gone Ltd": marked removed
            upsert_set(session, "companies", list(seeded.companies), NOW)
        with store.session() as session:
            loaded = ReferenceData.load(session)
    assert {c.company_uuid for c in loaded.companies} == {c.company_uuid for c in seeded.companies}
    assert len(loaded.frameworks) == 12
    assert sum(len(f.units) for f in loaded.frameworks) == sum(
        len(f.units) for f in seeded.frameworks
    )
    assert (len(loaded.trainers), len(loaded.nationalities), len(loaded.ethnicities)) == (
        11,
        225,
        19,
    )
    assert loaded.units(loaded.course("603/4771/X"), "J/616/6347")[0].name.startswith("Comm")
    assert loaded.ethnicity("31").ethnicity_id == "ETH01"
    with pytest.raises(LookupProblem):
        loaded.company("Gone Ltd")
