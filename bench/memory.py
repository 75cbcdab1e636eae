"""labridge memory bounds: peak RSS of real processes, each case in a CHILD process.

    python bench/memory.py          # prints a table; writes bench/memory-results.md

Peak RSS is the child's ``VmHWM`` (Linux, /proc/PID/status): the whole process, Python,
libraries and lxml's trees, from its start to its end. Cases (issue 9, point 3):

- sandbox: ``labridge sandbox serve --max-body-mib 16`` receives one unauthenticated 15 MB
  request of a million tiny elements (over loopback), then four at once; and the default
  sandbox (1 MiB body cap) the same request, refused before it is read whole.
- client: a 15 MB LA answer of a million tiny elements decoded by ``decode_response`` with the
  client's caps (``[la]`` defaults); and the biggest legitimate answer, a GetCandidates of
  16,000 learners (~15.4 MiB, ~208,000 elements), decoded whole.
- enrol: ``labridge enrol --dry-run`` of a 40,000-learner ILR file (mapping
  examples/ilr-mapping.toml) and of a 40,000-row CSV against the sandbox, with and without
  ``--json``.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.sources.ilr_files builds ILR files

from labridge import contract as c  # noqa: E402
from labridge.sandbox.server import free_port  # noqa: E402

MB = 1024 * 1024
LEARNERS = 40_000
HEAD = (
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    b"<soapenv:Body><GetCandidates>"
)
TAIL = b"</GetCandidates></soapenv:Body></soapenv:Envelope>"
#: A million tiny elements in 15 MB.
MILLION = HEAD + b"<item>1</item>" * 1_000_000 + TAIL
RESPONSE_HEAD = HEAD.replace(b"GetCandidates>", b"GetCandidatesResponse><GetCandidatesReturn>")
MILLION_ANSWER = (
    RESPONSE_HEAD
    + b"<item>1</item>" * 1_000_000
    + TAIL.replace(b"</GetCandidates>", b"</GetCandidatesReturn></GetCandidatesResponse>")
)


def peak_mb(pid: int) -> float:
    """The peak RSS so far of process ``pid`` (``VmHWM``: its own address space since exec,
    in MB), or 0 once it has exited. Not ``ru_maxrss``: Linux carries the parent's high-water
    mark across fork and exec into it, so every child would report this bench's own size."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def wait_rss(proc: subprocess.Popen[bytes]) -> float:
    """Wait for ``proc``, sampling its peak RSS every 10 ms; the last sample before it exits
    is its peak (VmHWM never goes down)."""
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, peak_mb(proc.pid))
        time.sleep(0.01)
    return peak


def stop_rss(proc: subprocess.Popen[bytes]) -> float:
    """The peak RSS of a server child, read before it is stopped."""
    peak = peak_mb(proc.pid)
    proc.terminate()
    proc.wait(timeout=10)
    return peak


