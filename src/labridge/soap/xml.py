"""Hardened XML parsing: the only way labridge reads XML it did not write.

SOAP messages come from the network (the sandbox's clients, LA's answers) and ILR files from
providers, so the parser refuses everything a SOAP message never needs: DTDs (and with them entity
expansion, "billion laughs" and external entities), network access, processing instructions, and
oversized bodies. lxml's own depth and size limits stay on (``huge_tree`` is off).

A parsed tree costs far more memory than its bytes (a million ``<a/>`` in 4 MB take some 120 MB
as a tree), so :func:`parse` feeds the parser in chunks and counts elements and ``id`` attributes
(multiRef targets, docs/contract.md §5) as they arrive, refusing the message at a cap before the
tree is complete rather than after.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass
from typing import cast

from lxml import etree

from ..errors import ProtocolError

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_NODES = 1_000_000
DEFAULT_MAX_DEPTH = 100
#: The biggest legitimate answer within 16 MiB, a GetCandidates of ~16,000 learners, has about
#: 208,000 elements (the samples' dialect; 224,000 and 16,001 ids as ColdFusion sends it, which
#: needs a higher max_answer_mib): the caps leave room above that and stop a million-element body.
DEFAULT_MAX_ELEMENTS = 300_000
DEFAULT_MAX_IDS = 100_000
#: Bytes fed to the parser between two counts: the tree can pass a cap by at most one chunk.
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Limits:
    """Caps applied to every message: its size in bytes, the number of nodes decoding may expand
    (``href`` references can fan out, so the cap counts nodes after resolution), and how deep
    decoded values may nest (so that a chain of references cannot exhaust the stack)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_nodes: int = DEFAULT_MAX_NODES
    #: Nesting of decoded values, each ``href`` followed counting as a level.
    max_depth: int = DEFAULT_MAX_DEPTH
    #: Elements the parser may build, counted while parsing (before decoding begins).
    max_elements: int = DEFAULT_MAX_ELEMENTS
    #: ``id`` attributes (multiRef targets) the parser may meet, counted while parsing.
    max_ids: int = DEFAULT_MAX_IDS

    @classmethod
    def for_answers(cls, max_bytes: int, max_elements: int = DEFAULT_MAX_ELEMENTS) -> Limits:
        """The caps on LA's answers from ``[la] max_answer_mib`` and ``max_answer_elements``;
        the id cap follows the element cap (a third of it: one id per record is the most
        multiRef encoding uses)."""
        return cls(max_bytes=max_bytes, max_elements=max_elements, max_ids=max_elements // 3)


DEFAULT_LIMITS = Limits()


def _parser() -> etree.XMLPullParser:
    return etree.XMLPullParser(
        events=("start",),
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
    etree.clear_error_log()  # this thread's log: feed parsers report their first error there
    parser = _parser()
    counted = _Counts(limits)
    try:
        for start in range(0, len(data), _CHUNK):
            parser.feed(data[start : start + _CHUNK])
            for _event, element in parser.read_events():
                if isinstance(element, etree._Element):  # "start" events only
                    counted.element(element)
        root = parser.close()
    except etree.XMLSyntaxError as exc:
        raise ProtocolError(f"malformed XML: {_first_error(exc)}") from None
    _refuse_dtd_and_pis(root)
    return root


def _first_error(exc: etree.XMLSyntaxError) -> str:
    """The parser's first complaint: a feed parser raises its last one (``no element found``)."""
    for entry in cast("Iterable[etree._LogEntry]", exc.error_log):
        return f"{entry.message}, line {entry.line}, column {entry.column}"
    return str(exc)


class _Counts:
    """Elements and ids met so far; refuses the message the moment one passes its cap."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._elements = 0
        self._ids = 0

    def element(self, element: etree._Element) -> None:
        self._elements += 1
        if self._elements > self._limits.max_elements:
            raise ProtocolError(
                f"message has more than {self._limits.max_elements} elements "
                "(cap max_elements); refused while parsing",
                hint=_CAP_HINT,
            )
        if element.get("id") is not None:
            self._ids += 1
            if self._ids > self._limits.max_ids:
                raise ProtocolError(
                    f"message has more than {self._limits.max_ids} id attributes "
                    "(cap max_ids, a third of max_elements); refused while parsing",
                    hint=_CAP_HINT,
                )


_CAP_HINT = (
    "if LA's answers really are this big, raise [la] max_answer_elements in labridge.toml; "
    "otherwise the message is hostile or broken"
)


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
