"""The fleet's health page (``labridge fleet report``) and table (``labridge fleet status``),
from the dict ``fleet status --json`` prints: its content, its escaping, 0 and 500 tenants; and
the page opened in headless Chromium (laid out, nothing fetched, no error, not blank, no
sideways scroll at 400 px)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from labridge.cli.console import fleet_summary_line, fleet_table
from labridge.reports import fleet_html
from labridge.reports.fleet_report import CHART_TENANTS

from .browser import Watch, assert_not_blank

HOSTILE = "<script>alert(1)</script>"
NOW = "2026-12-02T13:00:00+00:00"
UNREACHABLE = "cannot reach LA at https://x (ConnectError)"


def tenant(name: str, **values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": name, "la_host": "api.learningassistant.com", "last_success": NOW,
        "last_cycle_ok": True, "next_cycle": "2026-12-02T14:00:00+00:00", "waiting": 0,
        "running": 0, "failed": 0, "last_error": None, "learners_enrolled": 200,
        "needing_attention": 3, "steps": [],
    }  # fmt: skip
    return {**base, **values}


def status(tenants: list[dict[str, Any]]) -> dict[str, Any]:
    queue = {k: sum(t[k] for t in tenants) for k in ("waiting", "running", "failed")}
    return {"generated_at": NOW, "queue": {**queue, "succeeded": 9, "workers": 2},
            "hosts": [{"host": "api.learningassistant.com", "tenants": len(tenants),
                       "in_flight_limit": 8, "per_second_limit": 20.0, "in_flight_now": 1}],
            "tenants": tenants}  # fmt: skip


FLEET = status([
    tenant("north", waiting=2, running=1),
    tenant("south", failed=1, last_cycle_ok=False, last_success=None,
           last_error={"step": "sync", "at": NOW, "error": UNREACHABLE}),
    tenant("east"),
])  # fmt: skip


def rows(html: str) -> list[str]:
    body = html.split('<table id="tenants">', 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr[^>]*>\s*<td>([^<]*)</td>", body)


def test_failing_tenants_come_first_and_are_named_so_in_words() -> None:
    html = fleet_html(FLEET)
    assert rows(html) == ["south", "north", "east"]
    assert '<tr class="failing">' in html
    assert ">failing</span>" in html
    assert "sync: cannot reach LA at https://x (ConnectError)" in html
    assert "<dt>tenants failing</dt><dd>1</dd>" in html
    assert "<dt>jobs waiting</dt><dd>2</dd>" in html
    assert 'aria-label="Jobs per tenant: failed, running and waiting, 2 tenants"' in html
    assert "2026-12-02 14:00 UTC" in html
    assert "never" in html
    assert "http" not in html.replace("https://x", "")  # nothing to fetch


def test_every_tenant_name_and_error_is_escaped() -> None:
    hostile = status([tenant(HOSTILE, failed=1, last_error={"step": HOSTILE, "at": NOW,
                                                            "error": HOSTILE})])  # fmt: skip
    html = fleet_html(hostile)
    assert HOSTILE not in html
    assert "&lt;script&gt;" in html
    console = Console(width=250, record=True)
    console.print(fleet_table(hostile))
    assert HOSTILE in console.export_text()  # shown as text, not read as Rich markup


def test_no_tenants_and_five_hundred() -> None:
    empty = fleet_html(status([]))
    assert "The tenants file lists no tenant." in empty
    assert "<svg" not in empty
    many = status([tenant(f"t{i:03d}", waiting=i % 3) for i in range(500)])
    html = fleet_html(many)
    assert len(rows(html)) == 500
    charted = sum(1 for i in range(500) if i % 3)
    assert html.count("<rect") - 3 == CHART_TENANTS  # one segment each, and the legend's three
    assert f"and {charted - CHART_TENANTS} more tenants with jobs" in html


def test_the_table_and_its_summary_line() -> None:
    console = Console(width=250, record=True)
    console.print(fleet_table(FLEET))
    text = console.export_text()
    lines = [line for line in text.splitlines() if re.match(r"^│ (north|south|east) ", line)]
    assert [line.split()[1] for line in lines] == ["south", "north", "east"]
    assert "failing" in lines[0]
    assert "sync: cannot reach LA" in lines[0]
    assert fleet_summary_line(FLEET) == (
        "3 tenants (1 failing): 2 jobs waiting, 1 running, 1 failed; 2 workers"
    )


@pytest.mark.slow
def test_the_page_in_chromium(page: tuple[Any, Watch], tmp_path: Path) -> None:
    tab, watch = page
    path = tmp_path / "fleet.html"
    path.write_text(fleet_html(status([tenant(f"t{i:02d}", waiting=i % 4, failed=i % 7 == 0)
                                       for i in range(60)])), encoding="utf-8")  # fmt: skip
    tab.goto(path.as_uri(), wait_until="load")
    chart = tab.locator("svg.chart.jobs").bounding_box()
    assert chart is not None
    assert chart["width"] > 300
    assert chart["height"] > 200
    assert tab.locator("#tenants tbody tr").count() == 60
    assert tab.locator("#tenants tbody tr.failing").count() == 9
    assert watch.requests == [path.as_uri()]
    assert watch.errors == []
    assert watch.dialogs == []
    shot = tmp_path / "fleet.png"
    tab.screenshot(path=str(shot), full_page=True)
    assert_not_blank(shot, 1280)


@pytest.mark.slow
def test_the_page_at_400_px_wide_does_not_scroll_sideways(
    narrow_page: tuple[Any, Watch], tmp_path: Path
) -> None:
    tab, watch = narrow_page
    path = tmp_path / "fleet.html"
    path.write_text(fleet_html(FLEET), encoding="utf-8")
    tab.goto(path.as_uri(), wait_until="load")
    assert tab.evaluate("document.documentElement.scrollWidth") <= 400
    assert watch.errors == []
