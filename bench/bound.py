"""How far labridge's runs are from the latency bound, against the replay LA (issue 11).

    python bench/bound.py                       # 2,000 learners, 20 ms; writes bound-results.md
    python bench/bound.py --learners 200 --no-write
    python bench/bound.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

Against :mod:`replay` (a stand-in LA in a child process answering recorded sandbox envelopes after
a fixed latency, for well under 1 ms of CPU a call), each run is given as:

- **wall / ideal**: the ideal is N x RTT / concurrency (N calls of one round trip each, that many
  in flight): 1.0 means bounded by LA's latency alone;
- **CPU ms / learner**: ``time.process_time()`` of this (the labridge) process over the run,
  divided by N: the replay LA's CPU is not in it (its share of the wall time is shown beside);

for enrolment (:class:`~labridge.workflows.enrol.Enroller`, a fresh SQLite store synced just
before; optionally PostgreSQL) at 8 and 16 in flight, progress pulls (GetProgress and
GetProgressFull, :class:`~labridge.workflows.pull.Puller`) at 8, 16 and 32, and a sync of N
candidates done twice (the second changes nothing), timed after the login, as a ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from replay import ReplayLA, replay_la

from labridge import AsyncClient, store
from labridge.sources.csv import read_csv
from labridge.sources.records import SourceRecord
from labridge.validate.learners import check_all
from labridge.validate.lookups import ReferenceData
from labridge.workflows.enrol import Enroller, Options
from labridge.workflows.pull import Puller, enrolled
from labridge.workflows.sync import sync

HERE = Path(__file__).parent
SAMPLE = HERE.parent / "examples" / "learners.csv"
USER = PASSWORD = "sandbox"


@dataclass
class Row:
    case: str
    n: int
    concurrency: int
    wall: float
    ideal: float
    cpu: float
    replay_cpu: float

    @property
    def ratio(self) -> float:
        return self.wall / self.ideal

    def cells(self) -> list[str]:
        return [self.case, f"{self.n:,}", str(self.concurrency), f"{self.wall:.2f}",
                f"{self.ideal:.2f}", f"{self.ratio:.2f}", f"{1000 * self.cpu / self.n:.2f}",
                f"{100 * self.replay_cpu / self.wall:.1f} %"]  # fmt: skip


def learners(ref: ReferenceData, n: int) -> list[SourceRecord]:
    """``n`` valid learners: the sample's valid rows, repeated under fresh learner ids."""
    sample = [r for r in read_csv(SAMPLE) if isinstance(r, SourceRecord)]
    valid = [c.record for c in check_all(sample, ref) if c.ok]
    made = [
        SourceRecord(i, f"row {i}", {**valid[i % len(valid)].fields, "learner_id": f"B-{i:06d}"})
        for i in range(n)
    ]
    checked = [c for c in check_all(made, ref) if c.ok]
    assert len(checked) == n, f"only {len(checked)} of {n} generated learners are valid"
    return made


@contextmanager
def fresh_store(postgres: str | None = None) -> Iterator[store.Store]:
    """A new empty store: a SQLite file, or a PostgreSQL database made for the run."""
    if postgres is None:
        with TemporaryDirectory() as tmp:
            db = store.open_store(f"sqlite:///{tmp}/bench.db")
            try:
                yield db
            finally:
                db.close()
        return
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    name = f"labridge_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    db = store.open_store(sa.make_url(postgres).set(database=name).render_as_string(False))
    try:
        yield db
    finally:
        db.close()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


async def _timed(la: ReplayLA, work: Callable[[], Awaitable[Any]]) -> tuple[float, float, float]:
    """Wall and CPU seconds of ``work`` in this process, and the replay LA's CPU meanwhile."""
    before = la.stats()["cpu"]
    cpu, wall = time.process_time(), time.perf_counter()
    await work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, la.stats()["cpu"] - before


