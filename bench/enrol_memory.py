"""Peak memory of a big enrolment run: ``labridge enrol`` of 20,000 learners (issue 11, target 5).

    python bench/enrol_memory.py           # dry run of 20,000 learners; enrol-memory-results.md
    python bench/enrol_memory.py --learners 500 --no-write
    python bench/enrol_memory.py --real    # also a real enrolment (minutes: it is CPU-bound)

The learners are the sample's valid rows under fresh learner ids, written to a CSV; LA is
:mod:`replay` (20 ms); each run is a real ``python -m labridge enrol`` process on a fresh SQLite
store, stdout to a file, its wall time and peak RSS taken by ``os.wait4``: a dry run with
``--json`` and with the table, and with ``--real`` the enrolment itself (``--json``).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import subprocess
import sys
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).parent))

import bound
import output
import replay

from labridge import AsyncClient, store
from labridge.validate.lookups import ReferenceData
from labridge.workflows.sync import sync

HERE = Path(__file__).parent


def write_learners(la_url: str, path: Path, n: int) -> None:
    """``n`` valid learners (checked against the replay LA's reference data) as a CSV file."""
    with TemporaryDirectory() as tmp:
        db = store.open_store(f"sqlite:///{tmp}/ref.db")

        async def go() -> None:
            async with AsyncClient(la_url, bound.USER, bound.PASSWORD) as client:
                await sync(client, db)

        asyncio.run(go())
        with db.session() as session:
            records = bound.learners(ReferenceData.load(session), n)
        db.close()
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(records[0].fields))
        writer.writeheader()
        writer.writerows(r.fields for r in records)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, default=20_000)
    parser.add_argument("--real", action="store_true", help="also enrol them for real")
    parser.add_argument("--dry-json-only", action="store_true", help="only the dry run with --json")
    parser.add_argument(
        "--no-write", action="store_true", help="do not write enrol-memory-results.md"
    )
    parser.add_argument("--write-to", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--la", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.write_to is not None:
        write_learners(args.la, args.write_to, args.learners)
        return ""
    py = sys.executable
    enrol = [py, "-m", "labridge", "enrol", "--create"]
    runs = {
        "enrol --dry-run --json": ["--dry-run", "--json"],
        "enrol --dry-run (table)": ["--dry-run"],
    }
    if args.dry_json_only:
        runs.pop("enrol --dry-run (table)")
    if args.real:
        runs["enrol --json (real, 16 in flight)"] = ["--json", "--concurrency", "16"]
    lines = ["| run | learners | wall (s) | peak RSS (MB) |", "|---|---:|---:|---:|"]
    with TemporaryDirectory() as tmp_dir, replay.replay_la(latency_ms=20) as la:
        tmp = Path(tmp_dir)
        source = tmp / "learners.csv"
        # In a child: a process's peak RSS counts what its parent held when it forked, and
        # building 20,000 records here would be counted in every run measured below.
        subprocess.run([sys.executable, __file__, "--write-to", str(source), "--la", la.url,
                        "--learners", str(args.learners)], check=True)  # fmt: skip
        for k, (name, flags) in enumerate(runs.items()):
            env = {**os.environ, "LABRIDGE_URL": la.url, "LABRIDGE_USERNAME": bound.USER,
                   "LABRIDGE_PASSWORD": bound.PASSWORD, "COLUMNS": "160", "NO_COLOR": "1",
                   "LABRIDGE_DATABASE_URL": f"sqlite:///{tmp}/store{k}.db"}  # fmt: skip
            wall, rss, _ = output.measure([*enrol, str(source), *flags], env, tmp / "out")
            lines.append(f"| `labridge {name}` | {args.learners:,} | {wall:.1f} | {rss:.0f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        (HERE / "enrol-memory-results.md").write_text(
            "# Memory: a big enrolment run\n\n`python bench/enrol_memory.py` (each run a fresh "
            "`labridge` process against the replay LA at 20 ms, a fresh SQLite store).\n\n" + text,
            encoding="utf-8",
        )
    return text


if __name__ == "__main__":
    main()
