"""The platform's history for the cross-tender and expert red flags (历史预警数据).

A lot is a tender's section, named ``<tender>/<section>``. Its bidders are the companies of
the tender's signed ``opening.record`` events (every bid but a withdrawn one; of a
two-envelope tender the technical record, which names every company that bid), its winner the company of the section's
session's ``award.notice`` (中标通知). Pairs and counts are aggregated here, in one SQL
statement; the fences and the flags are the pure :mod:`evalroom.domain.redflags.history`. The partial
indexes of migration 0008 let these reads find the two event types without scanning the log.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg

from evalroom.db import Conn, Executor

# Every (lot, company) that submitted a bid, and each lot's winner (the latest notice).
_LOTS = """
WITH winners AS MATERIALIZED (
    SELECT DISTINCT ON (s.parent, s.state->>'section') s.parent AS tender,
           s.state->>'section' AS section, e.payload->'winner'->>'company' AS org
    FROM events e JOIN streams s ON s.name = e.stream
    WHERE e.type = 'award.notice' AND s.kind = 'session'
    ORDER BY s.parent, s.state->>'section', e.at DESC
), lots AS MATERIALIZED (
    -- One row per (section, company) of each record; the commercial record of a two-envelope
    -- tender names again companies of the technical one, so it is skipped.
    SELECT e.stream || '/' || b.section AS unit, b.org, w.org AS winner
    FROM events e
    CROSS JOIN LATERAL jsonb_to_recordset(e.payload->'bids')
        AS b(section text, org text, status text)
    LEFT JOIN winners w ON w.tender = e.stream AND w.section = b.section
    WHERE e.type = 'opening.record' AND e.payload->>'stage' IS DISTINCT FROM 'commercial'
      AND b.status IS DISTINCT FROM 'withdrawn' AND b.org IS NOT NULL
)
"""


_HISTORY = (
    _LOTS
    + """
, pairs AS MATERIALIZED (
    SELECT x.org AS a, y.org AS b, count(*) AS together, count(x.winner) AS decided,
           count(*) FILTER (WHERE x.winner = x.org) AS won_a,
           count(*) FILTER (WHERE x.winner = y.org) AS won_b
    FROM lots x JOIN lots y ON y.unit = x.unit AND y.org > x.org
    GROUP BY x.org, y.org
), hist AS MATERIALIZED (
    SELECT together AS v, count(*) AS c FROM pairs GROUP BY together
), cum AS MATERIALIZED (
    SELECT v, sum(c) OVER (ORDER BY v) AS upto, sum(c) OVER () AS n FROM hist
), pos AS (
    SELECT max(n) AS n FROM cum
), stat AS MATERIALIZED (
    -- Order statistics that bound the type 8 quartiles: Q3 >= x[floor(h3)], Q1 <= x[floor(h1)+1].
    SELECT (SELECT min(v) FROM cum WHERE upto >= greatest(1, least(pos.n,
                floor((pos.n + 1 / 3.0) * 0.75 + 1 / 3.0)))) AS q3_low,
           (SELECT min(v) FROM cum WHERE upto >= greatest(1, least(pos.n,
                floor((pos.n + 1 / 3.0) * 0.25 + 1 / 3.0) + 1))) AS q1_high
    FROM pos
), bound AS MATERIALIZED (
    SELECT greatest($2::float8, q3_low + $1::float8 * greatest(0, q3_low - q1_high)) AS b
    FROM stat
), chosen AS MATERIALIZED (
    SELECT p.* FROM pairs p WHERE p.together >= (SELECT b FROM bound)
), members AS (
    SELECT a AS org FROM chosen WHERE won_a > 0 AND won_b > 0 AND decided >= $3
    UNION SELECT b FROM chosen WHERE won_a > 0 AND won_b > 0 AND decided >= $3
), group_lots AS (
    SELECT l.unit FROM lots l JOIN members USING (org) GROUP BY l.unit HAVING count(*) >= 2
)
SELECT 'pair' AS kind, a, b, together AS n, decided AS m, won_a, won_b, NULL::text[] AS orgs
    FROM chosen
UNION ALL
SELECT 'together', NULL, NULL, v, c, NULL, NULL, NULL FROM hist
UNION ALL
SELECT 'bidder', org, NULL, count(*), count(winner), count(*) FILTER (WHERE winner = org),
    NULL, NULL FROM lots GROUP BY org
