"""The member-by-member comparison behind ``labridge update``, with plain values (no I/O)."""

from __future__ import annotations

from typing import Any

from labridge import contract as c
from labridge import overrides
from labridge.models import Candidate, EnrolmentUserUpdate
from labridge.workflows.changes import (
    Baseline,
    baseline,
    diff,
    fixed_members,
    flatten,
    pushed_after,
    unflatten,
    update_user,
)

PUSHED: dict[str, Any] = {
    "Address": {"Postcode": "S2 8WY", "Town": "Sheffield"},
    "BirthDate": "1989-03-10",
    "Course": {"CourseUUID": "c-1", "EndDate": "2028-04-18", "StartDate": "2026-10-18",
               "Units": [{"UnitUUID": "u-2"}, {"UnitUUID": "u-1"}]},
    "EmailAddress": "a@example.org",
    "MobileNumber": "07261822845",
    "SourceSystemLearnerUUID": "MIS-1",
}  # fmt: skip


def test_members_flatten_and_nest_again() -> None:
    flat = flatten(PUSHED)
    assert flat["Address.Postcode"] == "S2 8WY"
    assert flat["Course.Units"] == "u-1, u-2"
    units = [{"UnitUUID": "u-1"}, {"UnitUUID": "u-2"}]  # sorted
    assert unflatten(flat) == {**PUSHED, "Course": {**PUSHED["Course"], "Units": units}}


def test_fixed_members_are_those_update_lacks() -> None:
    assert {"BirthDate", "Forename", "Gender"} == fixed_members()


def test_only_changed_members_are_sent_and_the_key_never() -> None:
    desired = flatten(PUSHED) | {"EmailAddress": "b@example.org", "Course.CourseUUID": "c-2"}
    out = diff(desired, Baseline(flatten(PUSHED), complete=True))
    assert out.send == {"EmailAddress": "b@example.org"}
    assert out.changes == {"EmailAddress": ("a@example.org", "b@example.org")}
    assert out.notices == []


def test_a_missing_value_is_kept_unless_cleared() -> None:
    desired = {k: v for k, v in flatten(PUSHED).items() if k != "MobileNumber"}
    base = Baseline(flatten(PUSHED), complete=True)
    kept = diff(desired, base)
    assert kept.send == {}
    assert [(n.field, n.code) for n in kept.notices] == [("MobileNumber", "KEPT_IN_LA")]
    assert diff(desired, base, clear_missing=True).send == {"MobileNumber": ""}


def test_fixed_members_are_noticed_and_units_only_added() -> None:
    desired = flatten(PUSHED) | {"BirthDate": "1989-03-11", "Course.Units": "u-1, u-3"}
    out = diff(desired, Baseline(flatten(PUSHED), complete=True))
    assert out.send == {"Course.Units": "u-3"}
    assert out.changes == {"Course.Units": ("u-1, u-2", "u-1, u-3")}
    assert [(n.field, n.code) for n in out.notices] == [
        ("BirthDate", "NOT_UPDATABLE"), ("Course.Units", "UNITS_KEPT_IN_LA"),
    ]  # fmt: skip
    after = pushed_after(Baseline(flatten(PUSHED), complete=True), out.send)
    assert after["Course.Units"] == "u-1, u-2, u-3"


def test_without_a_push_the_baseline_is_what_la_shows() -> None:
    cand = Candidate(candidate_uuid="x", source_id="MIS-1", forename="Ann", surname="Lee",
                     email="a@example.org", course_uuid="c-1", start_date="2026-10-18")  # fmt: skip
    base = baseline(None, cand)
    assert not base.complete
    desired = {"EmailAddress": "a@example.org", "Surname": "Lee", "JobTitle": "Chef",
               "Course.StartDate": "2026-10-18", "Gender": "F"}  # fmt: skip
    out = diff(desired, base)
    assert out.changes == {"JobTitle": (None, "Chef")}  # unknown before, and the source has it
    assert out.notices == []  # LA does not show the gender: nothing to compare with


def test_the_update_user_sets_only_what_is_sent_plus_identifiers() -> None:
    user = update_user({"Address.Postcode": "M1 1AE"}, "cand", "course", "MIS-1")
    assert isinstance(user, EnrolmentUserUpdate)
    assert c.to_wire(c.StructRef("Type_enrolmentUserUpdate"), user) == {
        "Address": {"Postcode": "M1 1AE"},
        "CandidateUUID": "cand",
        "CourseUUID": "course",
        "SourceSystemLearnerUUID": "MIS-1",
    }


def test_the_compared_names_follow_the_active_contract() -> None:
    renamed, _ = overrides.build(
        {
            "types": {
                "Type_enrolmentCourse": {
                    "members": {"Units": "UnitList", "CourseUUID": "CourseID"}
                },
                "Type_enrolmentUnit": {"members": {"UnitUUID": "UnitID"}},
                "Type_enrolmentUser": {"members": {"Forename": "FirstName"}},
            }
        }
    )
    pushed = {
        "Course": {"CourseID": "c-1", "UnitList": [{"UnitID": "u-1"}]},
        "EmailAddress": "a@example.org",
        "FirstName": "Ann",
    }
    with c.using(renamed):
        assert fixed_members() == {"BirthDate", "FirstName", "Gender"}
        desired = flatten(pushed) | {"Course.CourseID": "c-2", "Course.UnitList": "u-1, u-2"}
        out = diff(desired, Baseline(flatten(pushed), complete=True))
        assert out.send == {"Course.UnitList": "u-2"}  # the course is the key, never a change
        user = update_user(out.send, "cand-1", "c-1", "MIS-1")
    assert user.course is not None
    assert [u.unit_uuid for u in user.course.units or []] == ["u-2"]
    assert user.extras == {}
