"""The mapping file: loading, its refusals, and what applying it does to a record."""

from __future__ import annotations

from pathlib import Path

import pytest

from labridge.errors import ConfigurationError
from labridge.sandbox import seed
from labridge.sources import FIELDS, SourceMapping, load_mapping
from labridge.sources.mapping import parse_mapping

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def write(tmp_path: Path, text: str, name: str = "mapping.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_an_empty_mapping_is_the_identity() -> None:
    mapping = SourceMapping()
    fields = {"learner_id": "L1", "gender": "1", "course": "BA3", "assessor": ""}
    assert mapping.apply(fields) == fields
    assert [mapping.rename(name) for name in FIELDS] == list(FIELDS)
    assert mapping.rename(" Forename ") == "forename"
    assert mapping.rename("Notes") is None


def test_columns_rename_case_insensitively_and_win_over_field_names() -> None:
    mapping = parse_mapping(
        {"columns": {"Learner Ref": "learner_id", "Email": "line_manager_email"}}
    )
    assert mapping.rename("  LEARNER REF ") == "learner_id"
    assert mapping.rename("email") == "line_manager_email"
    assert mapping.rename("surname") == "surname"
    assert "learner ref" in mapping.expected_columns()


def test_values_are_mapped_case_insensitively_per_field() -> None:
    mapping = parse_mapping({"values": {"gender": {"1": "M", "Female": "F"}}})
    assert mapping.map_values({"gender": " FEMALE ", "forename": "1"}) == {
        "gender": "F",
        "forename": "1",
    }
    assert mapping.map_values({"gender": "1"}) == {"gender": "M"}
    assert mapping.map_values({"gender": "X"}) == {"gender": "X"}


def test_fill_takes_by_course_then_by_employer_then_defaults() -> None:
    mapping = parse_mapping(
        {
            "by_course": {"  Business Admin ": {"assessor": "course-a@example.com"}},
            "by_employer": {"105000123": {"assessor": "emp-a@example.com", "verifier": "emp-v"}},
            "defaults": {"assessor": "def-a", "verifier": "def-v", "nationality": "British"},
        }
    )
    filled = mapping.fill({"course": "business admin", "assessor": ""}, employer="105000123")
    assert filled == {
        "course": "business admin",
        "assessor": "course-a@example.com",
        "verifier": "emp-v",
        "nationality": "British",
    }
    assert mapping.fill({"course": "Other", "verifier": "mine"})["verifier"] == "mine"
    assert mapping.fill({"course": "Other"})["assessor"] == "def-a"


def test_apply_maps_values_before_filling_by_course() -> None:
    mapping = parse_mapping(
        {
            "values": {"course": {"BA3": "Business Administrator Level 3 (ST0070)"}},
            "by_course": {"Business Administrator Level 3 (ST0070)": {"verifier": "v@x"}},
        }
    )
    assert mapping.apply({"course": "ba3"}) == {
        "course": "Business Administrator Level 3 (ST0070)",
        "verifier": "v@x",
    }


def test_ilr_lookups_normalise_their_keys() -> None:
    mapping = parse_mapping(
        {
            "ilr": {
                "standards": {"196": "BA"},
                "aims": {"601/7160/5": "BTEC"},
                "employers": {" 105000123 ": "Aire"},
            }
        }
    )
    assert mapping.course_for_standard("196") == "BA"
    assert mapping.course_for_standard("197") is None
    assert mapping.course_for_aim("60171605") == "BTEC"
    assert mapping.course_for_aim("601/7160/5") == "BTEC"
    assert mapping.company_for_employer("105000123") == "Aire"


def test_integers_are_accepted_as_text(tmp_path: Path) -> None:
    path = write(tmp_path, "[defaults]\nemployment_status = 10\n[ilr.standards]\n196 = 'BA'\n")
    mapping = load_mapping(path)
    assert mapping.defaults == {"employment_status": "10"}
    assert mapping.course_for_standard("196") == "BA"


@pytest.mark.parametrize("name", ["mapping.toml", "ilr-mapping.toml"])
def test_the_examples_load(name: str) -> None:
    load_mapping(EXAMPLES / name)


def test_the_ilr_example_names_what_the_sandbox_seeds() -> None:
    mapping = load_mapping(EXAMPLES / "ilr-mapping.toml")
    courses = {c.name for c in seed.COURSES} | {c.qan for c in seed.COURSES}
    trainers = {t.email for t in seed.TRAINERS if t.active}
    companies = [c.name for c in seed.COMPANIES]
    assert set(mapping.standards.values()) | set(mapping.aims.values()) <= courses
    assert set(mapping.employers.values()) <= set(companies)
    fills = [*mapping.by_course.values(), *mapping.by_employer.values(), mapping.defaults]
    for fill in fills:
        assert {fill[k] for k in ("assessor", "verifier") if k in fill} <= trainers
        assert fill.get("company", companies[0]) in companies
    assert {k.casefold() for k in courses} >= set(mapping.by_course)


def test_the_csv_example_names_what_the_sandbox_seeds() -> None:
    mapping = load_mapping(EXAMPLES / "mapping.toml")
    courses = {c.name.casefold() for c in seed.COURSES} | {c.qan for c in seed.COURSES}
    trainers = {t.email for t in seed.TRAINERS if t.active}
    assert set(mapping.by_course) <= courses
    assert {v.casefold() for v in mapping.values["course"].values()} <= courses
    for fill in [*mapping.by_course.values(), mapping.defaults]:
        assert {fill[k] for k in ("assessor", "verifier") if k in fill} <= trainers


# --- refusals: each names the file, the key and the fix ---------------------------------------


def refusal(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigurationError) as caught:
        load_mapping(path)
    message = str(caught.value)
    assert str(path) in message
    return message


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"nope\.toml does not exist"):
        load_mapping(tmp_path / "nope.toml")


