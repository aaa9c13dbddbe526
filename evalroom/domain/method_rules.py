"""Rules a tender's method states beside the price formula, as data (评标办法 · 规则).

Each rule here is a small frozen value read from plain JSON (``from_dict``/``to_dict``) and a
pure function applying it; bad method data is refused with ``RuleError("invalid_rule", …)``
and a bad input with its own stable code. :mod:`evalroom.domain.scoring` uses them.

- :class:`ControlPrice` — 最高投标限价 / 拦标价 and an optional floor: :meth:`classify`
  rejects a bid above the control price (否决, with its reason) and flags one below the floor
  for the 低于成本 review.
- :class:`ScoreScale` — the values an expert may give on a criterion: a range ("1–2 points"),
  fixed steps ("4 points per similar project, at most 8") or fixed values.
- :class:`VoteRule` — how the committee's verdicts decide a pass/fail question: majority,
  unanimity, agreement ("cannot close while verdicts differ"), at least a fraction (≥ 2/3) or
  at least a percentage with a stated rounding (≥ 60 %, rounded up).
- :class:`FloatingPointSet` and :func:`draw_floating_point` — a floating point (浮动点) drawn
  at the opening from a fixed set, re-computable by anyone from the revealed seed.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any

from evalroom.domain.rules import RuleError, field_at, read_decimal

__all__ = [
    "BidStanding",
    "ControlPrice",
    "FloatingPointSet",
    "Outcome",
    "Rounding",
    "ScoreScale",
    "Standing",
    "VoteKind",
    "VoteRule",
    "commit_seed",
    "decimal_text",
    "draw_floating_point",
    "read_decimal",
]


def _invalid(message: str, field: str | None = None) -> RuleError:
    return RuleError("invalid_rule", message, field)


def decimal_text(value: Decimal) -> str:
    """A decimal as written in the method (``str``), for messages and JSON."""
    return str(value)


def _known(d: object, where: str, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(d, Mapping):
        raise _invalid(f"{where} must be an object")
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise _invalid(f"{where}: unknown field(s) {', '.join(unknown)}")
    return d


# --- the control price ----------------------------------------------------------------------


class Standing(StrEnum):
    VALID = "valid"  # within the limits
    REJECTED = "rejected"  # 否决投标: above the control price
    REVIEW = "review"  # below the floor: the bidder must explain (低于成本评审)


@dataclass(frozen=True)
class BidStanding:
    """Where one bid stands against the control price; ``reason`` is a stable code."""

    bid_id: str
    price: Decimal
    standing: Standing
    reason: str | None = None  # "above_control_price" | "below_floor"
    detail: str | None = None  # the sentence read out (zh-CN), with the figures


@dataclass(frozen=True)
class ControlPrice:
    """最高投标限价 (拦标价) and an optional floor, as an amount or a share of the limit.

    A price equal to the limit is within it ("不得超过"); a price equal to the floor is not
    below it. ``floor`` and ``floor_ratio`` exclude each other.
    """

    limit: Decimal
    floor: Decimal | None = None
    floor_ratio: Decimal | None = None  # e.g. 0.85: below 85 % of the limit

    def __post_init__(self) -> None:
        if not self.limit > 0:
            raise _invalid("control_price.limit must be a positive amount", "limit")
        if self.floor is not None and self.floor_ratio is not None:
            raise _invalid("control_price takes floor or floor_ratio, not both", "floor")
        if self.floor is not None and not 0 < self.floor < self.limit:
            raise _invalid("control_price.floor must lie between 0 and the limit", "floor")
        if self.floor_ratio is not None and not 0 < self.floor_ratio < 1:
            raise _invalid(
                "control_price.floor_ratio must lie strictly between 0 and 1", "floor_ratio"
            )

    @property
    def floor_amount(self) -> Decimal | None:
        """The floor as an amount (exact: limit × ratio, never rounded)."""
        if self.floor_ratio is not None:
            return self.limit * self.floor_ratio
        return self.floor

    def classify(self, bid_id: str, price: Decimal) -> BidStanding:
        if price > self.limit:
            detail = f"投标报价 {price} 元超过最高投标限价 {self.limit} 元，否决其投标"
            return BidStanding(bid_id, price, Standing.REJECTED, "above_control_price", detail)
        floor = self.floor_amount
        if floor is not None and price < floor:
            detail = f"投标报价 {price} 元低于 {floor} 元，须说明其报价不低于成本"
            return BidStanding(bid_id, price, Standing.REVIEW, "below_floor", detail)
        return BidStanding(bid_id, price, Standing.VALID)

    def classify_all(self, prices: Mapping[str, Decimal]) -> tuple[BidStanding, ...]:
        """Every bid's standing, by bid id."""
        return tuple(self.classify(b, prices[b]) for b in sorted(prices))

    @classmethod
    def from_dict(cls, value: object) -> ControlPrice:
        d = _known(value, "control_price", {"limit", "floor", "floor_ratio"})
        floor, ratio = d.get("floor"), d.get("floor_ratio")
        with field_at("limit"):
            limit = read_decimal(d.get("limit"), "control_price.limit")
        with field_at("floor"):
            floor_value = None if floor is None else read_decimal(floor, "control_price.floor")
        with field_at("floor_ratio"):
            ratio_value = (
                None if ratio is None else read_decimal(ratio, "control_price.floor_ratio")
            )
        return cls(limit=limit, floor=floor_value, floor_ratio=ratio_value)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"limit": str(self.limit)}
        if self.floor is not None:
            d["floor"] = str(self.floor)
        if self.floor_ratio is not None:
            d["floor_ratio"] = str(self.floor_ratio)
        return d


