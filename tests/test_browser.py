"""The browser client (clients/web) end to end: headless Chromium driven by Playwright against a
real in-process node. Each test logs in with a key file in the page (WebCrypto Ed25519) and
waits on what the page shows, never on the clock."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from clients.keyfile import ParticipantKey
from crypto.canonical import canonical_json
from crypto.keys import b64u
from evalroom.domain.draw import ExpertPool, pool_digest
from evalroom.services.session import check_in_statement, pool_snapshot
from tests.support import InProcessNode, Participant, add_participant
from tests.test_opening import Opening, _wait_until
from tests.test_session import METHOD, SLOTS, TECH, VENUES, _opened_tender, _register_pool

pytestmark = [pytest.mark.browser, pytest.mark.slow]

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
VIEWPORT = {"width": 1366, "height": 768}
SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
TIMEOUT = 15_000  # ms, for every wait on the page

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is not installed (pip install playwright)"
)
expect = playwright_api.expect
expect.set_options(timeout=TIMEOUT)


@pytest_asyncio.fixture(loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    if not HAVE_CHROMIUM:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    async with playwright_api.async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


def key_file(tmp: Path, person: Participant) -> Path:
    path = tmp / f"{person.user_id}.key.json"
    path.write_text(json.dumps(ParticipantKey(person.user_id, person.key).to_json()))
    return path


def bid_keys_file(tmp: Path, o: Opening, name: str) -> Path:
    """The bid-keys file as the CLI writes it (format evalroom-bid-keys/1)."""
    bids = [
        {"tender": o.tender, "section": "S1", "envelope": k.split("/")[1], "identity": v}
        for k, v in o.bid_keys.items()
        if k.startswith(f"{name}/")
    ]
    path = tmp / f"{name}.bids.json"
    user = o.people[name].user_id
    path.write_text(json.dumps({"format": "evalroom-bid-keys/1", "user": user, "bids": bids}))
    return path


async def open_page(browser: Any, node: InProcessNode, tmp: Path, person: Participant, hash_: str):  # type: ignore[no-untyped-def]
    """A fresh browser context (its own IndexedDB), logged in with ``person``'s key file."""
    context = await browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = await context.new_page()
    await page.goto(f"{node.url}/app/{hash_}")
    await page.set_input_files("#key-file", str(key_file(tmp, person)))
    await page.click("#login-btn")
    await expect(page.locator("#who")).to_contain_text(person.user_id)
    return context, page


async def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"))


async def _opening(node: InProcessNode, pool: asyncpg.Pool, tmp: Path, tender: str) -> Opening:
    """A tender past its opening time with three sealed bids, the opening started."""
    o = Opening(node, pool, tmp)
    opening_at = await o.setup(tender, opening_in=2.0, window=120)
    for name, price in (("a", "1000000.00"), ("b", "980000.50"), ("c", "1025000.00")):
        await o.bidder(name)
        await o.bid(name, price)
    await _wait_until(opening_at)
    await o.clients["agency"].command(o.stream, "opening.start")
    return o


