"""One error hierarchy, grouped by what the caller should do next (docs/architecture.md,
"Errors say what to do").

- :class:`TransportError`: LA could not be reached or the exchange broke; reads may be retried.
- :class:`AuthenticationError`: credentials refused or the session was lost; re-authenticate
  once, then stop.
- :class:`RefusedError`: LA understood the request and refused it; record the MessageList, go on.
- :class:`ConfigurationError`: labridge is set up wrongly; stop before any call.
- :class:`ProtocolError`: an answer that is not the SOAP we expect (or, on the sandbox side, a
  request that is not).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class LabridgeError(Exception):
    """Base of every error labridge raises on purpose. ``hint`` says what to do next."""

    hint: str = ""
    #: The report of the records finished before a run stopped on this error (a workflow sets
    #: it), so that ``--json`` still prints them; anything with ``as_dict()``.
    partial: Any = None

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} — {self.hint}" if self.hint else base


class ConfigurationError(LabridgeError):
    """The configuration is missing or wrong; nothing was sent to LA."""

    hint = "check labridge.toml, the LABRIDGE_* environment variables and the command's flags"


class StoreError(ConfigurationError):
    """The store cannot be used: locked by another program, not a database, unreadable, or gone
    while a command ran. Its message names the store, never a row's values or SQL parameters."""

    hint = "check the --db path or URL, and that no other program holds the store"


class TransportError(LabridgeError):
    """LA could not be reached, timed out or dropped the connection."""

    hint = "check the LA URL and the network, then run the command again"

    def __init__(self, message: str, *, hint: str = "", maybe_sent: bool = False) -> None:
        super().__init__(message, hint=hint)
        #: True when the request may have reached LA (timeout or drop after sending): a write
        #: must then be reconciled before it is sent again (docs/reliability.md, "The journal").
        self.maybe_sent = maybe_sent


class ProtocolError(LabridgeError):
    """A message that is not the SOAP we expect: malformed, hostile, oversized or misshapen."""

    hint = (
        "this is not a Learning Assistant SOAP message; check the URL points at LA's web services"
    )


class AnswerTooBig(ProtocolError):
    """An answer of LA's bigger than ``[la] max_answer_mib``: read no further."""


class SoapFault(LabridgeError):
    """A SOAP fault answered by the server (docs/contract.md §1: HTTP 500 with a Fault body)."""

    hint = "LA reported a fault; the fault string says why"

    def __init__(self, faultcode: str, faultstring: str, detail: str = "") -> None:
        super().__init__(f"{faultcode}: {faultstring}")
        self.faultcode = faultcode
        self.faultstring = faultstring
        self.detail = detail


class AuthenticationError(LabridgeError):
    """LA refused the credentials, or the session token was missing, unknown or expired."""

    hint = (
        "check LABRIDGE_USERNAME and LABRIDGE_PASSWORD (or [la] in labridge.toml) "
        "against the web-service user in Learning Assistant"
    )


class AuthenticationFault(SoapFault, AuthenticationError):
    """A fault saying ``Authentication failed:``, bare or wrapped by ColdFusion, in its string or
    its detail (docs/contract.md §2)."""

    hint = "the session expired or was refused; labridge re-authenticates once by itself"


class SessionExpired(AuthenticationError):
    """An answer to an authenticated call whose header says ``loggedin`` other than ``YES``: LA
    dropped the session and the answer is not data (docs/contract.md §2)."""

    hint = "the session expired; labridge re-authenticates once by itself"


@dataclass(frozen=True)
class Problem:
    """One problem with a record, from LA's MessageList or from labridge's own validation."""

    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


class RefusedError(LabridgeError):
    """LA understood the request and refused it; ``problems`` holds every MessageList entry."""

    hint = "fix the listed fields in the source data and run the command again"

    def __init__(self, message: str, problems: Sequence[Problem]) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


def internal_error_line(exc: BaseException) -> str:
    """The one line shown for an exception labridge did not expect: its type, never its message
    (an exception's text may quote a learner's data) nor its traceback's locals."""
    return (
        f"labridge: internal error ({type(exc).__name__}) — please report it; run the command "
        "again with -vv for the traceback (check it for personal data before sharing it)"
    )
