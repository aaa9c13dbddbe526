"""Each stream's Merkle log (RFC 9162) as this node knows it: built from the ``leaf_hash``
column of committed events, extended as new events commit, and cached in memory.

PostgreSQL is the truth; the cache is a shortcut. A log is extended only from rows that
PostgreSQL has committed (the pipeline writes an event and its leaf hash in one transaction,
and a stream's appends are serialised by its row lock, so committed seqs are always a prefix
1..n). Every sync also re-reads the last cached leaf and starts over if it changed or
disappeared, so a restarted node, an evicted stream or a database that was changed
underneath all end in a log rebuilt from PostgreSQL. Proofs are served for committed sizes
only: a size beyond what PostgreSQL has committed is refused.

The cache holds at most ``max_streams`` logs (least recently used first out), about 64 bytes
per event each: a million-event stream costs ~64 MB and ~1 s to rebuild.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

import structlog

from crypto.merkle import MerkleLog
from evalroom.db import Pool
from evalroom.db.events import leaf_hashes_after

log = structlog.get_logger(__name__)

SYNC_BATCH = 50_000


class NotCommitted(LookupError):
    """A tree size, or an event, that PostgreSQL has not committed (yet)."""


class StreamLogs:
    """The Merkle logs of the streams this node was asked about, synced from PostgreSQL."""

    def __init__(self, pool: Pool, *, max_streams: int = 64, batch: int = SYNC_BATCH) -> None:
        self.pool = pool
        self.max_streams = max(1, max_streams)
        self.batch = batch
        self._logs: OrderedDict[str, MerkleLog] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}
        self.rebuilds = 0  # logs started over because a cached leaf no longer matched

    def cached(self) -> list[str]:
        """Names of the streams whose logs are in memory, least recently used first."""
        return list(self._logs)

    def forget(self, stream: str) -> None:
        """Drop a stream's cached log (the next use rebuilds it from PostgreSQL)."""
        self._logs.pop(stream, None)

    async def synced(self, stream: str) -> MerkleLog:
        """The stream's log, extended to every event PostgreSQL has committed by now.

        The returned object may grow later (other callers sync it too) but never changes its
        first ``size`` leaves while it is in use: a diverged log is replaced, not edited.
        """
        lock = self._locks.setdefault(stream, asyncio.Lock())
        async with lock:
            tree = self._logs.get(stream)
            if tree is None:
                tree = MerkleLog()
            else:
                self._logs.move_to_end(stream)
            tree = await self._extend(stream, tree)
            self._logs[stream] = tree
            self._logs.move_to_end(stream)
            while len(self._logs) > self.max_streams:
                evicted, _ = self._logs.popitem(last=False)
                evicted_lock = self._locks.get(evicted)
                if evicted_lock is not None and not evicted_lock.locked():
                    del self._locks[evicted]
            return tree

    async def _extend(self, stream: str, tree: MerkleLog) -> MerkleLog:
        # Re-read the last cached leaf with the new ones: if PostgreSQL no longer holds it,
        # the cache describes another history and must not be extended.
        after = tree.size - 1 if tree.size else 0
        while True:
            rows = await leaf_hashes_after(self.pool, stream, after, self.batch)
            if tree.size and after == tree.size - 1:
                if not rows or rows[0][0] != tree.size:
                    return await self._rebuild(stream, "last cached event is gone")
                if rows[0][1] != tree.leaf_hash_at(tree.size - 1):
                    return await self._rebuild(stream, "last cached leaf changed")
            for seq, leaf_hash in rows:
                if seq <= tree.size:
                    continue  # the re-read last leaf, or leaves a concurrent sync appended
                if seq != tree.size + 1:
                    # Not a prefix: a row was removed or renumbered under us. Keep the prefix;
                    # checkpoints and proofs never go beyond it.
                    log.error("audit_log_gap", stream=stream, expected=tree.size + 1, got=seq)
                    return tree
                try:
                    tree.append(leaf_hash)
                except ValueError:
                    log.error("audit_log_bad_leaf", stream=stream, seq=seq)
                    return tree
            if len(rows) < self.batch:
                return tree
            after = tree.size

    async def _rebuild(self, stream: str, why: str) -> MerkleLog:
        log.error("audit_log_diverged", stream=stream, why=why)
        self.rebuilds += 1
        return await self._extend(stream, MerkleLog())

    async def at_size(self, stream: str, size: int) -> MerkleLog:
        """The stream's log holding at least ``size`` committed leaves."""
        tree = self._logs.get(stream)
        if tree is None or tree.size < size:
            tree = await self.synced(stream)
        if size > tree.size:
            raise NotCommitted(f"{stream} has {tree.size} committed events, not {size}")
        return tree

    async def root(self, stream: str, size: int) -> bytes:
        return (await self.at_size(stream, size)).root(size)

    async def inclusion_proof(self, stream: str, seq: int, size: int) -> tuple[bytes, list[bytes]]:
        """(leaf hash, RFC 9162 inclusion proof) of event ``seq`` in the tree of ``size``."""
        if not 1 <= seq <= size:
            raise ValueError(f"need 1 <= seq <= size, got seq={seq} size={size}")
        tree = await self.at_size(stream, size)
        return tree.leaf_hash_at(seq - 1), tree.inclusion_proof(seq - 1, size)

    async def consistency_proof(self, stream: str, size1: int, size2: int) -> list[bytes]:
        """RFC 9162 consistency proof from the tree of ``size1`` to the tree of ``size2``."""
        if not 1 <= size1 <= size2:
            raise ValueError(f"need 1 <= from <= to, got from={size1} to={size2}")
        tree = await self.at_size(stream, size2)
        return tree.consistency_proof(size1, size2)
