"""``labridge tenants check``: each tenant's store and LA site, one line per tenant."""

from __future__ import annotations

import asyncio
from typing import Any

from ... import dburl, store
from ...errors import LabridgeError
from ...store.engine import exists as store_exists
from . import stores
from .tenants import Fleet, Tenant


def prepare_fleet(fleet: Fleet) -> None:
    """Make the fleet's queue and tables in its database (what a worker makes on start)."""
    from .jobs import make_app, prepare

    async def go() -> None:
        app = make_app(fleet)
        async with app.open_async():
            await prepare(fleet, app)

    asyncio.run(go())


def check_all(fleet: Fleet, *, create: bool, doctor: bool) -> list[dict[str, Any]]:
    return [check(tenant, create=create, doctor=doctor) for tenant in fleet.tenants]


def check(tenant: Tenant, *, create: bool, doctor: bool) -> dict[str, Any]:
    """The tenant's store (made and migrated with ``create``; else it must be there) and, with
    ``doctor``, `labridge doctor`'s checks of its LA site. A failure is the error's own words,
    which name what to do."""
    out: dict[str, Any] = {"name": tenant.name, "status": "ok"}
    try:
        stores.ensure(tenant.store_url, create=create)
        if create or store_exists(tenant.store_url):
            with store.open_store(tenant.store_url):
                out["store"] = f"ok: {dburl.shown(tenant.store_url)}"
        else:
            out["store"] = f"missing: {dburl.shown(tenant.store_url)} (give --create)"
            out["status"] = "fail"
    except LabridgeError as exc:
        out["store"] = f"fail: {exc}"
        out["status"] = "fail"
    out["la"] = _doctor(tenant, out) if doctor else "not checked (--no-doctor)"
    return out


def _doctor(tenant: Tenant, out: dict[str, Any]) -> str:
    from ... import doctor

    try:
        report = asyncio.run(doctor.diagnose(tenant.settings))
    except LabridgeError as exc:
        out["status"] = "fail"
        return f"fail: {exc}"
    out["doctor"] = report.as_dict()
    failing = [c for c in report.checks if c.status == "fail"]
    if report.unreachable or failing or report.exit_code:
        out["status"] = "fail"
        words = "; ".join(f"{c.name}: {c.message}" for c in failing) or "differs from the contract"
        return f"fail: {words} (labridge doctor says more)"
    return f"ok: {len(report.checks)} checks, {len(report.findings)} findings"
