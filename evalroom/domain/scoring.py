"""A tender's scoring method as data, and the pure evaluation of one section (评标办法 · 评分).

The tender documents publish how bids are scored; here that is a :class:`ScoringMethod`, built
from and written to plain JSON (``ScoringMethod.from_dict`` / ``.to_dict`` round-trip), never
code. :func:`evaluate` applies it to the read-out figures (唱标) and the experts' sheets and
returns a :class:`Ranking` carrying every intermediate figure, so a verifier can re-run it and
a report can print it. :func:`find_deviations` is the deviation check (评分偏离).

Arithmetic. Intermediates are exact (``fractions.Fraction`` of the ``Decimal`` inputs; never
float); only the roundings a tender publishes happen, all ROUND_HALF_UP: the base price to
``base.decimals`` (default 2), the deviation to 2 decimals in percent or 4 as a ratio, and
price scores, aggregated criterion scores and totals to 2 decimals. The price score is taken
from the rounded base and the rounded deviation, as published score tables do. In JSON every
decimal is a string (``"0.97"``); floats are refused.

A method, as JSON::

    {"kind": "comprehensive",
     "criteria": [
       {"id": "qualification", "name": "资格评审", "kind": "pass_fail", "max_points": null},
       {"id": "technical", "name": "施工组织设计", "kind": "expert", "max_points": "30"},
       {"id": "price", "name": "投标报价", "kind": "price", "max_points": "60"}],
     "price_rule": {
       "base": {"trim": {"count": 1, "from_bids": 5}, "coefficient": "0.97",
                "floating_point": {"low": "0", "high": "3"}, "decimals": 2},
       "deviation": "percent",
       "above": [{"up_to": null, "points_per_percent": "1"}],
       "below": [{"up_to": "8", "points_per_percent": "1"},
                 {"up_to": null, "points_per_percent": "4"}]},
     "aggregation": {"level": "criterion", "drop_high_low_from": 5},
     "pass_fail": "majority",
     "arithmetic_error_penalty": "2",
     "recommend": 3}

- ``kind``: ``comprehensive`` (综合评估法) or ``lowest_evaluated_price`` (经评审的最低投标价法:
  only ``pass_fail`` criteria, ``price_rule`` null, bids ranked by price + adjustment).
- criterion ``kind``: ``expert`` (scored by each expert, 0..max_points), ``price`` (at most
  one; its ``max_points`` are the price score's full points), ``pass_fail`` (初步评审).
- ``base`` (评标基准价): mean of the valid prices (bids passing every pass/fail criterion);
  ``trim`` drops the ``count`` highest and ``count`` lowest when at least ``from_bids`` bids are
  valid (null: never); times ``coefficient`` (下浮系数); times ``1 - fp/100`` where ``fp`` is the
  floating point (浮动点, percent) drawn at the opening, which must lie in ``[low, high]``.
- ``above``/``below``: deduction bands (分段扣分). Each band takes ``points_per_percent`` for every
  1% of deviation between the previous band's ``up_to`` (or 0) and its own (null: no end; the
  last band must have none). Deviation is continuous, so one band is "E per 1%, linear between
  whole percents" (内插法). The highway form (100 − dev×100×E1 above, 100 + dev×100×E2 below) is
  one band each side with ``"deviation": "ratio"`` and max_points 100. Scores never go below 0.
- ``aggregation``: ``level`` ``criterion`` (each criterion = mean of the experts' scores) or
  ``total`` (the experts' part = mean of each expert's total over the expert criteria); the
  single highest and lowest are dropped when there are at least ``drop_high_low_from`` experts
  (null: never). ``pass_fail``: ``majority`` (more than half vote pass) or ``unanimity``.
- total = aggregated expert scores + price score − errors × ``arithmetic_error_penalty``,
  floored at 0; ranked by total descending, then lower price, then bid id; the first
  ``recommend`` are the recommended candidates (中标候选人).

A bid: ``{"bid_id": "B1", "price": "9650000.00", "arithmetic_errors": 0, "adjustment": "0"}``.
A sheet: ``{"expert_id": "E1", "scores": {"B1": {"technical": "26.5"}},
"verdicts": {"B1": {"qualification": true}}}``. Every expert gives a verdict on every
(bid, pass/fail criterion) and a score on every (bid passing the review, expert criterion).

Further rules, each optional and left out of ``to_dict`` while at its default (so older
methods print unchanged); ``docs/methods.md`` works each one through with figures:

- ``control_price`` (最高投标限价 and an optional floor): bids above it are rejected before
  the review and left out of the base price; bids below the floor are flagged.
- criterion ``scale`` (a range, steps or fixed values), ``scored_by: "chair"`` (only the chair
  scores it; ``evaluate(…, chair=…)``), ``entry: "deduction"`` (experts enter the points taken
  from the maximum); criterion kind ``deduction`` with ``deduction: "majority"|"mean"`` (扣分项).
- ``penalty_from: "price_score"``: arithmetic error penalties come off the price score (≥ 0).
- ``vote_rule``: a vote threshold for the pass/fail criteria (≥ 2/3, ≥ 60 % rounded as stated,
  or ``agreement``: the review cannot close while verdicts differ).
- ``price_rule.formula``: ``deviation`` (the bands above), ``base_over_price`` (full × base /
  price, e.g. with ``base.of: "lowest"``: 低价优先) or ``external`` (fed in per bid as
  ``price_score``); ``base.floating_point`` may list the ``choices`` drawn at the opening.
- ``evaluate(…, corrections=[…])`` applies corrections after a 复核 on top of the record.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum, StrEnum
from fractions import Fraction
from typing import Any, TypeVar

from evalroom.domain.corrections import (
    Correction,
    CorrectionKind,
    base_price_correction,
    correct_scores,
)
from evalroom.domain.method_rules import (
    BidStanding,
    ControlPrice,
    FloatingPointSet,
    Outcome,
    ScoreScale,
    Standing,
    VoteKind,
    VoteRule,
)
from evalroom.domain.rules import RuleError, field_at, read_decimal

__all__ = [
    "AggregationLevel",
    "Aggregation",
    "Band",
    "BasePrice",
    "BasePriceRule",
    "BidFigures",
    "BidResult",
    "BaseOf",
    "Criterion",
    "CriterionKind",
    "CriterionScore",
    "DeductionRule",
    "DeductionScore",
    "Entry",
    "Deviation",
    "DeviationUnit",
    "ExpertSheet",
    "FloatingPointRange",
    "MethodKind",
    "PassFailRule",
    "PenaltyFrom",
    "PriceFormula",
    "PriceRule",
    "Ranking",
    "ScoredBy",
    "ScoringMethod",
    "Trim",
    "Verdict",
    "evaluate",
    "find_deviations",
    "round_half_up",
]

ZERO = Decimal(0)


class MethodKind(StrEnum):
    COMPREHENSIVE = "comprehensive"  # 综合评估法
    LOWEST_EVALUATED_PRICE = "lowest_evaluated_price"  # 经评审的最低投标价法


class CriterionKind(StrEnum):
    EXPERT = "expert"  # 专家评分项
    PRICE = "price"  # 价格分
    PASS_FAIL = "pass_fail"  # 初步评审项 (合格/不合格)
    DEDUCTION = "deduction"  # 扣分项: points taken off the total


class ScoredBy(StrEnum):
    EXPERTS = "experts"  # every expert scores it; aggregated as the method says
    CHAIR = "chair"  # only the chair (组长) scores it; the chair's figure is the score


class Entry(StrEnum):
    SCORE = "score"  # the expert enters the points given
    DEDUCTION = "deduction"  # the expert enters the points taken from the maximum


class DeductionRule(StrEnum):
    MAJORITY = "majority"  # the item's points are deducted when more experts deduct than not
    MEAN = "mean"  # each expert enters the points to deduct (违章); their mean is deducted


class BaseOf(StrEnum):
    MEAN = "mean"  # mean of the valid prices (trimmed as stated)
    LOWEST = "lowest"  # the lowest valid price (低价优先法)


class PriceFormula(StrEnum):
    DEVIATION = "deviation"  # full points less the deduction bands of the deviation
    BASE_OVER_PRICE = "base_over_price"  # full points × base / price, at most full points
    EXTERNAL = "external"  # computed elsewhere (e.g. 工程量清单 scoring), fed in per bid


class PenaltyFrom(StrEnum):
    TOTAL = "total"  # arithmetic error penalties come off the total
    PRICE_SCORE = "price_score"  # they come off the price score, which stops at 0


class DeviationUnit(StrEnum):
    PERCENT = "percent"  # 偏差率 in percent, 2 decimals
    RATIO = "ratio"  # 偏差率 as a ratio, 4 decimals


class AggregationLevel(StrEnum):
    CRITERION = "criterion"  # mean per criterion
    TOTAL = "total"  # mean of expert totals


class PassFailRule(StrEnum):
    MAJORITY = "majority"  # 少数服从多数
    UNANIMITY = "unanimity"  # 全体一致


# --- exact arithmetic -----------------------------------------------------------------------


def round_half_up(value: Fraction, places: int) -> Decimal:
    """Round an exact value to ``places`` decimals, halves away from zero (四舍五入)."""
    units = math.floor(abs(value) * 10**places + Fraction(1, 2))
    sign = "-" if value < 0 and units else ""
    return Decimal(f"{sign}{units}E-{places}")


def _mean(values: Sequence[Fraction]) -> Fraction:
    return sum(values, Fraction(0)) / len(values)


def _exact_sum(values: Sequence[Decimal]) -> Decimal:
    """The sum of decimals, exact whatever the caller's decimal context (no rounding)."""
    places = [-e for v in values if isinstance(e := v.as_tuple().exponent, int) and e < 0]
    return round_half_up(sum((Fraction(v) for v in values), Fraction(0)), max(places, default=0))


