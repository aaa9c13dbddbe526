"""The evaluation session's terminal clients (evalroom-expert, -supervisor, -operator), run as
real processes against a real node; the parts not under test are played with the SDK."""

from __future__ import annotations

import asyncio
import json
import os
import re
import stat
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from clients.keyfile import ParticipantKey, create_key_file, save_key_file
from clients.sdk import Client
from crypto.events import check_in_statement
from crypto.keys import VerifyKey
from evalroom.db.events import append_events, create_stream, lock_stream
from evalroom.db.identity import create_user, grant_role
from evalroom.domain.session import report_digest
from evalroom.services.session import pool_snapshot
from tests.support import ROOT, InProcessNode, Participant, add_participant
from tests.test_session import METHOD, PRICES, SLOTS, TECH, VENUES, _register_pool

# Subprocesses (CLIs, the demo's node): minutes on a loaded 2-core machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(360)]


@dataclass
class Done:
    rc: int
    out: str
    err: str


@dataclass
class Tools:
    """Runs ``python -m clients.<tool> …`` as subprocesses without blocking the node's loop."""

    server: str
    tmp: Path
    env: dict[str, str] = field(
        default_factory=lambda: {
            k: v for k, v in os.environ.items() if not k.startswith("EVALROOM_")
        }
    )
    running: list[asyncio.subprocess.Process] = field(default_factory=list)

    async def start(self, tool: str, *args: str) -> asyncio.Task[Done]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", f"clients.{tool}", *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env=self.env,
        )  # fmt: skip
        self.running.append(proc)

        async def finish() -> Done:
            try:
                out, err = await asyncio.wait_for(proc.communicate(), 60)
            except TimeoutError:
                proc.kill()
                out, err = await proc.communicate()
            assert proc.returncode is not None
            done = Done(proc.returncode, out.decode(), err.decode())
            print(f"--- {tool} {' '.join(args[:2])} -> {done.rc}\n{done.out}{done.err}")
            assert "Traceback" not in done.err, done.err
            return done

        return asyncio.create_task(finish())

    async def run(self, tool: str, *args: str) -> Done:
        return await (await self.start(tool, *args))

    async def ok(self, tool: str, *args: str) -> Done:
        done = await self.run(tool, *args)
        assert done.rc == 0, (tool, args, done)
        return done

    def stop_all(self) -> None:
        for proc in self.running:
            if proc.returncode is None:
                proc.kill()


class Evaluation:
    """A session of tender ``T<n>`` section S1 across the three venues of tests.test_session,
    with key files for the supervisor, the Lanzhou operator and every pool expert."""

    def __init__(self, node: InProcessNode, pool: asyncpg.Pool, tmp: Path) -> None:
        self.node, self.pool, self.tmp = node, pool, tmp
        self.tender = f"T{uuid.uuid4().hex[:6]}"
        self.sid = f"{self.tender}-S1"
        self.stream = f"session:{self.sid}"
        self.tools = Tools(node.url, tmp)
        self.bids = {k: f"S1-B0{i}" for i, k in enumerate(PRICES, 1)}
        self.sdk: dict[str, Client] = {}
        self.experts: dict[str, Participant] = {}
        self.users: dict[str, str] = {}
        self.background: list[asyncio.Task[Done]] = []

    def key(self, name: str) -> Path:
        return self.tmp / f"{name}.key"

    def as_(self, name: str) -> list[str]:
        return ["--server", self.node.url, "--key", str(self.key(name))]

    async def person(self, name: str, role: str, scope: str, venue: str = "") -> None:
        user = f"{name}-{uuid.uuid4().hex[:6]}"
        key = create_key_file(self.key(name), user)
        await create_user(self.pool, user, name, None, key.public_key)
        await grant_role(self.pool, user, scope, role, venue)
        self.users[name] = user

    async def opened(self, tender: str) -> None:
        """The tender after its opening: the signed record of the read-out (through the
        storage layer; the ceremony itself is tests.test_opening's)."""
        entries = [
            {
                "number": self.bids[k],
                "section": "S1",
                "org": f"company-{k}",
                "status": "decrypted",
                "sha256": "ab" * 32,
                "plain_sha256": "cd" * 32,
                "form": {"price": price},
                "via": "bidder",
                "reason": None,
            }
            for k, price in PRICES.items()
        ]
        record = {
            "stage": "single",
            "bids": entries,
            "confirmed": [],
            "objections": [],
            "signed_by": {},
            "failed_sections": [],
            "min_bids": 3,
            "phase": "opened",
        }
        async with self.pool.acquire() as conn, conn.transaction():
            await create_stream(conn, tender, "tender", None, {})
            row = await lock_stream(conn, tender)
            assert row is not None
            event = ("opening.record", None, record, "public", None)
            await append_events(conn, row, [event], {"phase": "opened"})

    async def create(self) -> None:
        tender = f"tender:{self.tender}"
        await self.opened(tender)
        agency = await add_participant(self.pool, "agency", roles=[("agency", tender)])
        self.sdk["agency"] = await agency.client(self.node.url)
        await self.person("sup", "supervisor", tender)
        self.experts = await _register_pool(self.pool, self.tender.lower())
        for uid, p in self.experts.items():
            save_key_file(self.key(uid), ParticipantKey(uid, p.key))
        draw = {
            "slots": SLOTS,
            "tenderer": "甘肃交通厅",
            "tenderer_region": "兰州",
            "min_credit": "60",
        }
        body = {
            "tender": self.tender,
            "section": "S1",
            "venues": VENUES,
            "method": METHOD,
            "draw": draw,
        }
        await self.sdk["agency"].command(self.stream, "session.create", body)
        await self.person("op", "operator", self.stream, "lanzhou")
        for venue in ("tianshui", "jiuquan"):
            op = await add_participant(
                self.pool, f"op-{venue}", roles=[("operator", self.stream)], venue=venue
            )
            self.sdk[f"op-{venue}"] = await op.client(self.node.url)
        snapshot = await pool_snapshot(type("Ctx", (), {"pool": self.pool})())
        (self.tmp / "pool.json").write_text(json.dumps(snapshot, ensure_ascii=False))

    async def state(self) -> dict[str, Any]:
        state: dict[str, Any] = await self.pool.fetchval(
            "SELECT state FROM streams WHERE name = $1", self.stream
        )
        return state

    async def expert(self, uid: str) -> Client:
        if uid not in self.sdk:
            self.sdk[uid] = await self.experts[uid].client(self.node.url)
        return self.sdk[uid]

    async def close(self) -> None:
        for client in self.sdk.values():
            await client.close()


