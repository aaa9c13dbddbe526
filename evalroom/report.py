"""The evaluation report (评标报告) as a document a person reads and prints: HTML and PDF.

Both are rendered from one document model (:func:`document`): a list of sections of
paragraphs and tables of plain text, built from the session's report object (the same object
every expert signed by its digest), the rest of the session's state, the experts' signatures
and the tender (:class:`evalroom.db.sessions.ReportTender`: title, configuration and the
signed opening records). The two renderers only lay the model out, so the HTML and the PDF
hold the same sections and figures, and each escapes every string it prints.

The price figures (base price, each bid's deviation and price score) are recomputed with
:func:`evalroom.domain.scoring.evaluate` from what the report holds, as the offline verifier
does; the report says whether they equal the signed ranking.

Times are stored in UTC and printed in Beijing time, labelled as such.

The PDF embeds a subset of WenQuanYi Micro Hei (文泉驿微米黑, a TrueType collection) from
Debian's ``fonts-wqy-microhei`` (or a TrueType font named by ``EVALROOM_REPORT_FONT``), so it
reads the same everywhere; without either it falls back to reportlab's built-in CID font
STSong-Light, which Chinese PDF readers substitute but which is not embedded: the PDF's
keywords and a log line say so.
"""

from __future__ import annotations

import html
import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from unicodedata import east_asian_width
from xml.sax.saxutils import escape as xml_escape

import structlog

from evalroom.db.sessions import ReportTender
from evalroom.domain.corrections import Correction
from evalroom.domain.scoring import (
    BidFigures,
    BidResult,
    CriterionKind,
    ExpertSheet,
    MethodKind,
    Ranking,
    ScoringMethod,
    evaluate,
)
from evalroom.domain.session import report_digest

log = structlog.get_logger(__name__)

# China has kept a single offset, UTC+08:00, without daylight saving since 1991, so a fixed
# offset is exact for every time the platform records and needs no time-zone database
# (zoneinfo finds none on a pip-only machine without the tzdata package).
BEIJING = timezone(timedelta(hours=8), "CST")

# Debian's fonts-wqy-microhei: TrueType outlines (glyf), which reportlab embeds and subsets.
WQY_MICROHEI = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
FALLBACK_FONT = "STSong-Light"

NONE = "无"


def beijing(text: str | None) -> str:
    """An ISO 8601 time (UTC as stored) as ``2026-12-07 22:08:10（北京时间）``."""
    if not text:
        return "—"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:  # stored times are UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S") + "（北京时间）"


# --- the document model ------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    head: Sequence[str]
    rows: Sequence[Sequence[str]]


@dataclass(frozen=True)
class Heading:
    """A sub-heading inside a section."""

    text: str


Block = str | Table | Heading  # a plain string is a paragraph


@dataclass(frozen=True)
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass(frozen=True)
class Document:
    title: str
    subtitle: str
    sections: list[Section]
    lang: str = "zh-CN"  # the language of the headings and labels (names stay as entered)


STAGES = {"single": "开标", "technical": "技术标开标", "commercial": "商务标开标"}
STATUS = {"decrypted": "已解密", "failed": "解密失败", "withdrawn": "撤销"}
KINDS = {
    CriterionKind.EXPERT: "专家评分",
    CriterionKind.PRICE: "价格分",
    CriterionKind.PASS_FAIL: "合格制",
    CriterionKind.DEDUCTION: "扣分项",
}
METHODS = {
    MethodKind.COMPREHENSIVE: "综合评估法",
    MethodKind.LOWEST_EVALUATED_PRICE: "经评审的最低投标价法",
}
CLARIFICATION = {
    "asked": "待监督审批",
    "approved": "监督已批准，待答复",
    "answered": "监督已批准，已答复",
    "expired": "监督已批准，逾期未答复",
    "rejected": "监督未批准",
}
PHASES = {
    "preliminary_review": "初步评审",
    "detailed_review": "详细评审",
    "deviation_check": "评分偏离",
}


def _text(value: Any) -> str:
    return "—" if value is None or value == "" else str(value)


