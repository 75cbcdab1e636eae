"""The update workflow against the real sandbox (in-process) and real stores: only the members
that changed go on the wire, reruns send nothing, dry runs call nothing, refusals and ambiguous
failures leave the journal ready for the next run."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette

from labridge import AsyncClient, TransportError, soap, store
from labridge.sandbox.seed import CANDIDATES, TRAINERS
from labridge.sources.csv import read_csv
from labridge.store import journal
from labridge.workflows.enrol import Enroller
from labridge.workflows.enrol import Options as EnrolOptions
from labridge.workflows.sync import sync
from labridge.workflows.update import Options, Updater, UpdateReport

SAMPLE = Path(__file__).parents[2] / "examples" / "learners.csv"
#: The first three sample learners: valid, and not in LA until enrolled.
LEARNERS = ("MIS-200100", "MIS-200107", "MIS-200114")
IDENTIFIERS = {"CandidateUUID", "CourseUUID", "SourceSystemLearnerUUID"}


class Export:
    """A small MIS export in ``tmp_path``, made of sample rows, edited between runs."""

    def __init__(self, path: Path, learners: tuple[str, ...] = LEARNERS) -> None:
        with SAMPLE.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            self.columns = list(reader.fieldnames or ())
            by_id = {row["learner_id"]: row for row in reader}
        self.path = path
        self.rows = [dict(by_id[learner]) for learner in learners]
        self.write()

    def row(self, learner: str) -> dict[str, str]:
        return next(r for r in self.rows if r["learner_id"] == learner)

    def edit(self, learner: str, **values: str) -> None:
        self.row(learner).update(values)
        self.write()

    def write(self) -> None:
        with self.path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, self.columns)
            writer.writeheader()
            writer.writerows(self.rows)


@pytest.fixture
async def export(client: AsyncClient, db: store.Store, tmp_path: Path) -> Export:
    """Three learners enrolled from a CSV export."""
    made = Export(tmp_path / "learners.csv")
    await sync(client, db)
    report = await Enroller(client, db, EnrolOptions()).run(read_csv(made.path))
    assert report.count("enrolled") == len(LEARNERS)
    return made


async def _update(
    client: AsyncClient, db: store.Store, export: Export, **options: Any
) -> UpdateReport:
    await sync(client, db)  # as the command does: candidates fresh
    return await Updater(client, db, Options(concurrency=1, **options)).run(read_csv(export.path))


async def _sandbox(app: Starlette, method: str, path: str, **kw: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as h:
        response = await h.request(method, path, **kw)
    response.raise_for_status()
    return response


async def _sent(app: Starlette) -> dict[str, Any]:
    """The User of the last UpdateEnrolment envelope the sandbox received."""
    response = await _sandbox(
        app, "GET", "/_sandbox/last-request?operation=UpdateEnrolment&personal=1"
    )
    call = soap.decode_request(response.content)
    assert call.operation == "UpdateEnrolment"
    return dict(call.params["User"])


async def _update_calls(app: Starlette) -> int:
    stats = (await _sandbox(app, "GET", "/_sandbox/stats")).json()
    return int(stats["calls"].get("UpdateEnrolment", 0))


def _outcomes(report: UpdateReport) -> dict[str, str]:
    return {r.source_id: r.outcome for r in report.records}


def _record(report: UpdateReport, learner: str) -> Any:
    return next(r for r in report.records if r.source_id == learner)


def _pushed(db: store.Store) -> dict[tuple[str, str], Any]:
    with db.session() as session:
        return {key: e.pushed for key, e in journal.load_all(session).items()}


async def _candidate(client: AsyncClient, learner: str) -> Any:
    listed = await client.get_candidates("", active=True, completed=True, test=True)
    return next(x for x in listed if x.source_id == learner)


# -- only what changed --------------------------------------------------------------------------


async def test_a_changed_email_sends_only_the_email_and_the_identifiers(
    client: AsyncClient, db: store.Store, export: Export, sandbox: Starlette
) -> None:
    old = export.row("MIS-200100")["email"]
    export.edit("MIS-200100", email="aaliyah.new@example.org")
    report = await _update(client, db, export)
    assert _outcomes(report) == {
        "MIS-200100": "updated", "MIS-200107": "unchanged", "MIS-200114": "unchanged",
    }  # fmt: skip
    assert _record(report, "MIS-200100").changes == {
        "EmailAddress": (old, "aaliyah.new@example.org")
    }
    candidate = await _candidate(client, "MIS-200100")
    assert await _sent(sandbox) == {
        "CandidateUUID": candidate.candidate_uuid,
        "CourseUUID": candidate.course_uuid,
        "SourceSystemLearnerUUID": "MIS-200100",
        "EmailAddress": "aaliyah.new@example.org",
    }
    assert candidate.email == "aaliyah.new@example.org"  # GetCandidates shows the new value
    assert await _update_calls(sandbox) == 1


async def test_a_changed_postcode_and_end_date_send_only_those_sub_members(
    client: AsyncClient, db: store.Store, export: Export, sandbox: Starlette
) -> None:
    export.edit("MIS-200107", postcode="M1 1AE", end_date="2028-03-31")
    report = await _update(client, db, export)
    assert _outcomes(report)["MIS-200107"] == "updated"
    assert report.count("unchanged") == 2
    assert _record(report, "MIS-200107").changes == {
        "Address.Postcode": ("M8 1DZ", "M1 1AE"),
        "Course.EndDate": ("2028-01-09", "2028-03-31"),
    }
    sent = await _sent(sandbox)
    assert set(sent) == IDENTIFIERS | {"Address", "Course"}
    assert sent["Address"] == {"Postcode": "M1 1AE"}
    assert sent["Course"] == {"EndDate": "2028-03-31"}
    candidate = await _candidate(client, "MIS-200107")
    assert candidate.end_date == "2028-03-31"
    assert sandbox.state.db.candidate_fields(candidate.candidate_uuid)["postcode"] == "M1 1AE"


async def test_a_second_run_finds_nothing_to_send(
    client: AsyncClient, db: store.Store, export: Export, sandbox: Starlette
) -> None:
    export.edit("MIS-200100", email="aaliyah.new@example.org", job_title="Supervisor")
    export.edit("MIS-200114", postcode="LS1 4AP")
    first = await _update(client, db, export)
    assert first.count("updated") == 2
    pushed = _pushed(db)
    again = await _update(client, db, export)
    assert again.as_dict()["unchanged"] == 3
    assert all(not r.changes and not r.problems for r in again.records)
    assert await _update_calls(sandbox) == 2
    assert _pushed(db) == pushed


async def test_the_journal_records_what_was_pushed(
    client: AsyncClient, db: store.Store, export: Export
) -> None:
    export.edit("MIS-200107", postcode="M1 1AE", job_title="Head Chef")
    await _update(client, db, export)
    entry = next(p for (learner, _), p in _pushed(db).items() if learner == "MIS-200107")
    assert entry["Address"]["Postcode"] == "M1 1AE"
    assert entry["Address"]["Town"] == "Manchester"  # the rest of the address as enrolled
    assert entry["JobTitle"] == "Head Chef"
    assert entry["BirthDate"] == "1989-05-23"


# -- dry run, missing values, what cannot be updated ----------------------------------------------


async def test_dry_run_shows_the_diff_and_calls_nothing(
    client: AsyncClient, db: store.Store, export: Export, sandbox: Starlette
) -> None:
    export.edit("MIS-200114", end_date="2028-02-01")
    pushed = _pushed(db)
    report = await _update(client, db, export, dry_run=True)
    assert report.dry_run
    assert _outcomes(report)["MIS-200114"] == "would_update"
    assert _record(report, "MIS-200114").changes == {"Course.EndDate": ("2028-01-02", "2028-02-01")}
    assert await _update_calls(sandbox) == 0
    assert _pushed(db) == pushed
    real = await _update(client, db, export)
    assert _outcomes(real)["MIS-200114"] == "updated"


async def test_a_removed_mobile_is_kept_unless_clear_missing(
    client: AsyncClient, db: store.Store, export: Export, sandbox: Starlette
) -> None:
    old = export.row("MIS-200100")["mobile"]
    export.edit("MIS-200100", mobile="")
    kept = await _update(client, db, export)
    assert _outcomes(kept)["MIS-200100"] == "unchanged"
    assert [(p.field, p.code) for p in _record(kept, "MIS-200100").problems] == [
        ("MobileNumber", "KEPT_IN_LA")
    ]
    assert await _update_calls(sandbox) == 0
    cleared = await _update(client, db, export, clear_missing=True)
    assert _record(cleared, "MIS-200100").changes == {"MobileNumber": (old, "")}
    sent = await _sent(sandbox)
    assert sent == sent | {"MobileNumber": ""}
    assert set(sent) == IDENTIFIERS | {"MobileNumber"}
    candidate_uuid = sent["CandidateUUID"]
    assert sandbox.state.db.candidate_fields(candidate_uuid)["mobile"] == ""
    again = await _update(client, db, export, clear_missing=True)
    assert _outcomes(again)["MIS-200100"] == "unchanged"


async def test_a_changed_birth_date_is_reported_not_sent(
    client: AsyncClient, db: store.Store, export: Export, sandbox: Starlette
) -> None:
    export.edit("MIS-200100", birth_date="11/03/1989", job_title="Deputy Manager")
    report = await _update(client, db, export)
    record = _record(report, "MIS-200100")
    assert record.outcome == "updated"
    assert record.changes == {"JobTitle": ("Team Leader", "Deputy Manager")}
    [notice] = record.problems
    assert (notice.field, notice.code) == ("BirthDate", "NOT_UPDATABLE")
    assert "by hand" in notice.message
    assert set(await _sent(sandbox)) == IDENTIFIERS | {"JobTitle"}
    assert not report.failed


async def test_an_added_unit_is_sent_alone(
    client: AsyncClient, db: store.Store, export: Export, sandbox: Starlette
) -> None:
    export.edit("MIS-200107", units="H/507/1208; K/507/1209")
    report = await _update(client, db, export)
    record = _record(report, "MIS-200107")
    [(name, (old, new))] = record.changes.items()
    assert name == "Course.Units"
    [added] = set(new.split(", ")) - set((old or "").split(", "))
    sent = await _sent(sandbox)
    assert sent["Course"] == {"Units": [{"UnitUUID": added}]}
    assert set(sent) == IDENTIFIERS | {"Course"}
    held = sandbox.state.db.enrolled_units(sent["CandidateUUID"])
    assert added in {u.unit_uuid for u in held}
    export.edit("MIS-200107", units="K/507/1209")  # H/507/1208 dropped: LA keeps it
    dropped = _record(await _update(client, db, export), "MIS-200107")
    assert dropped.outcome == "unchanged"
    assert [(p.field, p.code) for p in dropped.problems] == [("Course.Units", "UNITS_KEPT_IN_LA")]


# -- learners labridge cannot update ------------------------------------------------------------


async def test_a_learner_never_enrolled_is_not_enrolled_with_the_hint(
    client: AsyncClient, db: store.Store, export: Export, sandbox: Starlette
) -> None:
    with SAMPLE.open(newline="", encoding="utf-8") as fh:
        export.rows.append(next(r for r in csv.DictReader(fh) if r["learner_id"] == "MIS-200128"))
    export.write()
    report = await _update(client, db, export)
    record = _record(report, "MIS-200128")
    assert record.outcome == "not_enrolled"
    assert [p.code for p in record.problems] == ["NOT_ENROLLED"]
    assert "labridge enrol" in record.problems[0].message
    assert not report.failed
    assert await _update_calls(sandbox) == 0


async def test_an_invalid_record_is_never_sent(
    client: AsyncClient, db: store.Store, export: Export, sandbox: Starlette
) -> None:
    export.edit("MIS-200100", email="not-an-address", postcode="S1 2HE")
    report = await _update(client, db, export)
    record = _record(report, "MIS-200100")
    assert record.outcome == "invalid"
    assert {p.field for p in record.problems} == {"email"}
    assert report.failed
    assert await _update_calls(sandbox) == 0


async def test_la_refusing_an_update_reports_its_messages_and_keeps_the_journal(
    client: AsyncClient, db: store.Store, export: Export, sandbox: Starlette
) -> None:
    rowntree = next(t for t in TRAINERS if t.surname == "Rowntree")
    export.edit("MIS-200100", assessor=rowntree.email)
    await sync(client, db)
    with sandbox.state.db.engine.begin() as conn:  # she leaves LA after labridge synced
        conn.execute(sa.text("UPDATE trainers SET active = 0 WHERE trainer_uuid = :u"),
                     {"u": rowntree.uuid})  # fmt: skip
    pushed = _pushed(db)
    report = await Updater(client, db, Options()).run(read_csv(export.path))
    record = _record(report, "MIS-200100")
    assert record.outcome == "refused"
    assert [(p.field, p.code) for p in record.problems] == [
        ("PrimaryAssessorUUID", "INACTIVE_TRAINER")
    ]
    assert record.changes == {
        "PrimaryAssessorUUID": (pushed_value(pushed, "MIS-200100"), rowntree.uuid)
    }
    assert report.failed
    assert _pushed(db) == pushed
    with db.session() as session:
        entry = next(e for e in journal.entries(session) if e.source_id == "MIS-200100")
        assert entry.state == "enrolled"
        assert [s for s, _ in journal.events(session, *entry.key)][-1] == "update_refused"


def pushed_value(pushed: dict[tuple[str, str], Any], learner: str) -> str:
    return str(next(p for (s, _), p in pushed.items() if s == learner)["PrimaryAssessorUUID"])


# -- failures and learners found only in LA -----------------------------------------------------


async def test_an_update_whose_answer_was_lost_is_settled_from_la_not_resent(
    client: AsyncClient, db: store.Store, export: Export, sandbox: Starlette
) -> None:
    export.edit("MIS-200107", email="ben.p@example.org")
    pushed = _pushed(db)
    fault = {"operation": "UpdateEnrolment", "mode": "drop_after_commit"}
    await _sandbox(sandbox, "POST", "/_sandbox/faults", json=fault)
    report = await _update(client, db, export)
    assert _outcomes(report)["MIS-200107"] == "uncertain"
    assert report.failed  # exit 1 while an update's outcome is unknown
    assert _pushed(db) == pushed  # not recorded as pushed: it may not have landed
    with db.session() as session:
        entry = next(e for e in journal.entries(session) if e.source_id == "MIS-200107")
    assert entry.update_sent is not None
    assert entry.update_sent["send"] == {"EmailAddress": "ben.p@example.org"}
    # LA shows the e-mail that was sent: the update landed, it is recorded and not sent again.
    again = await _update(client, db, export)
    assert _outcomes(again)["MIS-200107"] == "unchanged"
    assert await _update_calls(sandbox) == 1
    assert _pushed(db) != pushed
    with db.session() as session:
        settled = next(e for e in journal.entries(session) if e.source_id == "MIS-200107")
    assert settled.update_sent is None


async def test_an_update_that_may_not_have_landed_is_sent_again_when_la_differs(
    client: AsyncClient, db: store.Store, export: Export, sandbox: Starlette
) -> None:
    export.edit("MIS-200107", email="ben.p@example.org")
    fault = {"operation": "UpdateEnrolment", "mode": "fail_before"}  # HTTP 503, nothing done
    await _sandbox(sandbox, "POST", "/_sandbox/faults", json=fault)
    report = await _update(client, db, export)
    assert _outcomes(report)["MIS-200107"] == "uncertain"
    first = await _sent(sandbox)
    again = await _update(client, db, export)
    assert _outcomes(again)["MIS-200107"] == "updated"
    assert await _sent(sandbox) == first
    assert (await _candidate(client, "MIS-200107")).email == "ben.p@example.org"


async def test_an_update_that_never_left_stops_the_run(
    db: store.Store, export: Export, sandbox: Starlette
) -> None:
    export.edit("MIS-200107", email="ben.p@example.org")
    pushed = _pushed(db)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with AsyncClient("http://sandbox", "sandbox", "sandbox", backoff=0,
                           transport=httpx.MockTransport(refuse)) as down:  # fmt: skip
        with pytest.raises(TransportError) as failed:
            await Updater(down, db, Options(concurrency=1)).run(read_csv(export.path))
    assert not failed.value.maybe_sent
    assert _pushed(db) == pushed


async def test_a_learner_found_only_in_la_is_compared_with_what_la_shows(
    client: AsyncClient, db: store.Store, tmp_path: Path, sandbox: Starlette
) -> None:
    await sync(client, db)
    olivia = await _candidate(client, "MIS-000123")
    export = Export(tmp_path / "learners.csv", learners=("MIS-200100",))
    export.rows = [_seeded_row(export.row("MIS-200100"), olivia)]
    export.edit("MIS-000123", email="olivia.h@example.com")
    report = await _update(client, db, export)
    record = _record(report, "MIS-000123")
    assert record.outcome == "updated"
    assert record.changes["EmailAddress"] == (olivia.email, "olivia.h@example.com")
    assert record.changes["JobTitle"] == (None, "Office Administrator")  # LA does not show it
    for shown in ("Surname", "ULN", "CompanyUUID", "Course.StartDate", "Course.EndDate"):
        assert shown not in record.changes
    again = await _update(client, db, export)
    assert _outcomes(again) == {"MIS-000123": "unchanged"}
    assert _pushed(db)[("MIS-000123", olivia.course_uuid)] is not None


def _seeded_row(template: dict[str, str], olivia: Any) -> dict[str, str]:
    seed = next(s for s in CANDIDATES if s.source_id == "MIS-000123")
    row = dict.fromkeys(template, "")
    row.update(
        learner_id=seed.source_id, forename=seed.forename, surname=seed.surname,
        birth_date=seed.birth_date, gender=seed.gender, email=seed.email, uln=olivia.uln,
        company=seed.company, course=olivia.course_uuid, start_date=seed.start_date,
        end_date=seed.end_date, assessor=seed.assessor, verifier=seed.verifier,
        job_title=seed.job_title,
    )  # fmt: skip
    return row
