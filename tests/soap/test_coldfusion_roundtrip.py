"""Property test: random records, written the way a ColdFusion (Axis 1) server may write them
(docs/contract.md §5), decode back to the same records.

The encoder here is the test's own, independent of labridge's: for every value it picks one of
the forms §5 allows (inline or by multiRef href; typed struct or ``apachesoap:Map``; member
names as the contract spells them, with a lower-case first letter or upper-cased; ``soapenc:`` or
``xsd:`` scalar types; integers and integral-looking ids as doubles; booleans as true/1/YES;
dates as plain ``YYYY-MM-DD`` or as a UTC ``xsd:dateTime`` of some time that London day; array
items named ``item`` or like their parent; ``xsd:anyType[N]`` or typed array types).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labridge import contract as c
from labridge.models import LAModel
from labridge.soap import decode_response

from .test_roundtrip import records

LONDON = ZoneInfo("Europe/London")
NS = {
    "soapenv": c.SOAP_ENV,
    "soapenc": c.SOAP_ENC,
    "xsd": c.XSD,
    "xsi": c.XSI,
    "apachesoap": c.APACHE_SOAP_NS,
    "ns1": c.LA_NS,
}
#: Operations whose answer is a struct type or an array of one (every read, and the writes).
ANSWERED = {
    op.name: op
    for service in c.SERVICES
    for op in service.operations
    if op.authenticated and not isinstance(op.returns, c.Scalar)
}


def text(value: str) -> str:
    return escape(value).replace("\r", "&#13;")


class ColdFusionWriter:
    """Writes wire values (as ``contract.to_wire`` makes them) in randomly chosen CF forms."""

    def __init__(self, rng: random.Random, types_ns: str) -> None:
        self.rng = rng
        self.types_ns = types_ns
        self.siblings: list[str] = []

    def element(self, name: str, value: Any, type_: c.TypeExpr) -> str:
        attrs, body = self.content(name, value, type_)
        if self.rng.random() < 0.5 and not isinstance(type_, c.Scalar):
            ident = f"id{len(self.siblings)}"
            self.siblings.append("")  # reserve the id before the content's own references
            index = len(self.siblings) - 1
            self.siblings[index] = (
                f'<multiRef id="{ident}" soapenc:root="0"{attrs}>{body}</multiRef>'
            )
            return f'<{name} href="#{ident}"/>'
        return f"<{name}{attrs}>{body}</{name}>"

    def content(self, name: str, value: Any, type_: c.TypeExpr) -> tuple[str, str]:
        if isinstance(type_, c.ArrayOf):
            return self.array(name, value, type_)
        if isinstance(type_, c.StructRef):
            return self.struct(value, type_)
        return self.scalar(value, type_)

    def array(self, name: str, value: list[Any], type_: c.ArrayOf) -> tuple[str, str]:
        assert isinstance(type_.item, c.StructRef)
        item_type = self.rng.choice(["xsd:anyType", f"tns:{type_.item.name}", "apachesoap:Map"])
        item_name = self.rng.choice(["item", name])
        body = "".join(self.element(item_name, v, type_.item) for v in value)
        attrs = f' xsi:type="soapenc:Array" soapenc:arrayType="{item_type}[{len(value)}]"'
        return attrs, body

    def struct(self, value: dict[str, Any], type_: c.StructRef) -> tuple[str, str]:
        ctype = c.TYPES[type_.name]
        members = [(self.spell(mb.name), value[mb.name], mb.type) for mb in ctype.members]
        if self.rng.random() < 0.5:
            items = "".join(
                f'<item><key xsi:type="soapenc:string">{key}</key>'
                f"{self.element('value', v, t)}</item>"
                for key, v, t in members
            )
            return ' xsi:type="apachesoap:Map"', items
        body = "".join(self.element(key, v, t) for key, v, t in members)
        return f' xsi:type="tns:{type_.name}"', body

    def spell(self, name: str) -> str:
        return self.rng.choice([name, name[0].lower() + name[1:], name.upper()])

    def scalar(self, value: Any, type_: c.Scalar) -> tuple[str, str]:
        prefix = self.rng.choice(["soapenc", "xsd"])
        if type_.date:
            return self.date(value)
        if isinstance(value, bool):
            words = ["true", "1", "YES", "Yes"] if value else ["false", "0", "NO", "no"]
            return f' xsi:type="{prefix}:boolean"', self.rng.choice(words)
        if isinstance(value, int):
            form = self.rng.choice([f"{value}.0", str(value)])
            return f' xsi:type="{prefix}:double"', form
        if isinstance(value, float):
            return f' xsi:type="{prefix}:double"', repr(value)
        if value.isascii() and value.isdigit() and str(int(value)) == value:
            return f' xsi:type="{prefix}:double"', f"{value}.0"  # a CF numeric id
        return f' xsi:type="{prefix}:string"', text(value)

    def date(self, value: str) -> tuple[str, str]:
        if not value or self.rng.random() < 0.3:
            return ' xsi:type="soapenc:string"', value
        day = date.fromisoformat(value)
        if not 1900 <= day.year <= 9000:
            return ' xsi:type="xsd:date"', value
        # Any time of that London day away from the 01:00-02:00 changeover hours.
        hour = self.rng.choice([0, *range(3, 24)])
        local = datetime(day.year, day.month, day.day, hour, self.rng.randrange(60), tzinfo=LONDON)
        moment = local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        return ' xsi:type="xsd:dateTime"', moment


def envelope(op: c.Operation, wire: Any, rng: random.Random) -> bytes:
    writer = ColdFusionWriter(rng, c.service_of(op.name).types_namespace)
    ret = writer.element(op.return_element, wire, op.returns)
    decls = " ".join(f"xmlns:{p}={quoteattr(u)}" for p, u in NS.items())
    decls += f" xmlns:tns={quoteattr(writer.types_ns)}"
    return (
        f"<soapenv:Envelope {decls}><soapenv:Body>"
        f"<ns1:{op.response_element}>{ret}</ns1:{op.response_element}>"
        f"{''.join(writer.siblings)}</soapenv:Body></soapenv:Envelope>"
    ).encode()


def answer_values(op: c.Operation) -> st.SearchStrategy[Any]:
    if isinstance(op.returns, c.ArrayOf):
        assert isinstance(op.returns.item, c.StructRef)
        return st.lists(records(op.returns.item.name), max_size=3)
    assert isinstance(op.returns, c.StructRef)
    return records(op.returns.name)


@pytest.mark.parametrize("operation", list(ANSWERED))
@settings(max_examples=40, deadline=None)
@given(data=st.data(), rng=st.randoms(use_true_random=False))
def test_records_written_as_coldfusion_would_decode_unchanged(
    operation: str, data: st.DataObject, rng: random.Random
) -> None:
    op = ANSWERED[operation]
    value: LAModel | list[LAModel] = data.draw(answer_values(op))
    wire = c.to_wire(op.returns, value, omit_unset=False)
    decoded = decode_response(envelope(op, wire, rng), op)
    assert c.from_wire(op.returns, decoded.value) == value
