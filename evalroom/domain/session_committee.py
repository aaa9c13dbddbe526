"""Forming the committee (组建评标委员会): the session's creation, the draw, conflicts, check-in.

The draw follows :mod:`evalroom.domain.draw`: the request is fixed at creation, the seed's
commitment and the pool's digest are published before the draw, and the draw itself runs on
the revealed seed and the pinned snapshot, so anyone holding the snapshot can recompute it.
Who sits where stays with the committee, the venues' operators and supervisors; bidders and
the agency learn only how many experts sit in each venue.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from evalroom.domain.commands import Command, CreateStream, Decision
from evalroom.domain.draw import (
    AvoidanceReason,
    DrawRequest,
    DrawResult,
    Exclusion,
    ExpertPool,
    Replacement,
    Seat,
    commit_seed,
    draw_experts,
    pool_digest,
    redraw,
    request_digest,
)
from evalroom.domain.duties import Person, Roster, first_conflict
from evalroom.domain.handover import SignedRecord, check_one_session, session_bids
from evalroom.domain.roles import Role
from evalroom.domain.rules import RuleError
from evalroom.domain.scoring import BidFigures, ScoringMethod
from evalroom.domain.session_state import (
    Phase,
    Session,
    decimal_text,
    positive_int,
    text_field,
)

DEFAULT_THRESHOLD = "0.30"
DEFAULT_START_WAIT = 2 * 3600  # a venue lost before start: wait 2 h, then the tenderer decides
DEFAULT_RESUME_WAIT = 4 * 3600  # lost during evaluation: 4 h to come back, else sealed
MIN_COMMITTEE = 5  # 评标委员会: five or more, an odd number (《招标投标法》第三十七条)
HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")


# --- creation -------------------------------------------------------------------------------


def _venues(value: object) -> dict[str, dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise RuleError("invalid_venues", "venues must be a non-empty list")
    venues: dict[str, dict[str, Any]] = {}
    for v in value:
        if not isinstance(v, Mapping):
            raise RuleError("invalid_venues", "a venue is {id, name, region, seats, main}")
        vid = text_field(v, "id", "invalid_venues")
        if vid in venues:
            raise RuleError("invalid_venues", f"venue {vid} appears twice")
        venues[vid] = {
            "name": text_field(v, "name", "invalid_venues"),
            "region": text_field(v, "region", "invalid_venues"),
            "seats": positive_int(v.get("seats"), f"seats of {vid}"),
            "main": v.get("main") is True,
        }
    if sum(v["main"] for v in venues.values()) != 1:
        raise RuleError("invalid_venues", "exactly one venue is the main venue (主场)")
    return venues


def _bids(value: object) -> list[dict[str, Any]]:
    """The bids handed over from the opening record, checked as :class:`BidFigures` plus a
    company (figures found in review, such as arithmetic errors, start at zero)."""
    if not isinstance(value, list) or not value:
        raise RuleError("invalid_bid", "bids must be a non-empty list")
    bids = []
    for b in value:
        if not isinstance(b, Mapping):
            raise RuleError("invalid_bid", "a bid is {bid_id, company, price, ...}")
        company = text_field(b, "company", "invalid_bid")
        figures = BidFigures.from_dict({k: v for k, v in b.items() if k != "company"})
        bids.append({**figures.to_dict(), "company": company})
    for key in ("bid_id", "company"):
        values = [b[key] for b in bids]
        if len(set(values)) != len(values):
            raise RuleError("duplicate_bid", f"each {key} may appear once")
    return bids


def _listed(facts: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    value = facts.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise RuleError("record_inconsistent", f"{name} must be a list of objects")
    return value


def _request(
    draw: Mapping[str, Any], venues: Mapping[str, Any], companies: Sequence[str]
) -> DrawRequest:
    fields = {
        "slots": draw.get("slots"),
        "venue_regions": {vid: v["region"] for vid, v in venues.items()},
        "bidders": list(companies),
        **{k: draw[k] for k in _REQUEST_OPTIONS if k in draw},
    }
    request = DrawRequest.from_dict(fields)
    size = sum(slot.count for slot in request.slots)
    if size < MIN_COMMITTEE or size % 2 == 0:
        raise RuleError(
            "invalid_committee", f"a committee has 5 or more experts, odd; asked {size}"
        )
    for vid, v in venues.items():
        seated = sum(slot.count for slot in request.slots if slot.venue == vid)
        if seated > v["seats"]:
            raise RuleError("too_few_seats", f"venue {vid} has {v['seats']} seats for {seated}")
    return request


_REQUEST_OPTIONS = (
    "tenderer",
    "tenderer_region",
    "avoid_tenderer_region",
    "min_credit",
    "excluded",
    "match_venue_region",
)


def _method(body: Mapping[str, Any]) -> tuple[ScoringMethod, str | None]:
    """The scoring method, and the floating point drawn at the opening if it has one."""
    method = ScoringMethod.from_dict(body.get("method", {}))
    fp = body.get("floating_point")
    fp_value = None if fp is None else decimal_text(fp, "floating_point")
    if method.price_rule is not None:
        method.price_rule.base.check_floating_point(fp_value)
    elif fp_value is not None:
        raise RuleError("floating_point_unexpected", "this method has no floating point")
    return method, None if fp_value is None else format(fp_value, "f")


def create(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.create``: the agency opens the evaluation of one section with its rules."""
    if state:
        raise RuleError("already_exists", f"{cmd.stream} exists")
    body = cmd.body
    tender, section = text_field(body, "tender"), text_field(body, "section")
    method, floating_point = _method(body)
    if "bids" in body:
        raise RuleError("bids_not_accepted", "the bids come from the signed opening record only")
    # The bids come from the tender's signed opening record alone, which the service reads
    # under the tender's lock with the tender's other sessions (``facts``).
    records = [SignedRecord.from_dict(r) for r in _listed(cmd.facts, "opening_records")]
    handover = session_bids(records, section)
    earlier = check_one_session(_listed(cmd.facts, "sessions"), section, cmd.stream)
    bids = _bids(handover.bids)
    venues = _venues(body.get("venues"))
    draw = body.get("draw")
    if not isinstance(draw, Mapping):
        raise RuleError("invalid_request", "draw must be an object")
    request = _request(draw, venues, [b["company"] for b in bids])
    threshold = decimal_text(body.get("deviation_threshold", DEFAULT_THRESHOLD), "threshold")
    if threshold < 0:
        raise RuleError("invalid", "the deviation threshold must not be negative")
    waits = {
        "start": positive_int(body.get("start_wait", DEFAULT_START_WAIT), "start_wait"),
        "resume": positive_int(body.get("resume_wait", DEFAULT_RESUME_WAIT), "resume_wait"),
    }
    new = _initial_state(tender, section, cmd.actor.user_id, venues, method, bids, request)
    new.update(floating_point=floating_point, deviation_threshold=str(threshold), waits=waits)
    new.update(opening_record=handover.reference, earlier_sessions=earlier)
    # 否决投标 at the opening by the control price: recorded here with reasons, never scored.
    new.update(rejected=handover.rejected, flagged=handover.flagged, few_valid=handover.few_valid)
    s = Session(new, cmd)
    experts = sum(slot.count for slot in request.slots)
    public = {"tender": tender, "section": section, "venues": venues, "method": new["method"]}
    public.update(opening_record=handover.reference, earlier_sessions=earlier)
    s.emit("session.created", {**public, "bids": len(bids), "experts": experts})
    # The committee needs the bids it evaluates, as read out at the opening (唱标); experts
    # drawn later receive it when they subscribe. The verifier checks it against the record.
    standings = {"rejected": handover.rejected, "flagged": handover.flagged}
    s.emit("session.bids", {"bids": handover.bids, **{k: v for k, v in standings.items() if v}})
    parent = f"tender:{tender}"
    return Decision(s.events, s.s, create=[CreateStream(cmd.stream, "session", parent)])


