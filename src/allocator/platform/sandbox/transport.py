"""The sandbox as an in-process ``httpx`` transport (no sockets), for fast unit tests.

``httpx.Client(transport=SandboxTransport(api), base_url="http://sandbox")`` sends every
request to :meth:`SandboxApi.handle`. Injected faults become what httpx would raise over
a socket: ``drop`` and ``apply_then_drop`` raise :class:`httpx.RemoteProtocolError`
("Server disconnected without sending a response."); ``slow`` waits ``delay_s`` through
the injected ``sleep`` or, when that is at least the request's read timeout, waits the
timeout and raises :class:`httpx.ReadTimeout`. Pass a fake ``sleep`` to keep tests instant.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from allocator.platform.sandbox.api import SandboxApi

__all__ = ["SandboxTransport"]


class SandboxTransport(httpx.BaseTransport):
    """An httpx transport answering from a :class:`SandboxApi` in process.

    Args:
        api: the sandbox.
        sleep: how to wait for ``slow`` faults (seconds); default :func:`time.sleep`.
    """

    def __init__(self, api: SandboxApi, sleep: Callable[[float], None] = time.sleep) -> None:
        self.api = api
        self._sleep = sleep

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer ``request`` through the sandbox (see the module docstring for faults)."""
        body = request.read()
        answer = self.api.handle(
            request.method,
            request.url.path,
            request.url.query.decode("ascii"),
            dict(request.headers),
            body,
        )
        if answer.delay_s > 0:
            timeouts = request.extensions.get("timeout", {})
            read_timeout = timeouts.get("read") if isinstance(timeouts, dict) else None
            if read_timeout is not None and answer.delay_s >= read_timeout:
                self._sleep(float(read_timeout))
                raise httpx.ReadTimeout("timed out (sandbox slow fault)", request=request)
            self._sleep(answer.delay_s)
        if answer.drop:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return httpx.Response(
            answer.status, headers=answer.headers, content=answer.body, request=request
        )
