"""Settings: flags, then environment, then ``labridge.toml``, then defaults.

Only the CLI reads the process environment; it hands it to :func:`load_settings`, which is a pure
function of its inputs (so it is tested with plain values). The password is a ``SecretStr``: it
never shows in a repr, a log line or an error.
"""

from __future__ import annotations

import json
import logging
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from . import overrides
from .contract import SOAP_PATH_PREFIX, Catalogue
from .dburl import anchor_sqlite
from .errors import ConfigurationError
from .filemodes import warn_if_shared
from .soap.xml import DEFAULT_MAX_ELEMENTS

log = logging.getLogger("labridge.config")

CONFIG_FILE = "labridge.toml"
#: The store's file when no setting names one: beside labridge.toml when one is used, else in the
#: working directory (:func:`load_settings` makes it absolute).
DEFAULT_STORE_FILE = "labridge.db"
DEFAULT_DATABASE_URL = f"sqlite:///{DEFAULT_STORE_FILE}"
#: Every Service URL in LA's method pages is on this host (docs/contract.md §1 "Host" [DOC]); the
#: web-service user's credentials select the centre.
DEFAULT_LA_URL = "https://api.learningassistant.com"
DEFAULT_MAX_ANSWER_MIB = 16.0
#: The zone of ``[run] cron``: UK training providers keep UK office hours.
DEFAULT_TIMEZONE = "Europe/London"
SECTIONS = ("la", "store", "sync", "source", "run", "contract")

#: Environment variable → (section, key) in labridge.toml.
ENVIRONMENT = {
    "LABRIDGE_URL": ("la", "url"),
    "LABRIDGE_USERNAME": ("la", "username"),
    "LABRIDGE_PASSWORD": ("la", "password"),
    "LABRIDGE_DATABASE_URL": ("store", "database_url"),
}


class LASettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = DEFAULT_LA_URL
    username: str = ""
    password: SecretStr = SecretStr("")
    #: Seconds of silence before one call gives up (connect, or between two bytes of an answer).
    timeout: float = Field(default=30.0, gt=0)
    #: Seconds one call may take in all, however its answer trickles in.
    deadline: float = Field(default=60.0, gt=0)
    #: The largest answer labridge reads from LA, in MiB (a bigger one is refused, not held).
    max_answer_mib: float = Field(default=DEFAULT_MAX_ANSWER_MIB, gt=0, le=1024)
    #: The most XML elements one answer may hold, counted while parsing (memory: a tree costs
    #: far more than its bytes); the default takes a GetCandidates of ~16,000 learners.
    max_answer_elements: int = Field(default=DEFAULT_MAX_ELEMENTS, ge=1000)
    #: Seconds LA is given to finish an enrolment whose answer was lost before labridge looks
    #: for the learner in LA (and only then sends again): docs/reliability.md.
    settle_seconds: float = Field(default=600.0, ge=0)
    #: What the URL clean-up changed, to tell the user (not a setting).
    _notes: list[str] = PrivateAttr(default_factory=list)

    @field_validator("url")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @model_validator(mode="after")
    def _clean_url(self) -> LASettings:
        cleaned = clean_url(self.url)
        if cleaned != self.url:
            self._notes.append(f"using the LA base URL {cleaned} (from {self.url!r})")
            self.url = cleaned
        return self

    @property
    def max_answer_bytes(self) -> int:
        return int(self.max_answer_mib * 1024 * 1024)

    @property
    def notes(self) -> list[str]:
        return list(self._notes)


class SyncSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Also list LA's test learners (GetCandidates ``blnTest``), so that they are never enrolled
    #: again either.
    include_test: bool = False
    #: GetCandidates calls in flight while the candidates are listed course by course.
    concurrency: int = Field(default=16, ge=1, le=64)
    #: Commands other than ``sync`` (enrol, update, progress pull) sync first only when the last
    #: sync is older than this; 0 syncs every time.
    max_age_minutes: float = Field(default=60, ge=0)


def clean_url(url: str) -> str:
    """The base URL of an LA site from what a user may paste: a service's address
    (``.../webservices/soap/user.cfc``), a ``?wsdl`` query, a trailing slash."""
    url = url.strip()
    if not url:
        return url
    parts = urlsplit(url)
    path = parts.path
    marker = path.lower().find(SOAP_PATH_PREFIX.rstrip("/"))
    if marker >= 0:
        path = path[:marker]
    elif path.lower().endswith(".cfc"):
        path = path.rsplit("/", 1)[0]
    return urlunsplit((parts.scheme, parts.netloc, path.rstrip("/"), "", ""))


class StoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    database_url: str = DEFAULT_DATABASE_URL
    #: Erase learners gone from LA this many days in `labridge run` (off when unset).
    retention_days: int | None = Field(default=None, ge=1)


