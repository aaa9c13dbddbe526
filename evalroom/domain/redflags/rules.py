"""Rule checks on the read-out prices (报价规律性 · 异常一致): patterns a person can verify.

Every check is a pure function of the bids, the control figures (招标控制价 / 最高投标限价,
per form field where the tender publishes them) and the thresholds, and returns zero or more
:class:`~evalroom.domain.redflags.signal.Signal`. Prices stay ``Decimal`` throughout, so an
"identical" price is identical to the cent and a series step is compared exactly.

The R0xx names are Open Contracting's ``cardinal-rs`` indicators the checks follow; where
cardinal-rs compares against the winning bid, these use the lowest valid bid, because at the
opening there is no winner yet (the same as cardinal-rs for a price-only award).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal

from evalroom.domain.redflags.bids import PRICE_FIELD, PricedBid
from evalroom.domain.redflags.signal import Evidence, Signal, figure
from evalroom.domain.redflags.thresholds import Thresholds

__all__ = [
    "all_but_one_disqualified",
    "close_to_lowest",
    "far_below_second",
    "identical_prices",
    "just_under_control",
    "lowest_disqualified",
    "price_series",
    "same_ratio_to_control",
]


def _by_price(bids: Sequence[PricedBid]) -> list[PricedBid]:
    return sorted(bids, key=lambda b: (b.price, b.bid_id))


def _dec(x: float) -> Decimal:
    return Decimal(repr(x))


def identical_prices(bids: Sequence[PricedBid], t: Thresholds) -> list[Signal]:
    """R028: two or more bids with the same total price, to the cent."""
    groups: dict[Decimal, list[str]] = defaultdict(list)
    for b in _by_price(bids):
        groups[b.price].append(b.bid_id)
    return [
        Signal(
            "price.identical",
            f"{len(ids)} 份投标报价完全相同（{price}）。",
            f"{len(ids)} bids have the same price ({price}).",
            Evidence.of(ids, [PRICE_FIELD], {"price": price, "bids": len(ids)}),
            {},
        )
        for price, ids in groups.items()
        if len(ids) >= 2
    ]


def _step(values: list[Decimal], i: int, arithmetic: bool) -> Decimal | None:
    a, b = values[i], values[i + 1]
    if b == a:
        return None
    return b - a if arithmetic else b / a


def _runs(values: list[Decimal], arithmetic: bool, tol: Decimal) -> list[tuple[int, int]]:
    """Maximal index runs [i, j] (inclusive, 3 values up) whose steps all match the first."""
    runs: list[tuple[int, int]] = []
    i = 0
    while i + 1 < len(values):
        step = _step(values, i, arithmetic)
        if step is None:
            i += 1
            continue
        j = i + 1
        while j + 1 < len(values):
            nxt = _step(values, j, arithmetic)
            if nxt is None or abs(nxt - step) > tol:
                break
            j += 1
        if j - i + 1 >= 3:
            runs.append((i, j))
        i = j if j > i + 1 else i + 1
    return runs


def price_series(bids: Sequence[PricedBid], t: Thresholds) -> list[Signal]:
    """Prices in an arithmetic or geometric series (报价呈等差/等比规律).

    Among the bids sorted by price, a run of at least ``series_min_bids`` neighbours whose
    steps are equal: differences within ``series_tolerance`` × the mean price (arithmetic), or
    ratios within ``series_tolerance`` (geometric). Equal prices break a run (R028 reports them).
    """
    ordered = _by_price(bids)
    prices = [b.price for b in ordered]
    if len(prices) < t.series_min_bids:
        return []
    mean = sum(prices, Decimal(0)) / len(prices)
    signals: list[Signal] = []
    for kind, zh in (("arithmetic", "等差"), ("geometric", "等比")):
        arithmetic = kind == "arithmetic"
        tol = _dec(t.series_tolerance) * (mean if arithmetic else 1)
        for i, j in _runs(prices, arithmetic, tol):
            if j - i + 1 < t.series_min_bids:
                continue
            run = ordered[i : j + 1]
            step = _step(prices, i, arithmetic)
            shown = figure(step) if arithmetic else f"{step:.6f}"
            signals.append(
                Signal(
                    f"price.{kind}_series",
                    f"{len(run)} 份投标报价呈{zh}数列（{'公差' if arithmetic else '公比'} {shown}）。",
                    f"{len(run)} bid prices form {'an' if arithmetic else 'a'} {kind} series "
                    f"(step {shown}).",
                    Evidence.of(
                        [b.bid_id for b in run],
                        [PRICE_FIELD],
                        {"prices": ", ".join(str(b.price) for b in run), "step": shown},
                    ),
                    {
                        "series_min_bids": str(t.series_min_bids),
                        "series_tolerance": figure(t.series_tolerance),
                    },
                )
            )
    return signals


def just_under_control(
    bids: Sequence[PricedBid], control: Mapping[str, Decimal], t: Thresholds
) -> list[Signal]:
    """Bids at or just under the control price: within ``control_margin`` below it."""
    cap = control.get(PRICE_FIELD)
    if cap is None:
        return []
    floor = cap * (1 - _dec(t.control_margin))
    near = [b for b in _by_price(bids) if floor <= b.price <= cap]
    if not near:
        return []
    ratios = {b.bid_id: f"{b.price / cap:.6f}" for b in near}
    return [
        Signal(
            "price.just_under_control",
            f"{len(near)} 份投标报价紧贴招标控制价（{cap}）下方 {figure(t.control_margin * 100)}% 以内。",
            f"{len(near)} bids lie within {figure(t.control_margin * 100)}% under the control "
            f"price ({cap}).",
            Evidence.of(
                [b.bid_id for b in near],
                [PRICE_FIELD],
                {"control_price": cap, **{f"ratio[{k}]": v for k, v in ratios.items()}},
            ),
            {"control_margin": figure(t.control_margin)},
        )
    ]


def same_ratio_to_control(
    bids: Sequence[PricedBid], control: Mapping[str, Decimal], t: Thresholds
) -> list[Signal]:
    """Bids whose ratios to the control figures agree on every field that has one.

    Needs at least ``ratio_min_fields`` fields with a control figure (the total price counts);
    two bids match when, on each of those fields, their ratios to the control figure differ by
    at most ``ratio_tolerance``. One signal per group of matching bids (二家及以上投标人各分项
    报价相对控制价的比例一致).
    """
    names = sorted(control)
    if len(names) < t.ratio_min_fields:
        return []
    tol = _dec(t.ratio_tolerance)
    vectors: list[tuple[PricedBid, tuple[Decimal, ...]]] = []
    for b in _by_price(bids):
        ratios = [_ratio(b.figure(name), control[name]) for name in names]
        if all(r is not None for r in ratios):
            vectors.append((b, tuple(r for r in ratios if r is not None)))
    parent = list(range(len(vectors)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(vectors)):
        for j in range(i + 1, len(vectors)):
            if all(abs(x - y) <= tol for x, y in zip(vectors[i][1], vectors[j][1], strict=True)):
                parent[root(j)] = root(i)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(vectors)):
        groups[root(i)].append(i)
    signals = []
    for members in groups.values():
        if len(members) < 2:
            continue
        ids = [vectors[i][0].bid_id for i in members]
        figures: dict[str, str] = {}
        for i in members:
            bid, vector = vectors[i]
            for name, r in zip(names, vector, strict=True):
                figures[f"ratio[{bid.bid_id}].{name}"] = f"{r:.6f}"
        signals.append(
            Signal(
                "price.same_ratio_to_control",
                f"{len(ids)} 份投标的 {len(names)} 项报价与招标控制价的比例一致。",
                f"{len(ids)} bids stand in the same ratio to the control figures on all "
                f"{len(names)} fields.",
                Evidence.of(ids, names, figures),
                {
                    "ratio_tolerance": figure(t.ratio_tolerance),
                    "ratio_min_fields": str(t.ratio_min_fields),
                },
            )
        )
    return signals


def _ratio(value: Decimal | None, of: Decimal) -> Decimal | None:
    return None if value is None else value / of


def _lowest_two(bids: Sequence[PricedBid]) -> tuple[PricedBid, PricedBid, Decimal] | None:
    valid = _by_price([b for b in bids if not b.disqualified])
    if len(valid) < 2:
        return None
    first, second = valid[0], valid[1]
    return first, second, (second.price - first.price) / first.price


def close_to_lowest(bids: Sequence[PricedBid], t: Thresholds) -> list[Signal]:
    """R024: the second-lowest valid bid is within ``r024_fence`` of the lowest."""
    pair = _lowest_two(bids)
    if pair is None or pair[2] > _dec(t.r024_fence):
        return []
    first, second, gap = pair
    return [
        Signal(
            "price.close_to_lowest",
            f"次低价与最低价仅差 {gap * 100:.4f}%（阈值 {figure(t.r024_fence * 100)}%）。",
            f"The second-lowest bid is only {gap * 100:.4f}% above the lowest "
            f"(threshold {figure(t.r024_fence * 100)}%).",
            Evidence.of(
                [first.bid_id, second.bid_id],
                [PRICE_FIELD],
                {"lowest": first.price, "second": second.price, "gap": f"{gap:.6f}"},
            ),
            {"r024_fence": figure(t.r024_fence)},
        )
    ]


def far_below_second(bids: Sequence[PricedBid], t: Thresholds) -> list[Signal]:
    """R058: the lowest valid bid is at least ``r058_fence`` below the second-lowest."""
    pair = _lowest_two(bids)
    if pair is None or pair[2] < _dec(t.r058_fence):
        return []
    first, second, gap = pair
    return [
        Signal(
            "price.far_below_second",
            f"最低价比次低价低 {gap * 100:.2f}%（阈值 {figure(t.r058_fence * 100)}%）。",
            f"The second-lowest bid is {gap * 100:.2f}% above the lowest "
            f"(threshold {figure(t.r058_fence * 100)}%).",
            Evidence.of(
                [first.bid_id, second.bid_id],
                [PRICE_FIELD],
                {"lowest": first.price, "second": second.price, "gap": f"{gap:.6f}"},
            ),
            {"r058_fence": figure(t.r058_fence)},
        )
    ]


def all_but_one_disqualified(bids: Sequence[PricedBid], t: Thresholds) -> list[Signal]:
    """R035: exactly one bid remains valid and at least ``r035_min_disqualified`` others were
    disqualified."""
    valid = [b for b in bids if not b.disqualified]
    out = [b for b in _by_price(bids) if b.disqualified]
    if len(valid) != 1 or len(out) < t.r035_min_disqualified:
        return []
    return [
        Signal(
            "price.all_but_one_disqualified",
            f"除 {valid[0].bid_id} 外其余 {len(out)} 份投标均被否决。",
            f"Every bid except {valid[0].bid_id} was disqualified ({len(out)}).",
            Evidence.of(
                [valid[0].bid_id, *(b.bid_id for b in out)],
                ["disqualified"],
                {"valid": valid[0].bid_id, "disqualified": len(out)},
            ),
            {"r035_min_disqualified": str(t.r035_min_disqualified)},
        )
    ]


def lowest_disqualified(bids: Sequence[PricedBid], t: Thresholds) -> list[Signal]:
    """R036: every bid at the lowest submitted price was disqualified."""
    if not bids:
        return []
    lowest = min(b.price for b in bids)
    at_lowest = [b for b in _by_price(bids) if b.price == lowest]
    if not all(b.disqualified for b in at_lowest):
        return []
    return [
        Signal(
            "price.lowest_disqualified",
            f"最低报价（{lowest}）的投标被否决。",
            f"The lowest-priced bid ({lowest}) was disqualified.",
            Evidence.of(
                [b.bid_id for b in at_lowest],
                [PRICE_FIELD, "disqualified"],
                {"lowest": lowest},
            ),
            {},
        )
    ]
