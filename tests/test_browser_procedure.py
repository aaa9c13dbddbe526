"""A whole remote procedure in browser pages only (issue 15), several contexts at once.

Accounts exist (the platform registers people and their keys); from there every step is a
person in a page: the admin imports the expert pool; the agency sets the tender up from the
form, makes the opening key in its page and downloads the keyholders' shares; the supervising
authority appoints the supervisor and the admin the venues' operators; the agency publishes;
three bidders seal and upload in their pages; at the opening two release their keys from their
pages and one does not, so two keyholders hand in their shares in theirs; the agency reads out
and signs, the supervisor signs in its page; the agency hands the bids over to an evaluation
session from its form; the supervisor runs and checks the draw; the experts check in at their
venues and the operators confirm; the chair is elected, the preliminary review passed, a
clarification asked, approved and answered, the scores given with one deviating and
explained, the report signed; the report (HTML, PDF) and the evidence bundle are downloaded
and the bundle verifies. Every page is photographed (to EVALROOM_SCREENSHOTS, a temporary
folder unless set) and no page logs a console error.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from clients.verify import load_bundle, verify_bundle
from crypto.keys import SigningKey
from tests.support import InProcessNode, Participant, add_participant
from tests.test_browser import browser, shot, watch_console  # noqa: F401  (the fixture)
from tests.test_browser_bidder import _seal_in_page
from tests.test_opening import _wait_until
from tests.webflows import grant_in_page, publish_in_page, set_up_tender
from tests.webflows_session import (
    approve_clarification,
    ask_clarification,
    check_in,
    confirm,
    confirm_check_in,
    download,
    expect,
    give_deviation_reason,
    open_session_page,
    run_draw,
    save_scores,
    score,
    sign_report,
    submit_scores,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

TENDER = "WP1"
SESSION = f"{TENDER}-S1"
PRICES = {"a": "1,000,000.00", "b": "980,000.00", "c": "1,050,000.00"}
# The experts' tech marks on the 10–30 range: the fifth expert's 29 on a deviates.
TECH = [
    {"a": "18", "b": "20", "c": "22"},
    {"a": "18", "b": "21", "c": "22"},
    {"a": "19", "b": "20", "c": "23"},
    {"a": "18", "b": "21", "c": "22"},
    {"a": "29", "b": "20", "c": "23"},
]
POOL = [  # id, region: five 公路 experts in 兰州, three in 天水
    *((f"pe-{i}", "兰州") for i in range(1, 6)),
    *((f"pe-{i}", "天水") for i in range(6, 9)),
]


async def _page(
    chromium: Any,
    node: InProcessNode,
    tmp: Path,
    who: Participant,
    hash_: str,
    pages: list[tuple[str, Any, list[str]]],
    name: str,
    **kw: Any,
) -> Any:
    context, page = await open_session_page(chromium, node, tmp, who, hash_, **kw)
    pages.append((name, context, watch_console(page)))
    return page


def _pool_csv(tmp: Path) -> tuple[Path, dict[str, Participant]]:
    experts: dict[str, Participant] = {}
    rows = ["user_id,name,specialties,region,employer,credit,relations,signing_key"]
    for i, (uid, region) in enumerate(POOL, start=1):
        key = SigningKey.generate()
        rows.append(
            f"{uid},专家{i}号,公路,{region},{region}交通设计院{i},90,,{key.public.to_string()}"
        )
        experts[uid] = Participant(uid, key)
    path = tmp / "专家库.csv"
    path.write_text("\r\n".join(rows) + "\r\n", encoding="utf-8")
    return path, experts


async def test_a_whole_procedure_runs_in_browser_pages_only(
    browser: Any,  # noqa: F811
    node: InProcessNode,
    pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    pages: list[tuple[str, Any, list[str]]] = []
    agency = await add_participant(pool, "agency", roles=[("agency", "platform")])
    authority = await add_participant(pool, "authority", roles=[("authority", "platform")])
    admin = await add_participant(pool, "admin", roles=[("admin", "platform")])
    sup = await add_participant(pool, "sup")
    kh = [await add_participant(pool, f"kh{i}") for i in (1, 2, 3)]
    ops = {v: await add_participant(pool, f"op-{v}") for v in ("lanzhou", "tianshui")}
    bidders = {n: await add_participant(pool, n, org=f"company-{n}") for n in PRICES}

    # The admin brings the expert pool in from its page.
    csv, experts = _pool_csv(tmp_path)
    adm = await _page(browser, node, tmp_path, admin, "#/pool", pages, "admin")
    await adm.set_input_files("#pool-file", str(csv))
    await adm.click("#pool-import-btn")
    await confirm(adm, csv.name)
    await expect(adm.locator("#pool-import-result")).to_contain_text(f"新增 {len(POOL)}")
    await shot(adm, "procedure-pool")

    # The agency: the set-up form, the opening key made in the page, the shares downloaded.
    ag = await _page(browser, node, tmp_path, agency, "#/agency", pages, "agency")
    # Sealing three small bids in pages takes seconds; the opening a minute from now, to the
    # second, and a half-minute decryption window keep the clock's waits short.
    opening_at = (datetime.now(UTC) + timedelta(seconds=60)).replace(microsecond=0)
    sent, shares = await set_up_tender(
        ag,
        tmp_path,
        tender=TENDER,
        keyholders=[k.user_id for k in kh],
        opening_at=opening_at,
        window_minutes=0.5,
        control_price={"limit": "1100000"},
        criteria=[
            {"id": "qualification", "name": "资格评审", "kind": "pass_fail"},
            {
                "id": "tech",
                "name": "施工组织设计",
                "kind": "expert",
                "max": "30",
                "scale": "range",
                "low": "10",
                "high": "30",
            },
            {"id": "price", "name": "投标报价", "kind": "price", "max": "70"},
        ],
    )
    config = await pool.fetchval(
        "SELECT state->'config' FROM streams WHERE name = $1", f"tender:{TENDER}"
    )
    assert config["sections"][0]["control_price"]["limit"] == "1100000", sent
    await shot(ag, "procedure-agency-setup")
    # The supervising authority appoints the supervisor; the admin the venues' operators.
    auth = await _page(
        browser, node, tmp_path, authority, f"#/agency?tender={TENDER}", pages, "authority"
    )
    await grant_in_page(auth, sup.user_id, "supervisor")
    await adm.goto(adm.url.split("#")[0] + f"#/agency?tender={TENDER}")
    for venue, op in ops.items():
        await grant_in_page(adm, op.user_id, "operator", venue)
    await publish_in_page(ag)
    await shot(ag, "procedure-agency-published")

    # Three bidders seal and upload in their pages.
    bid_pages = {}
    for name, price in PRICES.items():
        page = await _page(
            browser, node, tmp_path, bidders[name], "#/bidder", pages, f"bidder-{name}"
        )
        item = page.locator(f'#tender-list li[data-tender="{TENDER}"]')
        await item.locator(".join-btn").click()
        await expect(item.locator('[data-role="bidder"]')).to_have_text("投标人")
        await item.locator("a").click()
        doc = tmp_path / f"{name}-施工组织设计.txt"
        doc.write_text(f"{name} 公司施工组织设计\n" * 500, encoding="utf-8")
        await _seal_in_page(page, "single", "price", price, [doc])
        bid_pages[name] = page
    await shot(bid_pages["a"], "procedure-bidder-sealed")

    # The opening: a and b release their keys from their pages; c does not.
    await _wait_until(opening_at)  # a clock rule: the opening time itself
    await expect(ag.locator("#start-btn")).to_be_enabled()
    await ag.click("#start-btn")
    for name in ("a", "b"):
        page = bid_pages[name]
        mine = page.locator("#bid-status tr.mine .badge")
        await expect(mine).to_have_text("等待解密")
        await page.click("#release-btn")
        await page.click("#confirm-ok")
        await expect(mine).to_have_text("已解密")
    await shot(bid_pages["a"], "procedure-bidder-opening")
    # The window passes: two keyholders hand in their shares from their pages.
    await expect(ag.locator("#close-btn")).to_be_enabled()
    ends = await pool.fetchval(
        "SELECT state->'opening'->'single'->>'window_ends' FROM streams WHERE name = $1",
        f"tender:{TENDER}",
    )
    await _wait_until(datetime.fromisoformat(ends))  # a clock rule: the window's own end
    await ag.click("#close-btn")
    for i in (0, 1):
        page = await _page(
            browser, node, tmp_path, kh[i], "#/keyholder", pages, f"keyholder-{i + 1}"
        )
        await page.locator(f'#tender-list li[data-tender="{TENDER}"] a').click()
        await expect(page.locator("#share-btn")).to_be_enabled()
        await page.set_input_files("#share-file", str(shares[i]))
        await expect(page.locator("#share-info")).to_contain_text(f"分片 {i + 1}/3")
        await page.click("#share-btn")
        await page.click("#confirm-ok")
        await expect(page.locator("#share-submitted")).to_be_visible()
        if i == 1:
            await shot(page, "procedure-keyholder")
    await expect(ag.locator("#bid-status .s-decrypted")).to_have_count(3)
    await ag.click("#readout-btn")
    await expect(ag.locator("#read-out tbody tr")).to_have_count(3)
    await ag.click("#sign-btn")
    await ag.click("#confirm-ok")
    sp = await _page(
        browser, node, tmp_path, sup, f"#/supervisor?tender={TENDER}", pages, "supervisor"
    )
    await expect(sp.locator("#read-out tbody tr")).to_have_count(3)
    await sp.click("#sup-sign-btn")
    await confirm(sp, "3 份投标")
    await expect(ag.locator("#phase").first).to_have_text("已开标")
    await shot(sp, "procedure-supervisor-opening")

    # The hand-over: the agency creates the evaluation session from its form.
    await ag.fill("#venue-0-id", "lanzhou")
    await ag.fill("#venue-0-name", "兰州主场")
    await ag.fill("#venue-0-region", "兰州")
    await ag.fill("#venue-0-seats", "5")
    await ag.click("#venue-add")
    await ag.fill("#venue-1-id", "tianshui")
    await ag.fill("#venue-1-name", "天水副场")
    await ag.fill("#venue-1-region", "天水")
    await ag.fill("#venue-1-seats", "3")
    await ag.fill("#slot-0-specialty", "公路")
    await ag.fill("#slot-0-count", "2")  # 2 + 1: too few for a committee
    await ag.select_option("#slot-0-venue", "lanzhou")
    await ag.click("#slot-add")
    await ag.fill("#slot-1-specialty", "公路")
    await ag.fill("#slot-1-count", "1")
    await ag.select_option("#slot-1-venue", "tianshui")
    await ag.click("#handover-btn")  # three experts: said, with what to do; nothing sent
    await expect(ag.locator("#handover-error")).to_contain_text("5 人以上的单数（现为 3 人）")
    await ag.fill("#slot-0-count", "3")
    await ag.fill("#slot-1-count", "2")
    await ag.click("#handover-btn")  # the tenderer is missing: named, nothing sent
    await expect(ag.locator("#handover-error")).to_contain_text("招标人")
    await ag.fill("#handover-tenderer", "甘肃交通厅")
    await ag.fill("#handover-tenderer-region", "兰州")
    await ag.fill("#handover-deviation", "0.2")
    await shot(ag, "procedure-agency-handover")
    await ag.click("#handover-btn")
    await confirm(ag, "兰州主场")
    answer = ag.locator("#toasts .toast").last
    await expect(answer).to_be_visible()
    assert "error" not in (await answer.get_attribute("class") or ""), await answer.inner_text()
    stream = f"session:{SESSION}"
    await expect(ag.locator("#phase").last).to_have_text("专家抽取")

    # The draw, run and checked in the supervisor's page.
    await sp.goto(sp.url.split("#")[0] + f"#/supervisor?session={SESSION}")
    names = await run_draw(sp)
    assert len(names) == 5 and all(n.startswith("专家") for n in names)
    await shot(sp, "procedure-supervisor-draw")
    state = await pool.fetchval("SELECT state FROM streams WHERE name = $1", stream)
    committee = sorted(state["committee"], key=lambda e: (state["committee"][e]["venue"], e))
    venue_of = {e: state["committee"][e]["venue"] for e in committee}

    # Check-in at the venues: each expert's code, confirmed by that venue's operator.
    op_pages = {
        v: await _page(
            browser, node, tmp_path, op, f"#/operator?session={SESSION}", pages, f"operator-{v}"
        )
        for v, op in ops.items()
    }
    ex: dict[str, Any] = {}
    for i, eid in enumerate(committee, start=1):
        page = await _page(
            browser,
            node,
            tmp_path,
            experts[eid],
            f"#/expert?session={SESSION}",
            pages,
            f"expert-{i}",
            clipboard=True,
        )
        code = await check_in(page, f"{venue_of[eid]}-{i}")
        await confirm_check_in(op_pages[venue_of[eid]], code, eid, state["committee"][eid]["name"])
        ex[eid] = page
    await shot(op_pages["lanzhou"], "procedure-operator")
    chair = committee[0]
    for page in ex.values():
        await expect(page.locator("#phase")).to_have_text("推选组长")
        await page.select_option("#chair-candidate", chair)
        await page.click("#vote-btn")
    for page in ex.values():
        await expect(page.locator("#chair-name")).to_have_text(state["committee"][chair]["name"])

    # The preliminary review: every bid passes; the chair closes it.
    number = {b["company"].removeprefix("company-"): b["bid_id"] for b in state["bids"]}
    for page in ex.values():
        await expect(page.locator("#phase")).to_have_text("初步评审")
        for bid in number.values():
            await page.select_option(f"#pf-{bid}-qualification", "pass")
        await page.click("#save-preliminary")
        await confirm(page, "资格评审")  # each verdict is shown before it is signed
        await expect(page.locator("#prelim-done")).to_have_text("已判定 3/3 项")
    await ex[chair].click("#close-preliminary")

    # A clarification: asked by an expert, approved by the supervisor, answered by the bidder.
    asker = ex[committee[1]]
    await expect(asker.locator("#phase")).to_have_text("详细评审")
    question = "请说明冬季施工的质量保证措施"
    await ask_clarification(asker, "company-a", question, minutes=20)
    await approve_clarification(sp, question)
    # The bidder's page, open since it sealed, follows the session from its first event (it
    # asks again, less and less often, for a stream that did not exist yet).
    asked = bid_pages["a"].locator("#clarifications li", has_text=question)
    await expect(asked).to_be_visible(timeout=60_000)
    await asked.locator(".clar-answer").fill("冬季设暖棚养护")
    await asked.locator(".clar-send").click()
    await expect(asked.locator(".badge")).to_have_text("已答复")
    await shot(bid_pages["a"], "procedure-bidder-clarification")
    listed = asker.locator("#expert-clarifications li", has_text=question)
    await expect(listed).to_have_attribute("data-status", "answered")

    # Scores on the range: 5 is refused in the page; the fifth expert's 29 on a deviates.
    first = ex[committee[0]]
    await score(first, number["a"], "tech", "5")
    await first.click("#save-scores")
    await expect(first.locator(".toast.error")).to_contain_text("10–30")
    for marks, eid in zip(TECH, committee, strict=True):
        for bidder, figure in marks.items():
            await score(ex[eid], number[bidder], "tech", figure)
        await save_scores(ex[eid], "施工组织设计")
        await submit_scores(ex[eid])
    await shot(sp, "procedure-supervisor-live")
    deviant = ex[committee[4]]
    await expect(deviant.locator("#phase")).to_have_text("偏离复核")
    await give_deviation_reason(deviant, number["a"], "tech", "该投标冬季施工方案最完整")
    await ex[chair].click("#close-deviation")
    await expect(ex[chair].locator("#phase")).to_have_text("报告签署")

    # The report signed by every expert in its page.
    digest = (await ex[chair].locator("#digest").inner_text()).strip()
    assert re.fullmatch(r"[0-9a-f]{64}", digest), digest
    for page in ex.values():
        await sign_report(page, digest)
    await expect(sp.locator("#phase")).to_have_text("评标结束")
    await shot(ex[chair], "procedure-expert-signed")

    # Downloads: the report as PDF and HTML, and the evidence bundle, which verifies.
    pdf = await download(ex[chair], "dl-report_pdf", tmp_path / "report.pdf")
    assert pdf.startswith(b"%PDF")
    html = (await download(sp, "dl-report_html", tmp_path / "report.html")).decode("utf-8")
    assert "评标报告" in html and "该投标冬季施工方案最完整" in html
    await download(sp, "dl-bundle", tmp_path / "bundle.json.gz")
    bundle = load_bundle(tmp_path / "bundle.json.gz")
    result = verify_bundle(bundle)
    assert result.ok, [str(p) for p in result.problems]
    await shot(sp, "procedure-supervisor-downloads")
    # The agency, once the evaluation is closed, downloads the report from its own page.
    await ag.goto(ag.url.split("#")[0] + f"#/agency?tender={TENDER}&session={SESSION}")
    agency_pdf = await download(ag, "dl-report_pdf", tmp_path / "agency-report.pdf")
    assert agency_pdf.startswith(b"%PDF")
    await shot(ag, "procedure-agency-closed")

    # No page logged an error.
    logged = {name: errors for name, _ctx, errors in pages if errors}
    assert logged == {}, logged
    for _name, context, _errors in pages:
        await context.close()
