"""The method's rules as the live session enforces them (docs/methods.md), decider by decider:
scales refused at submission, chair-only items, deduction items, penalties from the price
score, vote thresholds closing the preliminary review, fed price scores with the supervisor's
approval, the chair elected by plurality with run-offs, and corrections after a 复核. Pure and
fast: the session's deciders only (tests/test_session_domain.py builds the rooms)."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from clients.cli_common import Out
from clients.folds.session import SessionView
from clients.folds.tender import CeremonyView
from clients.session_commands import criteria_rows
from clients.verify import BundleVerifier, _Stream
from crypto.merkle import MerkleLog
from evalroom.domain import opening
from evalroom.domain.commands import Actor, Command
from evalroom.domain.corrections import Correction
from evalroom.domain.draw import commit_seed
from evalroom.domain.roles import Role
from evalroom.domain.rules import RuleError
from evalroom.domain.scoring import BidFigures, ExpertSheet, ScoringMethod, evaluate
from evalroom.report import Document, Table, document
from tests.test_session_domain import (
    AGENCY,
    COMPREHENSIVE,
    SLOTS,
    STREAM,
    SUPERVISOR,
    VENUES,
    Room,
    chaired,
    checked_in,
    created,
    drawn,
    give_verdicts,
)

BIDS = ("B1", "B2", "B3", "B4")  # prices 1,000,000 / 980,000 / 1,050,000 / 900,000


def method(**changes: Any) -> dict[str, Any]:
    """The session tests' comprehensive method with extra criteria and rules."""
    m = copy.deepcopy(COMPREHENSIVE)
    extra = changes.pop("criteria", [])
    m["criteria"] = [*m["criteria"][:2], *extra, m["criteria"][2]]
    m.update(changes)
    return m


PLAN = {  # "1–2 分": a range that does not start at 0
    "id": "plan",
    "name": "进度计划",
    "kind": "expert",
    "max_points": "2",
    "scale": {"low": "1", "high": "2"},
}
PROJECTS = {  # 4 points per similar project, at most 8
    "id": "projects",
    "name": "类似工程业绩",
    "kind": "expert",
    "max_points": "8",
    "scale": {"low": "0", "high": "8", "step": "4"},
}
TALK = {"id": "talk", "name": "答辩", "kind": "expert", "max_points": "5", "scored_by": "chair"}
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
QUALITY = {  # entered as the points taken from the maximum
    "id": "quality",
    "name": "质量保证体系",
    "kind": "expert",
    "max_points": "10",
    "entry": "deduction",
}


def at_review(m: Mapping[str, Any], fails: Mapping[str, tuple[int, ...]] | None = None) -> Room:
    """A session of ``m`` in the detailed review (every bid passes unless ``fails`` says)."""
    room = created(m)
    for step in (drawn, checked_in, chaired):
        step(room)
    give_verdicts(room, fails or {})
    room.send("session.close_phase", room.chair, {"phase": "preliminary_review"})
    assert room.phase == "detailed_review"
    return room


def sheet_in(room: Room, i: int, rows: Mapping[str, Mapping[str, str]]) -> None:
    for bid, row in rows.items():
        for criterion, points in row.items():
            body = {"bid": bid, "criterion": criterion, "score": points}
            room.send("session.score", room.expert(i), body)
    room.send("session.submit_scores", room.expert(i))


def evaluated(room: Room, corrections: list[Correction] | None = None) -> dict[str, Any]:
    """What scoring.evaluate makes of the session's own record, computed here apart."""
    report = room.state["report"]
    ranking = evaluate(
        ScoringMethod.from_dict(room.state["method"]),
        [
            BidFigures.from_dict({k: v for k, v in b.items() if k != "company"})
            for b in report["bids"]
        ],
        [ExpertSheet.from_dict(s) for s in report["sheets"]],
        chair=room.state["chair"],
        corrections=corrections or [],
    )
    result: dict[str, Any] = ranking.to_dict()
    return result


def close_deviation(room: Room) -> None:
    for d in room.state["deviations"]:
        body = {"bid": d["bid"], "criterion": d["criterion"], "reason": "有依据"}
        expert = room.experts.index(d["expert"])
        room.send("session.deviation_reason", room.expert(expert), body)
    room.send("session.close_phase", room.chair, {"phase": "deviation_check"})
    assert room.phase == "signing"


# --- 1. scales: refused at submission -----------------------------------------------------------


@pytest.mark.parametrize(
    ("criterion", "points", "code"),
    [
        ("plan", "0", "score_out_of_range"),  # a 0 on a 1–2 item
        ("plan", "2.01", "score_out_of_range"),
        ("projects", "6", "score_not_allowed"),  # off the steps of 4
        ("projects", "12", "score_out_of_range"),
    ],
)
def test_a_figure_off_the_criterions_scale_is_refused_naming_it_and_its_values(
    criterion: str, points: str, code: str
) -> None:
    room = at_review(method(criteria=[PLAN, PROJECTS]))
    body = {"bid": "B1", "criterion": criterion, "score": points}
    with pytest.raises(RuleError) as refused:
        room.send("session.score", room.expert(1), body)
    assert refused.value.code == code
    name = {"plan": "进度计划", "projects": "类似工程业绩"}[criterion]
    allowed = {"plan": "1 至 2 分", "projects": "0 至 8 分，每档 4 分"}[criterion]
    assert name in refused.value.message and allowed in refused.value.message
    assert f"{criterion} takes" in refused.value.message  # the English half
    assert room.state["scores"].get(room.experts[1], {}) == {}


