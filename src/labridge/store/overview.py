"""The store at a glance, for ``labridge status``: the rows of each reference set, the last
sync run and the schema revision."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from .engine import current_revision
from .reference_sets import SETS, set_table
from .sync_runs import last_sync


def status(session: Session) -> dict[str, Any]:
    """JSON-ready state of the store: rows present and removed per set, the last sync run and
    the schema revision (for ``labridge status --json``)."""
    sets = {name: _set_status(session, set_table(name)) for name in SETS}
    run = last_sync(session)
    return {
        "schema_revision": current_revision(session.connection()),
        "sets": sets,
        "last_sync": run.as_dict() if run else None,
    }


def _set_status(session: Session, table: Table) -> dict[str, int]:
    # count(removed_at) counts only the non-NULL ones, i.e. the removed rows.
    stmt = select(func.count(), func.count(table.c.removed_at))
    total, removed = session.execute(stmt).one()
    return {"present": int(total) - int(removed), "removed": int(removed)}
