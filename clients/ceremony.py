"""The opening ceremony (开标) as a participant's client sees it, built from the tender's events.

:class:`CeremonyView` is pure: feed it the events of ``tender:<id>`` one by one (replayed
history, then live) and it holds what the participant may know — the rules, the phase, each
stage's bids and their live status, the read-out, objections, confirmations, signatures.
The bidder's and the agency's CLIs decide their next step from it.

:class:`Follower` feeds a subscription into a view and tells when the replay is over: the
hub sends no marker at the end of a replay and some events of the replay are not visible to
this participant, so the replay counts as over at the first event past the head announced
on subscribing, or when no event came for a short grace period. A client acts only after
that, so it never answers a stage that is already gone.

Rendering (status table, read-out, one line per event) lives here too, in zh-CN or English.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from clients.cli_common import Out, table

RESOLVED = ("decrypted", "rejected", "withdrawn")

CATALOG: dict[str, tuple[str, str]] = {
    # stages
    "stage.single": ("开标", "opening"),
    "stage.technical": ("技术标开标", "technical opening"),
    "stage.commercial": ("商务标开标", "commercial opening"),
    # bid status
    "status.waiting": ("等待解密", "waiting"),
    "status.decrypting": ("解密中", "decrypting"),
    "status.decrypted": ("已解密", "decrypted"),
    "status.failed": ("解密失败", "failed"),
    "status.rejected": ("已撤销（无效）", "rejected"),
    "status.withdrawn": ("已撤回", "withdrawn"),
    # reasons
    "reason.wrong_key": ("密钥错误", "wrong key"),
    "reason.key_not_released": ("未释放密钥", "key not released"),
    "reason.ciphertext_tampered": ("密文与回执不符（平台责任）", "ciphertext tampered (platform)"),
    "via.committee": ("由密钥保管人解密", "opened by the keyholders"),
    "via.bidder": ("投标人解密", "opened by the bidder"),
    # roles
    "role.agency": ("招标代理", "agency"),
    "role.supervisor": ("监督人", "supervisor"),
    # table headers
    "h.number": ("编号", "Number"),
    "h.section": ("标段", "Section"),
    "h.status": ("状态", "Status"),
    "h.note": ("说明", "Note"),
    "h.bidder": ("投标人", "Bidder"),
    "h.figures": ("唱标内容", "Read-out"),
    "mine": ("本单位", "yours"),
    # events
    "ev.configured": (
        "开标时间 {opening_at}，解密时限 {window} 秒，有效投标不少于 {min_bids} 家",
        "Opening at {opening_at}, decryption window {window} s, at least {min_bids} valid bids",
    ),
    "ev.published": ("招标公告已发布，开始接收投标。", "The tender is published; bids are open."),
    "ev.submitted": (
        "已递交 标段 {section} / {envelope}（第 {version} 版，sha256 {sha}…）",
        "Submitted section {section} / {envelope} (version {version}, sha256 {sha}…)",
    ),
    "ev.withdrawn": ("标段 {section} 的投标已撤回。", "The bid in section {section} is withdrawn."),
    "ev.started": (
        "{stage}开始：共 {count} 份投标文件，解密截止 {ends}",
        "The {stage} has started: {count} bids, decryption window until {ends}",
    ),
    "ev.your_bid": (
        "本单位投标文件编号：{number}（标段 {section}）",
        "Your bid's number: {number} (section {section})",
    ),
    "ev.signed_in": ("{who} 已签到", "{who} signed in"),
    "ev.status": ("{number}：{status}{note}", "{number}: {status}{note}"),
    "ev.window_closed": (
        "解密时间结束。未解密：{pending}（规则：{rule}）",
        "The decryption window is closed. Not opened: {pending} (rule: {rule})",
    ),
    "ev.fallback": (
        "等待开标密钥保管人提交分片（需 {k} 份）以解密：{numbers}",
        "Waiting for {k} keyholders' shares to open: {numbers}",
    ),
    "ev.share": ("已收到第 {count} 份密钥分片", "Key share {count} received"),
    "ev.read_out": ("唱标：", "Read-out:"),
    "ev.section_failed": (
        "标段 {sections} 有效投标不足 {min_bids} 家，流标。",
        "Section {sections}: fewer than {min_bids} valid bids; the section fails.",
    ),
    "ev.objection": ("质询 {id}（{org}）：{text}", "Objection {id} ({org}): {text}"),
    "ev.answered": ("答复 {id}：{text}", "Answer to {id}: {text}"),
    "ev.confirmed": ("{org} 已确认开标记录", "{org} confirmed the opening record"),
    "ev.record_signed": ("{role} 已签署开标记录", "The {role} signed the opening record"),
    "ev.record": (
        "开标记录已签署完成：有效投标 {valid} 份，共 {count} 份。",
        "The opening record is signed: {valid} valid bids of {count}.",
    ),
    "none": ("无", "none"),
}


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def local_time(value: datetime | str) -> str:
    when = parse_time(value) if isinstance(value, str) else value
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class Bid:
    number: str
    section: str
    status: str = "waiting"
    reason: str = ""
    via: str = ""


@dataclass
class Objection:
    id: str
    org: str
    text: str
    answer: str | None = None


@dataclass
class Stage:
    """One stage of the opening (``single``, ``technical`` or ``commercial``)."""

    name: str
    window_ends: datetime
    bids: dict[str, Bid] = field(default_factory=dict)
    mine: dict[str, str] = field(default_factory=dict)  # number -> section (bidders only)
    signed_in: set[str] = field(default_factory=set)
    window_closed: bool = False
    fallback: set[str] = field(default_factory=set)
    fallback_k: int = 0
    shares: int = 0
    read_out: list[dict[str, Any]] | None = None
    read_out_at: datetime | None = None
    objections: dict[str, Objection] = field(default_factory=dict)
    confirmed: set[str] = field(default_factory=set)
    signed_by: dict[str, str] = field(default_factory=dict)
    record: dict[str, Any] | None = None

    @property
    def settled(self) -> bool:
        """Every bid is opened, rejected or withdrawn: nothing is left to decrypt."""
        return all(b.status in RESOLVED for b in self.bids.values())

    @property
    def unanswered(self) -> list[Objection]:
        return [o for o in self.objections.values() if o.answer is None]

    @property
    def orgs(self) -> set[str]:
        return {str(e["org"]) for e in self.read_out or []}


@dataclass
class CeremonyView:
    """What a participant knows of a tender's opening, from the events it may see."""

    stream: str
    config: dict[str, Any] = field(default_factory=dict)
    phase: str = "draft"
    stage: str | None = None
    stages: dict[str, Stage] = field(default_factory=dict)
    submitted: dict[tuple[str, str], str] = field(default_factory=dict)  # (section, env) -> sha
    failed_sections: set[str] = field(default_factory=set)
    # A bidder's own company: its join and bids are in its own stream (``apply_own``).
    my_org: str | None = None
    last_seq: int = 0

    @property
    def current(self) -> Stage | None:
        return self.stages.get(self.stage) if self.stage else None

    @property
    def opening_at(self) -> datetime | None:
        raw = self.config.get("opening_at")
        return parse_time(raw) if raw else None

    @property
    def envelopes(self) -> list[str]:
        return list(self.config.get("envelopes", ["single"]))

    def apply_own(self, event: dict[str, Any]) -> None:
        """An event of the company's own bid stream (its registration and bids), which the
        tender's stream does not carry; the tender's seqs are left alone."""
        if event["type"] in ("bidder.joined", "bid.submitted", "bid.withdrawn"):
            handler = getattr(self, "_on_" + event["type"].replace(".", "_"))
            handler(event.get("payload", {}), event)

    def apply(self, event: dict[str, Any]) -> None:
        self.last_seq = max(self.last_seq, int(event.get("seq", 0)))
        kind, p = event["type"], event.get("payload", {})
        handler = getattr(self, "_on_" + kind.replace(".", "_"), None)
        if handler is not None:
            handler(p, event)

    # -- events ----------------------------------------------------------------------------
    def _on_tender_configured(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.config = dict(p)

    def _on_tender_published(self, _p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.phase = "bidding"

    def _on_bidder_joined(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.my_org = str(p["org"])

    def _on_bid_submitted(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.my_org = str(p["org"])
        self.submitted[(str(p["section"]), str(p["envelope"]))] = str(p["sha256"])

    def _on_bid_withdrawn(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        for key in [k for k in self.submitted if k[0] == p["section"]]:
            del self.submitted[key]

    def _on_opening_started(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        stage = Stage(str(p["stage"]), parse_time(p["window_ends"]))
        for entry in p.get("bids", []):
            number = str(entry["number"])
            stage.bids[number] = Bid(number, str(entry["section"]), str(entry["status"]))
        self.stages[stage.name] = stage
        self.stage = stage.name
        self.phase = "opening"

    def _on_opening_your_bid(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        if self.current is not None:
            self.current.mine[str(p["number"])] = str(p["section"])

    def _on_opening_signed_in(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        if self.current is not None:
            self.current.signed_in.add(str(p["who"]))

    def _on_bid_status(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        stage = self.current
        if stage is None:
            return
        number = str(p["number"])
        bid = stage.bids.setdefault(number, Bid(number, ""))
        bid.status = str(p["status"])
        bid.reason = str(p.get("reason") or "")
        bid.via = str(p.get("via") or bid.via)
        if bid.status in RESOLVED:
            stage.fallback.discard(number)

    def _on_opening_window_closed(self, _p: dict[str, Any], _e: dict[str, Any]) -> None:
        if self.current is not None:
            self.current.window_closed = True

    def _on_opening_fallback(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        if self.current is not None:
            self.current.fallback = {str(n) for n in p.get("numbers", [])}
            self.current.fallback_k = int(p.get("k", 0))

    def _on_opening_share_received(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        if self.current is not None:
            self.current.shares = int(p.get("count", self.current.shares + 1))

    def _on_opening_read_out(self, p: dict[str, Any], e: dict[str, Any]) -> None:
        if self.current is not None:
            self.current.read_out = list(p.get("entries", []))
            self.current.read_out_at = parse_time(e["at"]) if e.get("at") else _now()

    def _on_section_failed(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.failed_sections |= {str(s) for s in p.get("sections", [])}

    def _on_opening_objection(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        if self.current is not None:
            oid = str(p["id"])
            self.current.objections[oid] = Objection(oid, str(p["org"]), str(p["text"]))

    def _on_opening_answered(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        if self.current is not None and str(p["id"]) in self.current.objections:
            self.current.objections[str(p["id"])].answer = str(p["text"])

    def _on_opening_confirmed(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        if self.current is not None:
            self.current.confirmed.add(str(p["org"]))

    def _on_opening_record_signed(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        if self.current is not None:
            self.current.signed_by[str(p["role"])] = str(p["by"])

    def _on_opening_record(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        if self.current is not None:
            self.current.record = dict(p)
            self.phase = "technical_opened" if self.current.name == "technical" else "opened"


def _now() -> datetime:
    return datetime.now(UTC)


# -- rendering -----------------------------------------------------------------------------


class Render:
    """Lines and tables of the ceremony for people, in the CLI's language."""

    def __init__(self, out: Out) -> None:
        self.out = out
        out.catalog.update({k: v for k, v in CATALOG.items() if k not in out.catalog})

    def t(self, key: str, **fields: Any) -> str:
        return self.out.t(key, **fields)

    def word(self, prefix: str, value: str) -> str:
        key = f"{prefix}.{value}"
        return self.t(key) if key in self.out.catalog else value

    def note(self, bid: Bid) -> str:
        parts = []
        if bid.reason:
            parts.append(self.word("reason", bid.reason))
        if bid.via == "committee":
            parts.append(self.word("via", bid.via))
        return "；".join(parts) if not self.out.en else "; ".join(parts)

    def status_table(self, stage: Stage) -> str:
        rows = []
        for number, bid in sorted(stage.bids.items()):
            mark = f" ({self.t('mine')})" if number in stage.mine else ""
            rows.append(
                [number + mark, bid.section, self.word("status", bid.status), self.note(bid)]
            )
        headers = [self.t("h.number"), self.t("h.section"), self.t("h.status"), self.t("h.note")]
        return table(headers, rows)

    def read_out_table(self, entries: list[dict[str, Any]], mine: dict[str, str]) -> str:
        rows = []
        for e in entries:
            number = str(e["number"])
            mark = f" ({self.t('mine')})" if number in mine else ""
            if e.get("form"):
                figures = ", ".join(f"{k}={v}" for k, v in e["form"].items())
            else:
                figures = self.word("reason", str(e.get("reason", "")))
            rows.append(
                [
                    number + mark,
                    str(e["section"]),
                    str(e["org"]),
                    self.word("status", str(e["status"])),
                    figures,
                ]
            )
        headers = [
            self.t("h.number"),
            self.t("h.section"),
            self.t("h.bidder"),
            self.t("h.status"),
            self.t("h.figures"),
        ]
        return table(headers, rows)

    def event_line(self, event: dict[str, Any], view: CeremonyView) -> str | None:
        """One line announcing an event, or None for events not worth a line."""
        kind, p = event["type"], event.get("payload", {})
        stage = view.current
        if kind == "tender.configured":
            return self.t(
                "ev.configured",
                opening_at=local_time(p["opening_at"]),
                window=p.get("decryption_window_seconds"),
                min_bids=p.get("min_bids"),
            )
        if kind == "tender.published":
            return self.t("ev.published")
        if kind == "bid.submitted":
            return self.t(
                "ev.submitted",
                section=p["section"],
                envelope=p["envelope"],
                version=p["version"],
                sha=str(p["sha256"])[:16],
            )
        if kind == "bid.withdrawn":
            return self.t("ev.withdrawn", section=p["section"])
        if kind == "opening.started":
            return self.t(
                "ev.started",
                stage=self.word("stage", str(p["stage"])),
                count=len(p.get("bids", [])),
                ends=local_time(p["window_ends"]),
            )
        if kind == "opening.your_bid":
            return self.t("ev.your_bid", number=p["number"], section=p["section"])
        if kind == "opening.signed_in":
            return self.t("ev.signed_in", who=p["who"])
        if kind == "bid.status" and stage is not None:
            bid = stage.bids.get(str(p["number"]))
            note = self.note(bid) if bid is not None else str(p.get("reason", ""))
            return self.t(
                "ev.status",
                number=p["number"],
                status=self.word("status", str(p["status"])),
                note=f" ({note})" if note else "",
            )
        if kind == "opening.window_closed":
            pending = ", ".join(p.get("pending", [])) or self.t("none")
            return self.t("ev.window_closed", pending=pending, rule=p.get("rule", ""))
        if kind == "opening.fallback":
            return self.t("ev.fallback", k=p.get("k"), numbers=", ".join(p.get("numbers", [])))
        if kind == "opening.share_received":
            return self.t("ev.share", count=p.get("count"))
        if kind == "opening.read_out":
            mine = stage.mine if stage is not None else {}
            return self.t("ev.read_out") + "\n" + self.read_out_table(p.get("entries", []), mine)
        if kind == "section.failed":
            return self.t(
                "ev.section_failed",
                sections=", ".join(p.get("sections", [])),
                min_bids=p.get("min_bids"),
            )
        if kind == "opening.objection":
            return self.t("ev.objection", id=p["id"], org=p["org"], text=p["text"])
        if kind == "opening.answered":
            return self.t("ev.answered", id=p["id"], text=p["text"])
        if kind == "opening.confirmed":
            return self.t("ev.confirmed", org=p["org"])
        if kind == "opening.record_signed":
            return self.t("ev.record_signed", role=self.word("role", str(p["role"])))
        if kind == "opening.record":
            bids = p.get("bids", [])
            valid = sum(1 for b in bids if b.get("status") == "decrypted")
            return self.t("ev.record", valid=valid, count=len(bids))
        return None
