"""The bidding deadline and the decryption status as pure rules: the edges the live opening
tests cannot reach on purpose (exactly at the opening time, every phase), asked of the domain
alone, with no database."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest

from evalroom.domain import bids, opening
from evalroom.domain.commands import Actor, Command, Decision
from evalroom.domain.roles import Role
from evalroom.domain.rules import RuleError

AT = datetime.fromisoformat("2026-12-01T09:30:00+08:00")
TICK = timedelta(microseconds=1)
CONFIG = {
    "sections": [{"id": "S1", "name": "一标段"}],
    "opening_at": AT.isoformat(),
    "failure_rule": "reject",
    "opening_recipient": "age1example",
    "decryption_window_seconds": 600,
    "forms": {"single": [{"name": "price", "type": "decimal", "required": True}]},
}
BIDDER = Actor("bidder-u", frozenset({Role.BIDDER}), "BidCo")
ENVELOPE = {"upload": "U1", "sha256": "ab" * 32, "size": 10, "version": 1}
OWN = {"tender": "tender:T", "org": "BidCo", "by": "bidder-u", "bids": {}}


def code(call: Any, *args: Any) -> str:
    try:
        call(*args)
    except RuleError as refusal:
        return refusal.code
    return "ok"


# -- the bidding deadline: one rule for the decider and the upload's check -----------------


@pytest.mark.parametrize(
    ("phase", "when", "expected"),
    [
        ("bidding", AT - TICK, "ok"),
        ("bidding", AT, "deadline_passed"),  # the opening time itself is past the deadline
        ("bidding", AT + TICK, "deadline_passed"),
        ("draft", AT - TICK, "wrong_phase"),
        ("draft", AT + TICK, "wrong_phase"),  # never published: not a deadline of its
        ("opening", AT - TICK, "deadline_passed"),  # started: the gate let a bid in late
        ("opening", AT + TICK, "deadline_passed"),
        ("technical_opened", AT + TICK, "deadline_passed"),
        ("opened", AT + TICK, "deadline_passed"),
    ],
)
def test_bids_are_taken_in_bidding_until_the_opening_time(
    phase: str, when: datetime, expected: str
) -> None:
    tender = {"phase": phase, "config": CONFIG}
    assert code(bids.open_for_bids, tender, when) == expected
    # bid.submit and bid.withdraw refuse with the very same code at the very same instant.
    for type_, body in (
        ("bid.submit", {"section": "S1", "envelope": "single", "upload": "U1"}),
        ("bid.withdraw", {"section": "S1"}),
    ):
        state = {**OWN, "bids": {"S1": {"status": "submitted", "envelopes": {}}}}
        facts = {"tender": tender, "tender_stream": "tender:T", "sha256": "ab" * 32, "size": 10}
        cmd = Command(type_, "bid:T.0", body, BIDDER, when, facts=facts)
        assert code(bids.DECIDERS[type_], state, cmd) == expected, type_


def test_a_tender_without_rules_takes_no_bids() -> None:
    assert code(bids.open_for_bids, {"phase": "draft"}, AT) == "wrong_phase"
    assert code(bids.open_for_bids, {"phase": "bidding"}, AT - TICK) == "not_configured"


def test_the_rules_come_back_for_the_upload_limit() -> None:
    config = bids.open_for_bids({"phase": "bidding", "config": CONFIG}, AT - TICK)
    assert config.opening_at == AT and config.max_bid_bytes == 1 << 30


# -- "decrypting": announced once, only for a bid its signed-in bidder may release ----------


def started(*, signed_in: bool = True) -> Mapping[str, Any]:
    own = {**OWN, "bids": {"S1": {"status": "submitted", "envelopes": {"single": ENVELOPE}}}}
    streams = [{"stream": "bid:T.0", "size": 2, "root": "r", "state": own}]
    agency = Actor("agency-u", frozenset({Role.AGENCY}))
    facts = {"bid_streams": streams}
    cmd = Command("opening.start", "tender:T", {}, agency, AT, facts=facts)
    state = opening.start({"phase": "bidding", "config": CONFIG}, cmd).state
    if signed_in:
        state = opening.sign_in(state, Command("opening.sign_in", "tender:T", {}, BIDDER, AT)).state
    return state


def decrypting(state: Mapping[str, Any], when: datetime = AT) -> Decision:
    cmd = Command("bid.decrypting", "tender:T", {"section": "S1"}, BIDDER, when)
    return opening.mark_decrypting(state, cmd)


def status(state: Mapping[str, Any]) -> str:
    return str(state["opening"]["single"]["bids"]["S1-B01"]["status"])


def test_a_waiting_bid_is_announced_decrypting_once() -> None:
    first = decrypting(started())
    assert [(e.type, dict(e.payload)) for e in first.events] == [
        ("bid.status", {"number": "S1-B01", "status": "decrypting"})
    ]
    again = decrypting(first.state)  # a retried release: nothing new to show
    assert again.events == [] and again.state == first.state


def test_a_failed_release_is_announced_again_on_the_next_try() -> None:
    state = decrypting(started()).state
    failed = {"ok": False, "reason": "wrong_key"}
    body = {"section": "S1", "identity": "AGE-SECRET-KEY-1X"}
    cmd = Command("bid.release_key", "tender:T", body, BIDDER, AT, facts=failed)
    state = opening.release_key(state, cmd).state
    assert status(state) == "failed"
    assert [e.payload["status"] for e in decrypting(state).events] == ["decrypting"]


def test_no_announcement_for_a_bid_that_may_not_be_released() -> None:
    assert code(decrypting, started(signed_in=False)) == "not_signed_in"
    window_ends = AT + timedelta(seconds=600)
    assert code(decrypting, started(), window_ends) == "window_closed"
    decided = {"ok": True, "form": {"price": "1"}, "plain": "P1", "plain_sha256": "cd" * 32}
    body = {"section": "S1", "identity": "AGE-SECRET-KEY-1X"}
    cmd = Command("bid.release_key", "tender:T", body, BIDDER, AT, facts=decided)
    assert code(decrypting, opening.release_key(started(), cmd).state) == "already_opened"
    outsider = Actor("other-u", frozenset({Role.BIDDER}), "OtherCo")
    cmd = Command("bid.decrypting", "tender:T", {"section": "S1"}, outsider, AT)
    assert code(opening.mark_decrypting, started(), cmd) == "not_a_bidder"
