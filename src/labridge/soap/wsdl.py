"""Reading a live WSDL 1.1 (RPC/encoded) into plain data, for ``labridge doctor``.

It reads both what the sandbox generates and what ColdFusion publishes (docs/contract.md §5):
``impl``/``intf``/``tns1``/``tns2`` prefixes (resolved by namespace, never by spelling),
``wsdlsoap:`` bindings, arrays as ``soapenc:Array`` restrictions (``ArrayOf_tns2_Type_x`` or
``ArrayOf_xsd_anyType``), ``soapenc:*`` member types, and no header declared. The document is
parsed with the hardened parser of :mod:`labridge.soap.xml` (no DTD, entities or network).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from .xml import Limits, parse

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
_W = f"{{{WSDL_NS}}}"
_X = f"{{{XSD_NS}}}"
_ARRAY_TYPE = f"{{{WSDL_NS}}}arrayType"

#: A qualified name: (namespace, local name).
QName = tuple[str, str]
#: The item of an array whose items are untyped (``xsd:anyType``).
ANY = (XSD_NS, "anyType")


@dataclass(frozen=True)
class WsdlOperation:
    name: str
    #: Parameters in order: (name, type).
    params: tuple[tuple[str, QName], ...]
    returns: QName | None
    namespace: str


@dataclass
class Wsdl:
    target_namespace: str
    operations: dict[str, WsdlOperation] = field(default_factory=dict)
    #: Struct types: their members in order, (name, type).
    structs: dict[QName, list[tuple[str, QName]]] = field(default_factory=dict)
    #: Array types: the type of their items (:data:`ANY` when untyped).
    arrays: dict[QName, QName] = field(default_factory=dict)


def _qname(el: etree._Element, value: str | None) -> QName:
    if not value:
        return ANY
    prefix, _, name = value.rpartition(":")
    name = name.removesuffix("[]")
    return (el.nsmap.get(prefix or None) or "", name)


def read_wsdl(data: bytes, limits: Limits | None = None) -> Wsdl:
    """The operations and types of a WSDL document (:class:`ProtocolError` if it is not XML)."""
    root = parse(data, limits) if limits else parse(data)
    wsdl = Wsdl(root.get("targetNamespace", ""))
    for schema in root.iter(f"{_X}schema"):
        _schema(schema, wsdl)
    messages = {m.get("name", ""): m for m in root.iter(f"{_W}message")}
    namespaces = _body_namespaces(root)
    for port_type in root.iter(f"{_W}portType"):
        for op in port_type.iter(f"{_W}operation"):
            parsed = _operation(op, messages, namespaces.get(op.get("name", ""), wsdl))
            wsdl.operations[parsed.name] = parsed
    return wsdl


def _schema(schema: etree._Element, wsdl: Wsdl) -> None:
    ns = schema.get("targetNamespace", "")
    for ct in schema.findall(f"{_X}complexType"):
        key = (ns, ct.get("name", ""))
        restriction = ct.find(f"{_X}complexContent/{_X}restriction")
        if restriction is not None and _qname(restriction, restriction.get("base")) == (
            SOAP_ENC,
            "Array",
        ):
            attr = restriction.find(f"{_X}attribute")
            item = attr.get(_ARRAY_TYPE) if attr is not None else None
            wsdl.arrays[key] = _qname(attr, item) if attr is not None else ANY
            continue
        wsdl.structs[key] = [
            (el.get("name", ""), _qname(el, el.get("type")))
            for el in ct.iter(f"{_X}element")
            if el.get("name")
        ]


def _body_namespaces(root: etree._Element) -> dict[str, str]:
    """Each operation's namespace, from its binding's ``soap:body namespace``."""
    out: dict[str, str] = {}
    for binding in root.iter(f"{_W}binding"):
        for op in binding.findall(f"{_W}operation"):
            body = op.find(f"{_W}input/{{{WSDL_SOAP_NS}}}body")
            if body is not None and body.get("namespace"):
                out[op.get("name", "")] = body.get("namespace", "")
    return out


def _operation(
    op: etree._Element, messages: dict[str, etree._Element], namespace: str | Wsdl
) -> WsdlOperation:
    name = op.get("name", "")
    ns = namespace if isinstance(namespace, str) else namespace.target_namespace
    params = _parts(op.find(f"{_W}input"), messages)
    order = (op.get("parameterOrder") or "").split()
    if order and sorted(order) == sorted(p for p, _ in params):
        by_name = dict(params)
        params = [(p, by_name[p]) for p in order]
    returns = _parts(op.find(f"{_W}output"), messages)
    return WsdlOperation(name, tuple(params), returns[0][1] if returns else None, ns)


def _parts(
    io: etree._Element | None, messages: dict[str, etree._Element]
) -> list[tuple[str, QName]]:
    if io is None:
        return []
    message = messages.get(_qname(io, io.get("message"))[1])
    if message is None:
        return []
    return [(p.get("name", ""), _qname(p, p.get("type"))) for p in message.findall(f"{_W}part")]
