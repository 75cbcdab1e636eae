"""Reports for people: enrolment outcomes (CSV), and later progress (HTML with charts, CSV, JSON)."""

from __future__ import annotations

from .enrolments import write_enrolments_csv

__all__ = ["write_enrolments_csv"]
