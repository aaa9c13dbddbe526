"""The read-out figures the price red flags look at (唱标数据)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from evalroom.domain.rules import RuleError

__all__ = ["PRICE_FIELD", "PricedBid", "check_bids"]

PRICE_FIELD = "price"  # the bid form's total price (投标总价), and the control price's key


@dataclass(frozen=True)
class PricedBid:
    """One bid as read out: its id, total price, other decimal form fields, and whether the
    committee disqualified it (否决投标) — False at the opening, before any review."""

    bid_id: str
    price: Decimal
    fields: Mapping[str, Decimal] = field(default_factory=dict)
    disqualified: bool = False

    def figure(self, name: str) -> Decimal | None:
        return self.price if name == PRICE_FIELD else self.fields.get(name)


def check_bids(bids: Sequence[PricedBid], control: Mapping[str, Decimal] | None) -> None:
    """``invalid`` unless bid ids are unique and every price and control figure is positive."""
    ids = [b.bid_id for b in bids]
    if len(set(ids)) != len(ids):
        raise RuleError("invalid", "bid ids repeat in the price red-flag input")
    for b in bids:
        if not isinstance(b.price, Decimal) or not b.price.is_finite() or b.price <= 0:
            raise RuleError("invalid", f"bid {b.bid_id}: the price must be a positive decimal")
        for name, value in b.fields.items():
            if not isinstance(value, Decimal) or not value.is_finite():
                raise RuleError("invalid", f"bid {b.bid_id}: field {name} is not a decimal")
    for name, value in (control or {}).items():
        if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
            raise RuleError("invalid", f"control figure {name} must be a positive decimal")
