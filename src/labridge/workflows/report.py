"""What a run over source records reports: one outcome per record, counted by kind."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar


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

    @property
    def failed(self) -> bool:
        """Some record needs fixing in the source (or in LA)."""
        return any(r.outcome in ("invalid", "refused") for r in self.records)

    def as_dict(self) -> dict[str, Any]:
        counts: dict[str, Any] = {o: self.count(o) for o in self.OUTCOMES}
        return {**counts, "records": [r.as_dict() for r in self.records]}
