"""Verifiable expert draw with avoidance (专家抽取 · 回避).

The draw is a pure, deterministic function of three things anyone can hold afterwards: the
pool snapshot, the request, and a seed.

1. Before the draw the platform publishes :func:`pool_digest` of the snapshot,
   :func:`request_digest` of the request and :func:`commit_seed` of a fresh secret seed
   (at least 16 random bytes). Publishing all three first is what stops the operator from
   trying seeds or editing the pool until a wanted committee comes out.
2. :func:`draw_experts` screens the pool (:func:`apply_avoidance`, every exclusion with its
   reason), then fills each slot (specialty, venue) from the eligible experts sorted by id.
3. The seed is revealed; :func:`verify_draw` checks the commitment and recomputes the
   committee, replacements included.

Canonical encoding, for the digests: ``json.dumps(value, sort_keys=True,
separators=(",", ":"), ensure_ascii=False).encode("utf-8")`` of ``to_dict()``; experts sorted
by id, their specialties and relations sorted and de-duplicated, decimals as strings without
trailing zeros (``"85.5"``, ``"90"``); slots sorted by (specialty, venue).

Randomness: each pick is an index into a list of candidate ids (sorted), ``x mod n`` of
``x = int.from_bytes(HMAC-SHA256(seed, label), "big")`` where ``label`` is the canonical JSON
of a list ending in ``attempt``; an ``x`` at or above the largest multiple of ``n`` below
2**256 is rejected and ``attempt`` (from 0) goes up, so the index is unbiased. Python's
``random`` is never used.

- Pick ``i`` (from 0) of a slot uses ``["draw", specialty, venue, i, k, attempt]`` over the
  slot's candidates not yet taken. ``k`` (from 0) counts picks set aside because taking that
  expert would leave some open seat of this or a later slot impossible to fill (checked by
  bipartite matching); the set-aside expert leaves the list and the pick is drawn again.
- Replacement ``round`` (from 1) uses ``["redraw", round, specialty, venue, attempt]`` over
  the seat's candidates outside the committee who have never withdrawn.

Slots are filled in canonical order; an expert sits at most once across all slots. If the
slots cannot all be filled together, the draw is refused before any pick, naming the first
slot left short. When ``match_venue_region`` holds, an expert sits only in the venue of the
expert's own region (remote evaluation: each expert evaluates from the home city's venue).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from evalroom.domain.rules import RuleError, read_decimal

__all__ = [
    "Avoidance",
    "AvoidanceReason",
    "DrawRequest",
    "DrawResult",
    "Exclusion",
    "Expert",
    "ExpertPool",
    "Replacement",
    "Seat",
    "Slot",
    "apply_avoidance",
    "commit_seed",
    "draw_experts",
    "pool_digest",
    "redraw",
    "request_digest",
    "verify_draw",
]

MIN_SEED_BYTES = 16


def _canonical(value: object) -> bytes:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def _decimal_text(value: Decimal) -> str:
    """Plain notation without trailing zeros ("85.5", "90"), whatever the decimal context."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _text(value: object, where: str, code: str) -> str:
    if not isinstance(value, str):
        raise RuleError(code, f"{where} must be a string")
    return value


def _flag(value: object, where: str, code: str) -> bool:
    if not isinstance(value, bool):
        raise RuleError(code, f"{where} must be true or false")
    return value


