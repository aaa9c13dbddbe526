"""The evaluation session as a pure state machine (评标会话): every rule driven through its
deciders, three venues (西安 main, 银川 and 兰州 secondary) and five experts."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from crypto.canonical import canonical_json
from evalroom.domain.commands import Actor, Command, Decision, NewEvent
from evalroom.domain.draw import (
    AvoidanceReason,
    DrawRequest,
    Expert,
    ExpertPool,
    commit_seed,
    pool_digest,
    verify_draw,
)
from evalroom.domain.handover import SignedRecord, bid_differences, record_digest, session_bids
from evalroom.domain.roles import may_see
from evalroom.domain.rules import RuleError
from evalroom.domain.scoring import BidFigures, ExpertSheet, ScoringMethod, evaluate
from evalroom.domain.session import (
    COMMAND_ROLES,
    DECIDERS,
    SIGNED,
    may_read_scores,
    next_deadline,
    report_digest,
)
from evalroom.domain.session_committee import record_from_dict

STREAM = "session:S1"
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
SEED = bytes(range(32))

AGENCY = Actor("agency-1", frozenset({"agency"}), org="AGENCY-CO")
SUPERVISOR = Actor("sup-1", frozenset({"supervisor"}))
TENDERER = Actor("owner-1", frozenset({"tenderer"}), org="OWNER")
SYSTEM = Actor("platform", frozenset({"system"}))


def operator(venue: str) -> Actor:
    return Actor(f"op-{venue}", frozenset({"operator"}), venues=frozenset({venue}))


def bidder(company: str) -> Actor:
    return Actor(f"user-{company}", frozenset({"bidder"}), org=company)


VENUES = [
    {"id": "xa", "name": "西安主场", "region": "西安", "seats": 6, "main": True},
    {"id": "yc", "name": "银川副场", "region": "银川", "seats": 2, "main": False},
    {"id": "lz", "name": "兰州副场", "region": "兰州", "seats": 2, "main": False},
]
SLOTS = [
    {"specialty": "土建", "venue": "xa", "count": 2},
    {"specialty": "造价", "venue": "xa", "count": 1},
    {"specialty": "土建", "venue": "yc", "count": 1},
    {"specialty": "土建", "venue": "lz", "count": 1},
]


def pool_expert(id: str, region: str, specialty: str = "土建", **kw: Any) -> Expert:
    fields: dict[str, Any] = {"employer": f"U-{id}", "credit": Decimal(90)}
    fields.update(kw)
    return Expert(id, f"专家{id}", (specialty,), region, **fields)


POOL = ExpertPool(
    (
        pool_expert("X1", "西安", employer="C1"),  # works for a bidder: avoided
        pool_expert("X2", "西安"),
        pool_expert("X3", "西安"),
        pool_expert("X4", "西安"),
        pool_expert("X5", "西安", "造价"),
        pool_expert("X6", "西安", "造价"),
        pool_expert("Y1", "银川", relations=("C2",)),  # related to a bidder: avoided
        pool_expert("Y2", "银川"),
        pool_expert("Y3", "银川"),
        pool_expert("L1", "兰州"),
        pool_expert("L2", "兰州"),
    )
)

COMPREHENSIVE: dict[str, Any] = {
    "kind": "comprehensive",
    "criteria": [
        {"id": "qualification", "name": "资格评审", "kind": "pass_fail", "max_points": None},
        {"id": "tech", "name": "施工组织设计", "kind": "expert", "max_points": "30"},
        {"id": "price", "name": "投标报价", "kind": "price", "max_points": "60"},
    ],
    "price_rule": {
        "base": {"trim": None, "coefficient": "1", "floating_point": None, "decimals": 2},
        "deviation": "percent",
        "above": [{"up_to": None, "points_per_percent": "1"}],
        "below": [{"up_to": None, "points_per_percent": "0.5"}],
    },
    "aggregation": {"level": "criterion", "drop_high_low_from": 5},
    "pass_fail": "majority",
    "recommend": 3,
}
LOWEST_PRICE: dict[str, Any] = {
    "kind": "lowest_evaluated_price",
    "criteria": [
        {"id": "qualification", "name": "资格评审", "kind": "pass_fail", "max_points": None}
    ],
    "price_rule": None,
    "recommend": 3,
}
BIDS = [
    {"bid_id": "B1", "company": "C1", "price": "1000000.00"},
    {"bid_id": "B2", "company": "C2", "price": "980000.00"},
    {"bid_id": "B3", "company": "C3", "price": "1050000.00"},
    {"bid_id": "B4", "company": "C4", "price": "900000.00"},
]


def record_entry(
    bid: Mapping[str, Any], section: str = "01", status: str = "decrypted"
) -> dict[str, Any]:
    """One bid as the signed opening record lists it (``opening.sign_record``)."""
    opened = status == "decrypted"
    return {
        "number": bid["bid_id"],
        "section": section,
        "org": bid["company"],
        "status": status,
        "sha256": "ab" * 32,
        "plain_sha256": "cd" * 32 if opened else None,
        "form": {"price": bid["price"]} if opened else None,
        "via": "bidder",
        "reason": None if opened else "key_not_released",
    }


def signed_record(
    entries: list[dict[str, Any]],
    stage: str = "single",
    failed: tuple[str, ...] = (),
    seq: int = 40,
) -> dict[str, Any]:
    """An ``opening.record`` event of the tender stream, as ``{seq, payload}``."""
    payload = {
        "stage": stage,
        "bids": entries,
        "confirmed": [],
        "objections": [],
        "signed_by": {"agency": "agency-1", "supervisor": "sup-1"},
        "failed_sections": list(failed),
        "min_bids": 3,
        "phase": "technical_opened" if stage == "technical" else "opened",
    }
    return {"seq": seq, "payload": payload}


RECORD = signed_record([record_entry(b) for b in BIDS])
HANDOVER = {"opening_records": [RECORD], "sessions": []}
# Preliminary fails by expert index: B4 failed by 3 of 5 (rejected), B2 by 2 of 5 (passes).
FAILS = {"B4": (0, 1, 2), "B2": (3, 4)}
# Technical scores by expert index; expert 3's 30 for B2 is 33% off the others' mean 22.5.
TECH = {
    "B1": ("25", "26", "27", "28", "20"),
    "B2": ("22", "23", "24", "30", "21"),
    "B3": ("27", "27", "28", "29", "26"),
}


def allowed(type_: str, actor: Actor) -> bool:
    """The pipeline's authorization against ``COMMAND_ROLES``."""
    roles = COMMAND_ROLES[type_]
    return "*" in roles or bool(actor.roles & roles)


