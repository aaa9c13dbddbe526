"""A tender's rules for bidding and opening (招标文件中的开标规则), as validated data.

JSON shape (``tender.create``'s or ``tender.configure``'s ``config``)::

    {
      "sections": [{"id": "S1", "name": "第一标段",
                    "control_price": {"limit": "1040000.00", "floor_ratio": "0.85"}}],
      "envelopes": ["technical", "commercial"],        # or ["single"]
      "opening_at": "2026-12-01T09:30:00+08:00",       # bid deadline = opening time
      "decryption_window_seconds": 1800,
      "min_bids": 3,
      "few_valid": "continue",                         # or "reject_all" (fewer than 3 valid)
      "failure_rule": "committee",                     # or "reject"
      "opening_recipient": "age1…",                    # made on the agency's machine
      "threshold": {"k": 2, "n": 3},
      "keyholders": ["user-a", "user-b", "user-c"],    # hold the n shares (开标密钥保管人)
      "max_bid_bytes": 1073741824,
      "forms": {"commercial": [{"name": "price", "type": "decimal", "required": true}, …],
                "technical": [{"name": "duration_days", "type": "int", "required": true}]}
    }

A section's ``floating_point`` (``{"choices": ["1.5", "1.25", …]}``, optional) is the set the
floating point (浮动点) is drawn from at the opening: the seed's commitment is published before
the priced read-out and the seed revealed after it (``opening.commit_floating_point``,
``opening.draw_floating_point``); the drawn value is in the signed record.

A section's ``control_price`` (最高投标限价, optional; see
:class:`evalroom.domain.method_rules.ControlPrice`) is published with the tender and applied at
the read-out: a bid above it is rejected (否决), one below its floor flagged for the 低于成本
review. ``few_valid`` is the tender's rule when fewer than :data:`MIN_COMPETITIVE` valid bids
remain after the preliminary review: the committee continues, or rejects every bid (否决所有投标).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from evalroom.domain.bidform import FormField, parse_fields
from evalroom.domain.method_rules import ControlPrice, FloatingPointSet
from evalroom.domain.redflags import Thresholds
from evalroom.domain.rules import RuleError, read_decimal

ENVELOPE_SETS = (("single",), ("technical", "commercial"))
FEW_VALID_RULES = ("continue", "reject_all")
MIN_COMPETITIVE = 3  # fewer valid bids than this: 缺乏竞争 (《评标委员会和评标方法暂行规定》第27条)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")


@dataclass(frozen=True)
class Section:
    id: str
    name: str
    control_price: ControlPrice | None = None  # 最高投标限价, public with the tender
    # 浮动点 drawn at the opening from this fixed set of percents (method rules in the session)
    floating_point: FloatingPointSet | None = None


@dataclass(frozen=True)
class TenderConfig:
    sections: tuple[Section, ...]
    envelopes: tuple[str, ...]
    opening_at: datetime
    decryption_window_seconds: int
    min_bids: int
    failure_rule: str
    opening_recipient: str
    k: int
    n: int
    keyholders: tuple[str, ...]
    max_bid_bytes: int
    forms: dict[str, tuple[FormField, ...]]
    few_valid: str = "continue"

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TenderConfig:
        try:
            return cls._parse(raw)
        except (KeyError, TypeError, ValueError) as exc:
            raise RuleError("invalid_config", f"tender config: {exc}") from None

    @classmethod
    def _parse(cls, raw: Mapping[str, Any]) -> TenderConfig:
        sections = tuple(
            Section(str(s["id"]), str(s["name"]), _control_price(s), _floating_point(s))
            for s in raw["sections"]
        )
        if not sections or any(not _ID.match(s.id) for s in sections):
            raise ValueError("sections need ids of letters, digits, . _ -")
        if len({s.id for s in sections}) != len(sections):
            raise ValueError("section ids repeat")
        envelopes = tuple(str(e) for e in raw.get("envelopes", ["single"]))
        if envelopes not in ENVELOPE_SETS:
            raise ValueError(f"envelopes must be one of {ENVELOPE_SETS}")
        opening_at = datetime.fromisoformat(str(raw["opening_at"]))
        if opening_at.tzinfo is None:
            raise ValueError("opening_at needs a time zone")
        threshold = raw.get("threshold", {"k": 2, "n": 3})
        k, n = int(threshold["k"]), int(threshold["n"])
        keyholders = tuple(str(u) for u in raw.get("keyholders", []))
        failure_rule = str(raw.get("failure_rule", "committee"))
        if failure_rule not in ("committee", "reject"):
            raise ValueError("failure_rule is committee or reject")
        if failure_rule == "committee" and not (2 <= k <= n == len(keyholders)):
            raise ValueError("committee fallback needs 2 <= k <= n keyholders")
        recipient = str(raw["opening_recipient"])
        if not recipient.startswith("age1"):
            raise ValueError("opening_recipient must be an age recipient (age1…)")
        forms = {env: parse_fields(raw.get("forms", {}).get(env, [])) for env in envelopes}
        priced = "single" if envelopes == ("single",) else "commercial"
        if not any(f.name == "price" for f in forms[priced]):
            raise ValueError(f"the {priced} envelope's form needs a price field")
        few_valid = str(raw.get("few_valid", "continue"))
        if few_valid not in FEW_VALID_RULES:
            raise ValueError("few_valid is continue or reject_all")
        _red_flags(raw.get("red_flags"))
        window = int(raw.get("decryption_window_seconds", 1800))
        min_bids = int(raw.get("min_bids", 3))
        max_bytes = int(raw.get("max_bid_bytes", 1 << 30))
        if window <= 0 or min_bids < 1 or max_bytes <= 0:
            raise ValueError("window, min_bids and max_bid_bytes must be positive")
        return cls(
            sections,
            envelopes,
            opening_at,
            window,
            min_bids,
            failure_rule,
            recipient,
            k,
            n,
            keyholders,
            max_bytes,
            forms,
            few_valid,
        )

    def sections_public(self) -> list[dict[str, Any]]:
        """The sections as published with the tender, each with its control price if any."""
        return [
            {"id": s.id, "name": s.name}
            | ({} if s.control_price is None else {"control_price": s.control_price.to_dict()})
            | ({} if s.floating_point is None else {"floating_point": s.floating_point.to_dict()})
            for s in self.sections
        ]

    @property
    def priced_envelope(self) -> str:
        return "single" if self.envelopes == ("single",) else "commercial"

    def section(self, section_id: str) -> Section:
        for s in self.sections:
            if s.id == section_id:
                return s
        raise RuleError("unknown_section", f"no section {section_id!r}")

    def envelope(self, name: str) -> str:
        if name not in self.envelopes:
            raise RuleError("unknown_envelope", f"envelopes are {', '.join(self.envelopes)}")
        return name


def _control_price(section: Mapping[str, Any]) -> ControlPrice | None:
    """A section's control price, its errors naming the section and the field."""
    raw = section.get("control_price")
    if raw is None:
        return None
    try:
        return ControlPrice.from_dict(raw)
    except RuleError as exc:
        raise ValueError(f"section {section.get('id')}: {exc.message}") from None


