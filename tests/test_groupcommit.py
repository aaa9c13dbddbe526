"""Group commit per stream, over real sockets against real PostgreSQL.

Each test holds the stream's row lock from its own connection, so the first command waits in
its transaction and the next ones queue on the node; then it lets go (or cuts the
connection), and looks at what each command was answered and what PostgreSQL holds: commands
of one transaction share the rows' ``xmin``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
import websockets

from clients.sdk import Client
from evalroom.settings import Settings
from tests.pgproxy import FaultPlan, PgFaultProxy
from tests.support import InProcessNode, Participant, add_participant, eventually, in_process_node


class Socket:
    """A participant's own WebSocket without the SDK's retries: each answer as the node sent
    it (``store_unavailable``, ``outcome_unknown``), by command id."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.answers: dict[str, list[dict[str, Any]]] = {}  # by id, in order of arrival
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, who: Participant) -> Socket:
        token = await Client(url, who.user_id, who.key).login()
        ws_url = url.replace("http", "ws", 1) + "/ws?token=" + token
        return cls(await websockets.connect(ws_url, compression=None, ping_interval=None))

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for data in self.ws:
                value = json.loads(data)
                for item in value if isinstance(value, list) else [value]:
                    if "id" in item:
                        self.answers.setdefault(item["id"], []).append(item)
                        self._arrived.set()

    async def send(self, cid: str, stream: str, type_: str, body: dict[str, Any]) -> None:
        msg = {"t": "cmd", "v": 1, "id": cid, "stream": stream, "type": type_, "body": body}
        await self.ws.send(json.dumps(msg))

    async def answer(self, cid: str, timeout: float = 20) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while not self.answers.get(cid):
                self._arrived.clear()
                await self._arrived.wait()
        return self.answers[cid].pop(0)

    async def close(self) -> None:
        await self.ws.close()
        await self._reader


async def _tender(url: str, pool: asyncpg.Pool, name: str) -> tuple[Participant, Socket]:
    agency = await add_participant(pool, "agency", roles=[("agency", "platform")])
    sock = await Socket.open(url, agency)
    await sock.send("create", f"tender:{name}", "tender.create", {"title": "并批"})
    assert (await sock.answer("create"))["t"] == "ack"
    return agency, sock


@contextlib.asynccontextmanager
async def _held(pool: asyncpg.Pool, stream: str) -> AsyncIterator[asyncpg.Connection]:
    """The stream's row locked by another transaction until the block ends."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM streams WHERE name = $1 FOR UPDATE", stream)
        yield conn


async def _blocked_backend(pool: asyncpg.Pool) -> int:
    """The node's backend waiting for the row lock."""
    pid: int = await eventually(
        lambda: pool.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
    )
    return pid


async def _queue(
    node: InProcessNode, stream: str, sends: list[tuple[Socket, str, str, dict[str, Any]]]
) -> None:
    """Send each command once the one before it is queued, so they queue in this order."""
    group = node.node.pipeline.group
    for n, (sock, cid, type_, body) in enumerate(sends, start=1):
        await sock.send(cid, stream, type_, body)
        await eventually(lambda n=n: group.queued(stream) == n)


async def _behind_one(
    node: InProcessNode,
    pool: asyncpg.Pool,
    sock: Socket,
    stream: str,
    sends: list[tuple[Socket, str, str, dict[str, Any]]],
) -> int:
    """With the stream's row held: one command (``first``) waits in its transaction, and
    ``sends`` queue behind it in this order. The waiting backend's pid."""
    await sock.send("first", stream, "tender.notice", {"text": "first"})
    pid = await _blocked_backend(pool)
    await _queue(node, stream, sends)
    return pid


async def _xmins(pool: asyncpg.Pool, stream: str) -> dict[int, str]:
    rows = await pool.fetch("SELECT seq, xmin::text AS tx FROM events WHERE stream = $1", stream)
    return {r["seq"]: r["tx"] for r in rows}


def _batches(node: InProcessNode) -> dict[float, float]:
    """How many batch transactions had at most N commands (the histogram's buckets)."""
    return {
        float(s.labels["le"]): s.value
        for m in node.node.metrics.commit_batch.collect()
        for s in m.samples
        if s.name.endswith("_bucket") and s.labels["le"] != "+Inf"
    }


