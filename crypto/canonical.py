"""Canonical JSON (RFC 8785, JCS): the bytes every signature and Merkle leaf is taken over."""

from __future__ import annotations

from typing import Any

import rfc8785


def canonical_json(value: Any) -> bytes:
    """Serialize ``value`` as RFC 8785 canonical JSON (UTF-8 bytes)."""
    return rfc8785.dumps(value)
