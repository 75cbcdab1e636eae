"""Where learners come from: CSV exports, a SQL query on the MIS database, and the ILR XML file.

Every reader yields, for each input row, either a :class:`SourceRecord` (to validate and enrol) or a
:class:`SkippedRecord` (with the reason), so that every row ends with a recorded outcome.
"""

from __future__ import annotations

from .records import FIELDS, SkippedRecord, SourceRecord, SourceRow

__all__ = ["FIELDS", "SkippedRecord", "SourceRecord", "SourceRow"]
