"""Local servers for the tests: a Slack-compatible webhook that keeps what it is sent, and a silent one."""

from __future__ import annotations

import itertools
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class WebhookReceiver:
    """A Slack-compatible incoming webhook on 127.0.0.1: keeps what it is sent, answers ``status``."""

    def __init__(self, status: int = 200, token: str = "secret-token-xyz") -> None:
        received: list[dict[str, Any]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                text = self.rfile.read(int(self.headers["Content-Length"])).decode()
                received.append({"path": self.path, "type": self.headers["Content-Type"], "text": text,
                                 "body": json.loads(text)})
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/{token}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def texts(self) -> list[str]:
        return [r["text"] for r in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SilentServer:
    """Accepts connections on 127.0.0.1 and never says a word: a hung app, webhook or database proxy."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                self._held.append(self.sock.accept()[0])
            except OSError:
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self._held:
            conn.close()
        self.sock.close()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """The port of a :class:`SilentServer`, closed after the test."""
    server = SilentServer()
    yield server.port
    server.close()


# --- stand-in web sites for the HTTP probe's real-world cases (slow, trickling, broken health answers) ---


@dataclass(frozen=True)
class Reply:
    """What a :class:`StandInSite` answers on one path."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = "application/json"
    delay_s: float = 0.0  # before the status line
    trickle_s: float = 0.0  # between bytes of the body (one byte at a time)
    location: str | None = None  # a redirect's Location
    declared_length: int | None = None  # a Content-Length other than the body's (a body cut off)
    encoding: str | None = None  # a Content-Encoding (the body is given already encoded)
    filler: bytes = b""  # sent after body, filler_times times (a 100 MB answer without 100 MB in memory) ...
    filler_times: int = 0  # ... -1: without end, chunked (no Content-Length), until the client hangs up
    tail: bytes = b""  # sent after the filler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up mid-answer (what the slow and trickling tests want): not worth a traceback


class StandInSite:
    """An HTTP/1.1 server on 127.0.0.1 answering each path as scripted; ``default`` for every other path
    (404 when None). Slow and trickling handlers end at once when the server is closed."""

    def __init__(self, replies: dict[str, Reply] | None = None, default: Reply | None = None) -> None:
        self.replies = dict(replies or {})
        self.default = default
        self.requests: list[str] = []
        self.bytes_sent = 0  # of the bodies, as far as the socket took them
        self._closing = threading.Event()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                site.requests.append(self.path)
                reply = site.replies.get(self.path, site.default) or Reply(404, b"not found", "text/plain")
                if reply.delay_s and site._closing.wait(reply.delay_s):
                    return
                try:
                    self.send_response(reply.status)
                    if reply.content_type:
                        self.send_header("Content-Type", reply.content_type)
                    if reply.location:
                        self.send_header("Location", reply.location)
                    if reply.encoding:
                        self.send_header("Content-Encoding", reply.encoding)
                    if reply.filler_times < 0:
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        self._endless(reply)
                        return
                    length = len(reply.body) + len(reply.filler) * reply.filler_times + len(reply.tail)
                    if reply.declared_length is not None:
                        length = reply.declared_length
                    self.send_header("Content-Length", str(length))
                    if reply.declared_length is not None:
                        self.send_header("Connection", "close")
                    self.end_headers()
                    if not reply.trickle_s:
                        for piece in (reply.body, *([reply.filler] * reply.filler_times), reply.tail):
                            self.wfile.write(piece)
                            site.bytes_sent += len(piece)
                            if site._closing.is_set():
                                return
                        return
                    for byte in reply.body:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        if site._closing.wait(reply.trickle_s):
                            return
                except OSError:  # the client gave up: that is what the tests want of it
                    pass
                finally:
                    if reply.declared_length is not None:
                        self.close_connection = True

            def _endless(self, reply: Reply) -> None:
                self.close_connection = True
                for piece in itertools.chain([reply.body], itertools.repeat(reply.filler)):
                    if site._closing.is_set():
                        return
                    if not piece:
                        continue  # an empty chunk would end the body
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    site.bytes_sent += len(piece)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.port: int = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stand_in_site() -> Iterator[Any]:
    """``stand_in_site(replies, default=None)`` -> a started :class:`StandInSite`, closed after the test."""
    sites: list[StandInSite] = []

    def start(replies: dict[str, Reply] | None = None, default: Reply | None = None) -> StandInSite:
        sites.append(StandInSite(replies, default))
        return sites[-1]

    yield start
    for site in sites:
        site.close()
