"""The broker's face: publish to a channel, receive what the node subscribed to."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, Protocol

MessageHandler = Callable[[str, bytes], None]
ResyncHandler = Callable[[], Coroutine[Any, Any, None]]


class Broker(Protocol):
    """Channels are stream names (and ``presence``); payloads are opaque bytes."""

    async def start(self, on_message: MessageHandler, on_resync: ResyncHandler) -> None: ...

    async def publish(self, channel: str, data: bytes) -> None: ...

    # Several messages to one channel, in order, in one round trip (a group commit's events).
    async def publish_many(self, channel: str, items: Sequence[bytes]) -> None: ...

    async def subscribe(self, channel: str) -> None: ...

    async def unsubscribe(self, channel: str) -> None: ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...

    # Shared presence: entries owned by this node, expiring when the node stops refreshing.
    # ``put`` and ``gone`` are what changed since the last call, ``entries`` all of them now
    # (written whole only when the broker lost them, e.g. after they expired); the TTL is
    # renewed either way.
    async def presence_update(
        self,
        node: str,
        entries: Mapping[str, bytes],
        put: Mapping[str, bytes],
        gone: Sequence[str],
        ttl: float,
    ) -> None: ...

    async def presence_all(self) -> dict[str, bytes]: ...

    # A sliding-window rate limit shared by every node (through Redis): True, and counted,
    # when fewer than ``limit`` were admitted under ``key`` in the last ``window`` seconds.
    async def admit(self, key: str, limit: int, window: float) -> bool: ...
