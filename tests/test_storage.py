"""The queries of ``evalroom/db``: one set of cases that every PostgreSQL runs, each case on
pgserver's embedded server and on the external one (``any_pg_pool``, ``any_pg_database``).
A case states one behaviour of the storage; the server must behave the same on both."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from crypto.events import event_leaf_hash
from crypto.merkle import MerkleLog
from evalroom.db import (
    Conn,
    PooledConn,
    blobs,
    checkpoints,
    commands,
    errors,
    events,
    experts,
    export,
    handover,
    identity,
    opening,
    origins,
    sessions,
    tenders,
    tokens,
)
from evalroom.db.migrate import migrate, migration_files
from evalroom.db.pool import answers

Appended = tuple[str, str | None, dict[str, Any], str, str | None]
DIGEST = b"d" * 32  # a command's digest, as the pipeline stores it


async def _stream(
    pool: asyncpg.Pool,
    name: str,
    kind: str,
    parent: str | None = None,
    state: dict[str, Any] | None = None,
    payloads: Sequence[dict[str, Any]] = (),
) -> list[events.StoredEvent]:
    """Create ``name`` and append one public event per payload."""
    async with _transaction(pool) as conn:
        await events.create_stream(conn, name, kind, parent, state or {})
    return await _append(pool, name, [("t.happened", None, p, "public", None) for p in payloads])


async def _append(
    pool: asyncpg.Pool, name: str, appended: Sequence[Appended]
) -> list[events.StoredEvent]:
    async with _transaction(pool) as conn:
        row = await events.lock_stream(conn, name)
        assert row is not None
        return await events.append_events(conn, row, appended, row.state)


async def _commit(
    pool: asyncpg.Pool,
    stream: str,
    appended: Sequence[Appended],
    new_state: dict[str, Any],
    ack: dict[str, Any],
    digest: bytes = DIGEST,
) -> list[events.StoredEvent]:
    """Commit u-1's command c-1 in ``stream`` as the pipeline does: its events, the new
    state and its first answer, in one statement."""
    async with _transaction(pool) as conn:
        row = await events.lock_stream(conn, stream)
        assert row is not None
        stored = events.prepare_events(row, appended)
        head = row.head + len(stored)
        record = events.CommandRecord("u-1", "c-1", digest, head, ack)
        await events.append_and_record(conn, row, stored, new_state, [record])
    return stored


async def _user(pool: asyncpg.Pool, user_id: str, org: str | None = None) -> None:
    assert await identity.create_user(pool, user_id, user_id.upper(), org, f"ed25519:{user_id}")


@contextlib.asynccontextmanager
async def _transaction(pool: asyncpg.Pool) -> AsyncIterator[PooledConn]:
    async with pool.acquire() as conn, conn.transaction():
        yield conn


async def _must_wait(pool: asyncpg.Pool, take: Callable[[Conn], Awaitable[object]]) -> bool:
    """Whether ``take``, on a connection of its own, has to wait for a lock someone holds.
    Under a tiny ``lock_timeout`` PostgreSQL refuses the lock at once instead of waiting;
    a lock nobody holds is granted at once. Neither outcome depends on the machine's speed."""
    try:
        async with _transaction(pool) as conn:
            await conn.execute("SET LOCAL lock_timeout = '10ms'")
            await take(conn)
    except asyncpg.LockNotAvailableError:
        return True
    return False


# The database and its schema.


async def test_the_database_answers(any_pg_pool: asyncpg.Pool) -> None:
    assert await answers(any_pg_pool) is True


async def test_migrations_apply_every_file_to_a_fresh_database(any_pg_database: str) -> None:
    conn = await asyncpg.connect(any_pg_database)
    try:
        applied = await migrate(conn)
    finally:
        await conn.close()
    assert applied == [name for _version, name, _sql in migration_files()]
    assert len(applied) >= 5


async def test_migrations_run_again_apply_nothing_and_keep_the_secrets(
    any_pg_database: str,
) -> None:
    conn = await asyncpg.connect(any_pg_database)
    try:
        await migrate(conn)
        before = await identity.secret(conn, "token_mac")
        assert await migrate(conn) == []
        assert await identity.secret(conn, "token_mac") == before
    finally:
        await conn.close()


async def test_a_deployment_secret_is_made_once_and_an_unknown_one_is_refused(
    any_pg_pool: asyncpg.Pool,
) -> None:
    for name in ("token_mac", "platform_ed25519", "log_ed25519"):
        assert len(await identity.secret(any_pg_pool, name)) == 32
    with pytest.raises(LookupError):
        await identity.secret(any_pg_pool, "nothing")


# How failures are classified.


async def test_a_duplicate_key_is_answered_by_the_server_not_a_store_outage(
    any_pg_pool: asyncpg.Pool,
) -> None:
    await identity.create_user(any_pg_pool, "u-1", "甲", None, "ed25519:x")
    await _stream(any_pg_pool, "tender:T1", "tender")
    ack = {"t": "ack", "id": "c-1"}
    await _commit(any_pg_pool, "tender:T1", [], {}, ack)
    with pytest.raises(errors.UniqueViolation) as refused:
        await _commit(any_pg_pool, "tender:T1", [], {}, ack, digest=b"e" * 32)
    assert errors.answered_by_server(refused.value) is True
    assert errors.store_down(refused.value) is False


async def test_a_role_for_an_unknown_user_is_a_foreign_key_violation(
    any_pg_pool: asyncpg.Pool,
) -> None:
    with pytest.raises(errors.ForeignKeyViolation):
        await identity.grant_role(any_pg_pool, "nobody", "platform", "admin")


async def test_a_query_on_a_closed_connection_is_a_store_outage(any_pg_database: str) -> None:
    conn = await asyncpg.connect(any_pg_database)
    await conn.close()
    with pytest.raises(asyncpg.InterfaceError) as failed:
        await conn.fetchval("SELECT 1")
    assert errors.store_down(failed.value) is True
    assert errors.answered_by_server(failed.value) is False


# Streams and events.


async def test_creating_a_stream_twice_keeps_the_first(any_pg_pool: asyncpg.Pool) -> None:
    async with _transaction(any_pg_pool) as conn:
        assert await events.create_stream(conn, "tender:T1", "tender", None, {"v": 1}) is True
        assert await events.create_stream(conn, "tender:T1", "session", None, {"v": 2}) is False
    assert await events.stream_info(any_pg_pool, "tender:T1") == ("tender", None, 0)
    assert await events.stream_state(any_pg_pool, "tender:T1") == {"v": 1}


async def test_appended_events_get_the_seqs_after_the_head(any_pg_pool: asyncpg.Pool) -> None:
    first = await _stream(any_pg_pool, "tender:T1", "tender", payloads=[{"n": 1}, {"n": 2}])
    more = await _append(any_pg_pool, "tender:T1", [("t.more", "system", {}, "public", None)])
    assert [e.seq for e in first + more] == [1, 2, 3]
    assert await events.stream_info(any_pg_pool, "tender:T1") == ("tender", None, 3)


