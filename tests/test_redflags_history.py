"""Red flags across tenders and on experts (evalroom.domain.redflags.history / .experts): the
fences, each flag on constructed histories, Krippendorff's alpha against the published worked
example, and the history read from PostgreSQL (both backends) agreeing with the pure flags."""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import subprocess
import sys
from collections.abc import Sequence

import asyncpg
import numpy
import pytest

from evalroom.domain.redflags.experts import (
    ExpertThresholds,
    ScoredSession,
    agreement_alpha,
    credit_view,
    expert_signals,
    sign_test,
)
from evalroom.domain.redflags.history import (
    HistoryTender,
    HistoryThresholds,
    aggregate,
    cobidding_signals,
    fence,
    histogram,
    never_wins_signals,
    quantile,
    rotation_groups,
    rotation_signals,
)
from evalroom.domain.rules import RuleError
from evalroom.services.redflag_history import credit_view as live_credit_view
from evalroom.services.redflag_history import expert_signals as live_expert_signals
from evalroom.services.redflag_history import history_signals

# --- quartiles and fences -------------------------------------------------------------------


def test_quantile_is_hyndman_fan_type_8_worked_by_hand() -> None:
    # n = 4: h = (4 + 1/3)·0.25 + 1/3 = 17/12 -> x1 + 5/12 (x2 - x1); h(0.75) = 43/12.
    hist = histogram([1.0, 2.0, 3.0, 4.0])
    assert quantile(hist, 0.25) == pytest.approx(17 / 12)
    assert quantile(hist, 0.75) == pytest.approx(43 / 12)
    assert quantile(hist, 0.0) == 1.0 and quantile(hist, 1.0) == 4.0


def test_quantile_agrees_with_numpys_median_unbiased_on_random_histograms() -> None:
    rng = random.Random(7)
    for _ in range(200):
        values = [float(rng.randint(0, 9)) for _ in range(rng.randint(1, 60))]
        for tau in (0.1, 0.25, 0.5, 0.75, 0.9):
            expected = float(numpy.quantile(values, tau, method="median_unbiased"))
            assert quantile(histogram(values), tau) == pytest.approx(expected)


def test_a_history_smaller_than_the_minimum_has_no_fence_and_raises_no_flag() -> None:
    assert fence(histogram([1.0] * 19), min_values=20) is None
    assert fence(histogram([1.0] * 20), min_values=20) is not None
    history = [HistoryTender(f"t{i}/1", frozenset({"A", "B"}), "A") for i in range(10)]
    agg = aggregate(history)
    t = HistoryThresholds()
    assert cobidding_signals(agg, t) == []
    assert never_wins_signals(agg, t) == []
    assert rotation_groups(agg, t) == []


def test_the_fences_are_tukeys_with_k() -> None:
    f = fence(histogram([float(v) for v in range(1, 21)]), k=1.5, min_values=20)
    assert f is not None
    assert f.q1 == pytest.approx(quantile(histogram(range(1, 21)), 0.25))
    assert f.upper == pytest.approx(f.q3 + 1.5 * (f.q3 - f.q1))
    assert f.lower == pytest.approx(f.q1 - 1.5 * (f.q3 - f.q1))


def _background(n: int, seed: int = 1) -> list[HistoryTender]:
    """n competitive lots: 4 bidders out of 40, the winner at random."""
    rng = random.Random(seed)
    companies = [f"c{i:02d}" for i in range(40)]
    out = []
    for i in range(n):
        bidders = rng.sample(companies, 4)
        out.append(HistoryTender(f"bg{i:04d}/1", frozenset(bidders), rng.choice(bidders)))
    return out


# --- the three flags ------------------------------------------------------------------------


