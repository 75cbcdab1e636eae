"""The sandbox's two ways of speaking: LA's published samples, or a real ColdFusion server.

``samples`` (the default) answers in the tidy shape of LA's samples (:mod:`labridge.soap`,
:mod:`.wsdl_samples`). ``coldfusion`` answers as ColdFusion's Axis 1 does (docs/contract.md §5;
:mod:`.coldfusion`, :mod:`.wsdl_coldfusion`). Both read requests with the same codec, and the
stats, faults, clock and last-request hooks do not depend on the dialect.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from .. import contract as c
from .. import soap
from ..models import Token
from . import coldfusion, wsdl_coldfusion, wsdl_samples
from .defaults import Dialect


class Speaker(Protocol):
    """What a dialect writes: answers, faults and WSDLs."""

    def response(
        self, op: c.Operation, value: Any, *, token: Token | None, loggedin: str
    ) -> bytes: ...

    def fault(
        self,
        faultcode: str,
        text: str,
        *,
        header_namespace: str,
        thrown: bool = False,
        loggedin: str | None = None,
    ) -> bytes:
        """``thrown``: an exception the component itself raised (ColdFusion wraps those)."""
        ...

    def wsdl(self, service: c.Service, address: str, served: Iterable[str]) -> bytes: ...


class Samples:
    """LA's samples: what the sandbox has always answered."""

    def response(self, op: c.Operation, value: Any, *, token: Token | None, loggedin: str) -> bytes:
        return soap.encode_response(op, value, token=token, loggedin=loggedin)

    def fault(
        self,
        faultcode: str,
        text: str,
        *,
        header_namespace: str,
        thrown: bool = False,
        loggedin: str | None = None,
    ) -> bytes:
        return soap.encode_fault(
            faultcode, text, loggedin=loggedin, header_namespace=header_namespace
        )

    def wsdl(self, service: c.Service, address: str, served: Iterable[str]) -> bytes:
        return wsdl_samples.service_wsdl(service, address, served)


class ColdFusion:
    """A ColdFusion (Axis 1) server."""

    def response(self, op: c.Operation, value: Any, *, token: Token | None, loggedin: str) -> bytes:
        return coldfusion.encode_response(op, value, token=token, loggedin=loggedin)

    def fault(
        self,
        faultcode: str,
        text: str,
        *,
        header_namespace: str,
        thrown: bool = False,
        loggedin: str | None = None,
    ) -> bytes:
        faultstring = coldfusion.invocation_message(text) if thrown else text
        return coldfusion.encode_fault(
            faultcode, faultstring, loggedin=loggedin, header_namespace=header_namespace
        )

    def wsdl(self, service: c.Service, address: str, served: Iterable[str]) -> bytes:
        return wsdl_coldfusion.service_wsdl(service, address, served)


SPEAKERS: dict[Dialect, Speaker] = {Dialect.SAMPLES: Samples(), Dialect.COLDFUSION: ColdFusion()}
