"""Words for people: LA's learner statuses and the report's standings as a data officer says them,
and dates written out. One place, so the HTML and CSV reports (and any table) name things alike;
JSON keeps LA's raw values.
"""

from __future__ import annotations

import re
from datetime import date

#: LA's learner statuses (docs/contract.md §3.3) in plain words.
STATUS_NAMES = {
    "Active": "In learning",
    "BreakInLearning": "Break in learning",
    "Completed": "Completed",
    "Withdrawn": "Withdrawn",
}

#: The report's standings of a learner against their plan (see :mod:`.progress_report`), in words.
STANDING_NAMES = {
    "on_track": "on track",
    "behind": "behind",
    "not_started": "not started yet",
    "completed": "completed",
    "not_judged": "not judged",
}

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def status_name(raw: str) -> str:
    """``BreakInLearning`` -> ``Break in learning``; a status LA adds later is split into words
    rather than shown raw; an empty status stays empty."""
    if raw in STATUS_NAMES:
        return STATUS_NAMES[raw]
    words = re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", raw)
    if not words:
        return raw
    return " ".join([words[0].capitalize(), *(w.lower() for w in words[1:])])


def standing_name(standing: str) -> str:
    return STANDING_NAMES.get(standing, standing)


def day_text(day: date) -> str:
    """``1 Sep 2025``: unambiguous for UK readers, and independent of the process's locale."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def month_text(day: date) -> str:
    """``Sep 2025``, for a time axis' ticks."""
    return f"{_MONTHS[day.month - 1]} {day.year}"
