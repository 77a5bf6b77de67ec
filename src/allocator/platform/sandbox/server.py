"""The sandbox over real HTTP: a small threaded stdlib server on 127.0.0.1.

:class:`SandboxServer` serves a :class:`~allocator.platform.sandbox.api.SandboxApi`
(every request goes through :meth:`SandboxApi.handle`), honours injected faults at the
socket (``slow``: the answer is held; ``drop`` / ``apply_then_drop``: the connection is
closed without an answer) and shuts down promptly, cutting held answers short.
:func:`serve_in_thread` runs one in a background thread for tests and yields its base URL.

Request lines are logged at DEBUG level without headers, so the token is never logged.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from allocator.platform.sandbox.api import SandboxApi

__all__ = ["SandboxServer", "serve_in_thread"]

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20
"""Largest request body accepted, bytes."""


class _Handler(BaseHTTPRequestHandler):
    server: SandboxServer
    protocol_version = "HTTP/1.1"
    server_version = "allocator-sandbox"

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413, "request body too large")
            return
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        headers = {k: v for k, v in self.headers.items()}
        answer = self.server.api.handle(method, url.path, url.query, headers, body)
        if answer.delay_s > 0 and self.server.stopping.wait(answer.delay_s):
            answer = replace(answer, drop=True)  # shutting down: give up
        if answer.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            log.debug("sandbox client went away before the answer")

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sandbox %s %s", self.address_string(), format % args)


class SandboxServer(ThreadingHTTPServer):
    """A threaded HTTP server answering with a :class:`SandboxApi`.

    Args:
        api: the request handler.
        host: address to bind (default 127.0.0.1).
        port: port to bind; 0 picks a free one (see :attr:`url`).
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, api: SandboxApi, host: str = "127.0.0.1", port: int = 0) -> None:
        self.api = api
        self.stopping = threading.Event()
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (append ``/open_api/v1.3/...``)."""
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop serving: release held answers, end the loop, close the socket."""
        self.stopping.set()
        self.shutdown()
        self.server_close()


@contextlib.contextmanager
def serve_in_thread(api: SandboxApi, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``api`` in a background thread; yield the base URL; stop on exit.

    Args:
        api: the sandbox to serve.
        host: address to bind.
        port: port (0: a free one).
    """
    server = SandboxServer(api, host, port)
    thread = threading.Thread(target=server.serve_forever, name="sandbox-http", daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.stop()
        thread.join(timeout=5.0)
