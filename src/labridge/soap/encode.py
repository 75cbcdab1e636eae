"""Encode SOAP 1.1 section-5 messages from wire values (docs/contract.md §1, §2).

Requests take the shape of their service's [DOC] sample (:class:`contract.EnvelopeStyle`);
responses and faults take the Axis shape ColdFusion answers with. Every scalar carries
``xsi:type`` (except in the Authenticate request, whose sample has none), struct members go out in
the contract's alphabetical order, ``None`` becomes ``xsi:nil="true"`` and an absent member is not
sent at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lxml import etree

from .. import contract as c
from ..models import Token

_XSI_TYPE = f"{{{c.XSI}}}type"
_XSI_NIL = f"{{{c.XSI}}}nil"
_ARRAY_TYPE = f"{{{c.SOAP_ENC}}}arrayType"
_ENC_STYLE_ENV = f"{{{c.SOAP_ENV}}}encodingStyle"


def _default_ns(uri: str) -> Any:
    # lxml takes None as the default-namespace key; its stubs do not say so.
    return {None: uri}


def _to_bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _infer(value: Any) -> c.TypeExpr:
    if isinstance(value, bool):
        return c.BOOLEAN
    if isinstance(value, int):
        return c.INT
    if isinstance(value, float):
        return c.DOUBLE
    if isinstance(value, list):
        return c.ArrayOf(c.STRING)
    return c.STRING


class _Writer:
    """Writes values under a parent element. ``refs`` collects multiRef siblings when structs are
    to be sent by reference; ``types_prefix`` is the prefix bound to the service's types
    namespace."""

    def __init__(
        self,
        types_prefix: str,
        *,
        ref_parent: etree._Element | None = None,
        multiref_tag: str | None = None,
        typed: bool = True,
    ) -> None:
        self.types_prefix = types_prefix
        self.ref_parent = ref_parent
        self.multiref_tag = multiref_tag
        self.typed = typed
        self._next_id = 0

    def write(
        self, parent: etree._Element, name: str, value: Any, type_: c.TypeExpr | None
    ) -> None:
        el = etree.SubElement(parent, name)
        self.fill(el, value, type_ or _infer(value))

    def fill(self, el: etree._Element, value: Any, type_: c.TypeExpr, by_ref: bool = True) -> None:
        if value is None:
            el.set(_XSI_NIL, "true")
        elif isinstance(type_, c.ArrayOf):
            self._array(el, value, type_)
        elif isinstance(type_, c.StructRef):
            if by_ref and self.ref_parent is not None:
                self._by_ref(el, value, type_)
            else:
                self._struct(el, value, type_)
        else:
            if self.typed:
                el.set(_XSI_TYPE, f"xsd:{type_.xsd}")
            el.text = _scalar_text(value)

    def _qname(self, type_: c.TypeExpr) -> str:
        if isinstance(type_, c.StructRef):
            return f"{self.types_prefix}:{c.TYPES[type_.name].wire}"
        if isinstance(type_, c.Scalar):
            return f"xsd:{type_.xsd}"
        return "soapenc:Array"

    def _array(self, el: etree._Element, value: list[Any], type_: c.ArrayOf) -> None:
        el.set(_XSI_TYPE, "soapenc:Array")
        el.set(_ARRAY_TYPE, f"{self._qname(type_.item)}[{len(value)}]")
        # Each item is named like its parent element and sent inline [DOC: GetCandidates].
        name = str(etree.QName(el).localname)
        for item in value:
            self.fill(etree.SubElement(el, name), item, type_.item, by_ref=False)

    def _struct(self, el: etree._Element, value: Mapping[str, Any], type_: c.StructRef) -> None:
        ctype = c.TYPES[type_.name]
        el.set(_XSI_TYPE, self._qname(type_))
        known = {mb.name for mb in ctype.members}
        for mb in ctype.members:
            if mb.name in value:
                self.write(el, mb.name, value[mb.name], mb.type)
        for name in sorted(set(value) - known, key=str.lower):
            self.write(el, name, value[name], None)

    def _by_ref(self, el: etree._Element, value: Mapping[str, Any], type_: c.StructRef) -> None:
        assert self.ref_parent is not None
        self._next_id += 1
        ident = f"id{self._next_id}"
        el.set("href", f"#{ident}")
        if self.multiref_tag is None:  # the enrolment samples' form: prefixes declared at the root
            ctype = c.TYPES[type_.name]
            tag = f"{{{ctype.namespace}}}{ctype.wire}"
            target = etree.SubElement(self.ref_parent, tag)
            target.set("id", ident)
        else:  # Axis form (responses): each multiRef declares what it uses
            nsmap = {"soapenc": c.SOAP_ENC, self.types_prefix: c.TYPES[type_.name].namespace}
            target = etree.SubElement(self.ref_parent, self.multiref_tag, nsmap=nsmap)
            target.set("id", ident)
            target.set(f"{{{c.SOAP_ENC}}}root", "0")
            target.set(_ENC_STYLE_ENV, c.SOAP_ENC)
        self._struct(target, value, type_)


# ---------------------------------------------------------------------------------------------
# Requests (client side)


def encode_request(op: c.Operation, params: Mapping[str, Any], token: Token | None) -> bytes:
    """The request envelope for ``op`` in its service's [DOC] shape. ``params`` are wire values
    keyed by parameter name; they go out in the contract's order."""
    style = c.service_of(op.name).style
    if style is c.EnvelopeStyle.AUTHENTICATE:
        return _authenticate_request(op, params)
    if token is None:
        raise ValueError(f"{op.name} needs a session token")
    if style is c.EnvelopeStyle.RPC:
        return _rpc_request(op, params, token)
    return _enrolment_request(op, params, token)