@pytest.mark.parametrize(
    ("criterion", "points"),
    [
        ("plan", "1"),
        ("plan", "1.5"),
        ("plan", "2"),
        ("projects", "0"),
        ("projects", "4"),
        ("projects", "8"),
    ],
)
def test_a_figure_on_the_scale_is_accepted(criterion: str, points: str) -> None:
    room = at_review(method(criteria=[PLAN, PROJECTS]))
    room.send(
        "session.score", room.expert(1), {"bid": "B1", "criterion": criterion, "score": points}
    )
    assert room.state["scores"][room.experts[1]]["B1"][criterion] == points


def test_fixed_values_take_the_same_number_written_otherwise_and_refuse_others() -> None:
    values = {
        "id": "x",
        "name": "安全文明",
        "kind": "expert",
        "max_points": "5",
        "scale": {"values": ["0", "3", "5"]},
    }
    room = at_review(method(criteria=[values]))
    room.send("session.score", room.expert(0), {"bid": "B1", "criterion": "x", "score": "3.00"})
    body = {"bid": "B1", "criterion": "x", "score": "4"}
    assert room.refused("session.score", room.expert(0), body) == "score_not_allowed"


def test_a_revision_is_held_to_the_scale_too() -> None:
    room = at_review(method(criteria=[PLAN]))
    sheet_in(room, 0, {b: {"tech": "20", "plan": "2"} for b in BIDS})
    body = {"bid": "B1", "criterion": "plan", "score": "0", "reason": "复核"}
    assert room.refused("session.revise_score", room.expert(0), body) == "score_out_of_range"


# --- 2. chair-only items ------------------------------------------------------------------------


def test_only_the_elected_chair_scores_a_chair_only_item() -> None:
    room = at_review(method(criteria=[TALK]))
    body = {"bid": "B1", "criterion": "talk", "score": "4"}
    assert room.refused("session.score", room.expert(1), body) == "chair_only"
    room.send("session.score", room.chair, body)
    assert room.state["scores"][room.state["chair"]]["B1"]["talk"] == "4"


def test_the_other_experts_submit_without_the_chair_only_item_and_the_chair_with_it() -> None:
    room = at_review(method(criteria=[TALK]))
    sheet_in(room, 1, {b: {"tech": "20"} for b in BIDS})  # complete without talk
    for bid in BIDS:
        room.send("session.score", room.chair, {"bid": bid, "criterion": "tech", "score": "20"})
    assert room.refused("session.submit_scores", room.chair) == "incomplete"


def test_the_chairs_figure_is_the_items_score_outside_the_averaging() -> None:
    room = at_review(method(criteria=[TALK]))
    tech = ("20", "21", "22", "23", "24")  # drop 20 and 24: 22.00
    for i in range(5):
        rows = {b: {"tech": tech[i], **({"talk": "4.5"} if i == 0 else {})} for b in BIDS}
        sheet_in(room, i, rows)
    close_deviation(room)
    ranking = room.state["report"]["ranking"]
    b1 = next(b for b in ranking["bids"] if b["bid_id"] == "B1")
    talk = next(c for c in b1["criteria"] if c["criterion_id"] == "talk")
    assert talk["score"] == "4.50" and b1["expert_part"] == "26.50"
    assert ranking == evaluated(room)


# --- 3. deduction items and penalties -----------------------------------------------------------


def test_deduction_items_flow_into_the_ranking_as_evaluate_computes_them() -> None:
    room = at_review(method(criteria=[QUALITY, LATE, VIOLATION]))
    late = {"B1": ("2", "2", "2", "0", "0"), "B2": ("2", "2", "0", "0", "0")}  # 3 of 5; 2 of 5
    violation = {"B1": ("1", "0", "2", "1", "0")}  # mean 0.80
    quality = ("5", "3", "4", "4", "4")  # entered from 10: scores 5, 7, 6, 6, 6 -> drop: 6.00
    for i in range(5):
        rows = {
            b: {
                "tech": "20",
                "quality": quality[i],
                "late": late.get(b, ("0",) * 5)[i],
                "violation": violation.get(b, ("0",) * 5)[i],
            }
            for b in BIDS
        }
        sheet_in(room, i, rows)
    close_deviation(room)
    ranking = room.state["report"]["ranking"]
    b1 = next(b for b in ranking["bids"] if b["bid_id"] == "B1")
    b2 = next(b for b in ranking["bids"] if b["bid_id"] == "B2")
    assert (b1["deducted"], b2["deducted"]) == ("2.80", "0.00")
    assert b1["expert_part"] == "26.00"
    assert ranking == evaluated(room)


def test_a_majority_deduction_takes_all_or_nothing_and_refuses_a_part() -> None:
    room = at_review(method(criteria=[LATE]))
    body = {"bid": "B1", "criterion": "late", "score": "1"}
    with pytest.raises(RuleError) as refused:
        room.send("session.score", room.expert(0), body)
    assert refused.value.code == "score_not_allowed" and "0、2 分之一" in refused.value.message


def test_the_deviation_check_compares_expert_items_not_deductions_or_the_chairs() -> None:
    room = at_review(method(criteria=[TALK, LATE]))
    for i in range(5):
        late = "2" if i == 4 else "0"  # one expert deducts: far off the others' 0, not flagged
        rows = {b: {"tech": "20", "late": late, **({"talk": "5"} if i == 0 else {})} for b in BIDS}
        sheet_in(room, i, rows)
    assert room.phase == "deviation_check" and room.state["deviations"] == []


