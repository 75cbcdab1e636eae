"""A worker process of the fleet-limit tests: one AsyncClient, many calls at once to the sandbox,
each exchange's wall-clock interval inside the gate written to a file (one JSON line each).

    python gate_worker.py CONFIG.json

CONFIG: ``database_url``, ``la_url``, ``host``, ``in_flight``, ``per_second``, ``lease_seconds``,
``calls``, ``out``, ``gated`` (false: no limit, the control run), ``start_at`` (a time.time() at
which every worker starts its calls, so that they all press at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from labridge.cli.fleet.limits import HostGate, HostLimits, close_all
from labridge.client import AsyncClient


def main(config: dict[str, Any]) -> None:
    out = Path(config["out"])
    limit = None
    if config["gated"]:
        limits = HostLimits(config["in_flight"], config["per_second"])
        limit = HostGate.shared(
            config["database_url"], config["host"], limits, config["lease_seconds"]
        )

    @contextlib.asynccontextmanager
    async def recorded() -> AsyncIterator[object]:
        async with contextlib.AsyncExitStack() as stack:
            if limit is not None:
                await stack.enter_async_context(limit.gate())
            started = time.time()
            with out.open("a") as f:  # written at once: a worker may be killed mid-call
                f.write(json.dumps({"event": "entered", "at": started}) + "\n")
            yield None
            with out.open("a") as f:
                f.write(json.dumps({"event": "call", "start": started, "end": time.time()}) + "\n")

    async def run() -> None:
        async with AsyncClient(
            config["la_url"], "sandbox", "sandbox", gate=recorded, deadline=120
        ) as client:
            await asyncio.sleep(max(0.0, config["start_at"] - time.time()))
            await asyncio.gather(*(client.get_nationalities() for _ in range(config["calls"])))

    try:
        asyncio.run(run())
    finally:
        close_all()


if __name__ == "__main__":
    main(json.loads(Path(sys.argv[1]).read_text()))
