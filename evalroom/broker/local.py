"""The in-process broker: one node, no Redis."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping, Sequence

from evalroom.broker.base import MessageHandler, ResyncHandler


class LocalBroker:
    def __init__(self) -> None:
        self._on_message: MessageHandler | None = None
        self._channels: set[str] = set()
        self._presence: dict[str, bytes] = {}
        self._admitted: dict[str, deque[float]] = {}

    async def start(self, on_message: MessageHandler, on_resync: ResyncHandler) -> None:
        self._on_message = on_message

    async def publish(self, channel: str, data: bytes) -> None:
        if self._on_message is not None and channel in self._channels:
            self._on_message(channel, data)

    async def publish_many(self, channel: str, items: Sequence[bytes]) -> None:
        for data in items:
            await self.publish(channel, data)

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._on_message = None

    async def presence_update(
        self,
        node: str,
        entries: Mapping[str, bytes],
        put: Mapping[str, bytes],
        gone: Sequence[str],
        ttl: float,
    ) -> None:
        self._presence.update(put)
        for key in gone:
            self._presence.pop(key, None)

    async def presence_all(self) -> dict[str, bytes]:
        return dict(self._presence)

    async def admit(self, key: str, limit: int, window: float) -> bool:
        now = time.monotonic()
        if len(self._admitted) > 10_000:  # forget participants quiet for a window
            self._admitted = {k: q for k, q in self._admitted.items() if q[-1] > now - window}
        times = self._admitted.setdefault(key, deque())
        while times and times[0] <= now - window:
            times.popleft()
        if len(times) >= limit:
            return False
        times.append(now)
        return True
