"""Decode SOAP 1.1 section-5 messages into wire values (docs/contract.md §1).

Wire values are plain data: ``dict`` for a struct (keyed by wire member name; an omitted member is
absent, an ``xsi:nil`` member is ``None``), ``list`` for an array, and ``str``/``bool``/``int``/
``float`` for scalars. Decoding is guided by the contract type where one is known and generic
otherwise, so members the contract does not know are kept, not dropped.

``href="#id"`` is resolved anywhere in the message, inline values and Axis-style ``<multiRef>``
siblings alike; references must be local, cycles are refused, and the number of nodes expanded is
capped so that a small message cannot fan out into a huge one.

Every shape a ColdFusion (Axis 1) server answers with is read (docs/contract.md §5): multiRef
anywhere
(array items named ``item`` or like their parent, one target referenced twice), ``soapenc:*``
scalar types as well as ``xsd:*``, ``apachesoap:Map`` wherever a struct is expected, member names
and Map keys matched ignoring case (and renamed to the contract's spelling), ``xsd:anyType[N]``
arrays. Where the contract types a scalar, the text is read as that type: an integral double
(``31.0``) where a string is expected is ``"31"``; an empty string where a number or boolean is
expected counts as not sent; booleans are ``true/false``, ``1/0`` or ``YES/NO``; a date is the
Europe/London calendar date of an ``xsd:dateTime``, or a plain ``YYYY-MM-DD``. Anything still
unreadable is a :class:`ProtocolError` naming the operation, the member path and an excerpt.
In an array, one unreadable item fails the whole read: a list silently short of a record would
make sync believe that record left LA.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree

from .. import contract as c
from ..errors import AuthenticationFault, ProtocolError, SoapFault
from ..models import Token
from .xml import DEFAULT_LIMITS, Limits, local, parse

log = logging.getLogger("labridge.soap")

_XSI_TYPE = f"{{{c.XSI}}}type"
_XSI_NIL = f"{{{c.XSI}}}nil"
_ARRAY_TYPE = f"{{{c.SOAP_ENC}}}arrayType"
_ENV = f"{{{c.SOAP_ENV}}}Envelope"
_HEADER = f"{{{c.SOAP_ENV}}}Header"
_BODY = f"{{{c.SOAP_ENV}}}Body"
_FAULT = f"{{{c.SOAP_ENV}}}Fault"
_ROOT_ATTR = f"{{{c.SOAP_ENC}}}root"

# ColdFusion writes booleans as true/false, 1/0 or YES/NO (docs/contract.md §5).
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
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
    def __init__(
        self, root: etree._Element, limits: Limits, context: str, *, answer: bool = True
    ) -> None:
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
        #: The operation, and the member path being read, for error messages.
        self._context = context
        self._path: list[str] = []
        #: Reading LA's answer (the client), not a request (the sandbox, which refuses a malformed
        #: date itself, with LA's INVALID_FORMAT, so the decoder leaves such text as it is).
        self._answer = answer

    def at(self, name: str, el: etree._Element, expected: c.TypeExpr | None) -> Any:
        """The value of ``el``, read as the member (or item) ``name`` of the current value."""
        self._path.append(name)
        try:
            return self.value(el, expected)
        finally:
            self._path.pop()

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
        if _is_map(xtype):
            return self._map(children, expected)
        if _is_array(el, xtype) or isinstance(expected, c.ArrayOf):
            return self._array(children, expected)
        if children or isinstance(expected, c.StructRef):
            return self._struct(el, children, expected)
        return self._scalar(el, xtype, expected)

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

    def _array(self, children: list[etree._Element], expected: c.TypeExpr | None) -> list[Any]:
        # Items may be named like the parent or ``item``, inline or by href (docs/contract.md §5).
        item = expected.item if isinstance(expected, c.ArrayOf) else None
        values = (self.at(f"[{i}]", ch, item) for i, ch in enumerate(children, 1))
        return [v for v in values if v is not _ABSENT]

    def _struct(
        self, el: etree._Element, children: list[etree._Element], expected: c.TypeExpr | None
    ) -> dict[str, Any]:
        if not children and (el.text or "").strip():
            raise self._unreadable(el, f"<{local(el.tag)}> should be a struct but holds text")
        ctype = _complex(expected)
        out: dict[str, Any] = {}
        for ch in children:
            name, member = _member(ctype, local(ch.tag))
            _put(out, name, self.at(name, ch, member.type if member else None))
        return out

    def _map(self, items: list[etree._Element], expected: c.TypeExpr | None) -> dict[str, Any]:
        """An ``apachesoap:Map`` (a ColdFusion struct): ``<item><key/><value/></item>`` pairs,
        read as the struct the contract expects, keys matched ignoring case."""
        ctype = _complex(expected)
        out: dict[str, Any] = {}
        for item in items:
            parts = {local(ch.tag).lower(): ch for ch in item if isinstance(ch.tag, str)}
            key_el, value_el = parts.get("key"), parts.get("value")
            if key_el is None:
                raise self._unreadable(item, "a Map item has no <key>")
            name, member = _member(ctype, str(self.value(key_el, c.STRING)).strip())
            if value_el is None:
                _put(out, name, None)
            else:
                _put(out, name, self.at(name, value_el, member.type if member else None))
        return out

    def _scalar(
        self, el: etree._Element, xtype: tuple[str | None, str] | None, expected: c.TypeExpr | None
    ) -> Any:
        text = el.text or ""
        wire_kind = xtype[1] if xtype else None
        try:
            if not isinstance(expected, c.Scalar):
                return _generic(text, wire_kind)
            return _coerce(text, wire_kind, expected)
        except (ValueError, ArithmeticError):
            if isinstance(expected, c.Scalar) and expected.date and not self._answer:
                return text
            kind = wire_kind or (expected.xsd if isinstance(expected, c.Scalar) else "string")
            kind = "date" if isinstance(expected, c.Scalar) and expected.date else kind
            # An answer's values may be a learner's data: the message shows their shape only
            # ("99/99/9999"), which says enough about a format LA changed.
            shown = _shape(text) if self._answer else _excerpt(text)
            raise self._unreadable(
                el, f"<{local(el.tag)}> holds {shown!r}, which is not a valid {kind}"
            ) from None

    def _unreadable(self, el: etree._Element, why: str) -> ProtocolError:
        where = "".join(f".{p}" if not p.startswith("[") else p for p in self._path).lstrip(".")
        message = f"{self._context}: {where or local(el.tag)}: {why}"
        return ProtocolError(message, hint=UNREADABLE_HINT if self._answer else "")


UNREADABLE_HINT = (
    "LA answered in a form labridge cannot read; send this message (it names the member) to "
    "labridge's maintainers"
)
#: A member sent empty where a number or boolean is expected: read as if it were not sent.
_ABSENT: Any = object()
#: (type, member) pairs already warned about, so each unknown member is reported once a process.
_WARNED: set[tuple[str, str]] = set()


def _complex(expected: c.TypeExpr | None) -> c.ComplexType | None:
    return c.TYPES.get(expected.name) if isinstance(expected, c.StructRef) else None


@cache
def _members_by_lower_name(ctype: c.ComplexType) -> dict[str, c.Member]:
    return {mb.name.lower(): mb for mb in ctype.members}


def _member(ctype: c.ComplexType | None, name: str) -> tuple[str, c.Member | None]:
    """The contract's spelling of member ``name`` and its definition. ColdFusion is case-blind
    and sends ``SUCCESS`` or ``candidateUUID`` (docs/contract.md §5), so names match ignoring
    case."""
    if ctype is None:
        return name, None
    member = _members_by_lower_name(ctype).get(name.lower())
    if member is not None:
        return member.name, member
    if (ctype.name, name) not in _WARNED:
        _WARNED.add((ctype.name, name))
        log.warning("LA sent a member %s on %s that the contract does not know", name, ctype.name)
    return name, None


def _put(out: dict[str, Any], name: str, value: Any) -> None:
    if value is _ABSENT:
        return
    if name in out:  # a repeated member: keep every occurrence
        prev = out[name]
        if isinstance(prev, list):
            prev.append(value)  # in place: copying made 250,000 repeats take minutes
        else:
            out[name] = [prev, value]
    else:
        out[name] = value


def _xsi_type(el: etree._Element) -> tuple[str | None, str] | None:
    raw = el.get(_XSI_TYPE)
    if raw is None:
        return None
    prefix, _, name = raw.rpartition(":")
    return (el.nsmap.get(prefix or None), name)


def _is_map(xtype: tuple[str | None, str] | None) -> bool:
    # An undeclared prefix (None) is let through: the name is unambiguous in a SOAP answer.
    return xtype is not None and xtype[1] == "Map" and xtype[0] in (c.APACHE_SOAP_NS, None)


def _is_array(el: etree._Element, xtype: tuple[str | None, str] | None) -> bool:
    if el.get(_ARRAY_TYPE) is not None:
        return True
    return xtype is not None and xtype[1] == "Array" and xtype[0] in (c.SOAP_ENC, None)


def _coerce(text: str, wire_kind: str | None, expected: c.Scalar) -> Any:
    """``text`` as the contract's scalar, whatever ``xsd:``/``soapenc:`` type ColdFusion gave it
    (docs/contract.md §5). Raises ValueError (or ArithmeticError) when it cannot be read so."""
    if expected.date:
        return _date(text)
    if expected.xsd == "string":
        return _string(text, wire_kind)
    stripped = text.strip()
    if not stripped:
        return _ABSENT  # ColdFusion sends an empty string for an empty numeric
    if expected.xsd == "boolean":
        return _boolean(stripped)
    if expected.xsd in _INT_TYPES:
        return _integer(stripped)
    if expected.xsd in _FLOAT_TYPES:
        return float(stripped)
    return text


def _string(text: str, wire_kind: str | None) -> str:
    """A string, with an integral ColdFusion numeric (``31.0``) turned back into ``31``."""
    stripped = text.strip()
    if wire_kind not in _FLOAT_TYPES or not stripped:
        return text
    number = Decimal(stripped)
    if number.is_finite() and number == number.to_integral_value():
        return str(int(number))
    return stripped


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        number = Decimal(text)  # ColdFusion numerics are doubles: 31.0
        if not number.is_finite() or number != number.to_integral_value():
            raise
        return int(number)


def _date(text: str) -> str:
    """``YYYY-MM-DD``: the London calendar date of an ``xsd:dateTime`` (ColdFusion sends UTC, so
    ``2024-08-31T23:00:00Z`` is 1 September), or a plain date as it is. Empty stays empty."""
    stripped = text.strip()
    if not stripped:
        return ""
    if "T" in stripped:
        moment = datetime.fromisoformat(stripped)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(_LONDON).date().isoformat()
    if not _PLAIN_DATE.fullmatch(stripped):
        raise ValueError(stripped)
    return date.fromisoformat(stripped[:10]).isoformat()


_LONDON = ZoneInfo("Europe/London")
#: ``YYYY-MM-DD``, optionally with the zone an ``xsd:date`` may carry.
_PLAIN_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(Z|[+-]\d{2}:\d{2})?")


def _generic(text: str, wire_kind: str | None) -> Any:
    """A scalar the contract does not type (an unknown member), read by its own ``xsi:type``;
    empty where a number or boolean is typed, it counts as not sent (docs/contract.md §5)."""
    if wire_kind in _INT_TYPES or wire_kind in _FLOAT_TYPES or wire_kind == "boolean":
        return _coerce(text, None, c.Scalar(wire_kind))
    return text


def _boolean(text: str) -> bool:
    t = text.strip().lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    raise ValueError(text)


def _shape(text: str, size: int = 60) -> str:
    """``text`` with every letter shown as ``A`` and every digit as ``9``: its form, not its
    content (``"31/12/2025"`` → ``"99/99/9999"``, ``"Jo Bloggs"`` → ``"AA AAAAAA"``)."""
    flat = _excerpt(text, size)
    return "".join("9" if ch.isdigit() else "A" if ch.isalpha() else ch for ch in flat)


def _excerpt(text: str, size: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= size else flat[: size - 1] + "…"


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
    decoder = _Decoder(root, limits, name, answer=False)
    params: dict[str, Any] = {}
    for ch in op_el:
        if isinstance(ch.tag, str):
            pname = local(ch.tag)
            _put(params, pname, decoder.at(pname, ch, types.get(pname)))
    return Request(name, params, _header(header_el), local(op_el.tag))


def decode_response(data: bytes, op: c.Operation, limits: Limits = DEFAULT_LIMITS) -> Response:
    """Decode the answer to ``op``; a Fault body raises :class:`SoapFault` (or
    :class:`AuthenticationFault` when it says ``Authentication failed:``). A value that cannot be
    read as the contract's type raises :class:`ProtocolError` naming ``op``, the member path
    (``GetCandidatesReturn[3].StartDate``) and a short excerpt."""
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
    value = None
    if ret is not None:
        value = _Decoder(root, limits, op.name).at(local(ret.tag), ret, op.returns)
    return Response(None if value is _ABSENT else value, _header(header_el))


def _fault(el: etree._Element) -> SoapFault:
    def text(name: str) -> str:
        found = next((ch for ch in el if isinstance(ch.tag, str) and local(ch.tag) == name), None)
        if found is None:
            return ""
        return "".join(str(t) for t in found.itertext()).strip()

    code, string, detail = text("faultcode"), text("faultstring"), text("detail")
    if _says_authentication_failed(string) or _says_authentication_failed(detail):
        return AuthenticationFault(code, string, detail)
    return SoapFault(code, string, detail)


def _says_authentication_failed(text: str) -> bool:
    """LA's own fault text, bare or as ColdFusion wraps it
    (``coldfusion.xml.rpc.CFCInvocationException: [coldfusion.runtime.CustomException :
    Authentication failed: ...]``), in the fault string or only in the detail (docs/contract.md
    §2)."""
    return c.AUTH_FAILED_PREFIX.lower() in text.lower()
