"""Confidentiality until the opening (《招标投标法》第22条): what a bidder and the agency can
observe does not depend on how many other bidders there are, over real sockets.

Two worlds run the same tender with the same deployment secrets and the same participants'
keys: in world A bidder 1 is alone; in world B six other companies join, upload, withdraw and
are refused around bidder 1's every step. Everything bidder 1, the agency and the tenderer
receive up to the opening (WebSocket frames, acks, subscription heads, checkpoints and proofs they may fetch,
``/api/tenders``, HTTP answers, existence probes) must be byte-identical once timestamps are
normalised (and the hashes and signatures over timestamped records, replaced by the order in
which they first appear).
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from clients.opening import make_opening_key, pack_bid, seal_envelope, upload_envelope
from clients.sdk import Client, ClientError
from clients.verify import verify_bundle
from crypto.events import event_leaf_hash, event_record
from crypto.keys import SigningKey
from evalroom.audit import Audit
from evalroom.audit.bundle import export_bundle
from evalroom.db.identity import create_user, grant_role
from evalroom.db.migrate import migrate
from evalroom.services.bids import stream_name
from evalroom.settings import Settings
from tests.services import create_database, drop_database
from tests.support import InProcessNode, in_process_node, slack

FORMS = {
    "single": [
        {"name": "price", "type": "decimal", "required": True, "label": "投标报价（元）"},
    ]
}
# The same deployment secrets in both worlds: the same platform and log keys, so the same
# bid stream names and the same signed notes for the same trees.
SECRETS = {"token_mac": b"\x01" * 32, "platform_ed25519": b"\x02" * 32, "log_ed25519": b"\x03" * 32}
TENDER = "tender:CONF1"
OTHERS = 6
OBSERVERS = ("bidder-1", "agency", "owner")  # a bidder, the agency, the tenderer


def _key(n: int) -> SigningKey:
    return SigningKey.from_raw(bytes([n]) * 32)


class Recording(Client):
    """A client that keeps every message it receives, exactly as the node serialised it."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.seen: list[str] = []

    def _handle(self, msg: dict[str, Any]) -> None:
        if msg.get("t") == "hb":  # the node's own clock, the same for everyone
            return super()._handle(msg)
        self.seen.append(json.dumps(msg, ensure_ascii=False, separators=(",", ":")))
        super()._handle(msg)


@dataclass
class World:
    node: InProcessNode
    pool: asyncpg.Pool
    sealed: dict[str, Path]
    clients: dict[str, Recording] = field(default_factory=dict)
    seen: dict[str, list[str]] = field(default_factory=dict)  # observer -> transcript

    @property
    def audit(self) -> Audit:
        audit = self.node.node.extras["audit"]
        assert isinstance(audit, Audit)
        return audit

    def log(self, who: str, what: str, value: Any) -> None:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        self.seen.setdefault(who, []).append(f"{what} {text}")

    async def person(self, user: str, n: int, org: str | None = None) -> Recording:
        await create_user(self.pool, user, user, org, _key(n).public.to_string())
        client = Recording(self.node.url, user, _key(n), heartbeat=3600)
        await client.connect()
        self.clients[user] = client
        return client

    async def http(self, who: str, path: str) -> None:
        """A GET as ``who``, its status and body logged."""
        token = self.clients[who].token
        async with httpx.AsyncClient(base_url=self.node.url) as http:
            r = await http.get(path, headers={"authorization": f"Bearer {token}"})
        self.log(who, f"GET {path} {r.status_code}", r.json())

    async def try_command(
        self, who: str, stream: str, type_: str, body: Any, id: str, sign: bool = False
    ) -> None:
        client = self.clients[who]
        try:
            self.log(
                who, f"ack {type_}", await client.command(stream, type_, body, id=id, sign=sign)
            )
        except ClientError as err:
            self.log(who, f"refused {type_}", [err.code, err.message, err.detail])


