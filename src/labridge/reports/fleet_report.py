"""The fleet's health as one self-contained HTML page (``labridge fleet report``): summary cards,
a chart of each tenant's jobs (failed, running, waiting), the tenants' table, failing tenants
first and named so in words, and the limits per LA host. It renders the dict of
``labridge fleet status --json`` (docs/fleet.md); every tenant name and error is escaped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from markupsafe import Markup

from .progress_report import TEMPLATES

#: The most tenants the chart draws (the most urgent); the table lists them all.
CHART_TENANTS = 40
#: The chart's segments, in order: (key in a tenant, label, colour).
JOB_KINDS = (("failed", "failed", "#b42318"), ("running", "running", "#1f6feb"),
             ("waiting", "waiting", "#9aa5b1"))  # fmt: skip


def failing(tenant: Mapping[str, Any]) -> bool:
    """A tenant a person should look at: a job failed, or its last cycle did not succeed."""
    return bool(tenant.get("failed")) or tenant.get("last_cycle_ok") is False


def ranked(tenants: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Failing tenants first, then by jobs failed, running and waiting, then by name."""
    return sorted(tenants, key=lambda t: (not failing(t), -int(t.get("failed") or 0),
                                          -int(t.get("running") or 0),
                                          -int(t.get("waiting") or 0), str(t["name"])))  # fmt: skip


def when(value: str | None) -> str:
    """An ISO time as people read it: ``2026-12-02 13:00 UTC``; ``never`` for none."""
    if not value:
        return "never"
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M UTC")


def jobs_chart(tenants: Sequence[Mapping[str, Any]]) -> Markup | None:
    """Horizontal stacked bars, one per tenant with jobs, on one scale; ``None`` when no tenant
    has a job waiting, running or failed."""
    rows = [t for t in tenants if any(t.get(k) for k, _, _ in JOB_KINDS)][:CHART_TENANTS]
    if not rows:
        return None
    top = max(sum(int(t.get(k) or 0) for k, _, _ in JOB_KINDS) for t in rows)
    label_w, bar_w, row_h, y0 = 150, 300, 22, 30
    parts = [_legend()]
    for i, tenant in enumerate(rows):
        y = y0 + i * row_h
        parts.append(
            Markup('<text class="label" x="{}" y="{}"><title>{}</title>{}</text>').format(
                label_w - 6, y + 14, tenant["name"], _short(str(tenant["name"]))
            )
        )
        x = float(label_w)
        for key, label, colour in JOB_KINDS:
            n = int(tenant.get(key) or 0)
            if not n:
                continue
            w = bar_w * n / top
            parts.append(
                Markup(
                    '<rect x="{:.1f}" y="{}" width="{:.1f}" height="16" fill="{}">'
                    "<title>{}: {} {}</title></rect>"
                ).format(x, y + 2, w, colour, tenant["name"], n, label)
            )
            x += w
        total = sum(int(tenant.get(k) or 0) for k, _, _ in JOB_KINDS)
        parts.append(
            Markup('<text class="total" x="{:.1f}" y="{}">{}</text>').format(x + 4, y + 14, total)
        )
    height = y0 + len(rows) * row_h + 4
    text = f"Jobs per tenant: failed, running and waiting, {len(rows)} tenants"
    return Markup(
        '<svg class="chart jobs" viewBox="0 0 {} {}" role="img" aria-label="{}"><title>{}</title>'
        "{}</svg>"
    ).format(label_w + bar_w + 40, height, text, text, Markup("").join(parts))  # fmt: skip


def _legend() -> Markup:
    items = []
    for i, (_, label, colour) in enumerate(JOB_KINDS):
        x = 150 + i * 90
        item = Markup('<rect x="{}" y="6" width="12" height="12" fill="{}"></rect>'
                      '<text x="{}" y="16">{}</text>')  # fmt: skip
        items.append(item.format(x, colour, x + 16, label))
    return Markup("").join(items)


def _short(name: str, most: int = 22) -> str:
    return name if len(name) <= most else name[: most - 1] + "…"


def fleet_html(status: Mapping[str, Any]) -> str:
    """The page: inline CSS and SVG, no script, no external URL."""
    tenants = ranked(status.get("tenants", []))
    queue = status.get("queue", {})
    cards = [
        ("tenants", len(tenants)),
        ("tenants failing", sum(failing(t) for t in tenants)),
        ("jobs waiting", queue.get("waiting", 0)),
        ("jobs running", queue.get("running", 0)),
        ("jobs failed", queue.get("failed", 0)),
        ("workers", queue.get("workers", 0)),
    ]
    charted = [t for t in tenants if any(t.get(k) for k, _, _ in JOB_KINDS)]
    return TEMPLATES.get_template("fleet.html.j2").render(
        status=status,
        tenants=tenants,
        cards=cards,
        chart=jobs_chart(tenants),
        more=max(0, len(charted) - CHART_TENANTS),
        failing=failing,
        when=when,
        generated=when(status.get("generated_at")),
    )
