"""Database URLs given by people: parsed once, psycopg 3 chosen for PostgreSQL, and passwords kept
out of every message (the store's URL and a MIS database's URL alike)."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from .errors import ConfigurationError


def parse_url(url: str, what: str, examples: str) -> URL:
    """``url`` as a SQLAlchemy URL; ``postgresql://`` means psycopg 3, which labridge ships.
    ``what`` names the URL in the error ("the store URL")."""
    try:
        sa_url = make_url(url)
    except (ArgumentError, ValueError):
        # The text is not echoed: it could not be parsed, so its password cannot be masked.
        raise ConfigurationError(
            f"{what} is not a database URL", hint=f"give a database URL such as {examples}"
        ) from None
    if sa_url.drivername in ("postgresql", "postgres"):
        sa_url = sa_url.set(drivername="postgresql+psycopg")
    return sa_url


def scrub(exc: BaseException, url: URL) -> str:
    """The first lines of a driver's message, one line, with the password masked if present."""
    original = getattr(exc, "orig", None) or exc
    text = " ".join(line.strip() for line in str(original).splitlines()[:3] if line.strip())
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate:
        # A server's error: its first line only (DETAIL lines quote rows: "Key (uln)=(...)"),
        # and a data exception (SQLSTATE class 22) without the value it quotes after the colon
        # ('invalid input syntax for type date: "..."'): the value may be a learner's.
        text = str(original).splitlines()[0].strip() if str(original) else sqlstate
        if sqlstate.startswith("22"):
            text = text.split(":", 1)[0]
        text = f"{text} (SQLSTATE {sqlstate})"
    password = url.password
    if password:
        for form in {str(password), quote(str(password), safe=""), quote_plus(str(password))}:
            text = text.replace(form, "***")
    return text
