"""Messages a client may send on ``/ws`` (protocol version 1), validated strictly.

Server messages are built where they are sent; ``docs/protocol.md`` lists both directions.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from evalroom.bounds import decode_json
from evalroom.errors import Refusal

PROTOCOL_VERSION = 1

ClientId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
StreamName = Annotated[str, Field(min_length=1, max_length=80)]


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class CommandMsg(_Msg):
    t: Literal["cmd"]
    v: Literal[1] = 1
    id: ClientId
    stream: StreamName
    type: Annotated[str, Field(min_length=1, max_length=64)]
    body: dict[str, Any] = Field(default_factory=dict)
    sig: Annotated[str, Field(max_length=200)] | None = None


class SubscribeMsg(_Msg):
    t: Literal["sub"]
    stream: StreamName
    after: Annotated[int, Field(ge=0)] = 0


class UnsubscribeMsg(_Msg):
    t: Literal["unsub"]
    stream: StreamName


class HeartbeatMsg(_Msg):
    t: Literal["hb"]


class PresenceMsg(_Msg):
    t: Literal["presence"]
    stream: StreamName


ClientMessage = Annotated[
    CommandMsg | SubscribeMsg | UnsubscribeMsg | HeartbeatMsg | PresenceMsg,
    Field(discriminator="t"),
]
_ADAPTER: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


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
