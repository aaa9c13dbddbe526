"""The agency sets a tender up in its page alone (issues 11 and 15): headless Chromium driven by
Playwright against a real in-process node.

The set-up form builds the tender's rules and scoring method (a control price, a criterion
scored in a range) from labelled inputs; a bad value is refused beside its field, in the page
and by the server, and changes nothing; the opening key is made in the page and its 2-of-3
shares downloaded, which ``crypto.shamir`` combines into the identity of the recipient sent;
the supervising authority and the platform's admin appoint a supervisor and a site operator
from their own pages, the keyholders named in the rules hold their role; the agency publishes
and sees the countdown; the tender's stream holds exactly the config the page showed. The
page's GF(2^128) Shamir (clients/web/js/shamir.js) agrees with pycryptodome's both ways."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from crypto import age
from crypto.shamir import combine_shares, split_secret
from evalroom.domain.tender_config import TenderConfig
from tests.chromium import launched
from tests.support import InProcessNode, add_participant
from tests.test_browser import open_page, shot, watch_console

pytestmark = [pytest.mark.browser, pytest.mark.slow]

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is not installed (pip install playwright)"
)
expect = playwright_api.expect

from tests import webflows  # noqa: E402  (needs Playwright, checked just above)


@pytest_asyncio.fixture(loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    async with launched(playwright_api) as b:
        yield b


async def _stream(pool: asyncpg.Pool, name: str) -> tuple[dict[str, Any] | None, list[Any]]:
    state = await pool.fetchval("SELECT state FROM streams WHERE name = $1", name)
    events = await pool.fetch(
        "SELECT type, payload FROM events WHERE stream = $1 ORDER BY seq", name
    )
    return state, events


async def test_the_agency_sets_a_tender_up_makes_its_key_appoints_and_publishes_in_the_page(
    browser: Any, node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    agency = await add_participant(pool, "agency", roles=[("agency", "platform")])
    authority = await add_participant(pool, "authority", roles=[("authority", "platform")])
    admin = await add_participant(pool, "admin", roles=[("admin", "platform")])
    sup, op = await add_participant(pool, "sup"), await add_participant(pool, "op")
    keyholders = [(await add_participant(pool, f"kh{i}")).user_id for i in (1, 2, 3)]
    tender = f"WA-{secrets.token_hex(3)}"
    stream = f"tender:{tender}"
    opening_at = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)

    context, page = await open_page(browser, node, tmp_path, agency, "#/agency")
    errors = watch_console(page)
    await webflows.fill_tender_form(
        page,
        tender=tender,
        keyholders=[*keyholders[:2], "nobody-registered"],
        opening_at=opening_at,
        control_price={"limit": "1040000.00", "floor_ratio": "0.85"},
        criteria=[
            {"id": "qualification", "name": "资格评审", "kind": "pass_fail"},
            {"id": "technical", "name": "施工组织设计", "kind": "expert", "max": "0"},
            {
                "id": "quality",
                "name": "质量保证措施",
                "kind": "expert",
                "max": "2",
                "scale": "range",
                "low": "1",
                "high": "2",
            },
            {"id": "price", "name": "投标报价", "kind": "price", "max": "70"},
        ],
    )
    # The deadline is shown in Beijing time, labelled, whatever the PC's zone.
    local = webflows.beijing_local(opening_at).replace("T", " ")
    await expect(page.locator("#setup-deadline")).to_have_text(f"{local}:00 北京时间")
    await expect(page.get_by_label("开标时间（北京时间）")).to_have_value(local.replace(" ", "T"))
    # A bad value is named beside its field, in words, and nothing is sent.
    await page.click("#setup-next")
    error = page.locator("#crit-1-max-error")
    await expect(error).to_have_text("“评审因素 2 的满分”应大于 0。")
    await expect(page.locator("#crit-1-max")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#setup-summary")).to_contain_text("1 处需要修改")
    await expect(page.locator("#confirm-dialog")).to_have_count(0)
    await shot(page, "agency-setup-error")
    await page.fill("#crit-1-max", "30")
    # The opening key is made here; the share files are offered, one per keyholder.
    recipient, shares = await webflows.make_opening_key(page, tmp_path, 3)
    assert recipient.startswith("age1")
    assert [p.name for p in shares] == [f"{tender}-share-{i}.txt" for i in (1, 2, 3)]
    # The server refuses a keyholder who is not registered, beside that keyholder's input.
    await page.click("#setup-next")
    await page.click("#confirm-ok")
    await expect(page.locator("#setup-keyholder-2-error")).to_contain_text("config.keyholders[2]")
    await expect(page.locator("#setup-keyholder-2")).to_have_attribute("aria-invalid", "true")
    state, _ = await _stream(pool, stream)
    assert state is None  # bad input changes nothing
    await page.fill("#setup-keyholder-2", keyholders[2])
    preview = json.loads(await page.locator("#setup-json").text_content() or "{}")
    await page.click("#setup-json-details summary")
    await shot(page, "agency-setup-form")
    sent = await webflows.create_tender(page)
    assert sent == preview and sent["type"] == "tender.create"
    config = sent["body"]["config"]
    assert config["opening_recipient"] == recipient
    assert config["opening_at"] == opening_at.isoformat()
    assert config["keyholders"] == keyholders

    # The stream holds exactly the rules the page showed; the method is published with them.
    state, events = await _stream(pool, stream)
    assert state is not None and state["config"] == config
    configured = next(e["payload"] for e in events if e["type"] == "tender.configured")
    parsed = TenderConfig.from_dict(config)
    assert parsed.method is not None and configured["method"] == parsed.method.to_dict()
    assert configured["sections"][0]["control_price"] == {
        "limit": "1040000.00",
        "floor_ratio": "0.85",
    }
    assert configured["method"]["criteria"][2]["scale"] == {"low": "1", "high": "2"}
    assert configured["keyholders"] == keyholders

    # Any two of the three downloaded shares rebuild the identity of the recipient sent.
    texts = [p.read_text(encoding="ascii").strip() for p in shares]
    for pair in ((0, 1), (0, 2), (1, 2)):
        secret = combine_shares([texts[i] for i in pair])
        assert age.to_recipient(age.identity_from_secret(secret)) == recipient
    # The shares also stay on the tender's page until handed out (memory only).
    await expect(page.locator("#share-link-3")).to_be_visible()

    # The agency may not appoint supervisors or site operators; it may name the tenderer's
    # representative before publishing.
    role = page.locator("#grant-role")
    await expect(role.locator('option[value="supervisor"]')).to_be_disabled()
    await expect(role.locator('option[value="operator"]')).to_be_disabled()
    await expect(page.locator("#grant-btn")).to_be_enabled()
    # The supervising authority and the platform admin appoint from their own pages.
    actx, apage = await open_page(browser, node, tmp_path, authority, f"#/agency?tender={tender}")
    await expect(apage.locator("#start-btn")).to_have_count(0)
    await webflows.grant_in_page(apage, sup.user_id, "supervisor")
    await expect(apage.locator(f'#grant-table tr[data-user="{sup.user_id}"]')).to_have_count(1)
    dctx, dpage = await open_page(browser, node, tmp_path, admin, f"#/agency?tender={tender}")
    await dpage.select_option("#grant-role", "operator")
    await dpage.fill("#grant-user", op.user_id)
    await dpage.click("#grant-btn")  # no venue: named beside the form, nothing sent
    await expect(dpage.locator("#grant-error")).to_have_text("请填写“场地编号”。")
    await expect(dpage.locator("#confirm-dialog")).to_have_count(0)
    await dpage.fill("#grant-venue", "lanzhou")
    await dpage.click("#grant-btn")
    dialog = dpage.locator("#confirm-dialog")
    await expect(dialog).to_contain_text("lanzhou")
    await expect(dialog.locator("pre")).to_contain_text('"type": "tender.grant"')
    await dpage.click("#confirm-ok")
    await expect(dialog).to_have_count(0)
    roles = {
        (r["user_id"], r["role"], r["venue"])
        for r in await pool.fetch("SELECT user_id, role, venue FROM roles WHERE scope = $1", stream)
    }
    assert (sup.user_id, "supervisor", "") in roles
    assert (op.user_id, "operator", "lanzhou") in roles
    assert {(u, "keyholder", "") for u in keyholders} <= roles
    await expect(page.locator(f'#grant-table tr[data-user="{op.user_id}"]')).to_contain_text(
        "lanzhou"
    )

    # Publishing: confirmed, then the countdown to the opening; no more tenderer appointments.
    await webflows.publish_in_page(page)
    await expect(page.locator(".countdown")).to_contain_text("还剩")
    await expect(page.locator("#publish-btn")).to_be_hidden()
    await expect(page.locator("#grant-btn")).to_be_disabled()
    await shot(page, "agency-published")
    _, events = await _stream(pool, stream)
    assert [e["type"] for e in events].count("tender.published") == 1
    assert errors == []
    for c in (context, actx, dctx):
        await c.close()


async def test_the_pages_shamir_agrees_with_crypto_shamir_both_ways(
    browser: Any, node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    agency = await add_participant(pool, "agency", roles=[("agency", "platform")])
    context, page = await open_page(browser, node, tmp_path, agency, "#/agency")
    module = "import('/app/js/shamir.js')"
    for k, n in ((2, 3), (3, 5), (2, 2), (5, 7)):
        secret = secrets.token_bytes(32)
        # Python splits, the page combines (any k of them).
        python_shares = split_secret(secret, k, n)
        combined = await page.evaluate(
            f"s => {module}.then(async m => Array.from(await m.combineShares(s)))",
            python_shares[n - k :],
        )
        assert bytes(combined) == secret
        # The page splits, Python combines k of them, and all n agree.
        page_shares = await page.evaluate(
            f"([s, k, n]) => {module}.then(m => m.splitSecret(Uint8Array.from(s), k, n))",
            [list(secret), k, n],
        )
        assert combine_shares(page_shares[:k]) == secret
        assert combine_shares(page_shares) == secret
        assert combine_shares(page_shares[n - k :]) == secret
    # The page's opening key: its shares rebuild an identity whose recipient it reported.
    made = await page.evaluate(
        "import('/app/js/views/agency_setup.js').then(m => m.makeOpeningKey(2, 3))"
    )
    identity = age.identity_from_secret(combine_shares(made["shares"][1:]))
    assert age.to_recipient(identity) == made["recipient"]
    await context.close()
