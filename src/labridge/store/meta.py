"""The store's own key/value settings (the ``meta`` table), such as the erasure salt."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from . import tables


def get_meta(session: Session, key: str) -> str | None:
    return session.execute(select(tables.meta.c.value).where(tables.meta.c.key == key)).scalar()


def set_meta(session: Session, key: str, value: str) -> None:
    """Set a meta value; writes nothing when it already has that value."""
    current = get_meta(session, key)
    if current is None:
        session.execute(insert(tables.meta).values(key=key, value=value))
    elif current != value:
        session.execute(update(tables.meta).where(tables.meta.c.key == key).values(value=value))
