"""Thresholds for the price red flags, as data (预警阈值).

A tender's configuration or the platform's can override any of them with a plain JSON object::

    {"control_margin": "0.005", "rd_min": 1.5, "screens_votes": 4}

Numbers may be JSON numbers or decimal strings; counts are integers. An unknown key, a wrong
type or a value out of range is refused with ``invalid_config``. Every default and why it is
what it is stands in docs/red-flags.md; the screen thresholds and ``screens_votes`` were
calibrated on the market simulator (``bench/bench_redflags.py --calibrate``) and are
evaluated there on tenders the calibration never saw.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from evalroom.domain.rules import RuleError

__all__ = ["SCREEN_DIRECTIONS", "Thresholds"]

# For each screen: its threshold's field and whether collusion pushes the screen "up" (flag at
# or above the threshold) or "down" (flag at or below).
SCREEN_DIRECTIONS: dict[str, tuple[str, str]] = {
    "cv": ("cv_max", "down"),
    "kurtosis": ("kurtosis_min", "up"),
    "skewness": ("skewness_max", "down"),
    "diffp": ("diffp_min", "up"),
    "spd": ("spd_max", "down"),
    "rd": ("rd_min", "up"),
    "rdnor": ("rdnor_min", "up"),
    "ks": ("ks_min", "up"),
}

_COUNTS = frozenset(
    {
        "series_min_bids",
        "ratio_min_fields",
        "r035_min_disqualified",
        "screens_min_bids",
        "screens_votes",
    }
)
_FRACTIONS = frozenset({"series_tolerance", "control_margin", "ratio_tolerance", "r024_fence"})
# red flags: identity and documents (identity.py, documents.py)
_EVIDENCE_COUNTS = frozenset(
    {"file_min_bytes", "shingle_chars", "text_min_shingles", "passages_shown", "passage_chars"}
)
_EVIDENCE_LISTS = frozenset(
    {"machine_kinds", "ip_ignore", "person_fields", "phone_fields", "metadata_ignore"}
)
METADATA_DEFAULT_IGNORE = (
    "administrator",
    "admin",
    "user",
    "owner",
    "微软用户",
    "微软中国",
    "microsoft",
    "microsoft office user",
    "unknown",
    "normal.dotm",
    "normal.dot",
    "normal.wpt",
    "normal",
    "untitled",
    "anonymous",
)


@dataclass(frozen=True)
class Thresholds:
    """Every threshold the price checks use; the defaults are documented in docs/red-flags.md."""

    # Rule checks.
    series_min_bids: int = 3  # bids in an arithmetic or geometric run
    series_tolerance: float = 1e-6  # step equality, as a fraction of the mean price (or ratio)
    control_margin: float = 0.01  # "just under the control price": within 1% below it
    ratio_tolerance: float = 1e-4  # ratios to the control figures agree within this
    ratio_min_fields: int = 2  # fields with a control figure needed for the ratio check
    r024_fence: float = 0.001  # R024: (b2 - b1) / b1 at or below this (0.1%)
    r058_fence: float = 0.5  # R058: (b2 - b1) / b1 at or above this (50%)
    r035_min_disqualified: int = 1  # R035: at least this many other bids disqualified
    # Screens, calibrated on the simulator; see docs/red-flags.md.
    cv_max: float = 0.045
    kurtosis_min: float = 1.6
    skewness_max: float = -0.7
    diffp_min: float = 0.075
    spd_max: float = 0.13
    rd_min: float = 1.45
    rdnor_min: float = 2.3
    ks_min: float = 0.4
    screens_min_bids: int = 4  # screens are computed from this many valid bids up
    screens_votes: int = 3  # the combination flags when this many of the used screens cross
    screens_used: tuple[str, ...] = ("cv", "spd", "rd", "rdnor")  # the screens that vote
    # red flags: identity and documents (identity.py, documents.py; docs/red-flags.md)
    machine_kinds: tuple[str, ...] = ("machine_id", "mac", "disk_serial", "hostname", "install_id")
    # Addresses that identify no bidder: loopback (a local proxy whose X-Forwarded-For the node
    # does not trust); add ones shared by design (a trading centre's own bidding hall).
    ip_ignore: tuple[str, ...] = ("127.0.0.1", "::1")
    person_fields: tuple[str, ...] = ("project_manager", "contact")  # names, compared normalised
    phone_fields: tuple[str, ...] = ("project_manager_phone", "contact_phone")
    file_min_bytes: int = 1024  # identical files smaller than this are not flagged
    metadata_ignore: tuple[str, ...] = METADATA_DEFAULT_IGNORE  # defaults that identify nobody
    shingle_chars: int = 10  # a shingle: 10 letters, digits or ideographs in a row
    text_min_shingles: int = 200  # shorter texts are not compared
    text_similarity_min: float = 0.5  # Jaccard similarity of shingle sets at or above this
    passages_shown: int = 3  # the longest shared passages shown as evidence
    passage_chars: int = 120  # each trimmed to this many characters
    # The tender's sums: {total field: [component fields]} (e.g. price = labour + material);
    # none by default, since only the tender knows which fields add up.
    form_sums: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> Thresholds:
        """Defaults overridden by ``raw``; ``invalid_config`` for anything not understood."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise RuleError("invalid_config", "red-flag thresholds must be a JSON object")
        known = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key not in known:
                raise RuleError("invalid_config", f"unknown red-flag threshold {key!r}")
            if key == "screens_used":
                values[key] = _names(value)
            elif key in _EVIDENCE_LISTS:
                values[key] = _texts(key, value)
            elif key == "form_sums":
                values[key] = _sums(value)
            elif key in _COUNTS or key in _EVIDENCE_COUNTS:
                values[key] = _count(key, value)
            else:
                values[key] = _number(key, value)
        made = cls(**values)
        made._check()
        return made

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["screens_used"] = list(self.screens_used)
        for key in _EVIDENCE_LISTS:
            out[key] = list(out[key])
        out["form_sums"] = {total: list(parts) for total, parts in self.form_sums}
        return out

    def _check(self) -> None:
        if self.series_min_bids < 3:
            raise RuleError("invalid_config", "series_min_bids must be at least 3")
        if self.ratio_min_fields < 1 or self.r035_min_disqualified < 1:
            raise RuleError("invalid_config", "ratio_min_fields and r035_min_disqualified ≥ 1")
        if self.screens_min_bids < 4:
            raise RuleError("invalid_config", "screens_min_bids must be at least 4")
        if not 1 <= self.screens_votes <= len(self.screens_used):
            raise RuleError(
                "invalid_config", "screens_votes must be between 1 and the number of screens used"
            )
        if self.r058_fence <= 0:
            raise RuleError("invalid_config", "r058_fence must be positive")
        for key in _FRACTIONS:
            if not 0 <= getattr(self, key) < 1:
                raise RuleError("invalid_config", f"{key} must be in [0, 1)")
        self._check_evidence()

    def _check_evidence(self) -> None:
        """red flags: identity and documents."""
        from evalroom.domain.redflags.identity import MACHINE_KINDS

        if not set(self.machine_kinds) <= set(MACHINE_KINDS):
            raise RuleError("invalid_config", f"machine_kinds must be among {list(MACHINE_KINDS)}")
        if self.file_min_bytes < 0 or self.shingle_chars < 1 or self.text_min_shingles < 1:
            raise RuleError(
                "invalid_config", "file_min_bytes ≥ 0, shingle_chars ≥ 1, text_min_shingles ≥ 1"
            )
        if not 0 < self.text_similarity_min <= 1:
            raise RuleError("invalid_config", "text_similarity_min must be in (0, 1]")
        if self.passages_shown < 0 or self.passage_chars < 10:
            raise RuleError("invalid_config", "passages_shown ≥ 0, passage_chars ≥ 10")


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise RuleError("invalid_config", "screens_used must be a list of screen names")
    names = tuple(str(v) for v in value)
    unknown = [v for v in names if v not in SCREEN_DIRECTIONS]
    if unknown or not names or len(set(names)) != len(names):
        raise RuleError(
            "invalid_config",
            f"screens_used must name distinct screens of {list(SCREEN_DIRECTIONS)}",
        )
    return names


