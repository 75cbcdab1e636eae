"""Writing ILR XML files for the tests, in the 2024-25 and 2025-26 schemas.

The project writes its own ILR files (no DfE sample or real submission is copied). Learners and
aims are plain dicts keyed by ILR element names; :func:`learner`, :func:`programme_aim`,
:func:`component_aim`, :func:`qualification_aim` and :func:`employment` fill in realistic
defaults, and :func:`build_ilr` emits every element qualified and in schema order (the XSD's
``xs:sequence``), with the elements each year has and the other lacks (2024-25's
``ContactPreference``, ``FworkCode`` and ``PwayCode``). Names, e-mails and phone numbers are
invented (``example.com``, Ofcom's drama ranges); ULNs pass the check digit.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lxml import etree

NAMESPACES = {"2024-25": "ESFA/ILR/2024-25", "2025-26": "ESFA/ILR/2025-26"}
XSI = "http://www.w3.org/2001/XMLSchema-instance"
UKPRN = "10099999"

#: The simple children of Learner, in schema order (both years).
LEARNER_ORDER = (
    "LearnRefNumber", "PrevLearnRefNumber", "PrevUKPRN", "PMUKPRN", "CampId", "ULN",
    "FamilyName", "GivenNames", "DateOfBirth", "Ethnicity", "Sex", "LLDDHealthProb", "NINumber",
    "Accom", "ALSCost", "PlanLearnHours", "PlanEEPHours", "MathGrade", "EngGrade",
    "PostcodePrior", "Postcode", "AddLine1", "AddLine2", "AddLine3", "AddLine4", "TelNo", "Email",
)  # fmt: skip
#: The simple children of LearningDelivery, in schema order; FworkCode/PwayCode 2024-25 only.
DELIVERY_ORDER = (
    "LearnAimRef", "AimType", "AimSeqNumber", "LearnStartDate", "OrigLearnStartDate",
    "LearnPlanEndDate", "FundModel", "PHours", "OTJActHours", "ProgType", "FworkCode", "PwayCode",
    "StdCode", "PartnerUKPRN", "DelLocPostCode", "LSDPostcode", "AddHours", "PriorLearnFundAdj",
    "OtherFundAdj", "ConRefNumber", "EPAOrgID", "CompStatus", "LearnActEndDate",
    "WithdrawReason", "Outcome", "AchDate", "OutGrade", "SWSupAimId", "TLOut",
)  # fmt: skip
_ONLY_2024_25 = {"FworkCode", "PwayCode", "ContactPreference"}
_NESTED = {"PriorAttain", "ContactPreference", "LearnerFAM", "employment", "aims"}
_AIM_NESTED = {"FAMs", "prices"}


def uln(prefix: int) -> str:
    """A ULN passing the check digit, from a 9-digit ``prefix`` (first digit non-zero)."""
    digits = [int(d) for d in f"{prefix:09d}"]
    remainder = sum(w * d for w, d in zip(range(10, 1, -1), digits, strict=True)) % 11
    if remainder == 0:  # no valid check digit: take the next prefix
        return uln(prefix + 1)
    return f"{prefix:09d}{10 - remainder}"


def learner(ref: str, number: int = 1, **fields: Any) -> dict[str, Any]:
    """A learner with everything a provider usually records; ``fields`` override or add."""
    data: dict[str, Any] = {
        "LearnRefNumber": ref,
        "ULN": uln(100000000 + number * 7),
        "FamilyName": "Hartley",
        "GivenNames": "Chloe Anne",
        "DateOfBirth": "2005-03-14",
        "Ethnicity": "31",
        "Sex": "F",
        "LLDDHealthProb": "2",
        "NINumber": "QQ123456C",
        "PostcodePrior": "LS6 2AB",
        "Postcode": "LS6 2AB",
        "AddLine1": "14 Brudenell Grove",
        "AddLine2": "Hyde Park",
        "AddLine3": "Leeds",
        "TelNo": f"0113496{number % 10000:04d}",
        "Email": f"learner{number}@example.com",
        "PriorAttain": [{"PriorLevel": "3", "DateLevelApp": "2023-08-20"}],
        "ContactPreference": [{"ContPrefType": "RUI", "ContPrefCode": "3"}],
        "LearnerFAM": [{"LearnFAMType": "EHC", "LearnFAMCode": "2"}],
        "employment": [employment("10", "2024-08-01", "105000123")],
        "aims": [],
    }
    data.update(fields)
    return data


def employment(status: str, since: str, emp_id: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"EmpStat": status, "DateEmpStatApp": since}
    if emp_id is not None:
        data["EmpId"] = emp_id
    data["monitoring"] = [{"ESMType": "EII", "ESMCode": "8"}] if status == "10" else []
    return data


def programme_aim(std_code: str, **fields: Any) -> dict[str, Any]:
    """A levy-funded apprenticeship standard's programme aim (ZPROG001, FundModel 36)."""
    data: dict[str, Any] = {
        "LearnAimRef": "ZPROG001",
        "AimType": "1",
        "LearnStartDate": "2025-09-01",
        "LearnPlanEndDate": "2027-03-31",
        "FundModel": "36",
        "PHours": "400",
        "ProgType": "25",
        "StdCode": std_code,
        "DelLocPostCode": "LS1 4AP",
        "EPAOrgID": "EPA0042",
        "CompStatus": "1",
        "SWSupAimId": "6f1c2a7e-2b1d-4c8e-9a55-0c3d9e2b7a10",
        "FAMs": [
            {"LearnDelFAMType": "ACT", "LearnDelFAMCode": "1", "LearnDelFAMDateFrom": "2025-09-01"}
        ],
        "prices": [
            {"AFinType": "TNP", "AFinCode": "1", "AFinDate": "2025-09-01", "AFinAmount": "4800"},
            {"AFinType": "TNP", "AFinCode": "2", "AFinDate": "2025-09-01", "AFinAmount": "1200"},
        ],
    }
    data.update(fields)
    return data


