"""Parsing a client's ``/ws`` frame into one of ``wire.messages``' models, or a ``Refusal``.

The messages themselves (both directions) and the protocol's constants are in the pure
``wire`` package, which clients import too; ``docs/protocol.md`` describes them.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from evalroom.bounds import decode_json
from evalroom.errors import Refusal
from wire.codes import PROTOCOL_VERSION
from wire.messages import (
    CLIENT_MESSAGES,
    ClientMessage,
    CommandMsg,
    HeartbeatMsg,
    PresenceMsg,
    SubscribeMsg,
    UnsubscribeMsg,
)

__all__ = [
    "PROTOCOL_VERSION",
    "ClientMessage",
    "CommandMsg",
    "HeartbeatMsg",
    "PresenceMsg",
    "SubscribeMsg",
    "UnsubscribeMsg",
    "client_message",
    "parse_client_message",
    "ref_of",
    "ref_of_prefix",
]

_ADAPTER = CLIENT_MESSAGES


def parse_client_message(data: str | bytes) -> ClientMessage:
    """Parse one frame; raise ``Refusal`` with ``malformed``, ``too_large``, ``unknown_type``,
    ``unsupported_version`` or ``invalid``. The frame's size in bytes is checked by the caller;
    every other bound (``evalroom.bounds``) before the schema sees the frame."""
    return client_message(decode_json(data))


def client_message(value: Any) -> ClientMessage:
    """Validate a decoded, bounded frame against the protocol's messages."""
    try:
        return _ADAPTER.validate_python(value)
    except ValidationError as exc:
        err = exc.errors()[0]
        kind = err.get("type", "")
        if kind in ("model_type", "model_attributes_type", "dict_type"):
            raise Refusal("malformed", err.get("msg", "")) from None
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            raise Refusal("unknown_type", err.get("msg", "")) from None
        where = ".".join(str(p) for p in err.get("loc", ()))
        if where.endswith("v") or where == "cmd.v":
            raise Refusal("unsupported_version", "this node speaks protocol version 1") from None
        raise Refusal("invalid", f"{where}: {err.get('msg', '')}") from None


def ref_of(value: Any) -> str | None:
    """The ``id`` of a decoded frame we could not validate, to tie the error to it."""
    if isinstance(value, dict):
        ref = value.get("id")
        if isinstance(ref, str) and _REF.fullmatch(ref):
            return ref
    return None


# The top-level ``id`` of a frame too large to decode: only simple members may come first,
# so an ``id`` inside ``body`` is never taken for the frame's.
_SIMPLE = r'"[A-Za-z_]{1,16}"\s*:\s*(?:"[^"\\]{0,80}"|-?\d{1,16}|true|false|null)\s*,\s*'
_LEADING_ID = re.compile(r"\A\s*\{\s*(?:" + _SIMPLE + r')*?"id"\s*:\s*"([A-Za-z0-9._:-]{1,64})"')
_REF = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def ref_of_prefix(data: str | bytes) -> str | None:
    """Best effort, without decoding: the ``id`` near the start of an oversized frame."""
    head = data[:512]
    text = head.decode("utf-8", "replace") if isinstance(head, bytes) else head
    found = _LEADING_ID.match(text)
    return found.group(1) if found else None
