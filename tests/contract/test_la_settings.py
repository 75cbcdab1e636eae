"""[la] settings that meet LA: the URL clean-up, the explanation of a redirect, the answer cap."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route
from typer.testing import CliRunner

from labridge.cli import app
from labridge.cli.operations import make_client
from labridge.client import AsyncClient
from labridge.config import DEFAULT_LA_URL, clean_url, load_settings, render_config
from labridge.errors import ConfigurationError, ProtocolError
from labridge.sandbox.app import create_app
from labridge.sandbox.server import start_background


@pytest.mark.parametrize(
    ("pasted", "base"),
    [
        ("https://api.learningassistant.com", "https://api.learningassistant.com"),
        ("  https://api.learningassistant.com/  ", "https://api.learningassistant.com"),
        ("https://api.learningassistant.com/webservices/soap/user.cfc", DEFAULT_LA_URL),
        ("https://api.learningassistant.com/webservices/soap/user.cfc?wsdl", DEFAULT_LA_URL),
        ("https://api.learningassistant.com/?WSDL", DEFAULT_LA_URL),
        ("https://la.example/centre/webservices/soap/", "https://la.example/centre"),
        ("https://la.example/centre/enrolment.cfc", "https://la.example/centre"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
    ],
)
def test_a_pasted_url_is_cleaned_up_to_the_base(pasted: str, base: str) -> None:
    assert clean_url(pasted) == base


def test_the_clean_up_is_told_and_the_default_is_the_documented_host() -> None:
    pasted = " https://api.learningassistant.com/webservices/soap/user.cfc?wsdl"
    settings = load_settings({"la": {"url": pasted}}, {}, None)
    assert settings.la.url == DEFAULT_LA_URL
    assert settings.la.notes == [
        f"using the LA base URL {DEFAULT_LA_URL} (from {pasted.strip()!r})"
    ]
    assert load_settings({}, {}, None).la.notes == []
    assert f'url = "{DEFAULT_LA_URL}"' in render_config()


def test_the_cli_prints_the_clean_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pasted = "https://api.learningassistant.com/webservices/soap/user.cfc?wsdl"
    result = CliRunner().invoke(app, ["contract", "show", "--json"], env={"LABRIDGE_URL": pasted})
    assert result.exit_code == 0
    assert f"using the LA base URL {DEFAULT_LA_URL}" in result.stderr


def _redirecting_app(target: str) -> Starlette:
    async def moved(request: Request) -> RedirectResponse:
        return RedirectResponse(target, status_code=301)

    return Starlette(routes=[Route("/{path:path}", moved, methods=["GET", "POST"])])


def test_a_redirect_is_explained_with_what_to_set() -> None:
    target = "https://api.learningassistant.com/webservices/soap/authenticate.cfc"
    transport = httpx.ASGITransport(_redirecting_app(target))

    async def login() -> None:
        async with AsyncClient("http://la.example", "u", "p", transport=transport) as client:
            await client.authenticate()

    with pytest.raises(ConfigurationError) as info:
        asyncio.run(login())
    assert "redirect (HTTP 301)" in str(info.value)
    assert target in str(info.value)
    assert info.value.hint == f"set the LA URL (LABRIDGE_URL, or [la] url) to {DEFAULT_LA_URL}"


def test_the_answer_cap_setting_reaches_the_client() -> None:
    settings = load_settings(
        {"la": {"url": "http://sandbox", "username": "sandbox", "max_answer_mib": 0.001}},
        {"LABRIDGE_PASSWORD": "sandbox"},
        None,
    )
    assert settings.la.max_answer_bytes == 1048
    with start_background(create_app()) as running:
        settings.la.url = running.url
        client = make_client(settings)

        async def trainers() -> None:
            async with client:
                await client.get_trainers()

        # GetTrainers' answer is over 1 KiB: refused, not read whole.
        with pytest.raises(ProtocolError, match="exceeds the limit of 1048 bytes"):
            asyncio.run(trainers())


def test_the_default_cap_is_16_mib() -> None:
    settings = load_settings({}, {}, None)
    assert settings.la.max_answer_bytes == 16 * 1024 * 1024
