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
                "technical": [{"name": "duration_days", "type": "int", "required": true}]},
      "method": {"kind": "comprehensive", "criteria": […], …}   # optional: 评标办法
    }

``method`` (optional) is the scoring method as :meth:`ScoringMethod.from_dict` reads it,
published with the tender (the tender documents state it before anyone bids). A refusal is
``invalid_config`` whose ``field`` is the path of the value at fault, e.g.
``method.criteria[1].max_points`` (:class:`evalroom.domain.rules.RuleError`).

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from evalroom.domain.bidform import FormField, parse_fields
from evalroom.domain.method_rules import ControlPrice, FloatingPointSet
from evalroom.domain.redflags.families import read_settings
from evalroom.domain.rules import RuleError, field_at, read_decimal
from evalroom.domain.scoring import ScoringMethod

ENVELOPE_SETS = (("single",), ("technical", "commercial"))
FEW_VALID_RULES = ("continue", "reject_all")
MIN_COMPETITIVE = 3  # fewer valid bids than this: 缺乏竞争 (《评标委员会和评标方法暂行规定》第27条)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
_T = TypeVar("_T")


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
    method: ScoringMethod | None = None  # 评标办法, published with the tender when stated

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TenderConfig:
        """The rules, or ``invalid_config`` whose ``field`` names the input at fault
        (``opening_at``, ``sections[0].control_price.limit``, ``method.criteria[1].max_points``)."""
        if not isinstance(raw, Mapping):
            raise RuleError("invalid_config", "tender config: the rules must be an object")
        try:
            return cls._parse(raw)
        except RuleError as exc:
            message = f"tender config: {exc.field + ': ' if exc.field else ''}{exc.message}"
            raise RuleError("invalid_config", message, exc.field) from None

    @classmethod
    def _parse(cls, raw: Mapping[str, Any]) -> TenderConfig:
        sections = _read(raw, "sections", _sections)
        envelopes = _read(raw, "envelopes", lambda v: tuple(str(e) for e in v), ["single"])
        if envelopes not in ENVELOPE_SETS:
            raise _bad("envelopes", f"envelopes must be one of {ENVELOPE_SETS}")
        opening_at = _read(raw, "opening_at", lambda v: datetime.fromisoformat(str(v)))
        if opening_at.tzinfo is None:
            raise _bad("opening_at", "opening_at needs a time zone")
        threshold = _read(raw, "threshold", _threshold, {"k": 2, "n": 3})
        k, n = threshold
        keyholders = _read(raw, "keyholders", lambda v: tuple(str(u) for u in v), [])
        failure_rule = _read(raw, "failure_rule", str, "committee")
        if failure_rule not in ("committee", "reject"):
            raise _bad("failure_rule", "failure_rule is committee or reject")
        if failure_rule == "committee" and not 2 <= k <= n:
            raise _bad("threshold.k", "committee fallback needs 2 <= k <= n")
        if failure_rule == "committee" and n != len(keyholders):
            raise _bad("keyholders", f"committee fallback needs n = {n} keyholders")
        if len(set(keyholders)) != len(keyholders):
            raise _bad("keyholders", "a keyholder is named twice")
        recipient = _read(raw, "opening_recipient", str)
        if not recipient.startswith("age1"):
            raise _bad("opening_recipient", "opening_recipient must be an age recipient (age1…)")
        forms_raw = _read(raw, "forms", dict, {})
        forms = {}
        for env in envelopes:
            with field_at(f"forms.{env}"):
                forms[env] = _read(forms_raw, env, parse_fields, [])
        priced = "single" if envelopes == ("single",) else "commercial"
        if not any(f.name == "price" for f in forms[priced]):
            raise _bad(f"forms.{priced}", f"the {priced} envelope's form needs a price field")
        few_valid = _read(raw, "few_valid", str, "continue")
        if few_valid not in FEW_VALID_RULES:
            raise _bad("few_valid", "few_valid is continue or reject_all")
        _read(raw, "red_flags", _red_flags, None)
        window = _read(raw, "decryption_window_seconds", int, 1800)
        min_bids = _read(raw, "min_bids", int, 3)
        max_bytes = _read(raw, "max_bid_bytes", int, 1 << 30)
        for key, value in (
            ("decryption_window_seconds", window),
            ("min_bids", min_bids),
            ("max_bid_bytes", max_bytes),
        ):
            if value <= 0:
                raise _bad(key, f"{key} must be positive")
        method = None
        if raw.get("method") is not None:
            with field_at("method"):
                method = ScoringMethod.from_dict(raw["method"])
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
            method,
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


