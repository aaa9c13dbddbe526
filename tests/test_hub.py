"""The hub on one node, over real sockets: replay then live, visibility, bad input, auth."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import httpx
import pytest
import websockets

from clients.sdk import Client, ClientError
from evalroom.settings import Settings
from tests.support import InProcessNode, Participant, add_participant, eventually, slack


async def _tender(node: InProcessNode, pool: asyncpg.Pool, name: str) -> tuple[Participant, Client]:
    agency = await add_participant(pool, "agency", roles=[("agency", "platform")])
    client = await agency.client(node.url)
    await client.command(f"tender:{name}", "tender.create", {"title": "标段一"})
    await client.command(f"tender:{name}", "tender.publish")
    return agency, client


async def test_subscribe_replays_history_then_goes_live_without_gap_or_duplicate(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    _agency, writer = await _tender(node, pool, "R1")
    stream = "tender:R1"
    for i in range(50):
        await writer.command(stream, "tender.notice", {"text": f"before {i}"})

    written = 0

    async def keep_writing() -> None:
        nonlocal written
        for i in range(150):
            await writer.command(stream, "tender.notice", {"text": f"during {i}"})
            written += 1

    writing = asyncio.create_task(keep_writing())
    readers = []
    for k in range(5):  # subscribe at different moments while the writer runs
        await eventually(lambda k=k: written >= 20 * k or writing.done(), timeout=slack(30))
        p = await add_participant(pool, "sup", roles=[("supervisor", stream)])
        c = await p.client(node.url)
        readers.append((c, await c.subscribe(stream, after=0)))
    await writing
    head = await pool.fetchval("SELECT head FROM streams WHERE name = $1", stream)
    for client, sub in readers:
        seqs = []
        while len(seqs) < head:
            seqs.append((await sub.next(timeout=10))["seq"])
        assert seqs == list(range(1, head + 1))
        assert sub.queue.empty()
        await client.close()
    await writer.close()


async def test_subscribe_after_a_seq_resumes_from_there(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    agency, writer = await _tender(node, pool, "R2")
    for i in range(10):
        await writer.command("tender:R2", "tender.notice", {"text": str(i)})
    reader = await agency.client(node.url)
    sub = await reader.subscribe("tender:R2", after=7)
    assert [(await sub.next())["seq"] for _ in range(5)] == [8, 9, 10, 11, 12]
    await reader.close()
    await writer.close()


async def test_each_role_receives_only_what_it_may_see(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    stream = "tender:V1"
    agency, a = await _tender(node, pool, "V1")
    sup = await add_participant(pool, "sup", roles=[("supervisor", stream)])
    tenderer = await add_participant(pool, "owner", roles=[("tenderer", stream)])
    expert = await add_participant(pool, "expert", roles=[("expert", stream)])
    bidder_a = await add_participant(pool, "bidA", org="company-a")
    bidder_b = await add_participant(pool, "bidB", org="company-b")
    outsider = await add_participant(pool, "outsider")
    ca, cb = await bidder_a.client(node.url), await bidder_b.client(node.url)
    # Each company's registration goes into its own stream, seen by it and supervisors only.
    own_a = (await ca.command(stream, "tender.join"))["stream"]
    own_b = (await cb.command(stream, "tender.join"))["stream"]
    s = await sup.client(node.url)
    await s.command(stream, "tender.annotate", {"text": "监督备注"}, sign=True)  # supervisors only
    # The platform (organisation registration) names the tenderer once bidding is open.
    admin = await add_participant(pool, "admin", roles=[("admin", "platform")])
    platform = await admin.client(node.url)
    await platform.command(stream, "tender.grant", {"user": tenderer.user_id, "role": "tenderer"})
    await a.command(stream, "tender.notice", {"text": "公告"})  # everyone
    head = await pool.fetchval("SELECT head FROM streams WHERE name = $1", stream)

    async def seen_types(p: Participant, stream: str = stream) -> list[str]:
        c = await p.client(node.url)
        sub = await c.subscribe(stream)
        # Nothing is written meanwhile: once the replay is over, all of it is in the queue.
        await asyncio.wait_for(sub.live.wait(), slack(10))
        got = [f"{ev['type']}:{ev['payload'].get('org', '')}" for ev in sub.drain()]
        await c.close()
        return got

    everything = await seen_types(sup)
    assert "supervisor.note:" in everything and len(everything) == head
    assert not any(t.startswith("bidder.joined") for t in everything)  # not in the tender's
    assert await seen_types(sup, own_a) == ["bidder.joined:company-a"]
    assert await seen_types(sup, own_b) == ["bidder.joined:company-b"]
    assert set(await seen_types(bidder_a)) == {
        "tender.created:",
        "tender.published:",
        "tender.notice:",
    }
    assert await seen_types(bidder_a, own_a) == ["bidder.joined:company-a"]
    with pytest.raises(ClientError) as hidden:  # another company's stream: as if none existed
        await seen_types(bidder_b, own_a)
    assert hidden.value.code == "unknown_stream"
    for staff in (agency, tenderer, expert):
        seen = await seen_types(staff)
        assert "role.granted:" in seen and "tender.notice:" in seen
        assert not any(t.startswith(("bidder.joined", "supervisor.note")) for t in seen)
        with pytest.raises(ClientError) as hidden:
            await seen_types(staff, own_a)
        assert hidden.value.code == "unknown_stream"
    with pytest.raises(ClientError) as err:
        await seen_types(outsider)
    assert err.value.code == "not_subscribed_role"
    for c in (a, ca, cb, s, platform):
        await c.close()


async def test_malformed_oversized_and_unknown_messages_get_errors_and_the_socket_goes_on(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    agency, client = await _tender(node, pool, "G1")
    for garbage in [
        "{not json",
        "[1,2]",
        '{"t":"launch"}',
        '{"t":"cmd"}',
        '{"t":"cmd","v":9,"id":"x","stream":"tender:G1","type":"tender.notice"}',
        json.dumps(
            {
                "t": "cmd",
                "id": "big",
                "stream": "tender:G1",
                "type": "tender.notice",
                "body": {"text": "x" * 70000},
            }
        ),
        json.dumps({"t": "cmd", "id": "nope", "stream": "tender:G1", "type": "tender.explode"}),
        json.dumps(
            {
                "t": "cmd",
                "id": "bad-body",
                "stream": "tender:G1",
                "type": "tender.notice",
                "body": {"txt": 1},
            }
        ),
    ]:
        await client.send_raw(garbage)
    codes = await eventually(
        lambda: [e["code"] for e in client.errors] if len(client.errors) >= 5 else None
    )
    assert {"malformed", "unknown_type", "invalid", "unsupported_version", "too_large"} <= set(
        codes
    )
    for err in client.errors:
        assert err["message"] and "Traceback" not in json.dumps(err)
    # the same connection still works, and nothing was written by the garbage
    ack = await client.command("tender:G1", "tender.notice", {"text": "still here"})
    assert ack["seq"] == 3
    await client.close()


async def test_websocket_refuses_forged_token_and_foreign_origin(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    ws_url = node.url.replace("http", "ws") + "/ws"
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(ws_url + "?token=v1.eA.9999999999.abc.forged")
    p = await add_participant(pool, "sup")
    c = Client(node.url, p.user_id, p.key)
    token = await c.login()
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(ws_url + "?token=" + token, origin="https://evil.example")  # type: ignore[arg-type]
    ok = await websockets.connect(ws_url + "?token=" + token)
    assert json.loads(await ok.recv())["t"] == "welcome"
    await ok.close()


async def test_login_with_a_wrong_key_is_refused(node: InProcessNode, pool: asyncpg.Pool) -> None:
    from crypto.keys import SigningKey

    p = await add_participant(pool, "expert")
    c = Client(node.url, p.user_id, SigningKey.generate())
    with pytest.raises(ClientError) as err:
        await c.login()
    assert err.value.code == "bad_signature"


async def test_healthz_and_metrics(node: InProcessNode, pool: asyncpg.Pool) -> None:
    _agency, a = await _tender(node, pool, "H1")
    sup = await add_participant(pool, "sup", roles=[("supervisor", "tender:H1")])
    s = await sup.client(node.url)
    await s.subscribe("tender:H1")
    async with httpx.AsyncClient(base_url=node.url) as http:
        r = await http.get("/healthz")
        assert r.status_code == 200 and r.json()["db"] is True
        await http.post("/auth/challenge", content=b"{oops")
        text = (await http.get("/metrics")).text
    assert "evalroom_commands_total" in text and "evalroom_anonymous_garbage_total 1.0" in text
    assert 'evalroom_connections{role="supervisor"} 1.0' in text
    assert "evalroom_websockets 2.0" in text
    await s.close()
    await a.close()


async def test_presence_shows_who_is_connected_and_drops_the_departed(
    node: InProcessNode, pool: asyncpg.Pool, settings: Settings
) -> None:
    stream = "tender:P1"
    _agency, a = await _tender(node, pool, "P1")
    sup = await add_participant(pool, "sup", roles=[("supervisor", stream)])
    op = await add_participant(
        pool, "operator", roles=[("operator", stream)], venue="venue-lanzhou"
    )
    s = await sup.client(node.url)
    await s.subscribe(stream)
    await s.watch_presence(stream)
    o = await op.client(node.url)
    await o.subscribe(stream)
    members = await s.wait_presence(stream, lambda m: any(e["user"] == op.user_id for e in m))
    entry = next(e for e in members if e["user"] == op.user_id)
    assert entry["roles"] == ["operator"] and entry["venues"] == ["venue-lanzhou"]
    # a client that vanishes without closing (no heartbeats) leaves within seconds
    for task in o._tasks:
        task.cancel()
    o._closing = True
    await s.wait_presence(
        stream,
        lambda m: all(e["user"] != op.user_id for e in m),
        timeout=3 * settings.presence_ttl_seconds + slack(2),
    )
    await s.close()
    await a.close()


async def test_a_live_marker_separates_replayed_history_from_live_events(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    agency, writer = await _tender(node, pool, "L1")
    for i in range(5):
        await writer.command("tender:L1", "tender.notice", {"text": str(i)})
    reader = await agency.client(node.url)
    sub = await reader.subscribe("tender:L1")
    await asyncio.wait_for(sub.live.wait(), 10)
    assert sub.live_seq == 7
    await writer.command("tender:L1", "tender.notice", {"text": "now"})
    seqs = [(await sub.next())["seq"] for _ in range(8)]
    assert seqs == list(range(1, 9))
    await reader.close()
    await writer.close()


async def test_healthz_is_503_while_the_broker_is_unreachable(
    settings: object, pool: asyncpg.Pool
) -> None:
    from dataclasses import replace

    from tests.services import free_port
    from tests.support import in_process_node

    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    async with in_process_node(replace(settings, redis_url=dead_redis)) as n:  # type: ignore[type-var]
        async with httpx.AsyncClient(base_url=n.url) as http:
            r = await http.get("/healthz")
        assert r.status_code == 503 and r.json() == {"ok": False, "db": True, "broker": False}


async def test_the_tender_list_shows_published_tenders_and_ones_the_user_has_a_role_in(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    _agency, a = await _tender(node, pool, "TL1")  # published: anyone may find it
    await a.command("tender:TL2", "tender.create", {"title": "草稿"})  # draft: the agency's own
    bidder = await add_participant(pool, "bidder", org="company-x")
    b = await bidder.client(node.url)

    async def listed(client: Client) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=node.url) as http:
            r = await http.get("/api/tenders", headers={"authorization": f"Bearer {client.token}"})
        assert r.status_code == 200
        return {t["tender"]: t for t in r.json()["tenders"]}

    seen_by_bidder = await listed(b)
    assert "TL1" in seen_by_bidder and "TL2" not in seen_by_bidder
    assert seen_by_bidder["TL1"]["roles"] == [] and seen_by_bidder["TL1"]["phase"] == "bidding"
    seen_by_agency = await listed(a)
    assert {"TL1", "TL2"} <= set(seen_by_agency) and seen_by_agency["TL2"]["roles"] == ["agency"]
    joined = await b.command("tender:TL1", "tender.join")
    assert (await listed(b))["TL1"]["roles"] == ["bidder"]
    assert (await listed(b))["TL1"]["bid_stream"] == joined["stream"]
    assert "bid_stream" not in (await listed(a))["TL1"]
    await a.close()
    await b.close()


async def test_a_site_operator_who_subscribes_is_counted_connected_before_the_watch_looks(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    """The session watch flags a venue lost only if it knew the venue connected; an operator
    who subscribes and leaves between two of its looks at the shared presence must count."""
    _agency, writer = await _tender(node, pool, "OPV")
    stream = "tender:OPV"
    op = await add_participant(pool, "op", roles=[("operator", stream)], venue="tianshui")
    client = await op.client(node.url)
    await client.subscribe(stream)
    watch = node.node.extras["session_watch"]
    assert watch.seen.get(stream) == {"tianshui"}
    # Its look at presence counts this node's own connections as they are now, not the
    # shared copy that lags by up to a heartbeat.
    assert (await watch.venues_present()).get(stream) == {"tianshui"}
    await client.close()

    async def gone() -> bool:
        return stream not in await watch.venues_present()

    await eventually(gone, timeout=10)
    await writer.close()
