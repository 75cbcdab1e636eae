"""The record of sync runs: when each started and finished, how it ended and what it changed.

A run is recorded as "running" when it starts (committed on its own, so that it survives a
failure) and as "ok" or "failed" when it ends, with a JSON summary of the counts per set.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, insert, select, update
from sqlalchemy.orm import Session

from . import tables
from .reference_sets import SetCounts

SYNC_STATUSES = ("ok", "failed")


@dataclass(frozen=True)
class SyncRun:
    """One sync run as recorded."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    #: "running" until finished, then "ok" or "failed".
    status: str
    summary: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: datetimes as ISO 8601 strings."""
        return {
            "id": self.id,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "status": self.status,
            "summary": self.summary,
        }


def start_sync_run(session: Session, now: datetime) -> int:
    """Record the start of a sync; returns its id. Commit it on its own so it survives a failure."""
    stmt = insert(tables.sync_runs).values(started_at=tables.aware(now), status="running")
    result = cast(CursorResult[Any], session.execute(stmt))
    key = result.inserted_primary_key
    assert key is not None  # an INSERT always has one
    return int(key[0])


def finish_sync_run(
    session: Session, run_id: int, now: datetime, status: str, summary: Mapping[str, Any]
) -> None:
    """Record how sync ``run_id`` ended: ``status`` "ok" or "failed", ``summary`` JSON-able
    (:class:`SetCounts` values are written as their :meth:`SetCounts.as_dict`)."""
    if status not in SYNC_STATUSES:
        raise ValueError(f"a sync run ends 'ok' or 'failed', not {status!r}")
    table = tables.sync_runs
    stmt = (
        update(table)
        .where(table.c.id == run_id)
        .values(
            finished_at=tables.aware(now),
            status=status,
            summary=json.dumps(summary, default=_summary_value),
        )
    )
    if cast(CursorResult[Any], session.execute(stmt)).rowcount != 1:
        raise ValueError(f"there is no sync run {run_id}")


def _summary_value(value: Any) -> Any:
    if isinstance(value, SetCounts):
        return value.as_dict()
    raise TypeError(f"{type(value).__name__} cannot go in a sync summary")


def last_sync(session: Session) -> SyncRun | None:
    """The most recently started sync run, finished or not."""
    table = tables.sync_runs
    row = session.execute(select(table).order_by(table.c.id.desc()).limit(1)).mappings().first()
    if row is None:
        return None
    summary = json.loads(row["summary"]) if row["summary"] else {}
    return SyncRun(row["id"], row["started_at"], row["finished_at"], row["status"], summary)
