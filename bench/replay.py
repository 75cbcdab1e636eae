"""A stand-in LA that replays recorded sandbox answers for almost no CPU (issue 11).

    python bench/replay.py record answers.json     # run the real sandbox once, keep its answers
    python bench/replay.py serve answers.json --latency-ms 20 --candidates 2000
    python bench/replay.py check                   # record, serve, call every op: CPU per call

Every benchmark against the real sandbox measures the sandbox (10-21 ms of CPU per call behind one
lock), not labridge. This LA answers from bytes the real sandbox
(:func:`labridge.sandbox.create_app`, in-process) produced once per operation shape, after a fixed
latency (``asyncio.sleep``), from a raw asyncio HTTP/1.1 server (keep-alive, Content-Length
bodies, no framework): labridge's client decodes every answer exactly as it decodes the sandbox's,
since they are the sandbox's envelopes. What is templated per call, by byte replacement:

- GroupEnrolment: a fresh CandidateUUID per call, and the SourceSystemLearnerUUID sent;
- GetProgress / GetProgressFull: the CandidateUUID asked for (GetProgressFull answers 12 units of
  10 outcomes, built from the recorded unit and outcome elements);
- GetCandidates: ``--candidates`` learners (the recorded candidate element repeated with unique
  CandidateUUID and learner id) when CourseQAN is empty, no learner for a given course (so an
  enrolment finds nobody already there).

Authenticate, GetFrameworks/Trainers/Companies/Nationalities/Ethnicities and UpdateEnrolment answer
as recorded. The server runs in a child process (:func:`replay_la`), so its CPU is not labridge's;
``GET /_replay/stats`` gives its calls and its own CPU time (``time.process_time``), so that a
benchmark states the stand-in's share. The serving half imports nothing of labridge.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx

CANDIDATE = "@@CANDIDATE@@"
LEARNER = "@@LEARNER@@"
ITEMS = "@@ITEMS@@"
COUNT = "@@COUNT@@"
UNITS, OUTCOMES = 12, 10
HERE = Path(__file__).parent
ROOT = HERE.parent
SAMPLE = ROOT / "examples" / "learners.csv"

# -- recording (imports labridge) ------------------------------------------------------------------


class _Recorder(httpx.AsyncBaseTransport):
    """Passes calls to the in-process sandbox and keeps the last answer of each operation."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.answers: dict[str, list[tuple[bytes, bytes]]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        response = await self.inner.handle_async_request(request)
        data = await response.aread()
        self.answers.setdefault(operation_of(body), []).append((body, data))
        return httpx.Response(response.status_code, headers=response.headers, content=data)


def operation_of(body: bytes) -> str:
    """The SOAP operation a request calls: the first element inside the Body (cheap, no parse)."""
    start = body.find(b"<", body.find(b"Body") + 4) + 1
    end = start
    while body[end : end + 1] not in (b" ", b">", b"/", b"\n", b""):
        end += 1
    return body[start:end].rpartition(b":")[2].decode()


def _between(data: bytes, tag: bytes) -> bytes:
    """The text of the first ``<tag ...>text</tag>`` in ``data`` (b"" when there is none)."""
    start = data.find(b"<" + tag)
    if start < 0:
        return b""
    start = data.find(b">", start) + 1
    return data[start : data.find(b"</" + tag + b">", start)]


async def _record_calls() -> dict[str, list[tuple[bytes, bytes]]]:
    from labridge import AsyncClient, store
    from labridge.models import EnrolmentUserUpdate
    from labridge.sandbox import create_app
    from labridge.sources.csv import read_csv
    from labridge.sources.records import SourceRecord
    from labridge.workflows.enrol import Enroller, Options
    from labridge.workflows.sync import sync

    recorder = _Recorder(httpx.ASGITransport(app=create_app()))
    with TemporaryDirectory() as tmp:
        db = store.open_store(f"sqlite:///{tmp}/record.db")
        async with AsyncClient("http://sandbox", "sandbox", "sandbox", transport=recorder) as la:
            await sync(la, db)
            rows = [r for r in read_csv(SAMPLE) if isinstance(r, SourceRecord)][:2]
            report = await Enroller(la, db, Options(concurrency=1)).run(rows)
            enrolled = [r.candidate_uuid for r in report.records if r.outcome == "enrolled"]
            assert enrolled, report.as_dict()
            await la.get_candidates("NO/SUCH/QAN", active=True, completed=True, test=True)
            await la.update_enrolment(EnrolmentUserUpdate(candidate_uuid=enrolled[0], mobile=""))
            await la.get_progress(enrolled[0])
            await la.get_progress_full(enrolled[0])
        db.close()
    return recorder.answers


