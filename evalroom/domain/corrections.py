"""Corrections after a review (复核): a score or the base price set right, the original kept.

A correction is a value, never an edit: the record keeps every expert's original sheet and the
computed base price, and a correction names what it changes (``original`` → ``corrected``),
why (``reason``) and who approved it (``approved_by``, the supervisor). Applying corrections
is pure: :func:`correct_scores` returns new score tables and leaves the originals alone, and
:func:`evalroom.domain.scoring.evaluate` takes the corrections beside the sheets, so the same
record re-computes to the same corrected ranking, and to the original one without them.

A correction must name the value it replaces exactly (``correction_stale`` otherwise): two
corrections of one score chain (the second's ``original`` is the first's ``corrected``).

JSON::

    {"kind": "score", "expert_id": "E3", "bid_id": "B2", "criterion_id": "tech",
     "original": "18", "corrected": "21", "reason": "漏计一项业绩", "approved_by": "S1"}
    {"kind": "base_price", "original": "980.00", "corrected": "975.50",
     "reason": "B4 报价算术修正后重新计算", "approved_by": "S1"}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from evalroom.domain.method_rules import read_decimal
from evalroom.domain.rules import RuleError

__all__ = ["Correction", "CorrectionKind", "base_price_correction", "correct_scores"]

Scores = Mapping[str, Mapping[str, Mapping[str, Decimal]]]  # expert → bid → criterion → points


class CorrectionKind(StrEnum):
    SCORE = "score"  # one expert's score of one criterion for one bid
    BASE_PRICE = "base_price"  # 评标基准价


@dataclass(frozen=True)
class Correction:
    kind: CorrectionKind
    original: Decimal
    corrected: Decimal
    reason: str
    approved_by: str
    expert_id: str | None = None
    bid_id: str | None = None
    criterion_id: str | None = None

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise RuleError("reason_required", "a correction needs its reason")
        if not self.approved_by:
            raise RuleError("approval_required", "a correction needs the supervisor's approval")
        if not (self.original.is_finite() and self.corrected.is_finite()):
            raise RuleError("invalid_correction", "a correction's figures must be finite")
        if self.corrected == self.original:
            raise RuleError("invalid_correction", "a correction must change the figure")
        cell = (self.expert_id, self.bid_id, self.criterion_id)
        if self.kind is CorrectionKind.SCORE and not all(cell):
            raise RuleError(
                "invalid_correction", "a score correction names expert, bid and criterion"
            )
        if self.kind is CorrectionKind.BASE_PRICE and any(cell):
            raise RuleError("invalid_correction", "a base price correction names no score")
        if self.kind is CorrectionKind.BASE_PRICE and not self.corrected > 0:
            raise RuleError("invalid_correction", "a base price must be positive")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Correction:
        keys = {
            "kind",
            "original",
            "corrected",
            "reason",
            "approved_by",
            "expert_id",
            "bid_id",
            "criterion_id",
        }
        if not isinstance(d, Mapping) or set(d) - keys:
            raise RuleError("invalid_correction", "a correction has unknown fields")
        try:
            kind = CorrectionKind(str(d.get("kind")))
        except ValueError:
            raise RuleError("invalid_correction", "kind must be score or base_price") from None
        texts = {k: d.get(k) for k in keys - {"kind", "original", "corrected"}}
        if any(v is not None and not isinstance(v, str) for v in texts.values()):
            raise RuleError("invalid_correction", "ids and the reason must be strings")
        return cls(
            kind=kind,
            original=read_decimal(d.get("original"), "original", "invalid_correction"),
            corrected=read_decimal(d.get("corrected"), "corrected", "invalid_correction"),
            reason=texts["reason"] or "",
            approved_by=texts["approved_by"] or "",
            expert_id=texts["expert_id"],
            bid_id=texts["bid_id"],
            criterion_id=texts["criterion_id"],
        )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "kind": self.kind.value,
            "original": str(self.original),
            "corrected": str(self.corrected),
            "reason": self.reason,
            "approved_by": self.approved_by,
        }
        if self.kind is CorrectionKind.SCORE:
            d.update(expert_id=self.expert_id, bid_id=self.bid_id, criterion_id=self.criterion_id)
        return d


def correct_scores(scores: Scores, corrections: Sequence[Correction]) -> dict[str, Any]:
    """``scores`` with every score correction applied in order; ``scores`` is left as it was."""
    result = {e: {b: dict(row) for b, row in bids.items()} for e, bids in scores.items()}
    for c in corrections:
        if c.kind is not CorrectionKind.SCORE:
            continue
        assert c.expert_id and c.bid_id and c.criterion_id
        current = result.get(c.expert_id, {}).get(c.bid_id, {}).get(c.criterion_id)
        if current is None:
            raise RuleError(
                "correction_stale",
                f"{c.expert_id} has no score on {c.criterion_id} for {c.bid_id} to correct",
            )
        if current != c.original:
            raise RuleError(
                "correction_stale",
                f"the score to correct is {current}, not {c.original}",
            )
        result[c.expert_id][c.bid_id][c.criterion_id] = c.corrected
    return result


def base_price_correction(corrections: Sequence[Correction]) -> Correction | None:
    """The one base price correction among ``corrections`` (at most one is allowed)."""
    found = [c for c in corrections if c.kind is CorrectionKind.BASE_PRICE]
    if len(found) > 1:
        raise RuleError("invalid_correction", "the base price is corrected at most once")
    return found[0] if found else None
