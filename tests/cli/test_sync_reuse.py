"""`[sync] max_age_minutes` (issue 11 §1): enrol, update and progress pull do not sync again while
the last sync is young; they list again only the candidates of the courses their source names.
Against a sandbox over loopback whose every course has a QAN (a generated centre)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from labridge.sandbox.seed import Generated
from labridge.sandbox.server import RunningSandbox, start_background

from .clienv import invoke

EXAMPLES = Path(__file__).parents[2] / "examples"
#: Generated courses nobody in examples/learners.csv is on.
OTHER_COURSES = 20


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with start_background(test_hooks=True, generated=Generated(200, OTHER_COURSES)) as running:
        yield running


def _calls(sandbox: RunningSandbox) -> dict[str, int]:
    calls: dict[str, int] = httpx.get(f"{sandbox.url}/_sandbox/stats").json()["calls"]
    return calls


def _sync_runs(tmp_path: Path) -> int:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM sync_runs")).scalar_one()
    engine.dispose()
    return int(count)


def _config(tmp_path: Path, minutes: float) -> None:
    (tmp_path / "labridge.toml").write_text(f"[sync]\nmax_age_minutes = {minutes}\n", "utf-8")


def _courses(sandbox: RunningSandbox) -> int:
    return len(sandbox.app.state.db.frameworks())


def test_a_young_sync_is_reused_and_only_the_sources_courses_are_listed_again(
    sandbox: RunningSandbox, env: dict[str, str], tmp_path: Path
) -> None:
    _config(tmp_path, 60)
    assert invoke(["sync"], env)[0] == 0
    before = _calls(sandbox)
    assert before["GetCandidates"] == 2 * _courses(sandbox)  # course by course, two calls each
    code, out, err = invoke(["enrol", str(EXAMPLES / "learners.csv"), "--dry-run", "--json"], env)
    assert code == 1, err  # the examples hold records to fix
    assert json.loads(out)["would_enrol"] > 30
    after = _calls(sandbox)
    assert _sync_runs(tmp_path) == 1  # not synced again
    assert after["GetFrameworks"] == before["GetFrameworks"]
    listed = after["GetCandidates"] - before["GetCandidates"]
    # The courses the source names, in every status: none of the 20 generated ones.
    assert 0 < listed <= 2 * (_courses(sandbox) - OTHER_COURSES)


def test_max_age_zero_syncs_before_every_command(
    sandbox: RunningSandbox, env: dict[str, str], tmp_path: Path
) -> None:
    _config(tmp_path, 0)
    assert invoke(["sync"], env)[0] == 0
    code, _, err = invoke(["enrol", str(EXAMPLES / "learners.csv"), "--dry-run", "--json"], env)
    assert code == 1, err
    assert _sync_runs(tmp_path) == 2
    assert _calls(sandbox)["GetFrameworks"] == 2


def test_a_real_enrolment_lists_its_courses_again_so_a_pull_sees_whom_it_enrolled(
    sandbox: RunningSandbox, env: dict[str, str], tmp_path: Path
) -> None:
    _config(tmp_path, 60)
    assert invoke(["sync"], env)[0] == 0
    code, out, err = invoke(["enrol", str(EXAMPLES / "learners.csv"), "--json"], env)
    assert code == 1, err
    enrolled = json.loads(out)["enrolled"]
    assert enrolled > 30
    code, out, err = invoke(["progress", "pull", "--json"], env)
    assert code == 0, err
    assert _sync_runs(tmp_path) == 1  # the pull reused the sync too
    # Everyone LA held at the sync, and everyone the enrolment added since.
    assert json.loads(out)["learners"] == len(
        sandbox.app.state.db.candidates(active=True, completed=True)
    ) + len(sandbox.app.state.db.candidates(active=False))
