"""Versioned SQL migrations, applied at start under an advisory lock.

Several nodes may start at once: the first takes the lock and migrates, the others wait on
the lock and then find nothing left to do.
"""

from __future__ import annotations

import secrets
from importlib import resources

import asyncpg

_LOCK_KEY = 0x6576616C726F6F6D  # "evalroom"


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every file in ``evalroom/db/migrations``, in order."""
    found: list[tuple[int, str, str]] = []
    for entry in resources.files("evalroom.db").joinpath("migrations").iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Apply every migration not applied yet; return the names applied now."""
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version int PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, name, sql in migration_files():
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name
                )
            applied_now.append(name)
        for name in ("token_mac", "platform_ed25519", "log_ed25519"):
            # Made once per deployment and shared by every node through the database.
            await conn.execute(
                "INSERT INTO node_secrets (name, value) VALUES ($1, $2)"
                " ON CONFLICT (name) DO NOTHING",
                name,
                secrets.token_bytes(32),
            )
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now