def _recompute(report: Mapping[str, Any]) -> tuple[Ranking, bool]:
    """The ranking re-run from the report's method, bids and sheets, and whether it equals
    the signed one (it must: the session ran the same pure function)."""
    method = ScoringMethod.from_dict(report["method"])
    figures = [
        BidFigures.from_dict({k: v for k, v in b.items() if k != "company"}) for b in report["bids"]
    ]
    sheets = [ExpertSheet.from_dict(s) for s in report["sheets"]]
    fp = report.get("floating_point")
    # method rules in the session: the chair's items and the corrections after a 复核
    chairs = [m["expert"] for m in report.get("committee") or [] if m.get("chair")]
    corrections = [
        Correction.from_dict({k: v for k, v in c.items() if k not in _CORRECTION_NOTES})
        for c in report.get("corrections") or []
    ]
    ranking = evaluate(
        method,
        figures,
        sheets,
        None if fp is None else Decimal(fp),
        chair=chairs[0] if chairs else None,
        corrections=corrections,
    )
    return ranking, ranking.to_dict() == report["ranking"]


_CORRECTION_NOTES = ("requested_by", "approved_at")  # the record's, beside the correction


class _Facts:
    """Names and lookups the sections share."""

    def __init__(self, state: Mapping[str, Any], tender: ReportTender | None) -> None:
        self.state, self.tender = state, tender
        self.report: Mapping[str, Any] = state["report"]
        self.method = ScoringMethod.from_dict(self.report["method"])
        self.companies = {b["bid_id"]: b["company"] for b in self.report["bids"]}
        for b in [*(state.get("rejected") or []), *(state.get("flagged") or [])]:
            self.companies.setdefault(b["bid_id"], b["company"])
        self.members: dict[str, Any] = {m["expert"]: m for m in self.report["committee"]}
        self.criteria = {c.id: c for c in self.method.criteria}
        self.section_config: Mapping[str, Any] = next(
            (
                s
                for s in (tender.config.get("sections") or [] if tender else [])
                if str(s.get("id")) == str(self.report["section"])
            ),
            {},
        )

    def expert(self, expert_id: str) -> str:
        member = self.members.get(expert_id)
        return f"{member.get('name') or expert_id}" if member else expert_id

    def venue(self, venue_id: str) -> str:
        return str(self.state.get("venues", {}).get(venue_id, {}).get("name", venue_id))

    def criterion(self, criterion_id: str) -> str:
        c = self.criteria.get(criterion_id)
        return c.name if c else criterion_id

    def person(self, user_id: str) -> str:
        name = self.tender.names.get(user_id) if self.tender else None
        return f"{name}（{user_id}）" if name else user_id


# --- the sections --------------------------------------------------------------------------


def _basics(f: _Facts, stream: str, signatures: Sequence[Mapping[str, Any]]) -> Section:
    report, state, tender = f.report, f.state, f.tender
    section_name = f.section_config.get("name")
    control = f.section_config.get("control_price") or {}
    venues = state.get("venues", {})
    rows = [
        ["招标项目", f"{tender.title}（{tender.name}）" if tender else str(report["tender"])],
        ["标段", f"{report['section']} {section_name or ''}".strip()],
        ["招标人", _text(state.get("draw_request", {}).get("tenderer"))],
        ["招标代理", f.person(tender.agency) if tender else _text(state.get("agency"))],
        ["开标时间", beijing(tender.config.get("opening_at")) if tender else "—"],
        ["最高投标限价", _control_text(control)],
        ["评标方法", METHODS[f.method.kind]],
        ["评标会话", stream],
        [
            "评标地点",
            "；".join(
                f"{v.get('name', vid)}（{'主场' if v.get('main') else '副场'}，{v.get('region', '')}）"
                for vid, v in venues.items()
            ),
        ],
        ["报告签署完成", beijing(max((s["at"] for s in signatures), default=None))],
        ["报告摘要（SHA-256）", report_digest(report)],
    ]
    return Section("一、项目概况", [Table(["项目", "内容"], rows)])


def _control_text(control: Mapping[str, Any]) -> str:
    if not control:
        return "未设"
    text = f"{control.get('limit')} 元"
    if control.get("floor"):
        text += f"；低于 {control['floor']} 元须作成本说明"
    elif control.get("floor_ratio"):
        text += f"；低于限价的 {control['floor_ratio']} 倍须作成本说明"
    return text


