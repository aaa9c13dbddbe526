"""Large objects (sealed bids, opened bids) in PostgreSQL, written and read in chunks so memory
stays bounded whatever the size."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

from evalroom.db import Executor

CHUNK = 1 << 20


@dataclass(frozen=True)
class Upload:
    id: str
    tender: str
    uploader: str
    kind: str
    size: int
    sha256: str | None
    complete: bool


async def new_upload(db: Executor, tender: str, uploader: str, kind: str) -> str:
    upload_id = "u-" + secrets.token_hex(12)
    await db.execute(
        "INSERT INTO uploads (id, tender, uploader, kind) VALUES ($1, $2, $3, $4)",
        upload_id,
        tender,
        uploader,
        kind,
    )
    return upload_id


async def put_chunk(db: Executor, upload_id: str, n: int, data: bytes) -> None:
    await db.execute(
        "INSERT INTO upload_chunks (upload, n, data) VALUES ($1, $2, $3)", upload_id, n, data
    )


async def finish_upload(db: Executor, upload_id: str, size: int, sha256: bytes) -> None:
    await db.execute(
        "UPDATE uploads SET size = $2, sha256 = $3, complete = true WHERE id = $1",
        upload_id,
        size,
        sha256,
    )


async def drop_upload(db: Executor, upload_id: str) -> None:
    await db.execute("DELETE FROM uploads WHERE id = $1", upload_id)


async def get_upload(db: Executor, upload_id: str) -> Upload | None:
    row = await db.fetchrow(
        "SELECT id, tender, uploader, kind, size, sha256, complete FROM uploads WHERE id = $1",
        upload_id,
    )
    if row is None:
        return None
    digest = bytes(row["sha256"]).hex() if row["sha256"] is not None else None
    return Upload(
        row["id"], row["tender"], row["uploader"], row["kind"], row["size"], digest, row["complete"]
    )


async def chunks(db: Executor, upload_id: str) -> AsyncIterator[bytes]:
    """The upload's bytes, one chunk at a time."""
    n = 0
    while True:
        data = await db.fetchval(
            "SELECT data FROM upload_chunks WHERE upload = $1 AND n = $2", upload_id, n
        )
        if data is None:
            return
        yield bytes(data)
        n += 1


class ChunkWriter:
    """Collects a stream into CHUNK-sized rows, hashing as it goes."""

    def __init__(self, db: Executor, upload_id: str) -> None:
        self.db = db
        self.upload_id = upload_id
        self.size = 0
        self.hash = hashlib.sha256()
        self._buffer = bytearray()
        self._n = 0

    async def write(self, data: bytes) -> None:
        self.size += len(data)
        self.hash.update(data)
        self._buffer += data
        while len(self._buffer) >= CHUNK:
            await put_chunk(self.db, self.upload_id, self._n, bytes(self._buffer[:CHUNK]))
            del self._buffer[:CHUNK]
            self._n += 1

    async def close(self) -> bytes:
        if self._buffer:
            await put_chunk(self.db, self.upload_id, self._n, bytes(self._buffer))
            self._buffer.clear()
            self._n += 1
        digest = self.hash.digest()
        await finish_upload(self.db, self.upload_id, self.size, digest)
        return digest
