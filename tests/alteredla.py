"""A real LA answer, altered on its way: a loopback HTTP proxy in front of a sandbox that passes
every call through and rewrites the answers to the operations a test chooses (a member dropped,
an HTTP 500). The client meets it over a socket, as it would meet a broken LA."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

#: operation name, the sandbox's status and body → the status and body to answer instead.
Alter = Callable[[str, int, bytes], tuple[int, bytes]]

_OPERATION = re.compile(rb"<(?:[\w.-]+:)?Body\b[^>]*>\s*<(?:[\w.-]+:)?([A-Za-z]\w*)")


def drop_member(operation: str, member: str) -> Alter:
    """Answers to ``operation`` lose every ``<member>`` element (however it is prefixed)."""
    element = re.compile(
        rb"<(?P<p>(?:[\w.-]+:)?)"
        + member.encode()
        + rb"\b[^>]*?(?:/>|>.*?</(?P=p)"
        + member.encode()
        + rb">)",
        re.S,
    )

    def alter(op: str, status: int, body: bytes) -> tuple[int, bytes]:
        return (status, element.sub(b"", body)) if op == operation else (status, body)

    return alter


def answer_500(operation: str, body: bytes) -> Alter:
    """``operation`` is answered HTTP 500 with ``body``, and not passed on to the sandbox's
    answer (the sandbox did the work, as an LA failing after its commit would)."""

    def alter(op: str, status: int, original: bytes) -> tuple[int, bytes]:
        return (500, body) if op == operation else (status, original)

    return alter


@contextmanager
def altered_la(upstream: str, alter: Alter) -> Iterator[str]:
    """Serve the proxy on a free loopback port; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            skip = {"host", "content-length", "connection"}
            headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
            answer = httpx.post(upstream + self.path, content=body, headers=headers, timeout=30)
            found = _OPERATION.search(body)
            operation = found.group(1).decode() if found else ""
            status, out = alter(operation, answer.status_code, answer.content)
            self._send(status, answer.headers.get("content-type", "text/xml"), out)

        def do_GET(self) -> None:
            answer = httpx.get(upstream + self.path, timeout=30)
            self._send(answer.status_code, answer.headers.get("content-type", ""), answer.content)

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client gave up (a deadline)
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
