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
"""

from __future__ import annotations

from typing import Any

import uvicorn

from evalroom.settings import Settings


def uvicorn_config(
    app: Any, settings: Settings, host: str, port: int, **extra: Any
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ws="websockets-sansio",
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
