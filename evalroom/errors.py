"""Stable error codes and the sentences a participant reads (zh-CN first, English available).

A refusal is a value: ``Refusal(code, detail)``. The code never changes once published
(clients and tests key on it); the sentence is for people. ``docs/protocol.md`` lists them all.
"""

from __future__ import annotations

from dataclasses import dataclass

# code -> (zh-CN sentence, English sentence, retryable, recorded as an attempt)
CATALOG: dict[str, tuple[str, str, bool, bool]] = {
    "malformed": (
        "消息格式错误，无法解析。",
        "The message is not valid JSON of the protocol.",
        False,
        False,
    ),
    "too_large": ("消息过大。", "The message is larger than the limit.", False, False),
    "unknown_type": ("未知的消息类型。", "Unknown message or command type.", False, False),
    "invalid": ("消息内容不符合要求。", "The message does not match its schema.", False, False),
    "unsupported_version": ("协议版本不受支持。", "Unsupported protocol version.", False, False),
    "unauthenticated": (
        "未登录，或凭证已过期或已注销。",
        "Not logged in, or the token has expired or was revoked (logout).",
        False,
        False,
    ),
    "bad_signature": ("签名验证失败。", "The signature does not verify.", False, False),
    "challenge_expired": (
        "登录挑战已过期或已使用。",
        "The login challenge expired or was used.",
        False,
        False,
    ),
    "unknown_user": ("用户不存在。", "No such user.", False, False),
    "origin_not_allowed": ("来源不被允许。", "This origin is not allowed.", False, False),
    "forbidden": ("您的角色无权执行此操作。", "Your role may not do this.", False, True),
    "not_subscribed_role": (
        "您在该项目中没有角色，无权查看。",
        "You hold no role in this stream.",
        False,
        True,
    ),
    "wrong_phase": ("当前阶段不允许此操作。", "Not allowed in the current phase.", False, True),
    "not_yours": ("这不属于您。", "This is not yours.", False, True),
    "unknown_stream": ("项目或会话不存在。", "No such tender or session.", False, False),
    "already_exists": ("已存在。", "It already exists.", False, False),
    "id_reused": (
        "命令编号已用于另一条命令。",
        "This command id was used for a different command.",
        False,
        False,
    ),
    "rule": ("不符合规则。", "Refused by the rules.", False, True),
    # Separation of duties (职责分离): who appoints whom, and roles that may not meet
    "not_grantable": (
        "该角色不能通过此操作授予。",
        "This role is not granted by this command.",
        False,
        True,
    ),
    "not_appointer": (
        "您无权任命该角色（监督人员由行政监督部门任命）。",
        "You do not appoint this role (supervisors are appointed by the supervising authority).",
        False,
        True,
    ),
    "self_grant": (
        "不能给自己或本单位授予角色。",
        "Nobody grants a role to themselves or to their own organisation.",
        False,
        True,
    ),
    "conflict_of_roles": (
        "该用户或其单位在本项目中已担任不相容的角色。",
        "This user or their organisation already holds a conflicting role in this tender.",
        False,
        True,
    ),
    "conflict_of_interest": (
        "评标专家与投标人存在利害关系，应当回避。",
        "The expert works for or is related to a bidder company and must avoid this tender.",
        False,
        True,
    ),
    # Bids and the opening ceremony
    "deadline_passed": (
        "投标截止时间已过，不再接收投标文件。",
        "The bid deadline has passed.",
        False,
        True,
    ),
    "too_early": ("尚未到开标时间。", "The opening time has not come yet.", False, True),
    "not_configured": (
        "招标项目尚未设置开标规则。",
        "The tender has no opening rules yet.",
        False,
        True,
    ),
    "invalid_config": ("开标规则设置有误。", "The tender's rules are invalid.", False, False),
    "invalid_envelope": (
        "上传的文件不是有效的加密投标文件。",
        "The upload is not a valid sealed envelope.",
        False,
        True,
    ),
    "not_a_bidder": (
        "贵单位尚未报名本项目。",
        "Your company has not joined this tender.",
        False,
        True,
    ),
    "no_bid": (
        "贵单位在该标段没有投标文件。",
        "Your company has no bid in this section.",
        False,
        True,
    ),
    "window_closed": ("解密时间已结束。", "The decryption window has closed.", False, True),
    "window_open": ("解密时间尚未结束。", "The decryption window is still open.", False, True),
    "not_signed_in": ("请先签到再解密。", "Sign in before releasing your key.", False, True),
    "already_opened": (
        "该投标文件已解密或已处理。",
        "This bid is already opened or settled.",
        False,
        True,
    ),
    "invalid_key": ("密钥格式错误。", "The key is not an age identity.", False, True),
    "invalid_share": ("密钥分片格式错误。", "The key share is malformed.", False, True),
    "shares_do_not_match": (
        "密钥分片无法还原开标密钥。",
        "The shares do not rebuild the opening key.",
        False,
        True,
    ),
    "not_ready": ("尚不能进行此步骤。", "This step is not ready yet.", False, True),
    "objection_open": ("尚有质疑未答复。", "An objection is still unanswered.", False, True),
    "already_signed_in": ("已签到。", "Already signed in.", False, False),
    "already_submitted": ("已提交。", "Already submitted.", False, True),
    "already_confirmed": ("已确认。", "Already confirmed.", False, False),
    "already_signed": ("已签署。", "Already signed.", False, False),
    "already_read_out": ("已唱标。", "The read-out is done.", False, False),
    "already_answered": ("该质疑已答复。", "The objection has an answer.", False, False),
    "unknown_objection": ("质疑不存在。", "No such objection.", False, False),
    "unknown_section": ("标段不存在。", "No such section.", False, False),
    "unknown_envelope": ("投标文件类型不存在。", "No such envelope.", False, False),
    "unknown_bid": ("投标文件不存在。", "No such bid.", False, False),
    "not_a_company": (
        "只有投标单位的人员可以报名。",
        "Only a bidder company's participant may join.",
        False,
        True,
    ),
    # The evaluation session
    "paused": ("评标已暂停。", "The evaluation is paused.", False, True),
    "withdrawn": (
        "您已回避或被替换，不再参与本次评标。",
        "You have withdrawn from this evaluation.",
        False,
        True,
    ),
    "not_opened": (
        "该项目尚未完成开标。",
        "The tender's opening record is not signed yet.",
        False,
        False,
    ),
    "section_failed": ("该标段开标时已流标。", "The section failed at the opening.", False, False),
    "bids_not_accepted": (
        "评标会话的投标信息只能来自已签署的开标记录，命令中不得携带投标数据。",
        "A session's bids come only from the tender's signed opening record; the command may"
        " not carry bids.",
        False,
        True,
    ),
    "session_exists": (
        "该标段已有评标会话；仅在其封存或改期后方可重新组建评标委员会。",
        "The section already has an evaluation session; another is allowed only after it was"
        " sealed or rescheduled.",
        False,
        False,
    ),
    "record_inconsistent": (
        "开标记录不完整或前后不一致，无法移交评标。",
        "The signed opening record is incomplete or inconsistent; it cannot be handed over.",
        False,
        False,
    ),
    "identity_unverified": (
        "专家身份签名验证失败。",
        "The expert's identity signature does not verify.",
        False,
        True,
    ),
    "score_out_of_range": (
        "分值超出该评分项的范围。",
        "The score is out of the criterion's range.",
        False,
        True,
    ),
    "invalid_score": ("分值格式错误。", "The score is not a valid number.", False, True),
    # Scoring methods (评标办法): rules a tender states as data
    "score_not_allowed": (
        "该评分项只能按规定的档次或分值给分。",
        "The criterion only takes its stated steps or values.",
        False,
        True,
    ),
    "chair_only": ("该评分项只能由评标组长打分。", "Only the chair scores this item.", False, True),
    "chair_required": (
        "该评标办法有仅由组长打分的项目，需先确定组长。",
        "This method has chair-only items; the chair must be known.",
        False,
        False,
    ),
    "verdicts_differ": (
        "专家意见不一致，须取得一致后才能结束该项评审。",
        "The experts' verdicts differ; the step closes only when they agree.",
        False,
        True,
    ),
    "missing_price_score": (
        "缺少外部计算的价格得分。",
        "The price score computed elsewhere has not been fed in.",
        False,
        False,
    ),
    "price_score_out_of_range": (
        "价格得分超出该项分值范围。",
        "The price score is outside the price criterion's points.",
        False,
        False,
    ),
    "price_score_unexpected": (
        "该评标办法自行计算价格得分，不接受外部价格得分。",
        "This method computes its own price score.",
        False,
        False,
    ),
    "invalid_correction": (
        "复核更正内容不完整或不符合要求。",
        "The correction is invalid.",
        False,
        True,
    ),
    "correction_stale": (
        "更正的原值与记录不符，请刷新后重试。",
        "The value to correct no longer matches the record.",
        False,
        True,
    ),
    "approval_required": (
        "更正须经监督人员批准。",
        "A correction needs the supervisor's approval.",
        False,
        True,
    ),
    "invalid_vote": ("投票内容不符合规则。", "The vote does not follow the rules.", False, True),
    "missing_vote": ("尚有成员未投票。", "Not every member has voted yet.", False, True),
    "invalid_candidate": ("所投对象不在候选范围内。", "That is not a candidate.", False, True),
    "election_closed": ("组长已选出，不再投票。", "The chair is already elected.", False, True),
    "seed_mismatch": (
        "公开的随机种子与事先公布的承诺值不符。",
        "The revealed seed does not match its commitment.",
        False,
        True,
    ),
    "reason_required": ("需要填写理由。", "A written reason is required.", False, True),
    "deviation_reason_missing": (
        "存在评分偏离，需先由相关专家说明理由。",
        "A deviating score still needs its reason.",
        False,
        True,
    ),
    "clarification_pending": ("尚有澄清未完成。", "A clarification is still pending.", False, True),
    "not_the_chair": ("只有评标组长可以执行此操作。", "Only the chair may do this.", False, True),
    "not_a_committee_member": (
        "您不是本次评标委员会成员。",
        "You are not on this committee.",
        False,
        True,
    ),
    "not_checked_in": ("尚未签到。", "Not checked in.", False, True),
    "already_voted": ("已投票。", "Already voted.", False, False),
    "already_checked_in": ("已签到。", "Already checked in.", False, False),
    "already_rated": ("已评价。", "Already rated.", False, False),
    "report_changed": (
        "评标报告已变更，请重新核对后签名。",
        "The report changed; review it and sign again.",
        False,
        True,
    ),
    "not_your_venue": ("不是您所在的评标场地。", "Not your venue.", False, True),
    "incomplete": ("尚未完成全部评审。", "The review is not complete.", False, True),
    "no_checkpoint": (
        "该日志尚无签名树头。",
        "The log has no signed checkpoint yet.",
        False,
        False,
    ),
    # The expert pool's management (专家库管理)
    "invalid_pool_csv": (
        "专家库导入文件有误，未导入任何专家。",
        "The pool file was refused; no expert was imported.",
        False,
        False,
    ),
    "unknown_expert": ("专家库中没有该专家。", "No such expert in the pool.", False, False),
    # The award (定标, 评定分离)
    "invalid_award": (
        "定标设置或操作不符合定标规则。",
        "The award's set-up or step breaks its rules.",
        False,
        True,
    ),
    "not_an_award_member": (
        "您不是本次定标委员会成员。",
        "You are not on this award committee (定标委员会).",
        False,
        True,
    ),
    "not_the_award_chair": (
        "只有定标委员会组长可以作出定标决定。",
        "Only the award committee's chair decides.",
        False,
        True,
    ),
    "opinions_missing": (
        "尚有定标委员会成员未发表意见。",
        "Not every member has given an opinion yet.",
        False,
        True,
    ),
    "award_changed": (
        "定标报告已变更，请重新核对后签名。",
        "The award report changed; review it and sign again.",
        False,
        True,
    ),
    "objection_window_closed": (
        "中标候选人公示期已结束，不再受理异议。",
        "The publicity period is over; no more objections.",
        False,
        True,
    ),
    "publicity_running": (
        "中标候选人公示期尚未结束，不能发出中标通知书。",
        "The publicity period is still running; no award notice yet.",
        False,
        True,
    ),
    "store_unavailable": (
        "数据库暂时不可用，请稍后重试。",
        "Storage is unavailable; retry later.",
        True,
        False,
    ),
    "outcome_unknown": (
        "与数据库的连接在提交时中断，无法确定该命令是否已生效；请用同一命令编号重试。",
        "The connection to the database was lost at commit: the outcome is unknown;"
        " retry with the same command id.",
        True,
        False,
    ),
    "overloaded": ("服务繁忙，请稍后重试。", "The node is overloaded; retry later.", True, False),
    "internal": ("内部错误，已记录。", "Internal error; it has been logged.", True, False),
    # The domain's rule codes (RuleError), each with its sentence
    "already_committed": (
        "随机种子已承诺，不能再次承诺。",
        "The draw's seed is committed already.",
        False,
        True,
    ),
    "already_paused": (
        "评标已暂停。",
        "The evaluation is paused already.",
        False,
        True,
    ),
    "already_requested": (
        "已有待处理的回退申请。",
        "A request to go back is pending already.",
        False,
        True,
    ),
    "bid_rejected": (
        "该投标已被否决，不再评审。",
        "This bid was rejected and is not evaluated.",
        False,
        True,
    ),
    "draw_failed": (
        "随机抽取无法完成。",
        "The random draw could not be made.",
        False,
        True,
    ),
    "draw_mismatch": (
        "抽取结果与承诺的种子复算不一致。",
        "The draw does not match what the committed seed gives.",
        False,
        True,
    ),
    "duplicate_bid": (
        "投标重复。",
        "The same bid appears twice.",
        False,
        False,
    ),
    "duplicate_expert": (
        "专家重复。",
        "The same expert appears twice.",
        False,
        False,
    ),
    "floating_point_missing": (
        "评标办法要求浮动点，但未抽取。",
        "The method needs a floating point and none was drawn.",
        False,
        True,
    ),
    "floating_point_out_of_range": (
        "浮动点不在评标办法允许的范围或集合内。",
        "The floating point is outside the method's range or set.",
        False,
        True,
    ),
    "floating_point_unexpected": (
        "评标办法不使用浮动点。",
        "The method takes no floating point.",
        False,
        True,
    ),
    "invalid_bid": (
        "投标数据不符合要求。",
        "The bid's data is not valid.",
        False,
        False,
    ),
    "invalid_committee": (
        "评标委员会组成不符合要求。",
        "The committee is not valid.",
        False,
        False,
    ),
    "invalid_form": (
        "开标一览表填写不符合要求。",
        "The bid form is not valid.",
        False,
        False,
    ),
    "invalid_goback": (
        "回退申请不符合要求。",
        "The request to go back is not valid.",
        False,
        False,
    ),
    "invalid_pool": (
        "专家库快照不符合要求。",
        "The expert pool snapshot is not valid.",
        False,
        False,
    ),
    "invalid_request": (
        "抽取条件不符合要求。",
        "The draw's request is not valid.",
        False,
        False,
    ),
    "invalid_rule": (
        "评标办法设置有误。",
        "The evaluation method is not valid.",
        False,
        False,
    ),
    "invalid_sheet": (
        "评分表不符合要求。",
        "The score sheet is not valid.",
        False,
        False,
    ),
    "invalid_threshold": (
        "表决门槛设置有误。",
        "The vote threshold is not valid.",
        False,
        False,
    ),
    "invalid_venues": (
        "评标场地设置有误。",
        "The venues are not valid.",
        False,
        False,
    ),
    "missing_score": (
        "尚有评分未填写。",
        "A score is missing.",
        False,
        True,
    ),
    "missing_verdict": (
        "尚有评审结论未填写。",
        "A verdict is missing.",
        False,
        True,
    ),
    "no_request": (
        "没有待处理的回退申请。",
        "No request to go back is pending.",
        False,
        True,
    ),
    "no_valid_bids": (
        "没有有效投标。",
        "There is no valid bid.",
        False,
        True,
    ),
    "not_committed": (
        "尚未承诺随机种子，不能抽取。",
        "No seed is committed: the draw cannot be made.",
        False,
        True,
    ),
    "not_enough_experts": (
        "符合条件的专家不足，无法抽取。",
        "Not enough eligible experts for the draw.",
        False,
        True,
    ),
    "not_flagged": (
        "该评分未被标记为偏离。",
        "This score is not flagged as a deviation.",
        False,
        True,
    ),
    "not_in_committee": (
        "不是本评标委员会成员。",
        "Not a member of this committee.",
        False,
        True,
    ),
    "not_paused": (
        "评标未暂停。",
        "The evaluation is not paused.",
        False,
        True,
    ),
    "not_pending": (
        "该澄清不在待处理状态。",
        "This clarification is not pending.",
        False,
        True,
    ),
    "not_submitted": (
        "评分尚未提交。",
        "The scores are not submitted.",
        False,
        True,
    ),
    "pool_mismatch": (
        "专家库在承诺后已变化，请重新承诺随机种子。",
        "The expert pool changed since the seed was committed; commit a new seed.",
        False,
        True,
    ),
    "pool_required": (
        "抽取需要专家库快照。",
        "The draw needs the expert pool snapshot.",
        False,
        True,
    ),
    "rating_out_of_range": (
        "评价分值超出范围。",
        "The rating is out of range.",
        False,
        False,
    ),
    "request_mismatch": (
        "抽取条件与承诺时不一致。",
        "The draw's request differs from the committed one.",
        False,
        True,
    ),
    "seat_taken": (
        "该座位已有人。",
        "This seat is taken.",
        False,
        True,
    ),
    "seed_too_short": (
        "随机种子太短。",
        "The seed is too short.",
        False,
        False,
    ),
    "too_few_seats": (
        "场地座位不足。",
        "Not enough seats in the venues.",
        False,
        True,
    ),
    "unknown_bidder": (
        "没有该投标人。",
        "No such bidder.",
        False,
        True,
    ),
    "unknown_clarification": (
        "没有该澄清。",
        "No such clarification.",
        False,
        True,
    ),
    "unknown_criterion": (
        "没有该评审因素。",
        "No such criterion.",
        False,
        False,
    ),
    "unknown_venue": (
        "没有该评标场地。",
        "No such venue.",
        False,
        True,
    ),
    "weak_seed": (
        "随机种子强度不足。",
        "The seed is not random enough.",
        False,
        False,
    ),
}


