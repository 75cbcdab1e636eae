"""The fault matrix: labridge's exactly-once promise measured against a misbehaving LA.

    python bench/faults.py                     # every row, 500 learners; writes faults-results.md
    python bench/faults.py --learners 50       # smaller
    python bench/faults.py --only drops        # one row (repeat --only for more)
    python bench/faults.py --quick             # 50 learners, 10 updates, 5 kills

Each row starts its own sandbox (a `labridge sandbox serve` subprocess with that row's fault
flags) and a fresh store, then, with real `labridge` subprocesses: enrols the learners, updates
100 of them (a fifth of them with --learners) and pulls everyone's progress. A phase is run again
while it left anything uncertain (a pending journal row, a run stopped by LA being unreachable),
up to a limit, as an operator would. Then it counts, from LA's side (every candidate, in every
status): learners enrolled (must be all), duplicates (must be 0), lost records (learners missing
plus updates not applied: must be 0), uncertain rows left in the journal, calls LA received,
retries (the client's logged retries plus the reruns) and the wall time.

The rows: no faults; 10 % 503s; 5 % connections dropped after the commit; 5 % calls slow before
the commit, beyond the client's timeout; sessions lasting 5 s; 50 ms on every call; all of these
at once; two `enrol` processes at once on one store; 20 `kill -9` of an enrol at random points.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx

from labridge import AsyncClient, store
from labridge.client import Client
from labridge.sandbox.server import serve_process, start_background
from labridge.sources.csv import read_csv
from labridge.sources.records import SourceRecord
from labridge.validate.learners import check_all
from labridge.validate.lookups import ReferenceData
from labridge.workflows.sync import sync

ROOT = Path(__file__).parents[1]
SAMPLE = ROOT / "examples" / "learners.csv"
RESULTS = Path(__file__).parent / "faults-results.md"
#: The client's per-call timeout in every row; "slow" calls wait longer than that.
TIMEOUT_S = 1.0
SLOW_MS = 1800
MAX_RUNS = 12  # per phase: an operator reruns, but not for ever
#: The settle window of every row: longer than LA's slowest work (a "slow" call), as the real
#: default (600 s) is longer than any plausible LA processing time, yet short enough to rerun.
SETTLE_S = SLOW_MS / 1000 + 1.5
FINAL = {"enrolled", "refused", "invalid", "skipped"}  # journal states that are settled
PREFIX = "FLT-"

ALL_FAULTS = ["--fail-rate", "0.1", "--drop-rate", "0.05", "--slow-rate", "0.05",
              "--slow-ms", str(SLOW_MS), "--token-ttl", "5", "--latency-ms", "50"]  # fmt: skip


@dataclass(frozen=True)
class Row:
    key: str
    title: str
    flags: tuple[str, ...] = ()
    enrol: str = "plain"  # plain | concurrent | kill9


ROWS = (
    Row("none", "no faults"),
    Row("503", "10 % HTTP 503", ("--fail-rate", "0.1")),
    Row("drops", "5 % dropped after commit", ("--drop-rate", "0.05")),
    Row("slow", "5 % slow before commit (> timeout)",
        ("--slow-rate", "0.05", "--slow-ms", str(SLOW_MS))),
    Row("ttl", "token TTL 5 s", ("--token-ttl", "5")),
    Row("latency", "50 ms latency", ("--latency-ms", "50")),
    Row("all", "all of these together", tuple(ALL_FAULTS)),
    Row("concurrent", "two concurrent enrols, one store", ("--latency-ms", "20"), "concurrent"),
    Row("kill9", "kill -9 at random points of an enrol", (), "kill9"),
)  # fmt: skip


@dataclass
class Tally:
    runs: int = 0
    retries: int = 0
    uncertain_runs: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Result:
    row: Row
    enrolled: int
    duplicates: int
    lost: int
    uncertain: int
    calls: int
    retries: int
    seconds: float
    notes: str

    def cells(self, learners: int) -> list[str]:
        return [self.row.title, f"{self.enrolled}/{learners}", str(self.duplicates),
                str(self.lost), str(self.uncertain), str(self.calls), str(self.retries),
                f"{self.seconds:.1f}", self.notes]  # fmt: skip


HEADER = ["row", "learners enrolled", "duplicates in LA", "lost records", "uncertain rows left",
          "calls made", "retries", "wall time (s)", "notes"]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The learners


def _valid_templates() -> list[SourceRecord]:
    """Sample rows that pass labridge's checks against the sandbox's (seeded) reference data."""
    with TemporaryDirectory() as tmp, start_background() as sandbox:
        db = store.open_store(f"sqlite:///{tmp}/ref.db")
        try:
            asyncio.run(_sync(sandbox.url, db))
            with db.session() as session:
                ref = ReferenceData.load(session)
        finally:
            db.close()
    rows = [r for r in read_csv(SAMPLE) if isinstance(r, SourceRecord)]
    return [c.record for c in check_all(rows, ref) if c.ok]


async def _sync(url: str, db: store.Store) -> None:
    async with AsyncClient(url, "sandbox", "sandbox") as la:
        await sync(la, db)


def write_learners(
    path: Path, templates: Sequence[SourceRecord], n: int, *, changed: int = 0
) -> None:
    """``n`` learners made from the templates, each with its own id; the first ``changed`` with
    a new e-mail address (the update phase's export)."""
    records = [dict(templates[i % len(templates)].fields) for i in range(n)]
    for i, fields in enumerate(records):
        fields["learner_id"] = f"{PREFIX}{i:06d}"
        fields["email"] = _email(i, updated=i < changed)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)


