"""Scoring methods as data (评标办法): every expected figure is worked out by hand below."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from evalroom.domain.rules import RuleError
from evalroom.domain.scoring import (
    BidFigures,
    ExpertSheet,
    PriceRule,
    ScoringMethod,
    evaluate,
    find_deviations,
    round_half_up,
)

D = Decimal


def price_rule(**overrides: Any) -> PriceRule:
    d: dict[str, Any] = {
        "base": {"trim": None, "coefficient": "1", "floating_point": None, "decimals": 2},
        "deviation": "percent",
        "above": [{"up_to": None, "points_per_percent": "1"}],
        "below": [{"up_to": None, "points_per_percent": "0.5"}],
    }
    d.update(overrides)
    return PriceRule.from_dict(d)


def base_of(rule: PriceRule, *prices: str, floating_point: str | None = None) -> Decimal:
    priced = {f"B{i}": D(p) for i, p in enumerate(prices, 1)}
    fp = None if floating_point is None else D(floating_point)
    return rule.base.compute(priced, fp).value


def with_trim(count: int, from_bids: int) -> PriceRule:
    return price_rule(base={"trim": {"count": count, "from_bids": from_bids}})


def bids(*figures: tuple[str, str]) -> list[BidFigures]:
    return [BidFigures.from_dict({"bid_id": b, "price": p}) for b, p in figures]


def sheets_from_table(
    scores: Mapping[str, Mapping[str, Sequence[str]]],
    verdicts: Mapping[str, Mapping[str, Sequence[bool]]] | None = None,
    experts: Sequence[str] = ("E1", "E2", "E3", "E4", "E5"),
) -> list[ExpertSheet]:
    """``scores[criterion][bid]`` lists the experts' scores in the order of ``experts``."""
    sheets = []
    for i, expert in enumerate(experts):
        by_bid: dict[str, dict[str, str]] = {}
        for cid, row in scores.items():
            for bid, values in row.items():
                by_bid.setdefault(bid, {})[cid] = values[i]
        said: dict[str, dict[str, bool]] = {}
        for cid, vrow in (verdicts or {}).items():
            for bid, votes in vrow.items():
                said.setdefault(bid, {})[cid] = votes[i]
        sheets.append(
            ExpertSheet.from_dict({"expert_id": expert, "scores": by_bid, "verdicts": said})
        )
    return sheets


def expert_method(**overrides: Any) -> ScoringMethod:
    d: dict[str, Any] = {
        "kind": "comprehensive",
        "criteria": [{"id": "tech", "name": "技术方案", "kind": "expert", "max_points": "30"}],
        "price_rule": None,
    }
    d.update(overrides)
    return ScoringMethod.from_dict(d)


# --- base price (评标基准价) ----------------------------------------------------------------


def test_base_trims_single_highest_and_lowest_from_four_bids() -> None:
    rule = with_trim(1, 4)
    # 4 bids: drop 100 and 1000 -> (200 + 300) / 2 = 250
    assert base_of(rule, "100", "200", "300", "1000") == D("250.00")
    # 3 bids: below the threshold, no trim -> (100 + 200 + 600) / 3 = 300
    assert base_of(rule, "100", "200", "600") == D("300.00")


def test_base_trims_single_highest_and_lowest_from_five_bids() -> None:
    rule = with_trim(1, 5)
    # 4 bids: no trim -> (100 + 200 + 300 + 1000) / 4 = 1600 / 4 = 400
    assert base_of(rule, "100", "200", "300", "1000") == D("400.00")
    # 5 bids: drop 100 and 1000 -> (200 + 300 + 400) / 3 = 300
    assert base_of(rule, "100", "200", "300", "400", "1000") == D("300.00")


def test_base_trims_n_highest_and_n_lowest() -> None:
    rule = with_trim(2, 7)
    # 7 bids: drop 90, 95 (lowest two) and 110, 120 (highest two) -> (100 + 101 + 102) / 3 = 101
    assert base_of(rule, "120", "90", "101", "95", "110", "100", "102") == D("101.00")
    # 6 bids: no trim -> (90 + 95 + 100 + 101 + 110 + 120) / 6 = 616 / 6 = 102.666.. -> 102.67
    assert base_of(rule, "120", "90", "101", "95", "110", "100") == D("102.67")


