"""Red flags on experts across sessions (专家评标行为预警, 一标一评), pure.

The history is one :class:`ScoredSession` per evaluation session that got past its deviation
check (评分偏离): its committee, each bid's company, each expert's total per bid and the
deviations the session flagged. Per expert:

- ``expert.deviation_frequent``: the share of the expert's sessions with a deviation flag
  reaches the upper Tukey fence over every expert's share (and a floor);
- ``expert.favour``: the expert's totals for one company's bids sit above the mean of the rest
  of the committee consistently: an exact one-sided sign test at ``favour_alpha``;
  ``expert.favour_group`` the same for a region or organisation, given a company -> group map;
- ``expert.low_agreement``: Krippendorff's alpha (interval metric) between the expert's totals
  and the rest of the committee's mean, over every bid the expert scored, at or below the
  lower fence over every expert's alpha, and below Krippendorff's 0.667 floor for tentative
  conclusions.

Krippendorff's alpha is the ``krippendorff`` package's (PyPI; numpy inside, no I/O).
:func:`credit_view` gives the per-expert figures the 一标一评 credit view lists.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import krippendorff

from evalroom.domain.redflags.history import Fence, fence, histogram
from evalroom.domain.redflags.signal import Evidence, Signal, figure
from evalroom.domain.redflags.thresholds import numeric_overrides
from evalroom.domain.rules import RuleError

__all__ = [
    "CODES",
    "ExpertThresholds",
    "ScoredSession",
    "agreement_alpha",
    "credit_view",
    "expert_signals",
    "sign_test",
]


CODES = (
    "expert.deviation_frequent",
    "expert.favour",
    "expert.favour_group",
    "expert.low_agreement",
)


@dataclass(frozen=True)
class ExpertThresholds:
    """The expert flags' settings (platform configuration ``red_flags.experts``)."""

    fence_k: float = 1.5
    fence_min_values: int = 20  # experts with enough sessions; fewer: no fence, no flag
    min_sessions: int = 5  # an expert's sessions before its share or alpha is compared
    deviation_min_rate: float = 0.2  # a floor under the fence (a fence of 0 flags anyone)
    favour_min_bids: int = 5  # bids of the company (or group) the expert scored
    favour_alpha: float = 0.05  # one-sided sign test
    agreement_max_alpha: float = 0.667  # Krippendorff's floor for tentative conclusions

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> ExpertThresholds:
        if raw is None:
            return cls()
        made = cls(**numeric_overrides(cls, raw, "expert"))
        if not (math.isfinite(made.fence_k) and made.fence_k > 0) or made.fence_min_values < 4:
            raise RuleError("invalid_config", "fence_k > 0 and fence_min_values ≥ 4")
        if made.min_sessions < 1 or made.favour_min_bids < 1:
            raise RuleError("invalid_config", "min_sessions and favour_min_bids ≥ 1")
        for key in ("deviation_min_rate", "favour_alpha", "agreement_max_alpha"):
            if not 0 < getattr(made, key) <= 1:
                raise RuleError("invalid_config", f"{key} must be in (0, 1]")
        return made

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ScoredSession:
    """One session: ``totals`` {expert: {bid: total}}, ``companies`` {bid: company},
    ``deviations`` [(expert, bid, criterion)]."""

    session: str
    committee: tuple[str, ...]
    companies: Mapping[str, str]
    totals: Mapping[str, Mapping[str, float]]
    deviations: tuple[tuple[str, str, str], ...] = ()

    @classmethod
    def from_state(cls, row: Mapping[str, Any]) -> ScoredSession:
        """From a session's stored state (``db/history.scored_sessions``): the totals are the
        sums of each expert's criterion scores (decimal strings)."""
        totals: dict[str, dict[str, float]] = {}
        for expert, by_bid in (row.get("scores") or {}).items():
            totals[str(expert)] = {
                str(bid): float(sum((_decimal(v) for v in (row_ or {}).values()), Decimal(0)))
                for bid, row_ in (by_bid or {}).items()
            }
        companies = {str(b["bid_id"]): str(b.get("company", "")) for b in row.get("bids") or []}
        deviations = tuple(
            (str(d.get("expert")), str(d.get("bid")), str(d.get("criterion")))
            for d in row.get("deviations") or []
        )
        return cls(
            str(row["session"]), tuple(row.get("committee") or ()), companies, totals, deviations
        )


def _decimal(value: object) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)
    return number if number.is_finite() else Decimal(0)


# --- statistics -----------------------------------------------------------------------------


def sign_test(positive: int, negative: int) -> float:
    """One-sided exact sign test: P(X ≥ positive) for X ~ Binomial(positive + negative, 1/2)
    (ties dropped before, as the test prescribes). 1.0 with no untied pair."""
    n = positive + negative
    if n == 0:
        return 1.0
    return sum(math.comb(n, k) for k in range(positive, n + 1)) / (1 << n)


