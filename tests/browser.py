"""A real headless Chromium for page tests (Debian's chromium, driven by Playwright).

Playwright's own browser download is blocked here, so it drives the system Chromium through its
executable path. Every request the page makes is recorded: a test asserts that none left the host
(``BrowserPage.foreign`` must stay empty). Tests skip, with a reason, when Chromium is missing
(`make test` installs it from Debian's packages).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Flags for a closed network and a root user (see the machine notes): no background traffic.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium: `make test` installs Debian's chromium")


@dataclass
class BrowserPage:
    page: Any
    requests: list[str] = field(default_factory=list)

    @property
    def foreign(self) -> list[str]:
        """Requests that would leave the host (anything but file:, data:, about: and loopback)."""
        out = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme in ("file", "data", "about", "blob"):
                continue
            if parts.scheme in ("http", "https", "ws", "wss") and (parts.hostname or "") in LOCAL_HOSTS:
                continue
            out.append(url)
        return out


@contextmanager
def browser_page(width: int = 1280, height: int = 800) -> Iterator[BrowserPage]:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM is not None
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            wrapped = BrowserPage(page)
            page.on("request", lambda request: wrapped.requests.append(request.url))
            yield wrapped
        finally:
            browser.close()