def test_invalid_toml_is_refused(tmp_path: Path) -> None:
    assert "is not valid TOML" in refusal(tmp_path, "[columns\n")


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mapping.toml"
    path.write_bytes(b"[defaults]\nnationality = '\xe9'\n")
    with pytest.raises(ConfigurationError, match="cannot read mapping file"):
        load_mapping(path)


def test_an_unknown_section_is_refused_listing_the_sections(tmp_path: Path) -> None:
    message = refusal(tmp_path, "[colums]\n'A' = 'forename'\n")
    assert "[colums] is not a section" in message
    assert "[columns]" in message
    assert "[by_course]" in message


def test_an_unknown_ilr_section_is_refused(tmp_path: Path) -> None:
    message = refusal(tmp_path, "[ilr.standard]\n'196' = 'BA'\n")
    assert "[ilr.standard]" in message
    assert "[ilr.standards]" in message


def test_an_unknown_target_field_is_refused_listing_the_fields(tmp_path: Path) -> None:
    message = refusal(tmp_path, "[columns]\n'First Name' = 'first_name'\n")
    assert "[columns.First Name] 'first_name' is not a labridge field" in message
    assert ", ".join(FIELDS) in message


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("[defaults]\nteacher = 'x'\n", "[defaults]"),
        ("[values.sex]\n'1' = 'M'\n", "[values.sex]"),
        ("[by_course.'BA']\ntutor = 'x'\n", "[by_course.BA]"),
        ("[by_employer.'1']\nemployer = 'x'\n", "[by_employer.1]"),
    ],
)
def test_unknown_fields_are_refused_everywhere(tmp_path: Path, text: str, where: str) -> None:
    message = refusal(tmp_path, text)
    assert where in message
    assert "is not a labridge field" in message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("columns = 'forename'\n", "[columns] must be a table"),
        ("[values]\ngender = 'M'\n", "[values.gender] must be a table"),
        ("[defaults]\nassessor = ['a', 'b']\n", "'assessor' must be a text value"),
        ("[defaults]\nuln = 1.5\n", "'uln' must be a text value"),
        ("[ilr.standards]\n'196' = true\n", "'196' must be a text value"),
    ],
)
def test_values_of_the_wrong_shape_are_refused(tmp_path: Path, text: str, problem: str) -> None:
    assert problem in refusal(tmp_path, text)
