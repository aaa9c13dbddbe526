"""Node settings, read once from the environment."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalroom.domain.redflags import Thresholds
from evalroom.domain.rules import RuleError
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
    # red flags: the platform's thresholds (EVALROOM_RED_FLAGS, a JSON object), under each
    # tender's own ``red_flags``; keys and defaults in docs/red-flags.md.
    red_flags: dict[str, Any] = field(default_factory=dict)
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
            red_flags=_red_flags(env.get("EVALROOM_RED_FLAGS", "")),
        )


def _red_flags(raw: str) -> dict[str, Any]:
    """The platform's red-flag thresholds, checked now: a bad value stops the node with the
    field named, rather than every tender's signals later."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"EVALROOM_RED_FLAGS is not JSON: {exc}") from None
    try:
        Thresholds.from_dict(value)
    except RuleError as exc:
        raise ValueError(f"EVALROOM_RED_FLAGS: {exc.message}") from None
    return dict(value)
