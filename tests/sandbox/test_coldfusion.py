"""The ``coldfusion`` dialect's answers at the XML level (docs/contract.md §5), in-process:
multiRef for
every struct and array, ``soapenc`` scalars, numeric ids as doubles, dates as London midnight in
UTC, enrolment answers as ``apachesoap:Map``, faults wrapped as ColdFusion wraps them; and every
answer read back (with lxml alone) equal to what the sandbox holds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from lxml import etree
from starlette.applications import Starlette

from labridge import contract as c
from labridge import models as m
from labridge.models import Token
from labridge.sandbox import simulate
from labridge.sandbox.app import STATS_PATH, create_app
from labridge.sandbox.clock import CLOCK_PATH
from labridge.sandbox.coldfusion import london_midnight
from labridge.sandbox.db import SandboxDB
from labridge.sandbox.defaults import Dialect
from labridge.sandbox.dialects import SPEAKERS
from labridge.sandbox.faults import FAULTS_PATH, LAST_REQUEST_PATH

from . import cfxml
from .cfxml import (
    ARRAY,
    MAP,
    NS,
    SOAPENC_BOOLEAN,
    SOAPENC_DOUBLE,
    SOAPENC_STRING,
    XSD_DATETIME,
    XSD_STRING,
)
from .conftest import BASE_URL, LA, PASSWORD, USERNAME, ManualClock, sandbox_app
from .learners import course, learner

LONDON = ZoneInfo("Europe/London")
ALL = {"CourseQAN": "", "blnActive": True, "blnCompleted": True, "blnTest": True}
READS = ("GetFrameworks", "GetTrainers", "GetNationalities", "GetEthnicities", "GetCompanies")


async def login(la: LA) -> Token:
    response = await la.send("Authenticate", {"szUsername": USERNAME, "szPassword": PASSWORD})
    assert response.status_code == 200
    return cfxml.token(response.content)


async def call(la: LA, name: str, params: dict[str, Any] | None = None) -> etree._Element:
    response = await la.send(name, params, await login(la))
    assert response.status_code == 200, response.text
    return cfxml.parse(response.content)


def _candidate_uuid(db: SandboxDB) -> str:
    return db.candidates(course_qan="", active=True, completed=True, test=True)[0].candidate_uuid


# -- reading an answer back into the contract's wire values ------------------------------------


def _scalar(member: c.Member | None, typed: tuple[tuple[str, str], str] | None) -> Any:
    """A ColdFusion scalar back as the sandbox's own wire value (the inverse of the dialect)."""
    if typed is None:  # nil: only a date the sandbox holds as empty
        assert member is not None
        assert member.attr.endswith("_date")
        return ""
    kind, text = typed
    if kind == XSD_DATETIME:
        moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.000Z").replace(tzinfo=UTC)
        local = moment.astimezone(LONDON)
        assert (local.hour, local.minute, local.second) == (0, 0, 0), f"{text} is not midnight"
        return local.date().isoformat()
    if kind == SOAPENC_BOOLEAN:
        assert text in ("true", "false")
        return text == "true"
    if kind == SOAPENC_DOUBLE:
        assert "." in text, f"{text} is not written as a double"
        number = float(text)
        if member is not None and member.type == c.STRING:
            assert number.is_integer()
            return str(int(number))
        return int(number) if member is not None and member.type == c.INT else number
    assert kind in (SOAPENC_STRING, XSD_STRING), kind
    return text


def plain(type_: c.TypeExpr, decoded: Any, member: c.Member | None = None) -> Any:
    if isinstance(type_, c.ArrayOf):
        return [plain(type_.item, item) for item in decoded]
    if isinstance(type_, c.StructRef):
        by_key = {mb.name.upper(): mb for mb in c.TYPES[type_.name].members}
        out = {}
        for key, v in decoded.items():
            mb = c.TYPES[type_.name].member(key) or by_key[key]
            out[mb.name] = plain(mb.type, v, mb)
        return out
    return _scalar(member, decoded)


def expected(name: str, records: Any) -> Any:
    return c.to_wire(c.operation(name).returns, records, omit_unset=False)


# -- every operation: multiRef everywhere ------------------------------------------------------