def _templated(request: bytes, answer: bytes, *tags: tuple[bytes, str]) -> str:
    """``answer`` with the request's value of each tag replaced by its placeholder."""
    text = answer
    for tag, placeholder in tags:
        value = _between(request, tag)
        assert value, (tag, request[:200])
        text = text.replace(value, placeholder.encode())
    return text.decode()


def _candidates_template(answer: bytes) -> dict[str, str]:
    """GetCandidates split into head, one candidate element (templated) and tail."""
    text = answer.decode()
    first = text.index('<GetCandidatesReturn xsi:type="ns2:Type_candidate">')
    last = text.rindex("</GetCandidatesReturn>", 0, text.rindex("</GetCandidatesReturn>"))
    last += len("</GetCandidatesReturn>")
    item_end = text.index("</GetCandidatesReturn>", first) + len("</GetCandidatesReturn>")
    item = text[first:item_end]
    item = re.sub(r"(<CandidateUUID[^>]*>)[^<]*", rf"\g<1>{CANDIDATE}", item)
    item = re.sub(r"(<SourceSystemLearnerUUID[^>]*>)[^<]*", rf"\g<1>{LEARNER}", item)
    head = re.sub(r"Type_candidate\[\d+\]", f"Type_candidate[{COUNT}]", text[:first])
    return {"candidates": head + ITEMS + text[last:], "candidate_item": item}


def _full_progress(answer: bytes, units: int = UNITS, outcomes: int = OUTCOMES) -> str:
    """GetProgressFull with ``units`` units of ``outcomes`` outcomes each, built from the
    recorded unit and outcome elements (same envelope, types and arrays as the sandbox's)."""
    from lxml import etree

    root = etree.fromstring(answer)
    array = next(e for e in root.iter("Units") if e.getparent().tag != "Units")
    unit = array[0]
    outcome_array = unit.find("Outcomes")
    assert outcome_array is not None
    outcome = outcome_array[0]
    for child in list(outcome_array):
        outcome_array.remove(child)
    for k in range(outcomes):
        copy = etree.fromstring(etree.tostring(outcome))
        copy.find("OutcomeUUID").text = str(uuid.uuid5(uuid.NAMESPACE_URL, f"outcome{k}"))  # type: ignore[union-attr]
        copy.find("Reference").text = f"1.{k + 1}"  # type: ignore[union-attr]
        outcome_array.append(copy)
    key = next(k for k in outcome_array.attrib if k.endswith("arrayType"))
    outcome_array.set(key, re.sub(r"\[\d+\]", f"[{outcomes}]", outcome_array.get(key, "")))
    for child in list(array):
        array.remove(child)
    for k in range(units):
        copy = etree.fromstring(etree.tostring(unit))
        copy.find("UnitUUID").text = str(uuid.uuid5(uuid.NAMESPACE_URL, f"unit{k}"))  # type: ignore[union-attr]
        copy.find("Reference").text = f"U{k + 1}"  # type: ignore[union-attr]
        array.append(copy)
    key = next(k for k in array.attrib if k.endswith("arrayType"))
    array.set(key, re.sub(r"\[\d+\]", f"[{units}]", array.get(key, "")))
    return etree.tostring(root, xml_declaration=True, encoding="utf-8").decode()


def record() -> dict[str, str]:
    """Run the real sandbox once and return the answers, templated, by operation name."""
    calls = asyncio.run(_record_calls())
    answers: dict[str, str] = {}
    for name in ("Authenticate", "GetFrameworks", "GetTrainers", "GetCompanies",
                 "GetNationalities", "GetEthnicities", "UpdateEnrolment"):  # fmt: skip
        answers[name] = calls[name][-1][1].decode()
    listed = [(req, ans) for req, ans in calls["GetCandidates"] if b"Type_candidate[" in ans]
    req, ans = max(listed, key=lambda pair: len(pair[1]))
    answers.update(_candidates_template(ans))
    answers["candidates_none"] = calls["GetCandidates"][-1][1].decode()
    assert "Type_candidate[0]" in answers["candidates_none"], answers["candidates_none"][-600:]
    req, ans = calls["GroupEnrolment"][-1]
    answers["GroupEnrolment"] = re.sub(
        r"(<CandidateUUID[^>]*>)[^<]*", rf"\g<1>{CANDIDATE}",
        _templated(req, ans, (b"SourceSystemLearnerUUID", LEARNER)),
    )  # fmt: skip
    for name in ("GetProgress", "GetProgressFull"):
        req, ans = calls[name][-1]
        body = _full_progress(ans).encode() if name == "GetProgressFull" else ans
        answers[name] = _templated(req, body, (b"CandidateUUID", CANDIDATE))
    return answers