async def test_a_batch_is_decided_in_order_against_the_running_state_and_refusals_harm_nobody(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    agency, a = await _tender(node.url, pool, "G1")
    stream = "tender:G1"
    sup = await add_participant(pool, "sup", roles=[("supervisor", stream)])
    s = await Socket.open(node.url, sup)
    async with _held(pool, stream):
        await _behind_one(
            node,
            pool,
            a,
            stream,
            [
                (a, "p1", "tender.publish", {}),
                (a, "p2", "tender.publish", {}),  # bidding already, in the running state
                (s, "s1", "tender.publish", {}),  # a supervisor may not
                (s, "s2", "tender.notice", {"text": "监督"}),
                (a, "last", "tender.notice", {"text": "后到"}),
            ],
        )
    first, p1, last = await a.answer("first"), await a.answer("p1"), await a.answer("last")
    p2, s1, s2 = await a.answer("p2"), await s.answer("s1"), await s.answer("s2")
    assert [first["seq"], p1["seq"], s2["seq"], last["seq"]] == [2, 3, 4, 5]
    assert (p2["t"], p2["code"]) == ("error", "wrong_phase")
    assert (s1["t"], s1["code"]) == ("error", "forbidden")
    xmins = await _xmins(pool, stream)
    assert xmins[3] == xmins[4] == xmins[5] != xmins[2]  # one transaction for the batch
    assert _batches(node)[8.0] - _batches(node)[4.0] == 1  # a batch of five
    # Each refusal is kept as an attempt, as today, in a transaction of its own after it.
    refused = await pool.fetch(
        "SELECT seq, actor, payload->>'code' AS code FROM events"
        " WHERE stream = $1 AND type = 'command.refused' ORDER BY seq",
        stream,
    )
    assert {(r["actor"], r["code"]) for r in refused} == {
        (agency.user_id, "wrong_phase"),
        (sup.user_id, "forbidden"),
    }
    assert all(r["seq"] > 5 for r in refused)
    state = await pool.fetchval("SELECT state FROM streams WHERE name = $1", stream)
    assert state["phase"] == "bidding"
    for sock in (a, s):
        await sock.close()


async def test_a_retry_in_the_same_batch_or_a_later_one_gets_the_first_ack(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    agency, a = await _tender(node.url, pool, "G2")
    stream = "tender:G2"
    b = await Socket.open(node.url, agency)  # the same participant on a second socket
    await a.send("old", stream, "tender.notice", {"text": "旧"})
    old = await a.answer("old")
    async with _held(pool, stream):
        await _behind_one(
            node,
            pool,
            a,
            stream,
            [
                (a, "dup", "tender.notice", {"text": "一次"}),
                (b, "dup", "tender.notice", {"text": "一次"}),
                (b, "old", "tender.notice", {"text": "旧"}),  # committed before
                (a, "dup", "tender.notice", {"text": "别的"}),  # the id, for another command
            ],
        )
    await a.answer("first")
    dup_a, dup_b, old_b = await a.answer("dup"), await b.answer("dup"), await b.answer("old")
    assert dup_a == dup_b and dup_a["seq"] == 4 and old_b == old
    reused = await a.answer("dup")
    assert (reused["t"], reused["code"]) == ("error", "id_reused")
    # Later, in a batch of its own: the same first answer, and nothing written.
    await b.send("dup", stream, "tender.notice", {"text": "一次"})
    assert await b.answer("dup") == dup_a
    texts = await pool.fetch(
        "SELECT payload->>'text' AS text FROM events WHERE stream = $1 AND type = 'tender.notice'",
        stream,
    )
    assert sorted(r["text"] for r in texts) == sorted(["旧", "first", "一次"])
    for sock in (a, b):
        await sock.close()


async def _retried_until_acked(
    sock: Socket, stream: str, ids: list[str]
) -> dict[str, dict[str, Any]]:
    acks = {}
    for cid in ids:
        for _ in range(50):
            await sock.send(cid, stream, "tender.notice", {"text": cid})
            answer = await sock.answer(cid)
            if answer["t"] == "ack":
                acks[cid] = answer
                break
            assert answer["code"] == "store_unavailable", answer
            await asyncio.sleep(0.05)  # PostgreSQL's connections are being re-made
    return acks


async def _check_once(pool: asyncpg.Pool, stream: str, acks: dict[str, dict[str, Any]]) -> None:
    rows = await pool.fetch(
        "SELECT seq, payload->>'text' AS text FROM events"
        " WHERE stream = $1 AND type = 'tender.notice'",
        stream,
    )
    assert {r["text"]: r["seq"] for r in rows} == {cid: a["seq"] for cid, a in acks.items()}
    assert sorted(r["seq"] for r in rows) == list(range(2, 2 + len(acks)))


async def test_postgres_failing_mid_batch_acks_nothing_and_a_retry_applies_each_once(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    """The batch's backend is terminated while its transaction waits for the row lock
    (begun, not committed): every command of it is answered ``store_unavailable``."""
    _agency, a = await _tender(node.url, pool, "G3")
    stream = "tender:G3"
    ids = [f"n{i}" for i in range(7)]
    async with _held(pool, stream):
        sends = [(a, cid, "tender.notice", {"text": cid}) for cid in ids]
        blocker = await _behind_one(node, pool, a, stream, sends)
        await pool.execute("SELECT pg_terminate_backend($1)", blocker)
        assert (await a.answer("first"))["code"] == "store_unavailable"
        # The seven queued are the next batch: it waits for the lock in turn, and dies too.
        batch = await eventually(
            lambda: pool.fetchval(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND pid <> $1",
                blocker,
            )
        )
        assert node.node.pipeline.group.queued(stream) == 0
        await pool.execute("SELECT pg_terminate_backend($1)", batch)
        answers = [await a.answer(cid) for cid in ids]
    assert [x["code"] for x in answers] == ["store_unavailable"] * 7
    assert _batches(node)[8.0] - _batches(node)[4.0] == 1  # they were one batch
    assert await pool.fetchval("SELECT count(*) FROM commands WHERE stream = $1", stream) == 1
    acks = await _retried_until_acked(a, stream, ["first", *ids])
    await _check_once(pool, stream, acks)
    await a.close()


@pytest.mark.parametrize(("where", "committed"), [("before_commit", 1), ("after_commit", 8)])
async def test_a_connection_cut_at_a_batchs_commit_is_answered_truthfully_for_each_command(
    settings: Settings, pool: asyncpg.Pool, where: str, committed: int
) -> None:
    """COMMIT was sent, and the connection died before its answer came back: on its way to
    PostgreSQL (rolled back) or on the way back (committed). The node cannot tell which, and
    says so to every command of the batch; a retry with the same id tells."""
    proxy = await PgFaultProxy(settings.database_url or "").start()
    try:
        async with in_process_node(replace(settings, database_url=proxy.url())) as node:
            _agency, a = await _tender(node.url, pool, "G4")
            stream = "tender:G4"
            ids = [f"n{i}" for i in range(6)]
            async with _held(pool, stream):
                sends = [(a, c, "tender.notice", {"text": c}) for c in ids]
                await _behind_one(node, pool, a, stream, sends)
                proxy.set_plan(FaultPlan(**{where: 1.0}))  # every COMMIT, from now on
            answers = [await a.answer(cid) for cid in ["first", *ids]]
            proxy.set_plan(FaultPlan())
            assert [x.get("code") for x in answers] == ["outcome_unknown"] * 7
            assert proxy.done[where] == 2  # the first command's COMMIT, and the batch's
            assert _batches(node)[8.0] - _batches(node)[4.0] == 1  # a batch of six
            found = await pool.fetchval("SELECT count(*) FROM commands WHERE stream = $1", stream)
            assert found == committed  # ``create``, and the rest if the COMMITs went through
            # The same ids again: applied now, or the first ack of what did commit.
            acks = await _retried_until_acked(a, stream, ["first", *ids])
            await _check_once(pool, stream, acks)
            await a.close()
    finally:
        await proxy.close()
