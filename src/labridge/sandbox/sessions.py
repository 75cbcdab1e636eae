"""Server-side session rules of the sandbox (docs/contract.md §2).

A token has two parts, ``id`` and ``uuid``, both drawn from :mod:`secrets`, and is bound to the
user who authenticated. It lives 30 minutes (or the sandbox's ``token_ttl``); every successful
call restarts that time (sliding expiry). A token is refused when it is missing, unknown,
expired, or "foreign" (its ``id`` exists but its ``uuid`` does not match). Time comes from an
injected clock so that the rules are tested without waiting.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..models import Token
from .clock import Clock, as_utc, utc_now

if TYPE_CHECKING:
    from .db import SandboxDB

#: How long a token lives without a call (docs/contract.md §2 [DOC]).
SESSION_LIFETIME = timedelta(minutes=30)

_ID_SPACE = 9 * 10**9  # ten-digit decimal ids, like the numeric ids of the samples
_ID_FLOOR = 10**9


@dataclass(frozen=True)
class Session:
    """A verified token and the user it is bound to."""

    token: Token
    username: str


class SessionRefused(Exception):
    """The call carries no usable token; ``reason`` says which rule refused it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _same_secret(a: str, b: str) -> bool:
    # compare_digest refuses non-ASCII str, and a hostile uuid may be anything: compare bytes.
    return secrets.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


class Sessions:
    """Opens, verifies and renews tokens, stored in the sandbox database."""

    def __init__(
        self, db: SandboxDB, clock: Clock = utc_now, *, lifetime: timedelta = SESSION_LIFETIME
    ) -> None:
        if lifetime <= timedelta(0):
            raise ValueError("a session lifetime must be positive")
        self._db = db
        self._clock = clock
        self.lifetime = lifetime

    def now(self) -> datetime:
        return as_utc(self._clock())

    def open(self, username: str) -> Token:
        """A new token for ``username``, valid for :attr:`lifetime`."""
        token_id = self._new_id()
        token_uuid = str(uuid.UUID(bytes=secrets.token_bytes(16), version=4)).upper()
        self._db.save_session(token_id, token_uuid, username, self.now() + self.lifetime)
        return Token(id=token_id, uuid=token_uuid)

    def _new_id(self) -> str:
        while True:
            token_id = str(_ID_FLOOR + secrets.randbelow(_ID_SPACE))
            if self._db.get_session(token_id) is None:
                return token_id

    def verify(self, token: Token | None) -> Session:
        """The session ``token`` opens, or :class:`SessionRefused` saying why not."""
        if token is None:
            raise SessionRefused("no session token: send the authToken header with id and uuid")
        stored = self._db.get_session(token.id)
        if stored is None:
            raise SessionRefused("unknown session token; call Authenticate for a new one")
        stored_uuid, username, expires_at = stored
        if not _same_secret(stored_uuid, token.uuid):
            raise SessionRefused("the token's uuid does not match its id; call Authenticate")
        if self.now() >= as_utc(expires_at):
            self._db.delete_session(token.id)
            raise SessionRefused(
                f"session expired after {_duration(self.lifetime)} without a call; call "
                "Authenticate again"
            )
        return Session(token, username)

    def renew(self, token: Token) -> None:
        """Restart the token's lifetime after a successful call (sliding expiry)."""
        self._db.touch_session(token.id, self.now() + self.lifetime)


def _duration(span: timedelta) -> str:
    seconds = span.total_seconds()
    if seconds % 60 == 0:
        return f"{seconds / 60:g} minutes"
    return f"{seconds:g} seconds"
