"""WSDLs in the form ColdFusion (9 to 2021) generates them, for the ``coldfusion`` dialect
(docs/contract.md §5 "WSDLs").

Built from the catalogue like :mod:`.wsdl_samples`, but as ColdFusion's Axis writes them: the
``<!--WSDL created by ColdFusion ...-->`` comment; ``impl`` = ``intf`` = the component namespace,
``apachesoap``, ``tns1`` = ``http://rpc.xml.coldfusion`` (``CFCInvocationException``) and
``tns2``… for the type namespaces; arrays ``impl:ArrayOf_tns2_Type_x`` in the component
namespace; every member ``nillable="true"`` and typed as :mod:`.cfkinds` says (so the WSDL and the
answers agree); a ``returntype="struct"`` answer as ``apachesoap:Map``; a
``CFCInvocationException`` fault on every operation; ``user.cfcSoapBinding``, port ``user.cfc``,
service ``userService``. **No header is declared**: ColdFusion adds the token at run time, so a
WSDL-driven client builds the ``authToken`` header itself.
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

from .. import contract as c
from .cfkinds import APACHE_SOAP_NS, is_struct, member_kind, scalar_kind
from .wsdl_samples import SOAP_HTTP, WSDL_NS, WSDL_SOAP_NS, operation_messages

CF_RPC_NS = "http://rpc.xml.coldfusion"
CF_VERSION = "2021,0,0,0"
FAULT = "CFCInvocationException"

_W = f"{{{WSDL_NS}}}"
_S = f"{{{WSDL_SOAP_NS}}}"
_X = f"{{{c.XSD}}}"


def _closure(ops: tuple[c.Operation, ...]) -> tuple[set[str], set[c.ArrayOf]]:
    """The struct names and arrays the WSDL declares; a Map's insides are untyped, so not."""
    structs: set[str] = set()
    arrays: set[c.ArrayOf] = set()

    def walk(type_: c.TypeExpr) -> None:
        if isinstance(type_, c.ArrayOf):
            arrays.add(type_)
            walk(type_.item)
        elif isinstance(type_, c.StructRef) and not is_struct(type_) and type_.name not in structs:
            structs.add(type_.name)
            for mb in c.TYPES[type_.name].members:
                walk(mb.type)

    for op in ops:
        for type_ in (op.returns, *(p.type for p in op.params)):
            walk(type_)
    return structs, arrays


