"""The records every source produces, in labridge's own field names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

#: labridge's field names: the default CSV headers (matched case-insensitively), the columns a
#: SQL query returns, and what the ILR reader and the mapping file produce.
FIELDS: tuple[str, ...] = (
    "learner_id",
    "forename",
    "surname",
    "birth_date",
    "gender",
    "email",
    "uln",
    "ni_number",
    "phone",
    "mobile",
    "address_line1",
    "address_line2",
    "address_line3",
    "address_line4",
    "town",
    "county",
    "postcode",
    "nationality",
    "ethnicity",
    "employment_status",
    "company",
    "course",
    "units",
    "start_date",
    "end_date",
    "assessor",
    "verifier",
    "job_title",
    "department",
    "employee_reference",
    "line_manager",
    "line_manager_email",
    "line_manager_phone",
    "awarding_body_registration_no",
)

#: Fields without which LA refuses an enrolment (docs/contract.md §3.5): a source must have a
#: column for
#: each, or a mapping that fills it ([defaults], [by_course], [by_employer]).
MANDATORY: tuple[str, ...] = (
    "learner_id", "forename", "surname", "birth_date", "gender", "email",
    "company", "course", "start_date", "assessor", "verifier",
)  # fmt: skip

#: A field a reader adds when it could not read a row faithfully (extra cells, an unmapped ILR
#: standard): what is wrong and how to fix it. Validation turns it into a problem of the record.
ERROR_FIELD = "_error"


@dataclass(frozen=True)
class SourceRecord:
    """One learner to enrol, as the source gave it.

    ``fields`` maps labridge field names to the raw text (stripped; a field the source did not
    have is absent, an empty cell is ``""``). ``row`` counts data rows from 1 in source order;
    ``origin`` says where to look for it ("learners.csv line 14", "ILR learner LR0042").
    """

    row: int
    origin: str
    fields: Mapping[str, str] = field(default_factory=dict)

    @property
    def source_id(self) -> str:
        return self.fields.get("learner_id", "")


@dataclass(frozen=True)
class SkippedRecord:
    """A row the source holds but that has nothing to enrol, and why (e.g. an ILR learner with
    no continuing apprenticeship or matching qualification)."""

    row: int
    origin: str
    source_id: str
    reason: str


SourceRow: TypeAlias = SourceRecord | SkippedRecord
