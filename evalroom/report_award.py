"""Two documents beside the 评标报告 (:mod:`evalroom.report`), in its document model and its
HTML and PDF renderers, each in Chinese or English (``lang``: every heading and label in the
language, names and what participants wrote as entered):

- :func:`reject_all_document`: the record of a session closed under ``reject_all``
  (否决所有投标: fewer than three valid bids and the tender's rule rejects them all). There is
  no ranking and no recommended candidate; the document gives the project, the opening's
  rejections, the preliminary review's verdicts with each expert's reason, and the decision
  with its reasons, who recorded it and when.
- :func:`award_document`: the 定标报告 of the award after the evaluation (评定分离): the
  method, the candidates of the signed evaluation report, the 定标委员会 (appointed, or drawn
  from the tenderer's panel with the seed and its commitment), the sign-in, every round's
  tally, the lot, the opinions and the chair's decision with reasons, the winner and its
  basis, the members' signatures with any dissent, the 公示 with its objections and answers,
  and the notice of award.

Times are printed in Beijing time, labelled (北京时间 / Beijing time).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from evalroom.db.sessions import ReportTender
from evalroom.report import BEIJING, Block, Document, Heading, Section, Table

# key -> (zh-CN, English)
WORDS: dict[str, tuple[str, str]] = {
    "none": ("无", "None"),
    "beijing": ("（北京时间）", " (Beijing time)"),
    "item": ("项目", "Item"),
    "content": ("内容", "Details"),
    "tender": ("招标项目", "Tender"),
    "section": ("标段", "Section"),
    "tenderer": ("招标人", "Tenderer"),
    "agency": ("招标代理", "Agency"),
    "opening_at": ("开标时间", "Opening time"),
    "control": ("最高投标限价", "Control price"),
    "control_unset": ("未设", "not set"),
    "yuan": ("元", "yuan"),
    "session": ("评标会话", "Evaluation session"),
    "bid": ("投标编号", "Bid"),
    "bidder": ("投标人", "Bidder"),
    "price": ("投标报价（元）", "Bid price (yuan)"),
    "reason": ("理由", "Reason"),
    "criterion": ("评审项", "Criterion"),
    "vote": ("表决", "Vote"),
    "passes": ("合格 {p} / 不合格 {f}", "pass {p} / fail {f}"),
    "result": ("结论", "Result"),
    "passed": ("通过", "passed"),
    "failed": ("未通过", "failed"),
    "expert": ("专家", "Expert"),
    "chair": ("组长", "Chair"),
    "member": ("成员", "Member"),
    "time": ("时间", "Time"),
    "rank": ("名次", "Rank"),
    # 否决所有投标
    "ra.title": ("评标报告（否决所有投标）", "Evaluation report (every bid rejected)"),
    "ra.basics": ("一、项目概况", "1. Project basics"),
    "ra.opening": ("二、开标时否决的投标", "2. Bids rejected at the opening"),
    "ra.committee": ("三、评标委员会", "3. The evaluation committee"),
    "ra.review": ("四、初步评审", "4. Preliminary review"),
    "ra.decision": ("五、有效投标不足三个的决定", "5. The decision on fewer than three valid bids"),
    "ra.result": ("六、评审结论", "6. Conclusion"),
    "ra.valid": ("有效投标", "Valid bids"),
    "ra.minimum": ("最少有效投标", "Minimum of valid bids"),
    "ra.rule": ("招标文件规定", "The tender's rule"),
    "ra.rule.reject_all": ("否决所有投标", "reject every bid (否决所有投标)"),
    "ra.rule.continue": ("继续评标", "continue the evaluation"),
    "ra.decided": ("决定", "Decision"),
    "ra.recorded_by": ("记录人", "Recorded by"),
    "ra.no_candidates": (
        "所有投标被否决，无推荐中标候选人；招标人应依法重新招标。",
        "Every bid is rejected: no candidate is recommended; the tenderer re-runs the tender"
        " as the law provides.",
    ),
    "ra.at_opening": ("开标时否决（最高投标限价）", "rejected at the opening (control price)"),
    "ra.specialty": ("专业", "Specialty"),
    "ra.venue": ("评标地点", "Venue"),
    "ra.role": ("职务", "Role"),
    # 定标报告
    "aw.title": ("定标报告", "Award report"),
    "aw.basics": ("一、定标概况", "1. The award"),
    "aw.candidates": ("二、中标候选人", "2. The candidates"),
    "aw.committee": ("三、定标委员会", "3. The award committee"),
    "aw.process": ("四、定标过程", "4. How the award was decided"),
    "aw.result": ("五、定标结果", "5. The result"),
    "aw.signatures": ("六、定标委员签署", "6. The members' signatures"),
    "aw.publicity": ("七、中标候选人公示与异议", "7. Publicity of the result and objections"),
    "aw.notice": ("八、中标通知", "8. Notice of award"),
    "aw.method": ("定标方法", "Award method"),
    "aw.method.vote": ("票决法", "vote (票决法)"),
    "aw.method.vote_lot": ("票决抽签法", "vote, then a lot (票决抽签法)"),
    "aw.method.deliberation": ("集体议事法", "collective deliberation (集体议事法)"),
    "aw.method.price": ("价格竞争定标法", "price competition (价格竞争定标法)"),
    "aw.finalists_n": ("入围抽签 {n} 名", "{n} finalists for the lot"),
    "aw.eval_digest": ("评标报告摘要（SHA-256）", "Evaluation report digest (SHA-256)"),
    "aw.digest": ("定标报告摘要（SHA-256）", "Award report digest (SHA-256)"),
    "aw.window": ("公示期", "Publicity window"),
    "aw.days": ("{n} 天", "{n} days"),
    "aw.seconds": ("{n} 秒", "{n} seconds"),
    "aw.appointed": ("招标人指定", "appointed by the tenderer"),
    "aw.drawn": ("从招标人成员库抽取", "drawn from the tenderer's panel"),
    "aw.how": ("产生方式", "How chosen"),
    "aw.signed_in": ("签到时间", "Signed in"),
    "aw.draw": (
        "成员库 {size} 人中抽取 {count} 人；种子承诺（SHA-256）{commitment}；公开种子 {seed}。"
        "抽取可按 award_rules.draw_members 由成员库与种子复算。",
        "{count} drawn from a panel of {size}; seed commitment (SHA-256) {commitment}; the seed"
        " revealed {seed}. The draw recomputes from the panel and the seed"
        " (award_rules.draw_members).",
    ),
    "aw.supervisor": ("监督人签到", "Supervisors signed in"),
    "aw.round": ("第 {n} 轮投票", "Round {n}"),
    "aw.counts": ("得票", "Votes"),
    "aw.chosen": ("选出", "Chosen"),
    "aw.tied": ("并列", "Tied"),
    "aw.seats": ("应选 {n} 个", "{n} to choose"),
    "aw.ballots": ("各委员投票", "Each member's vote"),
    "aw.by_rank": ("按评标排名确定：{items}", "Settled by the evaluation's rank: {items}"),
    "aw.lot": (
        "抽签：种子承诺 {commitment}（投票前公布），公开种子 {seed}，从 {finalists} 中抽中 {pick}。",
        "The lot: seed commitment {commitment} (published before the vote), the seed {seed};"
        " from {finalists} it picked {pick}.",
    ),
    "aw.opinions": ("委员意见", "The members' opinions"),
    "aw.opinion": ("意见", "Opinion"),
    "aw.decision": (
        "组长 {chair} 决定：{candidate}；理由：{reasons}",
        "The chair {chair} decided: {candidate}; reasons: {reasons}",
    ),
    "aw.price_rule": (
        "投标报价最低者中标（报价相同：{tie}）。",
        "The lowest bid price wins (equal prices: {tie}).",
    ),
    "aw.tie.rank": ("按评标排名", "the better evaluation rank"),
    "aw.tie.vote": ("定标委员会投票", "a vote of the committee"),
    "aw.winner": ("中标人", "Winner"),
    "aw.basis": ("依据", "Basis"),
    "aw.basis.votes": ("票数", "votes"),
    "aw.basis.lot": ("抽签", "the lot"),
    "aw.basis.price": ("价格", "price"),
    "aw.basis.price_vote": ("价格并列后投票", "price, then a vote"),
    "aw.basis.chair": ("组长决定", "the chair's decision"),
    "aw.signed_at": ("签署时间", "Signed at"),
    "aw.dissent": ("不同意见", "Dissent"),
    "aw.signed_note": (
        "各委员以其签名密钥（Ed25519）签署定标报告摘要（SHA-256）：{digest}",
        "Each member signed the award report's digest (SHA-256) with their key (Ed25519): {digest}",
    ),
    "aw.unsigned": ("尚未签署", "not signed yet"),
    "aw.from_until": ("公示期：{start} 至 {end}", "Publicity from {start} until {end}"),
    "aw.no_publicity": ("尚未公示。", "Not published yet."),
    "aw.objection": ("异议", "Objection"),
    "aw.raised": ("提出时间", "Raised"),
    "aw.answer": ("答复", "Answer"),
    "aw.answered": ("答复时间", "Answered"),
    "aw.not_answered": ("未答复", "not answered"),
    "aw.notice_at": (
        "中标通知于 {at} 发出：{winner}。",
        "The notice of award was issued at {at}: {winner}.",
    ),
    "aw.no_notice": ("尚未发出中标通知。", "No notice of award yet."),
    "aw.pending": (
        "定标尚未完成（阶段：{phase}）。",
        "The award is not decided yet (phase: {phase}).",
    ),
}


class Words:
    """The documents' labels in one language."""

    def __init__(self, lang: str) -> None:
        self.en = (lang or "").lower().startswith("en")
        self.lang = "en" if self.en else "zh-CN"

    def __call__(self, key: str, **fields: Any) -> str:
        zh, en = WORDS[key]
        return (en if self.en else zh).format(**fields)

    def when(self, text: object) -> str:
        if not text:
            return "—"
        moment = datetime.fromisoformat(str(text))
        if moment.tzinfo is None:  # stored times are UTC
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S") + self("beijing")

    @property
    def sep(self) -> str:
        return ", " if self.en else "、"

    @property
    def colon(self) -> str:
        return ": " if self.en else "："

    def text(self, value: object) -> str:
        return "—" if value is None or value == "" else str(value)


