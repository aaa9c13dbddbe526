"""The expert pool managed in the product: the admin imports and maintains it over HTTP and
from the command line, the API serves the snapshot a draw commits to with its digest, and the
supervisor's client fetches it and checks the digest before committing the seed."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from clients.cli_common import CliError
from clients.keyfile import ParticipantKey, save_key_file
from clients.sdk import Client
from clients.supervisor import checked_pool_digest
from crypto.keys import SigningKey
from evalroom.domain.draw import ExpertPool, pool_digest
from evalroom.services.session import pool_snapshot
from tests.support import ROOT, InProcessNode, Participant, add_participant

HEADER = "user_id,name,specialties,region,employer,credit,relations,signing_key\r\n"


def _row(uid: str, key: str = "", credit: str = "85", region: str = "兰州") -> str:
    return f"{uid},专家{uid},公路;桥梁,{region},{uid}-院,{credit},company-x,{key}\r\n"


def _csv(*rows: str) -> bytes:
    return b"\xef\xbb\xbf" + (HEADER + "".join(rows)).encode("utf-8")  # as Excel writes it


async def _http(
    node: InProcessNode, who: Participant | None, lang: str = "zh-CN"
) -> httpx.AsyncClient:
    headers = {"accept-language": lang}
    if who is not None:
        client = Client(node.url, who.user_id, who.key)
        headers["authorization"] = f"Bearer {await client.login()}"
    return httpx.AsyncClient(base_url=node.url, headers=headers, timeout=30)


async def _admin(pool: asyncpg.Pool) -> Participant:
    return await add_participant(pool, "admin", roles=[("admin", "platform")])


def _new_key() -> str:
    return SigningKey.generate().public.to_string()


async def _served(http: httpx.AsyncClient) -> dict[str, Any]:
    r = await http.get("/api/pool")
    assert r.status_code == 200, r.text
    served: dict[str, Any] = r.json()
    return served


async def test_an_import_is_served_as_the_snapshot_the_draw_commits_to(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    admin = await _admin(pool)
    async with await _http(node, admin) as http:
        r = await http.post(
            "/api/pool/import",
            content=_csv(_row("e-1", _new_key()), _row("e-2", _new_key(), "90.5")),
        )
        assert r.status_code == 200, r.text
        assert r.json() | {"digest": None} == {
            "added": 2, "updated": 0, "unchanged": 0, "accounts_created": 2, "digest": None
        }  # fmt: skip
        served = await _served(http)
    # The digest is the draw's own: the pure pool_digest of what session.draw reads.
    drawn_from = await pool_snapshot(type("Ctx", (), {"pool": pool})())  # type: ignore[arg-type]
    assert served["digest"] == pool_digest(ExpertPool.from_dict(drawn_from)) == r.json()["digest"]
    assert served["digest"] == pool_digest(ExpertPool.from_dict(served["snapshot"]))
    assert [e["id"] for e in served["snapshot"]["experts"]] == ["e-1", "e-2"]
    e2 = served["snapshot"]["experts"][1]
    assert e2 | {"name": None} == {
        "id": "e-2", "name": None, "specialties": ["公路", "桥梁"], "region": "兰州",
        "employer": "e-2-院", "credit": "90.5", "available": True, "relations": ["company-x"],
    }  # fmt: skip
    assert served["experts"][1]["suspended"] is None and served["experts"][1]["ratings"] == 0
    # The imported experts log in with the key the file gave.
    assert await pool.fetchval("SELECT count(*) FROM users WHERE id IN ('e-1', 'e-2')") == 2


async def test_one_bad_row_imports_nothing_and_names_its_line_and_field(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    admin = await _admin(pool)
    staff = await add_participant(pool, "staff", org="甲建设")
    async with await _http(node, admin) as zh, await _http(node, admin, "en") as en:
        bad = _csv(_row("e-1", _new_key()), _row("e-2", _new_key(), "101"))
        r = await zh.post("/api/pool/import", content=bad)
        assert r.status_code == 422
        assert r.json()["code"] == "invalid_pool_csv"
        assert r.json()["detail"].startswith("第 3 行 credit")
        assert r.json()["message"] == "专家库导入文件有误，未导入任何专家。"
        r = await en.post("/api/pool/import", content=bad)
        assert r.json()["detail"].startswith("line 3, credit:")
        # A new expert needs a key; an existing account keeps its key; a company's is refused.
        cases = [
            (_row("e-3"), "line 2, signing_key: user e-3 has no account yet"),
            (_row(admin.user_id, _new_key()), "line 2, signing_key: differs from the key"),
            (_row(staff.user_id), f"line 2, user_id: user {staff.user_id} is a company's account"),
            (_row("e-4", "ed25519:nope"), 'line 2, signing_key: "ed25519:nope" is not'),
        ]
        for row, detail in cases:
            r = await en.post("/api/pool/import", content=_csv(row))
            assert r.status_code == 422 and r.json()["detail"].startswith(detail), r.text
        r = await en.post("/api/pool/import", content=b"x" * (2 * 1024 * 1024 + 1))
        assert r.status_code == 413 and r.json()["code"] == "too_large"
        assert (await _served(en))["snapshot"] == {"experts": []}
    assert await pool.fetchval("SELECT count(*) FROM users WHERE id LIKE 'e-%'") == 0


async def test_only_admins_manage_the_pool_and_only_they_and_supervisors_read_it(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    admin = await _admin(pool)
    sup = await add_participant(pool, "sup", roles=[("supervisor", "tender:T1")])
    agency = await add_participant(pool, "agency", org="代理", roles=[("agency", "platform")])
    bidder = await add_participant(pool, "bidder", org="乙公司")
    async with await _http(node, None) as anon:
        assert (await anon.get("/api/pool")).json()["code"] == "unauthenticated"
        assert (await anon.post("/api/pool/import", content=b"")).status_code == 401
    for who in (agency, bidder):
        async with await _http(node, who) as http:
            r = await http.get("/api/pool")
            assert r.status_code == 403 and r.json()["code"] == "forbidden"
    async with await _http(node, sup) as http:
        assert (await http.get("/api/pool")).status_code == 200
        for path, body in [("/api/pool/import", b""), ("/api/pool/e-1/suspend", b'{"reason":"x"}')]:
            r = await http.post(path, content=body)
            assert r.status_code == 403 and r.json()["code"] == "forbidden", r.text
    refused = await pool.fetch(
        "SELECT payload FROM events WHERE stream = 'platform' AND type = 'command.refused'"
    )
    assert {json.loads(r["payload"])["command"] if isinstance(r["payload"], str)
            else r["payload"]["command"] for r in refused} >= {"pool.read", "pool.import"}  # fmt: skip
    async with await _http(node, admin) as http:
        assert (await http.get("/api/pool")).status_code == 200


async def test_suspension_credit_and_relations_over_http(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    admin = await _admin(pool)
    async with await _http(node, admin, "en") as http:
        await http.post(
            "/api/pool/import", content=_csv(_row("e-1", _new_key()), _row("e-2", _new_key()))
        )
        before = (await _served(http))["digest"]
        r = await http.post("/api/pool/e-1/suspend", json={"reason": "  "})
        assert r.status_code == 422 and r.json()["code"] == "reason_required"
        r = await http.post("/api/pool/nobody/suspend", json={"reason": "x"})
        assert r.status_code == 404 and r.json()["code"] == "unknown_expert"
        r = await http.post("/api/pool/e-1/suspend", json={"reason": "违规"})
        assert r.status_code == 200, r.text
        served = await _served(http)
        assert served["digest"] != before  # a draw committed before the change is refused
        assert served["snapshot"]["experts"][0]["available"] is False  # never drawn
        assert served["experts"][0]["suspended"]["reason"] == "违规"
        assert served["experts"][0]["suspended"]["by"] == admin.user_id
        assert (await http.post("/api/pool/e-1/unsuspend", json={})).status_code == 200
        assert (await _served(http))["digest"] == before
        r = await http.post("/api/pool/e-2/credit", json={"credit": "100.5", "reason": "x"})
        assert r.status_code == 422 and r.json()["code"] == "invalid"
        r = await http.post("/api/pool/e-2/credit", json={"credit": "60", "reason": "差评"})
        assert r.json() == {"expert": "e-2", "credit": "60"}
        r = await http.post("/api/pool/e-2/relations", json={"companies": ["丙", "甲", "丙"]})
        assert r.json() == {"expert": "e-2", "relations": ["丙", "甲"]}
        e2 = (await _served(http))["snapshot"]["experts"][1]
        assert e2["credit"] == "60" and e2["relations"] == ["丙", "甲"]
        r = await http.post("/api/pool/e-2/suspend", content=b"[1]")
        assert r.status_code == 400 and r.json()["code"] == "malformed"


def _evalroom(database_url: str, *args: str) -> tuple[int, str, str]:
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALROOM_")}
    env["DATABASE_URL"] = database_url
    done = subprocess.run(
        [sys.executable, "-m", "evalroom", "admin", "pool", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout, done.stderr


async def test_the_admin_cli_imports_lists_and_suspends(
    database_url: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    good, bad = tmp_path / "pool.csv", tmp_path / "bad.csv"
    good.write_bytes(_csv(_row("e-1", _new_key()), _row("e-2", _new_key(), region="天水")))
    bad.write_bytes(_csv(_row("e-3", _new_key()), "e-4,,公路,兰州,院,,,\r\n"))

    def run(*args: str) -> tuple[int, str, str]:
        return _evalroom(database_url, *args)

    rc, out, err = await asyncio.to_thread(run, "import", str(bad))
    assert rc == 2 and "第 3 行 name：不能为空" in err and "line 3, name: must not be empty" in err
    rc, out, err = await asyncio.to_thread(run, "import", str(good))
    assert rc == 0 and "新增 2" in out, err
    snapshot = await pool_snapshot(type("Ctx", (), {"pool": pool})())  # type: ignore[arg-type]
    assert pool_digest(ExpertPool.from_dict(snapshot)) in out
    rc, out, err = await asyncio.to_thread(run, "suspend", "e-2", "--reason", "回避不实")
    assert rc == 0 and "已暂停 e-2" in out
    rc, out, err = await asyncio.to_thread(run, "credit", "e-1", "70.25", "--reason", "差评")
    assert rc == 0 and "70.25" in out
    rc, out, err = await asyncio.to_thread(run, "list")
    assert rc == 0 and "暂停: 回避不实" in out and "70.25" in out
    rc, out, err = await asyncio.to_thread(run, "list", "--json")
    assert json.loads(out)["snapshot"]["experts"][1]["available"] is False
    rc, out, err = await asyncio.to_thread(run, "unsuspend", "nobody")
    assert rc == 2 and "专家库中没有该专家" in err and "No such expert in the pool." in err
    actors = await pool.fetch("SELECT DISTINCT actor FROM expert_changes")
    assert all(r["actor"].startswith("cli") for r in actors)


async def test_the_supervisor_commits_to_the_pool_it_fetched_and_checked(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    from tests.test_session_cli import Evaluation

    ev = Evaluation(node, pool, tmp_path)
    await ev.create()
    try:
        seed_file = tmp_path / "seed.hex"
        done = await ev.tools.ok(
            "supervisor", "commit-seed", ev.sid, "--out", str(seed_file), *ev.as_("sup"),
            "--lang", "en",
        )  # fmt: skip
        state = await ev.state()
        snapshot = await pool_snapshot(type("Ctx", (), {"pool": pool})())  # type: ignore[arg-type]
        digest = pool_digest(ExpertPool.from_dict(snapshot))
        assert state["pool_digest"] == digest
        assert f"digest computed here: {digest}" in done.out
        assert f"Pool snapshot digest {digest}" in done.out
        assert stat.S_IMODE(seed_file.stat().st_mode) == 0o600
        # An expert (no supervisor's role) is refused the pool and publishes nothing.
        expert = next(iter(ev.experts))
        save_key_file(ev.key("x"), ParticipantKey(expert, ev.experts[expert].key))
        other = tmp_path / "other.hex"
        done = await ev.tools.run(
            "supervisor", "commit-seed", ev.sid, "--out", str(other), "--server", node.url,
            "--key", str(ev.key("x")),
        )  # fmt: skip
        assert done.rc != 0 and "forbidden" in done.err + done.out and not other.exists()
    finally:
        await ev.close()


def test_the_supervisor_refuses_a_snapshot_whose_stated_digest_differs() -> None:
    snapshot = {"experts": [{"id": "e-1", "name": "甲", "specialties": ["公路"], "region": "兰州",
                             "employer": "院", "credit": "80.00", "available": True,
                             "relations": []}]}  # fmt: skip
    digest = pool_digest(ExpertPool.from_dict(snapshot))
    assert checked_pool_digest({"snapshot": snapshot, "digest": digest}) == (digest, 1)
    with pytest.raises(CliError) as caught:
        checked_pool_digest({"snapshot": snapshot, "digest": "0" * 64})
    assert caught.value.key == "pool_digest_mismatch"
    assert caught.value.fields == {"stated": "0" * 64, "computed": digest}
    for served in ({}, {"snapshot": {"experts": [{"id": "e-1"}]}, "digest": digest}, []):
        with pytest.raises(CliError) as caught:
            checked_pool_digest(served)
        assert caught.value.key == "bad_pool"
