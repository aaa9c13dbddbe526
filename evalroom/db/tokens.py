"""Revoked tokens (``POST /auth/logout``), checked whenever a token is used."""

from __future__ import annotations

from datetime import datetime

from evalroom.db import Executor
from evalroom.db.identity import User


async def user_and_revoked(db: Executor, user_id: str, token_id: str) -> tuple[User, bool] | None:
    """The user, and whether the token ``token_id`` is revoked; None for an unknown user."""
    row = await db.fetchrow(
        "SELECT id, name, org, signing_key,"
        " EXISTS (SELECT 1 FROM revoked_tokens WHERE token_id = $2) AS revoked"
        " FROM users WHERE id = $1",
        user_id,
        token_id,
    )
    if row is None:
        return None
    return User(row["id"], row["name"], row["org"], row["signing_key"]), bool(row["revoked"])


async def record_revocation(db: Executor, token_id: str, user_id: str, expires_at: float) -> None:
    """Keep the revocation until the token expires (idempotent); forget those long expired."""
    await db.execute(
        "WITH gone AS (DELETE FROM revoked_tokens WHERE expires_at < now() - interval '1 hour')"
        " INSERT INTO revoked_tokens (token_id, user_id, expires_at)"
        " VALUES ($1, $2, to_timestamp($3)) ON CONFLICT (token_id) DO NOTHING",
        token_id,
        user_id,
        expires_at,
    )


async def revocations_since(
    db: Executor, since: datetime | None, margin_seconds: float
) -> tuple[list[str], datetime]:
    """Ids revoked after ``since`` less ``margin_seconds`` (none when ``since`` is None), and
    the database's clock now."""
    row = await db.fetchrow(
        "SELECT clock_timestamp() AS now, ARRAY(SELECT token_id FROM revoked_tokens"
        " WHERE revoked_at > $1::timestamptz - make_interval(secs => $2)) AS ids",
        since,
        margin_seconds,
    )
    assert row is not None
    return list(row["ids"]), row["now"]
