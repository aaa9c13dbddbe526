"""The client's side of ``/ws`` without I/O, in the manner of a Sans-I/O protocol.

``ClientProtocol`` is fed what the client sends (``command``, ``subscribe``...) and the frames
it receives (``receive``); it answers with values: the frames to send, and the events the
received frames mean. It keeps the protocol's state and nothing else:

- the commands sent but not yet answered, by their client-chosen id (sent again with the same
  id after a reconnect: the server answers a retry with the first ack, so each applies once);
- for each subscribed stream, the last seq delivered (a reconnect resubscribes ``after`` it,
  so nothing is lost or repeated) and whether its replay is over (``live``);
- which close codes call for a reconnect.

The caller owns the sockets, the timers and the futures; tests drive it with plain values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wire.batch import frames
from wire.codes import RECONNECT_CLOSES, CloseCode
from wire.messages import subscribe as subscribe_frame


@dataclass(frozen=True)
class Welcomed:
    """The server's first frame on a new socket."""

    message: dict[str, Any]


@dataclass(frozen=True)
class Answered:
    """A pending command was acknowledged (``error`` is None) or refused."""

    id: str
    message: dict[str, Any]
    error: dict[str, Any] | None = None


@dataclass(frozen=True)
class Delivered:
    """An event the caller has not seen before, in seq order."""

    stream: str
    seq: int
    message: dict[str, Any]


@dataclass(frozen=True)
class Subscribed:
    stream: str
    head: int


@dataclass(frozen=True)
class SubscriptionRefused:
    stream: str
    error: dict[str, Any]


@dataclass(frozen=True)
class WentLive:
    stream: str
    seq: int


@dataclass(frozen=True)
class PresenceChanged:
    stream: str
    members: list[dict[str, Any]]


@dataclass(frozen=True)
class Unanswered:
    """An error tied to no pending command and no subscription."""

    message: dict[str, Any]


ProtocolEvent = (
    Welcomed
    | Answered
    | Delivered
    | Subscribed
    | SubscriptionRefused
    | WentLive
    | PresenceChanged
    | Unanswered
)


@dataclass
class Cursor:
    """Where one subscribed stream stands."""

    last_seq: int
    head_at_subscribe: int = 0
    live: bool = False
    live_seq: int = 0


@dataclass
class ClientProtocol:
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)
    cursors: dict[str, Cursor] = field(default_factory=dict)

    # -- what the client sends -----------------------------------------------------------
    def command(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Remember a ``cmd`` frame until it is answered; return it, to be sent."""
        self.pending[msg["id"]] = msg
        return msg

    def forget(self, id: str) -> None:
        """The caller gave up waiting for ``id``: do not send it again."""
        self.pending.pop(id, None)

    def subscribe(self, stream: str, after: int = 0) -> dict[str, Any]:
        """Follow ``stream`` from after seq ``after``; return the ``sub`` frame to send."""
        self.cursors[stream] = Cursor(after)
        return subscribe_frame(stream, after)

    def unsubscribe(self, stream: str) -> None:
        self.cursors.pop(stream, None)

    # -- a new socket --------------------------------------------------------------------
    def resume(self) -> list[dict[str, Any]]:
        """The frames to send on a new socket: every subscription again, each from the last
        seq delivered (its replay starts over, so it is not live), then every unanswered
        command with its own id."""
        out = []
        for stream, cursor in self.cursors.items():
            cursor.live = False
            out.append(subscribe_frame(stream, cursor.last_seq))
        out.extend(self.pending.values())
        return out

    @staticmethod
    def reconnects_after(code: int) -> bool:
        """Whether a client that means to stay connected reconnects after this close."""
        return code in RECONNECT_CLOSES

    @staticmethod
    def must_log_in_again(code: int) -> bool:
        return code == CloseCode.UNAUTHENTICATED

    # -- what the client receives --------------------------------------------------------
    def receive(self, text: str | bytes) -> list[ProtocolEvent]:
        """The events one received frame (a message or a batch of them) means."""
        out: list[ProtocolEvent] = []
        for msg in frames(text):
            event = self.handle(msg)
            if event is not None:
                out.append(event)
        return out

    def handle(self, msg: dict[str, Any]) -> ProtocolEvent | None:
        """The event one decoded server message means; None when it means nothing new (an
        event already delivered, an answer to a command given up on)."""
        kind = msg.get("t")
        if kind == "event":
            cursor = self.cursors.get(msg["stream"])
            if cursor is None or msg["seq"] <= cursor.last_seq:
                return None
            cursor.last_seq = msg["seq"]
            return Delivered(msg["stream"], msg["seq"], msg)
        if kind == "ack":
            if self.pending.pop(msg["id"], None) is None:
                return None
            return Answered(msg["id"], msg)
        if kind == "error":
            ref = msg.get("id")
            if isinstance(ref, str) and self.pending.pop(ref, None) is not None:
                return Answered(ref, msg, error=msg)
            stream = msg.get("stream")
            if isinstance(stream, str) and stream in self.cursors:
                return SubscriptionRefused(stream, msg)
            return Unanswered(msg)
        if kind == "subscribed":
            cursor = self.cursors.get(msg["stream"])
            if cursor is None:
                return None
            cursor.head_at_subscribe = msg["head"]
            return Subscribed(msg["stream"], msg["head"])
        if kind == "live":
            cursor = self.cursors.get(msg["stream"])
            if cursor is None:
                return None
            cursor.live, cursor.live_seq = True, msg["seq"]
            return WentLive(msg["stream"], msg["seq"])
        if kind == "presence":
            return PresenceChanged(msg["stream"], msg["members"])
        if kind == "welcome":
            return Welcomed(msg)
        return None
