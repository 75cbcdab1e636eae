"""UK data rules for learner records: ULN, NINO, postcode, e-mail, dates, gender and ILR codes.

Every ``check_*`` function takes the raw text from the MIS and either returns it in normal form
or raises :class:`InvalidValueError`, whose message says what is wrong and then, after ``"; "``,
how to fix it. A "not known" sentinel (ULN ``9999999999``, postcode ``ZZ99 9ZZ``) is returned as
``""``: it is a statement that the value is missing, never a value to send to LA.

The rules are the ILR's and the apprenticeship funding rules' as they bear on an enrolment;
what LA itself requires of each member is docs/contract.md §3.5.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

__all__ = [
    "UNKNOWN_POSTCODE",
    "UNKNOWN_ULN",
    "InvalidValueError",
    "academic_year_start",
    "check_email",
    "check_employment_status",
    "check_gender",
    "check_nino",
    "check_postcode",
    "check_uln",
    "date_or_none",
    "ilr_ethnicity_codes",
    "is_unknown_postcode",
    "is_unknown_uln",
    "last_friday_of_june",
    "minimum_start_check",
    "normalise_postcode",
    "parse_date",
    "planned_end_after_start",
]

UNKNOWN_ULN = "9999999999"
UNKNOWN_POSTCODE = "ZZ99 9ZZ"

_LRS_HINT = "check the learner's ULN on the Learning Records Service"
_ULN_RE = re.compile(r"[1-9][0-9]{9}")
# re.ASCII: without it \d also matches Arabic-Indic and other Unicode digits.
_NINO_RE = re.compile(
    r"^(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$", re.ASCII
)
_POSTCODE_RE = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]? [0-9][ABD-HJLNP-UWXYZ]{2}$")
_ISO_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_UK_DATE_RE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
_DATE_FORMS = "write it as YYYY-MM-DD (e.g. 2025-03-31) or dd/mm/yyyy (e.g. 31/03/2025)"


class InvalidValueError(ValueError):
    """A value broke a UK data rule: ``problem`` says what is wrong, ``fix`` how to put it right."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem}; {fix}")
        self.problem = problem
        self.fix = fix


# --- ULN ----------------------------------------------------------------------------------------


def _uln_check_digit(first_nine: str) -> int | None:
    """Return the check digit the first nine ULN digits require, or None when none can exist."""
    weights = range(10, 1, -1)
    total = sum(w * int(digit) for w, digit in zip(weights, first_nine, strict=True))
    remainder = total % 11
    # Remainder 0 would need check digit 10, which is not a digit: no such ULN is ever issued.
    return None if remainder == 0 else 10 - remainder


def is_unknown_uln(value: str) -> bool:
    """True when ``value`` is the "not known" ULN ``9999999999`` (spaces ignored)."""
    return "".join(value.split()) == UNKNOWN_ULN


def check_uln(value: str) -> str:
    """Return the ULN as 10 digits, or ``""`` for the "not known" value ``9999999999``.

    Spaces are ignored. A ULN is 10 digits with a non-zero first digit whose last digit is
    ``10 - (10·d1 + 9·d2 + … + 2·d9) mod 11``; a remainder of 0 means no valid check digit.
    ``9999999999`` fails that check but is the ILR's placeholder, so it is special-cased.
    """
    uln = "".join(value.split())
    if uln == UNKNOWN_ULN:
        return ""
    if not _ULN_RE.fullmatch(uln):
        raise InvalidValueError(
            "ULN is not 10 digits starting with 1-9",
            f"{_LRS_HINT} (use 9999999999 if the learner has none yet)",
        )
    expected = _uln_check_digit(uln[:9])
    if expected is None:
        raise InvalidValueError("ULN cannot be valid (no check digit fits it)", _LRS_HINT)
    if int(uln[9]) != expected:
        raise InvalidValueError(
            f"ULN fails the check digit (expected last digit {expected})", _LRS_HINT
        )
    return uln


# --- NINO, postcode, e-mail ---------------------------------------------------------------------


def check_nino(value: str) -> str:
    """Return the National Insurance number upper-cased without spaces, e.g. ``AB123456C``."""
    nino = "".join(value.split()).upper()
    if not _NINO_RE.match(nino):
        raise InvalidValueError(
            "National Insurance number is not valid",
            "check it against the learner's NI letter or payslip: two letters, six digits and "
            "a final letter A-D, e.g. AB123456C",
        )
    return nino


def normalise_postcode(value: str) -> str:
    """Upper-case, drop all spaces, then put one space before the last three characters.

    This only formats; :func:`check_postcode` decides whether the result is a postcode.
    """
    compact = "".join(value.split()).upper()
    # Too short to have an inward code: leave it for check_postcode to refuse.
    return compact if len(compact) <= 3 else f"{compact[:-3]} {compact[-3:]}"


