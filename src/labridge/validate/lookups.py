"""Look-ups against the reference data synced from LA: companies, courses and their units,
trainers, nationalities and ethnicities.

A source names things the way people do (a company by name, a course by QAN, a trainer by
e-mail); LA wants its own identifiers (docs/contract.md §3.5). :class:`ReferenceData` turns one into
the other, or raises :class:`LookupProblem` saying what is wrong and how to fix it. A name that fits
two records is an error, never a guess. Every resolver also takes ``ids_only=True``, which accepts
only the identifier LA takes on the wire (exactly as LA spells it): the form in which
:func:`labridge.validate.learners.check_user` checks an already-built enrolment.

The indexes are built once, when the object is made, so a look-up is a few dictionary reads
however many learners are checked.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeAlias, TypeVar, cast

from sqlalchemy.orm import Session

from ..errors import Problem
from ..models import Company, Ethnicity, Framework, Nationality, Trainer, Unit
from ..store import list_set
from . import uk

__all__ = ["LookupProblem", "ReferenceData", "Role", "name_key", "qan_key"]

Role: TypeAlias = Literal["assessor", "verifier"]
T = TypeVar("T")

_SYNC_HINT = "or run `labridge sync` if it was added to LA recently"


class LookupProblem(LookupError):
    """A value that names no record, or more than one, or one that cannot be used."""

    def __init__(self, *problems: Problem) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def name_key(value: str) -> str:
    """Names compare case-insensitively, with runs of spaces counted as one."""
    return " ".join(value.split()).casefold()


def qan_key(value: str) -> str:
    """``603/1234/5``, ``60312345`` and ``603 1234 5`` compare equal (so do ``X`` and ``x``)."""
    return "".join(value.split()).replace("/", "").upper()


def _label_key(value: str) -> str:
    # Ethnicity labels vary in punctuation ("Mixed / multiple" vs "Mixed/Multiple").
    return "".join(ch for ch in value.casefold() if ch.isalnum())


#: ILR ethnicity code ("31") → the key of its label, which LA's ethnicity names follow.
_ILR_ETHNICITY_KEYS = {
    str(code): _label_key(label) for code, label in uk.ilr_ethnicity_codes().items()
}


def _name_keys(value: str) -> tuple[str]:
    return (name_key(value),)


def _qan_keys(value: str) -> tuple[str]:
    return (qan_key(value),)


def _email_keys(value: str) -> tuple[str]:
    return (value.strip().casefold(),)


def _ethnicity_keys(value: str) -> Iterator[str]:
    """An ILR code ("31") stands for its label, which LA's ethnicity names follow."""
    label = _ILR_ETHNICITY_KEYS.get(value.strip())
    if label is not None:
        yield label
    yield _label_key(value)


@dataclass(frozen=True)
class _Lookup(Generic[T]):
    """Records by identifier (exact, then case-folded) and by any number of normalised keys."""

    by_id: dict[str, T]
    by_folded_id: dict[str, T]
    by_key: dict[str, list[T]]

    @classmethod
    def build(
        cls, records: Iterable[T], id_of: Callable[[T], str], keys_of: Callable[[T], Iterable[str]]
    ) -> _Lookup[T]:
        by_id: dict[str, T] = {}
        by_key: dict[str, list[T]] = {}
        for record in records:
            by_id[id_of(record)] = record
            for key in dict.fromkeys(keys_of(record)):
                if key:
                    by_key.setdefault(key, []).append(record)
        return cls(by_id, {k.casefold(): r for k, r in by_id.items()}, by_key)

    def find(
        self, value: str, keys: Callable[[str], Iterable[str]], *, ids_only: bool = False
    ) -> list[T]:
        """The records ``value`` names: none, one, or several (ambiguous). ``keys`` gives the
        value's normalised keys, tried in order; it is only called when no identifier fits."""
        value = value.strip()
        if (record := self.by_id.get(value)) is not None:
            return [record]
        if ids_only:
            return []
        if (record := self.by_folded_id.get(value.casefold())) is not None:
            return [record]
        for key in keys(value):
            if found := self.by_key.get(key):
                return found
        return []


