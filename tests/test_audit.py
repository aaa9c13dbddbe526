"""The audit log on a real node: checkpoints, proofs over HTTP, the Merkle log cache, the
periodic task, the receipt API and the log watch of supervisors' clients."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio

from clients.logwatch import LogForked, LogWatch
from clients.sdk import Client
from crypto.checkpoint import open_checkpoint
from crypto.events import event_leaf_hash, event_record
from crypto.merkle import verify_consistency, verify_inclusion
from evalroom.audit import Audit, ForkRefused, log_signing_key
from evalroom.audit.checkpoints import Checkpointer
from evalroom.audit.log import StreamLogs
from evalroom.settings import Settings
from tests.support import InProcessNode, Participant, add_participant, eventually, in_process_node


def _quiet(settings: Settings) -> Settings:
    """No periodic checkpoints: the test signs them itself."""
    return replace(settings, extra={**settings.extra, "audit_checkpoint_seconds": "3600"})


@pytest_asyncio.fixture(loop_scope="session")
async def quiet_node(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[InProcessNode]:
    async with in_process_node(_quiet(settings)) as n:
        yield n


def audit_of(node: InProcessNode) -> Audit:
    audit = node.node.extras["audit"]
    assert isinstance(audit, Audit)
    return audit


async def tender_with_notices(
    pool: asyncpg.Pool, url: str, notices: int
) -> tuple[str, Participant, Client]:
    """A tender created and published by a real agency, then ``notices`` notices."""
    tender = f"tender:A{uuid.uuid4().hex[:8]}"
    agency = await add_participant(pool, "agency", roles=[("agency", "platform")])
    client = await agency.client(url)
    await client.command(tender, "tender.create", {"title": "道路工程"})
    await client.command(tender, "tender.publish")
    for i in range(notices):
        await client.command(tender, "tender.notice", {"text": f"通知 {i}"})
    return tender, agency, client


def _http(node: InProcessNode, client: Client | None = None) -> httpx.AsyncClient:
    headers = {"authorization": f"Bearer {client.token}"} if client else {}
    return httpx.AsyncClient(base_url=node.url, headers=headers, timeout=10)


def _hashes(items: list[str]) -> list[bytes]:
    return [base64.b64decode(h) for h in items]


async def test_checkpoint_is_a_signed_note_for_the_stream_origin(
    quiet_node: InProcessNode, pool: asyncpg.Pool
) -> None:
    tender, _agency, client = await tender_with_notices(pool, quiet_node.url, 3)
    await audit_of(quiet_node).checkpoint_now(tender, "phase:bidding")
    async with _http(quiet_node) as anon, _http(quiet_node, client) as http:
        keys = (await anon.get("/api/log/keys")).json()
        got = (await http.get(f"/api/log/{tender}/checkpoint")).json()
    cp = open_checkpoint(
        got["note"],
        [keys["log"]["verifier_key"]],
        origin=f"{keys['log']['origin_prefix']}/{tender}",
    )
    assert cp.size == got["size"] == 5 and got["reasons"] == ["phase:bidding"]
    assert keys["platform_key"].startswith("ed25519:")
    await client.close()


async def test_inclusion_proof_over_http_verifies_the_event_a_subscriber_received(
    quiet_node: InProcessNode, pool: asyncpg.Pool
) -> None:
    tender, _agency, client = await tender_with_notices(pool, quiet_node.url, 4)
    stored = await audit_of(quiet_node).checkpoint_now(tender, "test")
    assert stored is not None
    sub = await client.subscribe(tender)
    events = [await sub.next() for _ in range(stored.size)]
    async with _http(quiet_node, client) as http:
        for event in events:
            r = await http.get(
                f"/api/log/{tender}/proof/inclusion",
                params={"seq": event["seq"], "size": stored.size},
            )
            assert r.status_code == 200
            body = r.json()
            leaf = event_leaf_hash(event)
            assert base64.b64decode(body["leaf_hash"]) == leaf
            assert body["checkpoint"] == stored.note
            assert verify_inclusion(
                leaf, event["seq"] - 1, stored.size, _hashes(body["proof"]), stored.root
            )
    await client.close()


async def test_consistency_proof_over_http_links_two_checkpoints(
    quiet_node: InProcessNode, pool: asyncpg.Pool
) -> None:
    tender, _agency, client = await tender_with_notices(pool, quiet_node.url, 1)
    audit = audit_of(quiet_node)
    first = await audit.checkpoint_now(tender, "test")
    for i in range(5):
        await client.command(tender, "tender.notice", {"text": f"more {i}"})
    second = await audit.checkpoint_now(tender, "test")
    assert first is not None and second is not None
    async with _http(quiet_node, client) as http:
        r = await http.get(
            f"/api/log/{tender}/proof/consistency", params={"from": first.size, "to": second.size}
        )
        listing = (await http.get(f"/api/log/{tender}/checkpoints")).json()["checkpoints"]
    proof = _hashes(r.json()["proof"])
    assert verify_consistency(first.size, second.size, first.root, second.root, proof)
    assert [c["size"] for c in listing] == [first.size, second.size]
    await client.close()


async def test_log_endpoints_refuse_anonymous_outsiders_and_uncommitted_sizes(
    quiet_node: InProcessNode, pool: asyncpg.Pool
) -> None:
    tender, _agency, client = await tender_with_notices(pool, quiet_node.url, 1)
    await audit_of(quiet_node).checkpoint_now(tender, "test")
    outsider = await (await add_participant(pool, "outsider")).client(quiet_node.url)
    async with _http(quiet_node) as anon, _http(quiet_node, outsider) as other:
        anonymous = await anon.get(f"/api/log/{tender}/checkpoint")
        foreign = await other.get(f"/api/log/{tender}/checkpoint")
        unknown = await other.get("/api/log/tender:nope/checkpoint")
    async with _http(quiet_node, client) as http:
        beyond = await http.get(f"/api/log/{tender}/proof/inclusion", params={"seq": 1, "size": 99})
        garbage = await http.get(f"/api/log/{tender}/proof/consistency", params={"from": "x"})
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthenticated")
    assert (foreign.status_code, foreign.json()["code"]) == (403, "not_subscribed_role")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_stream")
    assert (beyond.status_code, beyond.json()["code"]) == (422, "invalid")
    assert (garbage.status_code, garbage.json()["code"]) == (422, "invalid")
    await client.close()
    await outsider.close()


async def test_stream_without_checkpoint_answers_no_checkpoint(
    quiet_node: InProcessNode, pool: asyncpg.Pool
) -> None:
    tender, _agency, client = await tender_with_notices(pool, quiet_node.url, 0)
    async with _http(quiet_node, client) as http:
        r = await http.get(f"/api/log/{tender}/checkpoint")
    assert (r.status_code, r.json()["code"]) == (404, "no_checkpoint")
    await client.close()


async def test_periodic_task_signs_every_stream_that_grew(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    fast = replace(settings, extra={"audit_checkpoint_seconds": "0.1"})
    async with in_process_node(fast) as n:
        tender, _agency, client = await tender_with_notices(pool, n.url, 2)
        checkpoints = audit_of(n).checkpoints

        async def covered() -> bool:
            latest = await checkpoints.latest(tender)
            return latest is not None and latest.size == 4

        await eventually(covered)
        await client.command(tender, "tender.notice", {"text": "later"})

        async def grew() -> bool:
            latest = await checkpoints.latest(tender)
            return latest is not None and latest.size == 5 and latest.reasons == ("periodic",)

        await eventually(grew)
        await client.close()


async def test_tick_signs_the_tree_ending_at_each_phase_boundary_and_at_the_head(
    quiet_node: InProcessNode, pool: asyncpg.Pool
) -> None:
    tender, _agency, client = await tender_with_notices(pool, quiet_node.url, 2)
    await audit_of(quiet_node).checkpoints.tick()
    rows = await pool.fetch(
        "SELECT size, reasons FROM checkpoints WHERE stream = $1 ORDER BY size", tender
    )
    # tender.created (1) carries {"phase": "draft"}, tender.published (2) {"phase": "bidding"}
    assert [(r["size"], r["reasons"]) for r in rows] == [
        (1, ["phase:draft"]),
        (2, ["phase:bidding"]),
        (4, ["periodic"]),
    ]
    await client.close()


async def test_signing_an_existing_size_again_is_a_no_op_that_keeps_the_reason(
    quiet_node: InProcessNode, pool: asyncpg.Pool
) -> None:
    tender, _agency, client = await tender_with_notices(pool, quiet_node.url, 1)
    key = await log_signing_key(pool)
    node_a = Checkpointer(pool, StreamLogs(pool), key)
    node_b = Checkpointer(pool, StreamLogs(pool), key)
    first = await node_a.checkpoint_now(tender, "periodic")
    second = await node_b.checkpoint_now(tender, "phase:bidding")
    third = await node_a.checkpoint_now(tender, "periodic")
    assert first is not None and second is not None and third is not None
    assert first.note == second.note == third.note
    assert third.reasons == ("periodic", "phase:bidding")
    count = await pool.fetchval("SELECT count(*) FROM checkpoints WHERE stream = $1", tender)
    assert count == 1
    await client.close()


async def test_a_restarted_node_rebuilds_the_same_roots_from_postgresql(
    quiet_node: InProcessNode, pool: asyncpg.Pool
) -> None:
    tender, _agency, client = await tender_with_notices(pool, quiet_node.url, 6)
    served = await audit_of(quiet_node).logs.synced(tender)
    fresh = StreamLogs(pool, batch=3)  # several batches
    rebuilt = await fresh.synced(tender)
    assert rebuilt.size == served.size == 8
    assert [rebuilt.root(s) for s in range(1, 9)] == [served.root(s) for s in range(1, 9)]
    await client.close()


async def test_cache_keeps_at_most_max_streams_and_evicted_logs_come_back_right(
    quiet_node: InProcessNode, pool: asyncpg.Pool
) -> None:
    made = [await tender_with_notices(pool, quiet_node.url, i) for i in range(3)]
    names = [tender for tender, _agency, _client in made]
    logs = StreamLogs(pool, max_streams=2)
    roots = {name: (await logs.synced(name)).root() for name in names}
    assert logs.cached() == names[1:]
    assert (await logs.synced(names[0])).root() == roots[names[0]]
    assert logs.cached() == [names[2], names[0]]
    for _tender, _agency, client in made:
        await client.close()


async def test_cache_starts_over_when_its_last_leaf_changed_in_postgresql(
    quiet_node: InProcessNode, pool: asyncpg.Pool
) -> None:
    tender, _agency, client = await tender_with_notices(pool, quiet_node.url, 2)
    logs = StreamLogs(pool)
    before = (await logs.synced(tender)).root()
    await pool.execute(
        "UPDATE events SET leaf_hash = $2 WHERE stream = $1 AND seq = 4", tender, b"\x07" * 32
    )
    after = await logs.synced(tender)
    assert logs.rebuilds == 1 and after.size == 4 and after.root() != before
    await client.close()


async def test_node_refuses_to_sign_a_history_that_forks_a_stored_checkpoint(
    quiet_node: InProcessNode, pool: asyncpg.Pool
) -> None:
    tender, _agency, client = await tender_with_notices(pool, quiet_node.url, 2)
    await audit_of(quiet_node).checkpoint_now(tender, "test")
    await pool.execute(
        "UPDATE events SET leaf_hash = $2 WHERE stream = $1 AND seq = 2", tender, b"\x07" * 32
    )
    await client.command(tender, "tender.notice", {"text": "after the change"})
    restarted = Checkpointer(pool, StreamLogs(pool), await log_signing_key(pool))
    with pytest.raises(ForkRefused):
        await restarted.checkpoint_now(tender, "periodic")
    assert restarted.refused_forks == 1
    await client.close()


async def test_receipt_inclusion_signs_a_head_when_none_covers_the_event(
    quiet_node: InProcessNode, pool: asyncpg.Pool
) -> None:
    tender, _agency, client = await tender_with_notices(pool, quiet_node.url, 3)
    audit = audit_of(quiet_node)
    proof: dict[str, Any] = await audit.inclusion(tender, 3)
    cp = open_checkpoint(proof["checkpoint"], [audit.verifier_key])
    row = await pool.fetchrow("SELECT leaf_hash FROM events WHERE stream = $1 AND seq = 3", tender)
    assert proof["size"] == cp.size == 5
    assert base64.b64decode(proof["leaf_hash"]) == bytes(row["leaf_hash"])
    assert verify_inclusion(bytes(row["leaf_hash"]), 2, cp.size, _hashes(proof["proof"]), cp.root)
    latest = await audit.checkpoints.latest(tender)
    assert latest is not None and latest.reasons == ("receipt",)
    await client.close()


async def test_logwatch_accepts_a_log_that_grew_while_the_client_was_away(
    quiet_node: InProcessNode, pool: asyncpg.Pool
) -> None:
    tender, _agency, client = await tender_with_notices(pool, quiet_node.url, 1)
    audit = audit_of(quiet_node)
    await audit.checkpoint_now(tender, "test")
    watch = LogWatch(audit.verifier_key)
    first = await watch.refresh(quiet_node.url, client.token or "", tender)
    for i in range(4):
        await client.command(tender, "tender.notice", {"text": f"n{i}"})
    await audit.checkpoint_now(tender, "test")
    second = await watch.refresh(quiet_node.url, client.token or "", tender)
    assert first is not None and second is not None and (first.size, second.size) == (3, 7)
    await client.close()


async def test_bidder_proves_its_receipted_event_is_in_the_signed_log(
    quiet_node: InProcessNode, pool: asyncpg.Pool
) -> None:
    tender, _agency, client = await tender_with_notices(pool, quiet_node.url, 3)
    audit = audit_of(quiet_node)
    await audit.checkpoint_now(tender, "test")
    sub = await client.subscribe(tender)
    event = [await sub.next() for _ in range(4)][-1]
    leaf = base64.b64encode(event_leaf_hash(event)).decode()
    receipt = {"stream": tender, "seq": 4, "leaf_hash": leaf}
    watch = LogWatch(audit.verifier_key)
    inclusion = await watch.receipt_inclusion(quiet_node.url, client.token or "", receipt)
    assert inclusion["size"] == 5 and inclusion["checkpoint"] == watch.notes[tender]
    other = {**receipt, "seq": 3}
    with pytest.raises(ValueError, match="not the receipted event"):
        await watch.receipt_inclusion(quiet_node.url, client.token or "", other)
    await client.close()


async def test_logwatch_detects_a_forked_history_when_the_supervisor_reconnects(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    quiet = _quiet(settings)
    async with in_process_node(quiet) as first, in_process_node(quiet) as second:
        tender, _agency, agency_client = await tender_with_notices(pool, first.url, 3)
        supervisor = await add_participant(pool, "sup", roles=[("supervisor", tender)])
        sup = await supervisor.client([first.url, second.url])
        await audit_of(first).checkpoint_now(tender, "test")
        watch = await LogWatch.from_server(first.url)
        forks: list[LogForked] = []
        follower = asyncio.create_task(
            watch.follow(sup, [tender], interval=3600, on_fork=forks.append)
        )
        await eventually(lambda: watch.last(tender) is not None)
        # Someone with the database rewrites event 2 and the signed heads, and the second
        # node, knowing no better, signs the rewritten history.
        forged = {"text": "改写的通知"}
        row = await pool.fetchrow(
            "SELECT stream, seq, type, actor, at, visibility, sig FROM events"
            " WHERE stream = $1 AND seq = 3",
            tender,
        )
        record = event_record(**{**dict(row), "payload": forged})
        await pool.execute(
            "UPDATE events SET payload = $2, leaf_hash = $3 WHERE stream = $1 AND seq = 3",
            tender,
            forged,
            event_leaf_hash(record),
        )
        await pool.execute("DELETE FROM checkpoints WHERE stream = $1", tender)
        await audit_of(second).checkpoint_now(tender, "periodic")
        await first.stop()  # the supervisor's client reconnects, to the second node
        await eventually(lambda: forks, timeout=20)
        assert forks[0].stream == tender and forks[0].kept.size == forks[0].shown.size
        assert sup.base_url == second.url
        follower.cancel()
        await sup.close()
        await agency_client.close()
