"""The sandbox database and its seed data, on real SQLite (in memory and a file)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labridge.sandbox import seed as data
from labridge.sandbox.db import CANDIDATE_COLUMNS, CourseRow, SandboxDB, UserRow, normalise_qan

USER, PASSWORD = "sandbox", "correct horse battery staple"
QAN = re.compile(r"^\d{3}/\d{4}/[\dX]$")
POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]? [0-9][ABD-HJLNP-UWXYZ]{2}$")
ILR_CODES = [str(c) for c in range(31, 48)] + ["98", "99"]


def uln_is_valid(uln: str) -> bool:
    """The ULN check digit (docs/contract.md §3.5), written here apart from the seed's generator."""
    if not re.fullmatch(r"[1-9]\d{9}", uln):
        return False
    r = sum(int(d) * (10 - i) for i, d in enumerate(uln[:9])) % 11
    return r != 0 and int(uln[9]) == 10 - r


@pytest.fixture
def db() -> Iterator[SandboxDB]:
    database = SandboxDB()
    database.seed(USER, PASSWORD)
    yield database
    database.close()


@pytest.fixture
def file_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/sandbox.db"


def _snapshot(db: SandboxDB) -> tuple[object, ...]:
    return (
        db.frameworks(),
        db.trainers(include_inactive=True),
        db.companies(),
        db.nationalities(),
        db.ethnicities(),
        db.candidates(active=True, completed=True, test=True),
    )


def _all_candidates(db: SandboxDB) -> list[str]:
    return [c.candidate_uuid for c in db.candidates(active=True, completed=True, test=True)]


def _add(
    db: SandboxDB,
    source_id: str,
    course_key: str = "ST0070",
    unit_uuids: Sequence[str] = (),
    **fields: str | bool,
) -> str:
    values: dict[str, str | bool] = {
        "source_id": source_id,
        "forename": "Test",
        "surname": "Learner",
        "course_uuid": data.course_uuid(course_key),
        "company_uuid": data.COMPANIES[0].uuid,
        "start_date": "2026-03-02",
        **fields,
    }
    return db.add_candidate(unit_uuids, **values)


# -- seeding ---------------------------------------------------------------------------------


def test_seeding_twice_changes_nothing(db: SandboxDB) -> None:
    before = (_snapshot(db), db.stats())
    db.seed(USER, PASSWORD)
    assert (_snapshot(db), db.stats()) == before


def test_fresh_databases_get_identical_uuids(db: SandboxDB, file_url: str) -> None:
    other = SandboxDB(file_url)
    other.seed("someone-else", "another password")
    try:
        assert _snapshot(other) == _snapshot(db)
    finally:
        other.close()


def test_a_seeded_file_database_keeps_its_data_when_reopened(file_url: str) -> None:
    first = SandboxDB(file_url)
    first.seed(USER, PASSWORD)
    added = _add(first, "MIS-999001")
    first.close()
    second = SandboxDB(file_url)
    second.seed(USER, "a new password")
    try:
        assert added in _all_candidates(second)
        assert second.check_password(USER, "a new password")
        assert not second.check_password(USER, PASSWORD)
    finally:
        second.close()


def test_uuids_are_lowercase_uuid5_of_the_project_namespace(db: SandboxDB) -> None:
    course = db.find_course(course_uuid=data.course_uuid("ST0070"))
    assert course is not None
    assert course.name == "Business Administrator Level 3 (ST0070)"
    assert course.course_uuid == course.course_uuid.lower()
    assert course.course_uuid[14] == "5"  # the UUID version digit


def test_counts_meet_the_minimums(db: SandboxDB) -> None:
    frameworks = db.frameworks()
    assert len(frameworks) >= 8
    assert sum(f.active for f in frameworks) >= 8
    assert len(db.trainers(include_inactive=True)) >= 10
    assert len(db.companies()) >= 25
    assert 190 <= len(db.nationalities()) <= 230
    assert 4 <= len(db.candidates(active=True, completed=True, test=True)) <= 8