def _person(names: Mapping[str, str], user_id: object, en: bool = True) -> str:
    uid = str(user_id)
    name = names.get(uid)
    if not name:
        return uid
    return f"{name} ({uid})" if en else f"{name}（{uid}）"


def _control(w: Words, tender: ReportTender | None, section: str) -> str:
    sections = (tender.config.get("sections") or []) if tender else []
    found: Mapping[str, Any] = next((s for s in sections if str(s.get("id")) == section), {})
    control = found.get("control_price") or {}
    return f"{control['limit']} {w('yuan')}" if control.get("limit") else w("control_unset")


def _project(w: Words, state: Mapping[str, Any], tender: ReportTender | None, stream: str) -> Table:
    names = tender.names if tender else {}
    title = str(state["tender"])
    if tender and tender.title:
        title = f"{tender.title} ({tender.name})" if w.en else f"{tender.title}（{tender.name}）"
    rows = [
        [w("tender"), title],
        [w("section"), str(state["section"])],
        [w("tenderer"), w.text((state.get("draw_request") or {}).get("tenderer"))],
        [w("agency"), _person(names, tender.agency if tender else state.get("agency"), w.en)],
        [w("opening_at"), w.when(tender.config.get("opening_at")) if tender else "—"],
        [w("control"), _control(w, tender, str(state["section"]))],
        [w("session"), stream],
    ]
    return Table([w("item"), w("content")], rows)