@dataclass
class Room:
    """A session driven through its deciders, with the roles its grants gave."""

    state: Mapping[str, Any]
    now: datetime = T0
    log: list[tuple[NewEvent, str]] = field(default_factory=list)
    granted: dict[str, set[tuple[str, str]]] = field(default_factory=dict)

    def send(
        self,
        type_: str,
        actor: Actor,
        body: Mapping[str, Any] | None = None,
        facts: Mapping[str, Any] | None = None,
    ) -> Decision:
        if not allowed(type_, actor):
            raise RuleError("forbidden", f"{type_} refused to {sorted(actor.roles)}")
        # Nobody else holds a role in the tender unless a test says so (``facts["duties"]``).
        facts = {"duties": {}, **(facts or {})}
        cmd = Command(type_, STREAM, body or {}, actor, self.now, "sig", facts)
        decision = DECIDERS[type_](self.state, cmd)
        assert json.loads(json.dumps(decision.state)) == decision.state  # plain JSON
        self.state = decision.state
        self.log.extend((e, actor.user_id) for e in decision.events)
        for g in decision.grants:
            assert g.scope == STREAM
            self.granted.setdefault(g.user_id, set()).add((g.role, g.venue))
        return decision

    def refused(
        self,
        type_: str,
        actor: Actor,
        body: Mapping[str, Any] | None = None,
        facts: Mapping[str, Any] | None = None,
    ) -> str:
        before = json.dumps(self.state, sort_keys=True)
        with pytest.raises(RuleError) as refusal:
            self.send(type_, actor, body, facts)
        assert json.dumps(self.state, sort_keys=True) == before
        return refusal.value.code

    def tick(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @property
    def phase(self) -> str:
        return str(self.state["phase"])

    @property
    def experts(self) -> list[str]:
        return list(self.state["committee"])

    def actor(self, user_id: str) -> Actor:
        held = self.granted[user_id]
        return Actor(
            user_id,
            frozenset(role for role, _ in held),
            venues=frozenset(v for _, v in held if v),
        )

    def expert(self, index: int) -> Actor:
        return self.actor(self.experts[index])

    @property
    def chair(self) -> Actor:
        return self.actor(self.state["chair"])

    def events(self, type_: str) -> list[NewEvent]:
        return [e for e, _ in self.log if e.type == type_]


def sees(actor: Actor, event: NewEvent, sender: str = "") -> bool:
    return may_see(
        event.visibility,
        roles=actor.roles,
        user_id=actor.user_id,
        org=actor.org,
        venues=actor.venues,
        event_actor=sender,
    )


# --- builders: each runs the session one step further ----------------------------------------


def created(method: Mapping[str, Any] = COMPREHENSIVE, **overrides: Any) -> Room:
    body: dict[str, Any] = {
        "tender": "T1",
        "section": "01",
        "venues": VENUES,
        "method": method,
        "start_wait": 60,
        "resume_wait": 120,
        "draw": {"slots": SLOTS, "tenderer": "OWNER", "tenderer_region": "西安"},
    }
    body.update(overrides)
    room = Room({})
    room.send("session.create", AGENCY, body, HANDOVER)
    return room


def committed(room: Room) -> Room:
    body = {"commitment": commit_seed(SEED), "pool_digest": pool_digest(POOL)}
    room.send("session.commit_seed", AGENCY, body)
    return room


def drawn(room: Room) -> Room:
    committed(room)
    room.send("session.draw", AGENCY, {"seed": SEED.hex()}, {"pool": POOL.to_dict()})
    return room


def check_in(room: Room, expert: str, seat: str | None = None) -> Decision:
    venue = room.state["committee"][expert]["venue"]
    body = {"expert": expert, "seat": seat or expert, "expert_signature": f"sig-{expert}"}
    return room.send("session.check_in", operator(venue), body, {"expert_signature_ok": True})


def checked_in(room: Room) -> Room:
    for expert in room.experts:
        check_in(room, expert)
    return room


def chaired(room: Room) -> Room:
    for i in range(5):
        room.send("session.vote_chair", room.expert(i), {"candidate": room.experts[0]})
    return room


def give_verdicts(room: Room, fails: Mapping[str, tuple[int, ...]] = FAILS) -> Room:
    for i in range(5):
        for bid in ("B1", "B2", "B3", "B4"):
            passes = i not in fails.get(bid, ())
            body = {"bid": bid, "criterion": "qualification", "pass": passes}
            room.send("session.preliminary", room.expert(i), {**body, "reason": "资质不符"})
    return room


def reviewed(room: Room) -> Room:
    give_verdicts(room)
    room.send("session.close_phase", room.chair, {"phase": "preliminary_review"})
    return room


def score_all(room: Room, i: int) -> None:
    for bid, row in TECH.items():
        body = {"bid": bid, "criterion": "tech", "score": row[i]}
        room.send("session.score", room.expert(i), body)


def scored(room: Room) -> Room:
    for i in range(5):
        score_all(room, i)
        room.send("session.submit_scores", room.expert(i))
    return room


def explained(room: Room) -> Room:
    body = {"bid": "B2", "criterion": "tech", "reason": "施工方案对深基坑支护论证充分"}
    room.send("session.deviation_reason", room.expert(3), body)
    room.send("session.close_phase", room.chair, {"phase": "deviation_check"})
    return room


def signed(room: Room) -> Room:
    for i in range(5):
        body: dict[str, Any] = {"report_digest": room.state["report_digest"]}
        if i == 4:
            body["dissent"] = "B2 的技术分偏低"
        room.send("session.sign_report", room.expert(i), body)
    return room


STEPS = {
    "check_in": (drawn,),
    "chair_election": (drawn, checked_in),
    "preliminary_review": (drawn, checked_in, chaired),
    "detailed_review": (drawn, checked_in, chaired, reviewed),
    "deviation_check": (drawn, checked_in, chaired, reviewed, scored),
    "signing": (drawn, checked_in, chaired, reviewed, scored, explained),
    "closed": (drawn, checked_in, chaired, reviewed, scored, explained, signed),
}


def room_at(phase: str, method: Mapping[str, Any] = COMPREHENSIVE) -> Room:
    room = created(method)
    for step in STEPS[phase]:
        step(room)
    assert room.phase == phase
    return room


# --- creation and the draw (抽取) --------------------------------------------------------------


def test_create_opens_the_draw_with_the_default_threshold() -> None:
    room = Room({})
    body: dict[str, Any] = {
        "tender": "T1",
        "section": "01",
        "venues": VENUES,
        "method": COMPREHENSIVE,
    }
    body.update(start_wait=60, resume_wait=120)
    body["draw"] = {"slots": SLOTS, "tenderer": "OWNER", "tenderer_region": "西安"}
    decision = room.send("session.create", AGENCY, body, HANDOVER)
    assert [(c.name, c.kind, c.parent) for c in decision.create] == [
        (STREAM, "session", "tender:T1")
    ]
    assert room.phase == "draw"
    assert room.state["deviation_threshold"] == "0.30"
    assert room.state["waits"] == {"start": 60, "resume": 120}


def test_create_refuses_an_even_committee() -> None:
    six = [*SLOTS, {"specialty": "造价", "venue": "yc", "count": 1}]
    with pytest.raises(RuleError) as refusal:
        created(draw={"slots": six, "tenderer": "OWNER", "tenderer_region": "西安"})
    assert refusal.value.code == "invalid_committee"


# --- the bids come from the signed opening record (开标记录移交) -------------------------------


def create_body(section: str = "01") -> dict[str, Any]:
    return {
        "tender": "T1",
        "section": section,
        "venues": VENUES,
        "method": COMPREHENSIVE,
        "draw": {"slots": SLOTS, "tenderer": "OWNER", "tenderer_region": "西安"},
    }


def refused_create(facts: Mapping[str, Any], body: Mapping[str, Any] | None = None) -> str:
    return Room({}).refused("session.create", AGENCY, body or create_body(), facts)


def test_session_bids_are_the_sections_opened_bids_at_their_read_out_prices() -> None:
    entries = [
        record_entry(BIDS[2]),
        record_entry(BIDS[0]),
        record_entry({"bid_id": "B5", "company": "C5", "price": "1"}, status="rejected"),
        record_entry({"bid_id": "02-B1", "company": "C9", "price": "5"}, section="02"),
        record_entry(BIDS[1]),
    ]
    record = SignedRecord.from_dict(signed_record(entries, seq=17))
    handover = session_bids([record], "01")
    assert handover.bids == [
        {"bid_id": b["bid_id"], "company": b["company"], "price": b["price"]} for b in BIDS[:3]
    ]
    digest = hashlib.sha256(canonical_json(dict(record.payload))).hexdigest()
    assert handover.reference == [{"stage": "single", "seq": 17, "digest": digest}]
    assert record_digest(record.payload) == digest


def test_two_envelopes_take_commercial_prices_of_the_bids_that_passed_technically() -> None:
    technical = [{**record_entry(b), "form": {"pages": "120"}} for b in BIDS]
    commercial = [record_entry(b) for b in BIDS[:3]]  # B4 did not pass the technical stage
    records = [
        SignedRecord.from_dict(signed_record(technical, "technical", seq=30)),
        SignedRecord.from_dict(signed_record(commercial, "commercial", seq=55)),
    ]
    handover = session_bids(records, "01")
    assert [(b["bid_id"], b["price"]) for b in handover.bids] == [
        ("B1", "1000000.00"),
        ("B2", "980000.00"),
        ("B3", "1050000.00"),
    ]
    assert [(r["stage"], r["seq"]) for r in handover.reference] == [
        ("technical", 30),
        ("commercial", 55),
    ]


def test_a_commercial_bid_that_did_not_pass_the_technical_stage_is_inconsistent() -> None:
    technical = [record_entry(b) for b in BIDS[:3]]
    commercial = [record_entry(b) for b in BIDS]
    records = [
        SignedRecord.from_dict(signed_record(technical, "technical", seq=30)),
        SignedRecord.from_dict(signed_record(commercial, "commercial", seq=55)),
    ]
    with pytest.raises(RuleError) as refusal:
        session_bids(records, "01")
    assert refusal.value.code == "record_inconsistent" and "B4" in refusal.value.message


@pytest.mark.parametrize(
    "records",
    [[], [signed_record([record_entry(b) for b in BIDS], "technical")]],
    ids=["no record", "technical record only"],
)
def test_create_before_the_opening_record_is_signed_is_refused(
    records: list[dict[str, Any]],
) -> None:
    assert refused_create({"opening_records": records, "sessions": []}) == "not_opened"


def test_create_for_a_section_that_failed_at_the_opening_is_refused() -> None:
    record = signed_record([record_entry(b) for b in BIDS], failed=("01",))
    assert refused_create({"opening_records": [record], "sessions": []}) == "section_failed"


def test_create_for_a_section_the_record_does_not_name_is_refused() -> None:
    assert refused_create(HANDOVER, create_body("07")) == "unknown_section"


def test_create_with_bids_in_the_body_is_refused_whatever_the_record() -> None:
    forged = [{**b, "price": "1.00"} for b in BIDS]
    assert refused_create(HANDOVER, {**create_body(), "bids": forged}) == "bids_not_accepted"


def test_created_session_keeps_the_records_digest_and_seq_and_its_bids() -> None:
    room = created()
    reference = [{"stage": "single", "seq": 40, "digest": record_digest(RECORD["payload"])}]
    assert room.state["opening_record"] == reference
    assert [(b["bid_id"], b["company"], b["price"]) for b in room.state["bids"]] == [
        (b["bid_id"], b["company"], b["price"]) for b in BIDS
    ]
    events = {e.type: e for e, _sender in room.log}
    assert events["session.created"].payload["opening_record"] == reference
    assert events["session.bids"].payload["bids"] == BIDS
    assert bid_differences(events["session.bids"].payload["bids"], BIDS) == []


def test_a_second_session_of_a_section_waits_until_the_first_is_sealed_or_rescheduled() -> None:
    def sessions(phase: str, section: str = "01") -> dict[str, Any]:
        other = {"stream": "session:S0", "section": section, "phase": phase}
        return {**HANDOVER, "sessions": [other]}

    for phase in ("draw", "detailed_review", "closed"):
        assert refused_create(sessions(phase)) == "session_exists"
    for phase in ("sealed", "rescheduled"):
        room = Room({})
        decision = room.send("session.create", AGENCY, create_body(), sessions(phase))
        assert room.state["earlier_sessions"] == ["session:S0"]
        assert decision.events[0].payload["earlier_sessions"] == ["session:S0"]
    Room({}).send("session.create", AGENCY, create_body(), sessions("draw", section="02"))


def test_bid_differences_name_each_changed_missing_or_extra_bid() -> None:
    claimed = [
        {"bid_id": "B1", "company": "C1", "price": "1000000.0"},  # the same decimal
        {"bid_id": "B2", "company": "C2", "price": "1.00"},
        {"bid_id": "B3", "company": "C7", "price": "1050000.00"},
        {"bid_id": "B9", "company": "C9", "price": "5"},
    ]
    assert bid_differences(claimed, BIDS) == [
        "session bid B2 price 1.00 differs from the signed opening record's 980000.00",
        "session bid B3 company C7 differs from the signed opening record's C3",
        "session bid B9 is not in the signed opening record",
        "the signed opening record's bid B4 (C4) is missing from the session",
    ]


def test_draw_before_the_seed_commitment_is_refused() -> None:
    room = created()
    body = {"seed": SEED.hex()}
    assert room.refused("session.draw", AGENCY, body, {"pool": POOL.to_dict()}) == "not_committed"


def test_draw_with_another_seed_than_the_committed_one_is_refused() -> None:
    room = committed(created())
    other = bytes(range(1, 33)).hex()
    code = room.refused("session.draw", AGENCY, {"seed": other}, {"pool": POOL.to_dict()})
    assert code == "seed_mismatch"


def test_draw_with_another_pool_than_the_committed_one_is_refused() -> None:
    room = committed(created())
    smaller = ExpertPool(POOL.experts[1:]).to_dict()
    code = room.refused("session.draw", AGENCY, {"seed": SEED.hex()}, {"pool": smaller})
    assert code == "pool_mismatch"


def test_a_pool_too_small_is_recorded_and_spends_the_commitment() -> None:
    room = committed(created())
    small = ExpertPool(tuple(e for e in POOL.experts if e.id not in {"L1", "L2"}))
    room.state = {**room.state, "pool_digest": pool_digest(small)}
    room.send("session.draw", AGENCY, {"seed": SEED.hex()}, {"pool": small.to_dict()})
    (failed,) = room.events("session.draw_failed")
    assert failed.visibility == "public" and "lz" in failed.payload["reason"]
    assert room.phase == "draw" and room.state["seed_commitment"] is None
    drawn(room)
    assert room.phase == "check_in"


def test_draw_is_reproduced_from_the_revealed_seed_and_honours_avoidance() -> None:
    room = room_at("check_in")
    (record_event,) = room.events("session.drawn")
    record = record_from_dict(record_event.payload["record"])
    # The event carries the request (supervisors only), so the supervisor's page recomputes.
    assert record_event.payload["request"] == room.state["draw_request"]
    request = DrawRequest.from_dict(record_event.payload["request"])
    verify_draw(POOL, request, bytes.fromhex(record_event.payload["seed"]), record)
    assert not {"X1", "Y1"} & set(room.experts)
    avoided = {(x.expert_id, x.reason) for x in record.exclusions}
    assert ("X1", AvoidanceReason.EMPLOYED_BY_BIDDER) in avoided
    assert ("Y1", AvoidanceReason.RELATED_TO_BIDDER) in avoided


def test_each_drawn_expert_is_granted_the_expert_role_in_their_venue() -> None:
    room = room_at("check_in")
    for expert, seat in room.state["committee"].items():
        assert room.granted[expert] == {("expert", seat["venue"])}
    assert sorted(s["venue"] for s in room.state["committee"].values()) == [
        "lz",
        "xa",
        "xa",
        "xa",
        "yc",
    ]


def test_drawn_names_reach_only_the_committee_their_venues_and_supervisors() -> None:
    room = room_at("check_in")
    named = [(e, a) for e, a in room.log if any(x in json.dumps(e.payload) for x in room.experts)]
    assert named
    for event, sender in named:
        for outsider in (AGENCY, TENDERER, bidder("C1")):
            assert not sees(outsider, event, sender), event.type
        assert sees(SUPERVISOR, event, sender)
    (announced,) = room.events("session.draw_announced")
    assert announced.visibility == "public"
    assert announced.payload == {"experts_per_venue": {"xa": 3, "yc": 1, "lz": 1}}


def test_venue_operator_receives_the_roster_of_own_venue_only() -> None:
    room = room_at("check_in")
    rosters = room.events("session.venue_roster")
    seen = [r.payload["venue"] for r in rosters if sees(operator("yc"), r)]
    assert seen == ["yc"]


def test_declared_conflict_draws_a_replacement_for_the_same_seat() -> None:
    room = room_at("check_in")
    gone = room.experts[1]
    seat = room.state["committee"][gone]
    body = {"reason": "与投标人C3存在利害关系"}
    room.send("session.declare_conflict", room.actor(gone), body, {"pool": POOL.to_dict()})
    (redrawn,) = room.events("session.redrawn")
    new = redrawn.payload["replacement"]
    assert gone not in room.experts and new in room.experts
    assert room.state["committee"][new]["venue"] == seat["venue"]
    assert room.granted[new] == {("expert", seat["venue"])}
    record = record_from_dict(room.state["draw"]["record"])
    verify_draw(POOL, DrawRequest.from_dict(room.state["draw_request"]), SEED, record)


def test_withdrawn_expert_is_refused_with_withdrawn() -> None:
    room = room_at("check_in")
    gone = room.experts[0]
    body = {"reason": "回避"}
    room.send("session.declare_conflict", room.actor(gone), body, {"pool": POOL.to_dict()})
    again = room.refused("session.declare_conflict", room.actor(gone), body, {"pool": {}})
    assert again == "withdrawn"
    venue = room.actor(gone).venues
    check = {"expert": gone, "seat": "1", "expert_signature": "s"}
    code = room.refused(
        "session.check_in",
        Actor("op", frozenset({"operator"}), venues=venue),
        check,
        {"expert_signature_ok": True},
    )
    assert code == "withdrawn"


def test_supervisor_withdraws_an_absent_expert_and_a_replacement_is_drawn() -> None:
    room = room_at("check_in")
    absent = room.experts[4]
    body = {"reason": "专家未到场", "expert": absent}
    room.send("session.declare_conflict", SUPERVISOR, body, {"pool": POOL.to_dict()})
    assert room.state["withdrawn"][absent]["reason"] == "专家未到场"
    assert len(room.experts) == 5 and absent not in room.experts


def test_expert_cannot_declare_a_conflict_for_a_colleague() -> None:
    room = room_at("check_in")
    body = {"reason": "他有关系", "expert": room.experts[1]}
    code = room.refused("session.declare_conflict", room.expert(0), body, {"pool": {}})
    assert code == "not_yours"


# --- check-in (签到) ---------------------------------------------------------------------------


def test_operator_checks_in_only_experts_of_own_venue() -> None:
    room = room_at("check_in")
    in_yc = next(e for e, s in room.state["committee"].items() if s["venue"] == "yc")
    body = {"expert": in_yc, "seat": "1", "expert_signature": "s"}
    facts = {"expert_signature_ok": True}
    assert room.refused("session.check_in", operator("xa"), body, facts) == "not_your_venue"


def test_check_in_needs_the_experts_verified_signature() -> None:
    room = room_at("check_in")
    expert = room.experts[0]
    venue = room.state["committee"][expert]["venue"]
    body = {"expert": expert, "seat": "1", "expert_signature": "forged"}
    assert room.refused("session.check_in", operator(venue), body) == "identity_unverified"


def test_two_experts_cannot_share_a_seat() -> None:
    room = room_at("check_in")
    in_xa = [e for e, s in room.state["committee"].items() if s["venue"] == "xa"]
    check_in(room, in_xa[0], seat="A1")
    with pytest.raises(RuleError) as refusal:
        check_in(room, in_xa[1], seat="A1")
    assert refusal.value.code == "seat_taken"


def test_last_check_in_starts_the_chair_election() -> None:
    room = room_at("check_in")
    for expert in room.experts[:-1]:
        check_in(room, expert)
    assert room.phase == "check_in"
    check_in(room, room.experts[-1])
    assert room.phase == "chair_election"
    assert [e.payload["done"] for e in room.events("session.progress")] == [1, 2, 3, 4, 5]


# --- chair election (推选组长) -----------------------------------------------------------------


def test_majority_elects_the_chair_and_grants_the_role() -> None:
    room = room_at("chair_election")
    votes = [1, 1, 1, 0, 2]
    for i, pick in enumerate(votes):
        room.send("session.vote_chair", room.expert(i), {"candidate": room.experts[pick]})
    chair = room.experts[1]
    assert room.state["chair"] == chair and room.phase == "preliminary_review"
    assert ("chair", room.state["committee"][chair]["venue"]) in room.granted[chair]


def test_no_majority_starts_a_new_round() -> None:
    room = room_at("chair_election")
    for i, pick in enumerate([0, 0, 1, 1, 2]):
        room.send("session.vote_chair", room.expert(i), {"candidate": room.experts[pick]})
    assert room.phase == "chair_election" and room.state["chair"] is None
    (result,) = room.events("session.chair_round")
    assert result.payload["elected"] is None and result.visibility == "committee"
    assert room.state["election"] == {"round": 2, "votes": {}}


def test_expert_votes_once_per_round() -> None:
    room = room_at("chair_election")
    room.send("session.vote_chair", room.expert(0), {"candidate": room.experts[0]})
    again = room.refused("session.vote_chair", room.expert(0), {"candidate": room.experts[1]})
    assert again == "already_voted"


def test_votes_are_secret_from_other_experts() -> None:
    room = room_at("chair_election")
    room.send("session.vote_chair", room.expert(0), {"candidate": room.experts[2]})
    (vote,) = room.events("session.chair_vote")
    assert sees(room.expert(0), vote, room.experts[0])
    assert not sees(room.expert(1), vote, room.experts[0])


# --- preliminary review (初步评审) --------------------------------------------------------------


def test_preliminary_majority_rejects_a_bid_failed_by_three_of_five() -> None:
    room = room_at("detailed_review")
    prelim = room.state["preliminary"]
    assert prelim["passed"] == ["B1", "B2", "B3"]
    assert prelim["results"]["B4"]["qualification"] == {"passes": 2, "fails": 3, "passed": False}
    assert prelim["results"]["B2"]["qualification"] == {"passes": 3, "fails": 2, "passed": True}


def test_fail_verdict_needs_a_reason() -> None:
    room = room_at("preliminary_review")
    body = {"bid": "B1", "criterion": "qualification", "pass": False}
    assert room.refused("session.preliminary", room.expert(0), body) == "reason_required"


def test_preliminary_verdicts_are_signed_and_seen_by_their_author_only() -> None:
    room = room_at("preliminary_review")
    body = {"bid": "B1", "criterion": "qualification", "pass": True}
    room.send("session.preliminary", room.expert(0), body)
    (verdict,) = room.events("session.verdict")
    assert verdict.signed and verdict.visibility == "actor"  # the author (and supervisors)


def test_chair_cannot_close_the_preliminary_review_before_every_verdict() -> None:
    room = room_at("preliminary_review")
    body = {"bid": "B1", "criterion": "qualification", "pass": True}
    room.send("session.preliminary", room.expert(0), body)
    code = room.refused("session.close_phase", room.chair, {"phase": "preliminary_review"})
    assert code == "incomplete"


def test_closing_names_the_phase_so_a_repeat_cannot_close_the_next() -> None:
    room = room_at("detailed_review")
    code = room.refused("session.close_phase", room.chair, {"phase": "preliminary_review"})
    assert code == "wrong_phase"


def test_scoring_a_bid_rejected_in_the_preliminary_review_is_refused() -> None:
    room = room_at("detailed_review")
    body = {"bid": "B4", "criterion": "tech", "score": "20"}
    assert room.refused("session.score", room.expert(0), body) == "bid_rejected"


# --- detailed review (详细评审), blind ---------------------------------------------------------


def test_scores_are_seen_by_their_author_and_supervisors_only_before_reveal() -> None:
    room = room_at("detailed_review")
    score_all(room, 0)
    author = room.expert(0)
    for event in room.events("session.score"):
        assert event.signed
        assert sees(author, event, author.user_id) and sees(SUPERVISOR, event)
        for other in (room.expert(1), room.chair, AGENCY, TENDERER, bidder("C1")):
            if other.user_id != author.user_id:
                assert not sees(other, event, author.user_id)


def test_may_read_scores_before_and_after_the_reveal() -> None:
    room = room_at("detailed_review")
    own, other = room.expert(1), room.experts[2]
    assert may_read_scores(room.state, own, own.user_id)
    assert not may_read_scores(room.state, own)
    assert not may_read_scores(room.state, own, other)
    assert may_read_scores(room.state, SUPERVISOR)
    scored(room)
    assert may_read_scores(room.state, own) and may_read_scores(room.state, own, other)
    assert not may_read_scores(room.state, AGENCY) and not may_read_scores(room.state, TENDERER)


def test_agency_and_tenderer_read_scores_only_once_closed_and_bidders_never() -> None:
    room = room_at("signing")
    assert not may_read_scores(room.state, AGENCY)
    signed(room)
    assert may_read_scores(room.state, AGENCY) and may_read_scores(room.state, TENDERER)
    assert not may_read_scores(room.state, bidder("C1"))
    assert not may_read_scores(room.state, operator("xa"))


def test_score_out_of_range_is_refused() -> None:
    room = room_at("detailed_review")
    for score in ("30.01", "-1"):
        body = {"bid": "B1", "criterion": "tech", "score": score}
        assert room.refused("session.score", room.expert(0), body) == "score_out_of_range"


# A method with a range on tech (10–30), a deduction item all-or-nothing by majority (扣分项,
# 0 or 2) and an item only the chair scores, steps of 1 from 0 to 3.
SCALED: dict[str, Any] = {
    **COMPREHENSIVE,
    "criteria": [
        COMPREHENSIVE["criteria"][0],
        {**COMPREHENSIVE["criteria"][1], "scale": {"low": "10", "high": "30"}},
        {"id": "late", "name": "工期延误", "kind": "deduction", "max_points": "2",
         "deduction": "majority"},
        {"id": "site", "name": "现场踏勘", "kind": "expert", "max_points": "3",
         "scale": {"low": "0", "high": "3", "step": "1"}, "scored_by": "chair"},
        COMPREHENSIVE["criteria"][2],
    ],
}  # fmt: skip


def test_a_score_off_the_criterions_scale_is_refused_and_changes_nothing() -> None:
    room = room_at("detailed_review", SCALED)
    for criterion, score, code in (
        ("tech", "9.99", "score_out_of_range"),
        ("late", "1", "score_not_allowed"),
        ("site", "1.5", "score_not_allowed"),
    ):
        body = {"bid": "B1", "criterion": criterion, "score": score}
        assert room.refused("session.score", room.chair, body) == code


def test_only_the_chair_scores_a_chair_only_item_and_no_one_else_owes_it() -> None:
    room = room_at("detailed_review", SCALED)
    other = next(i for i, e in enumerate(room.experts) if e != room.state["chair"])
    body = {"bid": "B1", "criterion": "site", "score": "2"}
    assert room.refused("session.score", room.expert(other), body) == "chair_only"
    for bid, row in TECH.items():
        room.send("session.score", room.expert(other), {"bid": bid, "criterion": "tech",
                                                        "score": row[0]})  # fmt: skip
        assert room.refused("session.submit_scores", room.expert(other)) == "incomplete"
        room.send("session.score", room.expert(other), {"bid": bid, "criterion": "late",
                                                        "score": "0"})  # fmt: skip
    room.send("session.submit_scores", room.expert(other))  # the chair's item is not owed


def test_a_session_with_scales_deductions_and_chair_items_ranks_as_evaluate_does() -> None:
    room = room_at("detailed_review", SCALED)
    chair = room.state["chair"]
    for i, expert in enumerate(room.experts):
        for bid, row in TECH.items():
            figures = {"tech": row[i], "late": "2" if bid == "B3" and i < 3 else "0"}
            if expert == chair:
                figures["site"] = "3" if bid == "B1" else "1"
            for criterion, score in figures.items():
                body = {"bid": bid, "criterion": criterion, "score": score}
                room.send("session.score", room.expert(i), body)
        room.send("session.submit_scores", room.expert(i))
    for d in room.state["deviations"]:
        body = {"bid": d["bid"], "criterion": d["criterion"], "reason": "有据可查"}
        room.send("session.deviation_reason", room.actor(d["expert"]), body)
    room.send("session.close_phase", room.chair, {"phase": "deviation_check"})
    report = room.state["report"]
    sheets = [ExpertSheet.from_dict(x) for x in report["sheets"]]
    bids = [BidFigures.from_dict({k: v for k, v in b.items() if k != "company"})
            for b in room.state["bids"]]  # fmt: skip
    again = evaluate(ScoringMethod.from_dict(SCALED), bids, sheets, chair=chair).to_dict()
    assert report["ranking"] == again
    totals = {b["bid_id"]: b for b in again["bids"]}
    assert totals["B3"]["deductions"][0]["deducted"] == "2.00"  # 3 of 5 deducted: by majority


def test_submitting_an_incomplete_sheet_is_refused() -> None:
    room = room_at("detailed_review")
    room.send("session.score", room.expert(0), {"bid": "B1", "criterion": "tech", "score": "25"})
    assert room.refused("session.submit_scores", room.expert(0)) == "incomplete"


def test_an_edit_after_submission_needs_a_reason_and_is_recorded() -> None:
    room = room_at("detailed_review")
    score_all(room, 0)
    room.send("session.submit_scores", room.expert(0))
    cell = {"bid": "B1", "criterion": "tech", "score": "24"}
    assert room.refused("session.score", room.expert(0), cell) == "already_submitted"
    assert room.refused("session.revise_score", room.expert(0), cell) == "reason_required"
    room.send("session.revise_score", room.expert(0), {**cell, "reason": "漏看工期承诺"})
    (revision,) = room.state["revisions"]
    assert (revision["from"], revision["to"]) == ("25", "24")
    assert room.state["scores"][room.experts[0]]["B1"]["tech"] == "24"


def test_last_submission_reveals_every_sheet_to_the_committee() -> None:
    room = room_at("deviation_check")
    (revealed,) = room.events("session.scores_revealed")
    assert revealed.visibility == "committee"
    sheets = {s["expert_id"]: s["scores"] for s in revealed.payload["sheets"]}
    assert sheets[room.experts[3]]["B2"]["tech"] == "30"
    assert room.state["revealed"] is True


# --- deviation check (评分偏离) ----------------------------------------------------------------


def test_a_deviation_blocks_closing_until_its_expert_explains_it() -> None:
    room = room_at("deviation_check")
    (deviation,) = room.state["deviations"]
    assert deviation["expert"] == room.experts[3]
    assert (deviation["bid"], deviation["others_mean"], deviation["relative"]) == (
        "B2",
        "22.5000",
        "0.3333",
    )
    code = room.refused("session.close_phase", room.chair, {"phase": "deviation_check"})
    assert code == "deviation_reason_missing"
    explained(room)
    assert room.phase == "signing"


def test_only_the_flagged_expert_explains_a_deviation() -> None:
    room = room_at("deviation_check")
    body = {"bid": "B2", "criterion": "tech", "reason": "代为说明"}
    assert room.refused("session.deviation_reason", room.expert(1), body) == "not_flagged"


# --- aggregation and ranking (汇总排序) ---------------------------------------------------------


def test_comprehensive_ranking_matches_the_hand_computed_figures() -> None:
    room = room_at("signing")
    ranking = room.state["report"]["ranking"]
    # base = (1000000 + 980000 + 1050000) / 3 = 1010000.00 (B4 was rejected)
    assert ranking["base_price"]["value"] == "1010000.00"
    by_bid = {b["bid_id"]: b for b in ranking["bids"]}
    # tech, 5 experts, drop highest and lowest: B1 (25+26+27)/3 = 26.00,
    # B2 (22+23+24)/3 = 23.00, B3 (27+27+28)/3 = 27.333.. -> 27.33
    assert [by_bid[b]["criteria"][0]["score"] for b in ("B1", "B2", "B3")] == [
        "26.00",
        "23.00",
        "27.33",
    ]
    # deviations -0.99%, -2.97%, +3.96%: 60 - 0.495 = 59.505 -> 59.51;
    # 60 - 1.485 = 58.515 -> 58.52; 60 - 3.96 = 56.04
    assert [by_bid[b]["price_score"] for b in ("B1", "B2", "B3")] == ["59.51", "58.52", "56.04"]
    # totals 85.51, 81.52, 83.37
    assert [by_bid[b]["total"] for b in ("B1", "B2", "B3")] == ["85.51", "81.52", "83.37"]
    assert ranking["recommended"] == ["B1", "B3", "B2"]
    assert by_bid["B4"]["rank"] is None


def test_lowest_evaluated_price_ranks_by_the_read_out_price_without_scoring() -> None:
    room = room_at("preliminary_review", LOWEST_PRICE)
    reviewed(room)
    assert room.phase == "signing"  # nothing to score: straight to the ranking
    ranking = room.state["report"]["ranking"]
    # evaluated price = the read-out price (no adjustment is handed over); B4 was rejected
    evaluated = {b["bid_id"]: b["evaluated_price"] for b in ranking["bids"] if b["passed"]}
    assert evaluated == {"B1": "1000000.00", "B2": "980000.00", "B3": "1050000.00"}
    assert ranking["recommended"] == ["B2", "B1", "B3"]


def test_report_holds_what_a_verifier_needs_to_rerun_the_evaluation() -> None:
    room = room_at("signing")
    report = room.state["report"]
    method = ScoringMethod.from_dict(report["method"])
    bids = [
        BidFigures.from_dict({k: v for k, v in b.items() if k != "company"}) for b in report["bids"]
    ]
    sheets = [ExpertSheet.from_dict(s) for s in report["sheets"]]
    assert evaluate(method, bids, sheets).to_dict() == report["ranking"]
    assert room.state["report_digest"] == hashlib.sha256(canonical_json(report)).hexdigest()
    assert report_digest(report) == room.state["report_digest"]
    assert report["deviations"][0]["reason"] == "施工方案对深基坑支护论证充分"
    assert report["expert_totals"][room.experts[3]]["B2"] == "30"


# --- report (评标报告) and ratings (一标一评) ----------------------------------------------------


def test_signing_another_digest_than_the_report_is_refused() -> None:
    room = room_at("signing")
    body = {"report_digest": "0" * 64}
    assert room.refused("session.sign_report", room.expert(0), body) == "report_changed"


def test_every_signature_closes_the_session_and_announces_the_candidates() -> None:
    room = room_at("closed")
    (closed,) = room.events("session.closed")
    assert closed.visibility == "public"
    assert [c["company"] for c in closed.payload["recommended"]] == ["C1", "C3", "C2"]
    assert room.state["signatures"][room.experts[4]]["dissent"] == "B2 的技术分偏低"
    assert all(e.signed for e in room.events("session.report_signed"))


def test_ratings_after_closing_are_seen_by_the_rater_and_supervisors() -> None:
    room = room_at("closed")
    expert = room.experts[0]
    room.send("session.rate_expert", AGENCY, {"expert": expert, "score": 4, "comment": "认真"})
    room.send("session.rate_expert", SUPERVISOR, {"expert": expert, "score": 5})
    agency_rating, supervisor_rating = room.events("session.expert_rated")
    assert sees(AGENCY, agency_rating, AGENCY.user_id) and sees(SUPERVISOR, agency_rating)
    assert not sees(AGENCY, supervisor_rating, SUPERVISOR.user_id)
    again = room.refused("session.rate_expert", AGENCY, {"expert": expert, "score": 3})
    assert again == "already_rated"


def test_a_rating_outside_one_to_five_is_refused() -> None:
    room = room_at("closed")
    body = {"expert": room.experts[0], "score": 6}
    assert room.refused("session.rate_expert", AGENCY, body) == "rating_out_of_range"


def test_rating_before_closing_is_refused() -> None:
    room = room_at("signing")
    body = {"expert": room.experts[0], "score": 4}
    assert room.refused("session.rate_expert", SUPERVISOR, body) == "wrong_phase"


# --- clarification (澄清) ----------------------------------------------------------------------


def asked(room: Room, seconds: int = 600) -> str:
    body = {"company": "C2", "question": "请说明报价中措施费的构成", "deadline_seconds": seconds}
    decision = room.send("session.clarify_ask", room.expert(2), body)
    return str(decision.reply["id"])


def test_clarification_round_trip_is_recorded_for_the_committee_and_the_bidder() -> None:
    room = room_at("detailed_review")
    cid = asked(room)
    room.send("session.clarify_approve", SUPERVISOR, {"id": cid})
    room.tick(300)
    room.send(
        "session.clarify_answer", bidder("C2"), {"id": cid, "answer": "措施费含安全文明施工费"}
    )
    clarification = room.state["clarifications"][cid]
    assert clarification["status"] == "answered"
    answered = room.events("session.clarification_answered")
    assert {e.visibility for e in answered} == {"committee", "org:C2"}


def test_an_approved_question_reaches_that_bidder_only_without_who_asked() -> None:
    room = room_at("detailed_review")
    cid = asked(room)
    (question,) = room.events("session.clarification_asked")
    assert not sees(bidder("C2"), question)
    room.send("session.clarify_approve", SUPERVISOR, {"id": cid})
    (request,) = room.events("session.clarification_request")
    assert sees(bidder("C2"), request) and not sees(bidder("C1"), request)
    assert not sees(AGENCY, request)
    assert "asked_by" not in request.payload


def test_an_answer_after_the_deadline_is_refused() -> None:
    room = room_at("detailed_review")
    cid = asked(room, seconds=60)
    room.send("session.clarify_approve", SUPERVISOR, {"id": cid})
    room.tick(60)
    body = {"id": cid, "answer": "迟到的答复"}
    assert room.refused("session.clarify_answer", bidder("C2"), body) == "deadline_passed"


def test_a_bidder_answers_only_its_own_question() -> None:
    room = room_at("detailed_review")
    cid = asked(room)
    room.send("session.clarify_approve", SUPERVISOR, {"id": cid})
    body = {"id": cid, "answer": "代答"}
    assert room.refused("session.clarify_answer", bidder("C1"), body) == "not_yours"


def test_an_unapproved_question_cannot_be_answered() -> None:
    room = room_at("detailed_review")
    cid = asked(room)
    body = {"id": cid, "answer": "抢答"}
    assert room.refused("session.clarify_answer", bidder("C2"), body) == "not_pending"


def test_a_pending_clarification_blocks_closing_the_phase() -> None:
    room = room_at("deviation_check")
    explained_first = {"bid": "B2", "criterion": "tech", "reason": "理由"}
    room.send("session.deviation_reason", room.expert(3), explained_first)
    asked(room)
    code = room.refused("session.close_phase", room.chair, {"phase": "deviation_check"})
    assert code == "clarification_pending"


def test_the_clock_expires_an_unanswered_clarification() -> None:
    room = room_at("detailed_review")
    cid = asked(room, seconds=60)
    room.send("session.clarify_approve", SUPERVISOR, {"id": cid})
    assert next_deadline(room.state) == T0 + timedelta(seconds=60)
    room.tick(61)
    room.send("session.clock", SYSTEM)
    assert room.state["clarifications"][cid]["status"] == "expired"
    assert next_deadline(room.state) is None


# --- going back (评审回退) ---------------------------------------------------------------------


def test_going_back_waits_for_the_supervisor_and_unlocks_the_sheets() -> None:
    room = room_at("deviation_check")
    body = {"to_phase": "detailed_review", "reason": "B2 技术标第3章漏评"}
    room.send("session.goback_request", room.chair, body)
    assert room.phase == "deviation_check"
    room.send("session.goback_approve", SUPERVISOR)
    assert room.phase == "detailed_review"
    assert room.state["submitted"] == [] and room.state["revealed"] is False
    rescore = {"bid": "B2", "criterion": "tech", "score": "25"}
    room.send("session.score", room.expert(3), rescore)  # no reason: the sheet is open again
    assert room.state["gobacks"][0]["reason"] == "B2 技术标第3章漏评"


def test_a_rejected_going_back_leaves_the_phase() -> None:
    room = room_at("signing")
    room.send(
        "session.goback_request", room.chair, {"to_phase": "preliminary_review", "reason": "x"}
    )
    room.send("session.goback_reject", SUPERVISOR, {"reason": "理由不足"})
    assert room.phase == "signing" and room.state["goback"] is None


def test_going_back_only_to_an_earlier_review_phase() -> None:
    room = room_at("detailed_review")
    body = {"to_phase": "deviation_check", "reason": "x"}
    assert room.refused("session.goback_request", room.chair, body) == "invalid_goback"


# --- pause (暂停) ------------------------------------------------------------------------------


def test_a_pause_blocks_expert_commands_until_resumed() -> None:
    room = room_at("detailed_review")
    room.send("session.pause", SUPERVISOR, {"reason": "主场专家交头接耳"})
    cell = {"bid": "B1", "criterion": "tech", "score": "25"}
    assert room.refused("session.score", room.expert(0), cell) == "paused"
    assert room.refused("session.clarify_ask", room.expert(0), {"company": "C1"}) == "paused"
    room.send("session.resume", SUPERVISOR)
    room.send("session.score", room.expert(0), cell)


def test_the_supervisor_cannot_resume_past_a_lost_venue() -> None:
    room = room_at("detailed_review")
    room.send("session.venue_lost", SYSTEM, {"venue": "yc"})
    assert room.refused("session.resume", SUPERVISOR) == "not_paused"
    room.send("session.pause", SUPERVISOR, {"reason": "核查"})
    room.send("session.resume", SUPERVISOR)
    assert room.events("session.pause_lifted") and not room.events("session.resumed")
    cell = {"bid": "B1", "criterion": "tech", "score": "25"}
    assert room.refused("session.score", room.expert(0), cell) == "paused"


def test_a_warning_to_one_expert_is_seen_by_that_expert() -> None:
    room = room_at("detailed_review")
    room.send("session.warn", SUPERVISOR, {"expert": room.experts[1], "text": "请独立评分"})
    (warning,) = room.events("session.warning")
    assert sees(room.expert(1), warning) and not sees(room.expert(2), warning)


# --- venue faults (网络中断) --------------------------------------------------------------------


def test_a_venue_lost_during_evaluation_pauses_every_venue() -> None:
    room = room_at("preliminary_review")
    room.send("session.venue_lost", SYSTEM, {"venue": "yc"})
    body = {"bid": "B1", "criterion": "qualification", "pass": True}
    in_xa = next(i for i, e in enumerate(room.experts) if room.expert(i).venues == {"xa"})
    assert room.refused("session.preliminary", room.expert(in_xa), body) == "paused"
    assert next_deadline(room.state) == T0 + timedelta(seconds=120)


def test_a_venue_restored_within_the_resume_wait_continues() -> None:
    room = room_at("preliminary_review")
    room.send("session.venue_lost", SYSTEM, {"venue": "yc"})
    room.tick(119)
    room.send("session.venue_restored", SYSTEM, {"venue": "yc"})
    assert room.events("session.resumed") and room.phase == "preliminary_review"
    give_verdicts(room)
    room.send("session.close_phase", room.chair, {"phase": "preliminary_review"})
    assert room.phase == "detailed_review"


def test_a_venue_not_restored_in_time_seals_the_session() -> None:
    room = room_at("detailed_review")
    room.send("session.venue_lost", SYSTEM, {"venue": "lz"})
    room.tick(120)
    room.send("session.clock", SYSTEM)
    assert room.phase == "sealed"
    (sealed,) = room.events("session.sealed")
    assert sealed.visibility == "public" and sealed.payload["venue"] == "lz"
    assert room.events("session.new_committee_required")
    assert next_deadline(room.state) is None


def test_a_restore_arriving_after_the_deadline_still_seals() -> None:
    room = room_at("detailed_review")
    room.send("session.venue_lost", SYSTEM, {"venue": "lz"})
    room.tick(121)
    room.send("session.venue_restored", SYSTEM, {"venue": "lz"})
    assert room.phase == "sealed"


def test_a_repeated_loss_report_changes_nothing() -> None:
    room = room_at("detailed_review")
    room.send("session.venue_lost", SYSTEM, {"venue": "lz"})
    state = room.state
    room.tick(30)
    decision = room.send("session.venue_lost", SYSTEM, {"venue": "lz"})
    assert decision.events == [] and room.state == state


def test_the_clock_is_idempotent() -> None:
    room = room_at("detailed_review")
    room.send("session.venue_lost", SYSTEM, {"venue": "lz"})
    room.tick(200)
    room.send("session.clock", SYSTEM)
    state = room.state
    assert room.send("session.clock", SYSTEM).events == [] and room.state == state


def test_a_venue_lost_before_start_holds_the_start_until_restored() -> None:
    room = room_at("check_in")
    room.send("session.venue_lost", SYSTEM, {"venue": "lz"})
    checked_in(room)
    assert room.phase == "check_in"
    room.tick(59)
    room.send("session.venue_restored", SYSTEM, {"venue": "lz"})
    assert room.phase == "chair_election"


def test_after_the_start_wait_the_tenderer_decides() -> None:
    room = room_at("check_in")
    room.send("session.venue_lost", SYSTEM, {"venue": "lz"})
    room.tick(60)
    room.send("session.clock", SYSTEM)
    assert room.phase == "awaiting_tenderer_decision"
    expert = room.experts[0]
    venue = room.state["committee"][expert]["venue"]
    body = {"expert": expert, "seat": "1", "expert_signature": "s"}
    assert room.refused("session.check_in", operator(venue), body) == "wrong_phase"
    room.send("session.tenderer_decision", TENDERER, {"decision": "continue"})
    assert room.phase == "check_in"
    assert next_deadline(room.state) == T0 + timedelta(seconds=120)


def test_the_tenderer_may_reschedule_after_the_start_wait() -> None:
    room = room_at("check_in")
    room.send("session.venue_lost", SYSTEM, {"venue": "lz"})
    room.tick(60)
    room.send("session.clock", SYSTEM)
    room.send("session.tenderer_decision", TENDERER, {"decision": "reschedule"})
    assert room.phase == "rescheduled"
    assert room.events("session.rescheduled")[0].visibility == "public"


def test_next_deadline_is_the_earliest_running_deadline() -> None:
    room = room_at("detailed_review")
    assert next_deadline(room.state) is None
    cid = asked(room, seconds=600)
    room.send("session.clarify_approve", SUPERVISOR, {"id": cid})
    room.tick(10)
    room.send("session.venue_lost", SYSTEM, {"venue": "yc"})
    assert next_deadline(room.state) == T0 + timedelta(seconds=130)


# --- who may do what (docs/domain.md's table) ------------------------------------------------------

ALL = frozenset(COMMAND_ROLES)
EXPERT_WORK = {
    "session.vote_chair",
    "session.preliminary",
    "session.score",
    "session.submit_scores",
    "session.revise_score",
    "session.deviation_reason",
    "session.clarify_ask",
    "session.sign_report",
}
MAY_SEND = {
    "agency": {"session.create", "session.commit_seed", "session.draw", "session.rate_expert"},
    "tenderer": {"session.tenderer_decision"},
    "bidder": {"session.clarify_answer"},
    "operator": {"session.check_in"},
    "expert": EXPERT_WORK | {"session.declare_conflict"},
    "chair": EXPERT_WORK | {"session.close_phase", "session.goback_request"},
    "supervisor": {
        "session.commit_seed",
        "session.draw",
        "session.declare_conflict",
        "session.clarify_approve",
        "session.clarify_reject",
        "session.goback_approve",
        "session.goback_reject",
        "session.pause",
        "session.resume",
        "session.warn",
        "session.annotate",
        "session.rate_expert",
    },
    "system": {
        "session.commit_seed",
        "session.draw",
        "session.venue_lost",
        "session.venue_restored",
        "session.clock",
    },
}


@pytest.mark.parametrize("role", sorted(MAY_SEND))
def test_each_role_may_send_only_what_the_permission_table_allows(role: str) -> None:
    actor = Actor("someone", frozenset({role}))
    assert {t for t in ALL if allowed(t, actor)} == MAY_SEND[role]


def test_every_command_has_a_decider_and_a_role_entry() -> None:
    assert set(DECIDERS) == set(COMMAND_ROLES)
    assert set(SIGNED) <= set(DECIDERS)


@pytest.mark.parametrize("outsider", [AGENCY, TENDERER, operator("xa"), SUPERVISOR])
def test_no_one_outside_the_committee_scores_even_holding_the_expert_role(
    outsider: Actor,
) -> None:
    room = room_at("detailed_review")
    intruder = Actor(outsider.user_id, outsider.roles | {"expert"}, venues=outsider.venues)
    body = {"bid": "B1", "criterion": "tech", "score": "25"}
    assert room.refused("session.score", intruder, body) == "not_a_committee_member"


def test_agency_and_tenderer_see_progress_but_no_score_during_evaluation() -> None:
    room = room_at("signing")
    for event, sender in room.log:
        text = json.dumps(event.payload, ensure_ascii=False)
        carries_scores = any(k in text for k in ('"score"', '"sheets"', '"ranking"', '"total"'))
        if carries_scores:
            assert not sees(AGENCY, event, sender) and not sees(TENDERER, event, sender)
    progress = room.events("session.progress")
    assert progress and all(sees(AGENCY, e) and sees(TENDERER, e) for e in progress)


def test_bidders_see_no_phase_progress_or_expert_name_during_evaluation() -> None:
    room = room_at("signing")
    seen = {e.type for e, sender in room.log if sees(bidder("C1"), e, sender)}
    assert seen == {"session.created", "session.seed_committed", "session.draw_announced"}


def test_state_never_holds_a_float() -> None:
    room = room_at("closed")

    def walk(value: Any) -> None:
        assert not isinstance(value, float)
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(room.state)
