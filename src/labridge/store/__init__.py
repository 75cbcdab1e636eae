"""labridge's local store: the mirror of LA's reference data and candidates, the record of sync
runs, the enrolment journal, the progress history, and the erasure of learners' data.

Open it with :func:`open_store` (which migrates the schema), then read and write inside
``store.begin()`` (a transaction) or ``store.session()`` (reads) sessions. Each concern has its
module: :mod:`~labridge.store.reference_sets` (upserts and reads of the synced sets),
:mod:`~labridge.store.sync_runs`, :mod:`~labridge.store.meta`, :mod:`~labridge.store.overview`
(``labridge status``), :mod:`~labridge.store.journal` (exactly-once enrolment),
:mod:`~labridge.store.progress_history`, :mod:`~labridge.store.erase`,
:mod:`~labridge.store.backup` and :mod:`~labridge.store.locks`; the names below are the ones
most callers need.
"""

from __future__ import annotations

from .engine import Store, current_revision, migrate, open_store
from .meta import get_meta, set_meta
from .overview import status
from .reference_sets import (
    SETS,
    SetCounts,
    candidate_courses,
    list_set,
    present_count,
    record_rows,
    upsert_rows,
    upsert_set,
)
from .sync_runs import SyncRun, finish_sync_run, last_sync, start_sync_run

__all__ = [
    "SETS",
    "SetCounts",
    "Store",
    "SyncRun",
    "candidate_courses",
    "current_revision",
    "finish_sync_run",
    "get_meta",
    "last_sync",
    "list_set",
    "migrate",
    "open_store",
    "present_count",
    "record_rows",
    "set_meta",
    "start_sync_run",
    "status",
    "upsert_rows",
    "upsert_set",
]
