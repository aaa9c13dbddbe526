"""The red-flag settings of a tender or the platform as one JSON object (``red_flags``): the
per-tender thresholds at its top level (:class:`~evalroom.domain.redflags.Thresholds`), and
the two families read from the platform's history under their own keys, ``history``
(:class:`~evalroom.domain.redflags.history.HistoryThresholds`) and ``experts``
(:class:`~evalroom.domain.redflags.experts.ExpertThresholds`). Each part is checked by its
own reader; anything not understood is ``invalid_config`` naming the key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evalroom.domain.redflags.experts import ExpertThresholds
from evalroom.domain.redflags.history import HistoryThresholds
from evalroom.domain.redflags.thresholds import Thresholds
from evalroom.domain.rules import RuleError

FAMILIES = ("history", "experts")


@dataclass(frozen=True)
class RedFlagSettings:
    tender: Thresholds
    history: HistoryThresholds
    experts: ExpertThresholds


def read_settings(raw: Any) -> RedFlagSettings:
    """Every family's thresholds from one ``red_flags`` object (None: the defaults)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise RuleError("invalid_config", "red_flags must be a JSON object")
    rest = {k: v for k, v in raw.items() if k not in FAMILIES}
    return RedFlagSettings(
        Thresholds.from_dict(rest),
        HistoryThresholds.from_dict(raw.get("history")),
        ExpertThresholds.from_dict(raw.get("experts")),
    )


def merge_settings(
    platform: Mapping[str, Any] | None, tender: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The tender's ``red_flags`` over the platform's: key by key, and within ``history`` and
    ``experts`` key by key too."""
    merged: dict[str, Any] = {**(platform or {})}
    for key, value in (tender or {}).items():
        if key in FAMILIES and isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged
