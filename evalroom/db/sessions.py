"""What the evaluation report reads of a session beyond its state: the experts' signatures
and its tender (title, configuration, the signed opening records)."""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class ReportTender:
    """What the report prints of a session's tender beyond the session's own state: its
    title and published configuration (sections, opening time, control prices), each signed
    opening record with when it was signed, and the names of the people they name."""

    name: str
    title: str
    agency: str
    config: dict[str, Any]
    records: list[dict[str, Any]]  # {seq, at (ISO 8601), payload} in seq order
    names: dict[str, str] = field(default_factory=dict)  # user id -> name


async def report_tender(conn: Executor, tender: str) -> ReportTender | None:
    """The tender ``tender`` as :class:`ReportTender`, or None when there is no such stream."""
    state = await conn.fetchval("SELECT state FROM streams WHERE name = $1", tender)
    if state is None:
        return None
    rows = await conn.fetch(
        "SELECT seq, at, payload FROM events WHERE stream = $1 AND type = 'opening.record'"
        " ORDER BY seq",
        tender,
    )
    records = [{"seq": r["seq"], "at": r["at"].isoformat(), "payload": r["payload"]} for r in rows]
    people = {str(state.get("agency") or "")}
    for record in records:
        people.update(str(u) for u in (record["payload"].get("signed_by") or {}).values())
    found = await conn.fetch(
        "SELECT id, name FROM users WHERE id = ANY($1::text[])", sorted(people - {""})
    )
    return ReportTender(
        tender,
        str(state.get("title") or ""),
        str(state.get("agency") or ""),
        dict(state.get("config") or {}),
        records,
        {r["id"]: r["name"] for r in found},
    )


async def user_names(conn: Executor, users: list[str]) -> dict[str, str]:
    """user id -> name of the registered ``users`` (award (定标) jobs: the 定标报告's members)."""
    found = await conn.fetch(
        "SELECT id, name FROM users WHERE id = ANY($1::text[])", sorted(set(users) - {""})
    )
    return {r["id"]: r["name"] for r in found}
