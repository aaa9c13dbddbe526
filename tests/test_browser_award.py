"""The award (定标) in the browser (clients/web/js/views/award.js): two members of the
定标委员会 sign in and vote in two browser contexts, each signed action in the confirmation
dialog that shows what is signed, buttons disabled where the phase forbids; a third context,
the supervisor's page, sees the round's tally live; a member signs the 定标报告 in the page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from tests.chromium import launched
from tests.support import InProcessNode, add_participant
from tests.test_award import _state, closed_by_lowest_price
from tests.test_browser import open_page, shot, watch_console
from tests.test_session import _opened_tender

pytestmark = [pytest.mark.browser, pytest.mark.slow]

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is not installed (pip install playwright)"
)
expect = playwright_api.expect


@pytest_asyncio.fixture(loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    async with launched(playwright_api) as b:
        yield b


async def _confirm(page: Any, *shown: str) -> None:
    """The dialog says what is signed; confirm it."""
    dialog = page.locator("#confirm-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator(".sign-note")).to_be_visible()  # a signed action says so
    for text in shown:
        await expect(dialog).to_contain_text(text)
    await page.click("#confirm-ok")
    await expect(dialog).to_have_count(0)


async def test_members_vote_in_two_browsers_and_the_supervisor_sees_the_tally_live(
    browser: Any, node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = await _opened_tender(node, pool, tmp_path, "WBA1")
    stream, sid = "session:WBA1-S1", "WBA1-S1"
    number = await closed_by_lowest_price(o, pool, node, stream, "WBA1")
    owner = await add_participant(pool, "owner", org="甘肃交通厅", roles=[("tenderer", o.stream)])
    tenderer = await owner.client(node.url)
    people = [await add_participant(pool, f"m{i}", org="甘肃交通厅") for i in range(5)]
    ids = [p.user_id for p in people]
    setup = {"method": {"kind": "vote"}, "members": ids, "chair": ids[0], "objection_days": 3}
    await tenderer.command(stream, "award.setup", setup)
    sup = o.clients["sup"]

    hash_ = f"#/award?session={sid}"
    ctx1, page1 = await open_page(browser, node, tmp_path, people[0], hash_)
    ctx2, page2 = await open_page(browser, node, tmp_path, people[1], hash_)
    ctx3, watch = await open_page(
        browser, node, tmp_path, o.people["sup"], f"#/supervisor?session={sid}"
    )
    errors = [watch_console(p) for p in (page1, page2, watch)]
    # The members' page is their tab; the phase forbids a vote before everyone signed in.
    await expect(page1.locator("#nav-award")).to_be_visible()
    await expect(page1.locator("#award-phase")).to_have_text("定标委员会签到")
    await expect(page1.locator("#award-vote")).to_be_disabled()
    await expect(page1.locator("#award-sign-report")).to_be_disabled()
    await expect(page1.locator("#award-sign-in")).to_be_enabled()
    await expect(page1.locator("#award-me")).to_contain_text(f"m0（{ids[0]}）")  # by name
    await expect(watch.locator("#award-committee")).to_contain_text(f"m1（{ids[1]}）")

    # Sign-in by signature in both browsers; cancelling the dialog sends nothing.
    await page1.click("#award-sign-in")
    await page1.click("#confirm-cancel")
    assert ids[0] not in (await _state(pool, stream))["award"]["signed_in"]
    for page, who in ((page1, ids[0]), (page2, ids[1])):
        await page.click("#award-sign-in")
        await _confirm(page, who, sid)
        await expect(page.locator("#award-signed-in")).to_be_visible()
        await expect(page.locator("#award-sign-in")).to_be_disabled()
    for p in people[2:]:
        client = await p.client(node.url)
        await client.command(stream, "award.sign_in", sign=True)
    await sup.command(stream, "award.sign_in", sign=True)
    await expect(page1.locator("#award-phase")).to_have_text("投票")
    await expect(watch.locator("#award-live")).to_contain_text("已投 0/5")

    # Two members vote in their browsers; the supervisor's page counts each ballot live.
    b, d = number["b"], number["d"]
    await page1.select_option("#award-vote-candidate", b)
    await page1.click("#award-vote")
    await _confirm(page1, f"{b} company-b", "第 1 轮")
    await expect(page1.locator("#award-my-vote")).to_contain_text(b)
    await expect(page1.locator("#award-vote")).to_be_disabled()  # one vote per round
    await expect(watch.locator("#award-live")).to_contain_text("已投 1/5")
    await expect(watch.locator(f'#award-live .tally[data-bid="{b}"]')).to_contain_text(" 1")
    # A member sees only its own ballot: the page does not pretend to a tally.
    await expect(page2.locator("#award-live")).to_contain_text("已投 1/5")
    await expect(page2.locator("#award-live .tally")).to_have_count(0)
    await page2.select_option("#award-vote-candidate", d)
    await page2.click("#award-vote")
    await _confirm(page2, f"{d} company-d")
    await expect(watch.locator("#award-live")).to_contain_text("已投 2/5")
    await expect(watch.locator(f'#award-live .tally[data-bid="{d}"]')).to_contain_text(" 1")
    await shot(watch, "supervisor-award-live")

    # The three others vote with the SDK: b wins 4 to 1, the report is drawn up.
    for p in people[2:]:
        client = p.clients[0]
        await client.command(stream, "award.vote", {"round": 1, "candidate": b}, sign=True)
    await expect(watch.locator('#award-rounds tr[data-round="1"]')).to_contain_text(
        f"{b} company-b 4"
    )
    await expect(page1.locator("#award-phase")).to_have_text("定标报告签署")
    await expect(page1.locator("#award-vote")).to_be_disabled()
    digest = (await _state(pool, stream))["award"]["award_digest"]
    await page2.fill("#award-dissent", "倾向 company-d")
    await page2.click("#award-sign-report")
    await _confirm(page2, digest, f"{b} company-b", "倾向 company-d")
    await expect(page2.locator("#award-report-signed")).to_be_visible()
    await expect(page2.locator("#award-sign-report")).to_be_disabled()
    signatures = (await _state(pool, stream))["award"]["signatures"]
    assert signatures[ids[1]]["dissent"] == "倾向 company-d"
    await shot(page2, "award-member")
    for errs in errors:
        assert not errs, errs
    for c in (ctx1, ctx2, ctx3):
        await c.close()
    for client in [tenderer, *o.clients.values(), *(c for p in people for c in p.clients)]:
        await client.close()


async def test_members_give_opinions_and_the_chair_decides_in_the_page(
    browser: Any, node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = await _opened_tender(node, pool, tmp_path, "WBA2")
    stream, sid = "session:WBA2-S1", "WBA2-S1"
    number = await closed_by_lowest_price(o, pool, node, stream, "WBA2")
    owner = await add_participant(pool, "owner", org="甘肃交通厅", roles=[("tenderer", o.stream)])
    tenderer = await owner.client(node.url)
    people = [await add_participant(pool, f"m{i}", org="甘肃交通厅") for i in range(5)]
    ids = [p.user_id for p in people]
    setup = {"method": {"kind": "deliberation"}, "members": ids, "chair": ids[0]}
    await tenderer.command(stream, "award.setup", setup)
    others = [await p.client(node.url) for p in people[2:]]
    for client in others:
        await client.command(stream, "award.sign_in", sign=True)
    await o.clients["sup"].command(stream, "award.sign_in", sign=True)

    hash_ = f"#/award?session={sid}"
    ctx1, chair = await open_page(browser, node, tmp_path, people[0], hash_)
    ctx2, page = await open_page(browser, node, tmp_path, people[1], hash_)
    errors = [watch_console(p) for p in (chair, page)]
    await expect(page.locator("#award-decide")).to_have_count(0)  # only the chair decides
    await expect(page.locator("#award-opinion")).to_be_disabled()  # not yet in deliberation
    for p, who in ((chair, ids[0]), (page, ids[1])):
        await p.click("#award-sign-in")
        await _confirm(p, who)
    await expect(page.locator("#award-phase")).to_have_text("集体议事")
    b, d = number["b"], number["d"]
    await page.select_option("#award-opinion-candidate", d)
    await page.fill("#award-opinion-text", "技术方案更优")
    await page.click("#award-opinion")
    await _confirm(page, f"{d} company-d", "技术方案更优")
    await expect(page.locator("#award-opinion")).to_be_disabled()  # one opinion each
    # The chair cannot decide before every opinion is in; the button says why.
    decide = chair.locator("#award-decide")
    await expect(decide).to_be_disabled()
    await expect(decide).to_have_attribute("title", "尚有委员未提交意见")
    await chair.select_option("#award-opinion-candidate", b)
    await chair.fill("#award-opinion-text", "报价最低，方案可行")
    await chair.click("#award-opinion")
    await _confirm(chair, f"{b} company-b")
    for i, client in enumerate(others):
        body = {"candidate": b, "opinion": f"意见{i}"}
        await client.command(stream, "award.opinion", body, sign=True)
    await expect(decide).to_be_enabled()
    await chair.select_option("#award-decide-candidate", b)
    await chair.fill("#award-reasons", "多数委员意见，报价最低")
    await decide.click()
    await _confirm(chair, f"{b} company-b", "多数委员意见，报价最低")
    await expect(chair.locator("#award-phase")).to_have_text("定标报告签署")
    await expect(chair.locator("#award-winner")).to_contain_text(f"{b} company-b")
    decision = (await _state(pool, stream))["award"]["decision"]
    assert decision == {"by": ids[0], "candidate": b, "reasons": "多数委员意见，报价最低"}
    for errs in errors:
        assert not errs, errs
    for c in (ctx1, ctx2):
        await c.close()
    for client in [tenderer, *others, *o.clients.values()]:
        await client.close()
