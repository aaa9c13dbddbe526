"""Price red flags (evalroom.domain.redflags): screens, rule checks, thresholds, simulator."""

from __future__ import annotations

import importlib.util
import json
import math
import random
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest

from evalroom.domain.redflags import (
    SCREEN_DIRECTIONS,
    SCREEN_NAMES,
    PricedBid,
    Signal,
    Thresholds,
    classify,
    compute_screens,
    price_signals,
    rules,
)
from evalroom.domain.redflags.screens import (
    coefficient_of_variation,
    diffp,
    ks_uniform,
    kurtosis,
    rd,
    rdnor,
    skewness,
    spd,
)
from evalroom.domain.rules import RuleError

ROOT = Path(__file__).resolve().parent.parent
T = Thresholds()


def bids(*prices: str, out: Sequence[int] = ()) -> list[PricedBid]:
    return [PricedBid(f"B{i}", Decimal(p), disqualified=i in out) for i, p in enumerate(prices, 1)]


def codes(signals: Sequence[Signal]) -> list[str]:
    return [s.code for s in signals]


# --- screens: known answers worked by hand --------------------------------------------------


def test_screens_of_evenly_spaced_bids_match_hand_values() -> None:
    # 100..140 step 10: mean 120, sample variance 250; losing bids 110..140: variance 500/3.
    s = compute_screens([140, 100, 120, 110, 130])
    assert s.n == 5
    assert s.cv == pytest.approx(math.sqrt(250) / 120)
    assert s.kurtosis == pytest.approx(-1.2)  # 30/24 · 5.44 − 48/6
    assert s.skewness == pytest.approx(0.0, abs=1e-12)
    assert s.diffp == pytest.approx(0.1)
    assert s.spd == pytest.approx(0.4)
    assert s.rd == pytest.approx(10 / math.sqrt(500 / 3))
    assert s.rdnor == pytest.approx(1.0)
    assert s.ks == pytest.approx(0.2)


def test_screens_of_a_low_outlier_match_hand_values() -> None:
    # 80, 100, 100, 100: mean 95, s = 10, z = −1.5, 0.5, 0.5, 0.5.
    s = compute_screens([100, 80, 100, 100])
    assert s.cv == pytest.approx(10 / 95)
    assert s.skewness == pytest.approx(-2.0)  # 4/6 · (−3.375 + 0.375)
    assert s.kurtosis == pytest.approx(4.0)  # 20/6 · 5.25 − 27/2
    assert s.diffp == pytest.approx(0.25)
    assert s.spd == pytest.approx(0.25)
    assert s.rd is None  # the losing bids are all equal: no spread to measure the gap by
    assert s.rdnor == pytest.approx(3.0)  # the maximum, n − 1
    assert s.ks == pytest.approx(0.75)  # F jumps to 1 at the second bid: 1 − 1/4


def test_rd_divides_the_gap_by_the_losing_bids_sample_sd() -> None:
    assert rd([100, 110, 112, 114]) == pytest.approx(5.0)  # sd(110, 112, 114) = 2
    assert rdnor([100, 110, 112, 114]) == pytest.approx(3 * 10 / 14)


def test_ks_is_the_largest_gap_between_the_empirical_and_uniform_cdf() -> None:
    # F(b) = 0, .1, .9, 1 against steps .25, .5, .75, 1: both sides peak at 0.4.
    assert ks_uniform([0, 1, 9, 10]) == pytest.approx(0.4)
    assert ks_uniform([1, 2]) == pytest.approx(0.5)


def test_screens_are_undefined_below_their_minimum_bids() -> None:
    one = compute_screens([100])
    assert all(one.value(name) is None for name in SCREEN_NAMES)
    two = compute_screens([100, 105])
    assert two.cv is not None and two.diffp == pytest.approx(0.05) and two.spd is not None
    assert two.skewness is None and two.kurtosis is None and two.rd is None and two.rdnor is None
    three = compute_screens([100, 105, 111])
    assert three.skewness is not None and three.rd is not None and three.kurtosis is None


def test_screens_of_identical_bids_never_divide_by_zero() -> None:
    s = compute_screens([100, 100, 100, 100])
    assert s.cv == 0.0 and s.diffp == 0.0 and s.spd == 0.0
    assert s.skewness is None and s.kurtosis is None and s.rd is None
    assert s.rdnor is None and s.ks is None


