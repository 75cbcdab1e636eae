"""Property tests: what labridge encodes, it decodes back unchanged.

Records are generated from the catalogue itself (``contract.TYPES``), so a new type or member is
covered without touching this file. Each struct type travels the way it travels in production:
in an answer when an operation returns it (or an array of it), in a GroupEnrolment or
UpdateEnrolment request otherwise, wrapped in the smallest parent record when it only ever
travels inside another struct.

Strings use every character XML 1.0 can carry (no surrogates, no control characters but tab,
line feed and carriage return; lxml writes ``\\r`` as ``&#13;`` so it survives parsing).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from types import NoneType, UnionType
from typing import Any, get_args

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from labridge import contract as c
from labridge.models import EnrolmentUser, EnrolmentUserUpdate, LAModel, Token
from labridge.sandbox import cfkinds, coldfusion
from labridge.soap import decode_request, decode_response, encode_request, encode_response

TOKEN = Token(id="1234567", uuid="6F9619FF-8B86-D011-B42D-00C04FC964FF")

PROPERTY = settings(max_examples=50, deadline=None)

XML_TEXT = st.text(
    st.characters(
        exclude_categories=("Cs", "Cc"),
        include_characters="\t\n\r",
        exclude_characters="\ufffe\uffff",
    ),
    max_size=12,
)

SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "string": XML_TEXT,
    "boolean": st.booleans(),
    "int": st.integers(min_value=-(2**31), max_value=2**31 - 1),
    "double": st.floats(allow_nan=False, allow_infinity=False),
}

DATES = st.just("") | st.dates().map(lambda d: d.isoformat())


# --- strategies built from the catalogue -----------------------------------------------------


def nullable(model: type[LAModel], attr: str) -> bool:
    annotation = model.model_fields[attr].annotation
    return isinstance(annotation, UnionType) and NoneType in get_args(annotation)


def values(type_: c.TypeExpr) -> st.SearchStrategy[Any]:
    if isinstance(type_, c.Scalar):
        # A date member holds a calendar date (or nothing); the decoder reads it as one.
        return DATES if type_.date else SCALARS[type_.xsd]
    if isinstance(type_, c.ArrayOf):
        return st.lists(values(type_.item), max_size=3)
    return records(type_.name)


def records(type_name: str) -> st.SearchStrategy[LAModel]:
    """Instances of the type's model: required members always set; every other member set to a
    value, set to None (where the model allows it) or left unset."""
    ctype = c.TYPES[type_name]
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for mb in ctype.members:
        field = ctype.model.model_fields[mb.attr]
        if field.is_required():
            required[mb.attr] = values(mb.type)
        elif nullable(ctype.model, mb.attr):
            optional[mb.attr] = st.none() | values(mb.type)
        else:
            optional[mb.attr] = values(mb.type)
    return st.fixed_dictionaries(required, optional=optional).map(
        lambda kwargs: ctype.model(**kwargs)
    )


# --- how each type travels -------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """How a struct type reaches the wire: the operation, whether it rides in the answer or in a
    request parameter, and the chain of (parent type, member) it is nested in, outermost first."""

    op: c.Operation
    param: c.Member | None  # None: in the answer
    path: tuple[tuple[c.ComplexType, c.Member], ...]

    @property
    def carrier(self) -> c.TypeExpr:
        return self.op.returns if self.param is None else self.param.type


def struct_name(type_: c.TypeExpr) -> str | None:
    if isinstance(type_, c.ArrayOf):
        type_ = type_.item
    return type_.name if isinstance(type_, c.StructRef) else None


def routes() -> dict[str, Route]:
    """The shortest route of every reachable struct type; answers first, then requests."""
    found: dict[str, Route] = {}
    queue: deque[tuple[str, Route]] = deque()
    operations = [op for service in c.SERVICES for op in service.operations]
    for op in operations:
        if (name := struct_name(op.returns)) is not None:
            queue.append((name, Route(op, None, ())))
    for op in operations:
        for param in op.params:
            if (name := struct_name(param.type)) is not None:
                queue.append((name, Route(op, param, ())))
    while queue:
        name, route = queue.popleft()
        if name in found:
            continue
        found[name] = route
        for mb in c.TYPES[name].members:
            if (inner := struct_name(mb.type)) is not None:
                queue.append(
                    (inner, Route(route.op, route.param, (*route.path, (c.TYPES[name], mb))))
                )
    return found


ROUTES = routes()


def wrap(route: Route, record: LAModel) -> Any:
    """Nest ``record`` in the smallest parents its route needs."""
    value: Any = record
    for parent, mb in reversed(route.path):
        inner = [value] if isinstance(mb.type, c.ArrayOf) else value
        required = {
            attr: f"wrapping {attr}"
            for attr, field in parent.model.model_fields.items()
            if field.is_required()
        }
        value = parent.model(**required, **{mb.attr: inner})
    if isinstance(route.carrier, c.ArrayOf):
        value = [value]
    return value


def through_the_wire(route: Route, value: Any) -> Any:
    """Encode ``value`` as labridge does on ``route`` and decode it back to records."""
    op = route.op
    if route.param is None:
        wire = c.to_wire(op.returns, value, omit_unset=False)
        decoded = decode_response(encode_response(op, wire, token=TOKEN), op)
        return c.from_wire(op.returns, decoded.value)
    envelope = encode_request(op, c.params_to_wire(op, {route.param.attr: value}), TOKEN)
    request = decode_request(envelope)
    return c.params_from_wire(op, request.params)[route.param.attr]


def test_every_struct_type_of_the_catalogue_reaches_the_wire() -> None:
    assert set(ROUTES) == set(c.TYPES)


@pytest.mark.parametrize("type_name", sorted(c.TYPES))
@PROPERTY
@given(data=st.data())
def test_struct_type_round_trips_through_the_codec(type_name: str, data: st.DataObject) -> None:
    route = ROUTES[type_name]
    value = wrap(route, data.draw(records(type_name), label=type_name))
    assert through_the_wire(route, value) == value


@pytest.mark.parametrize("op_name", [op.name for s in c.SERVICES for op in s.operations])
@PROPERTY
@given(data=st.data())
def test_answer_of_every_operation_round_trips(op_name: str, data: st.DataObject) -> None:
    op = c.operation(op_name)
    value = data.draw(values(op.returns))
    assert through_the_wire(Route(op, None, ()), value) == value


# --- requests: omitted and nil stay apart ----------------------------------------------------


def fields_set(record: Any) -> Any:
    """The tree of the members a record was given (set, possibly to None), for comparison."""
    if isinstance(record, list):
        return [fields_set(item) for item in record]
    if not isinstance(record, LAModel):
        return None
    return {
        attr: fields_set(getattr(record, attr))
        for attr in sorted(record.model_fields_set - {"extras"})
    }


GROUP_ENROLMENT = c.operation("GroupEnrolment")
UPDATE_ENROLMENT = c.operation("UpdateEnrolment")


def decoded_args(op: c.Operation, args: dict[str, Any]) -> dict[str, Any]:
    envelope = encode_request(op, c.params_to_wire(op, args), TOKEN)
    return c.params_from_wire(op, decode_request(envelope).params)


@PROPERTY
@given(
    user=records("Type_enrolmentUser"),
    flags=st.fixed_dictionaries(
        {}, optional={"assign_evaluation": st.booleans(), "send_login_details": st.booleans()}
    ),
)
def test_group_enrolment_request_round_trips_values(
    user: EnrolmentUser, flags: dict[str, bool]
) -> None:
    args = {"user": user, **flags}
    assert decoded_args(GROUP_ENROLMENT, args) == args


@PROPERTY
@given(user=records("Type_enrolmentUser"))
def test_group_enrolment_request_keeps_omitted_apart_from_nil(user: EnrolmentUser) -> None:
    decoded = decoded_args(GROUP_ENROLMENT, {"user": user})["user"]
    assert fields_set(decoded) == fields_set(user)


@PROPERTY
@given(user=records("Type_enrolmentUserUpdate"))
def test_update_enrolment_request_round_trips_values(user: EnrolmentUserUpdate) -> None:
    assert decoded_args(UPDATE_ENROLMENT, {"user": user}) == {"user": user}


@PROPERTY
@given(user=records("Type_enrolmentUserUpdate"))
def test_update_enrolment_request_keeps_omitted_apart_from_nil(user: EnrolmentUserUpdate) -> None:
    decoded = decoded_args(UPDATE_ENROLMENT, {"user": user})["user"]
    assert fields_set(decoded) == fields_set(user)


# --- the sandbox's ColdFusion dialect (docs/contract.md §5) ----------------------------------


@pytest.mark.parametrize("op_name", [op.name for s in c.SERVICES for op in s.operations])
@PROPERTY
@given(data=st.data())
def test_answer_of_every_operation_round_trips_through_the_coldfusion_dialect(
    op_name: str, data: st.DataObject
) -> None:
    """What the ColdFusion-dialect sandbox writes (multiRef everywhere, Maps, doubles, UTC
    dateTimes) labridge's decoder reads back as the same records."""
    op = c.operation(op_name)
    value = (
        [_as_cf_numbers(v) for v in data.draw(values(op.returns))]
        if isinstance(op.returns, c.ArrayOf)
        else _as_cf_numbers(data.draw(values(op.returns)))
    )
    wire = c.to_wire(op.returns, value, omit_unset=False)
    decoded = decode_response(coldfusion.encode_response(op, wire, token=TOKEN), op)
    assert c.from_wire(op.returns, decoded.value) == value


def _as_cf_numbers(record: Any) -> Any:
    """A ColdFusion ``numeric`` id has no leading zeros (it is a double: ``"007"`` goes out as
    ``7.0``): an all-digit id drawn at random is given the form LA's numeric column holds."""
    for model, attr in cfkinds.NUMERIC_IDS:
        if isinstance(record, model):
            text = getattr(record, attr)
            if text.isdecimal():
                setattr(record, attr, str(int(text)))
            else:  # "INFINITY", "1e5", "²": text no numeric column holds, nor reads back as it is
                assume(not _reads_as_number(text))
    return record


def _reads_as_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text.isdigit()
    return True
