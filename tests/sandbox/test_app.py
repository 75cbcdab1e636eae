"""The sandbox app in-process: sessions, every Get* operation, header spellings, WSDLs, stats."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from labridge import contract as c
from labridge import soap
from labridge.models import Token
from labridge.sandbox import services
from labridge.sandbox.app import create_app
from labridge.sandbox.db import SandboxDB

from .conftest import LA, PASSWORD, USERNAME, ManualClock

WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
USERS = "/webservices/soap/user.cfc"


def _header_ns(response: httpx.Response) -> str | None:
    root = etree.fromstring(response.content)
    header = root.find(f"{{{c.SOAP_ENV}}}Header")
    assert header is not None
    return etree.QName(header[0]).namespace


# -- Authenticate (docs/contract.md §2, §3.1) ------------------------------------------------------


async def test_authenticate_with_the_right_credentials_answers_yes_and_a_token(la: LA) -> None:
    response = await la.send("Authenticate", {"szUsername": USERNAME, "szPassword": PASSWORD})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    decoded = soap.decode_response(response.content, c.AUTHENTICATE)
    assert decoded.value == "YES"
    assert decoded.header.loggedin == "YES"
    assert decoded.header.token is not None
    assert _header_ns(response) == c.LA_NS  # the Authenticate sample's https:// header


@pytest.mark.parametrize(
    ("username", "password"),
    [(USERNAME, "wrong"), ("nobody", PASSWORD), ("", ""), (USERNAME, PASSWORD.upper())],
)
async def test_authenticate_with_wrong_credentials_answers_no(
    la: LA, username: str, password: str
) -> None:
    response = await la.send("Authenticate", {"szUsername": username, "szPassword": password})
    assert response.status_code == 200
    decoded = soap.decode_response(response.content, c.AUTHENTICATE)
    assert decoded.value == "NO"
    assert decoded.header.loggedin == "NO"
    assert decoded.header.token is None


async def test_each_authenticate_opens_a_new_session(la: LA) -> None:
    first, second = await la.authenticate(), await la.authenticate()
    assert first != second
    await la.call("GetTrainers", first)
    await la.call("GetTrainers", second)


async def test_the_password_is_never_logged(la: LA, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await la.authenticate()
    await la.send("Authenticate", {"szUsername": USERNAME, "szPassword": "guess-1234"})
    assert caplog.records  # the calls are logged ...
    assert PASSWORD not in caplog.text  # ... their passwords are not
    assert "guess-1234" not in caplog.text


# -- reference data ----------------------------------------------------------------------------

READERS: dict[str, Callable[[SandboxDB], list[Any]]] = {
    "GetFrameworks": SandboxDB.frameworks,
    "GetTrainers": SandboxDB.trainers,
    "GetNationalities": SandboxDB.nationalities,
    "GetEthnicities": SandboxDB.ethnicities,
    "GetCompanies": SandboxDB.companies,
}


@pytest.mark.parametrize("operation", sorted(READERS))
async def test_get_operations_answer_the_seeded_data(la: LA, db: SandboxDB, operation: str) -> None:
    token = await la.authenticate()
    decoded = await la.call(operation, token)
    records = c.from_wire(c.operation(operation).returns, decoded.value)
    expected = READERS[operation](db)
    assert expected, "the seed holds data for every list"
    assert records == expected


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"CourseQAN": "", "blnActive": True, "blnCompleted": False, "blnTest": False},
        {"CourseQAN": "", "blnActive": True, "blnCompleted": True, "blnTest": True},
        {"CourseQAN": "", "blnActive": False, "blnCompleted": True, "blnTest": False},
        {"CourseQAN": "", "blnActive": False, "blnCompleted": False, "blnTest": False},
        {"CourseQAN": "603/4771/X", "blnActive": True, "blnCompleted": True, "blnTest": True},
    ],
)
async def test_get_candidates_answers_what_the_db_selects(
    la: LA, db: SandboxDB, query: dict[str, Any]
) -> None:
    token = await la.authenticate()
    decoded = await la.call("GetCandidates", token, query)
    records = c.from_wire(c.operation("GetCandidates").returns, decoded.value)
    args = c.params_from_wire(c.operation("GetCandidates"), query)
    assert records == db.candidates(**args)


async def test_get_candidates_with_every_filter_open_lists_more_than_the_default(
    la: LA, db: SandboxDB
) -> None:
    token = await la.authenticate()
    everything = {"CourseQAN": "", "blnActive": True, "blnCompleted": True, "blnTest": True}
    wide = (await la.call("GetCandidates", token, everything)).value
    narrow = (await la.call("GetCandidates", token)).value
    assert len(wide) > len(narrow) > 0


def _get_candidates_xml(token: Token, **params: tuple[str, str]) -> str:
    """GetCandidates by hand; ``params`` map a parameter to its text and its xsi:type."""
    members = "".join(
        f'<{name} xsi:type="{xsi_type}">{text}</{name}>'
        for name, (text, xsi_type) in params.items()
    )
    return f"""<soapenv:Envelope xmlns:soapenv="{c.SOAP_ENV}" xmlns:xsi="{c.XSI}"
    xmlns:xsd="{c.XSD}"><soapenv:Header><authToken xmlns="{c.LA_NS_HTTP}">
    <id>{token.id}</id><uuid>{token.uuid}</uuid></authToken></soapenv:Header>
  <soapenv:Body><ns1:GetCandidates xmlns:ns1="{c.LA_NS}">{members}</ns1:GetCandidates>
  </soapenv:Body></soapenv:Envelope>"""


async def test_get_candidates_takes_booleans_typed_as_strings(la: LA, db: SandboxDB) -> None:
    token = await la.authenticate()
    body = _get_candidates_xml(
        token, blnActive=("false", "xsd:string"), blnCompleted=("1", "xsd:string")
    )
    response = await la.post(USERS, body)
    assert response.status_code == 200
    op = c.operation("GetCandidates")
    records = c.from_wire(op.returns, soap.decode_response(response.content, op).value)
    assert records == db.candidates(active=False, completed=True)
    assert records


@pytest.mark.parametrize(("value", "xsi_type"), [("maybe", "xsd:boolean"), ("maybe", "xsd:string")])
async def test_get_candidates_refuses_a_non_boolean_with_a_client_fault(
    la: LA, value: str, xsi_type: str
) -> None:
    token = await la.authenticate()
    body = _get_candidates_xml(token, blnActive=(value, xsi_type))
    fault = la.fault(await la.post(USERS, body))
    assert fault.faultcode == "soapenv:Client"
    assert "maybe" in fault.faultstring or "blnActive" in fault.faultstring


# -- sessions over HTTP (docs/contract.md §2) ------------------------------------------------------


async def test_answers_repeat_the_token_with_loggedin_yes(la: LA) -> None:
    token = await la.authenticate()
    response = await la.send("GetTrainers", None, token)
    decoded = soap.decode_response(response.content, c.operation("GetTrainers"))
    assert decoded.header.token == token
    assert decoded.header.loggedin == "YES"
    assert _header_ns(response) == c.LA_NS_HTTP  # the Users samples' http:// header


async def _assert_auth_fault(la: LA, response: httpx.Response, reason: str) -> None:
    fault = la.fault(response)
    assert fault.faultcode == c.AUTH_FAULTCODE
    assert fault.faultstring.startswith(c.AUTH_FAILED_PREFIX)
    assert reason in fault.faultstring
    root = etree.fromstring(response.content)
    auth = root.find(f"{{{c.SOAP_ENV}}}Header/{{{c.LA_NS_HTTP}}}authToken")
    assert auth is not None
    assert auth.get("loggedin") == "NO"
    assert len(auth) == 0  # no token in a refusal


async def test_sliding_expiry(la: LA, clock: ManualClock) -> None:
    token = await la.authenticate()
    for _ in range(3):  # 29 minutes idle is fine, and each call restarts the 30 minutes
        clock.advance(minutes=29)
        await la.call("GetEthnicities", token)
    clock.advance(minutes=30)
    await _assert_auth_fault(la, await la.send("GetEthnicities", None, token), "expired")
    clock.advance(seconds=1)  # and it stays refused: the session is gone
    await _assert_auth_fault(la, await la.send("GetEthnicities", None, token), "unknown")
    await la.call("GetEthnicities", await la.authenticate())  # a new one works


async def test_a_failed_call_does_not_slide_the_expiry(la: LA, clock: ManualClock) -> None:
    token = await la.authenticate()
    clock.advance(minutes=20)
    la.fault(await la.post(USERS, _get_candidates_xml(token, blnTest=("maybe", "xsd:boolean"))))
    clock.advance(minutes=10)
    await _assert_auth_fault(la, await la.send("GetTrainers", None, token), "expired")


async def test_missing_header_is_refused(la: LA) -> None:
    body = f"""<soapenv:Envelope xmlns:soapenv="{c.SOAP_ENV}">
      <soapenv:Body><ns1:GetTrainers xmlns:ns1="{c.LA_NS}"/></soapenv:Body></soapenv:Envelope>"""
    await _assert_auth_fault(la, await la.post(USERS, body), "no session token")


async def test_header_without_uuid_is_refused(la: LA) -> None:
    token = await la.authenticate()
    body = f"""<soapenv:Envelope xmlns:soapenv="{c.SOAP_ENV}">
      <soapenv:Header><authToken xmlns="{c.LA_NS_HTTP}"><id>{token.id}</id></authToken>
      </soapenv:Header>
      <soapenv:Body><ns1:GetTrainers xmlns:ns1="{c.LA_NS}"/></soapenv:Body></soapenv:Envelope>"""
    await _assert_auth_fault(la, await la.post(USERS, body), "no session token")


async def test_unknown_token_is_refused(la: LA) -> None:
    token = Token(id="1000000001", uuid="11111111-2222-4333-8444-555555555555")
    await _assert_auth_fault(la, await la.send("GetTrainers", None, token), "unknown")


async def test_foreign_token_is_refused(la: LA) -> None:
    mine, theirs = await la.authenticate(), await la.authenticate()
    forged = Token(id=mine.id, uuid=theirs.uuid)
    await _assert_auth_fault(la, await la.send("GetTrainers", None, forged), "does not match")
    await la.call("GetTrainers", mine)  # the real owner is not locked out


# Every header spelling of docs/contract.md §1, §2: style A and B, both namespaces and none,
# children typed with xsi:type (xsd: or the samples' xsi: prefix), a plain type attribute, or
# nothing.
STYLE_A = """<soap:Envelope xmlns:soap="{env}" xmlns:tns="{https}" xmlns:xsi="{xsi}"
    xmlns:xsd="{xsd}"><soap:Header><tns:authToken id="h_id1">
  <id xsi:type="xsi:string">{id}</id><uuid xsi:type="xsi:string">{uuid}</uuid>
