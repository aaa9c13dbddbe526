"""Group commit per stream: which commands go into which transaction.

One committer per stream with work, on this node. The first command for an idle stream
starts a transaction at once; commands for that stream that arrive while it is in flight
wait in the stream's queue, and when it finishes the queue (up to ``MAX_COMMANDS`` commands
or ``MAX_BYTES`` of bodies) becomes the next transaction. No timer, no waiting when idle: at
low load every command runs alone, as soon as it arrives; under load a stream commits at the
speed of its transactions, each carrying everything that arrived during the previous one.

What a batch does inside its transaction is the pipeline's (``CommandPipeline._run_batch``);
this module only queues and hands each command its own outcome. Across nodes nothing is
shared: the stream's row lock still makes the transactions of one stream take turns.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import structlog

log = structlog.get_logger(__name__)

MAX_COMMANDS = 64
MAX_BYTES = 256 * 1024

C = TypeVar("C")
R = TypeVar("R")


class Deferred:
    """A command's outcome when the batch stopped before it (the one before it, or it, must
    run alone): it goes back to the head of the queue, in order."""


DEFERRED = Deferred()


@dataclass(eq=False)
class _Entry(Generic[C, R]):
    command: C
    size: int
    future: asyncio.Future[R]
    alone: bool = False  # its decision needs a transaction of its own (grants, new streams)


# run(stream, commands, alone) -> one outcome per command, in order: its result, the
# exception it raises, or DEFERRED (only for a suffix: the batch stopped there).
RunBatch = Callable[[str, Sequence[C], bool], Awaitable[Sequence["R | BaseException | Deferred"]]]


@dataclass
class GroupCommit(Generic[C, R]):
    run: RunBatch[C, R]
    max_commands: int = MAX_COMMANDS
    max_bytes: int = MAX_BYTES
    _queues: dict[str, deque[_Entry[C, R]]] = field(default_factory=dict)
    _tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    async def submit(self, stream: str, command: C, size: int) -> R:
        """Run ``command`` in the next transaction of ``stream``; its own outcome."""
        entry: _Entry[C, R] = _Entry(command, size, asyncio.get_running_loop().create_future())
        queue = self._queues.get(stream)
        if queue is None:
            queue = self._queues[stream] = deque([entry])
            self._tasks[stream] = asyncio.create_task(self._drain(stream, queue))
        else:
            queue.append(entry)
        return await entry.future

    def queued(self, stream: str) -> int:
        """Commands of ``stream`` waiting for the transaction in flight to finish."""
        return len(self._queues.get(stream, ()))

    async def _drain(self, stream: str, queue: deque[_Entry[C, R]]) -> None:
        try:
            while queue:
                batch = self._take(queue)
                if batch:
                    await self._run_one(stream, queue, batch)
        finally:
            # Reached with the queue empty (no await since the check) or on cancellation:
            # nobody is left waiting on a committer that is gone.
            del self._queues[stream]
            del self._tasks[stream]
            for entry in queue:
                if not entry.future.done():
                    entry.future.cancel()

    def _take(self, queue: deque[_Entry[C, R]]) -> list[_Entry[C, R]]:
        """The next batch: at least one command, up to the bounds; one that must run alone
        runs alone."""
        batch: list[_Entry[C, R]] = []
        size = 0
        while queue and len(batch) < self.max_commands:
            entry = queue[0]
            if entry.future.done():  # its sender gave up (cancelled) before it ran
                queue.popleft()
                continue
            if batch and (entry.alone or size + entry.size > self.max_bytes):
                break
            batch.append(queue.popleft())
            size += entry.size
            if entry.alone:
                break
        return batch

    async def _run_one(
        self, stream: str, queue: deque[_Entry[C, R]], batch: list[_Entry[C, R]]
    ) -> None:
        try:
            outcomes = await self.run(stream, [e.command for e in batch], batch[0].alone)
        except Exception as exc:  # a bug: every command of the batch is answered with it
            log.exception("batch_failed", stream=stream, commands=len(batch))
            outcomes = [exc] * len(batch)
        except BaseException:  # cancelled (the node stops): nobody waits forever
            for entry in batch:
                entry.future.cancel()
            raise
        deferred = [e for e, o in zip(batch, outcomes, strict=True) if isinstance(o, Deferred)]
        if deferred:
            deferred[0].alone = True
            queue.extendleft(reversed(deferred))
        for entry, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Deferred) or entry.future.done():
                continue
            if isinstance(outcome, BaseException):
                entry.future.set_exception(outcome)
            else:
                entry.future.set_result(outcome)