def test_base_never_trims() -> None:
    rule = price_rule()
    # (100 + 200 + 300 + 1000) / 4 = 400
    assert base_of(rule, "100", "200", "300", "1000") == D("400.00")
    # (100 + 100 + 101) / 3 = 100.333.. -> 100.33
    assert base_of(rule, "100", "100", "101") == D("100.33")


def test_base_records_which_bids_were_trimmed() -> None:
    base = with_trim(1, 4).base.compute(
        {"A": D("300"), "B": D("100"), "C": D("200"), "D": D("1000")}
    )
    assert (base.dropped_low, base.dropped_high) == (("B",), ("D",))
    assert list(base.prices) == ["B", "C", "A", "D"]
    assert base.mean == D("250.0000")


def test_base_times_downward_coefficient() -> None:
    rule = price_rule(base={"coefficient": "0.97"})
    # mean (1000 + 1100 + 1200) / 3 = 1100; x 0.97 = 1067.00
    assert base_of(rule, "1000", "1100", "1200") == D("1067.00")


def test_base_lowered_by_the_floating_point() -> None:
    rule = price_rule(base={"floating_point": {"low": "0", "high": "3"}})
    # mean 1100; floating point 2.5% -> 1100 x (1 - 0.025) = 1100 x 0.975 = 1072.50
    assert base_of(rule, "1000", "1100", "1200", floating_point="2.5") == D("1072.50")


def test_coefficient_and_floating_point_round_half_up_once() -> None:
    rule = price_rule(base={"coefficient": "0.97", "floating_point": {"low": "0", "high": "3"}})
    # 1100 x 0.97 = 1067; 1067 x 0.975 = 1040.325 -> half up -> 1040.33 (half-even: 1040.32)
    assert base_of(rule, "1000", "1100", "1200", floating_point="2.5") == D("1040.33")


@pytest.mark.parametrize(
    ("floating_point", "code"),
    [(None, "floating_point_missing"), ("3.01", "floating_point_out_of_range")],
)
def test_floating_point_must_be_given_and_in_range(floating_point: str | None, code: str) -> None:
    rule = price_rule(base={"floating_point": {"low": "0", "high": "3"}})
    with pytest.raises(RuleError) as e:
        base_of(rule, "1000", floating_point=floating_point)
    assert e.value.code == code


def test_floating_point_refused_when_the_method_has_none() -> None:
    with pytest.raises(RuleError) as e:
        base_of(price_rule(), "1000", floating_point="1")
    assert e.value.code == "floating_point_unexpected"


# --- deviation (偏差率) and price score ------------------------------------------------------


def test_deviation_in_percent_rounds_half_up_to_two_decimals() -> None:
    # (968.75 - 1000) / 1000 = -0.03125 = -3.125% -> -3.13
    assert price_rule().deviation_of(D("968.75"), D("1000.00")) == D("-3.13")


def test_deviation_as_ratio_rounds_half_up_to_four_decimals() -> None:
    # -0.03125 -> -0.0313
    assert price_rule(deviation="ratio").deviation_of(D("968.75"), D("1000.00")) == D("-0.0313")


def test_price_score_interpolates_between_whole_percents() -> None:
    rule = price_rule()  # E1 = 1 per 1% above, E2 = 0.5 per 1% below, full 60
    base = D("1000.00")
    # 1023.40: +2.34% -> 60 - 1 x 2.34 = 57.66
    assert rule.score(rule.deviation_of(D("1023.40"), base), D("60")) == D("57.66")
    # 968.50: -3.15% -> 60 - 0.5 x 3.15 = 60 - 1.575 = 58.425 -> half up 58.43 (half-even 58.42)
    assert rule.score(rule.deviation_of(D("968.50"), base), D("60")) == D("58.43")
    # at the base: full points
    assert rule.score(rule.deviation_of(base, base), D("60")) == D("60.00")


