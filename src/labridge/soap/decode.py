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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree

from .. import contract as c
from ..errors import AuthenticationFault, ProtocolError, SoapFault
from ..models import Token
from .xml import DEFAULT_LIMITS, Limits, local, parse_message

log = logging.getLogger("labridge.soap")

_XSI_TYPE = f"{{{c.XSI}}}type"
#: The same as bytes, which lxml reads a little faster (no encoding).
_XSI_TYPE_KEY: Any = _XSI_TYPE.encode()
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
    """Reads one message's values. ``ids_may_repeat`` is ``False`` when the parser saw from the
    bytes that no ``id`` is used twice (:func:`xml.parse_message`): the ids are then indexed only
    when a first ``href`` is followed, the Body's children (Axis's multiRef siblings) first."""

    def __init__(
        self,
        root: etree._Element,
        limits: Limits,
        context: str,
        *,
        answer: bool = True,
        ids_may_repeat: bool = True,
        body: etree._Element | None = None,
    ) -> None:
        self._root = root
        self._body = body
        #: id → element; ``None`` until needed. ``_indexed`` once every element is in it.
        self._ids: dict[str, etree._Element] | None = None
        self._indexed = False
        if ids_may_repeat:
            self._index_all()
        self._budget = limits.max_nodes
        self._limit = limits.max_nodes
        self._stack: set[int] = set()
        self._depth = 0
        self._max_depth = limits.max_depth
        #: The operation, and the member path being read (names, and 1-based array positions),
        #: for error messages.
        self._context = context
        self._path: list[str | int] = []
        #: Reading LA's answer (the client), not a request (the sandbox, which refuses a malformed
        #: date itself, with LA's INVALID_FORMAT, so the decoder leaves such text as it is).
        self._answer = answer

    def _index_all(self) -> None:
        ids: dict[str, etree._Element] = {}
        for el in self._root.iter("*"):
            ident = el.get("id")
            if ident is not None:
                if ident in ids:
                    raise ProtocolError(f"id {ident!r} is used twice in the message")
                ids[ident] = el
        self._ids = ids
        self._indexed = True

    def _target(self, ident: str) -> etree._Element | None:
        if self._ids is None:  # ids are known to be unique: the Body's children first
            body = self._body if self._body is not None else self._root
            self._ids = {i: el for el in body if (i := el.get("id")) is not None}
        target = self._ids.get(ident)
        if target is None and not self._indexed:
            self._index_all()
            target = self._ids.get(ident)
        return target

    def at(self, name: str | int, el: etree._Element, expected: c.TypeExpr | None) -> Any:
        """The value of ``el``, read as the member (or 1-based item) ``name`` of the current
        value."""
        self._path.append(name)
        try:
            return self.value(el, expected)
        finally:
            self._path.pop()

    def value(
        self,
        el: etree._Element,
        expected: c.TypeExpr | None,
        ctype: c.ComplexType | None = None,
    ) -> Any:
        """The value of ``el``; ``ctype`` is ``expected``'s struct type when the caller has it."""
        self._budget -= 1
        if self._budget < 0:
            raise ProtocolError(f"message expands to more than {self._limit} nodes")
        if self._depth >= self._max_depth:
            raise ProtocolError(
                f"message nests values deeper than {self._max_depth} levels (each href counts)"
            )
        self._depth += 1
        try:
            return self._value(el, expected, ctype)
        finally:
            self._depth -= 1

    def _value(
        self, el: etree._Element, expected: c.TypeExpr | None, ctype: c.ComplexType | None
    ) -> Any:
        href = el.get("href")
        if href is not None:
            return self._follow(href, expected)
        nil = el.get(_XSI_NIL)
        if nil is not None and nil.lower() in _TRUE:
            return None
        raw = el.get(_XSI_TYPE)
        kind = raw.rpartition(":")[2] if raw is not None else None
        children = [ch for ch in el if isinstance(ch.tag, str)]
        if kind == "Map" and _type_namespace(el, raw) in _MAP_NAMESPACES:
            return self._map(children, expected)
        if (
            isinstance(expected, c.ArrayOf)
            or el.get(_ARRAY_TYPE) is not None
            or (kind == "Array" and _type_namespace(el, raw) in _ARRAY_NAMESPACES)
        ):
            return self._array(children, expected)
        if children or isinstance(expected, c.StructRef):
            return self._struct(el, children, expected, ctype)
        return self._scalar(el, kind, expected)

    def _follow(self, href: str, expected: c.TypeExpr | None) -> Any:
        if not href.startswith("#"):
            raise ProtocolError(f"href {href!r} refused: only local '#id' references are allowed")
        target = self._target(href[1:])
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
        ctype = _complex(item)
        path = self._path
        out: list[Any] = []
        # A struct item with at most an xsi:type (no href, nil or array type: the common case) is
        # read as a struct here, as value() would after its checks one by one.
        fast = ctype is not None and self._depth < self._max_depth
        slots = _slots(ctype) if ctype is not None else None
        xsi_type, kinds = _XSI_TYPE_KEY, _KINDS
        for index, ch in enumerate(children, 1):
            path.append(index)
            try:
                plain = False
                if fast:
                    count = len(ch.attrib)
                    if count == 0:
                        plain = True
                    elif count == 1:
                        raw = ch.get(xsi_type)
                        if raw is not None:
                            kind = kinds.get(raw) or _kind(raw)
                            plain = kind != "Map" and kind != "Array"
                if plain:
                    self._budget -= 1
                    if self._budget < 0:
                        raise ProtocolError(f"message expands to more than {self._limit} nodes")
                    self._depth += 1
                    try:
                        value = self._struct(ch, list(ch), item, ctype, slots)
                    finally:
                        self._depth -= 1
                else:
                    value = self.value(ch, item, ctype)
            finally:
                path.pop()
            if value is not _ABSENT:
                out.append(value)
        return out

    def _struct(
        self,
        el: etree._Element,
        children: list[etree._Element],
        expected: c.TypeExpr | None,
        ctype: c.ComplexType | None,
        slots: dict[str, _Slot] | None = None,
    ) -> dict[str, Any]:
        """``slots`` are ``ctype``'s (:func:`_slots`), when the caller has them."""
        if not children and (el.text or "").strip():
            raise self._unreadable(el, f"<{local(el.tag)}> should be a struct but holds text")
        if ctype is None:
            ctype = _complex(expected)
        out: dict[str, Any] = {}
        if ctype is None:
            for ch in children:
                name = local(ch.tag)
                _put(out, name, self.at(name, ch, None))
            return out
        self._members(children, ctype, slots or _slots(ctype), out)
        return out

    def _members(
        self,
        children: list[etree._Element],
        ctype: c.ComplexType,
        slots: dict[str, _Slot],
        out: dict[str, Any],
    ) -> None:
        """``ctype``'s members into ``out``. A scalar member with at most an xsi:type (no href,
        nil or element children: the common case) is read here; any other goes through value(),
        which does the same checks one by one. Depth allows a member below this struct only
        under max_depth."""
        fast, absent, slow = self._depth < self._max_depth, _ABSENT, _SLOW
        for ch in children:
            slot = slots.get(ch.tag) or _new_slot(ctype, slots, ch.tag)
            if slot is None:  # a member the contract does not know (warned about once)
                name, _ = _member(ctype, local(ch.tag))
                _put(out, name, self.at(name, ch, None))
                continue
            name, mtype, convert = slot
            value = self._plain(ch, convert) if fast and convert else slow
            if value is slow:
                value = self.at(name, ch, mtype)
            if value is absent:
                continue
            if name in out:
                _put(out, name, value)
            else:
                out[name] = value

    def _plain(self, ch: etree._Element, convert: Callable[[str, str | None], Any]) -> Any:
        """Member ``ch`` read straight from its text when it is a plain scalar (no children, no
        attribute but an xsi:type of a scalar kind); :data:`_SLOW` when value() must read it."""
        if len(ch):
            return _SLOW
        raw = ch.get(_XSI_TYPE_KEY)
        kind = None if raw is None else (_KINDS.get(raw) or _kind(raw))
        if len(ch.attrib) != (raw is not None) or kind == "Map" or kind == "Array":
            return _SLOW
        self._budget -= 1
        if self._budget < 0:
            raise ProtocolError(f"message expands to more than {self._limit} nodes")
        text = ch.text or ""
        if convert is _string and kind not in _FLOAT_TYPES:
            return text
        value = _DATES.get(text) if convert is _date else None
        if value is not None:
            return value
        try:
            return convert(text, kind)
        except (ValueError, ArithmeticError):
            # Read again through value(), to fail (or not) with the member's path.
            self._budget += 1
            return _SLOW

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
        self, el: etree._Element, wire_kind: str | None, expected: c.TypeExpr | None
    ) -> Any:
        text = el.text or ""
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
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self._path)
        message = f"{self._context}: {where.lstrip('.') or local(el.tag)}: {why}"
        return ProtocolError(message, hint=UNREADABLE_HINT if self._answer else "")