class SourceDefaults(BaseModel):
    """``[source]``: how every source is read unless a command or a ``[[run.sources]]`` entry
    says otherwise."""

    model_config = ConfigDict(extra="forbid")

    #: The text encoding of CSV files: utf-8 (with or without BOM), or e.g. cp1252 for the
    #: Windows exports many UK MIS write.
    encoding: str = "utf-8"
    #: Seconds a SQL source's statement may run before it is cancelled.
    statement_timeout: float = Field(default=60.0, gt=0)


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
    #: This file's encoding, when not ``[source] encoding``.
    encoding: str | None = None

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
    #: The IANA time zone ``cron`` is read in: 06:00 means 06:00 on the office clock, GMT in
    #: winter and BST in summer (validated by labridge.cli.cycle.zone).
    timezone: str = DEFAULT_TIMEZONE
    #: Pull progress down to outcomes (GetProgressFull) rather than units.
    progress_full: bool = False
    progress_concurrency: int = Field(default=8, ge=1, le=64)
    sources: list[SourceSettings] = Field(default_factory=list)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    la: LASettings = LASettings()
    store: StoreSettings = StoreSettings()
    sync: SyncSettings = SyncSettings()
    source: SourceDefaults = SourceDefaults()
    run: RunSettings = RunSettings()
    #: Overrides of the contract's names (labridge.overrides), validated when loaded.
    contract: dict[str, Any] = Field(default_factory=dict)
    #: The labridge.toml these settings were read from (not a setting).
    _config_file: Path | None = PrivateAttr(default=None)

    @property
    def config_file(self) -> Path | None:
        """The labridge.toml read (absolute), or ``None`` when none was."""
        return self._config_file

    def catalogue(self) -> Catalogue:
        """The effective contract: the catalogue with the ``[contract]`` overrides applied."""
        return overrides.effective(self.contract)

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
    contract_file: Path | None = None,
    *,
    read_default: bool = True,
) -> Settings:
    """Merge the layers. ``flags`` is ``{"la": {"url": ...}, "store": {...}}`` with unset flags
    left out; ``config_file`` defaults to ``./labridge.toml`` when it exists; the
    ``[contract...]`` tables of ``contract_file`` go over the ``[contract]`` of the file.

    Relative paths in the file are relative to the file; a relative SQLite store in the
    environment or the flags is relative to the working directory. With no store named anywhere
    the store is ``labridge.db`` beside the file used, else in the working directory: a run from
    cron in ``/`` uses the same store as one started beside its labridge.toml.

    ``read_default=False`` reads no ``./labridge.toml`` when no file is given (a fleet's tenant
    is configured by the tenants file, whatever directory the worker starts in)."""
    used = _config_used(config_file) if read_default or config_file else None
    merged: dict[str, dict[str, Any]] = {"la": {}, "store": {}}
    _layer(merged, _read_file(used, explicit=config_file is not None))
    _layer(merged, _anchored(_from_environ(environ or {}), Path.cwd()))
    _layer(merged, _anchored(flags or {}, Path.cwd()))
    base = used.parent if used is not None else Path.cwd()
    merged["store"].setdefault("database_url", anchor_sqlite(DEFAULT_DATABASE_URL, base))
    if contract_file is not None:
        merged["contract"] = overrides.merge(
            merged.get("contract", {}), overrides.load_file(contract_file)
        )
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        where = config_file or CONFIG_FILE
        raise ConfigurationError(
            f"invalid settings: {_describe(exc)}", hint=f"check {where}"
        ) from None
    where = f"[contract] ({contract_file or config_file or CONFIG_FILE})"
    overrides.build(settings.contract, where=where)  # refuse a bad override before any call
    settings._config_file = used
    return settings


def _config_used(config_file: Path | None) -> Path | None:
    """The file to read, absolute: the one given, else ``./labridge.toml`` when it exists."""
    if config_file is None and Path(CONFIG_FILE).is_file():
        config_file = Path(CONFIG_FILE)
    return config_file.expanduser().resolve() if config_file is not None else None


def _anchored(
    layer: Mapping[str, Mapping[str, Any]], base: Path
) -> Mapping[str, Mapping[str, Any]]:
    """``layer`` with its store URL, if a relative SQLite path, made absolute against ``base``."""
    url = layer.get("store", {}).get("database_url")
    if not isinstance(url, str):
        return layer
    return {**layer, "store": {**layer["store"], "database_url": anchor_sqlite(url, base)}}


def _layer(into: dict[str, dict[str, Any]], layer: Mapping[str, Mapping[str, Any]]) -> None:
    for section, values in layer.items():
        into.setdefault(section, {}).update({k: v for k, v in values.items() if v is not None})


def _from_environ(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, (section, key) in ENVIRONMENT.items():
        if environ.get(name):
            out.setdefault(section, {})[key] = environ[name]
    return out


def _read_file(path: Path | None, *, explicit: bool) -> dict[str, dict[str, Any]]:
    if path is None:
        return {}
    if not path.exists():
        if explicit:
            raise ConfigurationError(f"configuration file {path} does not exist")
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses into nested arrays and inline tables
        raise ConfigurationError(f"{path} is nested too deeply to be labridge's settings") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror or exc}") from None
    unknown = set(data) - set(SECTIONS)
    if unknown:
        raise ConfigurationError(
            f"{path} has unknown section(s) {sorted(unknown)}",
            hint="the sections are [la], [store], [sync], [source], [run] and [contract]",
        )
    resolve_paths(data, path.parent)
    la = data.get("la")
    if isinstance(la, dict) and la.get("password"):
        warn_if_shared(path, "the settings file, which holds the LA password,")
    return {k: v for k, v in data.items() if isinstance(v, dict)}


