"""Contract overrides: the ``[contract]`` table of labridge.toml (or a ``--contract FILE``) turned
into an effective :class:`~labridge.contract.Catalogue`.

A provider who installed labridge with pip cannot edit :mod:`labridge.contract`; when LA's real
WSDL differs from an [INF] name there, one line here fixes it (docs/contract.md, "Overrides")::

    [contract]
    date_format = "%Y-%m-%d"
    [contract.services.Users]
    path = "/webservices/soap/users.cfc"
    [contract.operations.GetCandidates]
    name = "GetLearners"
    params = { blnTest = "blnTestLearners" }
    [contract.types.Type_candidate]
    name = "Type_learner"
    members = { SourceSystemLearnerUUID = "MISLearnerID" }

Services, operations and types are named by labridge's (logical) names; parameters and members
by their default wire names. Every unknown key is refused, naming the closest known one. An
override of a [DOC] item (seen in LA's published samples) is allowed, with a warning.
"""

from __future__ import annotations

import difflib
import json
import logging
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from . import contract as c
from .errors import ConfigurationError

log = logging.getLogger("labridge.contract")

SERVICE_KEYS = (
    "path",
    "namespace",
    "types_namespace",
    "response_header_namespace",
    "request_header_namespaces",
    "style",
)
OPERATION_KEYS = ("name", "params", "order")
TYPE_KEYS = ("name", "namespace", "members")
TOP_KEYS = ("services", "operations", "types", "date_format")


class ContractError(ConfigurationError):
    """An override that does not fit the catalogue."""


