"""Faults of the store are answered truthfully, under load, over real sockets.

Eight clients send commands while PostgreSQL's connections are cut (mid-transaction, just
before a COMMIT reaches the server, just after the server committed) or PostgreSQL itself is
restarted. Afterwards every refusal is ``store_unavailable`` (nothing committed) or
``outcome_unknown`` (the node cannot know: retried with the same id), no command refused with
``store_unavailable`` is found committed, and every command applied exactly once.

Half of the clients resend a refused command under a *new* id when told ``store_unavailable``
(the promise says nothing changed, so that is safe): a lie shows up as a duplicated event.
The other half let the SDK retry everything with the same id.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import asyncpg
import pytest

from clients.opening import pack_bid, seal_envelope, upload_envelope
from clients.sdk import Client, ClientError
from evalroom.settings import Settings
from tests.pgproxy import FaultPlan, PgFaultProxy
from tests.services import EmbeddedPg
from tests.support import InProcessNode, add_participant, in_process_node
from tests.test_opening import Opening

pytestmark = pytest.mark.slow

CLIENTS = 8
COMMANDS = 20
TRUTHFUL = {"store_unavailable", "outcome_unknown"}


@dataclass
class Outcome:
    acked: dict[str, int] = field(default_factory=dict)  # text -> seq
    refused_ids: list[str] = field(default_factory=list)  # ids answered store_unavailable
    seen: Counter[str] = field(default_factory=Counter)  # codes the clients saw


async def _load(
    node: InProcessNode, direct: asyncpg.Pool, faults: Callable[[], Awaitable[None]]
) -> Outcome:
    """Run the clients until ``faults`` is over (and each sent at least ``COMMANDS``)."""
    outcome = Outcome()
    agency = await add_participant(direct, "agency", roles=[("agency", "platform")])
    setup = await agency.client(node.url)
    for t in range(2):
        await setup.command(f"tender:F{t}", "tender.create", {"title": "故障"})
    clients = [await agency.client(node.url) for _ in range(CLIENTS)]
    over = asyncio.Event()

    async def fresh_ids(c: Client, n: int, k: int) -> None:
        text, attempt = f"c{n}-{k}", 0
        while True:
            cid = f"{text}-a{attempt}"
            try:
                ack = await c.command(
                    f"tender:F{n % 2}", "tender.notice", {"text": text}, id=cid, timeout=40
                )
            except ClientError as err:
                outcome.seen[err.code] += 1
                assert err.code == "store_unavailable", err
                outcome.refused_ids.append(cid)
                attempt += 1
                await asyncio.sleep(0.02)
                continue
            outcome.acked[text] = ack["seq"]
            return

    async def same_id(c: Client, n: int, k: int) -> None:
        text = f"c{n}-{k}"
        ack = await c.command(
            f"tender:F{n % 2}",
            "tender.notice",
            {"text": text},
            id=text,
            retry_unavailable=True,
            timeout=40,
        )
        outcome.acked[text] = ack["seq"]

    async def run(c: Client, n: int) -> None:
        k = 0
        while k < COMMANDS or not over.is_set():
            await (fresh_ids if n % 2 == 0 else same_id)(c, n, k)
            k += 1

    async def drive_faults() -> None:
        try:
            await faults()
        finally:
            over.set()

    await asyncio.gather(drive_faults(), *(run(c, n) for n, c in enumerate(clients)))
    for c in [setup, *clients]:
        await c.close()
    return outcome


async def _check(node: InProcessNode, direct: asyncpg.Pool, outcome: Outcome) -> Counter[str]:
    refusals = Counter(
        {
            sample.labels["code"]: int(sample.value)
            for metric in node.node.metrics.refusals.collect()
            for sample in metric.samples
            if sample.name.endswith("_total")
        }
    )
    assert set(refusals) <= TRUTHFUL, refusals  # no `internal`, nothing else
    assert set(outcome.seen) <= TRUTHFUL
    # Nothing refused with store_unavailable committed.
    lied = await direct.fetch(
        "SELECT client_id FROM commands WHERE client_id = ANY($1::text[])", outcome.refused_ids
    )
    assert lied == []
    # Every command applied once, at the seq its ack named.
    rows = await direct.fetch(
        "SELECT stream, seq, payload->>'text' AS text FROM events"
        " WHERE stream LIKE 'tender:F%' AND type = 'tender.notice'"
    )
    texts = Counter(r["text"] for r in rows)
    assert [t for t, n in texts.items() if n > 1] == []
    assert set(texts) == set(outcome.acked) and len(texts) >= CLIENTS * COMMANDS
    by_text = {r["text"]: r["seq"] for r in rows}
    assert {t: by_text[t] for t in outcome.acked} == outcome.acked
    return refusals


async def test_connections_cut_around_commit_are_answered_truthfully(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    proxy = await PgFaultProxy(settings.database_url or "").start()
    try:
        async with in_process_node(replace(settings, database_url=proxy.url())) as node:

            async def restarts() -> None:
                proxy.set_plan(
                    FaultPlan(before_commit=0.06, after_commit=0.1, mid_transaction=0.01, seed=7)
                )
                for _ in range(3):
                    await asyncio.sleep(0.5)
                    proxy.refusing = True  # down: every connection cut, new ones refused
                    proxy.cut_all()
                    await asyncio.sleep(0.2)
                    proxy.refusing = False
                proxy.set_plan(FaultPlan())

            outcome = await _load(node, pool, restarts)
            refusals = await _check(node, pool, outcome)
        # The run went through every kind of fault, and both answers were given.
        assert proxy.done["after_commit"] and proxy.done["before_commit"], proxy.done
        assert proxy.done["mid_transaction"] and proxy.done["cut_all"], proxy.done
        assert refusals["store_unavailable"] and refusals["outcome_unknown"], refusals
    finally:
        await proxy.close()


async def test_repeated_fast_restarts_of_postgres_are_answered_truthfully(
    settings: Settings,
) -> None:
    pg = await asyncio.to_thread(EmbeddedPg.start)
    try:
        async with in_process_node(replace(settings, database_url=pg.url)) as node:
            direct = node.node.pool
            restarted = 0

            async def restart() -> None:
                nonlocal restarted
                for _ in range(3):
                    await asyncio.sleep(0.5)
                    await asyncio.to_thread(pg.stop, "fast")
                    await asyncio.to_thread(pg.start_again)
                    restarted += 1

            outcome = await _load(node, direct, restart)
            refusals = await _check(node, direct, outcome)
        assert restarted == 3 and refusals["store_unavailable"], (restarted, refusals)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(pg.cleanup)


async def test_an_upload_sent_again_with_its_key_after_it_committed_answers_its_first_ack(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """What a bidder does after ``outcome_unknown`` (or a lost answer): the same upload with
    the same Idempotency-Key. The bytes would make a new upload, so the node answers from the
    commands table first, and records nothing twice."""
    o = Opening(node, pool, tmp_path)
    await o.setup("UP1", opening_in=600, window=60)
    await o.bidder("a")
    package, sealed = tmp_path / "a.zip", tmp_path / "a.age"
    pack_bid(package, {"price": "1.00", "duration_days": 9}, {"t.pdf": b"%PDF-1.4 a"})
    seal_envelope(package, sealed, o.recipient)
    client = o.clients["a"]
    first = await upload_envelope(client, "UP1", "S1", "single", sealed, idempotency_key="u-1")
    again = await upload_envelope(client, "UP1", "S1", "single", sealed, idempotency_key="u-1")
    assert again == first
    submitted = await pool.fetchval(
        "SELECT count(*) FROM events WHERE stream LIKE 'bid:UP1.%' AND type = 'bid.submitted'"
    )
    assert submitted == 1
    # A key its participant used for another command is refused.
    b = await o.person("b", org="company-b")
    await b.command("tender:UP1", "tender.join", id="u-2")
    with pytest.raises(ClientError) as err:
        await upload_envelope(b, "UP1", "S1", "single", sealed, idempotency_key="u-2")
    assert err.value.code == "id_reused"
    for c in o.clients.values():
        await c.close()


def test_store_errors_are_told_from_input_errors_and_from_answers_of_the_server() -> None:
    from evalroom.services.pipeline import ClientDataError, answered_by_server, store_down

    down = [
        asyncpg.InternalClientError("pooled connection terminated while idle"),
        asyncpg.exceptions.ConnectionDoesNotExistError("closed in the middle of operation"),
        asyncpg.InterfaceError("cannot perform operation: connection is closed"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.TooManyConnectionsError("too many clients"),
        asyncpg.exceptions.DeadlockDetectedError("deadlock"),
        ConnectionResetError(),
        TimeoutError(),
    ]
    not_down = [
        ClientDataError("invalid input for query argument $1"),
        asyncpg.DataError("numeric field overflow"),
        asyncpg.UniqueViolationError("duplicate key"),
        ValueError("a bug"),
    ]
    assert [e for e in down if not store_down(e)] == []
    assert [e for e in not_down if store_down(e)] == []
    # At COMMIT: only an answer of PostgreSQL over a live connection means "rolled back".
    answered = [asyncpg.UniqueViolationError("x"), asyncpg.exceptions.SerializationError("x")]
    unknown = [down[0], down[1], down[2], down[3], ConnectionResetError(), TimeoutError()]
    assert all(answered_by_server(e) for e in answered)
    assert not any(answered_by_server(e) for e in unknown)