# --- reading plain JSON ---------------------------------------------------------------------

_E = TypeVar("_E", bound=Enum)
_V = TypeVar("_V")


def _obj(value: object, where: str, code: str = "invalid_rule") -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RuleError(code, f"{where} must be an object")
    return value


def _fields(value: object, where: str, allowed: set[str], code: str) -> Mapping[str, Any]:
    d = _obj(value, where, code)
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise RuleError(code, f"{where}: unknown field(s) {', '.join(unknown)}")
    return d


def _opt_dec(value: object, where: str) -> Decimal | None:
    return None if value is None else read_decimal(value, where)


def _int(value: object, where: str, code: str = "invalid_rule") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RuleError(code, f"{where} must be an integer")
    return value


def _str(value: object, where: str, code: str) -> str:
    if not isinstance(value, str) or not value:
        raise RuleError(code, f"{where} must be a non-empty string")
    return value


def _enum(cls: type[_E], value: object, where: str) -> _E:
    try:
        return cls(value)
    except ValueError:
        options = ", ".join(str(m.value) for m in cls)
        raise RuleError("invalid_rule", f"{where} must be one of {options}") from None


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise RuleError("invalid_rule", f"{where} must be a list")
    return list(value)


_OMIT = {"omit_default": True}  # field metadata: left out of JSON while at its default


def _plain(value: Any) -> Any:
    """Dataclasses, enums and decimals as plain JSON-able values (decimals as strings).

    Fields marked ``_OMIT`` are left out while they hold their default, so a method written
    before the field existed prints exactly as it was read.
    """
    if isinstance(value, ControlPrice | ScoreScale | VoteRule | FloatingPointSet | Correction):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not (f.metadata.get("omit_default") and getattr(value, f.name) == f.default)
        }
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _invalid(message: str, field: str | None = None) -> RuleError:
    return RuleError("invalid_rule", message, field)


# --- the price rule -------------------------------------------------------------------------


@dataclass(frozen=True)
class Trim:
    """去掉最高最低: drop the ``count`` highest and lowest prices from ``from_bids`` bids up."""

    count: int
    from_bids: int

    def __post_init__(self) -> None:
        if self.count < 1:
            raise _invalid("trim.count must be at least 1", "count")
        if self.from_bids < 2 * self.count + 1:
            raise _invalid(
                "trim.from_bids must leave at least one price after trimming", "from_bids"
            )


@dataclass(frozen=True)
class FloatingPointRange:
    """浮动点: the range, in percent, the floating point drawn at the opening must lie in."""

    low: Decimal
    high: Decimal

    def __post_init__(self) -> None:
        if not -100 < self.low <= self.high < 100:
            raise _invalid("floating_point needs -100 < low <= high < 100 (percent)")

    def check(self, floating_point: Decimal | None) -> Decimal:
        if floating_point is None:
            raise RuleError("floating_point_missing", "this method needs the drawn floating point")
        if not floating_point.is_finite() or not self.low <= floating_point <= self.high:
            raise RuleError(
                "floating_point_out_of_range",
                f"floating point {floating_point} is outside [{self.low}, {self.high}]",
            )
        return floating_point


@dataclass(frozen=True)
class BasePrice:
    """评标基准价 and how it was reached: every figure a report prints."""

    prices: Mapping[str, Decimal]  # valid prices by bid id, ascending by (price, id)
    dropped_low: tuple[str, ...]
    dropped_high: tuple[str, ...]
    mean: Decimal  # mean of the kept prices, shown to 4 decimals (the base uses it exactly)
    coefficient: Decimal
    floating_point: Decimal | None
    value: Decimal  # the base price scored against (the corrected one after a 复核)
    computed: Decimal | None = None  # the computed base, when a correction replaced it
    correction: Correction | None = None


