"""Choosing the reader for a source file from what the file holds, not from its name.

An XML document (its first non-blank character, after any byte-order mark, is ``<``) is read as
an ILR file: :func:`~labridge.sources.ilr.read_ilr` accepts a root ``Message`` in a supported ILR
namespace and refuses anything else, naming what it found. Every other file is read as CSV. A SQL
source is chosen by the CLI's ``--sql`` flag, not here.
"""

from __future__ import annotations

import codecs
from collections.abc import Collection, Iterator
from pathlib import Path

from ..errors import ConfigurationError
from .csv import DEFAULT_ENCODING, read_csv
from .ilr import read_ilr
from .mapping import SourceMapping
from .records import SourceRow

#: Bytes read to tell XML from CSV: enough for a byte-order mark and leading whitespace.
SNIFF_BYTES = 4096


def open_source(
    path: Path | str,
    mapping: SourceMapping | None = None,
    course_qans: Collection[str] = (),
    *,
    required: Collection[str] = (),
    encoding: str = DEFAULT_ENCODING,
) -> Iterator[SourceRow]:
    """The records of the source file at ``path`` (CSV or ILR XML), read lazily. A CSV header
    must have a column for each of ``required`` and is read in ``encoding`` (see
    :func:`~labridge.sources.csv.read_csv`; an ILR file names its own encoding).

    Raises :class:`ConfigurationError` at once when the file does not exist or cannot be read;
    problems inside the file are raised by the reader as the records are read.
    """
    path = Path(path)
    if _looks_like_xml(_head(path)):
        return read_ilr(path, mapping, course_qans)
    return read_csv(path, mapping, required=required, encoding=encoding)


def _head(path: Path) -> bytes:
    if not path.exists():
        raise ConfigurationError(
            f"source file {path} does not exist", hint="check the SOURCE path of the command"
        )
    if path.is_dir():
        raise ConfigurationError(
            f"source {path} is a directory", hint="give a CSV or ILR XML file inside it"
        )
    try:
        with path.open("rb") as handle:
            return handle.read(SNIFF_BYTES)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read source file {path}: {exc.strerror or exc}",
            hint="check the file's permissions",
        ) from None


def _looks_like_xml(head: bytes) -> bool:
    return head.removeprefix(codecs.BOM_UTF8).lstrip().startswith(b"<")
