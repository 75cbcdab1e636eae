"""Answers already seen: a digest of an answer's Body, and its header read without its Body.

A sync asks LA for the same lists again and again, and most of the time LA answers exactly what it
answered before. The client keeps the digest of each answer's Body (the header carries the session
token, which changes); when the next answer's Body has the same digest, decoding it again would
only rebuild records the store already holds. :func:`header_only` reads the envelope up to the
Body, with the hardened parser of :mod:`labridge.soap.xml`, so that the answer is
still checked for what the header says (a ``loggedin="NO"`` answer is no data, whatever its Body)
and its token still renews the session.
"""

from __future__ import annotations

import hashlib
import re

from lxml import etree

from .. import contract as c
from ..errors import ProtocolError
from .decode import Header
from .decode import _header as header_of
from .xml import _parser

_ENVELOPE = f"{{{c.SOAP_ENV}}}Envelope"
_HEADER = f"{{{c.SOAP_ENV}}}Header"
#: The start of the Body element, under any prefix. The first match is at or before the real
#: Body: ``<`` cannot appear unescaped in text or attribute values, and a match inside a comment
#: only makes the digest cover more than the Body (the answer then never looks unchanged).
_BODY_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?Body[\s>/]")


def body_digest(data: bytes) -> str:
    """A digest of ``data`` from its Body on (of all of it when no Body start is found)."""
    found = _BODY_START.search(data)
    start = found.start() if found is not None else 0
    return hashlib.sha256(memoryview(data)[start:]).hexdigest()


def header_only(data: bytes) -> Header:
    """The header of the answer ``data``, read from the bytes before its Body; its Body is not
    parsed. Raises :class:`ProtocolError` when what comes before the Body is not an envelope's
    start."""
    found = _BODY_START.search(data)
    if found is None:
        raise ProtocolError("the SOAP envelope has no Body")
    parser = _parser(events=("start", "end"))
    try:
        parser.feed(data[: found.start()])
        # Only "start" and "end" were asked for: every event is an element's.
        events = [
            (event, el) for event, el in parser.read_events() if isinstance(el, etree._Element)
        ]
    except etree.XMLSyntaxError as exc:
        raise ProtocolError(f"LA's answer is not well-formed XML before its Body: {exc}") from None
    if not events or events[0][1].tag != _ENVELOPE:
        raise ProtocolError("expected a SOAP 1.1 Envelope before the Body")
    header = next((el for event, el in events if event == "end" and el.tag == _HEADER), None)
    return header_of(header)