</tns:authToken></soap:Header>
<soap:Body soap:encodingStyle="{enc}"><tns:GetTrainers/></soap:Body></soap:Envelope>"""

STYLE_B = """<soapenv:Envelope xmlns:soapenv="{env}" xmlns:xsd="{xsd}" xmlns:xsi="{xsi}">
<soapenv:Header><authToken loggedin="YES" soapenv:actor="" soapenv:mustUnderstand="0"
    {xmlns}>
  <id {typing}>{id}</id><uuid {typing}>{uuid}</uuid>
</authToken></soapenv:Header>
<soapenv:Body><ns1:GetTrainers xmlns:ns1="{https}" soapenv:encodingStyle="{enc}"/>
</soapenv:Body></soapenv:Envelope>"""


def _style_b(xmlns: str, typing: str) -> str:
    return STYLE_B.replace("{xmlns}", xmlns).replace("{typing}", typing)


HEADER_SPELLINGS = {
    "A https xsi:type=xsi:string": STYLE_A,
    "B http plain type": _style_b('xmlns="{http}"', 'type="xsd:string"'),
    "B https plain type": _style_b('xmlns="{https}"', 'type="xsd:string"'),
    "B http no type": _style_b('xmlns="{http}"', ""),
    "B http xsi:type=xsd:string": _style_b('xmlns="{http}"', 'xsi:type="xsd:string"'),
    "B unqualified no type": _style_b("", ""),
    "B unqualified xsi:type=xsi:string": _style_b("", 'xsi:type="xsi:string"'),
    "prefixed http, qualified children, no type": (
        STYLE_A.replace('xmlns:tns="{https}"', 'xmlns:tns="{http}"')
        .replace('<id xsi:type="xsi:string">', "<tns:id>")
        .replace("</id>", "</tns:id>")
        .replace('<uuid xsi:type="xsi:string">', "<tns:uuid>")
        .replace("</uuid>", "</tns:uuid>")
        .replace("<tns:GetTrainers/>", '<GetTrainers xmlns="{https}"/>')
    ),
}


@pytest.mark.parametrize("spelling", sorted(HEADER_SPELLINGS))
async def test_every_header_spelling_is_accepted(la: LA, db: SandboxDB, spelling: str) -> None:
    token = await la.authenticate()
    body = HEADER_SPELLINGS[spelling].format(
        env=c.SOAP_ENV, enc=c.SOAP_ENC, xsi=c.XSI, xsd=c.XSD, https=c.LA_NS, http=c.LA_NS_HTTP,
        id=token.id, uuid=token.uuid,
    )  # fmt: skip
    response = await la.post(USERS, body)
    assert response.status_code == 200, response.text
    decoded = soap.decode_response(response.content, c.operation("GetTrainers"))
    assert c.from_wire(c.operation("GetTrainers").returns, decoded.value) == db.trainers()
    assert decoded.header.token == token


async def test_the_codecs_own_envelope_styles_are_accepted(la: LA) -> None:
    # Authenticate's no-header form and the RPC form with a style-B header (docs/contract.md §2
    # table).
    token = await la.authenticate()
    for name in ("GetFrameworks", "GetTrainers", "GetCompanies"):
        decoded = await la.call(name, token)
        assert decoded.value


# -- WSDL, help, stats, unknown paths ----------------------------------------------------------


@pytest.mark.parametrize("service", c.SERVICES, ids=lambda s: s.file)
async def test_every_service_answers_its_wsdl(
    client: httpx.AsyncClient, service: c.Service
) -> None:
    response = await client.get(f"{service.path}?wsdl")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    root = etree.fromstring(response.content)
    assert root.tag == f"{{{WSDL}}}definitions"
    listed = root.xpath("wsdl:portType/wsdl:operation/@name", namespaces={"wsdl": WSDL})
    served = [op.name for op in service.operations if op.name in services.HANDLERS]
    assert listed == served
    address = root.find(f".//{{{WSDL_SOAP}}}address")
    assert address is not None
    assert address.get("location") == f"http://sandbox{service.path}"
    body = root.find(f".//{{{WSDL_SOAP}}}body")
    if served:
        assert body is not None
        assert body.get("use") == "encoded"
        assert body.get("namespace") == c.LA_NS


async def test_wsdl_address_follows_the_host_it_was_asked_at(app: Any) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://la.test:8123") as http:
        response = await http.get(f"{USERS}?WSDL")
    assert b'location="http://la.test:8123/webservices/soap/user.cfc"' in response.content


async def test_get_without_wsdl_says_what_to_do(client: httpx.AsyncClient) -> None:
    response = await client.get(USERS)
    assert response.status_code == 200
    assert "?wsdl" in response.text
    assert "GetTrainers" in response.text


@pytest.mark.parametrize("path", ["/", "/webservices/soap/nothing.cfc", "/_sandbox/nope"])
async def test_unknown_paths_are_404(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.post(path, content=b"<x/>")).status_code == 404
    assert (await client.get(path)).status_code == 404


async def test_stats_count_every_call(la: LA, client: httpx.AsyncClient, db: SandboxDB) -> None:
    token = await la.authenticate()
    await la.call("GetTrainers", token)
    await la.call("GetTrainers", token)
    await la.send("GetCompanies", None, Token(id="1", uuid="x"))  # refused, still counted
    response = await client.get("/_sandbox/stats")
    assert response.status_code == 200
    stats = response.json()
    assert stats["calls"] == {"Authenticate": 1, "GetTrainers": 2, "GetCompanies": 1}
    assert stats["candidates"] == db.stats()["candidates"] > 0
    assert stats["duplicate_source_ids"] == 0


def test_every_operation_of_the_catalogue_is_served() -> None:
    unserved = [op for s in c.SERVICES for op in s.operations if op.name not in services.HANDLERS]
    assert unserved == []


async def test_an_unexpected_error_is_a_logged_server_fault(
    tmp_path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    # A real broken database: the trainers table dropped behind the sandbox's back.
    path = tmp_path / "la.sqlite"
    db = SandboxDB(f"sqlite:///{path}")
    app = create_app(db, username=USERNAME, password=PASSWORD, clock=clock)
    with sqlite3.connect(path) as raw:
        raw.execute("DROP TABLE trainers")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        la = LA(http)
        token = await la.authenticate()
        with caplog.at_level(logging.ERROR, logger="labridge.sandbox"):
            fault = la.fault(await la.send("GetTrainers", None, token))
        assert fault.faultcode == "soapenv:Server"
        assert "trainers" not in fault.faultstring  # internals stay in the log
        assert any(r.exc_info for r in caplog.records)
        await la.call("GetCompanies", token)  # the app goes on answering
    db.close()