def _opening(f: _Facts) -> Section:
    blocks: list[Block] = []
    section = str(f.report["section"])
    references = {r["seq"]: r for r in f.state.get("opening_record") or []}
    records = f.tender.records if f.tender else []
    for record in records:
        payload = record["payload"]
        stage = str(payload.get("stage", ""))
        signed_by = payload.get("signed_by") or {}
        ref = references.get(record["seq"], {})
        blocks.append(Heading(f"{STAGES.get(stage, stage)}记录"))
        entries = [b for b in payload.get("bids") or [] if str(b.get("section")) == section]
        decrypted = sum(1 for b in entries if b.get("status") == "decrypted")
        rejected = sum(1 for b in entries if isinstance(b.get("rejected"), Mapping))
        blocks.append(
            f"签署于 {beijing(record['at'])}；招标代理 {f.person(str(signed_by.get('agency', '—')))}、"
            f"监督 {f.person(str(signed_by.get('supervisor', '—')))} 签署；"
            f"本标段投标 {len(entries)} 个，解密 {decrypted} 个，"
            f"解密失败或撤销 {len(entries) - decrypted} 个，开标时否决 {rejected} 个；"
            f"投标人确认 {len(payload.get('confirmed') or [])} 个，"
            f"质询 {len(payload.get('objections') or [])} 项。"
            f"记录摘要（SHA-256）：{_text(ref.get('digest'))}"
        )
        rows = [
            [
                str(b.get("number")),
                str(b.get("org")),
                STATUS.get(str(b.get("status")), str(b.get("status"))),
                _text((b.get("form") or {}).get("price")),
                _standing_note(b),
            ]
            for b in entries
        ]
        blocks.append(Table(["投标编号", "投标人", "状态", "投标报价（元）", "备注"], rows))
        for o in payload.get("objections") or []:
            blocks.append(
                f"质询（{_text(o.get('org') or o.get('by'))}）：{_text(o.get('text'))}；"
                f"答复：{_text(o.get('answer'))}"
            )
    if not records:
        blocks += [
            f"开标记录（{STAGES.get(r.get('stage'), r.get('stage'))}）：第 {r.get('seq')} 号事件，"
            f"摘要（SHA-256）{r.get('digest')}"
            for r in f.state.get("opening_record") or []
        ] or [NONE]
    return Section("二、开标记录摘要", blocks)


def _standing_note(entry: Mapping[str, Any]) -> str:
    for key in ("rejected", "review"):
        standing = entry.get(key)
        if isinstance(standing, Mapping):
            return str(standing.get("detail") or standing.get("reason"))
    return _text(entry.get("reason")) if entry.get("status") != "decrypted" else ""


def _committee(f: _Facts) -> Section:
    checked = f.state.get("checked_in") or {}
    rows = [
        [
            m.get("name") or e,
            e,
            _text(m.get("specialty")),
            f.venue(str(m.get("venue", ""))),
            "组长" if m.get("chair") else "成员",
            _text(checked.get(e, {}).get("seat")),
            beijing(checked.get(e, {}).get("at")),
        ]
        for e, m in f.members.items()
    ]
    blocks: list[Block] = [
        Table(["姓名", "专家编号", "专业", "评标地点", "职务", "座位", "签到时间"], rows)
    ]
    withdrawn = f.report.get("withdrawn") or []
    if withdrawn:
        blocks.append(Heading("回避与补抽"))
        blocks.append(
            Table(
                ["回避专家", "原因", "补抽专家", "时间"],
                [
                    [
                        w["expert"],
                        _text(w.get("reason")),
                        f.expert(str(w.get("replaced_by"))),
                        beijing(w.get("at")),
                    ]
                    for w in withdrawn
                ],
            )
        )
    draw = f.report.get("draw") or {}
    blocks.append(
        f"专家抽取：种子承诺 {_text(draw.get('seed_commitment'))}；"
        f"专家库快照摘要 {_text(draw.get('pool_digest'))}"
    )
    return Section("三、评标委员会", blocks)


def _rejections(f: _Facts, ranking: Ranking) -> Section:
    blocks: list[Block] = []
    rejected = f.state.get("rejected") or f.report.get("rejected_bids") or []
    if rejected:
        blocks.append(Heading("开标时否决（最高投标限价）"))
        rows = [
            [
                r["bid_id"],
                r["company"],
                r["price"],
                _text(r.get("detail")),
                f"{STAGES.get(r.get('at', {}).get('stage'), '')}记录第 {r.get('at', {}).get('seq')} 号事件",
            ]
            for r in rejected
        ]
        blocks.append(Table(["投标编号", "投标人", "投标报价（元）", "否决理由", "依据"], rows))
    failed = [b for b in ranking.bids if not b.passed and b.rejection is None]
    reasons = f.report.get("fail_reasons") or {}
    if failed:
        blocks.append(Heading("初步评审未通过"))
        rows = []
        for b in failed:
            for v in b.verdicts:
                if v.passed:
                    continue
                by_expert = reasons.get(b.bid_id, {}).get(v.criterion_id, {})
                why = "；".join(f"{f.expert(e)}：{r}" for e, r in by_expert.items())
                rows.append(
                    [
                        b.bid_id,
                        f.companies.get(b.bid_id, ""),
                        f.criterion(v.criterion_id),
                        f"合格 {v.passes} / 不合格 {v.fails}",
                        why or "—",
                    ]
                )
        blocks.append(Table(["投标编号", "投标人", "评审项", "表决", "否决理由"], rows))
    flagged = f.state.get("flagged") or []
    if flagged:
        blocks.append(Heading("低于成本评审（报价低于限价下限）"))
        blocks.append(
            Table(
                ["投标编号", "投标人", "投标报价（元）", "说明"],
                [[r["bid_id"], r["company"], r["price"], _text(r.get("detail"))] for r in flagged],
            )
        )
    few = f.state.get("few_valid_decision")
    if few:
        blocks.append(Heading("有效投标不足三个"))
        blocks.append(
            f"{few.get('detail')}（组长 {f.expert(str(few.get('by')))}，{beijing(few.get('at'))}）"
        )
    return Section("四、否决投标", blocks or [NONE])


