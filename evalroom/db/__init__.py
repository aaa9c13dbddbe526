"""Storage: the asyncpg pool, migrations and queries."""

from __future__ import annotations

from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# Anything a query can run on: a connection, a pooled connection, or the pool itself.
Executor: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any] | asyncpg.Pool[Any]"
Conn: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"
