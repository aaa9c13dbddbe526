"""A whole remote opening (不见面开标) over real sockets with several remote bidders."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from clients.opening import make_opening_key, pack_bid, seal_envelope, upload_envelope
from clients.sdk import Client, ClientError, Subscription
from tests.support import InProcessNode, Participant, add_participant, slack

pytestmark = pytest.mark.slow

FORMS = {
    "single": [
        {"name": "price", "type": "decimal", "required": True, "label": "投标报价（元）"},
        {"name": "duration_days", "type": "int", "required": True, "label": "工期（日历天）"},
    ]
}


async def _wait_until(when: datetime) -> None:
    """The opening time is a clock rule: wait for the clock, not for an event."""
    delay = (when - datetime.now(UTC)).total_seconds()
    if delay > 0:
        await asyncio.sleep(delay + 0.05)


async def _events_until(sub: Subscription, type_: str, timeout: float = 20) -> list[dict[str, Any]]:
    seen = []
    while True:
        ev = await sub.next(timeout=timeout)
        seen.append(ev)
        if ev["type"] == type_:
            return seen


class Opening:
    """The cast of one tender: agency, supervisor, keyholders, bidders, with live clients."""

    def __init__(self, node: InProcessNode, pool: asyncpg.Pool, tmp: Path) -> None:
        self.node, self.pool, self.tmp = node, pool, tmp
        self.clients: dict[str, Client] = {}
        self.people: dict[str, Participant] = {}
        self.bid_keys: dict[str, str] = {}

    async def person(self, name: str, **kw: Any) -> Client:
        p = await add_participant(self.pool, name, **kw)
        self.people[name] = p
        self.clients[name] = await p.client(self.node.url)
        return self.clients[name]

    async def setup(
        self,
        tender: str,
        *,
        opening_in: float,
        window: int,
        rule: str = "committee",
        envelopes: tuple[str, ...] = ("single",),
        forms: Any = None,
        control_price: dict[str, str] | None = None,
        section_extra: dict[str, Any] | None = None,  # e.g. a floating point set
    ) -> datetime:
        agency = await self.person("agency", roles=[("agency", "platform")])
        await self.person("authority", roles=[("authority", "platform")])
        for name in ("sup", "kh1", "kh2", "kh3"):
            await self.person(name)
        recipient, self.shares = make_opening_key(2, 3)
        opening_at = datetime.now(UTC) + timedelta(seconds=slack(opening_in))
        window = round(slack(window))
        section: dict[str, Any] = {"id": "S1", "name": "第一标段"}
        if control_price is not None:
            section["control_price"] = control_price
        section.update(section_extra or {})
        config = {
            "sections": [section],
            "envelopes": list(envelopes),
            "opening_at": opening_at.isoformat(),
            "decryption_window_seconds": window,
            "min_bids": 3,
            "failure_rule": rule,
            "opening_recipient": recipient,
            "threshold": {"k": 2, "n": 3},
            "keyholders": [self.people[k].user_id for k in ("kh1", "kh2", "kh3")],
            "forms": forms or FORMS,
        }
        self.tender = tender
        self.stream = f"tender:{tender}"
        self.recipient = recipient
        await agency.command(
            self.stream, "tender.create", {"title": "公路养护工程", "config": config}
        )
        # Supervisors are appointed by the supervising authority (行政监督部门), not the agency.
        await self.clients["authority"].command(
            self.stream, "tender.grant", {"user": self.people["sup"].user_id, "role": "supervisor"}
        )
        await agency.command(self.stream, "tender.publish")
        return opening_at

    async def ceremony(self, bidders: tuple[str, ...]) -> dict[str, Any]:
        """Run the running stage to its signed record; every bidder in it opens its bid."""
        for name in bidders:
            c = self.clients[name]
            state = await self.pool.fetchval(
                "SELECT state FROM streams WHERE name = $1", self.stream
            )
            stage = state["opening"]["stage"]
            if not any(
                b["org"] == f"company-{name}" for b in state["opening"][stage]["bids"].values()
            ):
                continue
            await c.command(self.stream, "opening.sign_in", sign=True)
            await c.command(
                self.stream,
                "bid.release_key",
                {"section": "S1", "identity": self.bid_keys[f"{name}/{stage}"]},
            )
        agency, sup = self.clients["agency"], self.clients["sup"]
        await agency.command(self.stream, "opening.close_window")
        await agency.command(self.stream, "opening.read_out")
        await agency.command(self.stream, "opening.sign_record", sign=True)
        await sup.command(self.stream, "opening.sign_record", sign=True)
        state: dict[str, Any] = await self.pool.fetchval(
            "SELECT state FROM streams WHERE name = $1", self.stream
        )
        return state

    async def bidder(self, name: str) -> Client:
        c = await self.person(name, org=f"company-{name}")
        await c.command(self.stream, "tender.join")
        return c

    async def bid_stream(self, name: str) -> str:
        name_ = await self.pool.fetchval(
            "SELECT scope FROM roles WHERE user_id = $1 AND scope LIKE 'bid:%'",
            self.people[name].user_id,
        )
        return str(name_)

    async def bid(
        self, name: str, price: str, envelope: str = "single", form: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        package = self.tmp / f"{name}-{envelope}.zip"
        sealed = self.tmp / f"{name}-{envelope}.age"
        pack_bid(
            package,
            form or {"price": price, "duration_days": 180},
            {"technical.pdf": b"%PDF-1.4 " + name.encode() * 1000},
        )
        self.bid_keys[f"{name}/{envelope}"] = seal_envelope(package, sealed, self.recipient)
        return await upload_envelope(self.clients[name], self.tender, "S1", envelope, sealed)


async def test_a_whole_remote_opening_with_late_bid_early_opening_fallback_and_tampering(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = Opening(node, pool, tmp_path)
    opening_at = await o.setup("OP1", opening_in=6.0, window=2)
    agency, sup = o.clients["agency"], o.clients["sup"]
    bidders = ["a", "b", "c", "d", "e"]
    prices = {"a": "1000000.00", "b": "980000.50", "c": "1025000.00", "d": "990000.00", "e": "1.00"}
    for name in [*bidders, "late"]:
        await o.bidder(name)
    receipts = {name: await o.bid(name, prices[name]) for name in bidders}
    assert all(r["reply"]["receipt"]["kind"] == "bid.submitted" for r in receipts.values())
    feed_a = await o.clients["a"].subscribe(o.stream)
    sup_feed = await sup.subscribe(o.stream)

    # Early opening refused.
    with pytest.raises(ClientError) as early:
        await agency.command(o.stream, "opening.start")
    assert early.value.code == "too_early"

    # Someone tampers with e's stored ciphertext.
    upload = receipts["e"]["reply"]["receipt"]
    chunk = await pool.fetchval(
        "SELECT data FROM upload_chunks uc JOIN uploads u ON u.id = uc.upload"
        " WHERE u.tender = $1 AND u.uploader = $2 AND n = 0",
        o.stream,
        o.people["e"].user_id,
    )
    tampered = bytearray(chunk)
    tampered[-10] ^= 0x01
    await pool.execute(
        "UPDATE upload_chunks SET data = $1 FROM uploads u WHERE u.id = upload"
        " AND u.tender = $2 AND u.uploader = $3 AND n = 0",
        bytes(tampered),
        o.stream,
        o.people["e"].user_id,
    )
    assert upload["size"] > 0

    await _wait_until(opening_at)
    # A late bid is refused with deadline_passed, before any byte is stored, and recorded.
    with pytest.raises(ClientError) as late:
        await o.bid("late", "900000.00")
    assert late.value.code == "deadline_passed"
    # Recorded in the late company's own stream, never in the tender's (its seqs count nobody).
    recorded = await pool.fetch(
        "SELECT stream FROM events WHERE type = 'command.refused'"
        " AND payload->>'code' = 'deadline_passed' AND actor = $1",
        o.people["late"].user_id,
    )
    assert [r["stream"] for r in recorded] == [await o.bid_stream("late")]

    started = await agency.command(o.stream, "opening.start")
    assert started["seq"] > 0
    numbers: dict[str, str] = {}
    for name in bidders:
        c = o.clients[name]
        await c.command(o.stream, "opening.sign_in", sign=True)
    for name in ("a", "b", "c", "e"):
        await o.clients[name].command(
            o.stream, "bid.release_key", {"section": "S1", "identity": o.bid_keys[f"{name}/single"]}
        )
    # d never releases its key; the window closes on the clock.
    state = await pool.fetchval("SELECT state FROM streams WHERE name = $1", o.stream)
    stage = state["opening"]["single"]
    for number, bid in stage["bids"].items():
        numbers[bid["org"].removeprefix("company-")] = number
    assert stage["bids"][numbers["e"]]["reason"] == "ciphertext_tampered"
    assert stage["bids"][numbers["d"]]["status"] == "waiting"
    with pytest.raises(ClientError) as too_soon:
        await agency.command(o.stream, "opening.close_window")
    assert too_soon.value.code == "window_open"
    await _wait_until(datetime.fromisoformat(stage["window_ends"]))
    await agency.command(o.stream, "opening.close_window")

    # Committee fallback: one share is not enough; the second rebuilds the key and opens d.
    kh1, kh2 = o.clients["kh1"], o.clients["kh2"]
    with pytest.raises(ClientError) as not_keyholder:
        await o.clients["a"].command(o.stream, "opening.share", {"share": o.shares[0]}, sign=True)
    assert not_keyholder.value.code == "forbidden"
    await kh1.command(o.stream, "opening.share", {"share": o.shares[0]}, sign=True)
    left = await pool.fetchval("SELECT count(*) FROM opening_shares")
    assert left == 1
    # The second and third keyholders hand in at the same moment: both are recorded, once opened.
    kh3 = o.clients["kh3"]
    await asyncio.gather(
        kh2.command(o.stream, "opening.share", {"share": o.shares[2]}, sign=True),
        kh3.command(o.stream, "opening.share", {"share": o.shares[1]}, sign=True),
    )
    assert await pool.fetchval("SELECT count(*) FROM opening_shares") == 0
    state = await pool.fetchval("SELECT state FROM streams WHERE name = $1", o.stream)
    bids = state["opening"]["single"]["bids"]
    assert bids[numbers["d"]]["status"] == "decrypted" and bids[numbers["d"]]["via"] == "committee"
    assert bids[numbers["e"]]["status"] == "rejected"
    assert bids[numbers["a"]]["form"] == {"price": "1000000.00", "duration_days": 180}

    # Read-out, an objection answered, confirmations, the record signed.
    await agency.command(o.stream, "opening.read_out")
    await o.clients["c"].command(o.stream, "opening.object", {"text": "请核实b公司报价"})
    await agency.command(o.stream, "opening.answer", {"objection": "O1", "text": "已核实，无误"})
    for name in ("a", "b", "c", "d"):
        await o.clients[name].command(o.stream, "opening.confirm", sign=True)
    await agency.command(o.stream, "opening.sign_record", sign=True)
    await sup.command(o.stream, "opening.sign_record", sign=True)
    state = await pool.fetchval("SELECT state FROM streams WHERE name = $1", o.stream)
    assert state["phase"] == "opened"
    record = state["opening"]["single"]["record"]
    assert [b["status"] for b in record["bids"]].count("decrypted") == 4

    # What bidder a saw: no other company named before the read-out, everyone's after.
    seen = await _events_until(feed_a, "opening.record")
    before = [
        e
        for e in seen
        if e["seq"] < next(x["seq"] for x in seen if x["type"] == "opening.read_out")
    ]
    assert not any("company-b" in json.dumps(e, ensure_ascii=False) for e in before)
    read_out = next(e for e in seen if e["type"] == "opening.read_out")
    assert {e["org"] for e in read_out["payload"]["entries"]} == {f"company-{n}" for n in bidders}
    statuses = [e["payload"]["status"] for e in seen if e["type"] == "bid.status"]
    assert "decrypting" in statuses and "decrypted" in statuses and "failed" in statuses
    sup_seen = await _events_until(sup_feed, "opening.record")
    # The record commits to every company's own stream (the late one's too, with its refusal).
    committed = next(e for e in sup_seen if e["type"] == "bids.committed")
    names = [c["stream"] for c in committed["payload"]["streams"]]
    assert sorted(names) == sorted([await o.bid_stream(n) for n in [*bidders, "late"]])
    # Supervisors see every company's bids in its own stream.
    own_a = await sup.subscribe(await o.bid_stream("a"))
    assert (await own_a.wait_for(lambda e: e["type"] == "bid.submitted"))["payload"]["org"] == (
        "company-a"
    )

    # The opened package: a supervisor may download it, a bidder may not.
    async with httpx.AsyncClient(base_url=node.url) as http:
        ok = await http.get(
            f"/api/tenders/OP1/opened/{numbers['d']}",
            headers={"authorization": f"Bearer {sup.token}"},
        )
        assert ok.status_code == 200 and ok.content[:2] == b"PK"
        no = await http.get(
            f"/api/tenders/OP1/opened/{numbers['d']}",
            headers={"authorization": f"Bearer {o.clients['a'].token}"},
        )
        assert no.status_code == 403 and no.json()["code"] == "forbidden"
    for c in o.clients.values():
        await c.close()


async def test_a_rejection_tender_withdraws_unreleased_bids_and_fails_below_the_minimum(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = Opening(node, pool, tmp_path)
    opening_at = await o.setup("OP2", opening_in=4.0, window=1, rule="reject")
    for name in ("a", "b", "c"):
        await o.bidder(name)
        await o.bid(name, "500000.00")
    await o.bidder("d")  # its bid form lacks the price the tender asks for
    await o.bid("d", "", form={"duration_days": 90})
    # Replacing a bid before the deadline: a new version with its own receipt; the newest opens.
    replaced = await o.bid("a", "490000.00")
    assert replaced["reply"]["receipt"]["version"] == 2
    # Withdrawal before the deadline comes with a receipt.
    withdrawn = await o.clients["c"].command(o.stream, "bid.withdraw", {"section": "S1"})
    assert withdrawn["reply"]["receipt"]["kind"] == "bid.withdrawn"
    await _wait_until(opening_at)
    agency = o.clients["agency"]
    await agency.command(o.stream, "opening.start")
    await o.clients["a"].command(o.stream, "opening.sign_in", sign=True)
    # A wrong key fails the attempt (recorded, public) but the window lets the bidder retry.
    await o.clients["a"].command(
        o.stream, "bid.release_key", {"section": "S1", "identity": o.bid_keys["b/single"]}
    )
    state = await pool.fetchval("SELECT state FROM streams WHERE name = $1", o.stream)
    (bid_a,) = [b for b in state["opening"]["single"]["bids"].values() if b["org"] == "company-a"]
    assert bid_a["status"] == "failed" and bid_a["reason"] == "wrong_key"
    release = {"section": "S1", "identity": o.bid_keys["a/single"]}
    first = await o.clients["a"].command(o.stream, "bid.release_key", release, id="rel-a")
    # Retried with the same id: the first ack, and no second "decrypting" for anyone to see.
    assert await o.clients["a"].command(o.stream, "bid.release_key", release, id="rel-a") == first
    rows = await pool.fetch(
        "SELECT payload FROM events WHERE stream = $1 AND type = 'bid.status' ORDER BY seq",
        o.stream,
    )
    (number_a,) = [
        n for n, b in state["opening"]["single"]["bids"].items() if b["org"] == "company-a"
    ]
    shown = [r["payload"]["status"] for r in rows if r["payload"]["number"] == number_a]
    # Each attempt is announced before its decryption's outcome, once.
    assert shown == ["decrypting", "failed", "decrypting", "decrypted"]
    # A bidder not signed in is refused before any decryption, and no status is announced.
    with pytest.raises(ClientError) as refused:
        await o.clients["b"].command(
            o.stream, "bid.release_key", {"section": "S1", "identity": o.bid_keys["b/single"]}
        )
    assert refused.value.code == "not_signed_in"
    assert await pool.fetchval(
        "SELECT count(*) FROM events WHERE stream = $1 AND type = 'bid.status'", o.stream
    ) == len(rows)
    # A package whose bid form is invalid fails at opening, with the reason.
    await o.clients["d"].command(o.stream, "opening.sign_in", sign=True)
    await o.clients["d"].command(
        o.stream, "bid.release_key", {"section": "S1", "identity": o.bid_keys["d/single"]}
    )
    state = await pool.fetchval("SELECT state FROM streams WHERE name = $1", o.stream)
    (bid_d,) = [b for b in state["opening"]["single"]["bids"].values() if b["org"] == "company-d"]
    assert bid_d["status"] == "failed" and bid_d["reason"].startswith("invalid_form")
    assert "price" in bid_d["reason"]
    await _wait_until(datetime.fromisoformat(state["opening"]["single"]["window_ends"]))
    await agency.command(o.stream, "opening.close_window")
    await agency.command(o.stream, "opening.read_out")
    state = await pool.fetchval("SELECT state FROM streams WHERE name = $1", o.stream)
    statuses = sorted(b["status"] for b in state["opening"]["single"]["bids"].values())
    assert statuses == ["decrypted", "rejected", "rejected"]  # c withdrew before the deadline
    (opened,) = [
        b for b in state["opening"]["single"]["bids"].values() if b["status"] == "decrypted"
    ]
    assert opened["org"] == "company-a" and opened["form"]["price"] == "490000.00"
    assert state["failed_sections"] == ["S1"]  # one valid bid < 3: the section fails (流标)
    for c in o.clients.values():
        await c.close()


async def two_envelope_opening(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path, tender: str
) -> tuple[Opening, dict[str, Any], list[str]]:
    """Bidders a..d; company-c fails the technical stage. Returns the opening, the tender's
    state after the technical stage, and the bid numbers that passed it; the commercial stage
    runs through ``Opening.ceremony``."""
    forms = {
        "technical": [{"name": "duration_days", "type": "int"}],
        "commercial": [{"name": "price", "type": "decimal"}],
    }
    o = Opening(node, pool, tmp_path)
    # Room for eight sealed uploads before the deadline, even on a busy machine.
    opening_at = await o.setup(
        tender, opening_in=5.0, window=60, envelopes=("technical", "commercial"), forms=forms
    )
    for i, name in enumerate(("a", "b", "c", "d")):
        await o.bidder(name)
        await o.bid(name, "", "technical", {"duration_days": 100 + i})
        await o.bid(name, "", "commercial", {"price": f"{700000 + i}.00"})
    await _wait_until(opening_at)
    await o.clients["agency"].command(o.stream, "opening.start")
    state = await o.ceremony(("a", "b", "c", "d"))
    technical = state["opening"]["technical"]["bids"]
    passed = sorted(n for n, b in technical.items() if b["org"] != "company-c")
    return o, state, passed


async def test_two_envelope_tender_opens_commercial_only_for_bids_that_passed(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o, state, passed = await two_envelope_opening(node, pool, tmp_path, "OP3")
    agency = o.clients["agency"]
    assert state["phase"] == "technical_opened"
    technical = state["opening"]["technical"]["bids"]
    assert all("price" not in b["form"] for b in technical.values())
    await agency.command(o.stream, "opening.start_commercial", {"passed": passed})
    state = await o.ceremony(("a", "b", "c", "d"))
    assert state["phase"] == "opened"
    commercial = state["opening"]["commercial"]["bids"]
    assert sorted(commercial) == passed
    assert {b["form"]["price"] for b in commercial.values()} == {
        "700000.00",
        "700001.00",
        "700003.00",
    }
    for c in o.clients.values():
        await c.close()


async def test_a_price_above_the_control_price_is_rejected_in_the_read_out_and_the_record(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = Opening(node, pool, tmp_path)
    control = {"limit": "1000000.00", "floor": "800000.00"}
    opening_at = await o.setup("OP4", opening_in=5.0, window=60, control_price=control)
    prices = {"a": "1000000.00", "b": "1000000.01", "c": "799999.99", "d": "900000.00"}
    for name, price in prices.items():
        await o.bidder(name)
        await o.bid(name, price)
    watch = await o.clients["d"].subscribe(o.stream)  # a bidder sees the public read-out
    await _wait_until(opening_at)
    await o.clients["agency"].command(o.stream, "opening.start")
    await o.ceremony(tuple(prices))
    seen = await _events_until(watch, "opening.record")
    read = next(e for e in seen if e["type"] == "opening.read_out")["payload"]
    record = next(e for e in seen if e["type"] == "opening.record")["payload"]
    for listing in (read["entries"], record["bids"]):
        by_org = {b["org"]: b for b in listing}
        rejected = by_org["company-b"]["rejected"]
        assert rejected["reason"] == "above_control_price"
        assert "1000000.01" in rejected["detail"] and rejected["detail_en"]
        assert by_org["company-c"]["review"]["reason"] == "below_floor"
        assert "rejected" not in by_org["company-a"] and "rejected" not in by_org["company-d"]
    # Three valid bids (a at the limit, c flagged, d): the section does not fail.
    assert record["failed_sections"] == [] and not any(e["type"] == "section.failed" for e in seen)
    for c in o.clients.values():
        await c.close()
