"""RPC/encoded WSDL 1.1 documents generated from the method catalogue (docs/contract.md §1).

Everything here comes from :mod:`labridge.contract`: one ``xsd:schema`` per types namespace (a
``complexType`` per struct, ``soapenc:Array`` restrictions for arrays), one schema for the
``authToken`` header, messages, a portType, an ``rpc``/``encoded`` binding and a service whose
address is the URL the WSDL was asked at. Only the operations the sandbox serves are listed, so
the WSDL never advertises what does not answer.

The auth header is declared in the binding (input and output) so that generic clients (zeep,
suds) can send it and read the token Authenticate answers with. It lives in the service's
response-header namespace (docs/contract.md §2: ``https://`` for Authenticate, ``http://`` for the
others); the sandbox accepts either namespace, or none, on requests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from lxml import etree

from .. import contract as c

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
SOAP_HTTP = "http://schemas.xmlsoap.org/soap/http"

_W = f"{{{WSDL_NS}}}"
_S = f"{{{WSDL_SOAP_NS}}}"
_X = f"{{{c.XSD}}}"

#: The WSDL's own prefix for the operations' namespace, and for the header's.
_IMPL = "impl"
_HDR = "hdr"
_HEADER_MESSAGE = "authTokenHeader"
_HEADER_TYPE = "authTokenType"


def _type_prefixes(namespaces: Iterable[str]) -> dict[str, str]:
    return {ns: f"tns{i}" for i, ns in enumerate(sorted(namespaces), start=1)}


def _array_name(item: c.Scalar | c.StructRef) -> str:
    return (
        f"ArrayOf_{c.TYPES[item.name].wire if isinstance(item, c.StructRef) else 'xsd_' + item.xsd}"
    )


class _Builder:
    """Builds the WSDL of one service; ``ops`` are the operations it serves."""

    def __init__(self, service: c.Service, ops: tuple[c.Operation, ...]) -> None:
        self.service = service
        self.ops = ops
        self.structs, self.arrays = _closure(ops)
        self.header_ns = service.response_header_namespace
        self.prefixes = _type_prefixes(
            {c.TYPES[name].namespace for name in self.structs} | {service.types_namespace}
        )

    def qname(self, type_: c.TypeExpr) -> str:
        if isinstance(type_, c.Scalar):
            return f"xsd:{type_.xsd}"
        if isinstance(type_, c.StructRef):
            ctype = c.TYPES[type_.name]
            return f"{self.prefixes[ctype.namespace]}:{ctype.wire}"
        return f"{self.prefixes[self.array_namespace(type_)]}:{_array_name(type_.item)}"

    def array_namespace(self, array: c.ArrayOf) -> str:
        # An array type lives in the namespace of its items, or the service's for scalars.
        item = array.item
        if isinstance(item, c.StructRef):
            return c.TYPES[item.name].namespace
        return self.service.types_namespace

    def build(self, address: str) -> etree._Element:
        nsmap: dict[str, str] = {
            "wsdl": WSDL_NS,
            "soap": WSDL_SOAP_NS,
            "soapenc": c.SOAP_ENC,
            "xsd": c.XSD,
            _IMPL: self.service.namespace,
            _HDR: self.header_ns,
        }
        nsmap.update({prefix: ns for ns, prefix in self.prefixes.items()})
        root = etree.Element(f"{_W}definitions", nsmap=nsmap)
        root.set("targetNamespace", self.service.namespace)
        root.set("name", self.service.name)
        self._types(etree.SubElement(root, f"{_W}types"))
        self._messages(root)
        self._port_type(root)
        self._binding(root)
        self._service(root, address)
        return root

    # -- types ---------------------------------------------------------------------------------

    def _types(self, types: etree._Element) -> None:
        for ns in sorted(self.prefixes):
            schema = etree.SubElement(types, f"{_X}schema")
            schema.set("targetNamespace", ns)
            self._imports(schema, ns)
            for name in sorted(self.structs):
                if c.TYPES[name].namespace == ns:
                    self._struct(schema, c.TYPES[name])
            for array in sorted(self.arrays, key=lambda a: _array_name(a.item)):
                if self.array_namespace(array) == ns:
                    self._array(schema, array)
        self._header_schema(etree.SubElement(types, f"{_X}schema"))

    def _imports(self, schema: etree._Element, own: str) -> None:
        for ns in [c.SOAP_ENC, WSDL_NS, *sorted(set(self.prefixes) - {own})]:
            etree.SubElement(schema, f"{_X}import").set("namespace", ns)

    def _struct(self, schema: etree._Element, ctype: c.ComplexType) -> None:
        ct = etree.SubElement(schema, f"{_X}complexType")
        ct.set("name", ctype.wire)
        seq = etree.SubElement(ct, f"{_X}sequence")
        for mb in ctype.members:
            el = etree.SubElement(seq, f"{_X}element")
            el.set("name", mb.name)
            el.set("type", self.qname(mb.type))
            # LA may omit a member or send it nil (docs/contract.md §1, §3.6).
            el.set("minOccurs", "0")
            el.set("nillable", "true")

    def _array(self, schema: etree._Element, array: c.ArrayOf) -> None:
        ct = etree.SubElement(schema, f"{_X}complexType")
        ct.set("name", _array_name(array.item))
        restriction = etree.SubElement(
            etree.SubElement(ct, f"{_X}complexContent"), f"{_X}restriction"
        )
        restriction.set("base", "soapenc:Array")
        attr = etree.SubElement(restriction, f"{_X}attribute")
        attr.set("ref", "soapenc:arrayType")
        attr.set(f"{_W}arrayType", f"{self.qname(array.item)}[]")

    def _header_schema(self, schema: etree._Element) -> None:
        # Style B of docs/contract.md §2: authToken with children id and uuid in the header's
        # namespace.
        schema.set("targetNamespace", self.header_ns)
        schema.set("elementFormDefault", "qualified")
        element = etree.SubElement(schema, f"{_X}element")
        element.set("name", c.AUTH_HEADER)
        element.set("type", f"{_HDR}:{_HEADER_TYPE}")
        ct = etree.SubElement(schema, f"{_X}complexType")
        ct.set("name", _HEADER_TYPE)
        seq = etree.SubElement(ct, f"{_X}sequence")
        for name in (c.AUTH_ID, c.AUTH_UUID):
            el = etree.SubElement(seq, f"{_X}element")
            el.set("name", name)
            el.set("type", "xsd:string")
            el.set("minOccurs", "0")
        etree.SubElement(ct, f"{_X}attribute").attrib.update(
            {"name": c.AUTH_LOGGEDIN, "type": "xsd:string"}
        )

    # -- messages, portType, binding, service --------------------------------------------------

    def _messages(self, root: etree._Element) -> None:
        header = etree.SubElement(root, f"{_W}message", name=_HEADER_MESSAGE)
        etree.SubElement(header, f"{_W}part", name=c.AUTH_HEADER, element=f"{_HDR}:{c.AUTH_HEADER}")
        operation_messages(root, self.ops, self.qname)

    def _port_type(self, root: etree._Element) -> None:
        port_type = etree.SubElement(root, f"{_W}portType", name=self._port_type_name)
        for op in self.ops:
            op_el = etree.SubElement(port_type, f"{_W}operation", name=op.wire)
            if op.params:
                op_el.set("parameterOrder", " ".join(p.name for p in op.params))
            etree.SubElement(
                op_el, f"{_W}input", name=f"{op.wire}Request", message=f"{_IMPL}:{op.wire}Request"
            )
            etree.SubElement(
                op_el,
                f"{_W}output",
                name=op.response_element,
                message=f"{_IMPL}:{op.response_element}",
            )

    def _binding(self, root: etree._Element) -> None:
        binding = etree.SubElement(
            root, f"{_W}binding", name=self._binding_name, type=f"{_IMPL}:{self._port_type_name}"
        )
        etree.SubElement(binding, f"{_S}binding", style="rpc", transport=SOAP_HTTP)
        for op in self.ops:
            op_el = etree.SubElement(binding, f"{_W}operation", name=op.wire)
            etree.SubElement(op_el, f"{_S}operation", soapAction="")
            for kind, name in (("input", f"{op.wire}Request"), ("output", op.response_element)):
                io = etree.SubElement(op_el, f"{_W}{kind}", name=name)
                etree.SubElement(
                    io,
                    f"{_S}body",
                    use="encoded",
                    encodingStyle=c.SOAP_ENC,
                    namespace=self.service.namespace,
                )
                # Authenticate takes no token; every answer may carry one (docs/contract.md §2).
                if kind == "output" or op.authenticated:
                    etree.SubElement(
                        io,
                        f"{_S}header",
                        message=f"{_IMPL}:{_HEADER_MESSAGE}",
                        part=c.AUTH_HEADER,
                        use="literal",
                    )

    def _service(self, root: etree._Element, address: str) -> None:
        service = etree.SubElement(root, f"{_W}service", name=self._service_name)
        port = etree.SubElement(
            service, f"{_W}port", name=self._port_name, binding=f"{_IMPL}:{self._binding_name}"
        )
        etree.SubElement(port, f"{_S}address", location=address)

    @property
    def _base_name(self) -> str:
        return "".join(part for part in self.service.name.title() if part.isalnum())

    @property
    def _port_type_name(self) -> str:
        return self._base_name

    @property
    def _binding_name(self) -> str:
        return f"{self._base_name}SoapBinding"

    @property
    def _service_name(self) -> str:
        return f"{self._base_name}Service"

    @property
    def _port_name(self) -> str:
        return f"{self._base_name}Port"


def _walk(type_: c.TypeExpr, structs: set[str], arrays: set[c.ArrayOf]) -> None:
    if isinstance(type_, c.ArrayOf):
        arrays.add(type_)
        _walk(type_.item, structs, arrays)
    elif isinstance(type_, c.StructRef) and type_.name not in structs:
        structs.add(type_.name)
        for mb in c.TYPES[type_.name].members:
            _walk(mb.type, structs, arrays)


def _closure(ops: tuple[c.Operation, ...]) -> tuple[set[str], set[c.ArrayOf]]:
    structs: set[str] = set()
    arrays: set[c.ArrayOf] = set()
    for op in ops:
        for type_ in (op.returns, *(p.type for p in op.params)):
            _walk(type_, structs, arrays)
    return structs, arrays


def service_wsdl(service: c.Service, address: str, served: Iterable[str]) -> bytes:
    """The WSDL of ``service`` listing the operations named in ``served``, at ``address``."""
    names = set(served)
    ops = tuple(op for op in service.operations if op.name in names)
    root = _Builder(service, ops).build(address)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


def operation_messages(
    root: etree._Element, ops: Iterable[c.Operation], qname: Callable[[c.TypeExpr], str]
) -> None:
    """Each operation's request and response messages, as every RPC/encoded WSDL declares them
    (both dialects); ``qname`` names a type the dialect's way."""
    for op in ops:
        request = etree.SubElement(root, f"{_W}message", name=f"{op.wire}Request")
        for p in op.params:
            etree.SubElement(request, f"{_W}part", name=p.name, type=qname(p.type))
        response = etree.SubElement(root, f"{_W}message", name=op.response_element)
        etree.SubElement(response, f"{_W}part", name=op.return_element, type=qname(op.returns))
