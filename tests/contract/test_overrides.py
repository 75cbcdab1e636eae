"""Contract overrides: validation, marks, and the effective contract reaching the codec, the
generated WSDLs and the conversion of dates."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from labridge import contract as c
from labridge import overrides
from labridge.config import load_settings
from labridge.models import Token
from labridge.overrides import ContractError
from labridge.sandbox.wsdl_samples import service_wsdl
from labridge.soap import decode_request, encode_request

TOKEN = Token(id="7", uuid="u-7")
RENAMES = {
    "operations": {
        "GetCandidates": {"name": "GetLearners", "params": {"blnTest": "blnTestLearners"}}
    },
    "types": {
        "Type_candidate": {
            "name": "Type_learner",
            "members": {"SourceSystemLearnerUUID": "MISLearnerID"},
        }
    },
}


@pytest.mark.parametrize(
    ("data", "named", "closest"),
    [
        ({"operation": {}}, "'operation'", "operations"),
        ({"operations": {"GetCandidate": {}}}, "'GetCandidate'", "GetCandidates"),
        ({"operations": {"GetCandidates": {"nam": "X"}}}, "'nam'", "'name'"),
        ({"operations": {"GetCandidates": {"params": {"blnTests": "X"}}}}, "'blnTests'", "blnTest"),
        ({"types": {"Type_candidat": {}}}, "'Type_candidat'", "Type_candidate"),
        ({"types": {"Type_candidate": {"members": {"ULNs": "X"}}}}, "'ULNs'", "'ULN'"),
        ({"services": {"User": {"path": "/x.cfc"}}}, "'User'", "Users"),
        ({"services": {"Users": {"paths": "/x.cfc"}}}, "'paths'", "'path'"),
    ],
)
def test_an_unknown_key_is_named_with_the_closest_known_one(
    data: dict[str, object], named: str, closest: str
) -> None:
    with pytest.raises(ContractError) as info:
        overrides.build(data)
    text = str(info.value)
    assert named in text
    assert f"did you mean {closest}" in text or closest in text.split("did you mean")[1]


@pytest.mark.parametrize(
    "data",
    [
        {"services": {"Users": {"path": "webservices/soap/users.cfc"}}},
        {"services": {"Users": {"style": "document"}}},
        {"operations": {"GetCandidates": {"name": ""}}},
        {"operations": {"GetCandidates": {"order": ["blnTest", "CourseQAN"]}}},
        {"types": {"Type_candidate": {"members": {"ULN": "Forename"}}}},
        {"operations": {"GetTrainers": {"name": "GetEthnicities"}}},
        {"date_format": "%Y-%m"},
    ],
    ids=["relative-path", "style", "empty", "order", "member-clash", "op-clash", "date"],
)
def test_an_override_that_does_not_fit_is_refused(data: dict[str, object]) -> None:
    with pytest.raises(ContractError):
        overrides.build(data)


def test_an_override_of_an_inferred_item_is_silent_and_of_a_documented_one_warned() -> None:
    _, quiet = overrides.build({"operations": {"GetTrainers": {"name": "GetAssessors"}}})
    assert quiet == []
    _, warned = overrides.build({"operations": {"GetCandidates": {"name": "GetLearners"}}})
    assert len(warned) == 1
    assert "operations.GetCandidates.name" in warned[0]
    assert "[DOC]" in warned[0]


def test_items_are_marked_doc_inf_or_overridden() -> None:
    catalogue, _ = overrides.build(RENAMES)
    marks = {item.key: (item.value, item.mark) for item in overrides.items(catalogue)}
    assert marks["operations.GetCandidates.name"] == ("GetLearners", "overridden")
    assert marks["operations.GetCandidates.params.blnTest"] == ("blnTestLearners", "overridden")
    assert marks["operations.GetCandidates.params.blnActive"] == ("blnActive", "DOC")
    assert marks["operations.GetTrainers.name"] == ("GetTrainers", "INF")
    assert marks["types.Type_candidate.members.AnticipatedEndDate"][1] == "DOC"
    assert marks["types.Type_candidate.members.SourceSystemLearnerUUID"] == (
        "MISLearnerID",
        "overridden",
    )
    assert marks["types.Type_framework.name"] == ("Type_framework", "INF")
    assert marks["services.Users.path"] == ("/webservices/soap/user.cfc", "DOC")
    assert marks["services.Courses.path"][1] == "INF"
    assert marks["date_format"] == ("%Y-%m-%d", "INF")


def test_logical_names_stay_while_wire_names_change() -> None:
    catalogue, _ = overrides.build(RENAMES)
    with c.using(catalogue):
        op = c.operation("GetCandidates")
        assert (op.name, op.wire, op.response_element) == (
            "GetCandidates",
            "GetLearners",
            "GetLearnersResponse",
        )
        assert c.TYPES["Type_candidate"].wire == "Type_learner"
        assert c.TYPES["Type_candidate"].by_attr("source_id").name == "MISLearnerID"
        assert c.operation_by_wire("GetLearners") is op
        assert c.operation_by_wire("GetCandidates") is None
    assert c.operation("GetCandidates").wire == "GetCandidates"  # restored on leaving


def test_the_request_carries_the_wire_names_and_decodes_to_the_logical_ones() -> None:
    catalogue, _ = overrides.build(RENAMES)
    with c.using(catalogue):
        op = c.operation("GetCandidates")
        wire = c.params_to_wire(op, {"course_qan": "", "active": True, "test": False})
        envelope = encode_request(op, wire, TOKEN)
        body = etree.fromstring(envelope).find(f"{{{c.SOAP_ENV}}}Body")
        assert body is not None
        assert etree.QName(body[0]).localname == "GetLearners"
        assert [etree.QName(ch).localname for ch in body[0]] == [
            "CourseQAN",
            "blnActive",
            "blnTestLearners",
        ]
        request = decode_request(envelope)
        assert request.operation == "GetCandidates"
        assert c.params_from_wire(op, request.params)["test"] is False


def test_the_generated_wsdl_uses_the_wire_names() -> None:
    catalogue, _ = overrides.build(RENAMES)
    with c.using(catalogue):
        users = c.service_of("GetCandidates")
        text = service_wsdl(users, "http://x/webservices/soap/user.cfc", ["GetCandidates"])
    assert b'name="GetLearners"' in text
    assert b'name="Type_learner"' in text
    assert b'name="MISLearnerID"' in text
    assert b"ArrayOf_Type_learner" in text
    assert b"GetCandidates" not in text
    assert b"SourceSystemLearnerUUID" not in text


def test_service_paths_and_namespaces_follow_the_overrides() -> None:
    catalogue, _ = overrides.build(
        {
            "services": {
                "Users": {
                    "path": "/webservices/soap/users.cfc",
                    "namespace": "http://soap.webservices",
                    "request_header_namespaces": ["http://a.example", "https://b.example"],
                }
            }
        }
    )
    with c.using(catalogue):
        op = c.operation("GetTrainers")
        assert c.service_of("GetTrainers").path == "/webservices/soap/users.cfc"
        root = etree.fromstring(encode_request(op, {}, TOKEN))
    header, body = root[0], root[1]
    assert etree.QName(body[0]).namespace == "http://soap.webservices"
    assert [etree.QName(h).namespace for h in header] == ["http://a.example", "https://b.example"]


def test_a_date_format_converts_both_ways() -> None:
    catalogue, _ = overrides.build({"date_format": "%d/%m/%Y"})
    course = c.StructRef("Type_enrolmentCourse")
    with c.using(catalogue):
        wire = c.to_wire(course, {"course_uuid": "C1", "start_date": "2024-09-01"})
        assert wire["StartDate"] == "01/09/2024"
        back = c.from_wire(course, wire)
    assert back.start_date == "2024-09-01"
    assert c.to_wire(course, {"start_date": "2024-09-01"})["StartDate"] == "2024-09-01"


def test_settings_validate_the_contract_table_on_load(tmp_path: Path) -> None:
    path = tmp_path / "labridge.toml"
    path.write_text('[contract.operations.GetCandidates]\nnme = "GetLearners"\n', "utf-8")
    with pytest.raises(ContractError, match=r"unknown key 'nme'.*did you mean 'name'"):
        load_settings({}, {}, path)


def test_a_contract_file_goes_over_labridge_toml(tmp_path: Path) -> None:
    config = tmp_path / "labridge.toml"
    config.write_text(
        '[contract.operations.GetCandidates]\nname = "GetLearners"\n'
        '[contract.operations.GetTrainers]\nname = "GetAssessors"\n',
        "utf-8",
    )
    extra = tmp_path / "overrides.toml"
    extra.write_text('[contract.operations.GetTrainers]\nname = "GetTutors"\n', "utf-8")
    catalogue = load_settings({}, {}, config, extra).catalogue()
    assert catalogue.operation("GetCandidates").wire == "GetLearners"
    assert catalogue.operation("GetTrainers").wire == "GetTutors"


def test_a_contract_file_holds_contract_tables_only(tmp_path: Path) -> None:
    extra = tmp_path / "overrides.toml"
    extra.write_text('[la]\nurl = "https://x.example"\n', "utf-8")
    with pytest.raises(ContractError, match="'la'"):
        load_settings({}, {}, None, extra)
    with pytest.raises(ContractError, match="does not exist"):
        load_settings({}, {}, None, tmp_path / "missing.toml")


def test_written_overrides_read_back_to_the_same_catalogue(tmp_path: Path) -> None:
    data = {**RENAMES, "services": {"Group Enrolment": {"path": "/ws/enrol.cfc"}}}
    path = tmp_path / "o.toml"
    path.write_text(overrides.to_toml(data), "utf-8")
    assert overrides.build(overrides.load_file(path)) == overrides.build(data)


def test_override_lines_read_as_the_tables_they_set() -> None:
    assert overrides.line("date_format", "%d/%m/%Y") == '[contract] date_format = "%d/%m/%Y"'
    assert (
        overrides.line("services.Group Enrolment.path", "/e.cfc")
        == '[contract.services."Group Enrolment"] path = "/e.cfc"'
    )
    assert (
        overrides.line("operations.GetCandidates.params.blnTest", "blnTestLearners")
        == '[contract.operations.GetCandidates] params = { blnTest = "blnTestLearners" }'
    )