UNREADABLE_HINT = (
    "LA answered in a form labridge cannot read; send this message (it names the member) to "
    "labridge's maintainers"
)
#: A member sent empty where a number or boolean is expected: read as if it were not sent.
_ABSENT: Any = object()
#: A member the fast read leaves to value() (:meth:`_Decoder._plain`).
_SLOW: Any = object()
#: (type, member) pairs already warned about, so each unknown member is reported once a process.
_WARNED: set[tuple[str, str]] = set()


def _complex(expected: c.TypeExpr | None) -> c.ComplexType | None:
    return c.TYPES.get(expected.name) if isinstance(expected, c.StructRef) else None


#: How a struct member is read: its contract spelling, its type, and for a scalar the function of
#: (text, wire kind) that reads it (as :func:`_coerce` does), ``None`` for a struct or an array.
_Slot = tuple[str, c.TypeExpr, Callable[[str, str | None], Any] | None]


def _slots(ctype: c.ComplexType) -> dict[str, _Slot]:
    """``ctype``'s members by element tag as met on the wire (filled as tags are met), kept on the
    type itself so that an overridden catalogue's types get their own."""
    slots: dict[str, _Slot] | None = ctype.codec_cache.get("decode")
    if slots is None:
        slots = ctype.codec_cache["decode"] = {}
    return slots