UNION ALL
SELECT 'lot', l.unit, min(l.winner), NULL, NULL, NULL, NULL, array_agg(l.org ORDER BY l.org)
    FROM lots l JOIN group_lots USING (unit) GROUP BY l.unit
UNION ALL
SELECT 'lots', NULL, NULL, count(DISTINCT unit), NULL, NULL, NULL, NULL FROM lots
"""
)


@dataclass(frozen=True)
class HistoryRows:
    """The history's aggregates as plain values:

    - ``pairs`` (a, b, together, decided, won_a, won_b), every pair that co-bid at least a
      bound at or below the upper fence (and ``min_together``), so no pair that can reach the
      fence is left out;
    - ``bidders`` (company, bids, decided_bids, wins);
    - ``together_hist`` (lots together, how many pairs), over every pair that ever co-bid;
    - ``lots`` (lot, bidders, winner or None) where two or more companies of the pairs above
      that could rotate (both won, ``min_decided`` decided lots together) bid;
    - ``lot_count``, the number of lots."""

    pairs: list[tuple[str, str, int, int, int, int]]
    bidders: list[tuple[str, int, int, int]]
    together_hist: list[tuple[int, int]]
    lots: list[tuple[str, list[str], str | None]]
    lot_count: int


async def history_rows(
    conn: Executor, fence_k: float, min_together: int, min_decided: int
) -> HistoryRows:
    """The whole history aggregated in one statement. The fence itself is the caller's (the
    pure domain computes it from ``together_hist``); the statement only bounds it from below
    with two order statistics — the upper fence ``Q3 + k·IQR`` is at least
    ``x[⌊h3⌋] + k·max(0, x[⌊h3⌋] - x[⌊h1⌋+1])`` — so only the pairs that can reach it travel.
    ``work_mem`` is raised, and JIT turned off, for this statement's transaction only."""
    async with _transaction(conn) as c:
        # In memory, and without JIT: compiling this statement costs more CPU than it saves
        # (measured over 100,000 tenders: 4.0-4.2 s of backend CPU without, 4.5-4.7 s with).
        await c.execute("SET LOCAL work_mem = '256MB'; SET LOCAL jit = off")
        rows = await c.fetch(_HISTORY, fence_k, min_together, min_decided)
    out = HistoryRows([], [], [], [], 0)
    count = 0
    for r in rows:
        kind = r["kind"]
        if kind == "pair":
            out.pairs.append((r["a"], r["b"], r["n"], r["m"], r["won_a"], r["won_b"]))
        elif kind == "bidder":
            out.bidders.append((r["a"], r["n"], r["m"], r["won_a"]))
        elif kind == "together":
            out.together_hist.append((r["n"], r["m"]))
        elif kind == "lot":
            out.lots.append((r["a"], list(r["orgs"]), r["b"]))
        else:
            count = int(r["n"])
    out.together_hist.sort()
    return HistoryRows(out.pairs, out.bidders, out.together_hist, out.lots, count)


@contextlib.asynccontextmanager
async def _transaction(conn: Executor) -> AsyncIterator[Conn]:
    """A transaction on ``conn``, or on a connection of the pool when given the pool."""
    if isinstance(conn, asyncpg.Pool):
        async with conn.acquire() as c, c.transaction():
            yield c
    else:
        async with conn.transaction():
            yield conn


async def scored_sessions(conn: Executor) -> list[dict[str, Any]]:
    """Every session that got past the deviation check, as ``{session, tender, committee,
    bids, scores, deviations}`` from its state (experts' scores, 偏离 flags), by name."""
    rows = await conn.fetch(
        "SELECT name, state->'tender' AS tender, state->'committee' AS committee,"
        " state->'bids' AS bids, state->'scores' AS scores, state->'deviations' AS deviations"
        " FROM streams WHERE kind = 'session'"
        " AND state->>'phase' IN ('deviation_check', 'signing', 'closed')"
        " ORDER BY name"
    )
    return [
        {
            "session": r["name"],
            "tender": r["tender"],
            "committee": list(r["committee"] or {}),
            "bids": r["bids"] or [],
            "scores": r["scores"] or {},
            "deviations": r["deviations"] or [],
        }
        for r in rows
    ]