def test_price_score_piecewise_bands() -> None:
    rule = price_rule(
        above=[{"up_to": None, "points_per_percent": "2"}],
        below=[
            {"up_to": "8", "points_per_percent": "1"},
            {"up_to": None, "points_per_percent": "4"},
        ],
    )
    # -5%: within the first band -> 60 - 1 x 5 = 55
    assert rule.score(D("-5"), D("60")) == D("55.00")
    # -8.5%: 8 x 1 + 0.5 x 4 = 10 -> 50
    assert rule.score(D("-8.5"), D("60")) == D("50.00")
    # -10%: 8 x 1 + 2 x 4 = 16 -> 44
    assert rule.score(D("-10"), D("60")) == D("44.00")
    # +3%: 2 x 3 = 6 -> 54
    assert rule.score(D("3"), D("60")) == D("54.00")


def test_price_score_highway_formula() -> None:
    rule = price_rule(
        deviation="ratio",
        above=[{"up_to": None, "points_per_percent": "2"}],  # E1 = 2
        below=[{"up_to": None, "points_per_percent": "1"}],  # E2 = 1
    )
    base = D("1000.00")
    # above: dev = 31.25 / 1000 = 0.03125 -> 0.0313; 100 - 0.0313 x 100 x 2 = 100 - 6.26 = 93.74
    dev = rule.deviation_of(D("1031.25"), base)
    assert (dev, rule.score(dev, D("100"))) == (D("0.0313"), D("93.74"))
    # below: dev = -0.05; 100 + (-0.05) x 100 x 1 = 95
    dev = rule.deviation_of(D("950.00"), base)
    assert (dev, rule.score(dev, D("100"))) == (D("-0.0500"), D("95.00"))


def test_price_score_never_below_zero() -> None:
    rule = price_rule(above=[{"up_to": None, "points_per_percent": "10"}])
    # +7% x 10 = 70 points off 60 -> -10 -> floor 0
    assert rule.score(D("7"), D("60")) == D("0.00")


def test_round_half_up_goes_away_from_zero_at_five() -> None:
    assert round_half_up(Fraction("2.345"), 2) == D("2.35")
    assert round_half_up(Fraction("-2.345"), 2) == D("-2.35")
    assert round_half_up(Fraction("2.3449"), 2) == D("2.34")
    assert round_half_up(Fraction("-0.001"), 2) == D("0.00")


# --- expert aggregation and pass/fail -------------------------------------------------------


def tech_scores(*values: str) -> dict[str, dict[str, Sequence[str]]]:
    return {"tech": {"B1": values}}


def test_expert_mean_drops_highest_and_lowest_from_five_experts() -> None:
    sheets = sheets_from_table(tech_scores("20", "22", "23", "25", "28"))
    result = evaluate(expert_method(), bids(("B1", "1000")), sheets).bid("B1")
    # drop 20 (E1) and 28 (E5): (22 + 23 + 25) / 3 = 70 / 3 = 23.333.. -> 23.33
    assert result.criteria[0].score == D("23.33")
    assert result.criteria[0].dropped == ("E1", "E5")
    assert result.total == D("23.33")


def test_expert_mean_keeps_every_score_below_the_threshold() -> None:
    sheets = sheets_from_table(
        tech_scores("20", "22", "25", "28"), experts=("E1", "E2", "E3", "E4")
    )
    result = evaluate(expert_method(), bids(("B1", "1000")), sheets).bid("B1")
    # 4 experts < 5: (20 + 22 + 25 + 28) / 4 = 95 / 4 = 23.75
    assert (result.criteria[0].score, result.criteria[0].dropped) == (D("23.75"), ())


def test_expert_mean_without_dropping_when_configured_never() -> None:
    method = expert_method(aggregation={"level": "criterion", "drop_high_low_from": None})
    sheets = sheets_from_table(tech_scores("20", "22", "23", "25", "28"))
    # (20 + 22 + 23 + 25 + 28) / 5 = 118 / 5 = 23.6
    assert evaluate(method, bids(("B1", "1000")), sheets).bid("B1").total == D("23.60")


TWO_CRITERIA = [
    {"id": "a", "name": "技术", "kind": "expert", "max_points": "50"},
    {"id": "b", "name": "商务", "kind": "expert", "max_points": "50"},
]
#          E1  E2  E3  E4  E5
# a:       40  45  35  50  30
# b:       40  45  35  35  30
# totals:  80  90  70  85  60
TWO_CRITERIA_SCORES = {
    "a": {"B1": ["40", "45", "35", "50", "30"]},
    "b": {"B1": ["40", "45", "35", "35", "30"]},
}