def penalised(from_: str) -> Room:
    room = at_review(method(arithmetic_error_penalty="2", penalty_from=from_))
    room.send(
        "session.arithmetic_errors",
        room.chair,
        {"bid": "B3", "errors": 2, "reason": "单价与总价不符"},
    )
    for i in range(5):
        sheet_in(room, i, {b: {"tech": "20"} for b in BIDS})
    close_deviation(room)
    return room


def test_arithmetic_errors_cost_the_price_score_when_the_method_says_so() -> None:
    # base (1,000,000 + 980,000 + 1,050,000 + 900,000) / 4 = 982,500; B3 +6.87 % -> 53.13
    room = penalised("price_score")
    b3 = next(b for b in room.state["report"]["ranking"]["bids"] if b["bid_id"] == "B3")
    assert (b3["price_score"], b3["penalty"], b3["total"]) == ("49.13", "4.00", "69.13")
    assert room.state["report"]["ranking"] == evaluated(room)
    total = penalised("total")
    b3 = next(b for b in total.state["report"]["ranking"]["bids"] if b["bid_id"] == "B3")
    assert (b3["price_score"], b3["total"]) == ("53.13", "69.13")


def test_only_the_chair_records_arithmetic_errors_and_a_count_needs_a_reason() -> None:
    room = at_review(method(arithmetic_error_penalty="2"))
    body = {"bid": "B1", "errors": 1}
    assert room.refused("session.arithmetic_errors", room.chair, body) == "reason_required"
    body["reason"] = "合计错误"
    assert room.refused("session.arithmetic_errors", room.expert(1), body) == "forbidden"


# --- 4. vote thresholds close the preliminary review ---------------------------------------------


def close_review(m: Mapping[str, Any], fails: Mapping[str, tuple[int, ...]]) -> Room:
    room = created(m)
    for step in (drawn, checked_in, chaired):
        step(room)
    give_verdicts(room, fails)
    return room


def test_two_thirds_fails_a_bid_three_of_five_pass_and_passes_four() -> None:
    room = close_review(
        method(vote_rule={"kind": "fraction", "numerator": 2, "denominator": 3}),
        {"B1": (0, 1), "B2": (0,)},
    )
    room.send("session.close_phase", room.chair, {"phase": "preliminary_review"})
    assert room.state["preliminary"]["passed"] == ["B2", "B3", "B4"]


def test_sixty_percent_rounded_up_needs_three_of_five() -> None:
    room = close_review(
        method(vote_rule={"kind": "percent", "percent": "60", "rounding": "up"}),
        {"B1": (0, 1), "B2": (0, 1, 2)},
    )
    room.send("session.close_phase", room.chair, {"phase": "preliminary_review"})
    assert room.state["preliminary"]["passed"] == ["B1", "B3", "B4"]


def test_under_agreement_the_review_cannot_close_while_verdicts_differ() -> None:
    room = close_review(
        method(vote_rule={"kind": "agreement"}), {"B2": (4,), "B4": (0, 1, 2, 3, 4)}
    )
    with pytest.raises(RuleError) as refused:
        room.send("session.close_phase", room.chair, {"phase": "preliminary_review"})
    assert refused.value.code == "verdicts_differ"
    assert "B2" in refused.value.message and "4 人合格、1 人不合格" in refused.value.message
    assert room.phase == "preliminary_review"
    body = {"bid": "B2", "criterion": "qualification", "pass": True}
    room.send("session.preliminary", room.expert(4), body)  # the fifth expert comes round
    room.send("session.close_phase", room.chair, {"phase": "preliminary_review"})
    assert room.state["preliminary"]["passed"] == ["B1", "B2", "B3"]  # B4: all fail


# --- 5. a price score computed elsewhere --------------------------------------------------------

EXTERNAL = method(price_rule={"formula": "external"})
FED = {"B1": "54.25", "B2": "60", "B3": "55.5", "B4": "58"}  # of 60 points


def test_fed_price_scores_count_only_once_a_supervisor_approves_them() -> None:
    room = at_review(EXTERNAL)
    room.send("session.price_scores", AGENCY, {"scores": FED, "basis": "工程量清单计价评审"})
    for i in range(5):
        sheet_in(room, i, {b: {"tech": "20"} for b in BIDS})
    with pytest.raises(RuleError) as refused:
        room.send("session.close_phase", room.chair, {"phase": "deviation_check"})
    assert refused.value.code == "missing_price_score"
    room.send("session.price_scores_approve", SUPERVISOR)
    room.send("session.close_phase", room.chair, {"phase": "deviation_check"})
    report = room.state["report"]
    b1 = next(b for b in report["ranking"]["bids"] if b["bid_id"] == "B1")
    assert (b1["price_score"], b1["total"]) == ("54.25", "74.25")
    assert report["price_scores"]["fed_by"] == AGENCY.user_id
    assert report["price_scores"]["approved_by"] == SUPERVISOR.user_id
    assert report["ranking"] == evaluated(room)


@pytest.mark.parametrize(
    ("scores", "code"),
    [
        ({**FED, "B2": "60.5"}, "price_score_out_of_range"),
        ({"B1": "54.25"}, "missing_price_score"),
        ({**FED, "B9": "1"}, "unknown_bid"),
    ],
)
def test_fed_price_scores_are_checked_before_anyone_approves(
    scores: dict[str, str], code: str
) -> None:
    room = at_review(EXTERNAL)
    body = {"scores": scores, "basis": "清单"}
    assert room.refused("session.price_scores", AGENCY, body) == code


