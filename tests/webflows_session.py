"""Page-driving steps of the evaluation session in the browser, for the browser tests: the
supervisor's draw, an expert's check-in and the operator's confirmation, scoring on a
criterion's scale, deviation reasons, clarifications, signing the report, and downloads.

Each step drives the page as a person would (buttons, the confirmation dialog) and waits on
what the page shows, never on the clock. Pages come from :func:`open_session_page`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support import InProcessNode, Participant
from tests.test_browser import VIEWPORT, key_file

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is not installed (pip install playwright)"
)
expect = playwright_api.expect


async def open_session_page(  # type: ignore[no-untyped-def]
    browser: Any,
    node: InProcessNode,
    tmp: Path,
    person: Participant,
    hash_: str,
    *,
    clipboard: bool = False,
):
    """A fresh browser context logged in with ``person``'s key file, at ``hash_``; with
    ``clipboard`` the page may write and read the clipboard (the expert's copy button)."""
    context = await browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    if clipboard:
        await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=node.url)
    page = await context.new_page()
    await page.goto(f"{node.url}/app/{hash_}")
    await page.set_input_files("#key-file", str(key_file(tmp, person)))
    await page.click("#login-btn")
    await expect(page.locator("#who")).to_contain_text(person.user_id)
    return context, page


async def confirm(page: Any, *shown: str) -> None:
    """Check the confirmation dialog shows each of ``shown``, then confirm."""
    dialog = page.locator("#confirm-dialog")
    for text in shown:
        await expect(dialog).to_contain_text(text)
    await page.click("#confirm-ok")
    await expect(dialog).to_have_count(0)


async def run_draw(page: Any) -> list[str]:
    """The supervisor's page: fetch and check the pool, commit a seed made in the page, draw,
    and wait for the page's five checks of the record (the last: the committee drawn again in
    the page). Returns the names shown as drawn."""
    await page.click("#pool-check-btn")
    await expect(page.locator("#pool-checked")).to_be_visible()
    await page.click("#commit-seed-btn")
    await confirm(page, "种子承诺")
    await expect(page.locator("#seed-committed")).to_be_visible()
    await page.click("#draw-btn")
    await confirm(page, "种子")
    checks = page.locator("#draw-checks li")
    await expect(checks).to_have_count(5)
    await expect(page.locator("#draw-checks li.ok")).to_have_count(5)
    rows = page.locator("#drawn-experts tbody tr")
    names: list[str] = [
        (await rows.nth(i).locator("td").first.inner_text()) for i in range(await rows.count())
    ]
    return names


async def check_in(page: Any, seat: str) -> str:
    """The expert's page: make the check-in code for ``seat``, wait for its QR image, copy it
    with the copy button; returns the code as the page shows it."""
    await page.fill("#seat", seat)
    await page.click("#token-btn")
    await expect(page.locator("#checkin-qr img")).to_be_visible()
    code: str = await page.locator("#checkin-token").inner_text()
    await page.click("#copy-token")
    await expect(page.locator(".toast.ok").last).to_contain_text("已复制")
    return code


async def confirm_check_in(page: Any, code: str, expert: str, name: str) -> None:
    """The operator's page: enter the expert's code, check the dialog names the expert,
    confirm, and wait for the roster to say so."""
    await page.fill("#checkin-token", code)
    await page.click("#checkin-btn")
    await confirm(page, name)
    await expect(page.locator(f'#roster tr[data-expert="{expert}"] .badge')).to_have_text("已签到")


async def score(page: Any, bid: str, criterion: str, value: str) -> None:
    """Enter one figure on the expert's sheet: picked from the list where the scale lists its
    figures, typed otherwise (not yet saved)."""
    cell = page.locator(f"#score-{bid}-{criterion}")
    if await cell.evaluate("el => el.tagName") == "SELECT":
        await cell.select_option(value)
    else:
        await cell.fill(value)


async def save_scores(page: Any) -> None:
    await page.click("#save-scores")
    await expect(page.locator(".toast.ok").last).to_contain_text("已保存")


async def submit_scores(page: Any) -> None:
    await page.click("#submit-scores")
    await confirm(page, "项评分")
    await expect(page.locator("#submitted")).to_be_visible()


async def give_deviation_reason(page: Any, bid: str, criterion: str, reason: str) -> None:
    """Explain one flagged score in writing (signed, after the dialog shows the reason)."""
    item = page.locator(f'#deviations li[data-deviation="{bid}/{criterion}"]')
    await item.locator("input").fill(reason)
    await item.locator(".dev-send").click()
    await confirm(page, reason)
    await expect(item.locator(".dev-done")).to_have_text(reason)


async def ask_clarification(page: Any, company: str, question: str, minutes: int = 30) -> None:
    """Ask a bidder company a question; it then awaits the supervisor's approval."""
    await page.select_option("#clar-company", company)
    await page.fill("#clar-question", question)
    await page.fill("#clar-minutes", str(minutes))
    await page.click("#clar-ask")
    await confirm(page, question)
    listed = page.locator("#expert-clarifications li", has_text=question)
    await expect(listed).to_have_attribute("data-status", "asked")


async def approve_clarification(page: Any, question: str) -> None:
    """The supervisor's page: approve the open question with this text."""
    item = page.locator("#sup-clarifications li", has_text=question)
    await item.locator(".clar-approve").click()
    await expect(page.locator("#sup-clarifications li", has_text=question)).to_have_count(0)


async def sign_report(page: Any, digest: str) -> None:
    """Sign the report; the dialog shows its digest."""
    await page.click("#sign-report")
    await confirm(page, digest)
    await expect(page.locator("#report-signed")).to_be_visible()


async def download(page: Any, button: str, out: Path) -> bytes:
    """Click one of the downloads (``dl-report_html``, ``dl-report_pdf``, ``dl-bundle``) and
    return the bytes saved to ``out``."""
    async with page.expect_download() as info:
        await page.click(f"#{button}")
    got = await info.value
    await got.save_as(out)
    path = await got.path()
    with open(path, "rb") as f:  # noqa: ASYNC230 (a small file the test just saved)
        return f.read()