def _bad(field: str, message: str) -> RuleError:
    return RuleError("invalid_config", message, field)


def _read(raw: Mapping[str, Any], key: str, convert: Callable[[Any], _T], *default: Any) -> _T:
    """``convert(raw[key])`` (or of the default); any failure names ``key`` as the field."""
    if key not in raw and not default:
        raise _bad(key, f"{key} is missing")
    with field_at(key):
        try:
            return convert(raw[key] if key in raw else default[0])
        except RuleError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RuleError("invalid_config", f"{key}: {exc}") from None


def _sections(value: Any) -> tuple[Section, ...]:
    if not isinstance(value, list) or not value:
        raise RuleError("invalid_config", "sections must list at least one section")
    sections = []
    for i, s in enumerate(value):
        with field_at(f"[{i}]"):
            if not isinstance(s, Mapping):
                raise RuleError("invalid_config", "a section must be an object")
            sid, name = _read(s, "id", str), _read(s, "name", str)
            if not _ID.match(sid):
                raise _bad("id", "a section id is letters, digits, . _ - (at most 32)")
            with field_at("control_price"):
                control = _control_price(s.get("control_price"), sid)
            with field_at("floating_point"):
                floating = _floating_point(s.get("floating_point"), sid)
            sections.append(Section(sid, name, control, floating))
    if len({s.id for s in sections}) != len(sections):
        raise _bad(f"[{len(sections) - 1}].id", "section ids repeat")
    return tuple(sections)


def _threshold(value: Any) -> tuple[int, int]:
    if not isinstance(value, Mapping):
        raise RuleError("invalid_config", "threshold is {k, n}")
    return _read(value, "k", int), _read(value, "n", int)


def _control_price(raw: Any, section: str) -> ControlPrice | None:
    """A section's control price (最高投标限价), its errors naming the field."""
    if raw is None:
        return None
    try:
        return ControlPrice.from_dict(raw)
    except RuleError as exc:
        where = next((k for k in ("floor_ratio", "floor", "limit") if k in exc.message), None)
        message = f"section {section}: {exc.message}"
        raise RuleError("invalid_config", message, exc.field or where) from None


def _floating_point(raw: Any, section: str) -> FloatingPointSet | None:
    """A section's set of floating points drawn at the opening: ``{"choices": ["1.5", …]}``."""
    if raw is None:
        return None
    if (
        not isinstance(raw, Mapping)
        or set(raw) != {"choices"}
        or not isinstance(raw["choices"], list)
    ):
        raise RuleError(
            "invalid_config", f"section {section}: floating_point is {{choices: [...]}}"
        )
    choices = []
    for i, c in enumerate(raw["choices"]):
        with field_at(f"choices[{i}]"):
            choices.append(read_decimal(c, "floating_point.choices[]", "invalid_config"))
    try:
        return FloatingPointSet(tuple(choices))
    except RuleError as exc:
        raise RuleError("invalid_config", f"section {section}: {exc.message}", "choices") from None


def _red_flags(raw: Any) -> None:
    """red flags: the tender's own thresholds (optional, never published with the tender),
    checked when the tender is configured; an error names the field."""
    if raw is None:
        return
    try:
        read_settings(raw)
    except RuleError as exc:
        raise RuleError("invalid_config", exc.message) from None


def few_valid_outcome(rule: str, valid: int) -> str | None:
    """The tender's rule once the committee knows how many bids remain valid: None with
    :data:`MIN_COMPETITIVE` or more, else ``continue`` or ``reject_all`` (否决所有投标)."""
    if valid >= MIN_COMPETITIVE:
        return None
    if rule not in FEW_VALID_RULES:
        raise RuleError("invalid_config", f"few_valid is continue or reject_all, not {rule!r}")
    return rule