def test_a_pair_that_keeps_bidding_together_is_flagged_and_the_background_is_not() -> None:
    history = _background(300) + [
        HistoryTender(f"p{i}/1", frozenset({"X", "Y", f"c{i % 40:02d}"}), f"c{i % 40:02d}")
        for i in range(12)
    ]
    signals = cobidding_signals(aggregate(history), HistoryThresholds())
    assert [s.evidence.bids for s in signals] == [("X", "Y")]
    s = signals[0]
    assert s.code == "history.cobidding"
    assert s.evidence.figures["together"] == "12" and s.evidence.figures["share"] == "1"
    assert "12" in s.message_zh and "12" in s.message_en
    assert float(s.threshold["upper_fence"]) <= 12


def test_a_pair_exactly_at_the_fence_is_flagged_and_one_below_is_not() -> None:
    # 30 pairs bid together once, 10 twice (the background); the upper fence is then an
    # integer: Q1 = Q3 = 1 -> fence 1; with 16 twice Q3 = 2 -> fence 3.5; choose counts so
    # that the fence lands on a whole number and a pair sits exactly on it.
    base = [HistoryTender(f"s{i}/1", frozenset({f"a{i}", f"b{i}"}), f"a{i}") for i in range(30)]
    t = HistoryThresholds(cobid_min=2, cobid_min_share=0.1)
    for together in (2, 1):
        history = base + [
            HistoryTender(f"x{i}/1", frozenset({"X", "Y"}), "X") for i in range(together)
        ]
        agg = aggregate(history)
        f = fence(agg.together_hist, t.fence_k, t.fence_min_values)
        assert f is not None and f.upper == 1.0  # Q1 = Q3 = 1: the fence is 1
        flagged = [s.evidence.bids for s in cobidding_signals(agg, t)]
        # Exactly at the fence counts (cardinal-rs: "greater than or equal to"); the floor
        # cobid_min = 2 is what keeps the single co-bids out.
        assert flagged == ([("X", "Y")] if together >= 2 else [])


def test_a_pair_above_the_fence_but_below_the_share_is_not_flagged() -> None:
    history = _background(300) + [
        HistoryTender(f"p{i}/1", frozenset({"X", "Y"}), "X") for i in range(12)
    ]
    # X and Y each bid in 40 more lots without the other: together 12 of 52 bids, 23 %.
    history += [HistoryTender(f"x{i}/1", frozenset({"X", f"z{i}"}), "X") for i in range(40)]
    history += [HistoryTender(f"y{i}/1", frozenset({"Y", f"z{i}"}), "Y") for i in range(40)]
    assert cobidding_signals(aggregate(history), HistoryThresholds()) == []
    flagged = cobidding_signals(aggregate(history), HistoryThresholds(cobid_min_share=0.2))
    assert ("X", "Y") in [s.evidence.bids for s in flagged]


def _rotation(members: Sequence[str], lots: int) -> list[HistoryTender]:
    return [
        HistoryTender(f"r{i:03d}/1", frozenset(members), members[i % len(members)])
        for i in range(lots)
    ]


def test_a_group_taking_turns_to_win_is_flagged_as_rotation() -> None:
    history = _background(400) + _rotation(["R1", "R2", "R3"], 15)
    agg = aggregate(history)
    t = HistoryThresholds()
    assert rotation_groups(agg, t) == [["R1", "R2", "R3"]]
    lots = {("R1", "R2", "R3"): [h for h in history if h.unit.startswith("r")]}
    (s,) = rotation_signals(agg, lots, t)
    assert s.code == "history.rotation"
    assert s.evidence.bids == ("R1", "R2", "R3")
    assert s.evidence.figures["lots"] == "15" and s.evidence.figures["wins.R2"] == "5"


def test_a_group_where_one_always_wins_is_not_a_rotation() -> None:
    history = _background(400) + [
        HistoryTender(f"r{i}/1", frozenset({"R1", "R2", "R3"}), "R1") for i in range(15)
    ]
    assert rotation_groups(aggregate(history), HistoryThresholds()) == []


