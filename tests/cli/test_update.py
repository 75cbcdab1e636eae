"""``labridge update`` end to end: the real command against a real sandbox over loopback and a
real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from labridge import soap
from labridge.sandbox.server import RunningSandbox

from .clienv import invoke

SAMPLE = Path(__file__).parents[2] / "examples" / "learners.csv"
LEARNERS = ("MIS-200100", "MIS-200107", "MIS-200114")
COUNTS = (
    "updated", "would_update", "unchanged", "uncertain", "refused", "invalid", "not_enrolled"
)  # fmt: skip


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """The first three sample learners (valid, not in LA yet) as a CSV export."""
    with SAMPLE.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = [r for r in reader if r["learner_id"] in LEARNERS]
    path = tmp_path / "learners.csv"
    _write(path, rows)
    return path


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _edit(path: Path, learner: str, **values: str) -> dict[str, str]:
    """Change one learner's row; returns the row as it was."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    row = next(r for r in rows if r["learner_id"] == learner)
    before = dict(row)
    row.update(values)
    _write(path, rows)
    return before


def _enrolled(export: Path, env: dict[str, str]) -> None:
    code, out, err = invoke(["enrol", str(export), "--json", "--create"], env)
    assert code == 0, err
    assert json.loads(out)["enrolled"] == len(LEARNERS)


def _update_calls(sandbox: RunningSandbox) -> int:
    stats = httpx.get(sandbox.url + "/_sandbox/stats").json()
    return int(stats["calls"].get("UpdateEnrolment", 0))


def _sent(sandbox: RunningSandbox) -> dict[str, Any]:
    response = httpx.get(
        sandbox.url + "/_sandbox/last-request?operation=UpdateEnrolment&personal=1"
    )
    response.raise_for_status()
    return dict(soap.decode_request(response.content).params["User"])


def test_update_json_has_the_documented_shape_and_sends_only_the_change(
    env: dict[str, str], export: Path, sandbox: RunningSandbox, store_url: str
) -> None:
    env["LABRIDGE_DATABASE_URL"] = store_url
    _enrolled(export, env)
    old = _edit(export, "MIS-200107", email="ben.patel@example.net")["email"]
    code, out, err = invoke(["update", str(export), "--create", "--json"], env)
    assert code == 0, err
    report = json.loads(out)
    assert list(report) == [*COUNTS, "records"]
    assert {k: report[k] for k in COUNTS} == {
        "updated": 1, "would_update": 0, "unchanged": 2, "uncertain": 0, "refused": 0,
        "invalid": 0,
        "not_enrolled": 0,
    }  # fmt: skip
    assert all(
        list(r) == ["source_id", "outcome", "changes", "problems"] for r in report["records"]
    )
    assert [r["source_id"] for r in report["records"]] == list(LEARNERS)  # source order
    changed = next(r for r in report["records"] if r["outcome"] == "updated")
    assert changed == {
        "source_id": "MIS-200107",
        "outcome": "updated",
        "changes": {"EmailAddress": [old, "ben.patel@example.net"]},
        "problems": [],
    }
    assert set(_sent(sandbox)) == {
        "CandidateUUID", "CourseUUID", "SourceSystemLearnerUUID", "EmailAddress",
    }  # fmt: skip
    code, out, _ = invoke(["update", str(export), "--create", "--json"], env)
    assert json.loads(out)["unchanged"] == 3
    assert _update_calls(sandbox) == 1


def test_update_dry_run_shows_old_and_new_and_sends_nothing(
    env: dict[str, str], export: Path, sandbox: RunningSandbox
) -> None:
    _enrolled(export, env)
    _edit(export, "MIS-200100", postcode="S1 2HE", end_date="2028-05-31")
    code, out, err = invoke(["update", str(export), "--create", "--dry-run"], env)
    assert code == 0, err
    assert "dry run" in out
    assert "Address.Postcode" in out
    assert "S2 8WY → S1 2HE" in out
    assert "2028-04-18 → 2028-05-31" in out
    assert "1 would update, 2 unchanged" in out
    assert _update_calls(sandbox) == 0


def test_clear_missing_clears_a_removed_mobile(
    env: dict[str, str], export: Path, sandbox: RunningSandbox
) -> None:
    _enrolled(export, env)
    _edit(export, "MIS-200114", mobile="")
    code, out, _ = invoke(["update", str(export), "--create", "--json"], env)
    kept = next(r for r in json.loads(out)["records"] if r["source_id"] == "MIS-200114")
    assert (kept["outcome"], kept["problems"][0]["code"]) == ("unchanged", "KEPT_IN_LA")
    assert _update_calls(sandbox) == 0
    code, out, _ = invoke(["update", str(export), "--create", "--clear-missing", "--json"], env)
    assert code == 0
    assert json.loads(out)["updated"] == 1
    sent = _sent(sandbox)
    assert sent["MobileNumber"] == ""
    assert "EmailAddress" not in sent


def test_learners_not_enrolled_exit_0_and_say_to_enrol_first(
    env: dict[str, str], export: Path, sandbox: RunningSandbox
) -> None:
    code, out, err = invoke(["update", str(export), "--create"], env)
    assert code == 0, err
    assert "3 not enrolled" in out
    assert "labridge enrol" in out
    code, out, _ = invoke(["update", str(export), "--create", "--json"], env)
    assert json.loads(out)["not_enrolled"] == 3
    assert _update_calls(sandbox) == 0


def test_an_invalid_record_exits_1(env: dict[str, str], export: Path) -> None:
    _enrolled(export, env)
    _edit(export, "MIS-200100", uln="1234567890")
    code, out, _ = invoke(["update", str(export), "--create", "--json"], env)
    assert code == 1
    report = json.loads(out)
    assert report["invalid"] == 1
    invalid = next(r for r in report["records"] if r["outcome"] == "invalid")
    assert invalid["problems"][0]["field"] == "uln"


def test_an_ambiguous_failure_is_uncertain_and_the_next_run_settles_it(
    env: dict[str, str], export: Path, sandbox: RunningSandbox
) -> None:
    _enrolled(export, env)
    _edit(export, "MIS-200100", job_title="Shift Lead")
    fault = {"operation": "UpdateEnrolment", "mode": "drop_after_commit"}
    httpx.post(sandbox.url + "/_sandbox/faults", json=fault).raise_for_status()
    code, out, err = invoke(["update", str(export), "--create", "--json"], env)
    assert code == 1, err  # exit 1 while an update's outcome is unknown
    report = json.loads(out)
    assert report["uncertain"] == 1
    (record,) = [r for r in report["records"] if r["outcome"] == "uncertain"]
    assert "compares LA's values" in record["problems"][0]["message"]
    first = _sent(sandbox)
    # GetCandidates does not show a job title, so LA cannot tell whether it landed: the same
    # change is sent again, which is harmless (docs/contract.md §3.6).
    code, out, err = invoke(["update", str(export), "--create", "--json"], env)
    assert code == 0, err
    assert json.loads(out)["updated"] == 1
    assert _sent(sandbox) == first
    assert _update_calls(sandbox) == 2


def test_update_needs_a_source(env: dict[str, str]) -> None:
    code, _, err = invoke(["update"], env)
    assert code == 2
    assert "--sql" in err


def test_update_help_lists_its_flags() -> None:
    code, out, _ = invoke(["update", "--help"], {"COLUMNS": "200"})
    assert code == 0
    for flag in ("--sql", "--source-db", "--mapping", "--dry-run", "--clear-missing", "--json"):
        assert flag in out