def _email(i: int, *, updated: bool) -> str:
    return f"fault.bench.{i}{'.updated' if updated else ''}@example.org"


# ---------------------------------------------------------------------------------------------
# The sandbox and labridge, as subprocesses


def sandbox(flags: Sequence[str], seed: int) -> AbstractContextManager[str]:
    """The row's LA: a `labridge sandbox serve` process with its fault flags."""
    return serve_process("--fault-seed", str(seed), *flags)


def write_config(path: Path, url: str, store_path: Path) -> None:
    """labridge.toml of a row: short timeouts, and a short settle window."""
    la = [f'url = "{url}"', 'username = "sandbox"', f"timeout = {TIMEOUT_S}", "deadline = 5",
          f"settle_seconds = {SETTLE_S:g}"]  # fmt: skip
    path.write_text(
        "[la]\n" + "\n".join(la) + f'\n[store]\ndatabase_url = "sqlite:///{store_path}"\n',
        encoding="utf-8",
    )


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABRIDGE_")}
    return {**env, "LABRIDGE_PASSWORD": "sandbox"}


def labridge(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "labridge", *args, "--config", str(config), "-v"]


def _retries(stderr: str) -> int:
    """Retries the client logged (stamina logs each one it schedules, shown with -v)."""
    return sum("retry_scheduled" in line for line in stderr.splitlines())


def run_once(command: list[str], tally: Tally, timeout: float = 900) -> int:
    done = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=timeout)
    tally.runs += 1
    tally.retries += _retries(done.stderr)
    if done.returncode not in (0, 1):
        tally.uncertain_runs += 1
    return done.returncode


def uncertain_rows(store_path: Path) -> int:
    """Journal rows not settled: an enrolment not in a final state (``pending``, ``queued``,
    ``uncertain``), or an update whose outcome is still to be settled."""
    if not store_path.exists():
        return 0
    with sqlite3.connect(store_path) as conn:
        try:
            query = "SELECT state, count(*) FROM enrolments GROUP BY state"
            states = conn.execute(query).fetchall()
            # An UpdateEnrolment whose answer was lost: settled by the next update run.
            updates = conn.execute(
                "SELECT count(*) FROM enrolments WHERE update_sent IS NOT NULL"
            ).fetchone()[0]
        except sqlite3.OperationalError:  # no journal yet
            return 0
    return sum(n for state, n in states if state not in FINAL) + int(updates)


def until_settled(command: list[str], store_path: Path, tally: Tally) -> None:
    """Run ``command`` until it ends normally (0 or 1) with nothing uncertain, or the limit."""
    for _ in range(MAX_RUNS):
        code = run_once(command, tally)
        if code in (0, 1) and uncertain_rows(store_path) == 0:
            return
        time.sleep(SETTLE_S + 0.2)  # past the settle window: LA's late work is visible now
    tally.notes.append(f"{' '.join(command[3:4])}: still unsettled after {MAX_RUNS} runs")


# ---------------------------------------------------------------------------------------------
# The enrol phase, three ways


def enrol_plain(config: Path, export: Path, store_path: Path, tally: Tally, **_: Any) -> None:
    until_settled(labridge(config, "enrol", str(export), "--json", "--create"), store_path, tally)


