"""The in-process broker: one node, no Redis."""

from __future__ import annotations

import time

from evalroom.broker.base import MessageHandler, ResyncHandler


class LocalBroker:
    def __init__(self) -> None:
        self._on_message: MessageHandler | None = None
        self._channels: set[str] = set()
        self._presence: dict[str, bytes] = {}
        self._counters: dict[str, tuple[float, int]] = {}

    async def start(self, on_message: MessageHandler, on_resync: ResyncHandler) -> None:
        self._on_message = on_message

    async def publish(self, channel: str, data: bytes) -> None:
        if self._on_message is not None and channel in self._channels:
            self._on_message(channel, data)

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._on_message = None

    async def presence_put(self, node: str, entries: dict[str, bytes], ttl: float) -> None:
        self._presence = dict(entries)

    async def presence_all(self) -> dict[str, bytes]:
        return dict(self._presence)

    async def count(self, key: str, ttl: float) -> int:
        now = time.monotonic()
        if len(self._counters) > 10_000:
            self._counters = {k: v for k, v in self._counters.items() if v[0] > now}
        expires, value = self._counters.get(key, (0.0, 0))
        value = value + 1 if expires > now else 1
        self._counters[key] = (now + ttl, value)
        return value
