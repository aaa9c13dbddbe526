"""Statistical screens on the distribution of a tender's bids (价格统计筛查).

Each screen is a descriptive statistic of one tender's valid bid prices, as used by the Swiss
Competition Commission's screening work (Imhof 2017; Imhof, Karagök & Rutz 2018; Huber & Imhof
2019; Huber, Imhof & Ishii 2022). Bid rigging with cover bids narrows the spread of the bids and
pushes the designated winner away from a tight cluster of losing bids, so:

- the variance screens fall: ``cv`` (coefficient of variation) and ``spd`` (spread);
- the asymmetry screens rise: ``diffp`` (gap between the two lowest bids), ``rd`` (that gap in
  units of the losing bids' standard deviation), ``rdnor`` (that gap against the mean gap between
  neighbouring bids) and ``kurtosis``; ``skewness`` turns negative (the winner is a low outlier);
- ``ks`` (Kolmogorov–Smirnov distance to the uniform distribution over the bids' range) rises
  when the bids bunch instead of spreading evenly.

Conventions (docs/red-flags.md gives every formula and its source): ``b_1 <= b_2 <= … <= b_n``
are the sorted prices; the standard deviation ``s`` is the sample one (divisor ``n - 1``);
kurtosis is the sample *excess* kurtosis (G2, zero for a normal distribution; what Excel's KURT
and Stata's adjusted estimator give) and skewness the adjusted Fisher–Pearson sample skewness
(G1, Excel's SKEW). A screen that is undefined for a tender (too few bids, all bids equal) is
``None``, never a made-up number.

Floats are right here: every screen is a ratio, so scale does not matter and the error of a
double is far below any threshold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "SCREEN_NAMES",
    "Screens",
    "coefficient_of_variation",
    "compute_screens",
    "diffp",
    "kurtosis",
    "ks_uniform",
    "rd",
    "rdnor",
    "skewness",
    "spd",
]

SCREEN_NAMES = ("cv", "kurtosis", "skewness", "diffp", "spd", "rd", "rdnor", "ks")


def _mean(xs: Sequence[float]) -> float:
    return math.fsum(xs) / len(xs)


def _sample_sd(xs: Sequence[float], mean: float) -> float:
    return math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (len(xs) - 1))


def coefficient_of_variation(prices: Sequence[float]) -> float | None:
    """CV = s / mean over all bids; None below 2 bids or at a mean of 0."""
    if len(prices) < 2:
        return None
    mean = _mean(prices)
    if mean == 0:
        return None
    return _sample_sd(prices, mean) / mean


def skewness(prices: Sequence[float]) -> float | None:
    """G1 = n / ((n-1)(n-2)) · Σ((b - mean)/s)³; None below 3 bids or when all are equal."""
    n = len(prices)
    if n < 3:
        return None
    mean = _mean(prices)
    s = _sample_sd(prices, mean)
    if s == 0:
        return None
    return n / ((n - 1) * (n - 2)) * math.fsum(((x - mean) / s) ** 3 for x in prices)


def kurtosis(prices: Sequence[float]) -> float | None:
    """Sample excess kurtosis G2; None below 4 bids or when all are equal.

    G2 = n(n+1) / ((n-1)(n-2)(n-3)) · Σ((b - mean)/s)⁴ − 3(n-1)² / ((n-2)(n-3)).
    """
    n = len(prices)
    if n < 4:
        return None
    mean = _mean(prices)
    s = _sample_sd(prices, mean)
    if s == 0:
        return None
    fourth = math.fsum(((x - mean) / s) ** 4 for x in prices)
    return n * (n + 1) / ((n - 1) * (n - 2) * (n - 3)) * fourth - 3 * (n - 1) ** 2 / (
        (n - 2) * (n - 3)
    )


def diffp(prices: Sequence[float]) -> float | None:
    """DIFFP = (b_2 − b_1) / b_1: the gap between the two lowest bids, relative to the lowest."""
    if len(prices) < 2:
        return None
    b = sorted(prices)
    if b[0] <= 0:
        return None
    return (b[1] - b[0]) / b[0]


def spd(prices: Sequence[float]) -> float | None:
    """SPD = (b_n − b_1) / b_1: the spread of the bids, relative to the lowest."""
    if len(prices) < 2:
        return None
    b = sorted(prices)
    if b[0] <= 0:
        return None
    return (b[-1] - b[0]) / b[0]


def rd(prices: Sequence[float]) -> float | None:
    """RD = (b_2 − b_1) / s_losing, s_losing the sample sd of b_2 … b_n; needs 3 bids."""
    if len(prices) < 3:
        return None
    b = sorted(prices)
    losing = b[1:]
    s = _sample_sd(losing, _mean(losing))
    if s == 0:
        return None
    return (b[1] - b[0]) / s


def rdnor(prices: Sequence[float]) -> float | None:
    """RDNOR = (b_2 − b_1) / mean of the n−1 gaps between neighbouring bids.

    The neighbouring gaps sum to b_n − b_1, so RDNOR = (n − 1)(b_2 − b_1) / (b_n − b_1): 1 when
    the bids are evenly spaced, up to n − 1 when the losing bids coincide.
    """
    n = len(prices)
    if n < 3:
        return None
    b = sorted(prices)
    if b[-1] == b[0]:
        return None
    return (n - 1) * (b[1] - b[0]) / (b[-1] - b[0])


def ks_uniform(prices: Sequence[float]) -> float | None:
    """Kolmogorov–Smirnov D between the bids and the uniform distribution on [b_1, b_n].

    D = max over i of max(i/n − F(b_i), F(b_i) − (i−1)/n), F(x) = (x − b_1)/(b_n − b_1). The
    papers standardise the bids by their standard deviation first; over the bids' own range
    that changes nothing, because D does not depend on scale or location.
    """
    n = len(prices)
    if n < 2:
        return None
    b = sorted(prices)
    width = b[-1] - b[0]
    if width == 0:
        return None
    d = 0.0
    for i, x in enumerate(b, start=1):
        f = (x - b[0]) / width
        d = max(d, i / n - f, f - (i - 1) / n)
    return d


@dataclass(frozen=True)
class Screens:
    """Every screen of one tender; None where a screen is undefined for its bids."""

    n: int
    cv: float | None
    kurtosis: float | None
    skewness: float | None
    diffp: float | None
    spd: float | None
    rd: float | None
    rdnor: float | None
    ks: float | None

    def value(self, name: str) -> float | None:
        if name not in SCREEN_NAMES:
            raise KeyError(name)
        v: float | None = getattr(self, name)
        return v

    def to_dict(self) -> dict[str, float | int | None]:
        out: dict[str, float | int | None] = {"n": self.n}
        for name in SCREEN_NAMES:
            out[name] = self.value(name)
        return out


def compute_screens(prices: Sequence[float]) -> Screens:
    """All screens of one tender's valid bid prices (any order).

    The same formulas as the functions above, sharing one sort, one mean and one standard
    deviation (the simulator computes this tens of thousands of times).
    """
    b = sorted(float(p) for p in prices)
    n = len(b)
    if n < 2:
        return Screens(n, None, None, None, None, None, None, None, None)
    mean = _mean(b)
    s = _sample_sd(b, mean)
    low, high, gap = b[0], b[-1], b[1] - b[0]
    cv = s / mean if mean != 0 else None
    skew = kurt = None
    if s > 0 and n >= 3:
        z = [(x - mean) / s for x in b]
        skew = n / ((n - 1) * (n - 2)) * math.fsum(v**3 for v in z)
        if n >= 4:
            fourth = math.fsum(v**4 for v in z)
            kurt = n * (n + 1) / ((n - 1) * (n - 2) * (n - 3)) * fourth - 3 * (n - 1) ** 2 / (
                (n - 2) * (n - 3)
            )
    positive = low > 0
    return Screens(
        n=n,
        cv=cv,
        kurtosis=kurt,
        skewness=skew,
        diffp=gap / low if positive else None,
        spd=(high - low) / low if positive else None,
        rd=rd(b),
        rdnor=(n - 1) * gap / (high - low) if n >= 3 and high > low else None,
        ks=ks_uniform(b),
    )
