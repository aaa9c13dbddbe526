"""Following a session live until it ends: history first, then news; each CLI's ``watch``
hooks in."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import click

from clients.cli_common import EXIT_TIMEOUT, Out
from clients.folds.session import SessionView, session_id
from clients.follow import Follower
from clients.render.session import SessionRender
from clients.sdk import Client, Subscription


class LiveSession:
    """Follows a session live until it ends (or ``timeout``): history first, then news.

    Subclasses override the hooks; by default it prints the last ``history`` events and a
    summary once the replay is over, then one line per new event, and the summary again at
    the end."""

    tick = 0.25

    def __init__(
        self, client: Client, stream: str, out: Out, *, history: int = 10, me: str | None = None
    ) -> None:
        self.client = client
        self.stream = stream
        self.out = out
        self.render = SessionRender(out, me)
        self.view = SessionView(stream)
        self.history: deque[str] = deque(maxlen=max(history, 0) or None)
        self.keep_history = history > 0
        self.exit_code = 0
        self._was_connected = True
        self._seen_reconnects = 0

    async def start(self) -> Subscription:
        return await self.client.subscribe(self.stream)

    async def run(self, timeout: float | None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        sub = await self.start()
        follower = Follower(sub, self.view)
        started = False
        while True:
            left = 3600.0 if deadline is None else deadline - time.monotonic()
            if left <= 0:
                self.on_timeout()
                self.out.say("timed_out", seconds=timeout)
                return EXIT_TIMEOUT
            events = await follower.step(min(left, self.tick))
            for event in events:
                if started or (follower.synced and follower.live(event)):
                    self.on_event(event)
                elif self.keep_history:
                    line = self.render.event_line(event, self.view)
                    if line is not None:
                        self.history.append(line)
            if not follower.synced:
                continue
            if not started:
                started = True
                self.on_synced()
            self._connection_notices()
            self.on_tick()
            if self.view.ended:
                self.on_end()
                return self.exit_code

    def _connection_notices(self) -> None:
        now = self.client.connected.is_set()
        if self._was_connected and not now:
            self.notice(self.out.t("disconnected"))
        if self.client.reconnects != self._seen_reconnects and now:
            self._seen_reconnects = self.client.reconnects
            self.notice(self.out.t("reconnected", n=self.client.reconnects))
        self._was_connected = now

    # -- hooks -----------------------------------------------------------------------------
    def notice(self, text: str) -> None:
        click.echo(text, err=True)

    def on_synced(self) -> None:
        self.out.say("watching", session=session_id(self.stream))
        if self.history:
            self.out.say("sum.recent")
            for line in self.history:
                self.out.echo("  " + line)
        for line in self.render.summary(self.view):
            self.out.echo(line)

    def on_event(self, event: dict[str, Any]) -> None:
        line = self.render.event_line(event, self.view)
        if line is not None:
            self.out.echo(line)

    def on_tick(self) -> None:
        pass

    def on_timeout(self) -> None:
        pass

    def on_end(self) -> None:
        self.out.say("ended", phase=self.render.phase(self.view.phase))
