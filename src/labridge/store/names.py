"""Names for the UUIDs people are shown: trainers, companies, courses and units, from the
reference data the last sync mirrored. An update's diff or a problem then reads ``Sarah
Whitfield (a54d83c9…)`` rather than a bare TrainerUUID (the console's ``named``).
Removed rows are named too: a diff may show the trainer LA held before."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..models import Company, Framework, Trainer, Unit
from .reference_sets import list_set


def by_uuid(session: Session) -> dict[str, str]:
    """Every trainer, company, course and unit the store knows, name by UUID."""
    names: dict[str, str] = {}
    for record in (
        *list_set(session, "trainers", include_removed=True),
        *list_set(session, "companies", include_removed=True),
        *list_set(session, "units", include_removed=True),
        *list_set(session, "frameworks", include_removed=True),
    ):
        if isinstance(record, Trainer):
            names[record.trainer_uuid] = f"{record.forename} {record.surname}".strip()
        elif isinstance(record, Company):
            names[record.company_uuid] = record.name
        elif isinstance(record, Framework):
            names[record.course_uuid] = record.name
        elif isinstance(record, Unit):
            names[record.unit_uuid] = record.reference or record.name
    return {uuid: name for uuid, name in names.items() if name}
