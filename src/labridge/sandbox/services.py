"""One handler per LA operation the sandbox serves (la-api.md §3).

A handler is a plain function taking the decoded wire parameters (keyed by wire name, as
:func:`labridge.soap.decode_request` gives them) and the sandbox database, and returning the wire
value of ``<Op>Return``. :data:`HANDLERS` maps operation names to handlers; an operation is served
(and listed in the WSDL) exactly when it has one, so later operations are added by registering a
handler here.

These are LA's rules as the sandbox plays them, written apart from labridge's own validation
(design.md, "The sandbox is LA, not a mirror of our client").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .. import contract as c
from .. import models as m
from ..errors import ProtocolError
from . import enrolment

if TYPE_CHECKING:
    from .db import SandboxDB

Params = Mapping[str, Any]
Handler = Callable[[Params, "SandboxDB"], Any]

HANDLERS: dict[str, Handler] = {}


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
def authenticate(params: Params, db: SandboxDB) -> Login:
    """Right credentials → ``YES`` and a session; wrong ones → ``NO`` (la-api.md §2, §3.1)."""
    args = c.params_from_wire(c.operation("Authenticate"), params)
    username, password = _text(args.get("username")), _text(args.get("password"))
    if db.check_password(username, password):
        return Login(c.YES, username)
    return Login(c.NO)


@handles("GetFrameworks")
def get_frameworks(params: Params, db: SandboxDB) -> Any:
    return answer("GetFrameworks", db.frameworks())


@handles("GetTrainers")
def get_trainers(params: Params, db: SandboxDB) -> Any:
    return answer("GetTrainers", db.trainers())


@handles("GetNationalities")
def get_nationalities(params: Params, db: SandboxDB) -> Any:
    return answer("GetNationalities", db.nationalities())


@handles("GetEthnicities")
def get_ethnicities(params: Params, db: SandboxDB) -> Any:
    return answer("GetEthnicities", db.ethnicities())


@handles("GetCompanies")
def get_companies(params: Params, db: SandboxDB) -> Any:
    return answer("GetCompanies", db.companies())


@handles("GetCandidates")
def get_candidates(params: Params, db: SandboxDB) -> Any:
    """An absent or nil parameter takes LA's default; an empty CourseQAN means every course
    (la-api.md §3.3 [INF])."""
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
        db.candidates(
            course_qan=query.course_qan,
            active=query.active,
            completed=query.completed,
            test=query.test,
        ),
    )


@handles("GroupEnrolment")
def group_enrolment(params: Params, db: SandboxDB) -> Any:
    """Enrol one learner, or list every problem (la-api.md §3.5; rules in :mod:`.enrolment`).
    ``blnAssignEvaluationOnEnroll`` is accepted and has no effect in the sandbox."""
    args = enrolment.arguments("GroupEnrolment", params)
    send = bool(args.get("send_login_details"))
    return answer("GroupEnrolment", enrolment.enrol(db, args.get("user"), send_login_details=send))


@handles("UpdateEnrolment")
def update_enrolment(params: Params, db: SandboxDB) -> Any:
    """Change the members given, or list every problem (la-api.md §3.6)."""
    args = enrolment.arguments("UpdateEnrolment", params)
    return answer("UpdateEnrolment", enrolment.update(db, args.get("user")))


def _first_error(name: str, exc: ValidationError) -> str:
    """The first problem, naming the parameter as the caller spelled it (its wire name)."""
    err = exc.errors()[0]
    attr = str(err["loc"][0]) if err["loc"] else ""
    try:
        where = c.operation(name).param(attr).name
    except KeyError:
        where = attr
    return f"{where}: {err['msg']}"
