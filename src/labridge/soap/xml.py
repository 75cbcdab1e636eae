"""Hardened XML parsing: the only way labridge reads XML it did not write.

SOAP messages come from the network (the sandbox's clients, LA's answers) and ILR files from
providers, so the parser refuses everything a SOAP message never needs: DTDs (and with them entity
expansion, "billion laughs" and external entities), network access, processing instructions, and
oversized bodies. lxml's own depth and size limits stay on (``huge_tree`` is off).
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from dataclasses import dataclass

from lxml import etree

from ..errors import ProtocolError

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_NODES = 1_000_000
DEFAULT_MAX_DEPTH = 100


@dataclass(frozen=True)
class Limits:
    """Caps applied to every message: its size in bytes, the number of nodes decoding may expand
    (``href`` references can fan out, so the cap counts nodes after resolution), and how deep
    decoded values may nest (so that a chain of references cannot exhaust the stack)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_nodes: int = DEFAULT_MAX_NODES
    #: Nesting of decoded values, each ``href`` followed counting as a level.
    max_depth: int = DEFAULT_MAX_DEPTH


DEFAULT_LIMITS = Limits()


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=False,  # kept so that we can see them and refuse the message
    )


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> etree._Element:
    """Parse ``data`` or raise :class:`ProtocolError` saying why it was refused."""
    if len(data) > limits.max_bytes:
        raise ProtocolError(f"message of {len(data)} bytes exceeds the limit of {limits.max_bytes}")
    if not data.strip():
        raise ProtocolError("empty message: expected a SOAP envelope")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise ProtocolError(f"malformed XML: {exc}") from None
    _refuse_dtd_and_pis(root)
    return root


def _refuse_dtd_and_pis(root: etree._Element) -> None:
    docinfo = root.getroottree().docinfo
    if getattr(docinfo, "doctype", "") or docinfo.internalDTD is not None:
        raise ProtocolError("XML with a DOCTYPE is refused (no DTDs or entities in SOAP)")
    for node in (*root.itersiblings(preceding=True), *root.itersiblings()):
        if isinstance(node, etree._ProcessingInstruction):
            raise ProtocolError("XML processing instructions are refused")
    if next(root.iter(etree.ProcessingInstruction), None) is not None:
        raise ProtocolError("XML processing instructions are refused")
    if next(root.iter(etree.Entity), None) is not None:
        raise ProtocolError("XML entity references are refused")


async def collect_capped(chunks: AsyncIterable[bytes], max_bytes: int, what: str) -> bytes:
    """Join a streamed body, refusing it as soon as it passes ``max_bytes`` (so an endless or
    oversized body is never held whole). ``what`` names it in the error."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise ProtocolError(f"{what} exceeds the limit of {max_bytes} bytes")
        parts.append(chunk)
    return b"".join(parts)


def local(tag: object) -> str:
    """The local part of an element's tag (``{ns}name`` → ``name``)."""
    text = str(tag)
    return text.rsplit("}", 1)[-1]