def sentence(code: str, lang: str = "zh-CN") -> str:
    entry = CATALOG.get(code)
    if entry is None:
        return code
    return entry[1] if lang.startswith("en") else entry[0]


def field_sentence(code: str, field: str, lang: str = "zh-CN") -> str:
    """The refusal's sentence naming the input at fault and what to do about it."""
    if lang.startswith("en"):
        return f"{sentence(code, lang)} Correct the field {field} and send it again."
    return f"{sentence(code, lang)}请修改字段 {field} 后重新提交。"


def is_retryable(code: str) -> bool:
    entry = CATALOG.get(code)
    return bool(entry and entry[2])


def is_recorded(code: str) -> bool:
    """Refusals of an authenticated participant that the audit log keeps as attempts."""
    entry = CATALOG.get(code)
    return entry[3] if entry else True


@dataclass
class Refusal(Exception):
    """A command or request refused with a stable code; nothing was changed.

    The one exception is ``outcome_unknown``: the connection to PostgreSQL was lost after
    COMMIT was sent, so the node cannot know; a retry with the same id tells (the first ack
    if it committed, else it runs now)."""

    code: str
    detail: str = ""
    field: str | None = None  # the body's input at fault (``config.opening_at``), when known

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}" if self.detail else self.code

    def to_message(self, lang: str = "zh-CN", ref: str | None = None) -> dict[str, object]:
        msg: dict[str, object] = {
            "t": "error",
            "code": self.code,
            "message": sentence(self.code, lang),
            "retryable": is_retryable(self.code),
        }
        if self.field:
            msg["message"] = field_sentence(self.code, self.field, lang)
            msg["details"] = {"field": self.field}
        if self.detail:
            msg["detail"] = self.detail
        if ref is not None:
            msg["id"] = ref
        return msg