@dataclass(frozen=True)
class _UnitIndex:
    """A course's units by UnitUUID and by reference, and which courses hold each of them."""

    of_course: dict[str, _Lookup[Unit]]
    courses_by_unit: dict[str, list[Framework]]
    courses_by_reference: dict[str, list[Framework]]

    @classmethod
    def build(cls, frameworks: Iterable[Framework]) -> _UnitIndex:
        of_course: dict[str, _Lookup[Unit]] = {}
        by_unit: dict[str, list[Framework]] = {}
        by_reference: dict[str, list[Framework]] = {}
        for course in frameworks:
            of_course[course.course_uuid] = _Lookup.build(
                course.units, lambda u: u.unit_uuid, lambda u: [name_key(u.reference)]
            )
            for unit in course.units:
                by_unit.setdefault(unit.unit_uuid, []).append(course)
                by_reference.setdefault(name_key(unit.reference), []).append(course)
        return cls(of_course, by_unit, by_reference)


def _tuple(records: Sequence[T]) -> tuple[T, ...]:
    return records if isinstance(records, tuple) else tuple(records)


@dataclass(frozen=True)
class ReferenceData:
    """The reference lists as LA last listed them, indexed for look-ups.

    Build it from plain lists (``ReferenceData(frameworks=..., trainers=..., ...)``) or from the
    store with :meth:`load`. ``trainers`` is GetTrainers' list, which holds active trainers only.
    """

    frameworks: Sequence[Framework] = ()
    trainers: Sequence[Trainer] = ()
    companies: Sequence[Company] = ()
    nationalities: Sequence[Nationality] = ()
    ethnicities: Sequence[Ethnicity] = ()
    _courses: _Lookup[Framework] = field(init=False, repr=False, compare=False)
    _course_names: _Lookup[Framework] = field(init=False, repr=False, compare=False)
    _units: _UnitIndex = field(init=False, repr=False, compare=False)
    _trainers: _Lookup[Trainer] = field(init=False, repr=False, compare=False)
    _companies: _Lookup[Company] = field(init=False, repr=False, compare=False)
    _nationalities: _Lookup[Nationality] = field(init=False, repr=False, compare=False)
    _ethnicities: _Lookup[Ethnicity] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        values: Mapping[str, object] = {
            "frameworks": _tuple(self.frameworks),
            "trainers": _tuple(self.trainers),
            "companies": _tuple(self.companies),
            "nationalities": _tuple(self.nationalities),
            "ethnicities": _tuple(self.ethnicities),
            "_courses": _Lookup.build(
                self.frameworks, lambda c: c.course_uuid, lambda c: [qan_key(c.qan)]
            ),
            "_course_names": _Lookup.build(
                self.frameworks, lambda c: c.course_uuid, lambda c: [name_key(c.name)]
            ),
            "_units": _UnitIndex.build(self.frameworks),
            "_trainers": _Lookup.build(
                self.trainers, lambda t: t.trainer_uuid, lambda t: [t.email.strip().casefold()]
            ),
            "_companies": _Lookup.build(
                self.companies, lambda c: c.company_uuid, lambda c: [name_key(c.name)]
            ),
            "_nationalities": _Lookup.build(
                self.nationalities, lambda n: n.nationality_id, lambda n: [name_key(n.name)]
            ),
            "_ethnicities": _Lookup.build(
                self.ethnicities, lambda e: e.ethnicity_id, lambda e: [_label_key(e.name)]
            ),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)  # frozen: set once, here

    def __repr__(self) -> str:
        # The lists run to hundreds of records: their sizes say enough in a log or a test report.
        sizes = (
            f"{len(self.frameworks)} frameworks, {len(self.trainers)} trainers, "
            f"{len(self.companies)} companies, {len(self.nationalities)} nationalities, "
            f"{len(self.ethnicities)} ethnicities"
        )
        return f"<ReferenceData: {sizes}>"

    @classmethod
    def load(cls, session: Session) -> ReferenceData:
        """The reference data in the store, as the last sync left it (removed rows left out)."""
        return cls(
            frameworks=cast(list[Framework], list_set(session, "frameworks")),
            trainers=cast(list[Trainer], list_set(session, "trainers")),
            companies=cast(list[Company], list_set(session, "companies")),
            nationalities=cast(list[Nationality], list_set(session, "nationalities")),
            ethnicities=cast(list[Ethnicity], list_set(session, "ethnicities")),
        )

    # -- companies ------------------------------------------------------------------------------

    def company(self, value: str, *, ids_only: bool = False) -> Company:
        """The company with this CompanyUUID, else with this name (case and spacing ignored)."""
        found = self._companies.find(value, _name_keys, ids_only=ids_only)
        if len(found) > 1:
            uuids = ", ".join(c.company_uuid for c in found)
            raise LookupProblem(
                Problem(
                    "company",
                    "AMBIGUOUS_COMPANY",
                    f"company {value!r} matches {len(found)} companies in LA (CompanyUUIDs "
                    f"{uuids}); put the CompanyUUID of the right one in the company column",
                )
            )
        if not found:
            raise LookupProblem(
                Problem(
                    "company",
                    "UNKNOWN_COMPANY",
                    f"company {value!r} is not in LA's company list"
                    f"{_did_you_mean(value, (c.name for c in self.companies))}; check the "
                    f"spelling, use the CompanyUUID, {_SYNC_HINT}",
                )
            )
        return found[0]

    # -- courses and units ----------------------------------------------------------------------

    def course(self, value: str, *, ids_only: bool = False) -> Framework:
        """The active course with this CourseUUID, else this QAN (any spelling), else this name.

        ``ids_only`` accepts the CourseUUID only; see :meth:`course_by_qan` for LA's CourseQAN.
        """
        found = self._courses.find(value, _qan_keys, ids_only=ids_only)
        if not found and not ids_only:
            found = self._course_names.by_key.get(name_key(value), [])
        return self._one_course(value, found)

    def course_by_qan(self, qan: str) -> Framework:
        """The active course with this QAN (LA's CourseQAN member), in any spelling."""
        return self._one_course(qan, self._courses.by_key.get(qan_key(qan), []))

    def _one_course(self, value: str, found: list[Framework]) -> Framework:
        if len(found) > 1:
            listed = "; ".join(f"{c.name} ({c.course_uuid})" for c in found)
            raise LookupProblem(
                Problem(
                    "course",
                    "AMBIGUOUS_COURSE",
                    f"course {value!r} matches {len(found)} courses in LA: {listed}; put the "
                    "CourseUUID of the right one in the course column",
                )
            )
        if not found:
            names = _did_you_mean(value, (c.name for c in self.frameworks))
            raise LookupProblem(
                Problem(
                    "course",
                    "UNKNOWN_COURSE",
                    f"course {value!r} is not in LA's course list{names}; give its CourseUUID, "
                    f"QAN (e.g. 603/1234/5) or exact name, {_SYNC_HINT}",
                )
            )
        course = found[0]
        if not course.active:
            raise LookupProblem(
                Problem(
                    "course",
                    "INACTIVE_COURSE",
                    f"course {course.name!r} ({course.course_uuid}) is inactive in LA and takes "
                    "no new starts; enrol the learner on the course's current version",
                )
            )
        return course

    def unit(self, course: Framework, value: str, *, ids_only: bool = False) -> Unit:
        """The unit of ``course`` with this UnitUUID, else with this reference."""
        lookup = self._units.of_course.get(course.course_uuid)
        found = lookup.find(value, _name_keys, ids_only=ids_only) if lookup else []
        if len(found) == 1:
            return found[0]
        elsewhere = self._units.courses_by_unit.get(value.strip(), [])
        if not elsewhere and not ids_only:
            elsewhere = self._units.courses_by_reference.get(name_key(value), [])
        raise LookupProblem(_unit_problem(course, value, found, elsewhere))

    def units(self, course: Framework, value: str, *, ids_only: bool = False) -> list[Unit]:
        """The units of a ``;``-separated list (UnitUUIDs or references), repeats dropped.

        Every bad entry is reported, not just the first.
        """
        units: dict[str, Unit] = {}
        problems: list[Problem] = []
        for part in value.split(";"):
            if not part.strip():
                continue
            try:
                unit = self.unit(course, part, ids_only=ids_only)
            except LookupProblem as exc:
                problems.extend(exc.problems)
            else:
                units.setdefault(unit.unit_uuid, unit)
        if problems:
            raise LookupProblem(*problems)
        return list(units.values())

    # -- trainers -------------------------------------------------------------------------------

    def trainer(self, value: str, role: Role, *, ids_only: bool = False) -> Trainer:
        """The trainer with this TrainerUUID or e-mail address, who must hold ``role``."""
        found = self._trainers.find(value, _email_keys, ids_only=ids_only)
        if len(found) > 1:
            uuids = ", ".join(t.trainer_uuid for t in found)
            raise LookupProblem(
                Problem(
                    role,
                    f"AMBIGUOUS_{role.upper()}",
                    f"{role} {value!r} matches {len(found)} trainers in LA ({uuids}); put the "
                    f"TrainerUUID of the right one in the {role} column",
                )
            )
        if not found:
            raise LookupProblem(_unknown_trainer(value, role))
        trainer = found[0]
        if not (trainer.is_assessor if role == "assessor" else trainer.is_verifier):
            raise LookupProblem(_wrong_role(value, role, trainer))
        return trainer

    # -- nationalities and ethnicities ----------------------------------------------------------

    def nationality(self, value: str, *, ids_only: bool = False) -> Nationality:
        """The nationality with this NationalityID, else this name (e.g. ``British``)."""
        found = self._nationalities.find(value, _name_keys, ids_only=ids_only)
        if len(found) != 1:
            raise LookupProblem(_unknown_code("nationality", value, found, "NationalityID"))
        return found[0]

    def ethnicity(self, value: str, *, ids_only: bool = False) -> Ethnicity:
        """The ethnicity with this EthnicityID, else the ILR code's label, else this name."""
        found = self._ethnicities.find(value, _ethnicity_keys, ids_only=ids_only)
        if len(found) != 1:
            raise LookupProblem(_unknown_code("ethnicity", value, found, "EthnicityID"))
        return found[0]