def is_unknown_postcode(value: str) -> bool:
    """True when ``value`` is the "not known" postcode ``ZZ99 9ZZ`` (any case or spacing)."""
    return normalise_postcode(value) == UNKNOWN_POSTCODE


def check_postcode(value: str) -> str:
    """Return the postcode in normal form (``SW1A 1AA``), or ``""`` for ``ZZ99 9ZZ``."""
    postcode = normalise_postcode(value)
    if postcode == UNKNOWN_POSTCODE:
        return ""
    if not _POSTCODE_RE.match(postcode):
        raise InvalidValueError(
            "Postcode is not a UK postcode",
            "check the learner's address (form SW1A 1AA), or use ZZ99 9ZZ if it is not known",
        )
    return postcode


def check_email(value: str) -> str:
    """Return the e-mail address trimmed, with its domain lower-cased.

    Deliberately pragmatic: one ``@``, no spaces, a dotted domain with no empty labels, at most
    254 characters. Whether the mailbox exists only a sent message can tell.
    """
    email = value.strip()
    local, at, domain = email.partition("@")
    labels = domain.split(".")
    if (
        not at
        or not local
        or "@" in domain
        or len(labels) < 2
        or not all(labels)
        or any(ch.isspace() for ch in email)
        or len(email) > 254
    ):
        raise InvalidValueError(
            "E-mail address is not valid",
            "check it with the learner: it needs one @, no spaces and a domain such as "
            "example.co.uk",
        )
    return f"{local}@{domain.lower()}"


# --- Dates --------------------------------------------------------------------------------------


def parse_date(value: str) -> date:
    """Read ISO ``YYYY-MM-DD`` or UK ``dd/mm/yyyy`` (also ``d/m/yyyy``); refuse anything else.

    Two-digit years, ``dd-mm-yyyy`` and US order are refused rather than guessed, because a
    wrong guess silently moves a birth or start date.
    """
    text = value.strip()
    if iso := _ISO_DATE_RE.fullmatch(text):
        year, month, day = (int(part) for part in iso.groups())
    elif uk := _UK_DATE_RE.fullmatch(text):
        day, month, year = (int(part) for part in uk.groups())
    else:
        raise InvalidValueError("Date is not in an accepted form", _DATE_FORMS)
    try:
        return date(year, month, day)
    except ValueError:
        raise InvalidValueError(
            "Date does not exist", f"check the day and month, then {_DATE_FORMS}"
        ) from None


def date_or_none(text: str) -> date | None:
    """A date already stored (LA's, or one labridge wrote), read as :func:`parse_date` reads
    it; a datetime's date part will do. ``None`` for anything else: for the reports, which show
    no date rather than fail. A source's dates go through :func:`parse_date`, which says why."""
    try:
        return parse_date(text[:10])
    except InvalidValueError:
        return None


def last_friday_of_june(year: int) -> date:
    """Return the last Friday of June in ``year``."""
    june_30 = date(year, 6, 30)
    return june_30 - timedelta(days=(june_30.weekday() - calendar.FRIDAY) % 7)


def academic_year_start(d: date) -> int:
    """Return the calendar year in which the academic year holding ``d`` starts (1 Aug-31 Jul)."""
    return d.year if d.month >= 8 else d.year - 1


def _is_16_by(birth_date: date, deadline: date) -> bool:
    # Compare the birth date with the deadline moved back 16 years rather than adding 16 years
    # to the birth date: the deadline is in June, so there is no 29 February to handle.
    return birth_date <= deadline.replace(year=deadline.year - 16)


def _earliest_start(birth_date: date) -> date:
    """Return 1 August of the first academic year in which ``birth_date`` allows a start."""
    year = birth_date.year + 16
    if not _is_16_by(birth_date, last_friday_of_june(year)):
        year += 1
    return date(year - 1, 8, 1)


def minimum_start_check(birth_date: date, start_date: date) -> None:
    """Refuse an apprenticeship start for a learner who is too young.

    Rule (as the issue states it): with the start in academic year Y (1 Aug Y to 31 Jul Y+1),
    the learner must be 16 on or before the last Friday of June of Y+1. So a learner whose 16th
    birthday is exactly that Friday may start; one born a day later may not. It is also worded
    as "cannot start before the last Friday in June of the academic year in which the learner
    turns 16", which is stricter; the form above is the one implemented here.
    """
    deadline = last_friday_of_june(academic_year_start(start_date) + 1)
    if _is_16_by(birth_date, deadline):
        return
    raise InvalidValueError(
        f"Learner born {birth_date.isoformat()} is not 16 by {deadline.isoformat()}, the last "
        f"Friday of June of the academic year of the start date {start_date.isoformat()}",
        "check the date of birth, or move the start date to "
        f"{_earliest_start(birth_date).isoformat()} or later",
    )


