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
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import Enum, StrEnum
from fractions import Fraction
from typing import Any, TypeVar

from evalroom.domain.rules import RuleError

__all__ = [
    "AggregationLevel",
    "Aggregation",
    "Band",
    "BasePrice",
    "BasePriceRule",
    "BidFigures",
    "BidResult",
    "Criterion",
    "CriterionKind",
    "CriterionScore",
    "Deviation",
    "DeviationUnit",
    "ExpertSheet",
    "FloatingPointRange",
    "MethodKind",
    "PassFailRule",
    "PriceRule",
    "Ranking",
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


def _dec(value: object, where: str, code: str = "invalid_rule") -> Decimal:
    """A decimal from a JSON string or integer; floats are refused (they are not exact)."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise RuleError(code, f'{where} must be a decimal written as a string, e.g. "0.97"')
    try:
        d = Decimal(value)
    except InvalidOperation:
        raise RuleError(code, f"{where} is not a number: {value!r}") from None
    if not d.is_finite():
        raise RuleError(code, f"{where} must be finite")
    return d


def _opt_dec(value: object, where: str) -> Decimal | None:
    return None if value is None else _dec(value, where)


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


def _plain(value: Any) -> Any:
    """Dataclasses, enums and decimals as plain JSON-able values (decimals as strings)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _invalid(message: str) -> RuleError:
    return RuleError("invalid_rule", message)


# --- the price rule -------------------------------------------------------------------------


@dataclass(frozen=True)
class Trim:
    """去掉最高最低: drop the ``count`` highest and lowest prices from ``from_bids`` bids up."""

    count: int
    from_bids: int

    def __post_init__(self) -> None:
        if self.count < 1:
            raise _invalid("trim.count must be at least 1")
        if self.from_bids < 2 * self.count + 1:
            raise _invalid("trim.from_bids must leave at least one price after trimming")


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
    value: Decimal


@dataclass(frozen=True)
class BasePriceRule:
    """How the base price (评标基准价) is formed from the valid prices."""

    trim: Trim | None = None
    coefficient: Decimal = Decimal(1)  # 下浮系数
    floating_point: FloatingPointRange | None = None  # 浮动点
    decimals: int = 2

    def __post_init__(self) -> None:
        if not 0 < self.coefficient <= 1:
            raise _invalid("base.coefficient must be in (0, 1]")
        if not 0 <= self.decimals <= 6:
            raise _invalid("base.decimals must be between 0 and 6")

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
        kept = order[n : len(order) - n]
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
            raise _invalid("points_per_percent must not be negative")
        if self.up_to is not None and self.up_to <= 0:
            raise _invalid("a band's up_to must be a positive percent")


def _check_bands(bands: tuple[Band, ...], side: str) -> None:
    if not bands:
        raise _invalid(f"price_rule.{side} needs at least one band")
    if bands[-1].up_to is not None:
        raise _invalid(f"the last band of price_rule.{side} must be open (up_to null)")
    ends = [b.up_to for b in bands[:-1] if b.up_to is not None]
    if len(ends) != len(bands) - 1 or any(a >= b for a, b in zip(ends, ends[1:], strict=False)):
        raise _invalid(f"the bands of price_rule.{side} must end at increasing percents")


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

    def __post_init__(self) -> None:
        _check_bands(self.above, "above")
        _check_bands(self.below, "below")

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
        d = _fields(d, "price_rule", {"base", "deviation", "above", "below"}, "invalid_rule")
        return cls(
            base=_base_rule_from_dict(d.get("base", {})),
            deviation=_enum(DeviationUnit, d.get("deviation", "percent"), "price_rule.deviation"),
            above=_bands_from_list(d.get("above"), "price_rule.above"),
            below=_bands_from_list(d.get("below"), "price_rule.below"),
        )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = _plain(self)
        return d


def _base_rule_from_dict(value: object) -> BasePriceRule:
    keys = {"trim", "coefficient", "floating_point", "decimals"}
    d = _fields(value, "price_rule.base", keys, "invalid_rule")
    trim, fp = d.get("trim"), d.get("floating_point")
    if trim is not None:
        t = _fields(trim, "base.trim", {"count", "from_bids"}, "invalid_rule")
        trim = Trim(_int(t.get("count"), "trim.count"), _int(t.get("from_bids"), "trim.from_bids"))
    if fp is not None:
        f = _fields(fp, "base.floating_point", {"low", "high"}, "invalid_rule")
        fp = FloatingPointRange(_dec(f.get("low"), "low"), _dec(f.get("high"), "high"))
    return BasePriceRule(
        trim=trim,
        coefficient=_dec(d.get("coefficient", "1"), "base.coefficient"),
        floating_point=fp,
        decimals=_int(d.get("decimals", 2), "base.decimals"),
    )


def _bands_from_list(value: object, where: str) -> tuple[Band, ...]:
    bands = []
    for i, item in enumerate(_list(value, where)):
        b = _fields(item, f"{where}[{i}]", {"up_to", "points_per_percent"}, "invalid_rule")
        per = _dec(b.get("points_per_percent"), f"{where}[{i}].points_per_percent")
        bands.append(Band(_opt_dec(b.get("up_to"), f"{where}[{i}].up_to"), per))
    return tuple(bands)


# --- the method -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    """评审因素: one line of the scoring table."""

    id: str
    name: str
    kind: CriterionKind
    max_points: Decimal | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise _invalid("a criterion needs an id")
        if self.kind is CriterionKind.PASS_FAIL and self.max_points is not None:
            raise _invalid(f"pass/fail criterion {self.id} takes no max_points")
        if self.kind is not CriterionKind.PASS_FAIL and not (self.max_points or 0) > 0:
            raise _invalid(f"criterion {self.id} needs positive max_points")


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

    def __post_init__(self) -> None:
        ids = [c.id for c in self.criteria]
        if len(set(ids)) != len(ids):
            raise _invalid("criterion ids must be unique")
        if self.recommend < 1 or self.arithmetic_error_penalty < 0:
            raise _invalid("recommend must be at least 1 and the penalty not negative")
        if self.kind is MethodKind.LOWEST_EVALUATED_PRICE:
            self._check_lowest_price()
        elif len(self.of_kind(CriterionKind.PRICE)) > 1:
            raise _invalid("a method has at most one price criterion")
        elif bool(self.of_kind(CriterionKind.PRICE)) != (self.price_rule is not None):
            raise _invalid("a price criterion and a price_rule go together")

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
        rule = d.get("price_rule")
        return cls(
            kind=_enum(MethodKind, d.get("kind"), "kind"),
            criteria=tuple(_criterion_from_dict(c) for c in _list(d.get("criteria"), "criteria")),
            price_rule=None if rule is None else PriceRule.from_dict(_obj(rule, "price_rule")),
            aggregation=Aggregation(
                level=_enum(AggregationLevel, agg.get("level", "criterion"), "aggregation.level"),
                drop_high_low_from=None if drop is None else _int(drop, "drop_high_low_from"),
            ),
            pass_fail=_enum(PassFailRule, d.get("pass_fail", "majority"), "pass_fail"),
            arithmetic_error_penalty=_dec(d.get("arithmetic_error_penalty", "0"), "penalty"),
            recommend=_int(d.get("recommend", 3), "recommend"),
        )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = _plain(self)
        return d


def _criterion_from_dict(value: object) -> Criterion:
    c = _fields(value, "criterion", {"id", "name", "kind", "max_points"}, "invalid_rule")
    return Criterion(
        id=_str(c.get("id"), "criterion.id", "invalid_rule"),
        name=_str(c.get("name"), "criterion.name", "invalid_rule"),
        kind=_enum(CriterionKind, c.get("kind"), "criterion.kind"),
        max_points=_opt_dec(c.get("max_points"), "criterion.max_points"),
    )


# --- the inputs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BidFigures:
    """One bid's figures as read out (唱标) and found in review."""

    bid_id: str
    price: Decimal  # 投标报价
    arithmetic_errors: int = 0  # 算术错误 found in the bid form
    adjustment: Decimal = ZERO  # 价格调整 (lowest evaluated price method)

    def __post_init__(self) -> None:
        finite = self.price.is_finite() and self.adjustment.is_finite()
        if not (self.bid_id and finite and self.price > 0 and self.arithmetic_errors >= 0):
            raise RuleError("invalid_bid", f"bid {self.bid_id!r} needs an id and a positive price")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BidFigures:
        keys = {"bid_id", "price", "arithmetic_errors", "adjustment"}
        d = _fields(d, "bid", keys, "invalid_bid")
        return cls(
            bid_id=_str(d.get("bid_id"), "bid_id", "invalid_bid"),
            price=_dec(d.get("price"), "price", "invalid_bid"),
            arithmetic_errors=_int(
                d.get("arithmetic_errors", 0), "arithmetic_errors", "invalid_bid"
            ),
            adjustment=_dec(d.get("adjustment", "0"), "adjustment", "invalid_bid"),
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
            scores[bid] = {c: _dec(v, f"score {bid}/{c}", "invalid_sheet") for c, v in row.items()}
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
    expert_scores: Mapping[str, Decimal]  # by expert id
    dropped: tuple[str, ...]  # experts whose score was dropped: (lowest, highest)
    score: Decimal | None  # aggregated, 2 dp; None when the method aggregates totals


@dataclass(frozen=True)
class BidResult:
    """Every figure of one bid; ``rank`` is None when it failed the preliminary review."""

    bid_id: str
    price: Decimal
    verdicts: tuple[Verdict, ...]
    passed: bool
    criteria: tuple[CriterionScore, ...] = ()
    expert_totals: Mapping[str, Decimal] = field(default_factory=dict)  # level "total" only
    dropped_totals: tuple[str, ...] = ()  # (lowest, highest) expert totals dropped
    expert_part: Decimal | None = None  # the aggregated expert-scored points
    deviation: Decimal | None = None
    price_score: Decimal | None = None
    penalty: Decimal = ZERO
    total: Decimal | None = None
    evaluated_price: Decimal | None = None  # 评标价 (lowest evaluated price method)
    rank: int | None = None


@dataclass(frozen=True)
class Ranking:
    """排序: ranked bids first (by rank), then those failing the review (by bid id)."""

    kind: MethodKind
    base_price: BasePrice | None
    bids: tuple[BidResult, ...]
    recommended: tuple[str, ...]  # 推荐的中标候选人, in rank order

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
) -> Ranking:
    """评标: review, score and rank ``bids`` under ``method`` from the experts' ``sheets``."""
    if method.price_rule is not None:
        method.price_rule.base.check_floating_point(floating_point)
    elif floating_point is not None:
        raise RuleError("floating_point_unexpected", "this method has no floating point")
    _check_inputs(method, bids, sheets)
    reviews = {b.bid_id: _review(method, b.bid_id, sheets) for b in bids}
    passing = [b for b in bids if all(v.passed for v in reviews[b.bid_id])]
    _check_scores(method, passing, sheets)
    if method.kind is MethodKind.LOWEST_EVALUATED_PRICE:
        ranked, base = _lowest_price(passing, reviews), None
    else:
        ranked, base = _comprehensive(method, passing, reviews, sheets, floating_point)
    ranked_ids = {b.bid_id for b in passing}
    failed = [
        BidResult(b.bid_id, b.price, reviews[b.bid_id], passed=False)
        for b in sorted(bids, key=lambda b: b.bid_id)
        if b.bid_id not in ranked_ids
    ]
    top = tuple(r.bid_id for r in ranked[: method.recommend])
    return Ranking(method.kind, base, tuple(ranked) + tuple(failed), top)


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
    """初步评审 of one bid: each pass/fail criterion decided by majority or unanimity."""
    verdicts = []
    for c in method.of_kind(CriterionKind.PASS_FAIL):
        votes = [_verdict(s, bid_id, c.id) for s in sheets]
        if not votes:
            raise RuleError("missing_verdict", f"no expert decided {c.id} for {bid_id}")
        passes = sum(votes)
        if method.pass_fail is PassFailRule.UNANIMITY:
            passed = passes == len(votes)
        else:
            passed = 2 * passes > len(votes)
        verdicts.append(Verdict(c.id, passes, len(votes) - passes, passed))
    return tuple(verdicts)


def _verdict(sheet: ExpertSheet, bid_id: str, criterion_id: str) -> bool:
    try:
        return sheet.verdicts[bid_id][criterion_id]
    except KeyError:
        raise RuleError(
            "missing_verdict", f"{sheet.expert_id} has no verdict on {criterion_id} for {bid_id}"
        ) from None


def _check_scores(
    method: ScoringMethod, passing: Sequence[BidFigures], sheets: Sequence[ExpertSheet]
) -> None:
    """Every score names an expert criterion, lies in 0..max, and none is missing."""
    limits = {c.id: c.max_points for c in method.of_kind(CriterionKind.EXPERT)}
    for s in sheets:
        for bid_id, row in s.scores.items():
            for cid, points in row.items():
                limit = limits.get(cid)
                if limit is None:
                    raise RuleError("unknown_criterion", f"{cid} is not an expert criterion")
                if not (points.is_finite() and 0 <= points <= limit):
                    raise RuleError(
                        "score_out_of_range",
                        f"{s.expert_id} gave {points} on {cid} for {bid_id}; allowed 0 to {limit}",
                    )
    if limits and passing and not sheets:
        raise RuleError("missing_score", "no expert sheets to score the bids")
    for s in sheets:
        for b in passing:
            missing = sorted(set(limits) - set(s.scores.get(b.bid_id, {})))
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


def _expert_part(
    method: ScoringMethod, bid_id: str, sheets: Sequence[ExpertSheet]
) -> tuple[tuple[CriterionScore, ...], dict[str, Decimal], tuple[str, ...], Decimal]:
    """The experts' points for one bid: per-criterion scores, expert totals, their sum."""
    drop = method.aggregation.drops(len(sheets))
    by_total = method.aggregation.level is AggregationLevel.TOTAL
    rows, part = [], Fraction(0)
    for c in method.of_kind(CriterionKind.EXPERT):
        scores = {
            s.expert_id: s.scores[bid_id][c.id] for s in sorted(sheets, key=lambda s: s.expert_id)
        }
        mean, dropped = _trimmed({e: Fraction(v) for e, v in scores.items()}, drop and not by_total)
        score = None if by_total else round_half_up(mean, 2)
        part += Fraction(score or 0)
        rows.append(CriterionScore(c.id, scores, dropped, score))
    if not by_total or not rows:
        return tuple(rows), {}, (), round_half_up(part, 2)
    totals = {e: _exact_sum([r.expert_scores[e] for r in rows]) for e in rows[0].expert_scores}
    mean, dropped = _trimmed({e: Fraction(v) for e, v in totals.items()}, drop)
    return tuple(rows), totals, dropped, round_half_up(mean, 2)


def _comprehensive(
    method: ScoringMethod,
    passing: Sequence[BidFigures],
    reviews: Mapping[str, tuple[Verdict, ...]],
    sheets: Sequence[ExpertSheet],
    floating_point: Decimal | None,
) -> tuple[list[BidResult], BasePrice | None]:
    """综合评估法: expert points + price score − penalties; total desc, price asc, id asc."""
    rule, price_criteria = method.price_rule, method.of_kind(CriterionKind.PRICE)
    base = None
    if rule is not None and passing:
        base = rule.base.compute({b.bid_id: b.price for b in passing}, floating_point)
    results = []
    for b in passing:
        criteria, totals, dropped, part = _expert_part(method, b.bid_id, sheets)
        deviation = price_score = None
        if rule is not None and base is not None:
            deviation = rule.deviation_of(b.price, base.value)
            price_score = rule.score(deviation, price_criteria[0].max_points or ZERO)
        penalty = b.arithmetic_errors * Fraction(method.arithmetic_error_penalty)
        total = max(Fraction(part) + Fraction(price_score or 0) - penalty, Fraction(0))
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
                total=round_half_up(total, 2),
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
