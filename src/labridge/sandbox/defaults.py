"""What a caller needs to start the sandbox, without importing it (``labridge --help`` shows
these): the web-service user a new sandbox is seeded with, and the dialects it speaks
(:mod:`.dialects` writes them)."""

from __future__ import annotations

import enum

#: The web-service user a new sandbox is seeded with (a public, well-known test credential).
SANDBOX_USERNAME = "sandbox"
SANDBOX_PASSWORD = "sandbox"  # noqa: S105


class Dialect(enum.StrEnum):
    """LA's published samples, or a real ColdFusion server (docs/contract.md §5)."""

    SAMPLES = "samples"
    COLDFUSION = "coldfusion"


def parse_dialect(value: Dialect | str) -> Dialect:
    """``value`` as a :class:`Dialect`, or a ValueError naming the choices."""
    try:
        return Dialect(value)
    except ValueError:
        choices = ", ".join(d.value for d in Dialect)
        raise ValueError(f"unknown sandbox dialect {value!r}: choose one of {choices}") from None
