"""The audit log: every stream is an RFC 9162 Merkle tree over its events, with signed tree
heads (C2SP checkpoints), inclusion and consistency proofs over HTTP, and an evidence bundle
that ``clients/verify.py`` checks offline.

- ``evalroom.audit.log``: each stream's Merkle log, built from committed ``leaf_hash`` rows.
- ``evalroom.audit.checkpoints``: signing and storing checkpoints; the periodic task.
- ``evalroom.audit.http``: ``/api/log/...`` routes.
- ``evalroom.audit.bundle``: ``evalroom export-bundle``.

Services reach the node's :class:`Audit` as ``context.extras["audit"]`` (and the node as
``node.extras["audit"]``). After the commit that ends a phase, call
``await audit.checkpoint_now(stream, "phase:<name>")``; for a bid receipt's inclusion proof,
``await audit.inclusion(stream, seq)`` once the event is committed.
"""

from __future__ import annotations

import os
from typing import Any

from crypto.keys import SigningKey
from evalroom.audit.checkpoints import (
    DEFAULT_INTERVAL,
    KEY_NAME,
    Checkpointer,
    ForkRefused,
    StoredCheckpoint,
    b64,
)
from evalroom.audit.log import NotCommitted, StreamLogs
from evalroom.db import Executor, Pool
from evalroom.db.identity import secret
from evalroom.settings import Settings

__all__ = [
    "KEY_NAME",
    "Audit",
    "ForkRefused",
    "NotCommitted",
    "StoredCheckpoint",
    "log_signing_key",
]


async def log_signing_key(pool: Executor) -> SigningKey:
    """The deployment's log key (``node_secrets`` ``log_ed25519``, made at migration)."""
    return SigningKey.from_raw(await secret(pool, "log_ed25519"))


def _setting(settings: Settings, name: str, env: str, default: float) -> float:
    raw = settings.extra.get(name) or os.environ.get(env)
    return float(raw) if raw else default


class Audit:
    """One node's audit log: the Merkle log cache and the checkpointer."""

    def __init__(self, pool: Pool, key: SigningKey, *, interval: float, cache_streams: int):
        self.pool = pool
        self.logs = StreamLogs(pool, max_streams=cache_streams)
        self.checkpoints = Checkpointer(pool, self.logs, key, interval=interval)

    @classmethod
    async def start(cls, pool: Pool, settings: Settings) -> Audit:
        """Settings (``settings.extra`` or the environment): ``audit_checkpoint_seconds`` /
        ``EVALROOM_CHECKPOINT_SECONDS`` (default 2), ``audit_cache_streams`` /
        ``EVALROOM_AUDIT_CACHE_STREAMS`` (default 64)."""
        interval = _setting(
            settings, "audit_checkpoint_seconds", "EVALROOM_CHECKPOINT_SECONDS", DEFAULT_INTERVAL
        )
        cache = _setting(settings, "audit_cache_streams", "EVALROOM_AUDIT_CACHE_STREAMS", 64)
        audit = cls(pool, await log_signing_key(pool), interval=interval, cache_streams=int(cache))
        audit.checkpoints.start()
        return audit

    async def stop(self) -> None:
        await self.checkpoints.stop()

    @property
    def verifier_key(self) -> str:
        return self.checkpoints.verifier_key

    async def checkpoint_now(
        self, stream: str, reason: str, *, size: int | None = None
    ) -> StoredCheckpoint | None:
        """Sign the committed head of ``stream`` now (see ``Checkpointer.checkpoint_now``)."""
        return await self.checkpoints.checkpoint_now(stream, reason, size=size)

    async def inclusion(self, stream: str, seq: int) -> dict[str, Any]:
        """Proof that committed event (``stream``, ``seq``) is in the log, for a bid receipt.

        Against the latest stored checkpoint (one is signed now, reason ``receipt``, if none
        covers ``seq`` yet). Returns ``{"stream", "seq", "size", "leaf_hash", "proof",
        "checkpoint"}``: hashes in standard base64, ``proof`` the RFC 9162 path (lowest level
        first), ``checkpoint`` the signed note of the tree of ``size`` events. Raises
        ``NotCommitted`` if the event is not committed.
        """
        latest = await self.checkpoints.latest(stream)
        if latest is None or latest.size < seq:
            latest = await self.checkpoints.checkpoint_now(stream, "receipt")
            if latest is None or latest.size < seq:
                raise NotCommitted(f"{stream}#{seq} is not committed")
        leaf, proof = await self.logs.inclusion_proof(stream, seq, latest.size)
        return {
            "stream": stream,
            "seq": seq,
            "size": latest.size,
            "leaf_hash": b64(leaf),
            "proof": [b64(p) for p in proof],
            "checkpoint": latest.note,
        }
