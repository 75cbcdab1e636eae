"""A big centre's sync (issue 11 §1): 100,000 candidates over 300 courses, synced twice.

    python bench/big_centre.py                     # 100,000 learners, 300 courses; writes results
    python bench/big_centre.py --candidates 2000 --courses 20 --no-write
    python bench/big_centre.py --sandbox           # also once against the real sandbox

The centre is the sandbox's (``labridge sandbox serve --seed-candidates N --seed-courses M``: every
course has a QAN, so the candidates are listed course by course). Its answers are **recorded**
once, by a sync through the in-process sandbox app, keyed by call (operation, CourseQAN and flags),
and then served from :mod:`replay`'s stand-in LA (``serve-keyed``) in a child process, after a
fixed latency (20 ms), for almost no CPU: the runs measure labridge, not the sandbox.

Each run is a real ``python -m labridge sync`` process on one SQLite store (stdout to a file;
wall time, CPU time and peak RSS by ``os.wait4``):

- **first sync**: a fresh store; every candidate inserted;
- **second sync**: nothing changed in LA: every answer's Body has the digest the store kept, so
  none is decoded or compared; it must take <= 25 % of the first and write no reference row;
- the ideal: the GetCandidates calls (two per course) x RTT / ``[sync] concurrency``, beside
  the reference reads (run side by side with them) and the login.

``--sandbox`` adds one sync against the real sandbox (a child ``labridge sandbox serve`` with the
generated centre), to show that it syncs at all and at what memory; its wall time is mostly the
sandbox's own (it builds 600 answers from its database).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx

sys.path.insert(0, str(Path(__file__).parent))

import output
import replay

from labridge.workflows.sync import SYNC_CONCURRENCY as CONCURRENCY  # [sync] concurrency

HERE = Path(__file__).parent
USER = PASSWORD = "sandbox"


class _Keyed(httpx.AsyncBaseTransport):
    """Passes calls to the in-process sandbox and keeps each call's answer by its key."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.answers: dict[str, str] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        response = await self.inner.handle_async_request(request)
        data = await response.aread()
        self.answers[replay.call_key(body)] = data.decode("utf-8")
        return httpx.Response(response.status_code, headers=response.headers, content=data)


def record(candidates: int, courses: int, path: Path) -> int:
    """Record the generated centre's answers to ``path``; returns the GetCandidates calls."""
    from labridge import AsyncClient, store
    from labridge.sandbox import create_app
    from labridge.sandbox.seed import Generated
    from labridge.workflows.sync import sync

    app = create_app(generated=Generated(candidates, courses))
    keyed = _Keyed(httpx.ASGITransport(app=app))
    with TemporaryDirectory() as tmp:
        db = store.open_store(f"sqlite:///{tmp}/record.db")

        async def go() -> None:
            async with AsyncClient("http://sandbox", USER, PASSWORD, transport=keyed) as la:
                await sync(la, db, concurrency=CONCURRENCY)

        asyncio.run(go())
        db.close()
    app.state.db.close()
    path.write_text(json.dumps(keyed.answers), encoding="utf-8")
    return sum(1 for key in keyed.answers if key.startswith("GetCandidates|"))


@dataclass
class Run:
    name: str
    wall: float
    cpu: float
    rss: float
    la_cpu: float
    counts: dict[str, dict[str, int]]


def measure(cmd: list[str], env: dict[str, str], out: Path) -> tuple[float, float, float, str]:
    """Wall and CPU seconds, peak RSS (MB) and stdout of ``cmd`` as a fresh process."""
    wall, usage, _ = output.run_measured(cmd, env, out)
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss / 1024, out.read_text(encoding="utf-8")


def sync_env(url: str, store_path: Path) -> dict[str, str]:
    return {**os.environ, "LABRIDGE_URL": url, "LABRIDGE_USERNAME": USER,
            "LABRIDGE_PASSWORD": PASSWORD, "LABRIDGE_DATABASE_URL": f"sqlite:///{store_path}",
            "NO_COLOR": "1"}  # fmt: skip


