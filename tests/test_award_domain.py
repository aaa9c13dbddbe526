"""The award (定标, 评定分离) as a pure state machine: the four methods and their edges, the
定标报告 and its signatures, the publicity with objections on its clock, and the award
notice — every rule driven through the deciders of ``evalroom.domain.award``, no database."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from crypto.canonical import canonical_json
from evalroom.domain.award import COMMAND_ROLES, DECIDERS, SIGNED, next_deadline
from evalroom.domain.award_rules import (
    AwardMethod,
    Candidate,
    Kind,
    count_round,
    draw_lot,
    recompute,
)
from evalroom.domain.commands import Actor, Command, Decision, NewEvent
from evalroom.domain.method_rules import commit_seed
from evalroom.domain.roles import may_see
from evalroom.domain.rules import RuleError
from evalroom.services.award import BODIES

STREAM = "session:T1-S1"
T0 = datetime(2026, 12, 10, 2, 0, tzinfo=UTC)
SEED = bytes(range(32))
MEMBERS = ["m1", "m2", "m3", "m4", "m5"]

TENDERER = Actor("owner-1", frozenset({"tenderer"}), org="OWNER")
SUPERVISOR = Actor("sup-1", frozenset({"supervisor"}), org="OFFICE")
AGENCY = Actor("agency-1", frozenset({"agency"}), org="AGENCY-CO")
EXPERT = Actor("x1", frozenset({"expert"}))
SYSTEM = Actor("system", frozenset({"system"}))
BIDDER_B2 = Actor("user-C2", frozenset({"bidder"}), org="C2")

# The closed session, as far as the award reads it: the bids of the signed opening record
# and the signed report's recommendation (ranked).
BIDS = [
    {"bid_id": "B1", "company": "C1", "price": "1000000.00"},
    {"bid_id": "B2", "company": "C2", "price": "980000.00"},
    {"bid_id": "B3", "company": "C3", "price": "990000.00"},
    {"bid_id": "B4", "company": "C4", "price": "1200000.00"},
]
RECOMMENDED = [
    {"rank": 1, "bid_id": "B1", "company": "C1"},
    {"rank": 2, "bid_id": "B3", "company": "C3"},
    {"rank": 3, "bid_id": "B2", "company": "C2"},
]


def closed_session(recommended: list[dict[str, Any]] = RECOMMENDED) -> dict[str, Any]:
    return {
        "phase": "closed",
        "tender": "T1",
        "section": "S1",
        "bids": BIDS,
        "report": {"recommended": recommended},
        "report_digest": "ab" * 32,
    }


def member(user: str) -> Actor:
    return Actor(user, frozenset({"award_member"}), org="OWNER")


def duties(
    holdings: list[tuple[str, str, str | None]] = (),  # type: ignore[assignment]
    people: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """``facts["duties"]`` as the pipeline reads it: (user, role, org) held in the tender."""
    registered = {m: "OWNER" for m in MEMBERS} | dict(people or {})
    return {
        "duties": {
            "holdings": [
                {"user": u, "role": r, "scope": "tender:T1", "org": o, "employer": None}
                for u, r, o in holdings
            ],
            "people": {u: {"org": o} for u, o in registered.items()},
        }
    }


@dataclass
class Room:
    state: Mapping[str, Any]
    now: datetime = T0
    log: list[tuple[NewEvent, str]] = field(default_factory=list)

    def send(
        self,
        type_: str,
        actor: Actor,
        body: Mapping[str, Any] | None = None,
        facts: Mapping[str, Any] | None = None,
    ) -> Decision:
        if not actor.roles & COMMAND_ROLES[type_]:
            raise RuleError("forbidden", f"{type_} refused to {sorted(actor.roles)}")
        cmd = Command(type_, STREAM, body or {}, actor, self.now, "sig", facts or {})
        decision = DECIDERS[type_](self.state, cmd)
        assert json.loads(json.dumps(decision.state)) == decision.state  # plain JSON
        self.state = decision.state
        self.log.extend((e, actor.user_id) for e in decision.events)
        return decision

    def refused(self, type_: str, actor: Actor, body: Mapping[str, Any] | None = None) -> str:
        before = json.dumps(self.state, sort_keys=True)
        with pytest.raises(RuleError) as refusal:
            self.send(type_, actor, body, duties())
        assert json.dumps(self.state, sort_keys=True) == before
        return refusal.value.code

    @property
    def award(self) -> dict[str, Any]:
        found: dict[str, Any] = self.state["award"]
        return found

    @property
    def phase(self) -> str:
        return str(self.award["phase"])

    def events(self, type_: str) -> list[NewEvent]:
        return [e for e, _ in self.log if e.type == type_]

    def vote(self, choices: Mapping[str, str]) -> None:
        number = self.award["round"]["number"]
        for who, bid in choices.items():
            self.send("award.vote", member(who), {"round": number, "candidate": bid})

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def sees(actor: Actor, event: NewEvent, sender: str = "") -> bool:
    return may_see(
        event.visibility,
        roles=actor.roles,
        user_id=actor.user_id,
        org=actor.org,
        venues=actor.venues,
        event_actor=sender,
    )


def set_up(method: Mapping[str, Any], **extra: Any) -> Room:
    room = Room(closed_session())
    body = {"method": dict(method), "members": MEMBERS, "chair": "m1", **extra}
    room.send("award.setup", TENDERER, body, duties())
    return room


def signed_in(method: Mapping[str, Any], *, seed: bool = True, **extra: Any) -> Room:
    room = set_up(method, **extra)
    if method["kind"] == "vote_lot" and seed:
        room.send("award.commit_seed", SUPERVISOR, {"commitment": commit_seed(SEED)})
    for m in MEMBERS:
        room.send("award.sign_in", member(m))
    room.send("award.sign_in", SUPERVISOR)
    return room


def ballots(**counts: int) -> dict[str, str]:
    """Votes giving each bid its count, members in order: ``ballots(B1=3, B2=2)``."""
    order = [bid for bid, n in counts.items() for _ in range(n)]
    assert len(order) == len(MEMBERS)
    return dict(zip(MEMBERS, order, strict=True))


def signed_and_published(room: Room) -> Room:
    """票决法 with every vote for B1, the 定标报告 signed by every member: 公示 begins."""
    room.vote(ballots(B1=5))
    digest = room.award["award_digest"]
    for m in MEMBERS:
        room.send("award.sign_report", member(m), {"award_digest": digest})
    return room


VOTE = {"kind": "vote"}
LOT = {"kind": "vote_lot", "finalists": 2}


# --- set-up ------------------------------------------------------------------------------------


def test_the_candidates_are_the_signed_reports_priced_from_the_opening_record() -> None:
    room = set_up(VOTE)
    assert room.award["candidates"] == [
        {"bid_id": "B1", "company": "C1", "rank": 1, "price": "1000000.00"},
        {"bid_id": "B3", "company": "C3", "rank": 2, "price": "990000.00"},
        {"bid_id": "B2", "company": "C2", "rank": 3, "price": "980000.00"},
    ]
    (public,) = room.events("award.set_up")
    assert public.visibility == "public"
    assert public.payload["evaluation_report_digest"] == "ab" * 32
    (committee,) = room.events("award.committee")
    assert sees(TENDERER, committee) and sees(member("m2"), committee)
    assert not sees(AGENCY, committee) and not sees(EXPERT, committee)
    assert not sees(BIDDER_B2, committee)
    assert room.phase == "sign_in"


def test_a_set_up_carrying_its_own_candidates_is_refused_by_the_schema() -> None:
    body = {"method": VOTE, "members": MEMBERS, "chair": "m1", "candidates": ["B4"]}
    with pytest.raises(ValidationError):
        BODIES["award.setup"].model_validate(body)


def test_each_member_is_granted_award_member_in_the_session() -> None:
    room = Room(closed_session())
    cmd = {"method": VOTE, "members": MEMBERS, "chair": "m1"}
    decision = room.send("award.setup", TENDERER, cmd, duties())
    assert {(g.user_id, g.role, g.scope) for g in decision.grants} == {
        (m, "award_member", STREAM) for m in MEMBERS
    }


def test_set_up_before_the_session_closed_or_twice_is_refused() -> None:
    room = Room({**closed_session(), "phase": "signing"})
    assert room.refused("award.setup", TENDERER, {"method": VOTE, "members": MEMBERS}) == (
        "wrong_phase"
    )
    room = set_up(VOTE)
    body = {"method": VOTE, "members": MEMBERS, "chair": "m1"}
    assert room.refused("award.setup", TENDERER, body) == "already_exists"


@pytest.mark.parametrize(
    "body",
    [
        {"method": VOTE, "members": MEMBERS[:4], "chair": "m1"},  # even
        {"method": VOTE, "members": MEMBERS[:3], "chair": "m1"},  # fewer than 5
        {"method": VOTE, "members": [*MEMBERS[:4], "m1"], "chair": "m1"},  # twice
        {"method": VOTE, "members": MEMBERS, "chair": "nobody"},  # chair not a member
        {"method": {"kind": "lottery"}, "members": MEMBERS, "chair": "m1"},
        {"method": {"kind": "vote_lot", "finalists": 1}, "members": MEMBERS, "chair": "m1"},
        {"method": VOTE, "members": MEMBERS, "chair": "m1", "objection_days": 0},
    ],
)
def test_a_set_up_against_the_rules_is_refused(body: dict[str, Any]) -> None:
    assert Room(closed_session()).refused("award.setup", TENDERER, body) == "invalid_award"


@pytest.mark.parametrize(
    "holder,role,org,code",
    [
        ("m3", "bidder", "C1", "conflict_of_roles"),  # a bidder's staff
        ("m3", "expert", None, "conflict_of_roles"),  # an expert of the session
        ("m3", "agency", "AGENCY-CO", "conflict_of_roles"),  # the agency
        ("m3", "supervisor", "OFFICE", "conflict_of_roles"),
        ("bid-mate", "bidder", "OWNER", "conflict_of_roles"),  # the member's organisation bids
    ],
)
def test_a_member_holding_another_role_in_the_tender_is_refused(
    holder: str, role: str, org: str | None, code: str
) -> None:
    room = Room(closed_session())
    body = {"method": VOTE, "members": MEMBERS, "chair": "m1"}
    with pytest.raises(RuleError) as refused:
        room.send("award.setup", TENDERER, body, duties([(holder, role, org)]))
    assert refused.value.code == code


def test_the_tenderer_names_its_own_colleagues_but_never_itself_or_strangers() -> None:
    room = Room(closed_session())
    own = {"method": VOTE, "members": [*MEMBERS[:4], "owner-1"], "chair": "m1"}
    people = {"owner-1": "OWNER"}
    with pytest.raises(RuleError, match="self_grant"):
        room.send("award.setup", TENDERER, own, duties(people=people))
    ghost = {"method": VOTE, "members": [*MEMBERS[:4], "ghost"], "chair": "m1"}
    with pytest.raises(RuleError, match="unknown_user"):
        room.send("award.setup", TENDERER, ghost, duties())
    # A tenderer's representative may sit (the committee is the tenderer's own people).
    holding = duties([("m2", "tenderer", "OWNER")])
    room.send("award.setup", TENDERER, {"method": VOTE, "members": MEMBERS, "chair": "m1"}, holding)


def test_only_the_tenderer_sets_up_the_award() -> None:
    room = Room(closed_session())
    body = {"method": VOTE, "members": MEMBERS, "chair": "m1"}
    for actor in (AGENCY, EXPERT, SUPERVISOR, member("m1")):
        assert room.refused("award.setup", actor, body) == "forbidden"


# --- sign-in ---------------------------------------------------------------------------------


def test_voting_opens_once_every_member_and_a_supervisor_signed_in_by_signature() -> None:
    room = set_up(VOTE)
    for m in MEMBERS:
        room.send("award.sign_in", member(m))
    assert room.phase == "sign_in"  # no supervisor present yet
    assert room.refused("award.vote", member("m1"), {"round": 1, "candidate": "B1"}) == (
        "wrong_phase"
    )
    room.send("award.sign_in", SUPERVISOR)
    assert room.phase == "voting"
    assert all(e.signed for e in room.events("award.signed_in"))
    (opened,) = room.events("award.voting_opened")
    assert opened.payload == {"round": 1, "candidates": ["B1", "B3", "B2"], "seats": 1}
    assert "award.sign_in" in SIGNED and "award.vote" in SIGNED


def test_sign_in_twice_or_by_an_outsider_is_refused() -> None:
    room = set_up(VOTE)
    room.send("award.sign_in", member("m1"))
    assert room.refused("award.sign_in", member("m1")) == "already_signed_in"
    outsider = Actor("m9", frozenset({"award_member"}))
    assert room.refused("award.sign_in", outsider) == "not_an_award_member"
    assert room.refused("award.sign_in", AGENCY) == "forbidden"


# --- 票决法 ------------------------------------------------------------------------------------


def test_vote_the_most_votes_wins_and_the_ballot_is_secret_until_the_round_closes() -> None:
    room = signed_in(VOTE)
    room.vote(ballots(B3=3, B1=1, B2=1))
    (round_,) = room.events("award.round")
    assert round_.payload["counts"] == {"B1": 1, "B3": 3, "B2": 1}
    assert round_.payload["chosen"] == ["B3"]
    assert room.award["report"]["winner"]["bid_id"] == "B3"
    assert room.award["report"]["basis"] == "votes"
    assert room.phase == "signing"
    vote = room.events("award.vote")[0]
    assert vote.signed and vote.visibility == "actor"
    assert sees(member("m1"), vote, "m1") and sees(SUPERVISOR, vote, "m1")
    assert not sees(member("m2"), vote, "m1") and not sees(TENDERER, vote, "m1")
    assert sees(TENDERER, round_) and not sees(AGENCY, round_) and not sees(EXPERT, round_)
    progress = room.events("award.progress")[-1]
    assert sees(AGENCY, progress) and sees(EXPERT, progress) and not sees(BIDDER_B2, progress)


def test_a_tie_is_voted_again_among_the_tied_only() -> None:
    room = signed_in(VOTE)
    room.vote(ballots(B1=2, B3=2, B2=1))
    first = room.events("award.round")[0].payload
    assert first["tied"] == ["B1", "B3"] and first["seats_left"] == 1
    assert room.award["round"]["candidates"] == ["B1", "B3"]
    assert room.refused("award.vote", member("m1"), {"round": 2, "candidate": "B2"}) == (
        "invalid_candidate"
    )
    room.vote(ballots(B1=2, B3=3))
    assert room.award["report"]["winner"]["bid_id"] == "B3"
    assert [r["round"] for r in room.award["report"]["rounds"]] == [1, 2]


def test_a_tie_still_standing_after_max_rounds_goes_to_the_better_evaluation_rank() -> None:
    room = signed_in({"kind": "vote", "max_rounds": 2})
    room.vote(ballots(B2=2, B3=2, B1=1))
    room.vote({"m1": "B2", "m2": "B3", "m3": "B2", "m4": "B3", "m5": "B2"})
    assert room.award["report"]["winner"]["bid_id"] == "B2"  # the votes decided
    room = signed_in({"kind": "vote", "max_rounds": 1})
    room.vote(ballots(B2=2, B3=2, B1=1))
    last = room.events("award.round")[-1].payload
    assert last["by_rank"] == ["B3"]  # rank 2 before rank 3
    assert room.award["report"]["winner"]["bid_id"] == "B3"


def test_double_votes_wrong_rounds_non_members_and_votes_after_close_are_refused() -> None:
    room = signed_in(VOTE)
    room.send("award.vote", member("m1"), {"round": 1, "candidate": "B1"})
    assert room.refused("award.vote", member("m1"), {"round": 1, "candidate": "B3"}) == (
        "already_voted"
    )
    assert room.refused("award.vote", member("m2"), {"round": 2, "candidate": "B1"}) == (
        "invalid_vote"
    )
    assert room.refused("award.vote", member("m2"), {"round": 1, "candidate": "B4"}) == (
        "invalid_candidate"
    )  # B4 was not recommended
    outsider = Actor("m9", frozenset({"award_member"}))
    assert room.refused("award.vote", outsider, {"round": 1, "candidate": "B1"}) == (
        "not_an_award_member"
    )
    for actor in (SUPERVISOR, TENDERER, AGENCY, EXPERT):
        assert room.refused("award.vote", actor, {"round": 1, "candidate": "B1"}) == "forbidden"
    room.vote({m: "B1" for m in MEMBERS[1:]})
    assert room.phase == "signing"
    assert room.refused("award.vote", member("m1"), {"round": 1, "candidate": "B1"}) == (
        "wrong_phase"
    )


# --- 票决抽签法 --------------------------------------------------------------------------------


def test_vote_lot_needs_the_seed_committed_before_any_vote() -> None:
    room = signed_in(LOT, seed=False)
    assert room.phase == "sign_in"  # everyone is in, but no commitment yet
    room.send("award.commit_seed", SUPERVISOR, {"commitment": commit_seed(SEED)})
    assert room.phase == "voting"
    assert room.refused("award.commit_seed", SUPERVISOR, {"commitment": "0" * 64}) == (
        "wrong_phase"
    )
    (committed,) = room.events("award.seed_committed")
    assert committed.visibility == "public"
    assert set_up(VOTE).refused("award.commit_seed", SUPERVISOR, {"commitment": "0" * 64}) == (
        "invalid_award"
    )


def test_vote_lot_reduces_to_n_by_votes_then_the_lot_picks_reproducibly() -> None:
    room = signed_in(LOT)
    room.vote(ballots(B2=3, B1=2))  # B3 none: B2 and B1 are the two finalists
    assert room.phase == "lot"
    assert room.award["finalists"] == ["B2", "B1"]
    assert room.refused("award.reveal_seed", SUPERVISOR, {"seed": bytes(32).hex()}) == (
        "seed_mismatch"
    )
    room.send("award.reveal_seed", SUPERVISOR, {"seed": SEED.hex()})
    (lot,) = room.events("award.lot_drawn")
    expected = draw_lot(["B2", "B1"], SEED, commit_seed(SEED))
    assert lot.payload["pick"] == expected == room.award["report"]["winner"]["bid_id"]
    assert lot.visibility == "public"
    assert room.award["report"]["basis"] == "lot"
    assert room.award["report"]["seed"] == SEED.hex()


def test_a_tie_at_the_last_finalist_seat_is_voted_again_for_the_seats_left() -> None:
    room = signed_in(LOT)
    room.vote(ballots(B1=3, B3=1, B2=1))  # B1 in; B3 and B2 tie for the one seat left
    first = room.events("award.round")[0].payload
    assert first["chosen"] == ["B1"] and first["tied"] == ["B3", "B2"]
    assert room.award["round"] == {
        "number": 2,
        "candidates": ["B3", "B2"],
        "seats": 1,
        "votes": {},
    }
    room.vote(ballots(B2=4, B3=1))
    assert room.phase == "lot" and room.award["finalists"] == ["B1", "B2"]


def test_vote_lot_with_no_more_candidates_than_finalists_goes_straight_to_the_lot() -> None:
    room = signed_in({"kind": "vote_lot", "finalists": 3})
    assert room.phase == "lot" and room.award["finalists"] == ["B1", "B3", "B2"]
    assert not room.events("award.voting_opened")


def test_the_lot_is_the_same_whatever_order_the_finalists_are_listed_in() -> None:
    commitment = commit_seed(SEED)
    picks = {draw_lot(order, SEED, commitment) for order in (["B1", "B2"], ["B2", "B1"])}
    assert len(picks) == 1
    seen = {
        draw_lot(["B1", "B2", "B3"], bytes([i]) * 16, commit_seed(bytes([i]) * 16))
        for i in range(40)
    }
    assert seen == {"B1", "B2", "B3"}  # every finalist can be drawn
    with pytest.raises(RuleError, match="invalid_award"):
        draw_lot(["B1"], b"short", commit_seed(b"short"))


def test_the_worked_example_of_docs_methods_md() -> None:
    seed = bytes.fromhex("00" * 16 + "ff" * 16)
    commitment = commit_seed(seed)
    assert commitment == "a386a11d535d6047c30ecdd1135c508b2812378b2554eeab247b48e712dce009"
    label = b"evalroom/award-lot/v1\x00"
    digest = hashlib.sha256(label + seed + b"B1\nB3" + b"\x00").hexdigest()
    assert digest.startswith("6f3e2059") and digest.endswith("a8819835")
    assert int(digest, 16) % 2 == 1
    assert draw_lot(["B3", "B1"], seed, commitment) == "B3"


# --- 集体议事法 --------------------------------------------------------------------------------


def test_deliberation_the_chair_decides_with_reasons_after_every_opinion() -> None:
    room = signed_in({"kind": "deliberation"})
    assert room.phase == "deliberation"
    decide = {"candidate": "B3", "reasons": "综合考虑履约能力"}
    for i, m in enumerate(MEMBERS[:4]):
        body = {"candidate": "B3" if i % 2 else "B1", "opinion": f"意见{i}"}
        room.send("award.opinion", member(m), body)
    assert room.refused("award.decide", member("m1"), decide) == "opinions_missing"
    assert room.refused("award.opinion", member("m1"), {"candidate": "B1", "opinion": "再议"}) == (
        "already_submitted"
    )
    room.send("award.opinion", member("m5"), {"candidate": "B3", "opinion": "同意"})
    assert room.refused("award.decide", member("m2"), decide) == "not_the_award_chair"
    assert room.refused("award.decide", member("m1"), {"candidate": "B3"}) == "reason_required"
    room.send("award.decide", member("m1"), decide)
    report = room.award["report"]
    assert report["winner"]["bid_id"] == "B3" and report["basis"] == "chair"
    assert report["decision"] == {"by": "m1", **decide}
    assert set(report["opinions"]) == set(MEMBERS)
    assert all(e.signed for e in room.events("award.opinion") + room.events("award.decided"))


# --- 价格竞争定标法 ---------------------------------------------------------------------------


def test_price_the_lowest_price_among_the_candidates_wins_without_a_vote() -> None:
    room = signed_in({"kind": "price"})
    assert room.phase == "signing"
    winner = room.award["report"]["winner"]
    # B4 is cheaper still, but it was not recommended: only the candidates compete.
    assert winner == {"bid_id": "B2", "company": "C2", "rank": 3, "price": "980000.00"}
    assert room.award["report"]["basis"] == "price"


def tied_on_price() -> Room:
    room = Room({**closed_session(), "bids": [{**b, "price": "980000.00"} for b in BIDS]})
    return room


@pytest.mark.parametrize("rule,winner", [("rank", "B1"), ("vote", "B2")])
def test_equal_lowest_prices_go_to_the_rank_or_to_a_vote_among_the_tied(
    rule: str, winner: str
) -> None:
    room = tied_on_price()
    body = {"method": {"kind": "price", "price_tie": rule}, "members": MEMBERS, "chair": "m1"}
    room.send("award.setup", TENDERER, body, duties())
    for m in MEMBERS:
        room.send("award.sign_in", member(m))
    room.send("award.sign_in", SUPERVISOR)
    if rule == "vote":
        assert room.award["round"]["candidates"] == ["B1", "B3", "B2"]
        room.vote(ballots(B2=3, B1=2))
    assert room.award["report"]["winner"]["bid_id"] == winner


def test_a_price_tie_vote_is_only_among_the_equally_cheapest() -> None:
    bids = [{**b, "price": "980000.00"} if b["bid_id"] in ("B1", "B2") else b for b in BIDS]
    room = Room({**closed_session(), "bids": bids})
    body = {"method": {"kind": "price", "price_tie": "vote"}, "members": MEMBERS, "chair": "m1"}
    room.send("award.setup", TENDERER, body, duties())
    for m in MEMBERS:
        room.send("award.sign_in", member(m))
    room.send("award.sign_in", SUPERVISOR)
    assert room.award["round"]["candidates"] == ["B1", "B2"]


# --- the 定标报告, the publicity, objections and the notice ---------------------------------


def test_every_member_signs_the_award_reports_digest_and_the_result_is_published() -> None:
    room = signed_in(VOTE)
    room.vote(ballots(B1=5))
    report = room.award["report"]
    digest = hashlib.sha256(canonical_json(report)).hexdigest()
    assert room.award["award_digest"] == digest
    assert room.refused("award.sign_report", member("m1"), {"award_digest": "0" * 64}) == (
        "award_changed"
    )
    room.send("award.sign_report", member("m1"), {"award_digest": digest})
    assert room.refused("award.sign_report", member("m1"), {"award_digest": digest}) == (
        "already_signed"
    )
    for m in MEMBERS[1:]:
        room.send("award.sign_report", member(m), {"award_digest": digest, "dissent": None})
    (publicity,) = room.events("award.publicity")
    assert publicity.visibility == "public"
    assert publicity.payload["winner"]["bid_id"] == "B1"
    assert publicity.payload["until"] == (T0 + timedelta(days=3)).isoformat()
    assert room.phase == "publicity"
    assert next_deadline(room.state) == T0 + timedelta(days=3)
    (final,) = room.events("award.report_final")
    assert sees(AGENCY, final) and not sees(BIDDER_B2, final)


def test_objections_in_the_window_are_answered_and_the_notice_follows_the_clock() -> None:
    room = signed_and_published(signed_in(VOTE, objection_seconds=600))
    assert room.refused("award.notify", TENDERER) == "publicity_running"
    decision = room.send("award.object", BIDDER_B2, {"text": "中标人业绩证明存疑"})
    assert decision.reply == {"id": "O1"}
    (objection,) = room.events("award.objection")
    assert objection.payload == {"id": "O1", "company": "C2", "text": "中标人业绩证明存疑"}
    room.send("award.clock", SYSTEM)
    assert room.phase == "publicity"  # before the deadline the clock does nothing
    room.tick(600)
    assert room.refused("award.object", BIDDER_B2, {"text": "再次异议"}) == (
        "objection_window_closed"
    )
    room.send("award.clock", SYSTEM)
    assert room.phase == "publicity_over"
    assert room.events("award.publicity_closed")[0].payload == {
        "objections": 1,
        "unanswered": ["O1"],
    }
    assert next_deadline(room.state) is None
    room.send("award.clock", SYSTEM)  # a repeat is a no-op
    assert len(room.events("award.publicity_closed")) == 1
    assert room.refused("award.notify", TENDERER) == "objection_open"
    assert room.refused("award.answer", TENDERER, {"id": "O9", "answer": "x"}) == (
        "unknown_objection"
    )
    room.send("award.answer", TENDERER, {"id": "O1", "answer": "经核查，业绩真实有效"})
    assert room.refused("award.answer", TENDERER, {"id": "O1", "answer": "x"}) == (
        "already_answered"
    )
    room.send("award.notify", TENDERER)
    (notice,) = room.events("award.notice")
    assert notice.visibility == "public" and notice.payload["winner"]["bid_id"] == "B1"
    assert room.phase == "awarded"
    assert room.refused("award.notify", TENDERER) == "wrong_phase"


def test_the_notice_after_the_deadline_closes_the_window_itself_if_the_clock_lagged() -> None:
    room = signed_and_published(signed_in(VOTE, objection_seconds=60))
    room.tick(61)
    room.send("award.notify", TENDERER)
    assert [e.type for e, _ in room.log[-4:]] == [
        "award.publicity_closed",
        "award.phase",
        "award.notice",
        "award.phase",
    ]


# --- recomputing from the record (what the verifier runs) -------------------------------------


CANDIDATES = [
    Candidate("B1", "C1", 1, Decimal("1000000.00")),
    Candidate("B3", "C3", 2, Decimal("990000.00")),
    Candidate("B2", "C2", 3, Decimal("980000.00")),
]


def test_count_round_fills_seats_from_the_top_and_names_the_straddling_group() -> None:
    result = count_round(
        1, ["B1", "B3", "B2"], 2, ballots(B1=2, B3=2, B2=1), ranked=CANDIDATES, max_rounds=3
    )
    assert result.chosen == ("B1", "B3") and result.tied == () and result.seats_left == 0
    result = count_round(
        1, ["B1", "B3", "B2"], 1, ballots(B1=2, B3=2, B2=1), ranked=CANDIDATES, max_rounds=3
    )
    assert result.chosen == () and result.tied == ("B1", "B3")
    with pytest.raises(RuleError, match="invalid_candidate"):
        count_round(1, ["B1"], 1, {"m1": "B9"}, ranked=CANDIDATES, max_rounds=3)


def test_recompute_names_a_changed_vote_a_missing_vote_and_a_stranger() -> None:
    method = AwardMethod(Kind.VOTE)
    honest = [{"round": 1, "votes": ballots(B1=3, B2=2)}]
    assert recompute(method, CANDIDATES, honest, members=MEMBERS).winner == "B1"
    changed = [{"round": 1, "votes": ballots(B2=3, B1=2)}]
    assert recompute(method, CANDIDATES, changed, members=MEMBERS).winner == "B2"
    missing = [{"round": 1, "votes": dict(list(ballots(B1=3, B2=2).items())[:4])}]
    assert (
        "no vote from ['m5']" in recompute(method, CANDIDATES, missing, members=MEMBERS).problems[0]
    )
    stranger = [{"round": 1, "votes": {**ballots(B1=3, B2=2), "m9": "B2"}}]
    assert (
        "non-members ['m9']" in recompute(method, CANDIDATES, stranger, members=MEMBERS).problems[0]
    )
    extra = [*honest, {"round": 2, "votes": ballots(B2=5)}]
    assert (
        "needs no more rounds" in recompute(method, CANDIDATES, extra, members=MEMBERS).problems[0]
    )


def test_recompute_refuses_a_lot_whose_seed_is_not_the_committed_one() -> None:
    method = AwardMethod(Kind.VOTE_LOT, finalists=2)
    rounds = [{"round": 1, "votes": ballots(B1=3, B2=2)}]
    outcome = recompute(
        method, CANDIDATES, rounds, seed=bytes(32), commitment=commit_seed(SEED), members=MEMBERS
    )
    assert outcome.winner is None and "commitment" in outcome.problems[0]
    good = recompute(
        method, CANDIDATES, rounds, seed=SEED, commitment=commit_seed(SEED), members=MEMBERS
    )
    assert good.finalists == ("B1", "B2") and good.winner == good.pick


# --- award (定标) jobs: the 定标委员会 drawn from the tenderer's panel --------------------------

PANEL = [f"p{i}" for i in range(1, 10)]
DRAW_SEED = bytes(range(100, 132))


def _drawing(appointed: list[str], count: int, **extra: Any) -> dict[str, Any]:
    body = {
        "method": {"kind": "vote"},
        "members": appointed,
        "draw": {"panel": PANEL, "count": count, "commitment": commit_seed(DRAW_SEED)},
        "objection_days": 3,
    }
    return {**body, **extra}


def _panel_duties(**kw: Any) -> dict[str, Any]:
    return duties(people={p: "OWNER" for p in PANEL}, **kw)


def test_members_drawn_from_the_panel_with_a_seed_committed_before_the_draw() -> None:
    from evalroom.domain.award_rules import draw_members

    room = Room(closed_session())
    room.send("award.setup", TENDERER, _drawing(["m1", "m2"], 3, chair="m1"), _panel_duties())
    assert room.phase == "draw" and room.award["members"] == []
    public = room.events("award.set_up")[0]
    assert public.payload["draw"] == {
        "count": 3,
        "panel_size": 9,
        "commitment": commit_seed(DRAW_SEED),
    }
    assert public.payload["members"] == 5 and "panel" not in public.payload
    assert not room.events("award.committee")  # nobody is a member before the draw
    # No draw without a supervisor signed in; a member-to-be cannot sign in yet.
    assert room.refused("award.draw_members", TENDERER, {"seed": DRAW_SEED.hex()}) == (
        "supervisor_absent"
    )
    assert room.refused("award.sign_in", member("m1")) == "wrong_phase"
    room.send("award.sign_in", SUPERVISOR)
    wrong = bytes(32).hex()
    assert room.refused("award.draw_members", TENDERER, {"seed": wrong}) == "seed_mismatch"
    assert room.refused("award.draw_members", TENDERER, {"seed": "abcd"}) == "weak_seed"
    decision = room.send("award.draw_members", TENDERER, {"seed": DRAW_SEED.hex()})
    drawn = draw_members(PANEL, 3, DRAW_SEED, commit_seed(DRAW_SEED))
    assert len(set(drawn)) == 3 and set(drawn) <= set(PANEL)
    assert room.events("award.members_drawn")[0].payload["drawn"] == drawn
    assert room.award["members"] == ["m1", "m2", *drawn] and room.award["chair"] == "m1"
    assert room.events("award.committee")[-1].payload == {
        "members": ["m1", "m2", *drawn],
        "chair": "m1",
        "names": {},  # none looked up here (facts["names"] comes from the service)
    }
    assert {g.user_id for g in decision.grants} == {"m1", "m2", *drawn}
    assert room.phase == "sign_in"
    assert room.refused("award.draw_members", TENDERER, {"seed": DRAW_SEED.hex()}) == (
        "wrong_phase"
    )
    # The committee goes on as an appointed one: every member and the supervisor signed in.
    for m in ["m1", "m2", *drawn]:
        room.send("award.sign_in", member(m))
    assert room.phase == "voting"
    # The 定标报告 keeps the draw, so the award's record shows how its committee came about.
    room.vote({m: "B1" for m in room.award["members"]})
    assert room.award["report"]["draw"]["drawn"] == drawn
    assert room.award["report"]["appointed"] == ["m1", "m2"]


def test_the_members_draw_is_reproducible_and_uniform_in_its_edges() -> None:
    from evalroom.domain.award_rules import draw_members

    c = commit_seed(DRAW_SEED)
    first = draw_members(PANEL, 5, DRAW_SEED, c)
    assert first == draw_members(list(reversed(PANEL)), 5, DRAW_SEED, c)  # order-free panel
    assert len(set(first)) == 5 and first != draw_members(PANEL, 5, SEED, commit_seed(SEED))
    for bad in (0, 9, 10):
        with pytest.raises(RuleError) as refused:
            draw_members(PANEL, bad, DRAW_SEED, c)
        assert refused.value.code == "invalid_award"
    # Every panel member can be drawn: over many seeds each is drawn at least once.
    seen: set[str] = set()
    for i in range(60):
        s = hashlib.sha256(bytes([i])).digest()
        seen |= set(draw_members(PANEL, 1, s, commit_seed(s)))
    assert seen == set(PANEL)


def test_the_drawing_set_up_refuses_what_would_not_make_a_committee() -> None:
    room = Room(closed_session())

    def code(body: dict[str, Any]) -> str:
        before = json.dumps(room.state, sort_keys=True)
        with pytest.raises(RuleError) as refusal:
            room.send("award.setup", TENDERER, body, _panel_duties())
        assert json.dumps(room.state, sort_keys=True) == before
        return refusal.value.code

    assert code(_drawing(["m1"], 3)) == "invalid_award"  # 4 members: even
    assert code(_drawing([], 3)) == "invalid_award"  # 3: too few
    assert code(_drawing(["m1", "p1"], 3)) == "invalid_award"  # appointed and in the panel
    assert code(_drawing(["m1", "m2"], 3, chair="p2")) == "invalid_award"  # chair not appointed
    assert code(_drawing(["m1", "m2"], 9)) == "invalid_award"  # the whole panel: no draw
    bad = _drawing(["m1", "m2"], 3)
    bad["draw"]["commitment"] = "xyz"
    assert code(bad) == "invalid_award"
    # A panel member holding a bidder's role in the tender is refused before any draw.
    with pytest.raises(RuleError) as refusal:
        room.send(
            "award.setup",
            TENDERER,
            _drawing(["m1", "m2"], 3),
            _panel_duties(holdings=[("p4", "bidder", "C2")]),
        )
    assert refusal.value.code == "conflict_of_roles"
    # No chair named: the first member drawn chairs. The names the service looked up go with
    # the panel and the committee (people are shown by name).
    names = {p: f"委员{p}" for p in PANEL}
    room.send("award.setup", TENDERER, _drawing([], 5), {**_panel_duties(), "names": names})
    assert room.events("award.panel")[-1].payload["names"] == names
    room.send("award.sign_in", SUPERVISOR)
    room.send("award.draw_members", TENDERER, {"seed": DRAW_SEED.hex()})
    drawn = room.events("award.members_drawn")[0].payload["drawn"]
    assert room.award["chair"] == drawn[0] and room.award["members"] == drawn
    committee = room.events("award.committee")[-1].payload
    assert committee["names"] == {m: f"委员{m}" for m in drawn}
    # The schema takes the draw and its seed.
    BODIES["award.setup"].model_validate(_drawing([], 5))
    with pytest.raises(ValidationError):
        BODIES["award.draw_members"].model_validate({"seed": "zz"})


def test_the_members_draw_worked_example_of_the_methods_document() -> None:
    from evalroom.domain.award_rules import draw_members

    seed = bytes(16) + b"\xff" * 16  # docs/methods.md, section 12
    commitment = commit_seed(seed)
    assert commitment == "a386a11d535d6047c30ecdd1135c508b2812378b2554eeab247b48e712dce009"
    panel = ["P1", "P2", "P3", "P4", "P5", "P6"]
    first = hashlib.sha256(
        b"evalroom/award-members/v1\x00" + seed + "\n".join(panel).encode() + bytes([0, 0])
    ).hexdigest()
    assert first.startswith("8e934516") and first.endswith("53442547")
    assert draw_members(panel, 3, seed, commitment) == ["P4", "P2", "P6"]
