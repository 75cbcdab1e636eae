"""`labridge demo` in a real process, and every figure it prints checked against the store it
kept, through the same commands a user runs afterwards (issue 10: the to-do list showed 7 of 8,
and `status` said 43 enrolled where the demo said 42)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labridge.cli import app

SAMPLE = Path(__file__).parents[2] / "examples" / "learners.csv"


def _labridge(*args: str, db: Path) -> str:
    result = CliRunner().invoke(app, [*args, "--db", str(db)], env={"COLUMNS": "200"})
    assert result.exit_code in (0, 1), result.stderr
    return result.stdout


def _section(out: str, start: str, end: str) -> str:
    return out.split(start, 1)[1].split(end, 1)[0]


def _records(text: str) -> dict[str, int]:
    """ "Records: 42 enrolled, 1 skipped, 8 invalid" as {"enrolled": 42, ...}."""
    line = re.search(r"Records: (.*)", text)
    assert line is not None, text
    return {o.replace(" ", "_"): int(n) for n, o in re.findall(r"(\d+) ([a-z ]+?)(?:,|$)",
                                                               line.group(1))}  # fmt: skip


def _table(text: str) -> dict[str, list[int]]:
    """The numbers of each row of the Rich table in ``text``, by the row's first cell."""
    rows = re.findall(r"│ ([a-z][a-z_ ]*?) +│((?: +\d+ +│)+)", text)
    return {name: [int(n) for n in re.findall(r"\d+", nums)] for name, nums in rows}


@pytest.mark.slow
def test_every_figure_the_demo_prints_agrees_with_the_store(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABRIDGE_")}
    keep = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "labridge", "demo", "--keep", str(keep)],
        capture_output=True, text=True, timeout=180, env={**env, "COLUMNS": "200"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out, db = result.stdout, keep / "labridge.db"
    rows = len(SAMPLE.read_text(encoding="utf-8").splitlines()) - 1

    # 1-3: the sync's totals, the second sync's changes, what the store holds.
    first = _table(_section(out, "1. Sync", "2. Sync again"))
    second = _table(_section(out, "2. Sync again", "3. What the store holds"))
    held = _table(_section(out, "3. What the store holds", "4. Enrolment plan"))
    assert set(first) == set(second) == set(held) == {
        "frameworks", "units", "trainers", "companies", "nationalities", "ethnicities",
        "candidates",
    }  # fmt: skip
    assert all(nums[:3] == [0, 0, 0] for nums in second.values())
    assert "Changes on the second run: none" in out
    assert {k: v[0] for k, v in held.items()} == {k: v[3] for k, v in first.items()}
    assert {k: v[3] for k, v in second.items()} == {k: v[3] for k, v in first.items()}

    # 4-6: the dry run, the real run and the repeat count every row of the sample, the same way.
    dry = _records(_section(out, "4. Enrolment plan", "5. Enrol for real"))
    real = _records(_section(out, "5. Enrol for real", "6. The same command again"))
    repeat = _records(_section(out, "6. The same command again", "7. What needs fixing"))
    assert sum(dry.values()) == sum(real.values()) == sum(repeat.values()) == rows
    assert dry["would_enrol"] == real["enrolled"] == 42
    assert dry["invalid"] == real["invalid"] == repeat["invalid"] == 8
    assert repeat == {"skipped": real["enrolled"] + real["skipped"], "invalid": 8}

    # 7: the to-do list has every invalid row, and `labridge enrolments --problems` agrees.
    todo = _section(out, "7. What needs fixing", "8. Pull")
    assert f"What needs fixing: {real['invalid']} problems" in todo
    items = json.loads(_labridge("enrolments", "--problems", "--json", db=db))
    assert len(items) == real["invalid"]
    assert {i["state"] for i in items} == {"invalid"}
    assert all(i["field"] and i["message"] and i["fix"] for i in items)

    # The store after the demo: `labridge status` says what the demo said.
    status = json.loads(_labridge("status", "--json", db=db))
    states = status["enrolments"]
    assert states["enrolled"] == real["enrolled"] + real["skipped"]
    assert status["enrolled_found_in_la"] == real["skipped"]  # LA held them already
    assert states["invalid"] == real["invalid"]
    assert sum(states.values()) == rows
    text = _labridge("status", db=db)
    assert f"{states['enrolled']} enrolled ({real['enrolled']} by labridge, " in text

    # 8-9: each pull asks every learner LA holds, and status counts the same learners.
    numbers = [
        [int(n) for n in re.findall(r"│ +(\d+) +│ +(\d+) +│ +(\d+) +│ +(\d+) +│", block)[0]]
        for block in re.split(r"Progress pulled from LA", out)[1:]
    ]
    assert len(numbers) == 4
    candidates = status["sets"]["candidates"]["present"]
    for learners, changed, unchanged, failed in numbers:
        assert learners == changed + unchanged + failed == candidates
        assert failed == 0
    assert status["progress"]["learners"] == candidates
    assert status["progress"]["failing"] == 0

    # 10-11: both updates see every row; the enrolled ones are updated or unchanged. A trainer
    # in a diff is named, not only a UUID.
    for start, end in (("10. Update", "11. "), ("e-mail changed in the MIS", "What the sandbox")):
        counted = _records(_section(out, start, end))
        assert counted == {"updated": 1, "unchanged": states["enrolled"] - 1, "invalid": 8}
    found_in_la = _section(out, "10. Update", "11. ")
    assert re.search(r"AssessorUUID: \(unknown\) → [A-Z][a-z]+ [A-Z][a-z]+ \([0-9a-f]{8}…\)",
                     found_in_la)  # fmt: skip
    changed_email = _section(out, "e-mail changed in the MIS", "What the sandbox saw")
    assert "EmailAddress" in changed_email
    assert "NINumber" not in changed_email

    # What the sandbox saw, against the store and the figures above.
    saw = _section(out, "What the sandbox saw", "Progress report")
    calls = dict(re.findall(r"│ (\w+) +│ +(\d+) │", saw))
    assert int(calls["GroupEnrolment"]) == real["enrolled"]
    assert int(calls["UpdateEnrolment"]) == 2
    line = re.search(r"Candidates in LA: (\d+); learners enrolled twice: (\d+); welcome e-mails "
                     r"sent: (\d+)", saw)  # fmt: skip
    assert line is not None
    assert int(line.group(1)) == candidates
    assert int(line.group(2)) == len(json.loads(_labridge("duplicates", "--json", db=db))) == 0
    assert int(line.group(3)) == real["enrolled"]

    report = keep / "labridge-demo-report.html"
    assert f"Progress report (open it in a browser): {report}" in out.replace("\n", "")
    html = report.read_text(encoding="utf-8")
    assert "<svg" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
