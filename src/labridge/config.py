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

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

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


class StoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    database_url: str = DEFAULT_DATABASE_URL


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    la: LASettings = LASettings()
    store: StoreSettings = StoreSettings()

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
    unknown = set(data) - {"la", "store"}
    if unknown:
        raise ConfigurationError(
            f"{path} has unknown section(s) {sorted(unknown)}",
            hint="the sections are [la], [store]",
        )
    return {k: v for k, v in data.items() if isinstance(v, dict)}


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

[store]
# Where labridge keeps what it learned from LA: any SQLAlchemy URL.
# SQLite (default): "sqlite:///labridge.db"; PostgreSQL: "postgresql://user@host/dbname".
# Environment: LABRIDGE_DATABASE_URL
database_url = {database_url}
"""


def render_config(url: str = "", username: str = "", database_url: str | None = None) -> str:
    """The commented ``labridge.toml`` that ``labridge init`` writes."""
    # JSON string syntax is valid TOML basic-string syntax, escapes included.
    return CONFIG_TEMPLATE.format(
        url=json.dumps(url),
        username=json.dumps(username),
        database_url=json.dumps(database_url or DEFAULT_DATABASE_URL),
    )
