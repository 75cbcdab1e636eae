"""Enrolling from an ILR file, end to end: both schema years, the example ILR mapping, the real
sandbox over loopback and the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from labridge.cli import app
from labridge.sandbox.server import RunningSandbox

from .ilr_files import employment, learner, programme_aim, qualification_aim, write_ilr

MAPPING = Path(__file__).parents[2] / "examples" / "ilr-mapping.toml"


def _learners() -> list[dict[str, object]]:
    return [
        {**person, "NINumber": f"JH12345{n}C"}  # the writer's default QQ... is HMRC's example
        for n, person in enumerate(_people())
    ]


def _people() -> list[dict[str, object]]:
    return [
        # An apprentice on Business Administrator (StdCode 196) at a mapped employer.
        learner("LR0001", 1, aims=[programme_aim("196")]),
        # A Team Leader apprentice at the care home, whose assessor comes from [by_employer].
        learner(
            "LR0002",
            2,
            employment=[employment("10", "2024-08-01", "105004567")],
            aims=[programme_aim("105", LearnStartDate="2025-10-06")],
        ),
        # A BTEC learner: the aim is mapped under [ilr.aims] to the course's QAN.
        learner("LR0003", 3, aims=[qualification_aim("60070436")]),
        # Finished: nothing to enrol, reported as skipped with why.
        learner("LR0004", 4, aims=[programme_aim("196", CompStatus="2")]),
        # A standard nobody mapped: invalid, with the fix.
        learner("LR0005", 5, aims=[programme_aim("999")]),
    ]


@pytest.mark.parametrize("year", ["2024-25", "2025-26"])
def test_enrol_from_an_ilr_file(sandbox: RunningSandbox, tmp_path: Path, year: str) -> None:
    ilr = write_ilr(tmp_path / f"ILR-10099999-{year}.xml", _learners(), year)
    env = {
        "LABRIDGE_URL": sandbox.url,
        "LABRIDGE_USERNAME": "sandbox",
        "LABRIDGE_PASSWORD": "sandbox",
        "LABRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
    }
    args = ["enrol", str(ilr), "--mapping", str(MAPPING), "--json", "--create"]
    result = CliRunner().invoke(app, args, env=env)
    report = json.loads(result.stdout)
    outcomes = {r["source_id"]: r for r in report["records"]}
    assert result.exit_code == 1  # LR0005 needs fixing
    assert {k: outcomes[k]["outcome"] for k in ("LR0001", "LR0002", "LR0003")} == {
        "LR0001": "enrolled",
        "LR0002": "enrolled",
        "LR0003": "enrolled",
    }
    assert outcomes["LR0004"]["outcome"] == "skipped"
    assert "CompStatus 2" in outcomes["LR0004"]["reason"]
    assert outcomes["LR0005"]["outcome"] == "invalid"
    assert any("[ilr.standards]" in p["message"] for p in outcomes["LR0005"]["problems"])
    stats = httpx.get(sandbox.url + "/_sandbox/stats").json()
    assert stats["candidates"] == 9 + 3  # 9 seeded (2 withdrawn)
    again = json.loads(CliRunner().invoke(app, args, env=env).stdout)
    assert again["enrolled"] == 0
    assert httpx.get(sandbox.url + "/_sandbox/stats").json()["duplicate_source_ids"] == 0
