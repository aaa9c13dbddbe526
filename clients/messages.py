"""The sentences the terminal clients print, zh-CN first, then English.

One catalog per job, each a ``dict[str, tuple[str, str]]`` of ``key -> (zh-CN, English)``,
merged into one :class:`clients.cli_common.Out` by the CLI that prints them.
"""

from __future__ import annotations

# The evaluation session (评标会话): phases, steps, words and one line per event, shared by
# evalroom-expert, evalroom-supervisor and evalroom-operator.
SESSION: dict[str, tuple[str, str]] = {
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