def component_aim(ref: str, std_code: str, **fields: Any) -> dict[str, Any]:
    """A component aim of an apprenticeship (AimType 3): same FundModel, ProgType, StdCode."""
    data = programme_aim(std_code, LearnAimRef=ref, AimType="3", EPAOrgID=None, prices=[])
    data.update(FAMs=[{"LearnDelFAMType": "SOF", "LearnDelFAMCode": "105"}], **fields)
    return data


def qualification_aim(ref: str, **fields: Any) -> dict[str, Any]:
    """An aim not part of a programme (AimType 4), adult skills funded."""
    data: dict[str, Any] = {
        "LearnAimRef": ref,
        "AimType": "4",
        "LearnStartDate": "2025-09-08",
        "LearnPlanEndDate": "2026-07-17",
        "FundModel": "35",
        "DelLocPostCode": "LS1 4AP",
        "CompStatus": "1",
        "FAMs": [{"LearnDelFAMType": "SOF", "LearnDelFAMCode": "105"}],
    }
    data.update(fields)
    return data


def build_ilr(
    learners: Iterable[dict[str, Any]],
    year: str = "2025-26",
    *,
    comment: str | None = None,
    declaration: bool = True,
) -> bytes:
    """The ILR XML of ``learners`` for ``year``; ``comment`` goes before the root element (the
    DfE sample begins so, with no XML declaration)."""
    ns = NAMESPACES[year]
    # The default namespace's key is None, which lxml-stubs' nsmap type leaves out.
    root = etree.Element(_q(ns, "Message"), nsmap={None: ns, "xsi": XSI})  # type: ignore[dict-item]
    _header(root, ns, year)
    _add(root, ns, "LearningProvider", {"UKPRN": UKPRN})
    for data in learners:
        _learner(root, ns, year, data)
    if comment is not None:
        root.addprevious(etree.Comment(f" {comment} "))
    return etree.tostring(
        root.getroottree(), xml_declaration=declaration, encoding="UTF-8", pretty_print=True
    )


def write_ilr(
    path: Path, learners: Iterable[dict[str, Any]], year: str = "2025-26", **kw: Any
) -> Path:
    path.write_bytes(build_ilr(learners, year, **kw))
    return path


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _add(parent: etree._Element, ns: str, name: str, children: dict[str, Any]) -> etree._Element:
    element = etree.SubElement(parent, _q(ns, name))
    for child, value in children.items():
        if value is not None:
            etree.SubElement(element, _q(ns, child)).text = str(value)
    return element


def _header(root: etree._Element, ns: str, year: str) -> None:
    header = etree.SubElement(root, _q(ns, "Header"))
    _add(header, ns, "CollectionDetails", {
        "Collection": "ILR", "Year": year.replace("-", "")[2:], "FilePreparationDate": "2025-10-06",
    })  # fmt: skip
    _add(header, ns, "Source", {
        "ProtectiveMarking": "OFFICIAL-SENSITIVE-Personal", "UKPRN": UKPRN,
        "SoftwareSupplier": "labridge tests", "SoftwarePackage": "ilr_files.py", "Release": "1",
        "SerialNo": "01", "DateTime": "2025-10-06T09:14:05",
    })  # fmt: skip


def _learner(root: etree._Element, ns: str, year: str, data: dict[str, Any]) -> None:
    unknown = set(data) - set(LEARNER_ORDER) - _NESTED
    assert not unknown, f"not Learner elements: {unknown}"
    element = _add(root, ns, "Learner", {k: data[k] for k in LEARNER_ORDER if k in data})
    for name in ("PriorAttain", "ContactPreference", "LearnerFAM"):
        if name in _ONLY_2024_25 and year != "2024-25":
            continue
        for entry in data.get(name, []):
            _add(element, ns, name, entry)
    for status in data.get("employment", []):
        simple = {k: v for k, v in status.items() if k != "monitoring"}
        employment_element = _add(element, ns, "LearnerEmploymentStatus", simple)
        for entry in status.get("monitoring", []):
            _add(employment_element, ns, "EmploymentStatusMonitoring", entry)
    for number, aim in enumerate(data.get("aims", []), 1):
        _delivery(element, ns, year, {"AimSeqNumber": str(number), **aim})


def _delivery(parent: etree._Element, ns: str, year: str, aim: dict[str, Any]) -> None:
    unknown = set(aim) - set(DELIVERY_ORDER) - _AIM_NESTED
    assert not unknown, f"not LearningDelivery elements: {unknown}"
    wanted = [
        k for k in DELIVERY_ORDER if k in aim and (year == "2024-25" or k not in _ONLY_2024_25)
    ]
    element = _add(parent, ns, "LearningDelivery", {k: aim[k] for k in wanted})
    for entry in aim.get("FAMs", []):
        _add(element, ns, "LearningDeliveryFAM", entry)
    for entry in aim.get("prices", []):
        _add(element, ns, "AppFinRecord", entry)