def test_a_method_that_computes_its_price_score_takes_none_fed() -> None:
    room = at_review(COMPREHENSIVE)
    body = {"scores": FED, "basis": "清单"}
    assert room.refused("session.price_scores", AGENCY, body) == "price_score_unexpected"


def test_the_supervisor_may_refuse_fed_scores_and_they_are_fed_again() -> None:
    room = at_review(EXTERNAL)
    room.send("session.price_scores", AGENCY, {"scores": FED, "basis": "清单"})
    room.send("session.price_scores_reject", SUPERVISOR, {"reason": "B3 清单漏项"})
    assert room.refused("session.price_scores_approve", SUPERVISOR) == "no_request"


# --- 8. chair election by plurality with run-offs -----------------------------------------------


def vote(room: Room, picks: list[int]) -> None:
    for i, pick in enumerate(picks):
        room.send("session.vote_chair", room.expert(i), {"candidate": room.experts[pick]})


def election() -> Room:
    room = created(COMPREHENSIVE)
    drawn(room)
    checked_in(room)
    return room


def test_plurality_elects_without_a_majority() -> None:
    room = election()
    vote(room, [0, 0, 1, 2, 3])  # 2 of 5: no majority, the most votes
    assert room.state["chair"] == room.experts[0] and room.phase == "preliminary_review"


def test_a_tie_goes_to_a_run_off_among_the_tied_only() -> None:
    room = election()
    vote(room, [0, 0, 2, 2, 4])  # E1 2, E3 2, E5 1
    tied = sorted([room.experts[0], room.experts[2]])
    assert room.state["election"]["candidates"] == tied
    body = {"candidate": room.experts[4]}
    assert room.refused("session.vote_chair", room.expert(1), body) == "invalid_candidate"
    vote(room, [2, 0, 2, 2, 0])  # E3 3, E1 2
    assert room.state["chair"] == room.experts[2]
    rounds = [e.payload for e in room.events("session.chair_round")]
    assert [r["elected"] for r in rounds] == [None, room.experts[2]]
    view = SessionView("session:S1")
    for seq, e in enumerate(room.events("session.chair_round"), 1):
        view.apply({"seq": seq, "type": e.type, "payload": e.payload})
    assert view.chair == room.experts[2] and view.runoff == []


# --- 9. corrections after a 复核 ------------------------------------------------------------------


def signing() -> Room:
    room = at_review(COMPREHENSIVE)
    tech = {
        "B1": ("20", "20", "18", "20", "20"),
        "B2": ("20",) * 5,
        "B3": ("20",) * 5,
        "B4": ("20",) * 5,
    }
    for i in range(5):
        sheet_in(room, i, {b: {"tech": tech[b][i]} for b in BIDS})
    close_deviation(room)
    return room


def test_a_score_correction_needs_the_supervisor_and_reranks_on_top_of_the_record() -> None:
    room = signing()
    e3 = room.experts[2]
    body = {
        "kind": "score",
        "expert": e3,
        "bid": "B1",
        "criterion": "tech",
        "corrected": "21",
        "reason": "复核发现漏计业绩",
    }
    room.send("session.correction_request", room.chair, body)
    before = room.state["report_digest"]
    room.send("session.correction_approve", SUPERVISOR)
    report = room.state["report"]
    assert room.state["report_digest"] != before and room.state["signatures"] == {}
    (fix,) = report["corrections"]
    assert (fix["original"], fix["corrected"], fix["approved_by"]) == (
        "18",
        "21",
        SUPERVISOR.user_id,
    )
    sheet = next(s for s in report["sheets"] if s["expert_id"] == e3)
    assert sheet["scores"]["B1"]["tech"] == "18"  # the sheet as handed in
    b1 = next(b for b in report["ranking"]["bids"] if b["bid_id"] == "B1")
    assert b1["criteria"][0]["score"] == "20.00"  # 20 × 5 after the correction (was 20, drop 18)
    assert report["ranking"] == evaluated(
        room,
        [
            Correction.from_dict(
                {k: v for k, v in fix.items() if k not in ("requested_by", "approved_at")}
            )
        ],
    )


def test_a_base_price_correction_recomputes_every_price_score() -> None:
    room = signing()
    base = room.state["report"]["ranking"]["base_price"]["value"]
    assert base == "982500.00"
    body = {"kind": "base_price", "corrected": "1000000.00", "reason": "B4 报价算术修正后重新计算"}
    room.send("session.correction_request", room.chair, body)
    room.send("session.correction_approve", SUPERVISOR)
    ranking = room.state["report"]["ranking"]
    assert ranking["base_price"]["value"] == "1000000.00"
    assert ranking["base_price"]["computed"] == "982500.00"
    b1 = next(b for b in ranking["bids"] if b["bid_id"] == "B1")
    assert (b1["deviation"], b1["price_score"]) == ("0.00", "60.00")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (
            {"kind": "score", "bid": "B1", "criterion": "tech", "corrected": "21"},
            "invalid_correction",
        ),
        (
            {"kind": "base_price", "corrected": "982500.00", "reason": "无变化"},
            "invalid_correction",
        ),
        ({"kind": "base_price", "corrected": "1", "reason": ""}, "reason_required"),
        ({"kind": "price", "corrected": "1", "reason": "x"}, "invalid_correction"),
    ],
)
def test_a_correction_names_its_figure_and_reason(body: dict[str, Any], code: str) -> None:
    room = signing()
    assert room.refused("session.correction_request", room.chair, body) == code