# --- 否决所有投标 -----------------------------------------------------------------------------


def all_rejected(state: Mapping[str, Any]) -> bool:
    """Whether the session closed under ``reject_all`` (no report, no ranking)."""
    decision = state.get("few_valid_decision") or {}
    return state.get("phase") == "closed" and decision.get("decision") == "reject_all"


def reject_all_document(
    stream: str,
    state: Mapping[str, Any],
    tender: ReportTender | None = None,
    lang: str = "zh-CN",
) -> Document:
    """The report of a session closed under ``reject_all``: no candidates, the decision and
    its reasons."""
    w = Words(lang)
    committee: Mapping[str, Any] = state.get("committee") or {}

    def expert(eid: object) -> str:
        member = committee.get(str(eid)) or {}
        return f"{member.get('name') or eid}"

    companies = {b["bid_id"]: b["company"] for b in state.get("bids") or []}
    sections = [Section(w("ra.basics"), [_project(w, state, tender, stream)])]

    rejected = state.get("rejected") or []
    opening: list[Block] = [w("none")]
    if rejected:
        rows = [
            [r["bid_id"], r["company"], r["price"], w.text(r.get("detail")), w("ra.at_opening")]
            for r in rejected
        ]
        opening = [Table([w("bid"), w("bidder"), w("price"), w("reason"), w("result")], rows)]
    sections.append(Section(w("ra.opening"), opening))

    venues = state.get("venues") or {}
    members = [
        [
            str(m.get("name") or e),
            w.text(m.get("specialty")),
            str((venues.get(m.get("venue")) or {}).get("name", m.get("venue"))),
            w("chair") if e == state.get("chair") else w("member"),
        ]
        for e, m in committee.items()
    ]
    head = [w("expert"), w("ra.specialty"), w("ra.venue"), w("ra.role")]
    sections.append(Section(w("ra.committee"), [Table(head, members)]))

    results = (state.get("preliminary") or {}).get("results") or {}
    reasons: dict[str, dict[str, dict[str, str]]] = {}
    for eid, by_bid in (state.get("verdicts") or {}).items():
        for bid, row in by_bid.items():
            for criterion, verdict in row.items():
                if not verdict.get("pass"):
                    reasons.setdefault(bid, {}).setdefault(criterion, {})[eid] = str(
                        verdict.get("reason") or ""
                    )
    criteria = {
        c["id"]: c.get("name", c["id"]) for c in (state.get("method") or {}).get("criteria", [])
    }
    rows = []
    for bid, row in results.items():
        for criterion, tally in row.items():
            why = reasons.get(bid, {}).get(criterion, {})
            rows.append(
                [
                    bid,
                    companies.get(bid, ""),
                    str(criteria.get(criterion, criterion)),
                    w("passes", p=tally.get("passes"), f=tally.get("fails")),
                    w("passed") if tally.get("passed") else w("failed"),
                    w.sep.join(f"{expert(e)}{w.colon}{r}" for e, r in why.items()) or "—",
                ]
            )
    head = [w("bid"), w("bidder"), w("criterion"), w("vote"), w("result"), w("reason")]
    sections.append(Section(w("ra.review"), [Table(head, rows)] if rows else [w("none")]))

    d = state.get("few_valid_decision") or {}
    rule = str(d.get("rule"))
    decision_rows = [
        [w("ra.valid"), w.text(d.get("valid"))],
        [w("ra.minimum"), w.text(d.get("minimum"))],
        [w("ra.rule"), w(f"ra.rule.{rule}") if f"ra.rule.{rule}" in WORDS else rule],
        [w("ra.decided"), str(d.get("detail_en") if w.en else d.get("detail"))],
        [w("ra.recorded_by"), f"{expert(d.get('by'))} ({w('chair')})"],
        [w("time"), w.when(d.get("at"))],
    ]
    sections.append(Section(w("ra.decision"), [Table([w("item"), w("content")], decision_rows)]))
    sections.append(Section(w("ra.result"), [w("ra.no_candidates")]))
    title = tender.title if tender and tender.title else str(state["tender"])
    return Document(w("ra.title"), f"{title} · {w('section')} {state['section']}", sections, w.lang)


