"""``GET /api/me``: the token's user and the roles it holds where, read-only; the browser
client shows only the tabs of these roles."""

from __future__ import annotations

import asyncpg
import httpx

from clients.sdk import Client
from tests.support import InProcessNode, add_participant


async def test_me_names_the_users_roles_per_scope_and_refuses_without_a_token(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    agency = await add_participant(pool, "agency", roles=[("agency", "platform")])
    writer = await agency.client(node.url)
    await writer.command("tender:ME1", "tender.create", {"title": "角色"})
    await writer.close()
    sup = await add_participant(
        pool, "sup", roles=[("supervisor", "tender:ME1"), ("operator", "session:X")], venue="v1"
    )
    bidder = await add_participant(pool, "bidder", org="company-a")
    async with httpx.AsyncClient(base_url=node.url) as http:
        token = await Client(node.url, sup.user_id, sup.key).login()
        me = (await http.get("/api/me", headers={"authorization": f"Bearer {token}"})).json()
        assert me["user"] == sup.user_id and me["platform"] == []
        assert me["roles"] == [
            {"scope": "session:X", "role": "operator", "venue": "v1", "tender": None},
            {"scope": "tender:ME1", "role": "supervisor", "venue": "v1", "tender": None},
        ]
        token = await Client(node.url, agency.user_id, agency.key).login()
        me = (await http.get("/api/me", headers={"authorization": f"Bearer {token}"})).json()
        assert me["platform"] == ["agency"]
        token = await Client(node.url, bidder.user_id, bidder.key).login()
        me = (await http.get("/api/me", headers={"authorization": f"Bearer {token}"})).json()
        assert me == {
            "user": bidder.user_id,
            "name": "bidder",
            "org": "company-a",
            "platform": [],
            "roles": [],
        }
        refused = await http.get("/api/me", headers={"authorization": "Bearer nonsense"})
        assert refused.status_code == 401 and refused.json()["code"] == "unauthenticated"
