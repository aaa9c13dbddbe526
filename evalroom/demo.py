"""``evalroom demo``: the whole remote procedure on the embedded defaults, with real clients
over real sockets, every step checked.

A two-envelope tender; five bidders seal and submit (a sixth is late and refused); the remote
opening with one bidder failing to release its key and the keyholders' fallback; a
committee drawn from a pool across three venues with avoidance; check-in by signature;
blind scoring; a deviation with its reason; a clarification; a venue dropping and resuming;
the ranking; the report signed by every expert; ratings; the award apart from the evaluation
(评定分离: the tenderer's 定标委员会 by 票决抽签法, the 定标报告, the 公示 with an objection,
the award notice); the red flags (风险提示) the prices raise, shown live to the supervisor
only, checked again in the evaluation, in the report's annex for the supervising authority
and in the bundle; and the evidence bundle exported and verified offline. Exits non-zero if
any check fails.

What participants see is checked on what the supervisor's client receives over the SDK,
folded by ``clients.folds`` as every client folds it (``Watched``), and every signed event it
received must verify under its actor's key. The database is used for the operator's setup
(users, roles, the expert pool), the draw request the server keeps, and the report files.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

import uvicorn

from clients.folds.session import SessionView
from clients.folds.tender import CeremonyView, Stage
from clients.opening import make_opening_key, pack_bid, seal_envelope, upload_envelope
from clients.sdk import Client, ClientError, Subscription
from crypto.canonical import canonical_json
from crypto.keys import SigningKey
from crypto.origin import origin_document, origin_key
from evalroom.app import create_app
from evalroom.db.events import stream_state
from evalroom.db.identity import create_user, grant_role
from evalroom.domain.draw import DrawRequest, ExpertPool, draw_experts, pool_digest
from evalroom.domain.session import report_digest
from evalroom.services.pool_admin import import_pool
from evalroom.serving import uvicorn_config
from evalroom.settings import Settings

T: dict[str, tuple[str, str]] = {
    "start": (
        "启动节点（内嵌 PostgreSQL，进程内消息代理）",
        "Starting a node (embedded PostgreSQL, in-process broker)",
    ),
    "ready": ("节点就绪", "Node ready"),
    "cast": (
        "登记参与方：各方在本机生成 Ed25519 密钥，平台只登记公钥",
        "Registering participants: each makes its Ed25519 key locally; the platform stores public keys only",
    ),
    "opening_key": (
        "代理机构在本机生成开标密钥，2/3 门限分给 3 位保管人",
        "Agency makes the opening key locally, split 2-of-3 among keyholders",
    ),
    "tender": ("创建双信封招标项目并发布", "Two-envelope tender created and published"),
    "duties": (
        "监督由行政监督部门任命；代理机构自任监督被拒绝",
        "Supervisor appointed by the supervising authority; the agency appointing itself refused",
    ),
    "sealed": (
        "投标人本机加密并上传（平台只存密文，回执已验签）",
        "Bidders seal locally and upload (ciphertext only; receipts verified)",
    ),
    "early": ("提前开标被拒绝", "Early opening refused"),
    "late": ("逾期投标被拒绝并留痕", "Late bid refused and recorded"),
    "opening": ("开标", "Opening"),
    "fallback": (
        "投标人未解密，保管人门限解密",
        "Bidder did not release its key; keyholders open it",
    ),
    "readout": ("唱标", "Read-out"),
    "record": ("开标记录已由代理与监督签署", "Opening record signed by agency and supervisor"),
    "control": (
        "超过最高投标限价的投标在唱标时被否决，理由已唱出并记入开标记录",
        "The bid above the control price was rejected at the read-out, its reason read out"
        " and in the record",
    ),
    "session": (
        "创建评标会话，开标结果移交评标",
        "Evaluation session created from the opening record",
    ),
    "handover": (
        "评标会话的投标及报价取自已签署的技术标与商务标开标记录（摘要已记录）；自带投标数据的创建被拒绝",
        "Session bids and prices taken from the signed technical and commercial opening records"
        " (digests kept); a create carrying its own bids is refused",
    ),
    "draw": (
        "承诺随机种子后抽取专家（回避规则），可复算",
        "Seed committed, experts drawn with avoidance, reproducible",
    ),
    "checkin": ("各场地管理员核验专家签名签到", "Site operators check experts in by signature"),
    "chair": ("选举评标组长", "Chair elected"),
    "prelim": ("初步评审完成", "Preliminary review done"),
    "clarify": ("澄清：专家提问、监督批准、投标人答复", "Clarification asked, approved, answered"),
    "blind": (
        "评分保密：其他专家与代理机构无法查看",
        "Blind scoring: other experts and the agency are refused",
    ),
    "venue_drop": (
        "天水副场断线：全部场地暂停；恢复后继续",
        "Tianshui venue dropped: all venues paused; resumed when back",
    ),
    "deviation": ("评分偏离需书面说明后方可继续", "A deviating score needed a written reason"),
    "ranged": (
        "按分值区间打分：进度计划（1–2 分）给 0 分被拒绝并说明可给分值，给 1.5 分被接受",
        "A ranged criterion: a 0 on the 1–2 point schedule item refused with the values it"
        " takes, 1.5 accepted",
    ),
    "ranking": ("汇总排名（与手工计算一致）", "Ranking (matches the hand computation)"),
    "signed": (
        "全体专家签署评标报告（签名已验证）",
        "Report signed by every expert (signatures checked)",
    ),
    "rated": ("代理与监督对专家一标一评", "Agency and supervisor rated every expert"),
    "award_setup": (
        "评定分离：招标人组建定标委员会（指定 2 人，另从本单位 6 人成员库抽取 3 人，种子先行承诺），"
        "采用票决抽签法；投标人员工任委员被拒绝",
        "Award apart from evaluation: the tenderer forms its award committee (2 appointed, 3 to"
        " be drawn from its panel of 6, the seed committed first), vote then lot; a bidder's"
        " staff as a member refused",
    ),
    "award_drawn": (
        "监督签到后公开抽取定标委员：揭示种子，任何人可复算抽中者",
        "Members drawn with a supervisor signed in: the seed revealed, anyone recomputes the draw",
    ),
    "award_vote": (
        "委员与监督签名签到；抽签种子在投票前承诺；委员签名投票，票决出 2 名入围者",
        "Members and a supervisor sign in by signature; the lot's seed committed before the"
        " vote; signed ballots reduce the candidates to 2 finalists",
    ),
    "award_lot": (
        "公开抽签：揭示种子，任何人可复算抽中者",
        "Public lot: the seed revealed, anyone recomputes the pick",
    ),
    "award_signed": (
        "全体委员签署定标报告，中标候选人公示（演示中公示期缩短为 3 秒）",
        "Award report signed by every member; result published for objections (the demo's"
        " window is 3 seconds)",
    ),
    "award_objection": (
        "投标人在公示期内提出异议，招标人答复；公示期满由平台时钟关闭",
        "A bidder objected within the window, the tenderer answered; the platform's clock"
        " closed the window",
    ),
    "award_notice": (
        "中标通知：中标人与签名选票、承诺种子复算结果一致",
        "Award notice: the winner follows from the signed votes and the committed seed",
    ),
    "award_verified": (
        "离线验证复算定标结果（选票、种子、定标报告签名）",
        "Offline verification recomputed the award (votes, seed, award report signatures)",
    ),
    "until": ("公示截止", "objections until"),
    "bundle": ("导出证据包并离线验证", "Evidence bundle exported and verified offline"),
    # red flags: live signals
    "redflags": (
        "风险提示：唱标后平台自动计算价格预警，实时推送给监督（仅供参考，不改变结果）；"
        "代理机构与投标人看不到，也无从得知其存在",
        "Red flags: computed after the read-out and shown live to the supervisor (advisory,"
        " they change no result); the agency and the bidders cannot see them, nor that they exist",
    ),
    "redflags_eval": (
        "评标阶段（初步评审后）复核风险提示，同一信号不重复记录；评标专家看不到",
        "Red flags checked again in the evaluation (after the preliminary review); a signal"
        " found again is not recorded twice; the experts cannot see them",
    ),
    "redflags_evidence": (
        "金城公路与祁连工程的投标在同一台电脑上密封、施工组织设计几乎相同：监督看到两项风险提示",
        "金城公路's and 祁连工程's bids were sealed on one machine with near-identical proposals:"
        " the supervisor sees both flags",
    ),
    "report_annex": (
        "评标报告的风险提示附件只提供给监督；代理机构的报告中没有任何痕迹，索取附件被拒绝",
        "The report's red-flag annex is for the supervisor only; the agency's report has no"
        " trace of it, and its request for the annex is refused",
    ),
    "redflags_bundle": (
        "证据包包含风险提示，离线验证复算价格预警一致",
        "The evidence bundle carries the red flags; offline verification recomputed the price"
        " signals",
    ),
    "ok": ("通过", "ok"),
    "fail": ("失败", "FAILED"),
    "done": ("演示完成", "Demo finished"),
    "failed": ("演示失败", "Demo failed"),
    "serving": ("节点继续运行，按 Ctrl-C 退出", "Node keeps running; Ctrl-C to stop"),
    "result": ("排名与推荐中标候选人", "Ranking and recommended candidates"),
    "report": ("评标报告", "Evaluation report"),
    "award_report": ("定标报告", "Award report"),
}

FORMS = {
    "technical": [
        {"name": "duration_days", "type": "int", "label": "工期（日历天）"},
        {"name": "quality", "type": "text", "label": "质量目标"},
    ],
    "commercial": [{"name": "price", "type": "decimal", "label": "投标报价（元）"}],
}
CONTROL_PRICE = {"limit": "1040000.00"}  # 最高投标限价 of S1: 天水交建's 1,050,000 is above it
BIDDERS = {  # company -> (price, duration)
    "陇原路桥": ("1000000.00", 180),
    "河西建工": ("980000.00", 170),
    "天水交建": ("1050000.00", 200),
    "金城公路": ("990000.00", 175),
    "祁连工程": ("1012000.00", 185),
}
TECH = [  # scores per seat for each bidder in BIDDERS order; seat 4 deviates on 河西建工
    ("25", "26", "27", "28", "20"),
    ("22", "23", "24", "30", "21"),
    ("27", "27", "28", "29", "26"),
    ("24", "24", "24", "24", "24"),
    ("23", "25", "24", "26", "24"),
]
PLAN_SCORE = "1.5"  # every expert's figure on the 1–2 point item (进度计划)
METHOD = {
    "kind": "comprehensive",
    "criteria": [
        {"id": "qualification", "name": "资格评审", "kind": "pass_fail", "max_points": None},
        {"id": "tech", "name": "施工组织设计", "kind": "expert", "max_points": "30"},
        # A criterion scored within a range (1–2 分), not from 0: the session refuses a 0.
        {
            "id": "plan",
            "name": "进度计划",
            "kind": "expert",
            "max_points": "2",
            "scale": {"low": "1", "high": "2"},
        },
        {"id": "price", "name": "投标报价", "kind": "price", "max_points": "70"},
    ],
    "price_rule": {
        "base": {
            "trim": {"count": 1, "from_bids": 5},
            "coefficient": "1",
            "floating_point": None,
            "decimals": 2,
        },
        "deviation": "percent",
        "above": [{"up_to": None, "points_per_percent": "1"}],
        "below": [{"up_to": None, "points_per_percent": "0.5"}],
    },
    "aggregation": {"level": "criterion", "drop_high_low_from": 5},
    "pass_fail": "majority",
    "recommend": 3,
}
VENUES = [
    {"id": "lanzhou", "name": "兰州主场", "region": "兰州", "seats": 4, "main": True},
    {"id": "tianshui", "name": "天水副场", "region": "天水", "seats": 2, "main": False},
    {"id": "jiuquan", "name": "酒泉副场", "region": "酒泉", "seats": 2, "main": False},
]
POOL = [  # id, name, region, employer, credit, relations
    ("e-lz1", "王建国", "兰州", "陇原路桥", "90", []),  # employed by a bidder: avoided
    ("e-lz2", "李秀英", "兰州", "兰州交通大学", "88", []),
    ("e-lz3", "张伟", "兰州", "甘肃公路设计院", "92", []),
    ("e-lz4", "刘洋", "兰州", "兰州城建院", "85", []),
    ("e-ts1", "陈静", "天水", "天水路桥", "90", ["河西建工"]),  # declared relation: avoided
    ("e-ts2", "杨帆", "天水", "天水职业学院", "86", []),
    ("e-ts3", "赵磊", "天水", "天水监理公司", "87", []),
    ("e-jq1", "黄敏", "酒泉", "酒泉公路局", "91", []),
    ("e-jq2", "周强", "酒泉", "酒泉设计所", "50", []),  # credit below 60: avoided
]


@dataclass
class Report:
    lang: str
    failures: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def t(self, key: str) -> str:
        zh, en = T[key]
        return en if self.lang == "en" else zh

    def say(self, key: str, extra: str = "") -> None:
        stamp = f"{time.monotonic() - self.started:6.2f}s"
        print(f"[{stamp}] {self.t(key)}{(' · ' + extra) if extra else ''}", flush=True)

    def check(self, key: str, ok: bool, extra: str = "") -> None:
        mark = self.t("ok") if ok else self.t("fail")
        self.say(key, f"{extra}  [{mark}]" if extra else f"[{mark}]")
        if not ok:
            self.failures.append(key)

    def feed(self, text: str) -> None:
        print(f"         │ {text}", flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def _node(settings: Settings, port: int) -> AsyncIterator[tuple[str, Any]]:
    app = create_app(settings)
    config = uvicorn_config(app, settings, "127.0.0.1", port, timeout_graceful_shutdown=3)
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


V = TypeVar("V", CeremonyView, SessionView)

# red flags: the flags the demo's bids must raise from the identity and document checks (two
# bids sealed on one machine, near-identical technical proposals). They come from the
# evidence sources (``services/redflag_evidence.py``, in ``services.redflags.SOURCES``), from
# what the two bidders below really put in their packages: the same machine's keyed
# identifiers, and one proposal copied from the other with a paragraph changed.
EVIDENCE_FLAGS: tuple[str, ...] = ("identity.same_machine", "documents.near_duplicate_text")
SHARED_MACHINE = ("金城公路", "祁连工程")  # the second copies the first's proposal too

PROPOSAL = [  # the works a 施工组织设计 is written about (each under ten characters)
    "路基分层填筑压实",
    "沥青混合料摊铺",
    "桥涵结构物施工",
    "雨季排水措施",
    "冬季暖棚养护",
    "测量控制网复测",
    "安全技术交底",
    "交通导改方案",
    "原材料见证取样",
    "水稳基层厂拌",
    "旋挖钻机成孔",
    "拌和站除尘降尘",
    "三检制度执行",
    "进度计划纠偏",
    "主要设备配置",
    "分项工程验收",
    "临时用电保护",
    "文明施工管理",
    "竣工资料归档",
    "项目部组织机构",
]


def proposal_text(company: str, *, changed: int | None = None) -> str:
    """A bidder's 施工组织设计 as text: eight paragraphs of five sentences, each on works of
    ``PROPOSAL`` with the bidder's own figures (drawn from a generator seeded by its name),
    so two bidders' texts share little; with ``changed``, that paragraph is written afresh
    (the near-identical copy)."""
    import random

    rng = random.Random(hashlib.sha256(company.encode()).digest())
    paragraphs = []
    for n in range(8):
        seed = rng.random()
        pick = random.Random(seed + 1000 if n == changed else seed)
        sentences = [
            f"{pick.choice(PROPOSAL)}按第{pick.randint(1, 99)}项要求实施，"
            f"{pick.choice(PROPOSAL)}控制在{pick.randint(10, 999)}米以内，"
            f"{pick.choice(PROPOSAL)}每{pick.randint(2, 30)}日检查{pick.randint(1, 9)}次"
            for _ in range(5)
        ]
        paragraphs.append(f"第{n + 1}节　" + "；".join(sentences) + "。")
    return "\n\n".join(paragraphs)


def machine_of(company: str) -> dict[str, list[str]]:
    """The identifiers of the machine a bidder seals on (made up, one machine each; the two
    of ``SHARED_MACHINE`` share one), as ``clients.origin`` reads them on a real machine."""
    owner = SHARED_MACHINE[0] if company in SHARED_MACHINE else company
    h = hashlib.sha256(owner.encode()).hexdigest()
    mac = ":".join(["a4", "5e", h[0:2], h[2:4], h[4:6], h[6:8]])
    return {"machine_id": [h[:32]], "mac": [mac], "hostname": [f"DESKTOP-{h[8:15].upper()}"]}


class Flags:
    """The supervisor's live view of the tender's red flags (the ``signals:`` stream)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.changed = asyncio.Condition()

    @property
    def raised(self) -> list[dict[str, Any]]:
        return [e["payload"] for e in self.events if e["type"] == "signal.raised"]

    def checked(self, phase: str, stage: str) -> list[dict[str, Any]]:
        return [
            e["payload"]
            for e in self.events
            if e["type"] == "signals.checked"
            and e["payload"].get("phase") == phase
            and e["payload"].get("stage") == stage
        ]

    async def follow(self, feed: Subscription) -> None:
        async for event in feed:
            async with self.changed:
                self.events.append(event)
                self.changed.notify_all()

    async def until(self, predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
        async with self.changed:
            try:
                await asyncio.wait_for(self.changed.wait_for(predicate), timeout)
            except TimeoutError:
                return False
        return True


class Watched(Generic[V]):
    """One participant's fold of a stream it follows over the SDK: what the demo checks of
    what participants see comes from here, not from the database."""

    def __init__(self, view: V) -> None:
        self.view: V = view
        self.events: list[dict[str, Any]] = []
        self.changed = asyncio.Condition()

    async def apply(self, event: dict[str, Any]) -> None:
        async with self.changed:
            self.events.append(event)
            self.view.apply(event)
            self.changed.notify_all()

    async def until(self, predicate: Callable[[V], bool], timeout: float = 15.0) -> bool:
        """Whether the fold comes to satisfy ``predicate`` (woken by each event) in time."""
        async with self.changed:
            try:
                await asyncio.wait_for(self.changed.wait_for(lambda: predicate(self.view)), timeout)
            except TimeoutError:
                return False
        return True


@dataclass
class Person:
    user_id: str
    name: str
    key: SigningKey = field(default_factory=SigningKey.generate)
    org: str | None = None
    client: Client | None = None

    @property
    def c(self) -> Client:
        assert self.client is not None
        return self.client


class Demo:
    def __init__(self, report: Report, url: str, node: Any, out: Path) -> None:
        self.r, self.url, self.node, self.pool, self.out = report, url, node, node.pool, out
        self.people: dict[str, Person] = {}

    async def person(
        self, user_id: str, name: str, org: str | None = None, *, connect: bool = True
    ) -> Person:
        p = Person(user_id, name, org=org)
        await create_user(self.pool, user_id, name, org, p.key.public.to_string())
        self.people[user_id] = p
        if connect:
            p.client = Client(self.url, user_id, p.key, lang=self.r.lang, heartbeat=0.5)
            await p.client.connect()
        return p

    async def served_pool(self, client: Client) -> dict[str, Any]:
        """``GET /api/pool`` as the supervisor's client reads it, its digest recomputed."""
        import httpx

        headers = {"authorization": f"Bearer {client.token}"}
        async with httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30) as http:
            response = await http.get("/api/pool")
        response.raise_for_status()
        served: dict[str, Any] = response.json()
        assert pool_digest(ExpertPool.from_dict(served["snapshot"])) == served["digest"]
        snapshot: dict[str, Any] = served["snapshot"]
        return snapshot

    async def state(self, stream: str) -> dict[str, Any]:
        value = await stream_state(self.pool, stream)
        assert value is not None, stream
        return value

    async def refused(
        self,
        client: Client,
        stream: str,
        type_: str,
        body: dict[str, Any] | None,
        code: str,
        **kw: Any,
    ) -> bool:
        try:
            await client.command(stream, type_, body, **kw)
        except ClientError as err:
            return err.code == code
        return False

    async def watch(self, feed: Subscription, watched: Watched[Any]) -> None:
        """The supervisor's live view: folded, and phases, venues, bids printed as they
        happen."""
        shown = {
            "opening.started",
            "bid.status",
            "opening.fallback",
            "opening.read_out",
            "opening.record",
            "session.draw_announced",
            "session.chair_round",
            "session.venue_lost",
            "session.venue_restored",
            "session.paused",
            "session.resumed",
            "session.scores_revealed",
            "session.deviations",
            "session.ranking",
            "session.closed",
            "tender.published",
            "award.round",
            "award.lot_drawn",
            "award.publicity",
            "award.publicity_closed",
            "award.notice",
        }
        async for ev in feed:
            await watched.apply(ev)
            if ev["type"] in shown:
                p = ev["payload"]
                detail = {
                    k: p[k]
                    for k in (
                        "number",
                        "status",
                        "via",
                        "reason",
                        "venue",
                        "stage",
                        "round",
                        "elected",
                        "counts",
                        "chosen",
                        "pick",
                    )
                    if k in p
                }
                self.r.feed(
                    f"#{ev['seq']:<4} {ev['type']:<26} {json.dumps(detail, ensure_ascii=False)}"
                )

    async def run(self) -> None:
        await self.cast()
        await self.bidding()
        await self.opening("technical")
        await self.opening("commercial")
        await self.evaluation()
        await self.award()
        await self.evidence()

    async def cast(self) -> None:
        self.r.say("cast")
        self.agency = await self.person("agency-gs", "甘肃招标代理有限公司", "甘肃招标代理")
        await grant_role(self.pool, "agency-gs", "platform", "agency")
        self.authority = await self.person("authority-gs", "甘肃省公共资源交易监督管理局")
        await grant_role(self.pool, "authority-gs", "platform", "authority")
        self.sup = await self.person("sup-gs", "省公共资源交易监督科")
        self.owner = await self.person("owner-gs", "甘肃省交通运输厅", "甘肃省交通运输厅")
        self.keyholders = [await self.person(f"kh-{i}", f"开标密钥保管人{i}") for i in (1, 2, 3)]
        self.bidders = [
            await self.person(f"bidder-{i}", name, name)
            for i, name in enumerate([*BIDDERS, "迟到建设"], start=1)
        ]
        self.ops = {
            v["id"]: await self.person(f"op-{v['id']}", f"{v['name']}管理员") for v in VENUES
        }
        # The pool comes in as an operator brings it: a CSV file, through the product's import
        # (the experts' accounts are created from the file's keys).
        rows = ["user_id,name,specialties,region,employer,credit,relations,signing_key"]
        for eid, name, region, employer, credit, relations in POOL:
            p = self.people[eid] = Person(eid, name)
            key = p.key.public.to_string()
            rows.append(
                f"{eid},{name},公路,{region},{employer},{credit},{';'.join(relations)},{key}"
            )
        await import_pool(self.pool, ("\r\n".join(rows) + "\r\n").encode("utf-8"), "demo")
        self.r.feed(f"{len(self.people)} participants · {len(POOL)} experts in the pool")

    async def bidding(self) -> None:
        self.r.say("opening_key")
        recipient, self.shares = make_opening_key(2, 3)
        self.opening_at = datetime.now(UTC) + timedelta(seconds=8)
        self.tender, self.stream = "GS-2026-0117", "tender:GS-2026-0117"
        config = {
            "sections": [{"id": "S1", "name": "第一标段", "control_price": CONTROL_PRICE}],
            "envelopes": ["technical", "commercial"],
            "opening_at": self.opening_at.isoformat(),
            "decryption_window_seconds": 3,
            "min_bids": 3,
            "failure_rule": "committee",
            "opening_recipient": recipient,
            "threshold": {"k": 2, "n": 3},
            "keyholders": [k.user_id for k in self.keyholders],
            "forms": FORMS,
        }
        a = self.agency.c
        await a.command(
            self.stream, "tender.create", {"title": "G312 线公路养护工程", "config": config}
        )
        await a.command(
            self.stream, "tender.grant", {"user": self.owner.user_id, "role": "tenderer"}
        )
        self_appointed = await self.refused(
            a,
            self.stream,
            "tender.grant",
            {"user": self.agency.user_id, "role": "supervisor"},
            "not_appointer",
        )
        await self.authority.c.command(
            self.stream, "tender.grant", {"user": self.sup.user_id, "role": "supervisor"}
        )
        await a.command(self.stream, "tender.publish")
        self.r.check("duties", self_appointed)
        self.r.say("tender", self.stream)
        self.opened = Watched(CeremonyView(self.stream))
        self.sup_feed = await self.sup.c.subscribe(self.stream)
        self.watcher = asyncio.create_task(self.watch(self.sup_feed, self.opened))
        self.bid_keys: dict[tuple[str, str], str] = {}
        for p in self.bidders:
            await p.c.command(self.stream, "tender.join")
        for p in self.bidders[:5]:
            price, days = BIDDERS[p.name]
            for envelope, form in (
                ("technical", {"duration_days": days, "quality": "合格"}),
                ("commercial", {"price": price}),
            ):
                package, sealed = (
                    self.out / f"{p.user_id}-{envelope}.zip",
                    self.out / f"{p.user_id}-{envelope}.age",
                )
                copy = p.name == SHARED_MACHINE[1]
                text = proposal_text(
                    SHARED_MACHINE[0] if copy else p.name, changed=3 if copy else None
                )
                pack_bid(
                    package,
                    form,
                    {
                        "施工组织设计.pdf": b"%PDF-1.4 " + p.name.encode() * 500,
                        "施工组织设计.txt": text.encode("utf-8"),
                    },
                    origin_document(origin_key(self.tender, recipient), machine_of(p.name), "cli"),
                )
                self.bid_keys[(p.user_id, envelope)] = seal_envelope(package, sealed, recipient)
                await upload_envelope(p.c, self.tender, "S1", envelope, sealed)
                package.unlink()
        self.r.say("sealed", "5 × 2 envelopes")
        self.r.check(
            "early", await self.refused(a, self.stream, "opening.start", None, "too_early")
        )
        await asyncio.sleep(max(0.0, (self.opening_at - datetime.now(UTC)).total_seconds()) + 0.05)
        late = self.bidders[5]
        pack_bid(self.out / "late.zip", {"duration_days": 100, "quality": "合格"}, {})
        seal_envelope(self.out / "late.zip", self.out / "late.age", recipient)
        try:
            await upload_envelope(late.c, self.tender, "S1", "technical", self.out / "late.age")
            self.r.check("late", False)
        except ClientError as err:
            self.r.check("late", err.code == "deadline_passed", f"{err.code}: {err.message}")

    async def opening(self, stage: str) -> None:
        a = self.agency.c
        if stage == "technical":
            await a.command(self.stream, "opening.start")
        else:
            technical = self.opened.view.stages["technical"]
            passed = sorted(n for n, b in technical.bids.items() if b.status == "decrypted")
            await a.command(self.stream, "opening.start_commercial", {"passed": passed})
        self.r.say("opening", stage)
        silent = self.bidders[4]  # never releases its key: the keyholders open it
        for p in self.bidders[:5]:
            await p.c.command(self.stream, "opening.sign_in", sign=True)
            if p is not silent:
                await p.c.command(
                    self.stream,
                    "bid.release_key",
                    {"section": "S1", "identity": self.bid_keys[(p.user_id, stage)]},
                )
        assert await self.opened.until(lambda v: v.stage == stage), f"no {stage} opening seen"
        ends = self.opened.view.stages[stage].window_ends
        await asyncio.sleep(max(0.0, (ends - datetime.now(UTC)).total_seconds()) + 0.05)
        await a.command(self.stream, "opening.close_window")
        for kh, share in zip(self.keyholders[:2], (self.shares[0], self.shares[2]), strict=True):
            await kh.c.command(self.stream, "opening.share", {"share": share}, sign=True)
        await self.opened.until(lambda v: v.stages[stage].settled)
        bids = self.opened.view.stages[stage].bids
        opened_by_keyholders = [n for n, b in bids.items() if b.via == "committee"]
        self.r.check(
            "fallback",
            len(opened_by_keyholders) == 1 and bids[opened_by_keyholders[0]].status == "decrypted",
            ", ".join(opened_by_keyholders),
        )
        await a.command(self.stream, "opening.read_out")
        assert await self.opened.until(lambda v: v.stages[stage].read_out is not None), "read-out"
        for entry in sorted(
            self.opened.view.stages[stage].read_out or [], key=lambda e: e["number"]
        ):
            self.r.feed(
                f"{self.r.t('readout')} {entry['number']}"
                f" {self.people[self._user_of(entry['org'])].name}: "
                f"{json.dumps(entry.get('form'), ensure_ascii=False)}"
            )
        for p in self.bidders[:5]:
            await p.c.command(self.stream, "opening.confirm", sign=True)
        await a.command(self.stream, "opening.sign_record", sign=True)
        await self.sup.c.command(self.stream, "opening.sign_record", sign=True)
        made = await self.opened.until(lambda v: v.stages[stage].record is not None)
        signers = self.opened.view.stages[stage].record_signed_by
        self.r.check(
            "record",
            made and signers == {"agency": self.agency.user_id, "supervisor": self.sup.user_id},
            self.opened.view.phase,
        )
        if stage == "commercial":
            self._control_checked(self.opened.view.stages[stage])
            await self._red_flags()

    # -- red flags: live signals ------------------------------------------------------------
    async def _red_flags(self) -> None:
        """The commercial read-out's prices raise a signal on their own (陇原路桥, 河西建工 and
        金城公路 bid 1,000,000 / 980,000 / 990,000: three prices 10,000 apart, an arithmetic
        series, 投标报价呈规律性差异): the supervisor's client receives it live, with its
        evidence; the agency and a bidder cannot read the stream at all."""
        from clients.cli_common import Out
        from clients.render.signals import evidence_lines, signal_line

        self.signals = "signals:" + self.tender
        self.flags = Flags()
        feed = None
        for _attempt in range(60):  # the stream exists once the first run committed
            try:
                feed = await self.sup.c.subscribe(self.signals)
                break
            except ClientError as err:
                if err.code != "unknown_stream":
                    raise
                await asyncio.sleep(0.25)
        assert feed is not None, "no signals stream"
        self.flags_watcher = asyncio.create_task(self.flags.follow(feed))
        ran = await self.flags.until(lambda: bool(self.flags.checked("opening", "commercial")))
        out = Out(self.r.lang)
        for payload in self.flags.raised:
            self.r.feed(signal_line(out, payload))
            for line in evidence_lines(out, payload):
                self.r.feed(line)
        price = [p for p in self.flags.raised if str(p["code"]).startswith("price.")]
        series = any(p["code"] == "price.arithmetic_series" for p in price)
        hidden = [
            await self._cannot_read(c, self.signals) for c in (self.agency.c, self.bidders[0].c)
        ]
        self.r.check("redflags", ran and series and all(hidden), f"{len(price)} price signal(s)")
        missing = [
            code for code in EVIDENCE_FLAGS if code not in {p["code"] for p in self.flags.raised}
        ]
        if EVIDENCE_FLAGS:
            self.r.check("redflags_evidence", not missing, ", ".join(EVIDENCE_FLAGS))
        else:
            self.r.say("redflags_evidence", "—")

    def _control_checked(self, stage: Stage) -> None:
        """天水交建's price is above the control price: rejected in the read-out and the record,
        as the supervisor's fold of the events it received shows them."""
        record = stage.record or {}
        standings = [
            {b["org"]: b["rejected"]["reason"] for b in bids if "rejected" in b}
            for bids in (stage.read_out or [], record.get("bids", []))
        ]
        expected = {"天水交建": "above_control_price"}
        rejected: dict[str, Any] = next((b for b in record.get("bids", []) if "rejected" in b), {})
        detail = str(rejected.get("rejected", {}).get("detail", ""))
        self.r.check("control", standings == [expected, expected], detail)

    async def _handover(self, agency: Client, body: dict[str, Any]) -> None:
        """The session's bids are the signed records' (开标记录移交); bids in a body are refused."""
        from evalroom.domain.handover import SignedRecord, bid_differences, session_bids

        records = [
            SignedRecord(stage.record_seq, stage.record)
            for stage in self.opened.view.stages.values()
            if stage.record is not None
        ]
        handover = session_bids(records, "S1")
        await self.evaluated.until(lambda v: v.bids is not None)
        view = self.evaluated.view
        same = view.bids is not None and not bid_differences(view.bids, handover.bids)
        kept = view.opening_record == handover.reference
        forged = [{**b, "price": "1.00"} for b in handover.bids]
        refused = await self.refused(
            agency,
            self.session + "-2",
            "session.create",
            {**body, "bids": forged},
            "bids_not_accepted",
        )
        stages = " + ".join(f"{r['stage']}#{r['seq']}" for r in handover.reference)
        self.r.check("handover", same and kept and refused, f"{len(handover.bids)} bids · {stages}")

    def _user_of(self, org: str) -> str:
        return next(p.user_id for p in self.bidders if p.org == org)

    async def evaluation(self) -> None:
        a, s = self.agency.c, self.sup.c
        self.session = "session:GS-2026-0117-S1"
        draw = {
            "slots": [
                {"specialty": "公路", "venue": "lanzhou", "count": 2},
                {"specialty": "公路", "venue": "tianshui", "count": 2},
                {"specialty": "公路", "venue": "jiuquan", "count": 1},
            ],
            "tenderer": "甘肃省交通运输厅",
            "tenderer_region": "兰州",
            "min_credit": "60",
        }
        body = {
            "tender": self.tender,
            "section": "S1",
            "venues": VENUES,
            "method": METHOD,
            "draw": draw,
            "resume_wait": 600,
        }
        await a.command(self.session, "session.create", body)
        self.r.say("session", self.session)
        self.evaluated = Watched(SessionView(self.session))
        feed = await s.subscribe(self.session)
        self.session_watcher = asyncio.create_task(self.watch(feed, self.evaluated))
        await self._handover(a, body)
        from crypto.events import check_in_statement

        # The supervisor commits to the snapshot the API serves, its digest checked here.
        snapshot = await self.served_pool(s)
        seed = secrets.token_bytes(32)
        await s.command(
            self.session,
            "session.commit_seed",
            {
                "commitment": hashlib.sha256(seed).hexdigest(),
                "pool_digest": pool_digest(ExpertPool.from_dict(snapshot)),
            },
        )
        await s.command(self.session, "session.draw", {"seed": seed.hex()})
        seen = self.evaluated
        assert await seen.until(lambda v: bool(v.committee)), "no committee seen"
        members = dict(seen.view.committee)
        committee = self.committee = list(members)
        # The request the server drew with is its own record (no event carries it whole).
        request = (await self.state(self.session))["draw_request"]
        again = draw_experts(ExpertPool.from_dict(snapshot), DrawRequest.from_dict(request), seed)
        reproduced = {x.expert_id for x in again.seats} == set(committee)
        avoided = not {"e-lz1", "e-ts1", "e-jq2"} & set(committee)
        names = ", ".join(f"{self.people[e].name}@{m['venue']}" for e, m in members.items())
        self.r.check("draw", reproduced and avoided, names)

        for venue, op in self.ops.items():
            await grant_role(self.pool, op.user_id, self.session, "operator", str(venue))
            await op.c.subscribe(self.session)
        experts: dict[str, Client] = {}
        for eid in committee:
            client = Client(self.url, eid, self.people[eid].key, lang=self.r.lang, heartbeat=0.5)
            await client.connect()
            await client.subscribe(self.session)
            experts[eid] = client
        for i, (eid, member) in enumerate(members.items(), start=1):
            seat = f"{member['venue']}-{i}"
            token = self.people[eid].key.sign(check_in_statement(self.session, eid, seat))
            await self.ops[member["venue"]].c.command(
                self.session,
                "session.check_in",
                {"expert": eid, "seat": seat, "expert_signature": token},
            )
        self.r.check("checkin", await seen.until(lambda v: v.phase == "chair_election"))

        for eid in committee:
            await experts[eid].command(
                self.session, "session.vote_chair", {"candidate": committee[0]}
            )
        chair = experts[committee[0]]
        self.r.check(
            "chair",
            await seen.until(lambda v: v.chair == committee[0]),
            self.people[committee[0]].name,
        )
        bids = seen.view.bids or []
        for eid in committee:
            for b in bids:
                await experts[eid].command(
                    self.session,
                    "session.preliminary",
                    {"bid": b["bid_id"], "criterion": "qualification", "pass": True},
                    sign=True,
                )
        await chair.command(self.session, "session.close_phase", {"phase": "preliminary_review"})
        self.r.check("prelim", await seen.until(lambda v: v.phase == "detailed_review"))
        # red flags: checked again with the committee's marks; nothing is recorded twice.
        rechecked = await self.flags.until(lambda: bool(self.flags.checked("evaluation", "review")))
        run = (self.flags.checked("evaluation", "review") or [{}])[0]
        ids = [p["id"] for p in self.flags.raised]
        # The committee cannot read them either, in any venue.
        unseen = [await self._cannot_read(experts[eid], self.signals) for eid in committee]
        self.r.check(
            "redflags_eval",
            rechecked and len(ids) == len(set(ids)) and run.get("failed") == [] and all(unseen),
            f"{len(run.get('found', []))} found · {len(run.get('raised', []))} new",
        )

        company_c = bids[2]["company"]
        asked = await experts[committee[1]].command(
            self.session,
            "session.clarify_ask",
            {"company": company_c, "question": "请说明冬季施工安排", "deadline_seconds": 600},
        )
        await s.command(self.session, "session.clarify_approve", {"id": asked["reply"]["id"]})
        await self.people[self._user_of(company_c)].c.command(
            self.session,
            "session.clarify_answer",
            {"id": asked["reply"]["id"], "answer": "冬季停工两个月，已计入工期"},
            sign=True,
        )
        clarification = str(asked["reply"]["id"])
        self.r.check(
            "clarify",
            await seen.until(
                lambda v: v.clarifications.get(clarification, {}).get("status") == "answered"
            ),
        )

        for index, eid in enumerate(committee):
            for b in bids:
                marks = TECH[list(BIDDERS).index(b["company"])]
                await experts[eid].command(
                    self.session,
                    "session.score",
                    {"bid": b["bid_id"], "criterion": "tech", "score": marks[index]},
                    sign=True,
                )
        # The ranged criterion (1–2 分): a 0 is refused with the values it takes; 1.5 is kept.
        zero = {"bid": bids[0]["bid_id"], "criterion": "plan", "score": "0"}
        out_of_range = await self.refused(
            experts[committee[1]],
            self.session,
            "session.score",
            zero,
            "score_out_of_range",
            sign=True,
        )
        for eid in committee:
            for b in bids:
                await experts[eid].command(
                    self.session,
                    "session.score",
                    {"bid": b["bid_id"], "criterion": "plan", "score": PLAN_SCORE},
                    sign=True,
                )
        blind = all(
            [
                await self.refused(
                    a,
                    self.session,
                    "session.score",
                    {"bid": bids[0]["bid_id"], "criterion": "tech", "score": "30"},
                    "forbidden",
                    sign=True,
                ),
                not await self._can_read(experts[committee[1]], committee[0]),
                not await self._can_read(a, committee[0]),
            ]
        )
        self.r.check("blind", blind)

        tianshui = self.ops["tianshui"]
        await tianshui.c.close()
        paused = await seen.until(lambda v: v.paused)
        refused = await self.refused(
            experts[committee[2]], self.session, "session.submit_scores", None, "paused", sign=True
        )
        tianshui.client = Client(
            self.url, tianshui.user_id, tianshui.key, lang=self.r.lang, heartbeat=0.5
        )
        await tianshui.client.connect()
        await tianshui.client.subscribe(self.session)
        resumed = await seen.until(lambda v: not v.paused)
        self.r.check("venue_drop", paused and refused and resumed)

        for eid in committee:
            await experts[eid].command(self.session, "session.submit_scores", sign=True)
        blocked = await self.refused(
            chair,
            self.session,
            "session.close_phase",
            {"phase": "deviation_check"},
            "deviation_reason_missing",
        )
        await seen.until(lambda v: "session.deviations" in v.seq_of)
        deviations = list(seen.view.deviations)
        for d in deviations:
            await experts[d["expert"]].command(
                self.session,
                "session.deviation_reason",
                {
                    "bid": d["bid"],
                    "criterion": d["criterion"],
                    "reason": "该投标人冬季施工专项方案完整，故给高分",
                },
                sign=True,
            )
        await chair.command(self.session, "session.close_phase", {"phase": "deviation_check"})
        self.r.check(
            "deviation",
            blocked and len(deviations) >= 1,
            f"{len(deviations)} flagged",
        )

        assert await seen.until(lambda v: v.report is not None), "no ranking seen"
        report = seen.view.report or {}
        ranking = report["ranking"]
        kept = [
            c["expert_scores"]
            for b in ranking["bids"]
            for c in b.get("criteria", [])
            if c["criterion_id"] == "plan"
        ]
        ranged = bool(kept) and all(
            len(k) == len(committee) and set(k.values()) == {PLAN_SCORE} for k in kept
        )
        self.r.check("ranged", out_of_range and ranged, "进度计划 1–2 分 · 1.5")
        expected = _hand_computed()
        got = {b["bid_id"]: b["total"] for b in ranking["bids"]}
        by_company = {b["bid_id"]: b["company"] for b in bids}
        self.r.check("ranking", {by_company[k]: v for k, v in got.items()} == expected)
        print(f"\n  {self.r.t('result')}")
        for b in sorted(ranking["bids"], key=lambda b: b["rank"] or 99):
            star = "★" if b["bid_id"] in ranking["recommended"] else " "
            labels = ("price", "price score", "experts", "total")
            if self.r.lang != "en":
                labels = ("报价", "价格分", "专家评分", "总分")
            print(
                f"   {star} {b['rank']}. {b['bid_id']} {by_company[b['bid_id']]:<6} "
                f"{labels[0]} {b['price']:>12}  {labels[1]} {b['price_score']:>6}  "
                f"{labels[2]} {b['expert_part']:>6}  {labels[3]} {b['total']:>6}"
            )
        print()

        digest = report_digest(report)
        for eid in committee:
            await experts[eid].command(
                self.session, "session.sign_report", {"report_digest": digest}, sign=True
            )
        closed = await seen.until(lambda v: v.phase == "closed")
        signed = set(seen.view.signatures)
        self.r.check(
            "signed",
            closed
            and digest == seen.view.report_digest
            and signed == set(committee)
            and self._signatures_hold(self.opened.events + seen.events),
            f"{len(signed)}/{len(committee)}",
        )
        await self._write_report()
        for rater in (a, s):
            for eid in committee:
                await rater.command(
                    self.session, "session.rate_expert", {"expert": eid, "score": 5}
                )
        self.r.check("rated", True, f"{2 * len(committee)}")
        for c in experts.values():
            await c.close()

    def _award_events(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.evaluated.events if e["type"] == type_]

    async def _award_seen(self, type_: str) -> bool:
        """Whether the supervisor's feed comes to hold an award event of ``type_``."""
        return await self.evaluated.until(lambda _view: bool(self._award_events(type_)))

    async def award(self) -> None:
        """评定分离: the tenderer's 定标委员会 awards the signed report's candidates by
        票决抽签法; every step checked on what the supervisor's client receives."""
        from evalroom.domain.award_rules import (
            AwardMethod,
            Candidate,
            draw_lot,
            draw_members,
            recompute,
        )

        owner, s, session = self.owner.c, self.sup.c, self.session
        # Two members appointed by name, three drawn from the tenderer's panel of six.
        names = ["马志远", "孙丽华", "何建平", "高文静", "郑国强", "李明", "王芳", "赵磊"]
        people = [
            await self.person(f"dbw-{i}", name, "甘肃省交通运输厅")
            for i, name in enumerate(names, start=1)
        ]
        appointed, panel = [p.user_id for p in people[:2]], [p.user_id for p in people[2:]]
        panel_seed = secrets.token_bytes(32)
        panel_commitment = hashlib.sha256(panel_seed).hexdigest()
        draw = {"panel": panel, "count": 3, "commitment": panel_commitment}
        setup = {
            "method": {"kind": "vote_lot", "finalists": 2},
            "members": appointed,
            "draw": draw,
            "chair": appointed[0],
            "objection_seconds": 3,
        }
        intruder = {**setup, "members": [appointed[0], self.bidders[0].user_id]}
        refused = await self.refused(owner, session, "award.setup", intruder, "conflict_of_roles")
        await owner.command(session, "award.setup", setup)
        candidates = (await self.state(session))["award"]["candidates"]
        listed = ", ".join(f"{c['rank']}. {c['bid_id']} {c['company']}" for c in candidates)
        self.r.check("award_setup", refused and len(candidates) == 3, listed)

        # The supervisor signs in; the tenderer reveals the panel seed; anyone recomputes.
        await s.command(session, "award.sign_in", sign=True)
        await owner.command(session, "award.draw_members", {"seed": panel_seed.hex()})
        drawn_seen = await self._award_seen("award.members_drawn")
        drawn = (
            self._award_events("award.members_drawn")[0]["payload"]["drawn"] if drawn_seen else []
        )
        again = draw_members(panel, 3, panel_seed, panel_commitment)
        by_id = {p.user_id: p for p in people}
        members = [by_id[m] for m in [*appointed, *drawn]]
        ids = [m.user_id for m in members]
        self.r.check("award_drawn", drawn == again, "、".join(by_id[m].name for m in drawn))

        seed = secrets.token_bytes(32)
        commitment = hashlib.sha256(seed).hexdigest()
        await s.command(session, "award.commit_seed", {"commitment": commitment})
        for m in members:
            await m.c.subscribe(session)
            await m.c.command(session, "award.sign_in", sign=True)
        first, second = candidates[0]["bid_id"], candidates[1]["bid_id"]
        for m, bid in zip(members, [first, first, second, second, first], strict=True):
            await m.c.command(session, "award.vote", {"round": 1, "candidate": bid}, sign=True)
        voted = await self._award_seen("award.round")
        chosen = self._award_events("award.round")[0]["payload"]["chosen"] if voted else []
        self.r.check("award_vote", chosen == [first, second], " / ".join(chosen))

        await s.command(session, "award.reveal_seed", {"seed": seed.hex()})
        drawn = await self._award_seen("award.lot_drawn")
        pick = self._award_events("award.lot_drawn")[0]["payload"]["pick"] if drawn else None
        self.r.check("award_lot", pick == draw_lot(chosen, seed, commitment), str(pick))

        digest = (await self.state(session))["award"]["award_digest"]
        for m in members:
            await m.c.command(session, "award.sign_report", {"award_digest": digest}, sign=True)
        published = await self._award_seen("award.publicity")
        until = self._award_events("award.publicity")[0]["payload"]["until"] if published else ""
        shown = (
            f"{len(members)}/{len(members)} · {self.r.t('until')} {_beijing(until, self.r.lang)}"
        )
        self.r.check("award_signed", published, shown)

        loser = next(c for c in candidates if c["bid_id"] != pick)
        objector = self.people[self._user_of(loser["company"])].c
        raised = await objector.command(
            session, "award.object", {"text": "请公布票决及抽签过程"}, sign=True
        )
        await owner.command(
            session,
            "award.answer",
            {"id": raised["reply"]["id"], "answer": "票决与抽签过程已随定标报告公示，可离线复算"},
        )
        closed = await self.evaluated.until(
            lambda _view: bool(self._award_events("award.publicity_closed")), timeout=30
        )
        self.r.check("award_objection", closed)

        await owner.command(session, "award.notify")
        noticed = await self._award_seen("award.notice")
        winner = self._award_events("award.notice")[0]["payload"]["winner"] if noticed else {}
        # The award recomputed from the signed ballots the supervisor received.
        ballots: dict[int, dict[str, str]] = {}
        for e in self._award_events("award.vote"):
            body = e["payload"]["command"]["body"]
            ballots.setdefault(body["round"], {})[e["actor"]] = body["candidate"]
        outcome = recompute(
            AwardMethod.from_dict(setup["method"]),
            [Candidate.from_dict(c) for c in candidates],
            [{"round": n, "votes": v} for n, v in sorted(ballots.items())],
            seed=seed,
            commitment=commitment,
            members=ids,
        )
        follows = (
            outcome.winner == winner.get("bid_id") == pick
            and not outcome.problems
            and self._signatures_hold(self._award_events("award.vote"))
        )
        self.r.check("award_notice", follows, f"{winner.get('bid_id')} {winner.get('company')}")
        await self._write_award_report()

    def print_links(self) -> None:
        """Key files for a person to log in with in the browser, and a page per role."""
        from clients.keyfile import ParticipantKey, replace_private_json

        keys = self.out / "keys"
        keys.mkdir(exist_ok=True)
        for role, user, path in _links(self):
            key_file = keys / f"{user}.json"
            replace_private_json(key_file, ParticipantKey(user, self.people[user].key).to_json())
            print(f"   {role:<10} {self.url}/app/{path}   key: {key_file}")

    async def _cannot_read(self, client: Client, stream: str) -> bool:
        """``stream`` answers ``client`` as a name that does not exist."""
        try:
            await client.subscribe(stream)
        except ClientError as err:
            return err.code == "unknown_stream"
        return False

    async def _can_read(self, client: Client, expert: str) -> bool:
        import httpx

        async with httpx.AsyncClient(base_url=self.url) as http:
            r = await http.get(
                f"/api/sessions/{self.session.split(':', 1)[1]}/scores?expert={expert}",
                headers={"authorization": f"Bearer {client.token}"},
            )
        return r.status_code == 200

    def _signatures_hold(self, events: list[dict[str, Any]]) -> bool:
        """Every signed event received verifies under its actor's key, over what they signed."""
        signed = [e for e in events if e.get("sig")]
        return bool(signed) and all(
            self.people[e["actor"]].key.public.verify(
                canonical_json(e["payload"]["command"]), e["sig"]
            )
            for e in signed
        )

    async def _write_report(self) -> None:
        from evalroom.report import render_html, render_pdf
        from evalroom.session_http import report_sources

        state = await self.state(self.session)
        signatures, tender = await report_sources(self.pool, self.session, state)
        (self.out / "report.html").write_text(
            render_html(self.session, state, signatures, tender), encoding="utf-8"
        )
        (self.out / "report.pdf").write_bytes(render_pdf(self.session, state, signatures, tender))
        self.r.say("report", str(self.out / "report.pdf"))
        await self._report_annex()

    async def _report_annex(self) -> None:
        """red flags: the annex comes with the supervisor's entitlement only, over HTTP."""
        import httpx

        from evalroom.report import ANNEX_TITLE

        path = f"/api/sessions/{self.session.split(':', 1)[1]}/report.html"
        got: dict[str, httpx.Response] = {}
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as http:
            for who, client, annex in (
                ("sup", self.sup.c, True),
                ("agency", self.agency.c, False),
                ("agency_annex", self.agency.c, True),
            ):
                await client.login()
                got[who] = await http.get(
                    path,
                    params={"annex": "signals"} if annex else None,
                    headers={"authorization": f"Bearer {client.token}"},
                )
        sup, agency, asked = got["sup"], got["agency"], got["agency_annex"]
        codes = {str(p["code"]) for p in self.flags.raised}
        (self.out / "report-supervisor.html").write_text(sup.text, encoding="utf-8")
        self.r.check(
            "report_annex",
            sup.status_code == 200
            and ANNEX_TITLE in sup.text
            and all(code in sup.text for code in codes)
            and agency.status_code == 200
            and "风险提示" not in agency.text
            and not any(code in agency.text for code in codes)
            and asked.status_code == 403,
            str(self.out / "report-supervisor.html"),
        )

    async def _write_award_report(self) -> None:
        """The 定标报告 as its own document, in the demo's language."""
        from evalroom.db.sessions import report_tender
        from evalroom.report import pdf_of
        from evalroom.report_award import award_document

        state = await self.state(self.session)
        tender = await report_tender(self.pool, f"tender:{state['tender']}")
        names = {u: p.name for u, p in self.people.items()}
        doc = award_document(self.session, state, tender, names, self.r.lang)
        (self.out / "award.pdf").write_bytes(pdf_of(doc, self.session))
        self.r.say("award_report", str(self.out / "award.pdf"))

    async def evidence(self) -> None:
        from evalroom.audit.bundle import export_bundle, uncovered, write_bundle

        audit = self.node.extras["audit"]
        # Sign the heads, export, and again if anything landed in between (a late event
        # not under any signed checkpoint would rightly fail verification).
        for _attempt in range(10):
            for stream in (self.stream, self.session, self.signals):
                await audit.checkpoint_now(stream, "export")
            bundle = await export_bundle(self.pool, self.session)
            if not uncovered(bundle):
                break
        path = self.out / "evidence.json.gz"
        write_bundle(bundle, path)
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "clients.verify", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        lines = result.stdout.strip().splitlines() or ["(no output)"]
        award = next((line.strip() for line in lines if line.strip().startswith("award ")), "")
        verified = "recomputed from 5 signed votes" in award and "signed by 5/5" in award
        self.r.check("award_verified", verified, award)
        # red flags: in the bundle, and recomputed by the verifier.
        carried = {
            e["payload"]["id"]
            for st in bundle["streams"]
            if st["name"] == self.signals
            for e in st["events"]
            if e["type"] == "signal.raised"
        }
        flags = next((line.strip() for line in lines if f"signals of {self.signals}" in line), "")
        self.r.check(
            "redflags_bundle",
            carried == {p["id"] for p in self.flags.raised} and f"{len(carried)} raised" in flags,
            flags,
        )
        self.r.check("bundle", result.returncode == 0, f"{path} · {lines[-1]}")
        if result.returncode != 0:
            print(result.stdout[-2000:], result.stderr[-2000:], file=sys.stderr)