def test_courses_have_4_to_12_units_each_with_2_to_6_outcomes(db: SandboxDB) -> None:
    for framework in db.frameworks():
        assert 4 <= len(framework.units) <= 12, framework.name
        references = [u.reference for u in framework.units]
        assert len(set(references)) == len(references), framework.name
        assert any(u.mandatory for u in framework.units), framework.name
        for unit in framework.units:
            outcomes = db.outcomes(unit.unit_uuid)
            assert 2 <= len(outcomes) <= 6, unit.name
            assert all(o.description and o.reference for o in outcomes)
    assert any(not u.mandatory for f in db.frameworks() for u in f.units)


def test_outcomes_are_numbered_by_unit_and_criterion(db: SandboxDB) -> None:
    framework = db.find_course(course_qan="610/0185/4")
    assert framework is not None
    second_unit = framework.units[1]
    outcomes = db.outcomes(second_unit.unit_uuid)
    assert [o.reference for o in outcomes] == ["2.1", "2.2", "2.3", "2.4"]
    assert outcomes[0].description.startswith("Calculate amounts of money")


def test_frameworks_are_ordered_by_name_with_units_in_course_order(db: SandboxDB) -> None:
    frameworks = db.frameworks()
    assert [f.name for f in frameworks] == sorted(f.name for f in frameworks)
    business = next(f for f in frameworks if f.name.startswith("Business Administrator"))
    assert [u.reference for u in business.units] == [
        "U1", "U2", "U3", "U4", "U5", "U6", "U7", "EPA",
    ]  # fmt: skip


def test_qualifications_have_ofqual_qans(db: SandboxDB) -> None:
    with Session(db.engine) as session:
        courses = session.scalars(select(CourseRow)).all()
    qualifications = [c for c in courses if c.kind == "qualification"]
    standards = [c for c in courses if c.kind == "standard"]
    assert len(qualifications) >= 2
    assert all(QAN.match(c.qan) for c in qualifications)
    assert all(QAN.match(c.qan) for c in standards if c.qan)
    assert any(c.qan for c in standards)
    assert any(not c.qan for c in standards)


def test_exactly_the_19_ilr_ethnicities(db: SandboxDB) -> None:
    ethnicities = db.ethnicities()
    codes = db.ethnicity_ilr_codes()
    assert len(ethnicities) == 19
    assert [codes[e.ethnicity_id] for e in ethnicities] == ILR_CODES
    assert codes == data.ethnicity_ilr_codes()
    assert ethnicities[0].name == "English / Welsh / Scottish / Northern Irish / British"
    assert ethnicities[-1].name == "Not provided"
    assert not set(codes) & set(ILR_CODES)  # LA's ids are not the ILR codes


def test_nationalities_keep_the_gov_uk_order(db: SandboxDB) -> None:
    nationalities = db.nationalities()
    names = [n.name for n in nationalities]
    assert names[0] == "Afghan"
    assert names[-1] == "Zimbabwean"
    assert {"British", "Irish", "Polish", "Welsh"} <= set(names)
    assert len(set(names)) == len(names)
    assert [n.nationality_id for n in nationalities] == [str(i) for i in range(1, len(names) + 1)]


def test_trainers_assess_verify_and_one_has_left(db: SandboxDB) -> None:
    everyone = db.trainers(include_inactive=True)
    listed = {t.trainer_uuid for t in db.trainers()}
    inactive = [t for t in everyone if not db.trainer_is_active(t.trainer_uuid)]
    assert len(inactive) == 1
    assert inactive[0].trainer_uuid not in listed
    assert db.trainer(inactive[0].trainer_uuid) == inactive[0]
    assert any(t.is_assessor and t.is_verifier for t in db.trainers())
    assert any(t.is_assessor and not t.is_verifier for t in db.trainers())
    assert any(t.is_verifier and not t.is_assessor for t in db.trainers())
    assert all(t.email.endswith("@" + data.PROVIDER_DOMAIN) for t in everyone)
    assert db.trainer("no-such-trainer") is None
    assert not db.trainer_is_active("no-such-trainer")