@dataclass(frozen=True)
class BasePriceRule:
    """How the base price (评标基准价) is formed from the valid prices."""

    trim: Trim | None = None
    coefficient: Decimal = Decimal(1)  # 下浮系数
    floating_point: FloatingPointRange | FloatingPointSet | None = None  # 浮动点
    decimals: int = 2
    of: BaseOf = field(default=BaseOf.MEAN, metadata=_OMIT)

    def __post_init__(self) -> None:
        if not 0 < self.coefficient <= 1:
            raise _invalid("base.coefficient must be in (0, 1]", "coefficient")
        if not 0 <= self.decimals <= 6:
            raise _invalid("base.decimals must be between 0 and 6", "decimals")
        if self.of is BaseOf.LOWEST and self.trim is not None:
            raise _invalid("a base price of the lowest price takes no trim")

    def check_floating_point(self, floating_point: Decimal | None) -> Decimal | None:
        if self.floating_point is None:
            if floating_point is not None:
                raise RuleError("floating_point_unexpected", "this method has no floating point")
            return None
        return self.floating_point.check(floating_point)

    def compute(
        self, prices: Mapping[str, Decimal], floating_point: Decimal | None = None
    ) -> BasePrice:
        """The base price of ``prices`` (bid id → valid price)."""
        fp = self.check_floating_point(floating_point)
        if not prices:
            raise RuleError("no_valid_bids", "a base price needs at least one valid price")
        order = sorted(prices, key=lambda bid: (prices[bid], bid))
        n = self.trim.count if self.trim and len(order) >= self.trim.from_bids else 0
        kept = order[n : len(order) - n] if self.of is BaseOf.MEAN else order[:1]
        mean = _mean([Fraction(prices[bid]) for bid in kept])
        value = mean * Fraction(self.coefficient) * (1 - Fraction(fp or 0) / 100)
        return BasePrice(
            prices={bid: prices[bid] for bid in order},
            dropped_low=tuple(order[:n]),
            dropped_high=tuple(order[len(order) - n :]),
            mean=round_half_up(mean, 4),
            coefficient=self.coefficient,
            floating_point=fp,
            value=round_half_up(value, self.decimals),
        )


@dataclass(frozen=True)
class Band:
    """One band of a price deduction (分段扣分): points off per 1% of deviation up to ``up_to``%."""

    up_to: Decimal | None
    points_per_percent: Decimal

    def __post_init__(self) -> None:
        if self.points_per_percent < 0:
            raise _invalid("points_per_percent must not be negative", "points_per_percent")
        if self.up_to is not None and self.up_to <= 0:
            raise _invalid("a band's up_to must be a positive percent", "up_to")


def _check_bands(bands: tuple[Band, ...], side: str) -> None:
    if not bands:
        raise _invalid(f"price_rule.{side} needs at least one band", side)
    if bands[-1].up_to is not None:
        raise _invalid(f"the last band of price_rule.{side} must be open (up_to null)", side)
    ends = [b.up_to for b in bands[:-1] if b.up_to is not None]
    if len(ends) != len(bands) - 1 or any(a >= b for a, b in zip(ends, ends[1:], strict=False)):
        raise _invalid(f"the bands of price_rule.{side} must end at increasing percents", side)


def _deduction(bands: tuple[Band, ...], percent: Fraction) -> Fraction:
    """Points lost for a deviation of ``percent`` (a magnitude) through consecutive bands."""
    lost, lower = Fraction(0), Fraction(0)
    for band in bands:
        upper = None if band.up_to is None else Fraction(band.up_to)
        part = (percent if upper is None else min(percent, upper)) - lower
        if part <= 0:
            break
        lost += part * Fraction(band.points_per_percent)
        lower = upper if upper is not None else lower
    return lost


@dataclass(frozen=True)
class PriceRule:
    """价格分: base price, deviation and the deduction bands above and below the base."""

    base: BasePriceRule
    above: tuple[Band, ...]
    below: tuple[Band, ...]
    deviation: DeviationUnit = DeviationUnit.PERCENT
    formula: PriceFormula = field(default=PriceFormula.DEVIATION, metadata=_OMIT)

    def __post_init__(self) -> None:
        if self.formula is PriceFormula.DEVIATION:
            _check_bands(self.above, "above")
            _check_bands(self.below, "below")
        elif self.above or self.below:
            raise _invalid(f"a {self.formula.value} price formula takes no deduction bands")

    def ratio_score(self, price: Decimal, base: Decimal, full_points: Decimal) -> Decimal:
        """低价优先法: full points × base / price, never above full points; 2 dp."""
        points = Fraction(full_points) * Fraction(base) / Fraction(price)
        return round_half_up(min(points, Fraction(full_points)), 2)

    def deviation_of(self, price: Decimal, base: Decimal) -> Decimal:
        """偏差率 (price − base) / base, rounded as published: percent 2 dp or ratio 4 dp."""
        ratio = (Fraction(price) - Fraction(base)) / Fraction(base)
        if self.deviation is DeviationUnit.RATIO:
            return round_half_up(ratio, 4)
        return round_half_up(ratio * 100, 2)

    def score(self, deviation: Decimal, full_points: Decimal) -> Decimal:
        """Price score for a published deviation: full points less the bands, never below 0."""
        percent = Fraction(deviation) * (100 if self.deviation is DeviationUnit.RATIO else 1)
        bands = self.above if percent > 0 else self.below
        points = Fraction(full_points) - _deduction(bands, abs(percent))
        return round_half_up(max(points, Fraction(0)), 2)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PriceRule:
        keys = {"base", "deviation", "above", "below", "formula"}
        d = _fields(d, "price_rule", keys, "invalid_rule")
        formula = _enum(PriceFormula, d.get("formula", "deviation"), "price_rule.formula")
        bands: list[Any] | None = [] if formula is not PriceFormula.DEVIATION else None
        return cls(
            base=_at("base", lambda: _base_rule_from_dict(d.get("base", {}))),
            deviation=_enum(DeviationUnit, d.get("deviation", "percent"), "price_rule.deviation"),
            above=_at("above", lambda: _bands_from_list(d.get("above", bands), "price_rule.above")),
            below=_at("below", lambda: _bands_from_list(d.get("below", bands), "price_rule.below")),
            formula=formula,
        )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = _plain(self)
        return d


