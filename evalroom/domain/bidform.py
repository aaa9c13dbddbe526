"""The machine-readable bid form (投标函 / 开标一览表) inside every envelope's package.

A tender lists the fields each envelope's form must carry; the read-out (唱标) and price
scoring take their figures from the form, never from free text. Values are JSON strings for
decimals (no floats), integers, or text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from evalroom.domain.rules import RuleError

FIELD_TYPES = ("decimal", "int", "text")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_DECIMAL = re.compile(r"^-?\d{1,15}(\.\d{1,4})?$")


@dataclass(frozen=True)
class FormField:
    name: str
    type: str
    required: bool = True
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "label": self.label,
        }


def parse_fields(raw: Sequence[Mapping[str, Any]]) -> tuple[FormField, ...]:
    fields = []
    for item in raw:
        f = FormField(
            str(item["name"]),
            str(item.get("type", "text")),
            bool(item.get("required", True)),
            str(item.get("label", "")),
        )
        if not _NAME.match(f.name) or f.type not in FIELD_TYPES:
            raise ValueError(f"form field {f.name!r} of type {f.type!r} is not allowed")
        fields.append(f)
    if len({f.name for f in fields}) != len(fields):
        raise ValueError("form field names repeat")
    return tuple(fields)


def validate_form(fields: Sequence[FormField], values: Any) -> dict[str, Any]:
    """The form's values, checked against the tender's fields; ``invalid_form`` otherwise."""
    if not isinstance(values, dict):
        raise RuleError("invalid_form", "the bid form is not a JSON object")
    known = {f.name for f in fields}
    extra = sorted(set(values) - known)
    if extra:
        raise RuleError("invalid_form", f"unknown fields: {', '.join(extra)}")
    clean: dict[str, Any] = {}
    for f in fields:
        if f.name not in values:
            if f.required:
                raise RuleError("invalid_form", f"missing field {f.name}")
            continue
        clean[f.name] = _check(f, values[f.name])
    return clean


def _check(f: FormField, value: Any) -> Any:
    if f.type == "decimal":
        if not isinstance(value, str) or not _DECIMAL.match(value):
            raise RuleError("invalid_form", f'{f.name} must be a decimal string like "1234.50"')
        try:
            if Decimal(value) < 0:
                raise RuleError("invalid_form", f"{f.name} must not be negative")
        except InvalidOperation:
            raise RuleError("invalid_form", f"{f.name} is not a number") from None
        return value
    if f.type == "int":
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 10**12:
            raise RuleError("invalid_form", f"{f.name} must be a non-negative integer")
        return value
    if not isinstance(value, str) or len(value) > 2000:
        raise RuleError("invalid_form", f"{f.name} must be text of at most 2000 characters")
    return value
