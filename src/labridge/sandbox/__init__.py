"""The offline sandbox of LA's SOAP services: its own database, seed data and server-side rules.

:func:`create_app` builds the ASGI app (``labridge sandbox serve`` runs it over HTTP; from Python,
``httpx.ASGITransport(app=labridge.sandbox.create_app())`` talks to it in-process). It knows one
web-service user, :data:`SANDBOX_USERNAME` / :data:`SANDBOX_PASSWORD`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attributes

if TYPE_CHECKING:
    from .app import create_app
    from .defaults import SANDBOX_PASSWORD, SANDBOX_USERNAME

__getattr__, __dir__ = attributes(
    __name__,
    {
        "create_app": (".app", "create_app"),
        "SANDBOX_USERNAME": (".defaults", "SANDBOX_USERNAME"),
        "SANDBOX_PASSWORD": (".defaults", "SANDBOX_PASSWORD"),
    },
    ("app", "server", "faults", "seed", "db", "dialects", "clock"),
)

__all__ = ["SANDBOX_PASSWORD", "SANDBOX_USERNAME", "create_app"]
