"""A whole remote evaluation (远程异地评标) over real sockets: experts in three venues."""

from __future__ import annotations

import hashlib
import json
import secrets
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from clients.sdk import Client, ClientError
from clients.verify import verify_bundle
from crypto.canonical import canonical_json
from crypto.events import check_in_statement
from crypto.keys import VerifyKey
from evalroom.audit.bundle import export_bundle
from evalroom.domain.draw import DrawRequest, ExpertPool, draw_experts, pool_digest
from evalroom.domain.handover import SignedRecord, bid_differences, record_digest, session_bids
from evalroom.domain.method_rules import draw_floating_point
from evalroom.domain.session import report_digest
from evalroom.services.session import pool_snapshot
from tests.support import InProcessNode, Participant, add_participant, eventually
from tests.test_opening import Opening, _wait_until, two_envelope_opening

pytestmark = pytest.mark.slow

VENUES = [
    {"id": "lanzhou", "name": "兰州主场", "region": "兰州", "seats": 4, "main": True},
    {"id": "tianshui", "name": "天水副场", "region": "天水", "seats": 2, "main": False},
    {"id": "jiuquan", "name": "酒泉副场", "region": "酒泉", "seats": 2, "main": False},
]
SLOTS = [
    {"specialty": "公路", "venue": "lanzhou", "count": 2},
    {"specialty": "公路", "venue": "tianshui", "count": 2},
    {"specialty": "公路", "venue": "jiuquan", "count": 1},
]
METHOD = {
    "kind": "comprehensive",
    "criteria": [
        {"id": "qualification", "name": "资格评审", "kind": "pass_fail", "max_points": None},
        {"id": "tech", "name": "施工组织设计", "kind": "expert", "max_points": "30"},
        {"id": "price", "name": "投标报价", "kind": "price", "max_points": "70"},
    ],
    "price_rule": {
        "base": {"trim": None, "coefficient": "1", "floating_point": None, "decimals": 2},
        "deviation": "percent",
        "above": [{"up_to": None, "points_per_percent": "1"}],
        "below": [{"up_to": None, "points_per_percent": "0.5"}],
    },
    "aggregation": {"level": "criterion", "drop_high_low_from": 5},
    "pass_fail": "majority",
    "recommend": 3,
}
PRICES = {"a": "1000000.00", "b": "980000.00", "c": "1050000.00", "d": "990000.00"}
# Technical scores by seat (expert 1..5); seat 4's 30 for company b is 33% above the others'
# mean of 22.5 and needs a written reason.
TECH = {
    "a": ("25", "26", "27", "28", "20"),
    "b": ("22", "23", "24", "30", "21"),
    "c": ("27", "27", "28", "29", "26"),
    "d": ("24", "24", "24", "24", "24"),
}
# Worked by hand:
#   tech, dropping the highest and lowest of 5:  a (25+26+27)/3 = 26.00, b (22+23+24)/3 = 23.00,
#     c (27+27+28)/3 = 27.33, d 24.00
#   base price = (1,000,000 + 980,000 + 1,050,000 + 990,000) / 4 = 1,005,000.00
#   deviation %: a -0.50, b -2.49, c +4.48, d -1.49
#   price score = 70 - 1/% above, - 0.5/% below: a 69.75, b 68.755 -> 68.76, c 65.52,
#     d 69.255 -> 69.26
#   totals: a 95.75, b 91.76, c 92.85, d 93.26  ->  ranking a, d, c, b
EXPECTED_TOTALS = {"a": "95.75", "b": "91.76", "c": "92.85", "d": "93.26"}
EXPECTED_ORDER = ["a", "d", "c", "b"]

POOL = [  # id, region, employer, credit, relations
    ("lz1", "兰州", "company-a", "90", []),  # works for a bidder: avoided
    ("lz2", "兰州", "兰州交大", "88", []),
    ("lz3", "兰州", "甘肃公路院", "92", []),
    ("lz4", "兰州", "兰州设计院", "85", []),
    ("ts1", "天水", "天水路桥", "90", ["company-b"]),  # declared relation: avoided
    ("ts2", "天水", "天水职院", "86", []),
    ("ts3", "天水", "天水监理", "87", []),
    ("jq1", "酒泉", "酒泉公路局", "91", []),
    ("jq2", "酒泉", "酒泉设计所", "50", []),  # credit below 60: avoided
]


