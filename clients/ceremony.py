"""The opening ceremony (开标) in lines and tables for people, zh-CN or English: the status
table, the read-out, one line per event. What the participant knows is folded from the
tender's events by :mod:`clients.folds.tender`; :mod:`clients.follow` tells when a replay is
over (the hub marks its end).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from clients.cli_common import Out, table
from clients.folds.tender import Bid, CeremonyView, Stage, parse_time

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


def local_time(value: datetime | str) -> str:
    when = parse_time(value) if isinstance(value, str) else value
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S")


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