def candidates_answer(answers: dict[str, str], n: int, prefix: str = "R") -> bytes:
    """A GetCandidates answer listing ``n`` learners (unique CandidateUUID and learner id)."""
    item = answers["candidate_item"]
    items = "".join(
        item.replace(CANDIDATE, f"{prefix}{k:08d}-0000-4000-8000-000000000000").replace(
            LEARNER, f"RPL-{prefix}{k:07d}"
        )
        for k in range(n)
    )
    return answers["candidates"].replace(COUNT, str(n)).replace(ITEMS, items).encode()


# -- serving (stdlib only) -------------------------------------------------------------------------


def call_key(body: bytes) -> str:
    """The key a keyed answer is kept under: the operation, and for GetCandidates its four
    parameters (``GetCandidates|603/4771/X|true|true|false``)."""
    op = operation_of(body)
    if op != "GetCandidates":
        return op
    params = (b"CourseQAN", b"blnActive", b"blnCompleted", b"blnTest")
    return "|".join([op, *(_between(body, p).decode().strip().lower() for p in params)])


class _Replay:
    def __init__(
        self,
        answers: dict[str, str],
        latency: float,
        candidates: int,
        keyed: dict[str, str] | None = None,
    ) -> None:
        self.latency = latency
        self.keyed = {k: v.encode() for k, v in (keyed or {}).items()}
        self.fixed = {k: v.encode() for k, v in answers.items()}
        self.listed = candidates_answer(answers, candidates) if answers else b""
        self.none = self.fixed.get("candidates_none", b"")
        self.calls = 0

    def answer(self, body: bytes) -> bytes:
        if self.keyed:
            return self.keyed[call_key(body)]
        op = operation_of(body)
        if op == "GetCandidates":
            return self.none if _between(body, b"CourseQAN") else self.listed
        text = self.fixed[op]
        if op == "GroupEnrolment":
            fresh = str(uuid.uuid4()).encode()
            learner = _between(body, b"SourceSystemLearnerUUID")
            return text.replace(CANDIDATE.encode(), fresh).replace(LEARNER.encode(), learner)
        if op in ("GetProgress", "GetProgressFull"):
            return text.replace(CANDIDATE.encode(), _between(body, b"CandidateUUID"))
        return text


class _Connection(asyncio.Protocol):
    def __init__(self, replay: _Replay) -> None:
        self.replay = replay
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.last: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].lower()
            at = head.find(b"\r\ncontent-length:")
            length = int(head[at + 17 :].split(b"\r\n", 1)[0]) if at >= 0 else 0
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            line = head.split(b"\r\n", 1)[0]
            self.last = asyncio.ensure_future(self.respond(line, body, self.last))

    async def respond(self, line: bytes, body: bytes, before: asyncio.Task[None] | None) -> None:
        if line.startswith(b"get /_replay/stats"):
            payload = json.dumps({"calls": self.replay.calls, "cpu": time.process_time()})
            status, content, kind = b"200 OK", payload.encode(), b"application/json"
        else:
            await asyncio.sleep(self.replay.latency)
            self.replay.calls += 1
            status, content, kind = b"200 OK", self.replay.answer(body), b"text/xml; charset=utf-8"
        if before is not None:
            await before  # answers leave in the order the requests came (pipelining)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(
                b"HTTP/1.1 " + status + b"\r\ncontent-type: " + kind
                + b"\r\ncontent-length: " + str(len(content)).encode() + b"\r\n\r\n" + content
            )  # fmt: skip


async def serve(
    answers: dict[str, str],
    latency: float,
    candidates: int,
    port: int,
    keyed: dict[str, str] | None = None,
) -> None:
    replay = _Replay(answers, latency, candidates, keyed)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Connection(replay), "127.0.0.1", port)
    bound = server.sockets[0].getsockname()[1]
    print(f"READY http://127.0.0.1:{bound}", flush=True)
    async with server:
        await server.serve_forever()


# -- the parent's handle ---------------------------------------------------------------------------


