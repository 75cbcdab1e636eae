"""The mapping file: how a provider's own column names, codes and gaps become labridge fields.

A mapping is TOML (see ``examples/mapping.toml`` and ``examples/ilr-mapping.toml``)::

    [columns]                      # source column → labridge field (source names: any case)
    "Learner Ref" = "learner_id"

    [values.gender]                # raw value → replacement, per field (raw values: any case)
    "1" = "M"

    [defaults]                     # field → value when the record lacks it (absent or empty)
    verifier = "mark.hollins@northgate-training.co.uk"

    [by_course."Business Administrator Level 3 (ST0070)"]   # fills by the record's course
    assessor = "sarah.whitfield@northgate-training.co.uk"

    [by_employer."105000123"]      # fills by the ILR EmpId
    company = "Aire Valley Logistics Ltd"

    [ilr.standards]                # ILR StdCode → course (CourseUUID, QAN or course name)
    "196" = "Business Administrator Level 3 (ST0070)"

    [ilr.aims]                     # ILR LearnAimRef (or QAN) → course
    "60171605" = "601/7160/5"

    [ilr.employers]                # ILR EmpId → company (CompanyUUID or company name)
    "105000123" = "Aire Valley Logistics Ltd"

Applying a mapping is pure: readers call :meth:`SourceMapping.rename` on each header, then
:meth:`SourceMapping.apply` on each record, which maps values first and fills gaps after, so
that ``[by_course]`` keys are compared with the course as mapped. An empty ``SourceMapping()``
changes nothing. (The class is not called ``Mapping``: that is :class:`collections.abc.Mapping`.)
"""

from __future__ import annotations

import tomllib
from collections import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from .records import ERROR_FIELD, FIELDS

__all__ = ["ERROR_FIELD", "SourceMapping", "load_mapping", "parse_mapping"]

Table = dict[str, str]

_SECTIONS = ("columns", "values", "defaults", "by_course", "by_employer", "ilr")
_ILR_SECTIONS = ("standards", "aims", "employers")


def fold(text: str) -> str:
    """The form in which names and values are compared: trimmed and case-folded."""
    return text.strip().casefold()


def aim_key(reference: str) -> str:
    """A LearnAimRef or QAN normalised for comparison: ``603/1234/5`` and ``60312345`` agree."""
    return reference.upper().replace("/", "").replace(" ", "")


@dataclass(frozen=True)
class SourceMapping:
    """A loaded mapping file. Keys are stored already normalised (see :func:`load_mapping`)."""

    columns: abc.Mapping[str, str] = field(default_factory=dict)
    values: abc.Mapping[str, abc.Mapping[str, str]] = field(default_factory=dict)
    defaults: abc.Mapping[str, str] = field(default_factory=dict)
    by_course: abc.Mapping[str, abc.Mapping[str, str]] = field(default_factory=dict)
    by_employer: abc.Mapping[str, abc.Mapping[str, str]] = field(default_factory=dict)
    standards: abc.Mapping[str, str] = field(default_factory=dict)
    aims: abc.Mapping[str, str] = field(default_factory=dict)
    employers: abc.Mapping[str, str] = field(default_factory=dict)

    def rename(self, header: str) -> str | None:
        """The labridge field a source column holds, or ``None`` when it holds none.

        A ``[columns]`` entry wins over a header that happens to be a field name already."""
        key = fold(header)
        if key in self.columns:
            return self.columns[key]
        return key if key in FIELDS else None

    def fills(self, name: str) -> bool:
        """Whether the mapping may give field ``name`` a value when the source has none."""
        tables = (self.defaults, *self.by_course.values(), *self.by_employer.values())
        return any(name in table for table in tables)

    def expected_columns(self) -> list[str]:
        """Every column name a source may use: the field names and the ``[columns]`` names."""
        return sorted({*FIELDS, *self.columns})

    def map_values(self, fields: abc.Mapping[str, str]) -> dict[str, str]:
        """``fields`` with each value replaced per ``[values.<field>]`` (compared case-folded)."""
        mapped = dict(fields)
        for name, value in fields.items():
            table = self.values.get(name)
            if table is not None and fold(value) in table:
                mapped[name] = table[fold(value)]
        return mapped

    def fill(self, fields: abc.Mapping[str, str], *, employer: str = "") -> dict[str, str]:
        """``fields`` with every absent or empty field filled from, in order of precedence,
        ``[by_course.<course>]``, ``[by_employer.<employer>]`` and ``[defaults]``."""
        filled = dict(fields)
        layers = (
            self.by_course.get(fold(fields.get("course", "")), {}),
            self.by_employer.get(employer.strip(), {}),
            self.defaults,
        )
        for layer in layers:
            for name, value in layer.items():
                if not filled.get(name):
                    filled[name] = value
        return filled

    def apply(self, fields: abc.Mapping[str, str], *, employer: str = "") -> dict[str, str]:
        """Map values, then fill gaps: what every reader does to each record."""
        return self.fill(self.map_values(fields), employer=employer)

    def course_for_standard(self, std_code: str) -> str | None:
        return self.standards.get(std_code.strip())

    def course_for_aim(self, learn_aim_ref: str) -> str | None:
        return self.aims.get(aim_key(learn_aim_ref))

    def company_for_employer(self, emp_id: str) -> str | None:
        return self.employers.get(emp_id.strip())


