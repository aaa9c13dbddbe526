"""Helpers for hostile-input tests: a node process whose log the test reads, a snapshot of
everything a refusal must leave alone, and a bare WebSocket that sends frames as they are."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import pytest
import pytest_asyncio
import websockets
from websockets.asyncio.client import ClientConnection

from clients.sdk import Client
from evalroom.db.pool import open_pool
from tests.services import create_database, drop_database, free_port
from tests.support import NodeProcess, Participant, node_env

# What a healthy node never writes, however hostile its input: a traceback, an error-level
# structlog line (JSON when not on a terminal), or uvicorn's "ERROR:" line.
_LOG_ERROR = re.compile(r'Traceback|"level":\s*"(error|critical)"|^ERROR:', re.MULTILINE)


@dataclass
class LoggedNode:
    """A node as its own process, its stdout and stderr in ``log_path``, and a pool on its
    database for setting up participants and taking snapshots."""

    process: NodeProcess
    log_path: Path
    pool: asyncpg.Pool
    database_url: str
    _offset: int = 0

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def ws_url(self) -> str:
        return self.url.replace("http", "ws", 1) + "/ws"

    def new_log(self) -> str:
        """What the node logged since the last call."""
        with self.log_path.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        self._offset += len(data)
        return data.decode("utf-8", "replace")

    def assert_log_clean(self) -> None:
        text = self.new_log()
        found = _LOG_ERROR.search(text)
        assert found is None, f"the node logged an error:\n{text[max(0, found.start() - 2000) :]}"


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def logged_node(
    pg_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LoggedNode]:
    """One node process per test module, on a database of its own; every test of the module
    uses its own tender and participants, and checks the log for what it did."""
    url = await create_database(pg_server_url)
    log_path = tmp_path_factory.mktemp("node") / "node.log"
    # No heartbeat needed from the tests' bare sockets: a long presence TTL.
    env = node_env(url, None, "hostile", EVALROOM_PRESENCE_TTL="600")
    process = NodeProcess(free_port(), env, log_path=log_path)
    pool = await open_pool(url, min_size=1, max_size=4)
    try:
        await process.start()
        yield LoggedNode(process, log_path, pool, url)
    finally:
        process.terminate()
        await pool.close()
        await drop_database(pg_server_url, url)


async def login(node: LoggedNode, p: Participant) -> str:
    return await Client(node.url, p.user_id, p.key).login()


@dataclass
class RawSocket:
    """A WebSocket that sends frames exactly as given and counts the answers."""

    ws: ClientConnection
    replies: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    async def open(cls, node: LoggedNode, token: str, lang: str = "en") -> RawSocket:
        url = node.ws_url + "?" + urlencode({"token": token, "lang": lang})
        ws = await websockets.connect(url, max_size=2**24, ping_interval=None)
        welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert welcome["t"] == "welcome"
        return cls(ws)

    async def send(self, frames: Sequence[str | bytes]) -> list[dict[str, Any]]:
        """Send ``frames`` back to back, then read until each has its answer."""
        for frame in frames:
            await self.ws.send(frame)
        return await self.answers(len(frames))

    async def answers(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout):
            while len(got) < count:
                value = json.loads(await self.ws.recv())
                got.extend(value if isinstance(value, list) else [value])
        self.replies.extend(got)
        return got

    async def still_open(self) -> bool:
        """The socket answers a heartbeat: the node kept it open."""
        try:
            answer = await self.send(['{"t":"hb"}'])
        except websockets.ConnectionClosed:
            return False
        return answer == [{"t": "hb"}]

    async def close(self) -> None:
        await self.ws.close()


# -- what a refusal must not change ---------------------------------------------------------

_SNAPSHOT = {
    # Recorded refusals (``command.refused``) are the one thing a refusal may append; a
    # stream's head moves by them and by nothing else.
    "events": "SELECT stream, seq, type, actor, payload::text, visibility, sig FROM events"
    " WHERE type <> 'command.refused' ORDER BY stream, seq",
    "streams": "SELECT s.name, s.kind, s.parent, s.state::text, s.head - (SELECT count(*)"
    " FROM events e WHERE e.stream = s.name AND e.type = 'command.refused') AS head"
    " FROM streams s ORDER BY s.name",
    "roles": "SELECT * FROM roles ORDER BY 1, 2, 3",
    "commands": "SELECT actor, client_id, digest, result::text FROM commands ORDER BY 1, 2",
    "users": "SELECT * FROM users ORDER BY id",
    "login_challenges": "SELECT count(*) FROM login_challenges",
    "uploads": "SELECT count(*) FROM uploads",
    "upload_chunks": "SELECT count(*) FROM upload_chunks",
    "opening_shares": "SELECT * FROM opening_shares ORDER BY 1, 2, 3",
    "experts": "SELECT * FROM experts ORDER BY 1",
}


async def snapshot(pool: asyncpg.Pool) -> dict[str, list[tuple[Any, ...]]]:
    """Everything but recorded refusals and the checkpoints that log them."""
    async with pool.acquire() as conn:
        return {
            table: [tuple(r) for r in await conn.fetch(query)] for table, query in _SNAPSHOT.items()
        }