def _assert_all_by_reference(root: etree._Element, op: c.Operation) -> None:
    returned = cfxml.return_element(root, op)
    assert len(returned) == 0
    assert returned.get("href") == "#id0"
    refs = cfxml.multirefs(root)
    hrefs = [href for el in root.iter() if (href := el.get("href")) is not None]
    assert sorted(hrefs) == sorted(f"#{ident}" for ident in refs)  # each referenced once
    for target in refs.values():
        assert target.get(cfxml.ROOT) == "0"
        assert target.get(cfxml.ENC_STYLE) == c.SOAP_ENC
        assert cfxml.xsi_type(target) is not None
    for el in cfxml.body(root).iter():
        # No struct or array travels inline: anything with children is a multiRef, the response
        # wrapper, or a Map's item.
        if len(el) and el.tag != "multiRef":
            assert etree.QName(el).localname in ("Body", op.response_element, "item"), el.tag


@pytest.mark.parametrize("name", [*READS, "GetCandidates"])
async def test_every_read_answers_by_multiref_and_matches_the_database(
    cf_la: LA, db: SandboxDB, name: str
) -> None:
    op = c.operation(name)
    assert op is not None
    root = await call(cf_la, name, ALL if name == "GetCandidates" else None)
    _assert_all_by_reference(root, op)
    readers: dict[str, Callable[[], Sequence[object]]] = {
        "GetFrameworks": db.frameworks,
        "GetTrainers": db.trainers,
        "GetNationalities": db.nationalities,
        "GetEthnicities": db.ethnicities,
        "GetCompanies": db.companies,
        "GetCandidates": lambda: db.candidates("", True, True, True),
    }
    records = readers[name]()
    got = plain(op.returns, cfxml.value(root, cfxml.return_element(root, op)))
    assert got == expected(name, records)
    assert len(got) > 0


@pytest.mark.parametrize("name", ["GetProgress", "GetProgressFull"])
async def test_progress_answers_by_multiref_and_matches_the_database(
    cf_la: LA, db: SandboxDB, clock: ManualClock, name: str
) -> None:
    uuid = _candidate_uuid(db)
    root = await call(cf_la, name, {"CandidateUUID": uuid})
    op = c.operation(name)
    _assert_all_by_reference(root, op)
    found = simulate.progress_of(db, uuid, clock().date(), full=name == "GetProgressFull")
    got = plain(op.returns, cfxml.value(root, cfxml.return_element(root, op)))
    assert got == expected(name, found)


async def test_arrays_are_typed_with_their_items_named_item_by_reference(
    cf_la: LA, db: SandboxDB
) -> None:
    op = c.operation("GetTrainers")
    root = await call(cf_la, "GetTrainers")
    array = cfxml.deref(root, cfxml.return_element(root, op))
    assert cfxml.xsi_type(array) == ARRAY
    (item_type, size) = cfxml.array_type(array)
    assert item_type == (c.USER_TYPES_NS, "Type_trainer")
    assert size == len(db.trainers()) == len(array)
    assert all(item.tag == "item" and item.get("href") for item in array)
    first = cfxml.deref(root, array[0])
    assert cfxml.xsi_type(first) == item_type


async def test_scalars_are_soapenc_typed_and_booleans_true_or_false(cf_la: LA) -> None:
    root = await call(cf_la, "GetTrainers")
    ctype = c.TYPES["Type_trainer"]
    for struct in cfxml.multirefs(root).values():
        if cfxml.xsi_type(struct) != (ctype.namespace, ctype.name):
            continue
        for mb in ctype.members:
            el = struct.find(mb.name)
            assert el is not None
            if mb.type == c.BOOLEAN:
                assert cfxml.xsi_type(el) == SOAPENC_BOOLEAN
                assert el.text in ("true", "false")
            else:
                assert cfxml.xsi_type(el) == SOAPENC_STRING


async def test_nationality_ids_are_doubles(cf_la: LA, db: SandboxDB) -> None:
    root = await call(cf_la, "GetNationalities")
    member = c.type_of_model(m.Nationality).by_attr("nationality_id").name
    first = db.nationalities()[0]
    ids = list(root.iter(member))
    assert len(ids) == len(db.nationalities())
    assert all(cfxml.xsi_type(el) == SOAPENC_DOUBLE for el in ids)
    assert ids[0].text == f"{first.nationality_id}.0"  # "1" goes as 1.0


async def test_outcome_counts_and_percentages_are_doubles(cf_la: LA, db: SandboxDB) -> None:
    root = await call(cf_la, "GetProgressFull", {"CandidateUUID": _candidate_uuid(db)})
    for name in ("OverallProgress", "Progress", "EvidenceCount"):
        found = list(root.iter(name))
        assert found, name
        assert all(cfxml.xsi_type(el) == SOAPENC_DOUBLE and "." in (el.text or "") for el in found)


