"""The sample files in examples/ and the README's commands that use them, run exactly as
written (a dry run against the sandbox, in a real process from the repository's root): issue 10,
point 4 (the README's ILR command had no file to run on; the sample CSV did not match the
mapping)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from labridge.sandbox.server import RunningSandbox, start_background

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
#: The README's commands on the sample files, as a reader copies them.
COMMANDS = re.findall(r"^(labridge enrol examples/\S+ --mapping examples/\S+ --dry-run)\s*$",
                      README, re.MULTILINE)  # fmt: skip


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with start_background(username="sandbox", password="sandbox") as running:
        yield running


def test_the_readme_shows_a_command_for_each_sample() -> None:
    assert [shlex.split(c)[2] for c in COMMANDS] == [
        "examples/learners-export.csv",
        "examples/ilr-sample.xml",
    ]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: shlex.split(c)[2])
def test_a_readme_command_runs_as_written(
    command: str, sandbox: RunningSandbox, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABRIDGE_")}
    env |= {
        "LABRIDGE_URL": sandbox.url,
        "LABRIDGE_USERNAME": "sandbox",
        "LABRIDGE_PASSWORD": "sandbox",
        "LABRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "COLUMNS": "200",
    }
    before = httpx.get(f"{sandbox.url}/_sandbox/stats").json()["calls"].get("GroupEnrolment", 0)
    # The README's first steps made the store (`labridge sync`); the sample commands come after.
    made = subprocess.run([sys.executable, "-m", "labridge", "sync"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert made.returncode == 0, made.stderr
    args = shlex.split(command)
    result = subprocess.run(
        [sys.executable, "-m", "labridge", *args[1:]],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "invalid" not in result.stdout.split("Records:")[1]
    sample = ROOT / args[2]
    if sample.suffix == ".csv":
        rows = len(sample.read_text(encoding="utf-8").splitlines()) - 1
        assert f"Records: {rows} would enrol" in result.stdout
        assert "warning" not in result.stderr.lower()  # every column is mapped or known
    else:
        assert "Records: 9 would enrol, 1 skipped" in result.stdout
        assert "CompStatus 2" in result.stdout  # the finished learner, with the reason
    after = httpx.get(f"{sandbox.url}/_sandbox/stats").json()["calls"].get("GroupEnrolment", 0)
    assert after == before  # a dry run sends no enrolment
