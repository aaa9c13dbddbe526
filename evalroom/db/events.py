"""Queries on streams and events. Every write happens inside the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from crypto.events import event_leaf_hash, event_record, format_time
from evalroom.db import Conn, Executor


@dataclass(frozen=True)
class StoredEvent:
    stream: str
    seq: int
    type: str
    actor: str | None
    at: str
    payload: dict[str, Any]
    visibility: str
    sig: str | None

    def record(self) -> dict[str, Any]:
        return event_record(
            stream=self.stream,
            seq=self.seq,
            type=self.type,
            actor=self.actor,
            at=self.at,
            payload=self.payload,
            visibility=self.visibility,
            sig=self.sig,
        )

    def frame(self) -> str:
        """The event as clients receive it, serialized once for every recipient."""
        return json.dumps(
            {"t": "event", **self.record()}, ensure_ascii=False, separators=(",", ":")
        )

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> StoredEvent:
        return cls(
            stream=row["stream"],
            seq=row["seq"],
            type=row["type"],
            actor=row["actor"],
            at=format_time(row["at"]),
            payload=row["payload"],
            visibility=row["visibility"],
            sig=row["sig"],
        )


@dataclass(frozen=True)
class StreamRow:
    name: str
    kind: str
    parent: str | None
    head: int
    state: dict[str, Any]
    now: datetime


async def lock_stream(conn: Conn, name: str) -> StreamRow | None:
    row = await conn.fetchrow(
        "SELECT name, kind, parent, head, state, now() AS now FROM streams"
        " WHERE name = $1 FOR UPDATE",
        name,
    )
    if row is None:
        return None
    return StreamRow(row["name"], row["kind"], row["parent"], row["head"], row["state"], row["now"])


async def create_stream(
    conn: Conn, name: str, kind: str, parent: str | None, state: dict[str, Any]
) -> bool:
    status: str = await conn.execute(
        "INSERT INTO streams (name, kind, parent, state) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (name) DO NOTHING",
        name,
        kind,
        parent,
        state,
    )
    return status.endswith(" 1")


async def append_events(
    conn: Conn,
    stream: StreamRow,
    events: Sequence[tuple[str, str | None, dict[str, Any], str, str | None]],
    new_state: dict[str, Any],
) -> list[StoredEvent]:
    """Append (type, actor, payload, visibility, sig) after the locked head; return them."""
    stored: list[StoredEvent] = []
    rows = []
    at = format_time(stream.now)
    for offset, (type_, actor, payload, visibility, sig) in enumerate(events, start=1):
        ev = StoredEvent(
            stream.name, stream.head + offset, type_, actor, at, payload, visibility, sig
        )
        stored.append(ev)
        rows.append(
            (
                ev.stream,
                ev.seq,
                ev.type,
                ev.actor,
                stream.now,
                ev.payload,
                ev.visibility,
                ev.sig,
                event_leaf_hash(ev.record()),
            )
        )
    if rows:
        await conn.executemany(
            "INSERT INTO events (stream, seq, type, actor, at, payload, visibility, sig, leaf_hash)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            rows,
        )
    await conn.execute(
        "UPDATE streams SET head = $2, state = $3 WHERE name = $1",
        stream.name,
        stream.head + len(rows),
        new_state,
    )
    return stored


async def read_events(
    conn: Executor,
    stream: str,
    after: int,
    limit: int = 1000,
    upto: int | None = None,
) -> list[StoredEvent]:
    rows = await conn.fetch(
        "SELECT stream, seq, type, actor, at, payload, visibility, sig FROM events"
        " WHERE stream = $1 AND seq > $2 AND ($4::bigint IS NULL OR seq <= $4)"
        " ORDER BY seq LIMIT $3",
        stream,
        after,
        limit,
        upto,
    )
    return [StoredEvent.from_row(r) for r in rows]


async def stream_heads(pool: asyncpg.Pool, names: Sequence[str]) -> dict[str, int]:
    rows = await pool.fetch(
        "SELECT name, head FROM streams WHERE name = ANY($1::text[])", list(names)
    )
    return {r["name"]: r["head"] for r in rows}


async def stream_info(conn: Executor, name: str) -> tuple[str, str | None, int] | None:
    row = await conn.fetchrow("SELECT kind, parent, head FROM streams WHERE name = $1", name)
    return None if row is None else (row["kind"], row["parent"], row["head"])
