"""Reading the ILR (Individualised Learner Record) XML file a provider submits to the DfE.

Supported: the 2024-25 and 2025-26 schemas, told apart by the root ``Message`` element's
namespace (``ESFA/ILR/2024-25``, ``ESFA/ILR/2025-26``); every element is qualified. The file is
streamed ``Learner`` by ``Learner`` (each cleared once read), so a file of any size reads in
constant memory, with the same hardening as the SOAP parser (``soap/xml.py``): no DTD, no
entities, no network, lxml's size limits on, and a file with a DOCTYPE is refused outright.

What becomes a record (one per aim to enrol; a learner may give several):

- a **continuing apprenticeship programme**: ``LearnAimRef`` ``ZPROG001``, ``AimType`` 1,
  ``ProgType`` 25 with a ``StdCode``, ``CompStatus`` 1. Its course is ``[ilr.standards]`` of the
  mapping for that StdCode. An unmapped standard still gives a record, with ``course`` empty and
  :data:`~labridge.sources.mapping.ERROR_FIELD` saying "StdCode 119 is not mapped to an LA
  course: add it under [ilr.standards] in the mapping file", so validation reports it (invalid,
  with that fix) instead of the learner vanishing as "skipped".
- a **continuing qualification aim** (``CompStatus`` 1, ``AimType`` other than 1) whose
  ``LearnAimRef`` is mapped under ``[ilr.aims]`` or, normalised (upper case, no ``/`` or
  spaces), equals an LA course QAN (``60312345`` ↔ ``603/1234/5``); its course is the mapping's
  value, else LA's QAN as LA spells it. Component aims (``AimType`` 3) of an apprenticeship
  that is itself enrolled (same ``ProgType`` and ``StdCode``) are left to that enrolment.

A learner with neither gives a :class:`SkippedRecord` saying why (the aim that is completed,
withdrawn or on a break, or that nothing matched).

Fields: LearnRefNumber → learner_id, GivenNames → forename, FamilyName → surname, DateOfBirth →
birth_date, Sex → gender, ULN → uln, NINumber → ni_number, Ethnicity (ILR code) → ethnicity,
Email, TelNo, Postcode, AddLine1..4 → email, phone, postcode, address_line1..4 (flat children of
``Learner`` in both years); the aim's LearnStartDate → start_date and LearnPlanEndDate →
end_date; the ``LearnerEmploymentStatus`` in force at the aim's start (latest DateEmpStatApp on
or before LearnStartDate) gives employment_status (EmpStat) and, through ``[ilr.employers]``,
company from its EmpId. The ILR carries no employer name, no assessor and no verifier: those
come from the mapping (``[ilr.employers]``, ``[by_course]``, ``[by_employer]``, ``[defaults]``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from ..errors import ConfigurationError
from .mapping import ERROR_FIELD, SourceMapping, aim_key
from .records import SkippedRecord, SourceRecord, SourceRow

#: Root namespaces labridge reads, and the academic year each one is.
NAMESPACES = {"ESFA/ILR/2024-25": "2024-25", "ESFA/ILR/2025-26": "2025-26"}

PROGRAMME_AIM = "ZPROG001"
APPRENTICESHIP_STANDARD = "25"  # ProgType
CONTINUING = "1"  # CompStatus
#: EmpId meaning "employer not on the Employer Data Service": no employer at all.
NOT_ON_EDS = "999999999"

_COMP_STATUS = {"2": "completed", "3": "withdrawn", "6": "on a break in learning"}
_LEARNER_FIELDS = {
    "LearnRefNumber": "learner_id",
    "ULN": "uln",
    "FamilyName": "surname",
    "GivenNames": "forename",
    "DateOfBirth": "birth_date",
    "Ethnicity": "ethnicity",
    "Sex": "gender",
    "NINumber": "ni_number",
    "Postcode": "postcode",
    "AddLine1": "address_line1",
    "AddLine2": "address_line2",
    "AddLine3": "address_line3",
    "AddLine4": "address_line4",
    "TelNo": "phone",
    "Email": "email",
}
_NOTHING_TO_ENROL = (
    "no continuing apprenticeship programme aim (ZPROG001, ProgType 25) and no continuing aim "
    "whose Ofqual number matches an LA course"
)


@dataclass(frozen=True)
class _Aim:
    """The parts of a ``LearningDelivery`` that decide what to enrol."""

    ref: str
    aim_type: str
    start: str
    planned_end: str
    prog_type: str
    std_code: str
    status: str

    @property
    def is_apprenticeship(self) -> bool:
        return (
            self.ref.upper() == PROGRAMME_AIM
            and self.aim_type == "1"
            and self.prog_type == APPRENTICESHIP_STANDARD
            and bool(self.std_code)
        )

    @property
    def label(self) -> str:
        return f"{self.ref}, StdCode {self.std_code}" if self.is_apprenticeship else self.ref

    def not_continuing(self) -> str:
        state = _COMP_STATUS.get(self.status, "not continuing")
        standard = f" (StdCode {self.std_code})" if self.is_apprenticeship else ""
        return f"aim {self.ref}{standard} is {state} (CompStatus {self.status or 'missing'})"

    def left_to(self, programmes: Collection[_Aim]) -> bool:
        """Whether this aim is a programme, or a component of an enrolled apprenticeship."""
        if self.aim_type == "1":
            return True
        return self.aim_type == "3" and any(
            (p.prog_type, p.std_code) == (self.prog_type, self.std_code) for p in programmes
        )


@dataclass(frozen=True)
class _Employment:
    status: str
    since: str
    emp_id: str


@dataclass
class _Learner:
    fields: dict[str, str]
    employments: list[_Employment]
    aims: list[_Aim]

    @property
    def ref(self) -> str:
        return self.fields.get("learner_id", "")

    def employment_at(self, start: str) -> _Employment | None:
        """The status in force on ``start``: the latest one applying on or before it (ISO dates
        compare as text); of two on the same date, the later in the file."""
        applying = [e for e in self.employments if e.since and e.since <= start]
        return max(reversed(applying), key=lambda e: e.since, default=None)


def read_ilr(
    path: Path | str, mapping: SourceMapping | None = None, course_qans: Collection[str] = ()
) -> Iterator[SourceRow]:
    """Yield the records of the ILR file at ``path``, learner by learner in file order.

    ``course_qans`` are the QANs of LA's courses (from the synced reference data). ``row``
    counts the rows yielded, from 1; ``origin`` reads "ILR learner LR0042 (ZPROG001, StdCode
    119)" or "ILR learner LR0042" for a skipped learner.
    """
    path = Path(path)
    mapping = mapping if mapping is not None else SourceMapping()
    qans = {aim_key(qan): qan for qan in course_qans if qan.strip()}
    row = 0
    for learner in _learners(path):
        for outcome in _outcomes(learner, mapping, qans):
            row += 1
            yield dataclasses.replace(outcome, row=row)


def _outcomes(learner: _Learner, mapping: SourceMapping, qans: dict[str, str]) -> list[SourceRow]:
    apprenticeships = [a for a in learner.aims if a.is_apprenticeship]
    programmes = [a for a in apprenticeships if a.status == CONTINUING]
    outcomes: list[SourceRow] = [
        _record(learner, aim, mapping.course_for_standard(aim.std_code) or "", mapping)
        for aim in programmes
    ]
    notes = [a.not_continuing() for a in apprenticeships if a.status != CONTINUING]
    for aim in learner.aims:
        course = mapping.course_for_aim(aim.ref) or qans.get(aim_key(aim.ref))
        if course is None or aim.left_to(programmes):
            continue
        if aim.status == CONTINUING:
            outcomes.append(_record(learner, aim, course, mapping))
        else:
            notes.append(aim.not_continuing())
    if outcomes:
        return outcomes
    reason = "; ".join(notes) or _NOTHING_TO_ENROL
    return [SkippedRecord(0, f"ILR learner {learner.ref}", learner.ref, reason)]


def _record(learner: _Learner, aim: _Aim, course: str, mapping: SourceMapping) -> SourceRecord:
    fields = {**learner.fields, "course": course, "start_date": aim.start}
    if aim.planned_end:
        fields["end_date"] = aim.planned_end
    employment = learner.employment_at(aim.start)
    emp_id = employment.emp_id if employment else ""
    if employment and employment.status:
        fields["employment_status"] = employment.status
    company = mapping.company_for_employer(emp_id) if emp_id else None
    if company:
        fields["company"] = company
    fields = mapping.apply(fields, employer=emp_id)
    problems = _mapping_gaps(aim, emp_id, fields)
    if problems:
        fields[ERROR_FIELD] = "; ".join(problems)
    return SourceRecord(0, f"ILR learner {learner.ref} ({aim.label})", fields)


def _mapping_gaps(aim: _Aim, emp_id: str, fields: dict[str, str]) -> list[str]:
    """What the mapping file lacks for this record, said as the fix (checked after every fill,
    so that a [by_employer] company or a [defaults] course counts)."""
    gaps = []
    if aim.is_apprenticeship and not fields.get("course"):
        gaps.append(
            f"StdCode {aim.std_code} is not mapped to an LA course: add it under "
            "[ilr.standards] in the mapping file"
        )
    if emp_id and emp_id != NOT_ON_EDS and not fields.get("company"):
        gaps.append(
            f"EmpId {emp_id} is not mapped to an LA company: add it under [ilr.employers] "
            "in the mapping file"
        )
    return gaps


# ---------------------------------------------------------------------------------------------
# Streaming the XML


def _learners(path: Path) -> Iterator[_Learner]:
    """Each ``Learner`` of the file, read and then cleared so that memory stays flat."""
    namespace = ""
    for event, element in _events(path):
        if not namespace:
            namespace = _namespace(path.name, element)
        elif event == "end" and element.tag == f"{namespace}Learner":
            yield _learner(element, namespace)
            element.clear()
            parent = element.getparent()
            while parent is not None and element.getprevious() is not None:
                del parent[0]


def _events(path: Path) -> Iterator[tuple[str, etree._Element]]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror or exc}") from None
    with handle:
        events = etree.iterparse(
            handle,
            events=("start", "end"),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        try:
            yield from events
        except etree.XMLSyntaxError as exc:
            raise ConfigurationError(
                f"{path.name} is not well-formed XML: {exc}",
                hint="export the ILR file again from your MIS",
            ) from None


def _namespace(name: str, root: etree._Element) -> str:
    """``{namespace}`` of a supported ILR root, or the error saying what the file is."""
    docinfo = root.getroottree().docinfo
    if getattr(docinfo, "doctype", "") or docinfo.internalDTD is not None:
        raise ConfigurationError(
            f"{name} has a DOCTYPE: XML with DTDs or entities is refused",
            hint="ILR files have no DOCTYPE; export the file again from your MIS",
        )
    qname = etree.QName(root)
    if qname.localname != "Message" or qname.namespace not in NAMESPACES:
        found = f"{qname.localname} in namespace {qname.namespace!r}"
        if not qname.namespace:
            found = f"{qname.localname} in no namespace"
        supported = ", ".join(f"{ns} ({year})" for ns, year in NAMESPACES.items())
        raise ConfigurationError(
            f"{name} is not an ILR file labridge reads: its root element is {found}",
            hint=f"labridge reads ILR XML whose root is Message in namespace {supported}",
        )
    return f"{{{qname.namespace}}}"


def _learner(element: etree._Element, namespace: str) -> _Learner:
    fields: dict[str, str] = {}
    employments: list[_Employment] = []
    aims: list[_Aim] = []
    for child in element:
        name = _local(child, namespace)
        if name in _LEARNER_FIELDS:
            fields[_LEARNER_FIELDS[name]] = (child.text or "").strip()
        elif name == "LearnerEmploymentStatus":
            values = _values(child, namespace)
            employments.append(
                _Employment(
                    values.get("EmpStat", ""),
                    values.get("DateEmpStatApp", ""),
                    values.get("EmpId", ""),
                )
            )
        elif name == "LearningDelivery":
            aims.append(_aim(_values(child, namespace)))
    return _Learner(fields, employments, aims)


def _aim(values: dict[str, str]) -> _Aim:
    return _Aim(
        ref=values.get("LearnAimRef", ""),
        aim_type=values.get("AimType", ""),
        start=values.get("LearnStartDate", ""),
        planned_end=values.get("LearnPlanEndDate", ""),
        prog_type=values.get("ProgType", ""),
        std_code=values.get("StdCode", ""),
        status=values.get("CompStatus", ""),
    )


def _values(element: etree._Element, namespace: str) -> dict[str, str]:
    """The text of ``element``'s simple children, by local name (nested entities left out)."""
    return {
        _local(child, namespace): (child.text or "").strip() for child in element if len(child) == 0
    }


def _local(element: etree._Element, namespace: str) -> str:
    tag = element.tag
    if isinstance(tag, str) and tag.startswith(namespace):
        return tag[len(namespace) :]
    return ""  # a foreign element: not part of the ILR, ignored
