"""Refusals raised by the pure domain: a stable code and an English sentence."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


class RuleError(Exception):
    """A rule of the procedure refuses this; ``code`` is stable, ``message`` explains."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def read_decimal(value: object, where: str, code: str = "invalid_rule") -> Decimal:
    """A finite decimal from a JSON string or integer; floats are refused (they are not exact)."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise RuleError(code, f'{where} must be a decimal written as a string, e.g. "0.97"')
    try:
        d = Decimal(value)
    except InvalidOperation:
        raise RuleError(code, f"{where} is not a number: {value!r}") from None
    if not d.is_finite():
        raise RuleError(code, f"{where} must be finite")
    return d