@contextmanager
def sandbox(*flags: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``labridge sandbox serve`` in a child on a free loopback port (as ``serve_process``,
    but keeping the child's pid, whose RSS is measured once it has exited)."""
    port = free_port()
    command = [sys.executable, "-m", "labridge", "sandbox", "serve", "--port", str(port), *flags]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url + "/_sandbox/stats", timeout=1).raise_for_status()
            break
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not start") from None
            time.sleep(0.1)
    try:
        yield url, proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            proc.wait(timeout=10)


def post_million(url: str, copies: int) -> list[str]:
    path = c.service_of("GetCandidates").path
    said: list[str] = []

    def one() -> None:
        answer = httpx.post(url + path, content=MILLION, timeout=120)
        said.append(f"HTTP {answer.status_code}")

    threads = [threading.Thread(target=one) for _ in range(copies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return said


def sandbox_case(copies: int, *flags: str) -> tuple[float, str]:
    with sandbox(*flags) as (url, proc):
        said = post_million(url, copies)
        rss = stop_rss(proc)
    return rss, ", ".join(sorted(set(said)))


def child(code: str) -> tuple[float, str]:
    """Run ``code`` in a fresh Python and return its peak RSS and last line printed."""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    peak = 0.0
    reader = threading.Thread(target=lambda: said.append(proc.stdout.read()))  # type: ignore[union-attr]
    said: list[bytes] = []
    reader.start()
    peak = wait_rss(proc)
    reader.join()
    out = b"".join(said).decode().strip().splitlines()
    return peak, out[-1] if out else ""


CLIENT_DECODE = """
import sys
from labridge import contract as c
from labridge.config import LASettings
from labridge.errors import ProtocolError
from labridge.soap import Limits, decode_response
la = LASettings()
data = open(sys.argv[1] if len(sys.argv) > 1 else {path!r}, "rb").read()
try:
    value = decode_response(data, c.operation("GetCandidates"),
                            Limits.for_answers(la.max_answer_bytes, la.max_answer_elements)).value
    print(f"decoded {{len(value)}} records")
except ProtocolError as exc:
    print("refused:", str(exc.args[0])[:60])
"""

LEGIT_ANSWER = """
from labridge import contract as c
from labridge.sandbox.app import create_app
from labridge.sandbox.defaults import Dialect
from labridge.sandbox.dialects import SPEAKERS
from labridge.sandbox.services import answer
app = create_app()
learners = app.state.db.candidates(course_qan="", active=None, completed=None, test=None)
many = learners * (16_000 // len(learners))
value = answer("GetCandidates", many)
token = app.state.sandbox.sessions.open("sandbox")
data = SPEAKERS[Dialect.SAMPLES].response(c.operation("GetCandidates"), value, token=token,
                                          loggedin=c.YES)
open({path!r}, "wb").write(data)
print(len(data))
"""


def enrol_case(url: str, source: Path, tmp: Path, *extra: str) -> tuple[float, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABRIDGE_")}
    env |= {"LABRIDGE_URL": url, "LABRIDGE_USERNAME": "sandbox", "LABRIDGE_PASSWORD": "sandbox"}
    store = tmp / f"store-{time.monotonic_ns()}.db"
    command = [sys.executable, "-m", "labridge", "enrol", str(source), "--dry-run", "--create",
               "--db", str(store), *extra]  # fmt: skip
    with (tmp / "out.txt").open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.DEVNULL)
        rss = wait_rss(proc)
    seconds = time.perf_counter() - started
    printed = (tmp / "out.txt").read_bytes()
    return rss, f"{len(printed) / MB:.1f} MB printed in {seconds:.0f} s"


def write_ilr(path: Path) -> None:
    from tests.sources.ilr_files import learner, programme_aim, write_ilr

    learners = (
        learner(f"L{i:07d}", i, aims=[programme_aim("196")]) for i in range(1, LEARNERS + 1)
    )
    write_ilr(path, learners)


def write_csv(path: Path) -> None:
    from tests.sources.ilr_files import uln

    with (ROOT / "examples" / "learners.csv").open(encoding="utf-8") as fh:
        sample = list(csv.DictReader(fh))
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(sample[0]))
        writer.writeheader()
        for i in range(LEARNERS):
            row = dict(sample[i % len(sample)])
            row.update(learner_id=f"BIG-{i:06d}", email=f"big{i}@example.org",
                       uln=uln(200000000 + i * 7))  # fmt: skip
            writer.writerow(row)


Case = tuple[str, float, Callable[[], tuple[float, str]]]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "million-answer.xml").write_bytes(MILLION_ANSWER)
        legit = tmp / "candidates-16000.xml"
        child(LEGIT_ANSWER.format(path=str(legit)))
        ilr, table = tmp / "ILR-40000.xml", tmp / "learners-40000.csv"
        write_ilr(ilr)
        write_csv(table)
        mapping = str(ROOT / "examples" / "ilr-mapping.toml")
        rows: list[tuple[str, float, float, str]] = []

        def measure(name: str, limit: float, run: Callable[[], tuple[float, str]]) -> None:
            rss, note = run()
            rows.append((name, rss, limit, note))
            print(f"{name:<58} {rss:7.0f} MB  (limit {limit:.0f})  {note}", flush=True)

        measure("sandbox: 15 MB million-element request, 1 MiB cap", 150, lambda: sandbox_case(1))
        measure(
            "sandbox --max-body-mib 16: one such request",
            150,
            lambda: sandbox_case(1, "--max-body-mib", "16"),
        )
        measure(
            "sandbox --max-body-mib 16: four at once",
            300,
            lambda: sandbox_case(4, "--max-body-mib", "16"),
        )
        measure(
            "client: 15 MB million-element answer",
            150,
            lambda: child(CLIENT_DECODE.format(path=str(tmp / "million-answer.xml"))),
        )
        measure("client: GetCandidates of 16,000 learners (legitimate)", 300,
                lambda: child(CLIENT_DECODE.format(path=str(legit))))  # fmt: skip
        with sandbox() as (url, _):
            for name, source, extra in (
                ("ILR", ilr, ("--mapping", mapping)),
                ("CSV", table, ()),
            ):
                for json_flag in ((), ("--json",)):
                    label = f"enrol --dry-run {name} of 40,000 learners {' '.join(json_flag)}"
                    measure(label.strip(), 300,
                            lambda s=source, e=extra + json_flag: enrol_case(url, s, tmp, *e))  # type: ignore[misc]  # fmt: skip
    write_results(rows)


def write_results(rows: list[tuple[str, float, float, str]]) -> None:
    lines = [
        "# Memory: peak RSS of each case in its own child process",
        "",
        "Written by `python bench/memory.py` (VmHWM of each child process, Linux).",
        "",
        "| case | peak RSS (MB) | limit (MB) | within | notes |",
        "|---|---:|---:|:---:|---|",
    ]
    for name, rss, limit, note in rows:
        lines.append(f"| {name} | {rss:.0f} | {limit:.0f} | {'yes' if rss < limit else 'NO'} "
                     f"| {note} |")  # fmt: skip
    (ROOT / "bench" / "memory-results.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
