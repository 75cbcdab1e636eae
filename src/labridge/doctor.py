"""``labridge doctor``: is labridge set up to speak to this LA, and does LA speak our contract?

It checks, in order: the settings; that LA answers (over TLS with certificate verification, or
with a warning for an ``http://`` URL); the clock against LA's ``Date`` header; the credentials
(one Authenticate); then it fetches the live WSDL of every service (``GET <path>?wsdl``) and
compares it with the effective contract: operations, parameter names and order, type names and
namespaces, member names and types, array types. Each difference an override can fix comes with
the override line (docs/contract.md, "Overrides"); :attr:`Report.overrides` holds them all.

Members and parameters match ignoring case (ColdFusion does, docs/contract.md §5); on one type
(or operation), a name missing from LA's WSDL and a name only LA has are taken for a rename when
they are the only two left or when they are similar.
"""

from __future__ import annotations

import difflib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

from . import contract as c
from . import overrides
from .client import AsyncClient, redirected
from .config import Settings
from .errors import AuthenticationError, ConfigurationError, LabridgeError, ProtocolError
from .soap.wsdl import ANY, SOAP_ENC, QName, Wsdl, WsdlOperation, read_wsdl
from .soap.xml import Limits

EXIT_OK, EXIT_DIFFERS, EXIT_UNREACHABLE = 0, 1, 3
MAX_CLOCK_SKEW_SECONDS = 120
_NUMBERS = frozenset({"int", "integer", "long", "short", "double", "float", "decimal"})


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "ok" | "warn" | "fail"
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"check": self.name, "status": self.status, "message": self.message}


@dataclass(frozen=True)
class Finding:
    """One difference: ``fix`` (an override fixes it: ``key`` = ``value``), ``problem`` (none
    can) or ``note`` (labridge copes; for information)."""

    level: str
    service: str
    message: str
    key: str | None = None
    value: Any = None

    @property
    def override(self) -> str | None:
        return overrides.line(self.key, self.value) if self.key else None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "level": self.level,
            "service": self.service,
            "message": self.message,
        }
        if self.key:
            out |= {"key": self.key, "value": self.value, "override": self.override}
        return out


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    #: Every override the findings call for, over those already in effect (``build`` shape).
    overrides: dict[str, Any] = field(default_factory=dict)
    unreachable: bool = False

    @property
    def exit_code(self) -> int:
        if self.unreachable:
            return EXIT_UNREACHABLE
        if any(f.level in ("fix", "problem") for f in self.findings):
            return EXIT_DIFFERS
        return EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "checks": [ch.as_dict() for ch in self.checks],
            "findings": [f.as_dict() for f in self.findings],
            "overrides": self.overrides,
            "exit_code": self.exit_code,
        }


# -- the WSDL comparison -------------------------------------------------------------------------


#: How Axis declares a ColdFusion struct.
_CF_STRUCT: QName = (c.APACHE_SOAP_NS, "Map")


def _pairs(missing: list[str], extra: list[str]) -> dict[str, str]:
    """Renames among names only we have (``missing`` from LA) and names only LA has."""
    if len(missing) == 1 and len(extra) == 1:
        return {missing[0]: extra[0]}
    out: dict[str, str] = {}
    left = list(extra)
    for name in missing:
        match = difflib.get_close_matches(name, left, n=1, cutoff=0.6)
        if match:
            out[name] = match[0]
            left.remove(match[0])
    return out


def _match(ours: list[str], theirs: list[str]) -> tuple[dict[str, str], list[str], list[str]]:
    """Our names → LA's (ignoring case, then renames); ours LA lacks; LA's we lack."""
    folded = {t.lower(): t for t in theirs}
    matched = {o: folded.pop(o.lower()) for o in ours if o.lower() in folded}
    missing = [o for o in ours if o not in matched]
    renamed = _pairs(missing, list(folded.values()))
    matched |= renamed
    extra = [t for t in theirs if t not in matched.values()]
    return matched, [o for o in missing if o not in renamed], extra