def test_screens_ignore_scale_and_order() -> None:
    prices = [9_650_000.0, 9_810_000.0, 10_020_000.0, 9_990_000.0, 10_400_000.0]
    a = compute_screens(prices).to_dict()
    b = compute_screens([p / 1000 for p in reversed(prices)]).to_dict()
    for name in SCREEN_NAMES:
        assert a[name] == pytest.approx(b[name])


def test_screen_functions_refuse_non_positive_lowest_bids() -> None:
    assert diffp([0, 10]) is None and spd([0, 10]) is None
    assert coefficient_of_variation([-5, 5]) is None
    assert skewness([1, 2]) is None and kurtosis([1, 2, 3]) is None


# --- rule checks -----------------------------------------------------------------------------


def test_identical_prices_name_every_bid_at_that_price() -> None:
    signals = rules.identical_prices(bids("100.00", "105.50", "100", "99"), T)
    assert codes(signals) == ["price.identical"]
    ev = signals[0].evidence
    assert ev.bids == ("B1", "B3") and ev.fields == ("price",)
    assert ev.figures["bids"] == "2"
    assert rules.identical_prices(bids("100.00", "100.01"), T) == []


def test_arithmetic_series_is_found_among_the_sorted_prices() -> None:
    signals = rules.price_series(bids("1020000", "1137500", "1000000", "1010000"), T)
    assert codes(signals) == ["price.arithmetic_series"]
    assert signals[0].evidence.bids == ("B3", "B4", "B1")
    assert signals[0].evidence.figures["step"] == "10000"


def test_geometric_series_is_told_apart_from_an_arithmetic_one() -> None:
    signals = rules.price_series(bids("1000000", "1100000", "1210000", "1500000"), T)
    assert codes(signals) == ["price.geometric_series"]
    assert signals[0].evidence.bids == ("B1", "B2", "B3")


def test_series_needs_the_configured_run_and_tolerance() -> None:
    three = bids("100", "110", "120.001")
    assert rules.price_series(three, T) == []  # steps differ by 1e-3 > 1e-6 × mean (110)
    loose = Thresholds.from_dict({"series_tolerance": "0.00001"})
    assert codes(rules.price_series(three, loose)) == ["price.arithmetic_series"]
    four_needed = Thresholds.from_dict({"series_min_bids": 4})
    assert rules.price_series(bids("100", "110", "120"), four_needed) == []
    assert rules.price_series(bids("100", "110"), T) == []
    assert rules.price_series(bids("100", "100", "100"), T) == []  # equal prices are R028's


def test_just_under_control_includes_both_edges_of_the_margin() -> None:
    control = {"price": Decimal("1000000")}
    b = bids("995000", "990000", "989999.99", "1000000")
    signals = rules.just_under_control(b, control, T)
    assert codes(signals) == ["price.just_under_control"]
    ev = signals[0].evidence
    assert ev.bids == ("B2", "B1", "B4")
    assert ev.figures["ratio[B2]"] == "0.990000" and ev.figures["control_price"] == "1000000"
    tight = Thresholds.from_dict({"control_margin": "0.005"})
    assert rules.just_under_control(b, control, tight)[0].evidence.bids == ("B1", "B4")
    assert signals[0].threshold == {"control_margin": "0.01"}


def test_same_ratio_to_control_needs_every_field_to_agree() -> None:
    control = {"price": Decimal("1000"), "labour": Decimal("400")}
    b = [
        PricedBid("A", Decimal("950"), {"labour": Decimal("380")}),
        PricedBid("B", Decimal("950.05"), {"labour": Decimal("380.02")}),
        PricedBid("C", Decimal("950"), {"labour": Decimal("370")}),
        PricedBid("D", Decimal("900")),  # no labour figure: not compared
    ]
    signals = rules.same_ratio_to_control(b, control, T)
    assert codes(signals) == ["price.same_ratio_to_control"]
    ev = signals[0].evidence
    assert ev.bids == ("A", "B") and ev.fields == ("labour", "price")
    assert ev.figures["ratio[A].labour"] == "0.950000"
    assert rules.same_ratio_to_control(b, {"price": Decimal("1000")}, T) == []


