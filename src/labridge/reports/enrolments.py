"""The enrolment to-do list as CSV: one line per problem (or per learner when there is none), for
whoever fixes the source data in the MIS. Spreadsheet-safe (:mod:`.spreadsheet`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import ConfigurationError
from ..store.journal import Entry
from .problems import Item
from .spreadsheet import SafeWriter

COLUMNS = (
    "source_id",
    "course",
    "course_name",
    "state",
    "candidate_uuid",
    "origin",
    "field",
    "code",
    "message",
    "updated_at",
)


PROBLEM_COLUMNS = (
    "source_id",
    "course",
    "course_name",
    "course_qan",
    "state",
    "origin",
    "field",
    "code",
    "message",
    "fix",
    "updated_at",
)


def write_problems_csv(path: Path, items: Sequence[Item]) -> None:
    """The to-do list (``labridge enrolments --problems --csv``), one line per problem."""
    try:
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = SafeWriter(fh)
            writer.writerow(PROBLEM_COLUMNS)
            for item in items:
                row = item.as_dict()
                writer.writerow([row[col] for col in PROBLEM_COLUMNS])
    except OSError as exc:
        raise ConfigurationError(
            f"cannot write the to-do list to {path}: {exc.strerror or exc}",
            hint="give a writable file with --csv",
        ) from None


def write_enrolments_csv(
    path: Path, entries: Sequence[Entry], course_names: Mapping[str, str]
) -> None:
    """Write the list to ``path``; a path that cannot be written is a configuration error
    naming it (a missing directory, a directory, no permission, a full disk)."""
    try:
        _write(path, entries, course_names)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot write the CSV file {path}: {exc.strerror or exc}",
            hint="give --csv a file in a directory that exists and that you may write to",
        ) from None


def _write(path: Path, entries: Sequence[Entry], course_names: Mapping[str, str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = SafeWriter(fh)
        writer.writerow(COLUMNS)
        for e in entries:
            head = [e.source_id, e.course, course_names.get(e.course, ""), e.state]
            tail = [e.candidate_uuid or "", e.origin]
            when = e.updated_at.isoformat()
            for p in e.problems or [None]:
                problem = [p.field, p.code, p.message] if p else ["", "", ""]
                writer.writerow([*head, *tail, *problem, when])
