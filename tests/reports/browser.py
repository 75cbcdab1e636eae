"""Headless Chromium for the HTML reports' tests (Debian's ``chromium``, driven by Playwright's
Python package through ``executable_path``; its own browser download is never used): a page
opened with what it requested, logged and alerted watched, and a screenshot held not blank.
Outside CI a missing browser skips the test, saying why; under CI it fails."""

from __future__ import annotations

import importlib.util
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def require(what: str, present: bool) -> None:
    """Skip with the reason outside CI; fail under CI, where the browser must be there."""
    if present:
        return
    message = f"{what}; the HTML report's browser test cannot run"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Watch:
    """What the page did besides rendering: requests, console errors, dialogs."""

    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def dialog(self, dialog: Any) -> None:
        """An alert() or the like: noted, and dismissed so that the page carries on."""
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"console {message.type}: {message.text}")


def browse(tmp_path: Path, width: int) -> Iterator[tuple[Any, Watch]]:
    require(f"{CHROMIUM} is not installed (apt-get install chromium)", CHROMIUM.exists())
    require(
        "playwright is not importable (pip install -e '.[test]')",
        importlib.util.find_spec("playwright") is not None,
    )
    from playwright.sync_api import sync_playwright

    watch = Watch()
    with sync_playwright() as pw:
        # A persistent context is how Playwright takes a fresh --user-data-dir of our choosing.
        context = pw.chromium.launch_persistent_context(
            tmp_path / "profile",
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": width, "height": 900},
        )
        context.on("request", lambda request: watch.requests.append(request.url))
        tab = context.new_page()
        tab.on("console", watch.console)
        tab.on("pageerror", lambda exc: watch.errors.append(f"page error: {exc}"))
        tab.on("dialog", watch.dialog)
        try:
            yield tab, watch
        finally:
            context.close()


def assert_not_blank(png: Path, width: int) -> None:
    """A real PNG of the viewport's width (a full page: at least its height), whose pixels are
    far from one flat colour, and of a sane size for a page of text and charts."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    shot_width, height = struct.unpack(">II", data[16:24])
    assert shot_width == width
    assert 900 <= height < 40_000
    pixels = zlib.decompress(b"".join(chunks(data, b"IDAT")))
    assert len(set(pixels)) > 100  # a blank page's filtered scanlines hold a handful of values
    assert 40_000 < png.stat().st_size < 20_000_000


def chunks(data: bytes, kind: bytes) -> Iterator[bytes]:
    offset = 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        if data[offset + 4 : offset + 8] == kind:
            yield data[offset + 8 : offset + 8 + length]
        offset += 12 + length