@contextlib.asynccontextmanager
async def world(
    pg_server_url: str, settings: Settings, sealed: dict[str, Path]
) -> AsyncIterator[World]:
    url = await create_database(pg_server_url)
    try:
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn)
            for name, value in SECRETS.items():
                await conn.execute(
                    "UPDATE node_secrets SET value = $2 WHERE name = $1", name, value
                )
        finally:
            await conn.close()
        quiet = replace(
            settings,
            database_url=url,
            node_id="node-1",
            extra={"audit_checkpoint_seconds": "3600"},  # checkpoints only when the test says
        )
        async with in_process_node(quiet) as node:
            pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
            w = World(node, pool, sealed)
            try:
                yield w
            finally:
                for client in w.clients.values():
                    await client.close()
                await pool.close()
    finally:
        await drop_database(pg_server_url, url)


TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?")
# Base64 (std or url) runs long enough to be a hash, a root or a signature.
OPAQUE = re.compile(r"[A-Za-z0-9+/_-]{40,}={0,2}")
TIMES = re.compile(r"\b1\d{9}(\.\d+)?\b")  # unix times (a token's expiry)


def normalised(lines: list[str]) -> list[str]:
    """Timestamps out; each hash or signature replaced by the order of its first appearance
    (they cover timestamped records, so they differ between worlds even for equal trees)."""
    names: dict[str, str] = {}

    def opaque(m: re.Match[str]) -> str:
        return names.setdefault(m.group(0), f"<h{len(names)}>")

    out = []
    for line in lines:
        line = TIME.sub("<time>", line)
        line = TIMES.sub("<unix>", line)
        out.append(OPAQUE.sub(opaque, line))
    return out


