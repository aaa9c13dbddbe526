"""What the red-flag pipeline reads (services.redflags): the read-out it computes from, and
the tenders and sessions whose signals are due (read by every node's watch)."""

from __future__ import annotations

from typing import Any

from evalroom.db import Executor

# A tender's signals stream is ``signals:<id>`` for ``tender:<id>`` (7 = len("tender:") + 1).
_SIGNALS_OF_TENDER = "'signals:' || substr(t.name, 8)"
_SIGNALS_OF_SESSION = "'signals:' || substr(x.parent, 8)"


async def read_out_event(
    conn: Executor, tender: str, stage: str
) -> tuple[int, dict[str, Any]] | None:
    """(seq, payload) of the tender's ``opening.read_out`` of ``stage``, the last one."""
    row = await conn.fetchrow(
        "SELECT seq, payload FROM events WHERE stream = $1 AND type = 'opening.read_out'"
        " AND payload->>'stage' = $2 ORDER BY seq DESC LIMIT 1",
        tender,
        stage,
    )
    return None if row is None else (int(row["seq"]), dict(row["payload"]))


async def openings_due(conn: Executor) -> list[tuple[str, str, list[str]]]:
    """(tender, stage, section ids) of every read-out stage (``single``, ``technical``,
    ``commercial``) whose last section the tender's signals stream has not checked yet."""
    rows = await conn.fetch(
        "SELECT t.name, st.key AS stage,"
        "  ARRAY(SELECT jsonb_array_elements(t.state->'config'->'sections')->>'id') AS sections"
        " FROM streams t CROSS JOIN LATERAL jsonb_each(t.state->'opening') st"
        " LEFT JOIN streams s ON s.name = " + _SIGNALS_OF_TENDER + ""
        " WHERE t.kind = 'tender' AND t.state->>'phase' NOT IN ('draft', 'bidding')"
        "  AND jsonb_typeof(t.state->'opening') = 'object'"
        "  AND jsonb_typeof(st.value) = 'object' AND st.value->>'read_out' = 'true'"
        "  AND NOT coalesce(s.state->'checked' ? ('opening:' || st.key"
        "      || ':' || (t.state->'config'->'sections'->-1->>'id')), false)"
    )
    return [(r["name"], r["stage"], list(r["sections"])) for r in rows]


async def sessions_due(conn: Executor) -> list[tuple[str, str, str, str]]:
    """(session, tender, section, stage) of every session past its preliminary review
    (``review``) or with its scores revealed (``scores``) not yet checked for that stage."""
    rows = await conn.fetch(
        "SELECT x.name, x.parent, x.state->>'section' AS section,"
        "  CASE WHEN x.state->>'revealed' = 'true' THEN 'scores' ELSE 'review' END AS stage"
        " FROM streams x LEFT JOIN streams s ON s.name = " + _SIGNALS_OF_SESSION + ""
        " WHERE x.kind = 'session' AND x.parent IS NOT NULL"
        "  AND jsonb_typeof(x.state->'preliminary') = 'object'"
        "  AND NOT coalesce(s.state->'checked' ? ('evaluation:' || x.name || ':'"
        "      || CASE WHEN x.state->>'revealed' = 'true' THEN 'scores' ELSE 'review' END"
        "      || ':' || (x.state->>'section')), false)"
    )
    return [(r["name"], r["parent"], r["section"], r["stage"]) for r in rows]


async def signals_raised(conn: Executor, tender: str) -> list[dict[str, Any]]:
    """The payloads of every ``signal.raised`` of the tender's signals stream, in order."""
    rows = await conn.fetch(
        "SELECT payload FROM events WHERE stream = $1 AND type = 'signal.raised' ORDER BY seq",
        "signals:" + tender.removeprefix("tender:"),
    )
    return [dict(r["payload"]) for r in rows]
