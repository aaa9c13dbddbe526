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
        " WHERE name = $1 FOR NO KEY UPDATE",
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


async def stream_heads(pool: Executor, names: Sequence[str]) -> dict[str, int]:
    rows = await pool.fetch(
        "SELECT name, head FROM streams WHERE name = ANY($1::text[])", list(names)
    )
    return {r["name"]: r["head"] for r in rows}


async def stream_info(conn: Executor, name: str) -> tuple[str, str | None, int] | None:
    row = await conn.fetchrow("SELECT kind, parent, head FROM streams WHERE name = $1", name)
    return None if row is None else (row["kind"], row["parent"], row["head"])


async def lock_gate(conn: Conn, tender: str, *, exclusive: bool) -> None:
    """The tender's bidding gate, until the end of the transaction: every command of a
    bidder's own stream holds it shared (bidders never wait for each other), the opening
    holds it exclusive, so no bid commits across the opening (see ``services.bids``)."""
    fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    await conn.execute(f"SELECT {fn}(hashtextextended($1, 22))", tender)


async def stream_state_now(conn: Executor, name: str) -> tuple[dict[str, Any], datetime] | None:
    """A stream's state as committed now (no lock), with the database's clock."""
    row = await conn.fetchrow("SELECT state, now() AS now FROM streams WHERE name = $1", name)
    return None if row is None else (dict(row["state"]), row["now"])


async def stream_parent_state(
    conn: Executor, name: str
) -> tuple[str | None, dict[str, Any]] | None:
    """A stream's parent and state as committed now (no lock)."""
    row = await conn.fetchrow("SELECT parent, state FROM streams WHERE name = $1", name)
    return None if row is None else (row["parent"], dict(row["state"]))


async def stream_state(conn: Executor, name: str) -> dict[str, Any] | None:
    """A stream's state as committed now (no lock)."""
    state = await conn.fetchval("SELECT state FROM streams WHERE name = $1", name)
    return None if state is None else dict(state)


@dataclass(frozen=True)
class ChildStream:
    """A stream under a parent, with its committed leaf hashes (for a commitment)."""

    name: str
    head: int
    state: dict[str, Any]
    leaves: list[bytes]


async def child_streams(conn: Executor, parent: str, kind: str) -> list[ChildStream]:
    """The ``kind`` streams under ``parent``, each with the leaf hashes of its events."""
    rows = await conn.fetch(
        "SELECT s.name, s.head, s.state, ARRAY(SELECT e.leaf_hash FROM events e"
        "  WHERE e.stream = s.name AND e.seq <= s.head ORDER BY e.seq) AS leaves"
        " FROM streams s WHERE s.parent = $1 AND s.kind = $2 ORDER BY s.name",
        parent,
        kind,
    )
    return [
        ChildStream(r["name"], r["head"], dict(r["state"]), [bytes(h) for h in r["leaves"]])
        for r in rows
    ]


async def sessions_outside_phases(
    conn: Executor, phases: Sequence[str]
) -> list[tuple[str, int, dict[str, Any]]]:
    """(name, head, state) of every session whose phase is not one of ``phases``."""
    rows = await conn.fetch(
        "SELECT name, head, state FROM streams WHERE kind = 'session'"
        " AND NOT (state->>'phase' = ANY($1::text[]))",
        list(phases),
    )
    return [(r["name"], r["head"], dict(r["state"])) for r in rows]


@dataclass(frozen=True)
class LockedForCommand:
    """The stream's row, locked, with what the pipeline needs from the same round trip: the
    first answer to this command id (if it is a retry) and the actor's roles there."""

    row: StreamRow
    prior_digest: bytes | None
    prior_result: dict[str, Any] | None
    grants: list[tuple[str, str]]  # (role, venue)


async def lock_for_command(
    conn: Conn, name: str, actor: str, client_id: str, platform_roles: bool
) -> LockedForCommand | None:
    row = await conn.fetchrow(
        "SELECT s.name, s.kind, s.parent, s.head, s.state, now() AS now,"
        " c.digest AS prior_digest, c.result AS prior_result,"
        " ARRAY(SELECT r.role || chr(31) || r.venue FROM roles r WHERE r.user_id = $2"
        "       AND r.scope = ANY(CASE WHEN $4 THEN ARRAY['platform']"
        "                         ELSE ARRAY[s.name, s.parent] END)) AS grants"
        " FROM streams s LEFT JOIN commands c ON c.actor = $2 AND c.client_id = $3"
        " WHERE s.name = $1 FOR NO KEY UPDATE OF s",
        name,
        actor,
        client_id,
        platform_roles,
    )
    if row is None:
        return None
    stream = StreamRow(
        row["name"], row["kind"], row["parent"], row["head"], row["state"], row["now"]
    )
    grants = [tuple(g.split("\x1f", 1)) for g in row["grants"]]
    digest = bytes(row["prior_digest"]) if row["prior_digest"] is not None else None
    return LockedForCommand(stream, digest, row["prior_result"], [(r, v) for r, v in grants])


