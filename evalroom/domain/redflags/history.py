"""Red flags across tenders (跨项目围标预警): fences over the platform's history, pure.

The history is one :class:`HistoryTender` per evaluated lot (a tender's section): the companies
that submitted a bid there (from the signed opening record) and the winner (from the award
notice, 中标通知), or None while undecided. Three flags, each a :class:`Signal`:

- ``history.cobidding``: two companies bid together far more often than pairs usually do;
- ``history.rotation``: a group of companies that bid together and take turns winning;
- ``history.never_wins``: a company that bids very often and has never won.

Thresholds are Tukey fences over the history, as Open Contracting's cardinal-rs computes them
(R025, R038, R048): the first and third quartiles by the Hyndman & Fan type 8 estimator (the
one statrs' ``Data::quantile`` implements, which cardinal-rs calls), the lower fence
``Q1 - k·IQR`` and the upper ``Q3 + k·IQR`` with ``k = 1.5``. A value flags **at or beyond**
its fence, as cardinal-rs's methodology pages state. A fence over fewer than
``fence_min_values`` values is no fence, and no flag is raised from it.

The database computes the aggregates (``evalroom/db/history.py``); :func:`aggregate` computes
the same aggregates from plain tenders, so the flags can be recomputed by anyone from the
history and are tested without a database.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evalroom.domain.redflags.signal import Evidence, Signal, figure
from evalroom.domain.redflags.thresholds import numeric_overrides
from evalroom.domain.rules import RuleError

__all__ = [
    "BidderRecord",
    "Fence",
    "HistoryAggregates",
    "HistoryTender",
    "HistoryThresholds",
    "PairRecord",
    "aggregate",
    "cobidding_signals",
    "fence",
    "histogram",
    "never_wins_signals",
    "quantile",
    "rotation_groups",
    "rotation_signals",
]

# A distribution given as (value, how many times it occurs); plain lists are histograms of 1s.
Histogram = Sequence[tuple[float, int]]


# --- quartiles and fences -------------------------------------------------------------------


def histogram(values: Iterable[float]) -> list[tuple[float, int]]:
    """``values`` as a sorted histogram [(value, count)]."""
    return sorted(Counter(values).items())


def quantile(hist: Histogram, tau: float) -> float:
    """The ``tau`` quantile of the distribution, Hyndman & Fan type 8 (median-unbiased).

    With the n values sorted ``x_1 <= … <= x_n``: ``h = (n + 1/3)·tau + 1/3``; below ``h = 1``
    it is ``x_1``, from ``h = n`` up ``x_n``, else ``x_⌊h⌋ + (h - ⌊h⌋)(x_⌊h⌋+1 - x_⌊h⌋)``.
    ``hist`` is sorted by value; order statistics are read from its running counts, so a
    distribution of millions of integer counts travels as a few rows.
    """
    ordered = sorted((float(v), int(c)) for v, c in hist if c > 0)
    n = sum(c for _, c in ordered)
    if n == 0 or not 0 <= tau <= 1:
        raise ValueError("a quantile needs values and 0 <= tau <= 1")
    h = (n + 1 / 3) * tau + 1 / 3
    low = math.floor(h)
    if low <= 0 or tau == 0:
        return ordered[0][0]
    if low >= n or tau == 1:
        return ordered[-1][0]
    a, b = _order_statistic(ordered, low), _order_statistic(ordered, low + 1)
    return a + (h - low) * (b - a)


def _order_statistic(ordered: Sequence[tuple[float, int]], k: int) -> float:
    """The k-th smallest value (from 1) of a sorted histogram."""
    seen = 0
    for value, count in ordered:
        seen += count
        if seen >= k:
            return value
    return ordered[-1][0]


@dataclass(frozen=True)
class Fence:
    """Tukey's fences over ``n`` values: ``q1 - k·iqr`` and ``q3 + k·iqr``."""

    n: int
    q1: float
    q3: float
    k: float

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @property
    def lower(self) -> float:
        return self.q1 - self.k * self.iqr

    @property
    def upper(self) -> float:
        return self.q3 + self.k * self.iqr

    def figures(self, prefix: str) -> dict[str, str]:
        return {
            f"{prefix}_n": str(self.n),
            f"{prefix}_q1": figure(self.q1),
            f"{prefix}_q3": figure(self.q3),
            f"{prefix}_upper_fence": figure(self.upper),
        }


