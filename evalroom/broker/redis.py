"""Fan-out between nodes over Redis pub/sub, one channel per stream.

Pub/sub is at-most-once: a restart of Redis or of this subscription drops messages. That is
fine because the broker is only a doorbell: after every reconnect the node re-checks the head
of each stream it serves and fetches what it missed from PostgreSQL (``on_resync``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Mapping, Sequence

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from evalroom.broker.base import MessageHandler, ResyncHandler

log = structlog.get_logger(__name__)

# Sliding-window admission, atomic in Redis: drop what left the window, admit if room.
_ADMIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) * 1000))
return 1
"""


class RedisBroker:
    def __init__(self, url: str, namespace: str = "er") -> None:
        self._url = url
        self._prefix = f"{namespace}:s:"
        self._presence = f"{namespace}:presence:"
        self._counters = f"{namespace}:limit:"
        self._redis: aioredis.Redis = aioredis.Redis.from_url(url)
        self._pubsub: aioredis.client.PubSub | None = None
        self._channels: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._on_message: MessageHandler | None = None
        self._on_resync: ResyncHandler | None = None
        self._connected = asyncio.Event()
        self._confirmed_once: set[str] = set()
        self._resync_again = False
        self._resync_task: asyncio.Task[None] | None = None
        self._waiters: dict[str, asyncio.Event] = {}
        self.reconnects = 0

    async def start(self, on_message: MessageHandler, on_resync: ResyncHandler) -> None:
        self._on_message, self._on_resync = on_message, on_resync
        self._task = asyncio.create_task(self._listen_forever(), name="redis-broker")

    async def _listen_forever(self) -> None:
        delay = 0.05
        while True:
            try:
                pubsub = self._redis.pubsub()
                self._pubsub = pubsub
                # The placeholder first, so its confirmation stands for the whole batch.
                await pubsub.subscribe(
                    self._prefix + "-", *(self._prefix + c for c in sorted(self._channels))
                )
                self._connected.set()
                delay = 0.05
                await self._pump(pubsub)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("broker_disconnected", error=str(exc))
            self._connected.clear()
            if self._pubsub is not None:
                with contextlib.suppress(Exception):
                    await self._pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]
                self._pubsub = None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _pump(self, pubsub: aioredis.client.PubSub) -> None:
        handler = self._on_message
        assert handler is not None
        cut = len(self._prefix)
        async for message in pubsub.listen():
            kind = message.get("type")
            channel = message["channel"]
            name = channel.decode() if isinstance(channel, bytes) else str(channel)
            if kind == "message":
                handler(name[cut:], message["data"])
            elif kind == "subscribe":
                self._confirmed(name)

    def _confirmed(self, channel: str) -> None:
        """Redis confirmed a subscription. Redis registers every channel of one SUBSCRIBE
        before answering, so at the first confirmation of a batch nothing published from
        now on can be missed; anything published before is read from PostgreSQL. A channel
        confirmed a second time means the connection was re-made (by us, or silently by
        redis-py's retry) and messages may have been lost: resync."""
        waiter = self._waiters.pop(channel, None)
        if waiter is not None:
            waiter.set()
        if channel in self._confirmed_once:
            self.reconnects += 1 if channel == self._prefix + "-" else 0
            self._request_resync()
        self._confirmed_once.add(channel)

    def _request_resync(self) -> None:
        self._resync_again = True
        if self._resync_task is None or self._resync_task.done():
            self._resync_task = asyncio.create_task(self._resync_loop())

    async def _resync_loop(self) -> None:
        while self._resync_again and self._on_resync is not None:
            self._resync_again = False
            try:
                await self._on_resync()
            except Exception as exc:
                log.warning("resync_failed", error=str(exc))

    def kill_subscription_for_test(self) -> None:
        """Drop the subscription connection as a network fault would (used by tests)."""
        if self._pubsub is not None and self._pubsub.connection is not None:
            self._pubsub.connection._writer.transport.abort()

    async def publish(self, channel: str, data: bytes) -> None:
        await self._redis.publish(self._prefix + channel, data)

    async def publish_many(self, channel: str, items: Sequence[bytes]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for data in items:
                pipe.publish(self._prefix + channel, data)
            await pipe.execute()

    async def subscribe(self, channel: str) -> None:
        """Subscribe and wait (briefly) for Redis to confirm, so the caller's next read of
        the stream head from PostgreSQL cannot miss a message published in between."""
        self._channels.add(channel)
        if self._pubsub is None:
            return
        waiter = self._waiters.setdefault(self._prefix + channel, asyncio.Event())
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.subscribe(self._prefix + channel)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), 2.0)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.unsubscribe(self._prefix + channel)

    async def ping(self) -> bool:
        try:
            return bool(await asyncio.wait_for(self._redis.ping(), 2.0))
        except (RedisError, OSError, TimeoutError):
            return False

    async def close(self) -> None:
        if self._resync_task is not None:
            self._resync_task.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]
        await self._redis.aclose()

    async def presence_update(
        self,
        node: str,
        entries: Mapping[str, bytes],
        put: Mapping[str, bytes],
        gone: Sequence[str],
        ttl: float,
    ) -> None:
        key, ms = self._presence + node, int(ttl * 1000)
        async with self._redis.pipeline(transaction=True) as pipe:
            if put:
                pipe.hset(key, mapping=dict(put))  # type: ignore[arg-type]
            if gone:
                pipe.hdel(key, *gone)
            pipe.pexpire(key, ms)
            pipe.hlen(key)
            *_, length = await pipe.execute()
        if int(length) != len(entries):  # expired or lost (a Redis restart): write it whole
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                if entries:
                    pipe.hset(key, mapping=dict(entries))  # type: ignore[arg-type]
                    pipe.pexpire(key, ms)
                await pipe.execute()

    async def presence_all(self) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        async for key in self._redis.scan_iter(match=self._presence + "*", count=100):
            for field, value in (await self._redis.hgetall(key)).items():
                name = field.decode() if isinstance(field, bytes) else str(field)
                found[name] = value if isinstance(value, bytes) else str(value).encode()
        return found

    async def admit(self, key: str, limit: int, window: float) -> bool:
        now = time.time()
        admitted = await self._redis.eval(
            _ADMIT, 1, self._counters + key, now, window, limit, f"{now}:{uuid.uuid4().hex[:8]}"
        )
        return bool(admitted)
