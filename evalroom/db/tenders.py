"""What a participant finds in the tender list: published tenders and its own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evalroom.db import Executor


async def tenders_for(conn: Executor, user_id: str, listed: Sequence[str]) -> list[dict[str, Any]]:
    """The tenders in one of the ``listed`` phases and those where ``user_id`` holds a role
    (in the tender or one of its sessions), newest first, at most 200: each as ``{name,
    title, phase, opening_at, roles, sessions, bid_stream}`` (the user's roles there, the
    tender's sessions, and the user's company's own bid stream, or None)."""
    rows = await conn.fetch(
        "SELECT s.name, s.state->>'title' AS title, s.state->>'phase' AS phase,"
        " s.state->'config'->>'opening_at' AS opening_at,"
        " ARRAY(SELECT DISTINCT r.role FROM roles r WHERE r.user_id = $1"
        "       AND (r.scope = s.name OR r.scope IN (SELECT c.name FROM streams c"
        "            WHERE c.parent = s.name AND c.kind = 'session'))) AS roles,"
        " ARRAY(SELECT c.name FROM streams c WHERE c.parent = s.name AND c.kind = 'session'"
        "       ORDER BY c.name) AS sessions,"
        " (SELECT r.scope FROM roles r JOIN streams b ON b.name = r.scope"
        "  WHERE r.user_id = $1 AND b.parent = s.name AND b.kind = 'bid' LIMIT 1) AS bid_stream"
        " FROM streams s WHERE s.kind = 'tender'"
        " AND (s.state->>'phase' = ANY($2::text[]) OR EXISTS (SELECT 1 FROM roles r"
        "      WHERE r.user_id = $1 AND (r.scope = s.name OR r.scope IN"
        "      (SELECT c.name FROM streams c WHERE c.parent = s.name AND c.kind = 'session'))))"
        " ORDER BY s.created_at DESC LIMIT 200",
        user_id,
        list(listed),
    )
    return [dict(r) for r in rows]