def _new_slot(ctype: c.ComplexType, slots: dict[str, _Slot], tag: str) -> _Slot | None:
    member = ctype.member_ignoring_case(local(tag))
    if member is None:
        return None
    slot = slots[tag] = (member.name, member.type, _converter(member.type))
    return slot


def _converter(expected: c.TypeExpr) -> Callable[[str, str | None], Any] | None:
    if not isinstance(expected, c.Scalar):
        return None
    if expected.date:
        return _date
    if expected.xsd == "string":
        return _string
    if expected.xsd == "boolean":
        return _read_boolean
    if expected.xsd in _INT_TYPES:
        return _read_integer
    return lambda text, kind: _coerce(text, kind, expected)


def _read_integer(text: str, _kind: str | None) -> Any:
    """:func:`_coerce` of an integer."""
    stripped = text.strip()
    return _integer(stripped) if stripped else _ABSENT


def _read_boolean(text: str, _kind: str | None) -> Any:
    """:func:`_coerce` of a boolean."""
    stripped = text.strip()
    return _boolean(stripped) if stripped else _ABSENT


def _member(ctype: c.ComplexType | None, name: str) -> tuple[str, c.Member | None]:
    """The contract's spelling of member ``name`` and its definition. ColdFusion is case-blind
    and sends ``SUCCESS`` or ``candidateUUID`` (docs/contract.md §5), so names match ignoring
    case."""
    if ctype is None:
        return name, None
    member = ctype.member_ignoring_case(name)
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


def _kind(raw: str) -> str:
    """The local name of an ``xsi:type`` value (``xsd:string`` → ``string``), remembered."""
    kind = raw.rpartition(":")[2]
    if len(_KINDS) < 1024:
        _KINDS[raw] = kind
    return kind


_KINDS: dict[str, str] = {}


def _type_namespace(el: etree._Element, raw: str | None) -> str | None:
    """The namespace of an ``xsi:type`` value's prefix (of the default namespace without one)."""
    return el.nsmap.get((raw or "").rpartition(":")[0] or None)


# An undeclared prefix (None) is let through: the name is unambiguous in a SOAP answer.
_MAP_NAMESPACES = (c.APACHE_SOAP_NS, None)
_ARRAY_NAMESPACES = (c.SOAP_ENC, None)


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


def _date(text: str, wire_kind: str | None = None) -> str:
    """``YYYY-MM-DD``: the London calendar date of an ``xsd:dateTime`` (ColdFusion sends UTC, so
    ``2024-08-31T23:00:00Z`` is 1 September), or a plain date as it is. Empty stays empty. Whatever
    the wire type (``wire_kind``, unused). Dates read are remembered (a list repeats them)."""
    known = _DATES.get(text)
    if known is not None:
        return known
    stripped = text.strip()
    if not stripped:
        return ""
    if "T" in stripped:
        moment = datetime.fromisoformat(stripped)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        day = moment.astimezone(_LONDON).date().isoformat()
    elif not _PLAIN_DATE.fullmatch(stripped):
        raise ValueError(stripped)
    else:
        day = date.fromisoformat(stripped[:10]).isoformat()
    if len(_DATES) >= _DATES_KEPT:
        _DATES.clear()
    _DATES[text] = day
    return day


#: Texts already read as dates, and the date of each; emptied when it reaches its size.
_DATES: dict[str, str] = {}
_DATES_KEPT = 4096
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
    root, ids_may_repeat = parse_message(data, limits)
    header_el, body = _envelope_parts(root)
    op_el = _main_element(body)
    # The operation is named on the wire by its wire name; the request carries its logical one.
    op = c.operation_by_wire(local(op_el.tag))
    name = op.name if op is not None else local(op_el.tag)
    types = {p.name: p.type for p in op.params} if op else {}
    decoder = _Decoder(root, limits, name, answer=False, ids_may_repeat=ids_may_repeat, body=body)
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
    root, ids_may_repeat = parse_message(data, limits)
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
        decoder = _Decoder(root, limits, op.name, ids_may_repeat=ids_may_repeat, body=body)
        value = decoder.at(local(ret.tag), ret, op.returns)
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
