"""The combined screen classifier we ship: k of the eight screens past their thresholds.

Deliberately simple, so a supervisor can follow it by hand: each screen votes "collusive" when
its value is on the collusive side of its threshold (see ``SCREEN_DIRECTIONS``); the tender is
flagged when at least ``screens_votes`` screens vote so and it has at least
``screens_min_bids`` valid bids. An undefined screen (too few bids, all bids equal) does not
vote. The thresholds and k were calibrated on the market simulator and evaluated there on
tenders the calibration never saw (docs/red-flags.md has the figures and the command).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evalroom.domain.redflags.screens import SCREEN_NAMES, Screens, compute_screens
from evalroom.domain.redflags.signal import Evidence, Signal, figure
from evalroom.domain.redflags.thresholds import SCREEN_DIRECTIONS, Thresholds

__all__ = ["ScreenVote", "Verdict", "classify", "screen_signal"]


@dataclass(frozen=True)
class ScreenVote:
    name: str
    value: float | None
    threshold: float
    direction: str  # "up": flag at or above the threshold; "down": at or below
    crossed: bool


@dataclass(frozen=True)
class Verdict:
    screens: Screens
    votes: tuple[ScreenVote, ...]
    flagged: bool

    @property
    def crossed(self) -> tuple[str, ...]:
        """Every screen past its threshold, whether or not it votes."""
        return tuple(v.name for v in self.votes if v.crossed)


def vote(name: str, value: float | None, t: Thresholds) -> ScreenVote:
    key, direction = SCREEN_DIRECTIONS[name]
    threshold: float = getattr(t, key)
    if value is None:
        crossed = False
    elif direction == "up":
        crossed = value >= threshold
    else:
        crossed = value <= threshold
    return ScreenVote(name, value, threshold, direction, crossed)


def classify(screens: Screens, t: Thresholds) -> Verdict:
    """The verdict of the combination on one tender's screens."""
    votes = tuple(vote(name, screens.value(name), t) for name in SCREEN_NAMES)
    enough = screens.n >= t.screens_min_bids
    crossed = sum(1 for v in votes if v.crossed and v.name in t.screens_used)
    flagged = enough and crossed >= t.screens_votes
    return Verdict(screens, votes, flagged)


def screen_signal(valid_ids: Sequence[str], prices: Sequence[float], t: Thresholds) -> list[Signal]:
    """``price.screens`` when the combination flags the tender's valid bids."""
    verdict = classify(compute_screens(prices), t)
    if not verdict.flagged:
        return []
    voting = [v.name for v in verdict.votes if v.crossed and v.name in t.screens_used]
    figures: dict[str, str] = {
        "n": str(verdict.screens.n),
        "crossed": ", ".join(voting),
        "used": ", ".join(t.screens_used),
    }
    threshold: dict[str, str] = {
        "screens_votes": str(t.screens_votes),
        "screens_min_bids": str(t.screens_min_bids),
    }
    for v in verdict.votes:
        figures[v.name] = figure(v.value)
        threshold[v.name] = ("≥ " if v.direction == "up" else "≤ ") + figure(v.threshold)
    used = len(t.screens_used)
    return [
        Signal(
            "price.screens",
            f"报价分布统计筛查：{used} 项指标中 {len(voting)} 项越过阈值（{'、'.join(voting)}），"
            "分布特征与串通投标相似。",
            f"Price screens: {len(voting)} of {used} screens crossed their thresholds "
            f"({', '.join(voting)}); the bids are distributed as in rigged tenders.",
            Evidence.of(valid_ids, ["price"], figures),
            threshold,
        )
    ]
