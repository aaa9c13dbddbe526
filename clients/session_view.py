"""The evaluation session (评标会话) as a participant's terminal client sees it.

Shared by ``evalroom-expert``, ``evalroom-supervisor`` and ``evalroom-operator``:

- :class:`SessionView` is pure: feed it the events of ``session:<id>`` the participant may
  see (replayed history, then live) and it holds what that participant knows — phase,
  progress counts, the committee and rosters when visible, check-ins, pauses and venue
  faults, deviations, clarifications, going back, the report under signature.
- :class:`SessionFollower` feeds a subscription into a view and tells when the replay is
  over (as :class:`clients.ceremony.Follower` does for the opening: the hub sends no marker,
  so the replay ends at the first event past the head announced on subscribing, or after a
  short silence).
- :class:`SessionRender` turns events and the view into lines and tables, zh-CN or English.
- :class:`SessionWatch` follows a session live until it ends; each CLI's ``watch`` hooks in.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click
import httpx

from clients.ceremony import local_time
from clients.cli_common import (
    EXIT_TIMEOUT,
    CliError,
    Out,
    connected,
    require_key,
    table,
)
from clients.follow import Follower
from clients.keyfile import ParticipantKey
from clients.sdk import Client, Subscription, _raise_for
from evalroom.domain.session import report_digest

ENDED = ("closed", "sealed", "rescheduled")
# Refusals a supervisor is alerted to: someone tried what their role or venue does not allow.
ATTEMPTS = frozenset(
    {
        "forbidden",
        "not_subscribed_role",
        "not_your_venue",
        "not_a_committee_member",
        "not_the_chair",
        "withdrawn",
        "identity_unverified",
        "bad_signature",
        # Separation of duties: someone tried to appoint, or be given, a role it may not hold.
        "not_appointer",
        "not_grantable",
        "self_grant",
        "conflict_of_roles",
        "conflict_of_interest",
    }
)

CATALOG: dict[str, tuple[str, str]] = {
    # phases
    "phase.draw": ("抽取专家", "drawing the experts"),
    "phase.check_in": ("专家签到", "check-in"),
    "phase.chair_election": ("推选组长", "chair election"),
    "phase.preliminary_review": ("初步评审", "preliminary review"),
    "phase.detailed_review": ("详细评审", "detailed review"),
    "phase.deviation_check": ("评分偏离核查", "deviation check"),
    "phase.signing": ("评标报告签署", "report signing"),
    "phase.closed": ("评标结束", "closed"),
    "phase.awaiting_tenderer_decision": ("等待招标人决定", "awaiting the tenderer's decision"),
    "phase.sealed": ("材料已封存", "sealed"),
    "phase.rescheduled": ("已改期", "rescheduled"),
    # progress steps
    "step.check_in": ("签到", "check-in"),
    "step.chair_election": ("组长投票", "chair votes"),
    "step.preliminary_review": ("初步评审完成", "preliminary review done"),
    "step.detailed_review": ("评分表提交", "sheets submitted"),
    "step.deviation_check": ("偏离已说明", "deviations explained"),
    "step.signing": ("报告签署", "report signatures"),
    # words
    "word.pass": ("合格", "pass"),
    "word.fail": ("不合格", "fail"),
    "word.none": ("无", "none"),
    "word.you": ("您", "you"),
    "stage.before_start": ("评标开始前", "before the start"),
    "stage.during_evaluation": ("评标中", "during the evaluation"),
    "why.supervisor": ("监督人恢复", "resumed by the supervisor"),
    "why.venue_restored": ("场地已恢复连接", "the venue is back"),
    "cause.supervisor": ("监督人暂停", "paused by the supervisor"),
    "cause.venue_fault": ("场地连接中断", "a venue is lost"),
    "decision.continue": ("继续等待", "keep waiting"),
    "decision.reschedule": ("改期评标", "reschedule"),
    # event lines
    "ev.created": (
        "评标会话已创建：项目 {tender} 标段 {section}，{bids} 份投标（取自开标记录 {record}），"
        "{experts} 名专家，{venues} 个场地",
        "Session created: tender {tender} section {section}, {bids} bids (from the opening"
        " record {record}), {experts} experts, {venues} venues",
    ),
    "ev.seed_committed": (
        "已公布抽取种子承诺 {commitment}…（专家库快照摘要 {pool}…）",
        "Seed commitment published: {commitment}… (pool snapshot digest {pool}…)",
    ),
    "ev.drawn": (
        "已揭示种子并抽取专家（种子 {seed}…）",
        "Seed revealed, experts drawn (seed {seed}…)",
    ),
    "ev.committee": ("评标委员会：{members}", "Committee: {members}"),
    "ev.roster": ("{venue} 签到名单：{members}", "Roster of {venue}: {members}"),
    "ev.draw_announced": ("专家抽取完成：{counts}", "Experts drawn: {counts}"),
    "ev.draw_failed": (
        "专家抽取失败：{reason}（承诺已作废，可重新公布）",
        "The draw failed: {reason} (the commitment is spent; publish a new one)",
    ),
    "ev.redrawn": (
        "{withdrawn} 回避（{reason}），补抽 {replacement}",
        "{withdrawn} withdrew ({reason}); {replacement} drawn instead",
    ),
    "ev.replacement_drawn": (
        "{venue} 补抽一名{specialty}专家",
        "A {specialty} expert drawn again for {venue}",
    ),
    "ev.checked_in": (
        "{expert} 已在 {venue} 签到，座位 {seat}",
        "{expert} checked in at {venue}, seat {seat}",
    ),
    "ev.progress": ("进度：{step} {done}/{of}", "Progress: {step} {done}/{of}"),
    "ev.phase": ("阶段：{before} → {after}", "Phase: {before} -> {after}"),
    "ev.goback_lapsed": ("（未审批的回退申请已失效）", " (the pending going back lapsed)"),
    "ev.chair_vote": (
        "您在第 {round} 轮投票推选 {candidate}",
        "You voted for {candidate} in round {round}",
    ),
    "ev.chair_elected": (
        "第 {round} 轮计票 {counts}：{chair} 当选评标组长",
        "Round {round} counted {counts}: {chair} is the chair",
    ),
    "ev.chair_again": (
        "第 {round} 轮计票 {counts}：无人过半，重新投票",
        "Round {round} counted {counts}: no majority, vote again",
    ),
    "ev.verdict": (
        "{who}初步评审 {bid} / {criterion}：{result}{reason}",
        "{who}verdict on {bid} / {criterion}: {result}{reason}",
    ),
    "ev.preliminary_result": (
        "初步评审结果：通过 {passed}；未通过 {failed}",
        "Preliminary review: passed {passed}; failed {failed}",
    ),
    "ev.score": (
        "{who}评分 {bid} / {criterion}：{score}",
        "{who}score {bid} / {criterion}: {score}",
    ),
    "ev.scores_submitted": ("{who}已提交评分表", "{who}submitted the score sheet"),
    "ev.scores_revealed": (
        "全部专家已提交，评分表揭晓（{n} 份）",
        "Every expert submitted: the sheets are revealed ({n})",
    ),
    "ev.score_revised": (
        "{expert} 修改评分 {bid} / {criterion}：{before} → {after}（理由：{reason}）",
        "{expert} revised {bid} / {criterion}: {before} -> {after} (reason: {reason})",
    ),
    "ev.deviations": ("评分偏离 {n} 项：{items}", "{n} deviating scores: {items}"),
    "ev.no_deviations": ("无评分偏离。", "No deviating score."),
    "ev.deviation_item": (
        "{expert} {bid}/{criterion} {score}（其他专家均值 {mean}）",
        "{expert} {bid}/{criterion} {score} (others' mean {mean})",
    ),
    "ev.deviation_reason": (
        "{expert} 说明偏离 {bid} / {criterion}：{reason}",
        "{expert} explained {bid} / {criterion}: {reason}",
    ),
    "ev.clar_asked": (
        "澄清 {id}：{by} 向 {company} 提问（{seconds} 秒内答复）：{question} —— 待监督人批准",
        "Clarification {id}: {by} asks {company} (answer within {seconds} s): {question} "
        "— awaiting the supervisor",
    ),
    "ev.clar_approved": (
        "澄清 {id} 已批准，答复截止 {deadline}",
        "Clarification {id} approved; answer due by {deadline}",
    ),
    "ev.clar_rejected": ("澄清 {id} 被驳回：{reason}", "Clarification {id} rejected: {reason}"),
    "ev.clar_request": ("已向投标人发出澄清 {id}", "Clarification {id} sent to the bidder"),
    "ev.clar_answered": (
        "澄清 {id}，{company} 答复：{answer}",
        "Clarification {id}, {company} answers: {answer}",
    ),
    "ev.clar_expired": (
        "澄清 {id}（{company}）逾期未答复，截止 {deadline}",
        "Clarification {id} ({company}) expired unanswered at {deadline}",
    ),
    "ev.goback_requested": (
        "组长 {by} 申请从{before}回退至{after}：{reason} —— 待监督人批准",
        "The chair {by} asks to go back from {before} to {after}: {reason} "
        "— awaiting the supervisor",
    ),
    "ev.goback_approved": (
        "监督人批准回退至{after}",
        "The supervisor approved going back to {after}",
    ),
    "ev.goback_rejected": (
        "监督人驳回回退申请：{reason}",
        "The supervisor refused going back: {reason}",
    ),
    "ev.ranking": ("汇总排序完成，评标报告摘要 {digest}", "Ranking done; report digest {digest}"),
    "ev.report_signed": ("{expert} 已签署评标报告{dissent}", "{expert} signed the report{dissent}"),
    "ev.dissent": ("（保留意见：{text}）", " (dissent: {text})"),
    "ev.closed": ("评标结束。推荐中标候选人：{list}", "Evaluation closed. Recommended: {list}"),
    "ev.report_final": (
        "评标报告定稿（摘要 {digest}），{n} 位专家签署",
        "Report final (digest {digest}), signed by {n} experts",
    ),
    "ev.paused": ("评标暂停（{cause}）：{reason}", "Evaluation paused ({cause}): {reason}"),
    "ev.resumed": ("评标继续（{why}）", "Evaluation resumed ({why})"),
    "ev.pause_lifted": (
        "监督人已解除暂停，仍等待场地 {venues} 恢复连接",
        "The supervisor lifted the pause; still waiting for venue {venues}",
    ),
    "ev.warning": ("监督人警告{to}：{text}", "Supervisor's warning{to}: {text}"),
    "ev.warning_to": ("（致 {expert}）", " (to {expert})"),
    "ev.note": ("监督备注：{text}", "Supervisor's note: {text}"),
    "ev.venue_lost": (
        "场地 {venue} 连接中断（{stage}），须在 {deadline} 前恢复",
        "Venue {venue} lost ({stage}); it must be back by {deadline}",
    ),
    "ev.venue_restored": ("场地 {venue} 已恢复连接", "Venue {venue} is back"),
    "ev.start_wait_over": (
        "场地 {venues} 超过等待时限仍未连接，由招标人决定",
        "Venue {venues} did not come back in time; the tenderer decides",
    ),
    "ev.sealed": (
        "场地 {venue} 未能按时恢复，评标材料已封存",
        "Venue {venue} did not come back in time; the materials are sealed",
    ),
    "ev.new_committee": ("需重新组建评标委员会", "A new committee must be formed"),
    "ev.tenderer_decided": ("招标人决定：{decision}", "The tenderer decided: {decision}"),
    "ev.rescheduled": ("评标已改期", "The evaluation is rescheduled"),
    "ev.rated": ("评价 {expert}：{score} 分{comment}", "Rated {expert}: {score}{comment}"),
    "ev.refused": (
        "{who}的操作被拒绝：{command} [{code}]",
        "Refused for {who}: {command} [{code}]",
    ),
    "ev.vote_of": (
        "{who}在第 {round} 轮投票推选 {candidate}",
        "{who} voted for {candidate} in round {round}",
    ),
    "ev.other": ("{type}", "{type}"),
    # summaries
    "sum.session": (
        "评标会话 {session}（项目 {tender} 标段 {section}）",
        "Session {session} (tender {tender} section {section})",
    ),
    "sum.phase": ("当前阶段：{phase}", "Phase: {phase}"),
    "sum.paused": ("⏸ 已暂停：{reason}", "⏸ Paused: {reason}"),
    "sum.faults": ("⚠ 中断的场地：{venues}", "⚠ Venues lost: {venues}"),
    "sum.progress": ("进度：{items}", "Progress: {items}"),
    "sum.chair": ("评标组长：{chair}", "Chair: {chair}"),
    "sum.pending_clar": ("待处理澄清：{items}", "Clarifications pending: {items}"),
    "sum.pending_goback": (
        "待审批回退：至{after}（{reason}）",
        "Going back awaiting approval: to {after} ({reason})",
    ),
    "sum.unexplained": ("待说明的评分偏离：{items}", "Deviations to explain: {items}"),
    "sum.recent": ("最近事件：", "Recent events:"),
    "sum.nothing": ("尚无可见的会话事件。", "No session event visible yet."),
    # tables
    "h.rank": ("排名", "Rank"),
    "h.bid": ("投标编号", "Bid"),
    "h.company": ("投标人", "Bidder"),
    "h.price": ("报价", "Price"),
    "h.expert_part": ("评审得分", "Expert points"),
    "h.price_score": ("价格得分", "Price points"),
    "h.total": ("总分", "Total"),
    "h.expert": ("专家", "Expert"),
    "h.specialty": ("专业", "Specialty"),
    "h.venue": ("场地", "Venue"),
    "h.seat": ("座位", "Seat"),
    "h.checked_in": ("签到", "Checked in"),
    "failed_review": ("未通过初审", "failed review"),
    "recommended": ("推荐中标候选人：{list}", "Recommended candidates: {list}"),
    "recommended_item": ("第{rank}名 {company}（{bid}）", "#{rank} {company} ({bid})"),
    # the watch loop
    "watching": (
        "正在关注评标会话 {session}。按 Ctrl+C 退出。",
        "Watching session {session}. Ctrl+C to leave.",
    ),
    "disconnected": ("连接中断，正在重连…", "Connection lost; reconnecting…"),
    "reconnected": ("已重新连接（第 {n} 次）。", "Reconnected (#{n})."),
    "ended": ("会话已结束：{phase}。", "The session has ended: {phase}."),
    "no_report": ("尚无评标报告（当前阶段：{phase}）。", "No report yet (phase {phase})."),
    "digest_mismatch": (
        "评标报告摘要校验失败：事件中的摘要 {shown} 与报告内容计算值 {computed} 不符。",
        "The report digest does not check: the event says {shown}, the report hashes to "
        "{computed}.",
    ),
}


def session_stream(value: str) -> str:
    """``session:<id>`` from ``<id>`` or ``session:<id>``."""
    return value if value.startswith("session:") else f"session:{value}"


def session_id(stream: str) -> str:
    return stream.removeprefix("session:")


def criteria_of(method: dict[str, Any]) -> list[dict[str, Any]]:
    found = method.get("criteria", [])
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


@dataclass
class SessionView:
    """What one participant knows of a session, from the events it may see."""

    stream: str
    last_seq: int = 0
    phase: str | None = None
    tender: str = ""
    section: str = ""
    venues: dict[str, dict[str, Any]] = field(default_factory=dict)
    criteria: list[dict[str, Any]] = field(default_factory=list)
    bid_count: int | None = None
    expert_count: int | None = None
    seed_commitment: str | None = None
    pool_digest: str | None = None
    draw_failed: dict[str, Any] | None = None
    committee: dict[str, dict[str, Any]] = field(default_factory=dict)
    rosters: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    experts_per_venue: dict[str, int] = field(default_factory=dict)
    checked_in: dict[str, dict[str, Any]] = field(default_factory=dict)
    progress: dict[str, tuple[int, int]] = field(default_factory=dict)
    chair: str | None = None
    election_round: int = 1
    votes: dict[str, int] = field(default_factory=dict)  # voter -> round (own votes only)
    pause: dict[str, Any] | None = None
    faults: dict[str, dict[str, Any]] = field(default_factory=dict)
    passed: list[str] | None = None
    scores: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    submitted: set[str] = field(default_factory=set)
    revealed: bool = False
    deviations: list[dict[str, Any]] = field(default_factory=list)
    explained: set[tuple[str, str, str]] = field(default_factory=set)
    clarifications: dict[str, dict[str, Any]] = field(default_factory=dict)
    goback: dict[str, Any] | None = None
    report: dict[str, Any] | None = None
    report_digest: str | None = None
    signatures: dict[str, str | None] = field(default_factory=dict)
    recommended: list[dict[str, Any]] | None = None

    @property
    def ended(self) -> bool:
        return self.phase in ENDED

    @property
    def paused(self) -> bool:
        lost = any(f.get("stage") == "during_evaluation" for f in self.faults.values())
        return self.pause is not None or lost

    @property
    def members(self) -> dict[str, dict[str, Any]]:
        """Experts with their venue: the committee if visible, else this venue's roster."""
        if self.committee:
            return self.committee
        return {m["expert"]: m for ms in self.rosters.values() for m in ms}

    def name(self, expert: str | None) -> str:
        if not expert:
            return "-"
        member = self.members.get(expert)
        return f"{member['name']}({expert})" if member and member.get("name") else expert

    def venue_name(self, venue: str) -> str:
        v = self.venues.get(venue)
        return str(v["name"]) if v and v.get("name") else venue

    def criterion(self, cid: str) -> dict[str, Any] | None:
        return next((c for c in self.criteria if c.get("id") == cid), None)

    def expert_criteria(self) -> list[dict[str, Any]]:
        return [c for c in self.criteria if c.get("kind") == "expert"]

    def unexplained(self) -> list[dict[str, Any]]:
        return [
            d
            for d in self.deviations
            if (d["expert"], d["bid"], d["criterion"]) not in self.explained
        ]

    def apply(self, event: dict[str, Any]) -> None:
        self.last_seq = max(self.last_seq, int(event.get("seq", 0)))
        kind = str(event.get("type", ""))
        if not kind.startswith("session."):
            return
        handler = getattr(self, "_on_" + kind.removeprefix("session."), None)
        if handler is not None:
            handler(event.get("payload") or {}, event)

    # -- handlers (payload, event) ---------------------------------------------------------
    def _on_created(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.phase = self.phase or "draw"
        self.tender, self.section = str(p.get("tender", "")), str(p.get("section", ""))
        self.venues = dict(p.get("venues") or {})
        self.criteria = criteria_of(p.get("method") or {})
        self.bid_count, self.expert_count = p.get("bids"), p.get("experts")

    def _on_phase(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.phase = str(p["phase"])
        if p.get("goback_lapsed"):
            self.goback = None

    def _on_seed_committed(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.seed_commitment, self.pool_digest = p.get("commitment"), p.get("pool_digest")
        self.draw_failed = None

    def _on_draw_failed(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.draw_failed = p
        self.seed_commitment = self.pool_digest = None

    def _on_committee(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.committee = {m["expert"]: m for m in p.get("members", [])}
        for gone in set(self.checked_in) - set(self.committee):
            self.checked_in.pop(gone, None)

    def _on_venue_roster(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.rosters[str(p["venue"])] = list(p.get("members", []))
        seated = {m["expert"] for m in p.get("members", [])}
        for expert, c in list(self.checked_in.items()):
            if c.get("venue") == p["venue"] and expert not in seated:
                self.checked_in.pop(expert)

    def _on_draw_announced(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.experts_per_venue = dict(p.get("experts_per_venue") or {})

    def _on_checked_in(self, p: dict[str, Any], e: dict[str, Any]) -> None:
        self.checked_in[str(p["expert"])] = {
            "venue": p.get("venue"),
            "seat": p.get("seat"),
            "at": e.get("at"),
        }

    def _on_progress(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.progress[str(p["step"])] = (int(p["done"]), int(p["of"]))

    def _on_chair_vote(self, p: dict[str, Any], e: dict[str, Any]) -> None:
        self.votes[str(e.get("actor") or "")] = int(p.get("round", 1))

    def _on_chair_round(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        if p.get("elected"):
            self.chair = str(p["elected"])
        else:
            self.election_round = int(p.get("round", 1)) + 1

    def _on_preliminary_result(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.passed = list(p.get("passed", []))

    def _on_score(self, p: dict[str, Any], e: dict[str, Any]) -> None:
        expert = str(e.get("actor") or "")
        self.scores.setdefault(expert, {}).setdefault(p["bid"], {})[p["criterion"]] = p["score"]

    def _on_scores_submitted(self, p: dict[str, Any], e: dict[str, Any]) -> None:
        expert = str(e.get("actor") or "")
        self.submitted.add(expert)
        self.scores[expert] = {b: dict(row) for b, row in (p.get("scores") or {}).items()}

    def _on_scores_revealed(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.revealed = True
        for sheet in p.get("sheets", []):
            rows = sheet.get("scores") or {}
            self.scores[sheet["expert_id"]] = {b: dict(r) for b, r in rows.items()}
            self.submitted.add(sheet["expert_id"])

    def _on_score_revised(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        row = self.scores.setdefault(p["expert"], {}).setdefault(p["bid"], {})
        row[p["criterion"]] = p["to"]

    def _on_deviations(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.deviations = list(p.get("deviations", []))

    def _on_deviation_reason(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.explained.add((p["expert"], p["bid"], p["criterion"]))

    def _on_clarification_asked(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.clarifications[str(p["id"])] = {**p, "status": "asked"}

    def _clar(self, p: dict[str, Any], status: str) -> None:
        entry = self.clarifications.setdefault(str(p["id"]), {"id": p["id"]})
        entry.update({k: v for k, v in p.items() if k != "id"}, status=status)

    def _on_clarification_approved(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self._clar(p, "approved")

    def _on_clarification_rejected(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self._clar(p, "rejected")

    def _on_clarification_answered(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self._clar(p, "answered")

    def _on_clarification_expired(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self._clar(p, "expired")

    def _on_goback_requested(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.goback = dict(p)

    def _on_goback_approved(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.goback = None
        self.report = self.report_digest = None
        self.signatures = {}
        target = p.get("to_phase")
        if target != "deviation_check":
            self.submitted, self.revealed = set(), False
            self.deviations, self.explained = [], set()
        if target == "preliminary_review":
            self.passed = None

    def _on_goback_rejected(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.goback = None

    def _on_ranking(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.report, self.report_digest = p.get("report"), p.get("report_digest")
        self.signatures = {}

    def _on_report_final(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.report, self.report_digest = p.get("report"), p.get("report_digest")
        self.signatures = {e: (s or {}).get("dissent") for e, s in p.get("signatures", {}).items()}

    def _on_report_signed(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.signatures[str(p["expert"])] = p.get("dissent")

    def _on_closed(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.recommended = list(p.get("recommended", []))

    def _on_paused(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        if p.get("cause") == "supervisor":
            self.pause = dict(p)

    def _on_resumed(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.pause = None

    def _on_pause_lifted(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.pause = None

    def _on_venue_lost(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.faults[str(p["venue"])] = dict(p)

    def _on_venue_restored(self, p: dict[str, Any], _e: dict[str, Any]) -> None:
        self.faults.pop(str(p["venue"]), None)


async def load_view(client: Client, stream: str) -> tuple[SessionView, Subscription]:
    """Subscribe and replay the session's history into a view."""
    sub = await client.subscribe(stream)
    view = SessionView(stream)
    follower = Follower(sub, view)
    while not follower.synced:
        await follower.step(10.0)
    return view, sub


def _short(text: object, n: int = 16) -> str:
    return str(text or "")[:n]


class SessionRender:
    """Lines and tables of a session for people, in the CLI's language. ``me`` is the user
    running the client (its own actions read "you")."""

    def __init__(self, out: Out, me: str | None = None) -> None:
        self.out = out
        self.me = me
        out.catalog.update({k: v for k, v in CATALOG.items() if k not in out.catalog})

    def t(self, key: str, **fields: Any) -> str:
        return self.out.t(key, **fields)

    def word(self, prefix: str, value: object) -> str:
        key = f"{prefix}.{value}"
        return self.t(key) if key in self.out.catalog else str(value)

    @property
    def sep(self) -> str:
        return ", " if self.out.en else "，"

    def phase(self, value: object) -> str:
        return self.word("phase", value)

    def crit(self, view: SessionView, cid: str) -> str:
        c = view.criterion(cid)
        return f"{c['name']}({cid})" if c and c.get("name") else cid

    def who(self, view: SessionView, actor: object) -> str:
        """A prefix naming the actor, empty for the user's own actions."""
        if not actor or actor == self.me:
            return ""
        return view.name(str(actor)) + " "

    def event_line(self, event: dict[str, Any], view: SessionView) -> str | None:
        """One line announcing an event (with its local time), or None."""
        text = self._text(str(event.get("type", "")), event.get("payload") or {}, event, view)
        if text is None:
            return None
        at = event.get("at")
        stamp = local_time(at)[11:] if isinstance(at, str) and at else "--:--:--"
        mark = "⚠ " if self.is_alert(event, view) else ""
        return f"[{stamp}] {mark}{text}"

    def is_alert(self, event: dict[str, Any], view: SessionView) -> bool:
        """What a supervisor must act on or know at once."""
        kind, p = str(event.get("type", "")), event.get("payload") or {}
        if kind == "command.refused":
            return p.get("code") in ATTEMPTS
        if kind == "session.deviations":
            return bool(p.get("deviations"))
        if kind == "session.report_signed":
            return bool(p.get("dissent"))
        return kind in {
            "session.venue_lost",
            "session.paused",
            "session.draw_failed",
            "session.clarification_asked",
            "session.clarification_expired",
            "session.goback_requested",
            "session.start_wait_over",
            "session.sealed",
            "session.new_committee_required",
            "session.warning",
        }

    def _text(
        self, kind: str, p: dict[str, Any], e: dict[str, Any], view: SessionView
    ) -> str | None:
        t, sep = self.t, self.sep
        if kind == "command.refused":
            actor = e.get("actor")
            who = t("word.you") if not actor or actor == self.me else view.name(str(actor))
            return t("ev.refused", who=who, command=p.get("command"), code=p.get("code"))
        name = kind.removeprefix("session.")
        if name == "created":
            return t(
                "ev.created",
                tender=p.get("tender"),
                section=p.get("section"),
                bids=p.get("bids"),
                record=sep.join(
                    f"#{r.get('seq')} {_short(r.get('digest'), 12)}…"
                    for r in p.get("opening_record") or []
                    if isinstance(r, dict)
                ),
                experts=p.get("experts"),
                venues=len(p.get("venues") or {}),
            )
        if name == "seed_committed":
            return t(
                "ev.seed_committed",
                commitment=_short(p.get("commitment")),
                pool=_short(p.get("pool_digest")),
            )
        if name == "drawn":
            return t("ev.drawn", seed=_short(p.get("seed")))
        if name == "committee":
            members = sep.join(
                f"{view.name(m['expert'])}@{view.venue_name(m['venue'])}"
                for m in p.get("members", [])
            )
            return t("ev.committee", members=members)
        if name == "venue_roster":
            members = sep.join(view.name(m["expert"]) for m in p.get("members", []))
            return t("ev.roster", venue=view.venue_name(str(p["venue"])), members=members)
        if name == "draw_announced":
            counts = sep.join(
                f"{view.venue_name(v)} {n}" for v, n in (p.get("experts_per_venue") or {}).items()
            )
            return t("ev.draw_announced", counts=counts)
        if name == "draw_failed":
            return t("ev.draw_failed", reason=p.get("reason") or p.get("code"))
        if name == "redrawn":
            return t(
                "ev.redrawn",
                withdrawn=view.name(p.get("withdrawn")),
                replacement=view.name(p.get("replacement")),
                reason=p.get("reason"),
            )
        if name == "replacement_drawn":
            return t(
                "ev.replacement_drawn",
                venue=view.venue_name(str(p.get("venue"))),
                specialty=p.get("specialty"),
            )
        if name == "checked_in":
            return t(
                "ev.checked_in",
                expert=view.name(p.get("expert")),
                venue=view.venue_name(str(p.get("venue"))),
                seat=p.get("seat"),
            )
        if name == "progress":
            return t(
                "ev.progress",
                step=self.word("step", p.get("step")),
                done=p.get("done"),
                of=p.get("of"),
            )
        if name == "phase":
            line = t("ev.phase", before=self.phase(p.get("from")), after=self.phase(p.get("phase")))
            return line + (t("ev.goback_lapsed") if p.get("goback_lapsed") else "")
        if name == "chair_vote":
            candidate, actor = view.name(p.get("candidate")), e.get("actor")
            if actor and actor != self.me:
                who = view.name(str(actor))
                return t("ev.vote_of", who=who, round=p.get("round"), candidate=candidate)
            return t("ev.chair_vote", round=p.get("round"), candidate=candidate)
        if name == "chair_round":
            counts = sep.join(f"{view.name(c)} {n}" for c, n in (p.get("counts") or {}).items())
            if p.get("elected"):
                return t(
                    "ev.chair_elected",
                    round=p.get("round"),
                    counts=counts,
                    chair=view.name(p["elected"]),
                )
            return t("ev.chair_again", round=p.get("round"), counts=counts)
        if name == "verdict":
            reason = p.get("reason")
            return t(
                "ev.verdict",
                who=self.who(view, e.get("actor")),
                bid=p.get("bid"),
                criterion=self.crit(view, str(p.get("criterion"))),
                result=t("word.pass") if p.get("pass") else t("word.fail"),
                reason=f" — {reason}" if reason else "",
            )
        if name == "preliminary_result":
            passed = list(p.get("passed", []))
            failed = [b for b in (p.get("results") or {}) if b not in passed]
            none = t("word.none")
            return t(
                "ev.preliminary_result",
                passed=sep.join(passed) or none,
                failed=sep.join(failed) or none,
            )
        if name == "score":
            return t(
                "ev.score",
                who=self.who(view, e.get("actor")),
                bid=p.get("bid"),
                criterion=self.crit(view, str(p.get("criterion"))),
                score=p.get("score"),
            )
        if name == "scores_submitted":
            return t("ev.scores_submitted", who=self.who(view, e.get("actor")))
        if name == "scores_revealed":
            return t("ev.scores_revealed", n=len(p.get("sheets", [])))
        if name == "score_revised":
            return t(
                "ev.score_revised",
                expert=view.name(p.get("expert")),
                bid=p.get("bid"),
                criterion=self.crit(view, str(p.get("criterion"))),
                before=p.get("from"),
                after=p.get("to"),
                reason=p.get("reason"),
            )
        if name == "deviations":
            found = p.get("deviations", [])
            if not found:
                return t("ev.no_deviations")
            items = sep.join(self.deviation(view, d) for d in found)
            return t("ev.deviations", n=len(found), items=items)
        if name == "deviation_reason":
            return t(
                "ev.deviation_reason",
                expert=view.name(p.get("expert")),
                bid=p.get("bid"),
                criterion=self.crit(view, str(p.get("criterion"))),
                reason=p.get("reason"),
            )
        return self._text_more(name, p, e, view)

    def _text_more(
        self, name: str, p: dict[str, Any], e: dict[str, Any], view: SessionView
    ) -> str | None:
        t, sep = self.t, self.sep
        if name == "clarification_asked":
            return t(
                "ev.clar_asked",
                id=p.get("id"),
                by=view.name(p.get("asked_by")),
                company=p.get("company"),
                seconds=p.get("deadline_seconds"),
                question=p.get("question"),
            )
        if name == "clarification_approved":
            return t("ev.clar_approved", id=p.get("id"), deadline=_when(p.get("deadline")))
        if name == "clarification_rejected":
            return t("ev.clar_rejected", id=p.get("id"), reason=p.get("reason"))
        if name == "clarification_request":
            return t("ev.clar_request", id=p.get("id"))
        if name == "clarification_answered":
            return t(
                "ev.clar_answered", id=p.get("id"), company=p.get("company"), answer=p.get("answer")
            )
        if name == "clarification_expired":
            return t(
                "ev.clar_expired",
                id=p.get("id"),
                company=p.get("company"),
                deadline=_when(p.get("deadline")),
            )
        if name == "goback_requested":
            return t(
                "ev.goback_requested",
                by=view.name(p.get("by")),
                before=self.phase(p.get("from_phase")),
                after=self.phase(p.get("to_phase")),
                reason=p.get("reason"),
            )
        if name == "goback_approved":
            return t("ev.goback_approved", after=self.phase(p.get("to_phase")))
        if name == "goback_rejected":
            return t("ev.goback_rejected", reason=p.get("rejection"))
        if name == "ranking":
            return t("ev.ranking", digest=p.get("report_digest"))
        if name == "report_signed":
            dissent = p.get("dissent")
            return t(
                "ev.report_signed",
                expert=view.name(p.get("expert")),
                dissent=t("ev.dissent", text=dissent) if dissent else "",
            )
        if name == "closed":
            return t("ev.closed", list=self.recommended_list(p.get("recommended") or []))
        if name == "report_final":
            return t(
                "ev.report_final",
                digest=p.get("report_digest"),
                n=len(p.get("signatures") or {}),
            )
        if name == "paused":
            return t("ev.paused", cause=self.word("cause", p.get("cause")), reason=p.get("reason"))
        if name == "resumed":
            return t("ev.resumed", why=self.word("why", p.get("reason")))
        if name == "pause_lifted":
            venues = sep.join(view.venue_name(v) for v in p.get("waiting_for_venues", []))
            return t("ev.pause_lifted", venues=venues)
        if name == "warning":
            expert = p.get("expert")
            to = t("ev.warning_to", expert=view.name(expert)) if expert else ""
            return t("ev.warning", to=to, text=p.get("text"))
        if name == "note":
            return t("ev.note", text=p.get("text"))
        if name == "venue_lost":
            return t(
                "ev.venue_lost",
                venue=view.venue_name(str(p.get("venue"))),
                stage=self.word("stage", p.get("stage")),
                deadline=_when(p.get("deadline")),
            )
        if name == "venue_restored":
            return t("ev.venue_restored", venue=view.venue_name(str(p.get("venue"))))
        if name == "start_wait_over":
            venues = sep.join(view.venue_name(v) for v in p.get("venues", []))
            return t("ev.start_wait_over", venues=venues)
        if name == "sealed":
            return t("ev.sealed", venue=view.venue_name(str(p.get("venue"))))
        if name == "new_committee_required":
            return t("ev.new_committee")
        if name == "tenderer_decided":
            return t("ev.tenderer_decided", decision=self.word("decision", p.get("decision")))
        if name == "rescheduled":
            return t("ev.rescheduled")
        if name == "expert_rated":
            comment = p.get("comment")
            return t(
                "ev.rated",
                expert=view.name(p.get("expert")),
                score=p.get("score"),
                comment=f" — {comment}" if comment else "",
            )
        return t("ev.other", type=e.get("type"))

    def deviation(self, view: SessionView, d: dict[str, Any]) -> str:
        return self.t(
            "ev.deviation_item",
            expert=view.name(d.get("expert")),
            bid=d.get("bid"),
            criterion=d.get("criterion"),
            score=d.get("score"),
            mean=d.get("others_mean"),
        )

    # -- summaries and tables --------------------------------------------------------------
    def summary(self, view: SessionView) -> list[str]:
        t, sep = self.t, self.sep
        if view.phase is None:
            return [t("sum.nothing")]
        lines = [
            t(
                "sum.session",
                session=session_id(view.stream),
                tender=view.tender or "-",
                section=view.section or "-",
            ),
            t("sum.phase", phase=self.phase(view.phase)),
        ]
        if view.pause is not None:
            lines.append(t("sum.paused", reason=view.pause.get("reason")))
        if view.faults:
            lines.append(t("sum.faults", venues=sep.join(map(view.venue_name, view.faults))))
        if view.chair:
            lines.append(t("sum.chair", chair=view.name(view.chair)))
        if view.progress:
            items = sep.join(
                f"{self.word('step', step)} {done}/{of}"
                for step, (done, of) in view.progress.items()
            )
            lines.append(t("sum.progress", items=items))
        pending = [
            f"{cid} ({c.get('company')})"
            for cid, c in view.clarifications.items()
            if c.get("status") in ("asked", "approved")
        ]
        if pending:
            lines.append(t("sum.pending_clar", items=sep.join(pending)))
        if view.goback is not None:
            lines.append(
                t(
                    "sum.pending_goback",
                    after=self.phase(view.goback.get("to_phase")),
                    reason=view.goback.get("reason"),
                )
            )
        unexplained = view.unexplained() if view.phase == "deviation_check" else []
        if unexplained:
            items = sep.join(self.deviation(view, d) for d in unexplained)
            lines.append(t("sum.unexplained", items=items))
        return lines

    def recommended_list(self, recommended: Sequence[dict[str, Any]]) -> str:
        return self.sep.join(
            self.t(
                "recommended_item",
                rank=r.get("rank"),
                company=r.get("company"),
                bid=r.get("bid_id"),
            )
            for r in recommended
        )

    def ranking_table(self, report: dict[str, Any]) -> str:
        companies = {b["bid_id"]: b.get("company", "") for b in report.get("bids", [])}
        bids = list((report.get("ranking") or {}).get("bids", []))
        bids.sort(key=lambda b: (b.get("rank") is None, b.get("rank") or 0, b.get("bid_id")))
        rows = []
        for b in bids:
            rank = str(b["rank"]) if b.get("rank") is not None else self.t("failed_review")
            rows.append(
                [
                    rank,
                    str(b.get("bid_id", "")),
                    str(companies.get(b.get("bid_id"), "")),
                    _num(b.get("price")),
                    _num(b.get("expert_part")),
                    _num(b.get("price_score")),
                    _num(b.get("total")),
                ]
            )
        keys = ("h.rank", "h.bid", "h.company", "h.price", "h.expert_part", "h.price_score")
        headers = [self.t(k) for k in (*keys, "h.total")]
        return table(headers, rows)

    def recommended(self, report: dict[str, Any]) -> str:
        return self.t("recommended", list=self.recommended_list(report.get("recommended", [])))

    def roster_table(self, view: SessionView, venue: str) -> str:
        rows = []
        for m in view.rosters.get(venue, []):
            c = view.checked_in.get(m["expert"])
            done = f"✓ {c['seat']} {_when(c.get('at'))[11:]}" if c else "-"
            rows.append([m.get("name", ""), m["expert"], str(m.get("specialty", "")), done])
        headers = [self.t("h.expert"), "ID", self.t("h.specialty"), self.t("h.checked_in")]
        return table(headers, rows)


def _num(value: object) -> str:
    if value is None:
        return "-"
    try:
        return format(Decimal(str(value)), "f")
    except InvalidOperation:
        return str(value)


def _when(value: object) -> str:
    return local_time(value) if isinstance(value, str) and value else "-"


def check_report(view: SessionView, out: Out) -> tuple[dict[str, Any], str]:
    """The report under signature and its digest, after checking the digest locally."""
    if view.report is None or view.report_digest is None:
        raise CliError("no_report", 1, phase=SessionRender(out).phase(view.phase or "-"))
    computed = report_digest(view.report)
    if computed != view.report_digest:
        raise CliError("digest_mismatch", 1, shown=view.report_digest, computed=computed)
    return view.report, computed


# -- running commands ----------------------------------------------------------------------


def send(
    out: Out,
    server: str,
    key_path: Path | None,
    session: str,
    type_: str,
    body: dict[str, Any] | None = None,
    *,
    sign: bool = False,
) -> dict[str, Any]:
    """Send one session command and return its ack (a refusal raises ``ClientError``)."""

    async def go(key: ParticipantKey) -> dict[str, Any]:
        async with connected(server, key, out.lang) as client:
            return await client.command(session_stream(session), type_, body or {}, sign=sign)

    return asyncio.run(go(require_key(key_path, out)))


@asynccontextmanager
async def live_client(
    server: str, key: ParticipantKey, lang: str, heartbeat: float = 1.0
) -> AsyncIterator[Client]:
    """A client for the long-running views (``watch``, ``venue``): as ``connected`` gives,
    with a heartbeat well inside the server's presence window, so that a venue's presence
    never lapses between two heartbeats."""
    client = Client(server.rstrip("/"), key.user, key.signing_key, lang=lang, heartbeat=heartbeat)
    try:
        await client.connect()
        yield client
    finally:
        await client.close()


async def http_get(client: Client, path: str, **params: str) -> httpx.Response:
    """GET an API path with the client's login; a refusal raises ``ClientError``."""
    headers = {"authorization": f"Bearer {client.token}", "accept-language": client.lang}
    async with httpx.AsyncClient(base_url=client.base_url, headers=headers, timeout=60) as http:
        response = await http.get(path, params=params or None)
    _raise_for(response)
    return response


# -- following a session live --------------------------------------------------------------


class SessionWatch:
    """Follows a session live until it ends (or ``timeout``): history first, then news.

    Subclasses override the hooks; by default it prints the last ``history`` events and a
    summary once the replay is over, then one line per new event, and the summary again at
    the end."""

    tick = 0.25

    def __init__(
        self, client: Client, stream: str, out: Out, *, history: int = 10, me: str | None = None
    ) -> None:
        self.client = client
        self.stream = stream
        self.out = out
        self.render = SessionRender(out, me)
        self.view = SessionView(stream)
        self.history: deque[str] = deque(maxlen=max(history, 0) or None)
        self.keep_history = history > 0
        self.exit_code = 0
        self._was_connected = True
        self._seen_reconnects = 0

    async def start(self) -> Subscription:
        return await self.client.subscribe(self.stream)

    async def run(self, timeout: float | None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        sub = await self.start()
        follower = Follower(sub, self.view)
        started = False
        while True:
            left = 3600.0 if deadline is None else deadline - time.monotonic()
            if left <= 0:
                self.on_timeout()
                self.out.say("timed_out", seconds=timeout)
                return EXIT_TIMEOUT
            events = await follower.step(min(left, self.tick))
            for event in events:
                if started or (follower.synced and follower.live(event)):
                    self.on_event(event)
                elif self.keep_history:
                    line = self.render.event_line(event, self.view)
                    if line is not None:
                        self.history.append(line)
            if not follower.synced:
                continue
            if not started:
                started = True
                self.on_synced()
            self._connection_notices()
            self.on_tick()
            if self.view.ended:
                self.on_end()
                return self.exit_code

    def _connection_notices(self) -> None:
        now = self.client.connected.is_set()
        if self._was_connected and not now:
            self.notice(self.out.t("disconnected"))
        if self.client.reconnects != self._seen_reconnects and now:
            self._seen_reconnects = self.client.reconnects
            self.notice(self.out.t("reconnected", n=self.client.reconnects))
        self._was_connected = now

    # -- hooks -----------------------------------------------------------------------------
    def notice(self, text: str) -> None:
        click.echo(text, err=True)

    def on_synced(self) -> None:
        self.out.say("watching", session=session_id(self.stream))
        if self.history:
            self.out.say("sum.recent")
            for line in self.history:
                self.out.echo("  " + line)
        for line in self.render.summary(self.view):
            self.out.echo(line)

    def on_event(self, event: dict[str, Any]) -> None:
        line = self.render.event_line(event, self.view)
        if line is not None:
            self.out.echo(line)

    def on_tick(self) -> None:
        pass

    def on_timeout(self) -> None:
        pass

    def on_end(self) -> None:
        self.out.say("ended", phase=self.render.phase(self.view.phase))


# -- commands shared by the CLIs -----------------------------------------------------------

REPORT_MESSAGES: dict[str, tuple[str, str]] = {
    "report_saved": (
        "评标报告已下载：{path}（{size} 字节）",
        "Report downloaded: {path} ({size} bytes)",
    ),
    "report_digest": (
        "报告摘要（SHA-256，已本地核验）：{digest}",
        "Report digest (SHA-256, checked here): {digest}",
    ),
    "report_phase": (
        "当前阶段：{phase}；已签署 {signed}/{of}",
        "Phase: {phase}; signed {signed}/{of}",
    ),
    "sheet_title": ("{expert} 的评分表{state}", "Score sheet of {expert}{state}"),
    "sheet_revealed": ("（已揭晓）", " (revealed)"),
    "sheet_blind": ("（未揭晓）", " (not revealed)"),
    "sheet_empty": ("（尚无评分）", "(no score yet)"),
}
CATALOG.update(REPORT_MESSAGES)


def session_out(lang: str, messages: dict[str, tuple[str, str]]) -> Out:
    """An ``Out`` knowing the session's sentences and the CLI's own."""
    return Out(lang, {**CATALOG, **messages})


def report_command(
    out: Out, server: str, key_path: Path | None, session: str, out_path: Path | None
) -> int:
    """Download the report (PDF, or HTML for ``*.html``), check its digest and show it."""
    stream = session_stream(session)
    target = out_path or Path(f"{session_id(stream)}-report.pdf")
    fmt = "html" if target.suffix.lower() in (".html", ".htm") else "pdf"
    render = SessionRender(out)

    async def fetch(key: ParticipantKey) -> tuple[SessionView, str, bytes]:
        async with connected(server, key, out.lang) as client:
            view, _sub = await load_view(client, stream)
            _report, digest = check_report(view, out)
            response = await http_get(client, f"/api/sessions/{session_id(stream)}/report.{fmt}")
            return view, digest, response.content

    view, digest, content = asyncio.run(fetch(require_key(key_path, out)))
    target.write_bytes(content)
    assert view.report is not None
    out.say("report_saved", path=target, size=len(content))
    out.say("report_digest", digest=digest)
    out.echo(render.ranking_table(view.report))
    out.echo(render.recommended(view.report))
    committee = view.report.get("committee", [])
    out.say(
        "report_phase",
        phase=render.phase(view.phase),
        signed=len(view.signatures),
        of=len(committee),
    )
    return 0


def sheet_command(
    out: Out,
    server: str,
    key_path: Path | None,
    session: str,
    expert: str | None,
    *,
    own: bool = True,
) -> int:
    """Show one expert's score sheet: ``expert``'s, else the user's own (``own``), else all."""
    stream = session_stream(session)

    async def fetch(key: ParticipantKey) -> dict[str, Any]:
        async with connected(server, key, out.lang, live=False) as client:
            who = expert or (key.user if own else None)
            params = {"expert": who} if who else {}
            response = await http_get(
                client, f"/api/sessions/{session_id(stream)}/scores", **params
            )
            data: dict[str, Any] = response.json()
            return data

    data = asyncio.run(fetch(require_key(key_path, out)))
    for who, sheet in (data.get("scores") or {}).items():
        state = out.t("sheet_revealed" if data.get("revealed") else "sheet_blind")
        out.say("sheet_title", expert=who, state=state)
        criteria = sorted({c for row in sheet.values() for c in row})
        rows = [[bid, *(str(row.get(c, "-")) for c in criteria)] for bid, row in sheet.items()]
        if rows:
            out.echo(table([out.t("h.bid"), *criteria], rows))
        else:
            out.say("sheet_empty")
    return 0
