"""The red flags read from the platform's history (跨项目与专家预警), for the pipeline's
supervisor views: the database aggregates, the pure domain decides.

- :func:`history_signals`: the cross-tender flags (``history.*``), optionally restricted to
  the companies of one tender;
- :func:`expert_signals`: the experts' flags (``expert.*``), optionally restricted to some
  experts (a session's committee);
- :func:`credit_view`: the 一标一评 credit view, each pool expert's credit beside those figures
  (``evalroom admin pool credit-view``).

Both are advisory: they read, never write, and change no result.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from evalroom.db import Executor
from evalroom.db import experts as pool_store
from evalroom.db import history as db_history
from evalroom.domain.redflags import experts as domain_experts
from evalroom.domain.redflags.experts import ExpertThresholds
from evalroom.domain.redflags.history import (
    BidderRecord,
    HistoryAggregates,
    HistoryTender,
    HistoryThresholds,
    PairRecord,
    cobidding_signals,
    never_wins_signals,
    rotation_groups,
    rotation_signals,
)
from evalroom.domain.redflags.signal import Signal

__all__ = ["credit_view", "expert_signals", "history_signals"]


async def history_signals(
    conn: Executor,
    thresholds: HistoryThresholds | None = None,
    companies: Collection[str] | None = None,
) -> list[Signal]:
    """Every cross-tender signal over the whole history (co-bidding pairs, rotation groups,
    companies that never win), in that order; with ``companies`` (e.g. a tender's bidders),
    only the signals naming at least one of them. Fences are always over the whole history.
    One statement, on ``conn`` (a connection or the pool)."""
    t = thresholds or HistoryThresholds()
    rows = await db_history.history_rows(conn, t.fence_k, t.cobid_min, t.rotation_min_tenders)
    agg = HistoryAggregates(
        rows.lot_count,
        sorted((_pair(*p) for p in rows.pairs), key=lambda p: (p.a, p.b)),
        sorted((BidderRecord(*b) for b in rows.bidders), key=lambda b: b.bidder),
        [(float(v), c) for v, c in rows.together_hist],
    )
    groups = [g for g in rotation_groups(agg, t) if companies is None or set(g) & set(companies)]
    lots = _lots_by_group(groups, rows.lots)
    signals = [
        *cobidding_signals(agg, t),
        *rotation_signals(agg, lots, t),
        *never_wins_signals(agg, t),
    ]
    if companies is None:
        return signals
    wanted = set(companies)
    return [s for s in signals if wanted & set(s.evidence.bids)]


def _lots_by_group(
    groups: list[list[str]], rows: list[tuple[str, list[str], str | None]]
) -> dict[tuple[str, ...], list[HistoryTender]]:
    """Each group's lots (two or more of its members bid), found through each member's lots."""
    wanted = {m for g in groups for m in g}
    found = [HistoryTender(u, frozenset(b), w) for u, b, w in rows]
    by_member: dict[str, list[int]] = {m: [] for m in wanted}
    for i, lot in enumerate(found):
        for m in lot.bidders & wanted:
            by_member[m].append(i)
    out = {}
    for g in groups:
        members = set(g)
        seen = sorted({i for m in g for i in by_member[m]})
        out[tuple(g)] = [found[i] for i in seen if len(found[i].bidders & members) >= 2]
    return out


def _pair(a: str, b: str, together: int, decided: int, won_a: int, won_b: int) -> PairRecord:
    """A pair in Python's order of names (the database orders by its collation)."""
    if a > b:
        return PairRecord(b, a, together, decided, won_b, won_a)
    return PairRecord(a, b, together, decided, won_a, won_b)


async def expert_signals(
    conn: Executor,
    thresholds: ExpertThresholds | None = None,
    experts: Collection[str] | None = None,
    groups: Mapping[str, str] | None = None,
) -> list[Signal]:
    """Every expert signal over the scored sessions (deviation frequency, favour for a
    company or, with ``groups`` mapping companies to a region or organisation, for a group;
    low agreement with the rest of the committee); with ``experts``, only theirs."""
    t = thresholds or ExpertThresholds()
    sessions = [
        domain_experts.ScoredSession.from_state(s) for s in await db_history.scored_sessions(conn)
    ]
    signals = domain_experts.expert_signals(sessions, t, groups)
    if experts is None:
        return signals
    wanted = set(experts)
    return [s for s in signals if s.evidence.bids[0] in wanted]


async def credit_view(
    conn: Executor, thresholds: ExpertThresholds | None = None
) -> list[dict[str, Any]]:
    """Every pool expert (id order) with the pool's credit (信用分) and the red-flag figures
    across sessions: sessions, deviation rate, favour flags, agreement alpha, flag codes.
    An expert who has scored no session yet shows no figures."""
    sessions = [
        domain_experts.ScoredSession.from_state(s) for s in await db_history.scored_sessions(conn)
    ]
    figures = {r["expert"]: r for r in domain_experts.credit_view(sessions, thresholds)}
    rows = []
    for e in await pool_store.pool_entries(conn):
        row = figures.get(e.user_id, {})
        rows.append(
            {
                "expert": e.user_id,
                "name": e.name,
                "credit": str(e.credit),
                "sessions": row.get("sessions", 0),
                "deviation_rate": row.get("deviation_rate", "n/a"),
                "favour_flags": row.get("favour_flags", 0),
                "agreement_alpha": row.get("agreement_alpha", "n/a"),
                "flags": row.get("flags", []),
            }
        )
    return rows
