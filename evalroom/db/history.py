"""The platform's history for the cross-tender and expert red flags (历史预警数据).

A lot is a tender's section, named ``<tender>/<section>``. Its bidders are the companies of
the tender's signed ``opening.record`` events (every bid but a withdrawn one; a two-envelope
tender's two records name the same companies), its winner the company of the section's
session's ``award.notice`` (中标通知). Pairs and counts are aggregated here, in SQL; the
fences and the flags are the pure :mod:`evalroom.domain.redflags.history`. The partial
indexes of migration 0008 let these reads find the two event types without scanning the log.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from evalroom.db import Conn, Executor

# Every (lot, company) that submitted a bid, and each lot's winner (the latest notice).
_LOTS = """
WITH bids AS MATERIALIZED (
    SELECT DISTINCT e.stream || '/' || (b->>'section') AS unit, b->>'org' AS org
    FROM events e CROSS JOIN LATERAL jsonb_array_elements(e.payload->'bids') AS b
    WHERE e.type = 'opening.record' AND b->>'status' IS DISTINCT FROM 'withdrawn'
      AND b->>'org' IS NOT NULL
), winners AS MATERIALIZED (
    SELECT DISTINCT ON (unit) unit, org FROM (
        SELECT s.parent || '/' || (s.state->>'section') AS unit,
               e.payload->'winner'->>'company' AS org, e.at
        FROM events e JOIN streams s ON s.name = e.stream
        WHERE e.type = 'award.notice' AND s.kind = 'session'
    ) n ORDER BY unit, at DESC
), lots AS MATERIALIZED (
    SELECT b.unit, b.org, w.org AS winner FROM bids b LEFT JOIN winners w USING (unit)
)
"""


@dataclass(frozen=True)
class HistoryRows:
    """The history's aggregates as plain values: ``bidders`` (company, bids, decided_bids,
    wins); the histogram (value, how many pairs) of the lots each pair bid together; the
    number of lots."""

    lots: int
    bidders: list[tuple[str, int, int, int]]
    together_hist: list[tuple[int, int]]


class HistorySnapshot:
    """The history aggregated once into temporary tables of one transaction: ``rf_org``
    (company, id), ``rf_lot`` (lot id, company id, decided, won) and ``rf_pair`` (one row per
    pair of company ids that ever co-bid), so the fence is computed between reads without
    aggregating again. Companies and lots are numbered inside the snapshot so the pair
    aggregation groups integers, not text. Made by :func:`history_snapshot`."""

    def __init__(self, conn: Conn) -> None:
        self._conn = conn

    async def rows(self) -> HistoryRows:
        """Every company's bids and wins, the pair histogram and the number of lots."""
        bidders = await self._conn.fetch(
            "SELECT o.org, count(*) AS bids, count(*) FILTER (WHERE l.decided) AS decided,"
            " count(*) FILTER (WHERE l.won) AS wins"
            " FROM rf_lot l JOIN rf_org o ON o.id = l.o GROUP BY o.org ORDER BY o.org"
        )
        together = await self._conn.fetch(
            "SELECT together AS v, count(*) AS c FROM rf_pair GROUP BY together ORDER BY 1"
        )
        lots = await self._conn.fetchval("SELECT count(DISTINCT u) FROM rf_lot")
        return HistoryRows(
            int(lots or 0),
            [(r["org"], r["bids"], r["decided"], r["wins"]) for r in bidders],
            [(r["v"], r["c"]) for r in together],
        )

    async def pairs(self, min_together: int) -> list[tuple[str, str, int, int, int, int]]:
        """The pairs that co-bid at least ``min_together`` times: (a, b, together, decided,
        won_a, won_b) with a < b."""
        rows = await self._conn.fetch(
            "SELECT oa.org AS a, ob.org AS b, p.together, p.decided, p.won_a, p.won_b"
            " FROM rf_pair p JOIN rf_org oa ON oa.id = p.a JOIN rf_org ob ON ob.id = p.b"
            " WHERE p.together >= $1 ORDER BY 1, 2",
            min_together,
        )
        return [(r["a"], r["b"], r["together"], r["decided"], r["won_a"], r["won_b"]) for r in rows]

    async def lots_of(self, companies: Sequence[str]) -> list[tuple[str, list[str], str | None]]:
        """The lots where at least two of ``companies`` bid: (lot, every bidder, winner)."""
        rows = await self._conn.fetch(
            "WITH chosen AS (SELECT l.u FROM rf_lot l JOIN rf_org o ON o.id = l.o"
            "  WHERE o.org = ANY($1::text[]) GROUP BY l.u HAVING count(*) >= 2)"
            " SELECT n.unit, array_agg(o.org ORDER BY o.org) AS bidders,"
            "  min(o.org) FILTER (WHERE l.won) AS winner, bool_or(l.decided) AS decided"
            " FROM rf_lot l JOIN chosen USING (u) JOIN rf_org o ON o.id = l.o"
            " JOIN rf_unit n ON n.u = l.u GROUP BY n.unit ORDER BY n.unit",
            list(companies),
        )
        return [
            (r["unit"], list(r["bidders"]), r["winner"] if r["decided"] else None) for r in rows
        ]


@contextlib.asynccontextmanager
async def history_snapshot(conn: Conn) -> AsyncIterator[HistorySnapshot]:
    """Aggregate the whole history (in SQL, once) inside a transaction on ``conn``; the
    temporary tables go with it. ``work_mem`` is raised for this transaction only, so the
    pair aggregation stays in memory."""
    async with conn.transaction():
        await conn.execute(
            "SET LOCAL work_mem = '256MB';"
            " DROP TABLE IF EXISTS rf_pair, rf_lot, rf_org, rf_unit, rf_text;"
            " CREATE TEMPORARY TABLE rf_text ON COMMIT DROP AS " + _LOTS + " SELECT * FROM lots;"
            " CREATE TEMPORARY TABLE rf_org ON COMMIT DROP AS"
            "  SELECT org, (row_number() OVER (ORDER BY org))::int AS id"
            "  FROM (SELECT DISTINCT org FROM rf_text) x;"
            " CREATE TEMPORARY TABLE rf_unit ON COMMIT DROP AS"
            "  SELECT unit, (row_number() OVER (ORDER BY unit))::int AS u"
            "  FROM (SELECT DISTINCT unit FROM rf_text) x;"
            " CREATE TEMPORARY TABLE rf_lot ON COMMIT DROP AS"
            "  SELECT n.u, o.id AS o, t.winner IS NOT NULL AS decided,"
            "   coalesce(t.winner = t.org, false) AS won"
            "  FROM rf_text t JOIN rf_org o USING (org) JOIN rf_unit n USING (unit);"
            " CREATE TEMPORARY TABLE rf_pair ON COMMIT DROP AS"
            "  SELECT x.o AS a, y.o AS b, count(*) AS together,"
            "   count(*) FILTER (WHERE x.decided) AS decided,"
            "   count(*) FILTER (WHERE x.won) AS won_a, count(*) FILTER (WHERE y.won) AS won_b"
            "  FROM rf_lot x JOIN rf_lot y ON y.u = x.u AND y.o > x.o GROUP BY x.o, y.o;"
            " ANALYZE rf_org; ANALYZE rf_lot; ANALYZE rf_pair"
        )
        yield HistorySnapshot(conn)


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
