"""The evaluation session in the browser alone, several contexts at once: the supervisor runs
and checks the draw in its page; an expert checks in with a QR image and a copy button and
the venue's operator confirms it in another context; the expert scores on the criteria's
scales (an illegal figure is not accepted), asks a clarification the supervisor approves in
its page, explains a deviating score and signs the report; the report (HTML, PDF) and the
evidence bundle download from the pages, and the bundle verifies. The tender and the other
experts run through the SDK (tests/support.py): this test is about the pages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from clients.sdk import ClientError
from clients.verify import load_bundle, verify_bundle
from crypto.events import check_in_statement
from tests.support import InProcessNode, add_participant
from tests.test_browser import SHOTS, browser, shot, watch_console  # noqa: F401  (the fixture)
from tests.test_session import METHOD, SLOTS, VENUES, _opened_tender, _register_pool
from tests.webflows_session import (
    approve_clarification,
    ask_clarification,
    check_in,
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

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# A method with a range (10–30), steps (0/4/8: "4 per project, at most 8"), a deduction item
# taken by majority (扣分项: 0 or 2) and a price.
SCALED = {
    **METHOD,
    "criteria": [
        {"id": "qualification", "name": "资格评审", "kind": "pass_fail", "max_points": None},
        {
            "id": "tech",
            "name": "施工组织设计",
            "kind": "expert",
            "max_points": "30",
            "scale": {"low": "10", "high": "30"},
        },
        {
            "id": "perf",
            "name": "类似业绩",
            "kind": "expert",
            "max_points": "8",
            "scale": {"low": "0", "high": "8", "step": "4"},
        },
        {
            "id": "late",
            "name": "工期延误",
            "kind": "deduction",
            "max_points": "2",
            "deduction": "majority",
        },
        {"id": "price", "name": "投标报价", "kind": "price", "max_points": "62"},
    ],
}
# Every expert's figures but the browser expert's 30 on bid a's tech, which deviates.
TECH = {"a": "15", "b": "20", "c": "22", "d": "24"}
PERF = {"a": "4", "b": "4", "c": "4", "d": "8"}
LATE = {"a": "0", "b": "0", "c": "0", "d": "2"}  # every expert deducts d's 2 points


async def _get(node: InProcessNode, person: Any, path: str) -> httpx.Response:
    client = await person.client(node.url)
    try:
        token = client.token or await client.login()
        async with httpx.AsyncClient(base_url=node.url) as http:
            return await http.get(path, headers={"authorization": f"Bearer {token}"})
    finally:
        await client.close()


async def test_the_session_runs_in_the_pages_from_the_draw_to_the_downloads(
    browser: Any,  # noqa: F811
    node: InProcessNode,
    pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    o = await _opened_tender(node, pool, tmp_path, "WS1")
    agency = o.clients["agency"]
    experts = await _register_pool(pool, "ws1")
    stream = "session:WS1-S1"
    draw = {"slots": SLOTS, "tenderer": "甘肃交通厅", "tenderer_region": "兰州", "min_credit": "60"}
    await agency.command(
        stream,
        "session.create",
        {"tender": "WS1", "section": "S1", "venues": VENUES, "method": SCALED, "draw": draw},
    )

    # The draw, run and checked in the supervisor's page; the drawn shown by name.
    sup_ctx, sup = await open_session_page(
        browser, node, tmp_path, o.people["sup"], "#/supervisor?session=WS1-S1"
    )
    sup_errors = watch_console(sup)
    await expect(sup.locator("#phase")).to_have_text("专家抽取")
    names = await run_draw(sup)
    await shot(sup, "supervisor-draw")
    state = await pool.fetchval("SELECT state FROM streams WHERE name = $1", stream)
    committee = list(state["committee"])
    assert sorted(names) == sorted(m["name"] for m in state["committee"].values())
    assert not any(re.search(r"-ws1$", n) for n in names), names  # names, not ids
    await expect(sup.locator("#phase")).to_have_text("专家签到")
    await expect(sup.locator("#draw-btn")).to_be_disabled()

    venue_of = {e: m["venue"] for e, m in state["committee"].items()}
    ops: dict[str, Any] = {}
    for venue in ("lanzhou", "tianshui", "jiuquan"):
        op = await add_participant(
            pool, f"op-{venue}-ws", roles=[("operator", stream)], venue=venue
        )
        o.people[f"op-{venue}"] = op
        ops[venue] = await op.client(node.url)
    ex = {eid: await experts[eid].client(node.url) for eid in committee}
    first = committee[0]

    # Check-in: the expert's page shows a QR image and copies the code; the operator confirms.
    exp_ctx, exp = await open_session_page(
        browser, node, tmp_path, experts[first], "#/expert?session=WS1-S1", clipboard=True
    )
    exp_errors = watch_console(exp)
    await expect(exp.locator("#phase")).to_have_text("专家签到")
    await exp.click("#token-btn")  # no seat yet: said, nothing made
    await expect(exp.locator(".toast.error")).to_contain_text("座位号")
    seat = f"{venue_of[first]}-1"
    code = await check_in(exp, seat)
    await shot(exp, "expert-checkin")
    assert code.startswith("evalroom-checkin:")
    assert await exp.evaluate("navigator.clipboard.readText()") == code
    assert await exp.locator("#checkin-qr img").evaluate("img => img.naturalWidth > 0")
    op_ctx, op_page = await open_session_page(
        browser, node, tmp_path, o.people[f"op-{venue_of[first]}"], "#/operator?session=WS1-S1"
    )
    op_errors = watch_console(op_page)
    await op_page.fill("#checkin-token", "not a code")
    await op_page.click("#checkin-btn")
    await expect(op_page.locator(".toast.error")).to_contain_text("无法识别")
    await op_page.fill("#checkin-token", code)
    await op_page.click("#checkin-btn")
    await expect(op_page.locator("#confirm-dialog")).to_be_visible()
    await shot(op_page, "operator-confirm")
    await op_page.click("#confirm-cancel")
    await confirm_check_in(op_page, code, first, state["committee"][first]["name"])
    await expect(exp.locator("#checkin-status")).to_contain_text(seat)
    assert not op_errors, op_errors
    await op_ctx.close()
    for i, eid in enumerate(committee[1:], start=2):
        where = f"{venue_of[eid]}-{i}"
        sig = experts[eid].key.sign(check_in_statement(stream, eid, where))
        await ops[venue_of[eid]].command(
            stream, "session.check_in", {"expert": eid, "seat": where, "expert_signature": sig}
        )
    for eid in committee:
        await ex[eid].command(stream, "session.vote_chair", {"candidate": first})
    for eid in committee:
        for bid in state["bids"]:
            body = {"bid": bid["bid_id"], "criterion": "qualification", "pass": True}
            await ex[eid].command(stream, "session.preliminary", body, sign=True)
    await ex[first].command(stream, "session.close_phase", {"phase": "preliminary_review"})
    await expect(exp.locator("#phase")).to_have_text("详细评审")
    number = {b["company"].removeprefix("company-"): b["bid_id"] for b in state["bids"]}

    # A clarification asked in the expert's page, approved in the supervisor's.
    question = "请说明冬季施工的质量保证措施"
    await ask_clarification(exp, "company-a", question, minutes=20)
    await approve_clarification(sup, question)
    asked = exp.locator("#expert-clarifications li", has_text=question)
    await expect(asked).to_have_attribute("data-status", "approved")
    cid = await asked.get_attribute("data-id")
    await o.clients["a"].command(
        stream, "session.clarify_answer", {"id": cid, "answer": "冬季设暖棚养护"}, sign=True
    )
    await expect(asked).to_have_attribute("data-status", "answered")
    await expect(asked).to_contain_text("冬季设暖棚养护")

    # The scales: the range refuses 5 before anything is sent; the steps are a list.
    perf = exp.locator(f"#score-{number['a']}-perf option")
    assert await perf.all_inner_texts() == ["—", "0", "4", "8"]
    late = exp.locator(f"#score-{number['a']}-late option")
    assert await late.all_inner_texts() == ["—", "0", "2"]
    await expect(exp.locator("#score-sheet th", has_text="工期延误")).to_contain_text("扣分 0、2")
    await score(exp, number["a"], "tech", "5")
    await exp.click("#save-scores")
    await expect(exp.locator(".toast.error")).to_contain_text("只能填写 10–30")
    await expect(exp.locator(f"#score-{number['a']}-tech")).to_have_class(re.compile("invalid"))
    state = await pool.fetchval("SELECT state FROM streams WHERE name = $1", stream)
    assert first not in state["scores"]
    for bidder in TECH:
        await score(exp, number[bidder], "tech", "30" if bidder == "a" else TECH[bidder])
        await score(exp, number[bidder], "perf", PERF[bidder])
        await score(exp, number[bidder], "late", LATE[bidder])
    await save_scores(exp)
    await shot(exp, "expert-scales")
    cell = sup.locator(f'#live-scores [data-cell="{number["a"]}/tech"]').first
    await expect(cell).to_have_text("30")
    await submit_scores(exp)

    # The node holds every expert to the same scales.
    other = ex[committee[1]]
    for criterion, figure, refused in (
        ("tech", "5", "score_out_of_range"),
        ("perf", "3", "score_not_allowed"),
    ):
        body = {"bid": number["a"], "criterion": criterion, "score": figure}
        with pytest.raises(ClientError) as caught:
            await other.command(stream, "session.score", body, sign=True)
        assert caught.value.code == refused
    for eid in committee[1:]:
        for bidder in TECH:
            for criterion, marks in (("tech", TECH), ("perf", PERF), ("late", LATE)):
                body = {"bid": number[bidder], "criterion": criterion, "score": marks[bidder]}
                await ex[eid].command(stream, "session.score", body, sign=True)
        await ex[eid].command(stream, "session.submit_scores", sign=True)

    # The deviation explained in the page, then the report signed there.
    await expect(exp.locator("#phase")).to_have_text("偏离复核")
    await give_deviation_reason(exp, number["a"], "tech", "该投标冬季施工方案最完整")
    await shot(exp, "expert-deviation")
    await ex[first].command(stream, "session.close_phase", {"phase": "deviation_check"})
    await expect(exp.locator("#phase")).to_have_text("报告签署")
    state = await pool.fetchval("SELECT state FROM streams WHERE name = $1", stream)
    d_total = next(b for b in state["report"]["ranking"]["bids"] if b["bid_id"] == number["d"])
    assert d_total["deductions"][0]["deducted"] == "2.00"  # the deduction item, taken
    await sign_report(exp, state["report_digest"])
    for eid in committee[1:]:
        body = {"report_digest": state["report_digest"]}
        await ex[eid].command(stream, "session.sign_report", body, sign=True)
    await expect(sup.locator("#phase")).to_have_text("评标结束")

    # Downloads: the report as PDF from the expert's page; HTML and the bundle from the
    # supervisor's; the bundle checks with the project's verifier.
    pdf = await download(exp, "dl-report_pdf", tmp_path / "report.pdf")
    assert pdf.startswith(b"%PDF")
    html = await download(sup, "dl-report_html", tmp_path / "report.html")
    assert "评标报告" in html.decode("utf-8") and "该投标冬季施工方案最完整" in html.decode("utf-8")
    await download(sup, "dl-bundle", tmp_path / "bundle.json.gz")
    bundle = load_bundle(tmp_path / "bundle.json.gz")
    assert bundle["target"] == stream
    result = verify_bundle(bundle)
    assert result.ok, [str(p) for p in result.problems]
    # The bundle is not the expert's: a stable code and a sentence, and the button is absent.
    await expect(exp.locator("#dl-bundle")).to_have_count(0)
    refused = await _get(node, experts[first], "/api/sessions/WS1-S1/bundle")
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden" and refused.json()["message"]
    bidder = await _get(node, o.people["a"], "/api/sessions/WS1-S1/report.pdf")
    assert bidder.status_code == 403 and bidder.json()["code"] == "forbidden"
    await shot(sup, "supervisor-downloads")
    assert (SHOTS / "supervisor-draw.png").exists()
    assert not exp_errors and not sup_errors, (exp_errors, sup_errors)
    await exp_ctx.close()
    await sup_ctx.close()
    for c in [*o.clients.values(), *ops.values(), *ex.values()]:
        await c.close()


async def test_a_seed_backup_is_taken_back_only_if_it_matches_the_published_commitment(
    browser: Any,  # noqa: F811
    node: InProcessNode,
    pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    o = await _opened_tender(node, pool, tmp_path, "WS2")
    await _register_pool(pool, "ws2")
    draw = {"slots": SLOTS, "tenderer": "甘肃交通厅", "tenderer_region": "兰州", "min_credit": "60"}
    await o.clients["agency"].command(
        "session:WS2-S1",
        "session.create",
        {"tender": "WS2", "section": "S1", "venues": VENUES, "method": METHOD, "draw": draw},
    )
    ctx, sup = await open_session_page(
        browser, node, tmp_path, o.people["sup"], "#/supervisor?session=WS2-S1"
    )
    errors = watch_console(sup)
    await expect(sup.locator("#commit-seed-btn")).to_be_disabled()  # the pool is checked first
    await sup.click("#pool-check-btn")
    await sup.click("#commit-seed-btn")
    await sup.click("#confirm-ok")
    await expect(sup.locator("#seed-committed")).to_be_visible()
    async with sup.expect_download() as info:
        await sup.click("#seed-file-btn")
    backup = tmp_path / "seed.hex"
    await (await info.value).save_as(backup)
    # This browser loses the seed (another machine, storage cleared): the draw waits for it.
    await sup.evaluate("localStorage.clear()")
    await sup.reload()
    await expect(sup.locator("#seed-committed")).to_contain_text("没有该承诺的种子")
    await expect(sup.locator("#draw-btn")).to_be_disabled()
    wrong = tmp_path / "wrong.hex"
    wrong.write_text("00" * 32 + "\n")
    await sup.set_input_files("#seed-file", str(wrong))
    await expect(sup.locator(".toast.error")).to_contain_text("不符")
    await expect(sup.locator("#draw-btn")).to_be_disabled()
    await sup.set_input_files("#seed-file", str(backup))
    await expect(sup.locator("#draw-btn")).to_be_enabled()
    await sup.click("#pool-check-btn")  # checked again in this page, for the recomputation
    await expect(sup.locator("#pool-checked")).to_be_visible()
    await sup.click("#draw-btn")
    await sup.click("#confirm-ok")
    await expect(sup.locator("#draw-checks li.ok")).to_have_count(5)
    await expect(sup.locator("#drawn-experts tbody tr")).to_have_count(5)
    assert not errors, errors
    await ctx.close()
    for c in o.clients.values():
        await c.close()
