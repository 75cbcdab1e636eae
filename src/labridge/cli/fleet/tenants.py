"""The tenants file: the LA centres one fleet runs (``tenants.toml``, docs/fleet.md).

One ``[fleet]`` table (the shared PostgreSQL of the queue, the limits per LA host, the retries)
and one ``[[tenants]]`` table per centre: its name, LA URL and web-service user, where its
password comes from (``password_env`` or ``password_file``; never the file itself), its store (a
PostgreSQL database of its own: by default ``labridge_<name>`` on the fleet's server) and any
section of a ``labridge.toml`` (``[tenants.run]`` with its sources and schedule, ``[tenants.sync]``
...), over ``[defaults]`` and over the tenant's own ``config`` file when it names one. Paths are
relative to the tenants file.

Reading it checks everything a person can get wrong before any worker runs: names, duplicate
names or stores, a missing password, a password written into the file, a bad section.
"""

from __future__ import annotations

import copy
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from ... import dburl
from ...config import Settings, load_settings, resolve_paths
from ...errors import ConfigurationError
from ...filemodes import warn_if_shared
from .limits import HostLimits, host_key

TENANTS_FILE = "tenants.toml"
#: The environment variable naming the fleet's database, over ``[fleet] database_url``.
FLEET_DATABASE_ENV = "LABRIDGE_FLEET_DATABASE_URL"
#: A tenant's name: it names its store, its lock and its jobs, so it is kept plain.
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
#: Sections of a labridge.toml a tenant may set inline ([la] password never).
SECTIONS = ("la", "store", "sync", "source", "run", "contract")
_TENANT_KEYS = {"name", "url", "username", "password_env", "password_file", "store", "config",
                "queue", *SECTIONS}  # fmt: skip
_FLEET_KEYS = {"database_url", "in_flight", "per_second", "hosts", "retries", "retry_wait_seconds",
               "queue", "create_stores", "stalled_seconds"}  # fmt: skip
DEFAULT_QUEUE = "labridge"


@dataclass(frozen=True)
class Tenant:
    """One centre: its settings (a whole labridge configuration) and its place in the fleet."""

    name: str
    settings: Settings
    queue: str
    #: Where the password came from, for ``tenants list`` (never the password).
    password_from: str

    @property
    def store_url(self) -> str:
        return self.settings.store.database_url

    @property
    def la_host(self) -> str:
        return host_key(self.settings.la.url)

    @property
    def lock(self) -> str:
        """The procrastinate lock of this tenant's jobs: never two of its steps at once."""
        return f"tenant:{self.name}"


@dataclass(frozen=True)
class Fleet:
    """The whole tenants file, read and checked."""

    path: Path
    database_url: str
    limits: HostLimits
    hosts: dict[str, HostLimits]
    retries: int
    retry_wait_seconds: int
    create_stores: bool
    #: Seconds without a heartbeat after which a worker counts as dead and its step runs again.
    stalled_seconds: float = 30.0
    tenants: list[Tenant] = field(default_factory=list)

    def tenant(self, name: str) -> Tenant:
        for tenant in self.tenants:
            if tenant.name == name:
                return tenant
        raise ConfigurationError(
            f"no tenant {name!r} in {self.path}",
            hint=f"the tenants are: {', '.join(t.name for t in self.tenants) or 'none'}",
        )

    def limits_of(self, host: str) -> HostLimits:
        """The fleet-wide limits of calls to one LA host."""
        return self.hosts.get(host, self.limits)


def load_fleet(path: Path | None, environ: Mapping[str, str] | None = None) -> Fleet:
    """Read and check the tenants file (``./tenants.toml`` when none is given)."""
    environ = os.environ if environ is None else environ
    path = (path or Path(TENANTS_FILE)).expanduser().resolve()
    data = _read(path)
    fleet_table = _table(data.get("fleet", {}), "[fleet]", path)
    unknown = set(fleet_table) - _FLEET_KEYS
    if unknown:
        raise ConfigurationError(f"{path}: [fleet] has unknown key(s) {sorted(unknown)}",
                                 hint=f"the keys are {', '.join(sorted(_FLEET_KEYS))}")  # fmt: skip
    database_url = environ.get(FLEET_DATABASE_ENV) or fleet_table.get("database_url") or ""
    _require_postgres(database_url, path)
    defaults = _table(data.get("defaults", {}), "[defaults]", path)
    entries = data.get("tenants", [])
    if not isinstance(entries, list):
        raise ConfigurationError(f"{path}: tenants must be [[tenants]] tables")
    fleet = Fleet(
        path=path,
        database_url=database_url,
        limits=_limits(fleet_table, "[fleet]", path, HostLimits(8, 20.0)),
        hosts=_hosts(fleet_table.get("hosts", {}), path),
        retries=_int(fleet_table.get("retries", 3), "[fleet] retries", path, 0),
        retry_wait_seconds=_int(
            fleet_table.get("retry_wait_seconds", 10), "[fleet] retry_wait_seconds", path, 0
        ),
        create_stores=bool(fleet_table.get("create_stores", True)),
        stalled_seconds=float(
            _int(fleet_table.get("stalled_seconds", 30), "[fleet] stalled_seconds", path, 2)
        ),
    )
    queue = str(fleet_table.get("queue", DEFAULT_QUEUE))
    fleet.tenants.extend(
        _tenant(entry, i, defaults, fleet, queue, environ) for i, entry in enumerate(entries)
    )
    _refuse_shared(fleet)
    _one_contract(fleet)
    return fleet


