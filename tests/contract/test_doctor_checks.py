"""doctor's transport checks: TLS with certificate verification (a self-signed LA is refused and
explained), and the clock against LA's Date header."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from labridge.cli import app
from labridge.doctor import _clock_check


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def self_signed_la(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    cert, key = _self_signed(tmp_path_factory.mktemp("tls"))
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "labridge.sandbox.app:create_app",
         "--port", str(port), "--ssl-certfile", str(cert), "--ssl-keyfile", str(key),
         "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_listening(port, proc)
        yield f"https://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the TLS sandbox did not listen")


def test_an_unverifiable_certificate_is_refused_and_explained(
    self_signed_la: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"LABRIDGE_URL": self_signed_la, "LABRIDGE_USERNAME": "sandbox"}
    env["LABRIDGE_PASSWORD"] = "sandbox"
    result = CliRunner().invoke(app, ["doctor", "--json"], env=env)
    assert result.exit_code == 3
    checks = json.loads(result.stdout)["checks"]
    assert [(ch["check"], ch["status"]) for ch in checks] == [
        ("configuration", "ok"),
        ("TLS", "fail"),
    ]
    assert "could not be verified" in checks[1]["message"]
    assert "SSL_CERT_FILE" in checks[1]["message"]


def _answer(date: str | None) -> httpx.Response:
    headers = {"date": date} if date is not None else {}
    return httpx.Response(200, headers=headers)


def test_the_clock_is_compared_with_las_date_header() -> None:
    now = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
    assert _clock_check(_answer(format_datetime(now, usegmt=True)), now).status == "ok"
    late = format_datetime(now - timedelta(minutes=3), usegmt=True)
    check = _clock_check(_answer(late), now)
    assert check.status == "warn"
    assert "180 s ahead of LA's" in check.message
    early = format_datetime(now + timedelta(seconds=119), usegmt=True)
    assert _clock_check(_answer(early), now).status == "ok"
    assert _clock_check(_answer(None), now).status == "warn"
    assert _clock_check(_answer("yesterday"), now).status == "warn"
