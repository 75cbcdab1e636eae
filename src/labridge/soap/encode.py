"""Encode SOAP 1.1 section-5 messages from wire values (docs/contract.md §1, §2).

Requests take the shape of their service's [DOC] sample (:class:`contract.EnvelopeStyle`);
responses and faults take the Axis shape ColdFusion answers with. Every scalar carries
``xsi:type`` (except in the Authenticate request, whose sample has none), struct members go out in
the contract's alphabetical order, ``None`` becomes ``xsi:nil="true"`` and an absent member is not
sent at all.
"""

from __future__ import annotations

import re
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
    try:
        return _enrolment_text(op, params, token, service, ns)
    except _NotPlain:
        return _enrolment_tree(op, params, token, service, ns)  # lxml writes it, or refuses it


def _enrolment_tree(
    op: c.Operation,
    params: Mapping[str, Any],
    token: Token,
    service: c.Service,
    ns: Mapping[str, str],
) -> bytes:
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
# The enrolment request as text: the same bytes lxml writes for it (tests/soap/test_golden.py),
# in a fraction of the time, for every request whose names, namespaces and values need nothing but
# ``&``, ``<`` and ``>`` escaped. Any other goes through lxml, which writes or refuses it as ever.


class _NotPlain(Exception):
    """A request the text writer leaves to lxml."""


