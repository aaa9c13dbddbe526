"""How a node is served: uvicorn's options for one node, the same in production, the demo and
the tests.

The node's ``/ws`` runs on uvicorn's ``websockets-sansio`` protocol. Uvicorn's own keepalive
is off: it pinged each connection and closed it with 1011 when no pong came back within the
timeout, but a pong sent by a publisher whose commands wait for their commits sits behind
those commands in the TCP stream (the node stops reading a socket whose in-flight commands
reach ``evalroom.hub.endpoint.MAX_INFLIGHT_COMMANDS``), so a busy publisher was closed for
being busy. Liveness is the hub's instead: every frame a client sends counts, a connection is
closed only after the presence TTL without any (``CloseCode.HEARTBEAT``), and never while the
node itself holds its socket unread. A client's pings are answered as soon as they are read.

Fan-out writes like ``websockets.broadcast``: ``NodeWebSocketProtocol`` (uvicorn's sans-io
protocol, plus one ASGI extension) lets the hub hand a frame's bytes, encoded once per event,
straight to a connection's transport while nothing waits in its send queue and the transport
takes more; only then (a slow reader, a burst) does a frame go through the connection's queue
and writer task. A client's heartbeat is taken where it is parsed (``ON_HEARTBEAT``): it
renews the connection's liveness and is answered without a trip through ASGI, so a thousand
idle connections cost a frame parse and a write each per heartbeat, nothing more.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.frames import Frame
from websockets.http11 import Request

from evalroom.hub.connection import ON_HEARTBEAT, SEND_NOW
from evalroom.settings import Settings
from wire.messages import HEARTBEAT_FRAME

_HEARTBEAT = HEARTBEAT_FRAME.encode()


class NodeWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's ``websockets-sansio`` protocol with a synchronous write for the hub."""

    on_heartbeat: Callable[[], None] | None = None

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # absent when the handshake was refused
        if scope is not None:
            scope["extensions"][SEND_NOW] = self.send_now
            scope["extensions"][ON_HEARTBEAT] = self.take_heartbeats

    def take_heartbeats(self, callback: Callable[[], None]) -> None:
        """From now on a heartbeat frame calls ``callback`` instead of reaching the app."""
        self.on_heartbeat = callback

    def handle_text(self, event: Frame) -> None:
        callback = self.on_heartbeat
        if callback is not None and event.fin and event.data == _HEARTBEAT and not self.close_sent:
            callback()
            return
        super().handle_text(event)

    def send_now(self, data: Sequence[bytes]) -> bool:
        """Write text frames (each one message's UTF-8 bytes) at once, in one transport write;
        False, having written nothing, when the transport is paused (its buffer is full) or
        the connection is closing: the caller queues the frames instead."""
        if (
            not self.handshake_complete
            or self.close_sent
            or self.disconnected
            or not self.writable.is_set()
            or self.transport.is_closing()
        ):
            return False
        conn = self.conn
        try:
            for message in data:
                conn.send_text(message)
        except InvalidState:
            return False
        self.transport.write(b"".join(conn.data_to_send()))
        return True


def uvicorn_config(
    app: Any, settings: Settings, host: str, port: int, **extra: Any
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ws=NodeWebSocketProtocol,
        # Event frames are small and fan out to many: compressing each per connection
        # cost more CPU than it saved bytes (docs/benchmarks.md).
        ws_per_message_deflate=False,
        ws_max_size=16 * settings.max_message_bytes + 1,
        ws_ping_interval=None,  # the hub's heartbeat decides liveness (above)
        ws_ping_timeout=None,
        log_level="warning",
        lifespan="on",
        **extra,
    )
