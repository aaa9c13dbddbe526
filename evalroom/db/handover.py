"""What a new evaluation session reads of its tender (开标记录移交), inside its transaction."""

from __future__ import annotations

from typing import Any

from evalroom.db import Conn


async def lock_tender_for_handover(conn: Conn, tender: str) -> bool:
    """Hold the tender's row until the transaction ends, so two sessions of one section
    cannot be created side by side; False when there is no such tender."""
    found = await conn.fetchval("SELECT true FROM streams WHERE name = $1 FOR UPDATE", tender)
    return bool(found)


async def opening_records(conn: Conn, tender: str) -> list[dict[str, Any]]:
    """The tender's ``opening.record`` events as ``{seq, payload}``, in seq order."""
    rows = await conn.fetch(
        "SELECT seq, payload FROM events WHERE stream = $1 AND type = 'opening.record'"
        " ORDER BY seq",
        tender,
    )
    return [{"seq": r["seq"], "payload": r["payload"]} for r in rows]


async def sessions_of(conn: Conn, tender: str) -> list[dict[str, Any]]:
    """The tender's evaluation sessions as ``{stream, section, phase}``."""
    rows = await conn.fetch(
        "SELECT name, state->>'section' AS section, state->>'phase' AS phase FROM streams"
        " WHERE parent = $1 AND kind = 'session' ORDER BY name",
        tender,
    )
    return [{"stream": r["name"], "section": r["section"], "phase": r["phase"]} for r in rows]
