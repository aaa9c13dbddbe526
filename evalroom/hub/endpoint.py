"""``/ws``: authenticate at the handshake, then read frames and dispatch them.

Bad input is answered with an error frame and the connection goes on; only an expired token,
a frame far over the limit, or a consumer too slow to keep up closes it (documented codes).

Flow control: a connection has at most ``MAX_INFLIGHT_COMMANDS`` commands between receipt and
ack. At the bound the endpoint stops reading the socket until one is acked, so a publisher
offering more than its stream commits is slowed by TCP; it is never closed for it (the hub's
liveness check passes over a socket held unread, ``evalroom.serving`` says why uvicorn's
keepalive is off).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from starlette.websockets import WebSocket, WebSocketDisconnect

from evalroom.auth.revocation import authenticate
from evalroom.auth.tokens import TokenError
from evalroom.bounds import check_json_bounds, parse_json
from evalroom.errors import Refusal
from evalroom.hub.connection import ON_HEARTBEAT, SEND_NOW, Connection
from evalroom.hub.hub import _dumps
from evalroom.hub.protocol import (
    CommandMsg,
    HeartbeatMsg,
    PresenceMsg,
    SubscribeMsg,
    UnsubscribeMsg,
    client_message,
    ref_of,
    ref_of_prefix,
)
from evalroom.node import Node
from evalroom.services.pipeline import STORE_DOWN
from wire.codes import PROTOCOL_VERSION, TOO_LARGE_FACTOR, CloseCode
from wire.messages import Welcome

log = structlog.get_logger(__name__)

MAX_INFLIGHT_COMMANDS = 32


def origin_allowed(node: Node, ws: WebSocket) -> bool:
    origin = ws.headers.get("origin")
    if origin is None:  # not a browser: SDK and CLI clients send no Origin
        return True
    host = ws.headers.get("host", "")
    same_host = origin in (f"http://{host}", f"https://{host}")
    return same_host or origin in node.settings.allowed_origins


def utf8_size(data: str | bytes) -> int:
    """A frame's size in bytes, as the limit counts it (a CJK character is three)."""
    if isinstance(data, bytes):
        return len(data)
    return len(data) if data.isascii() else len(data.encode("utf-8", "surrogatepass"))


async def websocket_endpoint(ws: WebSocket) -> None:
    node: Node = ws.app.state.node
    if not origin_allowed(node, ws):
        await ws.close(code=CloseCode.ORIGIN)
        return
    token = ws.query_params.get("token", "")
    try:
        found = await authenticate(node.pool, node.tokens, token)
    except TokenError:
        found = None
    except STORE_DOWN:
        await ws.close(code=1013)  # try again later
        return
    if found is None:  # forged, expired, revoked, or its user is gone
        node.metrics.anonymous_garbage.inc()
        await ws.close(code=CloseCode.UNAUTHENTICATED)
        return
    user, claims = found.user, found.claims
    await ws.accept()
    lang = ws.query_params.get("lang", node.settings.lang)

    async def send_text(text: str) -> None:
        await ws.send_text(text)

    async def close(code: int, reason: str) -> None:
        await ws.close(code=code, reason=reason)

    conn = Connection(
        user,
        send_text,
        close,
        queue_limit=node.settings.send_queue_limit,
        token_expires=claims.expires_at,
        lang=lang,
        on_too_slow=node.metrics.slow_closed.inc,
        token_id=found.token_id,
        send_now=ws.scope.get("extensions", {}).get(SEND_NOW),
    )
    node.hub.attach(conn)
    take_heartbeats = ws.scope.get("extensions", {}).get(ON_HEARTBEAT)
    if take_heartbeats is not None:  # answered where they are parsed: no trip through ASGI
        take_heartbeats(lambda: _heartbeat(conn))
    # At the token's expiry the socket closes (4001), whatever it is doing: nothing is
    # delivered on an expired token.
    expiry = asyncio.get_running_loop().call_later(
        max(0.0, claims.expires_at - time.time()), _expire, conn
    )
    node.metrics.websockets.inc()
    welcome: Welcome = {
        "t": "welcome",
        "v": PROTOCOL_VERSION,
        "user": user.id,
        "node": node.hub.node_id,
        "conn": conn.id,
        "heartbeat": node.settings.heartbeat_seconds,
    }
    conn.enqueue(_dumps(welcome))
    inflight = asyncio.Semaphore(MAX_INFLIGHT_COMMANDS)
    tasks: set[asyncio.Task[None]] = set()
    try:
        while not conn.closed:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            data: str | bytes | None = message.get("text")
            if data is None:
                data = message.get("bytes") or b""
            conn.last_seen = time.monotonic()
            if time.time() > conn.token_expires:
                _expire(conn)
                break
            size = utf8_size(data)
            if size > node.settings.max_message_bytes:
                node.metrics.refusals.labels("too_large").inc()
                if size > TOO_LARGE_FACTOR * node.settings.max_message_bytes:
                    conn.close_soon(CloseCode.TOO_LARGE, "message far over the limit")
                    break
                conn.enqueue(
                    _dumps(
                        Refusal(
                            "too_large", f"limit {node.settings.max_message_bytes} bytes"
                        ).to_message(lang, ref_of_prefix(data))
                    )
                )
                continue
            await _dispatch(node, conn, data, inflight, tasks)
    except WebSocketDisconnect:
        pass
    finally:
        expiry.cancel()
        for task in tasks:
            task.cancel()
        node.metrics.websockets.dec()
        await node.hub.detach(conn)


