"""The expert pool (专家库): who may be drawn, and the credit their ratings feed; its
management (import, suspension, credit and relations set by hand), each change recorded in
``expert_changes``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from evalroom.db import Conn, Executor

# The snapshot's ``available``: not on leave and not suspended. A suspended expert stays in
# the snapshot (the draw records why it was passed over) but is never seated.
_SNAPSHOT = (
    "SELECT user_id, name, specialties, region, employer, credit,"
    " available AND suspended_at IS NULL AS available, relations"
    " FROM experts ORDER BY user_id"
)


async def expert_pool(conn: Executor) -> list[dict[str, Any]]:
    """Every expert of the pool, by user id, as the draw reads them."""
    rows = await conn.fetch(_SNAPSHOT)
    return [
        {
            "id": r["user_id"],
            "name": r["name"],
            "specialties": list(r["specialties"]),
            "region": r["region"],
            "employer": r["employer"],
            "credit": str(r["credit"]),
            "available": r["available"],
            "relations": list(r["relations"]),
        }
        for r in rows
    ]


async def add_expert(
    conn: Executor,
    user_id: str,
    name: str,
    specialties: Sequence[str],
    region: str,
    employer: str,
    credit: Decimal,
    relations: Sequence[str],
) -> None:
    """Put a registered user into the pool."""
    await conn.execute(
        "INSERT INTO experts (user_id, name, specialties, region, employer, credit,"
        " relations) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        user_id,
        name,
        list(specialties),
        region,
        employer,
        credit,
        list(relations),
    )


async def rate_expert(conn: Executor, user_id: str, score: Decimal) -> None:
    """Fold a rating (0..100) into the expert's credit: a running mean of the ratings."""
    await conn.execute(
        "UPDATE experts SET credit = round((credit * (ratings + 1) + $2) / (ratings + 2), 2),"
        " ratings = ratings + 1 WHERE user_id = $1",
        user_id,
        score,
    )


# -- management --------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolExpert:
    """An expert as an import writes it; ``credit`` None keeps the stored one (new: 80)."""

    user_id: str
    name: str
    specialties: tuple[str, ...]
    region: str
    employer: str
    credit: Decimal | None
    relations: tuple[str, ...]


@dataclass(frozen=True)
class Suspension:
    at: datetime
    reason: str
    by: str


@dataclass(frozen=True)
class PoolEntry:
    """One expert as the pool's managers see it: the snapshot's fields and the suspension."""

    user_id: str
    name: str
    specialties: list[str]
    region: str
    employer: str
    credit: Decimal
    ratings: int
    available: bool  # the expert's own availability (on leave or not), before suspension
    relations: list[str]
    suspension: Suspension | None


@dataclass(frozen=True)
class ImportCounts:
    added: int
    updated: int
    unchanged: int


async def pool_entries(conn: Executor) -> list[PoolEntry]:
    """Every expert of the pool by user id, with suspension and the number of ratings."""
    rows = await conn.fetch(
        "SELECT user_id, name, specialties, region, employer, credit, ratings, available,"
        " relations, suspended_at, suspended_reason, suspended_by FROM experts ORDER BY user_id"
    )
    return [
        PoolEntry(
            r["user_id"],
            r["name"],
            list(r["specialties"]),
            r["region"],
            r["employer"],
            r["credit"],
            r["ratings"],
            r["available"],
            list(r["relations"]),
            None
            if r["suspended_at"] is None
            else Suspension(r["suspended_at"], r["suspended_reason"], r["suspended_by"] or ""),
        )
        for r in rows
    ]


async def accounts_of(conn: Executor, user_ids: Sequence[str]) -> dict[str, tuple[str | None, str]]:
    """(org, signing key) of each of ``user_ids`` that has an account."""
    rows = await conn.fetch(
        "SELECT id, org, signing_key FROM users WHERE id = ANY($1::text[])", list(user_ids)
    )
    return {r["id"]: (r["org"], r["signing_key"]) for r in rows}


