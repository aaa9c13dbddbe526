"""The commands table: the first answer to every committed command, by actor and client id."""

from __future__ import annotations

from typing import Any

from evalroom.db import Executor


async def prior_command(
    conn: Executor, actor: str, client_id: str
) -> tuple[bytes, dict[str, Any]] | None:
    """The digest and first ack of the command ``actor`` sent with ``client_id``, if any."""
    row = await conn.fetchrow(
        "SELECT digest, result FROM commands WHERE actor = $1 AND client_id = $2",
        actor,
        client_id,
    )
    return None if row is None else (bytes(row["digest"]), dict(row["result"]))


async def command_result(conn: Executor, actor: str, client_id: str) -> dict[str, Any] | None:
    """The first ack of the command ``actor`` sent with ``client_id``, if it committed."""
    result = await conn.fetchval(
        "SELECT result FROM commands WHERE actor = $1 AND client_id = $2", actor, client_id
    )
    return None if result is None else dict(result)


async def command_results(conn: Executor, stream: str) -> list[dict[str, Any]]:
    """The acks of every command committed in ``stream``."""
    rows = await conn.fetch("SELECT result FROM commands WHERE stream = $1", stream)
    return [r["result"] for r in rows]
