"""Users, their roles per scope, login challenges and the deployment's shared secrets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evalroom.db import Conn, Executor, Pool


@dataclass(frozen=True)
class User:
    id: str
    name: str
    org: str | None
    signing_key: str


@dataclass(frozen=True)
class RoleGrant:
    scope: str
    role: str
    venue: str


async def create_user(conn: Executor, user_id: str, name: str, org: str | None, key: str) -> bool:
    status: str = await conn.execute(
        "INSERT INTO users (id, name, org, signing_key) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (id) DO NOTHING",
        user_id,
        name,
        org,
        key,
    )
    return status.endswith(" 1")


async def get_user(conn: Executor, user_id: str) -> User | None:
    row = await conn.fetchrow("SELECT id, name, org, signing_key FROM users WHERE id = $1", user_id)
    return None if row is None else User(row["id"], row["name"], row["org"], row["signing_key"])


async def grant_role(conn: Executor, user_id: str, scope: str, role: str, venue: str = "") -> None:
    await conn.execute(
        "INSERT INTO roles (user_id, scope, role, venue) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT DO NOTHING",
        user_id,
        scope,
        role,
        venue,
    )


async def revoke_seat(conn: Executor, user_id: str, scope: str) -> None:
    """Take back an expert's seat (expert or chair) in a session."""
    await conn.execute(
        "DELETE FROM roles WHERE user_id = $1 AND scope = $2 AND role IN ('expert', 'chair')",
        user_id,
        scope,
    )


async def roles_in_tree(conn: Executor, user_id: str, stream: str) -> set[str]:
    """The roles ``user_id`` holds in ``stream`` or in any stream under it."""
    rows = await conn.fetch(
        "SELECT role FROM roles WHERE user_id = $1 AND (scope = $2 OR scope IN"
        " (SELECT name FROM streams WHERE parent = $2))",
        user_id,
        stream,
    )
    return {r["role"] for r in rows}


async def roles_of(conn: Executor, user_id: str) -> list[dict[str, Any]]:
    """Every role ``user_id`` holds, as ``{scope, role, venue, tender}`` (``tender``: the
    scope's parent, None for a tender or ``platform``), by scope, role and venue; at most 1000."""
    rows = await conn.fetch(
        "SELECT r.scope, r.role, r.venue, s.parent FROM roles r"
        " LEFT JOIN streams s ON s.name = r.scope WHERE r.user_id = $1"
        " ORDER BY r.scope, r.role, r.venue LIMIT 1000",
        user_id,
    )
    return [
        {"scope": r["scope"], "role": r["role"], "venue": r["venue"], "tender": r["parent"]}
        for r in rows
    ]


async def roles_in(conn: Executor, user_id: str, scopes: Sequence[str]) -> list[RoleGrant]:
    rows = await conn.fetch(
        "SELECT scope, role, venue FROM roles WHERE user_id = $1 AND scope = ANY($2::text[])",
        user_id,
        list(scopes),
    )
    return [RoleGrant(r["scope"], r["role"], r["venue"]) for r in rows]


async def tender_roster(conn: Conn, tender: str, named: Sequence[str]) -> dict[str, Any]:
    """Who holds which role in ``tender`` and its sessions, and the registered users among
    ``named``, with their organisation and expert-pool record (employer, relations), as the
    plain JSON that :meth:`evalroom.domain.duties.Roster.from_facts` reads.

    Takes the tender's transaction-scoped advisory lock first, so grants anywhere in one
    tender (its stream or any of its sessions) are checked one after the other."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", tender)
    person = "u.org, e.employer, coalesce(e.relations, '{}'::text[]) AS relations"
    holdings = await conn.fetch(
        f"SELECT r.user_id, r.role, r.scope, {person} FROM roles r"
        " JOIN users u ON u.id = r.user_id LEFT JOIN experts e ON e.user_id = r.user_id"
        " WHERE r.scope = $1 OR r.scope IN (SELECT name FROM streams WHERE parent = $1)"
        " ORDER BY r.scope, r.role, r.user_id",
        tender,
    )
    people = await conn.fetch(
        f"SELECT u.id, {person} FROM users u LEFT JOIN experts e ON e.user_id = u.id"
        " WHERE u.id = ANY($1::text[])",
        list(named),
    )
    return {
        "holdings": [
            {"user": r["user_id"], "role": r["role"], "scope": r["scope"], **_person(r)}
            for r in holdings
        ],
        "people": {r["id"]: _person(r) for r in people},
    }


def _person(row: Any) -> dict[str, Any]:
    return {"org": row["org"], "employer": row["employer"], "relations": list(row["relations"])}


async def put_challenge(pool: Pool, nonce: str, user_id: str, ttl_seconds: int) -> None:
    await pool.execute(
        "INSERT INTO login_challenges (nonce, user_id, expires_at)"
        " VALUES ($1, $2, now() + make_interval(secs => $3))",
        nonce,
        user_id,
        float(ttl_seconds),
    )


async def take_challenge(pool: Pool, nonce: str, user_id: str) -> bool:
    """Consume a challenge once; False when unknown, used, expired or for someone else."""
    row = await pool.fetchrow(
        "DELETE FROM login_challenges WHERE nonce = $1 RETURNING user_id, expires_at > now() AS live",
        nonce,
    )
    return row is not None and row["live"] and row["user_id"] == user_id


async def secret(pool: Executor, name: str) -> bytes:
    value = await pool.fetchval("SELECT value FROM node_secrets WHERE name = $1", name)
    if value is None:
        raise LookupError(name)
    return bytes(value)


async def stream_grants(
    conn: Executor, user_id: str, stream: str
) -> tuple[str, str | None, list[RoleGrant]] | None:
    """(kind, parent, the user's grants in the stream and its parent) in one round trip, or
    None when the stream does not exist."""
    row = await conn.fetchrow(
        "SELECT s.kind, s.parent, ARRAY(SELECT r.scope || chr(31) || r.role || chr(31) || r.venue"
        "  FROM roles r WHERE r.user_id = $2 AND r.scope IN (s.name, s.parent)) AS grants"
        " FROM streams s WHERE s.name = $1",
        stream,
        user_id,
    )
    if row is None:
        return None
    grants = [RoleGrant(*g.split("\x1f", 2)) for g in row["grants"]]
    return row["kind"], row["parent"], grants