def _initial_state(
    tender: str,
    section: str,
    agency: str,
    venues: dict[str, Any],
    method: ScoringMethod,
    bids: list[dict[str, Any]],
    request: DrawRequest,
) -> dict[str, Any]:
    return {
        "phase": Phase.DRAW.value,
        "tender": tender,
        "section": section,
        "agency": agency,
        "venues": venues,
        "method": method.to_dict(),
        "bids": bids,
        "draw_request": request.to_dict(),
        "seed_commitment": None,
        "pool_digest": None,
        "draw": None,
        "committee": {},
        "withdrawn": {},
        "checked_in": {},
        "election": {"round": 1, "votes": {}},
        "chair": None,
        "verdicts": {},
        "preliminary": None,
        "scores": {},
        "submitted": [],
        "revealed": False,
        "revisions": [],
        "deviations": [],
        "deviation_reasons": {},
        "clarifications": {},
        "goback": None,
        "gobacks": [],
        "pause": None,
        "faults": {},
        "resume_phase": None,
        "ranking": None,
        "report": None,
        "report_digest": None,
        "signatures": {},
        "ratings": {},
    }


# --- the draw (抽取) -------------------------------------------------------------------------


def publish_commitment(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.commit_seed``: publish the seed's hash and the pool's digest before the draw."""
    s = Session(state, cmd)
    s.require_phase(Phase.DRAW)
    if s.s["seed_commitment"] is not None:
        raise RuleError("already_committed", "the seed is committed; it cannot change")
    commitment, digest = text_field(cmd.body, "commitment"), text_field(cmd.body, "pool_digest")
    if not (HEX_DIGEST.match(commitment) and HEX_DIGEST.match(digest)):
        raise RuleError("invalid", "commitment and pool_digest are lowercase hex SHA-256")
    s.s.update(seed_commitment=commitment, pool_digest=digest)
    request = request_digest(DrawRequest.from_dict(s.s["draw_request"]))
    payload = {"commitment": commitment, "pool_digest": digest, "request_digest": request}
    s.emit("session.seed_committed", payload)
    return s.decision()


def _pool(cmd: Command) -> ExpertPool:
    """The pool snapshot: prepared by the service (``facts``), else given in the body."""
    raw = cmd.facts.get("pool", cmd.body.get("pool"))
    if not isinstance(raw, Mapping):
        raise RuleError("pool_required", "the draw needs the pool snapshot it committed to")
    return ExpertPool.from_dict(raw)


def _seed(s: Session, text: object) -> bytes:
    try:
        seed = bytes.fromhex(text) if isinstance(text, str) else b""
    except ValueError:
        seed = b""
    if not seed:
        raise RuleError("invalid", "seed must be hex")
    if commit_seed(seed) != s.s["seed_commitment"]:
        raise RuleError("seed_mismatch", "the seed does not match the published commitment")
    return seed


def draw(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.draw``: reveal the seed and draw the committee from the pinned snapshot.

    A pool too small for the slots is found before any pick, whatever the seed: the failure
    is recorded and the commitment spent, so a new snapshot can be committed to.
    """
    s = Session(state, cmd)
    s.require_phase(Phase.DRAW)
    if s.s["seed_commitment"] is None:
        raise RuleError("not_committed", "publish the seed commitment before the draw")
    seed, pool = _seed(s, cmd.body.get("seed")), _pool(cmd)
    if pool_digest(pool) != s.s["pool_digest"]:
        raise RuleError("pool_mismatch", "the pool is not the snapshot the commitment pinned")
    request = DrawRequest.from_dict(s.s["draw_request"])
    try:
        record = draw_experts(pool, request, seed)
        record = _replace_conflicted(pool, request, seed, record, cmd)
    except RuleError as short:
        if short.code != "not_enough_experts":
            raise
        s.s.update(seed_commitment=None, pool_digest=None)
        s.emit("session.draw_failed", {"code": short.code, "reason": short.message})
        return s.decision()
    s.s["draw"] = {"seed": seed.hex(), "record": record_to_dict(record)}
    _seat(s, record, pool)
    for expert_id, seat in s.committee.items():
        s.grant(expert_id, Role.EXPERT, seat["venue"])
    # The request travels with the record (supervisors only), so a supervisor's page can
    # recompute the draw from the snapshot it checked (its digest was published before).
    s.emit("session.drawn", {**s.s["draw"], "request": s.s["draw_request"]})
    s.emit("session.committee", {"members": _members(s)})
    for vid in s.s["venues"]:
        _roster(s, vid)
    counts = {vid: sum(m["venue"] == vid for m in s.committee.values()) for vid in s.s["venues"]}
    s.emit("session.draw_announced", {"experts_per_venue": counts})
    s.move_to(Phase.CHECK_IN)
    return s.decision()


def _replace_conflicted(
    pool: ExpertPool, request: DrawRequest, seed: bytes, record: DrawResult, cmd: Command
) -> DrawResult:
    """Separation of duties for the drawn (:mod:`evalroom.domain.duties`): an expert who, or
    whose employer, holds another role in the tender, or who must avoid one of its bidder
    companies, gives up the seat at once and it is redrawn (补抽) with the conflict as the
    reason, so ``verify_draw`` recomputes it from the record like any replacement.
    Raises ``not_enough_experts`` when the pool runs out."""
    roster = Roster.from_facts(cmd.facts)
    people = {
        e.id: Person(e.id, None, e.employer or None, frozenset(e.relations)) for e in pool.experts
    }
    replaced = {r.withdrawn_expert_id for r in record.replacements}
    while True:
        for seat in record.seats:
            if seat.expert_id in replaced:
                continue
            refusal = first_conflict(
                Role.EXPERT,
                people[seat.expert_id],
                command=cmd.type,
                actor=cmd.actor,
                roster=roster,
            )
            if refusal is not None:
                reason = f"{refusal.code}: {refusal.message}"
                record = redraw(pool, request, seed, record, seat.expert_id, reason)
                replaced.add(seat.expert_id)
                break
        else:
            return record


def _seat(s: Session, record: DrawResult, pool: ExpertPool) -> None:
    names = {e.id: e.name for e in pool.experts}
    s.s["committee"] = {
        seat.expert_id: {
            "name": names[seat.expert_id],
            "specialty": seat.specialty,
            "venue": seat.venue,
        }
        for seat in record.seats
    }


def _members(s: Session) -> list[dict[str, Any]]:
    return [{"expert": e, **m} for e, m in s.committee.items()]


def _roster(s: Session, vid: str) -> None:
    """The experts a venue's operator checks in (and who sit together there)."""
    members = [m for m in _members(s) if m["venue"] == vid]
    s.emit("session.venue_roster", {"venue": vid, "members": members})


def declare_conflict(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.declare_conflict``: an expert withdraws (回避) before the evaluation starts;
    a supervisor may withdraw a named expert (e.g. absent). The seat is redrawn (补抽)."""
    s = Session(state, cmd)
    named = cmd.body.get("expert")
    acting_supervisor = Role.SUPERVISOR in cmd.actor.roles
    if named is not None and named != cmd.actor.user_id and not acting_supervisor:
        raise RuleError("not_yours", "an expert declares only their own conflict")
    who = s.member(named if isinstance(named, str) else None)
    s.require_live()
    if not acting_supervisor:
        s.require_running()
    s.require_phase(Phase.CHECK_IN)
    reason = text_field(cmd.body, "reason", "reason_required")
    pool = _pool(cmd)
    request = DrawRequest.from_dict(s.s["draw_request"])
    seed = bytes.fromhex(s.s["draw"]["seed"])
    previous = record_from_dict(s.s["draw"]["record"])
    record = redraw(pool, request, seed, previous, who, reason)
    record = _replace_conflicted(pool, request, seed, record, cmd)
    seat = s.committee[who]
    s.s["draw"] = {**s.s["draw"], "record": record_to_dict(record)}
    _seat(s, record, pool)
    # Who sits in the seat now (a replacement in conflict was itself replaced).
    replacement = record.seats[previous.committee.index(who)].expert_id
    s.s["withdrawn"][who] = {"reason": reason, "replaced_by": replacement, "at": s.now}
    s.s["checked_in"].pop(who, None)
    s.grant(replacement, Role.EXPERT, seat["venue"])
    payload = {"withdrawn": who, "replacement": replacement, "reason": reason}
    s.emit("session.redrawn", {**payload, "record": s.s["draw"]["record"]})
    s.emit("session.committee", {"members": _members(s)})
    _roster(s, seat["venue"])
    s.emit(
        "session.replacement_drawn",
        {"venue": seat["venue"], "specialty": seat["specialty"]},
    )
    return s.decision()


# --- check-in (签到) -------------------------------------------------------------------------


def check_in(state: Mapping[str, Any], cmd: Command) -> Decision:
    """``session.check_in``: a venue's operator confirms an expert's identity and seat."""
    s = Session(state, cmd)
    s.require_phase(Phase.CHECK_IN)
    s.require_running()
    expert = s.member(text_field(cmd.body, "expert"))
    vid = s.committee[expert]["venue"]
    if vid not in cmd.actor.venues:
        raise RuleError("not_your_venue", f"{expert} sits in venue {vid}")
    signature = text_field(cmd.body, "expert_signature")
    if cmd.facts.get("expert_signature_ok") is not True:
        raise RuleError("identity_unverified", "the expert's signed check-in statement is missing")
    if expert in s.s["checked_in"]:
        raise RuleError("already_checked_in", f"{expert} is checked in")
    seat = text_field(cmd.body, "seat")
    if any(c["venue"] == vid and c["seat"] == seat for c in s.s["checked_in"].values()):
        raise RuleError("seat_taken", f"seat {seat} of venue {vid} is taken")
    s.s["checked_in"][expert] = {"venue": vid, "seat": seat, "at": s.now, "by": cmd.actor.user_id}
    payload = {"expert": expert, "venue": vid, "seat": seat, "signature": signature}
    s.emit("session.checked_in", payload)
    s.progress("check_in", len(s.s["checked_in"]), len(s.committee))
    s.maybe_start()
    return s.decision()


# --- the draw record as JSON ----------------------------------------------------------------


def record_to_dict(record: DrawResult) -> dict[str, Any]:
    """A :class:`DrawResult` as plain JSON (what ``verify_draw`` needs with the seed)."""
    return {
        "seed_commitment": record.seed_commitment,
        "pool_digest": record.pool_digest,
        "request_digest": record.request_digest,
        "seats": [asdict(x) for x in record.seats],
        "exclusions": [{**asdict(x), "reason": x.reason.value} for x in record.exclusions],
        "replacements": [asdict(r) for r in record.replacements],
    }


def record_from_dict(d: Mapping[str, Any]) -> DrawResult:
    return DrawResult(
        seed_commitment=d["seed_commitment"],
        pool_digest=d["pool_digest"],
        request_digest=d["request_digest"],
        seats=tuple(Seat(**x) for x in d["seats"]),
        exclusions=tuple(
            Exclusion(x["expert_id"], AvoidanceReason(x["reason"]), x["detail"])
            for x in d["exclusions"]
        ),
        replacements=tuple(Replacement(**r) for r in d["replacements"]),
    )