async def _play(w: World, others: int) -> dict[str, list[str]]:
    """The tender up to the opening: bidder 1 and the agency act identically in both worlds;
    ``others`` more companies act around them."""
    recipient = w.sealed["recipient"].read_text()
    agency = await w.person("agency", 1)
    await grant_role(w.pool, "agency", "platform", "agency")
    await w.person("sup", 2)
    await w.person("authority", 6)  # the supervising authority (行政监督部门) appoints supervisors
    await grant_role(w.pool, "authority", "platform", "authority")
    owner = await w.person("owner", 5)  # the tenderer (招标人)
    bidder = await w.person("bidder-1", 10, "company-1")
    crowd = [await w.person(f"bidder-{k}", 10 + k, f"company-{k}") for k in range(2, 2 + others)]
    stranger = await w.person("stranger", 9, "company-x")  # never joins
    for n, holder in enumerate(("kh1", "kh2"), start=3):
        await create_user(w.pool, holder, holder, None, _key(n).public.to_string())
    opening_at = datetime.now(UTC) + timedelta(hours=1)
    config = {
        "sections": [{"id": "S1", "name": "第一标段"}],
        "envelopes": ["single"],
        "opening_at": opening_at.isoformat(),
        "decryption_window_seconds": 60,
        "min_bids": 1,
        "failure_rule": "reject",
        "opening_recipient": recipient,
        "threshold": {"k": 2, "n": 2},
        "keyholders": ["kh1", "kh2"],
        "forms": FORMS,
    }
    await w.try_command(
        "agency", TENDER, "tender.create", {"title": "保密测试", "config": config}, "a1"
    )
    await w.try_command(
        "authority", TENDER, "tender.grant", {"user": "sup", "role": "supervisor"}, "a2"
    )
    await w.try_command(
        "agency", TENDER, "tender.grant", {"user": "owner", "role": "tenderer"}, "a6"
    )
    await w.try_command("agency", TENDER, "tender.publish", {}, "a3")
    assert all(line.startswith("ack ") for line in w.seen["authority"] + w.seen["agency"])
    await agency.subscribe(TENDER)
    await owner.subscribe(TENDER)

    async def crowd_acts(step: int) -> None:
        """What the other companies do at this point (nothing in world A)."""
        for i, c in enumerate(crowd):
            k = i + 2
            if step == 0:
                await c.command(TENDER, "tender.join", id=f"j{k}")
                # Refused before the opening: kept in the company's own stream.
                with contextlib.suppress(ClientError):
                    await c.command(TENDER, "opening.sign_in", id=f"early{k}", sign=True)
            elif step == 1:
                await upload_envelope(c, "CONF1", "S1", "single", w.sealed[f"bid-{k}"])
            elif step == 2 and k % 2 == 0:
                await c.command(TENDER, "bid.withdraw", {"section": "S1"}, id=f"w{k}")
                await upload_envelope(c, "CONF1", "S1", "single", w.sealed[f"bid-{k}"])
        if step == 1 and crowd:
            with contextlib.suppress(ClientError):  # not a bidder: kept in platform
                await upload_envelope(stranger, "CONF1", "S1", "single", w.sealed["bid-2"])

    await crowd_acts(0)
    await w.try_command("bidder-1", TENDER, "tender.join", {}, "b1")
    own = await stream_name(w.pool, TENDER, "company-1")
    await bidder.subscribe(TENDER)
    await bidder.subscribe(own)
    await crowd_acts(1)
    await w.try_command("bidder-1", TENDER, "opening.sign_in", {}, "b2", sign=True)  # too early
    ack = await upload_envelope(
        bidder, "CONF1", "S1", "single", w.sealed["bid-1"], idempotency_key="b3"
    )
    w.log("bidder-1", "upload", ack)
    await w.try_command("agency", TENDER, "tender.notice", {"text": "答疑一"}, "a4")
    await crowd_acts(2)
    await w.audit.checkpoints.tick()
    # Probes: another company's stream (real in world B, absent in A) and a made-up name.
    other = await stream_name(w.pool, TENDER, "company-2")
    made_up = "bid:CONF1.0123456789abcdef0123"
    for who in OBSERVERS:
        names = {"other": other, "made-up": made_up}
        if who != "bidder-1":
            names["bidder-1's"] = own
        for label, name in names.items():
            try:
                await w.clients[who].subscribe(name)
                answer: Any = "subscribed"
            except ClientError as err:
                answer = [err.code, err.message, err.detail.replace(name, "<name>")]
            w.log(who, f"probe subscribe {label}", answer)
            for kind in ("checkpoint", "proof/inclusion?seq=1"):
                token = w.clients[who].token
                async with httpx.AsyncClient(base_url=w.node.url) as http:
                    r = await http.get(
                        f"/api/log/{name}/{kind}", headers={"authorization": f"Bearer {token}"}
                    )
                answer = [r.status_code, json.loads(r.text.replace(name, "<name>"))]
                w.log(who, f"probe GET {kind} {label}", answer)
    # What each may read of the logs and the tender list. (``platform`` keeps the attempts
    # of participants with no role, would-be bidders among them.)
    for who in OBSERVERS:
        await w.http(who, "/api/tenders")
        await w.http(who, "/api/log/platform/checkpoint")
        await w.http(who, f"/api/log/{TENDER}/checkpoint")
        await w.http(who, f"/api/log/{TENDER}/checkpoints")
        await w.http(who, f"/api/log/{TENDER}/proof/inclusion?seq=2")
        await w.http(who, f"/api/log/{TENDER}/proof/consistency?from=1")
    await w.http("bidder-1", f"/api/log/{own}/checkpoints")
    seq = ack["reply"]["receipt"]["seq"]
    await w.http("bidder-1", f"/api/log/{own}/proof/inclusion?seq={seq}")
    # A last event seen by both: every frame sent before it has arrived.
    await w.try_command("agency", TENDER, "tender.notice", {"text": "开标在即"}, "a5")
    for who in OBSERVERS:
        sub = w.clients[who].subs[TENDER]
        await sub.wait_for(lambda e: e["payload"].get("text") == "开标在即")
    return {
        who: w.seen.get(who, []) + [f"frame {f}" for f in by_stream(w.clients[who].seen)]
        for who in OBSERVERS
    }


def by_stream(frames: list[str]) -> list[str]:
    """Frames grouped by stream, each stream's in the order it arrived: the node orders a
    stream, not two streams against each other (one's replay may interleave with the
    other's differently from run to run)."""
    return sorted(frames, key=lambda f: str(json.loads(f).get("stream", "")))


@pytest.fixture
def sealed_bids(tmp_path: Path) -> dict[str, Path]:
    recipient, _shares = make_opening_key(2, 2)
    found = {"recipient": tmp_path / "recipient"}
    found["recipient"].write_text(recipient)
    for k in range(1, 2 + OTHERS):
        package = tmp_path / f"bid-{k}.zip"
        pack_bid(package, {"price": f"{1000 + k}.00"}, {"a.pdf": b"%PDF" * (100 * k)})
        found[f"bid-{k}"] = tmp_path / f"bid-{k}.age"
        seal_envelope(package, found[f"bid-{k}"], recipient)
    return found