def test_a_bidder_that_bids_often_and_never_wins_is_flagged() -> None:
    history = _background(300)
    history += [
        HistoryTender(f"n{i}/1", frozenset({"N", f"c{i % 40:02d}"}), f"c{i % 40:02d}")
        for i in range(60)
    ]
    signals = never_wins_signals(aggregate(history), HistoryThresholds())
    assert [s.evidence.bids for s in signals] == [("N",)]
    assert signals[0].evidence.figures["decided_bids"] == "60"
    # One win and it is no longer "never".
    history.append(HistoryTender("w/1", frozenset({"N", "c01"}), "N"))
    assert never_wins_signals(aggregate(history), HistoryThresholds()) == []


def test_undecided_lots_do_not_count_as_losses() -> None:
    history = _background(300) + [
        HistoryTender(f"n{i}/1", frozenset({"N", "c01"}), None) for i in range(60)
    ]
    assert never_wins_signals(aggregate(history), HistoryThresholds()) == []


def test_history_thresholds_refuse_what_they_do_not_understand() -> None:
    assert HistoryThresholds.from_dict({"cobid_min": 4}).cobid_min == 4
    for bad in ({"nope": 1}, {"cobid_min": 1}, {"cobid_min": 2.5}, {"fence_k": 0}, {"x": True}):
        with pytest.raises(RuleError) as e:
            HistoryThresholds.from_dict(bad)
        assert e.value.code == "invalid_config"


# --- experts --------------------------------------------------------------------------------

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers,
# 12 units, missing values; published alpha: interval 0.849 (nominal 0.743).
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def test_krippendorffs_alpha_matches_the_published_worked_example() -> None:
    alpha = agreement_alpha(KRIPPENDORFF_2011)
    assert alpha is not None and round(alpha, 3) == 0.849


def test_krippendorffs_alpha_is_one_for_perfect_agreement_and_undefined_without_variation() -> None:
    assert agreement_alpha([[1, 2, 3, 4], [1, 2, 3, 4]]) == pytest.approx(1.0)
    assert agreement_alpha([[3, 3, 3], [3, 3, 3]]) is None
    assert agreement_alpha([[1, None], [None, 2]]) is None


def test_the_sign_test_is_exact() -> None:
    assert sign_test(5, 0) == 1 / 32
    assert sign_test(4, 1) == 6 / 32
    assert sign_test(0, 0) == 1.0


def _sessions(
    n: int, rng: random.Random, favour: str | None = None, noisy: str | None = None
) -> list[ScoredSession]:
    """n sessions of 5 of 30 experts scoring 4 bids of 4 of 12 companies; the bid's quality
    plus a little noise. ``favour`` (an expert) adds 6 to company K's bid whenever both
    meet; ``noisy`` scores at random."""
    experts = [f"e{i:02d}" for i in range(30)]
    companies = [f"k{i:02d}" for i in range(12)]
    out = []
    for i in range(n):
        committee = rng.sample(experts, 5)
        if favour and i % 3 == 0 and favour not in committee:
            committee[0] = favour
        if noisy and i % 3 == 1 and noisy not in committee:
            committee[0] = noisy
        bidders = rng.sample(companies, 3) + ["K"]
        quality = {f"b{j}": rng.uniform(60, 95) for j in range(4)}
        totals = {}
        for e in committee:
            row = {}
            for j, b in enumerate(quality):
                score = quality[b] + rng.gauss(0, 1.5)
                if e == noisy:
                    score = rng.uniform(60, 95)
                if e == favour and bidders[j] == "K":
                    score += 6
                row[b] = score
            totals[e] = row
        deviations = ()
        if e := next((x for x in committee if x == noisy), None):
            deviations = ((e, "b0", "c1"),)
        out.append(
            ScoredSession(
                f"session:{i:03d}",
                tuple(committee),
                {b: bidders[j] for j, b in enumerate(quality)},
                totals,
                deviations,
            )
        )
    return out