# --- 定标报告 ---------------------------------------------------------------------------------


def award_document(
    stream: str,
    state: Mapping[str, Any],
    tender: ReportTender | None = None,
    names: Mapping[str, str] | None = None,
    lang: str = "zh-CN",
) -> Document:
    """The 定标报告 (the award's report) as its own document, from the session's
    ``state["award"]``; ``names``: user id -> name of the members and supervisors."""
    w = Words(lang)
    a: Mapping[str, Any] = state["award"]
    names = {**(a.get("names") or {}), **(names or {})}
    report: Mapping[str, Any] = a.get("report") or {}
    method = a["method"]
    candidates = {c["bid_id"]: c for c in a["candidates"]}

    def who(user_id: object) -> str:
        return _person(names, user_id, w.en)

    def bid(bid_id: object) -> str:
        c = candidates.get(str(bid_id))
        return f"{bid_id} {c['company']}" if c else str(bid_id)

    def bids(ids: Sequence[object]) -> str:
        return w.sep.join(bid(b) for b in ids) or "—"

    kind = str(method["kind"])
    seconds = int(a.get("objection_seconds") or 0)
    window = (
        w("aw.days", n=seconds // 86400) if seconds % 86400 == 0 else w("aw.seconds", n=seconds)
    )
    method_text = w(f"aw.method.{kind}")
    if kind == "vote_lot":
        method_text += ("; " if w.en else "；") + w("aw.finalists_n", n=method.get("finalists"))
    basics = [
        *_project(w, state, tender, stream).rows,
        [w("aw.method"), method_text],
        [w("aw.window"), window],
        [w("aw.eval_digest"), w.text(state.get("report_digest"))],
        [w("aw.digest"), w.text(a.get("award_digest"))],
    ]
    sections = [Section(w("aw.basics"), [Table([w("item"), w("content")], basics)])]

    rows = [[str(c["rank"]), c["bid_id"], c["company"], c["price"]] for c in a["candidates"]]
    head = [w("rank"), w("bid"), w("bidder"), w("price")]
    sections.append(Section(w("aw.candidates"), [Table(head, rows)]))

    draw = a.get("draw") or None
    drawn = set((draw or {}).get("drawn") or [])
    signed_in = a.get("signed_in") or {}
    members = [
        [
            who(m),
            w("chair") if m == a.get("chair") else w("member"),
            w("aw.drawn") if m in drawn else w("aw.appointed"),
            w.when((signed_in.get(m) or {}).get("at")),
        ]
        for m in a.get("members") or []
    ]
    committee: list[Block] = [
        Table([w("member"), w("ra.role"), w("aw.how"), w("aw.signed_in")], members)
    ]
    if draw:
        committee.append(
            w(
                "aw.draw",
                size=len(draw.get("panel") or []),
                count=draw.get("count"),
                commitment=draw.get("commitment"),
                seed=w.text(draw.get("seed")),
            )
        )
    supervisors = [
        f"{who(u)} {w.when(v.get('at'))}"
        for u, v in signed_in.items()
        if v.get("as") == "supervisor"
    ]
    committee.append(f"{w('aw.supervisor')}{w.colon}{w.sep.join(supervisors) or '—'}")
    sections.append(Section(w("aw.committee"), committee))

    process: list[Block] = []
    for r in report.get("rounds") or []:
        process.append(
            Heading(f"{w('aw.round', n=r.get('round'))} · {w('aw.seats', n=r.get('seats'))}")
        )
        counts = r.get("counts") or {}
        process.append(
            Table(
                [w("bid"), w("aw.counts")],
                [[bid(b), str(n)] for b, n in counts.items()],
            )
        )
        process.append(
            f"{w('aw.chosen')}{w.colon}{bids(r.get('chosen') or [])}{'; ' if w.en else '；'}"
            f"{w('aw.tied')}{w.colon}{bids(r.get('tied') or [])}"
        )
        if r.get("by_rank"):
            process.append(w("aw.by_rank", items=bids(r["by_rank"])))
        ballots = r.get("votes") or {}
        process.append(
            Table([w("member"), w("aw.ballots")], [[who(m), bid(c)] for m, c in ballots.items()])
        )
    if report.get("seed"):
        process.append(
            w(
                "aw.lot",
                commitment=report.get("seed_commitment"),
                seed=report.get("seed"),
                finalists=bids(report.get("finalists") or []),
                pick=bid((report.get("winner") or {}).get("bid_id")),
            )
        )
    opinions = report.get("opinions") or {}
    if opinions:
        process.append(Heading(w("aw.opinions")))
        process.append(
            Table(
                [w("member"), w("aw.winner"), w("aw.opinion"), w("time")],
                [
                    [who(m), bid(o.get("candidate")), str(o.get("opinion")), w.when(o.get("at"))]
                    for m, o in opinions.items()
                ],
            )
        )
    decision = report.get("decision")
    if decision:
        process.append(
            w(
                "aw.decision",
                chair=who(decision.get("by")),
                candidate=bid(decision.get("candidate")),
                reasons=decision.get("reasons"),
            )
        )
    if kind == "price":
        process.append(w("aw.price_rule", tie=w(f"aw.tie.{method.get('price_tie', 'rank')}")))
    if not report:
        process.append(w("aw.pending", phase=a.get("phase")))
    sections.append(Section(w("aw.process"), process or [w("none")]))

    winner = report.get("winner") or {}
    result: list[Block] = [w("aw.pending", phase=a.get("phase"))]
    if winner:
        basis = str(report.get("basis"))
        result = [
            Table(
                [w("aw.winner"), w("bid"), w("price"), w("aw.basis")],
                [
                    [
                        str(winner.get("company")),
                        str(winner.get("bid_id")),
                        str(winner.get("price")),
                        w(f"aw.basis.{basis}") if f"aw.basis.{basis}" in WORDS else basis,
                    ]
                ],
            )
        ]
    sections.append(Section(w("aw.result"), result))

    signatures = a.get("signatures") or {}
    sig_rows = [
        [
            who(m),
            w.when((signatures.get(m) or {}).get("at")) if m in signatures else w("aw.unsigned"),
            w.text((signatures.get(m) or {}).get("dissent")),
        ]
        for m in a.get("members") or []
    ]
    sections.append(
        Section(
            w("aw.signatures"),
            [
                w("aw.signed_note", digest=w.text(a.get("award_digest"))),
                Table([w("member"), w("aw.signed_at"), w("aw.dissent")], sig_rows),
            ],
        )
    )

    publicity = a.get("publicity")
    shown: list[Block] = [w("aw.no_publicity")]
    if publicity:
        shown = [
            w(
                "aw.from_until",
                start=w.when(publicity.get("from")),
                end=w.when(publicity.get("until")),
            )
        ]
        objections = a.get("objections") or {}
        if objections:
            shown.append(
                Table(
                    [
                        w("aw.objection"),
                        w("bidder"),
                        w("aw.objection"),
                        w("aw.raised"),
                        w("aw.answer"),
                        w("aw.answered"),
                    ],
                    [
                        [
                            oid,
                            str(o.get("company")),
                            str(o.get("text")),
                            w.when(o.get("at")),
                            str(o.get("answer") or w("aw.not_answered")),
                            w.when(o.get("answered_at")),
                        ]
                        for oid, o in objections.items()
                    ],
                )
            )
        else:
            shown.append(w("none"))
    sections.append(Section(w("aw.publicity"), shown))

    notice = a.get("notice")
    sections.append(
        Section(
            w("aw.notice"),
            [
                w("aw.notice_at", at=w.when(notice.get("at")), winner=bid(notice.get("winner")))
                if notice
                else w("aw.no_notice")
            ],
        )
    )
    title = tender.title if tender and tender.title else str(state["tender"])
    return Document(w("aw.title"), f"{title} · {w('section')} {state['section']}", sections, w.lang)