async def test_two_worlds_one_bidder_or_seven_look_the_same_to_a_bidder_and_the_agency(
    pg_server_url: str, settings: Settings, sealed_bids: dict[str, Path]
) -> None:
    async with world(pg_server_url, settings, sealed_bids) as a:
        alone = await _play(a, others=0)
    async with world(pg_server_url, settings, sealed_bids) as b:
        crowded = await _play(b, others=OTHERS)
        # World B did have seven companies, each in its own stream.
        count = await b.pool.fetchval("SELECT count(*) FROM streams WHERE kind = 'bid'")
        assert count == 1 + OTHERS
    for who in OBSERVERS:
        seen_a, seen_b = normalised(alone[who]), normalised(crowded[who])
        diff = "\n".join(difflib.unified_diff(seen_a, seen_b, "alone", "crowded", lineterm=""))
        assert seen_a == seen_b, f"{who} can tell the worlds apart:\n{diff}"
    # Probing a real company's stream answers exactly as probing a made-up name.
    for who in OBSERVERS:
        for kind in ("subscribe", "GET checkpoint", "GET proof/inclusion?seq=1"):
            answers = {
                line.rsplit(" ", 1)[-1]
                for line in crowded[who]
                if line.startswith(f"probe {kind} ")
            }
            assert len(answers) == 1 and "unknown_stream" in answers.pop(), (who, kind)


# -- the opening's commitment, and the audit story ---------------------------------------------


async def _opened_tender(
    node: InProcessNode, pool: asyncpg.Pool, sealed: dict[str, Path], tender: str, bidders: int
) -> tuple[dict[str, Client], list[dict[str, Any]]]:
    """A tender whose ``bidders`` companies joined and uploaded; returns their clients and
    every upload's ack. The opening time is 8 s ahead."""
    w = World(node, pool, sealed)
    agency = await w.person(f"agency-{tender}", 1)
    await grant_role(pool, f"agency-{tender}", "platform", "agency")
    for n, holder in enumerate(("kh1", "kh2"), start=3):
        await create_user(pool, f"{holder}-{tender}", holder, None, _key(n).public.to_string())
    config = {
        "sections": [{"id": "S1", "name": "第一标段"}],
        "envelopes": ["single"],
        "opening_at": (datetime.now(UTC) + timedelta(seconds=slack(8))).isoformat(),
        "decryption_window_seconds": 60,
        "min_bids": 1,
        "failure_rule": "reject",
        "opening_recipient": sealed["recipient"].read_text(),
        "threshold": {"k": 2, "n": 2},
        "keyholders": [f"kh1-{tender}", f"kh2-{tender}"],
        "forms": FORMS,
    }
    stream = f"tender:{tender}"
    await agency.command(stream, "tender.create", {"title": "开标承诺", "config": config})
    await agency.command(stream, "tender.publish")
    clients = {"agency": agency}
    acks = []
    for k in range(1, bidders + 1):
        c = await w.person(f"bidder-{k}-{tender}", 10 + k, f"company-{k}-{tender}")
        clients[f"bidder-{k}"] = c
        await c.command(stream, "tender.join")
        acks.append(await upload_envelope(c, tender, "S1", "single", sealed[f"bid-{k}"]))
    return clients, acks


