"""The method's rules beside the price formula: control price, scales, votes, floating point."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import pytest

from evalroom.domain.method_rules import (
    ControlPrice,
    FloatingPointSet,
    Outcome,
    ScoreScale,
    Standing,
    VoteRule,
    commit_seed,
    draw_floating_point,
)
from evalroom.domain.rules import RuleError

D = Decimal


def refused(code: str, call: Any, *args: Any) -> None:
    with pytest.raises(RuleError) as e:
        call(*args)
    assert e.value.code == code, e.value.message


# --- the control price (最高投标限价) ---------------------------------------------------------


def test_a_bid_above_the_control_price_is_rejected_with_its_reason() -> None:
    control = ControlPrice.from_dict({"limit": "1400000.00"})
    above = control.classify("B1", D("1400000.01"))
    assert above.standing is Standing.REJECTED
    assert above.reason == "above_control_price"
    assert (
        above.detail is not None and "1400000.01" in above.detail and "1400000.00" in above.detail
    )


def test_a_bid_at_the_control_price_is_within_it() -> None:
    control = ControlPrice(D("1400000"))
    assert control.classify("B1", D("1400000")).standing is Standing.VALID


def test_below_the_floor_is_flagged_for_the_cost_review_not_rejected() -> None:
    # floor as 85 % of the limit: 1,000,000 x 0.85 = 850,000
    control = ControlPrice.from_dict({"limit": "1000000", "floor_ratio": "0.85"})
    assert control.floor_amount == D("850000.00")
    low = control.classify("B2", D("849999.99"))
    assert (low.standing, low.reason) == (Standing.REVIEW, "below_floor")
    assert control.classify("B3", D("850000")).standing is Standing.VALID


def test_floor_as_an_amount_and_classify_all_by_bid_id() -> None:
    control = ControlPrice.from_dict({"limit": "100", "floor": "80"})
    got = control.classify_all({"B2": D("79"), "B1": D("101"), "B3": D("90")})
    assert [(s.bid_id, s.standing) for s in got] == [
        ("B1", Standing.REJECTED),
        ("B2", Standing.REVIEW),
        ("B3", Standing.VALID),
    ]


@pytest.mark.parametrize(
    "d",
    [
        {"limit": "0"},
        {"limit": 1400000.0},  # a float is not exact
        {"limit": "100", "floor": "100"},
        {"limit": "100", "floor_ratio": "1"},
        {"limit": "100", "floor": "80", "floor_ratio": "0.8"},
        {"limit": "100", "cap": "1"},
    ],
)
def test_bad_control_price_refused(d: dict[str, Any]) -> None:
    refused("invalid_rule", ControlPrice.from_dict, d)


def test_control_price_round_trips() -> None:
    d = {"limit": "1400000.00", "floor_ratio": "0.85"}
    assert ControlPrice.from_dict(d).to_dict() == d


# --- scales (评分档次) -------------------------------------------------------------------------


def test_a_range_refuses_zero_on_a_one_to_two_item() -> None:
    scale = ScoreScale.from_dict({"low": "1", "high": "2"})
    assert scale.check(D("1.5"), "x") == D("1.5")
    assert scale.check(D("1"), "x") == D("1") and scale.check(D("2"), "x") == D("2")
    refused("score_out_of_range", scale.check, D("0"), "x")
    refused("score_out_of_range", scale.check, D("2.01"), "x")


def test_steps_of_four_up_to_eight() -> None:
    # "4 points per similar project, at most 8"
    scale = ScoreScale.from_dict({"low": "0", "high": "8", "step": "4"})
    assert [scale.admits(D(v)) for v in ("0", "4", "8")] == [True, True, True]
    refused("score_not_allowed", scale.check, D("6"), "x")
    refused("score_out_of_range", scale.check, D("12"), "x")


def test_fixed_values() -> None:
    scale = ScoreScale.from_dict({"values": ["0", "3", "5"]})
    assert scale.top == D("5")
    assert scale.check(D("3.00"), "x") == D("3.00")  # the same number, written differently
    refused("score_not_allowed", scale.check, D("4"), "x")
    refused("score_out_of_range", scale.check, D("-1"), "x")
    refused("score_out_of_range", scale.check, D("NaN"), "x")


@pytest.mark.parametrize(
    "d",
    [
        {"low": "2", "high": "1"},
        {"low": "0", "high": "8", "step": "3"},  # 8 is not a whole number of steps of 3
        {"low": "0", "high": "8", "step": "0"},
        {"values": []},
        {"values": ["1", "1"]},
        {"values": ["1"], "low": "0"},
        {"high": "2"},
    ],
)
def test_bad_scale_refused(d: dict[str, Any]) -> None:
    refused("invalid_rule", ScoreScale.from_dict, d)


# --- vote thresholds (表决) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "passes", "fails", "outcome"),
    [
        ({"kind": "majority"}, 3, 2, Outcome.PASS),
        ({"kind": "majority"}, 2, 2, Outcome.FAIL),  # a tie is not a majority
        ({"kind": "unanimity"}, 4, 1, Outcome.FAIL),
        ({"kind": "unanimity"}, 5, 0, Outcome.PASS),
        ({"kind": "agreement"}, 4, 1, Outcome.UNDECIDED),  # cannot close while they differ
        ({"kind": "agreement"}, 0, 5, Outcome.FAIL),
        ({"kind": "agreement"}, 5, 0, Outcome.PASS),
        # >= 2/3 of 7 = 4.67: 5 pass, 4 do not
        ({"kind": "fraction", "numerator": 2, "denominator": 3}, 5, 2, Outcome.PASS),
        ({"kind": "fraction", "numerator": 2, "denominator": 3}, 4, 3, Outcome.FAIL),
        # >= 2/3 of 6 = exactly 4: 4 pass
        ({"kind": "fraction", "numerator": 2, "denominator": 3}, 4, 2, Outcome.PASS),
        # >= 60 % of 7 = 4.2 votes; rounded up: 5 needed
        ({"kind": "percent", "percent": "60", "rounding": "up"}, 4, 3, Outcome.FAIL),
        ({"kind": "percent", "percent": "60", "rounding": "up"}, 5, 2, Outcome.PASS),
        # rounded down: 4 needed
        ({"kind": "percent", "percent": "60", "rounding": "down"}, 4, 3, Outcome.PASS),
        # half up: 4.2 -> 4; of 9 voters 5.4 -> 5; of 5 voters 3.0 -> 3
        ({"kind": "percent", "percent": "60", "rounding": "half_up"}, 4, 3, Outcome.PASS),
        ({"kind": "percent", "percent": "60", "rounding": "half_up"}, 2, 3, Outcome.FAIL),
        ({"kind": "percent", "percent": "50", "rounding": "half_up"}, 2, 1, Outcome.PASS),
        # 50 % of 3 = 1.5, half up -> 2: one vote is not enough
        ({"kind": "percent", "percent": "50", "rounding": "half_up"}, 1, 2, Outcome.FAIL),
    ],
)
def test_vote_thresholds(rule: dict[str, Any], passes: int, fails: int, outcome: Outcome) -> None:
    assert VoteRule.from_dict(rule).decide(passes, fails) is outcome


def test_percent_rounded_down_still_needs_one_vote() -> None:
    # 1 voter x 60 % = 0.6, rounded down = 0: a question still needs one pass
    rule = VoteRule.from_dict({"kind": "percent", "percent": "60", "rounding": "down"})
    assert rule.decide(0, 1) is Outcome.FAIL
    assert rule.decide(1, 0) is Outcome.PASS


def test_undecided_until_every_vote_is_in() -> None:
    rule = VoteRule.from_dict("majority")
    assert rule.decide(3, 0, expected=5) is Outcome.UNDECIDED
    assert rule.decide(3, 2, expected=5) is Outcome.PASS
    refused("invalid_vote", rule.decide, 4, 2, 5)
    refused("missing_verdict", rule.decide, 0, 0)


@pytest.mark.parametrize(
    "d",
    [
        {"kind": "fraction", "numerator": 3, "denominator": 2},
        {"kind": "fraction", "numerator": 2},
        {"kind": "percent", "percent": "60"},  # the rounding must be stated
        {"kind": "percent", "percent": "0", "rounding": "up"},
        {"kind": "percent", "percent": "60", "rounding": "sideways"},
        {"kind": "majority", "percent": "60", "rounding": "up"},
        {"kind": "plurality"},
    ],
)
def test_bad_vote_rule_refused(d: dict[str, Any]) -> None:
    refused("invalid_rule", VoteRule.from_dict, d)


@pytest.mark.parametrize(
    "d",
    [
        {"kind": "majority"},
        {"kind": "agreement"},
        {"kind": "fraction", "numerator": 2, "denominator": 3},
        {"kind": "percent", "percent": "60", "rounding": "up"},
    ],
)
def test_vote_rule_round_trips(d: dict[str, Any]) -> None:
    assert VoteRule.from_dict(d).to_dict() == d


# --- the floating point drawn at the opening (浮动点) -----------------------------------------

CHOICES = tuple(D(c) for c in ("1.5", "1.25", "1", "0.75", "0.5", "0.25"))


def recompute(seed: bytes, n: int) -> int:
    """The draw as documented, written out independently with hashlib."""
    label = b"evalroom/floating-point/v1\x00"
    for attempt in range(256):
        x = int.from_bytes(hashlib.sha256(label + seed + bytes([attempt])).digest(), "big")
        if x < (2**256 // n) * n:
            return x % n
    raise AssertionError("no draw")


def test_the_draw_is_recomputable_from_the_revealed_seed() -> None:
    seed = bytes(range(32))
    commitment = commit_seed(seed)
    assert commitment == hashlib.sha256(seed).hexdigest()
    drawn = draw_floating_point(CHOICES, seed, commitment)
    assert drawn == CHOICES[recompute(seed, len(CHOICES))]
    assert FloatingPointSet(CHOICES).draw(seed, commitment.upper()) == drawn


def test_the_draw_reaches_every_choice() -> None:
    seen = {
        draw_floating_point(CHOICES, s, commit_seed(s))
        for s in (i.to_bytes(16, "big") for i in range(200))
    }
    assert seen == set(CHOICES)


def test_a_seed_not_matching_its_commitment_is_refused() -> None:
    seed = bytes(range(32))
    refused("seed_mismatch", draw_floating_point, CHOICES, seed, commit_seed(b"x" * 32))
    refused("seed_too_short", draw_floating_point, CHOICES, b"short", commit_seed(b"short"))


def test_a_floating_point_must_be_one_of_the_set() -> None:
    fps = FloatingPointSet(CHOICES)
    assert fps.check(D("0.75")) == D("0.75")
    refused("floating_point_out_of_range", fps.check, D("0.8"))
    refused("floating_point_missing", fps.check, None)
    refused("invalid_rule", FloatingPointSet, (D("1"),))
    refused("invalid_rule", FloatingPointSet, (D("1"), D("1")))
