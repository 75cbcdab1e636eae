"""The benchmarks under bench/ keep working: each script runs at a tiny size (docs/benchmarks.md).

No figure is asserted (nothing here is timed): what is checked is that the replay LA answers every
operation in a shape labridge's client decodes, and that each script runs to its table. The
scripts assert their own invariants as they go (every learner enrolled, every pull written, the
decoders agreeing on the count).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).parents[1] / "bench"


@pytest.fixture(scope="module")
def bench() -> dict[str, ModuleType]:
    sys.path.insert(0, str(BENCH))
    try:
        return {
            name: importlib.import_module(name)
            for name in (
                "replay",
                "bound",
                "codec",
                "startup",
                "output",
                "enrol_memory",
                "big_centre",
                "fleet",
            )
        }
    finally:
        sys.path.remove(str(BENCH))


def test_replay_answers_every_operation_labridge_calls(bench: dict[str, ModuleType]) -> None:
    result = bench["replay"].check(rounds=5)
    assert result["calls"] > 10
    assert result["cpu_ms_per_call"] > 0


def test_bound_enrols_and_pulls_against_the_replay_la(bench: dict[str, ModuleType]) -> None:
    text = bench["bound"].main(
        ["--learners", "10", "--enrol-concurrency", "4", "--pull-concurrency", "4", "--no-write"]
    )
    assert "| enrol (SQLite) | 10 | 4 |" in text
    assert "| progress pull --full | 10 | 4 |" in text
    assert "second / first" in text


def test_codec_compares_labridge_lxml_zeep_and_suds(bench: dict[str, ModuleType]) -> None:
    text = bench["codec"].main(["--candidates", "20", "--budget", "0.01", "--no-write"])
    assert "GetCandidates, 20 candidates" in text
    assert "GetProgressFull, 12 units x 10 outcomes" in text
    assert "Encoding a full GroupEnrolment request" in text


def test_startup_times_labridge_against_a_minimal_typer_app(
    bench: dict[str, ModuleType],
) -> None:
    text = bench["startup"].main(
        ["--runs", "1", "--only", "labridge --version", "--no-imports", "--no-write"]
    )
    assert "`minimal Typer app --help`" in text
    assert "`labridge --version`" in text


def test_output_runs_the_cli_against_plain_json(bench: dict[str, ModuleType]) -> None:
    text = bench["output"].main(
        ["--records", "20", "--only", "labridge enrolments --json", "--no-write"]
    )
    assert "| labridge enrolments --json |" in text


def test_memory_runs_a_dry_enrolment_through_the_cli(bench: dict[str, ModuleType]) -> None:
    text = bench["enrol_memory"].main(["--learners", "10", "--dry-json-only", "--no-write"])
    assert "| `labridge enrol --dry-run --json` | 10 |" in text


def test_big_centre_syncs_twice_against_the_keyed_replay_la(
    bench: dict[str, ModuleType],
) -> None:
    text = bench["big_centre"].main(["--candidates", "60", "--courses", "3", "--no-write"])
    assert "| first sync |" in text
    assert "| second sync (nothing changed) |" in text
    assert "0 / 0 / 0 |" in text  # the second sync found nothing to change
    assert "reference rows written by the second: 0" in text


def test_sandbox_load_drives_a_sandbox_process_with_an_external_generator() -> None:
    sys.path.insert(0, str(BENCH))
    try:
        sandbox_load = importlib.import_module("sandbox_load")
    finally:
        sys.path.remove(str(BENCH))
    text = sandbox_load.main(["--calls", "20", "--concurrency", "2", "--warmup", "2", "--no-write"])
    assert "| 20 | 2 |" in text


@pytest.mark.slow
def test_fleet_runs_tenants_on_workers_and_survives_a_killed_one(
    bench: dict[str, ModuleType],
) -> None:
    text = bench["fleet"].main(
        ["--tenants", "2", "--learners", "5", "--workers", "2", "--concurrency", "2", "--no-write"]
    )
    live, killed = (line for line in text.splitlines() if line.startswith("| all") or
                    line.startswith("| one worker"))  # fmt: skip
    for row in (live, killed):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == "2 x 5"
        assert cells[6] == "0"  # duplicates in LA