def fence(hist: Histogram, k: float = 1.5, min_values: int = 20) -> Fence | None:
    """The fences of the distribution, or None when it has fewer than ``min_values`` values."""
    n = sum(int(c) for _, c in hist if c > 0)
    if n < max(min_values, 1):
        return None
    return Fence(n, quantile(hist, 0.25), quantile(hist, 0.75), k)


# --- thresholds -----------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryThresholds:
    """The cross-tender flags' settings (platform configuration ``red_flags.history``)."""

    fence_k: float = 1.5  # Tukey's k: cardinal-rs's 1.5
    fence_min_values: int = 20  # a fence over fewer values is none: no flag
    cobid_min: int = 3  # a pair co-bids at least this often to be flagged, fence or not
    cobid_min_share: float = 0.5  # and in at least this share of the less active one's bids
    rotation_min_tenders: int = 3  # decided lots where two or more members bid together
    rotation_member_share: float = 0.8  # share of those lots the members won
    never_wins_min_bids: int = 5  # bids in decided lots, fence or not

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> HistoryThresholds:
        """Defaults overridden by ``raw``; ``invalid_config`` for anything not understood."""
        if raw is None:
            return cls()
        made = cls(**numeric_overrides(cls, raw, "history"))
        made._check()
        return made

    def _check(self) -> None:
        if not (math.isfinite(self.fence_k) and self.fence_k > 0):
            raise RuleError("invalid_config", "fence_k must be positive")
        if self.fence_min_values < 4:
            raise RuleError("invalid_config", "fence_min_values must be at least 4")
        if self.cobid_min < 2 or self.rotation_min_tenders < 2 or self.never_wins_min_bids < 1:
            raise RuleError(
                "invalid_config", "cobid_min, rotation_min_tenders ≥ 2; never_wins_min_bids ≥ 1"
            )
        for key in ("cobid_min_share", "rotation_member_share"):
            if not 0 < getattr(self, key) <= 1:
                raise RuleError("invalid_config", f"{key} must be in (0, 1]")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --- the history and its aggregates ---------------------------------------------------------


@dataclass(frozen=True)
class HistoryTender:
    """One evaluated lot: ``unit`` names it (``tender/section``)."""

    unit: str
    bidders: frozenset[str]
    winner: str | None = None


@dataclass(frozen=True)
class PairRecord:
    """Two companies (``a < b``): lots bid together; and, over decided lots bid together, how
    many each won."""

    a: str
    b: str
    together: int
    decided: int = 0
    won_a: int = 0
    won_b: int = 0


@dataclass(frozen=True)
class BidderRecord:
    """A company's bids (every lot) and, over decided lots, its bids and wins."""

    bidder: str
    bids: int
    decided_bids: int
    wins: int


@dataclass(frozen=True)
class HistoryAggregates:
    """What the flags read: the pairs above a floor, every bidder, and the histogram of
    ``together`` over every pair that ever co-bid."""

    tenders: int
    pairs: list[PairRecord]
    bidders: list[BidderRecord]
    together_hist: list[tuple[float, int]]


