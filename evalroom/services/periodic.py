"""A node's background job: ``tick`` every ``interval`` seconds, from ``start`` until
``stop``. A tick that fails is logged and the next one runs (the store being down is said
quietly: the job resumes with it); a tick never changes a result by failing."""

from __future__ import annotations

import asyncio

import structlog

from evalroom.db.errors import STORE_DOWN

log = structlog.get_logger(__name__)


class Periodic:
    """Subclasses set ``name`` and ``interval`` and define ``tick``."""

    name = "periodic"
    interval: float
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def tick(self) -> None:
        raise NotImplementedError

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.tick()
            except STORE_DOWN as exc:
                log.info(f"{self.name}_store_down", error=repr(exc))
            except Exception as exc:  # a bug: the next tick runs; never a result
                log.warning(f"{self.name}_failed", error=repr(exc))