def test_r024_flags_a_second_bid_within_the_fence_of_the_lowest_valid_one() -> None:
    close = rules.close_to_lowest(bids("100000", "100100", "120000"), T)
    assert codes(close) == ["price.close_to_lowest"]
    assert close[0].evidence.bids == ("B1", "B2")
    assert close[0].evidence.figures["gap"] == "0.001000"  # at the fence: flagged
    assert rules.close_to_lowest(bids("100000", "100101"), T) == []
    # A disqualified second bid does not count: the next valid bid is compared.
    assert rules.close_to_lowest(bids("100000", "100050", "110000", out=[2]), T) == []


def test_r058_flags_a_lowest_bid_far_below_the_second() -> None:
    assert codes(rules.far_below_second(bids("100", "150"), T)) == ["price.far_below_second"]
    assert rules.far_below_second(bids("100", "149.99"), T) == []


def test_r035_flags_a_single_valid_bid_left_after_disqualifications() -> None:
    signals = rules.all_but_one_disqualified(bids("100", "101", "102", out=[1, 3]), T)
    assert codes(signals) == ["price.all_but_one_disqualified"]
    assert signals[0].evidence.bids == ("B2", "B1", "B3")
    assert signals[0].evidence.figures == {"valid": "B2", "disqualified": "2"}
    assert rules.all_but_one_disqualified(bids("100", "101"), T) == []
    assert rules.all_but_one_disqualified(bids("100", "101", out=[1, 2]), T) == []
    two = Thresholds.from_dict({"r035_min_disqualified": 2})
    assert rules.all_but_one_disqualified(bids("100", "101", out=[1]), two) == []


def test_r036_flags_the_lowest_bid_disqualified_unless_a_tie_stays_valid() -> None:
    signals = rules.lowest_disqualified(bids("100", "101", out=[1]), T)
    assert codes(signals) == ["price.lowest_disqualified"]
    assert rules.lowest_disqualified(bids("100", "100", out=[1]), T) == []
    assert rules.lowest_disqualified(bids("100", "101", out=[2]), T) == []


def test_bad_bids_are_refused_with_a_code() -> None:
    with pytest.raises(RuleError) as e:
        price_signals(bids("100", "100") + [PricedBid("B1", Decimal("5"))])
    assert e.value.code == "invalid"
    with pytest.raises(RuleError):
        price_signals(bids("100", "-1"))
    with pytest.raises(RuleError):
        price_signals(bids("100", "101"), {"price": Decimal("0")})


# --- thresholds as configuration -------------------------------------------------------------


def test_thresholds_from_config_override_only_what_they_name() -> None:
    t = Thresholds.from_dict(
        {"control_margin": "0.005", "rd_min": 2, "screens_votes": 2, "screens_used": ["cv", "rd"]}
    )
    assert t.control_margin == 0.005 and t.rd_min == 2.0
    assert t.screens_used == ("cv", "rd") and t.screens_votes == 2
    assert t.cv_max == Thresholds().cv_max
    assert Thresholds.from_dict(t.to_dict()) == t
    assert Thresholds.from_dict(None) == Thresholds()


@pytest.mark.parametrize(
    "raw",
    [
        {"no_such": 1},
        {"series_min_bids": True},
        {"series_min_bids": 2},
        {"rd_min": "abc"},
        {"rd_min": "NaN"},
        {"control_margin": 1.5},
        {"r058_fence": 0},
        {"screens_votes": 5, "screens_used": ["cv", "rd"]},
        {"screens_used": ["cv", "cv"]},
        {"screens_used": "cv"},
        {"screens_min_bids": 3},
    ],
)
def test_thresholds_refuse_what_they_do_not_understand(raw: dict[str, object]) -> None:
    with pytest.raises(RuleError) as e:
        Thresholds.from_dict(raw)
    assert e.value.code == "invalid_config"


def test_docs_list_every_threshold_and_signal_code() -> None:
    doc = (ROOT / "docs" / "red-flags.md").read_text(encoding="utf-8")
    for name in Thresholds().to_dict():
        assert f"`{name}`" in doc, name
    for code in (
        "price.identical",
        "price.arithmetic_series",
        "price.geometric_series",
        "price.same_ratio_to_control",
        "price.just_under_control",
        "price.close_to_lowest",
        "price.far_below_second",
        "price.all_but_one_disqualified",
        "price.lowest_disqualified",
        "price.screens",
        # red flags: identity and documents
        "identity.same_machine",
        "identity.same_ip",
        "identity.same_login_key",
        "identity.same_person",
        "identity.same_phone",
        "documents.identical_file",
        "documents.same_metadata",
        "documents.near_duplicate_text",
        "documents.same_form_error",
        "documents.same_sum_error",
    ):
        assert f"`{code}`" in doc, code


