"""Red flags on a tender's prices (围标串标 · 价格预警), pure and advisory.

:func:`price_signals` runs every price check on a tender's read-out and returns the
:class:`Signal` list: rule checks (identical prices, series, ratios to and closeness under the
control price, the cardinal-rs style R024/R028/R035/R036/R058) and the combined statistical
screens. Nothing here does I/O or changes a result; docs/red-flags.md documents every code,
threshold and source. The evidence checks live beside it, imported by their module (they
bring numpy and datasketch): ``identity.identity_signals`` and ``documents.document_signals``,
gathered for a tender by ``evalroom.services.redflag_evidence.evidence_signals``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from evalroom.domain.redflags import rules
from evalroom.domain.redflags.bids import PRICE_FIELD, PricedBid, check_bids
from evalroom.domain.redflags.classifier import ScreenVote, Verdict, classify, screen_signal
from evalroom.domain.redflags.screens import SCREEN_NAMES, Screens, compute_screens
from evalroom.domain.redflags.signal import Evidence, Signal
from evalroom.domain.redflags.thresholds import SCREEN_DIRECTIONS, Thresholds

__all__ = [
    "PRICE_FIELD",
    "SCREEN_DIRECTIONS",
    "SCREEN_NAMES",
    "Evidence",
    "PricedBid",
    "ScreenVote",
    "Screens",
    "Signal",
    "Thresholds",
    "Verdict",
    "classify",
    "compute_screens",
    "price_signals",
]


def price_signals(
    bids: Sequence[PricedBid],
    control: Mapping[str, Decimal] | None = None,
    thresholds: Thresholds | None = None,
) -> list[Signal]:
    """Every price signal for one tender (one section), in a stable order.

    ``control`` maps form fields to their control figures; ``"price"`` is the control price
    (招标控制价). Identical prices, series and the control checks look at every bid read out;
    the gap checks (R024, R058) and the screens look at the valid bids only.
    """
    check_bids(bids, control)
    t = thresholds or Thresholds()
    signals = [
        *rules.identical_prices(bids, t),
        *rules.price_series(bids, t),
    ]
    if control:
        signals += rules.just_under_control(bids, control, t)
        signals += rules.same_ratio_to_control(bids, control, t)
    signals += rules.close_to_lowest(bids, t)
    signals += rules.far_below_second(bids, t)
    signals += rules.all_but_one_disqualified(bids, t)
    signals += rules.lowest_disqualified(bids, t)
    valid = sorted((b for b in bids if not b.disqualified), key=lambda b: (b.price, b.bid_id))
    signals += screen_signal([b.bid_id for b in valid], [float(b.price) for b in valid], t)
    return signals