def _one_contract(fleet: Fleet) -> None:
    """A worker speaks one contract (the wire names are one per process): tenants whose
    ``[contract]`` overrides differ cannot share it."""
    kinds = {repr(t.settings.contract) for t in fleet.tenants}
    if len(kinds) > 1:
        raise ConfigurationError(
            f"{fleet.path}: the tenants' [contract] overrides differ",
            hint="give every tenant the same [contract] (in [defaults]), or run the tenants "
            "with other overrides from a second tenants file with workers of their own",
        )


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigurationError(
            f"no tenants file at {path}",
            hint="give --tenants FILE, or write tenants.toml (docs/fleet.md has an example)",
        )
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigurationError(f"{path} is nested too deeply to be a tenants file") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror or exc}") from None


def _table(value: object, where: str, path: Path) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigurationError(f"{path}: {where} must be a table")
    return value


def _require_postgres(url: str, path: Path) -> None:
    if not url:
        raise ConfigurationError(
            f"{path}: the fleet's database is not set",
            hint=f'set [fleet] database_url = "postgresql://user@host/db" or {FLEET_DATABASE_ENV}',
        )
    parsed = dburl.parse_url(url, "[fleet] database_url", "postgresql://user@host:5432/dbname")
    if parsed.get_backend_name() != "postgresql":
        raise ConfigurationError(
            f"{path}: [fleet] database_url {dburl.shown(url)} is not PostgreSQL",
            hint="the fleet's queue and locks live in PostgreSQL: give a postgresql:// URL",
        )