def aggregate(history: Sequence[HistoryTender], pair_floor: int = 1) -> HistoryAggregates:
    """The aggregates of a plain history (what ``db/history.py`` computes in SQL); ``pairs``
    holds the pairs that co-bid at least ``pair_floor`` times."""
    together: Counter[tuple[str, str]] = Counter()
    decided: Counter[tuple[str, str]] = Counter()
    won: Counter[tuple[str, str, str]] = Counter()
    bids: Counter[str] = Counter()
    decided_bids: Counter[str] = Counter()
    wins: Counter[str] = Counter()
    for t in history:
        members = sorted(t.bidders)
        for i, a in enumerate(members):
            bids[a] += 1
            if t.winner is not None:
                decided_bids[a] += 1
            for b in members[i + 1 :]:
                together[(a, b)] += 1
                if t.winner is not None:
                    decided[(a, b)] += 1
                    if t.winner in (a, b):
                        won[(a, b, t.winner)] += 1
        if t.winner is not None and t.winner in t.bidders:
            wins[t.winner] += 1
    pairs = [
        PairRecord(a, b, n, decided[(a, b)], won[(a, b, a)], won[(a, b, b)])
        for (a, b), n in sorted(together.items())
        if n >= pair_floor
    ]
    bidders = [BidderRecord(c, bids[c], decided_bids[c], wins[c]) for c in sorted(bids)]
    return HistoryAggregates(
        len(history),
        pairs,
        bidders,
        histogram(together.values()),
    )


# --- the flags ------------------------------------------------------------------------------


def _bids_of(agg: HistoryAggregates) -> dict[str, BidderRecord]:
    return {b.bidder: b for b in agg.bidders}


def cobidding_signals(agg: HistoryAggregates, t: HistoryThresholds) -> list[Signal]:
    """``history.cobidding``: pairs whose lots together reach the upper fence of that count
    over every pair that ever co-bid, at least ``cobid_min`` lots, and at least
    ``cobid_min_share`` of the less active company's bids."""
    f = fence(agg.together_hist, t.fence_k, t.fence_min_values)
    if f is None:
        return []
    by = _bids_of(agg)
    threshold = {
        "upper_fence": figure(f.upper),
        "fence_k": figure(t.fence_k),
        "cobid_min": str(t.cobid_min),
        "cobid_min_share": figure(t.cobid_min_share),
    }
    out = []
    for p in agg.pairs:
        if not _cobids(p, by, f, t):
            continue
        share = p.together / min(by[p.a].bids, by[p.b].bids)
        figures = {
            "together": str(p.together),
            "bids_a": str(by[p.a].bids),
            "bids_b": str(by[p.b].bids),
            "share": figure(share),
            **f.figures("pairs"),
        }
        pct = f"{share:.0%}"
        out.append(
            Signal(
                "history.cobidding",
                f"{p.a} 与 {p.b} 共同投标 {p.together} 次（较少一方投标的 {pct}），"
                f"超过平台历史的上栅栏 {f.upper:.4g}。",
                f"{p.a} and {p.b} bid together {p.together} times ({pct} of the less active"
                f" one's bids), above the platform history's upper fence {f.upper:.4g}.",
                Evidence((p.a, p.b), ("bidders",), figures),
                threshold,
            )
        )
    return out


def _cobids(p: PairRecord, by: Mapping[str, BidderRecord], f: Fence, t: HistoryThresholds) -> bool:
    """Whether the pair meets the co-bidding criterion (fence, floor and share)."""
    smaller = min(by[p.a].bids, by[p.b].bids) if p.a in by and p.b in by else 0
    if smaller == 0 or p.together < f.upper or p.together < t.cobid_min:
        return False
    return p.together / smaller >= t.cobid_min_share


def rotation_groups(agg: HistoryAggregates, t: HistoryThresholds) -> list[list[str]]:
    """Candidate rotation groups: connected components of the pairs that meet the co-bidding
    criterion (:func:`cobidding_signals`), bid together in at least ``rotation_min_tenders``
    decided lots, and each won at least one of those. Sorted by their smallest member."""
    f = fence(agg.together_hist, t.fence_k, t.fence_min_values)
    if f is None:
        return []
    by = _bids_of(agg)
    links: dict[str, set[str]] = defaultdict(set)
    for p in agg.pairs:
        if not _cobids(p, by, f, t) or p.decided < t.rotation_min_tenders:
            continue
        if not (p.won_a and p.won_b):
            continue
        links[p.a].add(p.b)
        links[p.b].add(p.a)
    groups: list[list[str]] = []
    seen: set[str] = set()
    for start in sorted(links):
        if start in seen:
            continue
        group, todo = set(), [start]
        while todo:
            c = todo.pop()
            if c not in group:
                group.add(c)
                todo.extend(links[c] - group)
        seen |= group
        groups.append(sorted(group))
    return groups


