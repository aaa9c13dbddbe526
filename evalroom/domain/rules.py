"""Refusals raised by the pure domain: a stable code and an English sentence."""

from __future__ import annotations


class RuleError(Exception):
    """A rule of the procedure refuses this; ``code`` is stable, ``message`` explains."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
