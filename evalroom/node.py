"""One hub node's parts, started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import structlog

from crypto.keys import SigningKey
from evalroom.audit import Audit
from evalroom.auth.tokens import TokenIssuer
from evalroom.broker import Broker, LocalBroker, RedisBroker
from evalroom.db import Pool
from evalroom.db.identity import secret
from evalroom.db.pool import EmbeddedPostgres, answers, open_pool, stop_embedded
from evalroom.hub.hub import Hub
from evalroom.metrics import Metrics
from evalroom.services.pipeline import CommandPipeline, RefusalLimiter
from evalroom.services.redflags import RedFlagWatch
from evalroom.services.registry import check_event_declarations
from evalroom.services.session_watch import SessionWatch
from evalroom.services.spec import ServiceContext
from evalroom.settings import Settings

log = structlog.get_logger(__name__)


@dataclass
class Node:
    settings: Settings
    pool: Pool
    broker: Broker
    hub: Hub
    pipeline: CommandPipeline
    tokens: TokenIssuer
    metrics: Metrics
    embedded: EmbeddedPostgres | None = None
    extras: dict[str, object] = field(default_factory=dict)

    @classmethod
    async def start(cls, settings: Settings) -> Node:
        check_event_declarations()  # no event type without a declared audience
        embedded = None
        url = settings.database_url
        if url is None:
            embedded = await asyncio.to_thread(EmbeddedPostgres.start, settings.data_dir)
            url = embedded.url
        pool = await open_pool(url)
        broker: Broker = (
            RedisBroker(settings.redis_url, settings.redis_namespace)
            if settings.redis_url
            else LocalBroker()
        )
        metrics = Metrics()
        hub = Hub(pool, broker, settings, metrics)
        platform_key = SigningKey.from_raw(await secret(pool, "platform_ed25519"))
        context = ServiceContext(pool, platform_key, {"settings": settings})
        pipeline = CommandPipeline(
            pool,
            hub.publish,
            metrics,
            RefusalLimiter(settings.refusal_records_per_minute, broker.admit),
            context,
        )
        tokens = TokenIssuer(await secret(pool, "token_mac"), settings.token_ttl_seconds)
        node = cls(settings, pool, broker, hub, pipeline, tokens, metrics, embedded)
        await hub.start()
        audit = await Audit.start(pool, settings)  # audit log: Merkle logs, checkpoints
        node.extras["audit"] = context.extras["audit"] = audit
        watch = SessionWatch(
            pipeline,
            broker.presence_all,
            settings.heartbeat_seconds,
            hub.presence_entries,
            hub.node_id,
            grace=settings.presence_ttl_seconds,
        )
        hub.on_operator_present = watch.operator_present
        watch.start()
        node.extras["session_watch"] = watch
        # red flags: live signals, computed once a read-out or a review is on the record.
        redflags = RedFlagWatch(pipeline, settings.heartbeat_seconds)
        redflags.start()
        node.extras["redflag_watch"] = redflags
        log.info(
            "node_started",
            node=hub.node_id,
            embedded=embedded is not None,
            broker=type(broker).__name__,
        )
        return node

    async def stop(self) -> None:
        if isinstance(flags := self.extras.get("redflag_watch"), RedFlagWatch):
            await flags.stop()
        if isinstance(watch := self.extras.get("session_watch"), SessionWatch):
            await watch.stop()
        if isinstance(audit := self.extras.get("audit"), Audit):
            await audit.stop()
        await self.hub.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.pool.close(), 5)
        if self.embedded is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(stop_embedded, self.embedded)

    async def healthy(self) -> dict[str, bool]:
        db = False
        with contextlib.suppress(Exception):
            db = await asyncio.wait_for(answers(self.pool), 2.0)
        broker = await self.broker.ping()
        return {"db": db, "broker": broker}
