"""`labridge forget` and `[store] retention_days` through the CLI, against the sandbox over
loopback and a real SQLite store: dry runs, reports without names, exit codes, no re-enrolment
of a forgotten learner, and the retention step of `labridge run --once`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner, Result

from labridge.cli import app
from labridge.sandbox.server import RunningSandbox

SAMPLE = Path(__file__).parents[2] / "examples" / "learners.csv"
#: Ewan Shaw (the sample's fifth row) and what identifies them.
LEARNER = "MIS-200128"
CANARIES = ("Ewan", "Shaw", "ewan.shaw68@example.org", "WH963738C", "73 Queens Road", "4202221817")
ENV = {"LABRIDGE_PASSWORD": "sandbox"}


@pytest.fixture
def config(tmp_path: Path, sandbox: RunningSandbox) -> Path:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()[:7]  # header and six learners
    (tmp_path / "learners.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = tmp_path / "labridge.toml"
    path.write_text(
        f"""
[la]
url = "{sandbox.url}"
username = "sandbox"

[store]
database_url = "sqlite:///{tmp_path / "store.db"}"
retention_days = 30

[[run.sources]]
path = "learners.csv"
update = false
""",
        encoding="utf-8",
    )
    return path


def _cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=ENV)


def _store_text(config: Path) -> str:
    engine = sa.create_engine(f"sqlite:///{config.parent / 'store.db'}")
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            rows = [row for name in names for row in conn.execute(sa.text(f"SELECT * FROM {name}"))]
            return "\n".join(str(value) for row in rows for value in row)
    finally:
        engine.dispose()


def _enrol(config: Path) -> dict[str, dict[str, str]]:
    result = _cli("enrol", str(config.parent / "learners.csv"), "--json", "--create",
                  "--config", str(config))  # fmt: skip
    assert result.exit_code in (0, 1), result.output
    return {r["source_id"]: r for r in json.loads(result.stdout)["records"]}


def test_forget_reports_erases_and_the_learner_is_not_enrolled_again(config: Path) -> None:
    assert _enrol(config)[LEARNER]["outcome"] == "enrolled"
    assert _cli("sync", "--config", str(config)).exit_code == 0  # the mirror has them too
    before = _store_text(config)
    assert [x for x in CANARIES if x not in before] == []

    dry = _cli("forget", LEARNER, "--dry-run", "--json", "--config", str(config))
    assert dry.exit_code == 0, dry.output
    (planned,) = json.loads(dry.stdout)["learners"]
    assert planned["outcome"] == "would_erase"
    assert planned["tables"]["candidates"] == planned["tables"]["enrolments"] == 1
    assert _store_text(config) == before

    done = _cli("forget", LEARNER, "NOBODY", "--json", "--config", str(config))
    assert done.exit_code == 1  # NOBODY is not in the store
    report = json.loads(done.stdout)
    assert [(e["learner"], e["outcome"]) for e in report["learners"]] == [
        (LEARNER, "erased"),
        ("NOBODY", "not_found"),
    ]
    assert report["learners"][0]["tables"] == planned["tables"]
    assert report["vacuumed"] is True
    after = _store_text(config)
    assert [x for x in (*CANARIES[2:], LEARNER) if x in after] == []
    assert not any(x in done.output for x in CANARIES)  # the report names no one

    again = _enrol(config)[LEARNER]
    assert again["outcome"] == "skipped"
    today = datetime.now(UTC).date().isoformat()
    assert again["reason"] == f"forgotten: erased on {today}, not re-enrolled"
    assert LEARNER not in _store_text(config)

    table = _cli("forget", LEARNER, "--config", str(config))
    assert table.exit_code == 0
    assert "already forgotten" in table.stdout
    assert f"erased on {today}" in table.stdout


def test_forget_with_nothing_to_forget_is_a_usage_error(config: Path) -> None:
    result = _cli("forget", "--config", str(config))
    assert result.exit_code == 2
    assert "what to do:" in result.stderr
    assert "Traceback" not in result.output


def test_retention_in_run_erases_learners_gone_from_la_that_long(
    config: Path, sandbox: RunningSandbox
) -> None:
    first = _cli("run", "--once", "--create", "--json", "--config", str(config))
    steps = {s["name"]: s for s in json.loads(first.stdout)["steps"]}
    assert list(steps)[:2] == ["sync", "retention"]
    assert steps["retention"]["summary"].startswith("0 learners erased")
    la = sandbox.app.state.db
    (cand,) = [x for x in la.candidates(active=True, completed=True) if x.source_id == LEARNER]
    la.update_candidate(cand.candidate_uuid, {"is_test": True})  # gone from LA's lists
    assert _cli("sync", "--config", str(config)).exit_code == 0
    # The sync marked them removed now; the store is made to say it was 31 days ago.
    engine = sa.create_engine(f"sqlite:///{config.parent / 'store.db'}")
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE candidates SET removed_at = :at WHERE source_id = :id"),
            {"at": (datetime.now(UTC) - timedelta(days=31)).strftime("%Y-%m-%d %H:%M:%S.%f"),
             "id": LEARNER},
        )  # fmt: skip
    engine.dispose()

    second = _cli("run", "--once", "--json", "--config", str(config))
    steps = {s["name"]: s for s in json.loads(second.stdout)["steps"]}
    assert steps["retention"]["ok"]
    assert steps["retention"]["summary"].startswith("1 learner erased (1 candidates, 1 enrolments")
    assert "gone from LA over 30 days" in steps["retention"]["summary"]
    after = _store_text(config)
    assert [x for x in (*CANARIES[2:], LEARNER) if x in after] == []
    assert "retention: 1 learner erased" in second.stderr  # logged with the cycle


def test_retention_is_off_by_default(config: Path) -> None:
    text = config.read_text(encoding="utf-8").replace("retention_days = 30\n", "")
    config.write_text(text, encoding="utf-8")
    result = _cli("run", "--once", "--create", "--json", "--config", str(config))
    assert "retention" not in [s["name"] for s in json.loads(result.stdout)["steps"]]