def reference_writes(store_path: Path) -> int:
    """Rows of the reference sets whose ``updated_at`` is that of the newest write: a check that
    the second sync changed nothing (its rows keep the first sync's stamps)."""
    with sqlite3.connect(store_path) as conn:
        (latest,) = conn.execute("SELECT max(updated_at) FROM candidates").fetchone()
        (runs,) = conn.execute("SELECT count(*) FROM sync_runs").fetchone()
        (last_start,) = conn.execute(
            "SELECT started_at FROM sync_runs ORDER BY id DESC LIMIT 1"
        ).fetchone()
    return int(str(latest) >= str(last_start)) if runs > 1 else 0


def sync_twice(url: str, tmp: Path, la: replay.ReplayLA) -> list[Run]:
    store_path = tmp / "store.db"
    cmd = [sys.executable, "-m", "labridge", "sync", "--json"]
    runs = []
    for name in ("first sync", "second sync (nothing changed)"):
        before = la.stats()["cpu"]
        wall, cpu, rss, out = measure(cmd, sync_env(url, store_path), tmp / "out")
        la_cpu = la.stats()["cpu"] - before
        runs.append(Run(name, wall, cpu, rss, la_cpu, json.loads(out)))
    return runs


def against_sandbox(candidates: int, courses: int, tmp: Path) -> Run:
    from labridge.sandbox.server import serve_process

    flags = ["--seed-candidates", str(candidates), "--seed-courses", str(courses)]
    with serve_process(*flags, timeout=600) as url:
        cmd = [sys.executable, "-m", "labridge", "sync", "--json"]
        wall, cpu, rss, out = measure(cmd, sync_env(url, tmp / "sandbox.db"), tmp / "sb")
    return Run("first sync, real sandbox", wall, cpu, rss, float("nan"), json.loads(out))


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidates", type=int, default=100_000)
    parser.add_argument("--courses", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--sandbox", action="store_true", help="also sync the real sandbox once")
    parser.add_argument(
        "--no-write", action="store_true", help="do not write big-centre-results.md"
    )
    parser.add_argument("--record-to", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.record_to is not None:
        print(record(args.candidates, args.courses, args.record_to))  # the GetCandidates calls
        return ""
    with TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        answers = tmp / "answers.json"
        started = time.perf_counter()
        # In a child: a process's peak RSS counts what its parent held when it forked, so the
        # parent of the measured runs must stay small.
        flags = ["--candidates", str(args.candidates), "--courses", str(args.courses)]
        done = subprocess.run([sys.executable, __file__, "--record-to", str(answers), *flags],
                              check=True, capture_output=True, text=True)  # fmt: skip
        calls = int(done.stdout.split()[-1])
        recorded_in = time.perf_counter() - started
        with replay.keyed_la(answers, args.latency_ms) as la:
            runs = sync_twice(la.url, tmp, la)
            changed_rows = reference_writes(tmp / "store.db")
        if args.sandbox:
            runs.append(against_sandbox(args.candidates, args.courses, tmp))
    ideal = calls * args.latency_ms / 1000 / CONCURRENCY
    first, second = runs[0], runs[1]
    total = first.counts["candidates"]["total"]
    lines = [
        f"{args.candidates:,} generated learners over {args.courses} courses ({total:,} "
        f"candidates with the seed's), {calls} GetCandidates calls, {args.latency_ms:g} ms RTT, "
        f"{CONCURRENCY} in flight: ideal {ideal:.2f} s for the candidate lists (answers recorded "
        f"in {recorded_in:.0f} s).",
        "",
        "| run | wall (s) | wall / ideal | labridge CPU (s) | stand-in CPU (s) | peak RSS (MB) "
        "| candidates added / changed / removed |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        c = run.counts["candidates"]
        lines.append(
            f"| {run.name} | {run.wall:.2f} | {run.wall / ideal:.2f} | {run.cpu:.2f} | "
            f"{run.la_cpu:.2f} | {run.rss:.0f} | {c['added']:,} / {c['changed']:,} / "
            f"{c['removed']:,} |"
        )
    lines += [
        "",
        f"Second / first: **{second.wall / first.wall:.0%}** of the wall time, "
        f"{second.cpu / first.cpu:.0%} of labridge's CPU; reference rows written by the second: "
        f"{changed_rows} (0 means none).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        (HERE / "big-centre-results.md").write_text(
            "# A big centre's sync\n\n`python bench/big_centre.py` (each sync a fresh `labridge "
            "sync` process against the keyed replay LA; one SQLite store).\n\n" + text,
            encoding="utf-8",
        )
    return text


if __name__ == "__main__":
    main()
