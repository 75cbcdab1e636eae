"""The method catalogue: every service, operation, parameter and type of docs/contract.md, as data.

This is the only module that spells LA's wire names. Names marked [INF] in docs/contract.md are
inferred; a provider holding LA's real WSDL corrects them from configuration (``[contract]`` in
labridge.toml, or ``--contract FILE``; see :mod:`labridge.overrides` and docs/contract.md), and the
client, the sandbox and the generated WSDLs follow. Nothing else in labridge knows a wire name:
records are converted with :func:`to_wire` and :func:`from_wire`.

Operations and types have a stable *logical* name (``name``: what labridge's code asks for,
``operation("GetCandidates")``, ``TYPES["Type_candidate"]``) and a *wire* name (``wire``: what the
codec and the WSDL generator put on the wire). They are equal unless overridden. Members and
parameters are addressed by ``attr`` in labridge's code, so their ``name`` is simply the wire name.

The effective contract is a :class:`Catalogue`, immutable. One catalogue is *active* at a time:
the CLI activates the one built from settings once (:func:`activate`); tests and library users
use :func:`using`. The module-level names (``TYPES``, ``SERVICES``, ``AUTHENTICATE``,
:func:`operation`, ...) always consult the active catalogue.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeAlias

from pydantic import ValidationError

from . import models as m
from .errors import ProtocolError

# ---------------------------------------------------------------------------------------------
# Namespaces (docs/contract.md §1) [DOC unless marked]
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
XSD = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
LA_NS = "https://api.learningassistant.com"
LA_NS_HTTP = "http://api.learningassistant.com"
ENROLMENT_TYPES_NS = "http://enrolment.types.soap.webservices"
USER_TYPES_NS = "http://user.types.soap.webservices"
COURSE_TYPES_NS = "http://course.types.soap.webservices"  # [INF]
COMPANY_TYPES_NS = "http://company.types.soap.webservices"  # [INF]
#: Axis's namespace of ``apachesoap:Map``, the form of a ColdFusion struct (docs/contract.md §5).
APACHE_SOAP_NS = "http://xml.apache.org/xml-soap"

SOAP_PATH_PREFIX = "/webservices/soap/"
#: Dates on the wire when LA types them ``xsd:string`` (docs/contract.md §1 [INF]).
ISO_DATE = "%Y-%m-%d"

#: Auth header (docs/contract.md §2) [DOC].
AUTH_HEADER = "authToken"
AUTH_ID = "id"
AUTH_UUID = "uuid"
AUTH_LOGGEDIN = "loggedin"
AUTH_FAILED_PREFIX = "Authentication failed:"  # [INF]
AUTH_FAULTCODE = "soapenv:Server.userException"  # [INF]
YES = "YES"
NO = "NO"


# ---------------------------------------------------------------------------------------------
# Type expressions


@dataclass(frozen=True)
class Scalar:
    """An ``xsd`` scalar. A ``date`` is sent as ``xsd:string`` in ``YYYY-MM-DD`` form
    (docs/contract.md §1 [INF]) and read from that form or from an ``xsd:dateTime`` (§5)."""

    xsd: str  # "string" | "boolean" | "int" | "double"
    #: A calendar date carried as a string: the decoder turns a dateTime into its London date.
    date: bool = False


@dataclass(frozen=True)
class StructRef:
    """A struct, by the logical name of its :class:`ComplexType`."""

    name: str


@dataclass(frozen=True)
class ArrayOf:
    item: Scalar | StructRef


TypeExpr: TypeAlias = Scalar | StructRef | ArrayOf

STRING = Scalar("string")
BOOLEAN = Scalar("boolean")
INT = Scalar("int")
DOUBLE = Scalar("double")
DATE = Scalar("string", date=True)


@dataclass(frozen=True)
class Member:
    """One struct member or operation parameter: wire ``name``, type, and labridge's ``attr``."""

    name: str
    type: TypeExpr
    attr: str
    required: bool = False


