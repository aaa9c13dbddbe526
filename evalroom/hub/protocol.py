"""Messages a client may send on ``/ws`` (protocol version 1), validated strictly.

Server messages are built where they are sent; ``docs/protocol.md`` lists both directions.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from evalroom.errors import Refusal

PROTOCOL_VERSION = 1

ClientId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
StreamName = Annotated[str, Field(min_length=1, max_length=80)]


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    """Parse one frame; raise ``Refusal`` with ``malformed``, ``unknown_type`` or ``invalid``."""
    try:
        return _ADAPTER.validate_json(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        kind = err.get("type", "")
        if kind in ("json_invalid", "json_type", "model_type", "model_attributes_type"):
            raise Refusal("malformed", err.get("msg", "")) from None
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            raise Refusal("unknown_type", err.get("msg", "")) from None
        where = ".".join(str(p) for p in err.get("loc", ()))
        if where.endswith("v") or where == "cmd.v":
            raise Refusal("unsupported_version", "this node speaks protocol version 1") from None
        raise Refusal("invalid", f"{where}: {err.get('msg', '')}") from None


def ref_of(data: str | bytes) -> str | None:
    """Best effort: the ``id`` of a frame we could not validate, to tie the error to it."""
    import json

    try:
        value = json.loads(data)
    except ValueError:
        return None
    if isinstance(value, dict):
        ref = value.get("id")
        if isinstance(ref, str) and len(ref) <= 64:
            return ref
    return None
