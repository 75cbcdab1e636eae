"""labridge: connect a training provider's MIS to the Learning Assistant e-portfolio."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .client import AsyncClient, Client
from .errors import (
    AuthenticationError,
    AuthenticationFault,
    ConfigurationError,
    LabridgeError,
    Problem,
    ProtocolError,
    RefusedError,
    SoapFault,
    TransportError,
)

try:  # the version lives in one place, pyproject.toml; the installed metadata carries it
    __version__ = version("labridge")
except PackageNotFoundError:  # pragma: no cover - running from a source tree never installed
    __version__ = "0+unknown"

__all__ = [
    "AsyncClient",
    "AuthenticationError",
    "AuthenticationFault",
    "Client",
    "ConfigurationError",
    "LabridgeError",
    "Problem",
    "ProtocolError",
    "RefusedError",
    "SoapFault",
    "TransportError",
]
