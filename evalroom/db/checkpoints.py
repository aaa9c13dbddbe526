"""Signed tree heads as stored: one row per (stream, size), with the reasons it was signed."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crypto.events import format_time
from evalroom.db import Executor


@dataclass(frozen=True)
class StoredCheckpoint:
    stream: str
    size: int
    root: bytes
    note: str
    reasons: tuple[str, ...]
    created_at: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> StoredCheckpoint:
        return cls(
            row["stream"],
            row["size"],
            bytes(row["root"]),
            row["note"],
            tuple(row["reasons"]),
            format_time(row["created_at"]),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "size": self.size,
            "root": base64.b64encode(self.root).decode("ascii"),
            "note": self.note,
            "reasons": list(self.reasons),
            "created_at": self.created_at,
        }


_COLUMNS = "stream, size, root, note, reasons, created_at"


async def latest_checkpoint(conn: Executor, stream: str) -> StoredCheckpoint | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM checkpoints WHERE stream = $1 ORDER BY size DESC LIMIT 1",
        stream,
    )
    return None if row is None else StoredCheckpoint.from_row(row)


async def checkpoint_at(conn: Executor, stream: str, size: int) -> StoredCheckpoint | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM checkpoints WHERE stream = $1 AND size = $2", stream, size
    )
    return None if row is None else StoredCheckpoint.from_row(row)


async def checkpoints_after(
    conn: Executor, stream: str, after: int, limit: int
) -> list[StoredCheckpoint]:
    """Checkpoints of ``stream`` with size > ``after``, smallest first, at most ``limit``."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM checkpoints WHERE stream = $1 AND size > $2"
        " ORDER BY size LIMIT $3",
        stream,
        after,
        limit,
    )
    return [StoredCheckpoint.from_row(r) for r in rows]


async def checkpoints_of(conn: Executor, stream: str) -> list[StoredCheckpoint]:
    """Every checkpoint of ``stream``, smallest first."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM checkpoints WHERE stream = $1 ORDER BY size",
        stream,
    )
    return [StoredCheckpoint.from_row(r) for r in rows]


async def store_checkpoint(
    conn: Executor, stream: str, size: int, root: bytes, note: str, reason: str, periodic: str
) -> StoredCheckpoint | None:
    """Insert the head, or add ``reason`` to the one stored (first writer wins); None when it
    existed and already carried ``reason`` (or ``reason`` is ``periodic``)."""
    row = await conn.fetchrow(
        "INSERT INTO checkpoints (stream, size, root, note, reasons)"
        " VALUES ($1, $2, $3, $4, ARRAY[$5::text])"
        " ON CONFLICT (stream, size) DO UPDATE"
        " SET reasons = array_append(checkpoints.reasons, $5::text)"
        " WHERE $5::text <> $6 AND NOT $5::text = ANY(checkpoints.reasons)"
        f" RETURNING {_COLUMNS}",
        stream,
        size,
        root,
        note,
        reason,
        periodic,
    )
    return None if row is None else StoredCheckpoint.from_row(row)


async def neighbour_checkpoints(conn: Executor, stream: str, size: int) -> list[tuple[int, bytes]]:
    """(size, root) of the stored heads nearest at or below ``size`` and nearest above it."""
    rows = await conn.fetch(
        "(SELECT size, root FROM checkpoints WHERE stream = $1 AND size <= $2"
        "  ORDER BY size DESC LIMIT 1)"
        " UNION ALL"
        " (SELECT size, root FROM checkpoints WHERE stream = $1 AND size > $2"
        "  ORDER BY size LIMIT 1)",
        stream,
        size,
    )
    return [(r["size"], bytes(r["root"])) for r in rows]


async def streams_beyond_checkpoints(conn: Executor) -> list[tuple[str, int]]:
    """(stream, size of its latest checkpoint) of the streams with events beyond it."""
    rows = await conn.fetch(
        "SELECT name, covered FROM (SELECT s.name, s.head, COALESCE("
        "  (SELECT max(c.size) FROM checkpoints c WHERE c.stream = s.name), 0) AS covered"
        " FROM streams s) AS heads WHERE head > covered"
    )
    return [(r["name"], r["covered"]) for r in rows]


async def phase_boundaries(
    conn: Executor, stream: str, after: int, upto: int
) -> list[tuple[int, str]]:
    """(seq, phase) of the events in (``after``, ``upto``] whose payload names a phase."""
    rows = await conn.fetch(
        "SELECT seq, payload->>'phase' AS phase FROM events"
        " WHERE stream = $1 AND seq > $2 AND seq <= $3"
        " AND jsonb_typeof(payload->'phase') = 'string' ORDER BY seq",
        stream,
        after,
        upto,
    )
    return [(r["seq"], r["phase"]) for r in rows]