class _Builder:
    """Builds the ColdFusion WSDL of one component; ``ops`` are the operations it serves."""

    def __init__(self, service: c.Service, ops: tuple[c.Operation, ...]) -> None:
        self.service = service
        self.ops = ops
        self.structs, self.arrays = _closure(ops)
        self.uses_map = any(is_struct(t) for op in ops for t in (op.returns,))
        namespaces = sorted({c.TYPES[name].namespace for name in self.structs})
        self.prefixes = {ns: f"tns{i}" for i, ns in enumerate(namespaces, start=2)}
        self.component = service.file.removesuffix(".cfc")

    def qname(self, type_: c.TypeExpr) -> str:
        if isinstance(type_, c.Scalar):
            return scalar_kind(type_).part_qname
        if isinstance(type_, c.StructRef):
            if is_struct(type_):
                return "apachesoap:Map"
            ctype = c.TYPES[type_.name]
            return f"{self.prefixes[ctype.namespace]}:{ctype.wire}"
        return f"impl:{self.array_name(type_)}"

    def member_qname(self, ctype: c.ComplexType, member: c.Member) -> str:
        if isinstance(member.type, c.Scalar):
            return member_kind(ctype, member).qname
        return self.qname(member.type)

    def array_name(self, array: c.ArrayOf) -> str:
        return "ArrayOf_" + self.qname(array.item).replace(":", "_")

    def build(self, address: str) -> etree._Element:
        nsmap = {
            "apachesoap": APACHE_SOAP_NS,
            "impl": self.service.namespace,
            "intf": self.service.namespace,
            "soapenc": c.SOAP_ENC,
            "tns1": CF_RPC_NS,
            **{prefix: ns for ns, prefix in self.prefixes.items()},
            "wsdl": WSDL_NS,
            "wsdlsoap": WSDL_SOAP_NS,
            "xsd": c.XSD,
        }
        root = etree.Element(f"{_W}definitions", nsmap=nsmap)
        root.set("targetNamespace", self.service.namespace)
        root.append(etree.Comment(f"WSDL created by ColdFusion version {CF_VERSION}"))
        self._types(etree.SubElement(root, f"{_W}types"))
        self._messages(root)
        self._port_type(root)
        self._binding(root)
        self._service(root, address)
        return root

    # -- types ---------------------------------------------------------------------------------

    def _schema(self, types: etree._Element, namespace: str) -> etree._Element:
        schema = etree.SubElement(types, f"{_X}schema", nsmap={None: c.XSD})  # type: ignore[dict-item]
        schema.set("targetNamespace", namespace)
        others = {
            self.service.namespace,
            CF_RPC_NS,
            *self.prefixes,
            *([APACHE_SOAP_NS] if self.uses_map else []),
        }
        for ns in [*sorted(others - {namespace}), c.SOAP_ENC]:
            etree.SubElement(schema, f"{_X}import").set("namespace", ns)
        return schema

    def _types(self, types: etree._Element) -> None:
        exception = etree.SubElement(self._schema(types, CF_RPC_NS), f"{_X}complexType")
        exception.set("name", FAULT)
        etree.SubElement(exception, f"{_X}sequence")
        if self.uses_map:
            self._map_types(self._schema(types, APACHE_SOAP_NS))
        for ns in sorted(self.prefixes):
            schema = self._schema(types, ns)
            for name in sorted(self.structs):
                if c.TYPES[name].namespace == ns:
                    self._struct(schema, c.TYPES[name])
        if self.arrays:
            schema = self._schema(types, self.service.namespace)
            for array in sorted(self.arrays, key=self.array_name):
                self._array(schema, array)

    def _sequence(self, schema: etree._Element, name: str) -> etree._Element:
        ct = etree.SubElement(schema, f"{_X}complexType", name=name)
        return etree.SubElement(ct, f"{_X}sequence")

    def _struct(self, schema: etree._Element, ctype: c.ComplexType) -> None:
        seq = self._sequence(schema, ctype.wire)
        for mb in ctype.members:
            el = etree.SubElement(seq, f"{_X}element", name=mb.name, nillable="true")
            el.set("type", self.member_qname(ctype, mb))

    def _map_types(self, schema: etree._Element) -> None:
        # Axis's own declaration of a ColdFusion struct.
        item = self._sequence(schema, "mapItem")
        for name in ("key", "value"):
            etree.SubElement(item, f"{_X}element", name=name, nillable="true", type="xsd:anyType")
        etree.SubElement(
            self._sequence(schema, "Map"),
            f"{_X}element",
            maxOccurs="unbounded",
            minOccurs="0",
            name="item",
            type="apachesoap:mapItem",
        )

    def _array(self, schema: etree._Element, array: c.ArrayOf) -> None:
        ct = etree.SubElement(schema, f"{_X}complexType", name=self.array_name(array))
        content = etree.SubElement(ct, f"{_X}complexContent")
        restriction = etree.SubElement(content, f"{_X}restriction", base="soapenc:Array")
        attr = etree.SubElement(restriction, f"{_X}attribute", ref="soapenc:arrayType")
        attr.set(f"{_W}arrayType", f"{self.qname(array.item)}[]")

    # -- messages, portType, binding, service --------------------------------------------------

    def _messages(self, root: etree._Element) -> None:
        fault = etree.SubElement(root, f"{_W}message", name=FAULT)
        etree.SubElement(fault, f"{_W}part", name="fault", type=f"tns1:{FAULT}")
        operation_messages(root, self.ops, self.qname)

    def _port_type(self, root: etree._Element) -> None:
        port_type = etree.SubElement(root, f"{_W}portType", name=self.component)
        for op in self.ops:
            op_el = etree.SubElement(port_type, f"{_W}operation", name=op.wire)
            if op.params:
                op_el.set("parameterOrder", " ".join(p.name for p in op.params))
            for kind, name in self._io(op):
                etree.SubElement(op_el, f"{_W}{kind}", message=f"impl:{name}", name=name)

    def _io(self, op: c.Operation) -> tuple[tuple[str, str], ...]:
        return (("input", f"{op.wire}Request"), ("output", op.response_element), ("fault", FAULT))

    def _binding(self, root: etree._Element) -> None:
        binding = etree.SubElement(root, f"{_W}binding", name=f"{self.service.file}SoapBinding")
        binding.set("type", f"impl:{self.component}")
        etree.SubElement(binding, f"{_S}binding", style="rpc", transport=SOAP_HTTP)
        for op in self.ops:
            op_el = etree.SubElement(binding, f"{_W}operation", name=op.wire)
            etree.SubElement(op_el, f"{_S}operation", soapAction="")
            for kind, name in self._io(op):
                io = etree.SubElement(op_el, f"{_W}{kind}", name=name)
                body = etree.SubElement(io, f"{_S}{'fault' if kind == 'fault' else 'body'}")
                if kind == "fault":
                    body.set("name", name)
                body.attrib.update(
                    {
                        "encodingStyle": c.SOAP_ENC,
                        "namespace": self.service.namespace,
                        "use": "encoded",
                    }
                )

    def _service(self, root: etree._Element, address: str) -> None:
        service = etree.SubElement(root, f"{_W}service", name=f"{self.component}Service")
        port = etree.SubElement(
            service,
            f"{_W}port",
            binding=f"impl:{self.service.file}SoapBinding",
            name=self.service.file,
        )
        etree.SubElement(port, f"{_S}address", location=address)


def service_wsdl(service: c.Service, address: str, served: Iterable[str]) -> bytes:
    """ColdFusion's WSDL of ``service`` listing the operations named in ``served``, at
    ``address``."""
    names = set(served)
    ops = tuple(op for op in service.operations if op.name in names)
    root = _Builder(service, ops).build(address)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)
