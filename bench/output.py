"""Output: ``labridge enrolments --json`` and its table for 20,000 records, time and peak RSS,
against plain ``json.dumps`` of the same data (issue 11).

    python bench/output.py                   # 20,000 journal entries; writes output-results.md
    python bench/output.py --records 500 --no-write

A store's journal is filled with ``--records`` entries (enrolled, refused with LA's messages,
invalid with problems) on the courses synced from :mod:`replay`. Then each of these runs as a fresh
process of this interpreter, stdout to a file, timed and with its peak RSS (``os.wait4``):

- **load only**: what the command does before it prints (``labridge.cli`` imported, the CLI's
  settings, ``runner.enrolments``, the records' dicts built): the run's own working set;
- ``labridge enrolments --json`` and ``labridge enrolments`` (the table, ``COLUMNS=160``): the
  real command, so the figures follow whatever output code the CLI has;
- **plain json.dumps**: the load, then ``json.dumps`` of the same dicts written to stdout.

The output's share is each run minus the load: seconds, and megabytes of peak RSS above it
(json.dumps's seconds are timed inside its process, too short to tell from two runs' noise).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).parent))

HERE = Path(__file__).parent


def fill_store(url: str, n: int) -> None:
    """A store synced from the replay LA whose journal holds ``n`` learners' outcomes."""
    import replay

    from labridge import AsyncClient, store
    from labridge.errors import Problem
    from labridge.store import journal
    from labridge.workflows.sync import sync

    db = store.open_store(url)

    async def go(la_url: str) -> None:
        async with AsyncClient(la_url, "sandbox", "sandbox") as client:
            await sync(client, db)

    with replay.replay_la(latency_ms=0) as la:
        asyncio.run(go(la.url))
    with db.session() as session:
        courses = [f.course_uuid for f in store.list_set(session, "frameworks")]  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    problem = Problem("Email", "LA-INVALID", "EmailAddress is not a valid e-mail address")
    with db.begin() as session:
        for i in range(n):
            state = ("enrolled", "enrolled", "refused", "invalid")[i % 4]
            journal.record(
                session, f"MIS-{i:06d}", courses[i % len(courses)], state, now,
                origin=f"learners.csv line {i + 2}",
                candidate_uuid=f"{i:08d}-0000-4000-8000-{i:012d}" if state == "enrolled" else None,
                problems=(problem,) if state != "enrolled" else (),
            )  # fmt: skip
    db.close()


def load(url: str, dump: bool) -> None:
    """The child of the *load only* and *plain json.dumps* runs."""
    from labridge.cli import local_store
    from labridge.cli.options import settings_from

    entries, _names = local_store.enrolments(settings_from(None, db=url))
    data = [e.as_dict() for e in entries]
    if dump:
        start = time.perf_counter()
        sys.stdout.write(json.dumps(data, default=str))
        sys.stdout.flush()
        print(f"output_seconds={time.perf_counter() - start:.6f}", file=sys.stderr)


def measure(cmd: list[str], env: dict[str, str], out: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stderr of ``cmd`` as a fresh process, stdout to ``out``."""
    wall, usage, err = run_measured(cmd, env, out)
    return wall, usage.ru_maxrss / 1024, err


def run_measured(
    cmd: list[str], env: dict[str, str], out: Path
) -> tuple[float, resource.struct_rusage, str]:
    """Wall seconds, the rusage (``os.wait4``: this child's own) and stderr of ``cmd`` as a
    fresh process, stdout to ``out``; it must exit 0."""
    errors = out.with_suffix(".err")
    with out.open("wb") as sink, errors.open("wb") as errors_sink:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=sink, stderr=errors_sink, env=env)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, unlike wait()
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = errors.read_text(encoding="utf-8", errors="replace")
    assert proc.returncode == 0, (cmd, err)
    return wall, usage, err


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument(
        "--only", nargs="+", help="only these runs besides the load (names as shown)"
    )
    parser.add_argument("--no-write", action="store_true", help="do not write output-results.md")
    parser.add_argument("--child", choices=["load", "dump"], help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        load(args.db, args.child == "dump")
        return ""
    py, me = sys.executable, str(Path(__file__).resolve())
    with TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        url = f"sqlite:///{tmp}/output.db"
        fill_store(url, args.records)
        env = {**os.environ, "LABRIDGE_DATABASE_URL": url, "COLUMNS": "160", "NO_COLOR": "1"}
        runs = {
            "load only (the run's working set)": [py, me, "--child", "load", "--db", url],
            "labridge enrolments --json": [py, "-m", "labridge", "enrolments", "--json"],
            "labridge enrolments (table)": [py, "-m", "labridge", "enrolments"],
            "plain json.dumps of the same dicts": [py, me, "--child", "dump", "--db", url],
        }
        load_run = "load only (the run's working set)"
        runs = {k: v for k, v in runs.items() if k == load_run or not args.only or k in args.only}
        results = {name: measure(cmd, env, tmp / "out") for name, cmd in runs.items()}
    base_wall, base_rss, _ = results[load_run]
    dumps_name = "plain json.dumps of the same dicts"
    dumps = results.get(dumps_name)
    # json.dumps is timed inside its process: the difference of two runs is within their noise.
    dumps_wall = float(dumps[2].rpartition("output_seconds=")[2]) if dumps else 0.0
    lines = ["| run | wall (s) | peak RSS (MB) | output (s) | output above working set (MB) | "
             "output / json.dumps |", "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, (wall, rss, _) in results.items():
        extra = dumps_wall if dumps is not None and name == dumps_name else wall - base_wall
        ratio = f"{extra / dumps_wall:.1f}" if dumps_wall > 0 and extra > 0 else "-"
        lines.append(f"| {name} | {wall:.2f} | {rss:.0f} | {extra:.2f} | {rss - base_rss:.0f} | "
                     f"{ratio} |")  # fmt: skip
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        (HERE / "output-results.md").write_text(
            f"# Output: {args.records:,} records through the CLI against plain json.dumps\n\n"
            "`python bench/output.py` (each run a fresh process; output = run minus the load).\n\n"
            + text,
            encoding="utf-8",
        )
    return text


if __name__ == "__main__":
    main()
