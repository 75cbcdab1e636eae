"""The tenants file: read and checked before any worker runs (no database is reached)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labridge.cli.fleet.tenants import load_fleet
from labridge.errors import ConfigurationError

FLEET = '[fleet]\ndatabase_url = "postgresql://postgres@db.example/fleet"\n'
ONE = (
    '[[tenants]]\nname = "north"\nurl = "https://north.example/"\nusername = "ws-north"\n'
    'password_env = "NORTH_PW"\n'
)
SOUTH = ONE.replace("north", "south").replace("NORTH", "SOUTH")
ENV = {"NORTH_PW": "Secret-north-1", "SOUTH_PW": "Secret-south-2"}


def _load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> object:
    path = tmp_path / "tenants.toml"
    path.write_text(text, encoding="utf-8")
    return load_fleet(path, ENV if environ is None else environ)


def _refused(tmp_path: Path, text: str, *words: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigurationError) as caught:
        _load(tmp_path, text, environ)
    message = f"{caught.value} {caught.value.hint or ''}"
    for word in words:
        assert word in message
    for secret in ENV.values():
        assert secret not in message
    return message


def test_a_tenant_gets_its_settings_store_and_password_from_where_the_file_says(
    tmp_path: Path,
) -> None:
    (tmp_path / "south.pw").write_text("Secret-south-2\n", encoding="utf-8")
    os.chmod(tmp_path / "south.pw", 0o600)
    text = (
        FLEET + '[fleet.hosts."api.example"]\nin_flight = 3\nper_second = 5\n'
        "[defaults.run]\nevery_minutes = 30\n" + ONE + '[[tenants.run.sources]]\npath = "n.csv"\n'
        '[[tenants]]\nname = "south"\nurl = "https://api.example/"\nusername = "ws-south"\n'
        'password_file = "south.pw"\nstore = "postgresql://postgres@other.example/south"\n'
        '[tenants.run]\ncron = "0 6 * * 1-5"\n'
    )
    fleet = _load(tmp_path, text)
    north, south = fleet.tenants  # type: ignore[attr-defined]
    assert north.settings.la.password.get_secret_value() == "Secret-north-1"
    assert north.password_from == "$NORTH_PW"
    assert north.store_url == "postgresql://postgres@db.example/labridge_north"
    assert north.settings.run.sources[0].path == tmp_path / "n.csv"  # relative to the file
    assert north.settings.run.every_minutes == 30
    assert south.settings.la.password.get_secret_value() == "Secret-south-2"
    assert south.store_url == "postgresql://postgres@other.example/south"
    assert south.settings.run.cron == "0 6 * * 1-5"
    assert south.settings.run.every_minutes == 30
    assert fleet.limits_of(south.la_host).in_flight == 3  # type: ignore[attr-defined]
    assert fleet.limits_of(north.la_host).in_flight == 8  # type: ignore[attr-defined]
    assert north.lock == "tenant:north"
    assert "Secret-" not in repr(fleet)


def test_a_labridge_toml_in_the_working_directory_is_not_read_for_a_tenant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "labridge.toml").write_text('[la]\nurl = "https://wrong.example"\n')
    fleet = _load(tmp_path, FLEET + ONE)
    assert fleet.tenants[0].settings.la.url == "https://north.example"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (FLEET + ONE.replace('password_env = "NORTH_PW"\n', 'password = "x"\n'),
         ("writes its LA password into the tenants file", "password_env")),
        (FLEET + ONE.replace('password_env = "NORTH_PW"\n', ""), ("password_env", "password_file")),
        (FLEET + ONE.replace("NORTH_PW", "MISSING_PW"), ("MISSING_PW is not set",)),
        (FLEET + ONE + ONE, ("two tenants are named 'north'",)),
        (FLEET + ONE.replace('"north"', '"North College"'), ("no valid name", "lower-case")),
        (FLEET + ONE + "colour = 1\n", ("unknown key(s) ['colour']",)),
        (ONE, ("the fleet's database is not set", "LABRIDGE_FLEET_DATABASE_URL")),
        ('[fleet]\ndatabase_url = "sqlite:///x.db"\n' + ONE, ("is not PostgreSQL",)),
        (FLEET + ONE + 'store = "postgresql://postgres@db.example/fleet"\n',
         ("the fleet's own database",)),
        (FLEET + ONE + ONE.replace("north", "south").replace("NORTH", "SOUTH")
         + 'store = "postgresql://postgres@db.example/labridge_north"\n', ("share one store",)),
        (FLEET + ONE + "[tenants.contract.operations.GetCandidates]\nname = \"GetLearners\"\n"
         + SOUTH, ("[contract] overrides differ",)),
        (FLEET + ONE.replace('url = "https://north.example/"\n', ""), ()),
        (FLEET + "in_flight = 0\n" + ONE, ("in_flight must be a whole number of at least 1",)),
        (FLEET + ONE + "[tenants.run]\nevery_minutes = -1\n",
         ("tenant 'north'", "run.every_minutes")),
    ],
)  # fmt: skip
def test_a_wrong_tenants_file_is_refused_naming_the_tenant_and_the_fix(
    tmp_path: Path, text: str, words: tuple[str, ...]
) -> None:
    if not words:  # no url: LA's own host is the default, and that is fine
        assert _load(tmp_path, text).tenants[0].la_host == "api.learningassistant.com"  # type: ignore[attr-defined]
        return
    _refused(tmp_path, text, *words)


def test_no_tenants_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_fleet(tmp_path / "missing.toml", {})
    assert "no tenants file" in str(caught.value)
    assert "docs/fleet.md" in (caught.value.hint or "")


def test_tenants_list_shows_where_each_password_comes_from_never_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from typer.testing import CliRunner

    from labridge.cli import app

    (tmp_path / "tenants.toml").write_text(FLEET + ONE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["tenants", "list", "--json"], env={**ENV, "COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "Secret-north-1" not in result.output
    (row,) = json.loads(result.output)["tenants"]
    assert row["password_from"] == "$NORTH_PW"
    assert row["store"] == "postgresql://postgres@db.example/labridge_north"
    assert row["schedule"] == "every 60 min"