async def test_the_opening_commits_to_every_bid_stream_and_the_verifier_checks_it(
    node: InProcessNode, pool: asyncpg.Pool, sealed_bids: dict[str, Path]
) -> None:
    clients, acks = await _opened_tender(node, pool, sealed_bids, "CM1", 3)
    # A refused attempt of a bidder is kept in its own stream, which the commitment covers.
    with pytest.raises(ClientError):
        await clients["bidder-1"].command("tender:CM1", "opening.sign_in", sign=True)
    state = await pool.fetchval("SELECT state FROM streams WHERE name = 'tender:CM1'")
    await _until(datetime.fromisoformat(state["config"]["opening_at"]))
    await clients["agency"].command("tender:CM1", "opening.start")
    audit = node.node.extras["audit"]
    await audit.checkpoints.tick()
    bundle = json.loads(json.dumps(await export_bundle(pool, "tender:CM1")))
    result = verify_bundle(bundle)
    assert result.ok, [str(p) for p in result.problems]
    assert "commitments   3 bid streams checked" in result.summary
    committed = next(e for e in bundle["streams"][0]["events"] if e["type"] == "bids.committed")[
        "payload"
    ]["streams"]
    own = acks[0]["reply"]["receipt"]["stream"]
    # bidder.joined, bid.submitted, the refused sign-in: all committed.
    assert next(c["size"] for c in committed if c["stream"] == own) == 3
    # Every receipt names a bid stream event the commitment covers.
    for ack in acks:
        receipt = ack["reply"]["receipt"]
        entry = next(c for c in committed if c["stream"] == receipt["stream"])
        assert receipt["seq"] <= entry["size"]

    # A careful forger rewrites a bid after the opening (payload and leaf hash together).
    row = await pool.fetchrow(
        "SELECT stream, seq, type, actor, at, payload, visibility, sig FROM events"
        " WHERE stream = $1 AND type = 'bid.submitted'",
        own,
    )
    forged = {**row["payload"], "sha256": "00" * 32}
    leaf = event_leaf_hash(event_record(**{**dict(row), "payload": forged}))
    await pool.execute(
        "UPDATE events SET payload = $3, leaf_hash = $4 WHERE stream = $1 AND seq = $2",
        own,
        row["seq"],
        forged,
        leaf,
    )
    tampered = verify_bundle(json.loads(json.dumps(await export_bundle(pool, "tender:CM1"))))
    lines = [str(p) for p in tampered.problems]
    assert any(
        line.startswith("FAIL commitment tender:CM1#") and "changed after the opening" in line
        for line in lines
    ), lines
    # A bid stream left out of the bundle is named too.
    bundle["streams"] = [s for s in bundle["streams"] if s["name"] != own]
    missing = [str(p) for p in verify_bundle(bundle).problems]
    assert any(f"bid stream {own} is not in the bundle" in line for line in missing), missing


async def _until(when: datetime) -> None:
    delay = (when - datetime.now(UTC)).total_seconds()
    if delay > 0:
        await asyncio.sleep(delay + 0.05)


async def test_no_submission_slips_across_the_opening_it_is_committed_or_refused(
    node: InProcessNode, pool: asyncpg.Pool, sealed_bids: dict[str, Path]
) -> None:
    clients, _acks = await _opened_tender(node, pool, sealed_bids, "RACE1", 3)
    acked: dict[str, list[dict[str, Any]]] = {}
    refused: dict[str, list[str]] = {}

    async def keep_submitting(k: int) -> None:
        c = clients[f"bidder-{k}"]
        while True:
            try:
                ack = await upload_envelope(c, "RACE1", "S1", "single", sealed_bids[f"bid-{k}"])
            except ClientError as err:
                refused.setdefault(c.user_id, []).append(err.code)
                return
            acked.setdefault(c.user_id, []).append(ack["reply"]["receipt"])

    async def open_as_soon_as_allowed() -> None:
        while True:
            try:
                await clients["agency"].command("tender:RACE1", "opening.start")
                return
            except ClientError as err:
                assert err.code == "too_early"
                await asyncio.sleep(0.01)

    await asyncio.gather(*(keep_submitting(k) for k in (1, 2, 3)), open_as_soon_as_allowed())
    events = await pool.fetch(
        "SELECT payload FROM events WHERE stream = 'tender:RACE1' AND type = 'bids.committed'"
    )
    committed = {c["stream"]: c["size"] for c in events[0]["payload"]["streams"]}
    assert len(acked) == 3  # every company had submissions acked in the run up to the opening
    for user, receipts in acked.items():
        for receipt in receipts:  # every acked submission is inside the commitment
            assert receipt["seq"] <= committed[receipt["stream"]], (user, receipt)
        assert refused[user] == ["deadline_passed"]
    # And the opening took over each company's last version.
    state = await pool.fetchval("SELECT state FROM streams WHERE name = 'tender:RACE1'")
    for receipts in acked.values():
        last = receipts[-1]
        bid = state["bids"]["S1"][last["org"]]["envelopes"]["single"]
        assert bid["version"] == last["version"]
