"""Reports for people: enrolment outcomes (CSV), and learner progress (HTML with charts, CSV,
JSON)."""

from __future__ import annotations

from .enrolments import write_enrolments_csv, write_problems_csv
from .progress_report import (
    LearnerProgress,
    ProgressReport,
    ReportFormat,
    build_progress_report,
    progress_csv,
    progress_html,
    render_progress,
)

__all__ = [
    "LearnerProgress",
    "ProgressReport",
    "ReportFormat",
    "build_progress_report",
    "progress_csv",
    "progress_html",
    "render_progress",
    "write_enrolments_csv",
    "write_problems_csv",
]
