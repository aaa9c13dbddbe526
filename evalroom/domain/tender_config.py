"""A tender's rules for bidding and opening (招标文件中的开标规则), as validated data.

JSON shape (``tender.create``'s or ``tender.configure``'s ``config``)::

    {
      "sections": [{"id": "S1", "name": "第一标段"}],
      "envelopes": ["technical", "commercial"],        # or ["single"]
      "opening_at": "2026-12-01T09:30:00+08:00",       # bid deadline = opening time
      "decryption_window_seconds": 1800,
      "min_bids": 3,
      "failure_rule": "committee",                     # or "reject"
      "opening_recipient": "age1…",                    # made on the agency's machine
      "threshold": {"k": 2, "n": 3},
      "keyholders": ["user-a", "user-b", "user-c"],    # hold the n shares (开标密钥保管人)
      "max_bid_bytes": 1073741824,
      "forms": {"commercial": [{"name": "price", "type": "decimal", "required": true}, …],
                "technical": [{"name": "duration_days", "type": "int", "required": true}]}
    }
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from evalroom.domain.bidform import FormField, parse_fields
from evalroom.domain.rules import RuleError

ENVELOPE_SETS = (("single",), ("technical", "commercial"))
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")


@dataclass(frozen=True)
class Section:
    id: str
    name: str


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

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TenderConfig:
        try:
            return cls._parse(raw)
        except (KeyError, TypeError, ValueError) as exc:
            raise RuleError("invalid_config", f"tender config: {exc}") from None

    @classmethod
    def _parse(cls, raw: Mapping[str, Any]) -> TenderConfig:
        sections = tuple(Section(str(s["id"]), str(s["name"])) for s in raw["sections"])
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
        )

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
