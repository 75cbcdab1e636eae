"""The digests of the answers the last sync stored, so that an unchanged answer is not read again.

A sync lists the candidates course by course (:mod:`labridge.workflows.sync`). Each call's answer
Body has a digest (:func:`labridge.soap.unchanged.body_digest`); kept here, in the ``meta`` table
under ``answer:<call>``, in the transaction that stores what the answer held. The next sync sends
the digest with the call: when LA answers the same Body, the store already holds exactly what it
says, and nothing is decoded or compared.

Each digest is kept with a *basis*: a digest of what turned the answer into rows (labridge's
version, the contract of the call and its records after any overrides, the learners this store has
forgotten). A digest whose basis differs from the current one is never used.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from . import tables
from .meta import set_meta

_PREFIX = "answer:"


def load(session: Session, basis: str) -> dict[str, str]:
    """The digest of each call's last stored answer (call key → digest), those of ``basis``."""
    t = tables.meta
    rows = session.execute(select(t.c.key, t.c.value).where(t.c.key.startswith(_PREFIX)))
    found: dict[str, str] = {}
    for key, value in rows:
        kept_basis, _, digest = value.partition(" ")
        if kept_basis == basis and digest:
            found[key.removeprefix(_PREFIX)] = digest
    return found


def save(
    session: Session, basis: str, digests: Mapping[str, str], *, complete: bool = True
) -> None:
    """Keep ``digests`` (call key → digest) as the answers now stored and, when they are the
    ``complete`` set of calls a sync makes, drop the others (calls no longer made). Writes
    nothing for a digest already kept."""
    t = tables.meta
    for call, digest in digests.items():
        set_meta(session, _PREFIX + call, f"{basis} {digest}")
    if not complete:
        return
    gone = [k for k in session.scalars(select(t.c.key).where(t.c.key.startswith(_PREFIX)))
            if k.removeprefix(_PREFIX) not in digests]  # fmt: skip
    if gone:
        session.execute(delete(t).where(t.c.key.in_(gone)))
