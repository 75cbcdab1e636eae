"""labridge's SOAP codec against lxml's bare parse, zeep and suds-community, on the same bytes.

    python bench/codec.py                  # writes codec-results.md
    python bench/codec.py --candidates 500 --no-write

The answers are the real sandbox's envelopes as :mod:`replay` records them: GetCandidates listing
5,000 candidates, GetProgressFull of 12 units x 10 outcomes. Each is decoded, in one run:

- by labridge into its records (``soap.decode_response`` then ``contract.from_wire``, what
  the client does with every answer);
- by lxml merely parsing the bytes (``etree.fromstring``): the floor any decoder pays;
- by zeep (``binding.process_reply``, from the sandbox's WSDL of that service) and by
  suds-community (``process_reply`` of a ``nosend`` request, the WSDL from a ``file://`` URL):
  what an off-the-shelf SOAP client spends on the same bytes, the request building left out.

And encoding a full GroupEnrolment request (``params_to_wire`` then ``encode_request``, what the
client does before each send). Each figure is the best of several repeats, in CPU time of this
process (``CLOCK``: all of them run here, so the figures compare alike even on a busy machine).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import replay

from labridge import contract as c
from labridge import soap
from labridge.models import EnrolmentUser, Token

HERE = Path(__file__).parent
ENCODING_SCHEMA = HERE.parent / "tests" / "sandbox" / "data" / "soap-encoding.xsd"


#: The clock every figure is read on: this process's CPU time, not the wall clock. Every decoder
#: runs in this one process, single-threaded and without I/O, so its CPU time is its cost; on a
#: shared machine the wall clock also counts the time other processes held the core (with load
#: 9 on 2 cores, wall figures swing by 2x from one run to the next).
CLOCK = time.process_time


def best(fn: Callable[[], Any], budget: float = 1.0, repeat: int = 5) -> float:
    """CPU seconds per call of ``fn``: the best of ``repeat`` rounds, each about budget/repeat
    long."""
    start = CLOCK()
    fn()
    once = max(CLOCK() - start, 1e-6)
    loops = max(1, int(budget / repeat / once))
    times = []
    for _ in range(repeat):
        start = CLOCK()
        for _ in range(loops):
            fn()
        times.append((CLOCK() - start) / loops)
    return min(times)


def wsdl_file(directory: Path, operation: str) -> Path:
    """The sandbox's WSDL of the service serving ``operation``, written to ``directory``."""
    from labridge.sandbox import services
    from labridge.sandbox.wsdl_samples import service_wsdl

    service = c.service_of(operation)
    served = [op.name for op in service.operations if op.name in services.HANDLERS]
    path = directory / f"{service.name}.wsdl"
    path.write_bytes(service_wsdl(service, "http://127.0.0.1:9" + service.path, served))
    return path


def zeep_decoder(wsdl: Path, operation: str) -> Callable[[bytes], Any]:
    import requests
    import zeep
    import zeep.transports

    class OfflineTransport(zeep.transports.Transport):  # type: ignore[misc]
        """Serves the SOAP-encoding schema zeep asks for from the repo; no network."""

        def load(self, url: str) -> bytes:
            if url.rstrip("/") == c.SOAP_ENC.rstrip("/"):
                return ENCODING_SCHEMA.read_bytes()
            data: bytes = super().load(url)
            return data

    client = zeep.Client(str(wsdl), transport=OfflineTransport())
    binding = client.service._binding
    op = binding.get(c.operation(operation).wire)

    def decode(body: bytes) -> Any:
        response = requests.Response()
        response.status_code = 200
        response._content = body
        response.headers["Content-Type"] = "text/xml; charset=utf-8"
        return binding.process_reply(client, op, response)

    return decode


def suds_decoder(wsdl: Path, operation: str, *args: Any) -> Callable[[bytes], Any]:
    import suds.client

    client = suds.client.Client(wsdl.as_uri(), nosend=True)
    request = getattr(client.service, c.operation(operation).wire)(*args)
    return lambda body: request.process_reply(body)


def labridge_decoder(operation: str) -> Callable[[bytes], Any]:
    op = c.operation(operation)
    return lambda body: c.from_wire(op.returns, soap.decode_response(body, op).value)


def _count(operation: str, value: Any) -> int:
    return len(value) if operation == "GetCandidates" else len(value.units)


