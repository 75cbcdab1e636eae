"""`labridge enrolments --problems`: the to-do list, against a real sandbox over loopback and a
real store (issue 10, point 5)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from labridge import store
from labridge.errors import Problem
from labridge.reports import problems as todo
from labridge.store import journal, repeats
from labridge.workflows.update import UNCERTAIN as UPDATE_UNCERTAIN

from .clienv import invoke

SAMPLE = Path(__file__).parents[2] / "examples" / "learners.csv"


def _source(tmp_path: Path, *, repeat: bool = True) -> Path:
    """Three learners from the sample: one fine (MIS-200100), one with a bad ULN (MIS-200121),
    one with no e-mail whose id looks like a spreadsheet formula; and MIS-200100 again."""
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    good = next(line for line in lines if line.startswith("MIS-200100,"))
    bad_uln = next(line for line in lines if line.startswith("MIS-200121,"))
    no_email = next(line for line in lines if line.startswith("MIS-200156,"))
    rows = [lines[0], good, bad_uln, no_email.replace("MIS-200156", "=SUM(1)")]
    path = tmp_path / "mis.csv"
    path.write_text("\n".join(rows + [good] * repeat) + "\n", encoding="utf-8")
    return path


def test_empty_store_says_why_and_what_to_run(shared_env: dict[str, str], tmp_path: Path) -> None:
    store.open_store(f"sqlite:///{tmp_path / 'store.db'}").close()  # made, and empty
    for args in (["enrolments"], ["enrolments", "--problems"]):
        code, out, _ = invoke(args, shared_env)
        assert code == 0
        assert f"No enrolments in store sqlite:///{tmp_path / 'store.db'} yet" in out
        assert "run labridge enrol FILE" in out
    code, out, err = invoke(["enrolments", "--problems", "--json"], shared_env)
    assert (code, json.loads(out)) == (0, [])
    assert "No enrolments in store" in err
    code, _, err = invoke(["progress", "report", "--output", str(tmp_path / "r.html")], shared_env)
    assert code == 0
    assert "No progress in store" in err
    assert "labridge progress pull" in err


def test_a_postgres_password_in_the_store_url_is_masked(shared_env: dict[str, str]) -> None:
    from labridge.cli import console

    line = console.no_enrolments_line("postgresql://labridge:s3cret@db.example/labridge")
    assert "s3cret" not in line
    assert "postgresql://labridge:***@db.example/labridge" in line


def test_the_to_do_list_has_field_problem_and_fix_and_keeps_a_repeated_row(
    shared_env: dict[str, str], tmp_path: Path
) -> None:
    source = _source(tmp_path)
    first = json.loads(invoke(["enrol", str(source), "--create", "--json"], shared_env)[1])
    assert (first["enrolled"], first["invalid"]) == (1, 3)
    # The repeat run: before the fix, the repeated row was "skipped" once its first row had
    # enrolled, and vanished from the to-do list.
    code, out, _ = invoke(["enrol", str(source), "--create", "--json"], shared_env)
    again = json.loads(out)
    assert code == 1
    assert (again["skipped"], again["invalid"]) == (1, 3)
    code, out, _ = invoke(["enrolments", "--problems", "--json"], shared_env)
    assert code == 0
    items = json.loads(out)
    by_code = {i["code"]: i for i in items}
    assert sorted(by_code) == ["DUPLICATE_IN_INPUT", "INVALID_ULN", "REQUIRED"]
    uln = by_code["INVALID_ULN"]
    assert uln["source_id"] == "MIS-200121"
    assert uln["field"] == "uln"
    assert uln["course_name"] == "Data Technician Level 3 (ST0795)"
    assert uln["message"] == "ULN fails the check digit (expected last digit 8)"
    assert uln["fix"] == "check the learner's ULN on the Learning Records Service"
    repeated = by_code["DUPLICATE_IN_INPUT"]
    assert (repeated["source_id"], repeated["origin"]) == ("MIS-200100", "mis.csv line 5")
    assert repeated["fix"].startswith("remove one of the two rows")
    business = "Pearson BTEC Level 3 National Extended Diploma in Business"
    assert (repeated["course_name"], repeated["course_qan"]) == (business, "601/7160/5")
    assert by_code["REQUIRED"]["fix"] == "fill the email column"
    # The figures agree: status counts the repeated row among the invalid.
    status = json.loads(invoke(["status", "--json"], shared_env)[1])
    assert status["enrolments"]["invalid"] == again["invalid"] == len(items)
    code, out, _ = invoke(["enrolments", "--problems"], shared_env)
    assert "What needs fixing: 3 problems" in out
    assert "fill the email column" in out
    assert "601/7160/5 (" in out  # the course by name and code, with its UUID


def test_csv_is_spreadsheet_safe_and_a_fixed_repeat_leaves_the_list(
    shared_env: dict[str, str], tmp_path: Path
) -> None:
    invoke(["enrol", str(_source(tmp_path)), "--create"], shared_env)
    path = tmp_path / "todo.csv"
    code, _, err = invoke(["enrolments", "--problems", "--csv", str(path)], shared_env)
    assert code == 0, err
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [
        "source_id", "course", "course_name", "course_qan", "state", "origin", "field", "code",
        "message", "fix", "updated_at",
    ]  # fmt: skip
    assert "'=SUM(1)" in {r["source_id"] for r in rows}  # never a live formula
    assert len(rows) == 3
    invoke(["enrol", str(_source(tmp_path, repeat=False)), "--create"], shared_env)
    items = json.loads(invoke(["enrolments", "--problems", "--json"], shared_env)[1])
    assert {i["code"] for i in items} == {"INVALID_ULN", "REQUIRED"}
    code, _, err = invoke(
        ["enrolments", "--problems", "--csv", str(tmp_path / "no/dir.csv")], shared_env
    )
    assert code == 2
    assert "give a writable file with --csv" in err


def test_uncertain_refused_and_repeats_on_both_databases(store_url: str) -> None:
    since = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    refused = Problem("EmailAddress", "E12", "Email address already in use")
    with store.open_store(store_url) as db, db.begin() as session:
        journal.record(session, "MIS-1", "C-1", "uncertain", since, origin="a.csv line 2")
        journal.record(session, "MIS-2", "C-1", "refused", since, origin="a.csv line 3",
                       problems=[refused])  # fmt: skip
        journal.record(session, "MIS-3", "C-1", "enrolled", since, origin="a.csv line 4")
        journal.mark_update_uncertain(session, "MIS-3", "C-1", "cand-3", {"send": {}}, since)
        journal.record(session, "MIS-4", "C-1", "enrolled", since, origin="a.csv line 5")
        journal.record(session, "MIS-5", "C-1", "enrolled", since, origin="a.csv line 7")
        journal.record_update_refused(session, "MIS-5", "C-1", "cand-5", [refused], since)
        dup = Problem("learner_id", "DUPLICATE_IN_INPUT", "a.csv line 6: again; remove one")
        repeats.replace(session, {("MIS-4", "C-1")}, [
            repeats.Repeat("MIS-4", "C-1", "a.csv line 6", (dup,), since)], since)  # fmt: skip
    with store.open_store(store_url) as db, db.session() as session:
        items = todo.listing(session, timedelta(minutes=10))
        assert repeats.count(session) == 1
    got = [(i.source_id, i.state, i.code, i.message, i.fix) for i in items]
    assert got[1:] == [
        ("MIS-2", "refused", "E12", "Email address already in use", todo.REFUSED_FIX),
        ("MIS-3", "uncertain", "UPDATE_UNCERTAIN", "UpdateEnrolment's answer was lost",
         UPDATE_UNCERTAIN),
        ("MIS-4", "invalid", "DUPLICATE_IN_INPUT", "again", "remove one"),
        ("MIS-5", "refused", "E12", "update refused: Email address already in use",
         todo.UPDATE_REFUSED_FIX),
    ]  # fmt: skip
    assert got[0][:3] == ("MIS-1", "uncertain", "UNCERTAIN")
    assert "labridge will look again after 09:40 UTC" in got[0][4]
    with store.open_store(store_url) as db, db.begin() as session:
        repeats.replace(session, {("MIS-4", "C-1")}, [], since)  # the repeat was removed
        assert repeats.listing(session) == []
        # An update LA accepts later settles the refused one.
        journal.record_update(session, "MIS-5", "C-1", "cand-5", {}, since + timedelta(days=1))
    with store.open_store(store_url) as db, db.session() as session:
        left = {i.source_id for i in todo.listing(session, timedelta(minutes=10))}
    assert left == {"MIS-1", "MIS-2", "MIS-3"}