def bench_enrol(n: int, concurrency: int, rtt: float, postgres: str | None = None) -> Row:
    with replay_la(latency_ms=rtt * 1000) as la, fresh_store(postgres) as db:

        async def go() -> tuple[float, float, float]:
            async with AsyncClient(la.url, USER, PASSWORD) as client:
                await sync(client, db)
                with db.session() as session:
                    rows = learners(ReferenceData.load(session), n)
                enroller = Enroller(client, db, Options(concurrency=concurrency))

                async def run() -> None:
                    report = await enroller.run(rows)
                    assert report.count("enrolled") == n, report.as_dict()

                return await _timed(la, run)

        wall, cpu, replay_cpu = asyncio.run(go())
    kind = "PostgreSQL" if postgres else "SQLite"
    return Row(f"enrol ({kind})", n, concurrency, wall, n * rtt / concurrency, cpu, replay_cpu)


def bench_pull(n: int, concurrencies: list[int], rtt: float) -> list[Row]:
    """Each pull into a fresh store synced just before, so that every run writes everything."""
    rows: list[Row] = []
    with replay_la(latency_ms=rtt * 1000, candidates=n) as la:

        async def go(db: store.Store, full: bool, concurrency: int) -> tuple[float, float, float]:
            async with AsyncClient(la.url, USER, PASSWORD) as client:
                await sync(client, db)
                puller = Puller(client, db, full=full, concurrency=concurrency)
                who = enrolled(db)
                assert len(who) == n, len(who)

                async def run() -> None:
                    report = await puller.run(who)
                    assert report.failed == 0, report.as_dict()
                    assert report.changed == n, report.as_dict()

                return await _timed(la, run)

        for full in (False, True):
            for c in concurrencies:
                with fresh_store() as db:
                    wall, cpu, replay_cpu = asyncio.run(go(db, full, c))
                case = "progress pull --full" if full else "progress pull"
                rows.append(Row(case, n, c, wall, n * rtt / c, cpu, replay_cpu))
    return rows


def bench_sync(n: int, rtt: float) -> tuple[float, float, float, float]:
    """First sync of ``n`` candidates and a second that changes nothing: wall and CPU each."""
    with replay_la(latency_ms=rtt * 1000, candidates=n) as la, fresh_store() as db:

        async def go() -> tuple[float, float, float, float]:
            async with AsyncClient(la.url, USER, PASSWORD) as client:
                await client.authenticate()
                first = await _timed(la, lambda: sync(client, db))
                second = await _timed(la, lambda: sync(client, db))
            return first[0], first[1], second[0], second[1]

        return asyncio.run(go())


def table(rows: list[Row]) -> str:
    head = ["run", "learners", "in flight", "wall (s)", "ideal (s)", "wall / ideal",
            "CPU ms / learner", "replay LA CPU / wall"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, default=2000)
    parser.add_argument("--rtt-ms", type=float, default=20.0)
    parser.add_argument("--enrol-concurrency", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--pull-concurrency", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--postgres", help="also enrol into a PostgreSQL store (admin URL)")
    parser.add_argument("--no-write", action="store_true", help="do not write bound-results.md")
    args = parser.parse_args(argv)
    n, rtt = args.learners, args.rtt_ms / 1000
    rows = [bench_enrol(n, c, rtt) for c in args.enrol_concurrency]
    if args.postgres:
        rows += [bench_enrol(n, c, rtt, args.postgres) for c in args.enrol_concurrency]
    rows += bench_pull(n, args.pull_concurrency, rtt)
    first, first_cpu, second, second_cpu = bench_sync(n, rtt)
    text = table(rows) + (
        f"\n\n| sync of {n:,} candidates | wall (s) | CPU (s) |\n|---|---:|---:|\n"
        f"| first | {first:.3f} | {first_cpu:.3f} |\n"
        f"| second, nothing changed | {second:.3f} | {second_cpu:.3f} |\n"
        f"| second / first | {second / first:.2f} | {second_cpu / first_cpu:.2f} |\n"
    )
    print(text)
    if not args.no_write:
        (HERE / "bound-results.md").write_text(
            "# Latency bound: labridge against the replay LA\n\n"
            f"`python bench/bound.py` ({n:,} learners, RTT {args.rtt_ms:g} ms; ideal = N x RTT / "
            "in flight).\n\n" + text,
            encoding="utf-8",
        )
    return text


if __name__ == "__main__":
    main()