def bench_answer(
    tmp: Path,
    operation: str,
    body: bytes,
    suds_args: tuple[Any, ...],
    expect: int,
    budget: float = 1.0,
) -> list[tuple[str, float]]:
    """Seconds per decode of ``body``: labridge, lxml's bare parse, zeep, suds."""
    from lxml import etree

    ours = labridge_decoder(operation)
    assert _count(operation, ours(body)) == expect
    wsdl = wsdl_file(tmp, operation)
    zeep_decode, suds_decode = zeep_decoder(wsdl, operation), suds_decoder(wsdl, operation,
                                                                         *suds_args)  # fmt: skip
    return [
        ("labridge", best(lambda: ours(body), budget)),
        ("lxml parse", best(lambda: etree.fromstring(body), budget)),
        ("zeep", best(lambda: zeep_decode(body), budget, repeat=3)),
        ("suds", best(lambda: suds_decode(body), budget, repeat=3)),
    ]


def _full_user() -> EnrolmentUser:
    """A complete GroupEnrolment user, as the enrolment's validation builds it from the sample."""
    from labridge import AsyncClient, store
    from labridge.sources.csv import read_csv
    from labridge.sources.records import SourceRecord
    from labridge.validate.learners import check_all
    from labridge.validate.lookups import ReferenceData
    from labridge.workflows.sync import sync

    async def synced(url: str, db: store.Store) -> None:
        async with AsyncClient(url, "sandbox", "sandbox") as client:
            await sync(client, db)

    with replay.replay_la(latency_ms=0) as la, TemporaryDirectory() as tmp:
        db = store.open_store(f"sqlite:///{tmp}/codec.db")
        asyncio.run(synced(la.url, db))
        with db.session() as session:
            ref = ReferenceData.load(session)
        db.close()
    rows = [r for r in read_csv(replay.SAMPLE) if isinstance(r, SourceRecord)]
    users = [x.user for x in check_all(rows, ref) if x.ok and x.user is not None]
    return max(users, key=lambda u: len(u.model_dump(exclude_none=True)))


def bench_encode(budget: float = 1.0) -> float:
    user = _full_user()
    op = c.operation("GroupEnrolment")
    token = Token(id="1", uuid="U")
    args = {"user": user, "assign_evaluation": False, "send_login_details": False}
    return best(lambda: soap.encode_request(op, c.params_to_wire(op, args), token), budget)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidates", type=int, default=5000)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per figure (about)")
    parser.add_argument("--no-write", action="store_true", help="do not write codec-results.md")
    args = parser.parse_args(argv)
    answers = replay.recorded()
    candidates = replay.candidates_answer(answers, args.candidates)
    full = answers["GetProgressFull"].replace(replay.CANDIDATE, "C-1").encode()
    lines = ["| answer | bytes | labridge (ms) | lxml parse (ms) | zeep (ms) | suds (ms) | "
             "labridge / lxml | zeep / labridge | suds / labridge |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    with TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        cases = [
            (f"GetCandidates, {args.candidates:,} candidates", "GetCandidates", candidates,
             ("", True, True, True), args.candidates),
            (f"GetProgressFull, {replay.UNITS} units x {replay.OUTCOMES} outcomes",
             "GetProgressFull", full, ("C-1",), replay.UNITS),
        ]  # fmt: skip
        for title, operation, body, suds_args, expect in cases:
            t = dict(bench_answer(tmp, operation, body, suds_args, expect, args.budget))
            ours, lxml_, zeep_, suds_ = t["labridge"], t["lxml parse"], t["zeep"], t["suds"]
            lines.append(
                f"| {title} | {len(body):,} | {1000 * ours:.2f} | {1000 * lxml_:.2f} | "
                f"{1000 * zeep_:.2f} | {1000 * suds_:.2f} | {ours / lxml_:.1f} | "
                f"{zeep_ / ours:.1f} | {suds_ / ours:.1f} |"
            )
    encode = bench_encode(args.budget)
    text = (
        "\n".join(lines) + f"\n\nEncoding a full GroupEnrolment request: {1e6 * encode:.0f} µs.\n"
    )
    print(text)
    if not args.no_write:
        (HERE / "codec-results.md").write_text(
            "# Codec: labridge against lxml, zeep and suds on the same bytes\n\n"
            "`python bench/codec.py` (best of several repeats each, CPU time of the process; "
            "ratios from one run).\n\n" + text,
            encoding="utf-8",
        )
    return text


if __name__ == "__main__":
    main()
