"""`labridge contract show`, `labridge doctor` and `--contract`, end to end: sandboxes started as
real processes (one with the default contract, one speaking deliberately different names),
labridge's commands against them, a real store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from labridge.cli import app
from labridge.sandbox.server import free_port, serve_process

DIALECTS = ("samples", "coldfusion")  # as tests/conftest.py: every dialect the sandbox speaks

ROOT = Path(__file__).resolve().parents[2]
LEARNERS = ROOT / "examples" / "learners.csv"
#: What a differing LA calls things: an operation, a type and two members renamed.
DIFFERENT = """\
[contract.operations.GetCandidates]
name = "GetLearners"
[contract.types.Type_candidate]
name = "Type_learner"
members = { SourceSystemLearnerUUID = "MISLearnerID" }
[contract.types.Type_enrolmentUser]
members = { EmployeeReferenceNumber = "PayrollNumber" }
"""


def _serve(tmp: Path, contract: str | None, dialect: str) -> Iterator[str]:
    flags = ["--dialect", dialect]
    if contract is not None:
        path = tmp / "la-contract.toml"
        path.write_text(contract, "utf-8")
        flags += ["--contract", str(path)]
    with serve_process(*flags) as url:
        yield url


@pytest.fixture(scope="module", params=DIALECTS)
def la_dialect(request: pytest.FixtureRequest) -> str:
    """The sandbox speaks the samples' shape, then ColdFusion's (its WSDLs in ColdFusion's form,
    docs/contract.md §5): doctor must read both."""
    return str(request.param)


@pytest.fixture(scope="module")
def plain_la(tmp_path_factory: pytest.TempPathFactory, la_dialect: str) -> Iterator[str]:
    yield from _serve(tmp_path_factory.mktemp("plain"), None, la_dialect)


@pytest.fixture(scope="module")
def different_la(tmp_path_factory: pytest.TempPathFactory, la_dialect: str) -> Iterator[str]:
    yield from _serve(tmp_path_factory.mktemp("different"), DIFFERENT, la_dialect)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    for key in ("LABRIDGE_URL", "LABRIDGE_USERNAME", "LABRIDGE_PASSWORD", "LABRIDGE_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    return {
        "LABRIDGE_USERNAME": "sandbox",
        "LABRIDGE_PASSWORD": "sandbox",
        "LABRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
    }


def invoke(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args, env=env)
    return result.exit_code, result.stdout, result.stderr


def test_contract_show_marks_each_item(env: dict[str, str], tmp_path: Path) -> None:
    overrides = tmp_path / "o.toml"
    overrides.write_text(DIFFERENT, "utf-8")
    code, out, err = invoke(["contract", "show", "--json", "--contract", str(overrides)], env)
    assert code == 0, err
    marks = {item["key"]: (item["value"], item["mark"]) for item in json.loads(out)}
    assert marks["operations.GetCandidates.name"] == ("GetLearners", "overridden")
    assert marks["operations.GroupEnrolment.name"] == ("GroupEnrolment", "DOC")
    assert marks["operations.GetFrameworks.name"] == ("GetFrameworks", "INF")
    assert marks["types.Type_candidate.members.SourceSystemLearnerUUID"][1] == "overridden"
    assert {mark for _, mark in marks.values()} == {"DOC", "INF", "overridden"}
    code, out, _ = invoke(["contract", "show"], env)
    assert code == 0
    assert "GetCandidates" in out
    assert out.count("overridden") == 1  # in the title's legend only: nothing is overridden


def test_doctor_against_the_sandbox_finds_nothing_to_fix(
    plain_la: str, env: dict[str, str]
) -> None:
    code, out, err = invoke(["doctor", "--json", "--url", plain_la], env)
    assert code == 0, out + err
    report = json.loads(out)
    assert [f for f in report["findings"] if f["level"] != "note"] == []
    checks = {ch["check"]: ch["status"] for ch in report["checks"]}
    assert checks == {
        "configuration": "ok",
        "TLS": "warn",  # plain http:// is warned about
        "clock": "ok",
        "credentials": "ok",
    }


def test_doctor_names_each_difference_with_its_override_line(
    different_la: str, env: dict[str, str]
) -> None:
    code, out, _ = invoke(["doctor", "--json", "--url", different_la], env)
    assert code == 1
    fixes = {f["key"]: f["override"] for f in json.loads(out)["findings"] if f["level"] != "note"}
    assert fixes == {
        "operations.GetCandidates.name": '[contract.operations.GetCandidates] name = "GetLearners"',
        "types.Type_candidate.name": '[contract.types.Type_candidate] name = "Type_learner"',
        "types.Type_candidate.members.SourceSystemLearnerUUID": (
            '[contract.types.Type_candidate] members = { SourceSystemLearnerUUID = "MISLearnerID" }'
        ),
        "types.Type_enrolmentUser.members.EmployeeReferenceNumber": (
            "[contract.types.Type_enrolmentUser] members = "
            '{ EmployeeReferenceNumber = "PayrollNumber" }'
        ),
    }
    code, out, _ = invoke(["doctor", "--url", different_la], env)
    assert code == 1
    assert "fix: [contract.operations.GetCandidates]" in out


def test_without_the_overrides_sync_fails_clearly(different_la: str, env: dict[str, str]) -> None:
    code, _, err = invoke(["sync", "--url", different_la], env)
    assert code == 3
    assert "unknown operation 'GetCandidates'" in " ".join(err.split())
    assert "GetLearners" in err


def test_the_written_overrides_make_sync_and_enrol_succeed(
    different_la: str, env: dict[str, str], tmp_path: Path
) -> None:
    written = tmp_path / "overrides.toml"
    code, _, err = invoke(["doctor", "--url", different_la, "--write-overrides", str(written)], env)
    assert code == 1
    assert written.exists(), err
    code, out, err = invoke(
        ["sync", "--json", "--url", different_la, "--contract", str(written)], env
    )
    assert code == 0, err
    assert json.loads(out)["candidates"]["total"] > 0
    code, out, err = invoke(
        ["enrol", str(LEARNERS), "--json", "--url", different_la, "--contract", str(written)], env
    )
    report = json.loads(out)
    # The example holds some records labridge's own checks reject (invalid); none is refused by
    # LA, so every learner sent went through under LA's names.
    assert report["enrolled"] > 0, err
    assert report["refused"] == 0
    code, out, _ = invoke(["doctor", "--url", different_la, "--contract", str(written)], env)
    assert code == 0, out
    # ...and the sandbox that speaks those names checks what it received under them.
    stats = httpx.get(different_la + "/_sandbox/stats").json()
    assert stats["calls"]["GroupEnrolment"] >= report["enrolled"]


def test_doctor_with_nothing_listening_exits_3(env: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, out, _ = invoke(["doctor", "--url", url], env)
    assert code == 3
    assert "cannot reach LA" in " ".join(out.split())


def test_doctor_with_refused_credentials_exits_3_without_the_password(
    plain_la: str, env: dict[str, str]
) -> None:
    env["LABRIDGE_PASSWORD"] = "Not-the-password-42"
    code, out, err = invoke(["doctor", "--json", "--url", plain_la], env)
    assert code == 3
    checks = {ch["check"]: ch for ch in json.loads(out)["checks"]}
    assert checks["credentials"]["status"] == "fail"
    assert "refused the credentials" in checks["credentials"]["message"]
    assert "Not-the-password-42" not in out + err
