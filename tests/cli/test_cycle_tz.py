"""The schedule's time zone: ``[run] cron`` is read in ``[run] timezone`` (default Europe/London)
across the change to and from BST, a wrong zone or cron line is a configuration error (exit 2)
naming the setting, with ``run --once`` too, and ``status`` shows the next cycle."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labridge import store
from labridge.cli import app
from labridge.cli.cycle import describe, next_cycle, status
from labridge.config import RunSettings, load_settings
from labridge.errors import ConfigurationError

pytestmark = pytest.mark.slow  # the scheduler's cycles

# In 2026 the UK clocks go forward on Sunday 29 March and back on Sunday 25 October.


def test_the_default_zone_is_london() -> None:
    assert RunSettings().timezone == "Europe/London"
    assert load_settings().run.timezone == "Europe/London"


@pytest.mark.parametrize(
    ("now", "fires_utc"),
    [
        # Saturday before BST: 06:00 GMT is 06:00 UTC.
        (datetime(2026, 3, 28, 0, 0, tzinfo=UTC), datetime(2026, 3, 28, 6, 0, tzinfo=UTC)),
        # The first BST morning: 06:00 BST is 05:00 UTC.
        (datetime(2026, 3, 28, 7, 0, tzinfo=UTC), datetime(2026, 3, 29, 5, 0, tzinfo=UTC)),
        # Midsummer.
        (datetime(2026, 7, 1, 12, 0, tzinfo=UTC), datetime(2026, 7, 2, 5, 0, tzinfo=UTC)),
        # The first GMT morning after the clocks go back.
        (datetime(2026, 10, 24, 12, 0, tzinfo=UTC), datetime(2026, 10, 25, 6, 0, tzinfo=UTC)),
    ],
)
def test_a_cron_line_fires_on_the_london_clock_in_winter_and_summer(
    now: datetime, fires_utc: datetime
) -> None:
    fire = next_cycle(RunSettings(cron="0 6 * * *"), now)
    assert fire is not None
    assert fire == fires_utc
    assert (fire.hour, fire.minute) == (6, 0)  # local time, always
    assert str(fire.tzinfo) == "Europe/London"


def test_another_zone_and_utc_are_honoured() -> None:
    now = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert next_cycle(RunSettings(cron="0 6 * * *", timezone="UTC"), now) == datetime(
        2026, 7, 2, 6, 0, tzinfo=UTC
    )
    assert next_cycle(RunSettings(cron="0 6 * * *", timezone="America/New_York"), now) == (
        datetime(2026, 7, 2, 10, 0, tzinfo=UTC)
    )


def test_describe_names_the_zone_and_the_local_time() -> None:
    line = describe(RunSettings(cron="0 6 * * 1-5"), datetime(2026, 7, 3, 12, 0, tzinfo=UTC))
    assert line == "cron '0 6 * * 1-5' in Europe/London; next cycle 2026-07-06 06:00 BST"
    winter = describe(RunSettings(cron="0 6 * * *"), datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    assert winter.endswith("next cycle 2026-12-02 06:00 GMT")
    assert next_cycle(RunSettings(every_minutes=15)) is None
    assert describe(RunSettings(every_minutes=15)).startswith("every 15 minutes")


@pytest.mark.parametrize("zone", ["Europe/Londn", "BST", "", "../etc/passwd"])
def test_an_unknown_zone_is_a_configuration_error_naming_the_setting(zone: str) -> None:
    with pytest.raises(ConfigurationError, match=r"\[run\] timezone") as caught:
        next_cycle(RunSettings(cron="0 6 * * *", timezone=zone))
    assert "Europe/London" in caught.value.hint
    with pytest.raises(ConfigurationError, match=r"\[run\] timezone"):
        describe(RunSettings(every_minutes=60, timezone=zone))  # checked without cron too


@pytest.mark.parametrize(
    ("dow", "weekdays"),
    [
        ("1-5", [0, 1, 2, 3, 4]),  # Monday to Friday, as crontab(5) means it
        ("0", [6]),
        ("7", [6]),
        ("6,0", [5, 6]),
        ("*/2", [1, 3, 5, 6]),  # crontab's 0,2,4,6: Sunday, Tuesday, Thursday, Saturday
        ("mon-fri", [0, 1, 2, 3, 4]),
        ("*", [0, 1, 2, 3, 4, 5, 6]),
    ],
)
def test_crontab_day_numbers_count_from_sunday(dow: str, weekdays: list[int]) -> None:
    """APScheduler 3 counts days from Monday; labridge reads a crontab line as cron does."""
    run = RunSettings(cron=f"0 6 * * {dow}")
    now = datetime(2026, 7, 5, 12, 0, tzinfo=UTC)  # a Sunday afternoon
    seen = set()
    for _ in range(14):
        fire = next_cycle(run, now)
        assert fire is not None
        seen.add(fire.weekday())
        now = fire + timedelta(minutes=1)
    assert sorted(seen) == weekdays


def test_a_day_of_month_with_a_day_of_week_is_refused_not_misread() -> None:
    """crontab runs ``0 6 1 * 1`` on the 1st and on Mondays; APScheduler would run it only on a
    1st that is a Monday."""
    with pytest.raises(ConfigurationError, match="both a day of the month and a day of the week"):
        next_cycle(RunSettings(cron="0 6 1 * 1"))
    assert next_cycle(RunSettings(cron="0 6 1 * *")) is not None


def _config(tmp_path: Path, run: str) -> Path:
    path = tmp_path / "labridge.toml"
    store = tmp_path / "store.db"
    path.write_text(
        f'[la]\nurl = "http://127.0.0.1:9"\nusername = "u"\n\n'
        f'[store]\ndatabase_url = "sqlite:///{store}"\n\n[run]\n{run}\n',
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("run", "named"),
    [
        ('cron = "0 6 * * mon-fry"', "[run] cron"),
        ('cron = "every morning"', "[run] cron"),
        ('cron = "0 6 * * *"\ntimezone = "Europe/Londn"', "[run] timezone"),
        ('every_minutes = 30\ntimezone = "GMT+1"', "[run] timezone"),
    ],
)
def test_run_once_refuses_a_wrong_schedule_before_doing_anything(
    tmp_path: Path, run: str, named: str
) -> None:
    config = _config(tmp_path, run)
    result = CliRunner().invoke(
        app, ["run", "--once", "--config", str(config)], env={"LABRIDGE_PASSWORD": "secret"}
    )
    assert result.exit_code == 2, result.output
    assert named in result.stderr
    assert "what to do:" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "store.db").exists()  # nothing opened, nothing sent


def test_status_shows_the_next_cycle_in_the_zone(tmp_path: Path) -> None:
    config = _config(tmp_path, 'cron = "30 5 * * *"\ntimezone = "Europe/London"')
    store.open_store(f"sqlite:///{tmp_path / 'store.db'}").close()
    result = CliRunner().invoke(app, ["status", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "Schedule (labridge run): cron '30 5 * * *' in Europe/London; next cycle " in (
        result.stdout.replace("\n", " ")
    )
    data = json.loads(CliRunner().invoke(app, ["status", "--json", "--config", str(config)]).stdout)
    fire = datetime.fromisoformat(data["schedule"]["next_cycle"])
    assert fire > datetime.now(UTC)
    assert (fire.hour, fire.minute) == (5, 30)
    assert data["schedule"]["timezone"] == "Europe/London"


def test_status_reports_a_wrong_schedule_without_failing(tmp_path: Path) -> None:
    config = _config(tmp_path, 'cron = "0 6 * * *"\ntimezone = "Mars/Olympus"')
    store.open_store(f"sqlite:///{tmp_path / 'store.db'}").close()
    result = CliRunner().invoke(app, ["status", "--json", "--config", str(config)])
    assert result.exit_code == 0, result.output
    schedule = json.loads(result.stdout)["schedule"]
    assert schedule["next_cycle"] is None
    assert "[run] timezone 'Mars/Olympus'" in schedule["error"]
    assert status(RunSettings(cron="0 6 * * *"))["next_cycle"] is not None
