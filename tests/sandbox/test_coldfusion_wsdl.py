"""The ``coldfusion`` dialect over a real loopback socket: its WSDLs in ColdFusion's form
(docs/contract.md
§5 "WSDLs"), zeep and suds-community loading each and calling GetTrainers and GetCandidates with
an auth header built by hand (the WSDL declares none, as on the real LA), an answer read at the
XML level over TCP, and ``labridge sandbox serve --dialect coldfusion`` in a child process.

zeep is given the local soap-encoding schema as in test_wsdl_interop.py; suds ships its own.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import suds
import suds.client
import suds.sax.element
import zeep
import zeep.exceptions
import zeep.helpers
import zeep.plugins
from lxml import etree

from labridge import contract as c
from labridge import soap
from labridge.sandbox import services
from labridge.sandbox.db import SandboxDB
from labridge.sandbox.defaults import Dialect
from labridge.sandbox.server import RunningSandbox

from . import cfxml
from .conftest import PASSWORD, USERNAME, sandbox_runner
from .test_coldfusion import RESPONSE_KEYS
from .test_wsdl_interop import ALL_CANDIDATES, OfflineTransport

W = "http://schemas.xmlsoap.org/wsdl/"
WSOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
WNS = {"wsdl": W, "wsdlsoap": WSOAP, "xsd": c.XSD}
CF_RPC = "http://rpc.xml.coldfusion"
LONDON = ZoneInfo("Europe/London")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with sandbox_runner(Dialect.COLDFUSION, username=USERNAME, password=PASSWORD) as running:
        yield running


@pytest.fixture(scope="module")
def sandbox_db(sandbox: RunningSandbox) -> SandboxDB:
    db: SandboxDB = sandbox.app.state.db
    return db


def _wsdl_url(sandbox: RunningSandbox, service: c.Service) -> str:
    return f"{sandbox.url}{service.path}?wsdl"


def _served(service: c.Service) -> list[str]:
    return sorted(op.name for op in service.operations if op.name in services.HANDLERS)


def _wsdl(sandbox: RunningSandbox, service: c.Service) -> etree._Element:
    response = httpx.get(_wsdl_url(sandbox, service), timeout=10)
    assert response.status_code == 200
    return etree.fromstring(response.content)


# -- the WSDLs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("service", c.SERVICES, ids=lambda s: s.file)
def test_each_wsdl_has_coldfusions_form(sandbox: RunningSandbox, service: c.Service) -> None:
    root = _wsdl(sandbox, service)
    comments = [node.text for node in root.iter(etree.Comment)]
    assert comments == ["WSDL created by ColdFusion version 2021,0,0,0"]
    assert root.nsmap["impl"] == root.nsmap["intf"] == c.LA_NS == root.get("targetNamespace")
    assert root.nsmap["apachesoap"] == cfxml.APACHE_SOAP
    assert root.nsmap["tns1"] == CF_RPC
    assert root.nsmap["wsdlsoap"] == WSOAP
    exception = root.find(
        f"wsdl:types/xsd:schema[@targetNamespace='{CF_RPC}']/xsd:complexType", WNS
    )
    assert exception is not None
    assert exception.get("name") == "CFCInvocationException"
    component = service.file.removesuffix(".cfc")
    binding = root.find("wsdl:binding", WNS)
    assert binding is not None
    assert (binding.get("name"), binding.get("type")) == (
        f"{service.file}SoapBinding",
        f"impl:{component}",
    )
    wsdl_service = root.find("wsdl:service", WNS)
    assert wsdl_service is not None
    assert wsdl_service.get("name") == f"{component}Service"
    port = wsdl_service.find("wsdl:port", WNS)
    assert port is not None
    assert port.get("name") == service.file
    assert not list(root.iter(f"{{{WSOAP}}}header"))  # ColdFusion declares no header
    ops = root.findall("wsdl:portType/wsdl:operation", WNS)
    assert sorted(str(op.get("name")) for op in ops) == _served(service)
    for op in ops:
        fault = op.find("wsdl:fault", WNS)
        assert fault is not None
        assert fault.get("message") == "impl:CFCInvocationException"


def test_user_types_are_nillable_soapenc_members_and_arrays_live_in_the_component(
    sandbox: RunningSandbox,
) -> None:
    root = _wsdl(sandbox, c.service_of("GetCandidates"))
    prefix = next(p for p, ns in root.nsmap.items() if ns == c.USER_TYPES_NS)
    assert prefix == "tns2"
    candidate = root.find(
        f"wsdl:types/xsd:schema[@targetNamespace='{c.USER_TYPES_NS}']"
        "/xsd:complexType[@name='Type_candidate']/xsd:sequence",
        WNS,
    )
    assert candidate is not None
    members = {str(el.get("name")): el for el in candidate}
    assert all(el.get("nillable") == "true" for el in members.values())
    assert members["CandidateUUID"].get("type") == "soapenc:string"
    assert members["StartDate"].get("type") == "xsd:dateTime"
    array = root.find(
        f"wsdl:types/xsd:schema[@targetNamespace='{c.LA_NS}']"
        "/xsd:complexType[@name='ArrayOf_tns2_Type_candidate']",
        WNS,
    )
    assert array is not None
    attribute = array.find("xsd:complexContent/xsd:restriction/xsd:attribute", WNS)
    assert attribute is not None
    assert attribute.get(f"{{{W}}}arrayType") == "tns2:Type_candidate[]"
    returned = root.find("wsdl:message[@name='GetCandidatesResponse']/wsdl:part", WNS)
    assert returned is not None
    assert returned.get("type") == "impl:ArrayOf_tns2_Type_candidate"


def test_the_enrolment_answer_is_declared_a_map(sandbox: RunningSandbox) -> None:
    root = _wsdl(sandbox, c.service_of("GroupEnrolment"))
    returned = root.find("wsdl:message[@name='GroupEnrolmentResponse']/wsdl:part", WNS)
    assert returned is not None
    assert returned.get("type") == "apachesoap:Map"
    names = {el.get("name") for el in root.iter(f"{{{c.XSD}}}complexType")}
    assert {"Map", "mapItem", "Type_enrolmentUser"} <= names


# -- an answer over TCP ------------------------------------------------------------------------


def test_an_answer_over_tcp_is_coldfusions(sandbox: RunningSandbox, sandbox_db: SandboxDB) -> None:
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}

    def post(name: str, params: dict[str, Any], token: Any = None) -> httpx.Response:
        body = soap.encode_request(c.operation(name), params, token)
        return httpx.post(sandbox.url + c.service_of(name).path, content=body, headers=headers)

    auth = post("Authenticate", {"szUsername": USERNAME, "szPassword": PASSWORD})
    token = cfxml.token(auth.content)
    names = [p.name for p in c.operation("GetCandidates").params]
    params = dict(zip(names, ALL_CANDIDATES, strict=True))
    response = post("GetCandidates", params, token)
    assert response.status_code == 200
    rows = cfxml.answer(response.content, c.operation("GetCandidates"))
    expected = sandbox_db.candidates(*ALL_CANDIDATES)
    assert [row["CandidateUUID"][1] for row in rows] == [e.candidate_uuid for e in expected]
    assert {row["StartDate"][0] for row in rows} == {cfxml.XSD_DATETIME}


# -- zeep --------------------------------------------------------------------------------------


def _header(token_id: str, token_uuid: str) -> etree._Element:
    """The authToken header as a scripter builds it for the real LA (style B, docs/contract.md
    §2)."""
    header = etree.Element(f"{{{c.LA_NS_HTTP}}}{c.AUTH_HEADER}", nsmap={None: c.LA_NS_HTTP})  # type: ignore[dict-item]
    etree.SubElement(header, f"{{{c.LA_NS_HTTP}}}{c.AUTH_ID}").text = token_id
    etree.SubElement(header, f"{{{c.LA_NS_HTTP}}}{c.AUTH_UUID}").text = token_uuid
    return header


def _token_in(envelope: etree._Element) -> tuple[str, str]:
    header = envelope.find(f".//{{{c.LA_NS}}}{c.AUTH_HEADER}")
    assert header is not None
    assert header.get(c.AUTH_LOGGEDIN) == c.YES
    return str(header.findtext(f"{{{c.LA_NS}}}{c.AUTH_ID}")), str(
        header.findtext(f"{{{c.LA_NS}}}{c.AUTH_UUID}")
    )


@pytest.fixture
def zeep_client(sandbox: RunningSandbox) -> Iterator[Any]:
    clients: list[zeep.Client] = []

    def make(service: c.Service, *plugins: Any) -> zeep.Client:
        url = _wsdl_url(sandbox, service)
        client = zeep.Client(url, transport=OfflineTransport(), plugins=list(plugins))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.transport.session.close()


def _zeep_login(zeep_client: Any) -> etree._Element:
    history = zeep.plugins.HistoryPlugin()
    auth = zeep_client(c.service_of("Authenticate"), history)
    # No header in the WSDL: zeep gives the body's value alone, the token is in the raw answer.
    assert auth.service.Authenticate(USERNAME, PASSWORD) == c.YES
    assert history.last_received is not None
    return _header(*_token_in(history.last_received["envelope"]))


def _unwrap(value: Any) -> Any:
    """zeep reads a soapenc:string member as a complex value holding ``_value_1``."""
    if isinstance(value, dict) and "_value_1" in value:
        return _unwrap(value["_value_1"])
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def _zeep_rows(answer: Any) -> list[dict[str, Any]]:
    return [_unwrap(dict(zeep.helpers.serialize_object(row))) for row in answer]


def _london(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=LONDON)


def test_zeep_calls_get_trainers_with_a_hand_built_header(
    zeep_client: Any, sandbox_db: SandboxDB
) -> None:
    header = _zeep_login(zeep_client)
    answer = zeep_client(c.service_of("GetTrainers")).service.GetTrainers(_soapheaders=[header])
    rows = _zeep_rows(answer)
    wire = c.to_wire(c.operation("GetTrainers").returns, sandbox_db.trainers(), omit_unset=False)
    assert rows == [{k: (None if v == "" else v) for k, v in t.items()} for t in wire]


def test_zeep_calls_get_candidates_and_reads_dates_as_london_midnight(
    zeep_client: Any, sandbox_db: SandboxDB
) -> None:
    header = _zeep_login(zeep_client)
    users = zeep_client(c.service_of("GetCandidates"))
    rows = _zeep_rows(users.service.GetCandidates(*ALL_CANDIDATES, _soapheaders=[header]))
    expected = sandbox_db.candidates(*ALL_CANDIDATES)
    assert [r["CandidateUUID"] for r in rows] == [e.candidate_uuid for e in expected]
    assert [r["Surname"] for r in rows] == [e.surname for e in expected]
    for row, cand in zip(rows, expected, strict=True):
        assert row["StartDate"] == _london(cand.start_date).astimezone(UTC)
    narrow = users.service.GetCandidates("", True, False, False, _soapheaders=[header])
    assert len(_zeep_rows(narrow)) == len(sandbox_db.candidates()) < len(expected)


def test_zeep_reads_nationality_ids_as_doubles(zeep_client: Any, sandbox_db: SandboxDB) -> None:
    header = _zeep_login(zeep_client)
    answer = zeep_client(c.service_of("GetNationalities")).service.GetNationalities(
        _soapheaders=[header]
    )
    rows = _zeep_rows(answer)
    assert [r["NationalityID"] for r in rows] == [
        float(n.nationality_id) for n in sandbox_db.nationalities()
    ]


def test_zeep_reads_the_enrolment_map(zeep_client: Any) -> None:
    header = _zeep_login(zeep_client)
    update = zeep_client(c.service_of("UpdateEnrolment"))
    answer = update.service.UpdateEnrolment({"CandidateUUID": "nobody"}, _soapheaders=[header])
    items = {_unwrap(i["key"]): i["value"] for i in zeep.helpers.serialize_object(answer)}
    assert sorted(items) == RESPONSE_KEYS
    assert _unwrap(items["SUCCESS"]) is False


def test_zeep_sees_the_wrapped_authentication_fault(zeep_client: Any) -> None:
    with pytest.raises(zeep.exceptions.Fault) as caught:
        zeep_client(c.service_of("GetTrainers")).service.GetTrainers()
    assert caught.value.code == c.AUTH_FAULTCODE
    assert caught.value.message.startswith("coldfusion.xml.rpc.CFCInvocationException: [")
    assert c.AUTH_FAILED_PREFIX in caught.value.message


@pytest.mark.parametrize("service", c.SERVICES, ids=lambda s: s.file)
def test_zeep_loads_every_coldfusion_wsdl(
    zeep_client: Any, sandbox: RunningSandbox, service: c.Service
) -> None:
    (wsdl_service,) = zeep_client(service).wsdl.services.values()
    (port,) = wsdl_service.ports.values()
    assert sorted(port.binding._operations) == _served(service)
    assert port.binding_options["address"] == sandbox.url + service.path


# -- suds --------------------------------------------------------------------------------------


def _suds_client(sandbox: RunningSandbox, service: c.Service) -> Any:
    return suds.client.Client(_wsdl_url(sandbox, service), cache=None)


def _suds_login(sandbox: RunningSandbox, service: c.Service) -> Any:
    auth = _suds_client(sandbox, c.service_of("Authenticate"))
    assert auth.service.Authenticate(USERNAME, PASSWORD) == c.YES
    envelope = etree.fromstring(auth.last_received().str().encode())
    token_id, token_uuid = _token_in(envelope)
    client = _suds_client(sandbox, service)
    header = suds.sax.element.Element(c.AUTH_HEADER, ns=(None, c.LA_NS_HTTP))
    header.append(suds.sax.element.Element(c.AUTH_ID).setText(token_id))
    header.append(suds.sax.element.Element(c.AUTH_UUID).setText(token_uuid))
    client.set_options(soapheaders=header)
    return client


def _suds_rows(rows: Any) -> list[dict[str, Any]]:
    return [dict(suds.client.Client.dict(row)) for row in rows]


def test_suds_calls_get_trainers_with_a_hand_built_header(
    sandbox: RunningSandbox, sandbox_db: SandboxDB
) -> None:
    client = _suds_login(sandbox, c.service_of("GetTrainers"))
    rows = _suds_rows(client.service.GetTrainers())
    trainers = sandbox_db.trainers()
    assert [r["TrainerUUID"] for r in rows] == [t.trainer_uuid for t in trainers]
    # suds leaves soapenc:boolean as its text.
    assert [r["IsAssessor"] for r in rows] == [str(t.is_assessor).lower() for t in trainers]


def test_suds_calls_get_candidates_and_reads_dates(
    sandbox: RunningSandbox, sandbox_db: SandboxDB
) -> None:
    client = _suds_login(sandbox, c.service_of("GetCandidates"))
    rows = _suds_rows(client.service.GetCandidates(*ALL_CANDIDATES))
    expected = sandbox_db.candidates(*ALL_CANDIDATES)
    assert [r["CandidateUUID"] for r in rows] == [e.candidate_uuid for e in expected]
    for row, cand in zip(rows, expected, strict=True):
        assert row["StartDate"] == _london(cand.start_date).astimezone(UTC)


@pytest.mark.parametrize("service", c.SERVICES, ids=lambda s: s.file)
def test_suds_loads_every_coldfusion_wsdl(sandbox: RunningSandbox, service: c.Service) -> None:
    client = _suds_client(sandbox, service)
    (port,) = client.wsdl.services[0].ports
    assert sorted(port.methods) == _served(service)


# -- labridge sandbox serve --dialect coldfusion -----------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _labridge() -> str:
    return str(Path(sys.executable).with_name("labridge"))


def test_sandbox_serve_speaks_coldfusion_when_asked() -> None:
    port = _free_port()
    args = [_labridge(), "sandbox", "serve", "--port", str(port), "--dialect", "coldfusion"]
    env = {**os.environ, "COLUMNS": "200"}
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        url = f"http://127.0.0.1:{port}/webservices/soap/user.cfc?wsdl"
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(url, timeout=2)
                break
            except httpx.TransportError:
                assert child.poll() is None, "sandbox serve exited early"
                assert time.monotonic() < deadline, "sandbox serve did not start"
                time.sleep(0.1)
        assert b"<!--WSDL created by ColdFusion version" in response.content
    finally:
        child.terminate()
        _, err = child.communicate(timeout=10)
    assert b"coldfusion dialect" in err


def test_sandbox_serve_refuses_an_unknown_dialect() -> None:
    result = subprocess.run(
        [_labridge(), "sandbox", "serve", "--dialect", "cobol"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 2
    assert "cobol" in result.stderr
    assert "samples" in result.stderr
    assert "coldfusion" in result.stderr
    assert "Traceback" not in result.stderr