@dataclass
class ReplayLA:
    url: str
    process: subprocess.Popen[str]

    def stats(self) -> dict[str, float]:
        """The child's calls answered and its CPU seconds so far."""
        answer: dict[str, float] = httpx.get(self.url + "/_replay/stats").json()
        return answer


_CACHE: dict[str, str] = {}


def recorded() -> dict[str, str]:
    """The answers of :func:`record`, recorded once per process."""
    if not _CACHE:
        _CACHE.update(record())
    return _CACHE


def answers_file(directory: Path) -> Path:
    """The recorded answers written to ``directory``, for the child process."""
    path = directory / "answers.json"
    path.write_text(json.dumps(recorded()), encoding="utf-8")
    return path


@contextmanager
def replay_la(latency_ms: float = 20.0, candidates: int = 0) -> Iterator[ReplayLA]:
    """A replay LA in a child process for the ``with`` block."""
    with TemporaryDirectory() as tmp:
        path = answers_file(Path(tmp))
        with _child(["serve", str(path), "--latency-ms", str(latency_ms),
                     "--candidates", str(candidates)]) as la:  # fmt: skip
            yield la


@contextmanager
def keyed_la(answers: Path, latency_ms: float = 20.0) -> Iterator[ReplayLA]:
    """A replay LA in a child process answering each call with its answer in ``answers`` (a JSON
    file: :func:`call_key` → answer text)."""
    with _child(["serve-keyed", str(answers), "--latency-ms", str(latency_ms)]) as la:
        yield la


@contextmanager
def _child(args: list[str]) -> Iterator[ReplayLA]:
    cmd = [sys.executable, __file__, *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"replay LA did not start: {line!r}")
        yield ReplayLA(line.split()[1], proc)
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


async def _every_operation(url: str, rounds: int) -> None:
    from labridge import AsyncClient
    from labridge.models import EnrolmentUserUpdate
    from labridge.workflows.sync import sync

    async with AsyncClient(url, "sandbox", "sandbox") as la:
        from labridge import store

        with TemporaryDirectory() as tmp:
            db = store.open_store(f"sqlite:///{tmp}/check.db")
            await sync(la, db)
            db.close()
        listed = await la.get_candidates("")
        one = listed[0].candidate_uuid
        full = await la.get_progress_full(one)
        assert full.candidate_uuid == one, full
        assert len(full.units) == UNITS, full
        assert all(len(u.outcomes) == OUTCOMES for u in full.units)
        await la.update_enrolment(EnrolmentUserUpdate(candidate_uuid=one, mobile=""))
        for _ in range(rounds):
            assert (await la.get_progress(one)).candidate_uuid == one


def check(rounds: int = 200) -> dict[str, Any]:
    """Call every operation through labridge's client; the replay LA's CPU per call."""
    with replay_la(latency_ms=0, candidates=50) as la:
        before = la.stats()
        asyncio.run(_every_operation(la.url, rounds))
        after = la.stats()
    calls = after["calls"] - before["calls"]
    cpu = after["cpu"] - before["cpu"]
    return {"calls": int(calls), "cpu_ms_per_call": 1000 * cpu / calls}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("out", type=Path)
    srv = sub.add_parser("serve")
    srv.add_argument("answers", type=Path)
    srv.add_argument("--latency-ms", type=float, default=20.0)
    srv.add_argument("--candidates", type=int, default=0)
    srv.add_argument("--port", type=int, default=0)
    keyed = sub.add_parser("serve-keyed", help="answer each call with the answer recorded for it")
    keyed.add_argument("answers", type=Path, help="JSON: call key (see call_key) -> answer")
    keyed.add_argument("--latency-ms", type=float, default=20.0)
    keyed.add_argument("--port", type=int, default=0)
    chk = sub.add_parser("check")
    chk.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)
    if args.command == "record":
        args.out.write_text(json.dumps(record()), encoding="utf-8")
    elif args.command == "serve":
        answers = json.loads(args.answers.read_text(encoding="utf-8"))
        with suppress(KeyboardInterrupt):
            asyncio.run(serve(answers, args.latency_ms / 1000, args.candidates, args.port))
    elif args.command == "serve-keyed":
        by_call = json.loads(args.answers.read_text(encoding="utf-8"))
        with suppress(KeyboardInterrupt):
            asyncio.run(serve({}, args.latency_ms / 1000, 0, args.port, keyed=by_call))
    else:
        result = check(args.rounds)
        print(
            f"replay LA: {result['calls']} calls, {result['cpu_ms_per_call']:.3f} ms CPU per call"
        )


if __name__ == "__main__":
    main()