def test_total_level_drops_highest_and_lowest_expert_total() -> None:
    method = expert_method(criteria=TWO_CRITERIA, aggregation={"level": "total"})
    result = evaluate(method, bids(("B1", "1000")), sheets_from_table(TWO_CRITERIA_SCORES)).bid(
        "B1"
    )
    # drop 60 (E5) and 90 (E2): (80 + 70 + 85) / 3 = 235 / 3 = 78.333.. -> 78.33
    assert result.expert_totals == {"E1": D(80), "E2": D(90), "E3": D(70), "E4": D(85), "E5": D(60)}
    assert result.dropped_totals == ("E5", "E2")
    assert (result.expert_part, result.total) == (D("78.33"), D("78.33"))
    assert all(c.score is None for c in result.criteria)


def test_criterion_level_gives_a_different_figure_for_the_same_sheets() -> None:
    method = expert_method(criteria=TWO_CRITERIA)
    result = evaluate(method, bids(("B1", "1000")), sheets_from_table(TWO_CRITERIA_SCORES)).bid(
        "B1"
    )
    # a: drop 30, 50 -> (40 + 45 + 35) / 3 = 40; b: drop 30, 45 -> (40 + 35 + 35) / 3 = 36.666.. -> 36.67
    assert [c.score for c in result.criteria] == [D("40.00"), D("36.67")]
    assert result.total == D("76.67")


def test_total_level_keeps_every_total_with_four_experts() -> None:
    method = expert_method(criteria=TWO_CRITERIA, aggregation={"level": "total"})
    four = {c: {"B1": list(v["B1"][:4])} for c, v in TWO_CRITERIA_SCORES.items()}
    sheets = sheets_from_table(four, experts=("E1", "E2", "E3", "E4"))
    # (80 + 90 + 70 + 85) / 4 = 325 / 4 = 81.25
    assert evaluate(method, bids(("B1", "1000")), sheets).bid("B1").total == D("81.25")


QUALIFICATION = {"id": "qual", "name": "资格评审", "kind": "pass_fail", "max_points": None}


def pass_fail_method(rule: str) -> ScoringMethod:
    return ScoringMethod.from_dict(
        {"kind": "lowest_evaluated_price", "criteria": [QUALIFICATION], "pass_fail": rule}
    )


def votes(*said: bool) -> dict[str, dict[str, Sequence[bool]]]:
    return {"qual": {"B1": said}}


def test_majority_passes_three_votes_of_five() -> None:
    sheets = sheets_from_table({}, votes(True, True, False, True, False))
    result = evaluate(pass_fail_method("majority"), bids(("B1", "1000")), sheets).bid("B1")
    assert (result.passed, result.verdicts[0].passes, result.verdicts[0].fails) == (True, 3, 2)


def test_majority_fails_a_tied_vote() -> None:
    sheets = sheets_from_table(
        {}, votes(True, False, True, False), experts=("E1", "E2", "E3", "E4")
    )
    result = evaluate(pass_fail_method("majority"), bids(("B1", "1000")), sheets)
    assert (result.bid("B1").passed, result.bid("B1").rank, result.recommended) == (False, None, ())


def test_unanimity_fails_on_a_single_no() -> None:
    sheets = sheets_from_table({}, votes(True, True, True, True, False))
    assert (
        not evaluate(pass_fail_method("unanimity"), bids(("B1", "1000")), sheets).bid("B1").passed
    )
    sheets = sheets_from_table({}, votes(True, True, True, True, True))
    assert evaluate(pass_fail_method("unanimity"), bids(("B1", "1000")), sheets).bid("B1").passed


# --- ranking --------------------------------------------------------------------------------


def test_ties_go_to_the_lower_price_then_the_bid_id() -> None:
    scores = {"tech": {"BX": ["8"] * 3, "BA": ["8"] * 3, "BM": ["8"] * 3}}
    sheets = sheets_from_table(scores, experts=("E1", "E2", "E3"))
    figures = bids(("BX", "1000.00"), ("BA", "1000.00"), ("BM", "990.00"))
    ranking = evaluate(expert_method(), figures, sheets)
    # all total 8.00: BM has the lower price; BA and BX tie on price too -> by id
    assert [(b.bid_id, b.rank) for b in ranking.bids] == [("BM", 1), ("BA", 2), ("BX", 3)]


