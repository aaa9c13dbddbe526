"""Refusals raised by the pure domain: a stable code and an English sentence."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation


class RuleError(Exception):
    """A rule of the procedure refuses this; ``code`` is stable, ``message`` explains.

    ``field``, when known, is the path of the input at fault inside the command's body
    (``method.criteria[1].max_points``), so a form can show the refusal beside that input."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.field = field

    def within(self, prefix: str) -> RuleError:
        """The same refusal, its field path put under ``prefix`` (``criteria[1]``)."""
        tail = self.field or ""
        path = prefix + ("" if not tail or tail.startswith("[") else ".") + tail
        return RuleError(self.code, self.message, path)


@contextmanager
def field_at(prefix: str) -> Iterator[None]:
    """Refusals raised inside name their field under ``prefix``."""
    try:
        yield
    except RuleError as exc:
        raise exc.within(prefix) from None


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