#: Characters lxml writes as they are (``&<>`` apart); any other sends the request to lxml.
_NOT_PLAIN_TEXT = re.compile("[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_PLAIN_URI = re.compile(r"[^&<>\"'\s]*")
_INDENT = ["  " * depth for depth in range(64)]


def _text(value: Any) -> str:
    text = value if type(value) is str else _scalar_text(value)
    if not (text.isascii() and text.isprintable()) and _NOT_PLAIN_TEXT.search(text) is not None:
        raise _NotPlain
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _name(name: str) -> str:
    if name not in _PLAIN_NAMES:
        if _PLAIN_NAME.fullmatch(name) is None:
            raise _NotPlain
        if len(_PLAIN_NAMES) < 10_000:
            _PLAIN_NAMES.add(name)
    return name


_PLAIN_NAMES: set[str] = set()

#: A struct's members as the text writer writes them: wire name, type, and for a scalar its
#: element's opening tag and its closing tag (with the line's end).
_Plan = tuple[tuple[str, c.TypeExpr, str | None, str], ...]


def _plan(ctype: c.ComplexType) -> tuple[_Plan, frozenset[str]]:
    cached: tuple[_Plan, frozenset[str]] | None = ctype.codec_cache.get("encode")
    if cached is None:
        plan = tuple(
            (
                mb.name,
                mb.type,
                f'<{_name(mb.name)} xsi:type="xsd:{_name(mb.type.xsd)}">'
                if isinstance(mb.type, c.Scalar)
                else None,
                f"</{mb.name}>\n",
            )
            for mb in ctype.members
        )
        cached = ctype.codec_cache["encode"] = (plan, frozenset(mb.name for mb in ctype.members))
    return cached


class _TextWriter:
    """:class:`_Writer` for the enrolment request (structs by reference, prefixes declared at the
    root), writing lines of text. ``refs`` holds the multiRef siblings, in the order lxml makes
    them (a struct's slot is taken before its members are written)."""

    def __init__(self, prefixes: Mapping[str, str], types_prefix: str) -> None:
        self.prefixes = prefixes
        self.types_prefix = types_prefix
        self.refs: list[list[str]] = []

    def qualified(self, namespace: str, name: str) -> str:
        prefix = self.prefixes.get(namespace)
        if prefix is None:
            raise _NotPlain
        return f"{prefix}:{_name(name)}"

    def write(
        self, out: list[str], depth: int, name: str, value: Any, type_: c.TypeExpr | None
    ) -> None:
        self.fill(out, depth, _name(name), value, type_ or _infer(value))

    def fill(
        self,
        out: list[str],
        depth: int,
        tag: str,
        value: Any,
        type_: c.TypeExpr,
        by_ref: bool = True,
    ) -> None:
        indent = _INDENT[depth]
        if value is None:
            out.append(f'{indent}<{tag} xsi:nil="true"/>\n')
        elif isinstance(type_, c.ArrayOf):
            attrs = (
                f' xsi:type="soapenc:Array" soapenc:arrayType="{self._qname(type_.item)}'
                f'[{len(value)}]"'
            )
            if not value:
                out.append(f"{indent}<{tag}{attrs}/>\n")
                return
            out.append(f"{indent}<{tag}{attrs}>\n")
            for item in value:  # named like the parent, inline
                self.fill(out, depth + 1, tag, item, type_.item, by_ref=False)
            out.append(f"{indent}</{tag}>\n")
        elif isinstance(type_, c.StructRef):
            if by_ref:
                self._by_ref(out, depth, tag, value, type_)
            else:
                self._struct(out, depth, tag, "", value, type_)
        else:
            out.append(f'{indent}<{tag} xsi:type="xsd:{_name(type_.xsd)}">{_text(value)}</{tag}>\n')

    def _qname(self, type_: c.TypeExpr) -> str:
        if isinstance(type_, c.StructRef):
            return f"{self.types_prefix}:{_name(c.TYPES[type_.name].wire)}"
        if isinstance(type_, c.Scalar):
            return f"xsd:{_name(type_.xsd)}"
        return "soapenc:Array"

    def _struct(
        self,
        out: list[str],
        depth: int,
        tag: str,
        attrs: str,
        value: Mapping[str, Any],
        type_: c.StructRef,
    ) -> None:
        ctype = c.TYPES[type_.name]
        indent = _INDENT[depth]
        inner = _INDENT[depth + 1]
        opening = f'{indent}<{tag}{attrs} xsi:type="{self.types_prefix}:{_name(ctype.wire)}"'
        at = len(out)
        out.append(opening + ">\n")
        plan, known = _plan(ctype)
        for name, mtype, scalar_open, scalar_close in plan:
            if name in value:
                member = value[name]
                if scalar_open is not None and member is not None:
                    out.append(f"{inner}{scalar_open}{_text(member)}{scalar_close}")
                else:
                    self.write(out, depth + 1, name, member, mtype)
        if not known.issuperset(value):
            for name in sorted(set(value) - known, key=str.lower):
                self.write(out, depth + 1, name, value[name], None)
        if len(out) == at + 1:
            out[at] = opening + "/>\n"
        else:
            out.append(f"{indent}</{tag}>\n")

    def _by_ref(
        self, out: list[str], depth: int, tag: str, value: Mapping[str, Any], type_: c.StructRef
    ) -> None:
        self.refs.append([])
        ident = f"id{len(self.refs)}"
        target = self.refs[-1]
        out.append(f'{_INDENT[depth]}<{tag} href="#{ident}"/>\n')
        ctype = c.TYPES[type_.name]
        self._struct(
            target, 2, self.qualified(ctype.namespace, ctype.wire), f' id="{ident}"', value, type_
        )


def _enrolment_text(
    op: c.Operation,
    params: Mapping[str, Any],
    token: Token,
    service: c.Service,
    ns: Mapping[str, str],
) -> bytes:
    prefixes = {uri: prefix for prefix, uri in ns.items()}
    if len(prefixes) != len(ns) or any(_PLAIN_URI.fullmatch(uri) is None for uri in prefixes):
        raise _NotPlain  # one namespace under two prefixes: lxml picks
    writer = _TextWriter(prefixes, "types")
    declarations = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in ns.items())
    out = [f"<?xml version='1.0' encoding='utf-8'?>\n<soap:Envelope {declarations}>\n"]
    if service.request_header_namespaces:
        out.append("  <soap:Header>\n")
        for index, namespace in enumerate(service.request_header_namespaces, 1):
            tag = writer.qualified(namespace, c.AUTH_HEADER)
            out.append(f'    <{tag} id="h_id{index}" soap:mustUnderstand="0">\n')
            for name, value in ((c.AUTH_ID, token.id), (c.AUTH_UUID, token.uuid)):
                out.append(f'      <{_name(name)} xsi:type="xsd:string">{_text(value)}</{name}>\n')
            out.append(f"    </{tag}>\n")
        out.append("  </soap:Header>\n")
    else:
        out.append("  <soap:Header/>\n")
    out.append(f'  <soap:Body soap:encodingStyle="{c.SOAP_ENC}">\n')
    op_tag = writer.qualified(service.namespace, op.wire)
    call: list[str] = []
    for p in op.params:
        if p.name in params:
            writer.write(call, 3, p.name, params[p.name], p.type)
    if call:
        out.append(f"    <{op_tag}>\n")
        out.extend(call)
        out.append(f"    </{op_tag}>\n")
    else:
        out.append(f"    <{op_tag}/>\n")
    for target in writer.refs:
        out.extend(target)
    out.append("  </soap:Body>\n</soap:Envelope>\n")
    return "".join(out).encode("utf-8")


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
