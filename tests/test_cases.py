"""Published cases (tests/data/cases/*.json): every published figure reproduced to its precision.

A case file holds the source address as found, the method in our format, the read-out prices
and the committee's published figures; the format is in tests/data/cases/README.md. Published
results give the committee's aggregated expert scores, not each expert's sheet, so a case feeds
them as one sheet (``"expert_part"`` per bid and criterion); the price rule, the control
price, the base price, the price scores, the totals and the ranking are all recomputed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from evalroom.domain.scoring import BidFigures, ExpertSheet, Ranking, ScoringMethod, evaluate

CASES = Path(__file__).parent / "data" / "cases"


def run_case(case: Mapping[str, Any]) -> Ranking:
    method = ScoringMethod.from_dict(case["method"])
    bids = [BidFigures.from_dict(b) for b in case["bids"]]
    scores = {bid: dict(row) for bid, row in case.get("expert_part", {}).items()}
    verdicts = {bid: dict(row) for bid, row in case.get("verdicts", {}).items()}
    sheet = ExpertSheet.from_dict(
        {"expert_id": "committee", "scores": scores, "verdicts": verdicts}
    )
    fp = case.get("floating_point")
    return evaluate(method, bids, [sheet], None if fp is None else Decimal(fp))


def at_precision(computed: Decimal | int | str | None, published: str) -> str | None:
    """``computed`` rounded half-up to as many decimals as ``published`` shows."""
    if computed is None:
        return None
    exponent = Decimal(published).as_tuple().exponent
    assert isinstance(exponent, int)
    return str(Decimal(computed).quantize(Decimal(1).scaleb(exponent), ROUND_HALF_UP))


def mismatches(case: Mapping[str, Any]) -> list[str]:
    """Every published figure the computation does not reproduce, as 'what: got != published'."""
    ranking = run_case(case)
    published = case["published"]
    found = []
    if "base_price" in published:
        got = None if ranking.base_price is None else ranking.base_price.value
        if at_precision(got, published["base_price"]) != published["base_price"]:
            found.append(f"base_price: {got} != {published['base_price']}")
    for bid_id, figures in published.get("bids", {}).items():
        result = ranking.bid(bid_id)
        for name, want in figures.items():
            got_value = getattr(result, name)
            if name in ("rank", "rejection"):
                ok = got_value == want
            else:
                ok = at_precision(got_value, want) == want
            if not ok:
                found.append(f"{bid_id}.{name}: {got_value} != {want}")
    if "recommended" in published and list(ranking.recommended) != published["recommended"]:
        found.append(f"recommended: {list(ranking.recommended)} != {published['recommended']}")
    return found


def case_files() -> list[Path]:
    return sorted(CASES.glob("*.json"))


@pytest.mark.parametrize("path", case_files(), ids=lambda p: p.stem)
def test_published_case_reproduces(path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    assert case["source"]["url"].startswith(("http://", "https://"))
    assert mismatches(case) == []


# --- the checker itself, on a made-up case (not a published one) -------------------------------

MADE_UP: dict[str, Any] = {
    "source": {"url": "https://example.invalid/made-up", "note": "not a published case"},
    "method": {
        "kind": "comprehensive",
        "criteria": [
            {"id": "tech", "name": "技术标", "kind": "expert", "max_points": "40"},
            {"id": "price", "name": "投标报价", "kind": "price", "max_points": "60"},
        ],
        "price_rule": {
            "base": {"trim": None, "coefficient": "1", "floating_point": None, "decimals": 2},
            "deviation": "percent",
            "above": [{"up_to": None, "points_per_percent": "2"}],
            "below": [{"up_to": None, "points_per_percent": "1"}],
        },
        "aggregation": {"level": "criterion", "drop_high_low_from": None},
        "control_price": {"limit": "1000000"},
    },
    "bids": [
        {"bid_id": "A", "price": "950000"},
        {"bid_id": "B", "price": "980000"},
        {"bid_id": "C", "price": "1000500"},
    ],
    "expert_part": {"A": {"tech": "30.5"}, "B": {"tech": "35"}},
    # base (950000 + 980000) / 2 = 965000; A -1.55 % -> 58.45; B +1.55 % -> 56.90
    "published": {
        "base_price": "965000.00",
        "bids": {
            "A": {"deviation": "-1.55", "price_score": "58.45", "total": "88.95", "rank": 2},
            "B": {"price_score": "56.9", "total": "91.90", "rank": 1},
            "C": {"rejection": "above_control_price"},
        },
        "recommended": ["B", "A"],
    },
}


def test_the_checker_accepts_figures_at_their_published_precision() -> None:
    assert mismatches(MADE_UP) == []


def test_the_checker_reports_every_figure_that_does_not_reproduce() -> None:
    wrong = json.loads(json.dumps(MADE_UP))
    wrong["published"]["base_price"] = "965000.01"
    wrong["published"]["bids"]["A"]["total"] = "88.96"
    wrong["published"]["bids"]["C"]["rejection"] = None
    assert mismatches(wrong) == [
        "base_price: 965000.00 != 965000.01",
        "A.total: 88.95 != 88.96",
        "C.rejection: above_control_price != None",
    ]
