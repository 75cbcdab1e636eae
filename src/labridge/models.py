"""Typed records of what LA sends and receives.

Attribute names are labridge's own (snake_case); the wire names of docs/contract.md live only in
:mod:`labridge.contract`, which converts between the two. Every model keeps the members LA sent that
the contract does not know in :attr:`LAModel.extras` (docs/contract.md §1: nothing LA sends is
lost). docs/vocabulary.md names each concept at each boundary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class LAModel(BaseModel):
    """Base of every wire record."""

    model_config = ConfigDict(frozen=False, extra="forbid", populate_by_name=True)

    #: Members LA sent that the contract does not describe, keyed by their wire name.
    extras: dict[str, Any] = Field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Wire:
    """A record already in its wire form: members by wire name, dates as LA takes them, unset
    members omitted (:func:`labridge.client.built` makes one). The client sends it as it is, so
    the same struct can be journalled as sent (docs/vocabulary.md)."""

    members: Mapping[str, Any]


class Token(LAModel):
    """The two-part session token of docs/contract.md §2."""

    id: str
    uuid: str


class Unit(LAModel):
    unit_uuid: str
    name: str = ""
    reference: str = ""
    mandatory: bool = False


class Framework(LAModel):
    """A course (LA calls the list "frameworks") with its units."""

    course_uuid: str
    name: str = ""
    qan: str = ""
    level: str = ""
    active: bool = True
    units: list[Unit] = Field(default_factory=list)


class Trainer(LAModel):
    trainer_uuid: str
    forename: str = ""
    surname: str = ""
    email: str = ""
    is_assessor: bool = False
    is_verifier: bool = False


class Nationality(LAModel):
    nationality_id: str
    name: str = ""


class Ethnicity(LAModel):
    ethnicity_id: str
    name: str = ""


class Company(LAModel):
    company_uuid: str
    name: str = ""
    contact_email: str = ""
    postcode: str = ""


class Candidate(LAModel):
    candidate_uuid: str
    source_id: str = ""
    forename: str = ""
    surname: str = ""
    email: str = ""
    uln: str = ""
    company_uuid: str = ""
    course_uuid: str = ""
    course_qan: str = ""
    start_date: str = ""
    end_date: str = ""
    status: str = ""


class CandidateQuery(LAModel):
    """Parameters of GetCandidates; an empty ``course_qan`` means every course."""

    course_qan: str = ""
    active: bool = True
    completed: bool = False
    test: bool = False


class Credentials(LAModel):
    username: str
    password: str = Field(repr=False)


class Message(LAModel):
    """One MessageList entry of an enrolment response (docs/contract.md §3.5)."""

    code: str = ""
    field: str = ""
    message: str = ""


class EnrolmentResponse(LAModel):
    success: bool = False
    candidate_uuid: str = ""
    source_id: str = ""
    uln: str = ""
    messages: list[Message] = Field(default_factory=list)


class Address(LAModel):
    line1: str | None = None
    line2: str | None = None
    line3: str | None = None
    line4: str | None = None
    town: str | None = None
    county: str | None = None
    postcode: str | None = None


class EnrolmentUnit(LAModel):
    unit_uuid: str


class EnrolmentCourse(LAModel):
    course_uuid: str | None = None
    course_qan: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    units: list[EnrolmentUnit] | None = None


class EnrolmentUser(LAModel):
    """A learner as GroupEnrolment takes it. Unset fields are omitted from the request."""

    source_id: str | None = None
    forename: str | None = None
    surname: str | None = None
    birth_date: str | None = None
    gender: str | None = None
    email: str | None = None
    uln: str | None = None
    ni_number: str | None = None
    phone: str | None = None
    mobile: str | None = None
    address: Address | None = None
    nationality_id: str | None = None
    ethnicity_id: str | None = None
    employment_status: str | None = None
    company_uuid: str | None = None
    course: EnrolmentCourse | None = None
    assessor_uuid: str | None = None
    verifier_uuid: str | None = None
    job_title: str | None = None
    department: str | None = None
    employee_reference: str | None = None
    line_manager: str | None = None
    line_manager_email: str | None = None
    line_manager_phone: str | None = None
    awarding_body_registration_no: str | None = None


class EnrolmentUserUpdate(LAModel):
    """UpdateEnrolment's user (docs/contract.md §3.6): a field left unset is omitted and stays as LA
    has it; a field set to ``None`` is sent as ``xsi:nil`` (also untouched); ``""`` clears it."""

    candidate_uuid: str | None = None
    course_uuid: str | None = None
    source_id: str | None = None
    surname: str | None = None
    email: str | None = None
    uln: str | None = None
    ni_number: str | None = None
    phone: str | None = None
    mobile: str | None = None
    address: Address | None = None
    nationality_id: str | None = None
    ethnicity_id: str | None = None
    employment_status: str | None = None
    company_uuid: str | None = None
    course: EnrolmentCourse | None = None
    assessor_uuid: str | None = None
    verifier_uuid: str | None = None
    job_title: str | None = None
    department: str | None = None
    employee_reference: str | None = None
    line_manager: str | None = None
    line_manager_email: str | None = None
    line_manager_phone: str | None = None
    awarding_body_registration_no: str | None = None


class OutcomeProgress(LAModel):
    outcome_uuid: str
    reference: str = ""
    description: str = ""
    completed: bool = False
    completed_date: str = ""
    evidence_count: int = 0


class UnitProgress(LAModel):
    unit_uuid: str
    name: str = ""
    reference: str = ""
    progress: float = 0.0
    completed: bool = False
    completed_date: str = ""
    outcomes: list[OutcomeProgress] = Field(default_factory=list)


class Progress(LAModel):
    candidate_uuid: str
    source_id: str = ""
    course_uuid: str = ""
    start_date: str = ""
    end_date: str = ""
    last_activity_date: str = ""
    overall_progress: float = 0.0
    status: str = ""
    units: list[UnitProgress] = Field(default_factory=list)