def _authenticate_request(op: c.Operation, params: Mapping[str, Any]) -> bytes:
    root = etree.Element(
        f"{{{c.SOAP_ENV}}}Envelope", nsmap={"soapenv": c.SOAP_ENV, "xsd": c.XSD, "xsi": c.XSI}
    )
    body = etree.SubElement(root, f"{{{c.SOAP_ENV}}}Body")
    # [DOC] operation in the default namespace, parameters without xsi:type.
    ns = c.service_of(op.name).namespace
    op_el = etree.SubElement(body, f"{{{ns}}}{op.wire}", nsmap=_default_ns(ns))
    writer = _Writer("", typed=False)
    for p in op.params:
        if p.name in params:
            writer.fill(etree.SubElement(op_el, f"{{{ns}}}{p.name}"), params[p.name], p.type)
    return _to_bytes(root)


def _style_b_header(parent: etree._Element, token: Token, namespace: str, loggedin: str) -> None:
    el = etree.SubElement(parent, f"{{{namespace}}}{c.AUTH_HEADER}", nsmap=_default_ns(namespace))
    el.set(c.AUTH_LOGGEDIN, loggedin)
    el.set(f"{{{c.SOAP_ENV}}}actor", "")
    el.set(f"{{{c.SOAP_ENV}}}mustUnderstand", "0")
    for name, value in ((c.AUTH_ID, token.id), (c.AUTH_UUID, token.uuid)):
        child = etree.SubElement(el, f"{{{namespace}}}{name}")
        child.set("type", "xsd:string")
        child.text = value


#: ColdFusion looks a request header up by exact namespace, and which one LA reads is not known
#: (docs/contract.md §2): the token goes in both, each block ignorable (``mustUnderstand="0"``).
def _style_a_header(parent: etree._Element, token: Token, namespace: str, ident: str) -> None:
    # The style-A sample's shape, without its artefact: children typed xsd:string, not xsi:string.
    el = etree.SubElement(parent, f"{{{namespace}}}{c.AUTH_HEADER}")
    el.set("id", ident)
    el.set(f"{{{c.SOAP_ENV}}}mustUnderstand", "0")
    for name, value in ((c.AUTH_ID, token.id), (c.AUTH_UUID, token.uuid)):
        child = etree.SubElement(el, name)
        child.set(_XSI_TYPE, "xsd:string")
        child.text = value


