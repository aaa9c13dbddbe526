"""What the platform's clock reads of the awards (定标): the sessions whose 中标候选人公示 runs."""

from __future__ import annotations

from typing import Any

from evalroom.db import Executor


async def sessions_in_publicity(conn: Executor) -> list[tuple[str, dict[str, Any]]]:
    """(name, state) of every session whose award is in its objection window (公示)."""
    rows = await conn.fetch(
        "SELECT name, state FROM streams WHERE kind = 'session'"
        " AND state->'award'->>'phase' = 'publicity' ORDER BY name"
    )
    return [(r["name"], dict(r["state"])) for r in rows]