def _method(f: _Facts, ranking: Ranking, matches: bool) -> Section:
    method = f.method
    blocks: list[Block] = [
        f"评标方法：{METHODS[method.kind]}；推荐中标候选人 {method.recommend} 名。",
        Table(
            ["评审项", "类型", "分值"],
            [[c.name, KINDS[c.kind], _text(c.max_points)] for c in method.criteria],
        ),
    ]
    agg = method.aggregation
    if agg is not None:
        level = (
            "按评审项取专家评分平均值" if agg.level.value == "criterion" else "取各专家合计的平均值"
        )
        drop = (
            f"，专家人数不少于 {agg.drop_high_low_from} 人时去掉一个最高分和一个最低分"
            if agg.drop_high_low_from
            else ""
        )
        blocks.append(f"专家评分汇总：{level}{drop}。")
    base = ranking.base_price
    if base is not None:
        blocks.append(Heading("评标基准价"))
        prices = "，".join(f"{b} {p}" for b, p in base.prices.items())
        dropped = ""
        if base.dropped_low or base.dropped_high:
            dropped = (
                f"去掉最低报价 {'、'.join(base.dropped_low)}，"
                f"去掉最高报价 {'、'.join(base.dropped_high)}；"
            )
        fp = f"，浮动点 {base.floating_point}%" if base.floating_point is not None else ""
        blocks.append(
            f"参与计算的有效报价（元）：{prices}；{dropped}算术平均值 {base.mean}；"
            f"下浮系数 {base.coefficient}{fp}；评标基准价 {base.value} 元。"
        )
        if base.computed is not None:
            blocks.append(f"复核更正：计算值 {base.computed} 元更正为 {base.value} 元。")
    scored = [b for b in ranking.bids if b.passed]
    if method.kind is MethodKind.LOWEST_EVALUATED_PRICE:
        blocks.append(Heading("评标价"))
        rows = [
            [b.bid_id, f.companies.get(b.bid_id, ""), str(b.price), _text(b.evaluated_price)]
            for b in scored
        ]
        blocks.append(Table(["投标编号", "投标人", "投标报价（元）", "评标价（元）"], rows))
    elif method.price_rule is not None:
        unit = "%" if method.price_rule.deviation.value == "percent" else ""
        blocks.append(Heading("价格分计算"))
        if method.price_rule.above or method.price_rule.below:
            blocks.append(
                "偏差率 =（投标报价 − 评标基准价）/ 评标基准价；高于基准价每 1% 扣 "
                + "、".join(_band(b) for b in method.price_rule.above)
                + " 分，低于基准价每 1% 扣 "
                + "、".join(_band(b) for b in method.price_rule.below)
                + " 分，最低 0 分，四舍五入保留两位小数。"
            )
        rows = [
            [
                b.bid_id,
                f.companies.get(b.bid_id, ""),
                str(b.price),
                "—" if b.deviation is None else f"{b.deviation}{unit}",
                _text(b.price_score),
                str(b.penalty),
            ]
            for b in scored
        ]
        blocks.append(
            Table(
                ["投标编号", "投标人", "投标报价（元）", "偏差率", "价格分", "算术错误扣分"], rows
            )
        )
    blocks.append(
        "以上数值按评标办法由报告数据复算，与各专家签署的排名一致。"
        if matches
        else "警告：按评标办法复算的结果与签署的排名不一致，请核查。"
    )
    return Section("五、评标办法与价格分计算", blocks)


def _band(band: Any) -> str:
    upto = f"（至 {band.up_to}%）" if band.up_to is not None else ""
    return f"{band.points_per_percent}{upto}"