def _beijing(text: str, lang: str) -> str:
    """A time a person reads: Beijing time, labelled (北京时间)."""
    from clients.cli_common import beijing

    label = "Beijing time" if lang == "en" else "北京时间"
    return f"{beijing(text):%Y-%m-%d %H:%M:%S} {label}" if text else ""


def _links(demo: Demo) -> list[tuple[str, str, str]]:
    """(role, who, path) of a page per role, for ``--serve``."""
    tender, session = demo.tender, demo.session.split(":", 1)[1]
    chair = demo.people[demo.committee[0]]
    return [
        ("bidder", demo.bidders[0].user_id, f"#/bidder?tender={tender}"),
        ("agency", demo.agency.user_id, f"#/agency?tender={tender}&session={session}"),
        ("expert", chair.user_id, f"#/expert?session={session}"),
        ("supervisor", demo.sup.user_id, f"#/supervisor?session={session}"),
        ("operator", demo.ops["lanzhou"].user_id, f"#/operator?session={session}"),
    ]


def _hand_computed() -> dict[str, str]:
    """The totals worked by hand (not by the scoring code) from TECH, BIDDERS and METHOD.

    天水交建 (1,050,000) is above the control price 1,040,000: rejected at the opening (否决),
    never evaluated. Four bids remain, fewer than the trim's five: no trim.
    base price: (1,000,000 + 980,000 + 990,000 + 1,012,000) / 4 = 995,500.00
    deviation % (2 dp) and price score (70 − 1 per % above, − 0.5 per % below, half-up):
      陇原 +0.45 → 69.55   河西 −1.56 → 69.22   金城 −0.55 → 69.73   祁连 +1.66 → 68.34
    tech (mean of the middle three of five): 陇原 26.00, 河西 23.00, 金城 24.00, 祁连 24.33
    进度计划 (1–2 分, every expert 1.5): 1.50 each
    totals: 陇原 69.55 + 26.00 + 1.50 = 97.05, 河西 93.72, 金城 95.23, 祁连 94.17
    """
    return {
        "陇原路桥": "97.05",
        "河西建工": "93.72",
        "金城公路": "95.23",
        "祁连工程": "94.17",
    }


async def run_demo(*, keep_serving: bool = False, lang: str = "zh-CN", port: int = 0) -> int:
    from evalroom.logs import configure

    configure("warning")
    report = Report(lang)
    data_dir = Path(tempfile.mkdtemp(prefix="evalroom-demo-"))
    out = Path(os.environ.get("EVALROOM_DEMO_OUT", "evalroom-demo-out"))
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    settings = Settings(data_dir=data_dir, heartbeat_seconds=0.5, presence_ttl_seconds=3.0)
    report.say("start", str(data_dir))
    try:
        async with _node(settings, port or _free_port()) as (url, node):
            report.say("ready", url)
            demo = Demo(report, url, node, out)
            try:
                await demo.run()
            except (ClientError, TimeoutError, AssertionError) as exc:
                report.failures.append(f"{type(exc).__name__}: {exc}")
                print(f"  ! {exc}", file=sys.stderr)
            if not report.failures:
                report.say("done", str(out))
            else:
                report.say("failed", ", ".join(report.failures))
            if keep_serving and not report.failures:
                await asyncio.to_thread(demo.print_links)
                report.say("serving", f"{url}/app/")
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, stop.set)
                await stop.wait()
    finally:
        if not keep_serving:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0 if not report.failures else 1