def test_arithmetic_errors_cost_points_from_the_total() -> None:
    method = expert_method(arithmetic_error_penalty="2")
    sheets = sheets_from_table({"tech": {"B1": ["20"] * 3}}, experts=("E1", "E2", "E3"))
    figures = [BidFigures.from_dict({"bid_id": "B1", "price": "1000", "arithmetic_errors": 3})]
    result = evaluate(method, figures, sheets).bid("B1")
    # 20 - 3 x 2 = 14
    assert (result.penalty, result.total) == (D("6.00"), D("14.00"))


def test_lowest_evaluated_price_ranks_passing_bids_by_price_plus_adjustment() -> None:
    figures = [
        BidFigures.from_dict({"bid_id": b, "price": p, "adjustment": a})
        for b, p, a in [
            ("B1", "1000", "30"),  # 1030
            ("B2", "1010", "0"),  # 1010
            ("B3", "990", "50"),  # 1040
            ("B4", "950", "0"),  # 950, but fails the qualification
            ("B5", "1020", "-10"),  # 1010: ties with B2, whose price is lower
        ]
    ]
    verdicts = {"qual": {b: [b != "B4"] * 3 for b in ["B1", "B2", "B3", "B4", "B5"]}}
    sheets = sheets_from_table({}, verdicts, experts=("E1", "E2", "E3"))
    ranking = evaluate(pass_fail_method("majority"), figures, sheets)
    ranked = [(b.bid_id, b.evaluated_price, b.rank) for b in ranking.bids]
    assert ranked == [
        ("B2", D("1010"), 1),
        ("B5", D("1010"), 2),
        ("B1", D("1030"), 3),
        ("B3", D("1040"), 4),
        ("B4", None, None),
    ]
    assert ranking.recommended == ("B2", "B5", "B1")
    assert ranking.base_price is None


# --- the worked example ---------------------------------------------------------------------

WORKED_METHOD: dict[str, Any] = {
    "kind": "comprehensive",
    "criteria": [
        {"id": "qual", "name": "资格评审", "kind": "pass_fail", "max_points": None},
        {"id": "tech", "name": "施工组织设计", "kind": "expert", "max_points": "30"},
        {"id": "plan", "name": "工期与质量", "kind": "expert", "max_points": "10"},
        {"id": "cred", "name": "企业信誉", "kind": "expert", "max_points": "10"},
        {"id": "price", "name": "投标报价", "kind": "price", "max_points": "50"},
    ],
    "price_rule": {
        "base": {
            "trim": {"count": 1, "from_bids": 5},
            "coefficient": "0.98",
            "floating_point": None,
            "decimals": 2,
        },
        "deviation": "percent",
        "above": [{"up_to": None, "points_per_percent": "1"}],
        "below": [{"up_to": None, "points_per_percent": "0.5"}],
    },
    "aggregation": {"level": "criterion", "drop_high_low_from": 5},
    "pass_fail": "majority",
    "arithmetic_error_penalty": "2",
    "recommend": 3,
}

