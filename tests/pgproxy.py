"""A TCP proxy between a node and PostgreSQL that reads the frontend protocol and cuts
connections where a test tells it to: in the middle of a transaction, just before a COMMIT
reaches the server, or just after the server committed (its answer is lost). A statement that
appends events outside an explicit transaction commits on its own, so it counts as a COMMIT. It can also cut
every connection at once and refuse new ones for a while, as a restart does.

The server is real; only the wire between them is cut, as a network or a restart would.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import struct
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104


@dataclass
class FaultPlan:
    """Probabilities per message; ``seed`` makes a run repeatable."""

    before_commit: float = 0.0  # the COMMIT never reaches the server: rolled back
    after_commit: float = 0.0  # the server commits, its answer never comes back
    mid_transaction: float = 0.0  # any other query: cut before it reaches the server
    seed: int = 0


@dataclass(eq=False)
class _Pair:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    drop_reply: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    in_transaction: bool = False  # between a simple-query BEGIN and its COMMIT/ROLLBACK
    statements: dict[bytes, bytes] = field(default_factory=dict)  # prepared name -> SQL

    def cut(self) -> None:
        for writer in (self.client, self.server):
            with contextlib.suppress(Exception):
                writer.transport.abort()


class PgFaultProxy:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.plan = FaultPlan()
        self.rng = random.Random(0)
        self.pairs: set[_Pair] = set()
        self.done = Counter[str]()
        self.refusing = False
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> PgFaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def set_plan(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.rng = random.Random(plan.seed)

    def cut_all(self) -> None:
        """Every open connection dies at once (busy or idle in the pool)."""
        for pair in list(self.pairs):
            pair.cut()
        self.done["cut_all"] += 1

    async def close(self) -> None:
        self.cut_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for pair in list(self.pairs):
            for task in pair.tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def url(self) -> str:
        """``database_url`` through this proxy (TCP, no TLS, so the messages can be read)."""
        parts = urlsplit(self.database_url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("host", "port")]
        netloc = f"{parts.username or 'postgres'}"
        if parts.password:
            netloc += f":{parts.password}"
        netloc += f"@127.0.0.1:{self.port}"
        query.append(("sslmode", "disable"))
        return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query)))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.transport.abort()
            self.done["refused"] += 1
            return
        try:
            up_reader, up_writer = await _open_upstream(self.database_url)
        except OSError:
            writer.transport.abort()
            return
        pair = _Pair(writer, up_writer)
        self.pairs.add(pair)
        pair.tasks = [
            asyncio.create_task(self._client_to_server(reader, pair)),
            asyncio.create_task(self._server_to_client(up_reader, pair)),
        ]
        await asyncio.gather(*pair.tasks, return_exceptions=True)
        self.pairs.discard(pair)
        pair.cut()

    async def _client_to_server(self, reader: asyncio.StreamReader, pair: _Pair) -> None:
        try:
            # Untyped start-up messages first: SSL/GSS requests, then the startup packet.
            while True:
                head = await reader.readexactly(4)
                (length,) = struct.unpack("!I", head)
                body = await reader.readexactly(length - 4)
                pair.server.write(head + body)
                code = struct.unpack("!I", body[:4])[0] if len(body) >= 4 else 0
                if code not in (SSL_REQUEST, GSSENC_REQUEST):
                    break
            while True:
                kind = await reader.readexactly(1)
                head = await reader.readexactly(4)
                (length,) = struct.unpack("!I", head)
                body = await reader.readexactly(length - 4)
                if self._fault(pair, kind, body):
                    return
                pair.server.write(kind + head + body)
                await pair.server.drain()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            return
        finally:
            if not pair.drop_reply:
                pair.cut()

    def _commits(self, pair: _Pair, kind: bytes, body: bytes) -> bool:
        """The message makes the server commit: a COMMIT, or the binding of a statement that
        appends events outside an explicit transaction (its own implicit one: a group-commit
        batch written in one statement, ``append_if_head``)."""
        if kind == b"Q":
            sql = body.lstrip().upper()
            if sql.startswith((b"BEGIN", b"START TRANSACTION")):
                pair.in_transaction = True
            elif sql.startswith((b"COMMIT", b"ROLLBACK")):
                pair.in_transaction = False
                return sql.startswith(b"COMMIT")
            return False
        if kind == b"P":  # Parse: statement name, then its SQL
            name, _, rest = body.partition(b"\0")
            pair.statements[name] = rest.partition(b"\0")[0]
            return False
        if kind == b"B" and not pair.in_transaction:  # Bind: portal, then statement name
            statement = body.partition(b"\0")[2].partition(b"\0")[0]
            return b"INSERT INTO events" in pair.statements.get(statement, b"")
        return False

    def _fault(self, pair: _Pair, kind: bytes, body: bytes) -> bool:
        """Apply the plan to one frontend message; True when the connection was cut."""
        plan, roll = self.plan, self.rng.random()
        if self._commits(pair, kind, body):
            # The first COMMITs of a plan go through each kind it names once, so a slow run
            # with few commits still covers them all; the rest are left to chance.
            if plan.before_commit and not self.done["before_commit"]:
                roll = 0.0
            elif plan.after_commit and not self.done["after_commit"]:
                roll = plan.before_commit
            if roll < plan.before_commit:
                self.done["before_commit"] += 1
                pair.cut()
                return True
            if roll < plan.before_commit + plan.after_commit:
                self.done["after_commit"] += 1
                pair.drop_reply = True  # forwarded below; the answer is swallowed
            return False
        if kind in (b"Q", b"P", b"B") and roll < plan.mid_transaction:
            self.done["mid_transaction"] += 1
            pair.cut()
            return True
        return False

    async def _server_to_client(self, reader: asyncio.StreamReader, pair: _Pair) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                if pair.drop_reply:
                    # The server answered the COMMIT (so it committed); the node never hears.
                    pair.cut()
                    return
                pair.client.write(data)
                await pair.client.drain()
        except (ConnectionError, OSError):
            return
        finally:
            pair.cut()


async def _open_upstream(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    host = query.get("host") or parts.hostname or "127.0.0.1"
    port = int(query.get("port") or parts.port or 5432)
    if host.startswith("/"):  # a Unix socket folder (pgserver)
        return await asyncio.open_unix_connection(f"{host}/.s.PGSQL.{port}")
    return await asyncio.open_connection(host, port)
