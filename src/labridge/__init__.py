"""labridge: connect a training provider's MIS to the Learning Assistant e-portfolio."""

from __future__ import annotations

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

__version__ = "0.1.0"

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