def _closest(word: str, known: Iterable[str]) -> str:
    match = difflib.get_close_matches(word, list(known), n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _check_keys(table: Any, known: Iterable[str], where: str) -> Mapping[str, Any]:
    if not isinstance(table, Mapping):
        raise ContractError(f"{where} must be a table, not {type(table).__name__}")
    known = list(known)
    for key in table:
        if key not in known:
            raise ContractError(
                f"unknown key {key!r} in {where}{_closest(key, known)}",
                hint=f"the keys of {where} are: {', '.join(known)}",
            )
    return table


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ContractError(f"{where} must be a non-empty string")
    return value.strip()


@dataclass
class _Build:
    """The catalogue being overridden, the keys overridden so far, and the warnings."""

    catalogue: c.Catalogue
    overridden: set[str]
    warnings: list[str]

    def touch(self, key: str) -> None:
        self.overridden.add(key)
        if key in c.DOC_ITEMS:
            self.warnings.append(
                f"contract override of {key}, which LA's published samples document [DOC]: "
                "keep it only if LA's own WSDL (`labridge doctor`) says so"
            )


def build(
    data: Mapping[str, Any], base: c.Catalogue = c.DEFAULT, where: str = "[contract]"
) -> tuple[c.Catalogue, list[str]]:
    """The catalogue ``base`` with the overrides ``data`` applied, and the warnings to show."""
    table = _check_keys(data, TOP_KEYS, where)
    b = _Build(base, set(), [])
    _services(b, table.get("services", {}), f"{where[:-1]}.services]")
    _operations(b, table.get("operations", {}), f"{where[:-1]}.operations]")
    _types(b, table.get("types", {}), f"{where[:-1]}.types]")
    date_format = base.date_format
    if "date_format" in table:
        date_format = _date_format(table["date_format"], f"date_format in {where}")
        b.touch("date_format")
    _check_unique(b.catalogue)
    catalogue = replace(
        b.catalogue, date_format=date_format, overridden=frozenset(b.overridden | base.overridden)
    )
    return catalogue, b.warnings


def _entries(
    table: Any, known: Iterable[str], where: str, what: str
) -> Iterable[tuple[str, Mapping[str, Any], str]]:
    if not isinstance(table, Mapping):
        raise ContractError(f"{where} must be a table of {what}s")
    known = list(known)
    for name, entry in table.items():
        if name not in known:
            raise ContractError(
                f"unknown {what} {name!r} in {where}{_closest(name, known)}",
                hint=f"the {what}s are: {', '.join(known)} (labridge's names, even when renamed)",
            )
        yield name, entry, f"{where[:-1]}.{_toml_key(name)}]"


# -- services ------------------------------------------------------------------------------------


def _services(b: _Build, table: Any, where: str) -> None:
    names = [s.name for s in b.catalogue.services]
    for name, entry, at in _entries(table, names, where, "service"):
        service = b.catalogue.service(name)
        changes: dict[str, Any] = {}
        for key, value in _check_keys(entry, SERVICE_KEYS, at).items():
            changes[key] = _service_value(key, value, f"{key} in {at}")
            b.touch(f"services.{name}.{key}")
        _swap_service(b, service, replace(service, **changes))


def _service_value(key: str, value: Any, where: str) -> Any:
    if key == "style":
        styles = [s.value for s in c.EnvelopeStyle]
        if value not in styles:
            raise ContractError(f"{where} must be one of {styles}{_closest(str(value), styles)}")
        return c.EnvelopeStyle(value)
    if key == "request_header_namespaces":
        if not isinstance(value, list) or not value:
            raise ContractError(f"{where} must be a non-empty list of namespace URIs")
        return tuple(_text(v, where) for v in value)
    text = _text(value, where)
    if key == "path" and not text.startswith("/"):
        raise ContractError(
            f"{where} must start with / (a path under the LA URL, e.g. /webservices/soap/user.cfc)"
        )
    return text


def _swap_service(b: _Build, old: c.Service, new: c.Service) -> None:
    services = tuple(new if s is old else s for s in b.catalogue.services)
    b.catalogue = replace(b.catalogue, services=services)


# -- operations ----------------------------------------------------------------------------------


def _operations(b: _Build, table: Any, where: str) -> None:
    names = [op.name for s in b.catalogue.services for op in s.operations]
    for name, entry, at in _entries(table, names, where, "operation"):
        entry = _check_keys(entry, OPERATION_KEYS, at)
        service = b.catalogue.service_of(name)
        op = b.catalogue.operation(name)
        if "name" in entry:
            op = replace(op, wire=_text(entry["name"], f"name in {at}"))
            b.touch(f"operations.{name}.name")
        if "params" in entry:
            op = replace(op, params=_renamed(b, op.params, entry["params"], at, name, "params"))
        if "order" in entry:
            op = replace(op, params=_ordered(op, entry["order"], f"order in {at}"))
            b.touch(f"operations.{name}.order")
        ops = tuple(op if o.name == name else o for o in service.operations)
        _swap_service(b, service, replace(service, operations=ops))


def _renamed(
    b: _Build, members: tuple[c.Member, ...], renames: Any, at: str, owner: str, kind: str
) -> tuple[c.Member, ...]:
    """``members`` with the wire names ``renames`` maps (default wire name → LA's); ``kind`` is
    ``params`` (of an operation) or ``members`` (of a type)."""
    defaults = _default_members(owner, kind)
    by_default = {d.name: d.attr for d in defaults}
    _check_keys(renames, by_default, f"{kind} in {at}")
    wanted = {by_default[k]: _text(v, f"{kind}.{k} in {at}") for k, v in renames.items()}
    for key in renames:
        b.touch(f"{'operations' if kind == 'params' else 'types'}.{owner}.{kind}.{key}")
    return tuple(replace(mb, name=wanted.get(mb.attr, mb.name)) for mb in members)


def _default_members(owner: str, kind: str) -> tuple[c.Member, ...]:
    if kind == "params":
        return c.DEFAULT.operation(owner).params
    return c.DEFAULT.types[owner].members


def _ordered(op: c.Operation, order: Any, where: str) -> tuple[c.Member, ...]:
    names = [p.name for p in op.params]
    if not isinstance(order, list) or sorted(map(str, order)) != sorted(names):
        raise ContractError(
            f"{where} must list each parameter of {op.name} once, as LA names it: {names}"
        )
    by_name = {p.name: p for p in op.params}
    return tuple(by_name[n] for n in order)


# -- types ---------------------------------------------------------------------------------------


def _types(b: _Build, table: Any, where: str) -> None:
    for name, entry, at in _entries(table, list(b.catalogue.types), where, "type"):
        entry = _check_keys(entry, TYPE_KEYS, at)
        ctype = b.catalogue.types[name]
        if "name" in entry:
            ctype = replace(ctype, wire=_text(entry["name"], f"name in {at}"))
            b.touch(f"types.{name}.name")
        if "namespace" in entry:
            ctype = replace(ctype, namespace=_text(entry["namespace"], f"namespace in {at}"))
            b.touch(f"types.{name}.namespace")
        if "members" in entry:
            ctype = replace(
                ctype, members=_renamed(b, ctype.members, entry["members"], at, name, "members")
            )
        types = {**b.catalogue.types, name: ctype}
        b.catalogue = replace(b.catalogue, types=types)


def _date_format(value: Any, where: str) -> str:
    fmt = _text(value, where)
    sample = date(2024, 9, 17)  # day and month told apart, neither a default
    try:
        parsed = datetime.strptime(sample.strftime(fmt), fmt).date()
    except ValueError:
        parsed = None
    if parsed != sample:
        raise ContractError(
            f"{where} {fmt!r} cannot carry a whole date both ways",
            hint='use strftime codes with a year, month and day, e.g. "%d/%m/%Y"',
        )
    return fmt


def _check_unique(catalogue: c.Catalogue) -> None:
    """Two items renamed onto one wire name would be told apart by nobody."""
    for s in catalogue.services:
        _unique([op.wire for op in s.operations], f"operations of the {s.name} service")
        for op in s.operations:
            _unique([p.name for p in op.params], f"parameters of {op.name}")
    _unique([t.wire for t in catalogue.types.values()], "types")
    for t in catalogue.types.values():
        _unique([mb.name.lower() for mb in t.members], f"members of {t.name}")


def _unique(names: list[str], what: str) -> None:
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ContractError(f"the contract overrides give two {what} the wire name {twice[0]!r}")


# -- files ---------------------------------------------------------------------------------------


def load_file(path: Path) -> dict[str, Any]:
    """The ``[contract]`` table of a ``--contract`` TOML file (the lines `labridge doctor
    --write-overrides` writes, or a copy of labridge.toml's)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ContractError(f"contract file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ContractError(f"{path} is not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses into nested arrays and inline tables
        raise ContractError(f"{path} is nested too deeply to be a contract file") from None
    except OSError as exc:
        raise ContractError(f"cannot read {path}: {exc.strerror or exc}") from None
    _check_keys(data, ["contract"], f"{path} (it holds [contract...] tables only)")
    table = data.get("contract", {})
    if not isinstance(table, dict):
        raise ContractError(f"contract in {path} must be a table")
    return table


def merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``, table by table (a ``--contract`` file over labridge.toml's)."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _toml_key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return f"{{ {inner} }}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)  # JSON strings are valid TOML basic strings


def to_toml(data: Mapping[str, Any]) -> str:
    """``[contract...]`` tables for ``data`` (as :func:`build` takes it), one table per item."""
    lines: list[str] = []
    if "date_format" in data:
        lines += ["[contract]", f"date_format = {_toml_value(data['date_format'])}", ""]
    for kind in ("services", "operations", "types"):
        for name, entry in data.get(kind, {}).items():
            lines.append(f"[contract.{kind}.{_toml_key(name)}]")
            lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in entry.items()]
            lines.append("")
    return "\n".join(lines)


def line(key: str, value: Any) -> str:
    """The override that sets one item, as a user pastes it: ``[contract.x.y] k = v``."""
    parts = key.split(".")
    if len(parts) == 1:
        return f"[contract] {parts[0]} = {_toml_value(value)}"
    table, rest = ".".join(_toml_key(p) for p in parts[:2]), parts[2:]
    if rest[0] in ("params", "members"):
        return f"[contract.{table}] {rest[0]} = {{ {_toml_key(rest[1])} = {_toml_value(value)} }}"
    return f"[contract.{table}] {rest[0]} = {_toml_value(value)}"


def nest(key: str, value: Any, into: dict[str, Any]) -> None:
    """Put one item (by its key) into a ``build``-shaped table."""
    parts = key.split(".")
    if len(parts) == 1:
        into[parts[0]] = value
        return
    entry = into.setdefault(parts[0], {}).setdefault(parts[1], {})
    if parts[2] in ("params", "members"):
        entry.setdefault(parts[2], {})[parts[3]] = value
    else:
        entry[parts[2]] = value


# -- the effective contract, item by item --------------------------------------------------------


@dataclass(frozen=True)
class Item:
    key: str
    value: Any
    mark: str

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "mark": self.mark}


def items(catalogue: c.Catalogue) -> list[Item]:
    """Every item of ``catalogue`` (each one an override can set), with its mark."""
    out = [Item("date_format", catalogue.date_format, catalogue.mark("date_format"))]
    for s in catalogue.services:
        for key in SERVICE_KEYS:
            value = getattr(s, key)
            value = value.value if isinstance(value, c.EnvelopeStyle) else value
            value = list(value) if isinstance(value, tuple) else value
            out.append(
                Item(f"services.{s.name}.{key}", value, catalogue.mark(f"services.{s.name}.{key}"))
            )
        for op in s.operations:
            out += _op_items(catalogue, op)
    for t in catalogue.types.values():
        for key, value in (("name", t.wire), ("namespace", t.namespace)):
            out.append(
                Item(f"types.{t.name}.{key}", value, catalogue.mark(f"types.{t.name}.{key}"))
            )
        out += _member_items(
            catalogue, f"types.{t.name}.members", t.members, c.DEFAULT.types[t.name].members
        )
    return out


def _op_items(catalogue: c.Catalogue, op: c.Operation) -> list[Item]:
    base = f"operations.{op.name}"
    out = [Item(f"{base}.name", op.wire, catalogue.mark(f"{base}.name"))]
    defaults = c.DEFAULT.operation(op.name).params
    out += _member_items(catalogue, f"{base}.params", op.params, defaults)
    order = [p.name for p in op.params]
    out.append(Item(f"{base}.order", order, catalogue.mark(f"{base}.order")))
    return out


def _member_items(
    catalogue: c.Catalogue, base: str, members: tuple[c.Member, ...], defaults: tuple[c.Member, ...]
) -> list[Item]:
    current = {mb.attr: mb.name for mb in members}
    return [
        Item(f"{base}.{d.name}", current[d.attr], catalogue.mark(f"{base}.{d.name}"))
        for d in defaults
    ]


def effective(data: Mapping[str, Any], where: str = "[contract]") -> c.Catalogue:
    """:func:`build` on the default catalogue, logging its warnings."""
    catalogue, warnings = build(data, c.DEFAULT, where)
    for warning in warnings:
        log.warning("%s", warning)
    return catalogue
