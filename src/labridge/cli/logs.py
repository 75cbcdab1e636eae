"""Logging set up for the person reading it, or for a log shipper.

At the default level a command logs warnings only, except ``labridge run``, whose log is its
output: one line per step of a cycle with its counts, one summary line per cycle
(:mod:`labridge.cli.cycle`), and the settings file and store it uses first. The libraries under
labridge (httpx's request lines, Alembic's migrations, APScheduler's job lines, SQLAlchemy) stay
at WARNING unless ``-vv``, whatever labridge's own level. ``--log-format json`` writes one JSON
object per line (time, level, logger, message) for journald, Docker or a log shipper. Every
handler carries the credential mask (:mod:`labridge.logmask`), so neither format shows a
password.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from .. import logmask

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Libraries whose INFO lines are noise to a person: shown only with -vv.
LIBRARIES = ("httpx", "httpcore", "alembic", "apscheduler", "sqlalchemy", "uvicorn")
#: labridge's loggers whose INFO lines are ``labridge run``'s output at the default level.
RUN_LOGGERS = ("labridge.run", "labridge.config", "labridge.fleet")


class LogFormat(StrEnum):
    text = "text"
    json = "json"


class JsonLines(JsonFormatter):
    """One JSON object per record: ``time`` (ISO 8601, UTC), ``level``, ``logger``,
    ``message``, and ``exc_info`` when there is one, masked like the message."""

    def __init__(self) -> None:
        super().__init__(
            ["levelname", "name", "message"],
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
        )

    def formatException(self, ei: Any) -> str:
        text = super().formatException(ei)  # a list of lines only with exc_info_as_array
        return logmask.mask(text if isinstance(text, str) else "\n".join(text))


def configure(verbose: int, fmt: LogFormat = LogFormat.text, *, run: bool = False) -> None:
    """Log to stderr: WARNING (``run``: its step lines too), INFO with ``-v``, DEBUG with
    ``-vv``; the libraries at WARNING below ``-vv``."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler()  # stderr as it is now (each CliRunner call has its own)
    formatter = JsonLines() if fmt is LogFormat.json else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    # force: each command (and each CliRunner call in one process) gets a handler on its own
    # stderr rather than one bound to a stream an earlier call closed.
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logmask.install()  # a password inside any URL never reaches a log line, httpx's included
    libraries = logging.NOTSET if verbose >= 2 else logging.WARNING
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(libraries)
    # SQLAlchemy's DEBUG lines are the rows it reads: learners' personal data. Its INFO lines
    # (the statements, their parameters hidden by the engines' hide_parameters) are the most
    # -vv shows.
    logging.getLogger("sqlalchemy").setLevel(logging.INFO if verbose >= 2 else logging.WARNING)
    steps = logging.INFO if run and verbose == 0 else logging.NOTSET
    for name in RUN_LOGGERS:
        logging.getLogger(name).setLevel(steps)
    # The retry library logs each scheduled retry as a bare warning; labridge's own messages say
    # what failed and what to do, so those only show with -v.
    logging.getLogger("stamina").setLevel(logging.WARNING if verbose else logging.ERROR)