async def test_an_empty_array_is_any_type_of_nought(cf_la: LA, db: SandboxDB) -> None:
    # GetProgress sends every unit's Outcomes empty (docs/contract.md §3.3).
    root = await call(cf_la, "GetProgress", {"CandidateUUID": _candidate_uuid(db)})
    outcomes = [cfxml.deref(root, el) for el in root.iter("Outcomes")]
    assert outcomes
    assert all(cfxml.array_type(a) == ((c.XSD, "anyType"), 0) and len(a) == 0 for a in outcomes)
    units = cfxml.deref(root, next(root.iter("Units")))
    assert cfxml.array_type(units)[0] == (c.USER_TYPES_NS, "Type_unitProgress")


# -- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "wire"),
    [
        (date(2024, 9, 1), "2024-08-31T23:00:00.000Z"),  # BST
        (date(2025, 1, 6), "2025-01-06T00:00:00.000Z"),  # GMT
        (date(2025, 3, 30), "2025-03-30T00:00:00.000Z"),  # clocks go forward at 01:00 that day
        (date(2025, 3, 31), "2025-03-30T23:00:00.000Z"),
        (date(2025, 10, 26), "2025-10-25T23:00:00.000Z"),  # back at 02:00: midnight is BST
        (date(2025, 10, 27), "2025-10-27T00:00:00.000Z"),
    ],
)
def test_a_date_is_london_midnight_in_utc(day: date, wire: str) -> None:
    assert london_midnight(day) == wire


async def test_candidate_dates_are_date_times(cf_la: LA, db: SandboxDB) -> None:
    root = await call(cf_la, "GetCandidates", ALL)
    candidates = {cand.candidate_uuid: cand for cand in db.candidates("", True, True, True)}
    ctype = c.type_of_model(m.Candidate)
    start = ctype.by_attr("start_date").name
    for struct in cfxml.multirefs(root).values():
        if cfxml.xsi_type(struct) != (ctype.namespace, ctype.name):
            continue
        cand = candidates[str(struct.findtext("CandidateUUID"))]
        el = struct.find(start)
        assert el is not None
        assert cfxml.xsi_type(el) == XSD_DATETIME
        assert el.text == london_midnight(date.fromisoformat(cand.start_date))


# -- enrolment answers: ColdFusion structs -----------------------------------------------------


def _map_keys(root: etree._Element, el: etree._Element) -> dict[str, etree._Element]:
    target = cfxml.deref(root, el)
    assert cfxml.xsi_type(target) == MAP
    keys = {}
    for item in target.findall("item"):
        key, value = item.find("key"), item.find("value")
        assert key is not None
        assert value is not None
        assert cfxml.xsi_type(key) == SOAPENC_STRING
        keys[str(key.text)] = value
    return keys


RESPONSE_KEYS = ["CANDIDATEUUID", "MESSAGELIST", "SOURCESYSTEMLEARNERUUID", "SUCCESS", "ULN"]


async def test_group_enrolment_answers_a_map_with_upper_cased_keys(
    cf_la: LA, db: SandboxDB
) -> None:
    op = c.operation("GroupEnrolment")
    before = db.stats()["candidates"]
    user = c.to_wire(c.StructRef("Type_enrolmentUser"), learner())
    root = await call(cf_la, op.name, {"User": user, "blnSendLoginDetailsOnEnroll": False})
    _assert_all_by_reference(root, op)
    keys = _map_keys(root, cfxml.return_element(root, op))
    assert sorted(keys) == RESPONSE_KEYS
    assert cfxml.xsi_type(keys["SUCCESS"]) == SOAPENC_BOOLEAN
    assert keys["SUCCESS"].text == "true"
    assert keys["SOURCESYSTEMLEARNERUUID"].text == "MIS-900001"
    messages = cfxml.deref(root, keys["MESSAGELIST"])
    assert cfxml.array_type(messages) == ((c.XSD, "anyType"), 0)
    assert db.stats()["candidates"] == before + 1
    uuid = keys["CANDIDATEUUID"].text
    assert uuid in {cand.candidate_uuid for cand in db.candidates("", True, True, True)}