def _sheets(f: _Facts) -> Section:
    blocks: list[Block] = []
    scored = f.method.of_kind(CriterionKind.EXPERT) + f.method.of_kind(CriterionKind.DEDUCTION)
    checks = f.method.of_kind(CriterionKind.PASS_FAIL)
    totals = f.report.get("expert_totals") or {}
    for sheet in f.report["sheets"]:
        expert = sheet["expert_id"]
        blocks.append(Heading(f"{f.expert(expert)}（{expert}）的评分表"))
        bids = list(dict.fromkeys([*sheet.get("verdicts", {}), *sheet.get("scores", {})]))
        rows = []
        for bid in bids:
            verdicts = sheet.get("verdicts", {}).get(bid, {})
            scores = sheet.get("scores", {}).get(bid, {})
            rows.append(
                [
                    bid,
                    f.companies.get(bid, ""),
                    *({True: "合格", False: "不合格"}.get(verdicts.get(c.id), "—") for c in checks),
                    *(_text(scores.get(c.id)) for c in scored),
                    _text(totals.get(expert, {}).get(bid)),
                ]
            )
        head = ["投标编号", "投标人", *(c.name for c in checks), *(c.name for c in scored), "合计"]
        blocks.append(Table(head, rows))
    return Section("六、专家评分表", blocks or [NONE])


def _comparison(f: _Facts, ranking: Ranking) -> Section:
    experts = list(f.members)
    names = [f.expert(e) for e in experts]
    scored = [b for b in ranking.bids if b.passed]
    blocks: list[Block] = []
    for c in f.method.of_kind(CriterionKind.EXPERT):
        rows = []
        for b in scored:
            cs = next((x for x in b.criteria if x.criterion_id == c.id), None)
            if cs is None:
                continue
            rows.append(
                [
                    b.bid_id,
                    *(_dropped(cs.expert_scores.get(e), e in cs.dropped) for e in experts),
                    _text(cs.score),
                ]
            )
        if rows:
            blocks.append(Heading(f"{c.name}（满分 {c.max_points}）"))
            blocks.append(Table(["投标编号", *names, "评审得分"], rows))
    if any(b.expert_totals for b in scored):
        blocks.append(Heading("专家合计"))
        rows = [
            [
                b.bid_id,
                *(_dropped(b.expert_totals.get(e), e in b.dropped_totals) for e in experts),
                _text(b.expert_part),
            ]
            for b in scored
        ]
        blocks.append(Table(["投标编号", *names, "专家评分"], rows))
    if blocks:
        blocks.append("注：标“（去）”者为汇总时去掉的最高分或最低分。")
    return Section("七、评分对比表", blocks or [NONE])


def _dropped(value: Decimal | None, dropped: bool) -> str:
    return _text(value) + ("（去）" if dropped and value is not None else "")


def _results(f: _Facts, ranking: Ranking) -> Section:
    rows = [
        [
            _text(b.rank),
            b.bid_id,
            f.companies.get(b.bid_id, ""),
            str(b.price),
            _text(b.expert_part),
            _text(b.price_score),
            str(b.penalty + b.deducted) if b.passed else "—",
            _text(b.total if b.total is not None else b.evaluated_price),
            "否决" if b.rejection else ("通过" if b.passed else "未通过"),
        ]
        for b in ranking.bids
    ]
    head = ["排名", "投标编号", "投标人", "投标报价（元）", "专家评分", "价格分", "扣分",
            "总分/评标价", "初步评审"]  # fmt: skip
    return Section("八、评审结果与排名", [Table(head, rows)])


def _clarifications(f: _Facts) -> Section:
    rows = [
        [
            c["id"],
            c["company"],
            c["question"],
            f"{f.expert(c['asked_by'])}，{beijing(c.get('asked_at'))}",
            CLARIFICATION.get(c["status"], c["status"])
            + (f"：{c['rejection']}" if c.get("rejection") else "")
            + (f"（答复期限 {beijing(c['deadline'])}）" if c.get("deadline") else ""),
            _text(c.get("answer")),
            beijing(c.get("answered_at")) if c.get("answered_at") else "—",
        ]
        for c in f.report.get("clarifications") or []
    ]
    if not rows:
        return Section("九、澄清", [NONE])
    head = ["编号", "投标人", "问题", "提问专家", "监督审批", "答复", "答复时间"]
    return Section("九、澄清", [Table(head, rows)])


