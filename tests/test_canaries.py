"""Learners' personal data and the LA password out of every output (issue 9, point 6).

A learner is seeded with canary values (strings found nowhere else) in every personal field;
each failure is forced for real (a refusal, an HTTP 500 echoing the request, an invalid record, a
SQL source failing on a learner's value, an unreadable answer, a run summary), the real CLI runs
as a process of its own at -v and at -vv, and its stdout and stderr (the logs) are searched for
every canary and for the password."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from alteredla import Alter, altered_la, answer_500
from labridge.sandbox.server import RunningSandbox, start_background
from labridge.store import open_store

PASSWORD = "Pw-canary-9f3e1d"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "learners.csv"

#: field → canary, each valid so that the record reaches LA.
CANARIES = {
    "forename": "Zebedeeqx",
    "surname": "Quorvathy",
    "birth_date": "13/07/1991",
    "email": "zq.canary77@quorvath.example",
    "ni_number": "JY739146B",
    "mobile": "07700900461",
    "address_line1": "17 Xylocarp Row",
    "line_manager": "Ottoline Vantablack",
}
#: The forms labridge sends them in (normalised), searched for too.
SENT_FORMS = ("1991-07-13",)


def canary_csv(path: Path, **changed: str) -> Path:
    """examples/learners.csv's first learner, with the canaries (and ``changed``) in place."""
    header, first = EXAMPLE.read_text(encoding="utf-8").splitlines()[:2]
    names, values = header.split(","), first.split(",")
    # A learner id of its own: the sandbox (one per module) holds those enrolled before.
    unique = {"learner_id": f"CAN-{uuid.uuid4().hex[:10]}"}
    row = dict(zip(names, values, strict=True)) | CANARIES | unique | changed
    path.write_text(header + "\n" + ",".join(row[n] for n in names) + "\n", encoding="utf-8")
    return path


def assert_no_canary(*texts: str) -> None:
    everything = "\n".join(texts)
    for value in (*CANARIES.values(), *SENT_FORMS, PASSWORD):
        assert value not in everything, f"{value!r} leaked:\n{everything[-3000:]}"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with start_background(username="ws-user", password=PASSWORD) as running:
        yield running