def _int(value: object, where: str, path: Path, least: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise ConfigurationError(f"{path}: {where} must be a whole number of at least {least}")
    return value


def _limits(table: Mapping[str, Any], where: str, path: Path, base: HostLimits) -> HostLimits:
    in_flight = _int(table.get("in_flight", base.in_flight), f"{where} in_flight", path, 1)
    per_second = table.get("per_second", base.per_second)
    if not isinstance(per_second, int | float) or isinstance(per_second, bool) or per_second <= 0:
        raise ConfigurationError(f"{path}: {where} per_second must be a number above 0")
    return HostLimits(in_flight=in_flight, per_second=float(per_second))


def _hosts(value: object, path: Path) -> dict[str, HostLimits]:
    hosts = _table(value, "[fleet.hosts]", path)
    out: dict[str, HostLimits] = {}
    for host, table in hosts.items():
        where = f'[fleet.hosts."{host}"]'
        out[host.lower()] = _limits(_table(table, where, path), where, path, HostLimits(8, 20.0))
    return out


def _tenant(entry: object, index: int, defaults: Mapping[str, Any], fleet: Fleet, queue: str,
            environ: Mapping[str, str]) -> Tenant:  # fmt: skip
    path = fleet.path
    table = _table(entry, f"[[tenants]] number {index + 1}", path)
    name = table.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise ConfigurationError(
            f"{path}: [[tenants]] number {index + 1} has no valid name",
            hint="a name is 1-40 lower-case letters, digits and hyphens, e.g. "
            'name = "north-college"',
        )
    where = f"tenant {name!r} ({path})"
    password, source = _password(table, where, path, environ)
    unknown = set(table) - _TENANT_KEYS
    if unknown:
        raise ConfigurationError(
            f"{where} has unknown key(s) {sorted(unknown)}",
            hint=f"the keys are {', '.join(sorted(_TENANT_KEYS))}",
        )
    tables = _merged(defaults, table, path)
    la = tables.setdefault("la", {})
    for key in ("url", "username"):
        if key in table:
            la[key] = table[key]
    la["password"] = password
    own = table.get("store")
    store = own if isinstance(own, str) else tables.get("store", {}).get("database_url")
    tables.setdefault("store", {})["database_url"] = store or _default_store(
        fleet.database_url, name
    )
    config = table.get("config")
    config_file = (path.parent / Path(config).expanduser()) if isinstance(config, str) else None
    try:
        settings = load_settings(flags=tables, environ={}, config_file=config_file,
                                 read_default=False)  # fmt: skip
        settings.require_la()
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {exc.args[0]}", hint=exc.hint) from None
    return Tenant(name, settings, str(table.get("queue", queue)), source)


def _password(table: Mapping[str, Any], where: str, path: Path,
              environ: Mapping[str, str]) -> tuple[SecretStr, str]:  # fmt: skip
    """The tenant's LA password from its environment variable or its file, never the tenants
    file; the error names where it was looked for, never a value."""
    la = table.get("la")
    if "password" in table or (isinstance(la, dict) and "password" in la):
        raise ConfigurationError(
            f"{where} writes its LA password into the tenants file",
            hint='remove it; give password_env = "VARIABLE" or password_file = "path" instead',
        )
    variable, file = table.get("password_env"), table.get("password_file")
    if isinstance(variable, str) and variable:
        value = environ.get(variable, "")
        if not value:
            raise ConfigurationError(
                f"{where}: the environment variable {variable} is not set",
                hint=f"export {variable}=... before starting labridge",
            )
        return SecretStr(value), f"${variable}"
    if isinstance(file, str) and file:
        secret = path.parent / Path(file).expanduser()
        try:
            value = secret.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigurationError(f"{where}: cannot read its password file {secret}: "
                                     f"{exc.strerror or exc}") from None  # fmt: skip
        if not value:
            raise ConfigurationError(f"{where}: its password file {secret} is empty")
        warn_if_shared(secret, f"the password file of tenant {table.get('name')!r}")
        return SecretStr(value), str(secret)
    raise ConfigurationError(
        f"{where} does not say where its LA password comes from",
        hint='give password_env = "VARIABLE" (an environment variable) or password_file = '
        '"path" (a file readable by labridge alone)',
    )


def _merged(defaults: Mapping[str, Any], table: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """``[defaults]`` with the tenant's own sections over it, paths made absolute."""
    out: dict[str, Any] = {}
    for layer in (defaults, table):
        for section in SECTIONS:
            values = layer.get(section)
            if section == "store" and isinstance(values, str):
                continue  # store = "URL": the tenant's store, taken apart
            if isinstance(values, dict):
                out.setdefault(section, {}).update(copy.deepcopy(values))
            elif values is not None:
                raise ConfigurationError(
                    f"{path}: [{section}] of a tenant must be a table",
                    hint=f"write [tenants.{section}] under its [[tenants]]",
                )
    resolve_paths(out, path.parent)
    return out


def _default_store(fleet_url: str, name: str) -> str:
    """``labridge_<name>`` on the fleet's server: a database of the tenant's own, so that its
    data and its locks never meet another tenant's (PostgreSQL's advisory locks are per
    database)."""
    url = dburl.parse_url(fleet_url, "[fleet] database_url", "postgresql://user@host/db")
    database = "labridge_" + name.replace("-", "_")
    return url.set(drivername="postgresql", database=database).render_as_string(hide_password=False)


def _refuse_shared(fleet: Fleet) -> None:
    seen: dict[str, str] = {}
    stores: dict[str, str] = {}
    for tenant in fleet.tenants:
        if tenant.name in seen:
            raise ConfigurationError(f"{fleet.path}: two tenants are named {tenant.name!r}")
        seen[tenant.name] = tenant.name
        key = _store_key(tenant.store_url)
        if key in stores:
            raise ConfigurationError(
                f"{fleet.path}: tenants {stores[key]!r} and {tenant.name!r} share one store "
                f"({dburl.shown(tenant.store_url)})",
                hint="each tenant needs a store of its own: its data must never mix with "
                "another's; leave store out to get labridge_<name> on the fleet's server",
            )
        stores[key] = tenant.name
    fleet_key = _store_key(fleet.database_url)
    if fleet_key in stores:
        raise ConfigurationError(
            f"{fleet.path}: tenant {stores[fleet_key]!r} has the fleet's own database as its store",
            hint="give the tenant a database of its own (or leave store out)",
        )


def _store_key(url: str) -> str:
    parsed = dburl.parse_url(url, "the store URL", "postgresql://user@host/db")
    host = (parsed.host or "").lower()
    host = "localhost" if host in ("127.0.0.1", "::1", "") else host
    return f"{parsed.get_backend_name()}|{host}|{parsed.port or 5432}|{parsed.database}"
