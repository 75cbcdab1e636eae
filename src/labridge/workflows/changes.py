"""What changed for one learner: the source's members against what LA holds from labridge, and
the UpdateEnrolment user that sends only those (docs/contract.md §3.6). No I/O; used by
:mod:`labridge.workflows.update`, whose docstring states the rules.

Members are named by their wire names, nested ones flattened as ``Address.Postcode``,
``Course.EndDate`` and ``Course.Units`` (the unit UUIDs, sorted, comma-separated).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import contract as c
from ..errors import Problem
from ..models import (
    Candidate,
    EnrolmentCourse,
    EnrolmentUnit,
    EnrolmentUser,
    EnrolmentUserUpdate,
    Wire,
)
from ..store import journal

#: Members by wire name, flattened: nested ones as "Address.Postcode".
Flat = dict[str, str]
#: A member's value before (None: unknown) and after.
Change = tuple[str | None, str]

USER = c.type_of_model(EnrolmentUser)  # its logical name only: members follow the contract


@dataclass(frozen=True)
class _Names:
    """The wire names this module compares by, under one catalogue (they may be overridden,
    docs/contract.md §6, so they are read from the active catalogue, not fixed at import)."""

    course: str
    units: str
    unit_uuid: str
    #: Members that say *which* enrolment this is; sent as identifiers, never as changes.
    key: frozenset[str]
    #: Members of an enrolment that UpdateEnrolment cannot change (docs/contract.md §3.6).
    fixed: frozenset[str]


_NAMES: dict[int, tuple[c.Catalogue, _Names]] = {}


def _names() -> _Names:
    catalogue = c.active()
    cached = _NAMES.get(id(catalogue))
    if cached is None or cached[0] is not catalogue:
        cached = _NAMES[id(catalogue)] = (catalogue, _build_names())
    return cached[1]


def _build_names() -> _Names:
    course = c.wire_name(EnrolmentUser, "course")
    user, update = c.type_of_model(EnrolmentUser), c.type_of_model(EnrolmentUserUpdate)
    return _Names(
        course=course,
        units=f"{course}.{c.wire_name(EnrolmentCourse, 'units')}",
        unit_uuid=c.wire_name(EnrolmentUnit, "unit_uuid"),
        key=frozenset(
            {
                c.wire_name(EnrolmentUser, "source_id"),
                f"{course}.{c.wire_name(EnrolmentCourse, 'course_uuid')}",
                f"{course}.{c.wire_name(EnrolmentCourse, 'course_qan')}",
            }
        ),
        fixed=frozenset(mb.name for mb in user.members if update.by_attr_or_none(mb.attr) is None),
    )


def fixed_members() -> frozenset[str]:
    """Members of an enrolment that UpdateEnrolment cannot change (docs/contract.md §3.6)."""
    return _names().fixed


#: What GetCandidates shows of a learner, by the attribute both records share (docs/contract.md
#: §3.3).
_SHOWN = ("source_id", "forename", "surname", "email", "uln", "company_uuid")
_SHOWN_COURSE = ("course_uuid", "start_date", "end_date")


def flatten(wire: Mapping[str, Any]) -> Flat:
    """A user's wire members on one level; nil members left out."""
    flat: Flat = {}
    for name, value in wire.items():
        if isinstance(value, Mapping):
            flat.update({f"{name}.{k}": _text(v) for k, v in value.items() if v is not None})
        elif isinstance(value, str):
            flat[name] = value
    return flat


def _text(value: Any) -> str:
    if isinstance(value, list):
        return _joined(u.get(_names().unit_uuid, "") for u in value if isinstance(u, Mapping))
    return str(value)


def _joined(units: Iterable[str]) -> str:
    return ", ".join(sorted(set(units)))


def _unit_set(value: str | None) -> set[str]:
    return {u.strip() for u in (value or "").split(",") if u.strip()}


def unflatten(flat: Mapping[str, str]) -> dict[str, Any]:
    """The wire members of ``flat``, nested again (units as a list of Type_enrolmentUnit)."""
    wire: dict[str, Any] = {}
    for name, value in flat.items():
        parent, _, child = name.partition(".")
        if not child:
            wire[name] = value
        elif name == _names().units:
            unit_uuid = _names().unit_uuid
            wire.setdefault(parent, {})[child] = [{unit_uuid: u} for u in sorted(_unit_set(value))]
        else:
            wire.setdefault(parent, {})[child] = value
    return wire