def test_an_expert_consistently_above_the_committee_for_one_company_is_flagged() -> None:
    sessions = _sessions(120, random.Random(3), favour="e07")
    signals = [s for s in expert_signals(sessions) if s.code == "expert.favour"]
    assert [s.evidence.bids for s in signals] == [("e07", "K")]
    assert float(signals[0].evidence.figures["p_value"]) <= 0.05


def test_favour_for_a_group_needs_the_companies_group() -> None:
    sessions = _sessions(120, random.Random(3), favour="e07")
    groups = {"K": "兰州", "k01": "兰州"}
    codes = {(s.code, s.evidence.bids) for s in expert_signals(sessions, groups=groups)}
    assert ("expert.favour_group", ("e07", "兰州")) in codes


def test_an_expert_who_scores_at_random_has_low_agreement_and_frequent_deviations() -> None:
    sessions = _sessions(150, random.Random(5), noisy="e11")
    signals = expert_signals(sessions)
    flagged = {(s.code, s.evidence.bids[0]) for s in signals}
    assert ("expert.low_agreement", "e11") in flagged
    assert ("expert.deviation_frequent", "e11") in flagged
    assert not any(e != "e11" for code, e in flagged if code != "expert.favour")
    view = {row["expert"]: row for row in credit_view(sessions)}
    assert float(view["e11"]["agreement_alpha"]) < 0.667
    assert float(view["e01"]["agreement_alpha"]) > 0.9
    assert "expert.low_agreement" in view["e11"]["flags"]


def test_few_sessions_raise_no_expert_flag() -> None:
    sessions = _sessions(8, random.Random(5), noisy="e11")
    assert expert_signals(sessions) == []


def test_expert_thresholds_refuse_what_they_do_not_understand() -> None:
    for bad in ({"favour_alpha": 0}, {"min_sessions": 0}, {"zzz": 1}):
        with pytest.raises(RuleError):
            ExpertThresholds.from_dict(bad)


# --- from PostgreSQL ------------------------------------------------------------------------


async def _load(pool: asyncpg.Pool, history: Sequence[HistoryTender]) -> None:
    """The history as the platform stores it: a tender stream with its signed opening record
    (plus another event), and for a decided lot a session stream with its award notice."""
    leaf = bytes(32)
    for i, lot in enumerate(history):
        tender = lot.unit.split("/")[0]
        bids = [
            {"number": f"{j:03d}", "section": "1", "org": org, "status": "decrypted"}
            for j, org in enumerate(sorted(lot.bidders))
        ]
        bids.append({"number": "999", "section": "1", "org": "W", "status": "withdrawn"})
        await pool.execute(
            "INSERT INTO streams (name, kind, head) VALUES ($1, 'tender', 2)", tender
        )
        await pool.execute(
            "INSERT INTO events (stream, seq, type, at, payload, visibility, leaf_hash) VALUES"
            " ($1, 1, 'tender.notice', now(), '{}', 'public', $2),"
            " ($1, 2, 'opening.record', now(), $3::text::jsonb, 'public', $2)",
            tender,
            leaf,
            json.dumps({"stage": "single" if i else "technical", "bids": bids}),
        )
        if i == 0:  # a two-envelope tender: its commercial record names the companies again
            await pool.execute(
                "INSERT INTO events (stream, seq, type, at, payload, visibility, leaf_hash)"
                " VALUES ($1, 3, 'opening.record', now(), $2::text::jsonb, 'public', $3)",
                tender,
                json.dumps({"stage": "commercial", "bids": bids}),
                leaf,
            )
        if lot.winner is not None:
            session = f"session:{i}"
            await pool.execute(
                "INSERT INTO streams (name, kind, parent, head, state) VALUES"
                " ($1, 'session', $2, 1, $3::text::jsonb)",
                session,
                tender,
                json.dumps({"tender": tender, "section": "1", "phase": "closed"}),
            )
            await pool.execute(
                "INSERT INTO events (stream, seq, type, at, payload, visibility, leaf_hash)"
                " VALUES ($1, 1, 'award.notice', now(), $2::text::jsonb, 'public', $3)",
                session,
                json.dumps({"winner": {"bid_id": "000", "company": lot.winner}}),
                leaf,
            )


