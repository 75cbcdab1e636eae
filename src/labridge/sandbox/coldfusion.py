"""Answers and faults as a real ColdFusion (Axis 1) server puts them on the wire (docs/contract.md
§5).

The ``coldfusion`` dialect of the sandbox answers with these, so that labridge is tested against
the shapes LA really sends, not only the tidy ones of its samples:

- the return, and every struct and array in it, by ``href`` to a ``<multiRef id="idN"
  soapenc:root="0">`` sibling in the Body, written breadth first as Axis does; array items are
  named ``item`` and go by ``href`` too;
- scalars typed ``soapenc:string``/``soapenc:boolean``/``soapenc:double``, a ColdFusion
  ``numeric`` (an id such as NationalityID, a count, a percentage) as a double (``31.0``), and
  dates as ``xsd:dateTime`` at London midnight in UTC (:func:`london_midnight`);
- a ``returntype="struct"`` answer (GroupEnrolment, UpdateEnrolment) as an ``apachesoap:Map``
  with upper-cased keys, its arrays as ``xsd:anyType[N]`` of Maps;
- faults a component throws wrapped in ``CFCInvocationException``, with Axis's ``detail``.

Which member gets which type is decided in :mod:`.cfkinds`, from the catalogue.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree

from .. import contract as c
from ..models import Token
from .cfkinds import APACHE_SOAP_NS, Kind, is_struct, member_kind, scalar_kind

AXIS_NS = "http://xml.apache.org/axis/"
#: What the faults of a ColdFusion component are called, and the class a ``cfthrow`` raises.
CFC_EXCEPTION = "coldfusion.xml.rpc.CFCInvocationException"
CUSTOM_EXCEPTION = "coldfusion.runtime.CustomException"
#: The host Axis names in a fault's detail.
HOSTNAME = "sandbox"
LONDON = ZoneInfo("Europe/London")

_XSI_TYPE = f"{{{c.XSI}}}type"
_XSI_NIL = f"{{{c.XSI}}}nil"
_ARRAY_TYPE = f"{{{c.SOAP_ENC}}}arrayType"
_ENC_STYLE = f"{{{c.SOAP_ENV}}}encodingStyle"
_ROOT = f"{{{c.SOAP_ENC}}}root"
#: The prefix a multiRef binds to the namespace of the type it holds.
_TYPES_PREFIX = "tns2"
#: The frames of the stack trace Axis puts in a fault's detail (the top of a real one).
_TRACE = (
    "coldfusion.xml.rpc.CFComponentSkeleton.__createCFCInvocationException"
    "(CFComponentSkeleton.java:762)",
    "coldfusion.xml.rpc.CFComponentSkeleton.__convertOut(CFComponentSkeleton.java:407)",
    "org.apache.axis.providers.java.RPCProvider.invokeMethod(RPCProvider.java:397)",
)

Fill = Callable[[etree._Element], None]


def london_midnight(day: date) -> str:
    """``day`` as ColdFusion sends a ``date``: its London midnight in UTC, to the millisecond
    (``2024-09-01`` → ``2024-08-31T23:00:00.000Z`` in summer time)."""
    midnight = datetime.combine(day, time(0), tzinfo=LONDON).astimezone(UTC)
    # Not strftime's %Y: it does not pad years before 1000 to four digits on every platform.
    return f"{midnight.year:04d}-" + midnight.strftime("%m-%dT%H:%M:%S.000Z")


def _double(value: Any) -> str | None:
    try:
        return repr(float(value))
    except (TypeError, ValueError):
        return None


def _date(value: Any) -> str | None:
    if isinstance(value, date):
        return london_midnight(value)
    try:
        return london_midnight(date.fromisoformat(str(value).strip()))
    except ValueError:
        return None


def _set_scalar(el: etree._Element, value: Any, kind: Kind, *, part: bool = False) -> None:
    """Type and write one scalar (``part``: a return or parameter, ``xsd:``-typed, else a member,
    ``soapenc:``-typed); a value the kind cannot hold goes as the string it is (as LA's empty ids
    arrive), and an empty date as nil (ColdFusion has no empty date)."""
    if kind is Kind.DATE and value == "":
        el.set(_XSI_NIL, "true")
        return
    if kind is Kind.BOOLEAN:
        text: str | None = "true" if value in (True, "true", "1", 1) else "false"
    elif kind is Kind.DOUBLE:
        text = _double(value)
    elif kind is Kind.DATE:
        text = _date(value)
    else:
        text = str(value)
    if text is None:
        kind, text = Kind.STRING, str(value)
    el.set(_XSI_TYPE, kind.part_qname if part else kind.qname)
    el.text = text


class _Writer:
    """Writes one answer: every struct and array becomes a multiRef sibling in ``body``, queued
    and written in the order Axis numbers them (breadth first)."""

    def __init__(self, body: etree._Element) -> None:
        self.body = body
        self.pending: deque[tuple[str, dict[str, str], Fill]] = deque()
        self.next_id = 0

    def flush(self) -> None:
        while self.pending:
            ident, nsmap, fill = self.pending.popleft()
            target = etree.SubElement(self.body, "multiRef", nsmap=nsmap)
            target.set("id", ident)
            target.set(_ROOT, "0")
            target.set(_ENC_STYLE, c.SOAP_ENC)
            fill(target)

    def _refer(self, el: etree._Element, nsmap: dict[str, str], fill: Fill) -> None:
        ident = f"id{self.next_id}"
        self.next_id += 1
        el.set("href", f"#{ident}")
        self.pending.append((ident, {"soapenc": c.SOAP_ENC, **nsmap}, fill))

    def value(self, el: etree._Element, value: Any, type_: c.TypeExpr, kind: Kind | None) -> None:
        """``el`` holding ``value`` of ``type_``; ``kind`` types a scalar member."""
        if value is None:
            el.set(_XSI_NIL, "true")
        elif isinstance(type_, c.ArrayOf):
            self._refer(el, self._array_nsmap(type_), lambda t: self._array(t, value, type_))
        elif isinstance(type_, c.StructRef) and is_struct(type_):
            self._refer(el, {"apachesoap": APACHE_SOAP_NS}, lambda t: self._map(t, value, type_))
        elif isinstance(type_, c.StructRef):
            nsmap = {_TYPES_PREFIX: c.TYPES[type_.name].namespace}
            self._refer(el, nsmap, lambda t: self._struct(t, value, type_))
        else:
            _set_scalar(el, value, kind or scalar_kind(type_), part=kind is None)

    # -- typed components (beans) --------------------------------------------------------------

    def _array_nsmap(self, array: c.ArrayOf) -> dict[str, str]:
        if isinstance(array.item, c.StructRef):
            return {_TYPES_PREFIX: c.TYPES[array.item.name].namespace}
        return {}

    def _array(self, el: etree._Element, items: list[Any], array: c.ArrayOf) -> None:
        el.set(_XSI_TYPE, "soapenc:Array")
        if not items or not isinstance(array.item, c.StructRef):
            el.set(_ARRAY_TYPE, f"xsd:anyType[{len(items)}]")
        else:
            el.set(_ARRAY_TYPE, f"{_TYPES_PREFIX}:{c.TYPES[array.item.name].wire}[{len(items)}]")
        for item in items:
            self.value(etree.SubElement(el, "item"), item, array.item, None)

    def _struct(self, el: etree._Element, value: Mapping[str, Any], ref: c.StructRef) -> None:
        ctype = c.TYPES[ref.name]
        el.set(_XSI_TYPE, f"{_TYPES_PREFIX}:{ctype.wire}")
        for mb in ctype.members:
            if mb.name in value:
                kind = member_kind(ctype, mb) if isinstance(mb.type, c.Scalar) else None
                self.value(etree.SubElement(el, mb.name), value[mb.name], mb.type, kind)

    # -- ColdFusion structs (Maps) -------------------------------------------------------------

    def _map(self, el: etree._Element, value: Mapping[str, Any], ref: c.StructRef) -> None:
        ctype = c.TYPES[ref.name]
        el.set(_XSI_TYPE, "apachesoap:Map")
        for mb in ctype.members:
            if mb.name not in value:
                continue
            item = etree.SubElement(el, "item")
            key = etree.SubElement(item, "key")
            _set_scalar(key, mb.name.upper(), Kind.STRING)  # ColdFusion upper-cases struct keys
            kind = member_kind(ctype, mb) if isinstance(mb.type, c.Scalar) else None
            self._map_value(etree.SubElement(item, "value"), value[mb.name], mb.type, kind)

    def _map_value(
        self, el: etree._Element, value: Any, type_: c.TypeExpr, kind: Kind | None
    ) -> None:
        # Inside a struct everything is untyped: structs are Maps, arrays xsd:anyType[N].
        nsmap = {"apachesoap": APACHE_SOAP_NS}
        if value is not None and isinstance(type_, c.ArrayOf):
            self._refer(el, nsmap, lambda t: self._any_array(t, value, type_))
        elif value is not None and isinstance(type_, c.StructRef):
            self._refer(el, nsmap, lambda t: self._map(t, value, type_))
        else:
            self.value(el, value, type_, kind)

    def _any_array(self, el: etree._Element, items: list[Any], array: c.ArrayOf) -> None:
        el.set(_XSI_TYPE, "soapenc:Array")
        el.set(_ARRAY_TYPE, f"xsd:anyType[{len(items)}]")
        for item in items:
            self._map_value(etree.SubElement(el, "item"), item, array.item, None)


# ---------------------------------------------------------------------------------------------
# Envelopes


def _envelope(
    token: Token | None, header_namespace: str, loggedin: str | None
) -> tuple[etree._Element, etree._Element]:
    nsmap = {"soapenv": c.SOAP_ENV, "xsd": c.XSD, "xsi": c.XSI}
    root = etree.Element(f"{{{c.SOAP_ENV}}}Envelope", nsmap=nsmap)
    if loggedin is not None:
        header = etree.SubElement(root, f"{{{c.SOAP_ENV}}}Header")
        _auth_header(header, token, header_namespace, loggedin)
    return root, etree.SubElement(root, f"{{{c.SOAP_ENV}}}Body")


def _auth_header(
    parent: etree._Element, token: Token | None, namespace: str, loggedin: str
) -> None:
    # What LA adds with AddSOAPResponseHeader: style B of docs/contract.md §2.
    nsmap: Any = {None: namespace}  # lxml takes None as the default-namespace key
    el = etree.SubElement(parent, f"{{{namespace}}}{c.AUTH_HEADER}", nsmap=nsmap)
    el.set(c.AUTH_LOGGEDIN, loggedin)
    el.set(f"{{{c.SOAP_ENV}}}actor", "")
    el.set(f"{{{c.SOAP_ENV}}}mustUnderstand", "0")
    if token is None:
        return
    for name, value in ((c.AUTH_ID, token.id), (c.AUTH_UUID, token.uuid)):
        child = etree.SubElement(el, f"{{{namespace}}}{name}")
        child.set("type", "xsd:string")
        child.text = value


def _to_bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


def encode_response(
    op: c.Operation, value: Any, *, token: Token | None = None, loggedin: str | None = c.YES
) -> bytes:
    """ColdFusion's answer to ``op``: ``value`` is the wire value of its return (members keyed by
    wire name, as the handlers give it)."""
    service = c.service_of(op.name)
    root, body = _envelope(token, service.response_header_namespace, loggedin)
    nsmap = {"ns1": service.namespace, "soapenc": c.SOAP_ENC}
    resp = etree.SubElement(body, f"{{{service.namespace}}}{op.response_element}", nsmap=nsmap)
    resp.set(_ENC_STYLE, c.SOAP_ENC)
    writer = _Writer(body)
    writer.value(etree.SubElement(resp, op.return_element), value, op.returns, None)
    writer.flush()
    return _to_bytes(root)


def invocation_message(message: str, java_class: str = CUSTOM_EXCEPTION) -> str:
    """How ColdFusion words an exception a component threw (``cfthrow`` is a CustomException)."""
    return f"{CFC_EXCEPTION}: [{java_class} : {message}]"


def encode_fault(
    faultcode: str,
    faultstring: str,
    *,
    loggedin: str | None = None,
    header_namespace: str = c.LA_NS_HTTP,
) -> bytes:
    """A SOAP 1.1 fault as Axis writes it: ``detail`` holding the stack trace and the host."""
    root, body = _envelope(None, header_namespace, loggedin)
    fault = etree.SubElement(body, f"{{{c.SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = faultcode
    etree.SubElement(fault, "faultstring").text = faultstring
    detail = etree.SubElement(fault, "detail")
    trace = "".join(f"\n\tat {frame}" for frame in _TRACE)
    for name, text in (("stackTrace", faultstring + trace), ("hostname", HOSTNAME)):
        el = etree.SubElement(detail, f"{{{AXIS_NS}}}{name}", nsmap={"ns1": AXIS_NS})
        el.text = text
    return _to_bytes(root)
