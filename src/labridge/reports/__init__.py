"""Reports for people: enrolment outcomes (CSV), the to-do list of problems, and learner
progress (HTML with charts, CSV, JSON). Names are imported on first use, so that the CLI's
``--help`` does not load Jinja2 or the store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attributes

if TYPE_CHECKING:
    from .enrolments import write_enrolments_csv, write_problems_csv
    from .fleet_report import fleet_html
    from .formats import ReportFormat
    from .progress_report import (
        LearnerProgress,
        ProgressReport,
        build_progress_report,
        progress_csv,
        progress_html,
        render_progress,
    )

__getattr__, __dir__ = attributes(
    __name__,
    {
        "LearnerProgress": (".progress_report", "LearnerProgress"),
        "ProgressReport": (".progress_report", "ProgressReport"),
        "ReportFormat": (".formats", "ReportFormat"),
        "fleet_html": (".fleet_report", "fleet_html"),
        "build_progress_report": (".progress_report", "build_progress_report"),
        "progress_csv": (".progress_report", "progress_csv"),
        "progress_html": (".progress_report", "progress_html"),
        "render_progress": (".progress_report", "render_progress"),
        "write_enrolments_csv": (".enrolments", "write_enrolments_csv"),
        "write_problems_csv": (".enrolments", "write_problems_csv"),
    },
    (
        "charts",
        "enrolments",
        "fleet_report",
        "formats",
        "labels",
        "problems",
        "progress_report",
        "spreadsheet",
    ),
)

__all__ = [
    "LearnerProgress",
    "ProgressReport",
    "ReportFormat",
    "build_progress_report",
    "fleet_html",
    "progress_csv",
    "progress_html",
    "render_progress",
    "write_enrolments_csv",
    "write_problems_csv",
]