def test_companies_have_valid_postcodes_and_emails(db: SandboxDB) -> None:
    companies = db.companies()
    assert len({c.name for c in companies}) == len(companies)
    for company in companies:
        assert POSTCODE.match(company.postcode), company.postcode
        assert re.fullmatch(r"[\w.]+@[\w.-]+\.[a-z]{2,}", company.contact_email)
    assert db.company(companies[0].company_uuid) == companies[0]
    assert db.company("nope") is None


def test_seeded_candidates_are_plausible(db: SandboxDB) -> None:
    candidates = db.candidates(active=True, completed=True, test=True)
    statuses = [c.status for c in candidates]
    assert statuses.count("Completed") == 1
    assert statuses.count("BreakInLearning") == 1
    assert statuses.count("Active") >= len(candidates) - 2
    course_uuids = {f.course_uuid for f in db.frameworks()}
    company_uuids = {c.company_uuid for c in db.companies()}
    for candidate in candidates:
        assert uln_is_valid(candidate.uln), candidate.uln
        assert re.fullmatch(r"MIS-\d{6}", candidate.source_id)
        assert candidate.course_uuid in course_uuids
        assert candidate.company_uuid in company_uuids
        assert "2025-01-01" <= candidate.start_date < "2027-01-01"
        assert candidate.start_date < candidate.end_date


def test_seeded_candidates_hold_their_courses_mandatory_units(db: SandboxDB) -> None:
    frameworks = {f.course_uuid: f for f in db.frameworks()}
    for candidate in db.candidates(active=True, completed=True, test=True):
        held = {u.unit_uuid for u in db.enrolled_units(candidate.candidate_uuid)}
        course_units = {u.unit_uuid for u in frameworks[candidate.course_uuid].units}
        mandatory = {u.unit_uuid for u in frameworks[candidate.course_uuid].units if u.mandatory}
        assert mandatory <= held <= course_units


def test_seeded_candidate_details_are_valid(db: SandboxDB) -> None:
    nationality_ids = {n.nationality_id for n in db.nationalities()}
    ethnicity_ids = {e.ethnicity_id for e in db.ethnicities()}
    for seed in data.CANDIDATES:
        fields = db.candidate_fields(seed.uuid)
        assert fields is not None
        assert set(fields) == CANDIDATE_COLUMNS
        assert POSTCODE.match(str(fields["postcode"]))
        assert fields["nationality_id"] in nationality_ids
        assert fields["ethnicity_id"] in ethnicity_ids
        assert db.trainer_is_active(str(fields["assessor_uuid"]))
        assert re.fullmatch(
            r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]", str(fields["ni_number"])
        )


def test_uln_helper_makes_valid_ulns() -> None:
    assert uln_is_valid("9276308686")
    assert uln_is_valid("1000000043")
    assert not uln_is_valid("9276308685")
    assert data.make_uln(927630868) == "9276308686"
    assert data.make_uln(100000004) == "1000000043"
    assert all(uln_is_valid(data.make_uln(stem)) for stem in range(100_000_000, 100_000_400))


# -- passwords -------------------------------------------------------------------------------


def test_passwords_are_checked_and_never_stored(db: SandboxDB) -> None:
    assert db.check_password(USER, PASSWORD)
    assert not db.check_password(USER, PASSWORD.upper())
    assert not db.check_password(USER, "")
    assert not db.check_password("nobody", PASSWORD)
    db.set_user("second", PASSWORD)
    with Session(db.engine) as session:
        hashes = session.scalars(select(UserRow.password_hash)).all()
    assert len(hashes) == 2
    assert len(set(hashes)) == 2  # per-user salt
    assert all(PASSWORD not in h and PASSWORD.encode().hex() not in h for h in hashes)


def test_seeding_again_gives_the_user_the_new_password(db: SandboxDB) -> None:
    db.seed(USER, "changed")
    assert db.check_password(USER, "changed")
    assert not db.check_password(USER, PASSWORD)


