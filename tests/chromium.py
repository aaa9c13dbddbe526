"""Debian's Chromium, driven by Playwright, as every browser test launches it.

Playwright never downloads a browser here: it drives ``/usr/bin/chromium`` (the test command
installs the Debian package when it is missing). The flags keep a headless Chromium from
reaching for the network this machine does not have.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.asynccontextmanager
async def launched(playwright_api: Any) -> AsyncIterator[Any]:
    """A headless Chromium for one test session; skips, saying why, where there is none."""
    if not HAVE_CHROMIUM:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()