# --- the scale of a criterion ---------------------------------------------------------------


@dataclass(frozen=True)
class ScoreScale:
    """The figures an expert may enter on one criterion.

    - a range: ``low``..``high`` (any figure between, inclusive), e.g. 1–2 points;
    - steps: ``low``, ``low + step``, … up to ``high``, e.g. 0/4/8 for "4 per project, at
      most 8" (``high − low`` must be a whole number of steps);
    - fixed values: ``values`` only, e.g. 0, 3, 5.
    """

    low: Decimal | None = None
    high: Decimal | None = None
    step: Decimal | None = None
    values: tuple[Decimal, ...] | None = None

    def __post_init__(self) -> None:
        if self.values is not None:
            if self.low is not None or self.high is not None or self.step is not None:
                raise _invalid("a scale takes values, or low/high (and step), not both", "values")
            if not self.values or any(v < 0 for v in self.values):
                raise _invalid("scale.values must list non-negative figures", "values")
            if len(set(self.values)) != len(self.values):
                raise _invalid("scale.values must not repeat", "values")
            return
        if self.low is None or self.high is None:
            raise _invalid("a scale needs low and high, or values", "high")
        if not 0 <= self.low <= self.high:
            raise _invalid("a scale needs 0 <= low <= high", "low")
        if self.step is not None:
            if not self.step > 0:
                raise _invalid("scale.step must be positive", "step")
            if (self.high - self.low) % self.step:
                raise _invalid("scale.high - scale.low must be a whole number of steps", "step")

    @property
    def top(self) -> Decimal:
        """The most an expert may give."""
        if self.values is not None:
            return max(self.values)
        assert self.high is not None
        return self.high

    def allowed(self) -> str:
        """The allowed figures, as a phrase for an error message."""
        if self.values is not None:
            return "one of " + ", ".join(str(v) for v in sorted(self.values))
        if self.step is not None:
            return f"{self.low} to {self.high} in steps of {self.step}"
        return f"{self.low} to {self.high}"

    def admits(self, points: Decimal) -> bool:
        if not points.is_finite():
            return False
        if self.values is not None:
            return points in self.values
        assert self.low is not None and self.high is not None
        if not self.low <= points <= self.high:
            return False
        return self.step is None or (points - self.low) % self.step == 0

    def check(self, points: Decimal, where: str) -> Decimal:
        """``points`` if the scale admits it; otherwise a refusal saying what is allowed.

        Outside the scale's span: ``score_out_of_range``; inside it but off the steps or not
        one of the values: ``score_not_allowed``.
        """
        if self.admits(points):
            return points
        lowest = min(self.values) if self.values is not None else self.low
        assert lowest is not None
        code = (
            "score_out_of_range"
            if not points.is_finite() or not lowest <= points <= self.top
            else "score_not_allowed"
        )
        raise RuleError(code, f"{where}: {points} is not allowed; allowed {self.allowed()}")

    @classmethod
    def from_dict(cls, value: object) -> ScoreScale:
        d = _known(value, "scale", {"low", "high", "step", "values"})

        def opt(key: str) -> Decimal | None:
            v = d.get(key)
            with field_at(key):
                return None if v is None else read_decimal(v, f"scale.{key}")

        values = d.get("values")
        if values is not None and not isinstance(values, list | tuple):
            raise _invalid("scale.values must be a list", "values")
        return cls(
            low=opt("low"),
            high=opt("high"),
            step=opt("step"),
            values=None if values is None else tuple(_figure(v, i) for i, v in enumerate(values)),
        )

    def to_dict(self) -> dict[str, Any]:
        if self.values is not None:
            return {"values": [str(v) for v in self.values]}
        d: dict[str, Any] = {"low": str(self.low), "high": str(self.high)}
        if self.step is not None:
            d["step"] = str(self.step)
        return d


