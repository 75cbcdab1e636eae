"""Hostile and broken requests: each is a soapenv:Client fault with HTTP 500, never a crash or a
hang, and the sandbox answers a normal call afterwards."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from labridge import contract as c
from labridge.sandbox.app import create_app
from labridge.sandbox.db import SandboxDB
from labridge.soap import Limits

from .conftest import BASE_URL, LA, PASSWORD, USERNAME, ManualClock

MAX_BYTES = 64 * 1024
MAX_NODES = 1_000
USERS = "/webservices/soap/user.cfc"
COURSES = "/webservices/soap/course.cfc"

ENV_OPEN = f'<soapenv:Envelope xmlns:soapenv="{c.SOAP_ENV}" xmlns:ns1="{c.LA_NS}">'


def _envelope(body: str, extra_ns: str = "") -> str:
    return f"""<soapenv:Envelope xmlns:soapenv="{c.SOAP_ENV}" xmlns:ns1="{c.LA_NS}"
    xmlns:soapenc="{c.SOAP_ENC}" xmlns:xsi="{c.XSI}" {extra_ns}>
  <soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"""


def _candidates_with(course_qan: str, *siblings: str) -> str:
    """GetCandidates whose CourseQAN parameter is ``course_qan`` (raw XML), plus Body siblings."""
    return _envelope(f"<ns1:GetCandidates>{course_qan}</ns1:GetCandidates>" + "".join(siblings))


def _fan_out(levels: int, width: int) -> str:
    # Each level holds `width` references to the next: width**levels nodes after resolution,
    # from a message of about levels*width elements.
    refs = [
        f'<multiRef id="l{n}" soapenc:root="0">'
        + "".join(f'<x href="#l{n + 1}"/>' for _ in range(width))
        + "</multiRef>"
        for n in range(levels)
    ]
    refs.append(f'<multiRef id="l{levels}" soapenc:root="0">leaf</multiRef>')
    return _candidates_with('<CourseQAN href="#l0"/>', *refs)


def _href_chain(length: int) -> str:
    # Each multiRef points at the next: deep recursion from a flat, small message.
    refs = [
        f'<multiRef id="r{n}" soapenc:root="0"><x href="#r{n + 1}"/></multiRef>'
        for n in range(length)
    ]
    refs.append(f'<multiRef id="r{length}" soapenc:root="0">leaf</multiRef>')
    return _candidates_with('<CourseQAN href="#r0"/>', *refs)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
""" + _candidates_with("<CourseQAN>&lol9;</CourseQAN>")

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
""" + _candidates_with("<CourseQAN>&xxe;</CourseQAN>")

# The GroupEnrolment sample's own flaw (docs/contract.md §1): xmlns:xsi declared twice.
DUPLICATE_XSI = f"""<soap:Envelope xmlns:soap="{c.SOAP_ENV}" xmlns:xsi="{c.XSI}"
    xmlns:xsi="{c.XSI}"><soap:Body><ns1:GetTrainers xmlns:ns1="{c.LA_NS}"/></soap:Body>
