"""The messages of ``/ws``: what a client sends (validated strictly) and what a server sends.

A client's frame is one of the pydantic models below, told apart by ``t``. The server's
frames are plain JSON objects; their shapes are written here as ``TypedDict``s so that the
hub, the SDK and the benchmarks agree on the members. ``docs/protocol.md`` describes both.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired, TypedDict

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

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
CLIENT_MESSAGES: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)

HEARTBEAT_FRAME = '{"t":"hb"}'


# -- the server's frames -----------------------------------------------------------------


class Welcome(TypedDict):
    t: Literal["welcome"]
    v: int
    user: str
    node: str
    conn: str
    heartbeat: float


class Ack(TypedDict):
    """A command committed (sent only after COMMIT); a retry with the same id gets it again."""

    t: Literal["ack"]
    id: str
    stream: str
    seq: int
    reply: NotRequired[dict[str, Any]]


class Error(TypedDict):
    """A refusal: ``code`` is stable (``wire.codes.ERROR_CODES``), ``message`` for people.
    ``id`` ties it to a command, ``stream`` to a subscription."""

    t: Literal["error"]
    code: str
    message: str
    retryable: bool
    detail: NotRequired[str]
    details: NotRequired[dict[str, Any]]  # {"field": "config.method.criteria[1].max_points"}
    id: NotRequired[str]
    stream: NotRequired[str]


class Event(TypedDict):
    t: Literal["event"]
    stream: str
    seq: int
    type: str
    actor: str
    at: str
    payload: Any
    visibility: str
    sig: str | None


class Subscribed(TypedDict):
    """The replay from ``after`` follows; ``head`` is the stream's last seq at that moment."""

    t: Literal["subscribed"]
    stream: str
    after: int
    head: int


class Unsubscribed(TypedDict):
    t: Literal["unsubscribed"]
    stream: str


class Live(TypedDict):
    """The replay is over: events after ``seq`` arrive as they are committed."""

    t: Literal["live"]
    stream: str
    seq: int


class Presence(TypedDict):
    t: Literal["presence"]
    stream: str
    members: list[dict[str, Any]]


ServerMessage = Welcome | Ack | Error | Event | Subscribed | Unsubscribed | Live | Presence


def command(
    id: str, stream: str, type_: str, body: dict[str, Any], sig: str | None = None
) -> dict[str, Any]:
    """A ``cmd`` frame as a dict, ready to be serialized."""
    msg: dict[str, Any] = {"t": "cmd", "v": 1, "id": id, "stream": stream, "type": type_}
    msg["body"] = body
    if sig is not None:
        msg["sig"] = sig
    return msg


def subscribe(stream: str, after: int = 0) -> dict[str, Any]:
    return {"t": "sub", "stream": stream, "after": after}
