"""Deployment files (deploy/, Dockerfile): the systemd units parsed and checked by
``systemd-analyze verify``, the service's stop and restart settings held against a real
``labridge run``, the cron line read by labridge's own schedule code, and the Dockerfile parsed,
its build stage run, and the image built and run where a Docker daemon answers."""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dockerfile
import pytest

from labridge import __version__
from labridge.cli.cycle import next_cycle
from labridge.config import RunSettings
from labridge.sandbox.server import RunningSandbox

ROOT = Path(__file__).parents[1]
SYSTEMD = ROOT / "deploy" / "systemd"
UNITS = ("labridge.service", "labridge-once.service", "labridge.timer")
CONFIG = "/etc/labridge/labridge.toml"


def _unit(name: str) -> configparser.ConfigParser:
    """A unit file as systemd reads it: sections, ``Key=value``, ``#`` comments; a repeated key
    is kept whole (the last one wins, as for the settings used here)."""
    parser = configparser.ConfigParser(
        strict=False, interpolation=None, delimiters=("=",), comment_prefixes=("#", ";")
    )
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string((SYSTEMD / name).read_text(encoding="utf-8"), source=name)
    return parser


def _seconds(value: str) -> float:
    units = {"s": 1, "min": 60, "h": 3600}
    for suffix, factor in sorted(units.items(), key=lambda kv: -len(kv[0])):
        if value.endswith(suffix):
            return float(value.removesuffix(suffix)) * factor
    return float(value)


# -- systemd ---------------------------------------------------------------------------------------


def test_the_service_runs_labridge_run_with_the_config_as_its_own_user() -> None:
    service = _unit("labridge.service")["Service"]
    argv = shlex.split(service["ExecStart"])
    assert Path(argv[0]).name == "labridge"
    assert Path(argv[0]).is_absolute()  # systemd wants an absolute path
    assert argv[1:] == ["run", "--config", CONFIG]
    assert service["User"] == "labridge"
    assert service["Group"] == "labridge"
    assert service["WorkingDirectory"] == "/var/lib/labridge"
    assert service["StateDirectory"] == "labridge"
    assert service["UMask"] == "0077"  # the store and reports hold learners' data
    assert service["EnvironmentFile"] == "-/etc/labridge/labridge.env"


def test_the_service_restarts_on_failure_and_stops_gracefully() -> None:
    unit = _unit("labridge.service")
    service = unit["Service"]
    assert service["Type"] == "exec"
    assert service["Restart"] == "on-failure"
    assert service["KillSignal"] == "SIGTERM"
    assert service["KillMode"] == "mixed"  # SIGTERM to labridge only, SIGKILL only at the end
    assert "143" in service["SuccessExitStatus"].split()
    assert service["RestartPreventExitStatus"].split() == ["2"]
    assert _seconds(service["TimeoutStopSec"]) >= 120  # LA calls in flight have 60 s each
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    assert "network-online.target" in unit["Unit"]["After"]


def test_the_timer_starts_one_cycle_at_six_london_time_on_weekdays() -> None:
    once = _unit("labridge-once.service")["Service"]
    assert once["Type"] == "oneshot"
    argv = shlex.split(once["ExecStart"])
    assert Path(argv[0]).name == "labridge"
    assert argv[1:] == ["run", "--once", "--config", CONFIG]
    assert once["User"] == "labridge"
    assert "143" in once["SuccessExitStatus"].split()
    assert once["KillSignal"] == "SIGTERM"
    timer = _unit("labridge.timer")
    assert timer["Timer"]["Unit"] == "labridge-once.service"
    assert timer["Timer"]["OnCalendar"] == "Mon..Fri *-*-* 06:00:00 Europe/London"
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Install"]["WantedBy"] == "timers.target"


@pytest.fixture(scope="module")
def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.skip("systemd-analyze is not installed (no systemd here): the units are parsed only")
    return found


