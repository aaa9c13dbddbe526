"""A red flag raised for a tender (围标串标预警信号): a stable code, two sentences, the evidence.

A :class:`Signal` is advisory. It never changes a result; it tells a supervisor what was seen,
in which bids and fields, with which figures, against which threshold, so that a person can
check it. Figures are strings (exact decimals for prices, six significant digits for
statistics), so a signal is plain JSON and reads the same everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = ["Evidence", "Signal", "figure"]


def figure(value: Decimal | float | int | str | None) -> str:
    """A figure as evidence text: decimals exactly, floats to 6 significant digits."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@dataclass(frozen=True)
class Evidence:
    """What a signal rests on: the bids, the bid-form fields and the figures that matter."""

    bids: tuple[str, ...]
    fields: tuple[str, ...]
    figures: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        bids: Iterable[str],
        fields: Iterable[str],
        figures: Mapping[str, Decimal | float | int | str | None],
    ) -> Evidence:
        return cls(tuple(bids), tuple(fields), {k: figure(v) for k, v in figures.items()})

    def to_dict(self) -> dict[str, Any]:
        return {"bids": list(self.bids), "fields": list(self.fields), "figures": dict(self.figures)}


@dataclass(frozen=True)
class Signal:
    """One red flag: ``code`` is stable (docs/red-flags.md lists them all)."""

    code: str
    message_zh: str
    message_en: str
    evidence: Evidence
    threshold: Mapping[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": {"zh-CN": self.message_zh, "en": self.message_en},
            "evidence": self.evidence.to_dict(),
            "threshold": dict(self.threshold),
        }
