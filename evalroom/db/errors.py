"""How a storage failure is classified: the store is down, the server refused, or the input
was bad. The pipeline and the adapters catch these names, never asyncpg's own."""

from __future__ import annotations

import asyncpg

# Errors that mean "the database did not answer", or dropped the connection: whatever was
# running on it did not commit unless it was the COMMIT itself (see the pipeline's
# ``_transact``), so a command refused with ``store_unavailable`` changed nothing and may be
# retried with its id.
STORE_DOWN: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,  # 08xxx, ConnectionDoesNotExistError
    asyncpg.InterfaceError,  # "connection is closed", "pool is closing"
    asyncpg.InternalClientError,  # a pooled connection terminated while idle, protocol state
    asyncpg.exceptions.OperatorInterventionError,  # AdminShutdown, CrashShutdown, CannotConnectNow
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
    asyncpg.exceptions.TransactionRollbackError,  # deadlock, serialization: rolled back
)
# A value the client library cannot encode (an InterfaceError): the input's fault.
ClientDataError = asyncpg.exceptions._base.DataError
# Subclasses of the above that are the caller's fault, not the store's.
NOT_STORE_DOWN: tuple[type[BaseException], ...] = (
    ClientDataError,
    asyncpg.exceptions.ClientConfigurationError,
)
# A value PostgreSQL or the client library refused to take: the input's fault.
BAD_DATA: tuple[type[BaseException], ...] = (asyncpg.DataError, ClientDataError)
# A unique key already held (e.g. a command id that committed concurrently).
UniqueViolation = asyncpg.UniqueViolationError
# A row named a key that does not exist (e.g. a role granted to an unknown user).
ForeignKeyViolation = asyncpg.ForeignKeyViolationError


def store_down(exc: BaseException) -> bool:
    """The store failed (nothing that was not yet committed is committed); not a bug."""
    return isinstance(exc, STORE_DOWN) and not isinstance(exc, NOT_STORE_DOWN)


def answered_by_server(exc: BaseException) -> bool:
    """PostgreSQL itself refused the statement over a live connection: it rolled back."""
    return isinstance(exc, asyncpg.PostgresError) and not isinstance(
        exc,
        (
            asyncpg.PostgresConnectionError,
            asyncpg.exceptions.OperatorInterventionError,
            asyncpg.exceptions.InsufficientResourcesError,
        ),
    )