def rotation_signals(
    agg: HistoryAggregates,
    group_lots: Mapping[tuple[str, ...], Sequence[HistoryTender]],
    t: HistoryThresholds,
) -> list[Signal]:
    """``history.rotation``: for each group of :func:`rotation_groups`, ``group_lots`` holds the
    lots where two or more members bid. Flagged when at least ``rotation_min_tenders`` of them
    are decided, members won at least ``rotation_member_share`` of those, and every member won
    at least one (they take turns)."""
    threshold = {
        "rotation_min_tenders": str(t.rotation_min_tenders),
        "rotation_member_share": figure(t.rotation_member_share),
    }
    out = []
    for group in rotation_groups(agg, t):
        members = set(group)
        lots = [
            lot
            for lot in group_lots.get(tuple(group), ())
            if lot.winner is not None and len(lot.bidders & members) >= 2
        ]
        won = Counter(lot.winner for lot in lots if lot.winner in members)
        n, by_members = len(lots), sum(won.values())
        if n < t.rotation_min_tenders or by_members / n < t.rotation_member_share:
            continue
        if any(won[m] == 0 for m in group):
            continue
        share = by_members / n
        turns = "、".join(f"{m}×{won[m]}" for m in group)
        units = sorted(lot.unit for lot in lots)
        figures = {
            "lots": str(n),
            "won_by_members": str(by_members),
            "share": figure(share),
            **{f"wins.{m}": str(won[m]) for m in group},
            "units": ",".join(units[:50]) + (",…" if len(units) > 50 else ""),
        }
        out.append(
            Signal(
                "history.rotation",
                f"{len(group)} 家投标人在 {n} 个已定标项目中共同投标，其中 {by_members} 个由其中"
                f"一家中标（{turns}），疑似轮流中标。",
                f"{len(group)} bidders bid together in {n} decided lots and took {by_members}"
                f" of them in turn ({', '.join(f'{m}×{won[m]}' for m in group)}):"
                " a possible bid rotation.",
                Evidence(tuple(group), ("bidders", "winner"), figures),
                threshold,
            )
        )
    return out


def never_wins_signals(agg: HistoryAggregates, t: HistoryThresholds) -> list[Signal]:
    """``history.never_wins``: a company with no win whose bids in decided lots reach the upper
    fence of that count over every company that bid in a decided lot, and at least
    ``never_wins_min_bids``."""
    active = [b for b in agg.bidders if b.decided_bids > 0]
    f = fence(histogram(b.decided_bids for b in active), t.fence_k, t.fence_min_values)
    if f is None:
        return []
    threshold = {
        "upper_fence": figure(f.upper),
        "fence_k": figure(t.fence_k),
        "never_wins_min_bids": str(t.never_wins_min_bids),
    }
    out = []
    for b in active:
        if b.wins or b.decided_bids < f.upper or b.decided_bids < t.never_wins_min_bids:
            continue
        figures = {"decided_bids": str(b.decided_bids), "wins": "0", **f.figures("bidders")}
        out.append(
            Signal(
                "history.never_wins",
                f"{b.bidder} 在 {b.decided_bids} 个已定标项目中投标，从未中标；投标次数超过"
                f"平台历史的上栅栏 {f.upper:.4g}。",
                f"{b.bidder} bid in {b.decided_bids} decided lots and never won; that many"
                f" bids is above the platform history's upper fence {f.upper:.4g}.",
                Evidence((b.bidder,), ("bidders", "winner"), figures),
                threshold,
            )
        )
    return out