class Comparison:
    """Compares one service's WSDL with the effective contract, collecting findings."""

    def __init__(self, catalogue: c.Catalogue, service: c.Service, wsdl: Wsdl) -> None:
        self.catalogue = catalogue
        self.service = service
        self.wsdl = wsdl
        self.findings: list[Finding] = []
        self._seen: set[str] = set()

    def add(self, level: str, message: str, key: str | None = None, value: Any = None) -> None:
        self.findings.append(Finding(level, self.service.name, message, key, value))

    def run(self) -> list[Finding]:
        ours = [op.wire for op in self.service.operations]
        matched, missing, extra = _match(ours, list(self.wsdl.operations))
        for op in self.service.operations:
            if op.wire in matched:
                self.operation(op, self.wsdl.operations[matched[op.wire]])
        for wire in missing:
            self.add("problem", f"LA's WSDL of {self.service.path} has no operation {wire}")
        for name in extra:
            self.add("note", f"LA also offers {name}, which labridge does not use")
        return self.findings

    def operation(self, op: c.Operation, theirs: WsdlOperation) -> None:
        if theirs.name != op.wire:
            self.add(
                "fix",
                f"operation {op.name} is called {theirs.name} in LA's WSDL",
                f"operations.{op.name}.name",
                theirs.name,
            )
        if theirs.namespace and theirs.namespace != self.service.namespace:
            self._once(
                f"services.{self.service.name}.namespace",
                f"{self.service.name}'s operations are in namespace {theirs.namespace} in LA's "
                f"WSDL, not {self.service.namespace}",
                theirs.namespace,
            )
        self.params(op, dict(theirs.params), [p for p, _ in theirs.params])
        if theirs.returns is not None:
            self.type(op.returns, theirs.returns, f"the answer of {op.name}")

    def params(self, op: c.Operation, types: dict[str, QName], order: list[str]) -> None:
        defaults = {p.attr: p.name for p in c.DEFAULT.operation(op.name).params}
        matched, missing, extra = _match([p.name for p in op.params], order)
        for p in op.params:
            if p.name not in matched:
                continue
            if matched[p.name] != p.name and matched[p.name].lower() != p.name.lower():
                self.add(
                    "fix",
                    f"parameter {p.name} of {op.name} is called {matched[p.name]} in LA's WSDL",
                    f"operations.{op.name}.params.{defaults[p.attr]}",
                    matched[p.name],
                )
            self.type(p.type, types[matched[p.name]], f"parameter {p.name} of {op.name}")
        for name in missing:
            self.add("problem", f"LA's {op.name} takes no parameter {name}")
        for name in extra:
            self.add("problem", f"LA's {op.name} takes a parameter {name} labridge does not send")
        ours = [matched[p.name] for p in op.params if p.name in matched]
        if not missing and not extra and ours != order:
            self.add(
                "fix",
                f"LA's {op.name} takes its parameters in the order {', '.join(order)}",
                f"operations.{op.name}.order",
                order,
            )

    def type(self, ours: c.TypeExpr, theirs: QName, where: str) -> None:
        if theirs == ANY:
            return  # untyped in the WSDL: nothing to compare
        if theirs == _CF_STRUCT and isinstance(ours, c.StructRef):
            # A ColdFusion returntype="struct" (docs/contract.md §5): its keys are not declared;
            # labridge reads them ignoring case, so there is nothing to compare but nothing wrong.
            self.add("note", f"{where} is a ColdFusion struct (apachesoap:Map): its members are "
                     "not declared in the WSDL, and are read by name ignoring case")  # fmt: skip
            return
        if isinstance(ours, c.ArrayOf):
            self.array(ours, theirs, where)
        elif isinstance(ours, c.StructRef):
            self.struct(self.catalogue.types[ours.name], theirs, where)
        else:
            self.scalar(ours, theirs, where)

    def scalar(self, ours: c.Scalar, theirs: QName, where: str) -> None:
        kind = theirs[1]
        same = kind == ours.xsd or (ours.date and kind in ("date", "dateTime"))
        if not same and not (kind in _NUMBERS and ours.xsd in _NUMBERS):
            self.add("note", f"{where} is {kind} in LA's WSDL, {ours.xsd} in labridge's contract")

    def array(self, ours: c.ArrayOf, theirs: QName, where: str) -> None:
        if theirs == (SOAP_ENC, "Array"):
            return
        if theirs not in self.wsdl.arrays:
            self.add("note", f"{where} is {theirs[1]} in LA's WSDL, not an array")
            return
        self.type(ours.item, self.wsdl.arrays[theirs], f"the items of {where}")

    def struct(self, ours: c.ComplexType, theirs: QName, where: str) -> None:
        if ours.name in self._seen:
            return
        self._seen.add(ours.name)
        ns, name = theirs
        if name != ours.wire:
            self.add(
                "fix",
                f"type {ours.name} is called {name} in LA's WSDL",
                f"types.{ours.name}.name",
                name,
            )
        if ns and ns != ours.namespace:
            self.add(
                "fix",
                f"type {ours.name} is in namespace {ns} in LA's WSDL, not {ours.namespace}",
                f"types.{ours.name}.namespace",
                ns,
            )
        members = self.wsdl.structs.get(theirs)
        if members is None:
            self.add("problem", f"LA's WSDL declares no type {name} ({where})")
            return
        self.members(ours, members)

    def members(self, ours: c.ComplexType, theirs: list[tuple[str, QName]]) -> None:
        defaults = {mb.attr: mb.name for mb in c.DEFAULT.types[ours.name].members}
        types = dict(theirs)
        matched, missing, extra = _match([mb.name for mb in ours.members], [n for n, _ in theirs])
        for mb in ours.members:
            if mb.name not in matched:
                continue
            if matched[mb.name].lower() != mb.name.lower():
                self.add(
                    "fix",
                    f"member {mb.name} of {ours.name} is called {matched[mb.name]} in LA's WSDL",
                    f"types.{ours.name}.members.{defaults[mb.attr]}",
                    matched[mb.name],
                )
            self.type(mb.type, types[matched[mb.name]], f"member {mb.name} of {ours.name}")
        for name in missing:
            self.add("problem", f"LA's {ours.wire} has no member {name}")
        for name in extra:
            self.add("note", f"LA's {ours.wire} also has {name} (labridge keeps it as an extra)")

    def _once(self, key: str, message: str, value: Any) -> None:
        if all(f.key != key for f in self.findings):
            self.add("fix", message, key, value)


