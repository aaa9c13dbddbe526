"""The keyholders' shares of a tender's opening key (开标密钥份额), kept only until a stage's
shares rebuild the key."""

from __future__ import annotations

from evalroom.db import Executor


async def store_opening_share(
    conn: Executor, tender: str, stage: str, holder: str, share: str
) -> None:
    """Keep ``holder``'s share for the stage; a share handed in again changes nothing."""
    await conn.execute(
        "INSERT INTO opening_shares (tender, stage, holder, share) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT DO NOTHING",
        tender,
        stage,
        holder,
        share,
    )


async def opening_shares_for_stage(conn: Executor, tender: str, stage: str) -> list[str]:
    """The shares handed in for the stage so far."""
    rows = await conn.fetch(
        "SELECT share FROM opening_shares WHERE tender = $1 AND stage = $2", tender, stage
    )
    return [r["share"] for r in rows]


async def forget_opening_shares(conn: Executor, tender: str, stage: str) -> None:
    """Drop the stage's shares (they served, or they do not rebuild the key)."""
    await conn.execute("DELETE FROM opening_shares WHERE tender = $1 AND stage = $2", tender, stage)
