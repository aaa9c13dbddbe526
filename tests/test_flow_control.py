"""Flow control over real sockets: a busy publisher is slowed, never closed."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import asyncpg
import websockets

from clients.sdk import Client
from evalroom.hub.connection import _messages
from evalroom.hub.endpoint import MAX_INFLIGHT_COMMANDS
from tests.support import InProcessNode, add_participant, slack
from wire import messages
from wire.batch import frames
from wire.codes import BATCH_BYTES, BATCH_FRAMES

FLOOD = 40 * MAX_INFLIGHT_COMMANDS


async def test_a_publisher_flooding_commands_is_slowed_not_closed_and_every_command_is_acked_in_order(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    agency = await add_participant(pool, "agency", roles=[("agency", "platform")])
    setup = await agency.client(node.url)
    stream = "tender:F1"
    await setup.command(stream, "tender.create", {"title": "流控"})
    await setup.close()
    token = await Client(node.url, agency.user_id, agency.key).login()
    url = node.url.replace("http", "ws", 1) + f"/ws?token={token}"
    held_before = node.node.metrics.flow_held._value.get()
    # The client pings on its own schedule, as browsers' and libraries' keepalives do; a pong
    # that does not come back within the timeout would close the connection from this side.
    async with websockets.connect(
        url, ping_interval=0.2, ping_timeout=slack(30), max_size=None
    ) as ws:
        assert json.loads(await ws.recv())["t"] == "welcome"
        ids = [f"f{i:05d}" for i in range(FLOOD)]
        acks: list[str] = []
        errors: list[dict[str, Any]] = []

        async def read() -> None:
            while len(acks) + len(errors) < FLOOD:
                for item in frames(await ws.recv()):
                    if item.get("t") == "ack":
                        acks.append(item["id"])
                    elif item.get("t") == "error":
                        errors.append(item)

        reading = asyncio.create_task(read())
        pongs = []
        for i, ref in enumerate(ids):  # never waiting for an ack: far more than it commits
            body = {"text": f"notice {i}"}
            await ws.send(json.dumps(messages.command(ref, stream, "tender.notice", body)))
            if i % (4 * MAX_INFLIGHT_COMMANDS) == 0:
                pongs.append(await ws.ping())
        await asyncio.wait_for(reading, slack(120))
        last = await ws.ping()  # still answered, still open
        latencies = await asyncio.wait_for(asyncio.gather(*pongs, last), slack(30))
        assert all(latency >= 0 for latency in latencies)
    assert errors == []
    assert acks == ids  # each acked, in the order sent
    assert ws.close_code == 1000  # closed by us, normally: never by the node
    # The node held the socket unread at the bound (TCP slowed the sender) at least once.
    assert node.node.metrics.flow_held._value.get() > held_before
    head = await pool.fetchval("SELECT head FROM streams WHERE name = $1", stream)
    assert head == 1 + FLOOD


async def test_a_publisher_held_unread_longer_than_the_presence_ttl_is_not_closed(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    agency = await add_participant(pool, "agency", roles=[("agency", "platform")])
    setup = await agency.client(node.url)
    stream = "tender:F2"
    await setup.command(stream, "tender.create", {"title": "流控"})
    await setup.close()
    token = await Client(node.url, agency.user_id, agency.key).login()
    url = node.url.replace("http", "ws", 1) + f"/ws?token={token}"
    ttl = node.node.settings.presence_ttl_seconds
    count = 3 * MAX_INFLIGHT_COMMANDS
    ids = [f"h{i:04d}" for i in range(count)]
    async with websockets.connect(url, ping_interval=None, max_size=None) as ws:
        assert json.loads(await ws.recv())["t"] == "welcome"
        async with pool.acquire() as lock, lock.transaction():
            # Commits of the stream wait on this row: the commands pile up at the bound and
            # the node stops reading the socket, for longer than a silent one may last.
            await lock.execute("SELECT 1 FROM streams WHERE name = $1 FOR UPDATE", stream)
            for ref in ids:
                await ws.send(
                    json.dumps(messages.command(ref, stream, "tender.notice", {"text": ref}))
                )
            await asyncio.sleep(2 * ttl)  # the stall itself is what is tested
            assert node.node.metrics.flow_held._value.get() >= 1
            waiter = await ws.ping()  # sits behind the unread commands until they are read
        acks: list[str] = []
        while len(acks) < count:
            for item in frames(await asyncio.wait_for(ws.recv(), slack(30))):
                assert item.get("t") != "error", item
                if item.get("t") == "ack":
                    acks.append(item["id"])
        await asyncio.wait_for(waiter, slack(30))
    assert acks == ids
    assert ws.close_code == 1000


async def test_heartbeats_alone_keep_a_connection_open_each_answered_and_silence_closes_it(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    user = await add_participant(pool, "idle")
    token = await Client(node.url, user.user_id, user.key).login()
    url = node.url.replace("http", "ws", 1) + f"/ws?token={token}"
    ttl = node.node.settings.presence_ttl_seconds
    beats = 0
    async with (
        websockets.connect(url, ping_interval=None) as quiet,
        websockets.connect(url, ping_interval=None) as beating,
    ):
        for ws in (quiet, beating):
            assert json.loads(await ws.recv())["t"] == "welcome"
        loop = asyncio.get_running_loop()
        until = loop.time() + 2 * ttl
        while loop.time() < until:
            await beating.send(messages.HEARTBEAT_FRAME)
            beats += 1
            answer = json.loads(await asyncio.wait_for(beating.recv(), slack(10)))
            assert answer == {"t": "hb"}
            await asyncio.sleep(ttl / 4)
        # the silent one was closed for it; the beating one still works
        with contextlib.suppress(websockets.ConnectionClosed):
            await asyncio.wait_for(quiet.recv(), slack(10))
        assert quiet.close_code == 4009
        await beating.send(json.dumps({"t": "hb"}))
        assert json.loads(await asyncio.wait_for(beating.recv(), slack(10))) == {"t": "hb"}
    assert beats >= 8


async def test_frames_of_one_turn_leave_alone_or_as_bounded_arrays_in_order() -> None:
    one = [b'{"t":"event","seq":1}']
    assert _messages(one) == one
    many = [f'{{"t":"event","seq":{i}}}'.encode() for i in range(BATCH_FRAMES + 3)]
    out = _messages(many)
    assert len(out) == 2
    assert [item["seq"] for m in out for item in frames(m)] == list(range(BATCH_FRAMES + 3))
    big = b'{"t":"event","x":"' + b"x" * BATCH_BYTES + b'"}'
    out = _messages([many[0], big, many[1]])
    assert out == [many[0], big, many[1]]  # an oversized frame goes alone, nothing reordered
    assert all(len(m) <= BATCH_BYTES + 2 for m in _messages(many[:10] + many[:10]))
