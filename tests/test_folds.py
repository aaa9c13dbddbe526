"""The pure folds (clients/folds/) keep where their facts come from: the seq of each event
type, each stage's record with who had signed it by then, the session's opening record and
bids. The verifier and the demo read these; the recorded streams are tests/data/streams/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from clients.folds.session import SessionView
from clients.folds.tender import CeremonyView

STREAMS = Path(__file__).resolve().parent / "data" / "streams"


def _events(name: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads((STREAMS / f"{name}.json").read_text("utf-8"))
    return events


def _tender(events: list[dict[str, Any]]) -> CeremonyView:
    view = CeremonyView("tender:T1")
    for event in events:
        view.apply(event)
    return view


def test_a_stage_keeps_its_record_with_its_seq_and_who_had_signed_it_by_then() -> None:
    events = _events("tender")
    view = _tender(events)
    stage = view.current
    assert stage is not None and stage.record is not None
    record = next(e for e in events if e["type"] == "opening.record")
    assert stage.record_seq == record["seq"] == view.seq_of["opening.record"]
    assert stage.record_signed_by == {"agency": "agency", "supervisor": "sup"}
    committed = next(e for e in events if e["type"] == "bids.committed")
    assert view.seq_of["bids.committed"] == committed["seq"]


def test_a_signature_after_the_record_does_not_count_as_signing_it() -> None:
    events = _events("tender")
    cut = next(i for i, e in enumerate(events) if e["type"] == "opening.record_signed")
    late = [e for e in events[cut:] if e["type"] == "opening.record_signed"]
    rest = [e for e in events[cut:] if e["type"] != "opening.record_signed"]
    stage = _tender(events[:cut] + rest + late).current
    assert stage is not None
    assert stage.record_signed_by == {} and set(stage.signed_by) == {"agency", "supervisor"}


def test_the_signer_is_the_events_actor_not_the_name_in_its_payload() -> None:
    events = _events("tender")
    forged = [
        {**e, "payload": {**e["payload"], "by": "someone-else"}}
        if e["type"] == "opening.record_signed"
        else e
        for e in events
    ]
    stage = _tender(forged).current
    assert stage is not None and stage.record_signed_by == {"agency": "agency", "supervisor": "sup"}


def test_the_session_keeps_its_opening_record_and_its_bids() -> None:
    view = SessionView("session:S1")
    for event in _events("session"):
        view.apply(event)
    assert view.opening_record == [{"seq": 24, "digest": "0123456789abcdef"}]
    assert view.bids is not None and [b["bid_id"] for b in view.bids] == ["B01", "B02", "B04"]
    assert view.seq_of["session.bids"] == 2 and view.seq_of["session.created"] == 1
    assert SessionView("session:S2").bids is None  # not seen is not "no bids"


def test_bids_rejected_at_the_opening_are_kept_apart_with_their_reason() -> None:
    view = SessionView("session:S1")
    for event in _events("session"):
        view.apply(event)
    # 否决投标 by the control price: not among the bids the committee evaluates.
    assert [r["bid_id"] for r in view.rejected] == ["B03"]
    assert view.bids is not None and "B03" not in {b["bid_id"] for b in view.bids}
    rejected = view.rejected[0]
    assert rejected["reason"] == "above_control_price" and rejected["by"] == "control_price"
    assert "否决投标" in rejected["detail"] and rejected["detail_en"]
    # 低于成本 review: still a bid of the evaluation, flagged.
    assert [f["bid_id"] for f in view.flagged] == ["B02"]
    assert view.few_valid is None and not view.all_rejected


def test_the_few_valid_decision_is_recorded_and_reject_all_closes_without_a_ranking() -> None:
    view = SessionView("session:S1")
    for event in _events("session_rejected"):
        view.apply(event)
    assert view.few_valid is not None
    assert view.few_valid["decision"] == "reject_all" and view.few_valid["valid"] == 2
    assert view.seq_of["session.few_valid"] == 6
    assert view.ended and view.all_rejected and view.recommended == []
    assert view.award is None


def test_a_continue_decision_is_kept_and_going_back_to_the_review_forgets_it() -> None:
    view = SessionView("session:S1")
    decided = {"valid": 2, "minimum": 3, "rule": "continue", "decision": "continue"}
    view.apply({"seq": 1, "type": "session.few_valid", "payload": decided})
    assert view.few_valid == decided and not view.all_rejected
    view.apply(
        {"seq": 2, "type": "session.goback_approved", "payload": {"to_phase": "preliminary_review"}}
    )
    assert view.few_valid is None


def test_the_award_is_folded_from_its_events_in_the_sessions_stream() -> None:
    view = SessionView("session:S1")
    for event in _events("session"):
        view.apply(event)
    a = view.award
    assert a is not None
    assert view.phase == "closed"  # award.phase moves the award, never the session
    assert a.kind == "vote_lot" and a.phase == "awarded"
    assert [c["bid_id"] for c in a.candidates] == ["B01", "B04", "B02"]
    assert a.members == ["m1", "m2", "m3", "m4", "m5"] and a.chair == "m1"
    assert a.signed_in["sup"] == "supervisor" and len(a.signed_in) == 6
    assert [r["counts"] for r in a.rounds] == [{"B01": 3, "B04": 2, "B02": 0}]
    assert a.voting is None and a.votes == {"m1": {1: "B01"}}
    assert a.lot is not None and a.lot["pick"] == "B04" and a.finalists == ["B01", "B04"]
    assert a.seed_commitment == a.lot["commitment"]
    assert a.signatures["m2"] == "B01 was cheaper to run" and len(a.signatures) == 5
    assert a.publicity is not None and a.publicity["until"] == "2026-12-04T01:07:04+00:00"
    assert a.unanswered() == [] and set(a.objections) == {"O1", "O2"}
    assert a.publicity_closed == {"objections": 2, "unanswered": ["O2"]}
    assert a.winner is not None and a.winner["bid_id"] == "B04"
    assert view.seq_of["award.notice"] == len(_events("session")) - 1


def test_a_bidder_learns_the_awards_phase_from_the_public_events() -> None:
    # award.phase is staff-only; a bidder sees set_up, the 公示, the objections, the notice.
    public = {
        "award.set_up",
        "award.seed_committed",
        "award.lot_drawn",
        "award.publicity",
        "award.objection",
        "award.objection_answered",
        "award.publicity_closed",
        "award.notice",
    }
    view = SessionView("session:S1")
    for event in _events("session"):
        if event["type"] in public:
            view.apply(event)
            if event["type"] == "award.publicity":
                assert view.award is not None and view.award.phase == "publicity"
    assert view.award is not None and view.award.phase == "awarded"
    assert view.award.members == [] and view.award.member_count == 5
