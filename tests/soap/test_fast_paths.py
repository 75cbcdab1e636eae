"""The codec's fast paths give what its careful paths give (issue 11 item 4).

Parsing: a plain message (UTF-8 or ASCII, within the caps by its bytes, no ``<!`` or ``<?``) is
parsed in one call; any other goes through the counting parser (soap/xml.py). Both must build the
same tree, and every message the counting parser refuses must still be refused. Encoding: the
enrolment request is written as text, and must be the bytes lxml writes for it; a request the text
writer cannot write exactly goes to lxml.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from lxml import etree

from labridge import contract as c
from labridge.errors import ProtocolError
from labridge.models import EnrolmentUser, EnrolmentUserUpdate, LAModel, Token
from labridge.soap import DEFAULT_LIMITS, Limits, decode_response, encode_request, parse, xml
from labridge.soap import encode as enc

from .test_roundtrip import records

HERE = Path(__file__).parent
MESSAGES = sorted(
    path for folder in ("samples", "golden", "coldfusion") for path in (HERE / folder).glob("*.xml")
)
TOKEN = Token(id="1234567", uuid="6F9619FF-8B86-D011-B42D-00C04FC964FF")
ENVELOPE = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
    ' xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    '<soapenv:Body><ns1:GetProgressResponse xmlns:ns1="https://api.learningassistant.com">'
    "{returned}</ns1:GetProgressResponse>{siblings}</soapenv:Body></soapenv:Envelope>"
)
GET_PROGRESS = c.operation("GetProgress")


def envelope(returned: str, siblings: str = "", *, before: str = "") -> bytes:
    return (before + ENVELOPE.format(returned=returned, siblings=siblings)).encode()


def tree(root: etree._Element) -> bytes:
    return etree.tostring(root.getroottree())


@pytest.mark.parametrize("path", MESSAGES, ids=[p.name for p in MESSAGES])
def test_both_parsers_build_the_same_tree(path: Path) -> None:
    # The samples carry comments (so parse() counts them); the plain parser must agree anyway.
    data = path.read_bytes()
    plain = etree.fromstring(data, xml._plain_parser())
    assert tree(plain) == tree(xml._parse_counting(data, DEFAULT_LIMITS)) == tree(parse(data))


def test_a_message_with_a_comment_is_parsed_by_the_counting_parser_alike() -> None:
    data = envelope("<!-- a note --><GetProgressReturn/>")
    assert not xml._plain(data, DEFAULT_LIMITS)
    assert b"note" not in tree(parse(data))  # comments are dropped, as ever


def test_a_processing_instruction_after_many_question_marks_is_refused() -> None:
    text = "why? " * 40
    returned = f'<GetProgressReturn><Status xsi:type="xsd:string">{text}</Status>'
    data = envelope(returned + '<?evil x="1"?></GetProgressReturn>')
    with pytest.raises(ProtocolError, match="processing instructions are refused"):
        parse(data)


def test_a_question_mark_in_text_keeps_a_message_plain() -> None:
    status = '<Status xsi:type="xsd:string">ok?</Status>'
    data = envelope(f"<GetProgressReturn>{status}</GetProgressReturn>")
    assert xml._plain(data, DEFAULT_LIMITS)
    assert decode_response(data, GET_PROGRESS).value == {"Status": "ok?"}


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "iso-8859-1"])
def test_other_encodings_are_read_by_the_counting_parser_alike(encoding: str) -> None:
    returned = '<GetProgressReturn><Status xsi:type="xsd:string">Café</Status></GetProgressReturn>'
    text = envelope(returned).decode()
    data = (f"<?xml version='1.0' encoding='{encoding}'?>" + text).encode(encoding)
    assert not xml._plain(data, DEFAULT_LIMITS)
    assert decode_response(data, GET_PROGRESS).value == {"Status": "Café"}


def test_an_undeclared_xml_stylesheet_is_no_xml_declaration() -> None:
    data = envelope("<GetProgressReturn/>", before='<?xml-stylesheet href="a.xsl"?>')
    assert not xml._plain(data, DEFAULT_LIMITS)
    with pytest.raises(ProtocolError, match="processing instructions are refused"):
        parse(data)


def test_malformed_plain_message_is_worded_by_the_counting_parser() -> None:
    data = envelope("<GetProgressReturn>")
    assert xml._plain(data, DEFAULT_LIMITS)
    with pytest.raises(ProtocolError, match=r"malformed XML: .*line 1, column"):
        parse(data)


def test_ids_over_the_cap_are_refused_though_the_elements_are_few() -> None:
    data = envelope("<GetProgressReturn/>", "".join(f'<a id="i{i}"/>' for i in range(50)))
    with pytest.raises(ProtocolError, match=r"more than 40 id attributes"):
        parse(data, Limits(max_ids=40))
    assert parse(data, Limits(max_ids=50)) is not None


@pytest.mark.parametrize(
    ("first", "second"),
    [("a", "a"), ("a&amp;", "a&#38;"), ("x", "x")],
    ids=["same", "same-by-reference", "same-unreferenced"],
)
def test_ids_used_twice_are_refused_however_written(first: str, second: str) -> None:
    data = envelope(
        '<GetProgressReturn><Status xsi:type="xsd:string">Active</Status></GetProgressReturn>',
        f'<multiRef id="{first}"/><multiRef id="{second}"/>',
    )
    _root, may_repeat = xml.parse_message(data)
    assert may_repeat
    with pytest.raises(ProtocolError, match="is used twice in the message"):
        decode_response(data, GET_PROGRESS)


def test_other_attributes_ending_in_id_are_no_ids() -> None:
    data = envelope(
        '<GetProgressReturn uuid="u" x:id="v" xmlns:x="urn:x" href="#t"/>',
        '<multiRef id="t"><Status xsi:type="xsd:string">Active</Status></multiRef>'
        '<multiRef uuid="t"/>',
    )
    assert xml.parse_message(data)[1] is False
    assert decode_response(data, GET_PROGRESS).value == {"Status": "Active"}


def test_an_href_to_an_id_below_the_body_is_found() -> None:
    data = envelope(
        '<GetProgressReturn><Status href="#deep"/></GetProgressReturn>',
        '<multiRef><inner id="deep" xsi:type="xsd:string">Active</inner></multiRef>',
    )
    assert decode_response(data, GET_PROGRESS).value == {"Status": "Active"}


# --- the enrolment request as text -------------------------------------------------------------


def lxml_bytes(op: c.Operation, params: dict[str, object]) -> bytes:
    service = c.service_of(op.name)
    ns = {
        "soap": c.SOAP_ENV,
        "soapenc": c.SOAP_ENC,
        "tns": service.namespace,
        "tnshttp": c.LA_NS_HTTP,
        "types": service.types_namespace,
        "xsi": c.XSI,
        "xsd": c.XSD,
    }
    return enc._enrolment_tree(op, params, TOKEN, service, ns)


def check_text_matches_lxml(operation: str, user: LAModel) -> None:
    op = c.operation(operation)
    args = (
        {"user": user}
        if operation == "UpdateEnrolment"
        else {"user": user, "assign_evaluation": True}
    )
    params = c.params_to_wire(op, args)
    try:
        expected = lxml_bytes(op, params)
    except ValueError:  # text lxml refuses: the text writer must refuse it too
        with pytest.raises(ValueError, match="XML compatible"):
            encode_request(op, params, TOKEN)
        return
    assert encode_request(op, params, TOKEN) == expected


@settings(max_examples=60, deadline=None)
@given(user=records("Type_enrolmentUser"))
def test_the_enrolment_request_as_text_is_what_lxml_writes(user: EnrolmentUser) -> None:
    check_text_matches_lxml("GroupEnrolment", user)


@settings(max_examples=60, deadline=None)
@given(user=records("Type_enrolmentUserUpdate"))
def test_the_update_request_as_text_is_what_lxml_writes(user: EnrolmentUserUpdate) -> None:
    check_text_matches_lxml("UpdateEnrolment", user)


@pytest.mark.parametrize(
    "surname",
    ["O'Connor & <Sons>", "line\nbreak\ttab", "carriage\rreturn", "bad\x01control", "Zoë 😀", ""],
)
def test_awkward_text_is_written_as_lxml_writes_it(surname: str) -> None:
    user = EnrolmentUser(surname=surname, forename="A", email="a@example.org")
    check_text_matches_lxml("GroupEnrolment", user)


def test_a_request_naming_a_namespace_twice_goes_to_lxml() -> None:
    op = c.operation("GroupEnrolment")
    service = c.service_of(op.name)
    ns = {"soap": c.SOAP_ENV, "a": c.XSI, "xsi": c.XSI, "xsd": c.XSD, "tns": service.namespace}
    with pytest.raises(enc._NotPlain):
        enc._enrolment_text(op, {}, TOKEN, service, ns)
