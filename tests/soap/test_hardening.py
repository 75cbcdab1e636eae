"""Hostile and broken messages are refused with a ProtocolError that says why.

The codec reads XML from the network (the sandbox's callers, LA's answers), so none of these may
crash it, hang it, make it open a file or a connection, or expand into more than the caps allow
(docs/contract.md §1; soap/xml.py). Each message is tried on ``soap.parse`` where the problem is one
of XML itself, and on both decoders; every refusal must come quickly.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import pytest

from labridge import contract as c
from labridge.errors import ProtocolError
from labridge.soap import DEFAULT_LIMITS, Limits, decode_request, decode_response, parse

ENVELOPE = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
    ' xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    "<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
)
GET_PROGRESS = c.operation("GetProgress")

Decoder = Callable[[bytes, Limits], object]

PARSE_AND_DECODERS: dict[str, Decoder] = {
    "parse": parse,
    "decode_request": decode_request,
    "decode_response": lambda data, limits: decode_response(data, GET_PROGRESS, limits),
}
DECODERS = {name: f for name, f in PARSE_AND_DECODERS.items() if name != "parse"}


@pytest.fixture(params=list(PARSE_AND_DECODERS))
def read(request: pytest.FixtureRequest) -> Decoder:
    """Every entry point that reads untrusted XML."""
    return PARSE_AND_DECODERS[request.param]


@pytest.fixture(params=list(DECODERS))
def decode(request: pytest.FixtureRequest) -> Decoder:
    """The two decoders (references and values are checked there, not by ``parse``)."""
    return DECODERS[request.param]


def envelope(body: str, *, before: str = "", after: str = "") -> bytes:
    return (before + ENVELOPE.format(body=body) + after).encode()


def answer(returned: str, *siblings: str) -> bytes:
    """A GetProgress answer (which decode_request reads as a call of ``GetProgressResponse``)."""
    main = f'<ns1:GetProgressResponse xmlns:ns1="{c.LA_NS}">{returned}</ns1:GetProgressResponse>'
    return envelope(main + "".join(siblings))


def refuse(
    read: Decoder, data: bytes, match: str, limits: Limits = DEFAULT_LIMITS, within: float = 1.0
) -> ProtocolError:
    start = time.perf_counter()
    with pytest.raises(ProtocolError, match=match) as caught:
        read(data, limits)
    assert time.perf_counter() - start < within, "refused, but too slowly"
    return caught.value


# --- DTDs, entities, processing instructions ---------------------------------------------------


def billion_laughs() -> bytes:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    return envelope(
        "<GetProgressResponse><GetProgressReturn>&lol9;</GetProgressReturn></GetProgressResponse>",
        before=f'<?xml version="1.0"?><!DOCTYPE lolz [{entities}]>',
    )


def test_billion_laughs_is_refused_without_expanding(read: Decoder) -> None:
    refuse(read, billion_laughs(), match="entity amplification|DOCTYPE")


def test_internal_entity_is_refused_for_its_doctype(read: Decoder) -> None:
    data = envelope(
        "<GetProgressResponse><GetProgressReturn>&who;</GetProgressReturn></GetProgressResponse>",
        before='<!DOCTYPE x [<!ENTITY who "injected">]>',
    )
    error = refuse(read, data, match="DOCTYPE is refused")
    assert "injected" not in str(error)


def test_external_entity_is_refused_without_reading_the_file(read: Decoder) -> None:
    data = envelope(
        "<GetProgressResponse><GetProgressReturn>&xxe;</GetProgressReturn></GetProgressResponse>",
        before='<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    )
    error = refuse(read, data, match="DOCTYPE is refused")
    assert "root:" not in str(error)


def test_external_dtd_is_refused_without_fetching_it(read: Decoder) -> None:
    data = envelope(
        "<GetProgressResponse/>",
        before='<!DOCTYPE soapenv:Envelope SYSTEM "http://127.0.0.1:9/evil.dtd">',
    )
    refuse(read, data, match="DOCTYPE is refused")


def test_undeclared_entity_reference_is_refused_as_malformed(read: Decoder) -> None:
    data = envelope("<GetProgressResponse><x>&nbsp;</x></GetProgressResponse>")
    refuse(read, data, match="malformed XML: Entity 'nbsp' not defined")


def test_processing_instruction_before_the_root_is_refused(read: Decoder) -> None:
    data = envelope("<GetProgressResponse/>", before='<?xml-stylesheet href="evil.xsl"?>')
    refuse(read, data, match="processing instructions are refused")


def test_processing_instruction_inside_the_envelope_is_refused(read: Decoder) -> None:
    data = envelope("<GetProgressResponse><?php system('id'); ?></GetProgressResponse>")
    refuse(read, data, match="processing instructions are refused")


def test_processing_instruction_after_the_root_is_refused(read: Decoder) -> None:
    data = envelope("<GetProgressResponse/>", after="<?evil payload?>")
    refuse(read, data, match="processing instructions are refused")


# --- not XML, not SOAP ---------------------------------------------------------------------------


def test_malformed_xml_is_refused(read: Decoder) -> None:
    data = envelope("<GetProgressResponse><GetProgressReturn></GetProgressResponse>")
    refuse(read, data, match="malformed XML: Opening and ending tag mismatch")


def test_duplicated_xmlns_xsi_of_the_group_enrolment_sample_is_refused(read: Decoder) -> None:
    # docs/contract.md §1: LA's published GroupEnrolment sample declares xmlns:xsi twice.
    data = (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"'
        b' xmlns:xsi="http://www.w3.org/2001/XMLSchema"'
        b' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        b"<soap:Body><tns:GroupEnrolment xmlns:tns='https://api.learningassistant.com'/>"
        b"</soap:Body></soap:Envelope>"
    )
    refuse(read, data, match="malformed XML: Attribute xmlns:xsi redefined")


def test_message_over_max_bytes_is_refused_before_parsing(read: Decoder) -> None:
    data = envelope("<GetProgressResponse/>")
    limits = Limits(max_bytes=len(data) - 1)
    refuse(
        read, data, match=f"{len(data)} bytes exceeds the limit of {len(data) - 1}", limits=limits
    )


def test_message_of_exactly_max_bytes_is_read() -> None:
    data = answer('<GetProgressReturn xsi:nil="true"/>')
    assert decode_response(data, GET_PROGRESS, Limits(max_bytes=len(data))).value is None


@pytest.mark.parametrize("data", [b"", b"  \r\n\t "], ids=["empty", "whitespace"])
def test_empty_message_is_refused(read: Decoder, data: bytes) -> None:
    refuse(read, data, match="empty message")


def test_root_other_than_a_soap_envelope_is_refused(decode: Decoder) -> None:
    data = b"<html><body>502 Bad Gateway</body></html>"
    refuse(decode, data, match="expected a SOAP 1.1 Envelope, got <html>")


def test_soap_1_2_envelope_is_refused(decode: Decoder) -> None:
    data = b'<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body/></env:Envelope>'
    refuse(decode, data, match="expected a SOAP 1.1 Envelope, got <Envelope>")


def test_envelope_without_body_is_refused(decode: Decoder) -> None:
    data = b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"/>'
    refuse(decode, data, match="the SOAP envelope has no Body")


def test_body_without_operation_element_is_refused(decode: Decoder) -> None:
    refuse(decode, envelope(""), match="the SOAP Body holds no operation element")


def test_answer_to_another_operation_is_refused() -> None:
    data = envelope(f'<ns1:GetCandidatesResponse xmlns:ns1="{c.LA_NS}"/>')
    refuse(
        lambda d, limits: decode_response(d, GET_PROGRESS, limits),
        data,
        match="expected <GetProgressResponse>, got <GetCandidatesResponse>",
    )


# --- references -----------------------------------------------------------------------------------


def test_href_cycle_is_refused(decode: Decoder) -> None:
    data = answer(
        '<GetProgressReturn href="#a"/>',
        '<multiRef id="a"><Next href="#b"/></multiRef>',
        '<multiRef id="b"><Next href="#a"/></multiRef>',
    )
    refuse(decode, data, match="href '#a' forms a cycle")


def test_self_reference_is_refused(decode: Decoder) -> None:
    data = answer('<GetProgressReturn href="#a"/>', '<multiRef id="a"><Me href="#a"/></multiRef>')
    refuse(decode, data, match="href '#a' forms a cycle")


def test_remote_href_is_refused_without_fetching_it(decode: Decoder) -> None:
    data = answer('<GetProgressReturn href="http://127.0.0.1:9/evil.xml#a"/>')
    refuse(decode, data, match="only local '#id' references are allowed")


def test_href_to_a_missing_id_is_refused(decode: Decoder) -> None:
    data = answer('<GetProgressReturn href="#nowhere"/>')
    refuse(decode, data, match="href '#nowhere' points at no element of the message")


def test_duplicate_ids_are_refused(decode: Decoder) -> None:
    data = answer(
        '<GetProgressReturn href="#a"/>',
        '<multiRef id="a"><Status xsi:type="xsd:string">Active</Status></multiRef>',
        '<multiRef id="a"><Status xsi:type="xsd:string">Withdrawn</Status></multiRef>',
    )
    refuse(decode, data, match="id 'a' is used twice in the message")


def test_exponential_href_fan_out_stops_at_the_node_cap(decode: Decoder) -> None:
    # 30 levels, each referencing the next twice: 2**30 nodes if followed to the end.
    levels = [
        f'<multiRef id="n{i}"><L href="#n{i + 1}"/><R href="#n{i + 1}"/></multiRef>'
        for i in range(30)
    ]
    data = answer('<GetProgressReturn href="#n0"/>', *levels, '<multiRef id="n30">leaf</multiRef>')
    refuse(
        decode, data, match="message expands to more than 5000 nodes", limits=Limits(max_nodes=5000)
    )


def test_long_href_chain_is_refused_not_a_recursion_error(decode: Decoder) -> None:
    # Small (under 150 kB) and acyclic, but every link is a level of recursion in the decoder.
    links = [f'<multiRef id="n{i}"><Next href="#n{i + 1}"/></multiRef>' for i in range(3000)]
    data = answer('<GetProgressReturn href="#n0"/>', *links, '<multiRef id="n3000">end</multiRef>')
    refuse(decode, data, match="deeper than")


def test_deep_nesting_spread_over_href_targets_is_refused(decode: Decoder) -> None:
    # Each target stays under libxml2's depth limit; the references chain them 4000 levels deep.
    levels = [
        f'<multiRef id="n{i}">{"<n>" * 200}<Next href="#n{i + 1}"/>{"</n>" * 200}</multiRef>'
        for i in range(20)
    ]
    data = answer('<GetProgressReturn href="#n0"/>', *levels, '<multiRef id="n20">end</multiRef>')
    refuse(decode, data, match="deeper than")


# --- values and nesting -------------------------------------------------------------------------


def progress_member(member: str) -> bytes:
    return answer(f"<GetProgressReturn>{member}</GetProgressReturn>")


def test_non_numeric_int_is_refused(decode: Decoder) -> None:
    data = progress_member('<OverallProgress xsi:type="xsd:int">twelve</OverallProgress>')
    refuse(
        decode, data, match="<OverallProgress> holds '(twelve|AAAAAA)', which is not a valid int"
    )  # answers: shape only


def test_non_numeric_double_is_refused(decode: Decoder) -> None:
    data = progress_member('<OverallProgress xsi:type="xsd:double">37,5</OverallProgress>')
    refuse(decode, data, match="<OverallProgress> holds '(37,5|99,9)', which is not a valid double")


def test_non_boolean_is_refused(decode: Decoder) -> None:
    data = progress_member('<Completed xsi:type="xsd:boolean">maybe</Completed>')
    refuse(decode, data, match="<Completed> holds '(maybe|AAAAA)', which is not a valid boolean")


def test_untyped_parameter_is_checked_against_the_contract_type() -> None:
    data = envelope(
        f'<ns1:GetCandidates xmlns:ns1="{c.LA_NS}"><blnActive>maybe</blnActive></ns1:GetCandidates>'
    )
    with pytest.raises(
        ProtocolError, match="<blnActive> holds 'maybe', which is not a valid boolean"
    ):
        decode_request(data)


def test_text_where_the_contract_expects_a_struct_is_refused() -> None:
    data = answer('<GetProgressReturn xsi:type="xsd:string">not a struct</GetProgressReturn>')
    with pytest.raises(
        ProtocolError, match="<GetProgressReturn> should be a struct but holds text"
    ):
        decode_response(data, GET_PROGRESS)


def nested(depth: int) -> str:
    return "<n>" * depth + "deep" + "</n>" * depth


def test_nesting_past_lxml_depth_limit_is_refused(read: Decoder) -> None:
    data = answer(f"<GetProgressReturn>{nested(10_000)}</GetProgressReturn>")
    refuse(read, data, match="malformed XML: Excessive depth in document")


def test_nesting_lxml_accepts_never_overflows_the_stack(decode: Decoder) -> None:
    # Envelope, Body, response and return take 4 of libxml2's 256 levels. The decoder may read
    # this or refuse it for its depth; a RecursionError would escape and fail the test.
    data = answer(f"<GetProgressReturn>{nested(250)}</GetProgressReturn>")
    with contextlib.suppress(ProtocolError):
        decode(data, DEFAULT_LIMITS)
