"""The bidding deadline as a pure rule: the edges the live opening tests cannot reach on
purpose (exactly at the opening time, every phase), asked of the domain alone."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from evalroom.domain import bids
from evalroom.domain.commands import Actor, Command
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
