"""Signed tree heads: a C2SP checkpoint per stream, at every phase boundary and every few
seconds while the stream grows.

Every ``interval`` seconds (2 by default) the task signs, for each stream that grew, the tree
ending at each phase boundary since the last checkpoint (an event whose payload carries a
``phase`` string, e.g. ``tender.published`` or ``session.phase``: reason ``phase:<name>``) and
the tree at the committed head (``periodic``). Services may also call ``checkpoint_now`` right
after a commit.

A checkpoint is the signed note (https://c2sp.org/tlog-checkpoint, https://c2sp.org/signed-note)
of ``<origin>\\n<size>\\n<base64 root>\\n`` where the origin is ``evalroom/<deployment>/<stream>``
(the deployment id is derived from the log's public key, so every node of one deployment
agrees on it without configuration) and the key is the deployment's ``log_ed25519`` secret
under the key name ``evalroom-log``. No extension lines (the spec advises against them): the
time a head was signed is stored beside it, unsigned.

Every node runs the periodic task; nodes may race on a (stream, size), and whoever inserts
first wins while the others' inserts are no-ops (Ed25519 is deterministic: same key, same
text, same note). Before signing, a node checks that the new head extends the stored heads
next to it; it refuses to sign a fork of the history it already signed (``ForkRefused``), so a
database changed underneath shows up as a refusal in the node's log, not as a second history.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib

import structlog

from crypto.checkpoint import Checkpoint, sign_checkpoint, verifier_key
from crypto.keys import SigningKey, VerifyKey
from crypto.merkle import MerkleLog
from evalroom.audit.log import NotCommitted, StreamLogs
from evalroom.db import Pool
from evalroom.db import checkpoints as db
from evalroom.db.checkpoints import StoredCheckpoint as StoredCheckpoint

log = structlog.get_logger(__name__)

KEY_NAME = "evalroom-log"
PERIODIC = "periodic"
DEFAULT_INTERVAL = 2.0


def origin_prefix(log_key: VerifyKey) -> str:
    """``evalroom/<deployment>``: the deployment id is the first 12 hex digits of SHA-256 of
    the log's public key, the same on every node that shares the database."""
    return "evalroom/" + hashlib.sha256(log_key.raw()).hexdigest()[:12]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class ForkRefused(RuntimeError):
    """The committed events no longer match a stored checkpoint: signing would fork the log."""


class Checkpointer:
    """Signs and stores checkpoints; ``start()`` runs the periodic task."""

    def __init__(
        self,
        pool: Pool,
        logs: StreamLogs,
        key: SigningKey,
        *,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self.pool = pool
        self.logs = logs
        self.key = key
        self.interval = interval
        self.key_name = KEY_NAME
        self.origin_prefix = origin_prefix(key.public)
        self.verifier_key = verifier_key(KEY_NAME, key.public)
        self.refused_forks = 0
        self._task: asyncio.Task[None] | None = None

    def origin(self, stream: str) -> str:
        return f"{self.origin_prefix}/{stream}"

    # -- reading ---------------------------------------------------------------------------
    async def latest(self, stream: str) -> StoredCheckpoint | None:
        return await db.latest_checkpoint(self.pool, stream)

    async def at(self, stream: str, size: int) -> StoredCheckpoint | None:
        return await db.checkpoint_at(self.pool, stream, size)

    async def listing(
        self, stream: str, *, after: int = 0, limit: int = 1000
    ) -> list[StoredCheckpoint]:
        """Checkpoints of ``stream`` with size > ``after``, smallest first."""
        return await db.checkpoints_after(self.pool, stream, after, limit)

    # -- signing ---------------------------------------------------------------------------
    async def checkpoint_now(
        self, stream: str, reason: str, *, size: int | None = None
    ) -> StoredCheckpoint | None:
        """Sign and store the head of ``stream`` (or the tree of ``size`` committed events).

        Call it after the commit that ends a phase (``reason="phase:<name>"``). Returns the
        stored checkpoint (perhaps one another node wrote first, with ``reason`` added), or
        None for an empty stream. Raises ``NotCommitted`` for a size beyond the committed head
        and ``ForkRefused`` if the events no longer match the checkpoints already stored.
        """
        tree = await (self.logs.synced(stream) if size is None else self.logs.at_size(stream, size))
        size = tree.size if size is None else size
        if size == 0:
            return None
        root = tree.root(size)
        await self._check_extends(stream, tree, size, root)
        note = sign_checkpoint(Checkpoint(self.origin(stream), size, root), KEY_NAME, self.key)
        row = await db.store_checkpoint(self.pool, stream, size, root, note, reason, PERIODIC)
        if row is None:  # it existed and already said as much
            stored = await self.at(stream, size)
            assert stored is not None
            return stored
        return row

    async def _check_extends(self, stream: str, tree: MerkleLog, size: int, root: bytes) -> None:
        """The stored heads nearest below and above ``size`` must be prefixes of ``tree``."""
        for known, known_root in await db.neighbour_checkpoints(self.pool, stream, size):
            if known > tree.size or tree.root(known) != known_root:
                self.refused_forks += 1
                log.error("audit_fork_refused", stream=stream, size=size, checkpoint=known)
                raise ForkRefused(
                    f"{stream}: the committed events do not extend checkpoint {known}"
                    f" (root {b64(known_root)}); refusing to sign size {size}"
                )

    async def grown(self) -> list[tuple[str, int]]:
        """(stream, size of its latest checkpoint) of the streams with events beyond it."""
        return await db.streams_beyond_checkpoints(self.pool)

    async def tick(self) -> list[StoredCheckpoint]:
        """Checkpoint every stream that grew: at each phase boundary since its last checkpoint
        (an event whose payload names a ``phase``: the tree ending with that event, reason
        ``phase:<name>``), then at its committed head (``periodic``)."""
        signed: list[StoredCheckpoint] = []
        for stream, covered in await self.grown():
            try:
                head = (await self.logs.synced(stream)).size
                boundaries = await db.phase_boundaries(self.pool, stream, covered, head)
                sizes = [(seq, f"phase:{phase}") for seq, phase in boundaries]
                for size, reason in [*sizes, (head, PERIODIC)]:
                    stored = await self.checkpoint_now(stream, reason, size=size)
                    if stored is not None:
                        signed.append(stored)
            except (ForkRefused, NotCommitted):
                continue  # logged; the next tick tries again
        return signed

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.tick()
            except Exception as exc:  # the database may be away; the next tick retries
                log.warning("checkpoint_tick_failed", error=f"{type(exc).__name__}: {exc}")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="audit-checkpoints")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