async def _register_pool(pool: asyncpg.Pool, suffix: str) -> dict[str, Participant]:
    from crypto.keys import SigningKey
    from evalroom.services.pool_admin import import_pool

    # Through the product's import, as an operator brings the pool in.
    experts = {}
    rows = ["user_id,name,specialties,region,employer,credit,relations,signing_key"]
    for eid, region, employer, credit, relations in POOL:
        key = SigningKey.generate()
        uid = f"{eid}-{suffix}"
        rows.append(
            f"{uid},专家{eid},公路,{region},{employer},{credit},{';'.join(relations)},"
            f"{key.public.to_string()}"
        )
        experts[uid] = Participant(uid, key)
    await import_pool(pool, "\n".join(rows).encode(), "test")
    return experts


async def _opened_tender(node: InProcessNode, pool: asyncpg.Pool, tmp: Path, name: str) -> Opening:
    o = Opening(node, pool, tmp)
    opening_at = await o.setup(name, opening_in=5.0, window=60)
    for bidder in PRICES:
        await o.bidder(bidder)
        await o.bid(bidder, PRICES[bidder])
    await _wait_until(opening_at)
    agency, sup = o.clients["agency"], o.clients["sup"]
    await agency.command(o.stream, "opening.start")
    for bidder in PRICES:
        await o.clients[bidder].command(o.stream, "opening.sign_in", sign=True)
        await o.clients[bidder].command(
            o.stream,
            "bid.release_key",
            {"section": "S1", "identity": o.bid_keys[f"{bidder}/single"]},
        )
    await agency.command(o.stream, "opening.close_window")
    await agency.command(o.stream, "opening.read_out")
    await agency.command(o.stream, "opening.sign_record", sign=True)
    await sup.command(o.stream, "opening.sign_record", sign=True)
    return o