def _deviations(f: _Facts) -> Section:
    blocks: list[Block] = []
    deviations = f.report.get("deviations") or []
    if deviations:
        rows = [
            [
                f.expert(d["expert"]),
                d["bid"],
                f.criterion(d["criterion"]),
                d["score"],
                d["others_mean"],
                "—" if d.get("relative") is None else f"{Decimal(d['relative']) * 100:.2f}%",
                d["reason"],
            ]
            for d in deviations
        ]
        threshold = Decimal(str(f.report.get("deviation_threshold") or "0.30")) * 100
        blocks.append(f"偏离阈值：与其他专家评分平均值相差超过 {threshold:.0f}%。")
        head = ["专家", "投标编号", "评审项", "评分", "其他专家平均", "偏离", "书面说明"]
        blocks.append(Table(head, rows))
    revisions = f.report.get("revisions") or []
    if revisions:
        blocks.append(Heading("评分修改记录"))
        rows = [
            [f.expert(r["expert"]), r["bid"], f.criterion(r["criterion"]), r["from"], r["to"],
             r["reason"], beijing(r.get("at"))]
            for r in revisions
        ]  # fmt: skip
        blocks.append(
            Table(["专家", "投标编号", "评审项", "原评分", "修改后", "理由", "时间"], rows)
        )
    gobacks = f.report.get("gobacks") or []
    if gobacks:
        blocks.append(Heading("评审回退"))
        rows = [
            [PHASES.get(g.get("to_phase"), _text(g.get("to_phase"))), _text(g.get("reason")),
             _text(g.get("approved_by")), beijing(g.get("approved_at"))]
            for g in gobacks
        ]  # fmt: skip
        blocks.append(Table(["回退至", "理由", "批准人（监督）", "批准时间"], rows))
    # method rules in the session: corrections after a 复核, on top of the sheets as handed in
    corrections = f.report.get("corrections") or []
    if corrections:
        blocks.append(Heading("复核更正"))
        rows = [
            ["评标基准价" if c["kind"] == "base_price" else
             f"{f.expert(c['expert_id'])} · {c['bid_id']} · {f.criterion(c['criterion_id'])}",
             c["original"], c["corrected"], c["reason"], _text(c.get("approved_by")),
             beijing(c.get("approved_at"))]
            for c in corrections
        ]  # fmt: skip
        blocks.append(
            Table(["更正项", "原值", "更正后", "理由", "批准人（监督）", "批准时间"], rows)
        )
    return Section("十、评分偏离及书面说明", blocks or [NONE])


def _dissent(f: _Facts) -> Section:
    found = [
        f"{f.expert(e)}（{e}）：{v['dissent']}"
        for e, v in (f.state.get("signatures") or {}).items()
        if v.get("dissent")
    ]
    return Section("十一、不同意见", list(found) or [NONE])


def _recommended(f: _Facts, ranking: Ranking) -> Section:
    rows = []
    for r in f.report.get("recommended") or []:
        b: BidResult = ranking.bid(r["bid_id"])
        figure = b.total if b.total is not None else b.evaluated_price
        rows.append([str(r["rank"]), r["company"], r["bid_id"], str(b.price), _text(figure)])
    if not rows:
        return Section("十二、推荐中标候选人", [NONE])
    table = Table(["名次", "中标候选人", "投标编号", "投标报价（元）", "总分/评标价"], rows)
    blocks: list[Block] = [table]
    # method rules in the session: recommended by the experts' votes or ranks
    vote = f.report.get("recommendation")
    if isinstance(vote, dict):
        how = "投票法" if vote.get("kind") == "votes" else "排序法"
        for r in vote.get("rounds") or []:
            tally = "，".join(f"{b} {n}" for b, n in (r.get("tally") or {}).items())
            unit = "票" if vote.get("kind") == "votes" else "（名次之和）"
            blocks.append(f"{how}第 {r['round']} 轮（{r['seats']} 个名额）：{tally}{unit}")
    blocks.append("定标由招标人依法另行确定（评定分离）。")
    return Section("十二、推荐中标候选人", blocks)


def _signatures(f: _Facts, signatures: Sequence[Mapping[str, Any]]) -> Section:
    rows = [
        [
            s.get("name") or f.expert(s["expert"]),
            s["expert"],
            beijing(s["at"]),
            str(s.get("sig") or "")[:32] + "…",
            str(s.get("key") or "")[:32] + "…",
        ]
        for s in signatures
    ]
    return Section(
        "十三、专家签名",
        [
            f"各专家以其签名密钥（Ed25519）签署报告摘要（SHA-256）：{report_digest(f.report)}",
            Table(["专家", "专家编号", "签署时间", "签名（节选）", "公钥（节选）"], rows),
        ],
    )


# -- red flags: the annex for the supervising authority only ---------------------------------

