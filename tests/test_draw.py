"""Verifiable expert draw with avoidance (专家抽取 · 回避)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from evalroom.domain.draw import (
    AvoidanceReason,
    DrawRequest,
    Expert,
    ExpertPool,
    Slot,
    apply_avoidance,
    commit_seed,
    draw_experts,
    pool_digest,
    redraw,
    verify_draw,
)
from evalroom.domain.rules import RuleError

SEED = bytes(range(32))
OTHER_SEED = bytes(range(1, 33))
VENUES = {"main": "西安", "sub": "银川"}


def expert(
    id: str, region: str = "西安", specialties: tuple[str, ...] = ("土建",), **kw: Any
) -> Expert:
    fields: dict[str, Any] = {"employer": f"U-{id}", "credit": Decimal(90)}
    fields.update(kw)
    return Expert(id=id, name=f"专家{id}", specialties=specialties, region=region, **fields)


def pool_of(*experts: Expert) -> ExpertPool:
    return ExpertPool(experts)


def request(*slots: Slot, **kw: Any) -> DrawRequest:
    fields: dict[str, Any] = {
        "venue_regions": VENUES,
        "bidders": ("C-BID-1", "C-BID-2"),
        "tenderer": "C-OWNER",
        "tenderer_region": "兰州",
    }
    fields.update(kw)
    return DrawRequest(slots=slots or (Slot("土建", "main", 2),), **fields)


def big_pool() -> ExpertPool:
    """Ten 土建 experts in 西安, six 造价 in 银川, two in both specialties in 西安."""
    xian = [expert(f"X{i:02}") for i in range(10)]
    yinchuan = [expert(f"Y{i:02}", region="银川", specialties=("造价",)) for i in range(6)]
    both = [expert(f"Z{i:02}", specialties=("土建", "造价")) for i in range(2)]
    return pool_of(*xian, *yinchuan, *both)


TWO_VENUES = (Slot("土建", "main", 3), Slot("造价", "main", 1), Slot("造价", "sub", 2))


# --- determinism and verification -----------------------------------------------------------


def test_same_inputs_give_the_same_committee() -> None:
    first = draw_experts(big_pool(), request(*TWO_VENUES), SEED)
    again = draw_experts(big_pool(), request(*TWO_VENUES), SEED)
    assert first == again
    assert len(first.committee) == 6


def test_a_different_seed_gives_a_different_committee() -> None:
    first = draw_experts(big_pool(), request(*TWO_VENUES), SEED)
    other = draw_experts(big_pool(), request(*TWO_VENUES), OTHER_SEED)
    assert first.committee != other.committee


def test_commitment_is_the_sha256_of_the_seed() -> None:
    assert commit_seed(SEED) == hashlib.sha256(SEED).hexdigest()
    assert draw_experts(big_pool(), request(), SEED).seed_commitment == commit_seed(SEED)


def test_anyone_recomputes_the_draw_from_the_published_snapshot_and_revealed_seed() -> None:
    record = draw_experts(big_pool(), request(*TWO_VENUES), SEED)
    published_pool = json.loads(json.dumps(big_pool().to_dict(), ensure_ascii=False))
    published_request = json.loads(json.dumps(request(*TWO_VENUES).to_dict(), ensure_ascii=False))
    pool, req = ExpertPool.from_dict(published_pool), DrawRequest.from_dict(published_request)
    assert commit_seed(SEED) == record.seed_commitment
    assert pool_digest(pool) == record.pool_digest
    verify_draw(pool, req, SEED, record)


def test_verification_refuses_a_wrong_seed_a_changed_pool_or_a_forged_seat() -> None:
    record = draw_experts(big_pool(), request(*TWO_VENUES), SEED)
    with pytest.raises(RuleError) as e:
        verify_draw(big_pool(), request(*TWO_VENUES), OTHER_SEED, record)
    assert e.value.code == "seed_mismatch"
    fewer = pool_of(*big_pool().experts[1:])
    with pytest.raises(RuleError) as e:
        verify_draw(fewer, request(*TWO_VENUES), SEED, record)
    assert e.value.code == "pool_mismatch"
    fits = [x.id for x in big_pool().experts if x.region == "西安" and "土建" in x.specialties]
    unpicked = next(x for x in fits if x not in record.committee)
    forged_seats = (replace(record.seats[0], expert_id=unpicked), *record.seats[1:])
    forged = replace(record, seats=forged_seats)
    with pytest.raises(RuleError) as e:
        verify_draw(big_pool(), request(*TWO_VENUES), SEED, forged)
    assert e.value.code == "draw_mismatch"


def test_pool_digest_is_canonical_json_whatever_the_order() -> None:
    pool = big_pool()
    shuffled = pool_of(*reversed(pool.experts))
    assert pool_digest(shuffled) == pool_digest(pool)
    text = json.dumps(pool.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert pool_digest(pool) == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert '"credit":"90"' in text and "专家X00" in text


def test_short_seed_refused() -> None:
    with pytest.raises(RuleError) as e:
        draw_experts(big_pool(), request(), b"short")
    assert e.value.code == "weak_seed"


# --- avoidance (回避) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidate", "req", "reason"),
    [
        (expert("A", employer="C-BID-2"), {}, AvoidanceReason.EMPLOYED_BY_BIDDER),
        (expert("A", employer="C-OWNER"), {}, AvoidanceReason.EMPLOYED_BY_TENDERER),
        (expert("A", relations=("C-BID-1",)), {}, AvoidanceReason.RELATED_TO_BIDDER),
        (
            expert("A", credit=Decimal("59.5")),
            {"min_credit": Decimal(60)},
            AvoidanceReason.CREDIT_BELOW_THRESHOLD,
        ),
        (expert("A", available=False), {}, AvoidanceReason.UNAVAILABLE),
        (
            expert("A", region="兰州"),
            {"avoid_tenderer_region": True},
            AvoidanceReason.TENDERER_REGION,
        ),
        (expert("A"), {"excluded": ("A",)}, AvoidanceReason.EXCLUDED),
    ],
)
def test_each_avoidance_reason_excludes_the_expert(
    candidate: Expert, req: dict[str, Any], reason: AvoidanceReason
) -> None:
    pool = pool_of(candidate, expert("B"), expert("C"), expert("D"))
    screened = apply_avoidance(pool, request(**req))
    assert "A" not in screened.eligible
    assert [(x.expert_id, x.reason) for x in screened.exclusions] == [("A", reason)]
    for seed in (SEED, OTHER_SEED, bytes(32), bytes([7]) * 32):
        assert (
            "A" not in draw_experts(pool, request(Slot("土建", "main", 3), **req), seed).committee
        )


def test_exclusions_keep_every_reason_with_its_detail() -> None:
    pool = pool_of(expert("A", employer="C-BID-1", relations=("C-BID-2",), available=False))
    screened = apply_avoidance(pool, request())
    assert [(x.reason, x.detail) for x in screened.exclusions] == [
        (AvoidanceReason.EMPLOYED_BY_BIDDER, "C-BID-1"),
        (AvoidanceReason.RELATED_TO_BIDDER, "C-BID-2"),
        (AvoidanceReason.UNAVAILABLE, ""),
    ]


def test_credit_exactly_at_the_threshold_is_eligible() -> None:
    pool = pool_of(expert("A", credit=Decimal(60)))
    assert apply_avoidance(pool, request(min_credit=Decimal(60))).eligible == ("A",)


def test_tenderer_region_is_avoided_only_when_required() -> None:
    venues = {"main": "兰州"}
    pool = pool_of(expert("A", region="兰州"), expert("B", region="兰州"))
    slot = Slot("土建", "main", 2)
    kept = draw_experts(
        pool, request(slot, venue_regions=venues, avoid_tenderer_region=False), SEED
    )
    assert sorted(kept.committee) == ["A", "B"]
    with pytest.raises(RuleError) as e:
        draw_experts(pool, request(slot, venue_regions=venues, avoid_tenderer_region=True), SEED)
    assert e.value.code == "not_enough_experts"


# --- seats ----------------------------------------------------------------------------------


def test_experts_sit_in_the_venue_of_their_own_region() -> None:
    pool = big_pool()
    for seed in (SEED, OTHER_SEED, bytes(32)):
        record = draw_experts(pool, request(*TWO_VENUES), seed)
        regions = {x.id: x.region for x in pool.experts}
        assert all(regions[s.expert_id] == VENUES[s.venue] for s in record.seats)


def test_without_region_matching_any_venue_takes_any_region() -> None:
    pool = pool_of(*(expert(f"X{i}", region="西安") for i in range(3)))
    slot = Slot("土建", "sub", 2)  # 银川 venue, only 西安 experts
    with pytest.raises(RuleError):
        draw_experts(pool, request(slot), SEED)
    assert len(draw_experts(pool, request(slot, match_venue_region=False), SEED).committee) == 2


def test_no_expert_is_drawn_twice_across_slots() -> None:
    # Z00, Z01 hold both specialties and can fill either 西安 slot.
    pool = pool_of(
        expert("X0"),
        expert("X1"),
        *(expert(f"Z{i}", specialties=("土建", "造价")) for i in range(2)),
    )
    req = request(Slot("土建", "main", 2), Slot("造价", "main", 1))
    for i in range(200):
        committee = draw_experts(pool, req, hashlib.sha256(bytes([i])).digest()).committee
        assert len(set(committee)) == len(committee) == 3


def test_slots_that_fit_alone_but_not_together_are_refused_before_any_pick() -> None:
    # Z0 is the only candidate of both slots; each slot alone could be filled.
    pool = pool_of(expert("Z0", specialties=("土建", "造价")))
    with pytest.raises(RuleError) as e:
        draw_experts(pool, request(Slot("土建", "main", 1), Slot("造价", "main", 1)), SEED)
    assert e.value.code == "not_enough_experts"
    assert "造价 at main needs 1 experts, 1 eligible" in e.value.message


def test_a_slot_that_cannot_be_filled_is_refused_with_its_count() -> None:
    pool = pool_of(expert("A"), expert("B", employer="C-BID-1"), expert("C"))
    with pytest.raises(RuleError) as e:
        draw_experts(pool, request(Slot("土建", "main", 3)), SEED)
    assert e.value.code == "not_enough_experts"
    assert (
        "土建" in e.value.message and "main" in e.value.message and "2 eligible" in e.value.message
    )


# --- redraw (补抽) ---------------------------------------------------------------------------


def test_redraw_replaces_only_the_withdrawn_expert() -> None:
    pool, req = big_pool(), request(*TWO_VENUES)
    first = draw_experts(pool, req, SEED)
    gone = first.seats[1]
    after = redraw(pool, req, SEED, first, gone.expert_id, "declared a relation to C-BID-1")
    changed = [i for i, (a, b) in enumerate(zip(first.seats, after.seats, strict=True)) if a != b]
    assert changed == [1]
    new = after.seats[1]
    assert (new.specialty, new.venue) == (gone.specialty, gone.venue)
    assert new.expert_id not in first.committee
    assert new.expert_id in apply_avoidance(pool, req).eligible
    assert after.exclusions[-1].expert_id == gone.expert_id
    assert after.exclusions[-1].reason is AvoidanceReason.WITHDRAWN


def test_redraw_is_reproducible_and_verifiable() -> None:
    pool, req = big_pool(), request(*TWO_VENUES)
    first = draw_experts(pool, req, SEED)
    once = redraw(pool, req, SEED, first, first.seats[0].expert_id, "conflict")
    twice = redraw(pool, req, SEED, once, once.seats[0].expert_id, "unreachable by phone")
    assert twice == redraw(
        pool, req, SEED, redraw(pool, req, SEED, first, first.seats[0].expert_id, "conflict"),
        once.seats[0].expert_id, "unreachable by phone",
    )  # fmt: skip
    verify_draw(pool, req, SEED, twice)
    withdrawn = {first.seats[0].expert_id, once.seats[0].expert_id}
    assert not withdrawn & set(twice.committee)


def test_redraw_refuses_an_expert_outside_the_committee_or_without_a_reason() -> None:
    pool, req = big_pool(), request(*TWO_VENUES)
    first = draw_experts(pool, req, SEED)
    outsider = next(x.id for x in pool.experts if x.id not in first.committee)
    with pytest.raises(RuleError) as e:
        redraw(pool, req, SEED, first, outsider, "conflict")
    assert e.value.code == "not_in_committee"
    with pytest.raises(RuleError) as e:
        redraw(pool, req, SEED, first, first.seats[0].expert_id, "  ")
    assert e.value.code == "reason_required"


def test_redraw_refuses_when_no_one_is_left_for_the_seat() -> None:
    pool = pool_of(expert("A"), expert("B"))
    req = request(Slot("土建", "main", 2))
    first = draw_experts(pool, req, SEED)
    with pytest.raises(RuleError) as e:
        redraw(pool, req, SEED, first, "A", "conflict")
    assert e.value.code == "not_enough_experts"


# --- distribution ---------------------------------------------------------------------------


def test_every_eligible_expert_gets_drawn_over_many_seeds() -> None:
    eligible = [expert(f"X{i}") for i in range(6)]
    ineligible = [expert("N1", employer="C-BID-1"), expert("N2", available=False)]
    pool, req = pool_of(*eligible, *ineligible), request(Slot("土建", "main", 2))
    picks: Counter[str] = Counter()
    for i in range(2000):
        picks.update(
            draw_experts(pool, req, hashlib.sha256(i.to_bytes(4, "big")).digest()).committee
        )
    assert set(picks) == {x.id for x in eligible}
    # expected 2000 x 2 / 6 = 666.7 each; a fair draw stays well within these loose bounds
    assert all(500 < n < 850 for n in picks.values())
