"""labridge's local store: reference data synced from LA and the record of sync runs.

Open it with :func:`open_store` (which migrates the schema), then read and write through the
functions below inside ``store.begin()`` sessions.
"""

from __future__ import annotations

from .engine import Store, current_revision, head_revision, migrate, open_store
from .reference import (
    SETS,
    SetCounts,
    SyncRun,
    candidates_by_source_id,
    finish_sync_run,
    get_meta,
    get_record,
    last_sync,
    list_set,
    set_meta,
    start_sync_run,
    status,
    upsert_frameworks,
    upsert_set,
)

__all__ = [
    "SETS",
    "SetCounts",
    "Store",
    "SyncRun",
    "candidates_by_source_id",
    "current_revision",
    "finish_sync_run",
    "get_meta",
    "get_record",
    "head_revision",
    "last_sync",
    "list_set",
    "migrate",
    "open_store",
    "set_meta",
    "start_sync_run",
    "status",
    "upsert_frameworks",
    "upsert_set",
]