ANNEX_TITLE = "附件：风险提示（仅供行政监督部门）"
SIGNAL_PHASES = {"opening": "开标", "evaluation": "评标"}


def _pairs(values: Mapping[str, Any]) -> str:
    return "；".join(f"{k}={v}" for k, v in values.items()) or "—"


def _annex(signals: Sequence[Mapping[str, Any]]) -> Section:
    """Every red flag raised for the tender's section, as recorded (``signal.raised``)."""
    rows = []
    for n, p in enumerate(signals, 1):
        evidence = p.get("evidence") or {}
        bidders = p.get("bidders") or {}
        bids = "、".join(
            f"{b}（{bidders[b]}）" if bidders.get(b) else str(b) for b in evidence.get("bids", [])
        )
        rows.append(
            [
                str(n),
                str(p.get("code", "")),
                SIGNAL_PHASES.get(str(p.get("phase")), str(p.get("phase", ""))),
                str((p.get("message") or {}).get("zh-CN", "")),
                bids or "—",
                "、".join(evidence.get("fields", [])) or "—",
                _pairs(evidence.get("figures") or {}),
                _pairs(p.get("threshold") or {}),
            ]
        )
    lead = (
        "以下风险提示由平台在开标和评标过程中自动计算，实时推送给监督人并记入审计日志；"
        "仅供参考，不改变开标、评标的任何结果。本附件仅向行政监督部门提供。"
    )
    if not rows:
        return Section(ANNEX_TITLE, [lead, "本标段未产生风险提示。"])
    head = ["序号", "代码", "阶段", "说明", "涉及投标", "字段", "数据", "阈值"]
    return Section(ANNEX_TITLE, [lead, Table(head, rows)])


def document(
    stream: str,
    state: Mapping[str, Any],
    signatures: Sequence[Mapping[str, Any]],
    tender: ReportTender | None = None,
    signals: Sequence[Mapping[str, Any]] | None = None,
) -> Document:
    """The report as sections of plain text; both renderers lay out exactly this. With
    ``signals`` (the supervisor's entitlement only) it ends with the red-flag annex; without,
    nothing in it mentions red flags."""
    f = _Facts(state, tender)
    ranking, matches = _recompute(f.report)
    title = tender.title if tender and tender.title else str(f.report["tender"])
    return Document(
        "评标报告",
        f"{title} · 标段 {f.report['section']}",
        [
            _basics(f, stream, signatures),
            _opening(f),
            _committee(f),
            _rejections(f, ranking),
            _method(f, ranking, matches),
            _sheets(f),
            _comparison(f, ranking),
            _results(f, ranking),
            _clarifications(f),
            _deviations(f),
            _dissent(f),
            _recommended(f, ranking),
            _signatures(f, signatures),
            *([] if signals is None else [_annex(signals)]),
        ],
    )


def _in_lang(doc: Document, state: Mapping[str, Any], lang: str) -> Document:
    """The document in ``lang``: Chinese as built, or English (:mod:`evalroom.report_en`)."""
    if not lang.lower().startswith("en"):
        return doc
    from evalroom.report_en import english  # it reads this module's model

    return english(doc, state)


# --- HTML ----------------------------------------------------------------------------------


