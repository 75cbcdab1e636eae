"""labridge benchmarks: each figure is a ratio against a baseline measured in the same run.

    python bench/run.py            # prints a table; writes bench/results.md

- codec: decoding GetCandidates answers of 5,000 candidates into records, against lxml merely
  parsing the same bytes (the floor any decoder pays).
- validation: checking 10,000 learner records, against reading them from CSV.
- sync: a second sync with nothing changed (writes nothing), against the first (writes all).
- enrol: enrolling 200 learners over loopback with LA answering in 20 ms, 8 in flight against 1.

These run against the real sandbox, whose own CPU (10-21 ms a call) dominates. How far labridge
is from the latency bound, the codec against zeep and suds, start-up and output are measured by
the scripts beside this one against a stand-in LA that costs almost nothing (``replay.py``,
``bound.py``, ``codec.py``, ``startup.py``, ``output.py``): see docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import csv
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx
from lxml import etree

from labridge import AsyncClient, contract, soap, store
from labridge.models import Candidate, Token
from labridge.sandbox.server import start_background
from labridge.sources.csv import read_csv
from labridge.sources.records import SourceRecord
from labridge.validate.learners import check_all
from labridge.validate.lookups import ReferenceData
from labridge.workflows.enrol import Enroller, Options
from labridge.workflows.sync import sync

ROOT = Path(__file__).parents[1]
SAMPLE = ROOT / "examples" / "learners.csv"


def best(fn: Callable[[], Any], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_codec() -> tuple[str, float, float]:
    op = contract.operation("GetCandidates")
    people = [
        Candidate(candidate_uuid=f"C{i:05d}", source_id=f"MIS-{i}", forename="Amy", surname="Lee",
                  email=f"a{i}@example.org", uln="9276308686", course_uuid="K", status="Active")
        for i in range(5000)
    ]  # fmt: skip
    body = soap.encode_response(op, contract.to_wire(op.returns, people, omit_unset=False),
                                token=Token(id="1", uuid="U"))  # fmt: skip
    base = best(lambda: etree.fromstring(body))
    full = best(lambda: contract.from_wire(op.returns, soap.decode_response(body, op).value))
    return ("codec: decode 5,000 candidates / lxml parse", full, base)


def _records(n: int) -> list[SourceRecord]:
    rows = [r for r in read_csv(SAMPLE) if isinstance(r, SourceRecord)]
    return [
        SourceRecord(i, f"row {i}", {**rows[i % 40].fields, "learner_id": f"B-{i:06d}"})
        for i in range(n)
    ]


def bench_validation(ref: ReferenceData, tmp: Path) -> tuple[str, float, float]:
    records = _records(10_000)
    path = tmp / "big.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(records[0].fields))
        writer.writeheader()
        writer.writerows(r.fields for r in records)
    base = best(lambda: list(read_csv(path)))
    full = best(lambda: list(check_all(records, ref)))
    return ("validation: check 10,000 records / read them from CSV", full, base)


async def _sync_twice(url: str, db: store.Store) -> tuple[float, float]:
    async with AsyncClient(url, "sandbox", "sandbox") as la:
        start = time.perf_counter()
        await sync(la, db)
        first = time.perf_counter() - start
        start = time.perf_counter()
        await sync(la, db)
        return time.perf_counter() - start, first


async def _enrol(url: str, db: store.Store, rows: list[SourceRecord], n: int) -> float:
    async with AsyncClient(url, "sandbox", "sandbox") as la:
        await sync(la, db)
        start = time.perf_counter()
        report = await Enroller(la, db, Options(concurrency=n)).run(rows)
        assert report.count("enrolled") == len(rows), report.as_dict()
        return time.perf_counter() - start


def main() -> None:
    results = [bench_codec()]
    with TemporaryDirectory() as tmp_dir, start_background(test_hooks=True) as sandbox:
        tmp = Path(tmp_dir)
        db = store.open_store(f"sqlite:///{tmp}/bench.db")
        second, first = asyncio.run(_sync_twice(sandbox.url, db))
        results.append(("sync: second run (no change) / first run", second, first))
        with db.session() as session:
            ref = ReferenceData.load(session)
        results.append(bench_validation(ref, tmp))
        fault = {"operation": "GroupEnrolment", "mode": "delay", "seconds": 0.02, "count": 1000}
        httpx.post(sandbox.url + "/_sandbox/faults", json=fault).raise_for_status()
        valid = [c.record for c in check_all(_records(400), ref) if c.ok]
        one = asyncio.run(_enrol(sandbox.url, db, valid[:200], 1))
        eight = asyncio.run(_enrol(sandbox.url, db, valid[200:400], 8))
        results.append(("enrol: 200 learners, 8 in flight / 1 in flight", eight, one))
        db.close()
    lines = ["| benchmark | measured (s) | baseline (s) | ratio |", "|---|---:|---:|---:|"]
    for name, value, base in results:
        lines.append(f"| {name} | {value:.3f} | {base:.3f} | {value / base:.2f} |")
    text = "\n".join(lines)
    print(text)
    (Path(__file__).parent / "results.md").write_text(
        "# Benchmark results\n\nRatios against a baseline measured in the same run "
        "(`python bench/run.py`).\n\n" + text + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