# -- messages -----------------------------------------------------------------------------------


def _did_you_mean(value: str, names: Iterable[str]) -> str:
    # Only ever reached for a value that is not found, so the scan does not cost per record.
    close = difflib.get_close_matches(value, list(names), n=1, cutoff=0.8)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unit_problem(
    course: Framework, value: str, found: list[Unit], elsewhere: list[Framework]
) -> Problem:
    if found:
        uuids = ", ".join(u.unit_uuid for u in found)
        return Problem(
            "units",
            "AMBIGUOUS_UNIT",
            f"unit {value!r} matches {len(found)} units of course {course.name!r} ({uuids}); "
            "use the UnitUUID instead",
        )
    refs = ", ".join(u.reference for u in course.units) or "none"
    if elsewhere:
        names = "; ".join(f"{c.name!r} ({c.course_uuid})" for c in elsewhere[:3])
        more = f" and {len(elsewhere) - 3} more" if len(elsewhere) > 3 else ""
        return Problem(
            "units",
            "UNIT_NOT_IN_COURSE",
            f"unit {value.strip()!r} belongs to course {names}{more}, not to {course.name!r} "
            f"(whose references are {refs}); correct the units column or the course",
        )
    return Problem(
        "units",
        "UNKNOWN_UNIT",
        f"unit {value.strip()!r} is not a UnitUUID or unit reference of course {course.name!r} "
        f"(whose references are {refs}); correct the units column, {_SYNC_HINT}",
    )


