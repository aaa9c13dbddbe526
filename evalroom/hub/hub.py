"""The hub of one node: its connections, the streams they follow, presence, and the broker.

Subscribing replays from PostgreSQL and then switches to live with no gap and no duplicate:
the replay runs up to the channel's delivered head, repeating while the head moves, and the
switch to live happens with no await between the last check and the flag.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import structlog

from evalroom.auth.revocation import REVOKED_CHANNEL, revoked_since
from evalroom.broker.base import Broker
from evalroom.db import Pool
from evalroom.db import events as store
from evalroom.domain.roles import Role
from evalroom.errors import Refusal
from evalroom.hub.channel import StreamChannel, Subscription, Wire
from evalroom.hub.connection import Access, Connection
from evalroom.metrics import Metrics
from evalroom.services.bids import visible_grants
from evalroom.services.pipeline import STORE_DOWN, validate_stream
from evalroom.settings import Settings
from wire import messages
from wire.codes import CloseCode

log = structlog.get_logger(__name__)

REPLAY_BATCH = 500


class Hub:
    def __init__(self, pool: Pool, broker: Broker, settings: Settings, metrics: Metrics) -> None:
        self.pool = pool
        self.broker = broker
        self.settings = settings
        self.metrics = metrics
        self.node_id = settings.node_id or f"node-{uuid.uuid4().hex[:8]}"
        self.connections: dict[str, Connection] = {}
        self.channels: dict[str, StreamChannel] = {}
        self._presence_snapshot: dict[str, str] = {}
        # This node's presence entries, kept as subscriptions come and go (not rebuilt per
        # heartbeat), and what changed since they were last written to the broker.
        self._entries: dict[str, bytes] = {}
        self._entries_put: set[str] = set()
        self._entries_gone: set[str] = set()
        self._presence_push: asyncio.Task[None] | None = None
        self._refreshing: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._revocations_at: datetime | None = None
        # Told of every site operator who subscribes to a session, with its venues, so the
        # session watch counts that venue as connected even if it is gone before its next
        # look at the shared presence (services.session_watch).
        self.on_operator_present: Callable[[str, frozenset[str]], None] | None = None

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        await self.broker.start(self._on_broker_message, self.resync)
        await self.broker.subscribe(REVOKED_CHANNEL)
        self._revocations_at = (await revoked_since(self.pool, None))[1]
        self._tasks.append(asyncio.create_task(self._heartbeat_loop(), name="hub-heartbeat"))
        self._tasks.append(asyncio.create_task(self._resync_loop(), name="hub-resync"))

    async def stop(self) -> None:
        if self._presence_push is not None:
            self._tasks.append(self._presence_push)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for conn in list(self.connections.values()):
            await conn.stop()
        for channel in self.channels.values():
            await channel.close()
        with contextlib.suppress(Exception):
            await self.broker.presence_update(self.node_id, {}, {}, list(self._entries), 1.0)
        await self.broker.close()

    # -- publishing (called by the pipeline after commit) -----------------------------------
    async def publish(
        self, events: Sequence[store.StoredEvent], *, roles_changed: bool = False
    ) -> None:
        """``roles_changed`` (the command granted roles) marks the batch's last event: once
        it is delivered, each node looks its subscribers' access up again."""
        last = len(events) - 1
        by_stream: dict[str, list[bytes]] = {}
        for i, ev in enumerate(events):
            wire = Wire(ev.seq, ev.visibility, ev.actor, ev.frame(), roles_changed and i == last)
            by_stream.setdefault(ev.stream, []).append(wire.encode())
        for stream, items in by_stream.items():  # one round trip per stream, in seq order
            await self.broker.publish_many(stream, items)

    def _on_broker_message(self, channel: str, data: bytes) -> None:
        if channel == REVOKED_CHANNEL:
            self.close_revoked({data.decode(errors="replace")})
            return
        stream = self.channels.get(channel)
        if stream is None:
            return
        try:
            wire = Wire.decode(data)
        except ValueError:
            log.warning("broker_garbage", channel=channel)
            return
        stream.receive(wire)

    async def _fetch(self, stream: str, after: int, upto: int) -> list[Wire]:
        rows = await store.read_events(self.pool, stream, after, limit=REPLAY_BATCH, upto=upto)
        self.metrics.gaps_filled.inc(len(rows))
        return [Wire(ev.seq, ev.visibility, ev.actor, ev.frame()) for ev in rows]

    def _delivered(self, count: int) -> None:
        self.metrics.deliveries.inc(count)

    def close_revoked(self, token_ids: set[str]) -> None:
        """Close every socket of this node opened with one of these (revoked) tokens."""
        for conn in list(self.connections.values()):
            if conn.token_id in token_ids:
                frame = Refusal("unauthenticated", "token revoked").to_message(conn.lang)
                conn.close_now(CloseCode.UNAUTHENTICATED, "token revoked", _dumps(frame))

    async def _poll_revocations(self) -> None:
        """Revocations the broker may have lost (it is only a doorbell)."""
        if not self.connections:
            return
        ids, self._revocations_at = await revoked_since(self.pool, self._revocations_at)
        if ids:
            self.close_revoked(set(ids))

    async def resync(self) -> None:
        """Compare every served stream with PostgreSQL and fill what the broker lost."""
        names = [n for n, c in self.channels.items() if c.last_seq is not None]
        if not names:
            return
        try:
            heads = await store.stream_heads(self.pool, names)
        except STORE_DOWN:
            return
        for name, head in heads.items():
            channel = self.channels.get(name)
            if channel is not None:
                channel.behind(head)

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.resync_interval_seconds)
            try:
                await self.resync()
                await self._poll_revocations()
            except Exception as exc:
                log.warning("resync_failed", error=str(exc))

    # -- connections -----------------------------------------------------------------------
    def attach(self, conn: Connection) -> None:
        self.connections[conn.id] = conn
        conn.start()

    async def detach(self, conn: Connection) -> None:
        self.connections.pop(conn.id, None)
        for stream in list(conn.subscriptions):
            await self.unsubscribe(conn, stream)
        await conn.stop()

    async def _access(self, conn: Connection, stream: str) -> tuple[Access, str | None]:
        parent, grants = await visible_grants(self.pool, conn.user.id, stream)
        roles = frozenset(g.role for g in grants)
        if not roles:
            raise Refusal("not_subscribed_role", f"you hold no role in {stream}")
        venues = frozenset(g.venue for g in grants if g.venue)
        return Access(conn.user.id, roles, conn.user.org, venues), parent

    async def _channel(self, stream: str) -> StreamChannel:
        channel = self.channels.get(stream)
        if channel is not None:
            await asyncio.shield(channel.started)  # another subscriber is setting it up
            return channel
        channel = StreamChannel(stream, self._fetch, self._delivered, self._roles_changed)
        self.channels[stream] = channel
        try:
            await self.broker.subscribe(stream)
            info = await store.stream_info(self.pool, stream)
        except BaseException as exc:
            self.channels.pop(stream, None)
            channel.fail_start(exc)
            raise
        channel.start_at(info[2] if info else 0)
        return channel

    def _roles_changed(self, stream: str) -> None:
        task = asyncio.create_task(self._refresh_access(stream))
        self._refreshing.add(task)
        task.add_done_callback(self._refreshing.discard)

    async def _refresh_access(self, stream: str) -> None:
        """Roles in the stream changed (a draw, a withdrawal, a grant): look every local
        subscriber's access up again; one left with no role is unsubscribed."""
        channel = self.channels.get(stream)
        if channel is None:
            return
        for sub in list(channel.subs.values()):
            try:
                access, _parent = await self._access(sub.conn, stream)
            except Refusal:
                await self.unsubscribe(sub.conn, stream)
                msg = Refusal("not_subscribed_role", "your role here has ended").to_message(
                    sub.conn.lang
                )
                sub.conn.enqueue(_dumps({**msg, "stream": stream}))
                continue
            except STORE_DOWN:
                return
            for role in sub.access.roles - access.roles:
                self.metrics.connections.labels(role).dec()
            for role in access.roles - sub.access.roles:
                self.metrics.connections.labels(role).inc()
            sub.access = access
            self._set_entry(sub)

    async def subscribe(self, conn: Connection, stream: str, after: int) -> dict[str, Any]:
        validate_stream(stream)
        if stream in conn.subscriptions:
            raise Refusal("invalid", f"already subscribed to {stream}")
        access, _parent = await self._access(conn, stream)
        channel = await self._channel(stream)
        sub = Subscription(conn, stream, access, cursor=after)
        key = f"{conn.id}:{stream}"
        channel.subs[key] = sub
        conn.subscriptions[stream] = sub
        self._set_entry(sub)
        if Role.OPERATOR in access.roles and access.venues and self.on_operator_present:
            self.on_operator_present(stream, access.venues)  # before the client hears back
        head = channel.last_seq or 0
        subscribed: messages.Subscribed = {
            "t": "subscribed",
            "stream": stream,
            "after": after,
            "head": head,
        }
        conn.enqueue(_dumps(subscribed))
        try:
            await self._catch_up(sub, channel)
        except BaseException:
            channel.subs.pop(key, None)
            conn.subscriptions.pop(stream, None)
            self._drop_entry(conn, stream)
            raise
        for role in access.roles:
            self.metrics.connections.labels(role).inc()
        self._presence_changed()
        return {}

    async def _catch_up(self, sub: Subscription, channel: StreamChannel) -> None:
        conn = sub.conn
        while True:
            target = channel.last_seq or 0
            if sub.cursor >= target:
                sub.live = True  # no await between the check above and this flag
                # History is over: everything after this marker happens now (clients use it
                # to tell replay from live).
                live: messages.Live = {"t": "live", "stream": sub.stream, "seq": sub.cursor}
                conn.enqueue(_dumps(live))
                return
            rows = await store.read_events(
                self.pool, sub.stream, sub.cursor, limit=REPLAY_BATCH, upto=target
            )
            for ev in rows:
                if conn.closed:
                    return
                wire = Wire(ev.seq, ev.visibility, ev.actor, "")
                if sub.can_see(wire):
                    await conn.wait_for_room()
                    conn.enqueue(ev.frame())
                sub.cursor = ev.seq
            if not rows:
                sub.cursor = max(sub.cursor, target)

    async def unsubscribe(self, conn: Connection, stream: str) -> None:
        sub = conn.subscriptions.pop(stream, None)
        conn.watching_presence.discard(stream)
        channel = self.channels.get(stream)
        if sub is None or channel is None:
            return
        self._drop_entry(conn, stream)
        channel.subs.pop(f"{conn.id}:{stream}", None)
        assert isinstance(sub, Subscription)
        for role in sub.access.roles:
            self.metrics.connections.labels(role).dec()
        if not channel.subs:
            self.channels.pop(stream, None)
            await channel.close()
            try:
                await self.broker.unsubscribe(stream)
            except Exception as exc:  # nobody here follows it any more; nothing to undo
                log.warning("unsubscribe_failed", stream=stream, error=repr(exc))
        self._presence_changed()

    # -- presence --------------------------------------------------------------------------
    def presence_entries(self) -> dict[str, bytes]:
        """This node's entries as they are now (read only: the hub keeps them up to date)."""
        return self._entries

    def _set_entry(self, sub: Subscription) -> None:
        conn = sub.conn
        entry = {
            "stream": sub.stream,
            "user": conn.user.id,
            "name": conn.user.name,
            "org": conn.user.org,
            "roles": sorted(sub.access.roles),
            "venues": sorted(sub.access.venues),
            "node": self.node_id,
            "since": round(conn.connected_at, 3),
        }
        key = f"{self.node_id}:{conn.id}:{sub.stream}"
        value = _dumps(entry).encode()
        if self._entries.get(key) != value:
            self._entries[key] = value
            self._entries_put.add(key)
            self._entries_gone.discard(key)

    def _drop_entry(self, conn: Connection, stream: str) -> None:
        key = f"{self.node_id}:{conn.id}:{stream}"
        if self._entries.pop(key, None) is not None:
            self._entries_put.discard(key)
            self._entries_gone.add(key)

    def watch_presence(self, conn: Connection, stream: str) -> None:
        sub = conn.subscriptions.get(stream)
        if not isinstance(sub, Subscription):
            raise Refusal("invalid", f"subscribe to {stream} before watching its presence")
        if Role.SUPERVISOR not in sub.access.roles:
            raise Refusal("forbidden", "presence is shown to supervisors")
        conn.watching_presence.add(stream)
        self._presence_snapshot.pop(stream, None)
        self._presence_changed()

    def _presence_changed(self) -> None:
        """Push presence soon after a join or leave, not only on the next heartbeat."""
        if self._presence_push is None or self._presence_push.done():
            self._presence_push = asyncio.create_task(self._push_presence_soon())

    async def _push_presence_soon(self) -> None:
        await asyncio.sleep(0.05)
        try:
            await self.push_presence()
        except Exception as exc:
            log.warning("presence_failed", error=str(exc))

    async def push_presence(self) -> None:
        """Publish this node's entries, read everyone's, and tell watchers what changed."""
        # Only what changed since the last write goes to the broker (and the TTL is renewed):
        # a heartbeat costs in proportion to joins and leaves, not to connections.
        put = {k: self._entries[k] for k in self._entries_put if k in self._entries}
        gone = list(self._entries_gone)
        self._entries_put, self._entries_gone = set(), set()
        try:
            await self.broker.presence_update(
                self.node_id, self._entries, put, gone, self.settings.presence_ttl_seconds
            )
        except BaseException:  # written next time
            self._entries_put.update(k for k in put if k in self._entries)
            self._entries_gone.update(k for k in gone if k not in self._entries)
            raise
        watched = {s for c in self.connections.values() for s in c.watching_presence}
        if not watched:
            return
        members: dict[str, list[dict[str, Any]]] = {s: [] for s in watched}
        for raw in (await self.broker.presence_all()).values():
            entry = json.loads(raw)
            if entry["stream"] in members:
                members[entry["stream"]].append(entry)
        for stream, found in members.items():
            found.sort(key=lambda e: (e["user"], e["node"], e["since"]))
            presence: messages.Presence = {"t": "presence", "stream": stream, "members": found}
            frame = _dumps(presence)
            if self._presence_snapshot.get(stream) == frame:
                continue
            self._presence_snapshot[stream] = frame
            for conn in self.connections.values():
                if stream in conn.watching_presence:
                    conn.enqueue(frame)

    async def _heartbeat_loop(self) -> None:
        ttl = self.settings.presence_ttl_seconds
        while True:
            now = time.monotonic()
            for conn in list(self.connections.values()):
                if now - conn.last_seen > ttl and not conn.held:
                    conn.close_soon(CloseCode.HEARTBEAT, "no heartbeat")
            try:
                await self.push_presence()
            except Exception as exc:
                log.warning("presence_failed", error=str(exc))
            depth = max((c.depth for c in self.connections.values()), default=0)
            self.metrics.queue_depth.set(depth)
            await asyncio.sleep(self.settings.heartbeat_seconds)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