def enrol_concurrent(config: Path, export: Path, store_path: Path, tally: Tally, **_: Any) -> None:
    command = labridge(config, "enrol", str(export), "--json", "--create")
    procs = [subprocess.Popen(command, env=_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
    for proc in procs:
        err = proc.communicate(timeout=900)[1]
        tally.runs += 1
        tally.retries += _retries(err)
    until_settled(command, store_path, tally)


def enrol_killed(
    config: Path, export: Path, store_path: Path, tally: Tally, *, kills: int, rnd: random.Random
) -> None:
    command = labridge(config, "enrol", str(export), "--json", "--create")
    for _ in range(kills):
        proc = subprocess.Popen(command, env=_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(rnd.uniform(0.3, 3.0))  # while syncing, checking or enrolling
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        tally.runs += 1
    until_settled(command, store_path, tally)


ENROLS: dict[str, Callable[..., None]] = {
    "plain": enrol_plain,
    "concurrent": enrol_concurrent,
    "kill9": enrol_killed,
}


# ---------------------------------------------------------------------------------------------
# One row


def candidates_in_la(url: str) -> list[Any]:
    """Every candidate LA holds, in every status (docs/contract.md §3.3), test learners too."""
    # Short timeouts: a read the sandbox drops mid-answer is retried at once, not waited out.
    with Client(url, "sandbox", "sandbox", timeout=2, deadline=5, read_attempts=12,
                backoff=0.2) as la:  # fmt: skip
        seen: dict[str, Any] = {}
        for active in (True, False):
            for c in la.get_candidates("", active=active, completed=True, test=True):
                seen.setdefault(c.candidate_uuid, c)
    return list(seen.values())


def _calls(url: str) -> int:
    """Calls LA received: those it did (``calls``) and those a 503 refused before any work."""
    figures: dict[str, dict[str, int]] = httpx.get(url + "/_sandbox/stats", timeout=30).json()
    refused = sum(n for k, n in figures["faults_fired"].items() if k.endswith(":fail_before"))
    return sum(figures["calls"].values()) + refused


def run_row(row: Row, templates: Sequence[SourceRecord], learners: int, updates: int,
            kills: int, seed: int) -> Result:  # fmt: skip
    rnd = random.Random(seed)
    started = time.monotonic()
    tally = Tally()
    with TemporaryDirectory() as tmp_dir, sandbox(row.flags, seed) as url:
        tmp = Path(tmp_dir)
        export, changed, store_path = tmp / "learners.csv", tmp / "updated.csv", tmp / "store.db"
        write_learners(export, templates, learners)
        write_learners(changed, templates, learners, changed=updates)
        config = tmp / "labridge.toml"
        write_config(config, url, store_path)
        ENROLS[row.enrol](config, export, store_path, tally, kills=kills, rnd=rnd)
        until_settled(labridge(config, "update", str(changed), "--json"), store_path, tally)
        until_settled(labridge(config, "progress", "pull", "--json"), store_path, tally)
        result = _measure(row, url, learners, updates, store_path, tally)
    return _timed(result, time.monotonic() - started)


def _measure(row: Row, url: str, learners: int, updates: int, store_path: Path,
             tally: Tally) -> Result:  # fmt: skip
    ours = [c for c in candidates_in_la(url) if c.source_id.startswith(PREFIX)]
    distinct = {c.source_id for c in ours}
    updated = {c.source_id for c in ours if c.email.endswith(".updated@example.org")}
    wanted = {f"{PREFIX}{i:06d}" for i in range(updates)}
    lost = (learners - len(distinct)) + len(wanted - updated)
    notes = "; ".join(tally.notes) or f"{tally.runs} labridge runs"
    return Result(row, len(distinct), len(ours) - len(distinct), lost, uncertain_rows(store_path),
                  _calls(url), tally.retries + tally.uncertain_runs, 0.0, notes)  # fmt: skip


def _timed(result: Result, seconds: float) -> Result:
    return Result(**{**result.__dict__, "seconds": seconds})


# ---------------------------------------------------------------------------------------------
# The table


def table(results: Sequence[Result], learners: int) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|---|" + "---:|" * (len(HEADER) - 2) + "---|"]
    lines += ["| " + " | ".join(r.cells(learners)) + " |" for r in results]
    return "\n".join(lines)


def write_results(text: str, args: argparse.Namespace) -> None:
    RESULTS.write_text(
        "# Fault matrix\n\n"
        f"`python bench/faults.py {' '.join(sys.argv[1:])}`: {args.learners} learners enrolled, "
        f"{args.updates} updated, progress pulled for all, against a sandbox with each row's "
        f"faults (client timeout {TIMEOUT_S:g} s, deadline 5 s). Must be: every learner "
        "enrolled, 0 duplicates, 0 lost, 0 uncertain. Retries: the client's retries plus the "
        "runs that ended with LA unreachable.\n\n" + text + "\n",
        encoding="utf-8",
    )


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=500, help="learners to enrol")
    parser.add_argument("--only", action="append", choices=[r.key for r in ROWS],
                        help="run only this row (repeatable)")  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help="50 learners, 10 updates, 5 kills")  # fmt: skip
    parser.add_argument("--seed", type=int, default=20261201, help="faults and kill points")
    args = parser.parse_args(argv)
    if args.quick:
        args.learners = min(args.learners, 50)
    args.updates = min(100, max(1, args.learners // 5))
    args.kills = 5 if args.quick else 20
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    rows = [r for r in ROWS if not args.only or r.key in args.only]
    templates = _valid_templates()
    results = []
    for row in rows:
        print(f"... {row.title}", file=sys.stderr, flush=True)
        results.append(run_row(row, templates, args.learners, args.updates, args.kills, args.seed))
        print(table(results[-1:], args.learners).splitlines()[-1], file=sys.stderr, flush=True)
    text = table(results, args.learners)
    print(text)
    write_results(text, args)


if __name__ == "__main__":
    main()
