"""Reading a CSV export of the provider's MIS.

The file is UTF-8, with or without a byte-order mark (Excel's "CSV UTF-8" writes one), unless
another encoding is named (``--encoding cp1252``, ``[source] encoding``: what many UK MIS
exports and Excel's plain "CSV (comma delimited)" write); a file that is not valid in its encoding
is refused naming the line and suggesting ``--encoding cp1252``. The
delimiter is a comma, a semicolon (what Excel writes where the decimal separator is a comma) or
a tab, chosen by which of them splits the header line into the most known columns. Headers are
matched to labridge's field names case-insensitively after the mapping's ``[columns]`` renames.

What happens to the awkward cases:

- A header with no column for a mandatory field (and no mapping default for it) stops the read
  with one error naming the columns found, the fields missing, and the ``[columns]`` lines that
  would map the closest headers to them: one wrong header is one message, not one per row.
- Columns that are neither a field nor in ``[columns]`` are ignored and named once in a warning
  on the ``labridge.sources.csv`` logger (the CLI shows warnings), so a typo in a header does
  not pass unnoticed.
- Blank lines, and rows whose cells are all empty (Excel's trailing ``;;;;`` rows), are not
  records.
- A row with more non-empty cells than the header has columns keeps the cells it can place and
  carries :data:`~labridge.sources.mapping.ERROR_FIELD` naming the line and the extra cells:
  validation reports the record as invalid, so the row still ends with an outcome and nothing
  is dropped unseen. Extra cells that are empty (trailing delimiters) are harmless and ignored.
- Anything that is not a readable CSV (a workbook, UTF-16, bytes that are not UTF-8, NUL bytes,
  no header, no known column, a quote never closed, a field past the size limit) stops the read
  with a :class:`~labridge.errors.ConfigurationError` naming the file, the line and the fix.

``units`` stays the raw ``;``-separated text: with ``;`` as the delimiter its cell must be quoted
(as Excel does by itself).
"""

from __future__ import annotations

import codecs
import csv
import difflib
import json
import logging
from collections.abc import Collection, Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import BinaryIO

from ..errors import ConfigurationError
from .mapping import ERROR_FIELD, SourceMapping
from .records import MANDATORY, SourceRecord, SourceRow

logger = logging.getLogger(__name__)

#: The longest physical line accepted: a guard against a binary or runaway file being read into
#: memory whole. Each field is also capped by the csv module's own limit (128 KiB by default).
MAX_LINE_BYTES = 1024 * 1024
#: Bytes looked at first to recognise a binary file or a workbook.
HEAD_BYTES = 8192

_DELIMITERS = (",", ";", "\t")
DEFAULT_ENCODING = "utf-8"
_SAVE_AS = 'save it from your MIS or spreadsheet as "CSV UTF-8 (comma delimited)"'
#: Signatures of files people export by mistake, and what they are.
_NOT_CSV = {
    b"PK\x03\x04": "an Excel workbook (or another ZIP archive)",
    b"\xd0\xcf\x11\xe0": "an old Excel workbook (.xls)",
    b"\xff\xfe": 'UTF-16 text (Excel\'s "Unicode Text")',
    b"\xfe\xff": "UTF-16 text",
    b"%PDF": "a PDF document",
}


def read_csv(
    path: Path | str,
    mapping: SourceMapping | None = None,
    *,
    required: Collection[str] = (),
    encoding: str = DEFAULT_ENCODING,
) -> Iterator[SourceRow]:
    """Yield one :class:`SourceRecord` per data row of the CSV file at ``path``, in file order.

    ``origin`` is ``"<file name> line <n>"``, the physical line (counting the header) on which the
    row starts; ``row`` counts data rows from 1. Values are stripped, not validated. A header with
    no column for a field of ``required`` (that the mapping does not fill) is refused at once
    (enrolling and updating pass :data:`~labridge.sources.records.MANDATORY`).
    """
    path = Path(path)
    mapping = mapping if mapping is not None else SourceMapping()
    encoding = check_encoding(encoding)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror or exc}") from None
    with handle:
        _check_head(path.name, handle.read(HEAD_BYTES))
        handle.seek(0)
        lines = _Lines(path.name, handle, encoding)
        header = lines.first_nonblank()
        delimiter = _sniff(path.name, header, mapping)
        reader = csv.reader(
            chain([header], lines), delimiter=delimiter, strict=True, skipinitialspace=True
        )
        columns = _columns(path.name, _next(reader, lines) or [], mapping, required)
        yield from _records(reader, lines, columns, mapping)


