"""Third-party SOAP clients against the sandbox's WSDLs over a real loopback socket: zeep and
suds-community each load a WSDL, authenticate, and call GetTrainers and GetCandidates with the
token: real clients, a real socket, no mocks.

No network exists here but loopback. zeep downloads the SOAP-encoding schema as soon as a WSDL
refers to soapenc:Array, so its transport serves a local copy; suds ships that schema in its own
document store. Neither needs anything else.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import suds
import suds.client
import zeep
import zeep.exceptions
import zeep.helpers
import zeep.transports

from labridge import contract as c
from labridge.sandbox import services
from labridge.sandbox.db import SandboxDB
from labridge.sandbox.server import RunningSandbox, start_background

from .conftest import PASSWORD, USERNAME

ENCODING_SCHEMA = Path(__file__).parent / "data" / "soap-encoding.xsd"
ALL_CANDIDATES = ("", True, True, True)  # CourseQAN, blnActive, blnCompleted, blnTest


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with start_background(username=USERNAME, password=PASSWORD) as running:
        yield running


@pytest.fixture(scope="module")
def sandbox_db(sandbox: RunningSandbox) -> SandboxDB:
    db: SandboxDB = sandbox.app.state.db
    return db


def _wsdl_url(sandbox: RunningSandbox, operation: str) -> str:
    return f"{sandbox.url}{c.service_of(operation).path}?wsdl"


def _served(service: c.Service) -> list[str]:
    return sorted(op.name for op in service.operations if op.name in services.HANDLERS)


def _expected(operation: str, records: list[Any]) -> list[dict[str, Any]]:
    """The records as a generic client sees them: wire names, and no value for empty strings."""
    wire = c.to_wire(c.operation(operation).returns, records, omit_unset=False)
    return [{k: (None if v == "" else v) for k, v in item.items()} for item in wire]


# -- zeep --------------------------------------------------------------------------------------


class OfflineTransport(zeep.transports.Transport):
    """Serves the SOAP-encoding schema from tests/sandbox/data; refuses anything not loopback."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def load(self, url: str) -> bytes:
        if url.rstrip("/") == c.SOAP_ENC.rstrip("/"):
            return ENCODING_SCHEMA.read_bytes()
        assert url.startswith("http://127.0.0.1:"), f"zeep tried to fetch {url}"
        loaded: bytes = super().load(url)  # type: ignore[no-untyped-call]
        return loaded


@pytest.fixture
def zeep_client(sandbox: RunningSandbox) -> Iterator[Any]:
    clients: list[zeep.Client] = []

    def make(operation: str) -> zeep.Client:
        client = zeep.Client(_wsdl_url(sandbox, operation), transport=OfflineTransport())
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.transport.session.close()


def _zeep_token(zeep_client: Any, password: str = PASSWORD) -> dict[str, str]:
    answer = zeep_client("Authenticate").service.Authenticate(USERNAME, password)
    assert answer.body.AuthenticateReturn == "YES"
    token = answer.header.authToken
    assert token.loggedin == "YES"
    return {"id": token.id, "uuid": token.uuid}


def _zeep_rows(answer: Any, operation: str) -> list[dict[str, Any]]:
    assert answer.header.authToken.loggedin == "YES"
    rows = getattr(answer.body, c.operation(operation).return_element)
    return [dict(zeep.helpers.serialize_object(row)) for row in rows]


def test_zeep_authenticates_and_calls_get_trainers(zeep_client: Any, sandbox_db: SandboxDB) -> None:
    token = _zeep_token(zeep_client)
    users = zeep_client("GetTrainers")
    answer = users.service.GetTrainers(_soapheaders={"authToken": token})
    assert _zeep_rows(answer, "GetTrainers") == _expected("GetTrainers", sandbox_db.trainers())
    assert answer.header.authToken.id == token["id"]  # the answer repeats the token


def test_zeep_calls_get_candidates_with_its_parameters(
    zeep_client: Any, sandbox_db: SandboxDB
) -> None:
    token = _zeep_token(zeep_client)
    users = zeep_client("GetCandidates")
    answer = users.service.GetCandidates(*ALL_CANDIDATES, _soapheaders={"authToken": token})
    expected = sandbox_db.candidates(*ALL_CANDIDATES)
    assert _zeep_rows(answer, "GetCandidates") == _expected("GetCandidates", expected)
    narrow = users.service.GetCandidates("", True, False, False, _soapheaders={"authToken": token})
    assert len(_zeep_rows(narrow, "GetCandidates")) == len(sandbox_db.candidates()) < len(expected)