@dataclass(frozen=True)
class LockedForBatch:
    """The stream's row, locked, with what a batch of commands needs from the same round trip:
    the first answers of those that are retries, by (actor, id), and each actor's roles."""

    row: StreamRow
    priors: dict[tuple[str, str], tuple[bytes, dict[str, Any]]]  # (actor, id) -> digest, ack
    grants: dict[str, list[tuple[str, str]]]  # actor -> (role, venue)


_FOR_BATCH = (
    "SELECT s.name, s.kind, s.parent, s.head, s.state, now() AS now,"
    " (SELECT jsonb_agg(jsonb_build_array(c.actor, c.client_id, encode(c.digest, 'hex'),"
    "                                     c.result))"
    "  FROM commands c JOIN unnest($2::text[], $3::text[]) AS k(actor, client_id)"
    "  ON c.actor = k.actor AND c.client_id = k.client_id) AS priors,"
    " (SELECT jsonb_agg(jsonb_build_array(r.user_id, r.role, r.venue)) FROM roles r"
    "  WHERE r.user_id = ANY($4::text[]) AND r.scope = ANY(ARRAY[s.name, s.parent]))"
    "  AS grants"
    " FROM streams s WHERE s.name = $1"
)


async def lock_for_batch(
    conn: Conn, name: str, commands: Sequence[tuple[str, str]]
) -> LockedForBatch | None:
    """``lock_for_command`` for several commands (``(actor, client id)`` each) at once."""
    return await _for_batch(conn, _FOR_BATCH + " FOR NO KEY UPDATE OF s", name, commands)


async def read_for_batch(
    conn: Conn, name: str, commands: Sequence[tuple[str, str]]
) -> LockedForBatch | None:
    """What ``lock_for_batch`` returns, read without a lock or a transaction: a batch decided
    against it is written with ``append_if_head``, which writes nothing if the head moved."""
    return await _for_batch(conn, _FOR_BATCH, name, commands)


async def _for_batch(
    conn: Conn, query: str, name: str, commands: Sequence[tuple[str, str]]
) -> LockedForBatch | None:
    actors = sorted({actor for actor, _cid in commands})
    row = await conn.fetchrow(
        query,
        name,
        [actor for actor, _cid in commands],
        [cid for _actor, cid in commands],
        actors,
    )
    if row is None:
        return None
    stream = StreamRow(
        row["name"], row["kind"], row["parent"], row["head"], row["state"], row["now"]
    )
    priors = {
        (actor, cid): (bytes.fromhex(digest), dict(result))
        for actor, cid, digest, result in row["priors"] or []
    }
    grants: dict[str, list[tuple[str, str]]] = {actor: [] for actor in actors}
    for user_id, role, venue in row["grants"] or []:
        grants[user_id].append((role, venue))
    return LockedForBatch(stream, priors, grants)


def prepare_events(
    stream: StreamRow,
    events: Sequence[tuple[str, str | None, dict[str, Any], str, str | None]],
) -> list[StoredEvent]:
    """The events as they will be stored: seqs after the locked head, the transaction's time."""
    at = format_time(stream.now)
    return [
        StoredEvent(stream.name, stream.head + i, t, actor, at, payload, vis, sig)
        for i, (t, actor, payload, vis, sig) in enumerate(events, start=1)
    ]


@dataclass(frozen=True)
class CommandRecord:
    """A committed command's idempotency record: its first answer, kept by (actor, id)."""

    actor: str
    client_id: str
    digest: bytes
    seq: int  # the stream's head once the command's events are appended
    ack: dict[str, Any]


