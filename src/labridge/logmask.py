"""Credentials out of every log line.

A URL may carry a user and password (``https://user:secret@la.example`` pasted as the LA URL,
``postgresql://mis:secret@db/mis`` as a source), and httpx, uvicorn and labridge itself log the
URLs they use. :class:`MaskCredentials` sits on the log *handlers* (a filter on a handler sees the
records of every logger, labridge's and the libraries' alike) and rewrites each record's message
with the password of any ``scheme://user:password@`` replaced by ``***`` before it is formatted.
"""

from __future__ import annotations

import logging
import re

#: ``scheme://user:password@``: the password is everything up to the last ``@`` of the
#: authority (a password may itself hold ``@`` when not percent-encoded).
_USERINFO = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@]*:)[^/\s]*(?=@[^/\s@]*)")

MASK = "***"


def mask(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    return _USERINFO.sub(lambda m: m.group("head") + MASK, text)


class MaskCredentials(logging.Filter):
    """A handler filter: formats the record's message once, masked, and lets it through."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            # The formatter prints str(exception): mask its text too, keeping its type.
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        return True


def install(root: logging.Logger | None = None) -> None:
    """Put the filter on every handler of ``root`` (default: the root logger), once."""
    for handler in (root or logging.getLogger()).handlers:
        if not any(isinstance(f, MaskCredentials) for f in handler.filters):
            handler.addFilter(MaskCredentials())