# Experts E1..E5 in order.            sorted, dropped lowest & highest -> mean of three
WORKED_SCORES = {
    "tech": {
        "B3": ["24", "25", "26", "27", "29"],  # 25 26 27             -> 78/3 = 26.00
        "B5": ["20", "28", "27", "26", "25"],  # 25 26 27             -> 78/3 = 26.00
        "B1": ["28", "28", "27", "29", "30"],  # 28 28 29             -> 85/3 = 28.333 -> 28.33
        "B2": ["22", "23", "21", "24", "26"],  # 22 23 24             -> 69/3 = 23.00
        "B4": ["29", "30", "28", "29", "27"],  # 28 29 29             -> 86/3 = 28.666 -> 28.67
    },
    "plan": {
        "B3": ["8", "8", "9", "7", "8"],  # 8 8 8                 -> 24/3 = 8.00
        "B5": ["9", "9", "8", "9", "10"],  # 9 9 9                -> 27/3 = 9.00
        "B1": ["7.5", "8", "8.5", "8", "9"],  # 8 8 8.5           -> 24.5/3 = 8.1666 -> 8.17
        "B2": ["6", "7", "7", "8", "6"],  # 6 7 7                 -> 20/3 = 6.666 -> 6.67
        "B4": ["9", "8", "9", "10", "9"],  # 9 9 9                -> 27/3 = 9.00
    },
    "cred": {
        "B3": ["9", "9", "9", "9", "9"],  # 9 9 9                 -> 9.00
        "B5": ["8", "8", "8", "8", "8"],  # 8 8 8                 -> 8.00
        "B1": ["7", "8", "6", "7", "7"],  # 7 7 7                 -> 7.00
        "B2": ["10", "9", "9", "9", "8"],  # 9 9 9                -> 9.00
        "B4": ["6", "7", "8", "7", "5"],  # 6 7 7                 -> 20/3 = 6.666 -> 6.67
    },
}
# Qualification: E3 votes B2 fails, the other four pass it -> 4 to 1, B2 passes.
WORKED_VERDICTS = {
    "qual": {b: [True, True, b != "B2", True, True] for b in ["B1", "B2", "B3", "B4", "B5"]}
}
WORKED_BIDS: list[dict[str, Any]] = [
    {"bid_id": "B1", "price": "1040.00", "arithmetic_errors": 1},
    {"bid_id": "B2", "price": "900.00"},
    {"bid_id": "B3", "price": "960.00"},
    {"bid_id": "B4", "price": "1100.00"},
    {"bid_id": "B5", "price": "1000.00"},
]


def test_worked_example_five_bids_five_experts() -> None:
    method = ScoringMethod.from_dict(WORKED_METHOD)
    figures = [BidFigures.from_dict(b) for b in WORKED_BIDS]
    ranking = evaluate(method, figures, sheets_from_table(WORKED_SCORES, WORKED_VERDICTS))

    # Base: prices sorted 900 (B2) 960 (B3) 1000 (B5) 1040 (B1) 1100 (B4); 5 bids -> drop B2, B4;
    # mean (960 + 1000 + 1040) / 3 = 1000; x 0.98 = 980.00
    base = ranking.base_price
    assert base is not None
    assert (base.dropped_low, base.dropped_high, base.value) == (("B2",), ("B4",), D("980.00"))

    # Deviation (price - 980) / 980 in percent, 2 dp; price score out of 50:
    #   B3  -20/980 = -2.0408% -> -2.04  50 - 0.5 x 2.04 = 48.98
    #   B5  +20/980 = +2.0408% -> +2.04  50 - 2.04       = 47.96
    #   B1  +60/980 = +6.1224% -> +6.12  50 - 6.12       = 43.88
    #   B2  -80/980 = -8.1632% -> -8.16  50 - 0.5 x 8.16 = 45.92
    #   B4 +120/980 = 12.2448% -> 12.24  50 - 12.24      = 37.76
    # Totals = tech + plan + cred + price - 2 x errors:
    #   B3  26.00 + 8.00 + 9.00 + 48.98     = 91.98
    #   B5  26.00 + 9.00 + 8.00 + 47.96     = 90.96
    #   B1  28.33 + 8.17 + 7.00 + 43.88 - 2 = 85.38
    #   B2  23.00 + 6.67 + 9.00 + 45.92     = 84.59
    #   B4  28.67 + 9.00 + 6.67 + 37.76     = 82.10
    expected = [
        ("B3", D("-2.04"), D("48.98"), [D("26.00"), D("8.00"), D("9.00")], D("91.98")),
        ("B5", D("2.04"), D("47.96"), [D("26.00"), D("9.00"), D("8.00")], D("90.96")),
        ("B1", D("6.12"), D("43.88"), [D("28.33"), D("8.17"), D("7.00")], D("85.38")),
        ("B2", D("-8.16"), D("45.92"), [D("23.00"), D("6.67"), D("9.00")], D("84.59")),
        ("B4", D("12.24"), D("37.76"), [D("28.67"), D("9.00"), D("6.67")], D("82.10")),
    ]
    got = [
        (b.bid_id, b.deviation, b.price_score, [c.score for c in b.criteria], b.total)
        for b in ranking.bids
    ]
    assert got == expected
    assert [b.rank for b in ranking.bids] == [1, 2, 3, 4, 5]
    assert ranking.recommended == ("B3", "B5", "B1")
    assert ranking.bid("B1").penalty == D("2.00")
    assert ranking.bid("B2").verdicts[0].fails == 1
    assert ranking.bid("B3").criteria[0].dropped == ("E1", "E5")