def labridge(
    url: str, store: Path, *args: str, verbosities: tuple[str, ...] = ("-v", "-vv")
) -> list[tuple[int, str, str]]:
    """Run ``labridge ARGS`` at -v and at -vv (each on a fresh copy of nothing: same store);
    returns (exit code, stdout, stderr) of each."""
    env = {
        **os.environ, "LABRIDGE_URL": url, "LABRIDGE_USERNAME": "ws-user",
        "LABRIDGE_PASSWORD": PASSWORD, "LABRIDGE_DATABASE_URL": f"sqlite:///{store}",
    }  # fmt: skip
    if not store.exists():  # the store exists: the commands under test run, not refuse
        open_store(f"sqlite:///{store}").close()
    runs = []
    for verbosity in verbosities:
        proc = subprocess.run(
            [sys.executable, "-m", "labridge", *args, *filter(None, [verbosity])],
            env=env, capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
        runs.append((proc.returncode, proc.stdout, proc.stderr))
    return runs


def refusal_quoting(*values: str) -> Alter:
    """GroupEnrolment answered with a refusal (for the learner sent) whose messages quote
    ``values``, as LA's own messages quote the ULN they refuse."""
    golden = Path(__file__).parent / "soap" / "golden" / "GroupEnrolment.refused.response.xml"
    body = golden.read_text(encoding="utf-8").replace(
        "The ULN 9276308687 fails its check digit.",
        "Learner " + " ".join(values) + " cannot be enrolled.",
    )

    def alter(op: str, status: int, original: bytes) -> tuple[int, bytes]:
        if op != "GroupEnrolment":
            return status, original
        sent = re.search(rb"<SourceSystemLearnerUUID[^>]*>([^<]*)<", original)
        learner = sent.group(1).decode() if sent else ""
        return 200, body.replace("MIS-000481", learner).encode()

    return alter


def test_an_enrolment_that_succeeds(sandbox: RunningSandbox, tmp_path: Path) -> None:
    source = canary_csv(tmp_path / "learners.csv")
    for code, out, err in labridge(sandbox.url, tmp_path / "s.db", "enrol", str(source)):
        assert code == 0, err
        assert_no_canary(out, err)
    [(code, out, err)] = labridge(sandbox.url, tmp_path / "s.db", "enrolments", verbosities=("",))
    assert code == 0, err
    assert_no_canary(out, err)


@pytest.mark.parametrize(
    "bad",
    [
        {"email": "zq.canary77@@quorvath.example"},
        {"ni_number": "ZZ739146Q"},
        {"birth_date": "31/02/1991"},
        {"uln": "7391461234"},
        {"postcode": "QX9 CANARY"},
    ],
    ids=["email", "ni", "date", "uln", "postcode"],
)
def test_validation_errors_name_the_field_not_the_value(
    sandbox: RunningSandbox, tmp_path: Path, bad: dict[str, str]
) -> None:
    source = canary_csv(tmp_path / "learners.csv", **bad)
    for code, out, err in labridge(sandbox.url, tmp_path / "s.db", "enrol", str(source)):
        assert code == 1, err
        assert "invalid" in out
        assert_no_canary(out, err)
        for value in bad.values():
            assert value not in out + err


@pytest.mark.parametrize("verbosity", ["-v", "-vv"])
def test_la_refuses_quoting_the_learner(
    sandbox: RunningSandbox, tmp_path: Path, verbosity: str
) -> None:
    source = canary_csv(tmp_path / "learners.csv")
    alter = refusal_quoting(CANARIES["surname"], CANARIES["ni_number"], "1991-07-13")
    store, once = tmp_path / "s.db", (verbosity,)
    with altered_la(sandbox.url, alter) as url:
        [(code, out, err)] = labridge(url, store, "enrol", str(source), verbosities=once)
        assert code == 1, out
        assert "refused" in out
        assert_no_canary(out, err)
        [(_, out, err)] = labridge(url, store, "enrolments", "--json", verbosities=("",))
        assert "UNKNOWN_COMPANY" in out  # LA's other message is still shown
        assert_no_canary(out, err)


def test_la_answers_500_echoing_the_request(sandbox: RunningSandbox, tmp_path: Path) -> None:
    source = canary_csv(tmp_path / "learners.csv")
    page = f"<html>Error in request for {' '.join(CANARIES.values())} pw={PASSWORD}</html>"
    with altered_la(sandbox.url, answer_500("GroupEnrolment", page.encode())) as url:
        for _, out, err in labridge(url, tmp_path / "s.db", "enrol", str(source)):
            assert "Traceback" not in err
            assert_no_canary(out, err)


def test_an_unreadable_answer_holding_personal_data(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """GetCandidates with a learner's name where a date belongs: the error names the member,
    and its excerpt of the bad value must not be the learner's data."""

    def alter(op: str, status: int, body: bytes) -> tuple[int, bytes]:
        if op != "GetCandidates":
            return status, body
        return status, re.sub(
            rb"(<StartDate[^>]*>)[^<]*(</StartDate>)",
            rb"\g<1>" + CANARIES["surname"].encode() + rb"\g<2>",
            body,
            count=1,
        )

    with altered_la(sandbox.url, alter) as url:
        for code, out, err in labridge(url, tmp_path / "s.db", "sync"):
            assert code == 3, err
            assert "GetCandidates" in err
            assert_no_canary(out, err)


def test_run_once_summary(sandbox: RunningSandbox, tmp_path: Path) -> None:
    source = canary_csv(tmp_path / "learners.csv", email="zq.canary77@@quorvath.example")
    config = tmp_path / "labridge.toml"
    config.write_text(f'[[run.sources]]\npath = "{source}"\n', encoding="utf-8")
    for _, out, err in labridge(sandbox.url, tmp_path / "s.db", "run", "--once", "--config",
                                str(config)):  # fmt: skip
        assert "Traceback" not in err
        assert_no_canary(out, err)


def test_a_sql_source_failing_on_a_learners_value(
    sandbox: RunningSandbox, tmp_path: Path, pg_source: str
) -> None:
    """PostgreSQL quotes the value a cast fails on ('invalid input syntax for type date: "..."')
    and puts rows in DETAIL lines: neither reaches the output."""
    query = "SELECT learner_id, forename, surname, CAST(birth_text AS date) AS birth_date FROM mis"
    for code, out, err in labridge(
        sandbox.url, tmp_path / "s.db", "enrol", "--sql", query, "--source-db", pg_source
    ):
        assert code == 2, err
        assert "22007" in err or "22008" in err or "SQLSTATE" in " ".join(err.split())
        assert_no_canary(out, err)


@pytest.fixture
def pg_source() -> Iterator[str]:
    """A PostgreSQL MIS whose learner has a canary where a date should be."""
    from conftest import _postgres_database

    for url in _postgres_database():
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TABLE mis (learner_id text, forename text, surname text, birth_text text)"
            )
            conn.exec_driver_sql(
                "INSERT INTO mis VALUES (%(id)s, %(f)s, %(s)s, %(b)s)",
                {"id": "MIS-1", "f": CANARIES["forename"], "s": CANARIES["surname"],
                 "b": CANARIES["address_line1"]},
            )  # fmt: skip
        engine.dispose()
        yield url


@pytest.mark.slow
def test_a_password_inside_the_la_url(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """Pasted into the URL (``http://user:pw@host``): neither labridge's lines (-v) nor httpx's
    (-vv) show it, in a sync that works and in one LA refuses."""
    url = sandbox.url.replace("http://", f"http://ws-user:{PASSWORD}@")
    for code, out, err in labridge(url, tmp_path / "s.db", "sync"):
        assert code == 0, err
        assert "ws-user:***@" in err
        assert_no_canary(out, err)
    wrong = sandbox.url.replace("http://", "http://ws-user:Wrong-pw-canary@")
    for _, out, err in labridge(wrong, tmp_path / "s.db", "sync", "--username", "nobody"):
        assert "Wrong-pw-canary" not in out + err
        assert_no_canary(out, err)