def _unknown_trainer(value: str, role: Role) -> Problem:
    return Problem(
        role,
        f"UNKNOWN_{role.upper()}",
        f"{role} {value!r} is not in LA's trainer list; check the TrainerUUID or e-mail. LA "
        "does not list inactive trainers, so if they have left choose another trainer; if "
        "they are new, run `labridge sync`",
    )


def _wrong_role(value: str, role: Role, trainer: Trainer) -> Problem:
    code = "NOT_AN_ASSESSOR" if role == "assessor" else "NOT_A_VERIFIER"
    who = f"{trainer.forename} {trainer.surname}".strip() or trainer.trainer_uuid
    return Problem(
        role,
        code,
        f"{role} {value!r} ({who}) is not a{'n' if role == 'assessor' else ''} {role} in LA; "
        f"choose a trainer who is, or ask an LA administrator to give {who} the {role} role",
    )


def _unknown_code(kind: str, value: str, found: Sequence[object], id_name: str) -> Problem:
    if found:
        return Problem(
            kind,
            f"AMBIGUOUS_{kind.upper()}",
            f"{kind} {value!r} matches {len(found)} entries of LA's {kind} list; use the "
            f"{id_name} instead",
        )
    extra = " or an ILR ethnicity code (31-47, 98, 99)" if kind == "ethnicity" else ""
    return Problem(
        kind,
        f"UNKNOWN_{kind.upper()}",
        f"{kind} {value!r} is not in LA's {kind} list; use the {id_name}, the name as LA "
        f"lists it{extra}, or leave the {kind} column empty",
    )
