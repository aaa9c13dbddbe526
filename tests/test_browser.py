"""The browser client (clients/web) end to end: headless Chromium driven by Playwright against a
real in-process node. Each test logs in with a key file in the page (WebCrypto Ed25519) and
waits on what the page shows, never on the clock."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import tempfile
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio

from clients.keyfile import ParticipantKey
from clients.opening import pack_bid, seal_envelope, sha256_file
from crypto import merkle
from crypto.canonical import canonical_json
from crypto.checkpoint import Checkpoint, sign_checkpoint
from crypto.events import check_in_statement
from crypto.keys import SigningKey, b64u
from evalroom.audit import log_signing_key
from evalroom.audit.checkpoints import KEY_NAME
from evalroom.domain.draw import ExpertPool, pool_digest
from evalroom.services.session import pool_snapshot
from tests.chromium import launched
from tests.support import InProcessNode, Participant, add_participant
from tests.test_award import closed_by_lowest_price
from tests.test_opening import Opening, _wait_until
from tests.test_session import METHOD, SLOTS, TECH, VENUES, _opened_tender, _register_pool

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VIEWPORT = {"width": 1366, "height": 768}
# Screenshots go to a temporary folder so a test run leaves the tree clean; set
# EVALROOM_SCREENSHOTS=docs/screenshots to refresh the ones the docs show.
SHOTS = Path(
    os.environ.get("EVALROOM_SCREENSHOTS") or Path(tempfile.gettempdir()) / "evalroom-screenshots"
)
TIMEOUT = 15_000  # ms, for every wait on the page

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is not installed (pip install playwright)"
)
expect = playwright_api.expect
expect.set_options(timeout=TIMEOUT)


@pytest_asyncio.fixture(loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    async with launched(playwright_api) as b:
        yield b


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
    os.makedirs(SHOTS, exist_ok=True)
    await page.evaluate("document.getElementById('toasts').replaceChildren()")
    await page.screenshot(path=str(SHOTS / f"{name}.png"))


async def _opening(node: InProcessNode, pool: asyncpg.Pool, tmp: Path, tender: str) -> Opening:
    """A tender past its opening time with three sealed bids, the opening started."""
    o = Opening(node, pool, tmp)
    opening_at = await o.setup(tender, opening_in=5.0, window=120)
    for name, price in (("a", "1000000.00"), ("b", "980000.50"), ("c", "1025000.00")):
        await o.bidder(name)
        await o.bid(name, price)
    await _wait_until(opening_at)
    await o.clients["agency"].command(o.stream, "opening.start")
    return o


async def test_a_bidder_uploads_its_sealed_bid_checks_the_receipt_and_releases_its_key(
    browser: Any, node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = Opening(node, pool, tmp_path)
    opening_at = await o.setup("WB1", opening_in=10.0, window=120)
    for name, price in (("b", "980000.50"), ("c", "1025000.00")):
        await o.bidder(name)
        await o.bid(name, price)
    await o.person("a", org="company-a")  # not joined yet: it joins from the browser's list
    # Bidder a seals its bid on its own machine and uploads it from the browser.
    package, sealed = tmp_path / "a.zip", tmp_path / "a.age"
    pack_bid(
        package,
        {"price": "1000000.00", "duration_days": 180},
        {"technical.pdf": b"%PDF-1.4 " + secrets.token_bytes(600_000)},
    )
    o.bid_keys["a/single"] = seal_envelope(package, sealed, o.recipient)
    context, page = await open_page(browser, node, tmp_path, o.people["a"], "#/bidder")
    # The published tender is listed from the server though this browser never opened it.
    assert (
        await page.evaluate("localStorage.getItem('evalroom.tenders.' + evalroom.conn.user)")
        is None
    )
    tenders = page.locator("#tender-list")
    await expect(tenders).to_have_attribute("data-source", "server")
    item = tenders.locator('li[data-tender="WB1"]')
    await expect(item).to_contain_text("公路养护工程")
    await expect(item.locator(".phase")).to_have_text("投标中")
    await expect(item.locator(".t-opening")).not_to_have_text("—")
    await expect(item.locator("[data-role]")).to_have_count(0)
    # Joining from the list: the list refreshes and shows the bidder role.
    await item.locator(".join-btn").click()
    await expect(item.locator('[data-role="bidder"]')).to_have_text("投标人")
    await expect(item.locator(".join-btn")).to_have_count(0)
    # When the server's list cannot be had, the tenders this browser opened are listed instead.
    await page.route("**/api/tenders", lambda route: route.fulfill(status=503, body="down"))
    await item.locator("a").click()
    await expect(page.locator("#phase")).to_have_text("投标中")
    await expect(tenders).to_have_attribute("data-source", "local")
    await expect(tenders.locator('li[data-tender="WB1"]')).to_have_count(1)
    await page.unroute("**/api/tenders")
    await page.click("#nav-bidder")
    await expect(tenders).to_have_attribute("data-source", "server")
    await tenders.locator('li[data-tender="WB1"] a').click()
    await expect(
        tenders.locator('li.active[data-tender="WB1"] [data-role="bidder"]')
    ).to_have_count(1)
    # A file sealed with the CLI goes up the advanced way.
    await page.click("#advanced-upload summary")
    await page.set_input_files("#up-file", str(sealed))
    await page.click("#up-btn")
    await expect(page.locator("#up-progress")).to_have_attribute("value", "100")
    await expect(page.locator("#up-pct")).to_contain_text("100%")
    receipt = page.locator(".receipt")
    await expect(receipt.locator(".receipt-verdict")).to_have_text("✔ 平台签名验证通过")
    await expect(receipt.locator(".receipt-file")).to_contain_text("一致")
    # Once a signed checkpoint covers the receipt, the page proves its inclusion itself.
    inclusion = receipt.locator(".receipt-inclusion")
    await expect(inclusion).to_have_text("✔ 已收录（已验证）")
    kept = json.loads(
        await page.evaluate(
            "Object.entries(localStorage).find(([k]) => k.startsWith('evalroom.receipts.'))[1]"
        )
    )
    assert kept[0]["receipt"]["sha256"] == sha256_file(sealed)
    assert kept[0]["inclusion"]["seq"] == kept[0]["receipt"]["seq"]
    await shot(page, "bidder-receipt")

    # A proof the server tampers with is caught in the page.
    async def tamper(route: Any) -> None:
        response = await route.fetch()
        body = await response.json()
        first = bytearray(base64.b64decode(body["proof"][0]))
        first[0] ^= 1
        body["proof"][0] = base64.b64encode(bytes(first)).decode()
        await route.fulfill(response=response, json=body)

    await page.route("**/proof/inclusion?*", tamper)
    await receipt.locator(".recheck-btn").click()
    await expect(inclusion).to_have_attribute("data-state", "failed")
    await expect(inclusion).to_contain_text("收录校验失败")
    await page.unroute("**/proof/inclusion?*")
    await receipt.locator(".recheck-btn").click()
    await expect(inclusion).to_have_text("✔ 已收录（已验证）")

    # At the opening the same page signs in and releases the bid's key.
    await _wait_until(opening_at)
    await o.clients["agency"].command(o.stream, "opening.start")
    for name in ("b", "c"):  # the others release from their CLI
        await o.clients[name].command(o.stream, "opening.sign_in", sign=True)
        await o.clients[name].command(
            o.stream, "bid.release_key", {"section": "S1", "identity": o.bid_keys[f"{name}/single"]}
        )
    mine = page.locator("#bid-status tr.mine .badge")
    await expect(mine).to_have_text("等待解密")
    await page.set_input_files("#bid-keys-file", str(bid_keys_file(tmp_path, o, "a")))
    await page.click("#release-btn")
    await expect(page.locator("#confirm-dialog")).to_contain_text("客户端密钥文件")
    await page.click("#confirm-ok")
    await expect(mine).to_have_text("已解密")
    await expect(page.locator("#signed-in")).to_have_text("已签到")
    await expect(page.locator("#bid-status .s-decrypted")).to_have_count(3)
    await expect(tenders.locator('li[data-tender="WB1"] .phase')).to_have_text("开标中")
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
    # Confirming the record is signed: a dialog shows what is signed; cancelling sends nothing.
    await bpage.click("#confirm-btn")
    dialog = bpage.locator("#confirm-dialog")
    await expect(dialog).to_contain_text("确认开标记录")
    await expect(dialog).to_contain_text("以您本人的密钥签名")
    await expect(dialog).to_contain_text("3 份投标")
    await expect(dialog).to_contain_text("company-a")
    await shot(bpage, "bidder-confirm-dialog")
    await bpage.keyboard.press("Escape")
    await expect(dialog).to_have_count(0)
    await expect(bpage.locator("#confirmed")).to_have_count(0)
    await bpage.click("#confirm-btn")
    await bpage.click("#confirm-ok")
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
    # The page's RFC 9162 inclusion check agrees with crypto/merkle.py, tampering included.
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(11)]
    cases = []
    for size in range(1, 12):
        tree_root = merkle.root(leaves[:size])
        for index in range(size):
            proof = merkle.inclusion_proof(leaves, index, size)
            cases.append([leaves[index], index, size, proof, tree_root])
            if proof:
                bad = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
                cases.append([leaves[index], index, size, bad, tree_root])
            cases.append([leaves[(index + 1) % 11], index, size, proof, tree_root])
    b64 = lambda x: base64.b64encode(x).decode()  # noqa: E731
    wire = [[b64(leaf), i, n, [b64(p) for p in proof], b64(r)] for leaf, i, n, proof, r in cases]
    got = await page.evaluate(
        """cases => import('/app/js/logproof.js').then(m => Promise.all(cases.map(
             ([l, i, n, p, r]) => m.verifyInclusion(m.unb64(l), i, n, p.map(m.unb64), m.unb64(r)))))""",
        wire,
    )
    expected = [merkle.verify_inclusion(*case) for case in cases]
    assert got == expected
    assert sum(expected) == 66 and len(expected) > 150  # every honest proof, nothing else
    # Its RFC 9162 consistency check too (§2.1.4.2), on honest proofs and altered ones.
    log = merkle.MerkleLog.from_leaf_hashes(
        leaves + [merkle.leaf_hash(b"x"), merkle.leaf_hash(b"y")]
    )
    roots = {n: log.root(n) for n in range(1, 14)}
    checks: list[tuple[int, int, bytes, bytes, list[bytes]]] = []
    honest: list[int] = []
    for n1 in range(1, 14):
        for n2 in range(n1, 14):
            proof = log.consistency_proof(n1, n2) if n1 < n2 else []
            r1, r2 = roots[n1], roots[n2]
            honest.append(len(checks))
            checks.append((n1, n2, r1, r2, proof))
            checks.append((n1, n2, bytes([r1[0] ^ 1]) + r1[1:], r2, proof))  # another first root
            checks.append((n1, n2, r1, bytes([r2[0] ^ 1]) + r2[1:], proof))  # another second root
            if n1 < n2:
                flipped = bytes([proof[-1][0] ^ 0x80]) + proof[-1][1:]
                checks += [
                    (n2, n1, r2, r1, proof),  # sizes swapped
                    (n1, n2, r1, r2, [*proof[:-1], flipped]),
                    (n1, n2, r1, r2, proof[:-1]),
                    (n1, n2, r1, r2, [*proof, r1]),
                ]
                if len(proof) > 1:
                    checks.append((n1, n2, r1, r2, proof[::-1]))
            else:
                checks.append((n1, n2, r1, r2, [r1]))  # same size: the proof must be empty
        checks.append((0, n1, merkle.EMPTY_ROOT, roots[n1], []))  # from the empty tree
    wire2 = [
        [n1, n2, b64(r1), b64(r2), [b64(p) for p in proof]] for n1, n2, r1, r2, proof in checks
    ]
    got = await page.evaluate(
        """cases => import('/app/js/logproof.js').then(m => Promise.all(cases.map(
             ([a, b, r1, r2, p]) => m.verifyConsistency(a, b, m.unb64(r1), m.unb64(r2), p.map(m.unb64)))))""",
        wire2,
    )
    expected = [merkle.verify_consistency(*case) for case in checks]
    assert got == expected
    assert sum(expected) == len(honest) == 91 and all(expected[i] for i in honest)
    assert len(expected) > 500  # every honest proof holds, no altered one
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
    await expect(op_page.locator("#confirm-dialog")).to_contain_text(seat)
    await op_page.click("#confirm-ok")
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
    number = {b["company"].removeprefix("company-"): b["bid_id"] for b in state["bids"]}

    # The preliminary review in the expert's page: pass/fail per bid, signed; a fail needs a
    # reason, which the page asks for before anything is sent.
    exp_ctx, exp_page = await open_page(
        browser, node, tmp_path, experts[first], "#/expert?session=WB3-S1"
    )
    exp_errors = watch_console(exp_page)
    await expect(exp_page.locator("#phase")).to_have_text("初步评审")
    # The opened bids' documents are there to read, downloaded with the expert's token.
    await expect(exp_page.locator("#bid-documents li")).to_have_count(len(state["bids"]))
    # ... with the read-out prices and the signed opening record they were taken from.
    (kept,) = state["opening_record"]
    await expect(exp_page.locator("#opening-record")).to_contain_text(f"#{kept['seq']}")
    await expect(exp_page.locator(f'#bid-documents li:has-text("{number["b"]}")')).to_contain_text(
        "980000.00"
    )
    async with exp_page.expect_download() as download_info:
        await exp_page.click(f'#bid-documents button[data-bid="{number["a"]}"]')
    download = await download_info.value
    package = tmp_path / "a.zip"
    await download.save_as(package)
    assert package.read_bytes()[:2] == b"PK"
    await exp_page.select_option(f"#pf-{number['a']}-qualification", "fail")
    await exp_page.click("#save-preliminary")
    await expect(exp_page.locator(".toast.error")).to_contain_text("须填写理由")
    for bid in number.values():
        await exp_page.select_option(f"#pf-{bid}-qualification", "pass")
    await exp_page.click("#save-preliminary")
    # What is signed is shown first: each verdict.
    await expect(exp_page.locator("#confirm-dialog")).to_contain_text(f"{number['a']} 资格评审")
    await exp_page.click("#confirm-ok")
    await expect(exp_page.locator("#prelim-done")).to_have_text(
        f"已判定 {len(number)}/{len(number)} 项"
    )
    await expect(exp_page.locator("#prelim-sheet .pf-signed")).to_have_count(len(number))
    for eid in committee[1:]:
        for bid in state["bids"]:
            await ex[eid].command(
                stream,
                "session.preliminary",
                {"bid": bid["bid_id"], "criterion": "qualification", "pass": True},
                sign=True,
            )
    await exp_page.click("#close-preliminary")  # the first expert chairs
    await expect(exp_page.locator("#phase")).to_have_text("详细评审")

    sup_ctx, sup_page = await open_page(
        browser, node, tmp_path, o.people["sup"], "#/supervisor?session=WB3-S1"
    )
    sup_errors = watch_console(sup_page)
    await expect(sup_page.locator("#phase")).to_have_text("详细评审")
    await expect(sup_page.locator('.venue[data-venue="lanzhou"]')).to_have_class(re.compile("up"))
    await expect(exp_page.locator("#checkin-status")).to_contain_text("已签到")

    # A clarification: an expert asks, the supervisor approves in its page, the bidder answers
    # (signed) in its own.
    asked = await ex[committee[1]].command(
        stream,
        "session.clarify_ask",
        {"company": "company-a", "question": "请说明冬季施工安排", "deadline_seconds": 600},
    )
    cid = asked["reply"]["id"]
    await sup_page.locator(f'#sup-clarifications li[data-id="{cid}"] .clar-approve').click()
    await expect(sup_page.locator("#sup-clarifications")).to_have_count(0)
    bid_ctx, bid_page = await open_page(
        browser, node, tmp_path, o.people["a"], "#/bidder?tender=WB3"
    )
    question = bid_page.locator(f'#clarifications li[data-id="{cid}"]')
    await expect(question).to_contain_text("请说明冬季施工安排")
    await question.locator(".clar-send").click()
    await expect(bid_page.locator(".toast.error")).to_contain_text("请填写答复内容")
    await question.locator(".clar-answer").fill("冬季停工两个月，已计入工期")
    await question.locator(".clar-send").click()
    await expect(question.locator(".badge")).to_have_text("已答复")
    await expect(question).to_contain_text("冬季停工两个月，已计入工期")
    await shot(bid_page, "bidder-clarification")
    await bid_ctx.close()

    # Out of range is refused in the page, before anything is sent.
    await exp_page.fill(f"#score-{number['a']}-tech", "31")
    await exp_page.click("#save-scores")
    await expect(exp_page.locator(".toast.error")).to_contain_text("0 至 30")
    for bidder, marks in TECH.items():
        await exp_page.fill(f"#score-{number[bidder]}-tech", marks[0])
    await exp_page.click("#save-scores")
    await expect(exp_page.locator("#confirm-dialog")).to_contain_text(TECH["a"][0])
    await exp_page.click("#confirm-ok")
    cell = sup_page.locator(
        f'#live-scores tr[data-expert="{first}"] [data-cell="{number["a"]}/tech"]'
    )
    await expect(cell).to_have_text(TECH["a"][0])
    await exp_page.click("#submit-scores")
    await expect(exp_page.locator("#confirm-dialog")).to_contain_text("4 项评分")
    await exp_page.click("#confirm-ok")
    await expect(exp_page.locator("#submitted")).to_be_visible()
    await shot(exp_page, "expert")
    # The same page in English, by the toggle: every label, phase names included.
    await exp_page.click("#lang-btn")
    await expect(exp_page.locator("#phase")).to_have_text("Detailed review")
    await expect(exp_page.locator("#submitted")).to_have_text("Submitted")
    labels = await exp_page.locator(
        "h1, .card > h2, dt, button:not(#lang-btn), label, .phase, .badge, th, #nav a, #checkin-status"
    ).all_inner_texts()
    # Only the tender's own data (its criterion's name) may stay Chinese.
    cjk = [x for x in labels if re.search(r"[\u4e00-\u9fff]", x) and "施工组织设计" not in x]
    assert not cjk, cjk
    await shot(exp_page, "expert-en")
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
    # Going back: the chair asks, the supervisor approves in the page; a signed note too.
    await ex[first].command(
        stream, "session.goback_request", {"to_phase": "detailed_review", "reason": "复核评分依据"}
    )
    await expect(sup_page.locator("#goback-request")).to_contain_text("复核评分依据")
    await sup_page.click("#goback-approve")
    await expect(sup_page.locator("#phase")).to_have_text("详细评审")
    await expect(sup_page.locator("#goback-request")).to_have_count(0)
    await sup_page.fill("#note-text", "已核实回退理由")
    await sup_page.click("#note-btn")
    await expect(sup_page.locator("#confirm-dialog")).to_contain_text("已核实回退理由")
    await sup_page.click("#confirm-ok")
    await expect(sup_page.locator("#notes")).to_contain_text("已核实回退理由")
    # Pausing is confirmed first and offered only while it can be: not once paused.
    await sup_page.click("#pause-btn")
    await expect(sup_page.locator("#confirm-dialog")).to_contain_text("暂停评标")
    await sup_page.click("#confirm-ok")
    await expect(sup_page.locator("#paused")).to_be_visible()
    await expect(sup_page.locator("#pause-btn")).to_be_disabled()
    await expect(sup_page.locator("#resume-btn")).to_be_enabled()
    assert not exp_errors and not sup_errors, (exp_errors, sup_errors)
    await sup_ctx.close()
    await exp_ctx.close()
    for c in [*o.clients.values(), *ops.values(), *ex.values()]:
        await c.close()


async def test_the_supervisor_checks_the_log_is_consistent_on_every_reconnect_and_sees_a_fork(
    browser: Any, node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = await _opened_tender(node, pool, tmp_path, "WB5")
    agency, sup = o.clients["agency"], o.clients["sup"]
    stream = "session:WB5-S1"
    draw = {"slots": SLOTS, "tenderer": "甘肃交通厅", "tenderer_region": "兰州", "min_credit": "60"}
    await agency.command(
        stream,
        "session.create",
        {"tender": "WB5", "section": "S1", "venues": VENUES, "method": METHOD, "draw": draw},
    )
    audit = node.node.extras["audit"]
    first = await audit.checkpoint_now(stream, "test")
    await audit.checkpoint_now(o.stream, "test")
    context, page = await open_page(
        browser, node, tmp_path, o.people["sup"], "#/supervisor?session=WB5-S1"
    )
    line = page.locator(f'.log-check[data-stream="{stream}"]')
    tender_line = page.locator(f'.log-check[data-stream="{o.stream}"]')
    # Said in words; the tree size is for the record (an attribute), not for the sentence.
    await expect(line).to_have_text(re.compile("^评标会话 WB5-S1✔ 日志一致$"))
    await expect(line).to_have_attribute("data-size", str(first.size))
    await expect(tender_line).to_have_attribute("data-state", "consistent")
    # The session goes on while the supervisor is offline; on reconnect the page proves the
    # grown log extends the head it kept (RFC 9162 consistency proof, checked in the page).
    await context.set_offline(True)
    await expect(page.locator("#banner")).to_have_attribute("data-state", "offline")
    await sup.command(stream, "session.annotate", {"text": "离线期间的记录"}, sign=True)
    grown = await audit.checkpoint_now(stream, "test")
    assert grown.size > first.size
    await context.set_offline(False)
    await expect(line).to_have_text(re.compile("✔ 日志一致$"))
    await expect(line).to_have_attribute("data-size", str(grown.size))
    await expect(line).to_have_attribute("data-trigger", "reconnect")
    kept = json.loads(
        await page.evaluate(
            f"localStorage.getItem('evalroom.logwatch.{o.people['sup'].user_id}.{stream}')"
        )
    )
    assert kept["size"] == grown.size
    await expect(page.locator("#log-status.forked")).to_have_count(0)

    # A server showing another history: validly signed with the log key, but the session's
    # new head does not extend the kept one (the consistency proof of that other history
    # fails) and the tender's has another root at the same size.
    key = await log_signing_key(pool)
    other = merkle.MerkleLog.from_leaf_hashes(
        [merkle.leaf_hash(b"forged %d" % i) for i in range(grown.size + 2)]
    )
    forged = sign_checkpoint(
        Checkpoint(audit.checkpoints.origin(stream), other.size, other.root()), KEY_NAME, key
    )
    tender_head = await audit.checkpoints.latest(o.stream)
    forged_tender = sign_checkpoint(
        Checkpoint(audit.checkpoints.origin(o.stream), tender_head.size, b"\x07" * 32),
        KEY_NAME,
        key,
    )
    b64 = lambda x: base64.b64encode(x).decode()  # noqa: E731
    proof = {"proof": [b64(p) for p in other.consistency_proof(grown.size)]}
    await page.route(f"**/api/log/{stream}/checkpoint", lambda r: r.fulfill(json={"note": forged}))
    await page.route(f"**/api/log/{stream}/proof/consistency?*", lambda r: r.fulfill(json=proof))
    await page.route(
        f"**/api/log/{o.stream}/checkpoint", lambda r: r.fulfill(json={"note": forged_tender})
    )
    await context.set_offline(True)
    await expect(page.locator("#banner")).to_have_attribute("data-state", "offline")
    await context.set_offline(False)
    alarm = page.locator("#log-status.forked")
    await expect(alarm).to_be_visible()
    await expect(line).to_have_attribute("data-state", "forked")
    await expect(line).to_contain_text(
        f"✘ 日志不一致：已校验的树大小 {grown.size}，服务器现给出树大小 {other.size}"
    )
    await expect(line).to_contain_text("一致性证明校验失败")
    await expect(tender_line).to_have_attribute("data-state", "forked")
    await expect(tender_line).to_contain_text("根哈希不同")
    assert await line.locator(".log-verdict").evaluate("e => getComputedStyle(e).color") == (
        "rgb(198, 40, 40)"
    )
    # The kept head is not replaced by the forged one, and the alarm stays after a reload
    # (in English): the evidence is kept in the browser.
    kept = json.loads(
        await page.evaluate(
            f"localStorage.getItem('evalroom.logwatch.{o.people['sup'].user_id}.{stream}')"
        )
    )
    assert kept["size"] == grown.size
    await shot(page, "supervisor-log-fork")
    await page.unroute_all()
    await page.click("#lang-btn")
    await expect(line).to_contain_text(
        f"✘ Log inconsistent: verified tree size {grown.size}, the server now shows tree size {other.size}"
    )
    await context.close()
    for c in o.clients.values():
        await c.close()


async def test_the_logout_button_revokes_the_pages_token_on_the_server(
    browser: Any, node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    person = await add_participant(pool, "agency", roles=[("agency", "platform")])
    context, page = await open_page(browser, node, tmp_path, person, "")
    token = await page.evaluate("window.evalroom.conn.token")
    bearer = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=node.url) as http:
        assert (await http.get("/api/tenders", headers=bearer)).status_code == 200
        await page.click("#logout-btn")
        await expect(page.locator("#login-btn")).to_be_visible()
        refused = await http.get("/api/tenders", headers=bearer)
        assert refused.status_code == 401 and refused.json()["code"] == "unauthenticated"
    await context.close()


def watch_console(page: Any) -> list[str]:
    """Every console error and uncaught exception of the page, collected from now on."""
    errors: list[str] = []
    page.on(
        "console",
        lambda m: (
            errors.append(f"{m.text} @ {m.location.get('url', '')}") if m.type == "error" else None
        ),
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


async def test_a_bidder_sees_only_its_own_pages_in_beijing_time_at_1024_px(
    browser: Any, node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = Opening(node, pool, tmp_path)
    opening_at = await o.setup("WB6", opening_in=3 * 3600, window=60)
    await o.bidder("a")
    context = await browser.new_context(
        viewport={"width": 1024, "height": 768}, locale="en-US", timezone_id="UTC"
    )
    page = await context.new_page()
    errors = watch_console(page)
    await page.goto(f"{node.url}/app/")
    await expect(page.locator("#login-btn")).to_be_visible()
    # A file that is not a key, and a key the platform does not know: sentences saying what to do.
    garbage = tmp_path / "garbage.key.json"
    garbage.write_text("not json")
    await page.set_input_files("#key-file", str(garbage))
    await page.click("#login-btn")
    await expect(page.locator("#login-error")).to_contain_text("不是有效的密钥文件")
    stranger = Participant("nobody-x", SigningKey.generate(), None)
    await page.set_input_files("#key-file", str(key_file(tmp_path, stranger)))
    await page.click("#login-btn")
    await expect(page.locator("#login-error")).to_contain_text("平台不认识这把密钥")
    # Chromium logs the refused login's HTTP status itself; from here on nothing may be logged.
    errors.clear()
    await page.set_input_files("#key-file", str(key_file(tmp_path, o.people["a"])))
    await page.click("#login-btn")
    await expect(page.locator("#who")).to_contain_text(o.people["a"].user_id)
    # Only the tabs of the roles held: a bidder has no 监督 (nor agency, expert, operator) tab.
    await expect(page.locator("#nav a")).to_have_count(1)
    await expect(page.locator("#nav-bidder")).to_have_text("投标人")
    await expect(page.locator("#nav-supervisor")).to_have_count(0)
    # The supervisor's page opened by hand says so and shows nothing of a supervisor's data.
    await page.goto(f"{node.url}/app/#/supervisor?session=WB6-S1")
    no_role = page.locator("#no-role")
    await expect(no_role).to_contain_text("无权限")
    await expect(page.locator("#phase, #live-scores, #sup-clarifications")).to_have_count(0)
    await shot(page, "no-role")
    # The navigation holds at 1024 px: no item wraps beyond two lines.
    await page.goto(f"{node.url}/app/#/bidder?tender=WB6")
    await expect(page.locator("#phase")).to_have_text("投标中")
    # Times are Beijing time, labelled, though this PC's clock is set to UTC; with a countdown.
    beijing = opening_at.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M:%S")
    await expect(page.locator("#opening-at")).to_have_text(f"{beijing} 北京时间")
    # Hours ahead (the margin stretches with the machine's load): hours, minutes, seconds.
    await expect(page.locator("#opening-countdown")).to_have_text(
        re.compile(r"^还剩 (\d+天 )?\d\d:\d\d:\d\d$")
    )
    for height, line in await page.locator("#nav a, #top .who > *").evaluate_all(
        "els => els.map(e => [e.getBoundingClientRect().height,"
        " parseFloat(getComputedStyle(e).lineHeight) || 20])"
    ):
        assert height <= 2.5 * line, (height, line)
    await shot(page, "bidder-1024")
    assert not errors, errors
    await context.close()
    # A user of every role: five tabs, each on one line, at 1024 px and at 1920 px; every
    # control of the page it opens has a label.
    everyone = await add_participant(
        pool,
        "everyone",
        org="甘肃省公路工程建设集团有限公司",
        roles=[(r, "platform") for r in ("bidder", "agency", "expert", "supervisor", "operator")],
    )
    for width in (1024, 1920):
        context = await browser.new_context(viewport={"width": width, "height": 800})
        page = await context.new_page()
        errors = watch_console(page)
        await page.goto(f"{node.url}/app/#/agency?tender=WB6")
        await page.set_input_files("#key-file", str(key_file(tmp_path, everyone)))
        await page.click("#login-btn")
        # The five roles' tabs, and the pool's, which a supervisor reads.
        await expect(page.locator("#nav a")).to_have_count(6)
        await expect(page.locator("#nav-pool")).to_be_visible()
        await expect(page.locator("main h1")).to_have_text("代理机构控制台")
        await expect(page.locator("#start-btn")).to_be_disabled()
        for height, line in await page.locator("#nav a").evaluate_all(
            "els => els.map(e => [e.getBoundingClientRect().height,"
            " parseFloat(getComputedStyle(e).lineHeight) || 20])"
        ):
            assert height <= 2.5 * line, (width, height, line)
        unlabelled = await page.locator("main input, main select, main textarea").evaluate_all(
            "els => els.filter(e => !e.labels.length && !e.getAttribute('aria-label'))"
            ".map(e => e.id || e.outerHTML)"
        )
        assert not unlabelled, unlabelled
        # Keyboard: the tabs are reached with Tab and followed with Enter.
        await page.focus("#nav-expert")
        await page.keyboard.press("Enter")
        await expect(page.locator("#nav-expert")).to_have_attribute("aria-current", "page")
        await shot(page, f"agency-{width}")
        assert not errors, errors
        await context.close()
    for c in o.clients.values():
        await c.close()


async def test_a_failed_opening_is_shown_with_its_reason_and_steps_follow_the_phase(
    browser: Any, node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = Opening(node, pool, tmp_path)
    opening_at = await o.setup("WB7", opening_in=5.0, window=120)
    for name, price in (("a", "1000000.00"), ("b", "980000.50"), ("c", "1025000.00")):
        await o.bidder(name)
        await o.bid(name, price)
    # c withdraws before the deadline: two valid bids at the opening, three required.
    await o.clients["c"].command(o.stream, "bid.withdraw", {"section": "S1"})
    await _wait_until(opening_at)
    await o.clients["agency"].command(o.stream, "opening.start")
    for name in ("a", "b"):
        await o.clients[name].command(o.stream, "opening.sign_in", sign=True)
        await o.clients[name].command(
            o.stream, "bid.release_key", {"section": "S1", "identity": o.bid_keys[f"{name}/single"]}
        )
    agency = o.clients["agency"]
    context, page = await open_page(
        browser, node, tmp_path, o.people["agency"], "#/agency?tender=WB7"
    )
    errors = watch_console(page)
    await expect(page.locator("#bid-status .s-decrypted")).to_have_count(2)
    # Each step is offered only when it can be taken.
    await expect(page.locator("#start-btn")).to_be_disabled()
    await expect(page.locator("#readout-btn")).to_be_disabled()
    await expect(page.locator("#sign-btn")).to_be_disabled()
    await expect(page.locator("#close-btn")).to_be_enabled()
    await agency.command(o.stream, "opening.close_window")
    await expect(page.locator("#close-btn")).to_be_disabled()
    await expect(page.locator("#readout-btn")).to_be_enabled()
    await agency.command(o.stream, "opening.read_out")
    failed = page.locator("#section-failed")
    await expect(failed).to_contain_text("流标")
    await expect(failed).to_contain_text("第一标段（S1）：有效投标 2 份，少于规定的 3 份")
    await expect(page.locator("#sign-btn")).to_be_enabled()
    await expect(page.locator("#readout-btn")).to_be_disabled()
    await shot(page, "agency-failed")
    # The bidder sees it too, first; an empty objection names the field and what to do.
    bctx, bpage = await open_page(browser, node, tmp_path, o.people["a"], "#/bidder?tender=WB7")
    berrors = watch_console(bpage)
    await expect(bpage.locator("#section-failed")).to_contain_text("少于规定的 3 份")
    await bpage.click("#object-btn")
    await expect(bpage.locator(".toast.error")).to_contain_text("“异议内容”为空")
    await expect(bpage.locator("#objection-text")).to_have_attribute("aria-invalid", "true")
    assert await bpage.locator("label:has(#objection-text)").count() == 1
    await expect(bpage.locator("#release-btn")).to_be_disabled()
    await expect(bpage.locator("#confirm-btn")).to_be_enabled()
    assert not errors and not berrors, (errors, berrors)
    await bctx.close()
    await context.close()
    for c in o.clients.values():
        await c.close()


async def test_an_admin_imports_the_pool_and_suspends_an_expert_a_supervisor_only_reads(
    browser: Any, node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    admin = await add_participant(pool, "admin", roles=[("admin", "platform")])
    sup = await add_participant(pool, "sup", roles=[("supervisor", "tender:T-pool")])
    keys = [SigningKey.generate().public.to_string() for _ in range(2)]
    header = "user_id,name,specialties,region,employer,credit,relations,signing_key\r\n"
    good = tmp_path / "pool.csv"
    good.write_bytes(
        b"\xef\xbb\xbf"
        + (
            header
            + f"pe-1,张三,公路;桥梁,兰州,兰州设计院,85,company-x,{keys[0]}\r\n"
            + f"pe-2,李四,公路,天水,天水监理,90,,{keys[1]}\r\n"
        ).encode()
    )
    bad = tmp_path / "bad.csv"
    bad.write_bytes((header + "pe-3,王五,公路,兰州,院,abc,,\r\n").encode())

    context, page = await open_page(browser, node, tmp_path, admin, "#/pool")
    await expect(page.locator("#nav-pool")).to_be_visible()
    await expect(page.locator("#pool-empty")).to_be_visible()
    # Every input is labelled.
    for input_id in ("#pool-file", "#pool-reason"):
        assert await page.locator(f"label:has({input_id})").count() == 1
    await page.set_input_files("#pool-file", str(bad))
    await page.click("#pool-import-btn")
    await page.click("#confirm-ok")
    await expect(page.locator("#toasts")).to_contain_text("第 2 行 credit")
    # Chromium logs the refused import's HTTP status itself; from here on nothing may be logged.
    errors = watch_console(page)
    await page.set_input_files("#pool-file", str(good))
    await page.click("#pool-import-btn")
    await expect(page.locator("#confirm-dialog")).to_contain_text("pool.csv")
    await page.click("#confirm-ok")
    await expect(page.locator("#pool-import-result")).to_contain_text("新增 2")
    row = page.locator('tr[data-expert="pe-1"]')
    await expect(row).to_contain_text("兰州设计院")
    await expect(row).to_contain_text("可抽取")
    snapshot = await pool_snapshot(type("Ctx", (), {"pool": pool})())  # type: ignore[arg-type]
    await expect(page.locator("#pool-digest")).to_have_text(
        pool_digest(ExpertPool.from_dict(snapshot))
    )
    # Suspending needs a reason and a confirmation; cancelling does nothing.
    await page.fill("#pool-reason", "违规被投诉")
    await row.locator('button[data-action="suspend"]').click()
    await page.click("#confirm-cancel")
    await expect(row).to_contain_text("可抽取")
    await row.locator('button[data-action="suspend"]').click()
    await expect(page.locator("#confirm-dialog")).to_contain_text("违规被投诉")
    await page.click("#confirm-ok")
    await expect(row).to_contain_text("已暂停：违规被投诉")
    state = await pool.fetchval("SELECT suspended_reason FROM experts WHERE user_id = 'pe-1'")
    assert state == "违规被投诉"
    await shot(page, "pool-admin")
    assert errors == []
    await context.close()

    # A supervisor reads the same list and digest, with no import and no buttons.
    context, page = await open_page(browser, node, tmp_path, sup, "#/pool")
    await expect(page.locator('tr[data-expert="pe-1"]')).to_contain_text("已暂停")
    assert await page.locator("#pool-file").count() == 0
    assert await page.locator("button[data-action]").count() == 0
    await context.close()


async def test_the_supervisor_follows_the_award_read_only_with_the_publicity_in_beijing_time(
    browser: Any, node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = await _opened_tender(node, pool, tmp_path, "WB9")
    stream = "session:WB9-S1"
    number = await closed_by_lowest_price(o, pool, node, stream, "WB9")
    owner = await add_participant(pool, "owner", org="甘肃交通厅", roles=[("tenderer", o.stream)])
    tenderer = await owner.client(node.url)
    people = [await add_participant(pool, f"m{i}", org="甘肃交通厅") for i in range(5)]
    members = {p.user_id: await p.client(node.url) for p in people}
    ids = list(members)
    sup = o.clients["sup"]
    context, page = await open_page(
        browser, node, tmp_path, o.people["sup"], "#/supervisor?session=WB9-S1"
    )
    await expect(page.locator("#phase")).to_have_text("评标结束")
    # A long 公示 window: the page counts it down; nobody waits for it here.
    method = {"kind": "vote_lot", "finalists": 2}
    setup = {"method": method, "members": ids, "chair": ids[0], "objection_seconds": 7200}
    await tenderer.command(stream, "award.setup", setup)
    await expect(page.locator("#award-method")).to_have_text("票决抽签法")
    await expect(page.locator("#award-phase")).to_have_text("定标委员会签到")
    seed = secrets.token_bytes(32)
    commitment = hashlib.sha256(seed).hexdigest()
    await sup.command(stream, "award.commit_seed", {"commitment": commitment})
    for m in ids:
        await members[m].command(stream, "award.sign_in", sign=True)
    await sup.command(stream, "award.sign_in", sign=True)
    await expect(page.locator("#award-seed")).to_have_text(commitment)
    await expect(page.locator("#award-committee")).to_contain_text("5/5")
    await expect(page.locator("#award-phase")).to_have_text("投票")
    for m, bid in zip(ids, [number["d"]] * 3 + [number["a"]] * 2, strict=True):
        await members[m].command(stream, "award.vote", {"round": 1, "candidate": bid}, sign=True)
    await expect(page.locator('#award-rounds tr[data-round="1"]')).to_contain_text(
        f"{number['d']} company-d 3"
    )
    await sup.command(stream, "award.reveal_seed", {"seed": seed.hex()})
    award = (await pool.fetchval("SELECT state FROM streams WHERE name = $1", stream))["award"]
    pick = award["report"]["winner"]["bid_id"]
    await expect(page.locator("#award-pick")).to_contain_text(pick)
    await expect(page.locator("#award-finalists")).to_contain_text(number["d"])
    for m in ids:
        body = {"award_digest": award["award_digest"]}
        await members[m].command(stream, "award.sign_report", body, sign=True)
    await expect(page.locator("#award-phase")).to_have_text("中标候选人公示")
    await expect(page.locator("#award-winner")).to_contain_text(pick)
    # The deadline in Beijing time, labelled, whatever the PC's zone; and a live countdown.
    award = (await pool.fetchval("SELECT state FROM streams WHERE name = $1", stream))["award"]
    until = award["publicity"]["until"]
    bj = datetime.fromisoformat(until).astimezone(timezone(timedelta(hours=8)))
    await expect(page.locator("#award-until")).to_contain_text(
        bj.strftime("%Y-%m-%d %H:%M:%S") + " 北京时间"
    )
    await expect(page.locator("#award-countdown")).to_contain_text("还剩")
    objection = await o.clients["b"].command(
        stream, "award.object", {"text": "我公司报价最低，请说明未中标理由"}, sign=True
    )
    oid = objection["reply"]["id"]
    item = page.locator(f'#award-objections li[data-id="{oid}"]')
    await expect(item).to_contain_text("未答复")
    await tenderer.command(stream, "award.answer", {"id": oid, "answer": "依票决抽签法办理"})
    await expect(item).to_contain_text("依票决抽签法办理")
    await expect(item).to_have_attribute("data-answered", "1")
    # Read-only: the award card sends no command.
    award_card = page.locator("section.card", has=page.locator("#award-method"))
    await expect(award_card.locator("button, input, select")).to_have_count(0)
    await shot(page, "supervisor-award")
    await context.close()
    for client in [tenderer, *members.values(), *o.clients.values()]:
        await client.close()
