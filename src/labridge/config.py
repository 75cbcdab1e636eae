"""Settings: flags, then environment, then ``labridge.toml``, then defaults.

Only the CLI reads the process environment; it hands it to :func:`load_settings`, which is a pure
function of its inputs (so it is tested with plain values). The password is a ``SecretStr``: it
never shows in a repr, a log line or an error.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from .errors import ConfigurationError

CONFIG_FILE = "labridge.toml"
DEFAULT_DATABASE_URL = "sqlite:///labridge.db"

#: Environment variable → (section, key) in labridge.toml.
ENVIRONMENT = {
    "LABRIDGE_URL": ("la", "url"),
    "LABRIDGE_USERNAME": ("la", "username"),
    "LABRIDGE_PASSWORD": ("la", "password"),
    "LABRIDGE_DATABASE_URL": ("store", "database_url"),
}


class LASettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = ""
    username: str = ""
    password: SecretStr = SecretStr("")
    timeout: float = 30.0
    #: Seconds LA is given to finish an enrolment whose answer was lost before labridge looks
    #: for the learner in LA (and only then sends again): docs/reliability.md.
    settle_seconds: float = Field(default=600.0, ge=0)


class StoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    database_url: str = DEFAULT_DATABASE_URL


class SourceSettings(BaseModel):
    """One source of learners for ``labridge run``: a file, or a SQL query on the MIS."""

    model_config = ConfigDict(extra="forbid")

    path: Path | None = None
    sql: str | None = None
    source_db: str | None = None
    mapping: Path | None = None
    #: Enrol new learners from it, and push changes of enrolled ones.
    enrol: bool = True
    update: bool = True
    send_login_details: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> SourceSettings:
        if (self.path is None) == (self.sql is None):
            raise ValueError("a [[run.sources]] entry has either path or sql (with source_db)")
        if self.sql is not None and not self.source_db:
            raise ValueError("a [[run.sources]] entry with sql needs source_db")
        return self


class RunSettings(BaseModel):
    """The unattended cycle of ``labridge run``."""

    model_config = ConfigDict(extra="forbid")

    #: Minutes between the starts of two cycles (ignored when ``cron`` is set).
    every_minutes: float = Field(default=60.0, gt=0)
    #: A crontab line ("0 6 * * 1-5": 06:00 on weekdays), instead of ``every_minutes``.
    cron: str = ""
    #: Pull progress down to outcomes (GetProgressFull) rather than units.
    progress_full: bool = False
    progress_concurrency: int = Field(default=8, ge=1, le=64)
    sources: list[SourceSettings] = Field(default_factory=list)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    la: LASettings = LASettings()
    store: StoreSettings = StoreSettings()
    run: RunSettings = RunSettings()

    def require_la(self) -> LASettings:
        """The LA connection settings, or a :class:`ConfigurationError` naming what is missing."""
        missing = [k for k in ("url", "username") if not getattr(self.la, k)]
        if not self.la.password.get_secret_value():
            missing.append("password")
        if missing:
            envs = [e for e, (_, key) in ENVIRONMENT.items() if key in missing]
            raise ConfigurationError(
                f"the LA {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set",
                hint=f"set {', '.join(envs)}, or [la] in {CONFIG_FILE} (`labridge init` writes "
                "one), or try everything against the sandbox with `labridge demo`",
            )
        return self.la


def load_settings(
    flags: Mapping[str, Mapping[str, Any]] | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Merge the layers. ``flags`` is ``{"la": {"url": ...}, "store": {...}}`` with unset flags
    left out; ``config_file`` defaults to ``./labridge.toml`` when it exists."""
    merged: dict[str, dict[str, Any]] = {"la": {}, "store": {}}
    _layer(merged, _read_file(config_file))
    _layer(merged, _from_environ(environ or {}))
    _layer(merged, flags or {})
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        where = config_file or CONFIG_FILE
        raise ConfigurationError(
            f"invalid settings: {_describe(exc)}", hint=f"check {where}"
        ) from None