def _strings(value: object, where: str, code: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise RuleError(code, f"{where} must be a list of strings")
    return tuple(value)


# --- the pool -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expert:
    """评标专家 as the pool snapshot records them; companies by a stable id (统一社会信用代码)."""

    id: str
    name: str
    specialties: tuple[str, ...]  # 专业
    region: str  # 所在地区, also where the expert sits
    employer: str  # 工作单位
    credit: Decimal  # 信用分
    available: bool = True  # 可抽取 (not on leave, not suspended)
    relations: tuple[str, ...] = ()  # companies the expert declares a relation to (利害关系)

    def __post_init__(self) -> None:
        if not self.id or not self.credit.is_finite():
            raise RuleError("invalid_pool", f"expert {self.id!r} needs an id and a credit score")
        object.__setattr__(self, "specialties", tuple(sorted(set(self.specialties))))
        object.__setattr__(self, "relations", tuple(sorted(set(self.relations))))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "specialties": list(self.specialties),
            "region": self.region,
            "employer": self.employer,
            "credit": _decimal_text(self.credit),
            "available": self.available,
            "relations": list(self.relations),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Expert:
        code = "invalid_pool"
        return cls(
            id=_text(d.get("id"), "expert.id", code),
            name=_text(d.get("name"), "expert.name", code),
            specialties=_strings(d.get("specialties"), "expert.specialties", code),
            region=_text(d.get("region"), "expert.region", code),
            employer=_text(d.get("employer"), "expert.employer", code),
            credit=read_decimal(d.get("credit"), "expert.credit", code),
            available=_flag(d.get("available", True), "expert.available", code),
            relations=_strings(d.get("relations", []), "expert.relations", code),
        )


@dataclass(frozen=True)
class ExpertPool:
    """评标专家库 snapshot taken for one draw; held sorted by expert id."""

    experts: tuple[Expert, ...]

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.experts, key=lambda e: e.id))
        ids = [e.id for e in ordered]
        if len(set(ids)) != len(ids):
            raise RuleError("duplicate_expert", "each expert appears once in the pool")
        object.__setattr__(self, "experts", ordered)

    def to_dict(self) -> dict[str, Any]:
        return {"experts": [e.to_dict() for e in self.experts]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ExpertPool:
        experts = d.get("experts")
        if not isinstance(experts, list):
            raise RuleError("invalid_pool", "a pool is {'experts': [...]}")
        return cls(tuple(Expert.from_dict(e) for e in experts))


def pool_digest(pool: ExpertPool) -> str:
    """Hex SHA-256 of the pool's canonical encoding: pins the snapshot in the draw record."""
    return hashlib.sha256(_canonical(pool.to_dict())).hexdigest()


# --- the request ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """How many experts of one specialty sit in one venue (主场 or 副场)."""

    specialty: str
    venue: str
    count: int


@dataclass(frozen=True)
class DrawRequest:
    """抽取申请: slots, venues, and what the avoidance (回避) must look at."""

    slots: tuple[Slot, ...]
    venue_regions: Mapping[str, str]  # venue id → region
    bidders: tuple[str, ...]  # 投标人, by stable company id
    tenderer: str  # 招标人
    tenderer_region: str
    avoid_tenderer_region: bool = False  # 招标人所在地专家回避
    min_credit: Decimal = Decimal(0)
    excluded: tuple[str, ...] = ()  # expert ids kept out (e.g. conflicts declared earlier)
    match_venue_region: bool = True

    def __post_init__(self) -> None:
        slots = tuple(sorted(self.slots, key=lambda s: (s.specialty, s.venue)))
        keys = [(s.specialty, s.venue) for s in slots]
        if not self.min_credit.is_finite():
            raise RuleError("invalid_request", "min_credit must be a finite number")
        if not slots or len(set(keys)) != len(keys) or any(s.count < 1 for s in slots):
            raise RuleError("invalid_request", "slots must be distinct and ask for 1+ experts")
        unknown = sorted({s.venue for s in slots} - set(self.venue_regions))
        if unknown:
            raise RuleError("invalid_request", f"venue {unknown[0]} has no region")
        object.__setattr__(self, "slots", slots)
        object.__setattr__(self, "bidders", tuple(sorted(set(self.bidders))))
        object.__setattr__(self, "excluded", tuple(sorted(set(self.excluded))))

    def to_dict(self) -> dict[str, Any]:
        return {
            "slots": [
                {"specialty": s.specialty, "venue": s.venue, "count": s.count} for s in self.slots
            ],
            "venue_regions": dict(self.venue_regions),
            "bidders": list(self.bidders),
            "tenderer": self.tenderer,
            "tenderer_region": self.tenderer_region,
            "avoid_tenderer_region": self.avoid_tenderer_region,
            "min_credit": _decimal_text(self.min_credit),
            "excluded": list(self.excluded),
            "match_venue_region": self.match_venue_region,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DrawRequest:
        code = "invalid_request"
        slots, regions = d.get("slots"), d.get("venue_regions")
        if not isinstance(slots, list) or not isinstance(regions, Mapping):
            raise RuleError(code, "a request needs a list of slots and a venue_regions object")
        return cls(
            slots=tuple(_slot_from_dict(s) for s in slots),
            venue_regions={k: _text(v, f"region of {k}", code) for k, v in regions.items()},
            bidders=_strings(d.get("bidders"), "bidders", code),
            tenderer=_text(d.get("tenderer"), "tenderer", code),
            tenderer_region=_text(d.get("tenderer_region"), "tenderer_region", code),
            avoid_tenderer_region=_flag(
                d.get("avoid_tenderer_region", False), "avoid_tenderer_region", code
            ),
            min_credit=read_decimal(d.get("min_credit", "0"), "min_credit", code),
            excluded=_strings(d.get("excluded", []), "excluded", code),
            match_venue_region=_flag(d.get("match_venue_region", True), "match_venue_region", code),
        )


def _slot_from_dict(value: object) -> Slot:
    if not isinstance(value, Mapping):
        raise RuleError("invalid_request", "a slot is {specialty, venue, count}")
    count = value.get("count")
    if isinstance(count, bool) or not isinstance(count, int):
        raise RuleError("invalid_request", "slot.count must be an integer")
    specialty = _text(value.get("specialty"), "slot.specialty", "invalid_request")
    return Slot(specialty, _text(value.get("venue"), "slot.venue", "invalid_request"), count)


def request_digest(request: DrawRequest) -> str:
    """Hex SHA-256 of the request's canonical encoding."""
    return hashlib.sha256(_canonical(request.to_dict())).hexdigest()


# --- avoidance ------------------------------------------------------------------------------


class AvoidanceReason(StrEnum):
    EMPLOYED_BY_BIDDER = "employed_by_bidder"
    EMPLOYED_BY_TENDERER = "employed_by_tenderer"
    RELATED_TO_BIDDER = "related_to_bidder"
    CREDIT_BELOW_THRESHOLD = "credit_below_threshold"
    UNAVAILABLE = "unavailable"
    TENDERER_REGION = "tenderer_region"
    EXCLUDED = "excluded"
    WITHDRAWN = "withdrawn"  # declared a conflict after being drawn


@dataclass(frozen=True)
class Exclusion:
    """One reason an expert may not sit (回避), with what it concerns (a company, a score…)."""

    expert_id: str
    reason: AvoidanceReason
    detail: str


@dataclass(frozen=True)
class Avoidance:
    """The pool screened: eligible expert ids (sorted) and every exclusion with its reason."""

    eligible: tuple[str, ...]
    exclusions: tuple[Exclusion, ...]


def _exclusions(expert: Expert, request: DrawRequest) -> list[Exclusion]:
    reasons: list[tuple[AvoidanceReason, str]] = []
    if expert.employer in request.bidders:
        reasons.append((AvoidanceReason.EMPLOYED_BY_BIDDER, expert.employer))
    if expert.employer == request.tenderer:
        reasons.append((AvoidanceReason.EMPLOYED_BY_TENDERER, expert.employer))
    for company in sorted(set(expert.relations) & set(request.bidders)):
        reasons.append((AvoidanceReason.RELATED_TO_BIDDER, company))
    if expert.credit < request.min_credit:
        detail = f"{_decimal_text(expert.credit)} < {_decimal_text(request.min_credit)}"
        reasons.append((AvoidanceReason.CREDIT_BELOW_THRESHOLD, detail))
    if not expert.available:
        reasons.append((AvoidanceReason.UNAVAILABLE, ""))
    if request.avoid_tenderer_region and expert.region == request.tenderer_region:
        reasons.append((AvoidanceReason.TENDERER_REGION, expert.region))
    if expert.id in request.excluded:
        reasons.append((AvoidanceReason.EXCLUDED, ""))
    return [Exclusion(expert.id, reason, detail) for reason, detail in reasons]


def apply_avoidance(pool: ExpertPool, request: DrawRequest) -> Avoidance:
    """回避: screen every expert of the pool against the request, keeping every reason."""
    eligible, exclusions = [], []
    for expert in pool.experts:
        found = _exclusions(expert, request)
        exclusions.extend(found)
        if not found:
            eligible.append(expert.id)
    return Avoidance(tuple(eligible), tuple(exclusions))


# --- the draw -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seat:
    """One drawn expert, the slot they fill, and how many candidates they were drawn from."""

    expert_id: str
    specialty: str
    venue: str
    candidates: int


@dataclass(frozen=True)
class Replacement:
    """补抽: who withdrew and why, and who was drawn in their place."""

    withdrawn_expert_id: str
    replacement_expert_id: str
    reason: str


@dataclass(frozen=True)
class DrawResult:
    """抽取结果 with everything a verifier needs besides the pool, request and seed."""

    seed_commitment: str
    pool_digest: str
    request_digest: str
    seats: tuple[Seat, ...]  # slots in canonical order, picks in draw order
    exclusions: tuple[Exclusion, ...]
    replacements: tuple[Replacement, ...] = field(default=())

    @property
    def committee(self) -> tuple[str, ...]:
        return tuple(seat.expert_id for seat in self.seats)


def commit_seed(seed: bytes) -> str:
    """The commitment published before the draw: hex SHA-256 of the seed."""
    return hashlib.sha256(seed).hexdigest()


def _pick_index(seed: bytes, label: Sequence[object], n: int) -> int:
    """An unbiased index in [0, n) from HMAC-SHA256(seed, label) by rejection sampling."""
    limit = (1 << 256) - (1 << 256) % n
    attempt = 0
    while True:
        digest = hmac.new(seed, _canonical([*label, attempt]), hashlib.sha256).digest()
        x = int.from_bytes(digest, "big")
        if x < limit:
            return x % n
        attempt += 1


def _candidates(
    pool: ExpertPool, eligible: set[str], request: DrawRequest, slot: Slot, taken: set[str]
) -> list[str]:
    """Eligible experts fit for the slot and not yet taken, sorted by id."""
    region = request.venue_regions[slot.venue]
    return [
        e.id
        for e in pool.experts
        if e.id in eligible
        and e.id not in taken
        and slot.specialty in e.specialties
        and (not request.match_venue_region or e.region == region)
    ]


def _check_seed(seed: bytes) -> None:
    if len(seed) < MIN_SEED_BYTES:
        raise RuleError("weak_seed", f"a draw seed needs at least {MIN_SEED_BYTES} random bytes")


def _unfillable(
    needs: Mapping[Slot, int], fits: Mapping[Slot, list[str]], taken: set[str]
) -> Slot | None:
    """The first slot left short when every need is filled at once, or None if all can be.

    Bipartite matching of open seats to free experts (augmenting paths); seats and experts are
    tried in canonical order, so the slot named is deterministic.
    """
    seats = [slot for slot, n in needs.items() for _ in range(n)]
    holder: dict[str, int] = {}

    def seat_someone(seat: int, tried: set[str]) -> bool:
        for expert_id in fits[seats[seat]]:
            if expert_id in taken or expert_id in tried:
                continue
            tried.add(expert_id)
            if expert_id not in holder or seat_someone(holder[expert_id], tried):
                holder[expert_id] = seat
                return True
        return False

    return next((seats[i] for i in range(len(seats)) if not seat_someone(i, set())), None)


def _short(slot: Slot, fits: Mapping[Slot, list[str]]) -> RuleError:
    return RuleError(
        "not_enough_experts",
        f"slot {slot.specialty} at {slot.venue} needs {slot.count} experts, "
        f"{len(fits[slot])} eligible (experts fitting several slots sit in one only)",
    )


def _pick_safely(
    seed: bytes,
    label: list[object],
    candidates: list[str],
    needs: Mapping[Slot, int],
    fits: Mapping[Slot, list[str]],
    taken: set[str],
) -> str:
    """A uniform pick among the candidates whose choice leaves every open seat fillable.

    A pick that would leave a later seat empty is set aside and the draw goes on with the
    next ``k``; uniform picks with such refusals are uniform over the safe candidates.
    """
    remaining = list(candidates)
    k = 0
    while True:
        expert_id = remaining[_pick_index(seed, [*label, k], len(remaining))]
        if _unfillable(needs, fits, taken | {expert_id}) is None:
            return expert_id
        remaining.remove(expert_id)
        k += 1


def draw_experts(pool: ExpertPool, request: DrawRequest, seed: bytes) -> DrawResult:
    """抽取: the committee for ``request`` from ``pool``, fixed by ``seed`` and nothing else."""
    _check_seed(seed)
    avoidance = apply_avoidance(pool, request)
    eligible = set(avoidance.eligible)
    fits = {slot: _candidates(pool, eligible, request, slot, set()) for slot in request.slots}
    needs = {slot: slot.count for slot in request.slots}
    short = _unfillable(needs, fits, set())
    if short is not None:
        raise _short(short, fits)
    taken: set[str] = set()
    seats = []
    for slot in request.slots:
        for i in range(slot.count):
            needs[slot] -= 1
            candidates = [e for e in fits[slot] if e not in taken]
            label: list[object] = ["draw", slot.specialty, slot.venue, i]
            expert_id = _pick_safely(seed, label, candidates, needs, fits, taken)
            seats.append(Seat(expert_id, slot.specialty, slot.venue, len(candidates)))
            taken.add(expert_id)
    return DrawResult(
        commit_seed(seed),
        pool_digest(pool),
        request_digest(request),
        tuple(seats),
        avoidance.exclusions,
    )


def redraw(
    pool: ExpertPool,
    request: DrawRequest,
    seed: bytes,
    previous: DrawResult,
    withdrawn_expert_id: str,
    reason: str,
) -> DrawResult:
    """补抽: replace one drawn expert who declared a conflict; everyone else keeps their seat.

    The replacement comes from the same snapshot, request and seed (checked against the
    record), among eligible experts fit for the seat who are not in the committee and have
    not withdrawn before.
    """
    _check_same_draw(pool, request, seed, previous)
    if not reason.strip():
        raise RuleError("reason_required", "say why the expert withdraws")
    seat_index = next(
        (i for i, s in enumerate(previous.seats) if s.expert_id == withdrawn_expert_id), None
    )
    if seat_index is None:
        raise RuleError("not_in_committee", f"{withdrawn_expert_id} holds no seat")
    seat = previous.seats[seat_index]
    withdrawn = {r.withdrawn_expert_id for r in previous.replacements} | {withdrawn_expert_id}
    slot = Slot(seat.specialty, seat.venue, 1)
    eligible = set(apply_avoidance(pool, request).eligible) - withdrawn
    candidates = _candidates(pool, eligible, request, slot, set(previous.committee))
    if not candidates:
        raise RuleError(
            "not_enough_experts",
            f"slot {seat.specialty} at {seat.venue} needs 1 more expert, 0 eligible",
        )
    round_ = len(previous.replacements) + 1
    index = _pick_index(seed, ["redraw", round_, seat.specialty, seat.venue], len(candidates))
    seats = list(previous.seats)
    seats[seat_index] = replace(seat, expert_id=candidates[index], candidates=len(candidates))
    note = Exclusion(withdrawn_expert_id, AvoidanceReason.WITHDRAWN, reason)
    return replace(
        previous,
        seats=tuple(seats),
        exclusions=previous.exclusions + (note,),
        replacements=previous.replacements
        + (Replacement(withdrawn_expert_id, candidates[index], reason),),
    )


def _check_same_draw(
    pool: ExpertPool, request: DrawRequest, seed: bytes, record: DrawResult
) -> None:
    if commit_seed(seed) != record.seed_commitment:
        raise RuleError("seed_mismatch", "the seed does not match the published commitment")
    if pool_digest(pool) != record.pool_digest:
        raise RuleError("pool_mismatch", "the pool is not the snapshot the draw pinned")
    if request_digest(request) != record.request_digest:
        raise RuleError("request_mismatch", "the request is not the one the draw pinned")


def verify_draw(pool: ExpertPool, request: DrawRequest, seed: bytes, record: DrawResult) -> None:
    """Recompute a recorded draw from the revealed seed; raise ``draw_mismatch`` if it differs."""
    _check_same_draw(pool, request, seed, record)
    again = draw_experts(pool, request, seed)
    for r in record.replacements:
        again = redraw(pool, request, seed, again, r.withdrawn_expert_id, r.reason)
    if again != record:
        raise RuleError("draw_mismatch", "recomputing the draw gives a different committee")
