"""Learners LA holds twice: one SourceSystemLearnerUUID on one course, several CandidateUUIDs.

labridge never sends a learner twice through one store, but two *separate* stores against one LA
(a mistake: a provider shares one store between its machines, docs/reliability.md) can. After an
enrol run that sent anything, the run asks LA for every candidate of the courses it sent to (a
duplicate is one learner twice on one course) and :func:`record_found` keeps
what it finds; :func:`listing` joins those with the synced candidates for ``labridge
duplicates``, the list someone merges in LA.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from . import tables


@dataclass(frozen=True)
class Duplicate:
    source_id: str
    course_uuid: str
    candidate_uuids: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "course_uuid": self.course_uuid,
            "candidate_uuids": list(self.candidate_uuids),
        }


def find(candidates: Iterable[Any]) -> list[Duplicate]:
    """The learners held more than once among ``candidates`` (LA's :class:`Candidate` records or
    rows with the same attributes); candidates with no learner id are left out."""
    groups: dict[tuple[str, str], set[str]] = defaultdict(set)
    for cand in candidates:
        if cand.source_id:
            groups[(cand.source_id, cand.course_uuid)].add(cand.candidate_uuid)
    return _duplicates(groups)


def _duplicates(groups: Mapping[tuple[str, str], set[str]]) -> list[Duplicate]:
    return [
        Duplicate(source_id, course, tuple(sorted(uuids)))
        for (source_id, course), uuids in sorted(groups.items())
        if len(uuids) > 1
    ]


def record_found(session: Session, found: Iterable[Duplicate], now: datetime) -> list[Duplicate]:
    """Keep the duplicates LA showed; returns those holding a candidate not known before."""
    t = tables.la_duplicates
    known = set(session.scalars(select(t.c.candidate_uuid)))
    new = [d for d in found if not known.issuperset(d.candidate_uuids)]
    rows = [
        {"candidate_uuid": uuid, "source_id": d.source_id, "course_uuid": d.course_uuid,
         "found_at": now}
        for d in new for uuid in d.candidate_uuids if uuid not in known
    ]  # fmt: skip
    if rows:
        session.execute(insert(t), rows)
    return new


def listing(session: Session) -> list[Duplicate]:
    """Every learner held more than once, by the synced candidates and the checks after runs."""
    groups: dict[tuple[str, str], set[str]] = defaultdict(set)
    c, d = tables.candidates, tables.la_duplicates
    synced = select(c.c.source_id, c.c.course_uuid, c.c.candidate_uuid).where(
        c.c.removed_at.is_(None), c.c.source_id != ""
    )
    # A candidate the last sync found gone from LA was merged (or deleted) there: not listed.
    gone = select(c.c.candidate_uuid).where(c.c.removed_at.is_not(None))
    checked = select(d.c.source_id, d.c.course_uuid, d.c.candidate_uuid).where(
        d.c.candidate_uuid.not_in(gone)
    )
    for stmt in (synced, checked):
        for source_id, course, uuid in session.execute(stmt):
            groups[(source_id, course)].add(uuid)
    return _duplicates(groups)