@dataclass(frozen=True)
class ComplexType:
    """A struct. ``name`` is labridge's (stable) name for it, ``wire`` LA's (default: ``name``)."""

    name: str
    namespace: str
    members: tuple[Member, ...]
    model: type[m.LAModel]
    wire: str = ""
    _index: dict[str, Member] = field(default_factory=dict, init=False, repr=False, compare=False)
    _folded: dict[str, Member] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.wire:
            object.__setattr__(self, "wire", self.name)
        # Struct members go on the wire in alphabetical order [DOC]; keep them so whatever the
        # order they are written in below.
        ordered = tuple(sorted(self.members, key=lambda mb: mb.name.lower()))
        object.__setattr__(self, "members", ordered)
        self._index.update({mb.name: mb for mb in ordered})
        self._folded.update({mb.name.lower(): mb for mb in ordered})

    def member(self, name: str) -> Member | None:
        """The member of that wire name; ColdFusion is case-insensitive (docs/contract.md §5), so a
        name differing only in case still finds it."""
        return self._index.get(name) or self._folded.get(name.lower())

    def by_attr(self, attr: str) -> Member:
        mb = self.by_attr_or_none(attr)
        if mb is None:
            raise KeyError(f"{self.name} has no member for attribute {attr!r}")
        return mb

    def by_attr_or_none(self, attr: str) -> Member | None:
        return next((mb for mb in self.members if mb.attr == attr), None)


class EnvelopeStyle(enum.Enum):
    """How a client shapes its request envelope, per service (docs/contract.md §2, last table)."""

    #: The Authenticate sample: ``soapenv``, no header, operation in the default namespace,
    #: parameters without ``xsi:type``.
    AUTHENTICATE = "authenticate"
    #: The GetCandidates sample: ``soapenv``, style-B header, ``ns1:<Op>`` with encodingStyle,
    #: parameters with ``xsi:type``.
    RPC = "rpc"
    #: The GroupEnrolment samples: ``soap``, style-A header, body encodingStyle, ``tns:<Op>``,
    #: complex parameters as multiRef siblings.
    ENROLMENT = "enrolment"


@dataclass(frozen=True)
class Operation:
    """An operation. ``name`` is labridge's (stable) name for it, ``wire`` LA's."""

    name: str
    params: tuple[Member, ...]
    returns: TypeExpr
    #: A read LA may safely be asked again after a transport failure.
    idempotent: bool = True
    #: Needs a session token (every operation but Authenticate).
    authenticated: bool = True
    wire: str = ""

    def __post_init__(self) -> None:
        if not self.wire:
            object.__setattr__(self, "wire", self.name)

    @property
    def response_element(self) -> str:
        return f"{self.wire}Response"

    @property
    def return_element(self) -> str:
        return f"{self.wire}Return"

    def param(self, attr: str) -> Member:
        for p in self.params:
            if p.attr == attr:
                return p
        raise KeyError(f"{self.name} has no parameter {attr!r}")


