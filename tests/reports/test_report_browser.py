"""The HTML progress report opened in a real headless Chromium (Debian's ``chromium`` package),
not only written: the charts are laid out with a size, the tables have their rows, the sorting
script runs without an error, nothing is fetched but the file itself, and a screenshot shows a
page that is not blank.

Playwright's Python package drives the system browser through ``executable_path``; its own
browser download is never used (it fails on these machines). Outside CI the tests skip, saying
why, when the browser or Playwright is missing; under CI (``CI`` set, as ``.ci/run`` runs) they
fail instead, so a broken CI set-up cannot pass silently.
"""

from __future__ import annotations

import importlib.util
import os
import struct
import subprocess
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from labridge.reports import build_progress_report, progress_html
from labridge.reports.progress import ProgressReport
from labridge.store import Store

from .progress_data import HOSTILE, TODAY

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


@pytest.fixture
def report_file(sqlite_progress_store: Store, tmp_path: Path) -> tuple[Path, ProgressReport]:
    with sqlite_progress_store.engine.connect() as conn:
        report = build_progress_report(conn, TODAY, now=datetime(2026, 3, 1, 9, tzinfo=UTC))
    path = tmp_path / "progress-report.html"
    path.write_text(progress_html(report), encoding="utf-8")
    return path, report


@dataclass
class Watch:
    """What the page did besides rendering: requests, console errors, dialogs."""

    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"console {message.type}: {message.text}")


@pytest.fixture
def page(tmp_path: Path) -> Iterator[tuple[Any, Watch]]:
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
            viewport={"width": 1280, "height": 900},
        )
        context.on("request", lambda request: watch.requests.append(request.url))
        tab = context.new_page()
        tab.on("console", watch.console)
        tab.on("pageerror", lambda exc: watch.errors.append(f"page error: {exc}"))
        tab.on("dialog", lambda dialog: (watch.dialogs.append(dialog.message), dialog.dismiss()))
        try:
            yield tab, watch
        finally:
            context.close()


def test_report_renders_in_chromium(
    page: tuple[Any, Watch], report_file: tuple[Path, ProgressReport], tmp_path: Path
) -> None:
    tab, watch = page
    path, report = report_file
    tab.goto(path.as_uri(), wait_until="load")

    assert tab.title() == "Learner progress report, 2026-03-01"
    assert_charts_have_size(tab, panels=len(report.learners))
    assert tab.locator("#learners-table tbody tr").count() == len(report.learners)
    assert tab.locator("#behind-table tbody tr").count() == len(report.most_behind)
    assert tab.locator("#courses-table tbody tr").count() == len(report.courses)
    assert f"Gus {HOSTILE}" in tab.locator("#learners-table").inner_text()  # text, not markup
    assert tab.evaluate("document.scripts.length") == 1
    assert_sorting_works(tab)

    shot = tmp_path / "progress-report.png"
    tab.screenshot(path=shot, full_page=True)
    assert_not_blank(shot)

    assert watch.errors == []
    assert watch.dialogs == []  # the hostile name ran no script
    assert set(watch.requests) == {path.as_uri()}


def assert_charts_have_size(tab: Any, panels: int) -> None:
    charts = tab.locator("svg.chart")
    assert charts.count() == 1 + panels  # the course bars, then one panel per learner
    sparks = tab.locator("svg.spark")
    for locator in [charts.nth(i) for i in range(charts.count())] + [sparks.first]:
        box = locator.bounding_box()
        assert box is not None
        assert box["width"] > 50, box
        assert box["height"] > 10, box
    bars = tab.locator("svg.bars").bounding_box()
    assert bars["width"] > 600  # laid out across the page, not collapsed
    # The bars' segments are drawn: their painted boxes are not empty.
    widths = tab.eval_on_selector_all(
        "svg.bars rect", "rects => rects.map(r => r.getBoundingClientRect().width)"
    )
    assert len(widths) == 12
    assert min(widths) > 0


def assert_sorting_works(tab: Any) -> None:
    header = tab.locator("#learners-table th", has_text="Overall")
    header.get_by_role("button").click()
    assert header.get_attribute("aria-sort") == "ascending"
    assert overall_column(tab) == sorted(overall_column(tab))
    header.get_by_role("button").click()
    assert header.get_attribute("aria-sort") == "descending"
    assert overall_column(tab) == sorted(overall_column(tab), reverse=True)


def overall_column(tab: Any) -> list[float]:
    script = "rows => rows.map(r => parseFloat(r.cells[3].getAttribute('data-sort')))"
    values: list[float] = tab.eval_on_selector_all("#learners-table tbody tr", script)
    return values


def assert_not_blank(png: Path) -> None:
    """A real PNG, at least the viewport's width, whose pixels are far from one flat colour."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 1280
    assert height >= 900
    pixels = zlib.decompress(b"".join(chunks(data, b"IDAT")))
    assert len(set(pixels)) > 100  # a blank page's filtered scanlines hold a handful of values
    assert png.stat().st_size > 40_000


def chunks(data: bytes, kind: bytes) -> Iterator[bytes]:
    offset = 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        if data[offset + 4 : offset + 8] == kind:
            yield data[offset + 8 : offset + 8 + length]
        offset += 12 + length


def test_report_dom_from_chromium_cli(
    report_file: tuple[Path, ProgressReport], tmp_path: Path
) -> None:
    """The browser's own ``--dump-dom``, without Playwright: the page parses into the same DOM."""
    require(f"{CHROMIUM} is not installed (apt-get install chromium)", CHROMIUM.exists())
    path, report = report_file
    command = [
        str(CHROMIUM),
        "--headless",
        *FLAGS,
        f"--user-data-dir={tmp_path / 'cli-profile'}",
        "--dump-dom",
        path.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    dom = done.stdout
    assert dom.count('<svg class="chart panel"') == len(report.learners)
    assert dom.count("<tr>") >= len(report.learners) + len(report.most_behind)
    assert "Gus &lt;script&gt;alert(1)&lt;/script&gt;" in dom