def _layer(into: dict[str, dict[str, Any]], layer: Mapping[str, Mapping[str, Any]]) -> None:
    for section, values in layer.items():
        into.setdefault(section, {}).update({k: v for k, v in values.items() if v is not None})


def _from_environ(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, (section, key) in ENVIRONMENT.items():
        if environ.get(name):
            out.setdefault(section, {})[key] = environ[name]
    return out


def _read_file(path: Path | None) -> dict[str, dict[str, Any]]:
    explicit = path is not None
    path = path or Path(CONFIG_FILE)
    if not path.exists():
        if explicit:
            raise ConfigurationError(f"configuration file {path} does not exist")
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}") from None
    unknown = set(data) - {"la", "store", "run"}
    if unknown:
        raise ConfigurationError(
            f"{path} has unknown section(s) {sorted(unknown)}",
            hint="the sections are [la], [store] and [run]",
        )
    _resolve_paths(data.get("run"), path.parent)
    return {k: v for k, v in data.items() if isinstance(v, dict)}


def _resolve_paths(run: Any, base: Path) -> None:
    """Source and mapping paths in the file are relative to the file, not to the current
    directory, so that a scheduled run started anywhere reads the same files."""
    if not isinstance(run, dict):
        return
    for source in run.get("sources", []):
        for key in ("path", "mapping"):
            if isinstance(source, dict) and isinstance(source.get(key), str):
                source[key] = str(base / source[key])


def _describe(exc: ValidationError) -> str:
    # Never echo input values: one of them may be the password.
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


CONFIG_TEMPLATE = """\
# labridge configuration.
# Precedence: command-line flags, then environment variables (LABRIDGE_*), then this file,
# then built-in defaults.

[la]
# The base address of your Learning Assistant site, without /webservices/... .
# Environment: LABRIDGE_URL
url = {url}
# The web-service user LA gave you. Environment: LABRIDGE_USERNAME
username = {username}
# Prefer the LABRIDGE_PASSWORD environment variable to writing the password here; if you do
# write it here, keep this file readable by you alone (labridge init creates it mode 600).
# password = ""
# Seconds to wait for LA before giving up on one call.
timeout = 30
# After an enrolment whose answer was lost (a timeout, say), seconds to give LA to finish it
# before labridge looks for the learner in LA; it never sends again before then.
settle_seconds = 600

[store]
# Where labridge keeps what it learned from LA: any SQLAlchemy URL.
# SQLite (default): "sqlite:///labridge.db"; PostgreSQL: "postgresql://user@host/dbname".
# Environment: LABRIDGE_DATABASE_URL
database_url = {database_url}

[run]
# `labridge run` repeats the whole cycle: sync, enrol and update from each source below, then
# pull progress. Minutes between cycles, or a crontab line instead (cron wins when set).
every_minutes = 60
# cron = "0 6 * * 1-5"
# Pull progress down to outcomes (slower), and how many learners at once.
progress_full = false
progress_concurrency = 8

# One block per source of learners. Paths are relative to this file.
# [[run.sources]]
# path = "exports/learners.csv"        # a CSV export or an ILR XML file
# mapping = "mapping.toml"             # optional: renames, value maps, defaults
# enrol = true                         # enrol new learners
# update = true                        # push changes of enrolled learners
# send_login_details = false           # LA e-mails each new learner their login
#
# [[run.sources]]
# sql = "SELECT * FROM labridge_learners"
# source_db = "postgresql://mis_reader@mis-host/mis"
"""


def render_config(url: str = "", username: str = "", database_url: str | None = None) -> str:
    """The commented ``labridge.toml`` that ``labridge init`` writes."""
    # JSON string syntax is valid TOML basic-string syntax, escapes included.
    return CONFIG_TEMPLATE.format(
        url=json.dumps(url),
        username=json.dumps(username),
        database_url=json.dumps(database_url or DEFAULT_DATABASE_URL),
    )