def _texts(key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise RuleError("invalid_config", f"{key} must be a list of strings")
    if not all(isinstance(v, str) and len(v) <= 200 for v in value) or len(value) > 500:
        raise RuleError("invalid_config", f"{key} must be at most 500 strings of 200 characters")
    return tuple(value)


def _sums(value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, Mapping) or len(value) > 100:
        raise RuleError("invalid_config", "form_sums must map a total field to its components")
    sums = []
    for total, parts in value.items():
        names = _texts("form_sums", parts)
        if not names or total in names:
            raise RuleError("invalid_config", f"form_sums[{total!r}] must list other fields")
        sums.append((str(total), names))
    return tuple(sums)


def _count(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RuleError("invalid_config", f"{key} must be an integer")
    return value


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise RuleError("invalid_config", f"{key} must be a number or a decimal string")
    try:
        number = float(Decimal(value)) if isinstance(value, str) else float(value)
    except InvalidOperation:
        raise RuleError("invalid_config", f"{key} is not a decimal: {value!r}") from None
    if not math.isfinite(number):
        raise RuleError("invalid_config", f"{key} must be finite")
    return number


def numeric_overrides(cls: type, raw: Mapping[str, Any], what: str) -> dict[str, Any]:
    """The fields of the dataclass ``cls`` that ``raw`` overrides, each a number (an integer
    where the field is one); ``invalid_config`` naming the key for anything else. ``what``
    names the family in the sentence ("history", "expert")."""
    if not isinstance(raw, Mapping):
        raise RuleError("invalid_config", f"{what} red-flag thresholds must be an object")
    known = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise RuleError("invalid_config", f"unknown {what} red-flag threshold {key!r}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RuleError("invalid_config", f"{key} must be a number")
        if known[key].type == "int" and not isinstance(value, int):
            raise RuleError("invalid_config", f"{key} must be an integer")
        values[key] = value
    return values
