"""Hardened XML parsing: the only way labridge reads XML it did not write.

SOAP messages come from the network (the sandbox's clients, LA's answers) and ILR files from
providers, so the parser refuses everything a SOAP message never needs: DTDs (and with them entity
expansion, "billion laughs" and external entities), network access, processing instructions, and
oversized bodies. lxml's own depth and size limits stay on (``huge_tree`` is off).

A parsed tree costs far more memory than its bytes (a million ``<a/>`` in 4 MB take some 120 MB
as a tree), so :func:`parse` feeds the parser in chunks and counts elements and ``id`` attributes
(multiRef targets, docs/contract.md §5) as they arrive, refusing the message at a cap before the
tree is complete rather than after.

Most messages need no counting while parsing: a message with no more ``<`` bytes than the element
cap cannot build more elements than the cap, one with no more ``id="`` (after a space) than the id
cap cannot carry more ``id`` attributes, and one with no ``<!`` (DOCTYPE, comment, CDATA) and no
``<?`` after its XML declaration holds no DTD, entity or processing instruction. Such a message, in
UTF-8 or ASCII, is parsed in one call; every other one (other encodings, anything near a cap,
anything with a ``<!`` or a ``<?``) goes through the counting parser, which refuses exactly as
before, and so does a malformed one (to report the error as that parser words it). The bounds are
counted on the bytes before parsing begins, so the tree never exists past a cap on either path.
"""

from __future__ import annotations

import re
import threading
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass
from typing import Literal, cast

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


def _parser(
    events: tuple[Literal["start", "end"], ...] = ("start",),
) -> etree.XMLPullParser:
    """The hardened pull parser every message goes through."""
    return etree.XMLPullParser(
        events=events,
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
    return parse_message(data, limits)[0]


def parse_message(data: bytes, limits: Limits = DEFAULT_LIMITS) -> tuple[etree._Element, bool]:
    """:func:`parse`, and whether an ``id`` may be used twice in the message (``False`` only when
    its bytes show it is not: the decoder then indexes ids only if it meets an ``href``)."""
    if len(data) > limits.max_bytes:
        raise ProtocolError(f"message of {len(data)} bytes exceeds the limit of {limits.max_bytes}")
    if not data or data.isspace():
        raise ProtocolError("empty message: expected a SOAP envelope")
    if _plain(data, limits):
        ids, repeat = _ids(data)
        if ids <= limits.max_ids:
            try:
                root = etree.fromstring(data, _plain_parser())
            except etree.XMLSyntaxError:
                pass  # the counting parser below words the error as it always has
            else:
                if root.getroottree().docinfo.internalDTD is None:
                    return root, repeat
    return _parse_counting(data, limits), True


#: Where an ``id`` attribute could be (every one matches; other attributes and text may too).
_MAY_BE_ID = re.compile(rb"id\s*=\s*([\"'])")
_SPACE = frozenset(b" \t\r\n")


def _ids(data: bytes) -> tuple[int, bool]:
    """How many ``id`` attributes a plain message may hold, and whether one value may be used
    twice (``False`` when its bytes show it is not). Every ``id="..."`` after a space (attribute
    or text) counts; a value with an entity or character reference in it counts as a repeat."""
    seen: set[bytes] = set()
    count, repeat = 0, False
    for match in _MAY_BE_ID.finditer(data):
        if match.start() == 0 or data[match.start() - 1] not in _SPACE:
            continue  # another attribute's name ending in "id" (uuid=, x:id=)
        count += 1
        end = data.find(match.group(1), match.end())
        value = data[match.end() : end]
        if end == -1 or b"&" in value or value in seen:
            repeat = True
        seen.add(value)
    return count, repeat


#: An XML declaration at the very start, and the encoding it names if any.
_DECLARATION = re.compile(rb"<\?xml\s[^<>?]*\?>")
_ENCODING = re.compile(rb"encoding\s*=\s*[\"']([^\"']*)[\"']")
_PLAIN_ENCODINGS = frozenset({b"utf-8", b"utf8", b"us-ascii", b"ascii"})
#: ``!`` or ``?`` bytes looked at before giving up and counting: text may hold a few of them.
_MARKS_LOOKED_AT = 16


def _plain(data: bytes, limits: Limits) -> bool:
    """Whether ``data`` can be parsed without counting (see the module's docstring): UTF-8 or
    ASCII, no NUL (so not UTF-16 or UTF-32), no more ``<`` than the element cap, and no ``<!`` or
    ``<?`` past the XML declaration. (The id cap is :func:`_ids`'s.)"""
    if not data.startswith(b"<") or b"\0" in data:
        return False
    start = 0
    if data.startswith(b"<?xml") and data[5:6].isspace():
        declaration = _DECLARATION.match(data, 0, 512)
        if declaration is None:
            return False
        encoding = _ENCODING.search(declaration.group())
        if encoding is not None and encoding.group(1).lower() not in _PLAIN_ENCODINGS:
            return False
        start = declaration.end()
    # An element takes 4 bytes at least (<a/>), and a "<" each.
    if len(data) > 4 * limits.max_elements and data.count(b"<") > limits.max_elements:
        return False
    return not _marked(data, b"!", 0) and not _marked(data, b"?", start)


def _marked(data: bytes, mark: bytes, start: int) -> bool:
    """Whether ``<`` followed by ``mark`` may occur in ``data`` from ``start`` (``True`` too when
    ``mark`` occurs too often to look at every one)."""
    at = data.find(mark, start)
    for _ in range(_MARKS_LOOKED_AT):
        if at == -1:
            return False
        if at > 0 and data[at - 1] == 0x3C:  # "<"
            return True
        at = data.find(mark, at + 1)
    return at != -1


_local = threading.local()


def _plain_parser() -> etree.XMLParser:
    """This thread's parser for plain messages: lxml parsers must not be shared across threads."""
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=False,
        )
    return parser


def _parse_counting(data: bytes, limits: Limits) -> etree._Element:
    """Parse ``data`` in chunks, counting elements and ids as they arrive."""
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