def test_a_score_correction_is_held_to_the_scale() -> None:
    room = signing()
    body = {
        "kind": "score",
        "expert": room.experts[2],
        "bid": "B1",
        "criterion": "tech",
        "corrected": "31",
        "reason": "x",
    }
    assert room.refused("session.correction_request", room.chair, body) == "score_out_of_range"


def test_a_refused_correction_changes_no_figure_and_only_the_chair_asks() -> None:
    room = signing()
    body = {"kind": "base_price", "corrected": "1000000.00", "reason": "复核"}
    assert room.refused("session.correction_request", room.expert(1), body) == "forbidden"
    room.send("session.correction_request", room.chair, body)
    assert room.refused("session.correction_request", room.chair, body) == "already_requested"
    digest = room.state["report_digest"]
    room.send("session.correction_reject", SUPERVISOR, {"reason": "基准价无误"})
    assert room.state["report_digest"] == digest and room.state["corrections"] == []
    assert room.refused("session.correction_approve", SUPERVISOR) == "no_request"


def test_two_corrections_of_one_score_chain() -> None:
    room = signing()
    cell = {"kind": "score", "expert": room.experts[2], "bid": "B1", "criterion": "tech"}
    room.send("session.correction_request", room.chair, {**cell, "corrected": "19", "reason": "一"})
    room.send("session.correction_approve", SUPERVISOR)
    room.send("session.correction_request", room.chair, {**cell, "corrected": "21", "reason": "二"})
    assert room.state["correction"]["original"] == "19"
    room.send("session.correction_approve", SUPERVISOR)
    assert [c["corrected"] for c in room.state["report"]["corrections"]] == ["19", "21"]


def test_the_folds_keep_the_corrections_and_the_report_carries_them() -> None:
    room = signing()
    body = {"kind": "base_price", "corrected": "1000000.00", "reason": "复核"}
    room.send("session.correction_request", room.chair, body)
    room.send("session.correction_approve", SUPERVISOR)
    view = SessionView("session:S1")
    for seq, (event, actor) in enumerate(room.log, 1):
        view.apply({"seq": seq, "type": event.type, "payload": event.payload, "actor": actor})
    assert [c["corrected"] for c in view.corrections] == ["1000000.00"]
    assert view.report is not None and view.report["corrections"][0]["reason"] == "复核"
    assert Decimal(view.report["ranking"]["base_price"]["value"]) == Decimal("1000000")


# --- 7. the floating point drawn at the opening, verifiably ---------------------------------------

AT = datetime.fromisoformat("2026-12-01T09:30:00+08:00")
CHOICES = ["1.5", "1.25", "1", "0.75", "0.5", "0.25"]
FP_SEED = bytes(16) + bytes([0xFF] * 16)
OPENING_CONFIG = {
    "sections": [{"id": "S1", "name": "一标段", "floating_point": {"choices": CHOICES}}],
    "opening_at": AT.isoformat(),
    "failure_rule": "reject",
    "opening_recipient": "age1example",
    "decryption_window_seconds": 600,
    "forms": {"single": [{"name": "price", "type": "decimal", "required": True}]},
}
OPENING_AGENCY = Actor("agency-u", frozenset({Role.AGENCY}))
OPENING_SUPERVISOR = Actor("sup-u", frozenset({Role.SUPERVISOR}))
PRICES = {"C1": "1000000.00", "C2": "980000.00", "C3": "1050000.00"}


def tender_cmd(
    type_: str, actor: Actor, body: Mapping[str, Any] | None = None, **facts: Any
) -> Command:
    return Command(type_, "tender:T", body or {}, actor, AT, "sig", facts)


def step(
    state: Mapping[str, Any],
    type_: str,
    actor: Actor,
    body: Mapping[str, Any] | None = None,
    **facts: Any,
) -> Mapping[str, Any]:
    decided = opening.DECIDERS[type_](state, tender_cmd(type_, actor, body, **facts))
    return decided.state


def read_out_tender(commit: bool = True) -> Mapping[str, Any]:
    """A single-envelope opening of three bids, read out (the seed committed before if so)."""
    envelope = {"upload": "U1", "sha256": "ab" * 32, "size": 10, "version": 1}
    streams = [
        {
            "stream": f"bid:T.{i}",
            "size": 2,
            "root": "r",
            "state": {
                "tender": "tender:T",
                "org": org,
                "by": f"u-{org}",
                "bids": {"S1": {"status": "submitted", "envelopes": {"single": envelope}}},
            },
        }
        for i, org in enumerate(PRICES)
    ]
    state: Mapping[str, Any] = {"phase": "bidding", "config": OPENING_CONFIG}
    if commit:
        body = {"section": "S1", "commitment": commit_seed(FP_SEED)}
        state = step(state, "opening.commit_floating_point", OPENING_SUPERVISOR, body)
    state = step(state, "opening.start", OPENING_AGENCY, bid_streams=streams)
    for org, price in PRICES.items():
        bidder = Actor(f"u-{org}", frozenset({Role.BIDDER}), org)
        state = step(state, "opening.sign_in", bidder)
        facts = {"ok": True, "form": {"price": price}, "plain": "", "plain_sha256": "cd" * 32}
        state = step(state, "bid.release_key", bidder, {"section": "S1", "identity": "x"}, **facts)
    state = step(state, "opening.close_window", OPENING_AGENCY)
    return step(state, "opening.read_out", OPENING_AGENCY)