async def import_experts(conn: Conn, experts: Sequence[PoolExpert], actor: str) -> ImportCounts:
    """Add or update every expert given (their accounts exist), in the caller's transaction;
    an expert whose stored fields already match is left alone and leaves no change row."""
    ids = [e.user_id for e in experts]
    rows = await conn.fetch(
        "SELECT user_id, name, specialties, region, employer, credit, relations FROM experts"
        " WHERE user_id = ANY($1::text[]) FOR UPDATE",
        ids,
    )
    stored = {r["user_id"]: r for r in rows}
    written: list[tuple[PoolExpert, str]] = []
    unchanged = 0
    for e in experts:
        row = stored.get(e.user_id)
        if row is None:
            written.append((e, "added"))
        elif (
            row["name"] == e.name
            and sorted(row["specialties"]) == sorted(e.specialties)
            and row["region"] == e.region
            and row["employer"] == e.employer
            and (e.credit is None or row["credit"] == e.credit)
            and sorted(row["relations"]) == sorted(e.relations)
        ):
            unchanged += 1
        else:
            written.append((e, "updated"))
    await conn.executemany(
        "INSERT INTO experts (user_id, name, specialties, region, employer, credit, relations)"
        " VALUES ($1, $2, $3, $4, $5, coalesce($6::numeric, 80), $7)"
        " ON CONFLICT (user_id) DO UPDATE SET name = excluded.name,"
        " specialties = excluded.specialties, region = excluded.region,"
        " employer = excluded.employer, relations = excluded.relations,"
        " credit = coalesce($6::numeric, experts.credit)",
        [
            (
                e.user_id,
                e.name,
                list(e.specialties),
                e.region,
                e.employer,
                e.credit,
                list(e.relations),
            )
            for e, _ in written
        ],
    )
    await conn.executemany(
        "INSERT INTO expert_changes (user_id, action, detail, actor) VALUES ($1, $2, $3, $4)",
        [(e.user_id, f"import.{how}", _import_detail(e), actor) for e, how in written],
    )
    added = sum(1 for _, how in written if how == "added")
    return ImportCounts(added, len(written) - added, unchanged)


def _import_detail(e: PoolExpert) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "name": e.name,
        "specialties": list(e.specialties),
        "region": e.region,
        "employer": e.employer,
        "relations": list(e.relations),
    }
    if e.credit is not None:
        detail["credit"] = str(e.credit)
    return detail


async def _change(
    conn: Executor,
    user_id: str,
    action: str,
    detail: dict[str, Any],
    reason: str | None,
    actor: str,
) -> None:
    await conn.execute(
        "INSERT INTO expert_changes (user_id, action, detail, reason, actor)"
        " VALUES ($1, $2, $3, $4, $5)",
        user_id,
        action,
        detail,
        reason,
        actor,
    )


async def suspend_expert(conn: Conn, user_id: str, reason: str, actor: str) -> bool:
    """Suspend (暂停抽取) with a reason; False if no such expert. Suspending a suspended
    expert replaces the reason (the change row keeps the earlier one)."""
    found = await conn.fetchval(
        "UPDATE experts SET suspended_at = now(), suspended_reason = $2, suspended_by = $3"
        " WHERE user_id = $1 RETURNING true",
        user_id,
        reason,
        actor,
    )
    if found:
        await _change(conn, user_id, "suspend", {}, reason, actor)
    return bool(found)


async def unsuspend_expert(conn: Conn, user_id: str, reason: str | None, actor: str) -> bool:
    """Lift a suspension; False if no such expert. Lifting none changes nothing."""
    previous = await conn.fetchrow(
        "SELECT suspended_reason FROM experts WHERE user_id = $1 FOR UPDATE", user_id
    )
    if previous is None:
        return False
    if previous["suspended_reason"] is not None:
        await conn.execute(
            "UPDATE experts SET suspended_at = NULL, suspended_reason = NULL, suspended_by = NULL"
            " WHERE user_id = $1",
            user_id,
        )
        detail = {"was": previous["suspended_reason"]}
        await _change(conn, user_id, "unsuspend", detail, reason, actor)
    return True


async def set_credit(conn: Conn, user_id: str, credit: Decimal, reason: str, actor: str) -> bool:
    """Set the credit by hand (a penalty, a correction); later ratings move it from there."""
    previous = await conn.fetchval(
        "SELECT credit FROM experts WHERE user_id = $1 FOR UPDATE", user_id
    )
    if previous is None:
        return False
    await conn.execute("UPDATE experts SET credit = $2 WHERE user_id = $1", user_id, credit)
    detail = {"from": str(previous), "to": str(credit)}
    await _change(conn, user_id, "credit", detail, reason, actor)
    return True


async def set_relations(
    conn: Conn, user_id: str, relations: Sequence[str], reason: str | None, actor: str
) -> bool:
    """Replace the companies the expert declares a relation to (利害关系)."""
    previous = await conn.fetchval(
        "SELECT relations FROM experts WHERE user_id = $1 FOR UPDATE", user_id
    )
    if previous is None:
        return False
    new = sorted(set(relations))
    await conn.execute("UPDATE experts SET relations = $2 WHERE user_id = $1", user_id, new)
    detail = {"from": sorted(previous), "to": new}
    await _change(conn, user_id, "relations", detail, reason, actor)
    return True


async def expert_changes(conn: Executor, user_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """The latest changes to one expert, newest first."""
    rows = await conn.fetch(
        "SELECT action, detail, reason, actor, at FROM expert_changes WHERE user_id = $1"
        " ORDER BY id DESC LIMIT $2",
        user_id,
        limit,
    )
    return [
        {
            "action": r["action"],
            "detail": r["detail"] if isinstance(r["detail"], dict) else json.loads(r["detail"]),
            "reason": r["reason"],
            "actor": r["actor"],
            "at": r["at"].isoformat(),
        }
        for r in rows
    ]
