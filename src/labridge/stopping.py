"""Graceful stop: SIGTERM (systemd, ``docker stop``) and SIGINT (Ctrl+C) end a run cleanly.

The CLI installs :func:`handling_signals` around a command. The first signal only sets a
process-wide flag: no new LA call starts (the workflows' bounded starter and the steps of
``labridge run`` check it), the calls in flight finish or reach their deadline, the journal is
written, and :class:`StopRequested` carries the run out to the CLI, which logs one line and exits
with 128 + the signal's number (143 for SIGTERM, 130 for SIGINT). A second signal stops at once
(KeyboardInterrupt), for whoever cannot wait for the calls in flight.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from .errors import LabridgeError

#: The signals that ask a run to stop.
SIGNALS = (signal.SIGTERM, signal.SIGINT)

_requested: int | None = None  # the number of the first signal received
_lock = threading.Lock()


class StopRequested(LabridgeError):
    """The run stopped early because a signal asked it to; the message says what was left."""

    hint = "run the same command again: it resumes where this one stopped"

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def request_stop(signum: int = signal.SIGTERM) -> None:
    """Ask the run to stop (what the signal handler does; callable from any thread)."""
    global _requested
    with _lock:
        if _requested is None:
            _requested = signum


def requested() -> int | None:
    """The signal that asked the run to stop, or None while it may go on."""
    return _requested


def reset() -> None:
    global _requested
    with _lock:
        _requested = None


def check(what_is_left: str) -> None:
    """Raise :class:`StopRequested` if a stop was asked for; ``what_is_left`` completes the
    message ("stopped by SIGTERM before <what_is_left>")."""
    signum = _requested
    if signum is not None:
        raise StopRequested(stopped_message(signum, what_is_left), signum)


def stopped_message(signum: int, what_is_left: str) -> str:
    return (
        f"stopped by {signal_name(signum)}: {what_is_left}; the calls in flight were finished "
        "and the next run resumes the rest"
    )


def _handler(signum: int, frame: FrameType | None) -> None:
    if _requested is not None:
        raise KeyboardInterrupt  # the second signal: stop now
    request_stop(signum)


@contextmanager
def handling_signals() -> Iterator[None]:
    """Install the graceful handlers for the duration of a command (main thread only; elsewhere,
    in a test runner's worker thread say, the process's own handlers stay)."""
    reset()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
        reset()