def test_worked_example_ranking_prints_as_plain_json() -> None:
    method = ScoringMethod.from_dict(WORKED_METHOD)
    figures = [BidFigures.from_dict(b) for b in WORKED_BIDS]
    ranking = evaluate(method, figures, sheets_from_table(WORKED_SCORES, WORKED_VERDICTS))
    printed = json.loads(json.dumps(ranking.to_dict(), ensure_ascii=False))
    assert printed["base_price"]["value"] == "980.00"
    assert printed["bids"][0]["total"] == "91.98"
    assert printed["recommended"] == ["B3", "B5", "B1"]


def test_a_bid_failing_the_review_is_left_out_of_the_base_price() -> None:
    verdicts = {"qual": {b: [b != "B4"] * 5 for b in ["B1", "B2", "B3", "B4", "B5"]}}
    method = ScoringMethod.from_dict(WORKED_METHOD)
    figures = [BidFigures.from_dict(b) for b in WORKED_BIDS]
    ranking = evaluate(method, figures, sheets_from_table(WORKED_SCORES, verdicts))
    base = ranking.base_price
    assert base is not None
    # 4 valid bids < 5: no trim; (900 + 960 + 1000 + 1040) / 4 = 975; x 0.98 = 955.50
    assert (base.dropped_low, base.value) == ((), D("955.50"))
    assert ranking.bids[-1].bid_id == "B4" and ranking.bids[-1].rank is None


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize("points", ["30.01", "-1"])
def test_score_out_of_range_refused(points: str) -> None:
    sheets = sheets_from_table(tech_scores("20", "22", points), experts=("E1", "E2", "E3"))
    with pytest.raises(RuleError) as e:
        evaluate(expert_method(), bids(("B1", "1000")), sheets)
    assert e.value.code == "score_out_of_range"


def test_missing_score_refused() -> None:
    sheets = sheets_from_table(tech_scores("20", "22", "25"), experts=("E1", "E2", "E3"))
    sheets.append(ExpertSheet("E4"))
    with pytest.raises(RuleError) as e:
        evaluate(expert_method(), bids(("B1", "1000")), sheets)
    assert e.value.code == "missing_score"


def test_missing_verdict_refused() -> None:
    sheets = sheets_from_table({}, votes(True, True, True, True), experts=("E1", "E2", "E3", "E4"))
    sheets.append(ExpertSheet("E5"))
    with pytest.raises(RuleError) as e:
        evaluate(pass_fail_method("majority"), bids(("B1", "1000")), sheets)
    assert e.value.code == "missing_verdict"


# --- deviation check (评分偏离) ---------------------------------------------------------------


def deviation_sheets(*values: str) -> list[ExpertSheet]:
    experts = [f"E{i}" for i in range(1, len(values) + 1)]
    return sheets_from_table(tech_scores(*values), experts=experts)


def test_deviation_exactly_at_thirty_percent_is_not_flagged() -> None:
    # E5: others' mean (20 x 4) / 4 = 20; |26 - 20| / 20 = 0.30, not more than 0.30
    # E1..E4: others' mean (20 x 3 + 26) / 4 = 21.5; |20 - 21.5| / 21.5 = 0.0698
    assert find_deviations(deviation_sheets("20", "20", "20", "20", "26")) == []
    # below: |14 - 20| / 20 = 0.30 -> not flagged
    assert find_deviations(deviation_sheets("20", "20", "20", "20", "14")) == []


