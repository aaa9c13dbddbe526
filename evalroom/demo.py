"""``evalroom demo``: a node on the embedded defaults, driven by real clients over real sockets.

It grows with the platform: today it runs a tender's set-up with remote participants, the
live event feed, presence, refusals and idempotent retries; every step checks its outcome and
the demo exits non-zero if any check fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from clients.sdk import Client, ClientError
from crypto.keys import SigningKey
from evalroom.app import create_app
from evalroom.db.identity import create_user, grant_role
from evalroom.settings import Settings

TEXT: dict[str, tuple[str, str]] = {
    "start": (
        "启动节点（内嵌 PostgreSQL，进程内消息代理）…",
        "Starting a node (embedded PostgreSQL, in-process broker)…",
    ),
    "ready": ("节点就绪", "Node ready"),
    "users": (
        "登记参与方（各自持有 Ed25519 私钥）",
        "Registering participants (each holds its own Ed25519 key)",
    ),
    "create": (
        "代理机构远程创建招标项目并发布",
        "Agency creates and publishes the tender remotely",
    ),
    "join": ("投标人远程报名", "Bidders join remotely"),
    "refused": ("越权操作被拒绝并记录", "Out-of-role command refused and recorded"),
    "retry": ("重复提交的命令只生效一次", "A retried command applies once"),
    "presence": ("监督看到在线人员（按场地）", "Supervisor sees who is online, by venue"),
    "feed": ("各方收到的事件流一致且有序", "Every participant's feed is identical and ordered"),
    "ok": ("通过", "ok"),
    "fail": ("失败", "FAILED"),
    "done": ("演示完成", "Demo finished"),
    "serving": ("节点继续运行，按 Ctrl-C 退出", "Node keeps running; Ctrl-C to stop"),
}


@dataclass
class Report:
    lang: str
    failures: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def t(self, key: str) -> str:
        zh, en = TEXT[key]
        return en if self.lang == "en" else zh

    def say(self, key: str, extra: str = "") -> None:
        stamp = f"{time.monotonic() - self.started:6.2f}s"
        print(f"[{stamp}] {self.t(key)}{(' · ' + extra) if extra else ''}", flush=True)

    def check(self, key: str, ok: bool, extra: str = "") -> None:
        mark = self.t("ok") if ok else self.t("fail")
        self.say(key, f"{extra}  [{mark}]" if extra else f"[{mark}]")
        if not ok:
            self.failures.append(key)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def _node(settings: Settings, port: int) -> AsyncIterator[tuple[str, Any]]:
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        ws="websockets-sansio",
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app.state.node
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)


@dataclass
class Person:
    user_id: str
    name: str
    key: SigningKey
    org: str | None = None
    venue: str = ""


async def _register(node: Any, people: list[Person], grants: list[tuple[Person, str, str]]) -> None:
    for p in people:
        await create_user(node.pool, p.user_id, p.name, p.org, p.key.public.to_string())
    for p, role, scope in grants:
        await grant_role(node.pool, p.user_id, scope, role, p.venue)


async def run_demo(*, keep_serving: bool = False, lang: str = "zh-CN", port: int = 0) -> int:
    report = Report(lang)
    data_dir = Path(tempfile.mkdtemp(prefix="evalroom-demo-"))
    settings = Settings(data_dir=data_dir, heartbeat_seconds=0.5, presence_ttl_seconds=3.0)
    report.say("start", str(data_dir))
    async with _node(settings, port or _free_port()) as (url, node):
        report.say("ready", url)
        try:
            await _scenario(report, url, node)
        except (ClientError, TimeoutError) as exc:
            report.failures.append(f"{type(exc).__name__}: {exc}")
            print(f"  ! {exc}", file=sys.stderr)
        report.say("done", "" if not report.failures else ", ".join(report.failures))
        if keep_serving and not report.failures:
            report.say("serving", url)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.Event().wait()
    return 0 if not report.failures else 1


async def _scenario(report: Report, url: str, node: Any) -> None:
    tender = "tender:GS-2026-0117"
    agency = Person("agency-lz", "甘肃某招标代理", SigningKey.generate(), org="agency-co")
    supervisor = Person("sup-gs", "省公共资源交易监督", SigningKey.generate())
    operators = [
        Person(f"op-{v}", f"{name}场地管理员", SigningKey.generate(), venue=v)
        for v, name in (("lanzhou", "兰州主场"), ("tianshui", "天水副场"), ("jiuquan", "酒泉副场"))
    ]
    bidders = [
        Person(f"bidder-{i}", f"投标人{i}", SigningKey.generate(), org=f"company-{i}")
        for i in range(1, 6)
    ]
    people = [agency, supervisor, *operators, *bidders]
    report.say("users", f"{len(people)}")
    await _register(node, people, [(agency, "agency", "platform")])

    def client(p: Person) -> Client:
        return Client(url, p.user_id, p.key, lang=report.lang, heartbeat=0.5)

    a = client(agency)
    await a.connect()
    report.say("create", tender)
    await a.command(tender, "tender.create", {"title": "G312 线公路养护工程（第一标段）"})
    for p in (supervisor, *operators):
        role = "supervisor" if p is supervisor else "operator"
        await a.command(tender, "tender.grant", {"user": p.user_id, "role": role, "venue": p.venue})
    await a.command(tender, "tender.publish")

    s = client(supervisor)
    await s.connect()
    sup_feed = await s.subscribe(tender)
    await s.watch_presence(tender)
    ops = []
    for p in operators:
        c = client(p)
        await c.connect()
        await c.subscribe(tender)
        ops.append(c)
    members = await s.wait_presence(tender, lambda m: len({e["user"] for e in m}) >= 4)
    venues = sorted({v for e in members for v in e["venues"]})
    report.check("presence", venues == ["jiuquan", "lanzhou", "tianshui"], ", ".join(venues))

    report.say("join", f"{len(bidders)}")
    bidder_clients = []
    for p in bidders:
        c = client(p)
        await c.connect()
        await c.command(tender, "tender.join")
        bidder_clients.append(c)

    try:
        await bidder_clients[0].command(tender, "tender.publish")
        refused = False
    except ClientError as err:
        refused = err.code == "forbidden"
        report.check("refused", refused, f"{err.code}: {err.message}")
    if not refused:
        report.check("refused", False)

    first = await a.command(
        tender, "tender.notice", {"text": "开标时间：2026-12-01 09:30"}, id="notice-1"
    )
    again = await a.command(
        tender, "tender.notice", {"text": "开标时间：2026-12-01 09:30"}, id="notice-1"
    )
    report.check("retry", first == again, f"seq {first['seq']}")

    head = first["seq"]
    sup_seqs = [(await sup_feed.next())["seq"] for _ in range(head)]
    ok = sup_seqs == list(range(1, head + 1))
    for c in ops:
        feed = c.subs[tender]
        seen = []
        while feed.last_seq < head:
            seen.append((await feed.next())["seq"])
        ok = ok and seen == sorted(seen) and len(seen) == len(set(seen))
    report.check("feed", ok, f"{head} events")
    for c in [a, s, *ops, *bidder_clients]:
        await c.close()