def _rpc_request(op: c.Operation, params: Mapping[str, Any], token: Token) -> bytes:
    root = etree.Element(
        f"{{{c.SOAP_ENV}}}Envelope", nsmap={"soapenv": c.SOAP_ENV, "xsd": c.XSD, "xsi": c.XSI}
    )
    header = etree.SubElement(root, f"{{{c.SOAP_ENV}}}Header")
    service = c.service_of(op.name)
    for namespace in service.request_header_namespaces:
        _style_b_header(header, token, namespace, c.YES)
    body = etree.SubElement(root, f"{{{c.SOAP_ENV}}}Body")
    op_el = etree.SubElement(
        body,
        f"{{{service.namespace}}}{op.wire}",
        nsmap={"ns1": service.namespace, "ns2": service.types_namespace, "soapenc": c.SOAP_ENC},
    )
    op_el.set(_ENC_STYLE_ENV, c.SOAP_ENC)
    writer = _Writer("ns2")
    for p in op.params:
        if p.name in params:
            writer.write(op_el, p.name, params[p.name], p.type)
    return _to_bytes(root)


def _enrolment_request(op: c.Operation, params: Mapping[str, Any], token: Token) -> bytes:
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
    root = etree.Element(f"{{{c.SOAP_ENV}}}Envelope", nsmap=ns)
    header = etree.SubElement(root, f"{{{c.SOAP_ENV}}}Header")
    for index, namespace in enumerate(service.request_header_namespaces, 1):
        _style_a_header(header, token, namespace, f"h_id{index}")
    body = etree.SubElement(root, f"{{{c.SOAP_ENV}}}Body")
    body.set(f"{{{c.SOAP_ENV}}}encodingStyle", c.SOAP_ENC)
    op_el = etree.SubElement(body, f"{{{service.namespace}}}{op.wire}")
    writer = _Writer("types", ref_parent=body)
    for p in op.params:
        if p.name in params:
            writer.write(op_el, p.name, params[p.name], p.type)
    return _to_bytes(root)


# ---------------------------------------------------------------------------------------------
# Responses and faults (sandbox side)


def _response_root(
    token: Token | None, header_namespace: str, loggedin: str | None
) -> tuple[etree._Element, etree._Element]:
    root = etree.Element(
        f"{{{c.SOAP_ENV}}}Envelope", nsmap={"soapenv": c.SOAP_ENV, "xsd": c.XSD, "xsi": c.XSI}
    )
    if loggedin is not None:
        header = etree.SubElement(root, f"{{{c.SOAP_ENV}}}Header")
        if token is not None:
            _style_b_header(header, token, header_namespace, loggedin)
        else:
            el = etree.SubElement(
                header,
                f"{{{header_namespace}}}{c.AUTH_HEADER}",
                nsmap=_default_ns(header_namespace),
            )
            el.set(c.AUTH_LOGGEDIN, loggedin)
            el.set(f"{{{c.SOAP_ENV}}}actor", "")
            el.set(f"{{{c.SOAP_ENV}}}mustUnderstand", "0")
    body = etree.SubElement(root, f"{{{c.SOAP_ENV}}}Body")
    return root, body


def encode_response(
    op: c.Operation,
    value: Any,
    *,
    token: Token | None = None,
    loggedin: str | None = c.YES,
    header_namespace: str | None = None,
) -> bytes:
    """The Axis-style answer to ``op``: arrays inline, a struct as a ``<multiRef>`` sibling."""
    service = c.service_of(op.name)
    ns = header_namespace or service.response_header_namespace
    root, body = _response_root(token, ns, loggedin)
    resp = etree.SubElement(
        body,
        f"{{{service.namespace}}}{op.response_element}",
        nsmap={"ns1": service.namespace, "ns2": service.types_namespace, "soapenc": c.SOAP_ENC},
    )
    resp.set(_ENC_STYLE_ENV, c.SOAP_ENC)
    writer = _Writer("ns2", ref_parent=body, multiref_tag="multiRef")
    writer.write(resp, op.return_element, value, op.returns)
    return _to_bytes(root)


def encode_fault(
    faultcode: str,
    faultstring: str,
    *,
    detail: str = "",
    loggedin: str | None = None,
    header_namespace: str = c.LA_NS_HTTP,
) -> bytes:
    """A SOAP 1.1 fault (sent with HTTP 500). ``loggedin="NO"`` adds the header of docs/contract.md
    §2."""
    root, body = _response_root(None, header_namespace, loggedin)
    fault = etree.SubElement(body, f"{{{c.SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = faultcode
    etree.SubElement(fault, "faultstring").text = faultstring
    detail_el = etree.SubElement(fault, "detail")
    if detail:
        detail_el.text = detail
    return _to_bytes(root)
