"""Every sentence the terminal clients print, zh-CN first, then English: one catalog.

Written in sections (shared, the opening ceremony, the session, then one per CLI), each a
``dict[str, tuple[str, str]]`` of ``key -> (zh-CN, English)``, and merged into
:data:`MESSAGES`, which every :class:`clients.cli_common.Out` reads. Keys are unique across
the sections (a CLI's own key that another CLI also uses is prefixed by the CLI's name,
e.g. ``bidder.submitted``); the merge refuses a key defined twice.
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
    "ev.bids": (
        "评标会话的投标：{bids}（取自已签署的开标记录）",
        "The session's bids: {bids} (from the signed opening record)",
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

# Shared by every CLI: errors, warnings, keys and logins.
COMMON: dict[str, tuple[str, str]] = {
    "error": ("错误", "Error"),
    "tz.beijing": ("北京时间", "Beijing time"),
    "warning": ("警告", "Warning"),
    "unreachable": (
        "无法连接服务器 {server}：{detail}",
        "Cannot reach the server {server}: {detail}",
    ),
    "timed_out": ("等待超时（{seconds} 秒），已退出。", "Gave up after {seconds} s."),
    "no_answer": ("服务器 {server} 未及时应答。", "The server {server} did not answer in time."),
    "interrupted": ("已中断。", "Interrupted."),
    "os_error": ("文件操作失败：{detail}", "A file operation failed: {detail}"),
    "key_exists": ("文件已存在，不会覆盖：{path}", "The file exists; not overwriting it: {path}"),
    "key_missing": ("找不到文件：{path}", "No such file: {path}"),
    "key_unreadable": ("无法读取文件 {path}：{detail}", "Cannot read {path}: {detail}"),
    "key_malformed": ("文件格式错误 {path}：{detail}", "Malformed file {path}: {detail}"),
    "key_mismatch": ("文件内容不一致 {path}：{detail}", "Inconsistent file {path}: {detail}"),
    "key_open_mode": (
        "密钥文件 {path} 可被其他用户读取，请执行 chmod 600。",
        "The key file {path} is readable by others; run chmod 600.",
    ),
    "key_required": (
        "请用 --key 指定密钥文件（或设置 EVALROOM_KEY）。",
        "Give the key file with --key (or set EVALROOM_KEY).",
    ),
    "keygen_done": (
        "已生成密钥文件 {path}（仅本人可读）。\n用户：{user}\n公钥（请交给平台管理员登记）：\n{public}",
        "Key file written to {path} (readable by you only).\nUser: {user}\n"
        "Public key (give it to the platform admin to register):\n{public}",
    ),
    "bad_json": (
        "无法读取 JSON 文件 {path}：{detail}",
        "Cannot read the JSON file {path}: {detail}",
    ),
}

# The opening ceremony (开标): stages, statuses, one line per event (agency, bidder, keyholder).
CEREMONY: dict[str, tuple[str, str]] = {
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
    # a read-out price against the control price (最高投标限价)
    "standing.rejected": ("否决投标：{detail}", "rejected: {detail}"),
    "standing.review": ("低于成本评审：{detail}", "below-cost review: {detail}"),
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

# evalroom-agency.
AGENCY: dict[str, tuple[str, str]] = {
    "key_written": (
        "开标公钥：{recipient}\n已写入 {dir}：recipient.txt 及 {n} 份密钥分片 {files}（任意 {k} "
        "份可解密）。\n重要：每份分片必须分别交给不同的保管人，交付后删除本机上的分片文件；"
        "本机不保留开标私钥。",
        "Opening recipient: {recipient}\nWritten to {dir}: recipient.txt and {n} key shares "
        "{files} (any {k} open the bids).\nImportant: each share must go to a different "
        "keyholder; delete the share files here once handed over. No opening private key is "
        "kept on this machine.",
    ),
    "bad_threshold": ("需要 2 ≤ k ≤ n ≤ 255。", "Need 2 <= k <= n <= 255."),
    "config_not_object": (
        "开标规则 {path} 应为 JSON 对象。",
        "The config {path} must be a JSON object.",
    ),
    "created": (
        "已创建招标项目 {tender}（{title}），开标时间 {at}。",
        "Created tender {tender} ({title}), opening at {at}.",
    ),
    "granted": ("已授予 {user} {role} 角色。", "Granted {user} the {role} role."),
    "published": ("已发布 {tender}，开始接收投标。", "Published {tender}; bids are open."),
    "answered": ("已答复 {objection}。", "Answered {objection}."),
    "signed": ("已签署 {tender} 的开标记录。", "Signed the opening record of {tender}."),
    "commercial_started": (
        "已开始商务标开标：{numbers}。请运行 ceremony 主持。",
        "The commercial opening has started for {numbers}; run ceremony to conduct it.",
    ),
    "bad_answer": (
        "--answer 应写作 O1=答复内容：{value}",
        "--answer must read O1=text: {value}",
    ),
    "not_published": (
        "项目尚未发布（阶段：{phase}），无法开标。",
        "The tender is not published (phase {phase}); nothing to open.",
    ),
    "countdown": ("距开标还有 {left}", "Opening in {left}"),
    "agency.waiting_opening": (
        "开标时间 {at}，还有 {left}。到时自动开标。",
        "The opening is at {at}, in {left}. It starts by itself then.",
    ),
    "starting": ("开标时间已到，开始开标…", "The opening time has come; starting…"),
    "closing": ("关闭解密窗口…", "Closing the decryption window…"),
    "reading_out": ("唱标…", "Reading out…"),
    "answering": ("答复质询 {id}：{text}", "Answering {id}: {text}"),
    "needs_answer": (
        "质询 {id} 待答复：用 --answer {id}=… 或 evalroom-agency answer {tender} {id} …",
        "Objection {id} awaits an answer: --answer {id}=… or evalroom-agency answer {tender} {id} …",
    ),
    "prompt_answer": ("答复质询 {id}", "Answer to {id}"),
    "waiting_confirm": (
        "等待投标人确认（{confirmed}/{total}），最迟至 {until}。",
        "Waiting for the bidders to confirm ({confirmed}/{total}), until {until} at most.",
    ),
    "signing": ("签署开标记录…", "Signing the opening record…"),
    "waiting_supervisor": ("等待监督人签署开标记录…", "Waiting for the supervisor to sign…"),
    "technical_done": (
        "技术标开标已完成。评审后用 start-commercial {tender} --passed 编号,… 开始商务标开标。",
        "The technical opening is complete. After review, start the commercial opening with "
        "start-commercial {tender} --passed N1,N2.",
    ),
    "all_done": ("开标完成。", "The opening is complete."),
    "failed_sections": ("流标标段：{sections}", "Failed sections: {sections}"),
}

# evalroom-bidder.
BIDDER: dict[str, tuple[str, str]] = {
    "joined": ("已报名 {tender}。", "Joined {tender}."),
    "form_not_object": (
        "投标表单 {path} 应为 JSON 对象。",
        "The bid form {path} must be a JSON object.",
    ),
    "attach_missing": ("附件不存在：{path}", "No such attachment: {path}"),
    "attach_twice": ("附件重名：{name}", "Two attachments are named {name}"),
    "bad_recipient": (
        "开标公钥格式错误（应为 age1…）：{detail}",
        "The opening recipient is not an age recipient (age1…): {detail}",
    ),
    "sealed": (
        "已加密 {out}（{size} 字节，sha256 {sha}）。\n"
        "解密密钥已存入 {keys}（仅本人可读，请备份；开标时由本客户端释放）。",
        "Sealed {out} ({size} bytes, sha256 {sha}).\n"
        "Its decryption key is in {keys} (yours only; back it up; the client releases it "
        "at the opening).",
    ),
    "sealed_missing": ("加密文件不存在：{path}", "No such sealed file: {path}"),
    "uploading": ("上传中 {done}/{total} MB（{pct}%）", "Uploading {done}/{total} MB ({pct}%)"),
    "bidder.submitted": (
        "已递交 {tender} 标段 {section} / {envelope}：回执签名有效。\n"
        "事件序号 {seq}，密文 sha256 {sha}\n回执已保存：{path}",
        "Submitted {tender} section {section} / {envelope}: the receipt's signature verifies.\n"
        "Event seq {seq}, ciphertext sha256 {sha}\nReceipt saved: {path}",
    ),
    "no_local_key": (
        "此加密文件的解密密钥不在 {keys} 中，开标时本客户端将无法自动解密。",
        "The key of this sealed file is not in {keys}; the client cannot release it at the "
        "opening.",
    ),
    "bidder.withdrawn": (
        "已撤回 {tender} 标段 {section} 的投标（事件序号 {seq}）。回执已保存：{path}",
        "Withdrew the bid in {tender} section {section} (event seq {seq}). Receipt saved: {path}",
    ),
    "no_receipts": ("{dir} 中没有回执。", "No receipts in {dir}."),
    "receipt_ok": ("有效", "valid"),
    "receipt_bad_sig": ("签名无效", "bad signature"),
    "receipt_wrong_key": ("非指定平台公钥", "not the pinned platform key"),
    "receipt_file_changed": ("本地文件已变", "local file changed"),
    "receipt_unreadable": ("无法读取", "unreadable"),
    "receipts_bad": ("{bad} 份回执未通过校验。", "{bad} receipts failed the check."),
    "h.file": ("文件", "File"),
    "h.kind": ("类型", "Kind"),
    "h.what": ("项目/标段/信封", "Tender/section/envelope"),
    "h.seq": ("序号", "Seq"),
    "h.sha": ("sha256", "sha256"),
    "h.check": ("校验", "Check"),
    "following": (
        "正在参加 {tender} 的开标（{stage}）。按 Ctrl+C 退出。",
        "Following the opening of {tender} ({stage}). Ctrl+C to leave.",
    ),
    "bidder.waiting_opening": (
        "尚未开标，开标时间 {at}。等待中…",
        "The opening has not started; it is at {at}. Waiting…",
    ),
    "signing_in": ("签到…", "Signing in…"),
    "releasing": (
        "释放 {number} 的解密密钥（标段 {section}）…",
        "Releasing the key of {number} (section {section})…",
    ),
    "key_not_found": (
        "未找到 {number}（标段 {section} / {envelope}）的本地解密密钥；请联系招标代理。",
        "No local key for {number} (section {section} / {envelope}); contact the agency.",
    ),
    "not_releasing": (
        "按 --no-release，不释放 {number} 的解密密钥。",
        "Not releasing the key of {number} (--no-release).",
    ),
    "confirming": ("确认开标记录…", "Confirming the opening record…"),
    "confirmed_ok": ("已确认。", "Confirmed."),
    "objecting": ("提出质询：{text}", "Raising an objection: {text}"),
    "prompt_action": (
        "确认开标记录请输入 y，提出质询输入 o，暂不操作输入 n",
        "Type y to confirm the record, o to object, n to do nothing now",
    ),
    "prompt_objection": ("质询内容", "Your objection"),
    "status_now": ("当前状态：", "Status now:"),
    "finished": ("开标结束。", "The opening is over."),
}

# evalroom-keyholder.
KEYHOLDER: dict[str, tuple[str, str]] = {
    "bad_share": (
        "密钥分片文件 {path} 有误：{detail}",
        "The share file {path} is not valid: {detail}",
    ),
    "share_unreadable": ("无法读取分片文件 {path}：{detail}", "Cannot read {path}: {detail}"),
    "waiting_fallback": (
        "等待 {tender} 需要密钥保管人解密…",
        "Waiting until {tender} needs the keyholders…",
    ),
    "keyholder.submitted": (
        "已提交第 {index} 份分片（共 {n} 份，需 {k} 份），事件序号 {seq}。",
        "Share {index} handed in ({k} of {n} needed), event seq {seq}.",
    ),
}

# evalroom-expert.
EXPERT: dict[str, tuple[str, str]] = {
    "token_for": (
        "签到令牌（会话 {session}，专家 {user}，座位 {seat}）——请交给本场地的场地管理员：",
        "Check-in token (session {session}, expert {user}, seat {seat}); hand it to your "
        "venue's site operator:",
    ),
    "voted": ("已投票推选 {candidate}（无记名）。", "Voted for {candidate} (secret ballot)."),
    "verdict_saved": (
        "已签名提交初步评审：{bid} / {criterion}：{result}",
        "Signed verdict recorded: {bid} / {criterion}: {result}",
    ),
    "pass_or_fail": ("请指定 --pass 或 --fail。", "Give --pass or --fail."),
    "score_saved": (
        "已签名保存评分：{bid} / {criterion} = {score}",
        "Signed score saved: {bid} / {criterion} = {score}",
    ),
    "sheet_shape": (
        '评分文件 {path} 应为 {{投标编号: {{评分项: "分值"}}}}：{detail}',
        'The score file {path} must read {{bid: {{criterion: "score"}}}}: {detail}',
    ),
    "sheet_progress": (
        "{done}/{total} {bid} / {criterion} = {score}",
        "{done}/{total} {bid} / {criterion} = {score}",
    ),
    "sheet_stopped": (
        "已保存 {done}/{total} 项；{bid} / {criterion} 被拒绝：",
        "Saved {done} of {total}; {bid} / {criterion} was refused:",
    ),
    "sheet_saved": ("评分表 {total} 项已全部保存。", "All {total} scores saved."),
    "expert.submitted": (
        "评分表已签名提交，提交后修改需填写理由。",
        "Score sheet signed and submitted; later changes need a reason.",
    ),
    "revised": (
        "已修改评分 {bid} / {criterion} = {score}（理由已记录）。",
        "Revised {bid} / {criterion} = {score} (reason recorded).",
    ),
    "deviation_explained": (
        "已签名提交偏离说明：{bid} / {criterion}。",
        "Signed deviation reason recorded: {bid} / {criterion}.",
    ),
    "asked": (
        "已提出澄清 {id}，待监督人批准后发送给 {company}。",
        "Clarification {id} asked; it goes to {company} once the supervisor approves.",
    ),
    "phase_closed": ("已结束{phase}。", "Closed the {phase}."),
    "goback_asked": (
        "已申请回退至{phase}，待监督人批准。",
        "Asked to go back to the {phase}; awaiting the supervisor.",
    ),
    "conflict_declared": (
        "已申报回避，系统将补抽专家。",
        "Conflict declared; a replacement is drawn.",
    ),
    "report_to_sign": (
        "待签署的评标报告（摘要 {digest}）：",
        "The report to sign (digest {digest}):",
    ),
    "digest_changed": (
        "评标报告已变更：当前摘要 {current}，与 --digest {pinned} 不符。请重新核对。",
        "The report changed: its digest is {current}, not --digest {pinned}. Review it again.",
    ),
    "confirm_sign": ("核对无误，签署此评标报告？", "Sign this report?"),
    "confirm_needed": (
        "签署评标报告需确认：请在终端中运行，或加 --yes。",
        "Signing the report needs a confirmation: run it in a terminal, or add --yes.",
    ),
    "not_signed": ("未签署。", "Not signed."),
    "report_signed_ok": (
        "已签署评标报告（摘要 {digest}）{dissent}。",
        "Signed the report (digest {digest}){dissent}.",
    ),
    "with_dissent": ("，保留意见已记录", ", dissent recorded"),
    "hint.check_in": (
        "待办：请场地管理员为您签到（evalroom-expert check-in-token {session} --seat 座位号）。",
        "To do: have the site operator check you in (evalroom-expert check-in-token {session} "
        "--seat SEAT).",
    ),
    "hint.vote": (
        "待办：推选组长（evalroom-expert vote-chair {session} 专家编号）。",
        "To do: vote for a chair (evalroom-expert vote-chair {session} EXPERT).",
    ),
    "hint.scores": (
        "待办：已评 {done}/{total} 项{submitted}。",
        "To do: {done} of {total} scores given{submitted}.",
    ),
    "hint.submitted": ("，已提交", ", submitted"),
    "hint.explain": (
        "待办：请说明您的评分偏离：{items}",
        "To do: explain your deviating scores: {items}",
    ),
    "hint.sign": (
        "待办：核对并签署评标报告（evalroom-expert sign-report {session}）。",
        "To do: review and sign the report (evalroom-expert sign-report {session}).",
    ),
}

# evalroom-supervisor.
SUPERVISOR: dict[str, tuple[str, str]] = {
    "approved_clar": (
        "已批准澄清 {id}，已发送给投标人。",
        "Approved clarification {id}; sent to the bidder.",
    ),
    "rejected_clar": ("已驳回澄清 {id}。", "Rejected clarification {id}."),
    "approved_goback": ("已批准回退。", "Approved going back."),
    "rejected_goback": ("已驳回回退申请。", "Refused going back."),
    "paused": ("已暂停评标：{reason}", "Paused the evaluation: {reason}"),
    "resumed": ("已恢复评标。", "Resumed the evaluation."),
    "warned": ("已发出警告{to}。", "Warning sent{to}."),
    "warned_to": ("（致 {expert}）", " (to {expert})"),
    "annotated": ("已签名记录监督备注。", "Signed note recorded."),
    "supervisor.withdrawn": (
        "已令 {expert} 回避，系统补抽专家。",
        "{expert} withdrawn; a replacement is drawn.",
    ),
    "rated": ("已评价 {expert}：{score} 分。", "Rated {expert}: {score}."),
    "pool_fetched": (
        "已从平台取得专家库快照（{experts} 名专家），本机计算摘要 {pool}",
        "Fetched the pool snapshot from the platform ({experts} experts); digest computed "
        "here: {pool}",
    ),
    "pool_digest_mismatch": (
        "平台声明的专家库摘要 {stated} 与其发送的快照不符（本机计算为 {computed}）；"
        "未公布任何承诺。请联系平台管理员。",
        "The platform states the pool digest {stated}, but the snapshot it sent hashes to "
        "{computed}; nothing was committed. Ask the platform's administrator.",
    ),
    "pool_both": (
        "--pool-digest 与 --pool-file 只能给一个。",
        "Give --pool-digest or --pool-file, not both.",
    ),
    "bad_pool_digest": (
        "专家库摘要应为 64 位小写十六进制：{value}",
        "The pool digest must be 64 lowercase hex digits: {value}",
    ),
    "bad_pool": (
        "专家库快照 {path} 无效：{detail}",
        "The pool snapshot {path} is invalid: {detail}",
    ),
    "seed_committed": (
        "已公布种子承诺 {commitment}\n专家库快照摘要 {pool}\n种子已保存到 {path}（仅本人可读）："
        "抽取前请勿泄露，抽取时运行 draw {session} --seed-file {path}",
        "Seed commitment published: {commitment}\nPool snapshot digest {pool}\nThe seed is in "
        "{path} (yours only): keep it secret until the draw, then run draw {session} "
        "--seed-file {path}",
    ),
    "seed_unreadable": (
        "种子文件 {path} 应为一行十六进制（至少 16 字节）。",
        "The seed file {path} must hold one line of hex (16 bytes or more).",
    ),
    "drawn": (
        "专家抽取完成（种子承诺 {commitment}…）：",
        "Experts drawn (seed commitment {commitment}…):",
    ),
    "draw_failed": (
        "专家抽取失败：{reason}。承诺已作废，请用新的种子重新公布。",
        "The draw failed: {reason}. The commitment is spent; publish a new seed.",
    ),
    # the dashboard
    "h.operator": ("场地管理员", "Operator"),
    "h.online": ("在线专家", "Experts online"),
    "h.offline": ("未连接", "Not connected"),
    "st.up": ("在线", "up"),
    "st.lost": ("中断", "LOST"),
    "st.no_operator": ("无管理员在线", "no operator"),
    "others": ("其他在线：{who}", "Also connected: {who}"),
    "presence_line": ("在线：{venues}", "Connected: {venues}"),
    "presence_venue": (
        "{venue}[管理员 {ops}；专家 {online}/{seated}；签到 {checked}]",
        "{venue}[operator {ops}; experts {online}/{seated}; checked in {checked}]",
    ),
    "alerts": ("告警：", "Alerts:"),
    "feed": ("事件：", "Events:"),
    "log_ok": (
        "日志检查点 @{size} 与已保存的一致（{path}）",
        "Log checkpoint @{size} extends the one kept ({path})",
    ),
    "log_forked": (
        "日志分叉：服务器显示的检查点 @{shown} 不延续已保存的 @{kept}（{why}）。已保存的检查点即证据：{path}",
        "LOG FORK: the server shows checkpoint @{shown}, which does not extend the kept @{kept} "
        "({why}). The kept checkpoint is the evidence: {path}",
    ),
    "log_problem": ("无法检查日志检查点：{detail}", "Cannot check the log checkpoint: {detail}"),
    "updated": ("更新于 {at}", "Updated {at}"),
}

# evalroom-operator.
OPERATOR: dict[str, tuple[str, str]] = {
    "checked_in_ok": (
        "已为 {expert} 签到，座位 {seat}。",
        "Checked {expert} in, seat {seat}.",
    ),
    "on_duty": (
        "场地管理员 {user} 值守中：请保持本程序运行，平台据此判断本场地在线。",
        "Site operator {user} on duty: keep this running; it is how the platform knows the "
        "venue is up.",
    ),
    "roster_of": (
        "{venue} 签到名单（{checked}/{total} 已签到）：",
        "Roster of {venue} ({checked}/{total} checked in):",
    ),
    "no_roster": ("尚未抽取专家，等待抽取结果…", "No experts drawn yet; waiting for the draw…"),
}


# Bids the opening rejected or flagged by the control price, the fewer-than-three-valid-bids
# decision, and the award after the session (定标, 评定分离): shared by the session's CLIs.
STANDING: dict[str, tuple[str, str]] = {
    "ev.bids_rejected": (
        "；否决投标（开标时按最高投标限价，不参与评审）：{items}",
        "; rejected at the opening by the control price (not evaluated): {items}",
    ),
    "ev.bids_flagged": (
        "；低于成本价需评审：{items}",
        "; below the floor, for the below-cost review: {items}",
    ),
    "standing_item": ("{bid} {company} {price}（{detail}）", "{bid} {company} {price} ({detail})"),
    "ev.few_valid": (
        "{detail}（有效投标 {valid} 个，开标时否决 {opening} 个）",
        "{detail} ({valid} valid, {opening} rejected at the opening)",
    ),
    "few_valid.continue": ("继续评标", "the evaluation continues"),
    "few_valid.reject_all": ("否决所有投标", "every bid is rejected"),
    "ev.closed_all_rejected": (
        "评标结束：否决所有投标，无中标候选人，招标人依法重新招标",
        "Evaluation closed: every bid rejected, no candidate; the tender is to be re-run",
    ),
    "sum.rejected": (
        "否决投标（开标时，按最高投标限价）：{items}",
        "Rejected at the opening (control price): {items}",
    ),
    "sum.flagged": ("低于成本价需评审：{items}", "Below the floor, for review: {items}"),
    "sum.few_valid": (
        "有效投标不足 {minimum} 个，决定{decision}：{detail}",
        "Fewer than {minimum} valid bids, decided ({decision}): {detail}",
    ),
    "sum.all_rejected": (
        "否决所有投标：本次评标无排序、无推荐中标候选人",
        "Every bid rejected: no ranking and no candidate",
    ),
    # the award (定标)
    "award_phase.sign_in": ("定标委员会签到", "award committee sign-in"),
    "award_phase.voting": ("投票", "voting"),
    "award_phase.lot": ("抽签", "the lot"),
    "award_phase.deliberation": ("集体议事", "deliberation"),
    "award_phase.signing": ("定标报告签署", "award report signing"),
    "award_phase.publicity": ("中标候选人公示", "publicity (公示)"),
    "award_phase.publicity_over": ("公示期结束", "publicity over"),
    "award_phase.awarded": ("已发中标通知", "awarded"),
    "award_method.vote": ("票决法", "vote (票决法)"),
    "award_method.vote_lot": ("票决抽签法", "vote and lot (票决抽签法)"),
    "award_method.deliberation": ("集体议事法", "deliberation (集体议事法)"),
    "award_method.price": ("价格竞争定标法", "price competition (价格竞争定标法)"),
    "award_basis.votes": ("票数", "votes"),
    "award_basis.lot": ("抽签", "the lot"),
    "award_basis.price": ("价格", "price"),
    "award_basis.price_vote": ("价格并列后投票", "price, then a vote"),
    "award_basis.chair": ("组长决定", "the chair's decision"),
    "ev.award_set_up": (
        "定标开始（评定分离）：{method}，候选人 {candidates}，定标委员会 {members} 人，公示期 {window}",
        "Award set up (评定分离): {method}, candidates {candidates}, committee of {members},"
        " publicity {window}",
    ),
    "award_window_days": ("{n} 天", "{n} days"),
    "award_window_seconds": ("{n} 秒", "{n} seconds"),
    "ev.award_committee": (
        "定标委员会：{members}；组长 {chair}",
        "Award committee: {members}; chair {chair}",
    ),
    "ev.award_phase": ("定标阶段：{before} → {after}", "Award phase: {before} → {after}"),
    "ev.award_progress": ("定标进度：{step} {done}/{of}", "Award progress: {step} {done}/{of}"),
    "ev.award_signed_in": ("{who} 签到定标（{as_}）", "{who} signed in to the award ({as_})"),
    "award_as.member": ("定标委员", "member"),
    "award_as.supervisor": ("监督", "supervisor"),
    "ev.award_seed_committed": (
        "监督人已承诺抽签种子（SHA-256 {commitment}…），投票前公布",
        "The supervisor committed the lot's seed (SHA-256 {commitment}…) before the vote",
    ),
    "ev.award_voting_opened": (
        "第 {round} 轮投票开始：候选人 {candidates}，选出 {seats} 个",
        "Round {round} opens: candidates {candidates}, {seats} to choose",
    ),
    "ev.award_vote": (
        "{who}在第 {round} 轮投票给 {candidate}",
        "{who} voted for {candidate} in round {round}",
    ),
    "ev.award_round": (
        "第 {round} 轮计票：{counts}；选出 {chosen}{tied}",
        "Round {round} tally: {counts}; chosen {chosen}{tied}",
    ),
    "award_tied": ("；并列 {items}", "; tied {items}"),
    "ev.award_lot_drawn": (
        "抽签：种子 {seed}… 与承诺 {commitment}… 相符，从 {finalists} 中抽中 {pick}",
        "The lot: seed {seed}… matches its commitment {commitment}…; from {finalists} it picked"
        " {pick}",
    ),
    "ev.award_opinion": (
        "{member} 的意见：{candidate} —— {opinion}",
        "{member}'s opinion: {candidate} — {opinion}",
    ),
    "ev.award_decided": (
        "组长决定：{candidate}，理由：{reasons}",
        "The chair decided: {candidate}, because {reasons}",
    ),
    "ev.award_report": (
        "定标报告：中标人 {winner}（依据：{basis}），摘要 {digest}，待全体委员签署",
        "Award report: winner {winner} (on {basis}), digest {digest}; awaiting every signature",
    ),
    "ev.award_report_signed": (
        "{member} 已签署定标报告{dissent}",
        "{member} signed the award report{dissent}",
    ),
    "ev.award_report_final": (
        "定标报告定稿（摘要 {digest}），{n} 位委员签署",
        "Award report final (digest {digest}), signed by {n} members",
    ),
    "ev.award_publicity": (
        "中标候选人公示：{winner}（{method}），异议截止 {until}",
        "Publicity (公示): {winner} ({method}); objections until {until}",
    ),
    "ev.award_objection": ("{company} 提出异议 {id}：{text}", "{company} objects ({id}): {text}"),
    "ev.award_objection_answered": (
        "招标人答复异议 {id}（{company}）：{answer}",
        "The tenderer answered objection {id} ({company}): {answer}",
    ),
    "ev.award_publicity_closed": (
        "公示期结束：异议 {n} 件，未答复 {unanswered}",
        "Publicity over: {n} objections, unanswered: {unanswered}",
    ),
    "ev.award_notice": ("中标通知：{winner}（{at}）", "Notice of award: {winner} ({at})"),
    "award_candidate": ("{bid} {company}", "{bid} {company}"),
    "award_step_round": ("第 {n} 轮投票", "round {n} votes"),
    "sum.award": ("定标：{method}，阶段 {phase}", "Award: {method}, phase {phase}"),
    "sum.award_finalists": ("入围：{items}", "Finalists: {items}"),
    "sum.award_pick": ("抽签结果：{pick}", "The lot picked: {pick}"),
    "sum.award_winner": ("中标人：{winner}", "Winner: {winner}"),
    "sum.award_until": ("公示截止：{until}", "Publicity until: {until}"),
    "sum.award_objections": ("异议：{items}", "Objections: {items}"),
    "award_objection_item": ("{id} {company}（{state}）", "{id} {company} ({state})"),
    "award_answered": ("已答复", "answered"),
    "award_unanswered": ("未答复", "not answered"),
}


# award (定标) jobs: evalroom-award, the award's CLI (clients/award.py).
AWARD: dict[str, tuple[str, str]] = {
    "award_none": ("会话 {session} 尚未设置定标。", "Session {session} has no award set up."),
    "award_not_candidate": (
        "{given} 不是可选的候选人；可选：{candidates}",
        "{given} is not a candidate to choose; the candidates: {candidates}",
    ),
    "award_no_round": (
        "当前没有进行中的投票轮次（定标阶段：{phase}）。",
        "No round is being voted (award phase: {phase}).",
    ),
    "award_no_report": (
        "尚无待签署的定标报告（定标阶段：{phase}）。",
        "There is no award report to sign yet (award phase: {phase}).",
    ),
    "award_draw_options": (
        "从成员库抽取定标委员需同时给出 --panel、--draw 与 --seed-out。",
        "Drawing members from your panel needs --panel, --draw and --seed-out together.",
    ),
    "award_set_up_done": (
        "会话 {session} 的定标已设置：{method}",
        "Award of {session} set up: {method}",
    ),
    "award_panel_committed": (
        "抽取种子已承诺（SHA-256 {commitment}），种子保存在 {path}；监督人签到后执行 draw",
        "Panel seed committed (SHA-256 {commitment}), the seed kept in {path}; run draw once a"
        " supervisor signed in",
    ),
    "award_drawn": (
        "已抽取定标委员：{drawn}；组长 {chair}",
        "Members drawn: {drawn}; chair {chair}",
    ),
    "award_answered_done": ("已答复异议 {id}", "Objection {id} answered"),
    "award_notified": ("已发中标通知：{winner}（{at}）", "Notice of award issued: {winner} ({at})"),
    "award_signed_in_done": ("已签到定标（{session}）", "Signed in to the award ({session})"),
    "award_lot_committed": (
        "抽签种子已承诺（SHA-256 {commitment}），种子保存在 {path}",
        "Lot seed committed (SHA-256 {commitment}), the seed kept in {path}",
    ),
    "award_lot_done": (
        "抽签：从 {finalists} 中抽中 {pick}",
        "The lot: from {finalists} it picked {pick}",
    ),
    "award_voted": (
        "已在第 {round} 轮投票给 {candidate}",
        "Voted for {candidate} in round {round}",
    ),
    "award_opinion_done": ("已提交意见：{candidate}", "Opinion given: {candidate}"),
    "award_decided_done": ("组长已定标：{candidate}", "The chair decided: {candidate}"),
    "award_report_signed_done": (
        "已签署定标报告（摘要 {digest}），中标人 {winner}",
        "Award report signed (digest {digest}), winner {winner}",
    ),
    "award_objection_raised": ("异议已提出，编号 {id}", "Objection raised: {id}"),
    "h.award_rank": ("排名", "Rank"),
    "h.award_company": ("投标人", "Bidder"),
    "h.award_price": ("投标报价", "Bid price"),
    "award_status_draw": (
        "从成员库（{size} 人）抽取 {count} 人，种子承诺 {commitment}…；抽中：{drawn}",
        "{count} drawn from a panel of {size}, seed commitment {commitment}…; drawn: {drawn}",
    ),
    "award_not_drawn": ("尚未抽取", "not drawn yet"),
    "award_status_committee": (
        "定标委员会：{members}；组长 {chair}；已签到 {signed}/{of}",
        "Award committee: {members}; chair {chair}; signed in {signed}/{of}",
    ),
    "award_status_size": ("定标委员会 {n} 人", "Award committee of {n}"),
    "award_status_supervisor": ("监督人已签到：{who}", "Supervisor signed in: {who}"),
    "award_status_voting": (
        "第 {round} 轮投票中：候选人 {candidates}，选出 {seats} 个；已投 {done}/{of}",
        "Round {round} being voted: candidates {candidates}, {seats} to choose; voted {done}/{of}",
    ),
    "award_status_round": ("第 {round} 轮计票：{counts}", "Round {round} tally: {counts}"),
    "award_status_opinion": (
        "{member} 的意见：{candidate} —— {text}",
        "{member}'s opinion: {candidate} — {text}",
    ),
    "ev.award_panel": (
        "定标委员从招标人成员库抽取：指定 {appointed}，成员库 {size} 人中抽 {count} 人，种子承诺 {commitment}…",
        "Members to be drawn from the tenderer's panel: appointed {appointed}, {count} of {size},"
        " seed commitment {commitment}…",
    ),
    "ev.award_members_drawn": (
        "抽取定标委员：种子 {seed}… 与承诺相符，抽中 {drawn}",
        "Members drawn: the seed {seed}… matches its commitment; drawn {drawn}",
    ),
    "award_phase.draw": ("抽取定标委员", "drawing the members"),
}


def _merged(*sections: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """One catalog from its sections; a key in two sections is a mistake, found at import."""
    merged: dict[str, tuple[str, str]] = {}
    for section in sections:
        twice = merged.keys() & section.keys()
        if twice:
            raise ValueError(f"message keys defined twice: {sorted(twice)}")
        merged.update(section)
    return merged


# method rules in the session: criteria as an expert enters them, the chair's arithmetic
# errors and corrections after a 复核, the supervisor's approvals, the agency's price scores.
RULES: dict[str, tuple[str, str]] = {
    "crit.expert": ("专家评分", "expert score"),
    "crit.expert:entry_deduction": ("专家评分（填写扣分）", "expert score (enter the deduction)"),
    "crit.deduction:majority": ("扣分项（多数扣分）", "deduction (by majority)"),
    "crit.deduction:mean": ("扣分项（平均扣分）", "deduction (mean)"),
    "crit.by.experts": ("全体专家", "every expert"),
    "crit.by.chair": ("仅组长", "the chair only"),
    "h.criterion": ("评分项", "criterion"),
    "h.crit_name": ("名称", "name"),
    "h.crit_kind": ("类型", "kind"),
    "h.scored_by": ("打分人", "scored by"),
    "h.values": ("可给分值", "values allowed"),
    "criteria_none": ("该评标办法没有需专家打分的项目。", "This method has nothing experts score."),
    "arithmetic_saved": (
        "已记录 {bid} 的算术错误 {errors} 处。",
        "Recorded {errors} arithmetic error(s) in {bid}.",
    ),
    "correction_asked": (
        "已提交复核更正申请，待监督人批准。",
        "Correction asked; awaiting the supervisor.",
    ),
    "approved_correction": (
        "已批准更正；排名已重新计算，评标报告需重新签署。",
        "Correction approved; the ranking is recomputed and the report is signed again.",
    ),
    "rejected_correction": ("已驳回更正申请。", "Refused the correction."),
    "price_scores_fed": (
        "已提交 {count} 份投标的价格得分，待监督人批准。",
        "Fed the price scores of {count} bids; awaiting the supervisor.",
    ),
    "approved_price_scores": ("已批准价格得分。", "Approved the price scores."),
    "rank_vote_saved": ("已签名投票：{bids}", "Signed ballot saved: {bids}"),
    "rejected_price_scores": ("已驳回价格得分。", "Refused the price scores."),
    "bad_price_scores": (
        '价格得分文件应为 {{投标编号: "64.25"}}：{detail}',
        'The price score file is {{bid: "64.25"}}: {detail}',
    ),
}

# red flags: live signals (风险提示), shown to supervisors only (evalroom-supervisor).
SIGNALS: dict[str, tuple[str, str]] = {
    "signals.line": (
        "⚠ 风险提示 [{code}] 标段 {section}（{where}）：{sentence}",
        "⚠ Red flag [{code}] section {section} ({where}): {sentence}",
    ),
    "signals.phase.opening": ("开标", "opening"),
    "signals.phase.evaluation": ("评标", "evaluation"),
    "signals.bids": ("涉及投标：{bids}", "bids: {bids}"),
    "signals.fields": ("依据字段：{fields}", "fields: {fields}"),
    "signals.figures": ("数据：{figures}", "figures: {figures}"),
    "signals.threshold": ("阈值：{threshold}", "thresholds: {threshold}"),
    "signals.header": (
        "项目 {tender} 的风险提示（仅监督可见，仅供参考，不改变任何结果）：",
        "Red flags of tender {tender} (supervisors only; advisory, they change no result):",
    ),
    "signals.none": (
        "项目 {tender} 没有可显示的风险提示（尚无记录，或您不是该项目的监督）。",
        "No red flags to show for tender {tender} (none recorded, or you do not supervise it).",
    ),
    "signals.checked": (
        "已核查 {runs} 次，最近一次：{when}",
        "checked {runs} time(s), last at {when}",
    ),
    "signals.failed": ("未能完成的检查：{sources}", "checks that could not run: {sources}"),
}


# Every sentence of every CLI, by key.
MESSAGES = _merged(
    COMMON,
    CEREMONY,
    SESSION,
    STANDING,
    AGENCY,
    BIDDER,
    KEYHOLDER,
    EXPERT,
    SUPERVISOR,
    OPERATOR,
    RULES,
    AWARD,
    SIGNALS,
)
