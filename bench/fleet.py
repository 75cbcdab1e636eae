"""The fleet at scale on this machine (issue 13): many tenants, several worker processes, one LA
host with latency and faults, and a run where a worker is killed with SIGKILL halfway.

    python bench/fleet.py                         # 50 tenants x 200 learners; fleet-results.md
    python bench/fleet.py --tenants 3 --learners 10 --no-write

Each run starts from nothing: a fleet database and one store database per tenant on the local
PostgreSQL (dropped afterwards), one ``labridge sandbox serve --centres N`` process (every centre
on one host, each with its own learners, ``--latency-ms`` and the fault flags on), a tenants file
(tenant i at ``/centre-i``, its own CSV of ``--learners`` learners under its own ids, the
fleet's limit per LA host), ``labridge tenants check --create``, ``labridge schedule --now``, then
``--workers`` processes of ``labridge worker --until-empty --no-schedule`` started together. The
wall time runs from the workers' start to the last one's exit. In the kill run, one worker is
killed with SIGKILL once about half the tenants' enrol steps have succeeded; the others run its
step again after ``stalled_seconds``.

Figures per run: learners enrolled per second (all tenants' enrolled learners over the wall
time), fairness (each tenant's time from its first step's start to its last step's end: the
slowest over the fastest), duplicates in LA (must be 0: the script exits 1 otherwise), learners
enrolled against expected, jobs failed, steps retried and run again after a kill, and the LA
host's busiest moment against the fleet's limits (from the sandbox's ``/_sandbox/stats``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).parent))

import faults

from labridge.sandbox.server import serve_process

RESULTS = Path(__file__).parent / "fleet-results.md"
ADMIN = os.environ.get("LABRIDGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
ADMIN = ADMIN.replace("postgresql+psycopg://", "postgresql://")
PASSWORD_ENV = "LABRIDGE_BENCH_TENANT_PASSWORD"
HEADER = ["run", "tenants x learners", "workers x steps", "wall (s)", "learners/s",
          "slowest / fastest tenant (s)", "duplicates", "enrolled / expected", "jobs failed",
          "steps retried", "host peak in flight (limit)", "busiest second (limit)",
          "latency waits + faults fired"]  # fmt: skip


@dataclass
class Figures:
    title: str
    tenants: int
    learners: int
    workers: int
    concurrency: int
    wall: float
    enrolled: int
    expected: int
    slowest: float
    fastest: float
    duplicates: int
    failed: int
    retried: int
    peak: int
    in_flight: int
    busiest: int
    per_second: float
    faults: int

    def cells(self) -> list[str]:
        return [self.title, f"{self.tenants} x {self.learners}",
                f"{self.workers} x {self.concurrency}", f"{self.wall:.1f}",
                f"{self.enrolled / self.wall:.1f}",
                f"{self.slowest:.1f} / {self.fastest:.1f} = {self.slowest / self.fastest:.2f}",
                str(self.duplicates), f"{self.enrolled} / {self.expected}", str(self.failed),
                str(self.retried), f"{self.peak} ({self.in_flight})",
                f"{self.busiest} ({self.per_second:g})", str(self.faults)]  # fmt: skip


def _server(database: str) -> str:
    return f"{ADMIN.rpartition('/')[0]}/{database}"


@contextmanager
def databases() -> Iterator[str]:
    """A prefix of the run's own: its fleet database ``<prefix>fleet``; every database with the
    prefix (the tenants' stores too) is dropped afterwards."""
    prefix = f"lbb_{uuid.uuid4().hex[:8]}_"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{prefix}fleet"')
    try:
        yield prefix
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                (prefix + "%",)).fetchall()  # fmt: skip
            for (name,) in rows:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def write_tenants(tmp: Path, prefix: str, url: str, args: argparse.Namespace,
                  templates: Sequence[Any]) -> Path:  # fmt: skip
    """The tenants file, and each tenant's CSV of learners under ids of its own."""
    lines = ["[fleet]", f'database_url = "{_server(prefix + "fleet")}"',
             f"in_flight = {args.in_flight}", f"per_second = {args.per_second}",
             "retries = 3", "retry_wait_seconds = 1", "stalled_seconds = 5", "",
             "[defaults.la]", f"timeout = {faults.TIMEOUT_S * 3:g}", "deadline = 10",
             f"settle_seconds = {faults.SETTLE_S:g}"]  # fmt: skip
    width = 3 if args.tenants >= 100 else 2
    for i in range(1, args.tenants + 1):
        name = f"t{i:03d}"
        export = tmp / f"{name}.csv"
        faults.write_learners(export, templates, args.learners)
        _own_ids(export, name)
        lines += ["", "[[tenants]]", f'name = "{name}"', f'url = "{url}/centre-{i:0{width}d}"',
                  'username = "sandbox"', f'password_env = "{PASSWORD_ENV}"',
                  f'store = "{_server(prefix + name)}"', "[[tenants.run.sources]]",
                  f'path = "{export}"']  # fmt: skip
    path = tmp / "tenants.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _own_ids(export: Path, name: str) -> None:
    with export.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["learner_id"] = f"{name}-{row['learner_id']}"
        row["email"] = f"{name}.{row['email']}"
    with export.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABRIDGE_")}
    return {**env, PASSWORD_ENV: "sandbox"}


def labridge(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "labridge", *args, "--tenants",
                           str(tmp / "tenants.toml")], cwd=tmp, env=_env(), capture_output=True,
                          text=True, timeout=1800)  # fmt: skip


