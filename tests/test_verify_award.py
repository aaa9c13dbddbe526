"""The verifier's award check (``clients/verify_award.py``), pure: a record made by the
deciders checks; each way of bending it — a recount, a winner, a late seed, a lost ballot, a
price — is named."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from clients.verify_award import AwardCheck, check_award
from crypto.canonical import canonical_json
from tests.test_award_domain import (
    LOT,
    RECOMMENDED,
    STREAM,
    SUPERVISOR,
    TENDERER,
    Room,
    ballots,
    signed_and_published,
    signed_in,
)

SIGNED_BODY_DROPS = {"member"}  # what the decider adds to a signed command's body


def recorded(room: Room) -> tuple[list[dict[str, Any]], set[int]]:
    """The room's events as the bundle holds them: numbered, signed ones carrying their body."""
    events, signed = [], set()
    for seq, (event, actor) in enumerate(room.log, start=1):
        payload = dict(event.payload)
        if event.signed:
            body = {k: v for k, v in payload.items() if k not in SIGNED_BODY_DROPS}
            payload["command"] = {"type": event.type, "body": body}
            signed.add(seq)
        at = room.now.isoformat()
        events.append(
            {"seq": seq, "type": event.type, "actor": actor, "payload": payload, "at": at}
        )
    return events, signed


def checked(events: list[dict[str, Any]], signed: set[int]) -> AwardCheck:
    return check_award(STREAM, events, signed, RECOMMENDED)


def lot_room() -> Room:
    room = signed_in(LOT)
    room.vote(ballots(B2=3, B1=2))
    room.send("award.reveal_seed", SUPERVISOR, {"seed": bytes(range(32)).hex()})
    return room


def reasons(result: AwardCheck) -> list[str]:
    return [f"{where}: {why}" for where, why in result.problems]


def test_an_honest_record_checks_and_says_what_it_recomputed() -> None:
    result = checked(*recorded(lot_room()))
    assert result.problems == []
    (line,) = result.summary
    assert "vote_lot →" in line and "(lot)" in line and "5 signed votes" in line


def test_a_round_counted_otherwise_than_the_signed_votes_is_named() -> None:
    events, signed = recorded(lot_room())
    round_ = next(e for e in events if e["type"] == "award.round")
    round_["payload"]["counts"] = {"B1": 4, "B3": 0, "B2": 1}
    (problem,) = reasons(checked(events, signed))
    assert f"event {STREAM}#{round_['seq']}: round 1: counts" in problem
    assert "but the signed votes give {'B1': 2, 'B3': 0, 'B2': 3}" in problem


def test_a_report_naming_another_winner_is_named_even_with_its_digest_redone() -> None:
    events, signed = recorded(lot_room())
    report_event = next(e for e in events if e["type"] == "award.report")
    report = copy.deepcopy(report_event["payload"]["report"])
    other = "B1" if report["winner"]["bid_id"] == "B2" else "B2"
    report["winner"] = {**report["winner"], "bid_id": other}
    report_event["payload"] = {
        "report": report,
        "award_digest": hashlib.sha256(canonical_json(report)).hexdigest(),
    }
    problems = reasons(checked(events, signed))
    assert any(f"names {other} but the signed record gives" in p for p in problems), problems


def test_a_seed_committed_after_the_first_vote_is_named() -> None:
    events, signed = recorded(lot_room())
    committed = next(e for e in events if e["type"] == "award.seed_committed")
    first_vote = next(e for e in events if e["type"] == "award.vote")
    committed["seq"], first_vote["seq"] = first_vote["seq"], committed["seq"]
    signed = (signed - {committed["seq"]}) | {first_vote["seq"]}
    events.sort(key=lambda e: e["seq"])
    problems = reasons(checked(events, signed))
    assert any("committed after voting began" in p for p in problems), problems


def test_a_ballot_that_does_not_verify_is_named_and_its_member_missing() -> None:
    events, signed = recorded(lot_room())
    vote = next(e for e in events if e["type"] == "award.vote")
    problems = reasons(checked(events, signed - {vote["seq"]}))
    assert any("a vote without a valid signature" in p for p in problems)
    assert any("no vote from ['m1']" in p for p in problems), problems


def test_the_price_method_is_recomputed_from_the_candidates_prices() -> None:
    room = signed_in({"kind": "price"})
    events, signed = recorded(room)
    assert checked(events, signed).problems == []
    setup = next(e for e in events if e["type"] == "award.set_up")
    for c in setup["payload"]["candidates"]:
        if c["bid_id"] == "B1":
            c["price"] = "1.00"  # B1 made the cheapest: it should have won
    problems = reasons(checked(events, signed))
    assert any("names B2 but the signed record gives B1" in p for p in problems), problems


def test_a_notice_before_the_window_closed_is_named() -> None:
    room = signed_and_published(signed_in({"kind": "vote"}, objection_seconds=60))
    room.tick(61)
    room.send("award.notify", TENDERER)
    events, signed = recorded(room)
    honest = checked(events, signed)
    assert honest.problems == [] and "定标报告 signed by 5/5" in honest.summary[0]
    notice = next(e for e in events if e["type"] == "award.notice")
    notice["at"] = "2000-01-01T00:00:00+00:00"
    problems = reasons(checked(events, signed))
    assert any("before the objection window" in p for p in problems), problems
