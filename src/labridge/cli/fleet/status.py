"""``labridge fleet status``: the queue's health per tenant, read from procrastinate's tables and
the fleet's own (:mod:`.state`): last successful cycle, next cycle, jobs waiting, running and
failed with the last error, learners enrolled and records needing attention; the limits per LA
host and the calls in flight there now. The shape is the one ``fleet_html`` and ``fleet_table``
render (docs/fleet.md)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from ... import dburl
from ...errors import ConfigurationError
from .jobs import TASK
from .state import connect
from .tenants import Fleet

_JOBS = """
SELECT lock, status::text AS status, count(*) AS n FROM procrastinate_jobs
 WHERE task_name = %s GROUP BY lock, status
"""
_LATEST_STEPS = """
SELECT DISTINCT ON (tenant, step) tenant, step, status, finished_at, summary, error, cycle, id
  FROM labridge_fleet_steps ORDER BY tenant, step, id DESC
"""
_CYCLES = """
SELECT tenant, cycle, bool_and(status = 'succeeded') AS ok,
       bool_or(last AND status IN ('succeeded', 'failed')) AS ended,
       max(finished_at) AS finished_at, max(id) AS id
  FROM labridge_fleet_steps GROUP BY tenant, cycle
"""


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


async def fleet_status(fleet: Fleet) -> dict[str, Any]:
    from .limits import in_flight_now

    async with connect(fleet.database_url) as conn:
        cur = await conn.execute("SELECT to_regclass('labridge_fleet_steps') IS NOT NULL AS x")
        made = await cur.fetchone()
        if not (made and made["x"]):
            raise ConfigurationError(
                f"the fleet's database {dburl.shown(fleet.database_url)} holds no fleet yet",
                hint="run `labridge tenants check --create` or start a `labridge worker` first",
            )
        jobs: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for row in await (await conn.execute(_JOBS, (TASK,))).fetchall():
            jobs[row["lock"] or ""][row["status"]] += int(row["n"])
        rows = await (await conn.execute("SELECT * FROM labridge_fleet_tenants")).fetchall()
        tenants_rows = {r["name"]: r for r in rows}
        steps: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in await (await conn.execute(_LATEST_STEPS)).fetchall():
            steps[row["tenant"]].append(row)
        cycles: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in await (await conn.execute(_CYCLES)).fetchall():
            cycles[row["tenant"]].append(row)
        cur = await conn.execute(
            "SELECT count(*) AS n FROM procrastinate_workers "
            "WHERE last_heartbeat > now() - %s * interval '1 second'",
            (fleet.stalled_seconds,),
        )
        workers = int((await cur.fetchone() or {"n": 0})["n"])
    tenants = [_tenant(t.name, t.la_host, jobs[t.lock], tenants_rows.get(t.name),
                       steps[t.name], cycles[t.name]) for t in fleet.tenants]  # fmt: skip
    queue = {k: sum(j.get(s, 0) for j in jobs.values())
             for k, s in (("waiting", "todo"), ("running", "doing"), ("failed", "failed"),
                          ("succeeded", "succeeded"))}  # fmt: skip
    hosts = []
    for host in sorted({t.la_host for t in fleet.tenants}):
        limits = fleet.limits_of(host)
        hosts.append({"host": host, "tenants": sum(t.la_host == host for t in fleet.tenants),
                      "in_flight_limit": limits.in_flight, "per_second_limit": limits.per_second,
                      "in_flight_now": in_flight_now(fleet.database_url, host)})  # fmt: skip
    return {"generated_at": datetime.now(UTC).isoformat(), "queue": {**queue, "workers": workers},
            "hosts": hosts, "tenants": tenants}  # fmt: skip


Row = dict[str, Any]


def _tenant(name: str, host: str, jobs: dict[str, int], row: Row | None, steps: list[Row],
            cycles: list[Row]) -> dict[str, Any]:  # fmt: skip
    ended = sorted((c for c in cycles if c["ended"]), key=lambda c: c["id"])
    good = [c for c in ended if c["ok"]]
    current = max(cycles, key=lambda c: c["id"])["cycle"] if cycles else None
    errors = sorted((s for s in steps if s["error"] and s["status"] in ("failed", "retrying")),
                    key=lambda s: s["id"])  # fmt: skip
    last_error = errors[-1] if errors else None
    return {
        "name": name,
        "la_host": host,
        "last_success": _iso(good[-1]["finished_at"]) if good else None,
        "last_cycle_ok": bool(ended[-1]["ok"]) if ended else None,
        "next_cycle": _iso(row["next_cycle"]) if row else None,
        "waiting": jobs.get("todo", 0),
        "running": jobs.get("doing", 0),
        "failed": jobs.get("failed", 0),
        "last_error": None if last_error is None else {
            "step": last_error["step"], "at": _iso(last_error["finished_at"]),
            "error": last_error["error"]},
        "learners_enrolled": (row or {}).get("learners_enrolled") or 0,
        "needing_attention": (row or {}).get("needing_attention") or 0,
        "steps": [{"step": s["step"], "status": s["status"], "finished_at": _iso(s["finished_at"]),
                   "summary": s["summary"]}
                  for s in sorted(steps, key=lambda s: s["id"]) if s["cycle"] == current],
    }  # fmt: skip
