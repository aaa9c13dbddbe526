"""The control price at the opening (最高投标限价): the tender's rule, the read-out, the record,
the handover to the evaluation and the few-valid-bids rule, as pure functions (no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from evalroom.domain.commands import Actor, Command
from evalroom.domain.handover import SignedRecord, control_differences, session_bids
from evalroom.domain.opening import read_out, sign_record
from evalroom.domain.rules import RuleError
from evalroom.domain.tender_config import TenderConfig, few_valid_outcome
from tests.test_session_domain import (
    AGENCY,
    SLOTS,
    SUPERVISOR,
    VENUES,
    Room,
    chaired,
    checked_in,
    drawn,
)

T0 = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
LIMIT = {"limit": "1000000.00", "floor": "800000.00"}


def config(control: Any = LIMIT, **extra: Any) -> dict[str, Any]:
    section: dict[str, Any] = {"id": "01", "name": "第一标段"}
    if control is not None:
        section["control_price"] = control
    return {
        "sections": [section],
        "opening_at": T0.isoformat(),
        "min_bids": 3,
        "failure_rule": "reject",
        "opening_recipient": "age1xyz",
        "forms": {"single": [{"name": "price", "type": "decimal"}]},
        **extra,
    }


# --- the tender's rule --------------------------------------------------------------------


def test_a_sections_control_price_is_read_and_published_with_the_tender() -> None:
    parsed = TenderConfig.from_dict(config(few_valid="reject_all"))
    assert parsed.few_valid == "reject_all"
    assert parsed.sections_public() == [{"id": "01", "name": "第一标段", "control_price": LIMIT}]
    assert TenderConfig.from_dict(config(None)).sections_public() == [
        {"id": "01", "name": "第一标段"}
    ]
    assert TenderConfig.from_dict(config(None)).few_valid == "continue"


@pytest.mark.parametrize(
    ("control", "field"),
    [
        ({"limit": "0"}, "control_price.limit"),
        ({"limit": 1000000.5}, "control_price.limit"),
        ({"limit": "100", "floor": "120"}, "control_price.floor"),
        ({"limit": "100", "floor_ratio": "1.2"}, "control_price.floor_ratio"),
        ({"limit": "100", "cap": "1"}, "cap"),
    ],
)
def test_a_bad_control_price_is_refused_naming_the_section_and_field(
    control: Any, field: str
) -> None:
    with pytest.raises(RuleError) as refusal:
        TenderConfig.from_dict(config(control))
    assert refusal.value.code == "invalid_config"
    assert "section 01" in refusal.value.message and field in refusal.value.message


def test_an_unknown_few_valid_rule_is_refused() -> None:
    with pytest.raises(RuleError) as refusal:
        TenderConfig.from_dict(config(few_valid="maybe"))
    assert refusal.value.code == "invalid_config" and "few_valid" in refusal.value.message


# --- the read-out and the record ----------------------------------------------------------


def opening_state(prices: dict[str, str], cfg: dict[str, Any]) -> dict[str, Any]:
    bids = {
        number: {
            "section": "01",
            "org": f"C-{number}",
            "status": "decrypted",
            "sha256": "ab" * 32,
            "plain_sha256": "cd" * 32,
            "form": {"price": price},
            "via": "bidder",
        }
        for number, price in prices.items()
    }
    stage = {
        "window_closed": True,
        "fallback": [],
        "read_out": False,
        "bids": bids,
        "confirmed": [],
        "objections": [],
        "signed_by": {},
    }
    return {"phase": "opening", "config": cfg, "opening": {"stage": "single", "single": stage}}


def run(decider: Any, state: dict[str, Any], actor: Actor) -> Any:
    return decider(state, Command("x", "tender:T1", {}, actor, T0, "sig", {}))


def opened(prices: dict[str, str], cfg: dict[str, Any] | None = None) -> tuple[Any, Any]:
    """(the read-out event's payload, the signed record's payload)."""
    decision = run(read_out, opening_state(prices, cfg or config()), AGENCY)
    state = run(sign_record, decision.state, AGENCY).state
    signed = run(sign_record, state, SUPERVISOR)
    record = next(e for e in signed.events if e.type == "opening.record")
    return decision, record.payload


EDGES = {
    "01-B01": "1000000.00",  # equal to the limit: within it (不得超过)
    "01-B02": "1000000.01",  # a cent above: rejected
    "01-B03": "800000.00",  # equal to the floor: not below it
    "01-B04": "799999.99",  # a cent below the floor: flagged, still valid
}


def test_the_read_out_rejects_above_the_limit_and_flags_below_the_floor_at_the_edges() -> None:
    decision, record = opened(EDGES)
    entries = {e["number"]: e for e in decision.events[0].payload["entries"]}
    assert "rejected" not in entries["01-B01"] and "review" not in entries["01-B01"]
    rejected = entries["01-B02"]["rejected"]
    assert rejected["reason"] == "above_control_price" and rejected["by"] == "control_price"
    assert "1000000.01" in rejected["detail"] and "超过最高投标限价" in rejected["detail"]
    assert "exceeds the control price" in rejected["detail_en"]
    assert entries["01-B02"]["form"] == {"price": "1000000.01"}  # the price is still read out
    assert "review" not in entries["01-B03"]
    assert entries["01-B04"]["review"]["reason"] == "below_floor"
    assert "799999.99" in entries["01-B04"]["review"]["detail"]
    # The signed record carries the same standing, the rule for few valid bids too.
    by_number = {b["number"]: b for b in record["bids"]}
    assert by_number["01-B02"]["rejected"] == rejected
    assert by_number["01-B04"]["review"] == entries["01-B04"]["review"]
    assert "rejected" not in by_number["01-B01"] and record["few_valid"] == "continue"
    # Three valid bids remain (B01, B03, B04): the section does not fail.
    assert not any(e.type == "section.failed" for e in decision.events)


def test_a_rejected_bid_does_not_count_towards_the_sections_minimum() -> None:
    decision, record = opened({"01-B01": "900000.00", "01-B02": "950000.00", "01-B03": "1000001"})
    failed = next(e for e in decision.events if e.type == "section.failed")
    assert failed.payload["valid"] == {"01": 2} and record["failed_sections"] == ["01"]


def test_every_bid_above_the_limit_fails_the_section() -> None:
    decision, _record = opened({"01-B01": "1000001", "01-B02": "1200000"})
    failed = next(e for e in decision.events if e.type == "section.failed")
    assert failed.payload["valid"] == {"01": 0}


def test_without_a_control_price_the_read_out_and_record_are_as_before() -> None:
    decision, record = opened(EDGES, config(None))
    assert all("rejected" not in e for e in decision.events[0].payload["entries"])
    assert all("rejected" not in b and "review" not in b for b in record["bids"])


# --- the handover and the verifier's recomputation ------------------------------------------


def test_the_handover_takes_rejected_bids_apart_with_their_reasons() -> None:
    _decision, record = opened(EDGES, config(few_valid="reject_all"))
    handover = session_bids([SignedRecord(41, record)], "01")
    assert [b["bid_id"] for b in handover.bids] == ["01-B01", "01-B03", "01-B04"]
    (rejected,) = handover.rejected
    assert rejected["bid_id"] == "01-B02" and rejected["reason"] == "above_control_price"
    assert rejected["price"] == "1000000.01" and rejected["by"] == "control_price"
    assert rejected["at"] == {"stage": "single", "seq": 41} and rejected["detail_en"]
    assert [f["bid_id"] for f in handover.flagged] == ["01-B04"]
    assert handover.few_valid == "reject_all"


def test_the_recomputed_standings_name_a_bid_over_the_limit_shown_valid() -> None:
    _decision, record = opened(EDGES)
    published = {"sections": [{"id": "01", "name": "第一标段", "control_price": LIMIT}]}
    assert control_differences([SignedRecord(41, record)], published) == []
    forged = {
        **record,
        "bids": [{k: v for k, v in b.items() if k != "rejected"} for b in record["bids"]],
    }
    (difference,) = control_differences([SignedRecord(41, forged)], published)
    assert "01-B02" in difference and "above_control_price" in difference
    # A record rejecting a bid the published control price does not reject is named too.
    assert control_differences([SignedRecord(41, record)], {"sections": [{"id": "01"}]})


# --- fewer than three valid bids --------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "valid", "outcome"),
    [
        ("continue", 3, None),
        ("reject_all", 3, None),
        ("continue", 2, "continue"),
        ("reject_all", 2, "reject_all"),
        ("reject_all", 0, "reject_all"),
    ],
)
def test_the_few_valid_rule_applies_below_three(rule: str, valid: int, outcome: str | None) -> None:
    assert few_valid_outcome(rule, valid) == outcome


SESSION_BIDS = {"B1": "900000.00", "B2": "950000.00", "B3": "1000000.01", "B4": "980000.00"}


LOWEST_PRICE = {
    "kind": "lowest_evaluated_price",
    "criteria": [{"id": "qualification", "name": "资格", "kind": "pass_fail", "max_points": None}],
    "price_rule": None,
    "recommend": 3,
}


def session_room(rule: str) -> Room:
    """A session of 4 bids whose B3 the opening rejected by the control price."""
    _decision, record = opened(SESSION_BIDS, config(few_valid=rule, min_bids=1))
    return chaired_session(record, LOWEST_PRICE)


def chaired_session(record: dict[str, Any], method: dict[str, Any]) -> Room:
    """A session of section 01 created from the signed opening ``record``, its committee
    drawn, checked in and its chair elected."""
    body = {
        "tender": "T1",
        "section": "01",
        "venues": VENUES,
        "method": method,
        "draw": {"slots": SLOTS, "tenderer": "OWNER", "tenderer_region": "西安"},
    }
    room = Room({})
    facts = {"opening_records": [{"seq": 41, "payload": record}], "sessions": []}
    room.send("session.create", AGENCY, body, facts)
    for step in (drawn, checked_in, chaired):
        step(room)
    return room


def review(room: Room, failing: set[str]) -> None:
    for i in range(5):
        for bid in ("B1", "B2", "B4"):
            body = {"bid": bid, "criterion": "qualification", "pass": bid not in failing}
            room.send("session.preliminary", room.expert(i), {**body, "reason": "资质不符"})
    room.send("session.close_phase", room.chair, {"phase": "preliminary_review"})


def test_the_session_records_the_opening_rejection_and_never_evaluates_it() -> None:
    room = session_room("continue")
    assert [b["bid_id"] for b in room.state["bids"]] == ["B1", "B2", "B4"]
    (rejected,) = room.state["rejected"]
    assert rejected["bid_id"] == "B3" and rejected["reason"] == "above_control_price"
    (listed,) = room.events("session.bids")
    assert listed.payload["rejected"] == [rejected]
    assert room.refused(
        "session.preliminary",
        room.expert(0),
        {"bid": "B3", "criterion": "qualification", "pass": True},
    ) in {"unknown_bid", "invalid_bid"}
    review(room, set())  # three valid: no rule to apply
    assert not room.events("session.few_valid") and room.phase == "signing"
    assert room.state["report"]["rejected_bids"] == [rejected]
    assert [b["bid_id"] for b in room.state["report"]["ranking"]["bids"]] == ["B1", "B2", "B4"]


def test_two_valid_bids_continue_under_the_continue_rule() -> None:
    room = session_room("continue")
    review(room, {"B4"})
    (decision,) = room.events("session.few_valid")
    assert decision.payload["valid"] == 2 and decision.payload["decision"] == "continue"
    assert decision.payload["rejected_at_opening"] == 1 and "继续评标" in decision.payload["detail"]
    assert room.phase == "signing" and room.state["report"]["recommended"]


def test_two_valid_bids_reject_all_under_the_reject_all_rule() -> None:
    room = session_room("reject_all")
    review(room, {"B4"})
    (decision,) = room.events("session.few_valid")
    assert (
        decision.payload["decision"] == "reject_all"
        and "否决所有投标" in decision.payload["detail"]
    )
    assert decision.payload["by"] == room.state["chair"]
    (closed,) = room.events("session.closed")
    assert closed.payload == {"recommended": [], "all_rejected": True}
    assert room.phase == "closed" and room.state["report"] is None
    assert room.state["few_valid_decision"]["decision"] == "reject_all"