def agreement_alpha(rows: Sequence[Sequence[float | None]]) -> float | None:
    """Krippendorff's alpha, interval metric, of a reliability matrix (coders × units, None
    missing); None when it is undefined (fewer than two pairable values, or no variation)."""
    data = [[math.nan if v is None else float(v) for v in row] for row in rows]
    pairable = sum(
        1
        for u in range(len(data[0]) if data else 0)
        if sum(not math.isnan(row[u]) for row in data) >= 2
    )
    values = {v for row in data for v in row if not math.isnan(v)}
    if pairable < 2 or len(values) < 2:
        return None
    a = float(krippendorff.alpha(reliability_data=data, level_of_measurement="interval"))
    return a if math.isfinite(a) else None


# --- per expert -----------------------------------------------------------------------------


@dataclass
class _Record:
    sessions: int = 0
    flagged_sessions: int = 0
    deviations: int = 0
    mine: list[float] = dataclasses.field(default_factory=list)
    others: list[float] = dataclasses.field(default_factory=list)
    diffs: dict[str, list[float]] = dataclasses.field(default_factory=lambda: defaultdict(list))


def _records(sessions: Sequence[ScoredSession]) -> dict[str, _Record]:
    records: dict[str, _Record] = defaultdict(_Record)
    for s in sorted(sessions, key=lambda s: s.session):
        flagged: defaultdict[str, int] = defaultdict(int)
        for expert, _bid, _criterion in s.deviations:
            flagged[expert] += 1
        for expert in s.committee:
            r = records[expert]
            r.sessions += 1
            r.deviations += flagged[expert]
            r.flagged_sessions += flagged[expert] > 0
            for bid, total in sorted(s.totals.get(expert, {}).items()):
                rest = [
                    s.totals[o][bid]
                    for o in s.committee
                    if o != expert and bid in s.totals.get(o, {})
                ]
                if not rest:
                    continue
                mean = sum(rest) / len(rest)
                r.mine.append(total)
                r.others.append(mean)
                r.diffs[s.companies.get(bid, "")].append(total - mean)
    return records


def _rate(r: _Record) -> float:
    return r.flagged_sessions / r.sessions if r.sessions else 0.0


def _alpha(r: _Record) -> float | None:
    return agreement_alpha([r.mine, r.others]) if len(r.mine) >= 2 else None


def _fences(
    records: Mapping[str, _Record], t: ExpertThresholds
) -> tuple[Fence | None, Fence | None]:
    seasoned = [r for r in records.values() if r.sessions >= t.min_sessions]
    rates = fence(histogram(_rate(r) for r in seasoned), t.fence_k, t.fence_min_values)
    alphas = [a for a in (_alpha(r) for r in seasoned) if a is not None]
    return rates, fence(histogram(alphas), t.fence_k, t.fence_min_values)


@dataclass(frozen=True)
class _Test:
    """One favour test: an expert, a company or group, the differences, the p-value."""

    code: str
    expert: str
    target: str
    diffs: tuple[float, ...]
    p: float


def _favour_tests(
    expert: str, diffs: Mapping[str, list[float]], t: ExpertThresholds, code: str
) -> list[_Test]:
    out = []
    for target, ds in sorted(diffs.items()):
        if not target or len(ds) < t.favour_min_bids or sum(ds) <= 0:
            continue
        p = sign_test(sum(d > 0 for d in ds), sum(d < 0 for d in ds))
        out.append(_Test(code, expert, target, tuple(ds), p))
    return out


def _holm(tests: Sequence[_Test], alpha: float) -> list[tuple[_Test, float]]:
    """Holm–Bonferroni over every favour test of the run: the tests rejected at family-wise
    level ``alpha``, each with the level it was held to (alpha / (m - rank))."""
    ordered = sorted(tests, key=lambda x: (x.p, x.code, x.expert, x.target))
    m, kept = len(ordered), []
    for rank, test in enumerate(ordered):
        level = alpha / (m - rank)
        if test.p > level:
            break
        kept.append((test, level))
    return kept


def _favour_signal(test: _Test, level: float, m: int, t: ExpertThresholds) -> Signal:
    ds = test.diffs
    pos, neg = sum(d > 0 for d in ds), sum(d < 0 for d in ds)
    mean = sum(ds) / len(ds)
    zh, en = ("投标人", "bidder") if test.code == "expert.favour" else ("地区/单位", "group")
    figures = {
        "bids": str(len(ds)),
        "above": str(pos),
        "below": str(neg),
        "mean_difference": figure(mean),
        "p_value": figure(test.p),
        "holm_level": figure(level),
        "tests": str(m),
    }
    return Signal(
        test.code,
        f"专家 {test.expert} 对{zh} {test.target} 的 {len(ds)} 份投标评分中有 {pos} 份高于"
        f"其他评委均值（平均高 {mean:.4g} 分，符号检验 p = {test.p:.3g}），疑似系统性偏袒。",
        f"Expert {test.expert} scored {pos} of {len(ds)} bids of {en} {test.target} above the"
        f" rest of the committee's mean (by {mean:.4g} on average, sign test"
        f" p = {test.p:.3g}): a possible systematic favour.",
        Evidence((test.expert, test.target), ("scores",), figures),
        {"favour_alpha": figure(t.favour_alpha), "favour_min_bids": str(t.favour_min_bids)},
    )