def test_zeep_reads_frameworks_with_their_nested_unit_arrays(
    zeep_client: Any, sandbox_db: SandboxDB
) -> None:
    token = _zeep_token(zeep_client)
    answer = zeep_client("GetFrameworks").service.GetFrameworks(_soapheaders={"authToken": token})
    rows = _zeep_rows(answer, "GetFrameworks")
    frameworks = sandbox_db.frameworks()
    assert [r["CourseUUID"] for r in rows] == [f.course_uuid for f in frameworks]
    assert [[u["UnitUUID"] for u in r["Units"]] for r in rows] == [
        [u.unit_uuid for u in f.units] for f in frameworks
    ]


def test_zeep_sees_wrong_credentials_as_no(zeep_client: Any) -> None:
    answer = zeep_client("Authenticate").service.Authenticate(USERNAME, "wrong")
    assert answer.body.AuthenticateReturn == "NO"
    assert answer.header.authToken.loggedin == "NO"
    assert answer.header.authToken.id is None


def test_zeep_sees_a_missing_token_as_an_authentication_fault(zeep_client: Any) -> None:
    with pytest.raises(zeep.exceptions.Fault) as caught:
        zeep_client("GetTrainers").service.GetTrainers()
    assert caught.value.message.startswith(c.AUTH_FAILED_PREFIX)
    assert caught.value.code == c.AUTH_FAULTCODE


@pytest.mark.parametrize("service", c.SERVICES, ids=lambda s: s.file)
def test_zeep_loads_every_wsdl(
    zeep_client: Any, sandbox: RunningSandbox, service: c.Service
) -> None:
    client = zeep_client(service.operations[0].name)
    (wsdl_service,) = client.wsdl.services.values()
    (port,) = wsdl_service.ports.values()
    assert sorted(port.binding._operations) == _served(service)
    assert port.binding_options["address"] == sandbox.url + service.path


# -- suds --------------------------------------------------------------------------------------


@pytest.fixture
def suds_client(sandbox: RunningSandbox) -> Any:
    def make(operation: str) -> suds.client.Client:
        # cache=None: nothing written outside the test; suds serves soapenc from its own store.
        return suds.client.Client(_wsdl_url(sandbox, operation), cache=None)

    return make


def _suds_token(suds_client: Any) -> tuple[str, str]:
    auth = suds_client("Authenticate")
    assert auth.service.Authenticate(USERNAME, PASSWORD) == "YES"
    # suds returns only the body; the token is read from the header of the raw answer.
    header = auth.last_received().getChild("Envelope").getChild("Header").getChild("authToken")
    assert header.get("loggedin") == "YES"
    return header.getChild("id").getText(), header.getChild("uuid").getText()


def _suds_client_with_token(suds_client: Any, operation: str) -> Any:
    token_id, token_uuid = _suds_token(suds_client)
    client = suds_client(operation)
    header = client.factory.create(f"{{{c.LA_NS_HTTP}}}{c.AUTH_HEADER}")
    header.id, header.uuid = token_id, token_uuid
    client.set_options(soapheaders={c.AUTH_HEADER: header})
    return client


def _suds_rows(rows: Any) -> list[dict[str, Any]]:
    return [dict(suds.client.Client.dict(row)) for row in rows]


def test_suds_authenticates_and_calls_get_trainers(suds_client: Any, sandbox_db: SandboxDB) -> None:
    client = _suds_client_with_token(suds_client, "GetTrainers")
    rows = _suds_rows(client.service.GetTrainers())
    assert rows == _expected("GetTrainers", sandbox_db.trainers())


def test_suds_calls_get_candidates_with_its_parameters(
    suds_client: Any, sandbox_db: SandboxDB
) -> None:
    client = _suds_client_with_token(suds_client, "GetCandidates")
    rows = _suds_rows(client.service.GetCandidates(*ALL_CANDIDATES))
    assert rows == _expected("GetCandidates", sandbox_db.candidates(*ALL_CANDIDATES))


def test_suds_sees_a_foreign_token_as_an_authentication_fault(suds_client: Any) -> None:
    client = suds_client("GetTrainers")
    header = client.factory.create(f"{{{c.LA_NS_HTTP}}}{c.AUTH_HEADER}")
    header.id, header.uuid = _suds_token(suds_client)[0], "00000000-0000-4000-8000-000000000000"
    client.set_options(soapheaders={c.AUTH_HEADER: header})
    with pytest.raises(suds.WebFault) as caught:
        client.service.GetTrainers()
    assert caught.value.fault.faultstring.startswith(c.AUTH_FAILED_PREFIX)


@pytest.mark.parametrize("service", c.SERVICES, ids=lambda s: s.file)
def test_suds_loads_every_wsdl(suds_client: Any, service: c.Service) -> None:
    client = suds_client(service.operations[0].name)
    (port,) = client.wsdl.services[0].ports
    assert sorted(port.methods) == _served(service)
    assert port.location == client.wsdl.url.removesuffix("?wsdl")
