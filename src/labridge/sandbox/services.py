"""One handler per LA operation the sandbox serves (docs/contract.md §3).

A handler is a plain function taking the decoded wire parameters (keyed by wire name, as
:func:`labridge.soap.decode_request` gives them) and a :class:`Context` (the sandbox database and
its clock), and returning the wire value of ``<Op>Return``. A handler raises
:class:`UserException` for what LA answers with a ``soapenv:Server.userException`` fault, and
:class:`~labridge.errors.ProtocolError` for a malformed call (a ``soapenv:Client`` fault).
:data:`HANDLERS` maps operation names to handlers: every operation of the catalogue has one (a
test checks), and the WSDLs list them all, so a new operation is added by registering its handler
here.

These are LA's rules as the sandbox plays them, written apart from labridge's own validation:
the sandbox is LA, not a mirror of labridge's client.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .. import contract as c
from .. import models as m
from ..errors import ProtocolError
from . import group_enrolment, simulate
from .clock import Clock, as_utc
from .rules import shown

if TYPE_CHECKING:
    from .db import SandboxDB

Params = Mapping[str, Any]
Handler = Callable[[Params, "Context"], Any]

HANDLERS: dict[str, Handler] = {}


@dataclass(frozen=True)
class Context:
    """What a handler works with besides its parameters: LA's database and the sandbox clock
    (:class:`.clock.SandboxClock` in the app), the one source of "now" for every handler."""

    db: SandboxDB
    clock: Clock

    def now(self) -> datetime:
        return as_utc(self.clock())

    def today(self) -> date:
        """The sandbox's date (UTC), as LA's date-only members count days."""
        return self.now().date()


class UserException(Exception):
    """A call LA understood and cannot answer (an unknown CandidateUUID): ColdFusion throws, and
    Axis answers a ``soapenv:Server.userException`` fault with the message as its faultstring."""


@dataclass(frozen=True)
class Login:
    """Authenticate's answer: ``value`` is ``YES``/``NO``; ``username`` is set when a session is to
    be opened for that user (the dispatcher owns sessions and the clock)."""

    value: str
    username: str | None = None


def handles(name: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of operation ``name``."""
    c.operation(name)  # a typo in a name fails at import, not at the first call

    def register(func: Handler) -> Handler:
        HANDLERS[name] = func
        return func

    return register


def answer(name: str, value: Any) -> Any:
    """``value`` (records) as the wire value of ``name``'s return, every member sent."""
    return c.to_wire(c.operation(name).returns, value, omit_unset=False)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


@handles("Authenticate")
def authenticate(params: Params, ctx: Context) -> Login:
    """Right credentials → ``YES`` and a session; wrong ones → ``NO`` (docs/contract.md §2,
    §3.1)."""
    args = c.params_from_wire(c.operation("Authenticate"), params)
    username, password = _text(args.get("username")), _text(args.get("password"))
    if ctx.db.check_password(username, password):
        return Login(c.YES, username)
    return Login(c.NO)


@handles("GetFrameworks")
def get_frameworks(params: Params, ctx: Context) -> Any:
    return answer("GetFrameworks", ctx.db.frameworks())


@handles("GetTrainers")
def get_trainers(params: Params, ctx: Context) -> Any:
    return answer("GetTrainers", ctx.db.trainers())


@handles("GetNationalities")
def get_nationalities(params: Params, ctx: Context) -> Any:
    return answer("GetNationalities", ctx.db.nationalities())


@handles("GetEthnicities")
def get_ethnicities(params: Params, ctx: Context) -> Any:
    return answer("GetEthnicities", ctx.db.ethnicities())


@handles("GetCompanies")
def get_companies(params: Params, ctx: Context) -> Any:
    return answer("GetCompanies", ctx.db.companies())


@handles("GetCandidates")
def get_candidates(params: Params, ctx: Context) -> Any:
    """An absent or nil parameter takes LA's default; an empty CourseQAN means every course
    (docs/contract.md §3.3 [INF])."""
    args = c.params_from_wire(c.operation("GetCandidates"), params)
    try:
        # Lax validation also takes "true"/"1" from clients that type booleans as strings.
        query = m.CandidateQuery.model_validate({k: v for k, v in args.items() if v is not None})
    except ValidationError as exc:
        raise ProtocolError(
            f"GetCandidates refused: {_first_error('GetCandidates', exc)}"
        ) from None
    return answer(
        "GetCandidates",
        ctx.db.candidates(
            course_qan=query.course_qan,
            active=query.active,
            completed=query.completed,
            test=query.test,
        ),
    )


@handles("GroupEnrolment")
def enrol(params: Params, ctx: Context) -> Any:
    """Enrol one learner, or list every problem (docs/contract.md §3.5; rules in
    :mod:`.group_enrolment`). ``blnAssignEvaluationOnEnroll`` is accepted and has no effect in
    the sandbox."""
    args = group_enrolment.arguments("GroupEnrolment", params)
    send = bool(args.get("send_login_details"))
    user = args.get("user")
    return answer(
        "GroupEnrolment",
        group_enrolment.enrol(ctx.db, user, send_login_details=send, now=ctx.now()),
    )


@handles("UpdateEnrolment")
def update_enrolment(params: Params, ctx: Context) -> Any:
    """Change the members given, or list every problem (docs/contract.md §3.6)."""
    args = group_enrolment.arguments("UpdateEnrolment", params)
    return answer("UpdateEnrolment", group_enrolment.update(ctx.db, args.get("user")))


@handles("GetProgress")
def get_progress(params: Params, ctx: Context) -> Any:
    """Unit-level progress, simulated from the sandbox clock (docs/contract.md §3.3;
    :mod:`.simulate`). Each unit's ``Outcomes`` is an empty array."""
    return answer("GetProgress", _progress("GetProgress", params, ctx, full=False))


@handles("GetProgressFull")
def get_progress_full(params: Params, ctx: Context) -> Any:
    """As GetProgress, each unit with its outcomes (docs/contract.md §3.3)."""
    return answer("GetProgressFull", _progress("GetProgressFull", params, ctx, full=True))


def _progress(name: str, params: Params, ctx: Context, *, full: bool) -> m.Progress:
    uuid = c.params_from_wire(c.operation(name), params).get("candidate_uuid")
    if not isinstance(uuid, str) or not uuid.strip():
        raise ProtocolError(f"{name} needs a CandidateUUID (a string)")
    found = simulate.progress_of(ctx.db, uuid.strip(), ctx.today(), full=full)
    if found is None:
        what = shown(uuid.strip())
        raise UserException(f"Unknown CandidateUUID {what}: LA has no such candidate")
    return found


def _first_error(name: str, exc: ValidationError) -> str:
    """The first problem, naming the parameter as the caller spelled it (its wire name)."""
    err = exc.errors()[0]
    attr = str(err["loc"][0]) if err["loc"] else ""
    try:
        where = c.operation(name).param(attr).name
    except KeyError:
        where = attr
    return f"{where}: {err['msg']}"