def compare(catalogue: c.Catalogue, service: c.Service, wsdl: Wsdl) -> list[Finding]:
    """The differences between ``service`` in ``catalogue`` and LA's ``wsdl`` of it."""
    return Comparison(catalogue, service, wsdl).run()


# -- the checks ----------------------------------------------------------------------------------


class _Unreachable(Exception):
    """LA did not answer; the check that found it says why."""


def _tls_failure(exc: Exception) -> bool:
    text = f"{exc} {exc.__cause__ or ''} {exc.__context__ or ''}"
    return "CERTIFICATE_VERIFY_FAILED" in text or isinstance(exc.__cause__, ssl.SSLError)


async def _probe(http: httpx.AsyncClient, base: str, report: Report) -> httpx.Response:
    url = base + c.service_of("Authenticate").path + "?wsdl"
    try:
        response = await http.get(url)
    except httpx.ConnectError as exc:
        if _tls_failure(exc):
            report.checks.append(_tls_check(base, exc))
        else:
            report.checks.append(Check("LA answers", "fail", f"cannot reach LA at {base}: {exc}"))
        raise _Unreachable from None
    except httpx.TransportError as exc:
        message = f"LA at {base} did not answer ({type(exc).__name__})"
        report.checks.append(Check("LA answers", "fail", message))
        raise _Unreachable from None
    if response.is_redirect:
        raise redirected(url, response.headers.get("location", ""), response.status_code)
    return response


def _tls_check(base: str, exc: Exception) -> Check:
    return Check(
        "TLS",
        "fail",
        f"the certificate of {base} could not be verified ({exc}). labridge checks it so that "
        "the password goes to LA and nobody else: if your network inspects TLS, point "
        "SSL_CERT_FILE at your organisation's CA bundle; otherwise check the LA URL",
    )


def _transport_check(base: str, response: httpx.Response, report: Report) -> None:
    if base.startswith("https://"):
        message = (
            f"LA answers at {base} over TLS, certificate verified (HTTP {response.status_code})"
        )
        report.checks.append(Check("TLS", "ok", message))
    else:
        report.checks.append(
            Check(
                "TLS",
                "warn",
                f"{base} is plain http://: the password and learners' data cross the network "
                "unencrypted; use https:// for the real LA",
            )
        )


