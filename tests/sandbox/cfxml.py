"""Reading ColdFusion-dialect answers with lxml alone, as the tests' independent eye: resolve
``href``s, resolve ``xsi:type`` QNames through the namespaces in scope, and turn an answer into
plain values (Maps to dicts, arrays to lists, scalars to ``(type, text)``)."""

from __future__ import annotations

from typing import Any

from lxml import etree

from labridge import contract as c
from labridge.models import Token

APACHE_SOAP = "http://xml.apache.org/xml-soap"
AXIS = "http://xml.apache.org/axis/"
NS = {
    "soapenv": c.SOAP_ENV,
    "soapenc": c.SOAP_ENC,
    "xsi": c.XSI,
    "ns1": c.LA_NS,
    "axis": AXIS,
    "apachesoap": APACHE_SOAP,
}
XSI_TYPE = f"{{{c.XSI}}}type"
XSI_NIL = f"{{{c.XSI}}}nil"
ARRAY_TYPE = f"{{{c.SOAP_ENC}}}arrayType"
ROOT = f"{{{c.SOAP_ENC}}}root"
ENC_STYLE = f"{{{c.SOAP_ENV}}}encodingStyle"

#: What the scalar types resolve to.
SOAPENC_STRING = (c.SOAP_ENC, "string")
SOAPENC_BOOLEAN = (c.SOAP_ENC, "boolean")
SOAPENC_DOUBLE = (c.SOAP_ENC, "double")
XSD_DATETIME = (c.XSD, "dateTime")
XSD_STRING = (c.XSD, "string")
MAP = (APACHE_SOAP, "Map")
ARRAY = (c.SOAP_ENC, "Array")


def parse(content: bytes) -> etree._Element:
    return etree.fromstring(content)


def resolve(el: etree._Element, qname: str) -> tuple[str, str]:
    """A QName-valued attribute as ``(namespace, local)``, through the prefixes in scope at
    ``el``: a prefix that is not declared fails the test."""
    prefix, _, local = qname.rpartition(":")
    namespace = el.nsmap.get(prefix or None)
    assert namespace is not None, f"prefix {prefix!r} of {qname!r} is not declared"
    return str(namespace), local


def xsi_type(el: etree._Element) -> tuple[str, str] | None:
    value = el.get(XSI_TYPE)
    return None if value is None else resolve(el, value)


def array_type(el: etree._Element) -> tuple[tuple[str, str], int]:
    """``soapenc:arrayType="p:T[N]"`` as ``((ns, T), N)``."""
    value = el.get(ARRAY_TYPE)
    assert value is not None, f"no arrayType on {el.tag}"
    assert value.endswith("]"), value
    qname, _, size = value[:-1].partition("[")
    return resolve(el, qname), int(size)


def body(root: etree._Element) -> etree._Element:
    found = root.find("soapenv:Body", NS)
    assert found is not None
    return found


def multirefs(root: etree._Element) -> dict[str, etree._Element]:
    return {str(el.get("id")): el for el in body(root).findall("multiRef")}


def deref(root: etree._Element, el: etree._Element) -> etree._Element:
    href = el.get("href")
    assert href is not None, f"{el.tag} is not sent by reference"
    assert href.startswith("#"), href
    return multirefs(root)[href[1:]]


def return_element(root: etree._Element, op: c.Operation) -> etree._Element:
    found = body(root).find(f"ns1:{op.response_element}/{op.return_element}", NS)
    assert found is not None, f"no {op.return_element}"
    return found


def _child(el: etree._Element, tag: str) -> etree._Element:
    found = el.find(tag)
    assert found is not None, f"no {tag} in {el.tag}"
    return found


def value(root: etree._Element, el: etree._Element) -> Any:
    """The plain value ``el`` holds, following ``href``s."""
    if el.get("href") is not None:
        el = deref(root, el)
    if el.get(XSI_NIL) == "true":
        return None
    kind = xsi_type(el)
    if kind == MAP:
        items = el.findall("item")
        return {
            str(value(root, _child(i, "key"))[1]): value(root, _child(i, "value")) for i in items
        }
    if kind == ARRAY:
        return [value(root, item) for item in el]
    if len(el):
        return {etree.QName(child).localname: value(root, child) for child in el}
    assert kind is not None, f"untyped scalar {el.tag}"
    return kind, el.text or ""


def answer(content: bytes, op: c.Operation) -> Any:
    root = parse(content)
    return value(root, return_element(root, op))


def token(content: bytes) -> Token:
    """The session token of an Authenticate answer's header."""
    root = parse(content)
    header = root.find(f"soapenv:Header/{{{c.LA_NS}}}{c.AUTH_HEADER}", NS)
    assert header is not None
    assert header.get(c.AUTH_LOGGEDIN) == c.YES
    ident = header.findtext(f"{{{c.LA_NS}}}{c.AUTH_ID}")
    uuid = header.findtext(f"{{{c.LA_NS}}}{c.AUTH_UUID}")
    assert ident
    assert uuid
    return Token(id=ident, uuid=uuid)
