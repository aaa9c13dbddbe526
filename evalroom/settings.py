"""Node settings, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from wire.codes import MAX_MESSAGE_BYTES


def _env_list(name: str) -> tuple[str, ...]:
    raw = os.environ.get(name, "")
    return tuple(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """Everything a node needs to know about its surroundings.

    ``database_url`` unset means an embedded PostgreSQL (``pgserver``) in ``data_dir``;
    ``redis_url`` unset means an in-process broker, which serves one node only.
    """

    database_url: str | None = None
    redis_url: str | None = None
    redis_namespace: str = "er"
    data_dir: Path = Path(".evalroom")
    node_id: str = ""
    allowed_origins: tuple[str, ...] = ()
    token_ttl_seconds: int = 900
    max_message_bytes: int = MAX_MESSAGE_BYTES
    send_queue_limit: int = 1024
    heartbeat_seconds: float = 2.0
    presence_ttl_seconds: float = 6.0
    refusal_records_per_minute: int = 10
    resync_interval_seconds: float = 1.0
    log_level: str = "info"
    lang: str = "zh-CN"
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            redis_url=env.get("REDIS_URL") or None,
            redis_namespace=env.get("EVALROOM_REDIS_NAMESPACE", "er"),
            data_dir=Path(env.get("EVALROOM_DATA_DIR", ".evalroom")),
            node_id=env.get("EVALROOM_NODE_ID", ""),
            allowed_origins=_env_list("EVALROOM_ALLOWED_ORIGINS"),
            token_ttl_seconds=int(env.get("EVALROOM_TOKEN_TTL", "900")),
            max_message_bytes=int(env.get("EVALROOM_MAX_MESSAGE_BYTES", str(64 * 1024))),
            send_queue_limit=int(env.get("EVALROOM_SEND_QUEUE", "1024")),
            heartbeat_seconds=float(env.get("EVALROOM_HEARTBEAT", "2.0")),
            presence_ttl_seconds=float(env.get("EVALROOM_PRESENCE_TTL", "6.0")),
            log_level=env.get("EVALROOM_LOG_LEVEL", "info"),
            lang=env.get("EVALROOM_LANG", "zh-CN"),
        )