async def test_events_read_back_as_appended(any_pg_pool: asyncpg.Pool) -> None:
    await _stream(any_pg_pool, "tender:T1", "tender")
    appended = await _append(
        any_pg_pool,
        "tender:T1",
        [("t.a", "system", {"名": "甲"}, "public", "sig-a"), ("t.b", None, {}, "private", None)],
    )
    assert await events.read_events(any_pg_pool, "tender:T1", 0) == appended


async def test_reading_events_keeps_to_after_limit_and_upto(any_pg_pool: asyncpg.Pool) -> None:
    await _stream(any_pg_pool, "tender:T1", "tender", payloads=[{}] * 5)

    async def seqs(after: int, limit: int = 1000, upto: int | None = None) -> list[int]:
        found = await events.read_events(any_pg_pool, "tender:T1", after, limit, upto)
        return [e.seq for e in found]

    assert await seqs(2) == [3, 4, 5]
    assert await seqs(0, limit=2) == [1, 2]
    assert await seqs(1, upto=3) == [2, 3]


async def test_the_stored_leaf_hash_is_the_events_own(any_pg_pool: asyncpg.Pool) -> None:
    stored = await _stream(any_pg_pool, "tender:T1", "tender", payloads=[{"a": 1}, {"b": "乙"}])
    leaves = await events.leaf_hashes_after(any_pg_pool, "tender:T1", 0, 10)
    assert leaves == [(e.seq, event_leaf_hash(e.record())) for e in stored]
    assert await events.leaf_hashes_after(any_pg_pool, "tender:T1", 1, 10) == leaves[1:]


async def test_stream_heads_name_only_the_streams_that_exist(any_pg_pool: asyncpg.Pool) -> None:
    await _stream(any_pg_pool, "tender:T1", "tender", payloads=[{}, {}])
    await _stream(any_pg_pool, "tender:T2", "tender")
    heads = await events.stream_heads(any_pg_pool, ["tender:T1", "tender:T2", "tender:none"])
    assert heads == {"tender:T1": 2, "tender:T2": 0}


async def test_a_streams_committed_state_and_parent_read_without_a_lock(
    any_pg_pool: asyncpg.Pool,
) -> None:
    await _stream(any_pg_pool, "tender:T1", "tender")
    await _stream(any_pg_pool, "session:S", "session", "tender:T1", {"phase": "scoring"})
    assert await events.stream_state(any_pg_pool, "session:S") == {"phase": "scoring"}
    assert await events.stream_parent_state(any_pg_pool, "session:S") == (
        "tender:T1",
        {"phase": "scoring"},
    )
    found = await events.stream_state_now(any_pg_pool, "session:S")
    assert found is not None and found[0] == {"phase": "scoring"}
    assert abs(found[1] - datetime.now(UTC)) < timedelta(minutes=5)


async def test_an_unknown_stream_has_no_state_info_or_lock(any_pg_pool: asyncpg.Pool) -> None:
    assert await events.stream_state(any_pg_pool, "tender:none") is None
    assert await events.stream_state_now(any_pg_pool, "tender:none") is None
    assert await events.stream_parent_state(any_pg_pool, "tender:none") is None
    assert await events.stream_info(any_pg_pool, "tender:none") is None
    async with _transaction(any_pg_pool) as conn:
        assert await events.lock_stream(conn, "tender:none") is None
        assert await events.lock_for_command(conn, "tender:none", "u", "c", False) is None


async def test_child_streams_carry_their_kind_heads_and_leaf_hashes(
    any_pg_pool: asyncpg.Pool,
) -> None:
    await _stream(any_pg_pool, "tender:T1", "tender")
    b = await _stream(any_pg_pool, "bid:T1:B", "bid", "tender:T1", {"x": 1}, [{}, {"n": 2}])
    await _stream(any_pg_pool, "bid:T1:A", "bid", "tender:T1", payloads=[{}])
    await _stream(any_pg_pool, "session:S", "session", "tender:T1")
    await _stream(any_pg_pool, "bid:T2:C", "bid")
    found = await events.child_streams(any_pg_pool, "tender:T1", "bid")
    assert [(c.name, c.head) for c in found] == [("bid:T1:A", 1), ("bid:T1:B", 2)]
    assert found[1].state == {"x": 1}
    assert found[1].leaves == [event_leaf_hash(e.record()) for e in b]


async def test_sessions_outside_the_given_phases_are_listed(any_pg_pool: asyncpg.Pool) -> None:
    await _stream(any_pg_pool, "tender:T1", "tender", state={"phase": "bidding"})
    await _stream(any_pg_pool, "session:A", "session", "tender:T1", {"phase": "closed"})
    await _stream(any_pg_pool, "session:B", "session", "tender:T1", {"phase": "scoring"})
    found = await events.sessions_outside_phases(any_pg_pool, ["closed", "archived"])
    assert found == [("session:B", 0, {"phase": "scoring"})]


async def test_a_command_is_recorded_with_its_events_in_one_statement(
    any_pg_pool: asyncpg.Pool,
) -> None:
    await identity.create_user(any_pg_pool, "u-1", "甲", None, "ed25519:x")
    await _stream(any_pg_pool, "tender:T1", "tender")
    ack = {"t": "ack", "id": "c-1", "seq": 2}
    appended: list[Appended] = [
        ("t.a", "u-1", {"n": 1}, "public", "s1"),
        ("t.b", "u-1", {}, "private", None),
    ]
    stored = await _commit(any_pg_pool, "tender:T1", appended, {"v": 2}, ack)
    assert [e.seq for e in stored] == [1, 2]
    assert await events.read_events(any_pg_pool, "tender:T1", 0) == stored
    assert await events.stream_state(any_pg_pool, "tender:T1") == {"v": 2}
    leaves = await events.leaf_hashes_after(any_pg_pool, "tender:T1", 0, 10)
    assert [h for _seq, h in leaves] == [event_leaf_hash(e.record()) for e in stored]
    assert await commands.prior_command(any_pg_pool, "u-1", "c-1") == (DIGEST, ack)


async def test_a_command_answer_is_found_by_actor_and_id(any_pg_pool: asyncpg.Pool) -> None:
    await identity.create_user(any_pg_pool, "u-1", "甲", None, "ed25519:x")
    await _stream(any_pg_pool, "tender:T1", "tender")
    ack = {"t": "ack", "id": "c-1", "seq": 1}
    await _commit(any_pg_pool, "tender:T1", [("t.happened", "u-1", {}, "public", None)], {}, ack)
    assert await commands.prior_command(any_pg_pool, "u-1", "c-1") == (DIGEST, ack)
    assert await commands.prior_command(any_pg_pool, "u-2", "c-1") is None
    assert await commands.command_result(any_pg_pool, "u-1", "c-1") == ack
    assert await commands.command_result(any_pg_pool, "u-1", "c-2") is None
    assert await commands.command_results(any_pg_pool, "tender:T1") == [ack]
    assert await commands.command_results(any_pg_pool, "tender:T2") == []


