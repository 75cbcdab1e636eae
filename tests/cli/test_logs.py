"""Logs a person reads (issue 10, point 2): a real ``labridge run --once`` against a sandbox in
its own process logs, at the default level, the settings line, one line per step with its counts
and one summary line per cycle; no library's lines below ``-vv``; a step with invalid records is
a WARNING, not ``ok``; ``--log-format json`` is one JSON object per line."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from labridge.cli import logs
from labridge.sandbox.server import serve_process

SAMPLE = Path(__file__).parents[2] / "examples" / "learners.csv"
LIBRARIES = ("httpx", "httpcore", "alembic", "apscheduler", "sqlalchemy")
#: A text log line: "2026-12-02 01:02:03,456 LEVEL logger: message".
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?P<level>[A-Z]+) (?P<logger>\S+): ")


@pytest.fixture
def sandbox() -> Iterator[str]:
    with serve_process() as url:
        yield url


def _run(tmp_path: Path, url: str, *flags: str) -> subprocess.CompletedProcess[str]:
    """``labridge [flags] run --once`` from another directory, on a config whose first source
    holds the sample's invalid rows and whose second is missing (a failing step)."""
    settings_dir, elsewhere = tmp_path / "settings", tmp_path / "elsewhere"
    settings_dir.mkdir()
    elsewhere.mkdir()
    shutil.copy(SAMPLE, settings_dir / "learners.csv")
    config = settings_dir / "labridge.toml"
    config.write_text(
        f'[la]\nurl = "{url}"\nusername = "sandbox"\n'
        '[[run.sources]]\npath = "learners.csv"\n'
        '[[run.sources]]\npath = "missing.csv"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABRIDGE_")}
    env.update(LABRIDGE_PASSWORD="sandbox", COLUMNS="250")
    global_flags = [f for f in flags if f.startswith("--log-format")]
    command_flags = [f for f in flags if not f.startswith("--log-format")]
    return subprocess.run(
        [sys.executable, "-m", "labridge", *global_flags, "run", "--once", "--create",
         "--config", str(config), *command_flags],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


STEPS = 6  # sync; enrol and update from each of two sources; progress pull


def test_default_level_logs_one_line_per_step_and_a_summary(sandbox: str, tmp_path: Path) -> None:
    result = _run(tmp_path, sandbox)
    assert result.returncode == 1, result.stderr  # a failed step, and one with invalid records
    lines = result.stderr.splitlines()
    assert all(TEXT_LINE.match(line) for line in lines), lines
    # The settings line, "cycle started", one per step, the summary: nothing else.
    assert len(lines) <= 1 + 1 + STEPS + 1, "\n".join(lines)
    assert "labridge.config: config " in lines[0]
    loggers = {TEXT_LINE.match(line)["logger"] for line in lines}  # type: ignore[index]
    assert loggers <= {"labridge.config", "labridge.run"}, loggers
    by_step = {line.split(": ", 1)[1].split(":")[0]: line for line in lines}
    enrol = by_step["enrol learners.csv"]
    assert " WARNING " in enrol  # 8 invalid rows are not "ok"
    assert "42 enrolled, 1 skipped, 8 invalid — see labridge enrolments --problems" in enrol
    assert " WARNING " in by_step["update learners.csv"]
    assert " ERROR " in by_step["enrol missing.csv"]
    assert "missing.csv" in by_step["enrol missing.csv"]
    assert " INFO " in by_step["sync"]
    assert " INFO " in by_step["progress pull"]
    summary = lines[-1]
    assert re.search(
        r"WARNING labridge\.run: cycle finished with failed steps in \d+\.\d s \(6 steps: "
        r"2 ok, 2 with warnings, 2 failed\)",
        summary,
    ), summary
    # The table shows the warning too, not "ok".
    enrol_row = next(row for row in result.stdout.splitlines() if "enrol learners.csv" in row)
    assert "warning" in enrol_row


def test_json_log_format_is_one_object_per_line_and_vv_shows_the_libraries(
    sandbox: str, tmp_path: Path
) -> None:
    result = _run(tmp_path, sandbox, "--log-format=json", "-vv")
    records = [json.loads(line) for line in result.stderr.splitlines()]  # each line parses
    assert records
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert records[0]["logger"] == "labridge.config"
    assert records[0]["message"].startswith("config ")
    assert any(r["logger"] == "httpx" for r in records)  # -vv: the HTTP request lines too
    enrol = next(r for r in records if r["message"].startswith("enrol learners.csv: 42 "))
    assert enrol["level"] == "WARNING"
    assert any(r["message"].startswith("cycle finished with failed steps in ") for r in records)


def test_v_shows_labridge_info_but_not_the_libraries(sandbox: str, tmp_path: Path) -> None:
    result = _run(tmp_path, sandbox, "-v")
    lines = result.stderr.splitlines()
    loggers = {m["logger"] for line in lines if (m := TEXT_LINE.match(line))}
    assert "labridge.run" in loggers
    assert not {name for name in loggers if name.split(".")[0] in LIBRARIES}, loggers


def test_json_lines_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A password in a URL never reaches a JSON line, in the message or a traceback."""
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    logs.configure(0, logs.LogFormat.json)
    log = logging.getLogger("labridge.test")
    try:
        raise RuntimeError("cannot reach postgresql://mis:hunter2@db/mis")
    except RuntimeError:
        log.exception("source postgresql://mis:hunter2@db/mis failed")
    logging.getLogger().handlers.clear()
    (record,) = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert record["level"] == "ERROR"
    assert record["logger"] == "labridge.test"
    assert record["message"] == "source postgresql://mis:***@db/mis failed"
    assert "RuntimeError" in record["exc_info"]
    assert "hunter2" not in stream.getvalue()
