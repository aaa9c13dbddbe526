"""The connection pool, and the embedded PostgreSQL used when ``DATABASE_URL`` is unset."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from evalroom.db import Pool
from evalroom.db.migrate import migrate


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


@dataclass
class EmbeddedPostgres:
    """A real PostgreSQL started from the ``pgserver`` package in a local data folder."""

    server: Any
    url: str

    @classmethod
    def start(cls, data_dir: Path, database: str = "evalroom") -> EmbeddedPostgres:
        import warnings

        with warnings.catch_warnings():  # pgserver's platformdirs warns without XDG_RUNTIME_DIR
            warnings.simplefilter("ignore")
            import pgserver

        data_dir.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(  # type: ignore[attr-defined]
            str(data_dir.resolve() / "pg"), cleanup_mode="stop"
        )
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
        if "(0 rows)" in exists:
            server.psql(f"CREATE DATABASE {database};")
        base = server.get_uri()
        url = base.replace("/postgres?", f"/{database}?", 1)
        return cls(server=server, url=url)


def stop_embedded(embedded: EmbeddedPostgres) -> None:
    """Stop the embedded server if this process is its last user (pgserver counts users)."""
    cleanup = getattr(embedded.server, "cleanup", None)
    if cleanup is not None:
        cleanup()


async def answers(pool: Pool) -> bool:
    """The database answers a trivial query (exceptions propagate: the caller bounds it)."""
    return bool(await pool.fetchval("SELECT 1") == 1)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Nothing to reset when a connection goes back to the pool.

    asyncpg's default reset sends a query on every release (``pg_advisory_unlock_all(); CLOSE
    ALL; UNLISTEN *; RESET ALL``): a round trip after every commit, on the write path's
    critical path. Our pool connections never hold session state: locks are transaction
    locks (``pg_advisory_xact_lock``, row locks), settings are never changed, nothing LISTENs
    (the migration's session lock is on a connection of its own, outside the pool), and
    tests/test_storage.py checks the code for each. An open transaction is still rolled back
    on release: asyncpg does that before calling this hook."""


async def create_pool(url: str, *, min_size: int = 2, max_size: int = 10) -> Pool:
    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_keep_session,
        command_timeout=30,
    )
    assert pool is not None
    return pool


async def open_pool(url: str, *, min_size: int = 2, max_size: int = 10) -> Pool:
    """A pool on a migrated database."""
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return await create_pool(url, min_size=min_size, max_size=max_size)