def test_systemd_analyze_verify_finds_nothing_to_say(systemd_analyze: str, tmp_path: Path) -> None:
    """``verify`` in a scratch root holding the distribution's units, the ones under test, and
    an executable where ExecStart= looks for labridge; any warning (an unknown key, a bad value)
    fails the test, not only errors."""
    system_units = Path("/usr/lib/systemd/system")
    if not (system_units / "sysinit.target").exists():
        pytest.skip(f"no systemd units in {system_units} to verify against")
    root = tmp_path / "root"
    shutil.copytree(system_units, root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    for name in UNITS:
        shutil.copy(SYSTEMD / name, root / "etc/systemd/system" / name)
    binary = root / shlex.split(_unit("labridge.service")["Service"]["ExecStart"])[0].lstrip("/")
    binary.parent.mkdir(parents=True)
    labridge = shutil.which("labridge") or sys.executable
    binary.write_text(f'#!/bin/sh\nexec {shlex.quote(labridge)} "$@"\n', encoding="utf-8")
    binary.chmod(0o755)
    result = subprocess.run(
        [systemd_analyze, "verify", f"--root={root}", *UNITS],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_systemd_reads_the_timer_in_london_time(systemd_analyze: str) -> None:
    on_calendar = _unit("labridge.timer")["Timer"]["OnCalendar"]
    result = subprocess.run(
        [systemd_analyze, "calendar", "--iterations=5", on_calendar],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "TZ": "UTC", "SYSTEMD_COLORS": "0"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Normalized form: Mon..Fri *-*-* 06:00:00 Europe/London" in result.stdout
    # Printed in UTC: 06:00 in winter (GMT), 05:00 in summer (BST).
    summer = datetime.now(ZoneInfo("Europe/London")).dst()
    expected = "05:00:00 UTC" if summer else "06:00:00 UTC"
    assert expected in result.stdout.split("Iter. #2")[0], result.stdout


def _exec_start(unit: str, config: Path) -> list[str]:
    """The unit's ExecStart= as this machine runs it: the installed labridge, the test's config
    in place of /etc/labridge/labridge.toml; nothing else changed."""
    argv = shlex.split(_unit(unit)["Service"]["ExecStart"])
    labridge = shutil.which("labridge")
    program = [labridge] if labridge else [sys.executable, "-m", "labridge"]
    return [*program, *(str(config) if arg == CONFIG else arg for arg in argv[1:])]


def _config(tmp_path: Path, sandbox: RunningSandbox, extra: str = "") -> Path:
    """A cycle of sync and progress pull only (no source): short, and it is the stop that is
    under test here."""
    config = tmp_path / "labridge.toml"
    config.write_text(
        f'[la]\nurl = "{sandbox.url}"\nusername = "sandbox"\n'
        f'[store]\ndatabase_url = "sqlite:///{tmp_path / "labridge.db"}"\n'
        f"[run]\nevery_minutes = 60\n{extra}\n",
        encoding="utf-8",
    )
    return config


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABRIDGE_")}
    return {**env, "LABRIDGE_PASSWORD": "sandbox"}  # as from EnvironmentFile=


@pytest.mark.slow
def test_the_service_stop_is_a_success_and_a_bad_setting_is_not_retried(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """What systemd does with the unit, done here: start ExecStart=, let the first cycle end,
    send KillSignal=; labridge exits within TimeoutStopSec= with a SuccessExitStatus= code.
    With a wrong setting it exits with RestartPreventExitStatus=, so systemd does not loop."""
    service = _unit("labridge.service")["Service"]
    config = _config(tmp_path, sandbox)
    # docs/deploy.md: the first cycle, by hand, makes the store; the service never does.
    first = subprocess.run(
        [*_exec_start("labridge-once.service", config), "--create"], cwd=tmp_path, env=_env(),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert first.returncode in (0, 1), first.stderr
    command = _exec_start("labridge.service", config)
    with subprocess.Popen(
        command, cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    ) as proc:  # fmt: skip
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if "cycle finished" in line:
                break
        assert proc.poll() is None, "".join(seen)  # still running: waiting for the next cycle
        stopped_at = time.monotonic()
        proc.send_signal(getattr(signal, service["KillSignal"]))
        rest = proc.communicate(timeout=_seconds(service["TimeoutStopSec"]))[1]
        assert time.monotonic() - stopped_at < _seconds(service["TimeoutStopSec"])
    assert str(proc.returncode) in service["SuccessExitStatus"].split(), "".join(seen) + rest
    assert "Traceback" not in "".join(seen) + rest

    broken = _config(tmp_path, sandbox, extra='timezone = "Europe/Londn"')
    for unit in ("labridge.service", "labridge-once.service"):
        result = subprocess.run(
            _exec_start(unit, broken), cwd=tmp_path, env=_env(), capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        assert str(result.returncode) in service["RestartPreventExitStatus"].split()
        assert "[run] timezone" in result.stderr


# -- cron ------------------------------------------------------------------------------------------


def test_the_cron_line_runs_one_cycle_at_six_london_time_on_weekdays() -> None:
    lines = [
        line
        for line in (ROOT / "deploy" / "cron" / "labridge").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "CRON_TZ=Europe/London"
    fields = lines[1].split(None, 6)
    when, user, command = " ".join(fields[:5]), fields[5], shlex.split(fields[6])
    assert user == "labridge"
    assert command[command.index("&&") + 1].endswith("/labridge")
    assert command[command.index("&&") + 2 :][:4] == ["run", "--once", "--config", CONFIG]
    # Read as labridge reads [run] cron: Saturday noon in summer -> Monday 06:00 BST.
    fire = next_cycle(RunSettings(cron=when, timezone="Europe/London"),
                      datetime(2026, 7, 4, 12, 0, tzinfo=UTC))  # fmt: skip
    assert fire == datetime(2026, 7, 6, 5, 0, tzinfo=UTC)


# -- Docker ----------------------------------------------------------------------------------------


def _stages() -> list[list[dockerfile.Command]]:
    """The Dockerfile's instructions per build stage, as Docker's own parser (BuildKit's, through
    the ``dockerfile`` package) reads them: a syntax error fails here."""
    stages: list[list[dockerfile.Command]] = []
    for command in dockerfile.parse_file(str(ROOT / "Dockerfile")):
        if command.cmd == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(command)
    return stages


def test_the_dockerfile_builds_a_wheel_then_a_slim_non_root_runtime() -> None:
    build, runtime = _stages()
    assert build[0].value[1:] == ("AS", "build")
    assert runtime[0].value[0].endswith("-slim")
    last = {c.cmd: c for c in runtime}  # the last of each kind
    copies = [c for c in runtime if c.cmd == "COPY"]
    assert [c.flags for c in copies] == [("--from=build",)]  # only the wheel comes across
    user = last["USER"].value[0].split(":")[0]
    assert user not in ("root", "0")
    assert f"--uid 10001 --gid {user}" in last["RUN"].value[0]
    assert last["VOLUME"].value == ("/data",)
    assert last["WORKDIR"].value == ("/data",)  # labridge.toml and the store beside it
    assert last["ENTRYPOINT"].json
    assert last["ENTRYPOINT"].value == ("labridge",)
    assert last["CMD"].value == ("run",)
    assert last["STOPSIGNAL"].value == ("SIGTERM",)
    # USER comes after every RUN: nothing runs as root once it is set.
    kinds = [c.cmd for c in runtime]
    assert kinds.index("USER") > max(i for i, k in enumerate(kinds) if k == "RUN")


def test_the_dockerfile_build_stage_makes_a_complete_wheel_from_what_it_copies(
    tmp_path: Path,
) -> None:
    """The build stage's COPY lines and its RUN, done here in an empty directory: nothing it
    needs is left out of the image's build context, and the wheel holds the migrations and the
    demo's examples."""
    build = _stages()[0]
    context = tmp_path / "src"
    context.mkdir()
    for command in build:
        if command.cmd == "COPY":
            *sources, dest = command.value
            for source in sources:
                origin = ROOT / source
                target = context / dest / origin.name if dest.endswith("/") else context / dest
                if origin.is_dir():
                    ignore = shutil.ignore_patterns("__pycache__", "*.db")
                    shutil.copytree(origin, target, ignore=ignore)
                else:
                    shutil.copy(origin, target)
    [run] = [c.value[0] for c in build if c.cmd == "RUN" and "wheel" in c.value[0]]
    argv = shlex.split(run.replace("/dist", str(tmp_path / "dist")))
    assert argv[:2] == ["pip", "wheel"]
    result = subprocess.run(
        [sys.executable, "-m", *argv], cwd=context, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    [wheel] = (tmp_path / "dist").glob("labridge-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "labridge/store/migrations/env.py" in names
    assert any(n.startswith("labridge/store/migrations/versions/0001") for n in names)
    assert "labridge/examples/learners.csv" in names
    assert any(n.endswith("entry_points.txt") for n in names)


def _docker() -> str:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker is not installed here: the image is not built (the Dockerfile is "
                    "parsed and its build stage run instead)")  # fmt: skip
    info = subprocess.run([docker, "info"], capture_output=True, text=True, timeout=60,
                          check=False)  # fmt: skip
    if info.returncode != 0:
        said = (info.stderr.strip().splitlines() or ["no answer"])[-1]
        pytest.skip(f"no Docker daemon answers here ({said}): the image is not built")
    return docker


def test_the_image_builds_and_runs_as_a_non_root_user() -> None:
    docker = _docker()
    tag = f"labridge-test:{uuid.uuid4().hex[:12]}"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([docker, "run", "--rm", *args], capture_output=True, text=True,
                              timeout=600, check=False)  # fmt: skip

    try:
        subprocess.run([docker, "build", "-t", tag, str(ROOT)], check=True, timeout=1800)
        assert run(tag, "--version").stdout.strip() == f"labridge {__version__}"
        assert run("--entrypoint", "id", tag, "-u").stdout.strip() == "10001"
        demo = run(tag, "demo")
        assert demo.returncode == 0, demo.stderr[-3000:]
    finally:
        subprocess.run([docker, "rmi", "-f", tag], capture_output=True, timeout=300, check=False)


def test_docs_deploy_quotes_the_files_as_they_are() -> None:
    """docs/deploy.md links each deployment file and quotes the cron line and the timer's
    calendar as the files have them, so that the page and the files cannot drift apart."""
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    for name in UNITS:
        assert f"(../deploy/systemd/{name})" in text
    assert "(../deploy/cron/labridge)" in text
    assert "(../Dockerfile)" in text
    cron = (ROOT / "deploy" / "cron" / "labridge").read_text(encoding="utf-8").splitlines()
    for line in (x for x in cron if x and not x.startswith("#")):
        assert f"\n{line}\n" in text
    assert _unit("labridge.timer")["Timer"]["OnCalendar"] in text
    assert "docs/deploy.md" in (ROOT / "README.md").read_text(encoding="utf-8")
