"""A whole award (定标, 评定分离) over real sockets: the tenderer's 定标委员会 awards a closed
session's candidates by 票决抽签法 — sign-in by signature with a supervisor present, the seed
committed before the vote, signed ballots, the public lot, the signed 定标报告, the 公示 with
an objection answered, the platform's clock closing the window, the award notice — and the
exported evidence bundle verifies offline, the award recomputed from the signed votes."""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from clients.sdk import ClientError
from clients.verify import verify_bundle
from evalroom.audit.bundle import export_bundle, uncovered
from evalroom.domain.award_rules import draw_lot
from evalroom.domain.session import report_digest
from tests.support import InProcessNode, add_participant, slack
from tests.test_opening import Opening, _events_until
from tests.test_session import LOWEST_PRICE, _opened_tender, _seated_committee

pytestmark = pytest.mark.slow


async def _state(pool: asyncpg.Pool, stream: str) -> dict[str, Any]:
    state: dict[str, Any] = await pool.fetchval("SELECT state FROM streams WHERE name = $1", stream)
    return state


async def _refused(client: Any, stream: str, type_: str, body: Any, **kw: Any) -> str:
    with pytest.raises(ClientError) as refused:
        await client.command(stream, type_, body, **kw)
    return refused.value.code


async def closed_by_lowest_price(
    o: Opening, pool: asyncpg.Pool, node: InProcessNode, stream: str, tender: str
) -> dict[str, str]:
    """A session of the opened tender evaluated by the lowest price, every bid passing the
    review, its report signed by the whole committee: closed, ready for the award. Returns
    each bidder's (a, b, …) bid number."""
    committee, ex, state = await _seated_committee(o, pool, node, stream, tender, LOWEST_PRICE)
    number = {b["company"].removeprefix("company-"): b["bid_id"] for b in state["bids"]}
    for eid in committee:
        for bid in number.values():
            body = {"bid": bid, "criterion": "qualification", "pass": True}
            await ex[eid].command(stream, "session.preliminary", body, sign=True)
    await ex[committee[0]].command(stream, "session.close_phase", {"phase": "preliminary_review"})
    digest = report_digest((await _state(pool, stream))["report"])
    for eid in committee:
        await ex[eid].command(stream, "session.sign_report", {"report_digest": digest}, sign=True)
    for client in ex.values():
        await client.close()
    return number


