"""The sandbox's time: its clock, the test hook that moves it, and its one date parser.

Everything time-based in the sandbox reads one :class:`SandboxClock`: session expiry
(docs/contract.md §2), welcome e-mail times and ``created_at`` of enrolled learners (§3.5), and the
simulated progress of GetProgress (§3.3, :mod:`.simulate`). It is a base clock (UTC now, or the
clock a test injects with ``create_app(clock=...)``) plus an offset that only grows::

    POST /_sandbox/clock  {"advance_days": n}   move "now" n days on (n >= 0, may be fractional)
    GET  /_sandbox/clock                        {"now": "<ISO 8601>", "offset_days": n}

Moving the clock past 30 minutes expires every open session, as the same wait would on LA; a
client re-authenticates (labridge's does so once by itself). The offset lives in the app, not the
database: a restarted sandbox starts again at the base clock.

Every "now" of the sandbox is a :data:`Clock` (a callable giving a datetime); :func:`utc_now` is
the real one, :func:`as_utc` reads any (naive means UTC), :func:`parse_date` reads LA's dates.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CLOCK_PATH = "/_sandbox/clock"
#: How far the clock may be moved in all: far enough for any course, short of datetime's limits.
MAX_OFFSET = timedelta(days=100 * 366)

_ONE_DAY = timedelta(days=1)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

#: A source of "now": the sandbox's one clock type (a :class:`SandboxClock` is one).
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real time, in UTC: the base of a :class:`SandboxClock` no test has replaced."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive one (an injected clock's, or one SQLite gave back: every moment
    the sandbox stores is UTC) is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_date(text: str) -> date | None:
    """A real ``YYYY-MM-DD`` date (docs/contract.md §1), or None."""
    if not _DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


class BadAdvance(ValueError):
    """A clock request the sandbox refuses; the message says why."""


class SandboxClock:
    """``base()`` moved forward by an offset; calling it gives the sandbox's "now" (UTC), so it is
    a :data:`Clock` itself. Safe to use from uvicorn's threads."""

    def __init__(self, base: Clock = utc_now) -> None:
        self._base = base
        self._offset = timedelta()
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            offset = self._offset
        return as_utc(self._base()) + offset

    @property
    def offset(self) -> timedelta:
        with self._lock:
            return self._offset

    def advance(self, delta: timedelta) -> None:
        """Move "now" ``delta`` on. The clock never goes back: that would un-expire sessions and
        un-complete progress, which LA's clock never does."""
        if delta < timedelta():
            raise BadAdvance("the sandbox clock only moves forward")
        with self._lock:
            if self._offset + delta > MAX_OFFSET:
                raise BadAdvance(f"the clock may be moved {MAX_OFFSET.days} days in all, no more")
            self._offset += delta

    def describe(self) -> dict[str, Any]:
        """The answer of ``GET /_sandbox/clock``."""
        with self._lock:
            offset = self._offset
        days = offset / _ONE_DAY
        return {
            "now": (as_utc(self._base()) + offset).isoformat(),
            "offset_days": int(days) if days.is_integer() else days,
        }


def parse_advance(payload: Any) -> timedelta:
    """How far a ``POST /_sandbox/clock`` body asks to move, or :class:`BadAdvance`."""
    if not isinstance(payload, dict) or set(payload) != {"advance_days"}:
        raise BadAdvance('send a JSON object with one member: {"advance_days": n}')
    days = payload["advance_days"]
    if not isinstance(days, int | float) or isinstance(days, bool) or not math.isfinite(days):
        raise BadAdvance(f"advance_days must be a number of days, not {days!r}")
    if days < 0:
        raise BadAdvance(f"advance_days must be 0 or more (the clock never goes back), not {days}")
    if days > MAX_OFFSET.days:
        raise BadAdvance(f"advance_days may be at most {MAX_OFFSET.days}, not {days}")
    return timedelta(days=days)


def routes(clock: SandboxClock) -> list[Route]:
    async def clock_endpoint(request: Request) -> Response:
        if request.method == "POST":
            try:
                clock.advance(parse_advance(await request.json()))
            except ValueError as exc:  # BadAdvance, or a body that is not JSON
                return JSONResponse({"error": f"cannot move the clock: {exc}"}, status_code=400)
        return JSONResponse(clock.describe())

    return [Route(CLOCK_PATH, clock_endpoint, methods=["GET", "POST"])]
