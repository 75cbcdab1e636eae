"""What the enrol and update workflows share: their options, the outcome of one record, and the
report over a run of source records (one outcome per record, counted by kind).

:mod:`.enrol` and :mod:`.update` each extend the three (``labridge.EnrolOptions``,
``labridge.EnrolOutcome``, ``labridge.EnrolReport`` and the ``Update`` ones); their JSON shapes
are each workflow's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import date
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from ..errors import Problem

#: Progress pulls in flight by default (``labridge progress pull --concurrency``), beside the
#: enrol and update runs' default: here, not in :mod:`.pull`, so that ``--help`` shows it without
#: importing the workflow.
PULL_CONCURRENCY = 8


@dataclass(frozen=True)
class RunOptions:
    """How a run over source records goes."""

    #: Check everything and send nothing.
    dry_run: bool = False
    #: How many calls to LA may be in flight at once.
    concurrency: int = 4
    #: The day the date rules are checked against (default: today).
    today: date | None = None


@dataclass(frozen=True)
class Outcome:
    """One source record's outcome: the learner (their ``source_id``, the source's
    ``learner_id``), where the record came from, what became of it, and every problem found."""

    source_id: str
    #: Where the record is in the source ("learners.csv line 4").
    origin: str
    outcome: str
    _: KW_ONLY
    problems: tuple[Problem, ...] = ()
    #: The source row's number: the report lists records in source order, whatever order
    #: they finish in.
    row: int = 0


class _Outcome(Protocol):
    @property
    def outcome(self) -> str: ...

    def as_dict(self) -> dict[str, Any]: ...


OutcomeT = TypeVar("OutcomeT", bound=_Outcome)


@dataclass
class RecordsReport(Generic[OutcomeT]):
    """Every record's outcome, in source order. ``OUTCOMES`` lists the kinds, in the order
    the JSON counts them; invalid or refused records mean the run needs attention (exit 1)."""

    OUTCOMES: ClassVar[Sequence[str]] = ()

    dry_run: bool
    records: list[OutcomeT] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.records if r.outcome == outcome)

    def counts_line(self, empty: str = "no records") -> str:
        """ "42 enrolled, 1 skipped, 8 invalid": the outcomes that happened, in order; or
        ``empty``."""
        parts = [f"{n} {o.replace('_', ' ')}" for o in self.OUTCOMES if (n := self.count(o))]
        return ", ".join(parts) if parts else empty

    @property
    def failed(self) -> bool:
        """Some record needs fixing in the source (or in LA)."""
        return any(r.outcome in ("invalid", "refused") for r in self.records)

    def as_dict(self) -> dict[str, Any]:
        counts: dict[str, Any] = {o: self.count(o) for o in self.OUTCOMES}
        return {**counts, "records": [r.as_dict() for r in self.records]}