def _base_rule_from_dict(value: object) -> BasePriceRule:
    keys = {"trim", "coefficient", "floating_point", "decimals", "of"}
    d = _fields(value, "price_rule.base", keys, "invalid_rule")
    trim, fp = d.get("trim"), d.get("floating_point")
    if trim is not None:
        t = _fields(trim, "base.trim", {"count", "from_bids"}, "invalid_rule")
        with field_at("trim"):
            trim = Trim(
                _at("count", lambda: _int(t.get("count"), "trim.count")),
                _at("from_bids", lambda: _int(t.get("from_bids"), "trim.from_bids")),
            )
    if isinstance(fp, Mapping) and "choices" in fp:
        f = _fields(fp, "base.floating_point", {"choices"}, "invalid_rule")
        choices = _list(f.get("choices"), "base.floating_point.choices")
        fp = FloatingPointSet(tuple(read_decimal(c, "floating_point.choices[]") for c in choices))
    elif fp is not None:
        f = _fields(fp, "base.floating_point", {"low", "high"}, "invalid_rule")
        fp = FloatingPointRange(
            read_decimal(f.get("low"), "low"), read_decimal(f.get("high"), "high")
        )
    return BasePriceRule(
        trim=trim,
        coefficient=_at(
            "coefficient", lambda: read_decimal(d.get("coefficient", "1"), "base.coefficient")
        ),
        floating_point=fp,
        decimals=_int(d.get("decimals", 2), "base.decimals"),
        of=_enum(BaseOf, d.get("of", "mean"), "base.of"),
    )


def _bands_from_list(value: object, where: str) -> tuple[Band, ...]:
    bands = []
    for i, item in enumerate(_list(value, where)):
        with field_at(f"[{i}]"):
            b = _fields(item, f"{where}[{i}]", {"up_to", "points_per_percent"}, "invalid_rule")
            with field_at("points_per_percent"):
                per = read_decimal(b.get("points_per_percent"), f"{where}[{i}].points_per_percent")
            with field_at("up_to"):
                up_to = _opt_dec(b.get("up_to"), f"{where}[{i}].up_to")
            bands.append(Band(up_to, per))
    return tuple(bands)


# --- the method -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    """评审因素: one line of the scoring table."""

    id: str
    name: str
    kind: CriterionKind
    max_points: Decimal | None = None
    scale: ScoreScale | None = field(default=None, metadata=_OMIT)  # allowed entries
    scored_by: ScoredBy = field(default=ScoredBy.EXPERTS, metadata=_OMIT)
    entry: Entry = field(default=Entry.SCORE, metadata=_OMIT)
    deduction: DeductionRule | None = field(default=None, metadata=_OMIT)  # deduction items

    def __post_init__(self) -> None:
        if not self.id:
            raise _invalid("a criterion needs an id")
        if self.kind is CriterionKind.PASS_FAIL and self.max_points is not None:
            raise _invalid(f"pass/fail criterion {self.id} takes no max_points", "max_points")
        if self.kind is not CriterionKind.PASS_FAIL and not (self.max_points or 0) > 0:
            raise _invalid(f"criterion {self.id} needs positive max_points", "max_points")
        scored = self.kind in (CriterionKind.EXPERT, CriterionKind.DEDUCTION)
        if not scored and (self.scale is not None or self.scored_by is not ScoredBy.EXPERTS):
            raise _invalid(
                f"criterion {self.id}: only scored criteria take a scale or scorer", "scale"
            )
        if self.entry is not Entry.SCORE and self.kind is not CriterionKind.EXPERT:
            raise _invalid(
                f"criterion {self.id}: only expert criteria take entry by deduction", "entry"
            )
        if (self.kind is CriterionKind.DEDUCTION) != (self.deduction is not None):
            raise _invalid(
                f"criterion {self.id}: a deduction item and its rule go together", "deduction"
            )
        if self.scale is not None and self.scale.top != self.max_points:
            raise _invalid(
                f"criterion {self.id}: the scale's top must equal max_points", "max_points"
            )
        if self.deduction is DeductionRule.MAJORITY and self.scale is not None:
            raise _invalid(f"criterion {self.id}: a majority deduction is all or nothing", "scale")

    @property
    def allowed(self) -> ScoreScale:
        """The figures an expert may enter: the scale, 0 or max_points for a majority
        deduction, otherwise anything from 0 to max_points."""
        assert self.max_points is not None
        if self.scale is not None:
            return self.scale
        if self.deduction is DeductionRule.MAJORITY:
            return ScoreScale(values=(ZERO, self.max_points))
        return ScoreScale(low=ZERO, high=self.max_points)


@dataclass(frozen=True)
class Aggregation:
    """How the experts' scores become one figure (专家评分汇总)."""

    level: AggregationLevel = AggregationLevel.CRITERION
    drop_high_low_from: int | None = 5  # 去掉一个最高分和一个最低分, from this many experts

    def __post_init__(self) -> None:
        if self.drop_high_low_from is not None and self.drop_high_low_from < 3:
            raise _invalid("aggregation.drop_high_low_from must be at least 3")

    def drops(self, experts: int) -> bool:
        return self.drop_high_low_from is not None and experts >= self.drop_high_low_from


@dataclass(frozen=True)
class ScoringMethod:
    """评标办法: the whole scoring method of one section, as published."""

    kind: MethodKind
    criteria: tuple[Criterion, ...]
    price_rule: PriceRule | None = None
    aggregation: Aggregation = field(default_factory=Aggregation)
    pass_fail: PassFailRule = PassFailRule.MAJORITY
    arithmetic_error_penalty: Decimal = ZERO
    recommend: int = 3
    penalty_from: PenaltyFrom = field(default=PenaltyFrom.TOTAL, metadata=_OMIT)
    control_price: ControlPrice | None = field(default=None, metadata=_OMIT)
    vote_rule: VoteRule | None = field(default=None, metadata=_OMIT)  # overrides pass_fail

    def __post_init__(self) -> None:
        ids = [c.id for c in self.criteria]
        if len(set(ids)) != len(ids):
            raise _invalid("criterion ids must be unique", "criteria")
        if self.recommend < 1 or self.arithmetic_error_penalty < 0:
            raise _invalid("recommend must be at least 1 and the penalty not negative", "recommend")
        if self.vote_rule is not None and self.pass_fail is not PassFailRule.MAJORITY:
            raise _invalid("state the vote as vote_rule or as pass_fail, not both")
        if self.penalty_from is PenaltyFrom.PRICE_SCORE and self.price_rule is None:
            raise _invalid("penalties from the price score need a price criterion")
        if self.kind is MethodKind.LOWEST_EVALUATED_PRICE:
            self._check_lowest_price()
        elif len(self.of_kind(CriterionKind.PRICE)) > 1:
            raise _invalid("a method has at most one price criterion", "criteria")
        elif bool(self.of_kind(CriterionKind.PRICE)) != (self.price_rule is not None):
            raise _invalid("a price criterion and a price_rule go together", "price_rule")

    @property
    def votes(self) -> VoteRule:
        """The rule deciding each pass/fail criterion (``vote_rule``, else ``pass_fail``)."""
        if self.vote_rule is not None:
            return self.vote_rule
        return VoteRule(VoteKind(self.pass_fail.value))

    def _check_lowest_price(self) -> None:
        if any(c.kind is not CriterionKind.PASS_FAIL for c in self.criteria):
            raise _invalid("the lowest evaluated price method has only pass/fail criteria")
        if self.price_rule is not None or self.arithmetic_error_penalty:
            raise _invalid("the lowest evaluated price method has no price rule or penalty")

    def of_kind(self, kind: CriterionKind) -> tuple[Criterion, ...]:
        return tuple(c for c in self.criteria if c.kind is kind)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ScoringMethod:
        keys = {f.name for f in dataclasses.fields(cls)}
        d = _fields(d, "method", keys, "invalid_rule")
        agg = _fields(
            d.get("aggregation", {}), "aggregation", {"level", "drop_high_low_from"}, "invalid_rule"
        )
        drop = agg.get("drop_high_low_from", 5)
        rule, control, vote = d.get("price_rule"), d.get("control_price"), d.get("vote_rule")
        return cls(
            kind=_at("kind", lambda: _enum(MethodKind, d.get("kind"), "kind")),
            criteria=_at("criteria", lambda: _criteria(d.get("criteria"))),
            price_rule=None
            if rule is None
            else _at("price_rule", lambda: PriceRule.from_dict(_obj(rule, "price_rule"))),
            aggregation=Aggregation(
                level=_enum(AggregationLevel, agg.get("level", "criterion"), "aggregation.level"),
                drop_high_low_from=None if drop is None else _int(drop, "drop_high_low_from"),
            ),
            pass_fail=_enum(PassFailRule, d.get("pass_fail", "majority"), "pass_fail"),
            arithmetic_error_penalty=read_decimal(
                d.get("arithmetic_error_penalty", "0"), "penalty"
            ),
            recommend=_at("recommend", lambda: _int(d.get("recommend", 3), "recommend")),
            penalty_from=_enum(PenaltyFrom, d.get("penalty_from", "total"), "penalty_from"),
            control_price=None
            if control is None
            else _at("control_price", lambda: ControlPrice.from_dict(control)),
            vote_rule=None if vote is None else VoteRule.from_dict(vote),
        )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = _plain(self)
        return d