# -- sessions --------------------------------------------------------------------------------


def test_sessions_round_trip(db: SandboxDB) -> None:
    expires = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    db.save_session("1001", "UUID-A", USER, expires)
    assert db.get_session("1001") == (("UUID-A", USER, expires))
    later = expires + timedelta(minutes=30)
    assert db.touch_session("1001", later)
    stored = db.get_session("1001")
    assert stored is not None
    assert stored.expires_at == later
    assert stored.expires_at.tzinfo is not None
    db.delete_session("1001")
    assert db.get_session("1001") is None
    assert not db.touch_session("1001", later)
    db.delete_session("1001")  # deleting twice is harmless


def test_saving_a_session_again_replaces_it(db: SandboxDB) -> None:
    bst = timezone(timedelta(hours=1))
    db.save_session("7", "OLD", USER, datetime(2026, 6, 1, 10, 0, tzinfo=bst))
    db.save_session("7", "NEW", USER, datetime(2026, 6, 1, 11, 0, tzinfo=bst))
    stored = db.get_session("7")
    assert stored is not None
    assert stored.token_uuid == "NEW"
    assert stored.expires_at == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


# -- candidates ------------------------------------------------------------------------------


def test_candidates_lists_by_status(db: SandboxDB) -> None:
    # docs/contract.md §3.3: blnActive true → in learning, false → not in learning (Withdrawn);
    # blnCompleted adds Completed either way.
    default = {c.status for c in db.candidates()}
    assert default == {"Active", "BreakInLearning"}
    assert {c.status for c in db.candidates(active=False)} == {"Withdrawn"}
    assert {c.status for c in db.candidates(active=False, completed=True)} == {
        "Withdrawn",
        "Completed",
    }
    both = db.candidates(active=True, completed=True)
    assert {c.status for c in both} == {"Active", "BreakInLearning", "Completed"}


def test_the_union_of_active_true_and_false_lists_every_status(db: SandboxDB) -> None:
    gone = _add(db, "MIS-999002", status="Withdrawn")
    assert gone not in _all_candidates(db)  # blnActive true never lists the withdrawn
    in_learning = db.candidates(active=True, completed=True)
    listed = [*in_learning, *db.candidates(active=False, completed=True)]
    assert gone in [c.candidate_uuid for c in listed]
    assert {c.status for c in listed} == {"Active", "BreakInLearning", "Completed", "Withdrawn"}
    assert len({c.candidate_uuid for c in listed}) == db.stats()["candidates"]  # nobody missed


def test_test_candidates_only_when_asked(db: SandboxDB) -> None:
    tester = _add(db, "MIS-TEST-1", is_test=True)
    assert tester not in [c.candidate_uuid for c in db.candidates()]
    assert tester in [c.candidate_uuid for c in db.candidates(test=True)]
    real = [c for c in db.candidates(test=True) if c.candidate_uuid != tester]
    assert real == db.candidates()


@pytest.mark.parametrize("spelling", ["610/0185/4", "61001854", " 610 0185 4 ", "610/0185/4\n"])
def test_candidates_match_course_qan_in_any_spelling(db: SandboxDB, spelling: str) -> None:
    found = db.candidates(course_qan=spelling)
    assert [c.source_id for c in found] == ["MIS-000185"]
    assert found[0].course_qan == "610/0185/4"


def test_candidates_course_qan_case_and_unknown(db: SandboxDB) -> None:
    assert normalise_qan("603/4771/x") == "6034771X"
    assert [c.source_id for c in db.candidates(course_qan="603/4771/x")] == ["MIS-000142"]
    assert db.candidates(course_qan="999/9999/9") == []
    everyone = db.candidates(course_qan="")
    assert len(everyone) == len(db.candidates())
    assert len({c.course_uuid for c in everyone}) > 1


