"""Revoked tokens (``POST /auth/logout``).

The list lives in PostgreSQL and is checked whenever a token is used (an HTTP request, a
WebSocket handshake). Sockets already open with the token are closed with 4001 on every node
at once: the node that revoked publishes the token's id on the broker, and each node also reads
the recent revocations from PostgreSQL on its resync tick, in case the broker lost the message.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from evalroom.auth.tokens import TokenClaims, TokenError, TokenIssuer
from evalroom.db import Executor
from evalroom.db.identity import User
from evalroom.db.tokens import record_revocation, revocations_since, user_and_revoked

# The broker channel of revocations: not a stream name, so no stream can collide with it.
REVOKED_CHANNEL = "~revoked"
# How far back each resync tick looks (a revocation's time is taken before it commits).
RESCAN_SECONDS = 30.0


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Authenticated:
    user: User
    claims: TokenClaims
    token_id: str


async def authenticate(db: Executor, tokens: TokenIssuer, token: str) -> Authenticated | None:
    """The user of a valid, unrevoked token, else None (``TokenError`` for a bad token)."""
    claims = tokens.verify(token)
    tid = token_id(token)
    found = await user_and_revoked(db, claims.user_id, tid)
    if found is None or found[1]:
        return None
    return Authenticated(found[0], claims, tid)


async def revoke(db: Executor, tokens: TokenIssuer, token: str) -> str:
    """Revoke a token (idempotent); return its id. ``TokenError`` if it is not one of ours."""
    claims = tokens.verify(token)
    tid = token_id(token)
    await record_revocation(db, tid, claims.user_id, float(claims.expires_at))
    return tid


async def revoked_since(db: Executor, since: datetime | None) -> tuple[list[str], datetime]:
    """Ids revoked after ``since`` (less a margin; none when ``since`` is None), and the
    database's time now, to pass as ``since`` next time."""
    return await revocations_since(db, since, RESCAN_SECONDS)


__all__ = ["REVOKED_CHANNEL", "Authenticated", "TokenError", "authenticate", "revoke", "token_id"]