async def test_locking_for_a_retried_command_finds_its_first_answer(
    any_pg_pool: asyncpg.Pool,
) -> None:
    await identity.create_user(any_pg_pool, "u-1", "甲", None, "ed25519:x")
    await _stream(any_pg_pool, "tender:T1", "tender", state={"v": 1})
    ack = {"t": "ack", "id": "c-1", "seq": 1}
    await _commit(
        any_pg_pool, "tender:T1", [("t.happened", "u-1", {}, "public", None)], {"v": 2}, ack
    )
    async with _transaction(any_pg_pool) as conn:
        retried = await events.lock_for_command(conn, "tender:T1", "u-1", "c-1", False)
        fresh = await events.lock_for_command(conn, "tender:T1", "u-1", "c-2", False)
    assert retried is not None and fresh is not None
    assert (retried.prior_digest, retried.prior_result) == (DIGEST, ack)
    assert (fresh.prior_digest, fresh.prior_result) == (None, None)
    assert (fresh.row.head, fresh.row.state, fresh.row.kind) == (1, {"v": 2}, "tender")


async def test_locking_for_a_command_reads_the_actors_grants_there(
    any_pg_pool: asyncpg.Pool,
) -> None:
    await identity.create_user(any_pg_pool, "u-1", "甲", None, "ed25519:x")
    await _stream(any_pg_pool, "tender:T1", "tender")
    await _stream(any_pg_pool, "session:S", "session", "tender:T1")
    await _stream(any_pg_pool, "session:OTHER", "session", "tender:T1")
    await identity.grant_role(any_pg_pool, "u-1", "tender:T1", "agent")
    await identity.grant_role(any_pg_pool, "u-1", "session:S", "expert", "兰州")
    await identity.grant_role(any_pg_pool, "u-1", "session:OTHER", "chair")
    await identity.grant_role(any_pg_pool, "u-1", "platform", "admin")
    async with _transaction(any_pg_pool) as conn:
        in_stream = await events.lock_for_command(conn, "session:S", "u-1", "c", False)
        on_platform = await events.lock_for_command(conn, "session:S", "u-1", "c", True)
    assert in_stream is not None and on_platform is not None
    assert sorted(in_stream.grants) == [("agent", ""), ("expert", "兰州")]
    assert on_platform.grants == [("admin", "")]


async def test_locking_for_a_batch_finds_each_retrys_first_answer_and_each_actors_grants(
    any_pg_pool: asyncpg.Pool,
) -> None:
    for user in ("u-1", "u-2", "u-3"):
        await identity.create_user(any_pg_pool, user, user, None, "ed25519:x")
    await _stream(any_pg_pool, "tender:T1", "tender")
    await _stream(any_pg_pool, "session:S", "session", "tender:T1", {"v": 1})
    await identity.grant_role(any_pg_pool, "u-1", "tender:T1", "agency")
    await identity.grant_role(any_pg_pool, "u-2", "session:S", "expert", "兰州")
    await identity.grant_role(any_pg_pool, "u-2", "session:OTHER", "chair")
    ack = {"t": "ack", "id": "c-1", "seq": 1}
    await _commit(any_pg_pool, "session:S", [("t.a", "u-1", {}, "public", None)], {"v": 2}, ack)
    async with _transaction(any_pg_pool) as conn:
        locked = await events.lock_for_batch(
            conn, "session:S", [("u-1", "c-1"), ("u-2", "c-1"), ("u-1", "c-2"), ("u-3", "c")]
        )
        assert await events.lock_for_batch(conn, "session:none", [("u-1", "c")]) is None
    assert locked is not None and (locked.row.head, locked.row.state) == (1, {"v": 2})
    assert locked.priors == {("u-1", "c-1"): (DIGEST, ack)}
    assert locked.grants == {"u-1": [("agency", "")], "u-2": [("expert", "兰州")], "u-3": []}


async def test_a_batch_of_commands_is_recorded_with_its_events_in_one_statement(
    any_pg_pool: asyncpg.Pool,
) -> None:
    await _stream(any_pg_pool, "tender:T1", "tender")
    async with _transaction(any_pg_pool) as conn:
        row = await events.lock_stream(conn, "tender:T1")
        assert row is not None
        stored = events.prepare_events(
            row, [("t.a", "u-1", {"n": 1}, "public", None), ("t.b", "u-2", {}, "public", None)]
        )
        records = [
            events.CommandRecord("u-1", "c-1", b"1" * 32, 1, {"t": "ack", "seq": 1}),
            events.CommandRecord("u-2", "c-1", b"2" * 32, 2, {"t": "ack", "seq": 2}),
        ]
        await events.append_and_record(conn, row, stored, {"v": 3}, records)
    assert await events.read_events(any_pg_pool, "tender:T1", 0) == stored
    assert await events.stream_info(any_pg_pool, "tender:T1") == ("tender", None, 2)
    assert await commands.prior_command(any_pg_pool, "u-2", "c-1") == (
        b"2" * 32,
        {"t": "ack", "seq": 2},
    )
    rows = await any_pg_pool.fetch("SELECT client_id, seq FROM commands ORDER BY seq")
    assert [(r["client_id"], r["seq"]) for r in rows] == [("c-1", 1), ("c-1", 2)]


