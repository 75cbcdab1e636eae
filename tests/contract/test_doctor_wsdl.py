"""The WSDL comparison of ``labridge doctor`` on ColdFusion's WSDL form (docs/contract.md §5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labridge import contract as c
from labridge import doctor, overrides
from labridge.errors import ProtocolError
from labridge.soap.wsdl import ANY, SOAP_ENC, read_wsdl

#: Written from docs/contract.md §5 in ColdFusion 2021's form: impl/intf/tns1/tns2 prefixes,
#: wsdlsoap:, ArrayOf_tns2_* and ArrayOf_xsd_anyType arrays, soapenc member types, a
#: CFCInvocationException fault per operation, no header; a lower-cased member first letter
#: (Type_trainer's emailAddress) and a ColdFusion numeric (Type_nationality's NationalityID).
CF_USER = (Path(__file__).parent / "data" / "coldfusion-user.wsdl").read_bytes()
LA = "https://api.learningassistant.com"
USER_TYPES = "http://user.types.soap.webservices"


def users() -> c.Service:
    return c.DEFAULT.service("Users")


def test_the_coldfusion_form_is_read() -> None:
    wsdl = read_wsdl(CF_USER)
    assert set(wsdl.operations) == {op.wire for op in users().operations}
    op = wsdl.operations["GetCandidates"]
    assert [name for name, _ in op.params] == ["CourseQAN", "blnActive", "blnCompleted", "blnTest"]
    assert op.params[1][1] == (SOAP_ENC, "boolean")
    assert op.namespace == LA
    assert op.returns == (LA, "ArrayOf_tns2_Type_candidate")
    assert wsdl.arrays[(LA, "ArrayOf_tns2_Type_candidate")] == (USER_TYPES, "Type_candidate")
    assert wsdl.arrays[(LA, "ArrayOf_xsd_anyType")] == ANY
    members = dict(wsdl.structs[(USER_TYPES, "Type_progress")])
    assert members["Units"] == (LA, "ArrayOf_tns2_Type_unitProgress")
    assert members["OverallProgress"] == (SOAP_ENC, "double")


def test_the_coldfusion_wsdl_matches_the_contract() -> None:
    findings = doctor.compare(c.DEFAULT, users(), read_wsdl(CF_USER))
    # A case difference is none (ColdFusion ignores case), an untyped array is not compared,
    # and no header declared is how ColdFusion publishes them: only the numeric is worth a note.
    assert [(f.level, f.message) for f in findings] == [
        (
            "note",
            "member NationalityID of Type_nationality is double in LA's WSDL, string in "
            "labridge's contract",
        )
    ]


def test_renamed_operation_type_and_member_come_with_their_override_lines() -> None:
    text = CF_USER.decode()
    text = text.replace('name="SourceSystemLearnerUUID"', 'name="MISLearnerID"')
    text = text.replace("GetProgressFull", "GetProgressDetail")
    text = text.replace("Type_candidate", "Type_learner")
    findings = doctor.compare(c.DEFAULT, users(), read_wsdl(text.encode()))
    renamed = '{ SourceSystemLearnerUUID = "MISLearnerID" }'
    assert sorted(f.override or "" for f in findings if f.level != "note") == [
        '[contract.operations.GetProgressFull] name = "GetProgressDetail"',
        f"[contract.types.Type_candidate] members = {renamed}",
        '[contract.types.Type_candidate] name = "Type_learner"',
        f"[contract.types.Type_progress] members = {renamed}",  # both types hold the member
    ]


def test_the_overrides_it_proposes_make_the_contract_match() -> None:
    text = CF_USER.decode().replace('name="blnTest"', 'name="blnTestLearners"')
    text = text.replace("blnCompleted blnTest", "blnCompleted blnTestLearners")
    text = text.replace(
        'namespace="https://api.learningassistant.com" use',
        'namespace="http://soap.webservices" use',
    )
    wsdl = read_wsdl(text.encode())
    findings = doctor.compare(c.DEFAULT, users(), wsdl)
    keys = sorted(f.key for f in findings if f.key)
    assert keys == ["operations.GetCandidates.params.blnTest", "services.Users.namespace"]
    table: dict[str, object] = {}
    for f in findings:
        if f.key:
            overrides.nest(f.key, f.value, table)
    fixed, _ = overrides.build(table)
    assert [f for f in doctor.compare(fixed, fixed.service("Users"), wsdl) if f.key] == []


def test_a_changed_parameter_order_is_a_difference() -> None:
    text = CF_USER.decode().replace(
        'parameterOrder="CourseQAN blnActive blnCompleted blnTest"',
        'parameterOrder="blnActive blnCompleted blnTest CourseQAN"',
    )
    findings = doctor.compare(c.DEFAULT, users(), read_wsdl(text.encode()))
    assert [(f.key, f.value) for f in findings if f.key] == [
        ("operations.GetCandidates.order", ["blnActive", "blnCompleted", "blnTest", "CourseQAN"])
    ]


def test_a_missing_operation_is_a_problem_no_override_fixes() -> None:
    wsdl = read_wsdl(CF_USER)
    del wsdl.operations["GetEthnicities"]
    findings = doctor.compare(c.DEFAULT, users(), wsdl)
    problems = [f for f in findings if f.level == "problem"]
    assert [p.message for p in problems] == [
        "LA's WSDL of /webservices/soap/user.cfc has no operation GetEthnicities"
    ]
    assert problems[0].override is None


def test_a_wsdl_with_a_doctype_is_refused() -> None:
    hostile = b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]><d>&x;</d>'
    with pytest.raises(ProtocolError):
        read_wsdl(hostile)
