"""The bidder's and the keyholder's pages end to end (issue 15): headless Chromium driven by
Playwright against a real in-process node over real sockets.

A bidder seals both envelopes of a two-envelope tender in the page (the bid form and the
documents packed and sealed streamed to the opening key and a fresh per-bid key kept in the
browser's vault), the platform holds only ciphertext that ``crypto.age`` and the ``age`` CLI
open with the opening identity, and at each stage of the opening the page releases the key,
once from its own vault and once after restoring the passphrase backup into a fresh browser.
A keyholder hands in a share from its page during the committee fallback, and the bid opens
with k shares. Every wait is on what the page shows."""

from __future__ import annotations

import asyncio
import io
import json
import re
import secrets
import shutil
import subprocess
import zipfile
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from crypto import age
from crypto.bidpackage import read_form, read_origin
from crypto.origin import keyed_hash, origin_key
from crypto.shamir import combine_shares
from evalroom.db import blobs
from tests.chromium import launched
from tests.support import InProcessNode
from tests.test_browser import open_page, shot, watch_console
from tests.test_opening import Opening, _wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AGE_CLI = shutil.which("age")
PASSPHRASE = "投标密钥备份口令 2026"
OK = re.compile(r"\bok\b")

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is not installed (pip install playwright)"
)
expect = playwright_api.expect


