"""Settings precedence and secrecy: flags, then environment, then labridge.toml, then defaults."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from labridge.config import DEFAULT_DATABASE_URL, DEFAULT_LA_URL, load_settings, render_config
from labridge.errors import ConfigurationError

SECRET = "s3cr3t-Pa55"


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "labridge.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_anything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no labridge.toml here: the store is in the working directory
    settings = load_settings({}, {}, None)
    assert DEFAULT_DATABASE_URL == "sqlite:///labridge.db"
    assert settings.store.database_url == f"sqlite:///{tmp_path / 'labridge.db'}"
    assert settings.config_file is None
    assert settings.la.url == DEFAULT_LA_URL  # the documented host (docs/contract.md §1)


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    path = _toml(
        tmp_path,
        '[la]\nurl = "https://file.example"\nusername = "file-user"\n'
        '[store]\ndatabase_url = "sqlite:///file.db"\n',
    )
    env = {"LABRIDGE_URL": "https://env.example", "LABRIDGE_PASSWORD": SECRET}
    flags = {"la": {"url": "https://flag.example", "username": None}}
    settings = load_settings(flags, env, path)
    assert settings.la.url == "https://flag.example"  # flag beats environment
    assert settings.la.username == "file-user"  # unset flag falls through to the file
    assert settings.la.password.get_secret_value() == SECRET  # environment
    assert settings.store.database_url == f"sqlite:///{tmp_path / 'file.db'}"  # beside the file


def test_environment_beats_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _toml(tmp_path, '[store]\ndatabase_url = "sqlite:///file.db"\n')
    monkeypatch.chdir(tmp_path.parent)
    settings = load_settings({}, {"LABRIDGE_DATABASE_URL": "sqlite:///env.db"}, path)
    # A relative path in the environment is the shell's: relative to the working directory.
    assert settings.store.database_url == f"sqlite:///{tmp_path.parent / 'env.db'}"


def test_password_never_shows_in_repr_or_dump() -> None:
    settings = load_settings({}, {"LABRIDGE_PASSWORD": SECRET}, None)
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings.model_dump())
    assert SECRET not in settings.model_dump_json()


def test_missing_la_settings_name_what_to_set() -> None:
    settings = load_settings({"la": {"url": ""}}, {"LABRIDGE_PASSWORD": SECRET}, None)
    with pytest.raises(ConfigurationError) as info:
        settings.require_la()
    text = str(info.value)
    assert "url" in text
    assert "username" in text
    assert "LABRIDGE_URL" in text
    assert "LABRIDGE_USERNAME" in text
    assert "LABRIDGE_PASSWORD" not in text
    assert SECRET not in text


def test_an_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_settings({}, {}, tmp_path / "nope.toml")


def test_bad_toml_and_unknown_sections_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_settings({}, {}, _toml(tmp_path, "[la\n"))
    with pytest.raises(ConfigurationError, match="unknown section"):
        load_settings({}, {}, _toml(tmp_path, "[mystery]\nx = 1\n"))


def test_invalid_values_are_reported_without_echoing_them(tmp_path: Path) -> None:
    path = _toml(tmp_path, f'[la]\npassword = "{SECRET}"\nsurprise = 1\n')
    with pytest.raises(ConfigurationError) as info:
        load_settings({}, {}, path)
    assert "surprise" in str(info.value)
    assert SECRET not in str(info.value)


def test_rendered_template_is_valid_toml_and_round_trips(tmp_path: Path) -> None:
    text = render_config('https://x.example/"quoted"', "ws-user", "sqlite:///a.db")
    data = tomllib.loads(text)
    assert data["la"]["url"] == 'https://x.example/"quoted"'
    settings = load_settings({}, {}, _toml(tmp_path, text))
    assert settings.la.username == "ws-user"
    assert settings.store.database_url == f"sqlite:///{tmp_path / 'a.db'}"
    assert "password" not in data["la"]  # the template never holds a password


def test_la_deadline_and_sync_include_test(tmp_path: Path) -> None:
    defaults = load_settings({}, {}, None)
    assert (defaults.la.timeout, defaults.la.deadline) == (30.0, 60.0)
    assert defaults.sync.include_test is False
    path = _toml(tmp_path, "[la]\ndeadline = 12.5\n[sync]\ninclude_test = true\n")
    settings = load_settings({}, {}, path)
    assert settings.la.deadline == 12.5
    assert settings.sync.include_test is True
    with pytest.raises(ConfigurationError, match=r"la\.deadline"):
        load_settings({}, {}, _toml(tmp_path, "[la]\ndeadline = 0\n"))
