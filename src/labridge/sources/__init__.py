"""Where learners come from: CSV exports, a SQL query on the MIS database, and the ILR XML file.

Every reader yields, for each input row, either a :class:`SourceRecord` (to validate and enrol) or a
:class:`SkippedRecord` (with the reason), so that every row ends with a recorded outcome. A record
a reader could not read faithfully carries :data:`ERROR_FIELD` (what is wrong and the fix), which
validation reports as a problem.
"""

from __future__ import annotations

from .csv import read_csv
from .ilr import read_ilr
from .mapping import ERROR_FIELD, SourceMapping, load_mapping
from .open import open_source
from .records import FIELDS, SkippedRecord, SourceRecord, SourceRow
from .sql import read_sql

__all__ = [
    "ERROR_FIELD",
    "FIELDS",
    "SkippedRecord",
    "SourceMapping",
    "SourceRecord",
    "SourceRow",
    "load_mapping",
    "open_source",
    "read_csv",
    "read_ilr",
    "read_sql",
]