def load_mapping(path: Path | str) -> SourceMapping:
    """Read and check a mapping file, or raise :class:`ConfigurationError` saying what to fix."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(
            f"mapping file {path} does not exist", hint="check the --mapping path"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            f"cannot read mapping file {path}: {exc}", hint="give a UTF-8 TOML file"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(
            f"mapping file {path} is not valid TOML: {exc}",
            hint="see examples/mapping.toml for the syntax",
        ) from None
    except RecursionError:
        # tomllib parses nested arrays and inline tables recursively: a file nested thousands
        # deep exhausts Python's stack. No mapping is more than three tables deep.
        raise ConfigurationError(
            f"mapping file {path} is nested too deeply to be a mapping",
            hint='see examples/mapping.toml: a mapping is tables of "key" = "value" lines',
        ) from None
    return parse_mapping(data, source=str(path))


def parse_mapping(data: abc.Mapping[str, Any], source: str = "the mapping") -> SourceMapping:
    """Build a :class:`SourceMapping` from parsed TOML; ``source`` names the file in errors."""
    check = _Checker(source)
    check.known(data, _SECTIONS, "")
    ilr = check.table(data, "ilr")
    check.known(ilr, _ILR_SECTIONS, "ilr.")
    columns = check.strings(data, "columns")
    return SourceMapping(
        columns={fold(k): check.field_name(v, f"columns.{k}") for k, v in columns.items()},
        values=check.per_field(data, "values"),
        defaults=check.fields(data, "defaults"),
        by_course=check.fills(data, "by_course", fold),
        by_employer=check.fills(data, "by_employer", str.strip),
        standards=check.keyed(ilr, "standards", str.strip, "ilr."),
        aims=check.keyed(ilr, "aims", aim_key, "ilr."),
        employers=check.keyed(ilr, "employers", str.strip, "ilr."),
    )


class _Checker:
    """Shape checks of parsed TOML whose errors name the file, the key and the fix."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, key: str, problem: str, fix: str) -> ConfigurationError:
        return ConfigurationError(f"{self.source}: [{key}] {problem}", hint=fix)

    def known(self, data: abc.Mapping[str, Any], names: tuple[str, ...], prefix: str) -> None:
        for name in data:
            if name not in names:
                listed = ", ".join(f"[{prefix}{n}]" for n in names)
                raise self.error(
                    f"{prefix}{name}",
                    "is not a section labridge knows",
                    f"the sections are {listed}",
                )

    def table(self, data: abc.Mapping[str, Any], name: str, prefix: str = "") -> dict[str, Any]:
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise self.error(
                f"{prefix}{name}",
                "must be a table",
                f'write it as [{prefix}{name}] followed by "key" = "value" lines',
            )
        return value

    def strings(self, data: abc.Mapping[str, Any], name: str, prefix: str = "") -> Table:
        """A table of text values; integers are accepted (``"1" = 10``) and made text."""
        out: Table = {}
        for key, value in self.table(data, name, prefix).items():
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise self.error(
                    f"{prefix}{name}",
                    f"{key[:80]!r} must be a text value, not {_kind(value)}",
                    f'write it as "{key}" = "..."',
                )
            out[key] = str(value).strip()
        return out

    def keyed(
        self, data: abc.Mapping[str, Any], name: str, key: abc.Callable[[str], str], prefix: str
    ) -> Table:
        return {key(k): v for k, v in self.strings(data, name, prefix).items()}

    def fields(self, data: abc.Mapping[str, Any], name: str, prefix: str = "") -> Table:
        """A table of field → value, every key a labridge field name."""
        table = self.strings(data, name, prefix)
        return {self.field_name(k, f"{prefix}{name}"): v for k, v in table.items()}

    def per_field(self, data: abc.Mapping[str, Any], name: str) -> dict[str, Table]:
        """``[values.<field>]``: per field, raw value (case-folded) → replacement."""
        tables = self.table(data, name)
        return {
            self.field_name(field_, f"{name}.{field_}"): self.keyed(
                tables, field_, fold, f"{name}."
            )
            for field_ in tables
        }

    def fills(
        self, data: abc.Mapping[str, Any], name: str, key: abc.Callable[[str], str]
    ) -> dict[str, Table]:
        """``[by_course.<course>]`` / ``[by_employer.<EmpId>]``: per key, field → value."""
        tables = self.table(data, name)
        return {key(k): self.fields(tables, k, f"{name}.") for k in tables}

    def field_name(self, name: str, where: str) -> str:
        folded = fold(name)
        if folded not in FIELDS:
            raise self.error(
                where, f"{name!r} is not a labridge field", f"use one of: {', '.join(FIELDS)}"
            )
        return folded


def _kind(value: object) -> str:
    """What a TOML value is, for an error: its kind, not the value (it may be huge)."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"