def _html_block(block: Block) -> str:
    esc = html.escape
    if isinstance(block, Heading):
        return f"<h3>{esc(block.text)}</h3>"
    if isinstance(block, Table):
        head = "".join(f"<th>{esc(h)}</th>" for h in block.head)
        body = "".join(
            "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in block.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f"<p>{esc(block)}</p>"


def render_html(
    stream: str,
    state: Mapping[str, Any],
    signatures: Sequence[Mapping[str, Any]],
    tender: ReportTender | None = None,
    lang: str = "zh-CN",
    signals: Sequence[Mapping[str, Any]] | None = None,
) -> str:
    doc = document(stream, state, signatures, tender, signals)
    return html_of(_in_lang(doc, state, lang), stream)


def html_of(doc: Document, stream: str) -> str:
    """Any document of the model as one HTML page (the 评标报告, the 定标报告, …)."""
    esc = html.escape
    body = "".join(
        f"<section><h2>{esc(s.title)}</h2>{''.join(_html_block(b) for b in s.blocks)}</section>"
        for s in doc.sections
    )
    return f"""<!doctype html>
<html lang="{esc(doc.lang)}"><head><meta charset="utf-8"><title>{esc(doc.title)} {esc(stream)}</title>
<style>body{{font-family:"WenQuanYi Micro Hei","Noto Sans CJK SC","Microsoft YaHei",sans-serif;
margin:2em;max-width:72em}}table{{border-collapse:collapse;width:100%;margin:.4em 0}}
td,th{{border:1px solid #999;padding:.3em .5em;vertical-align:top;overflow-wrap:anywhere}}
th{{background:#eef}}h2{{border-bottom:2px solid #335;margin-top:1.6em}}</style></head><body>
<h1>{esc(doc.title)}</h1><p>{esc(doc.subtitle)}</p>
{body}
</body></html>"""


# --- PDF -----------------------------------------------------------------------------------


@cache
def _font() -> tuple[str, bool]:
    """The font the PDF is set in, registered once per process, and whether it is embedded."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFont

    named = os.environ.get("EVALROOM_REPORT_FONT", "")
    for path in (Path(named) if named else None, WQY_MICROHEI):
        if path is not None and path.is_file():
            pdfmetrics.registerFont(TTFont("ReportFont", str(path), subfontIndex=0))
            return "ReportFont", True
    log.warning(
        "report_font_not_embedded",
        font=FALLBACK_FONT,
        hint=f"install fonts-wqy-microhei ({WQY_MICROHEI}) or set EVALROOM_REPORT_FONT",
    )
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FONT))
    return FALLBACK_FONT, False


def _ems(text: str) -> float:
    """A text's width in half-ems: a Chinese character is as wide as two Latin ones."""
    return float(sum(2 if east_asian_width(ch) in "WF" else 1 for ch in text))


def _widths(table: Table, total: float) -> list[float]:
    """Column widths in proportion to each column's longest text, within bounds, so short
    columns stay narrow (a heading of four characters unbroken) and long reasons wrap."""
    longest = [
        max([_ems(str(h)), *(_ems(str(r[i])) for r in table.rows if i < len(r))])
        for i, h in enumerate(table.head)
    ]
    weights = [min(max(n, 8.0), 60.0) for n in longest]
    return [total * w / sum(weights) for w in weights]


def render_pdf(
    stream: str,
    state: Mapping[str, Any],
    signatures: Sequence[Mapping[str, Any]],
    tender: ReportTender | None = None,
    lang: str = "zh-CN",
    signals: Sequence[Mapping[str, Any]] | None = None,
) -> bytes:
    doc = document(stream, state, signatures, tender, signals)
    return pdf_of(_in_lang(doc, state, lang), stream)


def pdf_of(doc: Document, stream: str) -> bytes:
    """Any document of the model as a PDF, in the embedded CJK font."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, TableStyle
    from reportlab.platypus import Table as PdfTable

    font, embedded = _font()
    body = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=14, wordWrap="CJK")
    cell = ParagraphStyle("cell", parent=body, fontSize=8.5, leading=11)
    title = ParagraphStyle("title", parent=body, fontSize=18, leading=26, alignment=1)
    # Headings keep with what follows, so none is left alone at the foot of a page.
    h2 = ParagraphStyle(
        "h2", parent=body, fontSize=13, leading=18, spaceBefore=10, spaceAfter=4, keepWithNext=1
    )
    h3 = ParagraphStyle("h3", parent=body, fontSize=10.5, leading=15, spaceBefore=6, keepWithNext=1)
    out = io.BytesIO()
    pdf = SimpleDocTemplate(
        out,
        pagesize=landscape(A4),
        title=f"{doc.title} {stream}",
        subject=doc.subtitle,
        creator="evalroom",
        # Whether the font travels with the file: a reader without STSong-Light substitutes.
        keywords=f"font: {'WenQuanYi Micro Hei, embedded subset' if embedded else f'{font}, not embedded'}",
        leftMargin=36,
        rightMargin=36,
        topMargin=36,
        bottomMargin=36,
    )
    grid = TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), font),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecf8")),
        ]
    )

    def para(text: str, style: ParagraphStyle) -> Paragraph:
        return Paragraph(xml_escape(text), style)  # reportlab parses markup: escape it

    story: list[Any] = [para(doc.title, title), para(doc.subtitle, body), Spacer(1, 6)]
    for section in doc.sections:
        story.append(para(section.title, h2))
        for block in section.blocks:
            if isinstance(block, Heading):
                story.append(para(block.text, h3))
            elif isinstance(block, Table):
                rows = [[para(str(c), cell) for c in row] for row in [block.head, *block.rows]]
                widths = _widths(block, pdf.width)
                story.append(PdfTable(rows, colWidths=widths, style=grid, repeatRows=1))
                story.append(Spacer(1, 4))
            else:
                story.append(para(block, body))
    pdf.build(story)
    return out.getvalue()