def expert_signals(
    sessions: Sequence[ScoredSession],
    t: ExpertThresholds | None = None,
    groups: Mapping[str, str] | None = None,
) -> list[Signal]:
    """Every expert signal, experts in id order; ``evidence.bids`` names the expert first (and
    the company or group favoured)."""
    t = t or ExpertThresholds()
    records = _records(sessions)
    rates, alphas = _fences(records, t)
    out: list[Signal] = []
    tests: list[_Test] = []
    for expert, r in sorted(records.items()):
        if rates is not None and r.sessions >= t.min_sessions:
            rate = _rate(r)
            if rate >= rates.upper and rate >= t.deviation_min_rate:
                out.append(
                    Signal(
                        "expert.deviation_frequent",
                        f"专家 {expert} 参加的 {r.sessions} 次评标中有 {r.flagged_sessions} 次被标记"
                        f"评分偏离（{rate:.0%}），超过平台历史的上栅栏 {rates.upper:.4g}。",
                        f"Expert {expert} was flagged for deviation in {r.flagged_sessions} of"
                        f" {r.sessions} sessions ({rate:.0%}), above the platform history's upper"
                        f" fence {rates.upper:.4g}.",
                        Evidence(
                            (expert,),
                            ("deviations",),
                            {
                                "sessions": str(r.sessions),
                                "flagged_sessions": str(r.flagged_sessions),
                                "deviations": str(r.deviations),
                                "rate": figure(rate),
                                **rates.figures("experts"),
                            },
                        ),
                        {
                            "upper_fence": figure(rates.upper),
                            "deviation_min_rate": figure(t.deviation_min_rate),
                            "min_sessions": str(t.min_sessions),
                        },
                    )
                )
        tests += _favour_tests(expert, r.diffs, t, "expert.favour")
        if groups:
            by_group: dict[str, list[float]] = defaultdict(list)
            for company, ds in r.diffs.items():
                if company in groups:
                    by_group[groups[company]].extend(ds)
            tests += _favour_tests(expert, by_group, t, "expert.favour_group")
        if alphas is not None and r.sessions >= t.min_sessions:
            a = _alpha(r)
            if a is not None and a <= alphas.lower and a < t.agreement_max_alpha:
                out.append(
                    Signal(
                        "expert.low_agreement",
                        f"专家 {expert} 与其他评委的一致性（Krippendorff α = {a:.3f}，{len(r.mine)} 份"
                        f"评分）低于平台历史的下栅栏 {alphas.lower:.4g}。",
                        f"Expert {expert} agrees with the rest of the committee at Krippendorff's"
                        f" alpha = {a:.3f} over {len(r.mine)} scores, below the platform history's"
                        f" lower fence {alphas.lower:.4g}.",
                        Evidence(
                            (expert,),
                            ("scores",),
                            {
                                "alpha": figure(a),
                                "scores": str(len(r.mine)),
                                "experts_n": str(alphas.n),
                                "experts_q1": figure(alphas.q1),
                                "experts_q3": figure(alphas.q3),
                                "experts_lower_fence": figure(alphas.lower),
                            },
                        ),
                        {
                            "lower_fence": figure(alphas.lower),
                            "agreement_max_alpha": figure(t.agreement_max_alpha),
                            "min_sessions": str(t.min_sessions),
                        },
                    )
                )
    rejected = _holm(tests, t.favour_alpha)
    out += [_favour_signal(x, level, len(tests), t) for x, level in rejected]
    order = {code: i for i, code in enumerate(CODES)}
    return sorted(out, key=lambda s: (s.evidence.bids[0], order[s.code], s.evidence.bids))


def credit_view(
    sessions: Sequence[ScoredSession],
    t: ExpertThresholds | None = None,
    groups: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Per expert (id order): sessions, deviation rate, favour flags and agreement alpha, and
    the codes of the flags raised — what the 一标一评 credit view lists."""
    t = t or ExpertThresholds()
    records = _records(sessions)
    flags: dict[str, list[str]] = defaultdict(list)
    for s in expert_signals(sessions, t, groups):
        flags[s.evidence.bids[0]].append(s.code)
    rows = []
    for expert, r in sorted(records.items()):
        a = _alpha(r)
        rows.append(
            {
                "expert": expert,
                "sessions": r.sessions,
                "deviation_rate": figure(_rate(r)),
                "favour_flags": sum(c.startswith("expert.favour") for c in flags[expert]),
                "agreement_alpha": figure(a),
                "flags": flags[expert],
            }
        )
    return rows