def recomputed(seed: bytes) -> str:
    """The draw as anyone recomputes it with hashlib (docs/methods.md §9)."""
    n = len(CHOICES)
    limit = (2**256 // n) * n
    for attempt in range(256):
        digest = hashlib.sha256(b"evalroom/floating-point/v1\x00" + seed + bytes([attempt]))
        x = int.from_bytes(digest.digest(), "big")
        if x < limit:
            return CHOICES[x % n]
    raise AssertionError("no draw")


def test_the_floating_point_is_drawn_from_the_committed_seed_after_the_read_out() -> None:
    state = read_out_tender()
    body = {"section": "S1", "seed": FP_SEED.hex()}
    decided = opening.DECIDERS["opening.draw_floating_point"](
        state, tender_cmd("opening.draw_floating_point", OPENING_AGENCY, body)
    )
    (event,) = decided.events
    assert event.visibility == "public" and event.payload["value"] == recomputed(FP_SEED)
    state = step(decided.state, "opening.sign_record", OPENING_AGENCY)
    state = step(state, "opening.sign_record", OPENING_SUPERVISOR)
    record = state["opening"]["single"]["record"]
    assert record["floating_points"]["S1"]["value"] == recomputed(FP_SEED)


def test_the_seed_is_committed_before_the_read_out_or_not_at_all() -> None:
    state = read_out_tender(commit=False)
    body = {"section": "S1", "commitment": commit_seed(FP_SEED)}
    assert (
        code(
            opening.commit_floating_point,
            state,
            tender_cmd("opening.commit_floating_point", OPENING_SUPERVISOR, body),
        )
        == "already_read_out"
    )
    draw = {"section": "S1", "seed": FP_SEED.hex()}
    assert (
        code(
            opening.draw_floating_point_at_opening,
            state,
            tender_cmd("opening.draw_floating_point", OPENING_AGENCY, draw),
        )
        == "not_committed"
    )


def test_another_seed_is_refused_and_the_record_waits_for_the_draw() -> None:
    state = read_out_tender()
    other = {"section": "S1", "seed": bytes(range(32)).hex()}
    assert (
        code(
            opening.draw_floating_point_at_opening,
            state,
            tender_cmd("opening.draw_floating_point", OPENING_AGENCY, other),
        )
        == "seed_mismatch"
    )
    assert (
        code(opening.sign_record, state, tender_cmd("opening.sign_record", OPENING_AGENCY))
        == "floating_point_missing"
    )


def code(call: Any, *args: Any) -> str:
    try:
        call(*args)
    except RuleError as refusal:
        return refusal.code
    return "ok"


def opened_with_draw() -> dict[str, Any]:
    state = read_out_tender()
    state = step(
        state,
        "opening.draw_floating_point",
        OPENING_AGENCY,
        {"section": "S1", "seed": FP_SEED.hex()},
    )
    state = step(state, "opening.sign_record", OPENING_AGENCY)
    state = step(state, "opening.sign_record", OPENING_SUPERVISOR)
    return {"seq": 40, "payload": {**state["opening"]["single"]["record"], "phase": "opened"}}


FP_METHOD = method(
    price_rule={
        **COMPREHENSIVE["price_rule"],
        "base": {
            "trim": None,
            "coefficient": "1",
            "floating_point": {"choices": CHOICES},
            "decimals": 2,
        },
    }
)


def create_from(record: Mapping[str, Any], **body: Any) -> Room:
    room = Room({})
    full = {
        "tender": "T1",
        "section": "S1",
        "venues": VENUES,
        "method": FP_METHOD,
        "draw": {"slots": SLOTS, "tenderer": "OWNER", "tenderer_region": "西安"},
        **body,
    }
    room.send("session.create", AGENCY, full, {"opening_records": [record], "sessions": []})
    return room


def test_the_session_takes_the_floating_point_the_opening_drew_and_no_other() -> None:
    record = opened_with_draw()
    room = create_from(record)
    assert room.state["floating_point"] == recomputed(FP_SEED)
    other = next(c for c in CHOICES if c != recomputed(FP_SEED))
    with pytest.raises(RuleError) as refused:
        create_from(record, floating_point=other)
    assert refused.value.code == "floating_point_mismatch"
    forged = copy.deepcopy(record)
    forged["payload"]["floating_points"]["S1"]["value"] = other
    with pytest.raises(RuleError) as refused:
        create_from(forged)
    assert refused.value.code == "record_inconsistent"


def test_the_tender_fold_keeps_the_commitment_and_the_draw() -> None:
    view = CeremonyView("tender:T")
    view.apply(
        {
            "seq": 3,
            "type": "opening.floating_point_committed",
            "payload": {"section": "S1", "commitment": commit_seed(FP_SEED)},
        }
    )
    drawn = {
        "section": "S1",
        "choices": CHOICES,
        "commitment": commit_seed(FP_SEED),
        "seed": FP_SEED.hex(),
        "value": recomputed(FP_SEED),
    }
    view.apply({"seq": 9, "type": "opening.floating_point_drawn", "payload": drawn})
    assert view.floating_points["S1"]["committed_seq"] == 3 and view.floating_points["S1"][
        "value"
    ] == recomputed(FP_SEED)


# --- the expert client says what each criterion takes ----------------------------------------------


def test_the_expert_client_lists_every_kind_with_the_values_it_takes() -> None:
    view = SessionView("session:S1")
    view.criteria = [
        c for c in method(criteria=[PLAN, PROJECTS, TALK, LATE, VIOLATION, QUALITY])["criteria"]
    ]
    view.chair = "E1"
    rows = {r[0]: r for r in criteria_rows(Out("zh-CN"), view, "E2")}
    assert rows["plan"][4] == "1 至 2 分" and rows["projects"][4] == "0 至 8 分，每档 4 分"
    assert rows["late"][4] == "0、2 分之一" and rows["talk"][3].endswith("✗")
    assert rows["quality"][2] == "专家评分（填写扣分）"
    assert "qualification" not in rows and "price" not in rows
    english = {r[0]: r for r in criteria_rows(Out("en"), view, "E1")}
    assert english["plan"][4] == "1 to 2" and not english["talk"][3].endswith("✗")


# --- 6. recommendation by the experts' votes or ranks (投票法 / 排序法) ------------------------------


def voting(by: dict[str, Any], recommend: int) -> Room:
    room = at_review(method(recommend_by=by, recommend=recommend))
    for i in range(5):
        sheet_in(room, i, {b: {"tech": "20"} for b in BIDS})
    close_deviation(room)
    return room


def ballots(room: Room, picks: list[list[str]]) -> None:
    for i, chosen in enumerate(picks):
        room.send("session.rank_vote", room.expert(i), {"bids": chosen})


def test_votes_recommend_the_most_voted_and_signing_waits_for_them() -> None:
    room = voting({"kind": "votes", "picks": 2}, 2)
    assert room.state["report"]["recommended"] == []
    digest = room.state["report_digest"]
    refused = room.refused("session.sign_report", room.expert(0), {"report_digest": digest})
    assert refused == "recommendation_pending"
    # B1 4 votes, B2 3, B3 2, B4 1 (docs/methods.md §8)
    ballots(room, [["B1", "B2"], ["B1", "B2"], ["B1", "B3"], ["B1", "B3"], ["B2", "B4"]])
    report = room.state["report"]
    assert [r["bid_id"] for r in report["recommended"]] == ["B1", "B2"]
    assert report["recommendation"]["rounds"][0]["tally"] == {"B1": 4, "B2": 3, "B3": 2, "B4": 1}
    room.send("session.sign_report", room.expert(0), {"report_digest": room.state["report_digest"]})


def test_a_tie_across_the_last_seats_is_voted_again_among_the_tied() -> None:
    room = voting({"kind": "votes", "picks": 1}, 3)
    ballots(room, [["B1"], ["B1"], ["B2"], ["B3"], ["B4"]])  # B1 2; B2, B3, B4 tied for 2
    vote = room.state["rank_vote"]
    assert (vote["round"], vote["candidates"], vote["seats"]) == (2, ["B2", "B3", "B4"], 2)
    body = {"bids": ["B1"]}
    assert room.refused("session.rank_vote", room.expert(0), body) == "invalid_candidate"
    ballots(room, [["B3"], ["B3"], ["B2"], ["B2"], ["B3"]])  # picks capped at the 2 seats
    assert room.state["rank_vote"] is None
    assert [r["bid_id"] for r in room.state["report"]["recommended"]] == ["B1", "B3", "B2"]


def test_ranks_recommend_by_the_lowest_sum_of_places() -> None:
    room = voting({"kind": "ranks"}, 2)
    orders = [["B2", "B1", "B3", "B4"]] * 3 + [["B1", "B2", "B3", "B4"]] * 2
    bad = {"bids": ["B1", "B2", "B3"]}
    assert room.refused("session.rank_vote", room.expert(0), bad) == "invalid_vote"
    ballots(room, orders)
    recommended = room.state["report"]["recommended"]
    assert [r["bid_id"] for r in recommended] == ["B2", "B1"]  # B2 1+1+1+2+2 = 7 places, B1 8


def test_a_method_recommending_by_scores_takes_no_ballot() -> None:
    room = signing()
    assert room.refused("session.rank_vote", room.expert(0), {"bids": ["B1"]}) == "wrong_phase"


def test_ballots_stay_secret_until_counted_and_the_fold_keeps_the_rounds() -> None:
    room = voting({"kind": "votes", "picks": 1}, 1)
    ballots(room, [["B1"], ["B1"], ["B1"], ["B2"], ["B2"]])
    assert {e.visibility for e in room.events("session.rank_vote")} == {"actor"}
    view = SessionView("session:S1")
    for seq, (event, actor) in enumerate(room.log, 1):
        view.apply({"seq": seq, "type": event.type, "payload": event.payload, "actor": actor})
    assert [r["recommended"] for r in view.rank_rounds] == [["B1"]]
    assert view.report is not None and view.report["recommended"][0]["bid_id"] == "B1"


# --- the offline verifier re-runs what the session decided ----------------------------------------


def reasons(report: Mapping[str, Any]) -> list[str]:
    """The verifier's findings on a report alone (its stream is not in this bundle)."""
    verifier = BundleVerifier({})
    verifier._report("report", "session:S1", report)
    return [p.reason for p in verifier.result.problems if "not in the bundle" not in p.reason]


def test_the_verifier_recomputes_a_corrected_ranking_and_refuses_a_forged_correction() -> None:
    room = signing()
    e3 = room.experts[2]
    cell = {"kind": "score", "expert": e3, "bid": "B1", "criterion": "tech"}
    room.send(
        "session.correction_request", room.chair, {**cell, "corrected": "21", "reason": "复核"}
    )
    room.send("session.correction_approve", SUPERVISOR)
    report = room.state["report"]
    assert reasons(report) == []
    forged = copy.deepcopy(report)
    forged["corrections"][0]["corrected"] = "30"
    assert any("does not follow" in r for r in reasons(forged))


def test_the_verifier_recounts_the_recommendation_vote_and_the_chairs_items() -> None:
    room = voting({"kind": "votes", "picks": 2}, 2)
    ballots(room, [["B1", "B2"], ["B1", "B2"], ["B1", "B3"], ["B1", "B3"], ["B2", "B4"]])
    report = room.state["report"]
    assert reasons(report) == []
    forged = copy.deepcopy(report)
    forged["recommendation"]["rounds"][0]["ballots"][room.experts[4]] = ["B3", "B4"]
    assert any("recount" in r for r in reasons(forged))
    chaired_room = at_review(method(criteria=[TALK]))
    for i in range(5):
        rows = {b: {"tech": "20", **({"talk": "4"} if i == 0 else {})} for b in BIDS}
        sheet_in(chaired_room, i, rows)
    close_deviation(chaired_room)
    assert reasons(chaired_room.state["report"]) == []


def test_the_verifier_finds_a_correction_or_price_scores_never_approved_in_the_stream() -> None:
    room = signing()
    body = {"kind": "base_price", "corrected": "1000000.00", "reason": "复核"}
    room.send("session.correction_request", room.chair, body)
    room.send("session.correction_approve", SUPERVISOR)
    report = room.state["report"]
    stream = _Stream("session:S1", MerkleLog())
    stream.events = {
        seq: {"type": e.type, "payload": dict(e.payload)} for seq, (e, _a) in enumerate(room.log, 1)
    }
    verifier = BundleVerifier({})
    verifier._approvals("report", stream, report)
    assert verifier.result.problems == []
    forged = copy.deepcopy(report)
    forged["corrections"][0]["approved_by"] = "someone-else"
    forged["bids"][0]["price_score"] = "60"
    verifier._approvals("report", stream, forged)
    found = [p.reason for p in verifier.result.problems]
    assert any("never approved" in r for r in found)
    assert any("price scores" in r for r in found)


def tender_stream(events: list[tuple[str, dict[str, Any]]]) -> _Stream:
    stream = _Stream("tender:T", MerkleLog())
    stream.events = {
        seq: {"seq": seq, "type": t, "payload": p, "sig": None}
        for seq, (t, p) in enumerate(events, 1)
    }
    return stream


def test_the_verifier_recomputes_the_floating_point_and_its_order() -> None:
    config = {"sections": [{"id": "S1", "name": "一标段", "floating_point": {"choices": CHOICES}}]}
    committed = (
        "opening.floating_point_committed",
        {"section": "S1", "commitment": commit_seed(FP_SEED)},
    )
    read_out = ("opening.read_out", {"stage": "single", "entries": []})
    value = recomputed(FP_SEED)
    drawn = {
        "section": "S1",
        "choices": CHOICES,
        "commitment": commit_seed(FP_SEED),
        "seed": FP_SEED.hex(),
        "value": value,
    }

    def problems(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
        verifier = BundleVerifier({})
        verifier._floating_points(tender_stream(events), config, [])
        return [p.reason for p in verifier.result.problems]

    assert problems([committed, read_out, ("opening.floating_point_drawn", drawn)]) == []
    late = problems([read_out, committed, ("opening.floating_point_drawn", drawn)])
    assert any("committed after the read-out" in r for r in late)
    other = next(c for c in CHOICES if c != value)
    forged = problems(
        [committed, read_out, ("opening.floating_point_drawn", {**drawn, "value": other})]
    )
    assert any(f"recomputed {value}" in r for r in forged)


# --- the report (HTML, PDF) lays out what the rules decided ---------------------------------------


def text_of(doc: Document) -> str:
    parts = []
    for section in doc.sections:
        for block in section.blocks:
            if isinstance(block, Table):
                parts += [" ".join(block.head), *(" ".join(r) for r in block.rows)]
            else:
                parts.append(block if isinstance(block, str) else block.text)
    return "\n".join(parts)


def test_the_report_shows_corrections_the_chairs_items_and_the_recommendation_vote() -> None:
    room = at_review(
        method(criteria=[TALK], recommend_by={"kind": "votes", "picks": 1}, recommend=1)
    )
    for i in range(5):
        rows = {b: {"tech": "20", **({"talk": "4"} if i == 0 else {})} for b in BIDS}
        sheet_in(room, i, rows)
    close_deviation(room)
    body = {"kind": "base_price", "corrected": "1000000.00", "reason": "复核：B4 报价算术修正"}
    room.send("session.correction_request", room.chair, body)
    room.send("session.correction_approve", SUPERVISOR)
    ballots(room, [["B1"], ["B1"], ["B1"], ["B2"], ["B2"]])
    doc = document(STREAM, room.state, [])
    text = text_of(doc)
    assert "复核更正" in text and "复核：B4 报价算术修正" in text and "1000000.00" in text
    assert "投票法第 1 轮（1 个名额）：B1 3，B2 2，B3 0，B4 0票" in text