async def test_a_session_driven_from_the_terminal(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    ev = Evaluation(node, pool, tmp_path)
    await ev.create()
    tools, sid = ev.tools, ev.sid
    watching = await tools.start(
        "supervisor", "watch", sid, "--plain", "--check-interval", "0.5", "--timeout", "50",
        *ev.as_("sup"),
    )  # fmt: skip
    on_duty = await tools.start("operator", "venue", sid, "--timeout", "50", *ev.as_("op"))
    ev.background += [watching, on_duty]
    try:
        committee, venue_of = await _the_session(ev)
        sup, op, mine = await watching, await on_duty, await ev.background[2]
    except BaseException:
        tools.stop_all()
        await asyncio.gather(*ev.background, return_exceptions=True)
        raise
    finally:
        await ev.close()

    # The supervisor saw the venues' presence, the alerts and the feed, and kept a checkpoint.
    assert sup.rc == 0, sup
    assert re.search(r"兰州主场\[管理员 op；专家 \d/2；签到 2/2\]", sup.out)
    watcher_venue = next(v for v in VENUES if v["id"] == venue_of[committee[1]])
    assert re.search(rf"{watcher_venue['name']}\[管理员 [^；]+；专家 1/", sup.out)  # its watch
    assert "⚠ 评标暂停（监督人暂停）：专家交流评分" in sup.out
    assert "评分偏离 1 项" in sup.out and "保留意见" in sup.out
    assert "评标结束。推荐中标候选人：第1名 company-a" in sup.out
    assert "日志检查点 @" in sup.out
    kept = json.loads((tmp_path / "sup.key.checkpoints.json").read_text())
    assert ev.stream in kept["streams"]
    # The operator saw its roster, the check-ins, and stayed on duty until the end.
    assert op.rc == 0, op
    assert "兰州主场 签到名单（2/2 已签到）" in op.out and "会话已结束：评标结束" in op.out
    assert "天水副场 签到名单" not in op.out  # another venue's roster is not its business
    # The expert followed the session: its own scores only until the reveal, then its to-dos.
    assert mine.rc == 0, mine
    assert "评分 S1-B01 / 施工组织设计(tech)：26" in mine.out  # its own, blind to the others'
    assert not any(f"({e}) 评分 S1-" in mine.out for e in committee if e != committee[1])
    assert "全部专家已提交，评分表揭晓" in mine.out and "待办：核对并签署评标报告" in mine.out


async def _the_session(ev: Evaluation) -> tuple[list[str], dict[str, str]]:
    tools, sid, bids = ev.tools, ev.sid, ev.bids

    # The draw: the seed is made and kept by the supervisor, only its hash is published first.
    seed_file = ev.tmp / "seed.hex"
    committed = await tools.ok(
        "supervisor", "commit-seed", sid, "--pool-file", str(ev.tmp / "pool.json"),
        "--out", str(seed_file), *ev.as_("sup"),
    )  # fmt: skip
    assert stat.S_IMODE(seed_file.stat().st_mode) == 0o600
    state = await ev.state()
    assert state["seed_commitment"] in committed.out and state["pool_digest"] in committed.out
    drawn = await tools.ok("supervisor", "draw", sid, "--seed-file", str(seed_file), *ev.as_("sup"))
    state = await ev.state()
    committee = list(state["committee"])
    assert state["phase"] == "check_in" and all(e in drawn.out for e in committee)
    venue_of = {e: m["venue"] for e, m in state["committee"].items()}
    lanzhou = [e for e in committee if venue_of[e] == "lanzhou"]
    watch = ["watch", sid, "--timeout", "50", *ev.as_(committee[1])]
    ev.background.append(await tools.start("expert", *watch))

    # Check-in: each Lanzhou expert signs a token on its own key; the operator checks it in.
    tokens = await asyncio.gather(
        *(
            tools.ok("expert", "check-in-token", sid, "--seat", f"lz-{i}", *ev.as_(e))
            for i, e in enumerate(lanzhou, 1)
        )
    )
    token = [t.out.strip() for t in tokens]
    assert all(len(t.splitlines()) == 1 for t in token)
    key = VerifyKey.from_string(ev.experts[lanzhou[0]].key.public.to_string())
    assert key.verify(check_in_statement(ev.stream, lanzhou[0], "lz-1"), token[0])
    wrong_seat = await tools.run(
        "operator", "check-in", sid, lanzhou[0], "--seat", "lz-9", "--token", token[0],
        *ev.as_("op"),
    )  # fmt: skip
    assert wrong_seat.rc == 1 and "专家身份签名验证失败。" in wrong_seat.err
    assert "identity_unverified" in wrong_seat.err
    await asyncio.gather(
        *(
            tools.ok(
                "operator",
                "check-in",
                sid,
                e,
                "--seat",
                f"lz-{i}",
                "--token",
                token[i - 1],
                *ev.as_("op"),
            )  # fmt: skip
            for i, e in enumerate(lanzhou, 1)
        )
    )
    for i, e in enumerate(e for e in committee if venue_of[e] != "lanzhou"):
        seat = f"{venue_of[e]}-{i}"
        signature = ev.experts[e].key.sign(check_in_statement(ev.stream, e, seat))
        body = {"expert": e, "seat": seat, "expert_signature": signature}
        await ev.sdk[f"op-{venue_of[e]}"].command(ev.stream, "session.check_in", body)
    assert (await ev.state())["phase"] == "chair_election"

    # The chair: one vote from the terminal, the others with the SDK.
    chair = committee[0]
    ex = {e: await ev.expert(e) for e in committee}
    voted, *_ = await asyncio.gather(
        tools.ok("expert", "vote-chair", sid, chair, *ev.as_(committee[0])),
        *(
            ex[e].command(ev.stream, "session.vote_chair", {"candidate": chair})
            for e in committee[1:]
        ),
    )
    assert "已投票" in voted.out

    # Preliminary review: a fail needs a reason; the chair closes the phase from the terminal.
    no_reason = await tools.run(
        "expert", "preliminary", sid, "--bid", bids["a"], "--criterion", "qualification",
        "--fail", *ev.as_(committee[1]),
    )  # fmt: skip
    assert no_reason.rc == 1 and "需要填写理由。" in no_reason.err
    for e in committee:
        for bid in bids.values():
            body = {"bid": bid, "criterion": "qualification", "pass": True}
            await ex[e].command(ev.stream, "session.preliminary", body, sign=True)
    await tools.ok("expert", "close-phase", sid, "preliminary", *ev.as_(chair))

    # Detailed review: a score out of range is refused with the server's sentence, in Chinese
    # by default and in English with --lang en; the chair scores a whole sheet from a file.
    out_of_range = ["score", sid, "--bid", bids["a"], "--criterion", "tech", "--score", "35"]
    sheet = ev.tmp / "sheet.json"
    sheet.write_text(json.dumps({bids[k]: {"tech": v[0]} for k, v in TECH.items()}))
    zh, en, whole = await asyncio.gather(
        tools.run("expert", *out_of_range, *ev.as_(committee[1])),
        tools.run("expert", *out_of_range, "--lang", "en", *ev.as_(committee[1])),
        tools.ok("expert", "scores", sid, "--file", str(sheet), "--submit", *ev.as_(chair)),
    )
    assert zh.rc == 1 and "错误 [score_out_of_range]：分值超出该评分项的范围。" in zh.err
    assert (
        en.rc == 1
        and "Error [score_out_of_range]: The score is out of the criterion's range." in en.err
    )
    assert "评分表 4 项已全部保存" in whole.out and "评分表已签名提交" in whole.out
    assert (await ev.state())["scores"][chair] == {bids[k]: {"tech": v[0]} for k, v in TECH.items()}
    for n, e in enumerate(committee[1:], 1):
        for k, marks in TECH.items():
            body = {"bid": bids[k], "criterion": "tech", "score": marks[n]}
            await ex[e].command(ev.stream, "session.score", body, sign=True)

    # The supervisor pauses: an expert's submission is refused until resumed.
    await tools.ok("supervisor", "pause", sid, "--reason", "专家交流评分", *ev.as_("sup"))
    paused = await tools.run("expert", "submit", sid, *ev.as_(committee[1]))
    assert paused.rc == 1 and "评标已暂停。" in paused.err and "[paused]" in paused.err
    await tools.ok("supervisor", "resume", sid, *ev.as_("sup"))
    await tools.ok("expert", "submit", sid, *ev.as_(committee[1]))
    for e in committee[2:]:
        await ex[e].command(ev.stream, "session.submit_scores", sign=True)
    state = await ev.state()
    assert state["phase"] == "deviation_check" and len(state["deviations"]) == 1

    # The flagged expert explains in writing; the chair closes the check.
    await tools.ok(
        "expert", "deviation-reason", sid, "--bid", bids["b"], "--criterion", "tech",
        "--reason", "b的施工组织设计对冬季施工有专项方案", *ev.as_(committee[3]),
    )  # fmt: skip
    await ex[chair].command(ev.stream, "session.close_phase", {"phase": "deviation_check"})
    state = await ev.state()
    digest = report_digest(state["report"])

    # Signing: the report is downloaded and its digest shown; signing needs a confirmation.
    pdf = ev.tmp / "report.pdf"
    fetched, unconfirmed = await asyncio.gather(
        tools.ok("expert", "report", sid, "--out", str(pdf), *ev.as_(committee[1])),
        tools.run("expert", "sign-report", sid, *ev.as_(committee[1])),
    )
    assert pdf.read_bytes().startswith(b"%PDF") and digest in fetched.out
    assert "推荐中标候选人：第1名 company-a" in fetched.out
    assert unconfirmed.rc == 2 and "--yes" in unconfirmed.err
    assert committee[1] not in (await ev.state())["signatures"]
    signed = await tools.ok(
        "expert", "sign-report", sid, "--yes", "--digest", digest, "--dissent", "c的工期偏紧",
        *ev.as_(committee[1]),
    )  # fmt: skip
    assert "company-a" in signed.out and digest in signed.out and "保留意见已记录" in signed.out
    for e in [committee[0], *committee[2:]]:
        await ex[e].command(ev.stream, "session.sign_report", {"report_digest": digest}, sign=True)
    state = await ev.state()
    assert state["phase"] == "closed"
    assert state["signatures"][committee[1]]["dissent"] == "c的工期偏紧"

    # After closing, the supervisor rates an expert (一标一评).
    await tools.ok("supervisor", "rate", sid, committee[1], "--score", "5", *ev.as_("sup"))
    assert (await ev.state())["ratings"][ev.users["sup"]][committee[1]]["score"] == 5
    return committee, venue_of


async def test_local_mistakes_never_reach_the_server(tmp_path: Path) -> None:
    """A malformed score sheet and a missing seed are refused here, with exit code 2."""
    tools = Tools("http://127.0.0.1:9", tmp_path)
    create_key_file(tmp_path / "me.key", "me")
    (tmp_path / "sheet.json").write_text(json.dumps({"S1-B01": {"tech": True}}))
    args = ["--server", tools.server, "--key", str(tmp_path / "me.key")]
    sheet, seed, no_key = await asyncio.gather(
        tools.run("expert", "scores", "S1", "--file", str(tmp_path / "sheet.json"), *args),
        tools.run("supervisor", "draw", "S1", "--seed-file", str(tmp_path / "none"), *args),
        tools.run("expert", "submit", "S1", "--server", tools.server, "--lang", "en"),
    )
    assert sheet.rc == 2 and "评分文件" in sheet.err and "S1-B01/tech" in sheet.err
    assert seed.rc == 2 and "种子文件" in seed.err
    assert no_key.rc == 2 and "Give the key file with --key" in no_key.err
