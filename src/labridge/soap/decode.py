"""Decode SOAP 1.1 section-5 messages into wire values (docs/contract.md §1).

Wire values are plain data: ``dict`` for a struct (keyed by wire member name; an omitted member is
absent, an ``xsi:nil`` member is ``None``), ``list`` for an array, and ``str``/``bool``/``int``/
``float`` for scalars. Decoding is guided by the contract type where one is known and generic
otherwise, so members the contract does not know are kept, not dropped.

``href="#id"`` is resolved anywhere in the message, inline values and Axis-style ``<multiRef>``
siblings alike; references must be local, cycles are refused, and the number of nodes expanded is
capped so that a small message cannot fan out into a huge one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree

from .. import contract as c
from ..errors import AuthenticationFault, ProtocolError, SoapFault
from ..models import Token
from .xml import DEFAULT_LIMITS, Limits, local, parse

_XSI_TYPE = f"{{{c.XSI}}}type"
_XSI_NIL = f"{{{c.XSI}}}nil"
_ARRAY_TYPE = f"{{{c.SOAP_ENC}}}arrayType"
_ENV = f"{{{c.SOAP_ENV}}}Envelope"
_HEADER = f"{{{c.SOAP_ENV}}}Header"
_BODY = f"{{{c.SOAP_ENV}}}Body"
_FAULT = f"{{{c.SOAP_ENV}}}Fault"
_ROOT_ATTR = f"{{{c.SOAP_ENC}}}root"

_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})
_INT_TYPES = frozenset({"int", "integer", "long", "short", "byte", "unsignedInt", "unsignedShort"})
_FLOAT_TYPES = frozenset({"double", "float", "decimal"})


@dataclass(frozen=True)
class Header:
    """The ``authToken`` header, in whichever of the [DOC] spellings it came (docs/contract.md
    §2)."""

    token: Token | None
    loggedin: str | None


@dataclass(frozen=True)
class Request:
    """A decoded call, as the sandbox receives it."""

    operation: str
    params: dict[str, Any]
    header: Header
    #: The operation element's name as sent (``operation`` is the catalogue's logical name).
    element: str = ""


@dataclass(frozen=True)
class Response:
    """A decoded answer, as the client receives it."""

    value: Any
    header: Header


class _Decoder:
    def __init__(self, root: etree._Element, limits: Limits) -> None:
        self._ids: dict[str, etree._Element] = {}
        for el in root.iter("*"):
            ident = el.get("id")
            if ident is not None:
                if ident in self._ids:
                    raise ProtocolError(f"id {ident!r} is used twice in the message")
                self._ids[ident] = el
        self._budget = limits.max_nodes
        self._limit = limits.max_nodes
        self._stack: set[int] = set()
        self._depth = 0
        self._max_depth = limits.max_depth

    def value(self, el: etree._Element, expected: c.TypeExpr | None) -> Any:
        self._budget -= 1
        if self._budget < 0:
            raise ProtocolError(f"message expands to more than {self._limit} nodes")
        if self._depth >= self._max_depth:
            raise ProtocolError(
                f"message nests values deeper than {self._max_depth} levels (each href counts)"
            )
        self._depth += 1
        try:
            return self._value(el, expected)
        finally:
            self._depth -= 1

    def _value(self, el: etree._Element, expected: c.TypeExpr | None) -> Any:
        href = el.get("href")
        if href is not None:
            return self._follow(href, expected)
        if el.get(_XSI_NIL, "").lower() in _TRUE:
            return None
        xtype = _xsi_type(el)
        children = [ch for ch in el if isinstance(ch.tag, str)]
        if _is_array(el, xtype) or isinstance(expected, c.ArrayOf):
            item = expected.item if isinstance(expected, c.ArrayOf) else None
            return [self.value(ch, item) for ch in children]
        if children or isinstance(expected, c.StructRef):
            return self._struct(el, children, expected)
        return _scalar(el, xtype, expected)

    def _follow(self, href: str, expected: c.TypeExpr | None) -> Any:
        if not href.startswith("#"):
            raise ProtocolError(f"href {href!r} refused: only local '#id' references are allowed")
        target = self._ids.get(href[1:])
        if target is None:
            raise ProtocolError(f"href {href!r} points at no element of the message")
        key = id(target)
        if key in self._stack:
            raise ProtocolError(f"href {href!r} forms a cycle")
        self._stack.add(key)
        try:
            return self.value(target, expected)
        finally:
            self._stack.discard(key)

    def _struct(
        self, el: etree._Element, children: list[etree._Element], expected: c.TypeExpr | None
    ) -> dict[str, Any]:
        if not children and (el.text or "").strip():
            raise ProtocolError(f"<{local(el.tag)}> should be a struct but holds text")
        ctype = c.TYPES.get(expected.name) if isinstance(expected, c.StructRef) else None
        out: dict[str, Any] = {}
        for ch in children:
            name = local(ch.tag)
            member = ctype.member(name) if ctype else None
            value = self.value(ch, member.type if member else None)
            if name in out:  # a repeated member: keep every occurrence
                prev = out[name]
                out[name] = [*prev, value] if isinstance(prev, list) else [prev, value]
            else:
                out[name] = value
        return out


def _xsi_type(el: etree._Element) -> tuple[str | None, str] | None:
    raw = el.get(_XSI_TYPE)
    if raw is None:
        return None
    prefix, _, name = raw.rpartition(":")
    return (el.nsmap.get(prefix or None), name)


def _is_array(el: etree._Element, xtype: tuple[str | None, str] | None) -> bool:
    if el.get(_ARRAY_TYPE) is not None:
        return True
    return xtype is not None and xtype[1] == "Array" and xtype[0] in (c.SOAP_ENC, None)


def _scalar(
    el: etree._Element, xtype: tuple[str | None, str] | None, expected: c.TypeExpr | None
) -> Any:
    text = el.text or ""
    kind = xtype[1] if xtype else (expected.xsd if isinstance(expected, c.Scalar) else "string")
    try:
        if kind == "boolean":
            return _boolean(text)
        if kind in _INT_TYPES:
            return int(text.strip())
        if kind in _FLOAT_TYPES:
            return float(text.strip())
    except ValueError:
        raise ProtocolError(
            f"<{local(el.tag)}> holds {text!r}, which is not a valid {kind}"
        ) from None
    return text


def _boolean(text: str) -> bool:
    t = text.strip().lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    raise ValueError(text)


def _envelope_parts(root: etree._Element) -> tuple[etree._Element | None, etree._Element]:
    if root.tag != _ENV:
        raise ProtocolError(f"expected a SOAP 1.1 Envelope, got <{local(root.tag)}>")
    header = root.find(_HEADER)
    body = root.find(_BODY)
    if body is None:
        raise ProtocolError("the SOAP envelope has no Body")
    return header, body


def _header(header: etree._Element | None) -> Header:
    if header is None:
        return Header(None, None)
    for el in header:
        if isinstance(el.tag, str) and local(el.tag) == c.AUTH_HEADER:
            # The header may sit in the https:// or http:// namespace or none, and its children
            # carry xsi:type, a plain type attribute, or nothing (docs/contract.md §1, §2).
            parts = {local(ch.tag): (ch.text or "").strip() for ch in el if isinstance(ch.tag, str)}
            ident, uuid = parts.get(c.AUTH_ID, ""), parts.get(c.AUTH_UUID, "")
            token = Token(id=ident, uuid=uuid) if ident and uuid else None
            return Header(token, el.get(c.AUTH_LOGGEDIN))
    return Header(None, None)


def _main_element(body: etree._Element) -> etree._Element:
    """The first Body child that is not a multiRef target: the operation or its response."""
    for el in body:
        if not isinstance(el.tag, str):
            continue
        if el.get("id") is None and el.get(_ROOT_ATTR) != "0":
            return el
    raise ProtocolError("the SOAP Body holds no operation element")


def decode_request(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Request:
    """Decode a call. Parameters of an operation the contract knows are typed by it; the
    operation's namespace is not checked (the samples use several, docs/contract.md §1)."""
    root = parse(data, limits)
    header_el, body = _envelope_parts(root)
    op_el = _main_element(body)
    # The operation is named on the wire by its wire name; the request carries its logical one.
    op = c.operation_by_wire(local(op_el.tag))
    name = op.name if op is not None else local(op_el.tag)
    types = {p.name: p.type for p in op.params} if op else {}
    decoder = _Decoder(root, limits)
    params: dict[str, Any] = {}
    for ch in op_el:
        if isinstance(ch.tag, str):
            pname = local(ch.tag)
            params[pname] = decoder.value(ch, types.get(pname))
    return Request(name, params, _header(header_el), local(op_el.tag))