async def test_a_whole_award_by_vote_then_lot_over_real_sockets(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = await _opened_tender(node, pool, tmp_path, "AW1")
    stream = "session:AW1-S1"
    number = await closed_by_lowest_price(o, pool, node, stream, "AW1")
    # By the lowest price: b 980,000, d 990,000, a 1,000,000 are recommended in that order.
    assert [r["bid_id"] for r in (await _state(pool, stream))["report"]["recommended"]] == [
        number["b"],
        number["d"],
        number["a"],
    ]

    owner = await add_participant(pool, "owner", org="甘肃交通厅", roles=[("tenderer", o.stream)])
    tenderer = await owner.client(node.url)
    people = [await add_participant(pool, f"m{i}", org="甘肃交通厅") for i in range(5)]
    members = {p.user_id: await p.client(node.url) for p in people}
    ids = list(members)
    agency, sup, bidder_b = o.clients["agency"], o.clients["sup"], o.clients["b"]
    agency_feed = await agency.subscribe(stream)
    bidder_feed = await bidder_b.subscribe(stream)
    tenderer_feed = await tenderer.subscribe(stream)
    agency_feed.drain(), bidder_feed.drain(), tenderer_feed.drain()

    method = {"kind": "vote_lot", "finalists": 2}
    window = round(slack(3))
    setup = {"method": method, "members": ids, "chair": ids[0], "objection_seconds": window}
    # The agency does not award, and a bidder's staff never sits on the 定标委员会.
    assert await _refused(agency, stream, "award.setup", setup) == "forbidden"
    intruder = {**setup, "members": [*ids[:4], o.people["a"].user_id]}
    assert await _refused(tenderer, stream, "award.setup", intruder) == "conflict_of_roles"
    assert await _refused(tenderer, stream, "award.setup", {**setup, "candidates": []}) == (
        "invalid"
    )  # the candidates are the signed report's, never the body's
    await tenderer.command(stream, "award.setup", setup)

    seed = secrets.token_bytes(32)
    await sup.command(stream, "award.commit_seed", {"commitment": hashlib.sha256(seed).hexdigest()})
    for m in ids:
        await members[m].subscribe(stream)
        await members[m].command(stream, "award.sign_in", sign=True)
    await sup.command(stream, "award.sign_in", sign=True)
    agency_saw = await _events_until(agency_feed, "award.voting_opened")

    # Round 1: d 3, a 2 — the finalists are d and a (b, the cheapest, got no vote).
    choices = [number["d"]] * 3 + [number["a"]] * 2
    for m, bid in zip(ids, choices, strict=True):
        await members[m].command(stream, "award.vote", {"round": 1, "candidate": bid}, sign=True)
    again = {"round": 1, "candidate": number["a"]}
    assert await _refused(members[ids[0]], stream, "award.vote", again, sign=True) == (
        "wrong_phase"
    )  # the round closed with the last vote: nothing more to vote on
    assert await _refused(sup, stream, "award.vote", again, sign=True) == "forbidden"
    seen = await _events_until(tenderer_feed, "award.round")
    assert seen[-1]["payload"]["chosen"] == [number["d"], number["a"]]
    assert len([e for e in seen if e["type"] == "award.vote"]) == 0  # secret ballots

    await sup.command(stream, "award.reveal_seed", {"seed": seed.hex()})
    lot = (await _events_until(bidder_feed, "award.lot_drawn"))[-1]["payload"]
    pick = draw_lot([number["d"], number["a"]], seed, hashlib.sha256(seed).hexdigest())
    assert lot["pick"] == pick and lot["seed"] == seed.hex()

    award = (await _state(pool, stream))["award"]
    assert award["report"]["winner"]["bid_id"] == pick
    for m in ids:
        body = {"award_digest": award["award_digest"]}
        await members[m].command(stream, "award.sign_report", body, sign=True)
    published = (await _events_until(bidder_feed, "award.publicity"))[-1]
    assert published["payload"]["winner"]["bid_id"] == pick

    objection = await bidder_b.command(
        stream, "award.object", {"text": "我公司报价最低，请说明未中标理由"}, sign=True
    )
    oid = objection["reply"]["id"]
    assert await _refused(tenderer, stream, "award.notify", None) == "publicity_running"
    await tenderer.command(
        stream, "award.answer", {"id": oid, "answer": "依票决抽签法，报价最低者未入围抽签"}
    )
    # The platform's clock (the session watch) closes the window; the test waits on its event.
    await _events_until(tenderer_feed, "award.publicity_closed", timeout=slack(window + 20))
    await tenderer.command(stream, "award.notify")
    notice = (await _events_until(bidder_feed, "award.notice"))[-1]
    assert notice["payload"]["winner"]["bid_id"] == pick

    # Who saw what: the agency only the progress and the public steps, the bidder never the
    # committee's ballots or rounds.
    agency_types = {e["type"] for e in [*agency_saw, *agency_feed.drain()]}
    assert "award.progress" in agency_types
    assert "award.round" not in agency_types and "award.vote" not in agency_types
    bidder_types = {e["type"] for e in bidder_feed.drain()}
    assert not bidder_types & {"award.round", "award.committee", "award.progress"}

    # The evidence bundle: the award recomputed from the signed votes and the committed seed.
    audit = node.node.extras["audit"]
    for _ in range(10):
        for name in (o.stream, stream):
            await audit.checkpoint_now(name, "export")
        bundle = json.loads(json.dumps(await export_bundle(pool, stream)))
        if not uncovered(bundle):
            break
    result = verify_bundle(bundle)
    assert result.ok, [str(p) for p in result.problems]
    assert any(
        line.startswith(f"award {stream}: vote_lot → {pick} (lot)") for line in result.summary
    )

    # A tampered ballot is named: move one signed vote's recorded payload to the other finalist.
    events = next(s for s in bundle["streams"] if s["name"] == stream)["events"]
    votes = [e for e in events if e["type"] == "award.vote"]
    votes[0]["payload"]["command"]["body"]["candidate"] = number["b"]
    problems = [str(p) for p in verify_bundle(bundle).problems]
    assert any("award.vote" in p or "signature" in p or "leaf" in p for p in problems), problems

    for c in [*o.clients.values(), *members.values(), tenderer]:
        await c.close()
