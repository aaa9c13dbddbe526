"""The command pipeline over real sockets: acks after commit, idempotent retries, refusals."""

from __future__ import annotations

import asyncpg
import pytest

from clients.sdk import ClientError
from tests.support import InProcessNode, add_participant


async def _agency(pool: asyncpg.Pool) -> object:
    return await add_participant(pool, "agency", org="agency-co", roles=[("agency", "platform")])


async def test_command_is_acked_with_its_seq_after_commit(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    agency = await add_participant(pool, "agency", roles=[("agency", "platform")])
    client = await agency.client(node.url)
    ack = await client.command("tender:T1", "tender.create", {"title": "道路工程"})
    assert ack["seq"] == 1 and ack["stream"] == "tender:T1"
    row = await pool.fetchrow(
        "SELECT type, actor FROM events WHERE stream = 'tender:T1' AND seq = 1"
    )
    assert row["type"] == "tender.created" and row["actor"] == agency.user_id
    await client.close()


async def test_retry_with_same_id_returns_first_ack_and_writes_nothing(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    agency = await add_participant(pool, "agency", roles=[("agency", "platform")])
    client = await agency.client(node.url)
    await client.command("tender:T2", "tender.create", {"title": "x"})
    first = await client.command("tender:T2", "tender.notice", {"text": "hello"}, id="n-1")
    again = await client.command("tender:T2", "tender.notice", {"text": "hello"}, id="n-1")
    assert first == again
    count = await pool.fetchval("SELECT count(*) FROM events WHERE stream = 'tender:T2'")
    assert count == 2
    with pytest.raises(ClientError) as err:
        await client.command("tender:T2", "tender.notice", {"text": "other"}, id="n-1")
    assert err.value.code == "id_reused"
    await client.close()


async def test_wrong_role_is_refused_recorded_and_changes_no_state(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    agency = await add_participant(pool, "agency", roles=[("agency", "platform")])
    a = await agency.client(node.url)
    await a.command("tender:T3", "tender.create", {"title": "x"})
    supervisor = await add_participant(pool, "sup", roles=[("supervisor", "tender:T3")])
    s = await supervisor.client(node.url)
    state_before = await pool.fetchval("SELECT state FROM streams WHERE name = 'tender:T3'")
    with pytest.raises(ClientError) as err:
        await s.command("tender:T3", "tender.publish")
    assert err.value.code == "forbidden"
    state_after = await pool.fetchval("SELECT state FROM streams WHERE name = 'tender:T3'")
    assert state_after == state_before
    refused = await pool.fetchrow(
        "SELECT actor, payload, visibility FROM events WHERE stream = 'tender:T3' AND type = 'command.refused'"
    )
    assert refused["actor"] == supervisor.user_id
    assert refused["payload"]["code"] == "forbidden" and refused["visibility"] == "actor"
    await a.close()
    await s.close()


async def test_wrong_phase_is_refused_and_changes_no_state(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    agency = await add_participant(pool, "agency", roles=[("agency", "platform")])
    a = await agency.client(node.url)
    await a.command("tender:T4", "tender.create", {"title": "x"})
    await a.command("tender:T4", "tender.publish")
    with pytest.raises(ClientError) as err:
        await a.command("tender:T4", "tender.publish")
    assert err.value.code == "wrong_phase"
    state = await pool.fetchval("SELECT state FROM streams WHERE name = 'tender:T4'")
    assert state["phase"] == "bidding"
    domain_events = await pool.fetchval(
        "SELECT count(*) FROM events WHERE stream = 'tender:T4' AND type <> 'command.refused'"
    )
    assert domain_events == 2
    await a.close()


async def test_a_signed_command_keeps_what_was_signed_so_anyone_can_verify_it(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    from crypto.canonical import canonical_json
    from crypto.keys import VerifyKey

    agency = await add_participant(pool, "agency", roles=[("agency", "platform")])
    a = await agency.client(node.url)
    await a.command("tender:T5", "tender.create", {"title": "x"})
    sup = await add_participant(pool, "sup", roles=[("supervisor", "tender:T5")])
    s = await sup.client(node.url)
    with pytest.raises(ClientError) as err:
        await s.command("tender:T5", "tender.annotate", {"text": "unsigned"})
    assert err.value.code == "bad_signature"
    await s.command("tender:T5", "tender.annotate", {"text": "签名备注"}, sign=True)
    row = await pool.fetchrow(
        "SELECT payload, sig FROM events WHERE stream = 'tender:T5' AND type = 'supervisor.note'"
    )
    signed = row["payload"]["command"]
    assert signed["body"] == {"text": "签名备注"} and signed["type"] == "tender.annotate"
    assert VerifyKey.from_string(sup.key.public.to_string()).verify(
        canonical_json(signed), row["sig"]
    )
    await a.close()
    await s.close()


async def test_a_flood_of_refusals_is_recorded_only_up_to_the_rate_limit(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    agency = await add_participant(pool, "agency", roles=[("agency", "platform")])
    a = await agency.client(node.url)
    await a.command("tender:T6", "tender.create", {"title": "x"})
    sup = await add_participant(pool, "sup", roles=[("supervisor", "tender:T6")])
    s = await sup.client(node.url)
    for _ in range(25):
        with pytest.raises(ClientError) as err:
            await s.command("tender:T6", "tender.publish")
        assert err.value.code == "forbidden"
    recorded = await pool.fetchval(
        "SELECT count(*) FROM events WHERE stream = 'tender:T6' AND type = 'command.refused'"
    )
    assert recorded == 10  # the rest are counted in /metrics only
    await a.close()
    await s.close()
