"""What an evidence bundle (证据包) reads: streams, their events with the stored leaf hashes,
and the people who acted. Run it inside one read-only snapshot so the parts agree."""

from __future__ import annotations

from typing import Any

from crypto.events import event_record, format_time
from evalroom.db import Executor

_STREAM = "SELECT name, kind, parent, head, state FROM streams"


async def stream_row(conn: Executor, name: str) -> dict[str, Any] | None:
    """The stream as ``{name, kind, parent, head, state}``."""
    row = await conn.fetchrow(f"{_STREAM} WHERE name = $1", name)
    return None if row is None else dict(row)


async def child_stream_rows(conn: Executor, parent: str) -> list[dict[str, Any]]:
    """Every stream under ``parent``, by name, as :func:`stream_row` gives them."""
    rows = await conn.fetch(f"{_STREAM} WHERE parent = $1 ORDER BY name", parent)
    return [dict(r) for r in rows]


async def bid_stream_rows(conn: Executor, tender: str) -> list[dict[str, Any]]:
    """The bidders' own streams of ``tender``, by name, as :func:`stream_row` gives them."""
    rows = await conn.fetch(f"{_STREAM} WHERE parent = $1 AND kind = 'bid' ORDER BY name", tender)
    return [dict(r) for r in rows]


async def signal_stream_rows(conn: Executor, tender: str) -> list[dict[str, Any]]:
    """The tender's red-flag stream (``signals:…``), if it has one, as :func:`stream_row`."""
    rows = await conn.fetch(
        f"{_STREAM} WHERE parent = $1 AND kind = 'signals' ORDER BY name", tender
    )
    return [dict(r) for r in rows]


async def events_with_leaves(conn: Executor, stream: str) -> list[tuple[dict[str, Any], bytes]]:
    """Every event of ``stream`` in seq order: its record, and the leaf hash stored with it."""
    rows = await conn.fetch(
        "SELECT stream, seq, type, actor, at, payload, visibility, sig, leaf_hash FROM events"
        " WHERE stream = $1 ORDER BY seq",
        stream,
    )
    return [
        (
            event_record(
                stream=r["stream"],
                seq=r["seq"],
                type=r["type"],
                actor=r["actor"],
                at=format_time(r["at"]),
                payload=r["payload"],
                visibility=r["visibility"],
                sig=r["sig"],
            ),
            bytes(r["leaf_hash"]),
        )
        for r in rows
    ]


async def users_by_id(conn: Executor, ids: list[str]) -> list[dict[str, Any]]:
    """``{id, name, org, signing_key}`` of the users ``ids`` (sorted), by id."""
    rows = await conn.fetch(
        "SELECT id, name, org, signing_key FROM users WHERE id = ANY($1::text[]) ORDER BY id",
        ids,
    )
    return [dict(r) for r in rows]
