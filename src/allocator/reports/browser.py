"""Open a report in headless Chromium (the system's ``chromium``) through Playwright.

Used by the browser tests, the report benchmark and the README screenshots. Every request
the page makes is routed: ``file:``, ``data:`` and ``blob:`` URLs go through, anything else
is aborted and recorded, so a page that reaches for the network is caught. Console
errors and uncaught page errors are recorded too.

Needs the ``playwright`` package (dev extra) and Debian's ``chromium`` at
:data:`CHROMIUM` (``make test`` installs it); ``playwright install`` is never needed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "OpenedPage",
    "chromium_path",
    "headless_browser",
    "open_report",
]

CHROMIUM = "/usr/bin/chromium"
"""Where Debian's ``chromium`` package puts the browser."""

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
_LOCAL = ("file:", "data:", "blob:", "about:")


def chromium_path() -> str | None:
    """The Chromium executable (``ALLOCATOR_CHROMIUM``, :data:`CHROMIUM`, or on PATH)."""
    for candidate in (os.environ.get("ALLOCATOR_CHROMIUM"), CHROMIUM, shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@dataclass
class OpenedPage:
    """A report open in the browser, and what it did while loading.

    Attributes:
        page: the Playwright page (valid inside :func:`open_report`'s block).
        load_seconds: wall time from navigation to every chart drawn (``.main-svg`` in
            each plot).
        first_paint_seconds: wall time to the first contentful paint (the top section).
        cpu_seconds: the renderer's main-thread CPU time over the same span as
            ``load_seconds`` (what the open costs without other processes competing).
        console_errors: console messages of type ``error`` and uncaught page errors.
        network: URLs of requests that were not local (each was aborted).
    """

    page: Any
    load_seconds: float = 0.0
    first_paint_seconds: float = 0.0
    cpu_seconds: float = 0.0
    console_errors: list[str] = field(default_factory=list)
    network: list[str] = field(default_factory=list)


@contextlib.contextmanager
def headless_browser() -> Iterator[Any]:
    """A headless Chromium browser (Playwright's ``Browser``), closed afterwards.

    Raises:
        RuntimeError: no Chromium executable is installed.
    """
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise RuntimeError(
            f"no Chromium at {CHROMIUM}: install Debian's chromium package (make test does)"
        )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


def _thread_time(cdp: Any) -> float:
    metrics = cdp.send("Performance.getMetrics")["metrics"]
    return float(next(m["value"] for m in metrics if m["name"] == "ThreadTime"))


@contextlib.contextmanager
def open_report(
    browser: Any, path: Path, *, width: int = 1280, height: int = 900
) -> Iterator[OpenedPage]:
    """Open the report at ``path`` in a new page; wait until every chart is drawn."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    opened = OpenedPage(page)

    def route(r: Any) -> None:
        if r.request.url.startswith(_LOCAL):
            r.continue_()
        else:
            opened.network.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on(
        "console", lambda m: opened.console_errors.append(m.text) if m.type == "error" else None
    )
    page.on("pageerror", lambda e: opened.console_errors.append(str(e)))
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    try:
        cpu = _thread_time(cdp)
        started = time.perf_counter()
        page.goto(path.resolve().as_uri(), wait_until="load")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.plotly-graph-div')]"
            ".every(d => d.querySelector('.main-svg'))"
        )
        opened.load_seconds = time.perf_counter() - started
        opened.cpu_seconds = _thread_time(cdp) - cpu
        paint = page.evaluate(
            "() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime"
        )
        opened.first_paint_seconds = float(paint or 0.0) / 1000
        yield opened
    finally:
        context.close()