async def test_a_whole_evaluation_across_three_venues(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = await _opened_tender(node, pool, tmp_path, "EV1")
    agency, sup = o.clients["agency"], o.clients["sup"]
    experts = await _register_pool(pool, "ev1")
    stream = "session:EV1-S1"
    draw = {"slots": SLOTS, "tenderer": "甘肃交通厅", "tenderer_region": "兰州", "min_credit": "60"}
    await agency.command(
        stream,
        "session.create",
        {"tender": "EV1", "section": "S1", "venues": VENUES, "method": METHOD, "draw": draw},
    )
    state = await pool.fetchval("SELECT state FROM streams WHERE name = $1", stream)
    assert [b["company"] for b in state["bids"]] == [f"company-{b}" for b in PRICES]

    # The draw: commitment first, then the seed; anyone can recompute it.
    snapshot = await pool_snapshot(type("Ctx", (), {"pool": pool})())  # type: ignore[arg-type]
    seed = secrets.token_bytes(32)
    await sup.command(
        stream,
        "session.commit_seed",
        {
            "commitment": hashlib.sha256(seed).hexdigest(),
            "pool_digest": pool_digest(ExpertPool.from_dict(snapshot)),
        },
    )
    await sup.command(stream, "session.draw", {"seed": seed.hex()})
    state = await pool.fetchval("SELECT state FROM streams WHERE name = $1", stream)
    committee = list(state["committee"])
    recomputed = draw_experts(
        ExpertPool.from_dict(snapshot), DrawRequest.from_dict(state["draw_request"]), seed
    )
    assert {(seat.expert_id, seat.venue) for seat in recomputed.seats} == {
        (e, m["venue"]) for e, m in state["committee"].items()
    }
    assert not {"lz1-ev1", "ts1-ev1", "jq2-ev1"} & set(committee)  # avoidance (回避)
    venue_of = {e: m["venue"] for e, m in state["committee"].items()}
    assert sorted(venue_of.values()) == ["jiuquan", "lanzhou", "lanzhou", "tianshui", "tianshui"]

    # Site operators at each venue check their experts in; each expert proves its key.
    ops: dict[str, Client] = {}
    for venue in ("lanzhou", "tianshui", "jiuquan"):
        op = await add_participant(pool, f"op-{venue}", roles=[("operator", stream)], venue=venue)
        o.people[f"op-{venue}"] = op
        ops[venue] = await op.client(node.url)
        await ops[venue].subscribe(stream)
    ex: dict[str, Client] = {}
    for eid in committee:
        ex[eid] = await experts[eid].client(node.url)
        await ex[eid].subscribe(stream)
    agency_feed = await agency.subscribe(stream)
    for i, eid in enumerate(committee):
        seat = f"{venue_of[eid]}-{i + 1}"
        signature = experts[eid].key.sign(check_in_statement(stream, eid, seat))
        await ops[venue_of[eid]].command(
            stream, "session.check_in", {"expert": eid, "seat": seat, "expert_signature": signature}
        )
    with pytest.raises(ClientError) as foreign:
        await ops["jiuquan"].command(
            stream,
            "session.check_in",
            {"expert": committee[0], "seat": "x", "expert_signature": "AAAAAAAAAAAA"},
        )
    assert foreign.value.code in ("identity_unverified", "not_your_venue", "already_checked_in")

    for eid in committee:
        await ex[eid].command(stream, "session.vote_chair", {"candidate": committee[0]})
    chair = ex[committee[0]]
    for eid in committee:
        for bid in state["bids"]:
            await ex[eid].command(
                stream,
                "session.preliminary",
                {"bid": bid["bid_id"], "criterion": "qualification", "pass": True},
                sign=True,
            )
    await chair.command(stream, "session.close_phase", {"phase": "preliminary_review"})

    # A clarification round trip with bidder c, approved by the supervisor.
    asked = await ex[committee[1]].command(
        stream,
        "session.clarify_ask",
        {"company": "company-c", "question": "请说明工期安排", "deadline_seconds": 600},
    )
    cid = asked["reply"]["id"]
    await sup.command(stream, "session.clarify_approve", {"id": cid})
    await o.clients["c"].command(
        stream,
        "session.clarify_answer",
        {"id": cid, "answer": "工期180天，已含冬季停工"},
        sign=True,
    )

    number = {b["company"].removeprefix("company-"): b["bid_id"] for b in state["bids"]}
    for seat, eid in enumerate(committee):
        for bidder, marks in TECH.items():
            await ex[eid].command(
                stream,
                "session.score",
                {"bid": number[bidder], "criterion": "tech", "score": marks[seat]},
                sign=True,
            )

    # Blind: another expert, and the agency, are refused a sheet before the reveal.
    async with httpx.AsyncClient(base_url=node.url) as http:

        def get(client: Client, expert: str) -> Any:
            return http.get(
                f"/api/sessions/EV1-S1/scores?expert={expert}",
                headers={"authorization": f"Bearer {client.token}"},
            )

        assert (await get(ex[committee[1]], committee[0])).status_code == 403
        assert (await get(ex[committee[0]], committee[0])).status_code == 200
        assert (await get(agency, committee[0])).status_code == 403
        assert (await get(sup, committee[0])).status_code == 200
    with pytest.raises(ClientError) as agency_scoring:
        await agency.command(
            stream,
            "session.score",
            {"bid": number["a"], "criterion": "tech", "score": "30"},
            sign=True,
        )
    assert agency_scoring.value.code == "forbidden"

    # A venue drops: every venue pauses; it comes back and the evaluation resumes.
    await ops["tianshui"].close()
    await eventually(lambda: _phase_paused(pool, stream), timeout=30)
    with pytest.raises(ClientError) as paused:
        await ex[committee[2]].command(stream, "session.submit_scores", sign=True)
    assert paused.value.code == "paused"
    ops["tianshui"] = await o.people["op-tianshui"].client(node.url)
    await ops["tianshui"].subscribe(stream)
    await eventually(lambda: _phase_running(pool, stream), timeout=30)

    for eid in committee:
        await ex[eid].command(stream, "session.submit_scores", sign=True)
    async with httpx.AsyncClient(base_url=node.url) as http:
        after = await http.get(
            f"/api/sessions/EV1-S1/scores?expert={committee[0]}",
            headers={"authorization": f"Bearer {ex[committee[1]].token}"},
        )
        assert after.status_code == 200  # revealed to the committee once all submitted

    # The deviation needs its reason before the chair can close the check.
    with pytest.raises(ClientError) as unexplained:
        await chair.command(stream, "session.close_phase", {"phase": "deviation_check"})
    assert unexplained.value.code == "deviation_reason_missing"
    await ex[committee[3]].command(
        stream,
        "session.deviation_reason",
        {"bid": number["b"], "criterion": "tech", "reason": "b的施工组织设计对冬季施工有专项方案"},
        sign=True,
    )
    await chair.command(stream, "session.close_phase", {"phase": "deviation_check"})

    state = await pool.fetchval("SELECT state FROM streams WHERE name = $1", stream)
    ranking = state["report"]["ranking"]
    totals = {b["bid_id"]: b["total"] for b in ranking["bids"]}
    assert {k: totals[number[k]] for k in PRICES} == EXPECTED_TOTALS
    assert [b["bid_id"] for b in sorted(ranking["bids"], key=lambda b: b["rank"])] == [
        number[k] for k in EXPECTED_ORDER
    ]

    digest = report_digest(state["report"])
    for eid in committee:
        await ex[eid].command(stream, "session.sign_report", {"report_digest": digest}, sign=True)
    state = await pool.fetchval("SELECT state FROM streams WHERE name = $1", stream)
    assert state["phase"] == "closed"
    signed = await pool.fetch(
        "SELECT e.actor, e.sig, e.payload, u.signing_key FROM events e"
        " JOIN users u ON u.id = e.actor"
        " WHERE stream = $1 AND type = 'session.report_signed'",
        stream,
    )
    assert sorted(r["actor"] for r in signed) == sorted(committee)
    for r in signed:
        command = r["payload"]["command"]
        assert command["body"]["report_digest"] == digest
        assert VerifyKey.from_string(r["signing_key"]).verify(canonical_json(command), r["sig"])

    # The agency saw progress, never a score.
    seen = agency_feed.drain()
    assert seen and not any(e["type"] in ("session.score", "session.scores_revealed") for e in seen)

    # The report as documents; ratings feed the experts' credit.
    async with httpx.AsyncClient(base_url=node.url) as http:
        headers = {"authorization": f"Bearer {sup.token}"}
        pdf = await http.get("/api/sessions/EV1-S1/report.pdf", headers=headers)
        page = await http.get("/api/sessions/EV1-S1/report.html", headers=headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert page.status_code == 200 and "评标报告" in page.text and digest in page.text
    # The tender's signed opening record is read from the database, times in Beijing time.
    assert "签署于" in page.text and "（北京时间）" in page.text
    before = await pool.fetchval("SELECT credit FROM experts WHERE user_id = $1", committee[0])
    for rater in (agency, sup):
        for eid in committee:
            await rater.command(stream, "session.rate_expert", {"expert": eid, "score": 5})
    after_credit = await pool.fetchval(
        "SELECT credit FROM experts WHERE user_id = $1", committee[0]
    )
    assert after_credit > before
    for c in [*o.clients.values(), *ops.values(), *ex.values()]:
        await c.close()


async def _phase_paused(pool: asyncpg.Pool, stream: str) -> bool:
    state = await pool.fetchval("SELECT state FROM streams WHERE name = $1", stream)
    return bool(state.get("pause") or state.get("faults"))


async def _phase_running(pool: asyncpg.Pool, stream: str) -> bool:
    state = await pool.fetchval("SELECT state FROM streams WHERE name = $1", stream)
    return not state.get("pause") and not state.get("faults")


LOWEST_PRICE = {
    "kind": "lowest_evaluated_price",
    "criteria": [
        {"id": "qualification", "name": "资格评审", "kind": "pass_fail", "max_points": None}
    ],
    "price_rule": None,
    "recommend": 3,
}


async def _create_and_draw(
    o: Opening, pool: asyncpg.Pool, stream: str, tender: str, method: Any
) -> tuple[dict[str, Participant], dict[str, Any]]:
    """Create the session from the opening record, publish the seed's commitment, draw."""
    agency, sup = o.clients["agency"], o.clients["sup"]
    experts = await _register_pool(pool, tender.lower())
    await agency.command(
        stream,
        "session.create",
        {
            "tender": tender,
            "section": "S1",
            "venues": VENUES,
            "method": method,
            "draw": {
                "slots": SLOTS,
                "tenderer": "甘肃交通厅",
                "tenderer_region": "兰州",
                "min_credit": "60",
            },
        },
    )
    snapshot = await pool_snapshot(type("Ctx", (), {"pool": pool})())  # type: ignore[arg-type]
    seed = secrets.token_bytes(32)
    await sup.command(
        stream,
        "session.commit_seed",
        {
            "commitment": hashlib.sha256(seed).hexdigest(),
            "pool_digest": pool_digest(ExpertPool.from_dict(snapshot)),
        },
    )
    await sup.command(stream, "session.draw", {"seed": seed.hex()})
    state = await pool.fetchval("SELECT state FROM streams WHERE name = $1", stream)
    return experts, state


async def _seated_committee(
    o: Opening, pool: asyncpg.Pool, node: InProcessNode, stream: str, tender: str, method: Any
) -> tuple[list[str], dict[str, Client], dict[str, Any]]:
    """Create the session from the opening record, draw, check every expert in, elect."""
    experts, state = await _create_and_draw(o, pool, stream, tender, method)
    committee = list(state["committee"])
    ops: dict[str, Client] = {}
    for venue in ("lanzhou", "tianshui", "jiuquan"):
        op = await add_participant(pool, f"op-{venue}", roles=[("operator", stream)], venue=venue)
        ops[venue] = await op.client(node.url)
        await ops[venue].subscribe(stream)
    ex = {eid: await experts[eid].client(node.url) for eid in committee}
    for i, (eid, member) in enumerate(state["committee"].items()):
        seat = f"{member['venue']}-{i}"
        token = experts[eid].key.sign(check_in_statement(stream, eid, seat))
        await ops[member["venue"]].command(
            stream, "session.check_in", {"expert": eid, "seat": seat, "expert_signature": token}
        )
    for eid in committee:
        await ex[eid].command(stream, "session.vote_chair", {"candidate": committee[0]})
    # The operators stay connected: a venue whose operator leaves is a venue fault, which
    # would pause the session (that is tested on its own, in the demo and the domain tests).
    return committee, ex, state


async def test_the_lowest_evaluated_price_method_ranks_passing_bids_by_price(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = await _opened_tender(node, pool, tmp_path, "EV2")
    stream = "session:EV2-S1"
    committee, ex, state = await _seated_committee(o, pool, node, stream, "EV2", LOWEST_PRICE)
    number = {b["company"].removeprefix("company-"): b["bid_id"] for b in state["bids"]}
    for seat, eid in enumerate(committee):
        for bidder, bid in number.items():
            fails = bidder == "b" and seat < 3  # three of five fail b: the majority rejects it
            body = {"bid": bid, "criterion": "qualification", "pass": not fails}
            if fails:
                body["reason"] = "营业执照已过期"
            await ex[eid].command(stream, "session.preliminary", body, sign=True)
    await ex[committee[0]].command(stream, "session.close_phase", {"phase": "preliminary_review"})
    state = await pool.fetchval("SELECT state FROM streams WHERE name = $1", stream)
    ranking = state["report"]["ranking"]
    # By hand: b (980,000) fails 3 to 2; the others by evaluated price = price, lowest first:
    # d 990,000.00, a 1,000,000.00, c 1,050,000.00.
    ranked = sorted((b for b in ranking["bids"] if b["rank"]), key=lambda b: b["rank"])
    assert [b["bid_id"] for b in ranked] == [number["d"], number["a"], number["c"]]
    assert [b["evaluated_price"] for b in ranked] == ["990000.00", "1000000.00", "1050000.00"]
    assert next(b for b in ranking["bids"] if b["bid_id"] == number["b"])["passed"] is False
    assert ranking["recommended"] == [number["d"], number["a"], number["c"]]
    digest = report_digest(state["report"])
    for eid in committee:
        await ex[eid].command(stream, "session.sign_report", {"report_digest": digest}, sign=True)
    assert (
        await pool.fetchval("SELECT state->>'phase' FROM streams WHERE name = $1", stream)
    ) == "closed"
    for c in [*o.clients.values(), *ex.values()]:
        await c.close()


async def test_an_expert_who_withdraws_loses_the_live_feed_and_a_replacement_is_drawn(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = await _opened_tender(node, pool, tmp_path, "EV3")
    stream = "session:EV3-S1"
    experts, state = await _create_and_draw(o, pool, stream, "EV3", METHOD)
    # Lanzhou has a spare eligible expert for the re-draw (补抽).
    leaving = next(e for e, m in state["committee"].items() if m["venue"] == "lanzhou")
    client = await experts[leaving].client(node.url)
    feed = await client.subscribe(stream)
    await client.command(stream, "session.declare_conflict", {"reason": "与投标人存在利害关系"})
    await eventually(lambda: feed.error is not None, timeout=10)
    assert feed.error is not None and feed.error.code == "not_subscribed_role"
    state = await pool.fetchval("SELECT state FROM streams WHERE name = $1", stream)
    assert leaving not in state["committee"] and len(state["committee"]) == 5
    with pytest.raises(ClientError):
        await client.command(stream, "session.vote_chair", {"candidate": leaving})
    for c in [*o.clients.values(), client]:
        await c.close()


# -- the bids come only from the signed opening record (开标记录移交) ----------------------------

DRAW = {"slots": SLOTS, "tenderer": "甘肃交通厅", "tenderer_region": "兰州", "min_credit": "60"}


def _create_body(tender: str) -> dict[str, Any]:
    return {"tender": tender, "section": "S1", "venues": VENUES, "method": METHOD, "draw": DRAW}


async def _tender_snapshot(pool: asyncpg.Pool, tender: str) -> tuple[Any, ...]:
    """The tender's head and state, and its sessions: what a refused create must not change."""
    row = await pool.fetchrow("SELECT head, state FROM streams WHERE name = $1", f"tender:{tender}")
    sessions = await pool.fetch(
        "SELECT name, head FROM streams WHERE parent = $1 ORDER BY name", f"tender:{tender}"
    )
    return row["head"], canonical_json(row["state"]), [tuple(s) for s in sessions]


async def _refused(client: Client, stream: str, body: dict[str, Any]) -> str:
    with pytest.raises(ClientError) as refusal:
        await client.command(stream, "session.create", body)
    return refusal.value.code


async def _opening_records(pool: asyncpg.Pool, tender: str) -> list[SignedRecord]:
    rows = await pool.fetch(
        "SELECT seq, payload FROM events WHERE stream = $1 AND type = 'opening.record'"
        " ORDER BY seq",
        f"tender:{tender}",
    )
    return [SignedRecord(r["seq"], r["payload"]) for r in rows]


async def test_session_create_with_bids_in_its_body_is_refused_and_changes_nothing(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = await _opened_tender(node, pool, tmp_path, "EV5")
    agency = o.clients["agency"]
    before = await _tender_snapshot(pool, "EV5")
    (record,) = await _opening_records(pool, "EV5")
    altered = [
        {"bid_id": b["number"], "company": b["org"], "price": "1.00"}
        for b in record.payload["bids"]
    ]
    invented = [{"bid_id": f"X{i}", "company": f"shell-{i}", "price": "1.00"} for i in range(5)]
    for bids in (altered, invented, []):
        body = {**_create_body("EV5"), "bids": bids}
        assert await _refused(agency, "session:EV5-S1", body) == "bids_not_accepted"
    assert await _tender_snapshot(pool, "EV5") == before
    assert await pool.fetchval("SELECT count(*) FROM streams WHERE name = 'session:EV5-S1'") == 0
    for c in o.clients.values():
        await c.close()


async def test_session_create_on_a_tender_never_opened_is_refused_and_changes_nothing(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = Opening(node, pool, tmp_path)
    await o.setup("EV6", opening_in=3600, window=60)
    for bidder in PRICES:
        await o.bidder(bidder)
        await o.bid(bidder, PRICES[bidder])
    agency = o.clients["agency"]
    before = await _tender_snapshot(pool, "EV6")
    assert await _refused(agency, "session:EV6-S1", _create_body("EV6")) == "not_opened"
    invented = [{"bid_id": f"X{i}", "company": f"shell-{i}", "price": "1.00"} for i in range(5)]
    body = {**_create_body("EV6"), "bids": invented}
    assert await _refused(agency, "session:EV6-S1", body) == "bids_not_accepted"
    assert await _tender_snapshot(pool, "EV6") == before
    for c in o.clients.values():
        await c.close()


async def test_created_session_bids_and_digest_are_those_of_the_signed_record(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = await _opened_tender(node, pool, tmp_path, "EV7")
    agency = o.clients["agency"]
    await agency.command("session:EV7-S1", "session.create", _create_body("EV7"))
    records = await _opening_records(pool, "EV7")
    handover = session_bids(records, "S1")
    assert {b["company"]: b["price"] for b in handover.bids} == {
        f"company-{k}": v for k, v in PRICES.items()
    }
    state = await pool.fetchval("SELECT state FROM streams WHERE name = 'session:EV7-S1'")
    assert bid_differences(state["bids"], handover.bids) == []
    (record,) = records
    reference = [{"stage": "single", "seq": record.seq, "digest": record_digest(record.payload)}]
    assert state["opening_record"] == reference
    events = {
        r["type"]: r["payload"]
        for r in await pool.fetch(
            "SELECT type, payload FROM events WHERE stream = 'session:EV7-S1'"
        )
    }
    assert events["session.created"]["opening_record"] == reference
    assert events["session.bids"]["bids"] == handover.bids
    for c in o.clients.values():
        await c.close()


async def test_a_second_session_of_a_section_under_evaluation_is_refused(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = await _opened_tender(node, pool, tmp_path, "EV8")
    agency = o.clients["agency"]
    await agency.command("session:EV8-S1", "session.create", _create_body("EV8"))
    before = await _tender_snapshot(pool, "EV8")
    assert await _refused(agency, "session:EV8-S1-again", _create_body("EV8")) == "session_exists"
    assert await _tender_snapshot(pool, "EV8") == before
    for c in o.clients.values():
        await c.close()


async def test_two_envelope_session_takes_commercial_prices_of_bids_that_passed(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o, _technical, passed = await two_envelope_opening(node, pool, tmp_path, "EV9")
    agency = o.clients["agency"]
    assert await _refused(agency, "session:EV9-S1", _create_body("EV9")) == "not_opened"
    await agency.command(o.stream, "opening.start_commercial", {"passed": passed})
    await o.ceremony(("a", "b", "c", "d"))
    await agency.command("session:EV9-S1", "session.create", _create_body("EV9"))
    state = await pool.fetchval("SELECT state FROM streams WHERE name = 'session:EV9-S1'")
    assert [(b["bid_id"], b["company"], b["price"]) for b in state["bids"]] == [
        (passed[0], "company-a", "700000.00"),
        (passed[1], "company-b", "700001.00"),
        (passed[2], "company-d", "700003.00"),
    ]
    records = await _opening_records(pool, "EV9")
    assert [(r["stage"], r["seq"]) for r in state["opening_record"]] == [
        ("technical", records[0].seq),
        ("commercial", records[1].seq),
    ]
    for c in o.clients.values():
        await c.close()


# -- method rules in the session, through the node (docs/methods.md) -----------------------

RANGED = {
    **METHOD,
    "criteria": [
        *METHOD["criteria"][:2],
        {
            "id": "plan",
            "name": "进度计划",
            "kind": "expert",
            "max_points": "2",
            "scale": {"low": "1", "high": "2"},
        },
        METHOD["criteria"][2],
    ],
}


async def test_a_rating_off_the_scale_is_refused_and_a_corrected_base_price_is_recorded(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = await _opened_tender(node, pool, tmp_path, "EV7")
    stream = "session:EV7-S1"
    committee, ex, state = await _seated_committee(o, pool, node, stream, "EV7", RANGED)
    chair = committee[0]
    bids = [b["bid_id"] for b in state["bids"]]
    for eid in committee:
        for bid in bids:
            body = {"bid": bid, "criterion": "qualification", "pass": True}
            await ex[eid].command(stream, "session.preliminary", body, sign=True)
    await ex[chair].command(stream, "session.close_phase", {"phase": "preliminary_review"})

    # A 0 on a 1–2 item is refused, naming the item and what it takes; nothing is recorded.
    before = await pool.fetchval("SELECT state FROM streams WHERE name = $1", stream)
    zero = {"bid": bids[0], "criterion": "plan", "score": "0"}
    with pytest.raises(ClientError) as refused:
        await ex[committee[1]].command(stream, "session.score", zero, sign=True)
    assert refused.value.code == "score_out_of_range"
    assert "进度计划" in refused.value.detail and "1 至 2 分" in refused.value.detail
    after = await pool.fetchval("SELECT state FROM streams WHERE name = $1", stream)
    assert after == before

    for eid in committee:
        for bid in bids:
            for criterion, points in (("tech", "24"), ("plan", "1.5")):
                body = {"bid": bid, "criterion": criterion, "score": points}
                await ex[eid].command(stream, "session.score", body, sign=True)
        await ex[eid].command(stream, "session.submit_scores", sign=True)
    await ex[chair].command(stream, "session.close_phase", {"phase": "deviation_check"})
    state = await pool.fetchval("SELECT state FROM streams WHERE name = $1", stream)
    assert state["report"]["ranking"]["base_price"]["value"] == "1005000.00"

    # 复核: the chair asks to correct the base price, the supervisor approves; the ranking is
    # recomputed and the report carries the correction beside the computed figure.
    body = {"kind": "base_price", "corrected": "1000000.00", "reason": "复核：c 报价算术修正"}
    await ex[chair].command(stream, "session.correction_request", body)
    await o.clients["sup"].command(stream, "session.correction_approve")
    state = await pool.fetchval("SELECT state FROM streams WHERE name = $1", stream)
    report = state["report"]
    (fix,) = report["corrections"]
    assert (fix["original"], fix["corrected"]) == ("1005000.00", "1000000.00")
    assert fix["approved_by"] == o.clients["sup"].user_id
    base = report["ranking"]["base_price"]
    assert (base["value"], base["computed"]) == ("1000000.00", "1005000.00")
    a = next(b for b in report["ranking"]["bids"] if b["bid_id"] == bids[0])
    assert a["deviation"] == "0.00" and a["price_score"] == "70.00"
    digest = report_digest(report)
    for eid in committee:
        await ex[eid].command(stream, "session.sign_report", {"report_digest": digest}, sign=True)
    types = [
        r["type"]
        for r in await pool.fetch("SELECT type FROM events WHERE stream = $1 ORDER BY seq", stream)
    ]
    assert "session.correction_requested" in types and "session.correction_approved" in types
    assert types[-1] == "session.report_final"
    for c in [*o.clients.values(), *ex.values()]:
        await c.close()


FP_CHOICES = ["1.5", "1.25", "1", "0.75", "0.5", "0.25"]
FP_METHOD = {
    **METHOD,
    "price_rule": {
        **METHOD["price_rule"],
        "base": {
            "trim": None,
            "coefficient": "1",
            "floating_point": {"choices": FP_CHOICES},
            "decimals": 2,
        },
    },
}


async def test_the_floating_point_drawn_at_the_opening_is_the_sessions_and_verifies_offline(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = Opening(node, pool, tmp_path)
    extra = {"floating_point": {"choices": FP_CHOICES}}
    opening_at = await o.setup("EV8", opening_in=5.0, window=60, section_extra=extra)
    agency, sup = o.clients["agency"], o.clients["sup"]
    seed = secrets.token_bytes(32)
    commitment = hashlib.sha256(seed).hexdigest()
    # Committed while the bids come in, before anyone reads a price.
    await sup.command(
        o.stream, "opening.commit_floating_point", {"section": "S1", "commitment": commitment}
    )
    for bidder in PRICES:
        await o.bidder(bidder)
        await o.bid(bidder, PRICES[bidder])
    await _wait_until(opening_at)
    await agency.command(o.stream, "opening.start")
    for bidder in PRICES:
        await o.clients[bidder].command(o.stream, "opening.sign_in", sign=True)
        await o.clients[bidder].command(
            o.stream,
            "bid.release_key",
            {"section": "S1", "identity": o.bid_keys[f"{bidder}/single"]},
        )
    await agency.command(o.stream, "opening.close_window")
    await agency.command(o.stream, "opening.read_out")
    with pytest.raises(ClientError) as refused:
        await agency.command(o.stream, "opening.sign_record", sign=True)
    assert refused.value.code == "floating_point_missing"
    await agency.command(
        o.stream, "opening.draw_floating_point", {"section": "S1", "seed": seed.hex()}
    )
    await agency.command(o.stream, "opening.sign_record", sign=True)
    await sup.command(o.stream, "opening.sign_record", sign=True)
    expected = draw_floating_point([Decimal(c) for c in FP_CHOICES], seed, commitment)
    _experts, state = await _create_and_draw(o, pool, "session:EV8-S1", "EV8", FP_METHOD)
    assert state["floating_point"] == str(expected)
    result = verify_bundle(json.loads(json.dumps(await export_bundle(pool, o.stream))))
    # Checkpoint coverage is the audit's own clock (tests/test_verify.py); all else holds.
    found = [p for p in result.problems if "not covered by any signed checkpoint" not in p.reason]
    assert found == []
    assert any(
        f"floating point of S1 recomputed from its seed: {expected}" in s for s in result.summary
    )
    for c in o.clients.values():
        await c.close()
