"""What the evaluation report reads of a session beyond its state: the experts' signatures."""

from __future__ import annotations

from typing import Any

from evalroom.db import Executor


async def report_signatures(conn: Executor, stream: str) -> list[dict[str, Any]]:
    """The ``session.report_signed`` events of ``stream`` in seq order, as ``{expert, name,
    sig, seq, at, key}`` (``at`` in ISO 8601, ``key`` the expert's signing key)."""
    rows = await conn.fetch(
        "SELECT e.actor, e.sig, e.seq, e.at, u.name, u.signing_key FROM events e"
        " JOIN users u ON u.id = e.actor WHERE e.stream = $1 AND e.type = 'session.report_signed'"
        " ORDER BY e.seq",
        stream,
    )
    return [
        {
            "expert": r["actor"],
            "name": r["name"],
            "sig": r["sig"],
            "seq": r["seq"],
            "at": r["at"].isoformat(),
            "key": r["signing_key"],
        }
        for r in rows
    ]


async def signed_reports(conn: Executor, stream: str) -> list[dict[str, Any]]:
    """The ``session.report_signed`` events of ``stream`` as ``{sig, payload, signing_key}``
    (the signer's key), in no particular order."""
    rows = await conn.fetch(
        "SELECT e.sig, e.payload, u.signing_key FROM events e JOIN users u ON u.id = e.actor"
        " WHERE e.stream = $1 AND e.type = 'session.report_signed'",
        stream,
    )
    return [dict(r) for r in rows]