def decode_response(data: bytes, op: c.Operation, limits: Limits = DEFAULT_LIMITS) -> Response:
    """Decode the answer to ``op``; a Fault body raises :class:`SoapFault` (or
    :class:`AuthenticationFault` when its string starts ``Authentication failed:``)."""
    root = parse(data, limits)
    header_el, body = _envelope_parts(root)
    fault = body.find(_FAULT)
    if fault is not None:
        raise _fault(fault)
    resp = _main_element(body)
    if local(resp.tag) != op.response_element:
        raise ProtocolError(
            f"expected <{op.response_element}>, got <{local(resp.tag)}>",
            hint="LA's names may differ from labridge's contract: `labridge doctor` compares "
            "them with LA's WSDL and prints the overrides that fix them",
        )
    ret = next((ch for ch in resp if isinstance(ch.tag, str)), None)
    value = None if ret is None else _Decoder(root, limits).value(ret, op.returns)
    return Response(value, _header(header_el))


def _fault(el: etree._Element) -> SoapFault:
    def text(name: str) -> str:
        found = next((ch for ch in el if isinstance(ch.tag, str) and local(ch.tag) == name), None)
        if found is None:
            return ""
        return "".join(str(t) for t in found.itertext()).strip()

    code, string, detail = text("faultcode"), text("faultstring"), text("detail")
    if string.startswith(c.AUTH_FAILED_PREFIX):
        return AuthenticationFault(code, string, detail)
    return SoapFault(code, string, detail)