def _at(field: str, read: Callable[[], _V]) -> _V:
    """``read()``, its refusals naming ``field`` (under any field they name themselves)."""
    with field_at(field):
        return read()


def _criteria(value: object) -> tuple[Criterion, ...]:
    criteria = []
    for i, c in enumerate(_list(value, "criteria")):
        with field_at(f"[{i}]"):
            criteria.append(_criterion_from_dict(c))
    return tuple(criteria)


def _criterion_from_dict(value: object) -> Criterion:
    keys = {"id", "name", "kind", "max_points", "scale", "scored_by", "entry", "deduction"}
    c = _fields(value, "criterion", keys, "invalid_rule")
    scale, deduction = c.get("scale"), c.get("deduction")
    return Criterion(
        id=_at("id", lambda: _str(c.get("id"), "criterion.id", "invalid_rule")),
        name=_at("name", lambda: _str(c.get("name"), "criterion.name", "invalid_rule")),
        kind=_at("kind", lambda: _enum(CriterionKind, c.get("kind"), "criterion.kind")),
        max_points=_at("max_points", lambda: _opt_dec(c.get("max_points"), "max_points")),
        scale=None if scale is None else _at("scale", lambda: ScoreScale.from_dict(scale)),
        scored_by=_enum(ScoredBy, c.get("scored_by", "experts"), "criterion.scored_by"),
        entry=_enum(Entry, c.get("entry", "score"), "criterion.entry"),
        deduction=None
        if deduction is None
        else _enum(DeductionRule, deduction, "criterion.deduction"),
    )


# --- the inputs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BidFigures:
    """One bid's figures as read out (唱标) and found in review."""

    bid_id: str
    price: Decimal  # 投标报价
    arithmetic_errors: int = 0  # 算术错误 found in the bid form
    adjustment: Decimal = ZERO  # 价格调整 (lowest evaluated price method)
    price_score: Decimal | None = field(default=None, metadata=_OMIT)  # computed elsewhere

    def __post_init__(self) -> None:
        finite = self.price.is_finite() and self.adjustment.is_finite()
        if self.price_score is not None and not self.price_score.is_finite():
            raise RuleError("invalid_bid", f"bid {self.bid_id!r}: the price score must be finite")
        if not (self.bid_id and finite and self.price > 0 and self.arithmetic_errors >= 0):
            raise RuleError("invalid_bid", f"bid {self.bid_id!r} needs an id and a positive price")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BidFigures:
        keys = {"bid_id", "price", "arithmetic_errors", "adjustment", "price_score"}
        d = _fields(d, "bid", keys, "invalid_bid")
        score = d.get("price_score")
        return cls(
            bid_id=_str(d.get("bid_id"), "bid_id", "invalid_bid"),
            price=read_decimal(d.get("price"), "price", "invalid_bid"),
            arithmetic_errors=_int(
                d.get("arithmetic_errors", 0), "arithmetic_errors", "invalid_bid"
            ),
            adjustment=read_decimal(d.get("adjustment", "0"), "adjustment", "invalid_bid"),
            price_score=None
            if score is None
            else read_decimal(score, "price_score", "invalid_bid"),
        )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = _plain(self)
        return d