async def test_history_signals_from_postgresql_equal_the_pure_flags(
    any_pg_pool: asyncpg.Pool,
) -> None:
    history = [
        HistoryTender(f"tender:{h.unit}", h.bidders, h.winner)
        for h in _background(120)
        + _rotation(["R1", "R2", "R3"], 12)
        + [
            HistoryTender(f"n{i}/1", frozenset({"N", f"c{i % 40:02d}"}), f"c{i % 40:02d}")
            for i in range(40)
        ]
    ]
    await _load(any_pg_pool, history)
    t = HistoryThresholds()
    async with any_pg_pool.acquire() as conn:
        live = await history_signals(conn, t)
        mine = await history_signals(conn, t, companies={"N"})
    agg = aggregate(history)
    lots = {
        tuple(g): [h for h in history if len(h.bidders & set(g)) >= 2]
        for g in rotation_groups(agg, t)
    }
    expected = [
        *cobidding_signals(agg, t),
        *rotation_signals(agg, lots, t),
        *never_wins_signals(agg, t),
    ]
    assert [s.to_dict() for s in live] == [s.to_dict() for s in expected]
    codes = {s.code for s in live}
    assert {"history.rotation", "history.never_wins"} <= codes
    assert mine and all("N" in s.evidence.bids for s in mine)
    # The withdrawn bidder is no bidder.
    assert not any("W" in s.evidence.bids for s in live)


async def test_the_history_indexes_exist_and_an_empty_history_raises_nothing(
    any_pg_pool: asyncpg.Pool,
) -> None:
    names = {r["indexname"] for r in await any_pg_pool.fetch("SELECT indexname FROM pg_indexes")}
    assert {"events_opening_records", "events_award_notices", "streams_sessions"} <= names
    async with any_pg_pool.acquire() as conn:
        assert await history_signals(conn) == []
        assert await live_expert_signals(conn) == []


async def test_expert_signals_read_the_sessions_scores_from_postgresql(
    any_pg_pool: asyncpg.Pool,
) -> None:
    sessions = _sessions(150, random.Random(5), noisy="e11")
    for s in sessions:
        state = {
            "phase": "closed",
            "tender": "tender:x",
            "committee": {e: {"name": e} for e in s.committee},
            "bids": [{"bid_id": b, "company": c} for b, c in s.companies.items()],
            "scores": {
                e: {b: {"c1": str(round(v, 2))} for b, v in row.items()}
                for e, row in s.totals.items()
            },
            "deviations": [{"expert": e, "bid": b, "criterion": c} for e, b, c in s.deviations],
        }
        await any_pg_pool.execute(
            "INSERT INTO streams (name, kind, state) VALUES ($1, 'session', $2::text::jsonb)",
            s.session,
            json.dumps(state),
        )
    async with any_pg_pool.acquire() as conn:
        live = await live_expert_signals(conn)
        only = await live_expert_signals(conn, experts={"e11"})
    rounded = [
        ScoredSession(
            s.session,
            s.committee,
            s.companies,
            {e: {b: float(round(v, 2)) for b, v in row.items()} for e, row in s.totals.items()},
            s.deviations,
        )
        for s in sessions
    ]
    assert [x.to_dict() for x in live] == [x.to_dict() for x in expert_signals(rounded)]
    assert only and all(x.evidence.bids[0] == "e11" for x in only)
    assert math.isfinite(float(only[0].evidence.figures.get("rate", "0")))