def resolve_paths(data: dict[str, Any], base: Path) -> None:
    """Every path in the file is relative to the file, not to the current directory, so that a
    scheduled run started anywhere reads the same files and the same store: the store (a SQLite
    path or URL), and each source's file, mapping and SQLite ``source_db``."""
    store = data.get("store")
    if isinstance(store, dict) and isinstance(store.get("database_url"), str):
        store["database_url"] = anchor_sqlite(store["database_url"], base)
    run = data.get("run")
    sources = run.get("sources", []) if isinstance(run, dict) else []
    for source in sources if isinstance(sources, list) else []:
        if not isinstance(source, dict):
            continue
        for key in ("path", "mapping"):
            if isinstance(source.get(key), str):
                source[key] = str(base / Path(source[key]).expanduser())
        if isinstance(source.get("source_db"), str) and "://" in source["source_db"]:
            source["source_db"] = anchor_sqlite(source["source_db"], base)


def _describe(exc: ValidationError) -> str:
    # Never echo input values: one of them may be the password.
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


CONFIG_TEMPLATE = """\
# labridge configuration.
# Precedence: command-line flags, then environment variables (LABRIDGE_*), then this file,
# then built-in defaults.

[la]
# The base address of Learning Assistant's web services, without /webservices/... (a pasted
# service address or ?wsdl is trimmed). Environment: LABRIDGE_URL
url = {url}
# The web-service user LA gave you. Environment: LABRIDGE_USERNAME
username = {username}
# Prefer the LABRIDGE_PASSWORD environment variable to writing the password here; if you do
# write it here, keep this file readable by you alone (labridge init creates it mode 600).
# password = ""
# Seconds to wait for LA before giving up on one call (connecting, or between two bytes).
timeout = 30
# Seconds one call may take in all, however slowly its answer trickles in.
deadline = 60
# The largest answer labridge reads from LA, in MiB.
max_answer_mib = 16
# The most XML elements one answer may hold (a GetCandidates of 16,000 learners has ~208,000).
max_answer_elements = 300000
# After an enrolment whose answer was lost (a timeout, say), seconds to give LA to finish it
# before labridge looks for the learner in LA; it never sends again before then.
settle_seconds = 600

[store]
# Where labridge keeps what it learned from LA: any SQLAlchemy URL, or a SQLite file's path.
# SQLite (default): "sqlite:///labridge.db", beside this file (a relative path is relative to
# this file); PostgreSQL: "postgresql://user@host/dbname". Environment: LABRIDGE_DATABASE_URL
# (a relative path there, as in --db, is relative to the working directory).
database_url = {database_url}
# Erase the personal data of learners gone from LA (no longer listed by GetCandidates) for this
# many days, as a step of `labridge run` (docs/data-protection.md). Off unless set.
# retention_days = 365

[sync]
# Also list LA's test learners, so that they are never enrolled again either.
include_test = false
# Candidates are listed course by course; how many of those calls may be in flight at once.
concurrency = 16
# enrol, update and progress pull sync first only when the last sync is older than this many
# minutes (else enrol and update list again only the candidates of the courses they touch);
# 0 syncs every time. `labridge sync` always syncs.
max_age_minutes = 60

[source]
# The text encoding of CSV exports: "utf-8" (with or without BOM) or, for Windows exports from
# many UK MIS, "cp1252". A command's --encoding wins.
encoding = "utf-8"
# Seconds a SQL source's query may run before it is cancelled.
statement_timeout = 60

[run]
# `labridge run` repeats the whole cycle: sync, enrol and update from each source below, then
# pull progress. Minutes between cycles, or a crontab line instead (cron wins when set).
every_minutes = 60
# cron = "0 6 * * 1-5"
# The time zone cron is read in (an IANA name): 06:00 is 06:00 in London, GMT or BST.
timezone = "Europe/London"
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

# Where LA's real WSDL differs from labridge's contract, `labridge doctor` prints the lines
# to put here (or writes them to a file for --contract). `labridge contract show` lists all.
# [contract.operations.GetCandidates]
# name = "GetLearners"
# params = {{ blnTest = "blnTestLearners" }}
# [contract.types.Type_candidate]
# members = {{ SourceSystemLearnerUUID = "MISLearnerID" }}
"""


def render_config(url: str = "", username: str = "", database_url: str | None = None) -> str:
    """The commented ``labridge.toml`` that ``labridge init`` writes."""
    # JSON string syntax is valid TOML basic-string syntax, escapes included.
    return CONFIG_TEMPLATE.format(
        url=json.dumps(url or DEFAULT_LA_URL),
        username=json.dumps(username),
        database_url=json.dumps(database_url or DEFAULT_DATABASE_URL),
    )
