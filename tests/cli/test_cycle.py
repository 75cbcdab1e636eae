"""The unattended cycle: steps run in order, failures are logged and the cycle carries on, the
schedule is read from the settings, and a second runner on the same store refuses to start."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from labridge.cli.cycle import run_cycle, single_instance, trigger
from labridge.config import RunSettings
from labridge.errors import ConfigurationError, TransportError

pytestmark = pytest.mark.slow  # the scheduler's cycles


def test_a_failed_step_is_logged_and_the_cycle_carries_on(caplog: pytest.LogCaptureFixture) -> None:
    done: list[str] = []

    def fails() -> str:
        raise TransportError("cannot reach LA at https://la.example")

    def bug() -> str:
        raise ZeroDivisionError("oops")

    def _done(log: list[str], step: str, summary: str) -> str:
        log.append(step)
        return summary

    steps = [
        ("sync", fails),
        ("enrol learners.csv", lambda: _done(done, "enrol", "3 enrolled")),
        ("update learners.csv", bug),
        ("progress pull", lambda: _done(done, "progress", "7 learners")),
    ]
    with caplog.at_level(logging.INFO, logger="labridge.run"):
        report = run_cycle(steps)
    assert done == ["enrol", "progress"]
    assert [s.ok for s in report.steps] == [False, True, False, True]
    assert not report.ok
    assert "cannot reach LA" in report.steps[0].summary
    assert report.steps[1].summary == "3 enrolled"
    text = caplog.text
    assert "sync: failed: cannot reach LA" in text
    assert "update learners.csv: failed unexpectedly" in text
    assert "progress pull: 7 learners" in text
    assert report.as_dict()["ok"] is False


def test_the_schedule_comes_from_the_settings() -> None:
    assert isinstance(trigger(RunSettings(every_minutes=15)), IntervalTrigger)
    assert isinstance(trigger(RunSettings(cron="0 6 * * 1-5")), CronTrigger)
    with pytest.raises(ConfigurationError, match="crontab"):
        trigger(RunSettings(cron="every morning"))


def test_a_second_runner_on_the_same_store_refuses_to_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    with single_instance(url):
        with pytest.raises(ConfigurationError, match="already running"), single_instance(url):
            pass
        with single_instance(url + "-other"):  # another store is another lock
            pass
    with single_instance(url):  # released when the holder is done
        pass


def test_the_lock_of_a_killed_runner_is_released(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    script = textwrap.dedent(
        f"""
        import os, sys
        from labridge.cli.cycle import single_instance
        with single_instance({url!r}):
            sys.stdout.write("locked\\n"); sys.stdout.flush()
            os._exit(9)  # dies holding the lock, as a crash would
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.stdout == "locked\n"
    with single_instance(url):
        pass
