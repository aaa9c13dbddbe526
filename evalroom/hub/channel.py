"""One stream as this node serves it: ordered, gap-free delivery to its local subscribers.

Events arrive from the broker in any order and with holes (pub/sub is at-most-once). The
channel delivers strictly in seq order: a duplicate is dropped, a hole is filled from
PostgreSQL before anything after it goes out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from evalroom.domain.roles import Visibility, may_see
from evalroom.hub.connection import Access, Connection

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Wire:
    """A committed event as the broker carries it: routing fields plus the client frame.
    ``roles_changed``: the pipeline says the command that committed it granted roles."""

    seq: int
    visibility: str
    actor: str | None
    frame: str
    roles_changed: bool = False

    def encode(self) -> bytes:
        flags = "r" if self.roles_changed else ""
        return f"{self.seq}\n{self.visibility}\n{self.actor or ''}\n{flags}\n{self.frame}".encode()

    @classmethod
    def decode(cls, data: bytes) -> Wire:
        seq, visibility, actor, flags, frame = data.decode().split("\n", 4)
        return cls(int(seq), visibility, actor or None, frame, flags == "r")


@dataclass
class Subscription:
    conn: Connection
    stream: str
    access: Access
    cursor: int  # last seq handed to this connection (visible or not)
    live: bool = False

    def can_see(self, wire: Wire) -> bool:
        """``evalroom.domain.roles.may_see``, memoized per visibility class for this access;
        an ``actor`` event's answer depends on its actor, so it is not memoized."""
        memo = self.access.memo
        seen = memo.get(wire.visibility)
        if seen is None:
            a = self.access
            seen = may_see(
                wire.visibility,
                roles=a.roles,
                user_id=a.user_id,
                org=a.org,
                venues=a.venues,
                event_actor=wire.actor,
            )
            if wire.visibility != Visibility.ACTOR:
                memo[wire.visibility] = seen
        return seen


# Gap filling reads events from PostgreSQL, which does not keep ``roles_changed``: after a
# fill, the channel looks its subscribers' access up again in case a filled event granted.
Fetch = Callable[[str, int, int], Awaitable[list[Wire]]]


class StreamChannel:
    def __init__(
        self,
        name: str,
        fetch: Fetch,
        on_delivered: Callable[[int], None],
        on_roles_changed: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self.last_seq: int | None = None  # None until the head is known
        self.subs: dict[str, Subscription] = {}
        self._fetch = fetch
        self._pending: dict[int, Wire] = {}
        self._filling: asyncio.Task[None] | None = None
        self._on_delivered = on_delivered
        self._on_roles_changed = on_roles_changed
        # Resolved when the head is known (or failed): other subscribers arriving while the
        # first one sets the channel up wait on it.
        self.started: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def start_at(self, head: int) -> None:
        self.last_seq = head
        self._drain_pending()
        if not self.started.done():
            self.started.set_result(None)

    def fail_start(self, exc: BaseException) -> None:
        if self.started.done():
            return
        if isinstance(exc, asyncio.CancelledError):
            self.started.cancel()
        else:
            self.started.set_exception(exc)
            self.started.exception()  # retrieved: waiters re-raise it, nobody else must

    def receive(self, wire: Wire) -> None:
        """From the broker: deliver now if it is next, else hold it and fill the hole."""
        last = self.last_seq
        if last is not None and self._filling is None and wire.seq == last + 1:
            self._deliver(wire)
            return
        if last is not None and wire.seq <= last:
            return
        self._pending[wire.seq] = wire
        if last is not None:
            self._drain_pending()

    def behind(self, head: int) -> None:
        """PostgreSQL says the stream is at ``head``: fetch whatever the broker lost."""
        if self.last_seq is not None and head > self.last_seq and self._filling is None:
            self._filling = asyncio.create_task(self._fill(head))

    def _drain_pending(self) -> None:
        assert self.last_seq is not None
        while self._filling is None and self._pending:
            nxt = self.last_seq + 1
            for seq in [s for s in self._pending if s <= self.last_seq]:
                del self._pending[seq]
            if nxt in self._pending:
                self._deliver(self._pending.pop(nxt))
            elif self._pending:
                self._filling = asyncio.create_task(self._fill(max(self._pending)))

    async def _fill(self, upto: int) -> None:
        filled = False
        try:
            while self.last_seq is not None and self.last_seq < upto:
                wires = await self._fetch(self.name, self.last_seq, upto)
                if not wires:
                    break
                for wire in wires:
                    if wire.seq == self.last_seq + 1:
                        self._pending.pop(wire.seq, None)
                        self._deliver(wire)
                        filled = True
        except Exception as exc:  # PostgreSQL unreachable: the periodic resync tries again
            log.warning("gap_fill_failed", stream=self.name, error=str(exc))
        finally:
            self._filling = None
        if filled and self._on_roles_changed is not None:
            self._on_roles_changed(self.name)
        if self._pending:
            self._drain_pending()

    def _deliver(self, wire: Wire) -> None:
        self.last_seq = wire.seq
        delivered = 0
        frame = wire.frame
        data = frame.encode()  # once for every recipient
        for sub in list(self.subs.values()):
            if not sub.live:
                continue
            sub.cursor = wire.seq
            if sub.can_see(wire) and sub.conn.enqueue(frame, data):
                delivered += 1
        if delivered:
            self._on_delivered(delivered)
        if self._on_roles_changed is not None and wire.roles_changed:
            self._on_roles_changed(self.name)

    async def close(self) -> None:
        if self._filling is not None:
            self._filling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._filling
