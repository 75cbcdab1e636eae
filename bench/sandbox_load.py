"""How many GetProgress calls a second the sandbox answers on loopback (issue 11, item 7).

    python bench/sandbox_load.py                      # 5,000 calls, 16 in flight; writes results
    python bench/sandbox_load.py --calls 200 --concurrency 4 --no-write
    python bench/sandbox_load.py --generator wrk      # Debian's wrk (apt-get install wrk)

The sandbox runs as ``labridge sandbox serve`` in a process of its own (in-memory database, the
seeded learners, no injected latency). This process is the load generator: it logs in once, then
keeps ``--concurrency`` GetProgress calls in flight over one httpx connection pool, cycling
through the seeded learners, with envelopes built once beforehand (labridge's client is not in
the loop, so what is measured is the sandbox). Every answer must be an HTTP 200 holding a
``GetProgressReturn``. Reported, after ``--warmup`` calls that are not counted:

- **calls/s**: measured calls over their wall time;
- **sandbox CPU ms / call**: the server process's user + system CPU over the measured calls
  (``/proc/<pid>/stat``), divided by their number: its throughput on one core is 1000 / that;
- **generator CPU ms / call**: the same for this process, to show whether the generator, not the
  sandbox, was the limit (both share the machine's cores).

``--generator wrk`` drives the sandbox with Debian's ``wrk`` instead (one thread, ``--seconds``
a run, the same envelopes through a Lua script; the login and a checked first call are made with
httpx): a generator in C, whose own CPU per call is a fraction of httpx's, so that on two cores
the figure is the sandbox's. Its non-2xx answers must be none.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from labridge import contract as c
from labridge import soap
from labridge.sandbox import SANDBOX_PASSWORD, SANDBOX_USERNAME, seed
from labridge.sandbox.app import STATS_PATH
from labridge.sandbox.server import DEFAULT_HOST, free_port

HERE = Path(__file__).parent
_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Result:
    calls: int
    concurrency: int
    wall: float
    server_cpu: float
    client_cpu: float

    @property
    def per_second(self) -> float:
        return self.calls / self.wall

    def row(self) -> str:
        return (
            f"| {self.calls:,} | {self.concurrency} | {self.wall:.2f} | {self.per_second:,.0f} | "
            f"{1000 * self.server_cpu / self.calls:.2f} | "
            f"{1000 * self.client_cpu / self.calls:.2f} |"
        )


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def start_sandbox(port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "labridge", "sandbox", "serve", "--port", str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://{DEFAULT_HOST}:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"the sandbox exited: {log.read().decode(errors='replace')[-2000:]}")
        try:
            httpx.get(url + STATS_PATH, timeout=1).raise_for_status()
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the sandbox at {url} did not answer within 30 s")


async def login(http: httpx.AsyncClient, url: str) -> c.Token:
    op = c.AUTHENTICATE
    args = {"username": SANDBOX_USERNAME, "password": SANDBOX_PASSWORD}
    body = soap.encode_request(op, c.params_to_wire(op, args), None)
    resp = await http.post(url + c.service_of(op.name).path, content=body, headers=_HEADERS)
    token = soap.decode_response(resp.content, op).header.token
    if token is None:
        raise RuntimeError("the sandbox refused its own credentials")
    return token


def envelopes(token: c.Token) -> list[bytes]:
    op = c.operation("GetProgress")
    return [
        soap.encode_request(op, c.params_to_wire(op, {"candidate_uuid": s.uuid}), token)
        for s in seed.CANDIDATES
    ]


async def drive(url: str, calls: int, concurrency: int, pid: int, warmup: int) -> Result:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        bodies = envelopes(await login(http, url))
        target = url + c.service_of("GetProgress").path

        async def worker(share: int, offset: int) -> None:
            for i in range(share):
                body = bodies[(offset + i * concurrency) % len(bodies)]
                resp = await http.post(target, content=body, headers=_HEADERS)
                if resp.status_code != 200 or b"GetProgressReturn" not in resp.content:
                    raise RuntimeError(f"GetProgress answered {resp.status_code}")

        async def run(total: int) -> None:
            shares = [total // concurrency + (k < total % concurrency) for k in range(concurrency)]
            await asyncio.gather(*(worker(s, k) for k, s in enumerate(shares)))

        await run(warmup)
        server0, client0, t0 = cpu_seconds(pid), time.process_time(), time.perf_counter()
        await run(calls)
        wall = time.perf_counter() - t0
        server, client = cpu_seconds(pid) - server0, time.process_time() - client0
    return Result(calls, concurrency, wall, server, client)


def wrk_script(bodies: list[bytes], path: str) -> str:
    """A wrk Lua script POSTing ``bodies`` in turn to ``path``."""
    listed = ",\n".join(f"[==[{b.decode('utf-8')}]==]" for b in bodies)
    return f"""local bodies = {{
{listed}
}}
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
wrk.headers["SOAPAction"] = '""'
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, "{path}", nil, bodies[i])
end
"""


def drive_wrk(url: str, seconds: float, concurrency: int, pid: int) -> Result:
    async def prepare() -> list[bytes]:
        async with httpx.AsyncClient(timeout=60) as http:
            bodies = envelopes(await login(http, url))
            target = url + c.service_of("GetProgress").path
            resp = await http.post(target, content=bodies[0], headers=_HEADERS)
            if resp.status_code != 200 or b"GetProgressReturn" not in resp.content:
                raise RuntimeError(f"GetProgress answered {resp.status_code}")
            return bodies

    bodies = asyncio.run(prepare())
    path = c.service_of("GetProgress").path
    with tempfile.NamedTemporaryFile("w", suffix=".lua", encoding="utf-8") as script:
        script.write(wrk_script(bodies, path))
        script.flush()
        command = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "-s", script.name, url]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        server0, t0 = cpu_seconds(pid), time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        out = proc.communicate()[0]
        wall = time.perf_counter() - t0
        server = cpu_seconds(pid) - server0
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0 or "Non-2xx" in out:
        raise RuntimeError(f"wrk: {out}")
    calls = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    served = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    client = usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime
    return Result(calls, concurrency, calls / served if served else wall, server, client)


def measure(
    calls: int, concurrencies: list[int], warmup: int, generator: str = "httpx", seconds: float = 10
) -> list[Result]:
    if generator == "wrk" and shutil.which("wrk") is None:
        raise SystemExit("--generator wrk needs Debian's wrk: apt-get install wrk")
    port = free_port()
    with tempfile.NamedTemporaryFile() as log:
        proc = start_sandbox(port, log)
        try:
            url = f"http://{DEFAULT_HOST}:{port}"
            if generator == "wrk":
                return [drive_wrk(url, seconds, n, proc.pid) for n in concurrencies]
            return [asyncio.run(drive(url, calls, n, proc.pid, warmup)) for n in concurrencies]
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def table(results: list[Result]) -> str:
    head = (
        "| calls | in flight | wall (s) | calls/s | sandbox CPU ms / call "
        "| generator CPU ms / call |\n|---:|---:|---:|---:|---:|---:|\n"
    )
    return head + "\n".join(r.row() for r in results)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--generator", choices=["httpx", "wrk"], default="httpx")
    parser.add_argument("--seconds", type=float, default=10, help="a wrk run's length")
    parser.add_argument("--no-write", action="store_true", help="do not write the results file")
    args = parser.parse_args(argv)
    results = measure(args.calls, args.concurrency, args.warmup, args.generator, args.seconds)
    text = table(results)
    print(text)
    if not args.no_write:
        python = platform.python_version()
        machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {python}"
        suffix = "" if args.generator == "httpx" else f"-{args.generator}"
        (HERE / f"sandbox_load{suffix}-results.md").write_text(
            "# Sandbox throughput: GetProgress on loopback\n\n"
            f"`python bench/sandbox_load.py` ({machine}; `labridge sandbox serve` in its own "
            f"process, in-memory database, no injected latency; load generator: {args.generator})."
            "\n\n" + text + "\n",
            encoding="utf-8",
        )
    return text


if __name__ == "__main__":
    main()