def _floating_point(section: Mapping[str, Any]) -> FloatingPointSet | None:
    """A section's set of floating points drawn at the opening: ``{"choices": ["1.5", …]}``."""
    raw = section.get("floating_point")
    if raw is None:
        return None
    if (
        not isinstance(raw, Mapping)
        or set(raw) != {"choices"}
        or not isinstance(raw["choices"], list)
    ):
        raise ValueError(f"section {section.get('id')}: floating_point is {{choices: [...]}}")
    try:
        return FloatingPointSet(
            tuple(read_decimal(c, "floating_point.choices[]") for c in raw["choices"])
        )
    except RuleError as exc:
        raise ValueError(f"section {section.get('id')}: {exc.message}") from None
def _red_flags(raw: Any) -> None:
    """red flags: the tender's own thresholds (optional, never published with the tender),
    checked when the tender is configured; an error names the field."""
    if raw is None:
        return
    try:
        Thresholds.from_dict(raw)
    except RuleError as exc:
        raise ValueError(f"red_flags: {exc.message}") from None


def few_valid_outcome(rule: str, valid: int) -> str | None:
    """The tender's rule once the committee knows how many bids remain valid: None with
    :data:`MIN_COMPETITIVE` or more, else ``continue`` or ``reject_all`` (否决所有投标)."""
    if valid >= MIN_COMPETITIVE:
        return None
    if rule not in FEW_VALID_RULES:
        raise RuleError("invalid_config", f"few_valid is continue or reject_all, not {rule!r}")
    return rule