async def append_and_record(
    conn: Conn,
    stream: StreamRow,
    stored: Sequence[StoredEvent],
    new_state: dict[str, Any],
    commands: Sequence[CommandRecord],
) -> None:
    """Append the events, move the head, store the state and each command's first answer, in
    one statement (one round trip while the row lock is held), for one command or a batch."""
    await conn.execute(
        "WITH ev AS (INSERT INTO events"
        " (stream, seq, type, actor, at, payload, visibility, sig, leaf_hash)"
        " SELECT $1, u.seq, u.type, u.actor, $2, u.payload::jsonb, u.visibility, u.sig, u.leaf"
        " FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],"
        "             $9::bytea[]) AS u(seq, type, actor, payload, visibility, sig, leaf)),"
        " st AS (UPDATE streams SET head = $10, state = $11 WHERE name = $1)"
        " INSERT INTO commands (actor, client_id, digest, stream, seq, result)"
        " SELECT c.actor, c.client_id, c.digest, $1, c.seq, c.result::jsonb"
        " FROM unnest($12::text[], $13::text[], $14::bytea[], $15::bigint[], $16::text[])"
        "  AS c(actor, client_id, digest, seq, result)",
        *_append_args(stream, stored, new_state, commands),
    )


def _append_args(
    stream: StreamRow,
    stored: Sequence[StoredEvent],
    new_state: dict[str, Any],
    commands: Sequence[CommandRecord],
) -> tuple[Any, ...]:
    """$1..$16 of the append statements."""
    return (
        stream.name,
        stream.now,
        [e.seq for e in stored],
        [e.type for e in stored],
        [e.actor for e in stored],
        [json.dumps(e.payload, ensure_ascii=False) for e in stored],
        [e.visibility for e in stored],
        [e.sig for e in stored],
        [event_leaf_hash(e.record()) for e in stored],
        stream.head + len(stored),
        new_state,
        [c.actor for c in commands],
        [c.client_id for c in commands],
        [c.digest for c in commands],
        [c.seq for c in commands],
        [json.dumps(c.ack, ensure_ascii=False) for c in commands],
    )


async def append_if_head(
    conn: Conn,
    stream: StreamRow,
    stored: Sequence[StoredEvent],
    new_state: dict[str, Any],
    commands: Sequence[CommandRecord],
) -> bool:
    """``append_and_record`` as one statement outside any transaction (its own implicit one:
    one round trip, committed when it returns), and only if the stream's head is still the
    one ``stream`` was read at and no other transaction holds the row. False: the head moved
    (another writer came first) or the row is locked, and nothing was written. It never waits
    for a lock (``SKIP LOCKED``), so the statement's only wait is its own commit: a connection
    lost while it runs is the same window as a lost COMMIT, no wider; a writer that must wait
    does so in an explicit transaction (``lock_for_batch``), where being cut off while waiting
    means nothing was written. Two writers never both succeed: the one holding the row lock
    makes the other skip it, and a committed head makes the other's head check fail."""
    written = await conn.fetchval(
        "WITH lk AS (SELECT name FROM streams WHERE name = $1 AND head = $17"
        "            FOR NO KEY UPDATE SKIP LOCKED),"
        " st AS (UPDATE streams s SET head = $10, state = $11 FROM lk"
        "        WHERE s.name = lk.name RETURNING 1),"
        " ev AS (INSERT INTO events"
        " (stream, seq, type, actor, at, payload, visibility, sig, leaf_hash)"
        " SELECT $1, u.seq, u.type, u.actor, $2, u.payload::jsonb, u.visibility, u.sig, u.leaf"
        " FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],"
        "             $9::bytea[]) AS u(seq, type, actor, payload, visibility, sig, leaf)"
        " WHERE EXISTS (SELECT 1 FROM st)),"
        " cm AS (INSERT INTO commands (actor, client_id, digest, stream, seq, result)"
        " SELECT c.actor, c.client_id, c.digest, $1, c.seq, c.result::jsonb"
        " FROM unnest($12::text[], $13::text[], $14::bytea[], $15::bigint[], $16::text[])"
        "  AS c(actor, client_id, digest, seq, result)"
        " WHERE EXISTS (SELECT 1 FROM st))"
        " SELECT count(*) FROM st",
        *_append_args(stream, stored, new_state, commands),
        stream.head,
    )
    return bool(written)


async def leaf_hashes_after(
    conn: Executor, stream: str, after: int, limit: int
) -> list[tuple[int, bytes]]:
    """(seq, leaf hash) of up to ``limit`` events of ``stream`` after seq ``after``."""
    rows = await conn.fetch(
        "SELECT seq, leaf_hash FROM events WHERE stream = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        stream,
        after,
        limit,
    )
    return [(r["seq"], bytes(r["leaf_hash"])) for r in rows]