def test_deviation_beyond_thirty_percent_is_flagged() -> None:
    # E5: |26.5 - 20| / 20 = 6.5 / 20 = 0.325 > 0.30
    (found,) = find_deviations(deviation_sheets("20", "20", "20", "20", "26.5"))
    assert (found.expert_id, found.bid_id, found.criterion_id) == ("E5", "B1", "tech")
    assert (found.score, found.others_mean, found.relative) == (D("26.5"), D("20"), D("0.3250"))
    # below: |13.9 - 20| / 20 = 0.305
    (found,) = find_deviations(deviation_sheets("20", "20", "20", "20", "13.9"))
    assert (found.expert_id, found.relative) == ("E5", D("0.3050"))


def test_deviation_threshold_is_configurable() -> None:
    # |24 - 20| / 20 = 0.20 > 0.15
    found = find_deviations(deviation_sheets("20", "20", "20", "20", "24"), threshold=D("0.15"))
    assert [d.expert_id for d in found] == ["E5"]


def test_deviation_when_the_others_gave_zero() -> None:
    # E5: others' mean 0 -> any non-zero score deviates (relative unbounded, reported None).
    # E1..E4: others' mean (0 x 3 + 1) / 4 = 0.25; |0 - 0.25| / 0.25 = 1.00 > 0.30 -> flagged too.
    found = find_deviations(deviation_sheets("0", "0", "0", "0", "1"))
    assert [(d.expert_id, d.others_mean, d.relative) for d in found] == [
        ("E1", D("0.2500"), D("1.0000")),
        ("E2", D("0.2500"), D("1.0000")),
        ("E3", D("0.2500"), D("1.0000")),
        ("E4", D("0.2500"), D("1.0000")),
        ("E5", D("0.0000"), None),
    ]
    # everyone 0: a 0 against others' mean 0 is no deviation
    assert find_deviations(deviation_sheets("0", "0", "0")) == []


# --- the method as data ---------------------------------------------------------------------


def test_method_round_trips_through_json() -> None:
    method = ScoringMethod.from_dict(WORKED_METHOD)
    text = json.dumps(method.to_dict(), ensure_ascii=False)
    assert ScoringMethod.from_dict(json.loads(text)) == method
    assert json.loads(text) == WORKED_METHOD


def test_method_with_bands_and_floating_point_round_trips() -> None:
    d = dict(WORKED_METHOD)
    d["price_rule"] = {
        "base": {
            "trim": {"count": 2, "from_bids": 7},
            "coefficient": "1",
            "floating_point": {"low": "0.5", "high": "3"},
            "decimals": 2,
        },
        "deviation": "ratio",
        "above": [{"up_to": None, "points_per_percent": "2"}],
        "below": [
            {"up_to": "8", "points_per_percent": "1"},
            {"up_to": None, "points_per_percent": "4"},
        ],
    }
    d["aggregation"] = {"level": "total", "drop_high_low_from": None}
    method = ScoringMethod.from_dict(d)
    assert method.to_dict() == d
    assert ScoringMethod.from_dict(json.loads(json.dumps(method.to_dict()))) == method


def broken(path: Sequence[str | int], value: object) -> dict[str, Any]:
    d: Any = json.loads(json.dumps(WORKED_METHOD))
    target = d
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    result: dict[str, Any] = d
    return result


@pytest.mark.parametrize(
    "method",
    [
        broken(["kind"], "auction"),
        broken(["recommend"], 0),
        broken(["arithmetic_error_penalty"], 2.0),  # floats are not exact
        broken(["price_rule", "base", "coefficient"], "1.2"),
        broken(["price_rule", "base", "trim"], {"count": 2, "from_bids": 4}),
        broken(["price_rule", "base", "coeficient"], "0.97"),  # unknown field
        broken(["price_rule", "below"], [{"up_to": "8", "points_per_percent": "1"}]),
        broken(["price_rule", "above"], []),
        broken(["price_rule"], None),  # a price criterion without a rule
        broken(["criteria", 1, "max_points"], None),
        broken(["criteria", 0, "max_points"], "5"),
        broken(["criteria", 2, "id"], "tech"),
        broken(["aggregation", "drop_high_low_from"], 2),
        broken(["kind"], "lowest_evaluated_price"),  # with expert criteria
    ],
)
def test_bad_rule_refused_as_invalid_rule(method: dict[str, Any]) -> None:
    with pytest.raises(RuleError) as e:
        ScoringMethod.from_dict(method)
    assert e.value.code == "invalid_rule"
