"""How ColdFusion types the contract's members (docs/contract.md §5): the one place that decides it.

Both the answer encoder (:mod:`.coldfusion`) and the WSDL (:mod:`.wsdl_coldfusion`) of the
``coldfusion`` dialect ask here, so that a member is typed the same on the wire as in the WSDL.
Everything is read from the catalogue (:mod:`labridge.contract`) or keyed by labridge's own
record fields, never by a wire name, so catalogue overrides flow through.
"""

from __future__ import annotations

import enum

from .. import contract as c
from .. import models as m

#: Axis's namespace for ColdFusion structs (``apachesoap:Map``).
APACHE_SOAP_NS = c.APACHE_SOAP_NS

#: Identifiers LA keeps as ColdFusion ``numeric`` (a double: ``31.0``), by record and field.
_NUMERIC: tuple[tuple[type[m.LAModel], str], ...] = (
    (m.Nationality, "nationality_id"),
    (m.Ethnicity, "ethnicity_id"),
)
NUMERIC_IDS = frozenset(_NUMERIC)

#: Records a ColdFusion component answers as a ``returntype="struct"`` (an ``apachesoap:Map``
#: with upper-cased keys); everything nested in one is a struct or an untyped array too.
STRUCT_MODELS: tuple[type[m.LAModel], ...] = (m.EnrolmentResponse,)


class Kind(enum.Enum):
    """A ColdFusion scalar as Axis types it: ``(prefix, local name)`` of its ``xsi:type``."""

    STRING = ("soapenc", "string")
    BOOLEAN = ("soapenc", "boolean")
    DOUBLE = ("soapenc", "double")
    DATE = ("xsd", "dateTime")

    @property
    def qname(self) -> str:
        """As a struct member (a nillable Java object): ``soapenc:string``."""
        prefix, name = self.value
        return f"{prefix}:{name}"

    @property
    def part_qname(self) -> str:
        """As an operation's parameter or return (a ``cfargument``): ``xsd:string``."""
        return f"xsd:{self.value[1]}"


def is_date(member: c.Member) -> bool:
    """Whether the contract calls ``member`` a date (its type is the catalogue's ``DATE``)."""
    return isinstance(member.type, c.Scalar) and member.type.date


def scalar_kind(scalar: c.Scalar) -> Kind:
    """A scalar with no member to say more: ColdFusion's ``numeric`` is a double."""
    if scalar.xsd == c.BOOLEAN.xsd:
        return Kind.BOOLEAN
    if scalar.xsd in (c.INT.xsd, c.DOUBLE.xsd):
        return Kind.DOUBLE
    return Kind.STRING


def member_kind(ctype: c.ComplexType, member: c.Member) -> Kind:
    """The kind of a scalar ``member`` of ``ctype``."""
    assert isinstance(member.type, c.Scalar)
    if is_date(member):
        return Kind.DATE
    if (ctype.model, member.attr) in NUMERIC_IDS:
        return Kind.DOUBLE
    return scalar_kind(member.type)


def is_struct(type_: c.TypeExpr) -> bool:
    """Whether ColdFusion answers ``type_`` as an ``apachesoap:Map``."""
    return isinstance(type_, c.StructRef) and c.TYPES[type_.name].model in STRUCT_MODELS
