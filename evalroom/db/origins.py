"""Where an upload came from: the client address and the login key (投标上传来源)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from evalroom.db import Executor

__all__ = ["UploadOrigin", "key_fingerprint", "record_upload_origin", "upload_origins"]


@dataclass(frozen=True)
class UploadOrigin:
    upload: str
    client_ip: str | None
    login_key: str


def key_fingerprint(signing_key: str) -> str:
    """A participant key's fingerprint: ``sha256:`` and the hex SHA-256 of its text form."""
    return "sha256:" + hashlib.sha256(signing_key.encode("utf-8")).hexdigest()


async def record_upload_origin(
    db: Executor, upload: str, client_ip: str | None, login_key: str
) -> None:
    """Keep the upload's origin; recorded again, the first stays."""
    await db.execute(
        "INSERT INTO upload_origins (upload, client_ip, login_key) VALUES ($1, $2, $3)"
        " ON CONFLICT (upload) DO NOTHING",
        upload,
        client_ip,
        login_key,
    )


async def upload_origins(db: Executor, uploads: Sequence[str]) -> dict[str, UploadOrigin]:
    """The recorded origins of these uploads, by upload id (uploads without one are absent)."""
    rows = await db.fetch(
        "SELECT upload, client_ip, login_key FROM upload_origins WHERE upload = ANY($1::text[])",
        list(uploads),
    )
    return {r["upload"]: UploadOrigin(r["upload"], r["client_ip"], r["login_key"]) for r in rows}
