"""Database URLs given by people: parsed once, psycopg 3 chosen for PostgreSQL, and passwords kept
out of every message (the store's URL and a MIS database's URL alike)."""

from __future__ import annotations

from pathlib import Path
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


def anchor_sqlite(url: str, base: Path) -> str:
    """``url`` with a relative SQLite file path made absolute against ``base``; a bare path
    (no ``://``) means a SQLite file. Any other URL (PostgreSQL, an in-memory or ``uri=true``
    SQLite database, one that does not parse) comes back as given: the store reports a bad one.

    ``base`` is the directory of labridge.toml for a path written there, the working directory
    for ``--db`` and LABRIDGE_DATABASE_URL, so that each is read where the person wrote it."""
    if "://" not in url:
        url = f"sqlite:///{url}"
    path = sqlite_file(url)
    if path is None or (path.is_absolute() and path == path.expanduser()):
        return url
    expanded = path.expanduser()  # SQLite itself would not expand a ~
    anchored = expanded if expanded.is_absolute() else base.absolute() / expanded
    return make_url(url).set(database=str(anchored)).render_as_string(hide_password=False)


def sqlite_file(url: str | URL) -> Path | None:
    """The file of a SQLite URL: ``None`` for another database, SQLite in memory, or a URI
    database (``uri=true``, ``file:...``), whose file SQLite itself reads from the URI.

    The one reading of a SQLite URL's file: the store (its mode, locks, backup, ``exists``), the
    anchoring of relative paths and the SQL source's check for a missing file all use it."""
    try:
        sa_url = url if isinstance(url, URL) else make_url(url)
    except (ArgumentError, ValueError):
        return None
    database = sa_url.database
    if sa_url.get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
        return None
    if sa_url.query.get("uri") or database.startswith("file:"):
        return None
    return Path(database)


def shown(url: str) -> str:
    """``url`` for a message or a log line, its password masked; of text that does not parse as
    a URL only the scheme is shown, since no password can be told apart in it."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return url.split("://", 1)[0] + "://..." if "://" in url else "(not a URL)"
