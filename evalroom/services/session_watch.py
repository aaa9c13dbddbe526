"""The platform's own eyes on live sessions: venue connections and the session clock.

Every node runs one watcher. Each tick it reads the sessions still running, the shared
presence, and issues, as the ``system`` actor:
- ``session.venue_lost`` when a venue whose site operator was connected has had no operator
  connected for the presence TTL (a client that reconnects within it is no fault), and
  ``session.venue_restored`` when one is back;
- ``session.clock`` when a session's next deadline (fault waits, clarification deadlines)
  has passed;
- ``award.clock`` when a closed session's award ends its objection window (中标候选人公示).
Several nodes may issue the same command: the client id is derived from what was seen (the
stream head, the deadline), so the pipeline applies it once; the deciders treat repeats as
no-ops. The rules themselves (2 h before start, 4 h during evaluation) are in the domain.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from evalroom.db import events as store
from evalroom.db.awards import sessions_in_publicity
from evalroom.db.identity import User
from evalroom.domain import award
from evalroom.domain.session import next_deadline
from evalroom.errors import Refusal
from evalroom.services.periodic import Periodic
from evalroom.services.pipeline import SYSTEM_USER, CommandPipeline

log = structlog.get_logger(__name__)

SYSTEM = User(SYSTEM_USER, "平台", None, "")
RUNNING = ("closed", "sealed", "rescheduled")


class SessionWatch(Periodic):
    name = "session_watch"

    def __init__(
        self,
        pipeline: CommandPipeline,
        presence: Any,
        interval: float,
        local: Callable[[], dict[str, bytes]] | None = None,
        node_id: str = "",
        grace: float = 0.0,
    ) -> None:
        self.pipeline = pipeline
        self.presence = presence  # async () -> {key: json bytes} (the broker's presence_all)
        # This node's own entries as they are now (the hub's connections): the shared copy of
        # them lags by up to a heartbeat, and an operator counted as seen at subscribe time
        # must not look absent meanwhile. Keys start with "<node_id>:".
        self.local = local
        self.node_id = node_id
        self.interval = interval
        self.grace = grace
        self._absent_since: dict[tuple[str, str], float] = {}
        self.seen: dict[str, set[str]] = {}  # session -> venues seen with an operator present

    def operator_present(self, stream: str, venues: frozenset[str]) -> None:
        """A site operator subscribed to ``stream`` on this node: its venues are connected
        now, whether or not a tick sees them before the operator leaves again."""
        self.seen.setdefault(stream, set()).update(venues)

    async def tick(self) -> None:
        now = datetime.now(UTC)
        # Closed sessions are not watched for venues; only their award's window is timed.
        for name, state in await sessions_in_publicity(self.pipeline.pool):
            deadline = award.next_deadline(state)
            if deadline is not None and deadline <= now:
                await self._issue(name, "award.clock", {}, f"award:{deadline.isoformat()}")
        rows = await store.sessions_outside_phases(self.pipeline.pool, RUNNING)
        if not rows:
            return
        present = await self.venues_present()
        for name, head, state in rows:
            await self._watch(name, head, state, present, now)

    async def venues_present(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        entries = await self.presence()
        if self.local is not None:
            mine = self.node_id + ":"
            entries = {k: v for k, v in entries.items() if not k.startswith(mine)} | self.local()
        for raw in entries.values():
            entry = json.loads(raw)
            if "operator" in entry.get("roles", []):
                found.setdefault(entry["stream"], set()).update(entry.get("venues", []))
        return found

    async def _watch(
        self,
        stream: str,
        head: int,
        state: dict[str, Any],
        present: dict[str, set[str]],
        now: datetime,
    ) -> None:
        here = present.get(stream, set())
        seen = self.seen.setdefault(stream, set())
        faults = state.get("faults", {})
        for venue in state.get("venues", {}):
            if venue in here:
                seen.add(venue)
                self._absent_since.pop((stream, venue), None)
                if venue in faults:
                    await self._issue(
                        stream,
                        "session.venue_restored",
                        {"venue": venue},
                        f"restored:{venue}:{head}",
                    )
            elif venue in seen and venue not in faults and self._gone_for_good(stream, venue):
                await self._issue(
                    stream, "session.venue_lost", {"venue": venue}, f"lost:{venue}:{head}"
                )
        deadline = next_deadline(state)
        if deadline is not None and deadline <= now:
            await self._issue(stream, "session.clock", {}, f"clock:{deadline.isoformat()}")

    def _gone_for_good(self, stream: str, venue: str) -> bool:
        """Absent for ``grace`` seconds: an operator's client that reconnects (a heartbeat
        missed on a busy machine, a network blip) is not a venue fault that pauses every
        venue."""
        since = self._absent_since.setdefault((stream, venue), time.monotonic())
        return time.monotonic() - since >= self.grace

    async def _issue(self, stream: str, type_: str, body: dict[str, Any], key: str) -> None:
        try:
            client_id = "sys-" + hashlib.sha256(f"{stream}|{key}".encode()).hexdigest()[:40]
            await self.pipeline.execute(SYSTEM, client_id, stream, type_, body, None)
        except Refusal as refusal:
            log.info("session_watch_refused", stream=stream, type=type_, code=refusal.code)
