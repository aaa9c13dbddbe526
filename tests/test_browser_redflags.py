"""The supervisor's 风险提示 panel in the browser (issue 12): the signals of a tender's prices
appear live once the read-out is on the record, each with its evidence; the same page opened
by the agency receives none of them. Real node, real Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from tests.chromium import launched
from tests.support import InProcessNode
from tests.test_browser import open_page, shot
from tests.test_opening import Opening, _wait_until
from tests.test_redflags_live import CONTROL, PRICES

pytestmark = [pytest.mark.browser, pytest.mark.slow]

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is not installed (pip install playwright)"
)
expect = playwright_api.expect


@pytest_asyncio.fixture(loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    async with launched(playwright_api) as b:
        yield b


async def test_the_supervisors_page_shows_the_signals_live_with_their_evidence_and_others_none(
    browser: Any, node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = Opening(node, pool, tmp_path)
    opening_at = await o.setup("RFB", opening_in=5.0, window=60, control_price=CONTROL)
    for name, price in PRICES.items():
        await o.bidder(name)
        await o.bid(name, price)
    where = "#/supervisor?tender=RFB"
    sup_ctx, sup = await open_page(browser, node, tmp_path, o.people["sup"], where)
    ag_ctx, ag = await open_page(browser, node, tmp_path, o.people["agency"], where)
    await expect(sup.locator("#rf-status")).to_contain_text("尚未核查")
    await _wait_until(opening_at)
    await o.clients["agency"].command(o.stream, "opening.start")
    await o.ceremony(tuple(PRICES))
    # Live: the page asks again until the stream exists, then shows each signal.
    identical = sup.locator('.rf-signal[data-code="price.identical"]')
    await expect(identical).to_contain_text("投标报价完全相同", timeout=30_000)
    await identical.locator("summary").click()
    await expect(identical.locator(".rf-bids")).to_contain_text("company-b")
    await expect(identical.locator(".rf-figures")).to_contain_text("900000.00")
    under = sup.locator('.rf-signal[data-code="price.just_under_control"]')
    await expect(under).to_contain_text("控制价")
    await under.locator("summary").click()
    await expect(under.locator(".rf-threshold")).to_contain_text("control_margin")
    await expect(sup.locator("#rf-status")).to_contain_text("已核查")
    await shot(sup, "supervisor-red-flags")
    # The agency's page (the same address) receives none of it, nor that any exist.
    await ag.wait_for_timeout(4000)
    assert await ag.locator(".rf-signal").count() == 0
    await sup_ctx.close()
    await ag_ctx.close()
    for c in o.clients.values():
        await c.close()
