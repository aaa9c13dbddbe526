"""The queries of ``evalroom/db``, each case run against pgserver's embedded PostgreSQL and
the external one (``any_pg_pool``): the server must behave the same on both."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from crypto.merkle import MerkleLog
from evalroom.db import checkpoints, commands, events, experts, identity, opening, tenders, tokens
from evalroom.db.pool import answers


async def _stream(
    pool: asyncpg.Pool,
    name: str,
    kind: str,
    parent: str | None = None,
    state: dict[str, Any] | None = None,
    payloads: Sequence[dict[str, Any]] = (),
) -> list[events.StoredEvent]:
    async with pool.acquire() as conn, conn.transaction():
        await events.create_stream(conn, name, kind, parent, state or {})
        row = await events.lock_stream(conn, name)
        assert row is not None
        appended = [("t.happened", None, p, "public", None) for p in payloads]
        return await events.append_events(conn, row, appended, state or {})


async def test_the_database_answers(any_pg_pool: asyncpg.Pool) -> None:
    assert await answers(any_pg_pool) is True


async def test_opening_shares_are_kept_once_per_holder_until_forgotten(
    any_pg_pool: asyncpg.Pool,
) -> None:
    await _stream(any_pg_pool, "tender:T1", "tender")
    await opening.store_opening_share(any_pg_pool, "tender:T1", "technical", "kh-1", "s1")
    await opening.store_opening_share(any_pg_pool, "tender:T1", "technical", "kh-1", "again")
    await opening.store_opening_share(any_pg_pool, "tender:T1", "technical", "kh-2", "s2")
    await opening.store_opening_share(any_pg_pool, "tender:T1", "commercial", "kh-1", "c1")
    shares = await opening.opening_shares_for_stage(any_pg_pool, "tender:T1", "technical")
    assert sorted(shares) == ["s1", "s2"]
    await opening.forget_opening_shares(any_pg_pool, "tender:T1", "technical")
    assert await opening.opening_shares_for_stage(any_pg_pool, "tender:T1", "technical") == []
    assert await opening.opening_shares_for_stage(any_pg_pool, "tender:T1", "commercial") == ["c1"]


async def test_a_rating_moves_the_credit_by_a_running_mean(any_pg_pool: asyncpg.Pool) -> None:
    await identity.create_user(any_pg_pool, "e-1", "专家一", None, "ed25519:x")
    await experts.add_expert(
        any_pg_pool, "e-1", "专家一", ["公路"], "兰州", "设计院", Decimal("80"), []
    )
    await experts.rate_expert(any_pg_pool, "e-1", Decimal(100))  # (80*1 + 100) / 2
    await experts.rate_expert(any_pg_pool, "e-1", Decimal(20))  # (90*2 + 20) / 3
    [expert] = await experts.expert_pool(any_pg_pool)
    assert expert["id"] == "e-1" and expert["credit"] == "66.67"
    assert expert["specialties"] == ["公路"] and expert["available"] is True


async def test_a_command_answer_is_found_by_actor_and_id(any_pg_pool: asyncpg.Pool) -> None:
    await identity.create_user(any_pg_pool, "u-1", "甲", None, "ed25519:x")
    async with any_pg_pool.acquire() as conn, conn.transaction():
        await events.create_stream(conn, "tender:T1", "tender", None, {})
        row = await events.lock_stream(conn, "tender:T1")
        assert row is not None
        ack = {"t": "ack", "id": "c-1", "seq": 1}
        stored = events.prepare_events(row, [("t.happened", "u-1", {}, "public", None)])
        await events.append_and_record(conn, row, stored, {}, ("u-1", "c-1", b"d" * 32, ack))
    assert await commands.prior_command(any_pg_pool, "u-1", "c-1") == (b"d" * 32, ack)
    assert await commands.command_result(any_pg_pool, "u-1", "c-1") == ack
    assert await commands.command_result(any_pg_pool, "u-1", "c-2") is None
    assert await commands.command_results(any_pg_pool, "tender:T1") == [ack]


async def test_checkpoints_first_writer_wins_and_reasons_accumulate(
    any_pg_pool: asyncpg.Pool,
) -> None:
    payloads = [{}, {"phase": "bidding"}, {}, {"phase": 3}]
    stored = await _stream(any_pg_pool, "tender:T1", "tender", payloads=payloads)
    tree = MerkleLog.from_leaf_hashes(
        [h for _seq, h in await events.leaf_hashes_after(any_pg_pool, "tender:T1", 0, 10)]
    )
    assert tree.size == len(stored) == 4
    assert await checkpoints.phase_boundaries(any_pg_pool, "tender:T1", 0, 4) == [(2, "bidding")]
    assert await checkpoints.streams_beyond_checkpoints(any_pg_pool) == [("tender:T1", 0)]
    root2, root4 = tree.root(2), tree.root(4)
    first = await checkpoints.store_checkpoint(
        any_pg_pool, "tender:T1", 2, root2, "note", "phase:bidding", "periodic"
    )
    assert first is not None and first.reasons == ("phase:bidding",)
    # Periodic again, or the same reason again: nothing changes.
    assert (
        await checkpoints.store_checkpoint(
            any_pg_pool, "tender:T1", 2, root2, "note", "periodic", "periodic"
        )
        is None
    )
    assert (
        await checkpoints.store_checkpoint(
            any_pg_pool, "tender:T1", 2, root2, "note", "phase:bidding", "periodic"
        )
        is None
    )
    added = await checkpoints.store_checkpoint(
        any_pg_pool, "tender:T1", 2, root2, "other", "export", "periodic"
    )
    assert added is not None and added.reasons == ("phase:bidding", "export")
    assert added.note == "note"  # the first writer's note stays
    await checkpoints.store_checkpoint(
        any_pg_pool, "tender:T1", 4, root4, "note4", "periodic", "periodic"
    )
    assert await checkpoints.neighbour_checkpoints(any_pg_pool, "tender:T1", 3) == [
        (2, root2),
        (4, root4),
    ]
    latest = await checkpoints.latest_checkpoint(any_pg_pool, "tender:T1")
    assert latest is not None and latest.size == 4
    assert [c.size for c in await checkpoints.checkpoints_of(any_pg_pool, "tender:T1")] == [2, 4]
    assert [
        c.size for c in await checkpoints.checkpoints_after(any_pg_pool, "tender:T1", 2, 10)
    ] == [4]
    assert await checkpoints.streams_beyond_checkpoints(any_pg_pool) == []


async def test_a_revoked_token_is_seen_and_listed_since(any_pg_pool: asyncpg.Pool) -> None:
    await identity.create_user(any_pg_pool, "u-1", "甲", "甲公司", "ed25519:x")
    found = await tokens.user_and_revoked(any_pg_pool, "u-1", "tok-1")
    assert found is not None and found[0].org == "甲公司" and found[1] is False
    assert await tokens.user_and_revoked(any_pg_pool, "nobody", "tok-1") is None
    _ids, before = await tokens.revocations_since(any_pg_pool, None, 30.0)
    expires = (datetime.now(UTC) + timedelta(hours=1)).timestamp()
    await tokens.record_revocation(any_pg_pool, "tok-1", "u-1", expires)
    await tokens.record_revocation(any_pg_pool, "tok-1", "u-1", expires)  # idempotent
    found = await tokens.user_and_revoked(any_pg_pool, "u-1", "tok-1")
    assert found is not None and found[1] is True
    ids, _now = await tokens.revocations_since(any_pg_pool, before, 0.0)
    assert ids == ["tok-1"]


async def test_the_tender_list_shows_published_tenders_and_ones_own(
    any_pg_pool: asyncpg.Pool,
) -> None:
    await identity.create_user(any_pg_pool, "agent", "代理", None, "ed25519:x")
    await _stream(any_pg_pool, "tender:PUB", "tender", state={"phase": "bidding", "title": "甲"})
    await _stream(any_pg_pool, "tender:DRAFT", "tender", state={"phase": "draft", "title": "乙"})
    await _stream(any_pg_pool, "tender:MINE", "tender", state={"phase": "draft", "title": "丙"})
    await _stream(any_pg_pool, "session:S", "session", parent="tender:MINE")
    await identity.grant_role(any_pg_pool, "agent", "session:S", "chair")
    found = {r["name"]: r for r in await tenders.tenders_for(any_pg_pool, "agent", ["bidding"])}
    assert set(found) == {"tender:PUB", "tender:MINE"}
    assert found["tender:MINE"]["roles"] == ["chair"]
    assert found["tender:MINE"]["sessions"] == ["session:S"]
    assert found["tender:PUB"]["roles"] == [] and found["tender:PUB"]["bid_stream"] is None
    assert await identity.roles_in_tree(any_pg_pool, "agent", "tender:MINE") == {"chair"}
    assert await identity.roles_of(any_pg_pool, "agent") == [
        {"scope": "session:S", "role": "chair", "venue": "", "tender": "tender:MINE"}
    ]
    await identity.revoke_seat(any_pg_pool, "agent", "session:S")
    assert await identity.roles_in_tree(any_pg_pool, "agent", "tender:MINE") == set()