async def test_the_credit_view_lists_every_pool_expert_with_the_red_flag_figures(
    any_pg_database: str, any_pg_pool: asyncpg.Pool
) -> None:
    sessions = _sessions(150, random.Random(5), noisy="e11")
    for s in sessions:
        state = {
            "phase": "closed",
            "committee": {e: {} for e in s.committee},
            "bids": [{"bid_id": b, "company": c} for b, c in s.companies.items()],
            "scores": {
                e: {b: {"c1": str(round(v, 2))} for b, v in row.items()}
                for e, row in s.totals.items()
            },
            "deviations": [{"expert": e, "bid": b, "criterion": c} for e, b, c in s.deviations],
        }
        await any_pg_pool.execute(
            "INSERT INTO streams (name, kind, state) VALUES ($1, 'session', $2::text::jsonb)",
            s.session,
            json.dumps(state),
        )
    for expert in ("e01", "e11", "new"):
        await any_pg_pool.execute(
            "INSERT INTO users (id, name, signing_key) VALUES ($1, $1, 'ed25519:x')", expert
        )
        await any_pg_pool.execute(
            "INSERT INTO experts (user_id, name, specialties, region, employer, credit)"
            " VALUES ($1, $1, '{土建}', '兰州', 'X', 80)",
            expert,
        )
    rows = {r["expert"]: r for r in await live_credit_view(any_pg_pool)}
    assert list(rows) == ["e01", "e11", "new"]
    assert rows["e11"]["credit"] == "80.00"
    assert float(rows["e11"]["agreement_alpha"]) < 0.667
    assert "expert.low_agreement" in rows["e11"]["flags"]
    assert float(rows["e11"]["deviation_rate"]) > float(rows["e01"]["deviation_rate"])
    assert rows["new"]["sessions"] == 0 and rows["new"]["agreement_alpha"] == "n/a"
    # The admin CLI shows the same rows.
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "evalroom", "admin", "pool", "credit-view", "--json"],
        env={**os.environ, "DATABASE_URL": any_pg_database},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert json.loads(done.stdout) == list(rows.values())


def test_a_credit_lowered_after_the_flags_excludes_the_expert_verifiably() -> None:
    """The credit threshold of the draw rule (min_credit) screens an expert whose credit an
    administrator lowered after the credit view's flags; the exclusion is in the record, the
    verifier agrees, and a pool with the credit put back is not the snapshot the draw pinned."""
    from dataclasses import replace
    from decimal import Decimal

    from evalroom.domain.draw import (
        AvoidanceReason,
        DrawRequest,
        Expert,
        ExpertPool,
        Slot,
        draw_experts,
        verify_draw,
    )

    def pool(credit_e11: Decimal) -> ExpertPool:
        return ExpertPool(
            tuple(
                Expert(
                    id=e,
                    name=e,
                    specialties=("土建",),
                    region="西安",
                    employer=f"U-{e}",
                    credit=credit_e11 if e == "e11" else Decimal(90),
                )
                for e in ("e01", "e02", "e03", "e04", "e05", "e11")
            )
        )

    request = DrawRequest(
        slots=(Slot("土建", "main", 5),),
        venue_regions={"main": "西安"},
        bidders=("K",),
        tenderer="T",
        tenderer_region="兰州",
        min_credit=Decimal(60),
    )
    seed = bytes(range(32))
    lowered = pool(Decimal(55))
    record = draw_experts(lowered, request, seed)
    assert "e11" not in record.committee
    assert [(x.expert_id, x.reason, x.detail) for x in record.exclusions] == [
        ("e11", AvoidanceReason.CREDIT_BELOW_THRESHOLD, "55 < 60")
    ]
    verify_draw(lowered, request, seed, record)
    with pytest.raises(RuleError) as e:
        verify_draw(pool(Decimal(90)), request, seed, record)
    assert e.value.code == "pool_mismatch"
    assert replace(request, min_credit=Decimal(0)) != request