def test_add_candidate_fills_course_qan_and_stores_units(db: SandboxDB) -> None:
    course = db.find_course(course_qan="603 4771 x")
    assert course is not None
    units = [u.unit_uuid for u in course.units if u.mandatory]
    new = _add(db, "MIS-999003", "ST0005", unit_uuids=[*units, units[0]])
    assert len(new) == 36
    found = db.candidate(new)
    assert found is not None
    assert found.course_qan == "603/4771/X"
    assert [u.unit_uuid for u in db.enrolled_units(new)] == units
    db.add_candidate_units(new, [units[0], course.units[-1].unit_uuid])
    assert len(db.enrolled_units(new)) == len(units) + 1


def test_add_candidate_keeps_a_given_uuid_and_refuses_unknown_columns(db: SandboxDB) -> None:
    assert _add(db, "MIS-999004", candidate_uuid="fixed-uuid") == "fixed-uuid"
    with pytest.raises(TypeError, match="shoe_size"):
        _add(db, "MIS-999005", shoe_size="9")


def test_a_unit_that_does_not_exist_rolls_the_whole_enrolment_back(db: SandboxDB) -> None:
    before = db.stats()["candidates"]
    with pytest.raises(IntegrityError):
        _add(db, "MIS-999006", unit_uuids=["no-such-unit"])
    assert db.stats()["candidates"] == before


def test_update_candidate(db: SandboxDB) -> None:
    seed = data.CANDIDATES[0]
    assert db.update_candidate(seed.uuid, {"surname": "Hartley-Shaw", "mobile": ""})
    fields = db.candidate_fields(seed.uuid)
    assert fields is not None
    assert (fields["surname"], fields["mobile"]) == ("Hartley-Shaw", "")
    assert not db.update_candidate("nobody", {"surname": "X"})
    with pytest.raises(TypeError):
        db.update_candidate(seed.uuid, {"candidate_uuid": "other"})
    assert db.candidate_fields("nobody") is None


# -- stats, calls, welcome e-mails -----------------------------------------------------------


def test_stats_count_duplicate_enrolments(db: SandboxDB) -> None:
    seeded = db.stats()
    assert seeded["duplicate_source_ids"] == 0
    for _ in range(3):
        _add(db, "MIS-555555")
    _add(db, "MIS-555555", "ST0072")  # the same learner on another course is no duplicate
    _add(db, "")
    _add(db, "")  # without a source id nothing can be called a duplicate
    stats = db.stats()
    assert stats["candidates"] == seeded["candidates"] + 6
    assert stats["duplicate_source_ids"] == 2
    assert stats["duplicate_pairs"] == 1


def test_calls_and_welcome_emails_are_counted(db: SandboxDB) -> None:
    for operation in ["Authenticate", "GetFrameworks", "Authenticate"]:
        db.count_call(operation)
    sent = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    first = data.CANDIDATES[0]
    db.record_welcome_email(first.uuid, first.email, sent)
    stats = db.stats()
    assert stats["calls"] == {"Authenticate": 2, "GetFrameworks": 1}
    assert stats["welcome_emails"] == 1
    [email] = db.welcome_emails(first.uuid)
    assert (email.email, email.sent_at) == (first.email, sent)
    assert email.expires_at - email.sent_at == timedelta(hours=24)
    assert db.welcome_emails("someone-else") == []


# -- threads ---------------------------------------------------------------------------------


def test_an_in_memory_database_is_shared_safely_by_threads(db: SandboxDB) -> None:
    before = len(_all_candidates(db))

    def work(n: int) -> int:
        for _ in range(20):
            db.count_call("GetCandidates")
        _add(db, f"MIS-THREAD-{n}")
        db.save_session(str(n), f"U{n}", USER, datetime(2026, 1, 1, tzinfo=UTC))
        return len(db.candidates(active=True, completed=True, test=True))

    with ThreadPoolExecutor(max_workers=8) as pool:
        seen = list(pool.map(work, range(16)))
    assert db.stats()["calls"] == {"GetCandidates": 320}
    assert len(_all_candidates(db)) == before + 16
    assert all(before < n <= before + 16 for n in seen)
    assert all(db.get_session(str(n)) is not None for n in range(16))