def _figure(value: object, index: int) -> Decimal:
    with field_at(f"values[{index}]"):
        return read_decimal(value, "scale.values[]")


# --- vote thresholds ------------------------------------------------------------------------


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNDECIDED = "undecided"  # not every vote is in, or verdicts differ under "agreement"


class VoteKind(StrEnum):
    MAJORITY = "majority"  # more than half pass (a tie fails)
    UNANIMITY = "unanimity"  # passes only if every verdict passes; any fail fails
    AGREEMENT = "agreement"  # the question cannot close while verdicts differ
    FRACTION = "fraction"  # at least numerator/denominator of the votes pass (≥ 2/3)
    PERCENT = "percent"  # at least ``percent`` % pass, the count rounded as stated


class Rounding(StrEnum):
    UP = "up"  # 7 × 60 % = 4.2 → 5 votes needed
    DOWN = "down"  # 4.2 → 4
    HALF_UP = "half_up"  # 4.2 → 4, 4.5 → 5


@dataclass(frozen=True)
class VoteRule:
    """表决规则 of a pass/fail question (初步评审, 否决, and the like)."""

    kind: VoteKind = VoteKind.MAJORITY
    numerator: int | None = None
    denominator: int | None = None
    percent: Decimal | None = None
    rounding: Rounding | None = None

    def __post_init__(self) -> None:
        fraction = (self.numerator, self.denominator)
        percent = (self.percent, self.rounding)
        if self.kind is VoteKind.FRACTION:
            n, d = fraction
            if n is None or d is None or not 0 < n <= d:
                raise _invalid("a fraction vote needs 0 < numerator <= denominator")
            if percent != (None, None):
                raise _invalid("a fraction vote takes no percent or rounding")
        elif self.kind is VoteKind.PERCENT:
            p, r = percent
            if p is None or r is None or not 0 < p <= 100:
                raise _invalid("a percent vote needs 0 < percent <= 100 and a rounding")
            if fraction != (None, None):
                raise _invalid("a percent vote takes no numerator or denominator")
        elif fraction != (None, None) or percent != (None, None):
            raise _invalid(f"a {self.kind.value} vote takes no threshold figures")

    def required(self, votes: int) -> int | None:
        """How many passes carry the question among ``votes`` (None: every vote must agree)."""
        if votes < 1:
            raise RuleError("missing_verdict", "a vote needs at least one verdict")
        if self.kind is VoteKind.MAJORITY:
            return votes // 2 + 1
        if self.kind is VoteKind.FRACTION:
            assert self.numerator is not None and self.denominator is not None
            return math.ceil(Fraction(votes * self.numerator, self.denominator))
        if self.kind is VoteKind.PERCENT:
            assert self.percent is not None
            share = Fraction(votes) * Fraction(self.percent) / 100
            if self.rounding is Rounding.DOWN:
                return math.floor(share)
            if self.rounding is Rounding.HALF_UP:
                return math.floor(share + Fraction(1, 2))
            return math.ceil(share)
        return None

    def decide(self, passes: int, fails: int, expected: int | None = None) -> Outcome:
        """The outcome of ``passes`` and ``fails``; UNDECIDED while fewer than ``expected``.

        Under ``agreement`` mixed verdicts stay UNDECIDED (the phase cannot close until the
        experts agree); under ``unanimity`` one fail fails the question.
        """
        if passes < 0 or fails < 0:
            raise RuleError("invalid_vote", "vote counts cannot be negative")
        votes = passes + fails
        if expected is not None and votes > expected:
            raise RuleError("invalid_vote", f"{votes} verdicts from {expected} voters")
        if expected is not None and votes < expected:
            return Outcome.UNDECIDED
        need = self.required(votes)
        if need is None:
            if fails == 0:
                return Outcome.PASS
            if self.kind is VoteKind.UNANIMITY or passes == 0:
                return Outcome.FAIL
            return Outcome.UNDECIDED
        return Outcome.PASS if passes >= max(need, 1) else Outcome.FAIL

    @classmethod
    def from_dict(cls, value: object) -> VoteRule:
        if isinstance(value, str):
            value = {"kind": value}
        d = _known(value, "vote_rule", {"kind", "numerator", "denominator", "percent", "rounding"})
        try:
            kind = VoteKind(str(d.get("kind")))
            rounding = None if d.get("rounding") is None else Rounding(str(d.get("rounding")))
        except ValueError:
            raise _invalid("vote_rule.kind or vote_rule.rounding is not known") from None
        n, den = d.get("numerator"), d.get("denominator")
        for x in (n, den):
            if x is not None and (isinstance(x, bool) or not isinstance(x, int)):
                raise _invalid("vote_rule numerator and denominator must be integers")
        pct = d.get("percent")
        return cls(
            kind=kind,
            numerator=n,
            denominator=den,
            percent=None if pct is None else read_decimal(pct, "vote_rule.percent"),
            rounding=rounding,
        )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind.value}
        if self.kind is VoteKind.FRACTION:
            d.update(numerator=self.numerator, denominator=self.denominator)
        if self.kind is VoteKind.PERCENT:
            assert self.rounding is not None
            d.update(percent=str(self.percent), rounding=self.rounding.value)
        return d


