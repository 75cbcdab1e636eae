"""Credentials inside URLs never reach a log line, whoever logs them (labridge, httpx)."""

from __future__ import annotations

import io
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from labridge.logmask import MaskCredentials, install, mask
from labridge.sandbox.app import STATS_PATH, create_app
from labridge.sandbox.server import start_background

SECRET = "Pa55:w@rd-canary"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("GET https://user:s3cret@la.example/x", "GET https://user:***@la.example/x"),
        (f"to https://ws:{SECRET}@host:8443/a?b=1", "to https://ws:***@host:8443/a?b=1"),
        ("postgresql://mis:pw@db/mis and sqlite:///x.db", "postgresql://mis:***@db/mis and sqlite:///x.db"),
        ("https://user@la.example/ (no password)", "https://user@la.example/ (no password)"),
        ("time 12:30 at https://la.example:443/", "time 12:30 at https://la.example:443/"),
    ],
)  # fmt: skip
def test_mask(text: str, shown: str) -> None:
    assert mask(text) == shown


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    # A CLI test earlier in the process may have quietened httpx (labridge's default levels).
    logging.getLogger("httpx").setLevel(logging.NOTSET)
    install()
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_httpx_request_lines_are_masked(captured: io.StringIO) -> None:
    with start_background(create_app()) as sandbox:
        url = sandbox.url.replace("http://", f"http://ws:{SECRET}@") + STATS_PATH
        httpx.get(url, timeout=10).raise_for_status()
    text = captured.getvalue()
    assert "HTTP Request: GET http://ws:***@" in text  # httpx did log the URL, masked
    assert SECRET not in text
    assert "w@rd-canary" not in text


def test_arguments_and_tracebacks_are_masked(captured: io.StringIO) -> None:
    log = logging.getLogger("labridge.test")
    log.info("calling %s", f"https://ws:{SECRET}@la.example/webservices/soap/user.cfc")
    try:
        raise RuntimeError(f"cannot reach https://ws:{SECRET}@la.example")
    except RuntimeError:
        log.exception("failed")
    text = captured.getvalue()
    assert SECRET not in text
    assert "calling https://ws:***@la.example/webservices/soap/user.cfc" in text
    assert "RuntimeError: cannot reach https://ws:***@la.example" in text


def test_install_is_idempotent() -> None:
    handler = logging.StreamHandler(io.StringIO())
    logger = logging.getLogger("labridge.test.idempotent")
    logger.addHandler(handler)
    try:
        install(logger)
        install(logger)
        assert sum(isinstance(f, MaskCredentials) for f in handler.filters) == 1
    finally:
        logger.removeHandler(handler)


def test_the_cli_masks_a_password_in_the_la_url(tmp_path: Path) -> None:
    """``labridge sync -vv`` with the password pasted into the URL: httpx logs every request
    URL at -vv, labridge its login line at -v; none shows the password."""
    from typer.testing import CliRunner

    from labridge.cli import app

    with start_background(create_app()) as sandbox:
        url = sandbox.url.replace("http://", f"http://ws:{SECRET}@")
        result = CliRunner().invoke(
            app,
            ["sync", "-vv", "--url", url, "--username", "sandbox", "--db", f"{tmp_path}/s.db"],
            env={"LABRIDGE_PASSWORD": "sandbox"},
        )
    assert "HTTP Request: POST http://ws:***@" in result.stderr
    assert SECRET not in result.output + result.stderr


def test_a_password_in_the_la_url_is_not_in_an_error_message(tmp_path: Path) -> None:
    """Nothing listens there: the error names the URL, its password masked."""
    from typer.testing import CliRunner

    from labridge.cli import app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://ws:{SECRET}@127.0.0.1:{port}"
    result = CliRunner().invoke(
        app,
        ["sync", "--url", url, "--username", "ws", "--db", f"{tmp_path}/s.db"],
        env={"LABRIDGE_PASSWORD": "x"},
    )
    assert result.exit_code == 3
    assert "cannot reach LA at http://ws:***@127.0.0.1" in " ".join(result.stderr.split())
    assert SECRET not in result.output + result.stderr