@dataclass(frozen=True)
class Service:
    name: str
    #: Path of the ``.cfc`` under the LA base URL.
    path: str
    style: EnvelopeStyle
    #: Namespace of the encoded types the service returns and takes.
    types_namespace: str
    #: Namespace of the style-B header on responses [DOC: https for Authenticate, http for Users].
    response_header_namespace: str
    operations: tuple[Operation, ...]
    #: Namespace of the operation elements (docs/contract.md §1).
    namespace: str = LA_NS
    #: Namespaces in which a request carries the token, one header block each (docs/contract.md §2).
    request_header_namespaces: tuple[str, ...] = ()
    _ops: dict[str, Operation] = field(default_factory=dict, init=False, repr=False, compare=False)
    _wire: dict[str, Operation] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._ops.update({op.name: op for op in self.operations})
        self._wire.update({op.wire: op for op in self.operations})

    @property
    def file(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def operation(self, name: str) -> Operation | None:
        """The operation of that logical name."""
        return self._ops.get(name)

    def operation_by_wire(self, wire: str) -> Operation | None:
        """The operation called ``wire`` on the wire."""
        return self._wire.get(wire)


# ---------------------------------------------------------------------------------------------
# The catalogue


@dataclass(frozen=True)
class Catalogue:
    """One effective contract: services (with their operations), types, the date format, and
    which items were overridden (keys as :mod:`labridge.overrides` names them)."""

    services: tuple[Service, ...]
    types: Mapping[str, ComplexType]
    date_format: str = ISO_DATE
    overridden: frozenset[str] = frozenset()

    def service_of(self, operation: str) -> Service:
        for s in self.services:
            if s.operation(operation) is not None:
                return s
        raise KeyError(operation)

    def operation(self, name: str) -> Operation:
        op = self.service_of(name).operation(name)
        assert op is not None
        return op

    def operation_by_wire(self, wire: str) -> Operation | None:
        for s in self.services:
            op = s.operation_by_wire(wire)
            if op is not None:
                return op
        return None

    def service(self, name: str) -> Service:
        for s in self.services:
            if s.name == name:
                return s
        raise KeyError(name)

    def mark(self, key: str) -> str:
        """``overridden``, ``DOC`` (seen in LA's published samples) or ``INF`` (inferred)."""
        if key in self.overridden:
            return "overridden"
        return "DOC" if key in DOC_ITEMS else "INF"


# ---------------------------------------------------------------------------------------------
# The default catalogue: docs/contract.md §3


def _t(name: str, ns: str, model: type[m.LAModel], *members: Member) -> ComplexType:
    return ComplexType(name, ns, members, model)


def _mb(name: str, type_: TypeExpr, attr: str, required: bool = False) -> Member:
    return Member(name, type_, attr, required)


_DEFAULT_TYPES: dict[str, ComplexType] = {
    t.name: t
    for t in (
        # §3.2 Courses [INF]
        _t(
            "Type_framework", COURSE_TYPES_NS, m.Framework,
            _mb("Active", BOOLEAN, "active"),
            _mb("CourseUUID", STRING, "course_uuid", True),
            _mb("Level", STRING, "level"),
            _mb("Name", STRING, "name"),
            _mb("QAN", STRING, "qan"),
            _mb("Units", ArrayOf(StructRef("Type_unit")), "units"),
        ),
        _t(
            "Type_unit", COURSE_TYPES_NS, m.Unit,
            _mb("Mandatory", BOOLEAN, "mandatory"),
            _mb("Name", STRING, "name"),
            _mb("Reference", STRING, "reference"),
            _mb("UnitUUID", STRING, "unit_uuid", True),
        ),
        # §3.3 Users
        _t(
            "Type_trainer", USER_TYPES_NS, m.Trainer,
            _mb("EmailAddress", STRING, "email"),
            _mb("Forename", STRING, "forename"),
            _mb("IsAssessor", BOOLEAN, "is_assessor"),
            _mb("IsVerifier", BOOLEAN, "is_verifier"),
            _mb("Surname", STRING, "surname"),
            _mb("TrainerUUID", STRING, "trainer_uuid", True),
        ),
        _t(
            "Type_nationality", USER_TYPES_NS, m.Nationality,
            _mb("Name", STRING, "name"),
            _mb("NationalityID", STRING, "nationality_id", True),
        ),
        _t(
            "Type_ethnicity", USER_TYPES_NS, m.Ethnicity,
            _mb("EthnicityID", STRING, "ethnicity_id", True),
            _mb("Name", STRING, "name"),
        ),
        _t(
            "Type_candidate", USER_TYPES_NS, m.Candidate,
            _mb("AnticipatedEndDate", DATE, "end_date"),  # [DOC]
            _mb("CandidateUUID", STRING, "candidate_uuid", True),
            _mb("CompanyUUID", STRING, "company_uuid"),
            _mb("CourseQAN", STRING, "course_qan"),
            _mb("CourseUUID", STRING, "course_uuid"),
            _mb("EmailAddress", STRING, "email"),
            _mb("Forename", STRING, "forename"),
            _mb("SourceSystemLearnerUUID", STRING, "source_id"),
            _mb("StartDate", DATE, "start_date"),
            _mb("Status", STRING, "status"),
            _mb("Surname", STRING, "surname"),
            _mb("ULN", STRING, "uln"),
        ),
        _t(
            "Type_progress", USER_TYPES_NS, m.Progress,
            _mb("AnticipatedEndDate", DATE, "end_date"),
            _mb("CandidateUUID", STRING, "candidate_uuid", True),
            _mb("CourseUUID", STRING, "course_uuid"),
            _mb("LastActivityDate", DATE, "last_activity_date"),
            _mb("OverallProgress", DOUBLE, "overall_progress"),
            _mb("SourceSystemLearnerUUID", STRING, "source_id"),
            _mb("StartDate", DATE, "start_date"),
            _mb("Status", STRING, "status"),
            _mb("Units", ArrayOf(StructRef("Type_unitProgress")), "units"),
        ),
        _t(
            "Type_unitProgress", USER_TYPES_NS, m.UnitProgress,
            _mb("Completed", BOOLEAN, "completed"),
            _mb("CompletedDate", DATE, "completed_date"),
            _mb("Name", STRING, "name"),
            _mb("Outcomes", ArrayOf(StructRef("Type_outcomeProgress")), "outcomes"),
            _mb("Progress", DOUBLE, "progress"),
            _mb("Reference", STRING, "reference"),
            _mb("UnitUUID", STRING, "unit_uuid", True),
        ),
        _t(
            "Type_outcomeProgress", USER_TYPES_NS, m.OutcomeProgress,
            _mb("Completed", BOOLEAN, "completed"),
            _mb("CompletedDate", DATE, "completed_date"),
            _mb("Description", STRING, "description"),
            _mb("EvidenceCount", INT, "evidence_count"),
            _mb("OutcomeUUID", STRING, "outcome_uuid", True),
            _mb("Reference", STRING, "reference"),
        ),
        # §3.4 Companies [INF]
        _t(
            "Type_company", COMPANY_TYPES_NS, m.Company,
            _mb("CompanyUUID", STRING, "company_uuid", True),
            _mb("ContactEmail", STRING, "contact_email"),
            _mb("Name", STRING, "name"),
            _mb("Postcode", STRING, "postcode"),
        ),
        # §3.5 Group Enrolment
        _t(
            "Type_address", ENROLMENT_TYPES_NS, m.Address,
            _mb("AddressLine1", STRING, "line1"),
            _mb("AddressLine2", STRING, "line2"),
            _mb("AddressLine3", STRING, "line3"),
            _mb("AddressLine4", STRING, "line4"),
            _mb("County", STRING, "county"),
            _mb("Postcode", STRING, "postcode"),
            _mb("Town", STRING, "town"),
        ),
        _t(
            "Type_enrolmentUnit", ENROLMENT_TYPES_NS, m.EnrolmentUnit,
            _mb("UnitUUID", STRING, "unit_uuid", True),
        ),
        _t(
            "Type_enrolmentCourse", ENROLMENT_TYPES_NS, m.EnrolmentCourse,
            _mb("CourseQAN", STRING, "course_qan"),
            _mb("CourseUUID", STRING, "course_uuid"),
            _mb("EndDate", DATE, "end_date"),
            _mb("StartDate", DATE, "start_date", True),
            _mb("Units", ArrayOf(StructRef("Type_enrolmentUnit")), "units"),
        ),
        _t(
            "Type_enrolmentUser", ENROLMENT_TYPES_NS, m.EnrolmentUser,
            _mb("Address", StructRef("Type_address"), "address"),
            _mb("AwardingBodyRegistrationNo", STRING, "awarding_body_registration_no"),
            _mb("BirthDate", DATE, "birth_date", True),
            _mb("CompanyUUID", STRING, "company_uuid", True),
            _mb("Course", StructRef("Type_enrolmentCourse"), "course", True),
            _mb("Department", STRING, "department"),
            _mb("EmailAddress", STRING, "email", True),
            _mb("EmployeeReferenceNumber", STRING, "employee_reference"),
            _mb("EmploymentStatus", STRING, "employment_status"),
            _mb("EthnicityID", STRING, "ethnicity_id"),
            _mb("Forename", STRING, "forename", True),
            _mb("Gender", STRING, "gender", True),
            _mb("JobTitle", STRING, "job_title"),
            _mb("LineManager", STRING, "line_manager"),
            _mb("LineManagerEmailAddress", STRING, "line_manager_email"),
            _mb("LineManagerPhoneNumber", STRING, "line_manager_phone"),
            _mb("MobileNumber", STRING, "mobile"),
            _mb("NationalityID", STRING, "nationality_id"),
            _mb("NINumber", STRING, "ni_number"),
            _mb("PhoneNumber", STRING, "phone"),
            _mb("PrimaryAssessorUUID", STRING, "assessor_uuid", True),
            _mb("PrimaryVerifierUUID", STRING, "verifier_uuid", True),
            _mb("SourceSystemLearnerUUID", STRING, "source_id", True),
            _mb("Surname", STRING, "surname", True),
            _mb("ULN", STRING, "uln"),
        ),
        # §3.6 Group Enrolment - Update
        _t(
            "Type_enrolmentUserUpdate", ENROLMENT_TYPES_NS, m.EnrolmentUserUpdate,
            _mb("Address", StructRef("Type_address"), "address"),
            _mb("AwardingBodyRegistrationNo", STRING, "awarding_body_registration_no"),
            _mb("CandidateUUID", STRING, "candidate_uuid", True),
            _mb("CompanyUUID", STRING, "company_uuid"),
            _mb("Course", StructRef("Type_enrolmentCourse"), "course"),
            _mb("CourseUUID", STRING, "course_uuid"),
            _mb("Department", STRING, "department"),
            _mb("EmailAddress", STRING, "email"),
            _mb("EmployeeReferenceNumber", STRING, "employee_reference"),
            _mb("EmploymentStatus", STRING, "employment_status"),
            _mb("EthnicityID", STRING, "ethnicity_id"),
            _mb("JobTitle", STRING, "job_title"),
            _mb("LineManager", STRING, "line_manager"),
            _mb("LineManagerEmailAddress", STRING, "line_manager_email"),
            _mb("LineManagerPhoneNumber", STRING, "line_manager_phone"),
            _mb("MobileNumber", STRING, "mobile"),
            _mb("NationalityID", STRING, "nationality_id"),
            _mb("NINumber", STRING, "ni_number"),
            _mb("PhoneNumber", STRING, "phone"),
            _mb("PrimaryAssessorUUID", STRING, "assessor_uuid"),
            _mb("PrimaryVerifierUUID", STRING, "verifier_uuid"),
            _mb("SourceSystemLearnerUUID", STRING, "source_id"),
            _mb("Surname", STRING, "surname"),
            _mb("ULN", STRING, "uln"),
        ),
        _t(
            "Type_message", ENROLMENT_TYPES_NS, m.Message,
            _mb("Code", STRING, "code"),
            _mb("Field", STRING, "field"),
            _mb("Message", STRING, "message"),
        ),
        _t(
            "Type_enrolmentResponse", ENROLMENT_TYPES_NS, m.EnrolmentResponse,
            _mb("CandidateUUID", STRING, "candidate_uuid"),
            _mb("MessageList", ArrayOf(StructRef("Type_message")), "messages"),
            _mb("SourceSystemLearnerUUID", STRING, "source_id"),
            _mb("Success", BOOLEAN, "success"),
            _mb("ULN", STRING, "uln"),
        ),
    )
}  # fmt: skip


def _op(name: str, returns: TypeExpr, *params: Member, idempotent: bool = True) -> Operation:
    return Operation(name, params, returns, idempotent=idempotent)


def _path(file: str) -> str:
    return SOAP_PATH_PREFIX + file


_AUTHENTICATE = Operation(
    "Authenticate",
    (_mb("szUsername", STRING, "username", True), _mb("szPassword", STRING, "password", True)),
    STRING,
    idempotent=True,
    authenticated=False,
)
#: The header namespaces a request carries the token in, one block each: which one LA reads is
#: not known (the samples show both, and ColdFusion looks a header up by exact namespace), so
#: every request carries both (docs/contract.md §2) [INF].
_RPC_HEADER = (LA_NS, LA_NS_HTTP)
_ENROLMENT_HEADER = (LA_NS, LA_NS_HTTP)

_DEFAULT_SERVICES: tuple[Service, ...] = (
    Service(
        "Authentication", _path("authenticate.cfc"), EnvelopeStyle.AUTHENTICATE,
        USER_TYPES_NS, LA_NS, (_AUTHENTICATE,),
    ),
    Service(
        "Courses", _path("course.cfc"), EnvelopeStyle.RPC, COURSE_TYPES_NS, LA_NS_HTTP,  # [INF]
        (_op("GetFrameworks", ArrayOf(StructRef("Type_framework"))),),
        request_header_namespaces=_RPC_HEADER,
    ),
    Service(
        "Users", _path("user.cfc"), EnvelopeStyle.RPC, USER_TYPES_NS, LA_NS_HTTP,
        (
            _op("GetTrainers", ArrayOf(StructRef("Type_trainer"))),
            _op("GetNationalities", ArrayOf(StructRef("Type_nationality"))),
            _op("GetEthnicities", ArrayOf(StructRef("Type_ethnicity"))),
            _op(
                "GetCandidates", ArrayOf(StructRef("Type_candidate")),
                _mb("CourseQAN", STRING, "course_qan"),
                _mb("blnActive", BOOLEAN, "active"),
                _mb("blnCompleted", BOOLEAN, "completed"),
                _mb("blnTest", BOOLEAN, "test"),
            ),
            _op("GetProgress", StructRef("Type_progress"),
                _mb("CandidateUUID", STRING, "candidate_uuid", True)),
            _op("GetProgressFull", StructRef("Type_progress"),
                _mb("CandidateUUID", STRING, "candidate_uuid", True)),
        ),
        request_header_namespaces=_RPC_HEADER,
    ),
    Service(
        "Companies", _path("company.cfc"), EnvelopeStyle.RPC, COMPANY_TYPES_NS, LA_NS_HTTP,  # [INF]
        (_op("GetCompanies", ArrayOf(StructRef("Type_company"))),),
        request_header_namespaces=_RPC_HEADER,
    ),
    Service(
        "Group Enrolment", _path("enrolment.cfc"), EnvelopeStyle.ENROLMENT,
        ENROLMENT_TYPES_NS, LA_NS_HTTP,
        (
            _op(
                "GroupEnrolment", StructRef("Type_enrolmentResponse"),
                _mb("User", StructRef("Type_enrolmentUser"), "user", True),
                _mb("blnAssignEvaluationOnEnroll", BOOLEAN, "assign_evaluation"),
                _mb("blnSendLoginDetailsOnEnroll", BOOLEAN, "send_login_details"),
                idempotent=False,
            ),
        ),
        request_header_namespaces=_ENROLMENT_HEADER,
    ),
    Service(
        "Group Enrolment - Update", _path("enrolment_update.cfc"), EnvelopeStyle.ENROLMENT,
        ENROLMENT_TYPES_NS, LA_NS_HTTP,
        (
            _op(
                "UpdateEnrolment", StructRef("Type_enrolmentResponse"),
                _mb("User", StructRef("Type_enrolmentUserUpdate"), "user", True),
                idempotent=False,
            ),
        ),
        request_header_namespaces=_ENROLMENT_HEADER,
    ),
)  # fmt: skip


def _doc_items() -> frozenset[str]:
    """The catalogue items docs/contract.md marks [DOC] (seen in LA's published samples); every
    other item is [INF]. Keys as :mod:`labridge.overrides` names them."""
    keys: set[str] = set()  # the date format is [INF]
    for service in ("Authentication", "Users", "Group Enrolment", "Group Enrolment - Update"):
        for part in ("path", "namespace", "types_namespace", "response_header_namespace", "style"):
            keys.add(f"services.{service}.{part}")
    for service in ("Group Enrolment", "Group Enrolment - Update"):
        keys.add(f"services.{service}.request_header_namespaces")
    for op in ("Authenticate", "GetCandidates", "GroupEnrolment", "UpdateEnrolment"):
        keys.add(f"operations.{op}.name")
        keys.add(f"operations.{op}.order")
        for p in _DEFAULT_OPERATIONS[op].params:
            keys.add(f"operations.{op}.params.{p.name}")
    keys |= {"types.Type_candidate.name", "types.Type_candidate.namespace"}
    keys.add("types.Type_candidate.members.AnticipatedEndDate")
    user = [
        "Address",
        "AwardingBodyRegistrationNo",
        "BirthDate",
        "CompanyUUID",
        "Course",
        "Department",
        "EmailAddress",
        "EmployeeReferenceNumber",
        "EmploymentStatus",
        "EthnicityID",
        "Forename",
        "Gender",
        "JobTitle",
        "LineManager",
        "NationalityID",
        "PrimaryAssessorUUID",
        "PrimaryVerifierUUID",
    ]
    update = ["CandidateUUID", "CourseUUID"]
    for type_name, extra in (("Type_enrolmentUser", []), ("Type_enrolmentUserUpdate", update)):
        keys |= {f"types.{type_name}.name", f"types.{type_name}.namespace"}
        members = {mb.name for mb in _DEFAULT_TYPES[type_name].members}
        keys |= {f"types.{type_name}.members.{n}" for n in [*user, *extra] if n in members}
    return frozenset(keys)


_DEFAULT_OPERATIONS = {op.name: op for s in _DEFAULT_SERVICES for op in s.operations}
DOC_ITEMS = _doc_items()
DEFAULT = Catalogue(_DEFAULT_SERVICES, _DEFAULT_TYPES)


# ---------------------------------------------------------------------------------------------
# The active catalogue

_lock = threading.Lock()
_active: Catalogue = DEFAULT


def active() -> Catalogue:
    """The catalogue the client, the codec and the sandbox use now."""
    return _active


def activate(catalogue: Catalogue) -> None:
    """Make ``catalogue`` the process-wide one (the CLI does this once, from settings). It is
    process-wide rather than per thread or task because the sandbox answers on other threads."""
    global _active
    with _lock:
        _active = catalogue


@contextmanager
def using(catalogue: Catalogue) -> Iterator[Catalogue]:
    """Activate ``catalogue`` for the ``with`` block, then restore the one active before."""
    before = active()
    activate(catalogue)
    try:
        yield catalogue
    finally:
        activate(before)


#: The active catalogue's types by logical name, its services, and its Authenticate operation.
#: Declared here and served by ``__getattr__`` so that they always follow :func:`active`.
TYPES: Mapping[str, ComplexType]
SERVICES: tuple[Service, ...]
AUTHENTICATE: Operation


def __getattr__(name: str) -> Any:
    if name == "TYPES":
        return _active.types
    if name == "SERVICES":
        return _active.services
    if name == "AUTHENTICATE":
        return _active.operation("Authenticate")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def service_of(operation: str) -> Service:
    return _active.service_of(operation)


def operation(name: str) -> Operation:
    """The operation of that logical name; :class:`KeyError` when there is none."""
    return _active.operation(name)


def operation_by_wire(wire: str) -> Operation | None:
    return _active.operation_by_wire(wire)


def type_of_model(model: type[m.LAModel]) -> ComplexType:
    for t in _active.types.values():
        if t.model is model:
            return t
    raise KeyError(f"no contract type is bound to {model.__name__}")


# ---------------------------------------------------------------------------------------------
# Conversion between wire values (what the codec reads and writes: dicts keyed by wire names,
# lists, Python scalars, None for xsi:nil) and labridge's records.


def from_wire(type_: TypeExpr, value: Any) -> Any:
    """Turn a decoded wire value into labridge's records, guided by ``type_``. A nil or missing
    array is an empty list. A value that does not fit its record raises :class:`ProtocolError`
    naming the type, the member and (in an array) the item, never a pydantic error."""
    if isinstance(type_, ArrayOf):
        return _array_from_wire(type_, value)
    if value is None:
        return None
    if isinstance(type_, StructRef):
        return _struct_from_wire(_active.types[type_.name], value)
    if isinstance(type_, Scalar) and type_.date:
        return _date_from_wire(value)
    return value


def _array_from_wire(type_: ArrayOf, value: Any) -> list[Any]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out: list[Any] = []
    for index, item in enumerate(items, 1):
        try:
            out.append(from_wire(type_.item, item))
        except ProtocolError as exc:
            # One unreadable item fails the whole array: a list short of a record would make a
            # caller believe that record is gone from LA (sync would mark it removed).
            raise ProtocolError(f"item {index}: {exc.args[0]}") from None
    return out


def _struct_from_wire(t: ComplexType, value: Any) -> m.LAModel:
    if not isinstance(value, Mapping):
        raise ProtocolError(f"{t.name} expected a struct, got {_kind(value)}")
    kwargs: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    for name, v in value.items():
        mb = t.member(name)
        if mb is None:
            extras[name] = v
        elif v is None:
            # A nil member stays set (to None) on a nillable field, so that it is told apart from
            # an omitted one (docs/contract.md §3.6); elsewhere it falls back to the field's
            # default.
            if t.model.model_fields[mb.attr].default is None:
                kwargs[mb.attr] = None
        else:
            kwargs[mb.attr] = _member_from_wire(t, mb, v)
    if extras:
        kwargs["extras"] = extras
    try:
        return t.model.model_validate(kwargs)
    except ValidationError as exc:
        raise ProtocolError(_invalid(t, exc)) from None


def _member_from_wire(t: ComplexType, mb: Member, value: Any) -> Any:
    try:
        return from_wire(mb.type, value)
    except ProtocolError as exc:
        raise ProtocolError(f"{t.name}.{mb.name}: {exc.args[0]}") from None


def _invalid(t: ComplexType, exc: ValidationError) -> str:
    """What pydantic found wrong, by wire name and without the values (they may be personal)."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        attr = str(error["loc"][0]) if error["loc"] else ""
        try:
            name = t.by_attr(attr).name
        except KeyError:
            name = attr or "(record)"
        problems.append(f"{t.name}.{name}: {error['msg']}")
    return "; ".join(problems)


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    return "text" if isinstance(value, str) else type(value).__name__


def to_wire(type_: TypeExpr, value: Any, *, omit_unset: bool = True) -> Any:
    """Turn labridge's records into wire values. With ``omit_unset`` (requests) a model's unset
    fields are omitted and fields set to ``None`` become ``xsi:nil`` (docs/contract.md §3.6);
    without it (answers) every member is sent."""
    if value is None:
        return None
    if isinstance(type_, ArrayOf):
        return [to_wire(type_.item, v, omit_unset=omit_unset) for v in value]
    if isinstance(type_, StructRef):
        t = _active.types[type_.name]
        if not isinstance(value, m.LAModel):
            value = t.model.model_validate(value)
        out: dict[str, Any] = {}
        for mb in t.members:
            if not omit_unset or mb.attr in value.model_fields_set:
                out[mb.name] = to_wire(mb.type, getattr(value, mb.attr), omit_unset=omit_unset)
        return out
    if isinstance(type_, Scalar) and type_.date:
        return _date_to_wire(value)
    return value


def _date_to_wire(value: Any) -> Any:
    # labridge holds dates as ISO strings; LA may want another format (docs/contract.md §1 [INF]).
    fmt = _active.date_format
    if fmt == ISO_DATE or not isinstance(value, str) or not value:
        return value
    try:
        return datetime.strptime(value, ISO_DATE).strftime(fmt)
    except ValueError:
        return value


def _date_from_wire(value: Any) -> Any:
    fmt = _active.date_format
    if fmt == ISO_DATE or not isinstance(value, str) or not value:
        return value
    try:
        return datetime.strptime(value.strip(), fmt).strftime(ISO_DATE)
    except ValueError:
        return value  # another form (xsd:dateTime, docs/contract.md §5) is left to the decoder


def params_to_wire(op: Operation, args: Mapping[str, Any]) -> dict[str, Any]:
    """Operation arguments by labridge name → wire parameters, in the contract's order."""
    unknown = set(args) - {p.attr for p in op.params}
    if unknown:
        raise TypeError(f"{op.name} takes no argument {sorted(unknown)}")
    return {p.name: to_wire(p.type, args[p.attr]) for p in op.params if p.attr in args}


def params_from_wire(op: Operation, params: Mapping[str, Any]) -> dict[str, Any]:
    """Decoded wire parameters → arguments by labridge name (absent parameters stay absent)."""
    out: dict[str, Any] = {}
    for p in op.params:
        if p.name in params:
            out[p.attr] = from_wire(p.type, params[p.name])
    return out


def wire_name(model: type[m.LAModel], attr: str) -> str:
    """The wire name of a record's field, for messages that must name members as LA does."""
    return type_of_model(model).by_attr(attr).name