async def test_a_refused_enrolment_lists_its_messages_as_maps(cf_la: LA) -> None:
    op = c.operation("GroupEnrolment")
    bad = learner(course=course(course_uuid="not-a-course"), uln="1234567890")
    root = await call(cf_la, op.name, {"User": c.to_wire(c.StructRef("Type_enrolmentUser"), bad)})
    keys = _map_keys(root, cfxml.return_element(root, op))
    assert keys["SUCCESS"].text == "false"
    messages = cfxml.deref(root, keys["MESSAGELIST"])
    (item_type, size) = cfxml.array_type(messages)
    assert item_type == (c.XSD, "anyType")
    assert size == len(messages) >= 2
    found = [_map_keys(root, item) for item in messages]
    assert all(sorted(msg) == ["CODE", "FIELD", "MESSAGE"] for msg in found)
    codes = {msg["CODE"].text for msg in found}
    assert {"UNKNOWN_COURSE", "INVALID_ULN"} <= codes
    decoded = plain(op.returns, cfxml.value(root, cfxml.return_element(root, op)))
    assert decoded["Success"] is False
    assert len(decoded["MessageList"]) == size


async def test_update_enrolment_answers_a_map_too(cf_la: LA) -> None:
    op = c.operation("UpdateEnrolment")
    root = await call(cf_la, op.name, {"User": {"CandidateUUID": "no-such-candidate"}})
    keys = _map_keys(root, cfxml.return_element(root, op))
    assert sorted(keys) == RESPONSE_KEYS
    assert keys["SUCCESS"].text == "false"
    assert len(cfxml.deref(root, keys["MESSAGELIST"])) >= 1


# -- Authenticate and faults -------------------------------------------------------------------


async def test_authenticate_answers_yes_with_the_token_in_its_header(cf_la: LA) -> None:
    response = await cf_la.send("Authenticate", {"szUsername": USERNAME, "szPassword": PASSWORD})
    root = cfxml.parse(response.content)
    returned = cfxml.return_element(root, c.AUTHENTICATE)
    assert (cfxml.xsi_type(returned), returned.text) == (XSD_STRING, c.YES)
    assert cfxml.token(response.content).uuid


async def test_wrong_credentials_answer_no_and_loggedin_no(cf_la: LA) -> None:
    response = await cf_la.send("Authenticate", {"szUsername": USERNAME, "szPassword": "wrong"})
    assert response.status_code == 200
    root = cfxml.parse(response.content)
    assert cfxml.return_element(root, c.AUTHENTICATE).text == c.NO
    header = root.find(f"soapenv:Header/{{{c.LA_NS}}}{c.AUTH_HEADER}", NS)
    assert header is not None
    assert header.get(c.AUTH_LOGGEDIN) == c.NO
    assert len(header) == 0


def _fault(response: httpx.Response) -> tuple[etree._Element, etree._Element]:
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    root = cfxml.parse(response.content)
    fault = root.find("soapenv:Body/soapenv:Fault", NS)
    assert fault is not None
    return root, fault


def _assert_axis_detail(fault: etree._Element) -> None:
    trace = fault.find("detail/axis:stackTrace", NS)
    assert trace is not None
    assert (trace.text or "").startswith(str(fault.findtext("faultstring")))
    assert fault.findtext("detail/axis:hostname", namespaces=NS) == "sandbox"


async def test_an_expired_session_is_a_wrapped_fault_with_loggedin_no(
    cf_la: LA, clock: ManualClock
) -> None:
    token = await login(cf_la)
    clock.advance(minutes=31)
    root, fault = _fault(await cf_la.send("GetTrainers", {}, token))
    code = fault.find("faultcode")
    assert code is not None
    assert cfxml.resolve(code, str(code.text)) == (
        c.SOAP_ENV,
        "Server.userException",
    )
    text = str(fault.findtext("faultstring"))
    assert text.startswith(
        "coldfusion.xml.rpc.CFCInvocationException: "
        f"[coldfusion.runtime.CustomException : {c.AUTH_FAILED_PREFIX} "
    )
    assert text.endswith("]")
    assert "expired" in text
    _assert_axis_detail(fault)
    header = root.find(f"soapenv:Header/{{{c.LA_NS_HTTP}}}{c.AUTH_HEADER}", NS)
    assert header is not None
    assert header.get(c.AUTH_LOGGEDIN) == c.NO