# --- the combination -------------------------------------------------------------------------

RIGGED = ("100000", "106000", "106400", "106900", "107100", "107500")
COMPETITIVE = ("100000", "103700", "108200", "112900", "118000", "124600")


def test_combination_flags_a_cover_bid_pattern_and_shows_every_screen() -> None:
    signals = price_signals(bids(*RIGGED))
    assert codes(signals) == ["price.screens"]
    s = signals[0]
    assert s.evidence.bids == ("B1", "B2", "B3", "B4", "B5", "B6")
    for name in SCREEN_NAMES:
        assert name in s.evidence.figures and name in s.threshold
    assert set(s.evidence.figures["crossed"].split(", ")) >= {"cv", "spd", "rd"}
    assert s.threshold["cv"] == "≤ 0.045" and s.threshold["screens_votes"] == "3"
    json.dumps(s.to_dict(), ensure_ascii=False)
    assert s.message_zh.startswith("报价分布统计筛查") and s.message_en.startswith("Price screens")


def test_combination_leaves_a_spread_field_alone() -> None:
    assert price_signals(bids(*COMPETITIVE)) == []
    verdict = classify(compute_screens([float(p) for p in COMPETITIVE]), T)
    assert not verdict.flagged


def test_combination_needs_enough_valid_bids_and_votes() -> None:
    assert price_signals(bids(*RIGGED[:3])) == []  # below screens_min_bids
    rigged = compute_screens([float(p) for p in RIGGED])  # crosses 7 of 8: all but diffp
    every = list(SCREEN_DIRECTIONS)
    seven = Thresholds.from_dict({"screens_votes": 7, "screens_used": every})
    eight = Thresholds.from_dict({"screens_votes": 8, "screens_used": every})
    assert classify(rigged, seven).flagged and not classify(rigged, eight).flagged
    only_diffp = Thresholds.from_dict({"screens_votes": 1, "screens_used": ["diffp"]})
    assert not classify(rigged, only_diffp).flagged


def test_disqualified_bids_leave_the_screens() -> None:
    # The rigged covers plus one far outlier that the committee disqualified.
    b = bids(*RIGGED, "160000", out=[7])
    assert codes(price_signals(b)) == ["price.screens"]
    assert price_signals(bids(*RIGGED, "160000")) == []


# --- the simulator ---------------------------------------------------------------------------


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bench_redflags", ROOT / "bench" / "bench_redflags.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_shipped_combination_separates_simulated_cartels_from_competition() -> None:
    bench = _bench()
    market = bench.Market()
    comp = bench.simulate(11, 150, market, bench.competitive_tender)
    cart = bench.simulate(12, 150, market, bench.cartel_tender)
    flag = bench.combined(Thresholds())
    detected, false_alarms = bench.rate(cart, flag), bench.rate(comp, flag)
    assert detected - false_alarms > 0.5, (detected, false_alarms)


def test_simulated_tenders_are_reproducible_from_the_seed() -> None:
    bench = _bench()
    market = bench.Market()
    a = bench.cartel_tender(random.Random(5), 8, market)
    b = bench.cartel_tender(random.Random(5), 8, market)
    assert a == b and len(a) == 8
    # The designated winner is the lowest bid and every cover is above it by the margin.
    low = min(a)
    assert sum(1 for x in a if x == low) == 1
    assert all(x >= low * (1 + market.cover_margin_min) - 0.02 for x in a if x != low)


def test_compute_screens_agrees_with_each_screen_function() -> None:
    rng = random.Random(7)
    functions = {
        "cv": coefficient_of_variation,
        "kurtosis": kurtosis,
        "skewness": skewness,
        "diffp": diffp,
        "spd": spd,
        "rd": rd,
        "rdnor": rdnor,
        "ks": ks_uniform,
    }
    samples = [[100.0] * 4, [100.0, 80.0], [5.0], [0.0, 3.0, 4.0, 9.0]]
    samples += [[rng.uniform(90, 130) for _ in range(rng.randint(1, 12))] for _ in range(200)]
    for prices in samples:
        together = compute_screens(prices)
        for name, fn in functions.items():
            alone = fn(prices)
            assert (together.value(name) is None) == (alone is None), (name, prices)
            if alone is not None:
                assert together.value(name) == pytest.approx(alone), (name, prices)