def start_workers(tmp: Path, n: int, concurrency: int) -> list[subprocess.Popen[bytes]]:
    """``n`` workers, each logging to ``worker-i.log`` (the child holds the file; ours is
    closed once it started)."""
    command = [
        sys.executable,
        "-m",
        "labridge",
        "worker",
        "--until-empty",
        "--no-schedule",
        "--concurrency",
        str(concurrency),
        "--tenants",
        str(tmp / "tenants.toml"),
    ]
    workers = []
    for i in range(n):
        with (tmp / f"worker-{i}.log").open("wb") as log:
            workers.append(
                subprocess.Popen(
                    [*command, "--name", f"bench-{i}"],
                    cwd=tmp,
                    env=_env(),
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            )
    return workers  # fmt: skip


def fleet_query(prefix: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(_server(prefix + "fleet")) as conn:
        return conn.execute(query).fetchall()


def kill_halfway(prefix: str, worker: subprocess.Popen[bytes], tenants: int) -> None:
    """SIGKILL ``worker`` once half the tenants' enrol steps have succeeded."""
    while worker.poll() is None:
        done = fleet_query(prefix, "SELECT count(*) FROM labridge_fleet_steps WHERE step LIKE "
                           "'enrol %' AND status = 'succeeded'")[0][0]  # fmt: skip
        if done * 2 >= tenants:
            os.kill(worker.pid, signal.SIGKILL)
            return
        time.sleep(0.2)


def run(title: str, args: argparse.Namespace, templates: Sequence[Any], *, kill: bool) -> Figures:
    flags = ["--centres", str(args.tenants), "--latency-ms", str(args.latency_ms),
             "--fail-rate", str(args.fail_rate), "--drop-rate", str(args.drop_rate),
             "--slow-rate", str(args.slow_rate), "--slow-ms", str(args.slow_ms),
             "--fault-seed", "13"]  # fmt: skip
    with TemporaryDirectory() as tmp_dir, databases() as prefix, serve_process(*flags) as url:
        tmp = Path(tmp_dir)
        write_tenants(tmp, prefix, url, args, templates)
        for step in (("tenants", "check", "--create", "--no-doctor"), ("schedule", "--now")):
            done = labridge(tmp, *step)
            if done.returncode not in (0, 1):
                raise SystemExit(f"labridge {' '.join(step)} failed:\n{done.stderr}")
        started = time.perf_counter()
        workers = start_workers(tmp, args.workers, args.concurrency)
        if kill:
            kill_halfway(prefix, workers[0], args.tenants)
        for worker in workers:
            worker.wait()
        wall = time.perf_counter() - started
        status = json.loads(labridge(tmp, "fleet", "status", "--json").stdout)
        stats = httpx.get(url + "/_sandbox/stats", timeout=30).json()
        return _figures(title, args, prefix, wall, status, stats)


def _figures(title: str, args: argparse.Namespace, prefix: str, wall: float,
             status: dict[str, Any], stats: dict[str, Any]) -> Figures:  # fmt: skip
    spans = fleet_query(prefix, "SELECT tenant, extract(epoch FROM max(finished_at) - "
                        "min(started_at)) FROM labridge_fleet_steps GROUP BY tenant")  # fmt: skip
    times = [float(s) for _, s in spans if s is not None]
    retried = fleet_query(prefix, "SELECT count(*) FROM labridge_fleet_steps WHERE attempts > 0")
    centres = stats["per_centre"]
    return Figures(
        title=title, tenants=args.tenants, learners=args.learners, workers=args.workers,
        concurrency=args.concurrency, wall=wall,
        enrolled=sum(int(t["learners_enrolled"]) for t in status["tenants"]),
        expected=args.tenants * args.learners, slowest=max(times), fastest=min(times),
        duplicates=sum(int(c["duplicate_source_ids"]) for c in centres),
        failed=int(status["queue"]["failed"]), retried=int(retried[0][0]),
        peak=int(stats["in_flight_peak"]), in_flight=args.in_flight,
        busiest=int(stats["busiest_second"]), per_second=args.per_second,
        faults=sum(sum(c.get("faults_fired", {}).values()) for c in centres),
    )  # fmt: skip


def table(results: Sequence[Figures]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in results]
    return "\n".join(lines)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4, help="steps per worker at once")
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--fail-rate", type=float, default=0.02)
    parser.add_argument("--drop-rate", type=float, default=0.01)
    parser.add_argument("--slow-rate", type=float, default=0.01)
    parser.add_argument("--slow-ms", type=float, default=500)
    parser.add_argument("--in-flight", type=int, default=32, help="the fleet's limit per host")
    parser.add_argument("--per-second", type=float, default=400)
    parser.add_argument("--no-kill", action="store_true", help="skip the SIGKILL run")
    parser.add_argument("--no-write", action="store_true", help="do not write fleet-results.md")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> str:
    args = parse(argv)
    templates = faults._valid_templates()
    results = [run("all workers live", args, templates, kill=False)]
    if not args.no_kill:
        results.append(run("one worker SIGKILLed halfway", args, templates, kill=True))
    text = table(results)
    if not args.no_write:
        RESULTS.write_text(
            f"# The fleet at scale\n\n`python bench/fleet.py {' '.join(sys.argv[1:])}` on "
            f"{os.cpu_count()} cores, Python {platform.python_version()}, PostgreSQL on "
            f"loopback: one LA host ({args.latency_ms:g} ms latency, fail {args.fail_rate:g}, "
            f"drop {args.drop_rate:g}, slow {args.slow_rate:g} x {args.slow_ms:g} ms).\n\n"
            + text
            + "\n",
            encoding="utf-8",
        )
    print(text)
    if any(r.duplicates for r in results):
        raise SystemExit("duplicates in LA: the fleet enrolled someone twice")
    return text


if __name__ == "__main__":
    main()
