"""Separation of duties over real sockets: a sample of the pure matrix of tests.test_duties
sent as real commands to a real node, one tender per phase; every refusal leaves the tender,
its sessions and the roles table as they were (only the attempt is recorded). And the attack
of issue 10: the agency appointing itself supervisor to read blind scores."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import sys
from collections import Counter
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from clients.sdk import Client, ClientError
from evalroom.db.events import create_stream
from evalroom.db.identity import grant_role
from tests.support import ROOT, InProcessNode, Participant, add_participant
from tests.test_duties import (
    ACTORS,
    GHOST,
    PHASES,
    RECIPIENTS,
    WORLD,
    Someone,
    expected,
)

pytestmark = pytest.mark.slow

SAMPLE = 48
GRANTABLE_HERE = ["supervisor", "tenderer", "operator", "keyholder", "expert", "agency", "admin"]


class World:
    """The people of tests.test_duties as registered users, and one tender per phase."""

    def __init__(self, node: InProcessNode, pool: asyncpg.Pool) -> None:
        self.node, self.pool = node, pool
        self.people: dict[str, Participant] = {}
        self.clients: dict[str, Client] = {}
        self.holdings: dict[str, list[Someone]] = {}  # tender stream -> who holds what
        self.bidders: dict[str, set[str]] = {}

    def id(self, name: str) -> str:
        return self.people[name].user_id if name in self.people else f"{GHOST}-live"

    async def register(self) -> None:
        for p in WORLD:
            platform = [(p.platform, "platform")] if p.platform else []
            if p.role == "agency":
                platform.append(("agency", "platform"))
            self.people[p.user] = await add_participant(
                self.pool, p.user, org=p.org, roles=platform
            )
            if p.employer:
                await self.pool.execute(
                    "INSERT INTO experts (user_id, name, specialties, region, employer, credit,"
                    " relations) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    self.id(p.user),
                    p.user,
                    ["公路"],
                    "兰州",
                    p.employer,
                    Decimal(90),
                    list(p.relations),
                )
        for p in WORLD:
            self.clients[p.user] = await self.people[p.user].client(self.node.url)

    async def tender(self, phase: str) -> str:
        """A tender created by the agency for real, its other roles set up as the world says,
        and its phase moved to ``phase``."""
        stream = f"tender:DUT-{phase}"
        await self.clients["agency-u"].command(stream, "tender.create", {"title": f"职责 {phase}"})
        session = f"session:DUT-{phase}-S1"
        async with self.pool.acquire() as conn:
            await create_stream(conn, session, "session", stream, {})
        for p in WORLD:
            if p.role and p.role != "agency":
                scope = session if p.role == "expert" else stream
                await grant_role(self.pool, self.id(p.user), scope, p.role)
        await self.pool.execute(
            "UPDATE streams SET state = state || $2::jsonb WHERE name = $1",
            stream,
            {"phase": phase, "bidders": {"BidCo": {"by": self.id("bidder-u")}}},
        )
        self.holdings[stream] = [p for p in WORLD if p.role]
        self.bidders[stream] = {"BidCo"}
        return stream

    async def snapshot(self, stream: str) -> tuple[Any, ...]:
        streams = await self.pool.fetch(
            "SELECT name, head, state::text FROM streams WHERE name = $1 OR parent = $1"
            " ORDER BY name",
            stream,
        )
        roles = await self.pool.fetch(
            "SELECT user_id, scope, role, venue FROM roles ORDER BY user_id, scope, role, venue"
        )
        return tuple(tuple(r) for r in streams), tuple(tuple(r) for r in roles)


def live_expected(world: World, stream: str, case: tuple[str, ...]) -> str:
    kind, actor_name, role, phase, recipient = case
    actor = next(p for p in WORLD if p.user == actor_name)
    holdings = world.holdings[stream]
    if kind == "join":
        if phase != "bidding":
            return "wrong_phase"
        if not actor.org:
            return "not_a_company"
        if actor.org in world.bidders[stream]:
            return "already_exists"
        return expected(actor, "bidder", "tender.join", phase, actor.user, holdings)
    # The pipeline lets only the agency and the platform's appointers send tender.grant.
    if actor.role != "agency" and actor.platform not in ("authority", "admin"):
        return "forbidden"
    return expected(actor, role, "tender.grant", phase, recipient, holdings)


def sample() -> list[tuple[str, ...]]:
    """Cases of every kind of answer (stratified on the starting world), plus joins."""
    rng = random.Random(1010)
    grants = [
        ("grant", a.user, role, phase, r)
        for a, role, phase, r in itertools.product(ACTORS, GRANTABLE_HERE, PHASES, RECIPIENTS)
    ]
    by_answer: dict[str, list[tuple[str, ...]]] = {}
    for case in grants:
        actor = next(p for p in WORLD if p.user == case[1])
        answer = expected(actor, case[2], "tender.grant", case[3], case[4])
        by_answer.setdefault(answer, []).append(case)
    picked = [c for cases in by_answer.values() for c in rng.sample(cases, 5)]
    joins = [("join", p.user, "bidder", ph, p.user) for p in WORLD for ph in PHASES]
    picked += rng.sample(joins, SAMPLE - len(picked))
    rng.shuffle(picked)
    return picked


async def test_a_sample_of_the_duties_matrix_over_real_sockets_changes_nothing_when_refused(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    world = World(node, pool)
    await world.register()
    tenders = {phase: await world.tender(phase) for phase in PHASES}
    answers: Counter[str] = Counter()
    cases = sample()
    assert len(cases) == SAMPLE
    for case in cases:
        kind, actor_name, role, phase, recipient = case
        stream = tenders[phase]
        want = live_expected(world, stream, case)
        before = await world.snapshot(stream)
        client = world.clients[actor_name]
        try:
            if kind == "join":
                await client.command(stream, "tender.join")
            else:
                body = {"user": world.id(recipient), "role": role}
                await client.command(stream, "tender.grant", body)
            got = "ok"
        except ClientError as refusal:
            got = refusal.code
        assert got == want, case
        answers[got] += 1
        if got == "ok":
            target = next(p for p in WORLD if p.user == recipient)
            world.holdings[stream].append(
                Someone(target.user, target.org, role, employer=target.employer)
            )
            if kind == "join":
                world.bidders[stream].add(str(target.org))
            continue
        after = await world.snapshot(stream)
        assert after[1] == before[1], f"{case}: the roles changed"
        for (name, head0, state0), (_, head1, state1) in zip(before[0], after[0], strict=True):
            assert state1 == state0, f"{case}: {name} changed"
            added = await pool.fetch(
                "SELECT type, payload FROM events WHERE stream = $1 AND seq > $2", name, head0
            )
            assert head1 - head0 == len(added) <= 1, case
            assert all(
                e["type"] == "command.refused" and e["payload"]["code"] == got for e in added
            ), case
    # The sample met every kind of answer.
    assert set(answers) >= {
        "ok",
        "forbidden",
        "not_grantable",
        "not_appointer",
        "wrong_phase",
        "unknown_user",
        "self_grant",
        "conflict_of_roles",
    }, answers


async def test_the_agency_cannot_appoint_itself_supervisor_nor_read_blind_scores(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    agency = await add_participant(pool, "agency", org="AgencyCo", roles=[("agency", "platform")])
    authority = await add_participant(pool, "authority", roles=[("authority", "platform")])
    sup = await add_participant(pool, "sup")
    a, auth = await agency.client(node.url), await authority.client(node.url)
    stream, session = "tender:ATK1", "session:ATK1-S1"
    await a.command(stream, "tender.create", {"title": "国道改建工程"})
    # An expert has submitted a blind score in the tender's session.
    expert = await add_participant(pool, "expert")
    blind = {
        "phase": "detailed_review",
        "committee": {expert.user_id: {"name": "专家", "venue": "v1", "specialty": "公路"}},
        "scores": {expert.user_id: {"B1": {"tech": "27"}}},
        "revealed": False,
    }
    async with pool.acquire() as conn:
        await create_stream(conn, session, "session", stream, blind)
    await grant_role(pool, expert.user_id, session, "expert", "v1")

    # The attack: the agency names itself supervisor.
    with pytest.raises(ClientError) as refused:
        await a.command(stream, "tender.grant", {"user": agency.user_id, "role": "supervisor"})
    assert refused.value.code == "not_appointer"
    roles = await pool.fetchval(
        "SELECT array_agg(role) FROM roles WHERE user_id = $1 AND scope = $2",
        agency.user_id,
        stream,
    )
    assert roles == ["agency"]
    # The supervising authority may not appoint the agency either, nor one of its colleagues.
    colleague = await add_participant(pool, "agency-mate", org="AgencyCo")
    for user in (agency.user_id, colleague.user_id):
        with pytest.raises(ClientError) as conflict:
            await auth.command(stream, "tender.grant", {"user": user, "role": "supervisor"})
        assert conflict.value.code == "conflict_of_roles"
    # Granting to someone never registered is a refusal with a code, not a server error.
    with pytest.raises(ClientError) as ghost:
        await auth.command(
            stream, "tender.grant", {"user": "never-registered", "role": "supervisor"}
        )
    assert ghost.value.code == "unknown_user"
    await auth.command(stream, "tender.grant", {"user": sup.user_id, "role": "supervisor"})

    async with httpx.AsyncClient(base_url=node.url) as http:

        async def read_scores(p: Participant, client: Client) -> httpx.Response:
            headers = {"Authorization": f"Bearer {client.token}"}
            return await http.get(f"/api/sessions/{session.split(':')[1]}/scores", headers=headers)

        # Over HTTP too: a named user who is not registered is the body's fault (422).
        answer = await http.post(
            "/api/commands",
            headers={"Authorization": f"Bearer {auth.token}"},
            json={
                "id": "grant-ghost-http",
                "stream": stream,
                "type": "tender.grant",
                "body": {"user": "never-registered", "role": "supervisor"},
            },
        )
        assert answer.status_code == 422 and answer.json()["code"] == "unknown_user"

        denied = await read_scores(agency, a)
        assert denied.status_code == 403 and denied.json()["code"] == "forbidden"
        assert "27" not in denied.text
        s = await sup.client(node.url)
        seen = await read_scores(sup, s)
        assert seen.status_code == 200
        assert seen.json()["scores"][expert.user_id] == {"B1": {"tech": "27"}}
    attempts = await pool.fetchval(
        "SELECT count(*) FROM events WHERE stream = $1 AND type = 'command.refused'"
        " AND actor = $2 AND payload->>'code' = 'not_appointer'",
        stream,
        agency.user_id,
    )
    assert attempts == 1
    for c in (a, auth, s):
        await c.close()


async def test_the_admin_cli_grants_platform_roles_and_checks_duties_in_a_tender(
    database_url: str, pool: asyncpg.Pool
) -> None:
    bidder = await add_participant(pool, "bidder", org="BidCo")
    mate = await add_participant(pool, "bid-mate", org="BidCo")
    outsider = await add_participant(pool, "outsider")
    async with pool.acquire() as conn:
        await create_stream(conn, "tender:ADM1", "tender", None, {"phase": "bidding"})
    await grant_role(pool, bidder.user_id, "tender:ADM1", "bidder")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALROOM_")}
    env["DATABASE_URL"] = database_url

    async def admin(*args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "evalroom", "admin", "grant", *args,
            cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert b"Traceback" not in err
        return int(proc.returncode or 0), (out + err).decode()

    async def roles(user: str) -> list[tuple[str, str]]:
        rows = await pool.fetch("SELECT scope, role FROM roles WHERE user_id = $1", user)
        return sorted((r["scope"], r["role"]) for r in rows)

    assert await admin(outsider.user_id, "authority") == (
        0,
        f"已授予 {outsider.user_id} authority @ platform\n",
    )
    rc, text = await admin("never-registered", "agency")
    assert rc == 2 and "unknown_user" in text
    rc, text = await admin(mate.user_id, "keyholder", "--scope", "tender:ADM1")
    assert rc == 2 and "conflict_of_roles" in text
    rc, text = await admin(outsider.user_id, "authority", "--scope", "tender:ADM1")
    assert rc == 2 and "not_grantable" in text
    assert await roles(mate.user_id) == []
    assert await roles(outsider.user_id) == [("platform", "authority")]
    rc, _ = await admin(outsider.user_id, "operator", "--scope", "tender:ADM1", "--venue", "v1")
    assert rc == 0 and await roles(outsider.user_id) == [
        ("platform", "authority"),
        ("tender:ADM1", "operator"),
    ]