@dataclass(frozen=True)
class ExpertSheet:
    """评分表: one expert's scores and pass/fail verdicts, by bid id then criterion id."""

    expert_id: str
    scores: Mapping[str, Mapping[str, Decimal]] = field(default_factory=dict)
    verdicts: Mapping[str, Mapping[str, bool]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ExpertSheet:
        d = _fields(d, "sheet", {"expert_id", "scores", "verdicts"}, "invalid_sheet")
        expert = _str(d.get("expert_id"), "expert_id", "invalid_sheet")
        scores: dict[str, dict[str, Decimal]] = {}
        verdicts: dict[str, dict[str, bool]] = {}
        for bid, row in _obj(d.get("scores", {}), "scores", "invalid_sheet").items():
            row = _obj(row, f"scores.{bid}", "invalid_sheet")
            scores[bid] = {
                c: read_decimal(v, f"score {bid}/{c}", "invalid_sheet") for c, v in row.items()
            }
        for bid, row in _obj(d.get("verdicts", {}), "verdicts", "invalid_sheet").items():
            row = _obj(row, f"verdicts.{bid}", "invalid_sheet")
            if not all(isinstance(v, bool) for v in row.values()):
                raise RuleError("invalid_sheet", f"verdicts of {bid} must be true or false")
            verdicts[bid] = dict(row)
        return cls(expert, scores, verdicts)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = _plain(self)
        return d


# --- the result -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """初步评审 outcome of one pass/fail criterion for one bid."""

    criterion_id: str
    passes: int
    fails: int
    passed: bool


@dataclass(frozen=True)
class CriterionScore:
    """详细评审 figures of one expert criterion for one bid."""

    criterion_id: str
    expert_scores: Mapping[str, Decimal]  # by expert id (the chair alone on a chair-only item)
    dropped: tuple[str, ...]  # experts whose score was dropped: (lowest, highest)
    score: Decimal | None  # aggregated, 2 dp; None when the method aggregates totals
    entered: Mapping[str, Decimal] = field(default_factory=dict)  # deductions entered, if so


@dataclass(frozen=True)
class DeductionScore:
    """扣分项 figures of one deduction item for one bid."""

    criterion_id: str
    rule: DeductionRule
    expert_deductions: Mapping[str, Decimal]  # by expert id
    deducting: int  # experts who deducted something
    deducted: Decimal  # points taken off the total, 2 dp


@dataclass(frozen=True)
class BidResult:
    """Every figure of one bid; ``rank`` is None when it was rejected or failed the review."""

    bid_id: str
    price: Decimal
    verdicts: tuple[Verdict, ...]
    passed: bool
    criteria: tuple[CriterionScore, ...] = ()
    expert_totals: Mapping[str, Decimal] = field(default_factory=dict)  # level "total" only
    dropped_totals: tuple[str, ...] = ()  # (lowest, highest) expert totals dropped
    expert_part: Decimal | None = None  # the aggregated expert-scored points
    deviation: Decimal | None = None
    price_score: Decimal | None = None  # after penalties when they come off the price score
    penalty: Decimal = ZERO
    total: Decimal | None = None
    evaluated_price: Decimal | None = None  # 评标价 (lowest evaluated price method)
    rank: int | None = None
    deductions: tuple[DeductionScore, ...] = ()
    deducted: Decimal = ZERO  # sum of the deduction items, taken off the total
    rejection: str | None = None  # 否决投标: a stable reason code (above_control_price)
    rejection_detail: str | None = None  # the reason as read out, with its figures
    flags: tuple[str, ...] = ()  # e.g. below_floor: the 低于成本 review applies


@dataclass(frozen=True)
class Ranking:
    """排序: ranked bids first (by rank), then those rejected or failing review (by bid id)."""

    kind: MethodKind
    base_price: BasePrice | None
    bids: tuple[BidResult, ...]
    recommended: tuple[str, ...]  # 推荐的中标候选人, in rank order
    standings: tuple[BidStanding, ...] = ()  # every bid against the control price, if any

    def bid(self, bid_id: str) -> BidResult:
        found = next((b for b in self.bids if b.bid_id == bid_id), None)
        if found is None:
            raise RuleError("unknown_bid", f"no bid {bid_id} in this ranking")
        return found

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = _plain(self)
        return d


# --- evaluation -----------------------------------------------------------------------------


def evaluate(
    method: ScoringMethod,
    bids: Sequence[BidFigures],
    sheets: Sequence[ExpertSheet],
    floating_point: Decimal | None = None,
    *,
    chair: str | None = None,
    corrections: Sequence[Correction] = (),
) -> Ranking:
    """评标: review, score and rank ``bids`` under ``method`` from the experts' ``sheets``.

    A bid above the method's control price is rejected (否决) before the review: it needs no
    verdicts, is left out of the base price and is listed with its reason. ``chair`` names the
    expert who alone scores the chair-only items. ``corrections`` (复核) are applied on top of
    the sheets and the computed base price; the sheets themselves are left as they were.
    """
    if method.price_rule is not None:
        method.price_rule.base.check_floating_point(floating_point)
    elif floating_point is not None:
        raise RuleError("floating_point_unexpected", "this method has no floating point")
    _check_inputs(method, bids, sheets)
    standings: tuple[BidStanding, ...] = ()
    if method.control_price is not None:
        standings = method.control_price.classify_all({b.bid_id: b.price for b in bids})
    standing = {s.bid_id: s for s in standings}
    rejected = {s.bid_id for s in standings if s.standing is Standing.REJECTED}
    open_bids = [b for b in bids if b.bid_id not in rejected]
    reviews = {b.bid_id: _review(method, b.bid_id, sheets) for b in open_bids}
    passing = [b for b in open_bids if all(v.passed for v in reviews[b.bid_id])]
    sheets = _corrected(sheets, corrections)
    _check_scores(method, passing, sheets, chair)
    fix = base_price_correction(corrections)
    if method.kind is MethodKind.LOWEST_EVALUATED_PRICE:
        if fix is not None:
            raise RuleError("invalid_correction", "this method has no base price to correct")
        ranked, base = _lowest_price(passing, reviews), None
    else:
        ranked, base = _comprehensive(method, passing, reviews, sheets, floating_point, chair, fix)
    ranked_ids = {b.bid_id for b in passing}
    failed = []
    for b in sorted(bids, key=lambda b: b.bid_id):
        if b.bid_id in ranked_ids:
            continue
        s = standing.get(b.bid_id)
        out = s is not None and s.standing is Standing.REJECTED
        failed.append(
            BidResult(
                b.bid_id,
                b.price,
                reviews.get(b.bid_id, ()),
                passed=False,
                rejection=s.reason if s is not None and out else None,
                rejection_detail=s.detail if s is not None and out else None,
            )
        )

    def flagged(r: BidResult) -> BidResult:
        s = standing.get(r.bid_id)
        if s is None or s.standing is not Standing.REVIEW or s.reason is None:
            return r
        return dataclasses.replace(r, flags=(s.reason,))

    top = tuple(r.bid_id for r in ranked[: method.recommend])
    results = tuple(flagged(r) for r in [*ranked, *failed])
    return Ranking(method.kind, base, results, top, standings)


def _check_inputs(
    method: ScoringMethod, bids: Sequence[BidFigures], sheets: Sequence[ExpertSheet]
) -> None:
    """Bids and experts appear once; sheets name only known bids and pass/fail criteria."""
    bid_ids = [b.bid_id for b in bids]
    experts = [s.expert_id for s in sheets]
    if len(set(bid_ids)) != len(bid_ids):
        raise RuleError("duplicate_bid", "each bid id may appear once")
    if len(set(experts)) != len(experts):
        raise RuleError("duplicate_expert", "each expert hands in one sheet")
    external = method.price_rule is not None and method.price_rule.formula is PriceFormula.EXTERNAL
    for b in bids:
        if b.price_score is not None and not external:
            raise RuleError(
                "price_score_unexpected", f"{b.bid_id}: this method computes its price score"
            )
    for sheet in sheets:
        unknown = sorted((set(sheet.scores) | set(sheet.verdicts)) - set(bid_ids))
        if unknown:
            raise RuleError("unknown_bid", f"{sheet.expert_id} rates unknown bid {unknown[0]}")
        pass_fail = {c.id for c in method.of_kind(CriterionKind.PASS_FAIL)}
        for row in sheet.verdicts.values():
            if not set(row) <= pass_fail:
                extra = sorted(set(row) - pass_fail)[0]
                raise RuleError("unknown_criterion", f"{extra} is not a pass/fail criterion")


def _review(
    method: ScoringMethod, bid_id: str, sheets: Sequence[ExpertSheet]
) -> tuple[Verdict, ...]:
    """初步评审 of one bid: each pass/fail criterion decided by the method's vote rule."""
    verdicts = []
    rule = method.votes
    for c in method.of_kind(CriterionKind.PASS_FAIL):
        votes = [_verdict(s, bid_id, c.id) for s in sheets]
        if not votes:
            raise RuleError("missing_verdict", f"no expert decided {c.id} for {bid_id}")
        passes = sum(votes)
        outcome = rule.decide(passes, len(votes) - passes)
        if outcome is Outcome.UNDECIDED:
            raise RuleError(
                "verdicts_differ",
                f"the experts' verdicts on {c.id} for {bid_id} differ; they must agree",
            )
        verdicts.append(Verdict(c.id, passes, len(votes) - passes, outcome is Outcome.PASS))
    return tuple(verdicts)


def _verdict(sheet: ExpertSheet, bid_id: str, criterion_id: str) -> bool:
    try:
        return sheet.verdicts[bid_id][criterion_id]
    except KeyError:
        raise RuleError(
            "missing_verdict", f"{sheet.expert_id} has no verdict on {criterion_id} for {bid_id}"
        ) from None


def _corrected(
    sheets: Sequence[ExpertSheet], corrections: Sequence[Correction]
) -> Sequence[ExpertSheet]:
    """The sheets with the score corrections applied (new sheets; the originals unchanged)."""
    if not any(c.kind is CorrectionKind.SCORE for c in corrections):
        return sheets
    scores = correct_scores({s.expert_id: s.scores for s in sheets}, corrections)
    return [ExpertSheet(s.expert_id, scores[s.expert_id], s.verdicts) for s in sheets]


def _scored(method: ScoringMethod) -> dict[str, Criterion]:
    kinds = (CriterionKind.EXPERT, CriterionKind.DEDUCTION)
    return {c.id: c for c in method.criteria if c.kind in kinds}


def _check_scores(
    method: ScoringMethod,
    passing: Sequence[BidFigures],
    sheets: Sequence[ExpertSheet],
    chair: str | None,
) -> None:
    """Every entry names a scored criterion its author may score, on the criterion's scale,
    and none is missing; chair-only items are scored by the chair alone."""
    scored = _scored(method)
    chair_only = {cid for cid, c in scored.items() if c.scored_by is ScoredBy.CHAIR}
    if chair is not None and chair not in {s.expert_id for s in sheets}:
        raise RuleError("unknown_expert", f"the chair {chair} has handed in no sheet")
    if chair_only and passing and chair is None:
        raise RuleError("chair_required", "this method has items only the chair scores")
    for s in sheets:
        for bid_id, row in s.scores.items():
            for cid, points in row.items():
                c = scored.get(cid)
                if c is None:
                    raise RuleError("unknown_criterion", f"{cid} is not an expert criterion")
                if cid in chair_only and s.expert_id != chair:
                    raise RuleError("chair_only", f"only the chair scores {cid}")
                c.allowed.check(points, f"{s.expert_id} on {cid} for {bid_id}")
    if scored and passing and not sheets:
        raise RuleError("missing_score", "no expert sheets to score the bids")
    for s in sheets:
        needed = set(scored) - (chair_only if s.expert_id != chair else set())
        for b in passing:
            missing = sorted(needed - set(s.scores.get(b.bid_id, {})))
            if missing:
                raise RuleError(
                    "missing_score", f"{s.expert_id} has not scored {missing[0]} for {b.bid_id}"
                )


def _trimmed(values: Mapping[str, Fraction], drop: bool) -> tuple[Fraction, tuple[str, ...]]:
    """Mean of ``values`` after dropping the single lowest and highest (ties: by key)."""
    order = sorted(values, key=lambda k: (values[k], k))
    if not drop:
        return _mean([values[k] for k in order]), ()
    return _mean([values[k] for k in order[1:-1]]), (order[0], order[-1])


def _entered(c: Criterion, bid_id: str, sheets: Sequence[ExpertSheet]) -> dict[str, Decimal]:
    return {s.expert_id: s.scores[bid_id][c.id] for s in sorted(sheets, key=lambda s: s.expert_id)}


def _expert_part(
    method: ScoringMethod, bid_id: str, sheets: Sequence[ExpertSheet], chair: str | None
) -> tuple[tuple[CriterionScore, ...], dict[str, Decimal], tuple[str, ...], Decimal]:
    """The experts' points for one bid: per-criterion scores, expert totals, their sum.

    A chair-only item counts the chair's figure as it is, outside any averaging; an item
    entered by deduction counts ``max_points − deduction`` per expert.
    """
    drop = method.aggregation.drops(len(sheets))
    by_total = method.aggregation.level is AggregationLevel.TOTAL
    rows, part, chair_part = [], Fraction(0), Fraction(0)
    for c in method.of_kind(CriterionKind.EXPERT):
        alone = c.scored_by is ScoredBy.CHAIR
        entered = _entered(c, bid_id, [s for s in sheets if not alone or s.expert_id == chair])
        scores = entered
        if c.entry is Entry.DEDUCTION:
            assert c.max_points is not None
            scores = {e: c.max_points - v for e, v in entered.items()}
        kept = entered if c.entry is Entry.DEDUCTION else {}
        if alone:
            score = round_half_up(Fraction(next(iter(scores.values()))), 2)
            chair_part += Fraction(score)
            rows.append(CriterionScore(c.id, scores, (), score, kept))
            continue
        mean, dropped = _trimmed({e: Fraction(v) for e, v in scores.items()}, drop and not by_total)
        agg = None if by_total else round_half_up(mean, 2)
        part += Fraction(agg or 0)
        rows.append(CriterionScore(c.id, scores, dropped, agg, kept))
    panel = [
        r
        for r, c in zip(rows, method.of_kind(CriterionKind.EXPERT), strict=True)
        if c.scored_by is ScoredBy.EXPERTS
    ]
    if not by_total or not panel:
        return tuple(rows), {}, (), round_half_up(part + chair_part, 2)
    totals = {e: _exact_sum([r.expert_scores[e] for r in panel]) for e in panel[0].expert_scores}
    mean, dropped = _trimmed({e: Fraction(v) for e, v in totals.items()}, drop)
    return (
        tuple(rows),
        totals,
        dropped,
        round_half_up(Fraction(round_half_up(mean, 2)) + chair_part, 2),
    )


def _deductions(
    method: ScoringMethod, bid_id: str, sheets: Sequence[ExpertSheet], chair: str | None
) -> tuple[tuple[DeductionScore, ...], Decimal]:
    """扣分项 of one bid: all-or-nothing by majority, or the mean of the experts' figures."""
    found, total = [], Fraction(0)
    for c in method.of_kind(CriterionKind.DEDUCTION):
        assert c.max_points is not None and c.deduction is not None
        alone = c.scored_by is ScoredBy.CHAIR
        entered = _entered(c, bid_id, [s for s in sheets if not alone or s.expert_id == chair])
        deducting = sum(1 for v in entered.values() if v > 0)
        if c.deduction is DeductionRule.MAJORITY:
            amount = Fraction(c.max_points) if 2 * deducting > len(entered) else Fraction(0)
        else:
            amount = _mean([Fraction(v) for v in entered.values()])
        deducted = round_half_up(amount, 2)
        total += Fraction(deducted)
        found.append(DeductionScore(c.id, c.deduction, entered, deducting, deducted))
    return tuple(found), round_half_up(total, 2)


def _external_score(b: BidFigures, full_points: Decimal) -> Decimal:
    if b.price_score is None:
        raise RuleError("missing_price_score", f"{b.bid_id} has no price score fed in")
    if not 0 <= b.price_score <= full_points:
        raise RuleError(
            "price_score_out_of_range",
            f"{b.bid_id}: price score {b.price_score} is outside 0 to {full_points}",
        )
    return b.price_score


def _corrected_base(base: BasePrice, fix: Correction) -> BasePrice:
    if fix.original != base.value:
        raise RuleError(
            "correction_stale", f"the base price to correct is {base.value}, not {fix.original}"
        )
    return dataclasses.replace(base, value=fix.corrected, computed=base.value, correction=fix)


def _comprehensive(
    method: ScoringMethod,
    passing: Sequence[BidFigures],
    reviews: Mapping[str, tuple[Verdict, ...]],
    sheets: Sequence[ExpertSheet],
    floating_point: Decimal | None,
    chair: str | None,
    fix: Correction | None,
) -> tuple[list[BidResult], BasePrice | None]:
    """综合评估法: expert points + price score − penalties − deductions; total desc, price
    asc, id asc."""
    rule, price_criteria = method.price_rule, method.of_kind(CriterionKind.PRICE)
    full = (price_criteria[0].max_points or ZERO) if price_criteria else ZERO
    base = None
    if rule is not None and passing and rule.formula is not PriceFormula.EXTERNAL:
        base = rule.base.compute({b.bid_id: b.price for b in passing}, floating_point)
        if fix is not None:
            base = _corrected_base(base, fix)
    elif fix is not None:
        raise RuleError("invalid_correction", "there is no computed base price to correct")
    from_price = method.penalty_from is PenaltyFrom.PRICE_SCORE
    results = []
    for b in passing:
        criteria, totals, dropped, part = _expert_part(method, b.bid_id, sheets, chair)
        deductions, deducted = _deductions(method, b.bid_id, sheets, chair)
        deviation = price_score = None
        if rule is not None and rule.formula is PriceFormula.EXTERNAL:
            price_score = _external_score(b, full)
        elif rule is not None and base is not None:
            if rule.formula is PriceFormula.BASE_OVER_PRICE:
                price_score = rule.ratio_score(b.price, base.value, full)
            else:
                deviation = rule.deviation_of(b.price, base.value)
                price_score = rule.score(deviation, full)
        penalty = b.arithmetic_errors * Fraction(method.arithmetic_error_penalty)
        off_total = penalty
        if from_price and price_score is not None:
            price_score = round_half_up(max(Fraction(price_score) - penalty, Fraction(0)), 2)
            off_total = Fraction(0)
        total = Fraction(part) + Fraction(price_score or 0) - off_total - Fraction(deducted)
        result = BidResult(b.bid_id, b.price, reviews[b.bid_id], passed=True, criteria=criteria)
        results.append(
            dataclasses.replace(
                result,
                expert_totals=totals,
                dropped_totals=dropped,
                expert_part=part,
                deviation=deviation,
                price_score=price_score,
                penalty=round_half_up(penalty, 2),
                total=round_half_up(max(total, Fraction(0)), 2),
                deductions=deductions,
                deducted=deducted,
            )
        )
    results.sort(key=lambda r: (-Fraction(r.total or 0), r.price, r.bid_id))
    return [dataclasses.replace(r, rank=i) for i, r in enumerate(results, 1)], base


def _lowest_price(
    passing: Sequence[BidFigures], reviews: Mapping[str, tuple[Verdict, ...]]
) -> list[BidResult]:
    """经评审的最低投标价法: evaluated price (price + adjustment) ascending, then price, id."""
    evaluated = {b.bid_id: _exact_sum([b.price, b.adjustment]) for b in passing}
    order = sorted(passing, key=lambda b: (evaluated[b.bid_id], b.price, b.bid_id))
    return [
        BidResult(
            b.bid_id, b.price, reviews[b.bid_id], True, evaluated_price=evaluated[b.bid_id], rank=i
        )
        for i, b in enumerate(order, 1)
    ]


# --- deviation check ------------------------------------------------------------------------


@dataclass(frozen=True)
class Deviation:
    """评分偏离: a score too far from the mean of the other experts' scores; needs a reason."""

    expert_id: str
    bid_id: str
    criterion_id: str
    score: Decimal
    others_mean: Decimal  # 4 dp
    relative: Decimal | None  # |score − others_mean| / others_mean, 4 dp; None if the mean is 0


def find_deviations(
    sheets: Sequence[ExpertSheet], threshold: Decimal = Decimal("0.30")
) -> list[Deviation]:
    """Scores more than ``threshold`` (exclusive) away from the mean of the other experts'.

    Compared exactly: exactly at the threshold is not a deviation. When the others' mean is 0
    (every other expert gave 0), any non-zero score is a deviation (its relative distance is
    unbounded, reported as None) and a 0 is not. A (bid, criterion) scored by fewer than two
    experts has no others to compare with. Ordered by bid, criterion, expert.
    """
    if not (threshold.is_finite() and threshold >= 0):
        raise RuleError(
            "invalid_threshold", "the deviation threshold must be a non-negative number"
        )
    cells: dict[tuple[str, str], dict[str, Decimal]] = {}
    for s in sheets:
        for bid_id, row in s.scores.items():
            for cid, points in row.items():
                cells.setdefault((bid_id, cid), {})[s.expert_id] = points
    found = []
    for (bid_id, cid), scores in sorted(cells.items()):
        total = sum((Fraction(v) for v in scores.values()), Fraction(0))
        for expert, points in sorted(scores.items()):
            if len(scores) < 2:
                break
            others = (total - Fraction(points)) / (len(scores) - 1)
            distance = abs(Fraction(points) - others)
            if distance > Fraction(threshold) * abs(others):
                relative = round_half_up(distance / abs(others), 4) if others else None
                found.append(
                    Deviation(expert, bid_id, cid, points, round_half_up(others, 4), relative)
                )
    return found
