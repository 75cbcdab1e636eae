"""Tests of the pure UK data rules in labridge.validate.uk."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labridge.validate import uk
from labridge.validate.uk import InvalidValueError

# --- helpers ------------------------------------------------------------------------------------


def build_uln(first_nine: str) -> str | None:
    """Complete nine digits into a ULN, or None when no check digit fits.

    Uses HESA's ten-weight form (weights 10..1 over all ten digits, total mod 11 == 10) so that
    the test does not just repeat the module's own arithmetic.
    """
    for check in range(10):
        digits = first_nine + str(check)
        if sum(w * int(d) for w, d in zip(range(10, 0, -1), digits, strict=True)) % 11 == 10:
            return digits
    return None


first_nines = st.from_regex(r"[1-9][0-9]{8}", fullmatch=True)


@st.composite
def valid_ulns(draw: st.DrawFn) -> str:
    uln = build_uln(draw(first_nines.filter(lambda nine: build_uln(nine) is not None)))
    assert uln is not None
    return uln


def raises_with_fix(func: Callable[[str], object], value: str) -> InvalidValueError:
    with pytest.raises(InvalidValueError) as info:
        func(value)
    return info.value


# 1000000043 in Arabic-Indic digits: str.isdigit() accepts them, a ULN must not.
ARABIC_INDIC_ULN = "\u0661\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0664\u0663"

# --- ULN ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uln", ["9276308686", "1000000043", "1061485810", "1061486949", "9999999998"]
)
def test_known_valid_ulns(uln: str) -> None:
    assert uk.check_uln(uln) == uln


def test_uln_spaces_are_ignored() -> None:
    assert uk.check_uln(" 100 000 0043 ") == "1000000043"


@pytest.mark.parametrize(
    ("uln", "reason"),
    [
        ("1000000042", "expected last digit 3"),
        ("1000000063", "no check digit"),
        ("1234567890", "expected last digit 9"),
        ("1111111111", "expected last digit 0"),
        ("0123456789", "not 10 digits starting with 1-9"),
        ("123456789", "not 10 digits"),
        ("12345678901", "not 10 digits"),
        ("10000000AB", "not 10 digits"),
        ("", "not 10 digits"),
        (ARABIC_INDIC_ULN, "not 10 digits"),
    ],
)
def test_known_invalid_ulns(uln: str, reason: str) -> None:
    err = raises_with_fix(uk.check_uln, uln)
    assert reason in err.problem
    assert "Learning Records Service" in err.fix


def test_uln_message_matches_the_documented_form() -> None:
    err = raises_with_fix(uk.check_uln, "1000000042")
    assert str(err) == (
        "ULN fails the check digit (expected last digit 3); "
        "check the learner's ULN on the Learning Records Service"
    )


@pytest.mark.parametrize("value", ["9999999999", " 99999 99999 "])
def test_unknown_uln_is_recognised_and_never_returned(value: str) -> None:
    assert uk.is_unknown_uln(value)
    assert uk.check_uln(value) == ""


def test_valid_uln_is_not_unknown() -> None:
    assert not uk.is_unknown_uln("1000000043")


@given(valid_ulns())
def test_every_built_uln_passes(uln: str) -> None:
    assert uk.check_uln(uln) == uln


@given(first_nines)
def test_nine_digits_without_check_digit_are_refused_whatever_the_last_digit(nine: str) -> None:
    if build_uln(nine) is None:
        for check in "0123456789":
            with pytest.raises(InvalidValueError):
                uk.check_uln(nine + check)


def test_single_digit_errors_are_always_detectable_by_the_scheme() -> None:
    # Ten-weight form: a change of delta (1..9 either way) in the digit weighted w (1..10)
    # shifts the total by w*delta. 11 is prime and neither factor is a multiple of 11, so the
    # total mod 11 always moves: every single-digit substitution is caught.
    assert all((w * delta) % 11 != 0 for w in range(1, 11) for delta in range(-9, 10) if delta)


@given(valid_ulns())
def test_changing_any_single_digit_makes_a_valid_uln_fail(uln: str) -> None:
    for position in range(10):
        for digit in "0123456789":
            if digit == uln[position]:
                continue
            changed = uln[:position] + digit + uln[position + 1 :]
            if changed == uk.UNKNOWN_ULN:
                # 9999999998 is valid and one digit from the placeholder, which means "no ULN".
                assert uk.check_uln(changed) == ""
                continue
            with pytest.raises(InvalidValueError):
                uk.check_uln(changed)


# --- NINO ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("AB123456C", "AB123456C"), ("ab 12 34 56 c", "AB123456C"), ("ce123456d", "CE123456D")],
)
def test_valid_ninos(value: str, expected: str) -> None:
    assert uk.check_nino(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        *(f"{prefix}123456A" for prefix in ["BG", "GB", "KN", "NK", "NT", "TN", "ZZ"]),
        *(f"{first}A123456A" for first in "DFIQUV"),
        "AO123456A",  # O is never a second letter
        "AB123456E",  # suffix must be A-D
        "AB12345C",
        "AB1234567C",
        "AB\u0661\u0662\u0663\u0664\u0665\u0666C",
        "",
    ],
)
def test_invalid_ninos(value: str) -> None:
    err = raises_with_fix(uk.check_nino, value)
    assert "AB123456C" in err.fix


# --- postcode -----------------------------------------------------------------------------------

valid_postcodes = st.from_regex(
    r"[A-Z]{1,2}[0-9][0-9A-Z]? [0-9][ABD-HJLNP-UWXYZ]{2}", fullmatch=True
).filter(lambda p: p != uk.UNKNOWN_POSTCODE)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("SW1A 1AA", "SW1A 1AA"),
        ("sw1a1aa", "SW1A 1AA"),
        ("  M1   1ae ", "M1 1AE"),
        ("b33 8th", "B33 8TH"),
        ("CR2 6XH", "CR2 6XH"),
        ("DN55 1PT", "DN55 1PT"),
    ],
)
def test_valid_postcodes(value: str, expected: str) -> None:
    assert uk.check_postcode(value) == expected


@pytest.mark.parametrize("value", ["SW1A 1AC", "1AA 1AA", "SW1A", "", "ABC123 1AA", "SW1A 1A"])
def test_invalid_postcodes(value: str) -> None:
    err = raises_with_fix(uk.check_postcode, value)
    assert "ZZ99 9ZZ" in err.fix


@pytest.mark.parametrize("value", ["ZZ99 9ZZ", "zz999zz", " zz99  9zz "])
def test_unknown_postcode(value: str) -> None:
    assert uk.is_unknown_postcode(value)
    assert uk.check_postcode(value) == ""


@given(st.text())
def test_postcode_normalisation_is_idempotent(value: str) -> None:
    once = uk.normalise_postcode(value)
    assert uk.normalise_postcode(once) == once


@given(valid_postcodes, st.booleans(), st.sampled_from(["", " ", "   ", "\t"]))
def test_valid_postcodes_in_any_case_and_spacing_normalise_back(
    postcode: str, lower: bool, gap: str
) -> None:
    messy = postcode.replace(" ", gap)
    messy = messy.lower() if lower else messy
    assert uk.check_postcode(messy) == postcode
    assert uk.check_postcode(uk.check_postcode(messy)) == postcode


# --- e-mail -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("jo.bloggs@example.co.uk", "jo.bloggs@example.co.uk"),
        ("  Jo+LA@Example.COM ", "Jo+LA@example.com"),
    ],
)
def test_valid_emails(value: str, expected: str) -> None:
    assert uk.check_email(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "jo",
        "jo@",
        "@example.com",
        "jo@example",
        "jo@@example.com",
        "jo@ex@ample.com",
        "jo bloggs@example.com",
        "jo@example..com",
        "jo@.example.com",
        "jo@example.com.",
        "j" * 243 + "@example.com",  # 255 characters
    ],
)
def test_invalid_emails(value: str) -> None:
    raises_with_fix(uk.check_email, value)


def test_email_of_254_characters_is_accepted() -> None:
    email = "j" * 242 + "@example.com"
    assert len(email) == 254
    assert uk.check_email(email) == email


# --- dates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-03-31", date(2025, 3, 31)),
        ("31/03/2025", date(2025, 3, 31)),
        ("1/3/2025", date(2025, 3, 1)),
        ("01/03/2025", date(2025, 3, 1)),
        (" 2024-02-29 ", date(2024, 2, 29)),
    ],
)
def test_parse_date_accepted_forms(value: str, expected: date) -> None:
    assert uk.parse_date(value) == expected


@pytest.mark.parametrize(
    "value",
    ["31-03-2025", "2025/03/31", "31/03/25", "2025-3-31", "31.03.2025", "March 31 2025", "", "x"],
)
def test_parse_date_refuses_other_forms_naming_the_accepted_ones(value: str) -> None:
    err = raises_with_fix(uk.parse_date, value)
    assert "YYYY-MM-DD" in err.fix
    assert "dd/mm/yyyy" in err.fix


@pytest.mark.parametrize("value", ["31/02/2025", "2025-13-01", "13/13/2025", "2023-02-29"])
def test_parse_date_refuses_days_that_do_not_exist(value: str) -> None:
    err = raises_with_fix(uk.parse_date, value)
    assert "does not exist" in err.problem


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-03-31", date(2025, 3, 31)),
        ("2025-03-31T09:30:00", date(2025, 3, 31)),  # a datetime's date part
        ("31/03/2025", date(2025, 3, 31)),
        ("", None),
        ("not a date", None),
        ("2025-02-30", None),
    ],
)
def test_date_or_none_reads_stored_dates_as_parse_date_does(
    value: str, expected: date | None
) -> None:
    assert uk.date_or_none(value) == expected


@given(st.dates(min_value=date(1000, 1, 1)))
def test_parse_date_round_trips_both_forms(d: date) -> None:
    assert uk.parse_date(d.isoformat()) == d
    assert uk.parse_date(d.strftime("%d/%m/%Y")) == d
    assert uk.parse_date(f"{d.day}/{d.month}/{d.year}") == d


@pytest.mark.parametrize(
    ("year", "expected"),
    [(2024, date(2024, 6, 28)), (2025, date(2025, 6, 27)), (2023, date(2023, 6, 30))],
)
def test_last_friday_of_june(year: int, expected: date) -> None:
    assert uk.last_friday_of_june(year) == expected


@given(st.integers(min_value=1, max_value=9999))
def test_last_friday_of_june_is_a_june_friday_within_the_last_week(year: int) -> None:
    friday = uk.last_friday_of_june(year)
    assert (friday.month, friday.weekday()) == (6, 4)
    assert (friday + timedelta(days=7)).month == 7


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (date(2024, 8, 1), 2024),
        (date(2024, 7, 31), 2023),
        (date(2025, 1, 15), 2024),
        (date(2024, 12, 31), 2024),
    ],
)
def test_academic_year_start(d: date, expected: int) -> None:
    assert uk.academic_year_start(d) == expected


# Start 2024-09-02 is in academic year 2024/25; its last Friday of June is 2025-06-27.
START = date(2024, 9, 2)


@pytest.mark.parametrize("start", [START, date(2024, 8, 1), date(2025, 7, 31)])
def test_learner_sixteen_exactly_on_the_last_friday_of_june_may_start(start: date) -> None:
    uk.minimum_start_check(date(2009, 6, 27), start)


@pytest.mark.parametrize("start", [START, date(2024, 8, 1), date(2025, 7, 31)])
def test_learner_sixteen_a_day_after_the_last_friday_of_june_is_refused(start: date) -> None:
    with pytest.raises(InvalidValueError) as info:
        uk.minimum_start_check(date(2009, 6, 28), start)
    assert "2025-06-27" in info.value.problem
    assert "2025-08-01 or later" in info.value.fix  # the next academic year is allowed
    uk.minimum_start_check(date(2009, 6, 28), date(2025, 8, 1))


@given(st.dates(min_value=date(1950, 1, 1), max_value=date(2080, 12, 31)))
def test_earliest_start_named_in_the_fix_is_the_true_earliest(birth: date) -> None:
    start = date(birth.year + 14, 8, 1)  # always too early: at most 15 by the next June
    with pytest.raises(InvalidValueError) as info:
        uk.minimum_start_check(birth, start)
    match = re.search(r"(\d{4}-\d{2}-\d{2}) or later", info.value.fix)
    assert match is not None
    earliest = date.fromisoformat(match.group(1))
    uk.minimum_start_check(birth, earliest)
    with pytest.raises(InvalidValueError):
        uk.minimum_start_check(birth, earliest - timedelta(days=1))


def test_planned_end_after_start() -> None:
    uk.planned_end_after_start(date(2024, 9, 2), date(2024, 9, 3))
    for end in (date(2024, 9, 2), date(2024, 9, 1)):
        with pytest.raises(InvalidValueError) as info:
            uk.planned_end_after_start(date(2024, 9, 2), end)
        assert "later than the start" in info.value.fix


# --- code lists ---------------------------------------------------------------------------------


def test_ilr_ethnicity_codes() -> None:
    codes = uk.ilr_ethnicity_codes()
    assert list(codes) == [*range(31, 48), 98, 99]
    assert codes[31] == "English / Welsh / Scottish / Northern Irish / British"
    assert codes[38] == "Any other Mixed / multiple ethnic background"
    assert codes[99] == "Not provided"
    codes[31] = "changed"
    assert uk.ilr_ethnicity_codes()[31] != "changed"  # callers get a copy


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("M", "M"),
        ("m", "M"),
        ("Male", "M"),
        ("man", "M"),
        ("F", "F"),
        ("FEMALE", "F"),
        ("Woman", "F"),
        ("o", "O"),
        ("Other", "O"),
        ("Non-binary", "O"),
        ("non binary", "O"),
        ("U", "U"),
        ("Not stated", "U"),
        ("Prefer not to say", "U"),
        ("unknown", "U"),
    ],
)
def test_gender(value: str, expected: str) -> None:
    assert uk.check_gender(value) == expected


@pytest.mark.parametrize("value", ["", "X", "mal", "2"])
def test_gender_refused(value: str) -> None:
    err = raises_with_fix(uk.check_gender, value)
    assert "M, F, O" in err.fix


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10", "10"),
        ("Employed", "10"),
        ("in paid employment", "10"),
        ("self-employed", "10"),
        ("11", "11"),
        ("unemployed seeking", "11"),
        ("Unemployed - looking for work", "11"),
        ("Not in paid employment, looking for work and available to start work", "11"),
        ("12", "12"),
        ("unemployed not seeking", "12"),
        ("economically inactive", "12"),
        ("Not in paid employment, not looking for work and/or not available to start work", "12"),
        ("98", "98"),
        ("Not known", "98"),
        ("not provided", "98"),
    ],
)
def test_employment_status(value: str, expected: str) -> None:
    assert uk.check_employment_status(value) == expected


@pytest.mark.parametrize("value", ["unemployed", "Not employed", "not in paid employment"])
def test_employment_status_ambiguous(value: str) -> None:
    err = raises_with_fix(uk.check_employment_status, value)
    assert "ambiguous" in err.problem
    assert "11" in err.fix
    assert "12" in err.fix


@pytest.mark.parametrize("value", ["", "13", "retired-ish"])
def test_employment_status_refused(value: str) -> None:
    err = raises_with_fix(uk.check_employment_status, value)
    assert "10 (in paid employment)" in err.fix


# --- every refusal says how to fix it -----------------------------------------------------------

FIX_VERBS = ("check", "use", "write", "say")
BAD_INPUTS: list[tuple[Callable[[str], object], str]] = [
    (uk.check_uln, "1000000042"),
    (uk.check_uln, "1000000063"),
    (uk.check_uln, "12"),
    (uk.check_nino, "ZZ123456A"),
    (uk.check_postcode, "nowhere"),
    (uk.check_email, "jo@example"),
    (uk.parse_date, "03/31/25"),
    (uk.parse_date, "31/02/2025"),
    (uk.check_gender, "?"),
    (uk.check_employment_status, "unemployed"),
    (uk.check_employment_status, "?"),
    (lambda _: uk.minimum_start_check(date(2010, 1, 1), date(2024, 9, 2)), ""),
    (lambda _: uk.planned_end_after_start(date(2024, 9, 2), date(2024, 9, 2)), ""),
]


@pytest.mark.parametrize(("func", "value"), BAD_INPUTS)
def test_every_refusal_is_a_value_error_with_a_fix_hint(
    func: Callable[[str], object], value: str
) -> None:
    with pytest.raises(ValueError, match="; ") as info:
        func(value)
    err = info.value
    assert isinstance(err, InvalidValueError)
    assert str(err) == f"{err.problem}; {err.fix}"
    assert err.problem[0].isupper()
    assert err.fix.startswith(FIX_VERBS)
