"""CSV that is safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula: a learner's name or e-mail typed as
``=HYPERLINK("https://evil.example", "click")`` in the MIS would become a live link (or worse) in
the report a data officer opens. Following OWASP's advice on CSV injection, such a text cell is
written with a single quote in front, which spreadsheets show as text and never evaluate. Numbers
stay numbers: only text cells are touched.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, Protocol

#: What makes a spreadsheet treat a cell as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Writable(Protocol):
    def write(self, s: str, /) -> Any: ...


def safe_cell(value: object) -> object:
    """``value``, with a leading quote when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeWriter:
    """A :func:`csv.writer` whose every text cell goes through :func:`safe_cell`."""

    def __init__(self, fh: _Writable) -> None:
        self._writer = csv.writer(fh)

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([safe_cell(value) for value in row])
