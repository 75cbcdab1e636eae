"""What one cycle of ``labridge run`` did: each step's outcome and the cycle's report, apart
from :mod:`.cycle` (which runs them) so that :mod:`.console` renders them without importing the
scheduler or the operations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Outcome:
    """What a step did, in one line; ``warning`` when some records need a person (the step
    itself ran to its end)."""

    summary: str
    warning: bool = False


#: A step: a name for the log, and a function that does the work and returns a one-line summary
#: (or an :class:`Outcome`, to flag records that need a person).
Step = tuple[str, Callable[[], str | Outcome]]
#: A step's status: ``ok``; ``warning`` (done, some records need fixing); ``failed``.
STATUSES = ("ok", "warning", "failed")
_SHOWN = {"ok": "ok", "warning": "with warnings", "failed": "failed"}


@dataclass(frozen=True)
class StepResult:
    name: str
    #: Only ``ok`` steps are ok: one with invalid or refused records is not.
    ok: bool
    summary: str
    seconds: float
    status: str = "ok"


@dataclass
class CycleReport:
    started_at: datetime
    finished_at: datetime | None = None
    steps: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)

    def summary(self) -> str:
        """ "6 steps: 4 ok, 1 with warnings, 1 failed": how the steps went."""
        counts = [(n, sum(s.status == n for s in self.steps)) for n in STATUSES]
        shown = ", ".join(f"{count} {_SHOWN[name]}" for name, count in counts if count)
        return f"{len(self.steps)} step{'' if len(self.steps) == 1 else 's'}: {shown or 'none'}"

    def as_dict(self) -> dict[str, object]:
        return {
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "ok": self.ok,
            "steps": [s.__dict__ for s in self.steps],
        }