</soap:Envelope>"""

HOSTILE: dict[str, tuple[str, str | bytes, str]] = {
    # name: (path, body, a pattern the faultstring must match)
    # libxml2 may stop the laughs itself (amplification limit) before the DOCTYPE check.
    "billion laughs": (USERS, BILLION_LAUGHS, "DOCTYPE|malformed"),
    "external entity": (USERS, EXTERNAL_ENTITY, "DOCTYPE"),
    "processing instruction": (
        USERS,
        '<?xml version="1.0"?><?xml-stylesheet href="http://evil.example/x.xsl"?>'
        + _candidates_with("<CourseQAN/>"),
        "processing instruction",
    ),
    "processing instruction inside": (
        USERS, _candidates_with("<CourseQAN><?php system('id'); ?></CourseQAN>"),
        "processing instruction",
    ),
    "malformed XML": (USERS, ENV_OPEN + "<soapenv:Body><ns1:GetTrainers>", "malformed"),
    "not XML at all": (USERS, b"\x00\xff\xfe garbage", "malformed"),
    "duplicated xmlns:xsi": (USERS, DUPLICATE_XSI, "malformed"),
    "href cycle": (
        USERS,
        _candidates_with(
            '<CourseQAN href="#a"/>',
            '<multiRef id="a" soapenc:root="0"><x href="#b"/></multiRef>',
            '<multiRef id="b" soapenc:root="0"><y href="#a"/></multiRef>',
        ),
        "cycle",
    ),
    "href to itself": (
        USERS,
        _candidates_with('<CourseQAN href="#me"/>', '<multiRef id="me" soapenc:root="0">'
                         '<x href="#me"/></multiRef>'),
        "cycle",
    ),
    "href to a URL": (
        USERS, _candidates_with('<CourseQAN href="http://evil.example/payload.xml"/>'), "local"
    ),
    "href to a file": (USERS, _candidates_with('<CourseQAN href="file:///etc/passwd"/>'), "local"),
    "href to nothing": (USERS, _candidates_with('<CourseQAN href="#missing"/>'), "no element"),
    "huge href fan-out": (USERS, _fan_out(levels=4, width=10), "nodes"),
    # Under MAX_NODES, but deep enough to exhaust a recursive decoder's stack.
    "deep href chain": (USERS, _href_chain(450), "deeper|too deep"),
    "non-SOAP root": (USERS, "<Envelope><Body><GetTrainers/></Body></Envelope>", "Envelope"),
    "SOAP 1.2 envelope": (
        USERS,
        '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body/>'
        "</env:Envelope>",
        "SOAP 1.1",
    ),
    "no Body": (USERS, ENV_OPEN + "</soapenv:Envelope>", "Body"),
    "empty Body": (USERS, _envelope(""), "no operation"),
    "empty body": (USERS, b"", "empty"),
    "whitespace body": (USERS, b"  \r\n\t ", "empty"),
    "wrong operation for the path": (COURSES, _envelope("<ns1:GetTrainers/>"), "user.cfc"),
    "unknown operation": (USERS, _envelope("<ns1:DropAllTables/>"), "unknown operation"),
    "repeated id": (
        USERS,
        _candidates_with(
            '<CourseQAN href="#a"/>',
            '<multiRef id="a" soapenc:root="0">1</multiRef>',
            '<multiRef id="a" soapenc:root="0">2</multiRef>',
        ),
        "twice",
    ),
}  # fmt: skip


@pytest.fixture
def app(db: SandboxDB, clock: ManualClock) -> Starlette:
    limits = Limits(max_bytes=MAX_BYTES, max_nodes=MAX_NODES)
    return create_app(db, username=USERNAME, password=PASSWORD, clock=clock, limits=limits)


async def _still_answers(la: LA) -> None:
    token = await la.authenticate()
    decoded = await la.call("GetTrainers", token)
    assert decoded.value


def _assert_client_fault(la: LA, response: httpx.Response, word: str) -> None:
    fault = la.fault(response)
    assert fault.faultcode == "soapenv:Client"
    assert re.search(word, fault.faultstring, re.IGNORECASE), fault.faultstring


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_hostile_request_is_a_client_fault(la: LA, case: str) -> None:
    path, body, word = HOSTILE[case]
    _assert_client_fault(la, await la.post(path, body), word)
    await _still_answers(la)


async def test_hostile_request_with_a_valid_token_is_still_a_client_fault(la: LA) -> None:
    token = await la.authenticate()
    header = (
        f'<soapenv:Header><authToken xmlns="{c.LA_NS_HTTP}"><id>{token.id}</id>'
        f"<uuid>{token.uuid}</uuid></authToken></soapenv:Header>"
    )
    body = _fan_out(levels=4, width=10).replace("<soapenv:Body>", header + "<soapenv:Body>")
    _assert_client_fault(la, await la.post(USERS, body), "nodes")
    await la.call("GetTrainers", token)


def _oversized() -> bytes:
    padding = "x" * (MAX_BYTES + 1)
    return _candidates_with(f"<CourseQAN>{padding}</CourseQAN>").encode()


async def test_oversized_body_with_content_length_is_refused(la: LA) -> None:
    _assert_client_fault(la, await la.post(USERS, _oversized()), "exceeds the limit")
    await _still_answers(la)


async def test_oversized_body_without_content_length_is_refused(
    la: LA, client: httpx.AsyncClient
) -> None:
    data = _oversized()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 4096):
            yield data[start : start + 4096]

    response = await client.post(USERS, content=chunks())
    assert "content-length" not in response.request.headers
    _assert_client_fault(la, response, "exceeds the limit")
    await _still_answers(la)


async def _raw_asgi(app: Starlette, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> Any:
    """Drive the app as a server would, with headers and body chunks exactly as given."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": USERS, "raw_path": USERS.encode(), "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 1),
        "server": ("sandbox", 80),
    }  # fmt: skip
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


async def test_a_lying_content_length_gets_no_further(app: Starlette, la: LA) -> None:
    data = _oversized()
    chunks = [data[i : i + 8192] for i in range(0, len(data), 8192)]
    status, body = await _raw_asgi(app, [(b"content-length", b"100")], chunks)
    assert status == 500
    _assert_client_fault(la, httpx.Response(500, content=body, headers=_XML), "exceeds the limit")
    await _still_answers(la)


_XML = {"content-type": "text/xml; charset=utf-8"}


@pytest.mark.parametrize("value", [b"lots", b"-1x", b"9" * 40])
async def test_a_garbled_content_length_is_refused(app: Starlette, la: LA, value: bytes) -> None:
    status, body = await _raw_asgi(app, [(b"content-length", value)], [b"<x/>"])
    assert status == 500
    fault = la.fault(httpx.Response(500, content=body, headers=_XML))
    assert fault.faultcode == "soapenv:Client"


async def test_a_body_just_under_the_cap_is_parsed(la: LA) -> None:
    token = await la.authenticate()
    head = _candidates_with("<CourseQAN>{}</CourseQAN>")
    filler = " " * (MAX_BYTES - len(head.encode()) - 500)
    body = head.replace("{}", "").replace("</soapenv:Envelope>", filler + "</soapenv:Envelope>")
    body = body.replace(
        "<soapenv:Body>",
        f'<soapenv:Header><authToken xmlns="{c.LA_NS_HTTP}"><id>{token.id}</id>'
        f"<uuid>{token.uuid}</uuid></authToken></soapenv:Header><soapenv:Body>",
    )
    assert len(body.encode()) <= MAX_BYTES
    response = await la.post(USERS, body)
    assert response.status_code == 200, response.text


async def test_client_faults_carry_no_token(la: LA) -> None:
    response = await la.post(USERS, "<x/>")
    assert b"<id" not in response.content
    assert b"uuid" not in response.content


async def test_a_wsdl_get_with_a_hostile_query_string_is_answered_as_usual(
    client: httpx.AsyncClient,
) -> None:
    # A GET with a hostile query string is answered like any other GET.
    response = await client.get(USERS, params={"wsdl": "<!DOCTYPE x>", "x": "&lol;"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    assert BASE_URL.encode() in response.content
