"""The offline sandbox of LA's SOAP services: its own database, seed data and server-side rules.

:func:`create_app` builds the ASGI app (``labridge sandbox serve`` runs it over HTTP; from Python,
``httpx.ASGITransport(app=labridge.sandbox.create_app())`` talks to it in-process). It knows one
web-service user, :data:`SANDBOX_USERNAME` / :data:`SANDBOX_PASSWORD`. :func:`create_centres_app`
puts many such centres on one host, at ``/centre-01`` ... (``sandbox serve --centres N``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attributes

if TYPE_CHECKING:
    from .app import create_app
    from .centres import create_centres_app
    from .defaults import SANDBOX_PASSWORD, SANDBOX_USERNAME

__getattr__, __dir__ = attributes(
    __name__,
    {
        "create_app": (".app", "create_app"),
        "create_centres_app": (".centres", "create_centres_app"),
        "SANDBOX_USERNAME": (".defaults", "SANDBOX_USERNAME"),
        "SANDBOX_PASSWORD": (".defaults", "SANDBOX_PASSWORD"),
    },
    ("app", "centres", "server", "faults", "seed", "db", "dialects", "clock"),
)

__all__ = ["SANDBOX_PASSWORD", "SANDBOX_USERNAME", "create_app", "create_centres_app"]
