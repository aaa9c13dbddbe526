"""One participant's WebSocket: a bounded send queue drained by a single writer task.

Delivery never waits on a slow socket: frames go into the queue, and a connection whose queue
is full is closed with ``CloseCode.TOO_SLOW``; the client resumes from the last seq it received.
Frames waiting together leave as one JSON array, so a burst costs one socket write.

While the queue is empty and the writer idle, a frame skips both: its bytes, encoded once for
every recipient, wait only for the end of the event loop's current turn, and then what the
connection got in that turn leaves in one transport write (``send_now``, the server's
synchronous write, ``evalroom.serving``): one frame as it is, as ``websockets.broadcast``
sends it, several as one JSON array (``wire.batch``'s bounds), built once per turn for every
connection that got the same frames. When the transport is full ``send_now`` refuses, and the
frames go to the queue; every frame after them is queued too until the queue drains, so the
order never changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from evalroom.db.identity import User
from wire.batch import take_batch
from wire.codes import BATCH_BYTES, BATCH_FRAMES, CloseCode

CLOSE_TIMEOUT = 2.0

_ids = itertools.count(1)

SendText = Callable[[str], Awaitable[None]]
Close = Callable[[int, str], Awaitable[None]]
# Write text frames (each one message's UTF-8 bytes) now, in order; False (nothing written)
# when the transport is full or closing.
SendNow = Callable[[list[bytes]], bool]
# The ASGI scope extension under which the server offers a connection's ``SendNow``.
SEND_NOW = "evalroom.send_now"
# The ASGI scope extension taking a callback for the client's heartbeats: the server calls it
# where it parses a heartbeat frame, which then never reaches the app (``evalroom.serving``).
ON_HEARTBEAT = "evalroom.on_heartbeat"


# The arrays built in this turn's flush, by their frames' bytes (compared by content: equal
# frames make an equal array, whoever they are for). Emptied when the flush ends.
_arrays: dict[tuple[bytes, ...], bytes] = {}


# The connections with frames held for the end of this turn, flushed by one callback, and
# the loop it is scheduled on (None: not scheduled).
_corked: list[Connection] = []
_flush_on: list[asyncio.AbstractEventLoop | None] = [None]


def _cork(conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    if _flush_on[0] is not loop:  # none scheduled (or only on a loop that is gone)
        _corked.clear()
        loop.call_soon(_flush_turn)
        _flush_on[0] = loop
    _corked.append(conn)


def _flush_turn() -> None:
    conns = _corked[:]
    _corked.clear()
    _flush_on[0] = None
    try:
        for conn in conns:
            conn._flush_corked()
    finally:
        _arrays.clear()


def _messages(data: list[bytes]) -> list[bytes]:
    """The frames of one turn as WebSocket messages: alone, or JSON arrays within bounds."""
    if len(data) == 1:
        return data
    out: list[bytes] = []
    start, size = 0, 0
    for i, frame in enumerate(data):
        if i > start and (size + len(frame) > BATCH_BYTES or i - start >= BATCH_FRAMES):
            out.append(_array(tuple(data[start:i])))
            start, size = i, 0
        size += len(frame) + 1
    out.append(_array(tuple(data[start:])))
    return out


def _array(frames: tuple[bytes, ...]) -> bytes:
    if len(frames) == 1:
        return frames[0]
    found = _arrays.get(frames)
    if found is None:
        found = _arrays[frames] = b"[" + b",".join(frames) + b"]"
    return found


@dataclass
class Access:
    """What one connection may see in one stream (its roles there, its company, its venues)."""

    user_id: str
    roles: frozenset[str]
    org: str | None
    venues: frozenset[str]
    memo: dict[str, bool] = field(default_factory=dict)


class Connection:
    def __init__(
        self,
        user: User,
        send_text: SendText,
        close: Close,
        *,
        queue_limit: int,
        token_expires: int,
        lang: str,
        on_too_slow: Callable[[], None] | None = None,
        token_id: str = "",
        send_now: SendNow | None = None,
    ) -> None:
        self.id = f"c{next(_ids)}"
        self.user = user
        self.lang = lang
        self.token_expires = token_expires
        self.token_id = token_id
        self.queue_limit = queue_limit
        self._send_text = send_text
        self._send_now = send_now
        self._sending = False  # the writer holds frames it took from the queue
        # Frames for ``send_now`` at the end of this turn of the loop (text, bytes).
        self._corked: list[str] = []
        self._corked_data: list[bytes] = []
        self._close = close
        self._queue: deque[str] = deque()
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self.closed = False
        self.last_seen = time.monotonic()
        # True while the node leaves this socket unread because its in-flight commands are at
        # the bound (flow control): silence then is ours, not the client's.
        self.held = False
        self.connected_at = time.time()
        self.subscriptions: dict[str, object] = {}
        self.watching_presence: set[str] = set()
        self.writer: asyncio.Task[None] | None = None
        self._on_too_slow = on_too_slow

    def start(self) -> None:
        self.writer = asyncio.create_task(self._write_loop(), name=f"ws-writer-{self.id}")

    @property
    def depth(self) -> int:
        return len(self._queue)

    def enqueue(self, frame: str, data: bytes | None = None) -> bool:
        """Send a frame now if nothing is ahead of it, else queue it; False (and the connection
        closing) when the queue is full. ``data``: ``frame`` as UTF-8, when the caller has it
        (one event's bytes serve all its recipients)."""
        if self.closed:
            return False
        if self._send_now is not None and not self._queue and not self._sending:
            if not self._corked:
                _cork(self)
            self._corked.append(frame)
            self._corked_data.append(frame.encode() if data is None else data)
            return True
        if len(self._queue) >= self.queue_limit:
            if self._on_too_slow is not None:
                self._on_too_slow()
            self.close_soon(CloseCode.TOO_SLOW, "send queue full; resume from your last seq")
            return False
        self._queue.append(frame)
        self._ready.set()
        if len(self._queue) >= self.queue_limit // 2:
            self._room.clear()
        return True

    def _flush_corked(self) -> None:
        frames, data = self._corked, self._corked_data
        if not frames:
            return
        self._corked, self._corked_data = [], []
        if self.closed:
            return
        assert self._send_now is not None
        if self._send_now(_messages(data)):
            return
        self._queue.extend(frames)  # the transport is full: the writer takes them, in order
        self._ready.set()
        if len(self._queue) >= self.queue_limit // 2:
            self._room.clear()

    async def wait_for_room(self) -> None:
        """Replays are pulled, not pushed: wait until the queue has drained to half."""
        await self._room.wait()

    async def _write_loop(self) -> None:
        queue, ready = self._queue, self._ready
        try:
            while not self.closed:
                await ready.wait()
                ready.clear()
                while queue:
                    # One frame for what is waiting (``wire.batch``), bounded so that a slow
                    # reader's backlog stays in our queue (where it is counted), not in buffers.
                    text = take_batch(queue)
                    if len(queue) < self.queue_limit // 2:
                        self._room.set()
                    self._sending = True
                    try:
                        await self._send_text(text)
                    finally:
                        self._sending = False
        except Exception:  # the socket went away; the reader notices and cleans up
            self.closed = True
            self._room.set()

    def close_soon(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self._room.set()
        self._ready.set()
        asyncio.get_running_loop().create_task(self._do_close(code, reason))

    def close_now(self, code: int, reason: str, last_frame: str) -> None:
        """Close at once: frames still queued are dropped (the client resumes from its last
        seq), ``last_frame`` says why, and nothing is queued after it."""
        if self.closed:
            return
        self._queue.clear()
        self._corked.clear()
        self._corked_data.clear()
        self._queue.append(last_frame)
        self.close_soon(code, reason)

    async def _do_close(self, code: int, reason: str) -> None:
        # A reader that stopped reading cannot take the close frame either: give up on it
        # after a moment; the transport is dropped when the peer or its keepalive goes.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._close(code, reason), CLOSE_TIMEOUT)

    async def stop(self) -> None:
        self.closed = True
        self._ready.set()
        self._room.set()
        if self.writer is not None:
            self.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.writer