def check_encoding(name: str) -> str:
    """``name`` as Python's codec name, or a :class:`ConfigurationError` for an unknown one."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise ConfigurationError(
            f"{name!r} is not a text encoding Python knows",
            hint="use utf-8 (the default), cp1252 (Windows, most UK MIS exports) or latin-1",
        ) from None


def _wrong_encoding_hint(encoding: str) -> str:
    if encoding == DEFAULT_ENCODING:
        return (
            "the file was probably saved as Windows text: read it with --encoding cp1252 (or "
            f'[source] encoding = "cp1252" in labridge.toml), or {_SAVE_AS}'
        )
    return f"check which encoding your MIS writes and give it with --encoding, or {_SAVE_AS}"


def _check_head(name: str, head: bytes) -> None:
    """Refuse at once a file that is plainly not CSV text, saying what it looks like."""
    for magic, what in _NOT_CSV.items():
        if head.startswith(magic):
            raise ConfigurationError(f"{name} is {what}, not a CSV file", hint=_SAVE_AS)
    if b"\x00" in head:
        raise ConfigurationError(
            f"{name} is a binary file or UTF-16 text (it holds NUL bytes), not a CSV file",
            hint=_SAVE_AS,
        )


class _Lines:
    """The file's physical lines, decoded and checked one by one, so that every refusal names
    its line. ``number`` is the number of the last line handed out."""

    def __init__(self, name: str, handle: BinaryIO, encoding: str = DEFAULT_ENCODING) -> None:
        self.name = name
        self.handle = handle
        self.encoding = encoding
        self.number = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        raw = self.handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            raise StopIteration
        self.number += 1
        if self.number == 1:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        if len(raw) > MAX_LINE_BYTES:
            raise self.refuse(f"is longer than {MAX_LINE_BYTES} bytes", "this is not a CSV export")
        if b"\x00" in raw:
            raise self.refuse("contains NUL bytes: the file is binary, not text", _SAVE_AS)
        try:
            return raw.decode(self.encoding)
        except UnicodeDecodeError as exc:
            byte = raw[exc.start : exc.start + 1].hex()
            shown = "UTF-8" if self.encoding == DEFAULT_ENCODING else self.encoding
            problem = f"is not {shown} (byte 0x{byte} at column {exc.start + 1})"
            raise self.refuse(problem, _wrong_encoding_hint(self.encoding)) from None

    def first_nonblank(self) -> str:
        for line in self:
            if line.strip():
                return line
        raise ConfigurationError(
            f"{self.name} is empty: no header line",
            hint="the first line must name the columns, e.g. learner_id,forename,surname,...",
        )

    def refuse(self, problem: str, hint: str) -> ConfigurationError:
        return ConfigurationError(f"{self.name} line {self.number} {problem}", hint=hint)


def _sniff(name: str, header: str, mapping: SourceMapping) -> str:
    """The delimiter that splits ``header`` into the most known columns (comma on a tie)."""

    def known(delimiter: str) -> int:
        cells = next(csv.reader([header], delimiter=delimiter))
        return sum(mapping.rename(cell) is not None for cell in cells)

    best = max(_DELIMITERS, key=known)
    if not known(best):
        raise ConfigurationError(
            f"{name}: the header line has none of the expected columns "
            f"(found {header.strip()[:200]!r})",
            hint="name the columns "
            + ", ".join(mapping.expected_columns())
            + ", or map yours to them under [columns] in a mapping file",
        )
    return best


def _columns(
    name: str, header: Sequence[str], mapping: SourceMapping, required: Collection[str]
) -> list[str | None]:
    """The field each column holds (``None``: ignored), refusing two columns for one field."""
    columns = [mapping.rename(cell) if cell.strip() else None for cell in header]
    seen: dict[str, str] = {}
    for cell, field in zip(header, columns, strict=True):
        if field is None:
            continue
        if field in seen:
            raise ConfigurationError(
                f"{name}: columns {seen[field]!r} and {cell!r} both give the field {field}",
                hint="remove one of them, or rename one to another field under [columns]",
            )
        seen[field] = cell
    unknown = [c.strip() for c, f in zip(header, columns, strict=True) if f is None and c.strip()]
    missing = [f for f in required if f not in seen and not mapping.fills(f)]
    if missing:
        raise _wrong_header(name, [c.strip() for c in header if c.strip()], missing, unknown)
    if unknown:
        logger.warning(
            "%s: ignoring column(s) %s: not labridge fields (map them under [columns] in the "
            "mapping file if they hold one)",
            name,
            ", ".join(repr(c) for c in unknown),
        )
    return columns


def _wrong_header(
    name: str, found: list[str], missing: list[str], unknown: list[str]
) -> ConfigurationError:
    """One error for a header that lacks mandatory columns, with the fix spelled out."""
    guesses = _suggest(missing, unknown)
    lines = [f"{json.dumps(guesses.get(field) or 'YOUR COLUMN')} = {json.dumps(field)}"
             for field in missing]  # fmt: skip
    return ConfigurationError(
        f"{name}: the header has no column for {', '.join(missing)} "
        f"(columns found: {', '.join(repr(c) for c in found[:40])}; "
        f"mandatory: {', '.join(MANDATORY)})",
        hint="rename those columns in the file, or map them in a mapping file (--mapping) under "
        "[columns]: " + "; ".join(lines),
    )


def _suggest(missing: Sequence[str], headers: Sequence[str]) -> dict[str, str]:
    """The unknown header most like each missing field, each header used once: first a header
    holding every word of the field ("Date of Birth" for birth_date), then the closest spelling
    ("Learner Ref" for learner_id)."""
    free = {_squash(h): h for h in headers}
    guesses: dict[str, str] = {}
    for field in missing:
        words = field.split("_")
        key = next((k for k in free if all(w in k for w in words)), None)
        if key is not None:
            guesses[field] = free.pop(key)
    for field in missing:
        if field not in guesses:
            close = difflib.get_close_matches(_squash(field), list(free), n=1, cutoff=0.5)
            if close:
                guesses[field] = free.pop(close[0])
    return guesses


def _squash(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _records(
    reader: Iterator[list[str]], lines: _Lines, columns: list[str | None], mapping: SourceMapping
) -> Iterator[SourceRow]:
    row = 0
    start = lines.number + 1
    while (cells := _next(reader, lines, start)) is not None:
        if any(cell.strip() for cell in cells):
            row += 1
            origin = f"{lines.name} line {start}"
            yield SourceRecord(row, origin, mapping.apply(_fields(cells, columns, origin)))
        start = lines.number + 1


def _fields(cells: list[str], columns: list[str | None], origin: str) -> dict[str, str]:
    # A short row (trailing empty cells left out) simply lacks the last fields.
    pairs = zip(columns, cells, strict=False)
    fields = {f: cell.strip() for f, cell in pairs if f is not None}
    extra = [cell.strip() for cell in cells[len(columns) :]]
    if any(extra):
        shown = ", ".join(repr(cell) for cell in extra if cell)
        fields[ERROR_FIELD] = (
            f"{origin} has {len(cells)} cells but the header has {len(columns)} columns "
            f"(extra: {shown}); quote any cell that contains the delimiter, or add the "
            "missing column to the header"
        )
    return fields


def _next(reader: Iterator[list[str]], lines: _Lines, start: int = 0) -> list[str] | None:
    """The next row, or ``None`` at the end; the csv module's complaints name the line."""
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error as exc:
        where = f" (the row starting on line {start} has a quote that is not closed?)"
        raise lines.refuse(
            f"cannot be read as CSV: {exc}{where if start and start != lines.number else ''}",
            "check the quoting on that line; " + _SAVE_AS,
        ) from None