# --- the floating point drawn at the opening ------------------------------------------------

_DRAW_LABEL = b"evalroom/floating-point/v1\x00"


def commit_seed(seed: bytes) -> str:
    """The commitment published before the draw: hex SHA-256 of the seed."""
    return hashlib.sha256(seed).hexdigest()


@dataclass(frozen=True)
class FloatingPointSet:
    """浮动点 drawn at the opening from a fixed set of percents, e.g. 1.5/1.25/1/0.75/0.5/0.25."""

    choices: tuple[Decimal, ...]

    def __post_init__(self) -> None:
        if len(self.choices) < 2:
            raise _invalid("floating_point.choices must list at least two percents")
        if len(set(self.choices)) != len(self.choices):
            raise _invalid("floating_point.choices must not repeat")
        if any(not -100 < c < 100 for c in self.choices):
            raise _invalid("floating_point.choices must lie in (-100, 100) percent")

    def check(self, floating_point: Decimal | None) -> Decimal:
        if floating_point is None:
            raise RuleError("floating_point_missing", "this method needs the drawn floating point")
        if floating_point not in self.choices:
            listed = ", ".join(str(c) for c in self.choices)
            raise RuleError(
                "floating_point_out_of_range",
                f"floating point {floating_point} is not one of {listed}",
            )
        return floating_point

    def draw(self, seed: bytes, commitment: str) -> Decimal:
        return draw_floating_point(self.choices, seed, commitment)

    def to_dict(self) -> dict[str, Any]:
        return {"choices": [str(c) for c in self.choices]}


def draw_floating_point(choices: Sequence[Decimal], seed: bytes, commitment: str) -> Decimal:
    """The floating point drawn from ``choices`` (in their published order) by ``seed``.

    ``commitment`` (hex SHA-256 of the seed) was published before the seed was revealed; a
    seed that does not match it is refused (``seed_mismatch``). The index is ``x mod n`` of
    ``x = int.from_bytes(SHA-256(label ‖ seed ‖ attempt), "big")`` with
    ``label = b"evalroom/floating-point/v1\\0"`` and ``attempt`` one byte from 0; an ``x`` at or
    above the largest multiple of ``n`` below 2**256 is rejected and ``attempt`` goes up, so
    each choice is equally likely. Anyone can re-compute it with ``hashlib``.
    """
    if len(seed) < 16:
        raise RuleError("seed_too_short", "the seed must have at least 16 bytes")
    if commit_seed(seed) != commitment.lower():
        raise RuleError("seed_mismatch", "the revealed seed does not match its commitment")
    n = len(choices)
    if n < 1:
        raise _invalid("there is nothing to draw from")
    limit = (2**256 // n) * n
    for attempt in range(256):
        x = int.from_bytes(hashlib.sha256(_DRAW_LABEL + seed + bytes([attempt])).digest(), "big")
        if x < limit:
            return choices[x % n]
    raise RuleError("draw_failed", "no unbiased draw in 256 attempts")  # pragma: no cover
