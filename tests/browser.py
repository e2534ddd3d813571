"""Headless Chromium for browser tests: Debian's /usr/bin/chromium driven by Playwright's sync API.

No browser is downloaded (never ``playwright install``): Playwright launches the system Chromium.

    with launch() as browser, open_page(browser, report.as_uri()) as (page, log):
        page.keyboard.press("ArrowRight")
        assert not log.problems()

``open_page`` gives every page its own browser context (fresh localStorage, chosen viewport and
colour scheme) and records, from before the first request, the console messages, the uncaught
page errors and the URL of every request the page made.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path(os.environ.get("OPSMEETING_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REQUIRE_ENV = "OPSMEETING_REQUIRE_BROWSER"
FAKETIME_VARIABLES = ("LD_PRELOAD", "FAKETIME", "FAKETIME_DONT_FAKE_MONOTONIC", "DYLD_INSERT_LIBRARIES")


def unavailable_reason() -> str | None:
    """Why browser tests cannot run here, or None when they can."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e '.[test]')"
    return None


def browser_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") == "1"


@dataclass(frozen=True)
class Console:
    type: str  # "log", "warning", "error", ...
    text: str
    location: str


@dataclass
class PageLog:
    """What a page did: console output, uncaught exceptions, requests (URL of each, in order)."""

    console: list[Console] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    def console_errors(self) -> list[Console]:
        return [m for m in self.console if m.type in ("error", "assert")]

    def problems(self) -> list[str]:
        """Console errors and page errors, one readable line each (empty when the page was clean)."""
        return [f"console.{m.type}: {m.text} ({m.location})" for m in self.console_errors()] + [
            f"page error: {e}" for e in self.page_errors
        ]


@contextmanager
def _stopping(pw: Any) -> Iterator[None]:
    try:
        yield
    finally:
        pw.stop()


@contextmanager
def launch() -> Iterator[Browser]:
    """Start Playwright and headless Chromium; both are stopped on exit."""
    from playwright.sync_api import sync_playwright

    # Under `make test-future` libfaketime is preloaded into every process; Playwright's driver and
    # Chromium then never finish loading a page, so they start without it (the real clock). No script of
    # the page reads the clock (no Date in templates/*.js: test_the_page_scripts_never_read_the_clock):
    # every date a page shows was written by Python, whose clock is the one moved.
    preload = {k: os.environ.pop(k) for k in FAKETIME_VARIABLES if k in os.environ}
    try:
        pw = sync_playwright().start()
    finally:
        os.environ.update(preload)
    with _stopping(pw):
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, timeout=30_000,
                                     env={k: v for k, v in os.environ.items() if k not in FAKETIME_VARIABLES})
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def open_page(
    browser: Browser,
    url: str | None = None,
    *,
    width: int = 1600,
    height: int = 1000,
    color_scheme: Literal["light", "dark", "no-preference"] = "light",
) -> Iterator[tuple[Page, PageLog]]:
    """A page in a new context, listened to before it loads ``url`` (when given); closed on exit."""
    context = browser.new_context(
        viewport={"width": width, "height": height},
        color_scheme=color_scheme,
        reduced_motion="reduce",
        java_script_enabled=True,
        service_workers="block",
    )
    context.set_default_timeout(10_000)
    log = PageLog()
    # On the context, so that requests of popups and frames are seen too.
    context.on("request", lambda request: log.requests.append(request.url))
    context.on("requestfailed", lambda request: log.failed_requests.append(request.url))
    page = context.new_page()
    page.on("console", lambda m: log.console.append(Console(m.type, m.text, _where(m.location))))
    page.on("pageerror", lambda exc: log.page_errors.append(f"{exc.name}: {exc.message}"))
    try:
        if url is not None:
            page.goto(url, wait_until="load")
        yield page, log
    finally:
        context.close()


def _where(location: dict[str, object]) -> str:
    return f"{location.get('url', '')}:{location.get('lineNumber', '')}:{location.get('columnNumber', '')}"
