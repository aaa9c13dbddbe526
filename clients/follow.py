"""Following a stream into a view: history first, then news.

The hub ends a subscription's replay with a ``live`` marker (``Subscription.live``), so a
client knows exactly when the past has been applied; nothing is guessed from pauses.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from clients.sdk import Subscription


class View(Protocol):
    def apply(self, event: dict[str, Any]) -> None: ...


class Follower:
    """Feeds a subscription's events into a view; ``synced`` once the replay is applied."""

    def __init__(self, sub: Subscription, view: View) -> None:
        self.sub = sub
        self.view = view
        self.head = sub.head_at_subscribe
        self.synced = False

    async def step(self, timeout: float) -> list[dict[str, Any]]:
        """Wait up to ``timeout`` for events, apply them, and return them (maybe none)."""
        events: list[dict[str, Any]] = []
        if not self.synced:
            try:
                await asyncio.wait_for(self.sub.live.wait(), max(0.001, timeout))
            except TimeoutError:
                pass
            # Checked before draining: every replayed event was queued before the marker.
            live = self.sub.live.is_set()
            events = self.sub.drain()
            self.synced = live
        else:
            try:
                events = [await self.sub.next(max(0.001, timeout))]
            except TimeoutError:
                pass
            events += self.sub.drain()
        for event in events:
            self.view.apply(event)
        return events

    def live(self, event: dict[str, Any]) -> bool:
        """Whether an event happened after we subscribed (news, not history)."""
        return int(event.get("seq", 0)) > self.head
