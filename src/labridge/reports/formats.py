"""The formats a report is written in, apart from the reports themselves so that
``labridge progress report --help`` lists them without importing Jinja2 or the store."""

from __future__ import annotations

from enum import StrEnum


class ReportFormat(StrEnum):
    html = "html"
    csv = "csv"
    json = "json"
