"""The method's rules applied by ``evaluate``: every expected figure is worked out by hand."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pytest

from evalroom.domain.corrections import Correction, correct_scores
from evalroom.domain.method_rules import Standing
from evalroom.domain.rules import RuleError
from evalroom.domain.scoring import BidFigures, ExpertSheet, Ranking, ScoringMethod, evaluate

D = Decimal

TECH = {"id": "tech", "name": "施工组织设计", "kind": "expert", "max_points": "30"}
PRICE = {"id": "price", "name": "投标报价", "kind": "price", "max_points": "70"}
QUAL = {"id": "qual", "name": "资格评审", "kind": "pass_fail", "max_points": None}
MEAN_RULE = {
    "base": {"trim": None, "coefficient": "1", "floating_point": None, "decimals": 2},
    "deviation": "percent",
    "above": [{"up_to": None, "points_per_percent": "1"}],
    "below": [{"up_to": None, "points_per_percent": "0.5"}],
}


def method(**fields: Any) -> ScoringMethod:
    d: dict[str, Any] = {
        "kind": "comprehensive",
        "criteria": [TECH, PRICE],
        "price_rule": MEAN_RULE,
    }
    d.update(fields)
    return ScoringMethod.from_dict(d)


def figures(*rows: tuple[str, str] | dict[str, Any]) -> list[BidFigures]:
    out = []
    for row in rows:
        d = row if isinstance(row, dict) else {"bid_id": row[0], "price": row[1]}
        out.append(BidFigures.from_dict(d))
    return out


def sheets(
    scores: Mapping[str, Mapping[str, Sequence[str]]],
    verdicts: Mapping[str, Mapping[str, Sequence[bool]]] | None = None,
    experts: Sequence[str] = ("E1", "E2", "E3"),
) -> list[ExpertSheet]:
    """``scores[criterion][bid]`` lists the experts' entries in the order of ``experts``;
    an entry of ``""`` means that expert enters nothing there."""
    out = []
    for i, expert in enumerate(experts):
        by_bid: dict[str, dict[str, str]] = {}
        for cid, row in scores.items():
            for bid, values in row.items():
                if values[i] != "":
                    by_bid.setdefault(bid, {})[cid] = values[i]
        said: dict[str, dict[str, bool]] = {}
        for cid, vrow in (verdicts or {}).items():
            for bid, votes in vrow.items():
                said.setdefault(bid, {})[cid] = votes[i]
        out.append(ExpertSheet.from_dict({"expert_id": expert, "scores": by_bid, "verdicts": said}))
    return out


def same(bids: Sequence[str], *values: str) -> dict[str, Sequence[str]]:
    return {b: values for b in bids}


def refused(code: str, call: Any, *args: Any, **kwargs: Any) -> None:
    with pytest.raises(RuleError) as e:
        call(*args, **kwargs)
    assert e.value.code == code, e.value.message


# --- the control price -------------------------------------------------------------------------


def control_case(**control: str) -> Ranking:
    m = method(criteria=[QUAL, TECH, PRICE], control_price={"limit": "1200", **control})
    bids = figures(("B1", "900"), ("B2", "1000"), ("B3", "1100"), ("B4", "1300"))
    # B4 is rejected at the opening: nobody reviews or scores it
    s = sheets(
        {"tech": same(["B1", "B2", "B3"], "20", "20", "20")},
        {"qual": same(["B1", "B2", "B3"], True, True, True)},
    )
    return evaluate(m, bids, s)


def test_a_bid_above_the_control_price_is_rejected_and_left_out_of_the_base() -> None:
    ranking = control_case()
    assert ranking.base_price is not None
    # (900 + 1000 + 1100) / 3 = 1000; with B4 it would have been 4300 / 4 = 1075
    assert ranking.base_price.value == D("1000.00")
    # B1 -10 % -> 70 - 10 x 0.5 = 65; B2 0 % -> 70; B3 +10 % -> 70 - 10 = 60; tech 20 each
    assert [(b.bid_id, b.total, b.rank) for b in ranking.bids] == [
        ("B2", D("90.00"), 1),
        ("B1", D("85.00"), 2),
        ("B3", D("80.00"), 3),
        ("B4", None, None),
    ]
    b4 = ranking.bid("B4")
    assert (b4.passed, b4.rejection, b4.verdicts) == (False, "above_control_price", ())
    assert b4.rejection_detail is not None and "1300" in b4.rejection_detail
    assert [s.standing for s in ranking.standings] == [Standing.VALID] * 3 + [Standing.REJECTED]
    printed = json.loads(json.dumps(ranking.to_dict(), ensure_ascii=False))
    assert printed["bids"][3]["rejection"] == "above_control_price"
    assert printed["standings"][3]["reason"] == "above_control_price"


def test_a_bid_below_the_floor_is_flagged_but_still_ranked() -> None:
    # floor = 1200 x 0.8 = 960: B1 at 900 must explain its price (低于成本评审)
    ranking = control_case(floor_ratio="0.8")
    assert ranking.bid("B1").flags == ("below_floor",) and ranking.bid("B1").rank == 2
    assert ranking.bid("B2").flags == ()


def test_every_bid_above_the_control_price_leaves_nothing_to_rank() -> None:
    m = method(control_price={"limit": "800"})
    ranking = evaluate(m, figures(("B1", "900"), ("B2", "1000")), sheets({}))
    assert ranking.base_price is None and ranking.recommended == ()
    assert {b.rejection for b in ranking.bids} == {"above_control_price"}


# --- scales ------------------------------------------------------------------------------------

RANGED = {**TECH, "max_points": "2", "scale": {"low": "1", "high": "2"}}
STEPPED = {
    "id": "projects",
    "name": "类似工程业绩",
    "kind": "expert",
    "max_points": "8",
    "scale": {"low": "0", "high": "8", "step": "4"},
}


def test_a_zero_on_a_one_to_two_item_is_refused() -> None:
    m = method(criteria=[RANGED, PRICE])
    ok = evaluate(m, figures(("B1", "1000")), sheets({"tech": same(["B1"], "1", "1.5", "2")}))
    assert ok.bid("B1").criteria[0].score == D("1.50")
    bad = sheets({"tech": same(["B1"], "0", "1.5", "2")})
    refused("score_out_of_range", evaluate, m, figures(("B1", "1000")), bad)


def test_four_points_per_project_at_most_eight() -> None:
    m = method(criteria=[STEPPED, PRICE])
    ok = evaluate(m, figures(("B1", "1000")), sheets({"projects": same(["B1"], "8", "4", "8")}))
    # (8 + 4 + 8) / 3 = 6.666.. -> 6.67
    assert ok.bid("B1").criteria[0].score == D("6.67")
    bad = sheets({"projects": same(["B1"], "8", "6", "8")})
    refused("score_not_allowed", evaluate, m, figures(("B1", "1000")), bad)


# --- penalties from the price score ------------------------------------------------------------

EXTERNAL_PRICE = {"formula": "external"}


def penalty_case(penalty_from: str) -> Ranking:
    m = method(price_rule=EXTERNAL_PRICE, arithmetic_error_penalty="2", penalty_from=penalty_from)
    bids = figures(
        {"bid_id": "B1", "price": "1000", "price_score": "3", "arithmetic_errors": 2},
        {"bid_id": "B2", "price": "1000", "price_score": "3", "arithmetic_errors": 1},
        {"bid_id": "B3", "price": "990", "price_score": "64.25"},
    )
    return evaluate(m, bids, sheets({"tech": same(["B1", "B2", "B3"], "20", "20", "20")}))


def test_penalties_taken_from_the_price_score_stop_at_zero() -> None:
    ranking = penalty_case("price_score")
    # B1: 3 - 2 x 2 = -1 -> 0; the total keeps the experts' 20 (nothing more comes off)
    b1 = ranking.bid("B1")
    assert (b1.price_score, b1.penalty, b1.total) == (D("0.00"), D("4.00"), D("20.00"))
    # B2: 3 - 2 = 1 -> total 21; B3: no error, 20 + 64.25 = 84.25
    assert ranking.bid("B2").total == D("21.00") and ranking.bid("B3").total == D("84.25")


def test_penalties_taken_from_the_total_go_below_the_price_score() -> None:
    ranking = penalty_case("total")
    # B1: 20 + 3 - 4 = 19 (the price score itself stays 3)
    assert (ranking.bid("B1").price_score, ranking.bid("B1").total) == (D("3"), D("19.00"))


# --- a price score computed elsewhere ----------------------------------------------------------


def test_an_external_price_score_is_taken_as_fed_in() -> None:
    ranking = penalty_case("total")
    assert ranking.base_price is None and ranking.bid("B3").deviation is None
    assert ranking.bid("B3").price_score == D("64.25")


def test_external_price_scores_are_checked() -> None:
    m = method(price_rule=EXTERNAL_PRICE)
    s = sheets({"tech": same(["B1"], "20", "20", "20")})
    refused("missing_price_score", evaluate, m, figures(("B1", "1000")), s)
    over = figures({"bid_id": "B1", "price": "1000", "price_score": "70.01"})
    refused("price_score_out_of_range", evaluate, m, over, s)
    fed = figures({"bid_id": "B1", "price": "1000", "price_score": "50"})
    refused("price_score_unexpected", evaluate, method(), fed, s)


# --- 低价优先法: base = the lowest valid price, score = full x base / price ------------------


def test_lowest_price_over_price() -> None:
    rule = {"formula": "base_over_price", "base": {"of": "lowest"}}
    m = method(price_rule=rule)
    bids = figures(("B1", "900"), ("B2", "1000"), ("B3", "1100"), ("B4", "1200"))
    ranking = evaluate(m, bids, sheets({"tech": same(["B1", "B2", "B3", "B4"], "0", "0", "0")}))
    assert ranking.base_price is not None and ranking.base_price.value == D("900.00")
    # 70 x 900/900 = 70; 70 x 0.9 = 63; 70 x 900/1100 = 57.2727.. -> 57.27; 70 x 0.75 = 52.5
    assert [ranking.bid(b).price_score for b in ("B1", "B2", "B3", "B4")] == [
        D("70.00"),
        D("63.00"),
        D("57.27"),
        D("52.50"),
    ]


def test_a_ratio_score_never_exceeds_full_points() -> None:
    # base = mean 1000 x 0.9 = 900 (coefficient); B1 at 850 is below the base: full points
    rule = {"formula": "base_over_price", "base": {"coefficient": "0.9"}}
    m = method(price_rule=rule)
    bids = figures(("B1", "850"), ("B2", "1150"))
    ranking = evaluate(m, bids, sheets({"tech": same(["B1", "B2"], "0", "0", "0")}))
    # B2: 70 x 900 / 1150 = 54.7826.. -> 54.78
    assert ranking.bid("B1").price_score == D("70.00")
    assert ranking.bid("B2").price_score == D("54.78")


# --- deduction items (扣分项) --------------------------------------------------------------------

LATE = {
    "id": "late",
    "name": "逾期提交资料",
    "kind": "deduction",
    "max_points": "2",
    "deduction": "majority",
}
VIOLATION = {
    "id": "violation",
    "name": "违章记录",
    "kind": "deduction",
    "max_points": "5",
    "deduction": "mean",
}
FIVE = ("E1", "E2", "E3", "E4", "E5")


def test_deduction_items_by_majority_and_by_mean() -> None:
    m = method(criteria=[TECH, PRICE, LATE, VIOLATION])
    s = sheets(
        {
            "tech": same(["B1", "B2"], "20", "20", "20", "20", "20"),
            "late": {"B1": ("2", "2", "2", "0", "0"), "B2": ("2", "2", "0", "0", "0")},
            "violation": {"B1": ("1", "0", "2", "1", "0"), "B2": ("0",) * 5},
        },
        experts=FIVE,
    )
    ranking = evaluate(m, figures(("B1", "1000"), ("B2", "1000")), s)
    b1, b2 = ranking.bid("B1"), ranking.bid("B2")
    # B1: 3 of 5 deduct the 2 points; violations (1 + 0 + 2 + 1 + 0) / 5 = 0.8
    assert [(d.criterion_id, d.deducting, d.deducted) for d in b1.deductions] == [
        ("late", 3, D("2.00")),
        ("violation", 3, D("0.80")),
    ]
    # 20 + 70 - 2 - 0.8 = 87.20; B2: only 2 of 5 deduct, so nothing: 90
    assert (b1.deducted, b1.total) == (D("2.80"), D("87.20"))
    assert (b2.deducted, b2.total) == (D("0.00"), D("90.00"))


def test_a_tied_deduction_is_not_deducted() -> None:
    m = method(criteria=[TECH, PRICE, LATE])
    four = ("E1", "E2", "E3", "E4")
    s = sheets(
        {"tech": same(["B1"], "20", "20", "20", "20"), "late": same(["B1"], "2", "2", "0", "0")},
        experts=four,
    )
    assert evaluate(m, figures(("B1", "1000")), s).bid("B1").deducted == D("0.00")


def test_a_majority_deduction_is_all_or_nothing() -> None:
    m = method(criteria=[TECH, PRICE, LATE])
    s = sheets({"tech": same(["B1"], "20", "20", "20"), "late": same(["B1"], "1", "2", "2")})
    refused("score_not_allowed", evaluate, m, figures(("B1", "1000")), s)


def test_deductions_never_take_the_total_below_zero() -> None:
    heavy = {**VIOLATION, "max_points": "100"}
    m = method(criteria=[TECH, PRICE, heavy])
    s = sheets({"tech": same(["B1"], "0", "0", "0"), "violation": same(["B1"], "100", "100", "90")})
    # 0 + 70 - 96.67 < 0 -> 0
    assert evaluate(m, figures(("B1", "1000")), s).bid("B1").total == D("0.00")


def test_experts_enter_deductions_from_the_maximum() -> None:
    by_deduction = {**TECH, "entry": "deduction"}
    m = method(criteria=[by_deduction, PRICE])
    s = sheets({"tech": same(["B1"], "5", "3", "4")})
    row = evaluate(m, figures(("B1", "1000")), s).bid("B1").criteria[0]
    # 30 - 5 = 25, 30 - 3 = 27, 30 - 4 = 26; mean 26
    assert row.expert_scores == {"E1": D("25"), "E2": D("27"), "E3": D("26")}
    assert row.entered == {"E1": D("5"), "E2": D("3"), "E3": D("4")}
    assert row.score == D("26.00")
    over = sheets({"tech": same(["B1"], "31", "3", "4")})
    refused("score_out_of_range", evaluate, m, figures(("B1", "1000")), over)


# --- vote thresholds in the preliminary review -------------------------------------------------


def test_two_thirds_needed_to_pass() -> None:
    m = method(
        criteria=[QUAL, TECH, PRICE],
        vote_rule={"kind": "fraction", "numerator": 2, "denominator": 3},
    )
    s = sheets(
        {"tech": same(["B2"], "20", "20", "20", "20", "20")},
        {"qual": {"B1": (True, True, True, False, False), "B2": (True, True, True, True, False)}},
        experts=FIVE,
    )
    ranking = evaluate(m, figures(("B1", "1000"), ("B2", "1000")), s)
    # 3 of 5 = 60 % < 2/3: B1 fails (a simple majority would pass it); 4 of 5 passes
    assert (ranking.bid("B1").passed, ranking.bid("B2").passed) == (False, True)


def test_agreement_cannot_close_while_verdicts_differ() -> None:
    m = method(criteria=[QUAL, TECH, PRICE], vote_rule={"kind": "agreement"})
    s = sheets({"tech": same(["B1"], "20", "20", "20")}, {"qual": same(["B1"], True, True, False)})
    refused("verdicts_differ", evaluate, m, figures(("B1", "1000")), s)


# --- items only the chair scores ---------------------------------------------------------------

TALK = {"id": "talk", "name": "答辩", "kind": "expert", "max_points": "5", "scored_by": "chair"}


def test_the_chairs_figure_is_the_score_of_a_chair_only_item() -> None:
    m = method(criteria=[TECH, TALK, PRICE])
    s = sheets({"tech": same(["B1"], "20", "21", "22"), "talk": same(["B1"], "", "4.5", "")})
    b1 = evaluate(m, figures(("B1", "1000")), s, chair="E2").bid("B1")
    assert [(c.criterion_id, c.score) for c in b1.criteria] == [
        ("tech", D("21.00")),
        ("talk", D("4.50")),
    ]
    assert b1.criteria[1].expert_scores == {"E2": D("4.5")}
    # 21 + 4.5 + 70 = 95.50
    assert b1.total == D("95.50")


def test_chair_only_items_with_totals_aggregated() -> None:
    m = method(
        criteria=[TECH, TALK, PRICE], aggregation={"level": "total", "drop_high_low_from": 5}
    )
    s = sheets(
        {
            "tech": same(["B1"], "10", "20", "21", "22", "30"),
            "talk": same(["B1"], "3", "", "", "", ""),
        },
        experts=FIVE,
    )
    b1 = evaluate(m, figures(("B1", "1000")), s, chair="E1").bid("B1")
    # totals over tech only: drop 10 and 30 -> (20 + 21 + 22) / 3 = 21; + chair's 3 = 24
    assert b1.expert_totals == {
        e: D(v) for e, v in zip(FIVE, ["10", "20", "21", "22", "30"], strict=True)
    }
    assert b1.expert_part == D("24.00")


def test_chair_only_items_are_refused_to_others_and_need_the_chair() -> None:
    m = method(criteria=[TECH, TALK, PRICE])
    other = sheets({"tech": same(["B1"], "20", "21", "22"), "talk": same(["B1"], "4", "4", "")})
    refused("chair_only", evaluate, m, figures(("B1", "1000")), other, chair="E2")
    fine = sheets({"tech": same(["B1"], "20", "21", "22"), "talk": same(["B1"], "", "4", "")})
    refused("chair_required", evaluate, m, figures(("B1", "1000")), fine)
    refused("unknown_expert", evaluate, m, figures(("B1", "1000")), fine, chair="E9")
    missing = sheets({"tech": same(["B1"], "20", "21", "22")})
    refused("missing_score", evaluate, m, figures(("B1", "1000")), missing, chair="E2")


# --- corrections after a 复核 ----------------------------------------------------------------


def correction(**d: Any) -> Correction:
    return Correction.from_dict({"reason": "复核发现漏计业绩", "approved_by": "S1", **d})


def test_a_score_correction_changes_the_ranking_and_keeps_the_original() -> None:
    m = method()
    s = sheets({"tech": {"B1": ("20", "20", "18"), "B2": ("20", "20", "20")}})
    bids = figures(("B1", "1000"), ("B2", "1000"))
    before = evaluate(m, bids, s)
    fix = correction(
        kind="score",
        expert_id="E3",
        bid_id="B1",
        criterion_id="tech",
        original="18",
        corrected="21",
    )
    after = evaluate(m, bids, s, corrections=[fix])
    # B1 tech (20 + 20 + 18) / 3 = 19.33 -> after (20 + 20 + 21) / 3 = 20.33
    assert before.bid("B1").criteria[0].score == D("19.33")
    assert after.bid("B1").criteria[0].score == D("20.33")
    assert after.recommended[0] == "B1" and before.recommended[0] == "B2"
    assert s[2].scores["B1"]["tech"] == D("18")  # the sheet as handed in is unchanged
    assert fix.to_dict()["original"] == "18"


def test_a_stale_correction_is_refused() -> None:
    s = sheets({"tech": same(["B1"], "20", "20", "18")})
    wrong = correction(
        kind="score",
        expert_id="E3",
        bid_id="B1",
        criterion_id="tech",
        original="17",
        corrected="21",
    )
    refused("correction_stale", evaluate, method(), figures(("B1", "1000")), s, corrections=[wrong])
    nowhere = correction(
        kind="score",
        expert_id="E9",
        bid_id="B1",
        criterion_id="tech",
        original="17",
        corrected="21",
    )
    refused("correction_stale", correct_scores, {}, [nowhere])


def test_corrections_chain_on_one_score() -> None:
    first = correction(
        kind="score",
        expert_id="E1",
        bid_id="B1",
        criterion_id="tech",
        original="18",
        corrected="21",
    )
    second = correction(
        kind="score",
        expert_id="E1",
        bid_id="B1",
        criterion_id="tech",
        original="21",
        corrected="20",
    )
    table = {"E1": {"B1": {"tech": D("18")}}}
    assert correct_scores(table, [first, second])["E1"]["B1"]["tech"] == D("20")
    assert table["E1"]["B1"]["tech"] == D("18")


def test_a_base_price_correction_is_scored_against_and_recorded() -> None:
    m = method()
    s = sheets({"tech": same(["B1", "B2"], "20", "20", "20")})
    bids = figures(("B1", "950"), ("B2", "1050"))
    fix = correction(kind="base_price", original="1000.00", corrected="1050.00")
    ranking = evaluate(m, bids, s, corrections=[fix])
    base = ranking.base_price
    assert base is not None
    assert (base.value, base.computed, base.correction) == (D("1050.00"), D("1000.00"), fix)
    # B2 now sits on the base: 70; B1 (950 - 1050) / 1050 = -9.52 % -> 70 - 4.76 = 65.24
    assert ranking.bid("B2").price_score == D("70.00")
    assert ranking.bid("B1").price_score == D("65.24")
    stale = correction(kind="base_price", original="999.00", corrected="1050.00")
    refused("correction_stale", evaluate, m, bids, s, corrections=[stale])
    refused("invalid_correction", evaluate, m, bids, s, corrections=[fix, fix])


@pytest.mark.parametrize(
    ("d", "code"),
    [
        ({"kind": "score", "original": "1", "corrected": "2"}, "invalid_correction"),
        ({"kind": "base_price", "original": "1", "corrected": "1"}, "invalid_correction"),
        (
            {"kind": "base_price", "original": "1", "corrected": "2", "reason": " "},
            "reason_required",
        ),
        (
            {"kind": "base_price", "original": "1", "corrected": "2", "approved_by": ""},
            "approval_required",
        ),
        ({"kind": "base_price", "original": "1", "corrected": "0"}, "invalid_correction"),
        ({"kind": "rank", "original": "1", "corrected": "2"}, "invalid_correction"),
        ({"kind": "base_price", "original": 1.0, "corrected": "2"}, "invalid_correction"),
    ],
)
def test_bad_corrections_refused(d: dict[str, Any], code: str) -> None:
    refused(code, correction, **d)


# --- floating point from a fixed set -----------------------------------------------------------


def test_a_floating_point_from_the_published_set() -> None:
    rule = {
        **MEAN_RULE,
        "base": {"floating_point": {"choices": ["1.5", "1.25", "1", "0.75", "0.5", "0.25"]}},
    }
    m = method(price_rule=rule)
    s = sheets({"tech": same(["B1"], "20", "20", "20")})
    ranking = evaluate(m, figures(("B1", "1000")), s, D("0.75"))
    # 1000 x (1 - 0.75 %) = 992.50
    assert ranking.base_price is not None and ranking.base_price.value == D("992.50")
    refused("floating_point_out_of_range", evaluate, m, figures(("B1", "1000")), s, D("0.8"))


# --- the method as data ------------------------------------------------------------------------

FULL: dict[str, Any] = {
    "kind": "comprehensive",
    "criteria": [
        QUAL,
        RANGED,
        STEPPED,
        {**TALK, "entry": "deduction"},
        LATE,
        VIOLATION,
        PRICE,
    ],
    "price_rule": {
        "base": {
            "trim": None,
            "coefficient": "1",
            "floating_point": {"choices": ["1", "0.5"]},
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
    "penalty_from": "price_score",
    "control_price": {"limit": "1400000.00", "floor_ratio": "0.85"},
    "vote_rule": {"kind": "percent", "percent": "60", "rounding": "up"},
}


def test_every_new_rule_round_trips_through_json() -> None:
    m = ScoringMethod.from_dict(FULL)
    printed = json.loads(json.dumps(m.to_dict(), ensure_ascii=False))
    assert printed == FULL
    assert ScoringMethod.from_dict(printed) == m


def test_an_external_price_rule_round_trips() -> None:
    m = method(price_rule={"formula": "external"})
    again = ScoringMethod.from_dict(json.loads(json.dumps(m.to_dict())))
    assert again == m and m.to_dict()["price_rule"]["formula"] == "external"


def broken(**changes: Any) -> dict[str, Any]:
    d: dict[str, Any] = json.loads(json.dumps(FULL))
    d.update(changes)
    return d


@pytest.mark.parametrize(
    "d",
    [
        broken(criteria=[{**RANGED, "max_points": "3"}, PRICE]),  # scale top is not max_points
        broken(criteria=[{**QUAL, "scale": {"low": "0", "high": "1"}}, PRICE]),
        broken(criteria=[{**PRICE, "scored_by": "chair"}]),
        broken(criteria=[{**LATE, "deduction": None}, PRICE]),
        broken(criteria=[{**TECH, "deduction": "mean"}, PRICE]),
        broken(criteria=[{**LATE, "scale": {"values": ["0", "2"]}}, PRICE]),
        broken(criteria=[{**LATE, "entry": "deduction"}, PRICE]),
        broken(criteria=[{**TECH, "scored_by": "tenderer"}, PRICE]),
        broken(penalty_from="bid"),
        broken(vote_rule={"kind": "fraction", "numerator": 2}),
        broken(pass_fail="unanimity"),  # the vote is stated twice
        broken(control_price={"limit": "-1"}),
        broken(price_rule={**FULL["price_rule"], "formula": "external"}),  # bands with external
        broken(
            price_rule={
                "formula": "base_over_price",
                "base": {"of": "lowest", "trim": {"count": 1, "from_bids": 5}},
            }
        ),
        broken(price_rule={"formula": "magic"}),
        broken(price_rule={**FULL["price_rule"], "base": {"floating_point": {"choices": ["1"]}}}),
        {**broken(price_rule=None), "criteria": [TECH], "penalty_from": "price_score"},
    ],
)
def test_bad_method_data_refused_as_invalid_rule(d: dict[str, Any]) -> None:
    refused("invalid_rule", ScoringMethod.from_dict, d)


def test_bid_figures_round_trip_without_a_price_score() -> None:
    plain = {"bid_id": "B1", "price": "1000", "arithmetic_errors": 0, "adjustment": "0"}
    assert BidFigures.from_dict(plain).to_dict() == plain
    fed = {**plain, "price_score": "64.25"}
    assert BidFigures.from_dict(fed).to_dict() == fed


def test_a_correction_round_trips() -> None:
    d = {
        "kind": "score",
        "original": "18",
        "corrected": "21",
        "reason": "复核发现漏计业绩",
        "approved_by": "S1",
        "expert_id": "E3",
        "bid_id": "B1",
        "criterion_id": "tech",
    }
    assert Correction.from_dict(d).to_dict() == d
    refused("invalid_correction", Correction.from_dict, {**d, "note": "x"})
    refused("invalid_correction", Correction.from_dict, {**d, "bid_id": 7})


def test_the_control_price_applies_to_the_lowest_evaluated_price_method() -> None:
    m = ScoringMethod.from_dict(
        {
            "kind": "lowest_evaluated_price",
            "criteria": [QUAL],
            "price_rule": None,
            "control_price": {"limit": "1000"},
        }
    )
    bids = figures(("B1", "990"), ("B2", "1000.01"), ("B3", "950"))
    s = sheets({}, {"qual": same(["B1", "B3"], True, True, True)})
    ranking = evaluate(m, bids, s)
    assert [(b.bid_id, b.rank, b.rejection) for b in ranking.bids] == [
        ("B3", 1, None),
        ("B1", 2, None),
        ("B2", None, "above_control_price"),
    ]
