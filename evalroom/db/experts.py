"""The expert pool (专家库): who may be drawn, and the credit their ratings feed."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from evalroom.db import Executor


async def expert_pool(conn: Executor) -> list[dict[str, Any]]:
    """Every expert of the pool, by user id, as the draw reads them."""
    rows = await conn.fetch(
        "SELECT user_id, name, specialties, region, employer, credit, available, relations"
        " FROM experts ORDER BY user_id"
    )
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