async def test_a_batch_written_on_its_own_commits_only_on_the_head_it_was_read_at(
    any_pg_pool: asyncpg.Pool,
) -> None:
    """``read_for_batch`` then ``append_if_head``, outside any transaction: written when the
    head is unchanged and the row free; nothing written (no event, no command, same head)
    when another writer moved the head or holds the row, and no waiting for its lock."""
    await _stream(any_pg_pool, "tender:T1", "tender")
    ev = [("t.a", "u-1", {"n": 1}, "public", None)]

    def record(cid: str, seq: int) -> events.CommandRecord:
        return events.CommandRecord("u-1", cid, cid.encode() * 8, seq, {"t": "ack", "seq": seq})

    async with any_pg_pool.acquire() as conn:
        seen = await events.read_for_batch(conn, "tender:T1", [("u-1", "c-1")])
        assert seen is not None and seen.row.head == 0 and not conn.is_in_transaction()
        assert await events.read_for_batch(conn, "tender:none", [("u-1", "c")]) is None
        stored = events.prepare_events(seen.row, ev)
        assert await events.append_if_head(conn, seen.row, stored, {"v": 1}, [record("c-1", 1)])
        # The same read again: its head is stale now, and nothing is written.
        again = events.prepare_events(seen.row, ev)
        assert not await events.append_if_head(conn, seen.row, again, {"v": 9}, [record("c-2", 1)])
    assert await events.read_events(any_pg_pool, "tender:T1", 0) == stored
    assert await events.stream_info(any_pg_pool, "tender:T1") == ("tender", None, 1)
    assert await commands.prior_command(any_pg_pool, "u-1", "c-2") is None
    # A writer holding the row: skipped at once, not waited for.
    async with any_pg_pool.acquire() as conn:
        fresh = await events.read_for_batch(conn, "tender:T1", [("u-1", "c-3")])
        assert fresh is not None and fresh.row.head == 1
        async with _transaction(any_pg_pool) as holder:
            assert await events.lock_stream(holder, "tender:T1") is not None
            later = events.prepare_events(fresh.row, ev)
            written = await asyncio.wait_for(
                events.append_if_head(conn, fresh.row, later, {"v": 2}, [record("c-3", 2)]), 10
            )
            assert written is False
    assert await events.stream_info(any_pg_pool, "tender:T1") == ("tender", None, 1)


async def test_a_locked_stream_holds_off_another_command(any_pg_pool: asyncpg.Pool) -> None:
    await _stream(any_pg_pool, "tender:T1", "tender")
    await _stream(any_pg_pool, "tender:T2", "tender")

    def command_on(name: str) -> Callable[[Conn], Awaitable[object]]:
        return lambda conn: events.lock_for_command(conn, name, "u", "c", False)

    async with _transaction(any_pg_pool) as holder:
        assert await events.lock_stream(holder, "tender:T1") is not None
        assert await _must_wait(any_pg_pool, command_on("tender:T1")) is True
        assert await _must_wait(any_pg_pool, command_on("tender:T2")) is False


def _gate(tender: str, *, exclusive: bool) -> Callable[[Conn], Awaitable[None]]:
    return lambda conn: events.lock_gate(conn, tender, exclusive=exclusive)


async def test_bidders_share_the_gate_without_waiting(any_pg_pool: asyncpg.Pool) -> None:
    async with _transaction(any_pg_pool) as bidder:
        await events.lock_gate(bidder, "tender:T1", exclusive=False)
        assert await _must_wait(any_pg_pool, _gate("tender:T1", exclusive=False)) is False


async def test_the_opening_waits_for_a_bidder_holding_the_gate(any_pg_pool: asyncpg.Pool) -> None:
    async with _transaction(any_pg_pool) as bidder:
        await events.lock_gate(bidder, "tender:T1", exclusive=False)
        assert await _must_wait(any_pg_pool, _gate("tender:T1", exclusive=True)) is True
        assert await _must_wait(any_pg_pool, _gate("tender:T2", exclusive=True)) is False


async def test_a_bidder_waits_while_the_opening_holds_the_gate(any_pg_pool: asyncpg.Pool) -> None:
    async with _transaction(any_pg_pool) as opener:
        await events.lock_gate(opener, "tender:T1", exclusive=True)
        assert await _must_wait(any_pg_pool, _gate("tender:T1", exclusive=False)) is True
    assert await _must_wait(any_pg_pool, _gate("tender:T1", exclusive=False)) is False


# Sealed bids and opened bids in chunks.