def _clock_check(response: httpx.Response, now: datetime) -> Check:
    header = response.headers.get("date")
    if not header:
        return Check("clock", "warn", "LA sent no Date header; the clock was not compared")
    try:
        server = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return Check("clock", "warn", f"LA's Date header {header!r} is not a date")
    skew = (now - server.astimezone(UTC)).total_seconds()
    if abs(skew) > MAX_CLOCK_SKEW_SECONDS:
        side = "ahead of" if skew > 0 else "behind"
        return Check(
            "clock",
            "warn",
            f"this machine's clock is {abs(skew):.0f} s {side} LA's: sessions (30 minutes) and "
            "scheduled runs go by it; set the clock (NTP)",
        )
    return Check("clock", "ok", f"within {abs(skew):.0f} s of LA's")


async def _credentials(settings: Settings, transport: Any, report: Report) -> None:
    la = settings.require_la()
    limits = Limits.for_answers(la.max_answer_bytes, la.max_answer_elements)
    client = AsyncClient(
        la.url,
        la.username,
        la.password.get_secret_value(),
        transport=transport,
        timeout=la.timeout,
        limits=limits,
        read_attempts=1,
    )
    try:
        async with client:
            await client.authenticate()
    except AuthenticationError as exc:
        report.checks.append(Check("credentials", "fail", str(exc.args[0])))
        raise _Unreachable from None
    except LabridgeError as exc:
        report.checks.append(Check("credentials", "fail", f"Authenticate failed: {exc.args[0]}"))
        raise _Unreachable from None
    report.checks.append(Check("credentials", "ok", f"LA accepted user {la.username!r}"))


async def _service(
    http: httpx.AsyncClient, base: str, catalogue: c.Catalogue, service: c.Service, limits: Limits
) -> list[Finding]:
    url = f"{base}{service.path}?wsdl"
    try:
        response = await http.get(url)
    except httpx.TransportError as exc:
        return [Finding("problem", service.name, f"GET {url} failed ({type(exc).__name__})")]
    if response.status_code != 200:
        return [
            Finding(
                "problem",
                service.name,
                f"GET {url} answered HTTP {response.status_code}: LA has no {service.name} "
                f"service at {service.path}; ask LA for the path and set it with "
                f'[contract.services."{service.name}"] path = "..."',
            )
        ]
    try:
        wsdl = read_wsdl(response.content, limits)
    except ProtocolError as exc:
        return [Finding("problem", service.name, f"the WSDL at {url} is not readable: {exc}")]
    return compare(catalogue, service, wsdl)


async def diagnose(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> Report:
    """Every check, then the WSDL comparison; the report says what to do."""
    report = Report()
    la = settings.require_la()
    catalogue = c.active()
    changed = len(catalogue.overridden)
    report.checks.append(
        Check("configuration", "ok", f"LA at {la.url} as {la.username!r}; {changed} overrides")
    )
    limits = Limits.for_answers(la.max_answer_bytes, la.max_answer_elements)
    async with httpx.AsyncClient(transport=transport, timeout=la.timeout, verify=True) as http:
        try:
            response = await _probe(http, la.url, report)
            _transport_check(la.url, response, report)
            report.checks.append(_clock_check(response, datetime.now(UTC)))
            await _credentials(settings, transport, report)
        except _Unreachable:
            report.unreachable = True
            return report
        for service in catalogue.services:
            report.findings += await _service(http, la.url, catalogue, service, limits)
    report.overrides = _overrides(settings.contract, report.findings)
    return report


def _overrides(current: dict[str, Any], findings: list[Finding]) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for f in findings:
        if f.key:
            overrides.nest(f.key, f.value, table)
    return overrides.merge(current, table)


def write_overrides(report: Report, path: Path) -> str:
    """Write the overrides ``report`` calls for as a ``--contract`` file; return its text."""
    overrides.build(report.overrides)  # what we write, --contract must read
    text = (
        "# Written by `labridge doctor`: pass it with --contract, or paste it into labridge.toml.\n"
    )
    text += overrides.to_toml(report.overrides)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"cannot write the overrides to {path}: {exc.strerror or exc}",
            hint="give --write-overrides a file in a directory that exists and you may write to",
        ) from None
    return text
