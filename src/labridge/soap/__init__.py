"""The SOAP codec: hardened parsing, section-5 encoding and multiRef decoding. No I/O."""

from __future__ import annotations

from .decode import Header, Request, Response, decode_request, decode_response
from .encode import encode_fault, encode_request, encode_response
from .xml import DEFAULT_LIMITS, Limits, parse

__all__ = [
    "DEFAULT_LIMITS",
    "Header",
    "Limits",
    "Request",
    "Response",
    "decode_request",
    "decode_response",
    "encode_fault",
    "encode_request",
    "encode_response",
    "parse",
]