@dataclass(frozen=True)
class Baseline:
    """What LA is taken to hold from labridge for one learner."""

    values: Flat
    #: True when ``values`` is what labridge pushed: a member absent was never sent (""). False
    #: when it is what GetCandidates shows: a member absent is unknown (None).
    complete: bool

    def old(self, name: str) -> str | None:
        if name in self.values:
            return self.values[name]
        return "" if self.complete else None


def baseline(entry: journal.Entry | None, candidate: Candidate | None) -> Baseline:
    if entry is not None and entry.state == "enrolled" and entry.pushed is not None:
        return Baseline(flatten(entry.pushed), complete=True)
    if candidate is None:
        return Baseline({}, complete=False)
    flat = {c.wire_name(EnrolmentUser, a): getattr(candidate, a) for a in _SHOWN}
    for attr in _SHOWN_COURSE:
        flat[f"{_names().course}.{c.wire_name(EnrolmentCourse, attr)}"] = getattr(candidate, attr)
    return Baseline(flat, complete=False)


@dataclass
class Diff:
    """The members to send (flat), the changes to show, and notices about what is not sent."""

    send: Flat = field(default_factory=dict)
    changes: dict[str, Change] = field(default_factory=dict)
    notices: list[Problem] = field(default_factory=list)

    def change(self, name: str, old: str | None, new: str, sent: str | None = None) -> None:
        self.changes[name] = (old, new)
        self.send[name] = new if sent is None else sent

    def notice(self, name: str, code: str, message: str) -> None:
        self.notices.append(Problem(name, code, message))


def diff(desired: Flat, base: Baseline, *, clear_missing: bool = False) -> Diff:
    """What to send to bring LA from ``base`` to the source's ``desired`` members."""
    out, names = Diff(), _names()
    for name in sorted((desired.keys() | base.values.keys()) - names.key):
        old, new = base.old(name), desired.get(name, "")
        if old == new:
            continue
        if name in names.fixed:
            _fixed(out, name, old, new)
        elif name == names.units:
            _units(out, old, new)
        elif new:
            out.change(name, old, new)
        elif old:
            _missing(out, name, old, clear_missing)
    return out


def _fixed(out: Diff, name: str, old: str | None, new: str) -> None:
    if old is None or not new:
        return  # LA does not show it, or the source lost it (then the record is invalid)
    out.notice(
        name,
        "NOT_UPDATABLE",
        f"{name} differs between the source and LA, and UpdateEnrolment cannot change "
        "it; change it in Learning Assistant by hand",
    )  # fmt: skip (no values: personal)


def _units(out: Diff, old: str | None, new: str) -> None:
    held, wanted = _unit_set(old), _unit_set(new)
    units = _names().units
    if wanted - held:
        out.change(units, old, new, sent=_joined(wanted - held))
    if held - wanted:
        out.notice(units, "UNITS_KEPT_IN_LA",
                   f"units {_joined(held - wanted)} are no longer in the source; UpdateEnrolment "
                   "adds units but never removes one, so remove them in LA by hand")  # fmt: skip


def _missing(out: Diff, name: str, old: str, clear_missing: bool) -> None:
    if clear_missing:
        out.change(name, old, "")
    else:
        out.notice(name, "KEPT_IN_LA",
                   f"{name} is no longer in the source; LA keeps its value (run with "
                   "--clear-missing to clear it)")  # fmt: skip


def pushed_after(base: Baseline, sent: Flat) -> Flat:
    """What LA holds from labridge once ``sent`` was accepted: units are added to those held."""
    merged, units = base.values | sent, _names().units
    if units in sent:
        merged[units] = _joined(_unit_set(base.values.get(units)) | _unit_set(sent[units]))
    return merged


def update_user(sent: Flat, candidate_uuid: str, course_uuid: str, source_id: str) -> Wire:
    """The UpdateEnrolment user in wire form, sent as it is: only the ``sent`` members set, plus
    the identifiers (§3.6). A member the update's type does not have (one a catalogue override
    left out) is not sent."""
    update = c.type_of_model(EnrolmentUserUpdate)
    members = {mb.name for mb in update.members}
    wire = {name: value for name, value in unflatten(sent).items() if name in members}
    wire[c.wire_name(EnrolmentUserUpdate, "candidate_uuid")] = candidate_uuid
    wire[c.wire_name(EnrolmentUserUpdate, "course_uuid")] = course_uuid
    wire[c.wire_name(EnrolmentUserUpdate, "source_id")] = source_id
    return Wire(wire)