async def test_an_upload_reads_back_whole_from_its_chunks(any_pg_pool: asyncpg.Pool) -> None:
    upload_id = await blobs.new_upload(any_pg_pool, "tender:T1", "bidder", "cipher")
    data = bytes(range(256)) * ((2 * blobs.CHUNK + 300) // 256)
    writer = blobs.ChunkWriter(any_pg_pool, upload_id)
    for start in range(0, len(data), 700_000):
        await writer.write(data[start : start + 700_000])
    digest = await writer.close()
    pieces = [piece async for piece in blobs.chunks(any_pg_pool, upload_id)]
    assert [len(p) for p in pieces] == [blobs.CHUNK, blobs.CHUNK, len(data) - 2 * blobs.CHUNK]
    assert b"".join(pieces) == data
    assert digest == hashlib.sha256(data).digest()


async def test_a_finished_upload_records_its_size_and_digest(any_pg_pool: asyncpg.Pool) -> None:
    upload_id = await blobs.new_upload(any_pg_pool, "tender:T1", "bidder", "plain")
    writer = blobs.ChunkWriter(any_pg_pool, upload_id)
    await writer.write(b"sealed bid")
    digest = await writer.close()
    assert await blobs.get_upload(any_pg_pool, upload_id) == blobs.Upload(
        upload_id, "tender:T1", "bidder", "plain", 10, digest.hex(), True
    )


async def test_an_unfinished_upload_is_incomplete(any_pg_pool: asyncpg.Pool) -> None:
    upload_id = await blobs.new_upload(any_pg_pool, "tender:T1", "bidder", "cipher")
    await blobs.put_chunk(any_pg_pool, upload_id, 0, b"part")
    found = await blobs.get_upload(any_pg_pool, upload_id)
    assert found is not None and (found.complete, found.size, found.sha256) == (False, 0, None)


async def test_an_uploads_origin_reads_back_and_the_first_record_stays(
    any_pg_pool: asyncpg.Pool,
) -> None:
    a = await blobs.new_upload(any_pg_pool, "tender:T1", "bidder-a", "cipher")
    b = await blobs.new_upload(any_pg_pool, "tender:T1", "bidder-b", "cipher")
    fp = origins.key_fingerprint("ed25519:AAAA")
    await origins.record_upload_origin(any_pg_pool, a, "203.0.113.7", fp)
    await origins.record_upload_origin(any_pg_pool, a, "198.51.100.1", "sha256:other")
    await origins.record_upload_origin(any_pg_pool, b, None, fp)
    found = await origins.upload_origins(any_pg_pool, [a, b, "u-none"])
    assert found == {
        a: origins.UploadOrigin(a, "203.0.113.7", fp),
        b: origins.UploadOrigin(b, None, fp),
    }
    assert fp == "sha256:" + hashlib.sha256(b"ed25519:AAAA").hexdigest()
    await blobs.drop_upload(any_pg_pool, a)
    assert list(await origins.upload_origins(any_pg_pool, [a, b])) == [b]


async def test_a_dropped_upload_is_gone_with_its_chunks(any_pg_pool: asyncpg.Pool) -> None:
    upload_id = await blobs.new_upload(any_pg_pool, "tender:T1", "bidder", "cipher")
    await blobs.put_chunk(any_pg_pool, upload_id, 0, b"part")
    await blobs.drop_upload(any_pg_pool, upload_id)
    assert await blobs.get_upload(any_pg_pool, upload_id) is None
    assert [piece async for piece in blobs.chunks(any_pg_pool, upload_id)] == []


async def test_an_upload_kind_other_than_cipher_or_plain_is_refused(
    any_pg_pool: asyncpg.Pool,
) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await blobs.new_upload(any_pg_pool, "tender:T1", "bidder", "zip")


# The keyholders' shares.


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


# The expert pool.


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


async def test_the_expert_pool_lists_every_expert_by_id(any_pg_pool: asyncpg.Pool) -> None:
    for user_id in ("e-2", "e-1"):
        await _user(any_pg_pool, user_id)
        await experts.add_expert(
            any_pg_pool, user_id, user_id, ["桥梁"], "兰州", "院", Decimal("75.5"), ["甲公司"]
        )
    found = await experts.expert_pool(any_pg_pool)
    assert [e["id"] for e in found] == ["e-1", "e-2"]
    assert found[0]["credit"] == "75.50" and found[0]["relations"] == ["甲公司"]


def _pool_expert(user_id: str, credit: Decimal | None = None, **kw: Any) -> experts.PoolExpert:
    fields: dict[str, Any] = {
        "name": user_id.upper(),
        "specialties": ("公路",),
        "region": "兰州",
        "employer": "设计院",
        "relations": (),
        **kw,
    }
    return experts.PoolExpert(user_id=user_id, credit=credit, **fields)


async def test_an_import_adds_updates_and_leaves_alone(any_pg_pool: asyncpg.Pool) -> None:
    for user_id in ("e-1", "e-2", "e-3"):
        await _user(any_pg_pool, user_id)
    async with _transaction(any_pg_pool) as conn:
        first = await experts.import_experts(
            conn, [_pool_expert("e-1"), _pool_expert("e-2", Decimal("90.25"))], "admin-1"
        )
    assert first == experts.ImportCounts(added=2, updated=0, unchanged=0)
    await experts.rate_expert(any_pg_pool, "e-1", Decimal(100))  # credit 90 from ratings
    async with _transaction(any_pg_pool) as conn:
        again = await experts.import_experts(
            conn,
            [
                _pool_expert("e-1"),  # no credit given: the rated credit is kept
                _pool_expert("e-2", Decimal("90.25"), region="天水"),
                _pool_expert("e-3", relations=("甲",)),
            ],
            "admin-1",
        )
    assert again == experts.ImportCounts(added=1, updated=1, unchanged=1)
    by_id = {e.user_id: e for e in await experts.pool_entries(any_pg_pool)}
    assert by_id["e-1"].credit == Decimal("90") and by_id["e-1"].ratings == 1
    assert by_id["e-2"].region == "天水" and by_id["e-2"].credit == Decimal("90.25")
    assert by_id["e-3"].credit == Decimal("80")
    assert by_id["e-3"].relations == ["甲"] and by_id["e-3"].suspension is None
    changes = await experts.expert_changes(any_pg_pool, "e-2")
    assert [c["action"] for c in changes] == ["import.updated", "import.added"]
    assert changes[0]["detail"]["region"] == "天水" and changes[0]["actor"] == "admin-1"
    assert await experts.expert_changes(any_pg_pool, "e-1") != []  # added once, then unchanged
    assert len(await experts.expert_changes(any_pg_pool, "e-1")) == 1


async def test_a_suspended_expert_stays_in_the_snapshot_unavailable(
    any_pg_pool: asyncpg.Pool,
) -> None:
    for user_id in ("e-1", "e-2"):
        await _user(any_pg_pool, user_id)
        await experts.add_expert(
            any_pg_pool, user_id, user_id, ["公路"], "兰州", "院", Decimal(80), []
        )
    async with _transaction(any_pg_pool) as conn:
        assert await experts.suspend_expert(conn, "e-1", "违规收受好处", "admin-1")
        assert not await experts.suspend_expert(conn, "nobody", "x", "admin-1")
    snapshot = {e["id"]: e["available"] for e in await experts.expert_pool(any_pg_pool)}
    assert snapshot == {"e-1": False, "e-2": True}  # the draw's avoidance: "unavailable"
    [entry, _] = await experts.pool_entries(any_pg_pool)
    assert entry.available is True  # its own availability; the suspension is apart
    assert entry.suspension is not None and entry.suspension.reason == "违规收受好处"
    assert entry.suspension.by == "admin-1"
    async with _transaction(any_pg_pool) as conn:
        assert await experts.unsuspend_expert(conn, "e-1", "申诉成立", "admin-2")
        assert await experts.unsuspend_expert(conn, "e-2", None, "admin-2")  # none to lift
        assert not await experts.unsuspend_expert(conn, "nobody", None, "admin-2")
    assert all(e["available"] for e in await experts.expert_pool(any_pg_pool))
    changes = await experts.expert_changes(any_pg_pool, "e-1")
    assert [(c["action"], c["reason"]) for c in changes] == [
        ("unsuspend", "申诉成立"), ("suspend", "违规收受好处")
    ]  # fmt: skip
    assert changes[0]["detail"] == {"was": "违规收受好处"}
    assert await experts.expert_changes(any_pg_pool, "e-2") == []


async def test_credit_and_relations_set_by_hand_are_recorded(any_pg_pool: asyncpg.Pool) -> None:
    await _user(any_pg_pool, "e-1")
    await experts.add_expert(any_pg_pool, "e-1", "E", ["公路"], "兰州", "院", Decimal(80), ["乙"])
    async with _transaction(any_pg_pool) as conn:
        assert await experts.set_credit(conn, "e-1", Decimal("55.5"), "一标一评差评", "admin-1")
        assert await experts.set_relations(conn, "e-1", ["丙", "甲", "丙"], None, "admin-1")
        assert not await experts.set_credit(conn, "nobody", Decimal(1), "x", "admin-1")
        assert not await experts.set_relations(conn, "nobody", [], None, "admin-1")
    [expert] = await experts.expert_pool(any_pg_pool)
    assert expert["credit"] == "55.50" and expert["relations"] == ["丙", "甲"]
    await experts.rate_expert(any_pg_pool, "e-1", Decimal(100))  # ratings go on from there
    [expert] = await experts.expert_pool(any_pg_pool)
    assert expert["credit"] == "77.75"
    changes = await experts.expert_changes(any_pg_pool, "e-1")
    assert changes[0]["detail"] == {"from": ["乙"], "to": ["丙", "甲"]}
    assert changes[1]["detail"] == {"from": "80.00", "to": "55.5"}
    assert changes[1]["reason"] == "一标一评差评"


async def test_accounts_of_names_existing_users_only(any_pg_pool: asyncpg.Pool) -> None:
    await _user(any_pg_pool, "e-1")
    await _user(any_pg_pool, "staff", org="甲公司")
    found = await experts.accounts_of(any_pg_pool, ["e-1", "staff", "nobody"])
    assert found == {"e-1": (None, "ed25519:e-1"), "staff": ("甲公司", "ed25519:staff")}


# Signed tree heads.


async def _logged(pool: asyncpg.Pool) -> MerkleLog:
    """tender:T1 with four events (the second names a phase), and the tree of its leaves."""
    await _stream(
        pool, "tender:T1", "tender", payloads=[{}, {"phase": "bidding"}, {}, {"phase": 3}]
    )
    leaves = await events.leaf_hashes_after(pool, "tender:T1", 0, 10)
    return MerkleLog.from_leaf_hashes([h for _seq, h in leaves])


async def test_events_naming_a_phase_are_the_phase_boundaries(any_pg_pool: asyncpg.Pool) -> None:
    await _logged(any_pg_pool)
    assert await checkpoints.phase_boundaries(any_pg_pool, "tender:T1", 0, 4) == [(2, "bidding")]
    assert await checkpoints.phase_boundaries(any_pg_pool, "tender:T1", 2, 4) == []


async def test_the_first_checkpoint_writer_wins_and_reasons_accumulate(
    any_pg_pool: asyncpg.Pool,
) -> None:
    root = (await _logged(any_pg_pool)).root(2)

    async def store(note: str, reason: str) -> checkpoints.StoredCheckpoint | None:
        return await checkpoints.store_checkpoint(
            any_pg_pool, "tender:T1", 2, root, note, reason, "periodic"
        )

    first = await store("note", "phase:bidding")
    assert first is not None and first.reasons == ("phase:bidding",)
    assert await store("note", "periodic") is None  # periodic again changes nothing
    assert await store("note", "phase:bidding") is None  # nor does the same reason
    added = await store("other", "export")
    assert added is not None and added.reasons == ("phase:bidding", "export")
    assert added.note == "note"  # the first writer's note stays


async def test_checkpoints_are_found_by_size_and_neighbourhood(any_pg_pool: asyncpg.Pool) -> None:
    tree = await _logged(any_pg_pool)
    for size in (2, 4):
        await checkpoints.store_checkpoint(
            any_pg_pool, "tender:T1", size, tree.root(size), f"n{size}", "periodic", "periodic"
        )
    at2 = await checkpoints.checkpoint_at(any_pg_pool, "tender:T1", 2)
    assert at2 is not None and (at2.root, at2.note) == (tree.root(2), "n2")
    assert await checkpoints.checkpoint_at(any_pg_pool, "tender:T1", 3) is None
    assert await checkpoints.neighbour_checkpoints(any_pg_pool, "tender:T1", 3) == [
        (2, tree.root(2)),
        (4, tree.root(4)),
    ]
    latest = await checkpoints.latest_checkpoint(any_pg_pool, "tender:T1")
    assert latest is not None and latest.size == 4
    assert [c.size for c in await checkpoints.checkpoints_of(any_pg_pool, "tender:T1")] == [2, 4]
    after = await checkpoints.checkpoints_after(any_pg_pool, "tender:T1", 2, 10)
    assert [c.size for c in after] == [4]
    assert await checkpoints.checkpoints_after(any_pg_pool, "tender:T1", 0, 1) == [at2]


async def test_a_stream_without_checkpoints_has_no_latest(any_pg_pool: asyncpg.Pool) -> None:
    await _logged(any_pg_pool)
    assert await checkpoints.latest_checkpoint(any_pg_pool, "tender:T1") is None
    assert await checkpoints.neighbour_checkpoints(any_pg_pool, "tender:T1", 3) == []


async def test_streams_beyond_their_checkpoints_are_listed_until_covered(
    any_pg_pool: asyncpg.Pool,
) -> None:
    tree = await _logged(any_pg_pool)
    assert await checkpoints.streams_beyond_checkpoints(any_pg_pool) == [("tender:T1", 0)]
    await checkpoints.store_checkpoint(
        any_pg_pool, "tender:T1", 2, tree.root(2), "n", "periodic", "periodic"
    )
    assert await checkpoints.streams_beyond_checkpoints(any_pg_pool) == [("tender:T1", 2)]
    await checkpoints.store_checkpoint(
        any_pg_pool, "tender:T1", 4, tree.root(4), "n", "periodic", "periodic"
    )
    assert await checkpoints.streams_beyond_checkpoints(any_pg_pool) == []


async def test_a_stored_checkpoint_serializes_its_root_in_base64(
    any_pg_pool: asyncpg.Pool,
) -> None:
    root = (await _logged(any_pg_pool)).root(2)
    stored = await checkpoints.store_checkpoint(
        any_pg_pool, "tender:T1", 2, root, "n", "receipt", "periodic"
    )
    assert stored is not None
    as_json = stored.to_json()
    assert base64.b64decode(as_json["root"]) == root
    assert as_json["reasons"] == ["receipt"] and as_json["created_at"].endswith("Z")


# Tokens.


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


# Users, roles and login challenges.


async def test_a_user_is_created_once(any_pg_pool: asyncpg.Pool) -> None:
    assert await identity.create_user(any_pg_pool, "u-1", "甲", "甲公司", "ed25519:a") is True
    assert await identity.create_user(any_pg_pool, "u-1", "乙", None, "ed25519:b") is False
    assert await identity.get_user(any_pg_pool, "u-1") == identity.User(
        "u-1", "甲", "甲公司", "ed25519:a"
    )
    assert await identity.get_user(any_pg_pool, "nobody") is None


async def test_a_role_granted_twice_is_held_once(any_pg_pool: asyncpg.Pool) -> None:
    await _user(any_pg_pool, "u-1")
    await identity.grant_role(any_pg_pool, "u-1", "tender:T1", "agent")
    await identity.grant_role(any_pg_pool, "u-1", "tender:T1", "agent")
    await identity.grant_role(any_pg_pool, "u-1", "session:S", "expert", "兰州")
    await identity.grant_role(any_pg_pool, "u-1", "session:OTHER", "chair")
    found = await identity.roles_in(any_pg_pool, "u-1", ["tender:T1", "session:S"])
    assert sorted(found, key=lambda g: g.scope) == [
        identity.RoleGrant("session:S", "expert", "兰州"),
        identity.RoleGrant("tender:T1", "agent", ""),
    ]


async def test_revoking_a_seat_leaves_other_roles_in_the_scope(
    any_pg_pool: asyncpg.Pool,
) -> None:
    await _user(any_pg_pool, "u-1")
    await identity.grant_role(any_pg_pool, "u-1", "session:S", "expert")
    await identity.grant_role(any_pg_pool, "u-1", "session:S", "observer")
    await identity.revoke_seat(any_pg_pool, "u-1", "session:S")
    assert await identity.roles_in(any_pg_pool, "u-1", ["session:S"]) == [
        identity.RoleGrant("session:S", "observer", "")
    ]


async def test_stream_grants_are_those_in_the_stream_and_its_parent(
    any_pg_pool: asyncpg.Pool,
) -> None:
    await _user(any_pg_pool, "u-1")
    await _stream(any_pg_pool, "tender:T1", "tender")
    await _stream(any_pg_pool, "session:S", "session", "tender:T1")
    await identity.grant_role(any_pg_pool, "u-1", "tender:T1", "agent")
    await identity.grant_role(any_pg_pool, "u-1", "session:S", "expert", "兰州")
    await identity.grant_role(any_pg_pool, "u-1", "platform", "admin")
    found = await identity.stream_grants(any_pg_pool, "u-1", "session:S")
    assert found is not None
    kind, parent, grants = found
    assert (kind, parent) == ("session", "tender:T1")
    assert sorted(grants, key=lambda g: g.scope) == [
        identity.RoleGrant("session:S", "expert", "兰州"),
        identity.RoleGrant("tender:T1", "agent", ""),
    ]
    assert await identity.stream_grants(any_pg_pool, "u-1", "session:none") is None


async def test_the_roster_names_holders_in_the_tender_and_its_sessions(
    any_pg_pool: asyncpg.Pool,
) -> None:
    await _stream(any_pg_pool, "tender:T1", "tender")
    await _stream(any_pg_pool, "session:S", "session", "tender:T1")
    await _stream(any_pg_pool, "tender:T2", "tender")
    await _user(any_pg_pool, "agent", org="代理公司")
    await _user(any_pg_pool, "e-1")
    await experts.add_expert(
        any_pg_pool, "e-1", "E", ["公路"], "兰州", "设计院", Decimal(80), ["乙"]
    )
    await identity.grant_role(any_pg_pool, "agent", "tender:T1", "agent")
    await identity.grant_role(any_pg_pool, "e-1", "session:S", "expert")
    await identity.grant_role(any_pg_pool, "e-1", "tender:T2", "expert")
    async with _transaction(any_pg_pool) as conn:
        roster = await identity.tender_roster(conn, "tender:T1", ["e-1", "nobody"])
    assert roster["holdings"] == [
        {"user": "e-1", "role": "expert", "scope": "session:S", "org": None,
         "employer": "设计院", "relations": ["乙"]},
        {"user": "agent", "role": "agent", "scope": "tender:T1", "org": "代理公司",
         "employer": None, "relations": []},
    ]  # fmt: skip
    assert roster["people"] == {"e-1": {"org": None, "employer": "设计院", "relations": ["乙"]}}


async def test_reading_a_roster_holds_off_grants_in_the_same_tender(
    any_pg_pool: asyncpg.Pool,
) -> None:
    await _stream(any_pg_pool, "tender:T1", "tender")
    await _stream(any_pg_pool, "tender:T2", "tender")
    async with _transaction(any_pg_pool) as conn:
        await identity.tender_roster(conn, "tender:T1", [])
        same = await _must_wait(any_pg_pool, lambda c: identity.tender_roster(c, "tender:T1", []))
        other = await _must_wait(any_pg_pool, lambda c: identity.tender_roster(c, "tender:T2", []))
    assert (same, other) == (True, False)


async def test_a_login_challenge_is_taken_once_by_its_user(any_pg_pool: asyncpg.Pool) -> None:
    await identity.put_challenge(any_pg_pool, "n-1", "u-1", 60)
    await identity.put_challenge(any_pg_pool, "n-2", "u-1", 60)
    assert await identity.take_challenge(any_pg_pool, "n-1", "u-1") is True
    assert await identity.take_challenge(any_pg_pool, "n-1", "u-1") is False
    assert await identity.take_challenge(any_pg_pool, "n-2", "u-2") is False
    assert await identity.take_challenge(any_pg_pool, "n-2", "u-1") is False  # consumed above
    assert await identity.take_challenge(any_pg_pool, "n-unknown", "u-1") is False


async def test_an_expired_login_challenge_is_refused(any_pg_pool: asyncpg.Pool) -> None:
    await identity.put_challenge(any_pg_pool, "n-1", "u-1", -1)  # expired a second ago
    assert await identity.take_challenge(any_pg_pool, "n-1", "u-1") is False


# The tender list.


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


async def test_the_tender_list_names_the_bidders_own_bid_stream(
    any_pg_pool: asyncpg.Pool,
) -> None:
    await _user(any_pg_pool, "bidder")
    await _stream(any_pg_pool, "tender:T1", "tender", state={"phase": "bidding"})
    await _stream(any_pg_pool, "bid:T1:B", "bid", "tender:T1")
    await identity.grant_role(any_pg_pool, "bidder", "bid:T1:B", "bidder")
    [found] = await tenders.tenders_for(any_pg_pool, "bidder", ["bidding"])
    assert found["bid_stream"] == "bid:T1:B" and found["roles"] == []


# Handing the opening over to an evaluation session.


async def test_the_handover_holds_the_tender_row(any_pg_pool: asyncpg.Pool) -> None:
    await _stream(any_pg_pool, "tender:T1", "tender")
    await _stream(any_pg_pool, "tender:T2", "tender")
    async with _transaction(any_pg_pool) as conn:
        assert await handover.lock_tender_for_handover(conn, "tender:T1") is True
        assert await handover.lock_tender_for_handover(conn, "tender:none") is False
        same = await _must_wait(
            any_pg_pool, lambda c: handover.lock_tender_for_handover(c, "tender:T1")
        )
        other = await _must_wait(
            any_pg_pool, lambda c: handover.lock_tender_for_handover(c, "tender:T2")
        )
    assert (same, other) == (True, False)


async def test_the_handover_reads_opening_records_and_sessions(any_pg_pool: asyncpg.Pool) -> None:
    await _stream(any_pg_pool, "tender:T1", "tender")
    await _append(
        any_pg_pool,
        "tender:T1",
        [
            ("opening.record", "system", {"bid": "A"}, "public", None),
            ("t.other", None, {}, "public", None),
            ("opening.record", "system", {"bid": "B"}, "public", None),
        ],
    )
    await _stream(any_pg_pool, "session:S2", "session", "tender:T1", {"section": "2"})
    await _stream(
        any_pg_pool, "session:S1", "session", "tender:T1", {"section": "1", "phase": "scoring"}
    )
    async with _transaction(any_pg_pool) as conn:
        records = await handover.opening_records(conn, "tender:T1")
        found = await handover.sessions_of(conn, "tender:T1")
    assert records == [{"seq": 1, "payload": {"bid": "A"}}, {"seq": 3, "payload": {"bid": "B"}}]
    assert found == [
        {"stream": "session:S1", "section": "1", "phase": "scoring"},
        {"stream": "session:S2", "section": "2", "phase": None},
    ]


# The report's signatures and the evidence bundle.


async def _signed(pool: asyncpg.Pool) -> list[events.StoredEvent]:
    """session:S with a note and two experts' report signatures."""
    for user_id in ("e-1", "e-2"):
        await _user(pool, user_id)
    await _stream(pool, "session:S", "session")
    return await _append(
        pool,
        "session:S",
        [
            ("session.report_signed", "e-2", {"report": "r"}, "public", "sig-2"),
            ("session.note", "e-1", {}, "public", "sig-n"),
            ("session.report_signed", "e-1", {"report": "r"}, "public", "sig-1"),
        ],
    )


async def test_report_signatures_are_the_signing_events_in_order(
    any_pg_pool: asyncpg.Pool,
) -> None:
    stored = await _signed(any_pg_pool)
    found = await sessions.report_signatures(any_pg_pool, "session:S")
    assert [(s["expert"], s["name"], s["sig"], s["seq"], s["key"]) for s in found] == [
        ("e-2", "E-2", "sig-2", 1, "ed25519:e-2"),
        ("e-1", "E-1", "sig-1", 3, "ed25519:e-1"),
    ]
    at = datetime.fromisoformat(found[0]["at"])
    assert at == datetime.fromisoformat(stored[0].at.replace("Z", "+00:00"))


async def test_signed_reports_carry_payload_and_signer_key(any_pg_pool: asyncpg.Pool) -> None:
    await _signed(any_pg_pool)
    found = await sessions.signed_reports(any_pg_pool, "session:S")
    assert sorted(found, key=lambda r: r["sig"]) == [
        {"sig": "sig-1", "payload": {"report": "r"}, "signing_key": "ed25519:e-1"},
        {"sig": "sig-2", "payload": {"report": "r"}, "signing_key": "ed25519:e-2"},
    ]


async def test_the_report_reads_its_tender_with_each_record_and_the_signers_names(
    any_pg_pool: asyncpg.Pool,
) -> None:
    for user_id in ("ag-1", "sup-1"):
        await _user(any_pg_pool, user_id)
    state = {
        "title": "滨河路",
        "agency": "ag-1",
        "config": {"opening_at": "2026-12-01T09:30:00+00:00"},
    }
    await _stream(any_pg_pool, "tender:T1", "tender", state=state)
    record = {"stage": "single", "signed_by": {"agency": "ag-1", "supervisor": "sup-1"}}
    stored = await _append(
        any_pg_pool,
        "tender:T1",
        [
            ("opening.note", "ag-1", {}, "public", None),
            ("opening.record", None, record, "public", None),
        ],
    )
    found = await sessions.report_tender(any_pg_pool, "tender:T1")
    assert found is not None
    assert (found.name, found.title, found.agency) == ("tender:T1", "滨河路", "ag-1")
    assert found.config == state["config"]
    assert [(r["seq"], r["payload"]) for r in found.records] == [(2, record)]
    at = datetime.fromisoformat(found.records[0]["at"])
    assert at == datetime.fromisoformat(stored[1].at.replace("Z", "+00:00"))
    assert found.names == {"ag-1": "AG-1", "sup-1": "SUP-1"}
    assert await sessions.report_tender(any_pg_pool, "tender:none") is None


async def test_the_bundle_reads_streams_and_their_children(any_pg_pool: asyncpg.Pool) -> None:
    await _stream(any_pg_pool, "tender:T1", "tender", state={"phase": "bidding"})
    await _stream(any_pg_pool, "session:S", "session", "tender:T1", payloads=[{}])
    await _stream(any_pg_pool, "bid:T1:B", "bid", "tender:T1")
    await _stream(any_pg_pool, "bid:T1:A", "bid", "tender:T1")
    assert await export.stream_row(any_pg_pool, "tender:T1") == {
        "name": "tender:T1", "kind": "tender", "parent": None, "head": 0,
        "state": {"phase": "bidding"},
    }  # fmt: skip
    assert await export.stream_row(any_pg_pool, "tender:none") is None
    children = await export.child_stream_rows(any_pg_pool, "tender:T1")
    assert [(c["name"], c["head"]) for c in children] == [
        ("bid:T1:A", 0),
        ("bid:T1:B", 0),
        ("session:S", 1),
    ]
    bids = await export.bid_stream_rows(any_pg_pool, "tender:T1")
    assert [b["name"] for b in bids] == ["bid:T1:A", "bid:T1:B"]


async def test_the_bundle_reads_events_with_their_stored_leaf_hashes(
    any_pg_pool: asyncpg.Pool,
) -> None:
    stored = await _signed(any_pg_pool)
    found = await export.events_with_leaves(any_pg_pool, "session:S")
    assert [record for record, _leaf in found] == [e.record() for e in stored]
    assert [leaf for _record, leaf in found] == [event_leaf_hash(e.record()) for e in stored]


async def test_the_bundle_reads_the_actors_by_id(any_pg_pool: asyncpg.Pool) -> None:
    await _user(any_pg_pool, "e-2", org="乙")
    await _user(any_pg_pool, "e-1")
    assert await export.users_by_id(any_pg_pool, ["e-2", "e-1", "nobody"]) == [
        {"id": "e-1", "name": "E-1", "org": None, "signing_key": "ed25519:e-1"},
        {"id": "e-2", "name": "E-2", "org": "乙", "signing_key": "ed25519:e-2"},
    ]


async def test_a_released_connection_comes_back_clean_without_a_reset_query(
    any_pg_pool: asyncpg.Pool,
) -> None:
    """The pool sends no reset query on release (one round trip less after each commit), so
    what a reset would undo must never be left behind: a transaction that failed is rolled
    back, and a committed one leaves no lock held."""
    async with any_pg_pool.acquire() as conn:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        with contextlib.suppress(asyncpg.UniqueViolationError):
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(4242)")
                await conn.execute("CREATE TEMP TABLE IF NOT EXISTS t_clean (x int PRIMARY KEY)")
                await conn.execute("INSERT INTO t_clean VALUES (1), (1)")
    async with any_pg_pool.acquire() as conn:
        assert not conn.is_in_transaction()
        held = await any_pg_pool.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = $1", pid
        )
        assert held == 0


def test_no_code_leaves_session_state_on_a_pool_connection() -> None:
    """What asyncpg's reset query would undo (session advisory locks, LISTEN, SET without
    LOCAL, cursors held across transactions) appears nowhere in the node's code, but for the
    migration's own connection (evalroom/db/migrate.py, outside the pool)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "evalroom"
    session_state = re.compile(
        r"pg_advisory_lock\(|pg_try_advisory_lock\(|\bLISTEN\b|add_listener\(|"
        r"[\"']SET (?!LOCAL)|set_config\([^)]*false"
    )
    found = [
        f"{path.relative_to(root)}:{n}"
        for path in root.rglob("*.py")
        if path.name != "migrate.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if session_state.search(line)
    ]
    assert found == []