async def test_a_bidder_logs_in_with_its_key_file_and_releases_its_bid_key(
    browser: Any, node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = await _opening(node, pool, tmp_path, "WB1")
    for name in ("b", "c"):  # the others release from their CLI
        await o.clients[name].command(o.stream, "opening.sign_in", sign=True)
        await o.clients[name].command(
            o.stream, "bid.release_key", {"section": "S1", "identity": o.bid_keys[f"{name}/single"]}
        )
    context, page = await open_page(browser, node, tmp_path, o.people["a"], "#/bidder?tender=WB1")
    mine = page.locator("#bid-status tr.mine .badge")
    await expect(mine).to_have_text("等待解密")
    await page.set_input_files("#bid-keys-file", str(bid_keys_file(tmp_path, o, "a")))
    await page.click("#release-btn")
    await expect(mine).to_have_text("已解密")
    await expect(page.locator("#signed-in")).to_have_text("已签到")
    await expect(page.locator("#bid-status .s-decrypted")).to_have_count(3)
    await shot(page, "bidder")
    await context.close()
    for c in o.clients.values():
        await c.close()


async def test_an_agency_runs_the_read_out_in_the_browser(
    browser: Any, node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = await _opening(node, pool, tmp_path, "WB2")
    for name in ("a", "b", "c"):
        await o.clients[name].command(o.stream, "opening.sign_in", sign=True)
        await o.clients[name].command(
            o.stream, "bid.release_key", {"section": "S1", "identity": o.bid_keys[f"{name}/single"]}
        )
    context, page = await open_page(
        browser, node, tmp_path, o.people["agency"], "#/agency?tender=WB2"
    )
    await expect(page.locator("#bid-status .s-decrypted")).to_have_count(3)
    await page.click("#close-btn")
    await page.click("#readout-btn")
    read_out = page.locator("#read-out")
    await expect(read_out).to_contain_text("980,000.50")
    await expect(read_out).to_contain_text("company-a")
    await expect(read_out.locator("tbody tr")).to_have_count(3)
    # The bidder sees the same read-out live and confirms the record in its own browser.
    bctx, bpage = await open_page(browser, node, tmp_path, o.people["a"], "#/bidder?tender=WB2")
    await expect(bpage.locator("#read-out tbody tr")).to_have_count(3)
    await bpage.click("#confirm-btn")
    await expect(bpage.locator("#confirmed")).to_be_visible()
    await shot(bpage, "bidder-read-out")
    await shot(page, "agency")
    await bctx.close()
    await context.close()
    for c in o.clients.values():
        await c.close()


async def test_a_dropped_connection_resumes_from_the_last_seq_and_says_so(
    browser: Any, node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = Opening(node, pool, tmp_path)
    await o.setup("WB4", opening_in=600, window=60)
    await o.bidder("a")
    context, page = await open_page(browser, node, tmp_path, o.people["a"], "#/bidder?tender=WB4")
    await expect(page.locator("#phase")).to_have_text("投标中")
    await context.set_offline(True)
    banner = page.locator("#banner")
    await expect(banner).to_have_attribute("data-state", "offline")
    # While the bidder is away the agency announces something; the page must not miss it.
    await o.clients["agency"].command(
        o.stream, "tender.notice", {"text": "开标时间不变，请按时签到"}
    )
    await context.set_offline(False)
    await expect(banner).to_have_text("已重新连接，数据已从断点续传")
    await expect(page.locator(".notice")).to_have_text("开标时间不变，请按时签到")
    assert await page.evaluate("window.evalroom.conn.reconnects") == 1
    # The page's canonical JSON is byte for byte the server's (RFC 8785), Chinese included.
    value = {
        "purpose": "evalroom-login",
        "b": [1, True, None, '报价\n"x"'],
        "a": {"z": 0, "y": "é"},
    }
    js = await page.evaluate(
        "v => import('/app/js/canonical.js').then(m => m.canonicalJson(v))", value
    )
    assert js.encode() == canonical_json(value)
    await context.close()
    for c in o.clients.values():
        await c.close()


async def test_an_expert_scores_in_the_browser_and_the_supervisor_sees_it_land_live(
    browser: Any, node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = await _opened_tender(node, pool, tmp_path, "WB3")
    agency, sup = o.clients["agency"], o.clients["sup"]
    experts = await _register_pool(pool, "wb3")
    stream = "session:WB3-S1"
    draw = {"slots": SLOTS, "tenderer": "甘肃交通厅", "tenderer_region": "兰州", "min_credit": "60"}
    await agency.command(
        stream,
        "session.create",
        {"tender": "WB3", "section": "S1", "venues": VENUES, "method": METHOD, "draw": draw},
    )
    snapshot = await pool_snapshot(type("Ctx", (), {"pool": pool})())  # type: ignore[arg-type]
    seed = secrets.token_bytes(32)
    commitment = {
        "commitment": hashlib.sha256(seed).hexdigest(),
        "pool_digest": pool_digest(ExpertPool.from_dict(snapshot)),
    }
    await sup.command(stream, "session.commit_seed", commitment)
    await sup.command(stream, "session.draw", {"seed": seed.hex()})
    state = await pool.fetchval("SELECT state FROM streams WHERE name = $1", stream)
    committee = list(state["committee"])
    venue_of = {e: m["venue"] for e, m in state["committee"].items()}
    ops: dict[str, Any] = {}
    for venue in ("lanzhou", "tianshui", "jiuquan"):
        op = await add_participant(pool, f"op-{venue}", roles=[("operator", stream)], venue=venue)
        o.people[f"op-{venue}"] = op
        ops[venue] = await op.client(node.url)
        await ops[venue].subscribe(stream)
    ex = {eid: await experts[eid].client(node.url) for eid in committee}
    first = committee[0]

    # The site operator checks the first expert in from the token the expert's key signed.
    op_ctx, op_page = await open_page(
        browser, node, tmp_path, o.people[f"op-{venue_of[first]}"], "#/operator?session=WB3-S1"
    )
    seat = f"{venue_of[first]}-1"
    sig = experts[first].key.sign(check_in_statement(stream, first, seat))
    token_json = json.dumps({"expert": first, "seat": seat, "sig": sig}).encode()
    await op_page.fill("#checkin-token", "evalroom-checkin:" + b64u(token_json))
    await op_page.click("#checkin-btn")
    await expect(op_page.locator(f'#roster tr[data-expert="{first}"] .badge')).to_have_text(
        "已签到"
    )
    await shot(op_page, "operator")
    await op_ctx.close()
    for i, eid in enumerate(committee[1:], start=2):
        seat = f"{venue_of[eid]}-{i}"
        signature = experts[eid].key.sign(check_in_statement(stream, eid, seat))
        await ops[venue_of[eid]].command(
            stream, "session.check_in", {"expert": eid, "seat": seat, "expert_signature": signature}
        )
    for eid in committee:
        await ex[eid].command(stream, "session.vote_chair", {"candidate": first})
    for eid in committee:
        for bid in state["bids"]:
            await ex[eid].command(
                stream,
                "session.preliminary",
                {"bid": bid["bid_id"], "criterion": "qualification", "pass": True},
                sign=True,
            )
    await ex[first].command(stream, "session.close_phase", {"phase": "preliminary_review"})

    sup_ctx, sup_page = await open_page(
        browser, node, tmp_path, o.people["sup"], "#/supervisor?session=WB3-S1"
    )
    await expect(sup_page.locator("#phase")).to_have_text("详细评审")
    await expect(sup_page.locator('.venue[data-venue="lanzhou"]')).to_have_class(re.compile("up"))
    exp_ctx, exp_page = await open_page(
        browser, node, tmp_path, experts[first], "#/expert?session=WB3-S1"
    )
    await expect(exp_page.locator("#checkin-status")).to_contain_text("已签到")
    number = {b["company"].removeprefix("company-"): b["bid_id"] for b in state["bids"]}
    # Out of range is refused in the page, before anything is sent.
    await exp_page.fill(f"#score-{number['a']}-tech", "31")
    await exp_page.click("#save-scores")
    await expect(exp_page.locator(".toast.error")).to_contain_text("0 至 30")
    for bidder, marks in TECH.items():
        await exp_page.fill(f"#score-{number[bidder]}-tech", marks[0])
    await exp_page.click("#save-scores")
    cell = sup_page.locator(
        f'#live-scores tr[data-expert="{first}"] [data-cell="{number["a"]}/tech"]'
    )
    await expect(cell).to_have_text(TECH["a"][0])
    await exp_page.click("#submit-scores")
    await expect(exp_page.locator("#submitted")).to_be_visible()
    await shot(exp_page, "expert")
    for seat_no, eid in enumerate(committee[1:], start=1):
        for bidder, marks in TECH.items():
            await ex[eid].command(
                stream,
                "session.score",
                {"bid": number[bidder], "criterion": "tech", "score": marks[seat_no]},
                sign=True,
            )
        await ex[eid].command(stream, "session.submit_scores", sign=True)
    await expect(sup_page.locator("#spread-chart circle")).to_have_count(4 * len(committee))
    await expect(sup_page.locator("#phase")).to_have_text("偏离复核")
    await shot(sup_page, "supervisor")
    await sup_page.locator("#spread-chart").scroll_into_view_if_needed()
    await shot(sup_page, "supervisor-spread")
    await sup_ctx.close()
    await exp_ctx.close()
    for c in [*o.clients.values(), *ops.values(), *ex.values()]:
        await c.close()