async def test_a_missing_token_is_a_wrapped_authentication_fault(cf_la: LA) -> None:
    _, fault = _fault(await cf_la.post("/webservices/soap/user.cfc", _no_header_call()))
    assert f"CustomException : {c.AUTH_FAILED_PREFIX} no session token" in str(
        fault.findtext("faultstring")
    )


def _no_header_call() -> str:
    return (
        f'<soapenv:Envelope xmlns:soapenv="{c.SOAP_ENV}"><soapenv:Body>'
        f'<ns1:GetTrainers xmlns:ns1="{c.LA_NS}"/></soapenv:Body></soapenv:Envelope>'
    )


async def test_an_unknown_candidate_is_a_wrapped_user_exception(cf_la: LA) -> None:
    response = await cf_la.send("GetProgress", {"CandidateUUID": "nobody"}, await login(cf_la))
    root, fault = _fault(response)
    assert fault.findtext("faultcode") == c.AUTH_FAULTCODE
    text = str(fault.findtext("faultstring"))
    assert text.startswith("coldfusion.xml.rpc.CFCInvocationException: [")
    assert "Unknown CandidateUUID 'nobody'" in text
    _assert_axis_detail(fault)
    assert root.find("soapenv:Header", NS) is None  # a session problem only says loggedin


async def test_a_malformed_call_is_a_client_fault_with_axis_detail(cf_la: LA) -> None:
    _, fault = _fault(await cf_la.post("/webservices/soap/user.cfc", "<not-closed>"))
    assert fault.findtext("faultcode") == "soapenv:Client"
    assert "CFCInvocationException" not in str(fault.findtext("faultstring"))
    _assert_axis_detail(fault)


# -- requests and hooks are the same in both dialects ------------------------------------------


async def test_a_sample_shaped_enrolment_envelope_is_accepted(cf_la: LA, db: SandboxDB) -> None:
    from .test_group_enrolment import _envelope

    token = await login(cf_la)
    response = await cf_la.post("/webservices/soap/enrolment.cfc", _envelope(token))
    assert response.status_code == 200, response.text
    keys = _map_keys(cfxml.parse(response.content), _return(response, "GroupEnrolment"))
    assert keys["SUCCESS"].text == "true"


def _return(response: httpx.Response, name: str) -> etree._Element:
    return cfxml.return_element(cfxml.parse(response.content), c.operation(name))


async def test_the_test_hooks_work_the_same_in_both_dialects(
    dialect: str, db: SandboxDB, clock: ManualClock
) -> None:
    app = sandbox_app(dialect, db=db, username=USERNAME, password=PASSWORD, clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http:
        la = LA(http)
        token = await login(la)
        fault = {"operation": "GetTrainers", "mode": "fail_before"}
        armed = await http.post(FAULTS_PATH, json=fault)
        assert armed.status_code < 300, armed.text
        assert (await la.send("GetTrainers", {}, token)).status_code == 503
        assert (await la.send("GetTrainers", {}, token)).status_code == 200
        stats = (await http.get(STATS_PATH)).json()
        assert stats["faults_fired"] == {"GetTrainers:fail_before": 1}
        assert stats["calls"]["GetTrainers"] == 1  # the refused call never reached LA
        last = await http.get(LAST_REQUEST_PATH, params={"operation": "GetTrainers"})
        assert last.status_code == 200
        assert b"GetTrainers" in last.content
        moved = await http.post(CLOCK_PATH, json={"advance_days": 1})
        assert moved.status_code == 200
        _, refused = _fault(await la.send("GetTrainers", {}, token))  # a day on: session expired
    assert "expired" in str(refused.findtext("faultstring"))


def test_an_unknown_dialect_is_refused_naming_the_choices(db: SandboxDB) -> None:
    with pytest.raises(
        ValueError, match="unknown sandbox dialect 'cobol': choose one of samples, coldfusion"
    ):
        create_app(db, dialect="cobol")


def test_the_app_says_which_dialect_it_speaks(cf_app: Starlette, app: Starlette) -> None:
    speakers = (cf_app.state.sandbox.speaker, app.state.sandbox.speaker)
    assert speakers == (SPEAKERS[Dialect.COLDFUSION], SPEAKERS[Dialect.SAMPLES])


def test_a_runner_given_an_app_and_a_dialect_is_refused(cf_app: Starlette) -> None:
    from labridge.sandbox.server import start_background

    with pytest.raises(ValueError, match="pass dialect and faults to create_app"):
        start_background(cf_app, dialect="coldfusion")