@pytest_asyncio.fixture(loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    async with launched(playwright_api) as b:
        yield b


async def _state(o: Opening) -> dict[str, Any]:
    state: dict[str, Any] = await o.pool.fetchval(
        "SELECT state FROM streams WHERE name = $1", o.stream
    )
    return state


async def _uploads(pool: asyncpg.Pool, user: str) -> list[bytes]:
    """What the platform stores of a user's uploads, byte for byte, oldest first."""
    ids = await pool.fetch(
        "SELECT id FROM uploads WHERE uploader = $1 AND complete ORDER BY created_at, id", user
    )
    out = []
    for row in ids:
        out.append(b"".join([chunk async for chunk in blobs.chunks(pool, row["id"])]))
    return out


def _age_cli_decrypt(sealed: bytes, identity: str, tmp: Path) -> bytes:
    key = tmp / "opening.identity"
    key.write_text(identity + "\n")
    key.chmod(0o600)
    done = subprocess.run(
        [str(AGE_CLI), "-d", "-i", str(key)], input=sealed, capture_output=True, check=True
    )
    return done.stdout


async def _seal_in_page(
    page: Any, envelope: str, field: str, value: str, files: list[Path]
) -> None:
    await page.fill(f"#f-{envelope}-{field}", value)
    await page.set_input_files(f"#att-{envelope}", [str(f) for f in files])
    await expect(page.locator(f"#att-{envelope}-summary")).to_contain_text(
        f"已选 {len(files)} 个文件"
    )
    await page.click(f"#seal-btn-{envelope}")
    dialog = page.locator("#confirm-dialog")
    await expect(dialog).to_contain_text("密封并递交")
    for f in files:
        await expect(dialog).to_contain_text(f.name)
    await page.click("#confirm-ok")
    state = page.locator(f"#seal-state-{envelope}")
    await expect(state).to_contain_text("已递交", timeout=60_000)
    await expect(state).to_have_class(OK)
    await expect(page.locator(f"#seal-progress-{envelope}")).to_have_attribute("value", "100")


async def test_a_bidder_seals_two_envelopes_in_the_page_and_releases_their_keys_at_the_opening(
    browser: Any, node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    forms = {
        "technical": [{"name": "duration_days", "type": "int", "label": "工期（日历天）"}],
        "commercial": [{"name": "price", "type": "decimal", "label": "投标报价（元）"}],
    }
    o = Opening(node, pool, tmp_path)
    # Room for the others' four CLI uploads and the page's two seals before the deadline.
    opening_at = await o.setup(
        "WS1", opening_in=30.0, window=300, envelopes=("technical", "commercial"), forms=forms
    )
    for i, name in enumerate(("b", "c")):
        await o.bidder(name)
        await o.bid(name, "", "technical", {"duration_days": 100 + i})
        await o.bid(name, "", "commercial", {"price": f"{700000 + i}.00"})
    await o.bidder("a")
    marker = secrets.token_hex(16)
    plan = tmp_path / "技术方案.txt"
    plan.write_text(f"施工组织设计 {marker}\n" * 2000, encoding="utf-8")
    scan = tmp_path / "资质证书.pdf"
    scan.write_bytes(b"%PDF-1.4 " + secrets.token_bytes(300_000))
    price_doc = tmp_path / "报价明细.txt"
    price_doc.write_text(f"报价明细 {marker}\n", encoding="utf-8")

    context, page = await open_page(browser, node, tmp_path, o.people["a"], "#/bidder?tender=WS1")
    errors = watch_console(page)
    await expect(page.locator("#seal-card")).to_be_visible()
    await expect(page.locator("#seal-recipient")).to_have_text(o.recipient)
    await expect(page.locator("#nav-keyholder")).to_have_count(0)
    # A field left empty is named, and nothing is sealed.
    await page.click("#seal-btn-technical")
    state = page.locator("#seal-state-technical")
    await expect(state).to_contain_text("“工期（日历天）”未填写")
    await expect(page.locator("#f-technical-duration_days")).to_have_attribute(
        "aria-invalid", "true"
    )
    await page.fill("#f-commercial-price", "-5")
    await page.click("#seal-btn-commercial")
    await expect(page.locator("#seal-state-commercial")).to_contain_text("应为金额")
    await shot(page, "bidder-seal-form")
    # Cancelling the dialog sends nothing.
    await page.fill("#f-technical-duration_days", "150")
    await page.click("#seal-btn-technical")
    await expect(page.locator("#confirm-dialog")).to_contain_text("150")
    await page.click("#confirm-cancel")
    await expect(page.locator("#confirm-dialog")).to_have_count(0)
    assert await _uploads(pool, o.people["a"].user_id) == []

    await _seal_in_page(page, "technical", "duration_days", "150", [plan, scan])
    # Thousands separators as people type them; the form carries the plain decimal.
    await _seal_in_page(page, "commercial", "price", "765,432.10", [price_doc])
    receipts = page.locator(".receipt")
    await expect(receipts).to_have_count(2)
    await expect(receipts.locator(".receipt-verdict.ok")).to_have_count(2)
    await expect(receipts.locator(".receipt-file.ok")).to_have_count(2)
    # The keys are in this browser; it asks for a backup until one is downloaded.
    await expect(page.locator("#bid-key-list tbody tr")).to_have_count(2)
    await expect(page.locator("#backup-needed")).to_be_visible()
    await shot(page, "bidder-sealed")
    await page.fill("#backup-pass", "short")
    await page.fill("#backup-pass2", "short")
    await page.click("#backup-btn")
    await expect(page.locator("#toasts")).to_contain_text("至少需要 12 个字符")
    await page.fill("#backup-pass", PASSPHRASE)
    await page.fill("#backup-pass2", PASSPHRASE)
    async with page.expect_download() as download_info:
        await page.click("#backup-btn")
    download = await download_info.value
    backup = tmp_path / "WS1.bidkeys-backup.json"
    await download.save_as(str(backup))
    await expect(page.locator("#backup-done")).to_be_visible()
    assert json.loads(backup.read_text())["format"] == "evalroom-bid-key-backup/1"
    assert marker not in backup.read_text()

    # The platform holds ciphertext only: age files, without the plaintext, that the opening
    # identity opens into the bid package the opening reads.
    stored = await _uploads(pool, o.people["a"].user_id)
    assert len(stored) == 2
    opening_identity = age.identity_from_secret(combine_shares(o.shares[:2]))
    assert age.to_recipient(opening_identity) == o.recipient
    expected = [
        ({"duration_days": 150}, [plan.name, scan.name]),
        ({"price": "765432.10"}, [price_doc.name]),
    ]
    origins = []
    for sealed, (form, names) in zip(stored, expected, strict=True):
        assert sealed.startswith(b"age-encryption.org/v1\n-> X25519 ")
        assert marker.encode() not in sealed and b"765432" not in sealed
        header = age.inspect_header(io.BytesIO(sealed))
        assert len(header.stanzas) == 2  # the bid's own key and the opening key
        plain = age.decrypt_bytes(sealed, [opening_identity])
        assert read_form(io.BytesIO(plain)) == (form, names)
        with zipfile.ZipFile(io.BytesIO(plain)) as archive:
            origins.append(read_origin(archive))
        if AGE_CLI:
            cli = await asyncio.to_thread(_age_cli_decrypt, sealed, opening_identity, tmp_path)
            assert cli == plain
    # A page can give only its install id, as a keyed hash: the same for both envelopes sealed
    # in this browser profile, and the hash crypto/origin.py makes of that id.
    install_id = await page.evaluate("localStorage.getItem('evalroom.install_id')")
    expected_hash = keyed_hash(origin_key(o.tender, o.recipient), "install_id", install_id)
    assert origins[0] == origins[1] == {"install_id": frozenset({expected_hash})}
    assert install_id.encode() not in plain

    # The technical stage: the page signs in and releases the key from its own vault.
    await _wait_until(opening_at)
    await o.clients["agency"].command(o.stream, "opening.start")
    mine = page.locator("#bid-status tr.mine .badge")
    await expect(mine).to_have_text("等待解密")
    await page.click("#release-btn")
    dialog = page.locator("#confirm-dialog")
    await expect(dialog).to_contain_text("签到并解密")
    await expect(dialog).to_contain_text("以您本人的密钥签名")
    await expect(dialog).to_contain_text("本浏览器")
    await expect(dialog).not_to_contain_text("AGE-SECRET-KEY")
    await shot(page, "bidder-release-dialog")
    await page.click("#confirm-ok")
    await expect(mine).to_have_text("已解密")
    await expect(page.locator("#signed-in")).to_have_text("已签到")
    state_after = await o.ceremony(("b", "c"))
    assert state_after["phase"] == "technical_opened"
    technical = state_after["opening"]["technical"]["bids"]
    own = next(b for b in technical.values() if b["org"] == "company-a")
    assert own["status"] == "decrypted" and own["form"] == {"duration_days": 150}
    await context.close()

    # The commercial stage, from a fresh browser (its vault empty): the backup file and its
    # passphrase bring the key back, and the page releases it.
    await o.clients["agency"].command(
        o.stream, "opening.start_commercial", {"passed": sorted(technical)}
    )
    context, page = await open_page(browser, node, tmp_path, o.people["a"], "#/bidder?tender=WS1")
    errors2 = watch_console(page)
    mine = page.locator("#bid-status tr.mine .badge")
    await expect(mine).to_have_text("等待解密")
    await expect(page.locator("#no-bid-keys")).to_be_visible()
    # Without a key the release says where to get one, and nothing is sent.
    await page.click("#release-btn")
    await expect(page.locator("#toasts")).to_contain_text("用备份文件恢复")
    await expect(page.locator("#confirm-dialog")).to_have_count(0)
    await page.click("#restore summary")
    await page.set_input_files("#restore-file", str(backup))
    await page.fill("#restore-pass", "wrong passphrase!")
    await page.click("#restore-btn")
    await expect(page.locator("#toasts")).to_contain_text("备份口令不正确")
    await page.fill("#restore-pass", PASSPHRASE)
    await page.click("#restore-btn")
    await expect(page.locator("#bid-key-list tbody tr")).to_have_count(2)
    await page.click("#release-btn")
    await page.click("#confirm-ok")
    await expect(mine).to_have_text("已解密")
    final = await o.ceremony(("b", "c"))
    assert final["phase"] == "opened"
    commercial = final["opening"]["commercial"]["bids"]
    own = next(b for b in commercial.values() if b["org"] == "company-a")
    assert own["status"] == "decrypted" and own["form"] == {"price": "765432.10"}
    await expect(page.locator("#read-out")).to_contain_text("765,432.10")
    await shot(page, "bidder-commercial-opened")
    assert errors == [] and errors2 == []
    await context.close()
    for c in o.clients.values():
        await c.close()


async def test_a_keyholder_hands_in_a_share_from_the_page_and_the_bid_opens(
    browser: Any, node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = Opening(node, pool, tmp_path)
    opening_at = await o.setup("WK1", opening_in=5.0, window=4)
    for name, price in (("a", "1000000.00"), ("b", "980000.50"), ("c", "1025000.00")):
        await o.bidder(name)
        await o.bid(name, price)
    await _wait_until(opening_at)
    await o.clients["agency"].command(o.stream, "opening.start")
    for name in ("a", "b"):  # c never releases its key
        await o.clients[name].command(o.stream, "opening.sign_in", sign=True)
        await o.clients[name].command(
            o.stream, "bid.release_key", {"section": "S1", "identity": o.bid_keys[f"{name}/single"]}
        )
    state = await _state(o)
    c_number = next(
        n for n, b in state["opening"]["single"]["bids"].items() if b["org"] == "company-c"
    )

    context, page = await open_page(browser, node, tmp_path, o.people["kh2"], "#/keyholder")
    errors = watch_console(page)
    await expect(page.locator("#nav-keyholder")).to_have_attribute("aria-current", "page")
    await expect(page.locator("#nav-bidder")).to_have_count(0)
    item = page.locator('#tender-list li[data-tender="WK1"]')
    await expect(item).to_contain_text("公路养护工程")
    await item.locator("a").click()
    await expect(page.locator("#phase")).to_have_text("开标中")
    await expect(page.locator("#no-fallback")).to_be_visible()
    await expect(page.locator("#share-btn")).to_be_disabled()
    # A file that is not a share is refused in the page, naming the field.
    bad = tmp_path / "notes.txt"
    bad.write_text(o.shares[1][:-1] + ("0" if o.shares[1][-1] != "0" else "1") + "\n")
    await page.set_input_files("#share-file", str(bad))
    await expect(page.locator("#share-info")).to_contain_text("“密钥分片文件”不是有效的分片")

    # The window passes with c's bid unopened: the committee fallback.
    await _wait_until(datetime.fromisoformat(state["opening"]["single"]["window_ends"]))
    await o.clients["agency"].command(o.stream, "opening.close_window")
    fallback = page.locator("#fallback")
    await expect(fallback).to_contain_text(c_number)
    await expect(page.locator("#share-btn")).to_be_enabled()
    await o.clients["kh1"].command(o.stream, "opening.share", {"share": o.shares[0]}, sign=True)
    await expect(page.locator("#shares-received")).to_contain_text("1/2")

    share_file = tmp_path / "share-2.txt"
    share_file.write_text(o.shares[1] + "\n")
    await page.set_input_files("#share-file", str(share_file))
    await expect(page.locator("#share-info")).to_contain_text("分片 2/3")
    await page.click("#share-btn")
    dialog = page.locator("#confirm-dialog")
    await expect(dialog).to_contain_text("提交开标密钥分片")
    await expect(dialog).to_contain_text("以您本人的密钥签名")
    await expect(dialog).to_contain_text("分片 2/3")
    await expect(dialog).to_contain_text(c_number)
    await dialog.locator("summary").click()
    await expect(dialog.locator("pre")).to_contain_text(o.shares[1])
    await shot(page, "keyholder-confirm-dialog")
    await page.click("#confirm-ok")
    badge = page.locator(f'#bid-status tr[data-bid="{c_number}"] .badge')
    await expect(badge).to_have_text("已解密")
    await expect(page.locator("#share-submitted")).to_be_visible()
    await expect(page.locator("#no-fallback")).to_be_visible()
    await expect(page.locator("#share-btn")).to_be_disabled()
    await shot(page, "keyholder")
    state = await _state(o)
    opened = state["opening"]["single"]["bids"][c_number]
    assert opened["status"] == "decrypted" and opened["form"]["price"] == "1025000.00"
    assert await pool.fetchval("SELECT count(*) FROM opening_shares") == 0
    assert errors == []
    await context.close()
    for c in o.clients.values():
        await c.close()