def planned_end_after_start(start: date, end: date) -> None:
    """Refuse a planned end date that is not strictly after the start date."""
    if end > start:
        return
    raise InvalidValueError(
        f"Planned end date {end.isoformat()} is not after the start date {start.isoformat()}",
        "check both dates in the MIS: the planned end must be later than the start",
    )


# --- Code lists ---------------------------------------------------------------------------------

_ETHNICITY: dict[int, str] = {
    31: "English / Welsh / Scottish / Northern Irish / British",
    32: "Irish",
    33: "Gypsy or Irish Traveller",
    34: "Any other White background",
    35: "White and Black Caribbean",
    36: "White and Black African",
    37: "White and Asian",
    38: "Any other Mixed / multiple ethnic background",
    39: "Indian",
    40: "Pakistani",
    41: "Bangladeshi",
    42: "Chinese",
    43: "Any other Asian background",
    44: "African",
    45: "Caribbean",
    46: "Any other Black / African / Caribbean background",
    47: "Arab",
    98: "Any other ethnic group",
    99: "Not provided",
}

# Keys are lower-case with everything but letters and digits removed (see _key), so
# "Non-binary", "non binary" and "NONBINARY" all match one entry.
_GENDER: dict[str, str] = {
    **dict.fromkeys(["m", "male", "man", "boy"], "M"),
    **dict.fromkeys(["f", "female", "woman", "girl"], "F"),
    **dict.fromkeys(["o", "other", "nonbinary"], "O"),
    **dict.fromkeys(
        ["u", "unknown", "notknown", "notstated", "notprovided", "prefernottosay", "withheld"],
        "U",
    ),
}

_EMPLOYMENT: dict[str, str] = {
    **dict.fromkeys(
        ["10", "employed", "selfemployed", "inpaidemployment", "paidemployment", "inemployment"],
        "10",
    ),
    **dict.fromkeys(
        [
            "11",
            "unemployedseeking",
            "unemployedlookingforwork",
            "seekingwork",
            "lookingforwork",
            "notinpaidemploymentlookingforworkandavailabletostartwork",
        ],
        "11",
    ),
    **dict.fromkeys(
        [
            "12",
            "unemployednotseeking",
            "unemployednotlookingforwork",
            "notlookingforwork",
            "economicallyinactive",
            "notinpaidemploymentnotlookingforworkandornotavailabletostartwork",
        ],
        "12",
    ),
    **dict.fromkeys(["98", "unknown", "notknown", "notprovided", "notknownnotprovided"], "98"),
}

# These words fit both 11 and 12; guessing would misreport the learner's status to the ESFA.
_AMBIGUOUS_EMPLOYMENT = frozenset({"unemployed", "notemployed", "notinpaidemployment"})


def _key(value: str) -> str:
    return "".join(ch for ch in value.lower() if ch.isascii() and ch.isalnum())


def ilr_ethnicity_codes() -> dict[int, str]:
    """Return the 19 ILR ethnicity codes (31-47, 98, 99) with their labels, in code order."""
    return dict(_ETHNICITY)


def check_gender(value: str) -> str:
    """Return LA's gender code ``M``, ``F``, ``O`` (other) or ``U`` (not stated).

    Accepts the codes or common words (male, woman, non-binary, prefer not to say, ...) in any
    case, with any spacing or hyphenation.
    """
    code = _GENDER.get(_key(value))
    if code is None:
        raise InvalidValueError(
            "Gender is not recognised",
            "use M, F, O (other) or U (not stated), or a word such as male, female, non-binary "
            "or prefer not to say",
        )
    return code


def check_employment_status(value: str) -> str:
    """Return the ILR EmpStat code ``10``, ``11``, ``12`` or ``98`` from a code or words.

    10 in paid employment; 11 not employed, seeking and available; 12 not employed, not seeking
    and/or not available; 98 not known. A bare "unemployed" is refused as ambiguous.
    """
    key = _key(value)
    if key in _AMBIGUOUS_EMPLOYMENT:
        raise InvalidValueError(
            "Employment status is ambiguous",
            "say whether the learner is looking for work (11, 'unemployed seeking') or not "
            "(12, 'unemployed not seeking')",
        )
    code = _EMPLOYMENT.get(key)
    if code is None:
        raise InvalidValueError(
            "Employment status is not recognised",
            "use an ILR EmpStat code: 10 (in paid employment), 11 (unemployed, seeking work), "
            "12 (unemployed, not seeking work) or 98 (not known)",
        )
    return code
