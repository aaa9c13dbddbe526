"""Storage: the asyncpg pool, migrations and queries. Every SQL statement of the server lives
in this package, in a module per concept; the rest of the server calls its functions and
names the pool and connections by the aliases below."""

from __future__ import annotations

from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# The connection pool.
Pool: TypeAlias = "asyncpg.Pool[Any]"
# A connection: a plain one, or one acquired from the pool.
Conn: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"
# Anything a query can run on: a connection, a pooled connection, or the pool itself.
Executor: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any] | asyncpg.Pool[Any]"
# A connection acquired from the pool.
PooledConn: TypeAlias = "PoolConnectionProxy[Any]"