def _heartbeat(conn: Connection) -> None:
    conn.last_seen = time.monotonic()
    conn.enqueue(_HEARTBEAT_REPLY, _HEARTBEAT_REPLY_BYTES)


_HEARTBEAT_REPLY = '{"t":"hb"}'
_HEARTBEAT_REPLY_BYTES = _HEARTBEAT_REPLY.encode()


def _expire(conn: Connection) -> None:
    frame = _dumps(Refusal("unauthenticated", "token expired").to_message(conn.lang))
    conn.close_now(CloseCode.UNAUTHENTICATED, "token expired", frame)


async def _dispatch(
    node: Node,
    conn: Connection,
    data: str | bytes,
    inflight: asyncio.Semaphore,
    tasks: set[asyncio.Task[None]],
) -> None:
    value: Any = None
    try:
        value = parse_json(data)
        check_json_bounds(value)  # every bound of ``evalroom.bounds`` before the schema
        msg = client_message(value)
    except Refusal as refusal:
        node.metrics.refusals.labels(refusal.code).inc()
        ref = ref_of(value) if value is not None else ref_of_prefix(data)
        conn.enqueue(_dumps(refusal.to_message(conn.lang, ref)))
        return
    if isinstance(msg, HeartbeatMsg):  # one the server did not take itself
        conn.enqueue(_HEARTBEAT_REPLY, _HEARTBEAT_REPLY_BYTES)
    elif isinstance(msg, CommandMsg):
        if inflight.locked():  # at the bound: leave the socket unread until an ack
            node.metrics.flow_held.inc()
            conn.held = True
            try:
                await inflight.acquire()
            finally:
                conn.held = False
                conn.last_seen = time.monotonic()
        else:
            await inflight.acquire()
        task = asyncio.create_task(_run_command(node, conn, msg, inflight))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    elif isinstance(msg, SubscribeMsg):
        task = asyncio.create_task(
            _guard(node, conn, msg.stream, lambda: node.hub.subscribe(conn, msg.stream, msg.after))
        )
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    elif isinstance(msg, UnsubscribeMsg):
        await node.hub.unsubscribe(conn, msg.stream)
        conn.enqueue(_dumps({"t": "unsubscribed", "stream": msg.stream}))
    elif isinstance(msg, PresenceMsg):
        try:
            node.hub.watch_presence(conn, msg.stream)
        except Refusal as refusal:
            conn.enqueue(_dumps(refusal.to_message(conn.lang)))


async def _guard(
    node: Node, conn: Connection, ref: str, work: Callable[[], Awaitable[Any]]
) -> None:
    # ``work`` is called here, not by the caller: a task cancelled before it first runs (the
    # socket closed at once) then leaves no coroutine that was never awaited.
    try:
        await work()
    except Refusal as refusal:
        node.metrics.refusals.labels(refusal.code).inc()
        msg = refusal.to_message(conn.lang)
        msg["stream"] = ref
        conn.enqueue(_dumps(msg))
    except STORE_DOWN:
        msg = Refusal("store_unavailable").to_message(conn.lang)
        msg["stream"] = ref
        conn.enqueue(_dumps(msg))
    except Exception:
        log.exception("subscribe_failed", stream=ref)
        conn.enqueue(_dumps({**Refusal("internal").to_message(conn.lang), "stream": ref}))


async def _run_command(
    node: Node, conn: Connection, msg: CommandMsg, inflight: asyncio.Semaphore
) -> None:
    try:
        ack = await node.pipeline.execute(
            conn.user, msg.id, msg.stream, msg.type, msg.body, msg.sig
        )
        conn.enqueue(_dumps(ack))
    except Refusal as refusal:
        conn.enqueue(_dumps(refusal.to_message(conn.lang, msg.id)))
    except Exception:
        log.exception("command_failed", type=msg.type, stream=msg.stream)
        node.metrics.refusals.labels("internal").inc()
        conn.enqueue(_dumps(Refusal("internal").to_message(conn.lang, msg.id)))
    finally:
        inflight.release()
