"""The client's session: a token state machine with an injected clock, and no I/O (docs/contract.md
§2).

LA's token lives 30 minutes and every successful call restarts the 30 minutes. The client keeps
the time of its last success and logs in again *before* the idle expiry (a margin early), so a
call is not spent just to learn that the token has lapsed. A generation counter lets concurrent
callers that all saw an authentication fault agree on one fresh login (single flight).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .models import Token

SESSION_LIFETIME = 30 * 60.0
RENEW_MARGIN = 60.0


@dataclass
class Session:
    clock: Callable[[], float] = time.monotonic
    lifetime: float = SESSION_LIFETIME
    margin: float = RENEW_MARGIN
    token: Token | None = field(default=None, repr=False)
    last_success: float = 0.0
    #: Bumped on every login; lets a waiter see that someone else already logged in.
    generation: int = 0

    def usable(self) -> Token | None:
        """The token if it will still be alive for the next call, else ``None``."""
        if self.token is None:
            return None
        if self.clock() - self.last_success >= self.lifetime - self.margin:
            self.token = None
        return self.token

    def logged_in(self, token: Token) -> None:
        self.token = token
        self.last_success = self.clock()
        self.generation += 1

    def succeeded(self, token: Token | None = None) -> None:
        """A call succeeded: the expiry slides. LA may repeat (or renew) the token in the header."""
        if token is not None and self.token is not None and token != self.token:
            self.token = token
        self.last_success = self.clock()

    def rejected(self, token: Token) -> None:
        """LA refused ``token``; forget it unless a newer login already replaced it."""
        if self.token == token:
            self.token = None
