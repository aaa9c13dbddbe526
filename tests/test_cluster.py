"""Several nodes, real Redis and PostgreSQL, and the faults they must survive."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import asyncpg
import pytest
import pytest_asyncio

from clients.sdk import Client, ClientError, Subscription
from evalroom.settings import Settings
from tests.rawws import RawWebSocket
from tests.services import EmbeddedPg, free_port
from tests.support import (
    NodeProcess,
    Participant,
    add_participant,
    eventually,
    in_process_node,
    node_env,
    slack,
)

pytestmark = pytest.mark.slow


async def _collect(sub: Subscription, count: int, timeout: float = 20) -> list[int]:
    seqs: list[int] = []
    while len(seqs) < count:
        seqs.append((await sub.next(timeout=timeout))["seq"])
    return seqs


async def _open_tender(
    urls: list[str], pool: asyncpg.Pool, name: str
) -> tuple[Participant, Client]:
    agency = await add_participant(pool, "agency", roles=[("agency", "platform")])
    client = await agency.client(urls)
    await client.command(f"tender:{name}", "tender.create", {"title": "多节点"})
    return agency, client


@pytest_asyncio.fixture(loop_scope="session")
async def two_processes(
    database_url: str, redis_url: str, namespace: str, pool: asyncpg.Pool
) -> AsyncIterator[list[NodeProcess]]:
    env = node_env(
        database_url, redis_url, namespace, EVALROOM_HEARTBEAT="0.5", EVALROOM_PRESENCE_TTL="2"
    )
    nodes = [NodeProcess(free_port(), env), NodeProcess(free_port(), env)]
    try:
        await asyncio.gather(*(n.start() for n in nodes))
        yield nodes
    finally:
        for n in nodes:
            n.terminate()


async def test_two_node_processes_deliver_identical_ordered_streams(
    two_processes: list[NodeProcess], pool: asyncpg.Pool
) -> None:
    a, b = two_processes
    agency, writer_a = await _open_tender([a.url], pool, "M1")
    writer_b = await agency.client([b.url])
    readers = []
    for url in (a.url, b.url, a.url, b.url):
        c = await agency.client([url])
        readers.append(await c.subscribe("tender:M1"))

    async def write(client: Client, tag: str) -> None:
        for i in range(60):
            await client.command("tender:M1", "tender.notice", {"text": f"{tag}{i}"})

    await asyncio.gather(write(writer_a, "a"), write(writer_b, "b"))
    head = 121
    orders = []
    for sub in readers:
        events = [await sub.next(timeout=20) for _ in range(head)]
        orders.append([(e["seq"], e["payload"].get("text")) for e in events])
    assert [seq for seq, _ in orders[0]] == list(range(1, head + 1))
    assert all(order == orders[0] for order in orders)
    presence_nodes = {writer_a.node, writer_b.node}
    assert len(presence_nodes) == 2


async def test_presence_is_shared_across_nodes(
    two_processes: list[NodeProcess], pool: asyncpg.Pool
) -> None:
    a, b = two_processes
    _agency, writer = await _open_tender([a.url], pool, "M2")
    sup = await add_participant(pool, "sup", roles=[("supervisor", "tender:M2")])
    expert = await add_participant(
        pool, "expert", roles=[("expert", "tender:M2")], venue="v-chengdu"
    )
    s = await sup.client([a.url])
    await s.subscribe("tender:M2")
    await s.watch_presence("tender:M2")
    e = await expert.client([b.url])
    await e.subscribe("tender:M2")
    members = await s.wait_presence(
        "tender:M2", lambda m: any(x["user"] == expert.user_id for x in m)
    )
    entry = next(x for x in members if x["user"] == expert.user_id)
    assert entry["node"] == e.node != s.node and entry["venues"] == ["v-chengdu"]
    await e.close()
    await s.wait_presence("tender:M2", lambda m: all(x["user"] != expert.user_id for x in m))


async def test_a_lost_redis_subscription_is_noticed_and_the_gap_filled_from_postgres(
    settings: Settings, redis_url: str, pool: asyncpg.Pool
) -> None:
    with_redis = replace(settings, redis_url=redis_url, resync_interval_seconds=60)
    async with in_process_node(with_redis) as a, in_process_node(with_redis) as b:
        agency, writer = await _open_tender([b.url], pool, "K1")
        reader = await agency.client([a.url])
        sub = await reader.subscribe("tender:K1")
        assert (await sub.next())["seq"] == 1
        broker = a.node.broker
        reconnects = broker.reconnects
        broker.kill_subscription_for_test()
        for i in range(20):  # published while node a hears nothing from Redis
            await writer.command("tender:K1", "tender.notice", {"text": str(i)})
        assert await _collect(sub, 20) == list(range(2, 22))
        assert broker.reconnects > reconnects
        await reader.close()
        await writer.close()


async def test_a_slow_consumer_is_closed_and_resumes_with_nothing_lost(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    async with in_process_node(replace(settings, send_queue_limit=32)) as node:
        agency, writer = await _open_tender([node.url], pool, "S1")
        token = await Client(node.url, agency.user_id, agency.key).login()
        port = int(node.url.rsplit(":", 1)[1])
        # A consumer that stops reading its socket: kernel buffers fill, then our queue.
        slow = await RawWebSocket.connect(port, "/ws?token=" + token)
        slow.send_json({"t": "sub", "stream": "tender:S1", "after": 0})
        metrics = node.node.metrics
        big = "长" * 1900
        written = 1
        while metrics.slow_closed._value.get() == 0 and written < 4000:
            slow.send_json({"t": "hb"})  # alive, just not reading
            await writer.command("tender:S1", "tender.notice", {"text": f"{written}:{big}"})
            written += 1
        assert metrics.slow_closed._value.get() == 1
        for _ in range(5):  # a few more while it is gone
            await writer.command("tender:S1", "tender.notice", {"text": "after"})
            written += 1
        messages = await slow.read_messages()
        seen = [m["seq"] for m in messages if m.get("t") == "event"]
        assert slow.close_code == 4008
        assert seen == list(range(1, len(seen) + 1)) and len(seen) < written
        resumed = await agency.client([node.url])
        sub = await resumed.subscribe("tender:S1", after=seen[-1])
        rest = await _collect(sub, written - len(seen))
        assert seen + rest == list(range(1, written + 1))
        slow.close()
        await resumed.close()
        await writer.close()


async def test_a_node_killed_mid_stream_loses_nothing_for_clients_that_resume_elsewhere(
    two_processes: list[NodeProcess], pool: asyncpg.Pool
) -> None:
    a, b = two_processes
    agency, writer = await _open_tender([b.url], pool, "X1")
    readers = []
    for _ in range(3):
        c = await agency.client([a.url, b.url])
        readers.append((c, await c.subscribe("tender:X1")))
    assert all(c.node != writer.node for c, _ in readers)
    total = 200

    async def write() -> None:
        for i in range(total):
            await writer.command("tender:X1", "tender.notice", {"text": str(i)})
            if i == 60:
                a.kill()  # SIGKILL: no goodbye to anyone

    await write()
    for client, sub in readers:
        assert await _collect(sub, total + 1) == list(range(1, total + 2))
        assert client.reconnects >= 1 and client.node == writer.node


async def test_postgres_restart_under_load_loses_no_acked_command_and_applies_each_once(
    settings: Settings,
) -> None:
    pg = await asyncio.to_thread(EmbeddedPg.start)
    try:
        node_settings = replace(settings, database_url=pg.url)
        async with in_process_node(node_settings) as node:
            pool = node.node.pool
            agency = await add_participant(pool, "agency", roles=[("agency", "platform")])
            client = await agency.client([node.url])
            await client.command("tender:PG1", "tender.create", {"title": "重启"})
            acked: dict[str, int] = {}
            refused_retryable = 0

            async def send(i: int) -> None:
                nonlocal refused_retryable
                while True:
                    try:
                        ack = await client.command(
                            "tender:PG1", "tender.notice", {"text": f"n{i}"}, id=f"n{i}"
                        )
                        acked[f"n{i}"] = ack["seq"]
                        return
                    except ClientError as err:
                        assert err.retryable, err.code
                        refused_retryable += 1
                        await asyncio.sleep(0.05)

            async def load() -> None:
                for batch in range(30):
                    await asyncio.gather(*(send(batch * 5 + j) for j in range(5)))

            async def restart() -> None:
                await eventually(lambda: len(acked) >= 40, timeout=slack(30))
                await asyncio.to_thread(pg.stop, "immediate")
                # Down until the load has felt it, however slow the machine is.
                await eventually(lambda: refused_retryable > 0, timeout=slack(30))
                await asyncio.to_thread(pg.start_again)

            await asyncio.gather(load(), restart())
            assert refused_retryable > 0
            rows = await pool.fetch(
                "SELECT seq, payload->>'text' AS text FROM events"
                " WHERE stream = 'tender:PG1' AND type = 'tender.notice'"
            )
            texts = [r["text"] for r in rows]
            assert sorted(texts) == sorted(acked) and len(texts) == len(set(texts)) == 150
            by_text = {r["text"]: r["seq"] for r in rows}
            assert all(by_text[t] == seq for t, seq in acked.items())
            await client.close()
    finally:
        await asyncio.to_thread(pg.cleanup)


async def test_the_refusal_record_limit_holds_across_nodes(
    settings: Settings, redis_url: str, pool: asyncpg.Pool
) -> None:
    """10 recorded refusals per participant per minute, however many nodes it spreads over."""
    shared = replace(settings, redis_url=redis_url)
    async with in_process_node(shared) as a, in_process_node(shared) as b:
        agency, writer = await _open_tender([a.url], pool, "RL1")
        sup = await add_participant(pool, "sup", roles=[("supervisor", "tender:RL1")])
        clients = [await sup.client([a.url]), await sup.client([b.url])]
        assert clients[0].node != clients[1].node
        for i in range(24):
            with pytest.raises(ClientError) as err:
                await clients[i % 2].command("tender:RL1", "tender.publish")
            assert err.value.code == "forbidden"
        recorded = await pool.fetchval(
            "SELECT count(*) FROM events WHERE stream = 'tender:RL1' AND type = 'command.refused'"
        )
        assert recorded == 10
        refused = sum(int(n.node.metrics.refusals.labels("forbidden")._value.get()) for n in (a, b))
        assert refused == 24  # the rest are counted, on each node
        for c in [*clients, writer]:
            await c.close()
